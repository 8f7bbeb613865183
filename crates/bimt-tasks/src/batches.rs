//! Mini-batches that a resumed run draws exactly as an uninterrupted one would.

use bimt_data::{BatchSampler, Sampling};
use bimt_engine::{Batch, Device, Int, Tensor, TensorData};

/// A [`BatchSampler`] that knows how many batches it has drawn, and replays itself from the
/// start when asked for the batch of another step (after a resume).
pub(crate) struct StepSampler {
    sampler: BatchSampler,
    n: usize,
    size: usize,
    sampling: Sampling,
    seed: u64,
    drawn: usize,
}

impl StepSampler {
    /// Batches of `size` out of `n` items.
    pub(crate) fn new(n: usize, size: usize, sampling: Sampling, seed: u64) -> Self {
        Self {
            sampler: BatchSampler::new(n, size, sampling, seed),
            n,
            size,
            sampling,
            seed,
            drawn: 0,
        }
    }

    /// The item indices of the batch of `step`.
    pub(crate) fn batch(&mut self, step: usize) -> &[usize] {
        if step != self.drawn {
            self.sampler = BatchSampler::new(self.n, self.size, self.sampling, self.seed);
            for _ in 0..step {
                self.sampler.next_batch();
            }
        }
        self.drawn = step + 1;
        self.sampler.next_batch()
    }
}

/// The rows `rows` of `x` and `y`, gathered on the device (no copy of the dataset).
pub(crate) fn gather(x: &Tensor<2>, y: &Tensor<2>, rows: Vec<i64>, device: &Device) -> Batch {
    let n = rows.len();
    let index = Tensor::<1, Int>::from_data(TensorData::new(rows, [n]), device);
    Batch {
        x: x.clone().select(0, index.clone()),
        target: y.clone().select(0, index),
    }
}
