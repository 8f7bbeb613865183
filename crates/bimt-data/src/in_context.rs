//! In-context linear regression sequences (paper §3.4, App. F).

use rand::seq::SliceRandom;

use crate::rng::{seeded, uniform};
use crate::{Dataset, Split, Targets};

/// In-context linear regression data with the hidden slope of every
/// sequence kept for probing.
///
/// Each row of `data` is one sequence of `seq_len = 3` tokens of
/// `token_dim = 2` floats, flattened: inputs `[0, x1, y1, 0, 0, x2]`
/// (tokens `[0, x1]`, `[y1, 0]`, `[0, x2]`) and regression targets
/// `[y1, 0, 0, x2, y2, 0]` (tokens `[y1, 0]`, `[0, x2]`, `[y2, 0]`, the next
/// token at each position), with `y = w·x`. The quantities a model must
/// predict are component 0 at positions 0 and 2; the query (test) figure is
/// position 2.
#[derive(Debug, Clone, PartialEq)]
pub struct InContext {
    /// The sequences; `in_dim` and the target `dim` are `seq_len * token_dim`.
    pub data: Dataset,
    /// The slope `w` of each training row, in row order.
    pub train_w: Vec<f32>,
    /// The slope `w` of each test row, in row order.
    pub test_w: Vec<f32>,
    /// Tokens per sequence (3).
    pub seq_len: usize,
    /// Floats per token (2).
    pub token_dim: usize,
}

impl InContext {
    /// The token at `position` of the input sequence in `row` of `split`,
    /// or `None` if the row or position is out of range.
    pub fn token<'a>(&self, split: &'a Split, row: usize, position: usize) -> Option<&'a [f32]> {
        if row >= split.n || position >= self.seq_len {
            return None;
        }
        let start = row * split.in_dim + position * self.token_dim;
        split.inputs.get(start..start + self.token_dim)
    }
}

/// Tokens per in-context sequence: two examples and the query.
pub const SEQ_LEN: usize = 3;
/// Numbers per in-context token.
pub const TOKEN_DIM: usize = 2;

/// Generates `n_sequences` in-context regression sequences (d = 1, n = 1).
///
/// Per sequence, in this order: `w ~ U[w_range]`, `x1 ~ U[x_range]`,
/// `x2 ~ U[x_range]`; `y1 = w·x1`, `y2 = w·x2` (layout in [`InContext`]).
/// The sequences are then split by a random permutation into
/// `round(n_sequences * test_fraction)` test rows and the rest training
/// rows; `test_fraction` is clamped to `[0, 1]` (NaN counts as 0).
/// The paper's main setting is `x_range = (1, 3)`, `w_range = (−1, 1)`,
/// 10,000 sequences, `test_fraction = 0.2`.
///
/// Input names are `t{p}[{c}]` (token p, component c); output names
/// `next t{p}[{c}]`.
pub fn in_context(
    n_sequences: usize,
    x_range: (f32, f32),
    w_range: (f32, f32),
    test_fraction: f32,
    seed: u64,
) -> InContext {
    let mut rng = seeded(seed);
    let row_len = SEQ_LEN * TOKEN_DIM;
    let mut w_all = Vec::with_capacity(n_sequences);
    let mut inputs = Vec::with_capacity(n_sequences * row_len);
    let mut targets = Vec::with_capacity(n_sequences * row_len);
    for _ in 0..n_sequences {
        let w = uniform(&mut rng, w_range.0, w_range.1);
        let x1 = uniform(&mut rng, x_range.0, x_range.1);
        let x2 = uniform(&mut rng, x_range.0, x_range.1);
        let (y1, y2) = (w * x1, w * x2);
        w_all.push(w);
        inputs.extend_from_slice(&[0.0, x1, y1, 0.0, 0.0, x2]);
        targets.extend_from_slice(&[y1, 0.0, 0.0, x2, y2, 0.0]);
    }

    let fraction = if test_fraction.is_nan() {
        0.0
    } else {
        f64::from(test_fraction.clamp(0.0, 1.0))
    };
    let n_test = ((n_sequences as f64 * fraction).round() as usize).min(n_sequences);
    let mut order: Vec<usize> = (0..n_sequences).collect();
    order.shuffle(&mut rng);
    let (test_idx, train_idx) = order.split_at(n_test);

    let all = Split {
        inputs,
        n: n_sequences,
        in_dim: row_len,
        targets: Targets::Regression {
            values: targets,
            dim: row_len,
        },
    };
    let names: Vec<String> = (0..SEQ_LEN)
        .flat_map(|p| (0..TOKEN_DIM).map(move |c| format!("t{p}[{c}]")))
        .collect();
    InContext {
        train_w: train_idx.iter().map(|&i| w_all[i]).collect(),
        test_w: test_idx.iter().map(|&i| w_all[i]).collect(),
        data: Dataset {
            train: all.subset(train_idx),
            test: all.subset(test_idx),
            output_names: names.iter().map(|n| format!("next {n}")).collect(),
            rows_per_sample: 1,
            input_names: names,
        },
        seq_len: SEQ_LEN,
        token_dim: TOKEN_DIM,
    }
}
