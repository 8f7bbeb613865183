//! Per-weight distance multipliers ([`Distances`]) under a [`Metric`], and the cost's switches
//! ([`CostConfig`], [`Reduction`]).

use crate::layout::{Layout, ParamId};
use bimt_manifold::Metric;
use nalgebra::Point3;

/// How the per-weight costs are added up: `sum` or `mean`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Reduction {
    /// Sum over every weight (the reference code's symbolic and two-moon MLPs).
    Sum,
    /// Mean per weight matrix, summed over matrices (modular addition, transformer, MNIST).
    Mean,
}

bimt_format::named_by_serde!(Reduction);

/// The switches of the connection cost (paper eq. 3).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CostConfig {
    /// Sum or mean.
    pub reduction: Reduction,
    /// Charge `bias_length·|b|` on biases and token embeddings.
    pub bias_penalty: bool,
    /// Charge the in-layer distance on the connections into the output layer
    /// (`false`: those weights pay only the layer gap, as in the reference MNIST code).
    pub last_layer_distance: bool,
    /// Charge in-layer distances at all (`false`: `A = 0`, plain L1).
    pub local: bool,
}

impl Default for CostConfig {
    fn default() -> Self {
        Self {
            reduction: Reduction::Sum,
            bias_penalty: true,
            last_layer_distance: true,
            local: true,
        }
    }
}

/// Per-weight multipliers of the connection cost, computed once from the layout and a metric:
/// `cost = Σ_c Σ_ij |W_c[i,j]|·weight[c][i,j] + Σ_p Σ |p|·bias_scale(p)`.
///
/// Swaps move weights, never coordinates, so these never change during training.
#[derive(Clone, Debug)]
pub struct Distances {
    /// Row-major `[rows, cols]` multipliers per connection, indexed like the layout's edges.
    pub weight: Vec<Vec<f32>>,
    /// The multiplier of each parameter charged like a bias, with the bias switch off ignored.
    pub bias: Vec<(ParamId, f32)>,
    /// Whether `bias` is charged.
    pub bias_penalty: bool,
}

impl Distances {
    /// Computes the multipliers of every connection of `layout` under `metric` and `config`.
    pub fn new(layout: &Layout, metric: &dyn Metric, config: &CostConfig) -> Self {
        let mut weight = vec![Vec::new(); layout.graph().edge_count()];
        for (id, from, to, c) in layout.connections() {
            let (from, to) = (layout.layer(from), layout.layer(to));
            let shape = layout.params()[c.weight].shape;
            let scale = match config.reduction {
                Reduction::Sum => 1.0,
                Reduction::Mean => 1.0 / (shape[0] * shape[1]) as f64,
            };
            let local = config.local && (config.last_layer_distance || !layout.is_last(id));
            let mut d = Vec::with_capacity(shape[0] * shape[1]);
            for r in 0..shape[0] {
                let a = from.positions[r % from.size];
                for col in 0..shape[1] {
                    let b = to.positions[col % to.size];
                    let dist = if local {
                        metric.distance(&a, &b)
                    } else {
                        metric.distance(&Point3::new(0.5, 0.5, a.z), &Point3::new(0.5, 0.5, b.z))
                    };
                    d.push((dist * scale) as f32);
                }
            }
            weight[id.index()] = d;
        }
        let bias_length = metric.bias_length();
        let bias = layout
            .params()
            .iter()
            .enumerate()
            .filter(|(_, p)| p.penalised_like_bias)
            .map(|(id, p)| {
                let scale = match config.reduction {
                    Reduction::Sum => 1.0,
                    Reduction::Mean => 1.0 / (p.shape[0] * p.shape[1]) as f64,
                };
                (id, (bias_length * scale) as f32)
            })
            .collect();
        Self {
            weight,
            bias,
            bias_penalty: config.bias_penalty,
        }
    }

    /// The connection cost of host parameters (row-major, indexed by [`ParamId`]), in f64.
    pub fn cost(&self, layout: &Layout, params: &[Vec<f32>]) -> f64 {
        let mut total = 0.0;
        for (id, _, _, c) in layout.connections() {
            let d = &self.weight[id.index()];
            total += params[c.weight]
                .iter()
                .zip(d)
                .map(|(w, d)| (w.abs() * d) as f64)
                .sum::<f64>();
        }
        if self.bias_penalty {
            for &(p, scale) in &self.bias {
                total += params[p]
                    .iter()
                    .map(|b| (b.abs() * scale) as f64)
                    .sum::<f64>();
            }
        }
        total
    }
}
