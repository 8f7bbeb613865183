//! A run's progress on stderr: a bar on a terminal; plain lines every few seconds (and at the
//! start and the end) when stderr is a file or a pipe, as in a batch job's log.

use indicatif::{ProgressBar, ProgressState, ProgressStyle};
use std::io::IsTerminal;
use std::time::{Duration, Instant};

/// Seconds between two plain progress lines.
const LINE_INTERVAL: Duration = Duration::from_secs(5);

/// Where progress goes.
enum Sink {
    /// Nowhere (`--quiet`).
    Hidden,
    /// A bar redrawn in place.
    Bar(ProgressBar),
    /// Plain lines, at most one per [`LINE_INTERVAL`].
    Lines { last: Instant },
}

/// Progress of one run of `total` steps.
pub struct Progress {
    sink: Sink,
    total: usize,
    /// The step this call started at (after a resume, the checkpoint's).
    first: usize,
    started: Instant,
    step: usize,
    message: String,
}

impl Progress {
    /// Progress from `first` to `total` steps; nothing when `quiet`.
    pub fn new(quiet: bool, first: usize, total: usize) -> Self {
        let sink = if quiet {
            Sink::Hidden
        } else if std::io::stderr().is_terminal() {
            let bar = ProgressBar::new(total as u64);
            bar.set_style(
                ProgressStyle::with_template(
                    "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} {rate} {msg}",
                )
                .expect("valid template")
                .with_key(
                    "rate",
                    |state: &ProgressState, w: &mut dyn std::fmt::Write| {
                        let _ = write!(w, "{}", steps_per_second(state.per_sec()));
                    },
                ),
            );
            bar.set_position(first as u64);
            Sink::Bar(bar)
        } else {
            Sink::Lines {
                last: Instant::now(),
            }
        };
        let progress = Progress {
            sink,
            total,
            first,
            started: Instant::now(),
            step: first,
            message: String::new(),
        };
        if matches!(progress.sink, Sink::Lines { .. }) {
            progress.print_line();
        }
        progress
    }

    /// Steps completed so far.
    pub fn set_position(&mut self, step: usize) {
        self.step = step;
        match &mut self.sink {
            Sink::Hidden => {}
            Sink::Bar(bar) => bar.set_position(step as u64),
            Sink::Lines { last } => {
                if last.elapsed() >= LINE_INTERVAL {
                    *last = Instant::now();
                    self.print_line();
                }
            }
        }
    }

    /// The latest figures (λ, test loss, ...), shown after the counts.
    pub fn set_message(&mut self, message: String) {
        if let Sink::Bar(bar) = &self.sink {
            bar.set_message(message.clone());
        }
        self.message = message;
    }

    /// Ends at `step`: clears the bar, or prints the last line.
    pub fn finish(mut self, step: usize) {
        self.step = step;
        match &self.sink {
            Sink::Hidden => {}
            Sink::Bar(bar) => bar.finish_and_clear(),
            Sink::Lines { .. } => self.print_line(),
        }
    }

    fn print_line(&self) {
        let seconds = self.started.elapsed().as_secs_f64();
        let rate = (self.step - self.first) as f64 / seconds.max(1e-9);
        let rate = if self.step > self.first {
            format!(", {}", steps_per_second(rate))
        } else {
            String::new()
        };
        let percent = 100.0 * self.step as f64 / self.total.max(1) as f64;
        let message = if self.message.is_empty() {
            String::new()
        } else {
            format!(", {}", self.message)
        };
        eprintln!(
            "step {}/{} ({percent:.0}%){rate}{message}",
            self.step, self.total
        );
    }
}

/// A rate as people read it: `6571 steps/s`, `8.5 steps/s`.
fn steps_per_second(rate: f64) -> String {
    if rate >= 10.0 {
        format!("{rate:.0} steps/s")
    } else {
        format!("{rate:.1} steps/s")
    }
}

#[cfg(test)]
mod tests {
    use super::steps_per_second;

    #[test]
    fn rates_print_without_separators_or_long_fractions() {
        assert_eq!(steps_per_second(6571.3837), "6571 steps/s");
        assert_eq!(steps_per_second(8.4567), "8.5 steps/s");
    }
}
