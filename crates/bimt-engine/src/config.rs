//! What steers a training run: the ablation [`Variant`], the [`TrainConfig`] with its
//! learning-rate and λ schedules, and the pruned [`Finetune`].

use crate::params::SwapMoments;
use bimt_format::CostSpec;
use bimt_layout::{CostConfig, Reduction};
use bimt_manifold::{Metric, PaperMetric};
use bimt_swap::SwapMode;

/// The five training variants of the paper's ablation (Fig. 2, App. A), named `vanilla`,
/// `l1`, `l1-local`, `l1-swap` and `bimt`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Variant {
    /// No regularisation, no swaps.
    Vanilla,
    /// Plain L1 (`A = 0`), no swaps.
    L1,
    /// Local L1 (distance-weighted), no swaps.
    L1Local,
    /// Plain L1 in the loss, swaps that shorten the local wiring.
    L1Swap,
    /// Local L1 and swaps: the full method.
    Bimt,
}

bimt_format::named_by_serde!(Variant);

impl Variant {
    /// All variants, in the paper's order.
    pub const ALL: [Variant; 5] = [
        Variant::Vanilla,
        Variant::L1,
        Variant::L1Local,
        Variant::L1Swap,
        Variant::Bimt,
    ];

    /// Whether the connection cost is in the loss.
    pub fn regularised(self) -> bool {
        self != Variant::Vanilla
    }

    /// Whether the cost charges in-layer distances.
    pub fn local(self) -> bool {
        matches!(self, Variant::L1Local | Variant::Bimt)
    }

    /// Whether neurons are swapped.
    pub fn swaps(self) -> bool {
        matches!(self, Variant::L1Swap | Variant::Bimt)
    }
}

/// Everything that steers a training run.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainConfig {
    /// Number of optimizer steps.
    pub steps: usize,
    /// AdamW learning rate in phases: `(first step, lr)`, sorted by step.
    pub lr: Vec<(usize, f64)>,
    /// λ in phases: `(first step, λ)`, sorted by step.
    pub lambda: Vec<(usize, f64)>,
    /// Swap every `S` steps.
    pub swap_every: usize,
    /// Important neurons per domain in a swap round.
    pub top_k: usize,
    /// Greedy (paper) or exact swaps.
    pub swap_mode: SwapMode,
    /// Whether a swap moves the AdamW moments with the weights (the default) or leaves them.
    pub swap_moments: SwapMoments,
    /// Which ablation variant.
    pub variant: Variant,
    /// The cost's switches (`local` is set by the variant).
    pub cost: CostConfig,
    /// First step at which biases are charged (when `cost.bias_penalty` holds).
    pub bias_from: usize,
    /// Evaluate and log every this many steps.
    pub log_every: usize,
    /// Write a checkpoint every this many steps.
    pub checkpoint_every: Option<usize>,
    /// Pruned fine-tuning after the `steps` of BIMT, if any.
    pub finetune: Option<Finetune>,
}

/// Pruned fine-tuning: after the BIMT schedule, every weight below `threshold` × its
/// matrix's largest |w| is set to zero and held there, and `steps` more steps fit what is left
/// to the task alone (λ = 0, no swaps), the learning rate falling linearly from `lr` to 0.
/// The connection cost's L1 pull biases the surviving weights towards zero; this removes that
/// bias without adding a connection.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Finetune {
    /// Steps of fine-tuning.
    pub steps: usize,
    /// Learning rate of the first fine-tune step.
    pub lr: f64,
    /// Pruning threshold, as a fraction of each weight matrix's largest |w|.
    pub threshold: f64,
}

impl TrainConfig {
    /// The paper's symbolic-formula settings (§3.1) scaled to `steps`: lr 1e-3, λ = 1e-3,
    /// 1e-2, 1e-3 over the first quarter, the middle half and the last quarter, swaps of the
    /// top 6 neurons every 200 steps, the full BIMT variant, sum reduction, biases charged.
    /// A starting point for a new model: override fields with struct update syntax.
    pub fn paper(steps: usize) -> Self {
        Self {
            steps,
            lr: vec![(0, 1e-3)],
            lambda: vec![(0, 1e-3), (steps / 4, 1e-2), (steps * 3 / 4, 1e-3)],
            swap_every: 200,
            top_k: 6,
            swap_mode: SwapMode::Greedy,
            swap_moments: SwapMoments::Follow,
            variant: Variant::Bimt,
            cost: CostConfig {
                reduction: Reduction::Sum,
                bias_penalty: true,
                last_layer_distance: true,
                local: true,
            },
            bias_from: 0,
            log_every: (steps / 10).max(1),
            checkpoint_every: None,
            finetune: None,
        }
    }

    /// All steps of the run: the BIMT schedule and the fine-tune.
    pub fn total_steps(&self) -> usize {
        self.steps + self.finetune.map_or(0, |f| f.steps)
    }

    /// The learning rate at `step`.
    pub fn lr_at(&self, step: usize) -> f64 {
        match self.finetune {
            // Linear decay to zero over the fine-tune: the last steps average out the noise.
            Some(f) if step >= self.steps => {
                f.lr * (1.0 - (step - self.steps) as f64 / f.steps.max(1) as f64)
            }
            _ => phase_value(&self.lr, step),
        }
    }

    /// λ at `step` (0 during the fine-tune).
    pub fn lambda_at(&self, step: usize) -> f64 {
        if !self.variant.regularised() || step >= self.steps {
            return 0.0;
        }
        phase_value(&self.lambda, step)
    }

    /// Whether biases are charged at `step`.
    pub fn bias_penalty_at(&self, step: usize) -> bool {
        self.cost.bias_penalty && step >= self.bias_from
    }

    /// The cost definition of the trained model under the paper's `metric`, as `model.json`
    /// records it: the switches in force at the last step of the schedule, `A = 0` for the
    /// variants without locality.
    pub fn cost_spec(&self, metric: &PaperMetric) -> CostSpec {
        let last = self.cost_at(self.steps.saturating_sub(1));
        CostSpec {
            metric: metric.name(),
            a: if last.local { metric.a } else { 0.0 },
            y_star: metric.y_star,
            reduction: self.cost.reduction.to_string(),
            bias_penalty: last.bias_penalty,
            last_layer_distance: last.last_layer_distance,
        }
    }

    /// The cost definition used in the loss at `step`.
    pub fn cost_at(&self, step: usize) -> CostConfig {
        CostConfig {
            local: self.variant.local(),
            bias_penalty: self.bias_penalty_at(step),
            ..self.cost
        }
    }
}

/// The value of the last phase that has started by `step` (0 before the first).
fn phase_value(phases: &[(usize, f64)], step: usize) -> f64 {
    phases
        .iter()
        .rev()
        .find(|(from, _)| *from <= step)
        .map_or(0.0, |&(_, v)| v)
}
