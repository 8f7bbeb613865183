use crate::checkpoint::{Checkpoint, InitialState};
use crate::model::{Evaluation, Model, Network, PermuteError, Task};
use crate::params::SwapMoments;
use crate::regulariser::Regulariser;
use bimt_format::Timing;
use bimt_format::{CostSpec, FormatError};
use bimt_layout::{CostConfig, Distances, Reduction};
use bimt_manifold::{Metric, PaperMetric};
use bimt_swap::{SwapConfig, SwapMode, Swapper};
use std::path::PathBuf;
use std::time::Instant;

/// The five training variants of the paper's ablation (Fig. 2, App. A).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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

impl Variant {
    /// All variants, in the paper's order.
    pub const ALL: [Variant; 5] = [
        Variant::Vanilla,
        Variant::L1,
        Variant::L1Local,
        Variant::L1Swap,
        Variant::Bimt,
    ];

    /// Command-line name.
    pub fn name(self) -> &'static str {
        match self {
            Variant::Vanilla => "vanilla",
            Variant::L1 => "l1",
            Variant::L1Local => "l1-local",
            Variant::L1Swap => "l1-swap",
            Variant::Bimt => "bimt",
        }
    }

    /// Parses a command-line name.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.name() == name)
    }

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
            reduction: self.cost.reduction.name().to_string(),
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
            timing.steps += since(step_started);
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
            timing.observer += since(observer_started);
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

/// The value of the last phase that has started by `step` (0 before the first).
fn phase_value(phases: &[(usize, f64)], step: usize) -> f64 {
    phases
        .iter()
        .rev()
        .find(|(from, _)| *from <= step)
        .map_or(0.0, |&(_, v)| v)
}
