//! The training loop: [`Trainer`] steps a [`Model`] on a [`Task`] under a [`TrainConfig`],
//! adding the connection cost, swapping neurons every `S` steps, logging and checkpointing.

use crate::checkpoint::{Checkpoint, InitialState};
use crate::config::TrainConfig;
use crate::error::{DIVERGENCE_FACTOR, Divergence, TrainError};
use crate::log::{LogEntry, Observer, RunSummary};
use crate::model::{Evaluation, Model, Network, PermuteError, Task};
use crate::regulariser::Regulariser;
use bimt_format::Timing;
use bimt_layout::{CostConfig, Distances};
use bimt_manifold::Metric;
use bimt_swap::{SwapConfig, Swapper};
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

/// Whether [`Trainer::run`] records the seconds of every training step (see
/// [`Trainer::record_step_seconds`]).
static RECORDING: AtomicBool = AtomicBool::new(false);
/// The seconds of the training steps recorded so far, in order.
static STEP_SECONDS: Mutex<Vec<f64>> = Mutex::new(Vec::new());

/// Trains a [`Model`] on a [`Task`] with BIMT.
pub struct Trainer<'a, N, T> {
    /// The model being trained.
    pub model: Model<N>,
    /// The task.
    pub task: T,
    /// Settings.
    pub config: TrainConfig,
    metric: &'a dyn Metric,
    /// Steps already done (non-zero after a resume).
    pub start_step: usize,
    /// Swaps already done.
    pub swaps: usize,
    /// Where to write checkpoints.
    pub checkpoint_path: Option<PathBuf>,
    /// The caller's record of the run's settings, stored in every checkpoint.
    pub settings: serde_json::Value,
    /// Log lines of earlier calls (after a resume).
    pub history: Vec<LogEntry>,
    /// Seconds of training in earlier calls.
    pub wall_offset: f64,
    /// The state before the first step (set by the first call, or by a resume).
    pub initial: Option<InitialState>,
}

impl Trainer<'static, (), ()> {
    /// Starts (`true`) or stops recording, for every [`Trainer::run`] in this process, the
    /// seconds of each training step: the batch, the forward and backward passes and the
    /// optimizer step, what `timing.steps` adds up, without swap rounds, evaluations, the
    /// observer (log lines, frames) or checkpoints. `bimt bench --full` reads the rate of a
    /// run's first and last tenth from them. Starting clears what was recorded.
    pub fn record_step_seconds(on: bool) {
        if on {
            Self::take_step_seconds();
        }
        RECORDING.store(on, Ordering::Relaxed);
    }

    /// The step seconds recorded since recording started or since the last call, in the
    /// order the steps ran.
    pub fn take_step_seconds() -> Vec<f64> {
        std::mem::take(&mut *STEP_SECONDS.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

impl<'a, N: Network, T: Task> Trainer<'a, N, T> {
    /// A trainer at step 0.
    pub fn new(model: Model<N>, task: T, config: TrainConfig, metric: &'a dyn Metric) -> Self {
        Self {
            model,
            task,
            config,
            metric,
            start_step: 0,
            swaps: 0,
            checkpoint_path: None,
            settings: serde_json::Value::Null,
            history: Vec::new(),
            wall_offset: 0.0,
            initial: None,
        }
    }

    /// Continues from `ckpt` (already loaded into the model by
    /// [`Checkpoint::restore`]): its step, swaps, log, wall time and initial state.
    pub fn resume(&mut self, ckpt: &Checkpoint) {
        self.start_step = ckpt.step.min(self.config.total_steps());
        self.swaps = ckpt.swaps;
        self.history = ckpt.log.clone();
        self.wall_offset = ckpt.wall_seconds;
        self.initial = ckpt.initial;
    }

    /// The full checkpoint of the run after `step` steps, with `log` (every line so far) and
    /// `wall_seconds` of training.
    pub fn checkpoint(&self, step: usize, log: &[LogEntry], wall_seconds: f64) -> Checkpoint {
        Checkpoint {
            settings: self.settings.clone(),
            wall_seconds,
            initial: self.initial,
            log: log.to_vec(),
            ..Checkpoint::capture(&self.model, step, self.swaps)
        }
    }

    /// Refuses an evaluation whose loss is not finite or has grown past
    /// [`DIVERGENCE_FACTOR`] times its initial value.
    fn check_divergence(&self, step: usize, evaluation: &Evaluation) -> Result<(), TrainError> {
        let initial = self.initial.unwrap_or(InitialState {
            train_loss: f64::INFINITY,
            test_loss: f64::INFINITY,
            connection_cost: 0.0,
        });
        for (split, loss, initial_loss) in [
            ("training", evaluation.train_loss, initial.train_loss),
            ("test", evaluation.test_loss, initial.test_loss),
        ] {
            if !loss.is_finite() || loss > DIVERGENCE_FACTOR * initial_loss {
                return Err(TrainError::Diverged(Box::new(Divergence {
                    step,
                    split,
                    loss,
                    initial_loss,
                    initial_cost: initial.connection_cost,
                    lr: self.config.lr_at(step.saturating_sub(1)),
                    lambda: self.config.lambda_at(step.saturating_sub(1)),
                    in_finetune: self.config.finetune.is_some() && step > self.config.steps,
                })));
            }
        }
        Ok(())
    }

    /// The connection cost of the current model under the definition in force at `step`.
    pub fn connection_cost(&self, step: usize) -> f64 {
        let layout = self.model.network.layout();
        Distances::new(layout, self.metric, &self.config.cost_at(step))
            .cost(layout, &self.model.params.to_host())
    }

    /// Evaluates the current model.
    pub fn evaluate(&self) -> Evaluation {
        let device = self.model.params.device().clone();
        self.task
            .evaluate(&|x| self.model.predict(x, false), &device)
    }

    /// One swap round: moves host weights, then the trainable tensors, their AdamW moments
    /// (unless `config.swap_moments` leaves them) and the input/output orders by the same
    /// permutations. Returns the number of swaps.
    pub fn swap_round(&mut self, swap_distances: &Distances) -> Result<usize, PermuteError> {
        let layout = self.model.network.layout();
        let mut host = self.model.params.to_host();
        let config = SwapConfig {
            top_k: self.config.top_k,
            mode: self.config.swap_mode,
        };
        let round = Swapper::new(layout, swap_distances).round(&mut host, &config);
        let perms: Vec<(usize, &[usize])> = round
            .permutations
            .iter()
            .enumerate()
            .filter_map(|(domain, perm)| perm.as_deref().map(|p| (domain, p)))
            .collect();
        self.model.permute_round(&perms, self.config.swap_moments)?;
        Ok(round.swaps)
    }

    /// Trains from `start_step` to `config.steps`.
    pub fn run(&mut self, observer: &mut dyn Observer<N>) -> Result<RunSummary, TrainError> {
        let started = Instant::now();
        let device = self.model.params.device().clone();
        let layout = self.model.network.layout();
        let config = self.config.clone();
        // Swaps always shorten the whole local wiring, also in the "L1 + swap" ablation and
        // where the loss leaves the last layer's distance out (the reference code swaps by
        // the full cost): otherwise output neurons could never move.
        let swap_cost = CostConfig {
            local: true,
            last_layer_distance: true,
            ..config.cost_at(config.steps)
        };
        let swap_distances = Distances::new(layout, self.metric, &swap_cost);
        let regulariser = Regulariser::new(
            layout,
            &Distances::new(layout, self.metric, &config.cost_at(0)),
        );
        let start = self.start_step;
        let total = config.total_steps();
        if self.initial.is_none() {
            let evaluation = self.evaluate();
            self.initial = Some(InitialState::new(&evaluation, self.connection_cost(start)));
        }
        let mut log = self.history.clone();
        let offset = self.wall_offset;
        let wall = move |started: &Instant| offset + started.elapsed().as_secs_f64();
        if config.finetune.is_some() && start > config.steps && start < total {
            // Resuming inside the fine-tune: the pruned weights are the zeros.
            let model = &mut self.model;
            model.params.prune(model.network.layout(), 0.0);
        }
        let mut timing = Timing::default();
        let since = |t: Instant| t.elapsed().as_secs_f64();
        for step in start..total {
            let step_started = Instant::now();
            if let Some(f) = config.finetune
                && step == config.steps
            {
                let model = &mut self.model;
                model.params.prune(model.network.layout(), f.threshold);
            }
            let lambda = config.lambda_at(step);
            let batch = self.task.batch(step, &device);
            timing.rows_per_step = batch.x.dims()[0];
            let prediction = self.model.predict(batch.x.clone(), true);
            let grads = self.task.loss(prediction, &batch).backward();
            // The connection cost's gradient is added inside the step (see `Regulariser`).
            let cost =
                (lambda > 0.0).then(|| regulariser.term(lambda, config.bias_penalty_at(step)));
            self.model.params.step(config.lr_at(step), &grads, cost);
            let step_seconds = since(step_started);
            timing.steps += step_seconds;
            if RECORDING.load(Ordering::Relaxed) {
                STEP_SECONDS
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(step_seconds);
            }
            let done = step + 1;
            if config.variant.swaps()
                && config.swap_every > 0
                && done % config.swap_every == 0
                && done <= config.steps
            {
                let round_started = Instant::now();
                self.swaps += self.swap_round(&swap_distances)?;
                timing.swap_rounds += since(round_started);
                timing.rounds += 1;
            }
            let logs = done % config.log_every.max(1) == 0 || done == total;
            if logs {
                let evaluation_started = Instant::now();
                let evaluation = self.evaluate();
                timing.evaluation += since(evaluation_started);
                self.check_divergence(done, &evaluation)?;
                let entry = LogEntry {
                    step: done,
                    lambda,
                    train_loss: evaluation.train_loss,
                    test_loss: evaluation.test_loss,
                    test_accuracy: evaluation.test_accuracy,
                    connection_cost: self.connection_cost(step),
                    swaps: self.swaps,
                    wall_seconds: wall(&started),
                };
                let observer_started = Instant::now();
                observer.on_log(&self.model, &entry);
                timing.observer += since(observer_started);
                log.push(entry);
            }
            if let (Some(every), Some(path)) = (config.checkpoint_every, &self.checkpoint_path)
                && (done % every == 0 || done == total)
            {
                // Only a state that has been checked goes into a checkpoint: the last one
                // written is the last good one.
                if !logs {
                    let evaluation_started = Instant::now();
                    let evaluation = self.evaluate();
                    timing.evaluation += since(evaluation_started);
                    self.check_divergence(done, &evaluation)?;
                }
                let checkpoint_started = Instant::now();
                observer.before_checkpoint(done);
                self.checkpoint(done, &log, wall(&started)).save(path)?;
                timing.checkpoints += since(checkpoint_started);
            }
            let observer_started = Instant::now();
            observer.on_step(done);
            let stop = observer.should_stop();
            timing.observer += since(observer_started);
            if stop && done < total {
                return Err(TrainError::Stopped { step: done });
            }
        }
        let wall_seconds = started.elapsed().as_secs_f64();
        let evaluation = match log.last() {
            Some(e) if e.step == total => Evaluation {
                train_loss: e.train_loss,
                test_loss: e.test_loss,
                test_accuracy: e.test_accuracy,
            },
            _ => self.evaluate(),
        };
        self.start_step = total;
        Ok(RunSummary {
            steps: total,
            steps_run: total.saturating_sub(start),
            evaluation,
            connection_cost: self.connection_cost(config.steps.saturating_sub(1)),
            swaps: self.swaps,
            wall_seconds,
            log,
            timing,
        })
    }
}
