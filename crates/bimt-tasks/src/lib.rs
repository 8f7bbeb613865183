//! Supervised tasks for the BIMT trainer: a [`bimt_data::Dataset`] uploaded once to the device,
//! full-batch or mini-batch training, and the paper's losses; and the in-context regression
//! task of the transformer experiment.

#![warn(missing_docs)]

mod batches;
mod in_context;

pub use in_context::InContextTask;

use batches::{StepSampler, gather};
use bimt_data::{Dataset, Sampling, Split, Targets};
use bimt_engine::{Batch, Device, Evaluation, Task, Tensor, TensorData};

/// The prediction loss.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Loss {
    /// Mean squared error against real targets (symbolic formulas).
    Mse,
    /// Softmax cross entropy against class labels (two moons).
    CrossEntropy,
    /// Mean squared error against one-hot class targets (the paper's MNIST).
    OneHotMse,
}

/// How training batches are drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Batching {
    /// The whole training split every step.
    Full,
    /// `size` samples per step (whole sequences, for a dataset of sequences), reshuffled
    /// every epoch.
    Mini {
        /// Samples per step.
        size: usize,
        /// Seed of the shuffles.
        seed: u64,
    },
}

struct DeviceSplit {
    x: Tensor<2>,
    /// Real targets, or one-hot rows for classification.
    y: Tensor<2>,
    labels: Option<Vec<u32>>,
    n: usize,
}

impl DeviceSplit {
    fn new(split: &Split, device: &Device) -> Self {
        let x = Tensor::from_data(
            TensorData::new(split.inputs.clone(), [split.n, split.in_dim]),
            device,
        );
        let (values, dim, labels) = match &split.targets {
            Targets::Regression { values, dim } => (values.clone(), *dim, None),
            Targets::Classes { labels, classes } => {
                let mut one_hot = vec![0.0f32; split.n * classes];
                for (i, &l) in labels.iter().enumerate() {
                    one_hot[i * classes + l as usize] = 1.0;
                }
                (one_hot, *classes, Some(labels.clone()))
            }
        };
        let y = Tensor::from_data(TensorData::new(values, [split.n, dim]), device);
        Self {
            x,
            y,
            labels,
            n: split.n,
        }
    }
}

/// A dataset, a loss and a batching rule: a [`Task`] for the trainer.
///
/// A dataset of sequences ([`Dataset::rows_per_sample`] `T` > 1) is batched whole sequences
/// at a time; the losses average over every row, so over every position.
pub struct Supervised {
    train: DeviceSplit,
    test: DeviceSplit,
    loss: Loss,
    sampler: Option<StepSampler>,
    full_batch: Batch,
    rows_per_sample: usize,
}

impl Supervised {
    /// Uploads `data` to `device`.
    pub fn new(data: &Dataset, loss: Loss, batching: Batching, device: &Device) -> Self {
        let train = DeviceSplit::new(&data.train, device);
        let test = DeviceSplit::new(&data.test, device);
        let rows_per_sample = data.rows_per_sample.max(1);
        let sampler = match batching {
            Batching::Full => None,
            Batching::Mini { size, seed } => Some(StepSampler::new(
                train.n / rows_per_sample,
                size,
                Sampling::Epochs,
                seed,
            )),
        };
        let full_batch = Batch {
            x: train.x.clone(),
            target: train.y.clone(),
        };
        Self {
            train,
            test,
            loss,
            sampler,
            full_batch,
            rows_per_sample,
        }
    }

    fn loss_of(&self, prediction: Tensor<2>, target: Tensor<2>) -> Tensor<1> {
        match self.loss {
            Loss::Mse | Loss::OneHotMse => (prediction - target).square().mean(),
            // −(log_softmax(prediction, 1)·target).sum()/n, fused into one op.
            Loss::CrossEntropy => bimt_kernels::cross_entropy_with_targets(prediction, target),
        }
    }

    fn evaluate_split(
        &self,
        split: &DeviceSplit,
        predict: &dyn Fn(Tensor<2>) -> Tensor<2>,
    ) -> (f64, Option<f64>) {
        let prediction = predict(split.x.clone());
        let accuracy = split.labels.as_ref().map(|labels| {
            let predicted = prediction.clone().argmax(1).into_data().convert::<i64>();
            let predicted = predicted.as_slice::<i64>().unwrap_or(&[]);
            let right = predicted
                .iter()
                .zip(labels)
                .filter(|(p, l)| **p == **l as i64)
                .count();
            right as f64 / labels.len().max(1) as f64
        });
        let loss = self
            .loss_of(prediction, split.y.clone())
            .into_scalar::<f32>() as f64;
        (loss, accuracy)
    }
}

impl Task for Supervised {
    fn batch(&mut self, step: usize, device: &Device) -> Batch {
        let Some(sampler) = &mut self.sampler else {
            return self.full_batch.clone();
        };
        let r = self.rows_per_sample;
        let rows = sampler
            .batch(step)
            .iter()
            .flat_map(|&s| (s * r..(s + 1) * r).map(|row| row as i64))
            .collect();
        gather(&self.train.x, &self.train.y, rows, device)
    }

    fn loss(&self, prediction: Tensor<2>, batch: &Batch) -> Tensor<1> {
        self.loss_of(prediction, batch.target.clone())
    }

    fn loss_definitions(&self) -> [String; 2] {
        let what = match self.loss {
            Loss::Mse => "squared error averaged over every sample and output",
            Loss::CrossEntropy => "softmax cross entropy averaged over the samples",
            Loss::OneHotMse => {
                "squared error against one-hot class targets, averaged over every sample and class"
            }
        };
        let r = self.rows_per_sample;
        let split = |name: &str, rows: usize| match r {
            1 => format!("{what} of the {name} split ({rows} samples)"),
            _ => format!(
                "{what} of the {name} split ({} sequences of {r} positions; every position \
                 counts as a sample)",
                rows / r
            ),
        };
        [split("training", self.train.n), split("test", self.test.n)]
    }

    fn evaluate(&self, predict: &dyn Fn(Tensor<2>) -> Tensor<2>, _device: &Device) -> Evaluation {
        let (train_loss, _) = self.evaluate_split(&self.train, predict);
        let (test_loss, test_accuracy) = self.evaluate_split(&self.test, predict);
        Evaluation {
            train_loss,
            test_loss,
            test_accuracy,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Mini-batches of a dataset of sequences hold whole sequences, positions in order.
    #[test]
    fn batches_of_sequences_hold_whole_sequences() {
        let (t, sequences) = (3, 5);
        let rows = t * sequences;
        // Row r holds r as its input and 10 r as its target.
        let split = Split {
            inputs: (0..rows).map(|r| r as f32).collect(),
            n: rows,
            in_dim: 1,
            targets: Targets::Regression {
                values: (0..rows).map(|r| 10.0 * r as f32).collect(),
                dim: 1,
            },
        };
        let data = Dataset {
            train: split.clone(),
            test: split,
            input_names: vec!["x".into()],
            output_names: vec!["y".into()],
            rows_per_sample: t,
        };
        let device = bimt_engine::default_device();
        let batching = Batching::Mini { size: 2, seed: 1 };
        let mut task = Supervised::new(&data, Loss::Mse, batching, &device);
        let mut seen = Vec::new();
        for step in 0..6 {
            let batch = task.batch(step, &device);
            let (x, y) = (batch.x.into_data(), batch.target.into_data());
            let (x, y) = (x.as_slice::<f32>().unwrap(), y.as_slice::<f32>().unwrap());
            // Two sequences, or the one an epoch of five leaves over.
            assert!([t, 2 * t].contains(&x.len()), "{x:?}");
            for (sequence, ys) in x.chunks(t).zip(y.chunks(t)) {
                let first = sequence[0] as usize;
                assert_eq!(first % t, 0, "{x:?} starts a sequence at position 0");
                for (p, (&v, &w)) in sequence.iter().zip(ys).enumerate() {
                    assert_eq!((v as usize, w), (first + p, 10.0 * v));
                }
                seen.push(first / t);
            }
        }
        seen.sort_unstable();
        seen.dedup();
        assert_eq!(
            seen,
            (0..sequences).collect::<Vec<_>>(),
            "every sequence drawn"
        );
        let [train, _] = task.loss_definitions();
        assert!(train.contains("5 sequences of 3 positions"), "{train}");
    }
}
