//! Symbolic-formula regression tasks (paper §3.1, App. A and B).

use std::f32::consts::PI;
use std::fmt;
use std::str::FromStr;

use rand_chacha::ChaCha8Rng;

use crate::rng::{seeded, uniform};
use crate::{DataError, Dataset, Split, Targets};

/// The symbolic formulas of the paper. Inputs are `x = (x1, …, xd)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Formula {
    /// Fig. 3(a), d = 4: `y1 = (x1 + x3)^3`, `y2 = x2^2 + sin(π·x4)`.
    Independence,
    /// Fig. 3(b), d = 3: `(x1², x1² + x2², x1² + x2² + x3²)`.
    FeatureSharing,
    /// Fig. 3(c), d = 4: `sqrt((x1 − x2)² + (x3 − x4)²)`.
    Compositionality,
    /// App. A, d = 4: `(x1·x4 + x2·x3, x1·x4 − x2·x3)`.
    Pruning,
}

impl Formula {
    /// All formulas, in paper order.
    pub const ALL: [Formula; 4] = [
        Formula::Independence,
        Formula::FeatureSharing,
        Formula::Compositionality,
        Formula::Pruning,
    ];

    /// A short kebab-case name: `independence`, `feature-sharing`,
    /// `compositionality`, `pruning` (accepted back by [`str::parse`]).
    pub fn name(self) -> &'static str {
        match self {
            Formula::Independence => "independence",
            Formula::FeatureSharing => "feature-sharing",
            Formula::Compositionality => "compositionality",
            Formula::Pruning => "pruning",
        }
    }

    /// Number of inputs d.
    pub fn in_dim(self) -> usize {
        match self {
            Formula::FeatureSharing => 3,
            Formula::Independence | Formula::Compositionality | Formula::Pruning => 4,
        }
    }

    /// Number of outputs.
    pub fn out_dim(self) -> usize {
        match self {
            Formula::Independence | Formula::Pruning => 2,
            Formula::FeatureSharing => 3,
            Formula::Compositionality => 1,
        }
    }

    /// Evaluates the formula on one input row. Returns `None` unless
    /// `x.len() == self.in_dim()`.
    pub fn eval(self, x: &[f32]) -> Option<Vec<f32>> {
        if x.len() != self.in_dim() {
            return None;
        }
        Some(match self {
            Formula::Independence => {
                vec![(x[0] + x[2]).powi(3), x[1] * x[1] + (PI * x[3]).sin()]
            }
            Formula::FeatureSharing => {
                let a = x[0] * x[0];
                let b = a + x[1] * x[1];
                vec![a, b, b + x[2] * x[2]]
            }
            Formula::Compositionality => vec![intermediate_i(x).sqrt()],
            Formula::Pruning => vec![x[0] * x[3] + x[1] * x[2], x[0] * x[3] - x[1] * x[2]],
        })
    }
}

impl fmt::Display for Formula {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Formula {
    type Err = DataError;

    /// Parses a [`Formula::name`] (case-insensitive; `_` is accepted for `-`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted = s.trim().to_ascii_lowercase().replace('_', "-");
        Formula::ALL
            .into_iter()
            .find(|f| f.name() == wanted)
            .ok_or_else(|| DataError::UnknownFormula(s.to_string()))
    }
}

/// The intermediate quantity `I = (x1 − x2)² + (x3 − x4)²` of the
/// compositionality task (its output is `sqrt(I)`), used to probe hidden
/// neurons. Missing coordinates count as 0; extra ones are ignored.
pub fn intermediate_i(x: &[f32]) -> f32 {
    let c = |i: usize| x.get(i).copied().unwrap_or(0.0);
    (c(0) - c(1)).powi(2) + (c(2) - c(3)).powi(2)
}

/// A symbolic-formula dataset: inputs `x ~ U[−1, 1]^d`, `n_train` training
/// rows then `n_test` test rows drawn from one `ChaCha8Rng` stream seeded
/// with `seed`, targets given by `formula` (see [`Formula`]).
///
/// Input names are `x1..xd`, output names `y1..yk`.
pub fn symbolic(formula: Formula, n_train: usize, n_test: usize, seed: u64) -> Dataset {
    let mut rng = seeded(seed);
    let train = symbolic_split(formula, n_train, &mut rng);
    let test = symbolic_split(formula, n_test, &mut rng);
    Dataset {
        train,
        test,
        input_names: (1..=formula.in_dim()).map(|i| format!("x{i}")).collect(),
        output_names: (1..=formula.out_dim()).map(|i| format!("y{i}")).collect(),
        rows_per_sample: 1,
    }
}

fn symbolic_split(formula: Formula, n: usize, rng: &mut ChaCha8Rng) -> Split {
    let d = formula.in_dim();
    let inputs: Vec<f32> = (0..n * d).map(|_| uniform(rng, -1.0, 1.0)).collect();
    let values = inputs
        .chunks_exact(d)
        .flat_map(|x| formula.eval(x).unwrap_or_default())
        .collect();
    Split {
        inputs,
        n,
        in_dim: d,
        targets: Targets::Regression {
            values,
            dim: formula.out_dim(),
        },
    }
}
