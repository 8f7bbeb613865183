//! [`RunControl`]: how another thread follows a run and stops it (the Python package shows
//! progress in a notebook and stops on Ctrl-C through it).

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// Where a run is, as the last step completed left it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RunProgress {
    /// Steps completed (after a resume, counted from the run's start).
    pub step: usize,
    /// Steps of the whole run, fine-tune included.
    pub total: usize,
    /// The latest figures, as the progress bar shows them (λ, test loss, cost, swaps).
    pub message: String,
}

/// Shared between a run ([`crate::RunSpec::control`]) and whoever watches it. The run sets
/// the step after every step (an atomic store, no lock) and the message at each log line.
#[derive(Debug, Default)]
pub struct RunControl {
    stop: AtomicBool,
    step: AtomicUsize,
    total: AtomicUsize,
    message: Mutex<String>,
}

impl RunControl {
    /// Asks the run to stop after the step it is in: it returns [`crate::Error::Train`] with
    /// `TrainError::Stopped`, and the checkpoints it wrote stay.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }

    /// Whether [`RunControl::stop`] was called.
    pub fn stop_requested(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    /// The run's latest progress.
    pub fn progress(&self) -> RunProgress {
        RunProgress {
            step: self.step.load(Ordering::Relaxed),
            total: self.total.load(Ordering::Relaxed),
            message: self
                .message
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
        }
    }

    pub(crate) fn set_total(&self, total: usize) {
        self.total.store(total, Ordering::Relaxed);
    }

    pub(crate) fn set_step(&self, step: usize) {
        self.step.store(step, Ordering::Relaxed);
    }

    pub(crate) fn set_message(&self, message: &str) {
        message.clone_into(&mut self.message.lock().unwrap_or_else(|e| e.into_inner()));
    }
}
