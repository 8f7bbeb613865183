//! In-context linear regression (paper §3.4): sequences of tokens, a transformer predicting
//! the next token, the loss on the `y` component at the positions that hold an `x`.

use crate::batches::{StepSampler, gather};
use bimt_data::{InContext, Sampling, Split, Targets};
use bimt_engine::{Batch, Device, Evaluation, Task, Tensor, TensorData};

/// The in-context regression task. Rows of a batch are tokens, sequence-major
/// (`row = sequence·seq_len + position`), as a sequence model reads them.
pub struct InContextTask {
    train: Tokens,
    test: Tokens,
    sampler: StepSampler,
    seq_len: usize,
    /// Loss mask of one batch: component 0 at every position but the `y` tokens.
    batch_mask: Tensor<2>,
}

struct Tokens {
    x: Tensor<2>,
    y: Tensor<2>,
    sequences: usize,
}

impl Tokens {
    fn new(split: &Split, seq_len: usize, token_dim: usize, device: &Device) -> Self {
        let rows = split.n * seq_len;
        let values = match &split.targets {
            Targets::Regression { values, .. } => values.clone(),
            Targets::Classes { .. } => Vec::new(),
        };
        Self {
            x: Tensor::from_data(
                TensorData::new(split.inputs.clone(), [rows, token_dim]),
                device,
            ),
            y: Tensor::from_data(TensorData::new(values, [rows, token_dim]), device),
            sequences: split.n,
        }
    }
}

/// `[sequences·seq_len, token_dim]` with ones on component 0 of the given positions.
fn mask(
    sequences: usize,
    seq_len: usize,
    token_dim: usize,
    positions: &[usize],
    device: &Device,
) -> Tensor<2> {
    let mut m = vec![0.0f32; sequences * seq_len * token_dim];
    for s in 0..sequences {
        for &p in positions {
            m[(s * seq_len + p) * token_dim] = 1.0;
        }
    }
    Tensor::from_data(TensorData::new(m, [sequences * seq_len, token_dim]), device)
}

/// Positions whose target is a `y`: every even position (`[0, x]` tokens predict `[y, 0]`).
fn x_positions(seq_len: usize) -> Vec<usize> {
    (0..seq_len).step_by(2).collect()
}

impl InContextTask {
    /// Uploads the sequences of `data`; batches of `batch_size` sequences drawn with replacement.
    pub fn new(data: &InContext, batch_size: usize, seed: u64, device: &Device) -> Self {
        let (seq_len, dim) = (data.seq_len, data.token_dim);
        let train = Tokens::new(&data.data.train, seq_len, dim, device);
        let test = Tokens::new(&data.data.test, seq_len, dim, device);
        let sampler =
            StepSampler::new(train.sequences, batch_size, Sampling::WithReplacement, seed);
        let batch_mask = mask(batch_size, seq_len, dim, &x_positions(seq_len), device);
        Self {
            train,
            test,
            sampler,
            seq_len,
            batch_mask,
        }
    }

    fn masked_mse(prediction: Tensor<2>, target: Tensor<2>, mask: Tensor<2>) -> Tensor<1> {
        let count = mask.clone().sum();
        ((prediction - target).square() * mask).sum().div(count)
    }

    /// The query-position (last token) predictions and targets on the test split, for plots.
    pub fn query_predictions(&self, predict: &dyn Fn(Tensor<2>) -> Tensor<2>) -> Vec<(f64, f64)> {
        let last = self.seq_len - 1;
        let p = predict(self.test.x.clone()).into_data().convert::<f32>();
        let t = self.test.y.to_data().convert::<f32>();
        let (p, t) = (
            p.as_slice::<f32>().unwrap_or(&[]),
            t.as_slice::<f32>().unwrap_or(&[]),
        );
        let dim = t.len() / (self.test.sequences * self.seq_len).max(1);
        (0..self.test.sequences)
            .map(|s| {
                let i = (s * self.seq_len + last) * dim;
                (t[i] as f64, p[i] as f64)
            })
            .collect()
    }
}

impl Task for InContextTask {
    fn batch(&mut self, step: usize, device: &Device) -> Batch {
        let seq_len = self.seq_len;
        let rows = self
            .sampler
            .batch(step)
            .iter()
            .flat_map(|&s| (0..seq_len).map(move |p| (s * seq_len + p) as i64))
            .collect();
        gather(&self.train.x, &self.train.y, rows, device)
    }

    fn loss(&self, prediction: Tensor<2>, batch: &Batch) -> Tensor<1> {
        Self::masked_mse(prediction, batch.target.clone(), self.batch_mask.clone())
    }

    fn loss_definitions(&self) -> [String; 2] {
        [
            format!(
                "squared error of the predicted y, averaged over every x position (where a y is \
                 predicted) of the {} training sequences, as in training",
                self.train.sequences
            ),
            format!(
                "squared error of the predicted y at the query position (the last x) only, \
                 averaged over the {} test sequences",
                self.test.sequences
            ),
        ]
    }

    fn evaluate(&self, predict: &dyn Fn(Tensor<2>) -> Tensor<2>, device: &Device) -> Evaluation {
        let [_, dim] = self.train.y.dims();
        let train_mask = mask(
            self.train.sequences,
            self.seq_len,
            dim,
            &x_positions(self.seq_len),
            device,
        );
        let train_loss = Self::masked_mse(
            predict(self.train.x.clone()),
            self.train.y.clone(),
            train_mask,
        );
        let query = mask(
            self.test.sequences,
            self.seq_len,
            dim,
            &[self.seq_len - 1],
            device,
        );
        let test_loss = Self::masked_mse(predict(self.test.x.clone()), self.test.y.clone(), query);
        Evaluation {
            train_loss: train_loss.into_scalar::<f32>() as f64,
            test_loss: test_loss.into_scalar::<f32>() as f64,
            test_accuracy: None,
        }
    }
}
