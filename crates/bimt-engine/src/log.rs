//! What a run reports as it goes: a [`LogEntry`] per log interval (a line of `log.jsonl`),
//! the [`Observer`] hooks, and the [`RunSummary`] at the end.

use crate::model::{Evaluation, Model};
use bimt_format::Timing;

/// One line of `log.jsonl`.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LogEntry {
    /// Steps completed.
    pub step: usize,
    /// λ in force.
    pub lambda: f64,
    /// Loss on the training split.
    pub train_loss: f64,
    /// Loss on the test split.
    pub test_loss: f64,
    /// Test accuracy (classification).
    pub test_accuracy: Option<f64>,
    /// Connection cost under the run's definition.
    pub connection_cost: f64,
    /// Swaps applied so far.
    pub swaps: usize,
    /// Seconds of training since the run's first step (over resumes too).
    pub wall_seconds: f64,
}

/// Called by the trainer as it goes (progress bars, frames, logs).
pub trait Observer<N> {
    /// After every step.
    fn on_step(&mut self, _step: usize) {}
    /// At every log interval, with the model as it is then.
    fn on_log(&mut self, _model: &Model<N>, _entry: &LogEntry) {}
    /// Before a checkpoint of `step` is written: anything the observer keeps of the run up to
    /// `step` (frames, log lines) should be on disk when this returns.
    fn before_checkpoint(&mut self, _step: usize) {}
    /// Asked after every step: `true` ends the run there with [`crate::TrainError::Stopped`]
    /// (a user's Ctrl-C in the Python package); checkpoints already written stay.
    fn should_stop(&mut self) -> bool {
        false
    }
}

impl<N> Observer<N> for () {}

/// The outcome of a run.
#[derive(Clone, Debug, PartialEq)]
pub struct RunSummary {
    /// Steps completed, those before a resume and the fine-tune included.
    pub steps: usize,
    /// Steps run in this call (excluding those before a resume).
    pub steps_run: usize,
    /// Wall time of this call.
    pub wall_seconds: f64,
    /// Final evaluation.
    pub evaluation: Evaluation,
    /// Final connection cost.
    pub connection_cost: f64,
    /// Swaps over the whole run.
    pub swaps: usize,
    /// Every log line of the run, those before a resume included.
    pub log: Vec<LogEntry>,
    /// Where this call's wall time went.
    pub timing: Timing,
}
