//! [`RunControl`]: how another thread follows a run and stops it (the Python package shows
//! progress in a notebook and stops on Ctrl-C through it).

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

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

/// Shared between a run ([`crate::RunSpec::control`]) and whoever watches it.
#[derive(Debug, Default)]
pub struct RunControl {
    stop: AtomicBool,
    progress: Mutex<RunProgress>,
}

impl RunControl {
    /// Asks the run to stop after the step it is in: it returns [`crate::Error::Stopped`],
    /// and the checkpoints it wrote stay.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }

    /// Whether [`RunControl::stop`] was called.
    pub fn stop_requested(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    /// The run's latest progress.
    pub fn progress(&self) -> RunProgress {
        self.lock().clone()
    }

    pub(crate) fn set_step(&self, step: usize, total: usize) {
        let mut progress = self.lock();
        progress.step = step;
        progress.total = total;
    }

    pub(crate) fn set_message(&self, message: &str) {
        message.clone_into(&mut self.lock().message);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, RunProgress> {
        self.progress.lock().unwrap_or_else(|e| e.into_inner())
    }
}
