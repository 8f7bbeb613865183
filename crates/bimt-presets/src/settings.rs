//! The settings of a run, as one type.
//!
//! [`Settings`] is every setting of a run, each with its value: what a preset provides (its
//! defaults under a [`Profile`]), what `run.json` and checkpoints record, and what
//! [`Settings::train_config`] hands the trainer. [`Overrides`] is its partial form, generated
//! from the same declaration: every field optional, filled by the command line's flags (it is
//! a `clap::Args`) or read from a JSON file (`--config`, a checkpoint's settings), and applied
//! over a preset's defaults by [`Overrides::apply`]. A setting is declared once, below, with
//! its doc line (which is also its `--help` text); [`crate::resolve`] merges the sources and
//! `limits` checks the ranges.

use crate::error::Error;
use crate::limits;
use bimt_engine::{Backend, Finetune, SwapMoments, TrainConfig, Variant};
use bimt_layout::{CostConfig, Reduction};
use bimt_manifold::PaperMetric;
use bimt_swap::SwapMode;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Which settings a preset starts from: `paper` (the paper's stated settings), `reference`
/// (the authors' notebooks') or `robust` (the paper's, with what makes the structure show at
/// more seeds: issue 28, docs/gaps.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Profile {
    /// The paper's stated settings.
    Paper,
    /// The authors' reference notebooks' settings.
    Reference,
    /// The paper's settings, changed where a preset's structure depends on the seed (see
    /// docs/gaps.md, "Structure robust to the seed").
    Robust,
}

impl Profile {
    /// The profile a preset's own settings are written for: the paper's for `robust`, which
    /// only changes them afterwards.
    pub fn base(self) -> Profile {
        match self {
            Profile::Robust => Profile::Paper,
            other => other,
        }
    }
}

/// The norm of the paper's distance between two neurons: `l1` (the paper's) or `l2`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Norm {
    /// |Δx| + |Δy| + |Δz|.
    L1,
    /// Euclidean.
    L2,
}

/// A preset whose data, loss and test figure `bimt run graph --task` trains an architecture
/// file on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum GraphTask {
    /// `(a + b) mod 59` from two token ids (the preset `modular-addition`).
    ModularAddition,
    /// Composition in S4 from two token ids (the preset `permutation-s4`).
    PermutationS4,
    /// In-context linear regression from sequences of three 2-D tokens (the preset
    /// `in-context`).
    InContext,
    /// Formula (a), 4 numbers in, 2 out (the preset `symbolic-independence`).
    SymbolicIndependence,
    /// Formula (b), 3 numbers in, 3 out (the preset `symbolic-feature-sharing`).
    SymbolicFeatureSharing,
    /// Formula (c), 4 numbers in, 1 out (the preset `symbolic-compositionality`).
    SymbolicCompositionality,
    /// The pruning formula, 4 numbers in, 2 out (the preset `symbolic-pruning`).
    SymbolicPruning,
    /// Two moons, 2 numbers in, 2 classes out (the preset `two-moons`).
    TwoMoons,
    /// MNIST, 784 pixels in, 10 digits out (the preset `mnist`).
    Mnist,
}

impl GraphTask {
    /// The preset whose data, loss, test figure, structure report and settings it uses.
    pub fn preset(self) -> &'static str {
        match self {
            GraphTask::ModularAddition => "modular-addition",
            GraphTask::PermutationS4 => "permutation-s4",
            GraphTask::InContext => "in-context",
            GraphTask::SymbolicIndependence => "symbolic-independence",
            GraphTask::SymbolicFeatureSharing => "symbolic-feature-sharing",
            GraphTask::SymbolicCompositionality => "symbolic-compositionality",
            GraphTask::SymbolicPruning => "symbolic-pruning",
            GraphTask::TwoMoons => "two-moons",
            GraphTask::Mnist => "mnist",
        }
    }

    /// The group operation its token pairs are labelled by, for the token tasks.
    pub fn operation(self) -> Option<bimt_data::Operation> {
        match self {
            GraphTask::ModularAddition => Some(bimt_data::Operation::ModularAddition { p: 59 }),
            GraphTask::PermutationS4 => Some(bimt_data::Operation::PermutationS4),
            _ => None,
        }
    }

    /// The formula it samples, for the symbolic tasks.
    pub fn formula(self) -> Option<bimt_data::Formula> {
        match self {
            GraphTask::SymbolicIndependence => Some(bimt_data::Formula::Independence),
            GraphTask::SymbolicFeatureSharing => Some(bimt_data::Formula::FeatureSharing),
            GraphTask::SymbolicCompositionality => Some(bimt_data::Formula::Compositionality),
            GraphTask::SymbolicPruning => Some(bimt_data::Formula::Pruning),
            _ => None,
        }
    }
}

bimt_format::named_by_serde!(Profile, Norm, GraphTask);

/// Declares [`Settings`] and its partial form [`Overrides`] from one list of fields. Each
/// field carries its doc line, its serde attributes (both types) and its `#[arg]` (the flag).
macro_rules! settings {
    ($(
        $(#[doc = $doc:literal])*
        $(#[serde($($serde:tt)*)])*
        #[arg($($arg:tt)*)]
        pub $name:ident: $ty:ty,
    )*) => {
        /// Every setting of a run, each with its value. `run.json` holds it (after the bimt
        /// version and the command line), in the form [`Overrides`] reads back.
        #[derive(Clone, Debug, PartialEq, Serialize)]
        pub struct Settings {
            $($(#[doc = $doc])* $(#[serde($($serde)*)])* pub $name: $ty,)*
        }

        /// The settings a config file, a checkpoint or the command line gives: any subset of
        /// [`Settings`], named as in `run.json` (and as the flags, with `-` for `_`).
        #[derive(Clone, Debug, Default, Deserialize, clap::Args)]
        #[serde(deny_unknown_fields)]
        pub struct Overrides {
            $($(#[doc = $doc])* $(#[serde($($serde)*)])* #[arg($($arg)*)] pub $name: Option<$ty>,)*
            /// Recorded by `run.json`; not a setting (a note is printed when it differs).
            #[arg(skip)]
            pub bimt_version: Option<String>,
            /// Recorded by `run.json`; not a setting.
            #[arg(skip)]
            pub command: Option<Vec<String>>,
        }

        impl Overrides {
            /// Sets every field of `settings` that this gives.
            pub fn apply(&self, settings: &mut Settings) {
                $(if let Some(value) = &self.$name {
                    settings.$name = value.clone();
                })*
            }
        }
    };
}

settings! {
    /// The experiment (see `bimt presets`).
    #[arg(skip)]
    pub preset: String,
    /// Settings to start from: paper (default), reference or robust.
    #[arg(long)]
    pub profile: Profile,
    /// Ablation variant: vanilla, l1, l1-local, l1-swap or bimt (default).
    #[arg(long)]
    pub variant: Variant,
    /// Random seed for data, initialisation and batches (default 0).
    #[arg(long)]
    pub seed: u64,
    /// CPU backend: flex (default, fastest here) or ndarray.
    #[arg(long)]
    pub backend: Backend,
    /// Steps of the BIMT schedule (a fine-tune, if any, comes after them).
    #[arg(long)]
    pub steps: usize,
    /// Learning rate: a number, or phases STEP:VALUE,STEP:VALUE,...
    #[arg(long)]
    pub lr: Phases,
    /// λ: a number, or phases STEP:VALUE,STEP:VALUE,...
    #[arg(long)]
    pub lambda: Phases,
    /// In-layer distance scale A.
    #[serde(rename = "A")]
    #[arg(long = "A", alias = "a")]
    pub a: f64,
    /// Distance between layers y*.
    #[arg(long)]
    pub y_star: f64,
    /// Important neurons tried per layer in a swap round (0: no swaps).
    #[arg(long)]
    pub top_k: usize,
    /// Steps between swap rounds S (0: no swaps).
    #[arg(long)]
    pub swap_every: usize,
    /// greedy (paper), exact (linear assignment per layer) or greedy-positions (the reference
    /// notebooks' rule: top-k positions fixed when the round starts).
    #[arg(long)]
    pub swap_mode: SwapMode,
    /// follow (default: a swap moves the AdamW moment estimates with the weights), reset (the
    /// moved weights' moments start from zero: a perturbation, see docs/gaps.md) or stay
    /// (they stay in place, as in the reference notebooks; --profile reference).
    #[arg(long)]
    pub swap_moments: SwapMoments,
    /// Train this many candidates from different initial weights (the same data) for
    /// --restart-steps steps, and make the run the one with the shortest wiring among those
    /// that fit about as well as the best (1: no restarts; see docs/gaps.md).
    #[arg(long)]
    pub restarts: usize,
    /// Steps each of the --restarts candidates trains before the choice (null in a file:
    /// the whole schedule, fine-tune excluded).
    #[arg(long, num_args = 1)]
    pub restart_steps: Option<usize>,
    /// How the weights' costs add up: sum or mean (per matrix).
    #[arg(long)]
    pub reduction: Reduction,
    /// Charge biases and token embeddings too.
    #[arg(long)]
    pub bias_penalty: bool,
    /// First step at which biases are charged.
    #[arg(long)]
    pub bias_from: usize,
    /// Charge the in-layer distance on the connections into the output layer.
    #[arg(long)]
    pub last_layer_distance: bool,
    /// The distance's norm: l1 or l2.
    #[arg(long)]
    pub metric: Norm,
    /// Evaluate and log every N steps (at least 1; at most the run's steps).
    #[arg(long)]
    pub log_every: usize,
    /// Samples per training batch (sequences, for a sequence model; at least 1; null in a
    /// file: the whole training split).
    #[arg(long, num_args = 1)]
    pub batch: Option<usize>,
    /// Steps of pruned fine-tuning after the schedule: weights under --finetune-threshold of
    /// their matrix's largest are zeroed and held there, the rest train without the cost (0:
    /// none).
    #[arg(long)]
    pub finetune_steps: usize,
    /// Learning rate of the pruned fine-tune.
    #[arg(long)]
    pub finetune_lr: f64,
    /// The fine-tune zeroes the weights under this fraction of their matrix's largest |w|.
    #[arg(long)]
    pub finetune_threshold: f64,
    /// Write checkpoint.json every N steps (and at the end); a resumed run keeps its run's N
    /// unless given again.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[arg(long, num_args = 1)]
    pub checkpoint_every: Option<usize>,
    /// `graph`: the architecture file (JSON: layers and edges; see the README), recorded as an
    /// absolute path.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[arg(long, num_args = 1, help_heading = CUSTOM_HELP)]
    pub arch: Option<PathBuf>,
    /// `graph`: train on a preset's data, loss and test figure instead of --data or
    /// --formula (modular-addition, permutation-s4, in-context, symbolic-independence,
    /// symbolic-feature-sharing, symbolic-compositionality, symbolic-pruning, two-moons or
    /// mnist; that preset's settings are the defaults).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[arg(long, num_args = 1, help_heading = CUSTOM_HELP)]
    pub task: Option<GraphTask>,
    /// The SHA-256 of the architecture file's contents when the run started.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[arg(skip)]
    pub arch_sha256: Option<String>,
    /// `mlp`: hidden layer widths, e.g. 20,20.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[arg(long, num_args = 1, value_parser = parse_list::<usize>, help_heading = CUSTOM_HELP)]
    pub hidden: Option<Vec<usize>>,
    /// The data, by extension: a CSV file with a header row (the --targets columns are
    /// targets, the others inputs in file order); a .npy file of inputs (float32/float64
    /// [n, features] or sequences [n, T, features], or integer token ids [n, k] or [n, T]),
    /// with --targets a .npy file; or a .npz archive of the arrays x (inputs) and y (targets).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[arg(long, num_args = 1, help_heading = CUSTOM_HELP)]
    pub data: Option<PathBuf>,
    /// The SHA-256 of the data file's contents when the run started.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[arg(skip)]
    pub data_sha256: Option<String>,
    /// The CSV's target columns, e.g. y1,y2; for .npy data, the .npy file of targets: float
    /// [n, outputs] or [n, T, outputs] (--loss mse), or integer class labels [n] or [n, T]
    /// (--loss cross-entropy).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[arg(long, num_args = 1, value_parser = parse_list::<String>, help_heading = CUSTOM_HELP)]
    pub targets: Option<Vec<String>>,
    /// The SHA-256 of the --targets .npy file's contents when the run started.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[arg(skip)]
    pub targets_sha256: Option<String>,
    /// Sample the data from formulas instead, e.g. "y1 = (x1 + x3)^3; y2 = x2^2 + sin(pi*x4)".
    #[serde(skip_serializing_if = "Option::is_none")]
    #[arg(long, num_args = 1, help_heading = CUSTOM_HELP)]
    pub formula: Option<String>,
    /// mse (default) or cross-entropy (one target column of class labels 0..k-1; NumPy
    /// integer labels below the output width).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[arg(long, num_args = 1, help_heading = CUSTOM_HELP)]
    pub loss: Option<String>,
    /// Fraction of the rows (NumPy: samples, whole sequences) in the test split (default 0.2
    /// for --data, 0.5 for --formula).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[arg(long, num_args = 1, help_heading = CUSTOM_HELP)]
    pub test_fraction: Option<f64>,
    /// Formula samples over both splits (default 200).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[arg(long, num_args = 1, help_heading = CUSTOM_HELP)]
    pub samples: Option<usize>,
    /// Formula inputs are uniform in LO,HI (default -1,1).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[arg(
        long,
        num_args = 1,
        value_parser = parse_range,
        allow_hyphen_values = true,
        help_heading = CUSTOM_HELP
    )]
    pub range: Option<(f64, f64)>,
    /// Standardise the input columns with the training split's mean and deviation.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[arg(
        long,
        num_args = 0..=1,
        default_missing_value = "true",
        require_equals = true,
        help_heading = CUSTOM_HELP
    )]
    pub standardise: Option<bool>,
}

/// The `--help` heading of the flags of `bimt run graph|mlp`.
const CUSTOM_HELP: &str = "Your own network and data (bimt run graph|mlp)";

impl Settings {
    /// The paper's symbolic-formula settings (§3.1), for a preset to start from: 20,000 steps,
    /// lr 1e-3, λ = 1e-3, 1e-2, 1e-3 over the first quarter, the middle half and the last
    /// quarter, A = 2, y* = 0.1, swaps of the top 6 neurons every 200 steps, sum reduction,
    /// biases charged, full batch, seed 0, the full BIMT variant on the flex backend. The
    /// preset's name is left empty for [`crate::Preset::defaults`] to fill in.
    pub fn paper_symbolic() -> Self {
        Settings {
            preset: String::new(),
            profile: Profile::Paper,
            variant: Variant::Bimt,
            seed: 0,
            backend: Backend::Flex,
            steps: 20_000,
            lr: Phases::constant(1e-3),
            lambda: Phases(vec![(0, 1e-3), (5_000, 1e-2), (15_000, 1e-3)]),
            a: 2.0,
            y_star: 0.1,
            top_k: 6,
            swap_every: 200,
            swap_mode: SwapMode::Greedy,
            swap_moments: SwapMoments::Follow,
            restarts: 1,
            restart_steps: None,
            reduction: Reduction::Sum,
            bias_penalty: true,
            bias_from: 0,
            last_layer_distance: true,
            metric: Norm::L1,
            log_every: 400,
            batch: None,
            finetune_steps: 0,
            finetune_lr: 1e-3,
            finetune_threshold: crate::report::ACTIVE_THRESHOLD,
            checkpoint_every: None,
            arch: None,
            task: None,
            arch_sha256: None,
            hidden: None,
            data: None,
            data_sha256: None,
            targets: None,
            targets_sha256: None,
            formula: None,
            loss: None,
            test_fraction: None,
            samples: None,
            range: None,
            standardise: None,
        }
    }

    /// The paper's settings for its larger networks (§3.3–3.5): `steps` and `lambda` as given,
    /// lr 1e-3, A = 2, y* = 0.5, k = 30, S = 200, mean reduction, full batch, logged every
    /// 1,000 steps.
    pub fn paper_large(steps: usize, lambda: Phases) -> Self {
        Settings {
            steps,
            lambda,
            y_star: 0.5,
            top_k: 30,
            reduction: Reduction::Mean,
            log_every: 1_000,
            ..Self::paper_symbolic()
        }
    }

    /// Checks every numeric setting against its range (see `limits`).
    pub fn check_ranges(&self) -> Result<(), Error> {
        use limits::{check_count, check_rate, check_scale};
        check_count("steps", self.steps, 1, limits::MAX_STEPS)?;
        check_count("finetune_steps", self.finetune_steps, 0, limits::MAX_STEPS)?;
        check_count("swap_every", self.swap_every, 0, limits::MAX_STEPS)?;
        check_count("top_k", self.top_k, 0, limits::MAX_TOP_K)?;
        check_count("log_every", self.log_every, 1, limits::MAX_STEPS)?;
        check_count("restarts", self.restarts, 1, limits::MAX_RESTARTS)?;
        if let Some(steps) = self.restart_steps {
            check_count("restart_steps", steps, 1, self.steps).map_err(|e| {
                Error::Settings(format!(
                    "{e} (the candidates train part of the run's {} steps)",
                    self.steps
                ))
            })?;
        }
        if let Some(batch) = self.batch {
            check_count("batch", batch, 1, limits::MAX_BATCH).map_err(|e| {
                Error::Settings(format!(
                    "{e} (leave batch out to train on the whole training split)"
                ))
            })?;
        }
        if let Some(every) = self.checkpoint_every {
            check_count("checkpoint_every", every, 1, limits::MAX_STEPS)?;
        }
        for &(_, lr) in &self.lr.0 {
            check_rate("lr", lr)?;
        }
        check_rate("finetune_lr", self.finetune_lr)?;
        if !(self.finetune_threshold > 0.0 && self.finetune_threshold < 1.0) {
            return Err(Error::Settings(format!(
                "finetune_threshold = {}: expected a fraction strictly between 0 and 1",
                self.finetune_threshold
            )));
        }
        for &(_, lambda) in &self.lambda.0 {
            check_scale("lambda", lambda)?;
        }
        check_scale("A", self.a)?;
        check_scale("y_star", self.y_star)
    }

    /// The paper's distance under these settings.
    pub fn metric(&self) -> PaperMetric {
        match self.metric {
            Norm::L1 => PaperMetric::l1(self.a, self.y_star),
            Norm::L2 => PaperMetric::l2(self.a, self.y_star),
        }
    }

    /// What the trainer takes: the schedule, the swaps and the cost's switches.
    pub fn train_config(&self) -> TrainConfig {
        TrainConfig {
            steps: self.steps,
            lr: self.lr.0.clone(),
            lambda: self.lambda.0.clone(),
            swap_every: self.swap_every,
            top_k: self.top_k,
            swap_mode: self.swap_mode,
            swap_moments: self.swap_moments,
            variant: self.variant,
            cost: CostConfig {
                reduction: self.reduction,
                bias_penalty: self.bias_penalty,
                last_layer_distance: self.last_layer_distance,
                local: true,
            },
            bias_from: self.bias_from,
            log_every: self.log_every,
            checkpoint_every: self.checkpoint_every,
            finetune: (self.finetune_steps > 0).then_some(Finetune {
                steps: self.finetune_steps,
                lr: self.finetune_lr,
                threshold: self.finetune_threshold,
            }),
        }
    }

    /// What `run.json` and checkpoints hold: these settings, made by `command`.
    pub fn record(&self, command: Vec<String>) -> Record<'_> {
        Record {
            bimt_version: env!("CARGO_PKG_VERSION"),
            command,
            settings: self,
        }
    }
}

/// `run.json`: the bimt version and the command line, then the settings.
#[derive(Clone, Debug, Serialize)]
pub struct Record<'a> {
    /// The version of bimt that made the run.
    pub bimt_version: &'static str,
    /// The command line that started the run.
    pub command: Vec<String>,
    /// Every setting.
    #[serde(flatten)]
    pub settings: &'a Settings,
}

impl Record<'_> {
    /// As a JSON value (keys sorted), for checkpoints and comparisons.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).expect("plain data")
    }
}

/// A setting that changes at given steps: `(first step, value)` pairs, the first at step 0,
/// the steps increasing. Written `STEP:VALUE,STEP:VALUE,...`, or as one number for a constant
/// (on the command line and in JSON files, where a plain number is read too).
#[derive(Clone, Debug, PartialEq)]
pub struct Phases(pub Vec<(usize, f64)>);

impl Phases {
    /// The same value from step 0 on.
    pub fn constant(value: f64) -> Self {
        Phases(vec![(0, value)])
    }
}

impl std::fmt::Display for Phases {
    /// `STEP:VALUE,...`; `{}` prints the shortest text that parses back to the same f64, so
    /// the record is exact.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, (step, value)) in self.0.iter().enumerate() {
            let comma = if i > 0 { "," } else { "" };
            write!(f, "{comma}{step}:{value}")?;
        }
        Ok(())
    }
}

impl std::str::FromStr for Phases {
    type Err = String;

    /// Reads `1e-3` (constant) or `0:1e-3,5000:1e-2,15000:1e-3`. Each value is a finite number
    /// (its range is checked with the other settings').
    fn from_str(text: &str) -> Result<Self, String> {
        let expected = "expected a number or STEP:VALUE,STEP:VALUE,... starting at step 0";
        let mut phases = Vec::new();
        for part in text.split(',').map(str::trim) {
            let (step, value) = match part.split_once(':') {
                Some((s, v)) => {
                    let step = s.trim().parse().map_err(|_| {
                        format!(
                            "cannot read the step '{}' of '{part}'; {expected}",
                            s.trim()
                        )
                    })?;
                    (step, v.trim())
                }
                None => (0, part),
            };
            let value: f64 = value
                .parse()
                .map_err(|_| format!("cannot read '{part}'; {expected}"))?;
            if !value.is_finite() {
                return Err(format!("expected finite values, not {value}"));
            }
            phases.push((step, value));
        }
        if let Some(&(first, _)) = phases.first().filter(|&&(step, _)| step != 0) {
            return Err(format!(
                "the first phase starts at step {first}, so steps 0-{} would have no value; start \
                 at step 0 (e.g. 0:VALUE,{text})",
                first - 1
            ));
        }
        if phases.windows(2).any(|w| w[0].0 >= w[1].0) {
            return Err(format!("the phase steps of '{text}' must increase"));
        }
        Ok(Phases(phases))
    }
}

impl Serialize for Phases {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Phases {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Given {
            Value(f64),
            Text(String),
        }
        match Given::deserialize(deserializer)? {
            Given::Value(v) => Ok(Phases::constant(v)),
            Given::Text(text) => text.parse().map_err(serde::de::Error::custom),
        }
    }
}

/// Parses a comma-separated list (the `--hidden` and `--targets` flags).
fn parse_list<T: std::str::FromStr>(text: &str) -> Result<Vec<T>, String> {
    text.split(',')
        .map(|item| {
            item.trim()
                .parse()
                .map_err(|_| format!("cannot read '{item}' of the list '{text}'"))
        })
        .collect()
}

/// Parses `LO,HI` with LO below HI (the `--range` flag).
fn parse_range(text: &str) -> Result<(f64, f64), String> {
    let bad = || "expected two numbers LO,HI, e.g. -1,1".to_string();
    let (lo, hi) = text.split_once(',').ok_or_else(bad)?;
    let (lo, hi): (f64, f64) = (
        lo.trim().parse().map_err(|_| bad())?,
        hi.trim().parse().map_err(|_| bad())?,
    );
    if !(lo.is_finite() && hi.is_finite()) {
        return Err("LO and HI must be finite numbers".into());
    }
    if lo >= hi {
        return Err(format!("LO ({lo}) must be below HI ({hi})"));
    }
    Ok((lo, hi))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phases_read_back_what_they_write() {
        for text in ["0.001", "0:0.1,300:0.30000000000000004", "0:1,5000:0.01"] {
            let phases: Phases = text.parse().unwrap();
            let again: Phases = phases.to_string().parse().unwrap();
            assert_eq!(phases, again, "{text}");
        }
        let json: Phases = serde_json::from_str("0.002").unwrap();
        assert_eq!(json, Phases::constant(2e-3));
        let e = "100:1e-3".parse::<Phases>().unwrap_err();
        assert!(e.contains("the first phase starts at step 100"), "{e}");
        let e = "0:1,0:2".parse::<Phases>().unwrap_err();
        assert!(e.contains("must increase"), "{e}");
        let e = "0:x".parse::<Phases>().unwrap_err();
        assert!(e.contains("cannot read '0:x'"), "{e}");
    }

    /// Every enum of the settings is named by serde alone, the same in both directions.
    #[test]
    fn enums_are_named_as_the_flags_and_files_write_them() {
        assert_eq!(Variant::L1Local.to_string(), "l1-local");
        assert_eq!("l1-swap".parse::<Variant>(), Ok(Variant::L1Swap));
        assert_eq!(Backend::NdArray.to_string(), "ndarray");
        assert_eq!(SwapMode::GreedyPositions.to_string(), "greedy-positions");
        assert_eq!("stay".parse::<SwapMoments>(), Ok(SwapMoments::Stay));
        assert_eq!(Reduction::Mean.to_string(), "mean");
        assert_eq!(Norm::L2.to_string(), "l2");
        assert_eq!(Profile::Reference.to_string(), "reference");
        let e = "bogus".parse::<SwapMode>().unwrap_err();
        assert!(e.contains("`greedy`, `exact`, `greedy-positions`"), "{e}");
    }
}
