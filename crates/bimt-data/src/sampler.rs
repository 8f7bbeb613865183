//! Deterministic mini-batch index sampling.

use rand::Rng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use crate::rng::seeded;

/// How a [`BatchSampler`] draws indices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Sampling {
    /// Walk a fresh random permutation of `0..n` each epoch; every sample is
    /// seen once per epoch. The last batch of an epoch is shorter when the
    /// batch size does not divide `n`.
    Epochs,
    /// Draw every index independently and uniformly from `0..n` (the
    /// in-context regression reference: batch 64 with replacement).
    WithReplacement,
}

/// Yields batches of sample indices for a split of `n` samples, without
/// copying the data (use [`crate::Split::subset`] or [`crate::Split::row`]
/// to gather them). Deterministic from its seed.
///
/// A batch size of 0 is treated as 1; with [`Sampling::Epochs`] a batch size
/// above `n` gives batches of `n`. For `n = 0` every batch is empty.
#[derive(Debug, Clone)]
pub struct BatchSampler {
    n: usize,
    batch_size: usize,
    sampling: Sampling,
    rng: ChaCha8Rng,
    /// The current permutation (Epochs) or the last batch (WithReplacement).
    indices: Vec<usize>,
    /// Start of the next batch inside `indices` (Epochs only).
    pos: usize,
    /// Completed epochs (Epochs only).
    epoch: usize,
}

impl BatchSampler {
    /// A sampler over `0..n` with the given batch size, mode and seed.
    pub fn new(n: usize, batch_size: usize, sampling: Sampling, seed: u64) -> Self {
        let mut rng = seeded(seed);
        let indices = match sampling {
            Sampling::Epochs => {
                let mut perm: Vec<usize> = (0..n).collect();
                perm.shuffle(&mut rng);
                perm
            }
            Sampling::WithReplacement => Vec::with_capacity(batch_size.max(1)),
        };
        BatchSampler {
            n,
            batch_size: batch_size.max(1),
            sampling,
            rng,
            indices,
            pos: 0,
            epoch: 0,
        }
    }

    /// Number of samples sampled from.
    pub fn len(&self) -> usize {
        self.n
    }

    /// Whether there is nothing to sample.
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// The effective batch size (at least 1).
    pub fn batch_size(&self) -> usize {
        self.batch_size
    }

    /// The sampling mode.
    pub fn sampling(&self) -> Sampling {
        self.sampling
    }

    /// Number of completed epochs ([`Sampling::Epochs`]; always 0 otherwise).
    pub fn epoch(&self) -> usize {
        self.epoch
    }

    /// The next batch of indices into `0..n`.
    pub fn next_batch(&mut self) -> &[usize] {
        if self.n == 0 {
            return &[];
        }
        match self.sampling {
            Sampling::Epochs => {
                if self.pos >= self.n {
                    self.indices.shuffle(&mut self.rng);
                    self.pos = 0;
                }
                let start = self.pos;
                let end = (start + self.batch_size).min(self.n);
                self.pos = end;
                if end == self.n {
                    self.epoch += 1;
                }
                &self.indices[start..end]
            }
            Sampling::WithReplacement => {
                self.indices.clear();
                for _ in 0..self.batch_size {
                    self.indices.push(self.rng.random_range(0..self.n));
                }
                &self.indices
            }
        }
    }
}
