//! Restarts (`--restarts K`): K candidates train the same data from different initial weights
//! for `--restart-steps` steps; the one with the shortest wiring among those that fit about as
//! well as the best becomes the run. Where BIMT's picture depends on how the first steps break
//! the symmetry, the wiring cost already tells the arrangements apart early (docs/gaps.md,
//! issue 28).

use crate::control::RunControl;
use crate::error::Error;
use crate::progress::Progress;
use crate::settings::Settings;
use bimt_engine::{Device, Model, Network, Observer, Task, TrainError, Trainer};
use bimt_format::{RestartCandidate, Restarts};
use std::time::Instant;

/// A candidate may be chosen when its training loss is at most this many times the lowest
/// among the candidates: the choice is by wiring at about equal fit, never a worse fit for a
/// shorter wiring.
pub const LOSS_TOLERANCE: f64 = 1.2;

/// The seed of candidate `index`'s initial weights: the run's own seed for the first, then
/// seeds drawn from it (SplitMix64), so that candidate runs share no seed with the runs of
/// neighbouring seeds.
pub fn candidate_seed(seed: u64, index: usize) -> u64 {
    if index == 0 {
        return seed;
    }
    let mut z = seed
        .wrapping_add((index as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15))
        .wrapping_add(0x5265_7374_6172_7473);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The index of the candidate to keep: the lowest connection cost among those whose training
/// loss is within [`LOSS_TOLERANCE`] of the lowest; the first candidate when every one
/// diverged.
pub fn choose(candidates: &[RestartCandidate]) -> usize {
    let fits = |c: &RestartCandidate| c.train_loss.zip(c.connection_cost);
    let best_loss = candidates
        .iter()
        .filter_map(|c| fits(c).map(|f| f.0))
        .fold(f64::INFINITY, f64::min);
    candidates
        .iter()
        .enumerate()
        .filter_map(|(i, c)| fits(c).map(|(loss, cost)| (i, loss, cost)))
        .filter(|&(_, loss, _)| loss <= LOSS_TOLERANCE * best_loss)
        .min_by(|a, b| a.2.total_cmp(&b.2))
        .map_or(0, |(i, _, _)| i)
}

/// Ends a candidate after `steps` steps (or at the user's stop), moving one progress bar over
/// all candidates.
struct CandidateObserver<'a> {
    steps: usize,
    done: usize,
    before: usize,
    progress: &'a mut Progress,
    control: Option<&'a RunControl>,
}

impl<N> Observer<N> for CandidateObserver<'_> {
    fn on_step(&mut self, step: usize) {
        self.done = step;
        if step.is_multiple_of(100) {
            self.progress.set_position(self.before + step);
        }
        if let Some(control) = self.control {
            control.set_step(self.before + step);
        }
    }

    fn should_stop(&mut self) -> bool {
        self.done >= self.steps || self.control.is_some_and(RunControl::stop_requested)
    }
}

/// Trains the candidates of `settings.restarts` and returns the network and task back, with
/// the seed of the initial weights the run is to start from and the record of the choice.
pub fn choose_initialisation<N: Network, T: Task>(
    settings: &Settings,
    network: N,
    task: T,
    device: &Device,
    quiet: bool,
    control: Option<&RunControl>,
) -> Result<(N, T, Restarts), Error> {
    let started = Instant::now();
    let steps = settings.restart_steps.unwrap_or(settings.steps);
    let metric = settings.metric();
    let mut progress = Progress::new(quiet, 0, settings.restarts * steps);
    if let Some(control) = control {
        control.set_total(settings.restarts * steps);
    }
    let (mut network, mut task) = (network, task);
    let mut candidates = Vec::with_capacity(settings.restarts);
    for index in 0..settings.restarts {
        let init_seed = candidate_seed(settings.seed, index);
        let message = format!(
            "restart {} of {}: {steps} steps each, then the shortest wiring at equal fit",
            index + 1,
            settings.restarts
        );
        if let Some(control) = control {
            control.set_message(&message);
        }
        progress.set_message(message);
        let model = Model::new(network, init_seed, device)?;
        let mut trainer = Trainer::new(model, task, settings.train_config(), &metric);
        let mut observer = CandidateObserver {
            steps,
            done: 0,
            before: index * steps,
            progress: &mut progress,
            control,
        };
        let outcome = trainer.run(&mut observer);
        let fit = match outcome {
            Ok(_) => true,
            Err(TrainError::Stopped { .. }) if !control.is_some_and(RunControl::stop_requested) => {
                true
            }
            Err(TrainError::Diverged(_)) => false,
            Err(e) => return Err(e.into()),
        };
        let (train_loss, connection_cost) = if fit {
            (
                Some(trainer.evaluate().train_loss),
                Some(trainer.connection_cost(steps.saturating_sub(1))),
            )
        } else {
            (None, None)
        };
        candidates.push(RestartCandidate {
            init_seed,
            train_loss: train_loss.filter(|l| l.is_finite()),
            connection_cost,
        });
        let Trainer { model, task: t, .. } = trainer;
        task = t;
        network = model.network;
    }
    progress.finish(settings.restarts * steps);
    Ok((
        network,
        task,
        Restarts {
            steps,
            chosen: choose(&candidates),
            wall_seconds: started.elapsed().as_secs_f64(),
            candidates,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn candidate(loss: Option<f64>, cost: f64) -> RestartCandidate {
        RestartCandidate {
            init_seed: 0,
            train_loss: loss,
            connection_cost: loss.map(|_| cost),
        }
    }

    #[test]
    fn the_shortest_wiring_among_equal_fits_is_chosen() {
        // The second wires shortest but fits 1.5 times worse than the best: not eligible.
        let c = [
            candidate(Some(1.0e-3), 9.0),
            candidate(Some(1.5e-3), 5.0),
            candidate(Some(1.1e-3), 7.0),
            candidate(None, 1.0),
        ];
        assert_eq!(choose(&c), 2);
        assert_eq!(choose(&[candidate(None, 0.0), candidate(None, 0.0)]), 0);
    }

    #[test]
    fn candidate_seeds_are_the_run_seed_then_distinct_draws() {
        assert_eq!(candidate_seed(7, 0), 7);
        let seeds: std::collections::BTreeSet<u64> = (0..4)
            .flat_map(|s| (0..8).map(move |i| candidate_seed(s, i)))
            .collect();
        assert_eq!(seeds.len(), 32);
    }
}
