//! Why a run stops early: [`TrainError`], and the [`Divergence`] report that names the setting
//! most likely at fault.

use crate::model::PermuteError;
use bimt_format::FormatError;

/// A run that could not go on.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// The loss stopped being a number, or grew past [`DIVERGENCE_FACTOR`] times its initial
    /// value.
    #[error("{0}")]
    Diverged(Box<Divergence>),
    /// A checkpoint could not be written.
    #[error(transparent)]
    Checkpoint(#[from] FormatError),
    /// A swap round produced a permutation the model refused (a bug in the swapper).
    #[error("swap round: {0}")]
    Swap(#[from] PermuteError),
    /// The observer asked to stop (see [`crate::Observer::should_stop`]) after `step` steps.
    #[error("stopped by request after step {step}")]
    Stopped {
        /// Steps completed.
        step: usize,
    },
}

/// A loss that grew past this many times its value before the first step has diverged.
pub const DIVERGENCE_FACTOR: f64 = 1e6;

/// Where and how a run diverged, and the settings in force then.
#[derive(Clone, Debug, PartialEq)]
pub struct Divergence {
    /// Steps completed.
    pub step: usize,
    /// `training` or `test`.
    pub split: &'static str,
    /// The loss then.
    pub loss: f64,
    /// The same loss before the first step.
    pub initial_loss: f64,
    /// The connection cost before the first step.
    pub initial_cost: f64,
    /// Learning rate at `step`.
    pub lr: f64,
    /// λ at `step`.
    pub lambda: f64,
    /// Whether it diverged in the pruned fine-tune, whose learning rate is its own.
    pub in_finetune: bool,
}

impl Divergence {
    /// The setting most likely at fault: in the fine-tune its learning rate; else the cost
    /// term where `λ · cost` at the start outweighed the loss a hundredfold, else the
    /// learning rate.
    pub fn likely_cause(&self) -> String {
        if self.in_finetune {
            return format!(
                "the fine-tune's learning rate; lower --finetune-lr (now {})",
                readable(self.lr)
            );
        }
        let cost_term = self.lambda * self.initial_cost;
        if cost_term > 100.0 * self.initial_loss.max(f64::MIN_POSITIVE) {
            format!(
                "the connection cost term: λ·cost = {} against an initial loss of {}; lower \
                 --lambda (now {}) or the distance scale --A",
                readable(cost_term),
                readable(self.initial_loss),
                readable(self.lambda)
            )
        } else {
            format!("the learning rate; lower --lr (now {})", readable(self.lr))
        }
    }
}

impl std::fmt::Display for Divergence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let growth = if self.loss.is_finite() {
            format!(
                ", {}× its initial {}",
                readable(self.loss / self.initial_loss.max(f64::MIN_POSITIVE)),
                readable(self.initial_loss)
            )
        } else {
            String::new()
        };
        write!(
            f,
            "training diverged at step {}: the {} loss is {}{growth} (lr {}, λ {}); likely cause: {}",
            self.step,
            self.split,
            readable(self.loss),
            readable(self.lr),
            readable(self.lambda),
            self.likely_cause()
        )
    }
}

/// A number in at most four significant digits (`0.001`, `7.52e16`, `NaN`).
fn readable(v: f64) -> String {
    if !v.is_finite() || v == 0.0 {
        return format!("{v}");
    }
    if (1e-3..1e4).contains(&v.abs()) {
        let text = format!("{v:.4}");
        let text = text.trim_end_matches('0').trim_end_matches('.');
        return text.to_string();
    }
    let text = format!("{v:.3e}");
    match text.split_once('e') {
        Some((m, e)) if m.contains('.') => {
            format!("{}e{e}", m.trim_end_matches('0').trim_end_matches('.'))
        }
        _ => text,
    }
}
