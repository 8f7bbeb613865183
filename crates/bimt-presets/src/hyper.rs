//! The hyperparameters of a run: each preset's under the paper's profile and the reference
//! implementation's, and the overrides a user may apply.

use bimt_engine::SwapMoments;
use bimt_layout::Reduction;
use bimt_swap::SwapMode;
use serde::{Deserialize, Serialize};

/// Which settings a preset starts from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Profile {
    /// The paper's stated settings.
    Paper,
    /// The authors' reference notebooks' settings.
    Reference,
}

impl Profile {
    /// `paper` or `reference`.
    pub fn name(self) -> &'static str {
        match self {
            Profile::Paper => "paper",
            Profile::Reference => "reference",
        }
    }
}

impl std::str::FromStr for Profile {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "paper" => Ok(Profile::Paper),
            "reference" => Ok(Profile::Reference),
            other => Err(format!(
                "unknown profile '{other}'; expected paper or reference"
            )),
        }
    }
}

/// All hyperparameters of a run.
#[derive(Clone, Debug, PartialEq)]
pub struct Hyper {
    pub steps: usize,
    /// `(first step, lr)` phases.
    pub lr: Vec<(usize, f64)>,
    /// `(first step, λ)` phases.
    pub lambda: Vec<(usize, f64)>,
    pub a: f64,
    pub y_star: f64,
    pub top_k: usize,
    pub swap_every: usize,
    pub swap_mode: SwapMode,
    /// Whether swaps move the AdamW moments with the weights.
    pub swap_moments: SwapMoments,
    pub reduction: Reduction,
    pub bias_penalty: bool,
    pub bias_from: usize,
    pub last_layer_distance: bool,
    pub l2: bool,
    pub log_every: usize,
    pub batch: Option<usize>,
    /// Steps of pruned fine-tuning after the schedule (0: none).
    pub finetune_steps: usize,
    /// Learning rate of the fine-tune.
    pub finetune_lr: f64,
}

/// The default settings of `preset` under `profile`.
pub fn defaults(preset: &str, profile: Profile) -> Option<Hyper> {
    let symbolic = |reference: bool, lambda_c: bool| {
        let steps = 20_000;
        let lambda = match (reference, lambda_c) {
            (true, true) => vec![(0, 1e-3), (5_000, 3e-3)],
            _ => vec![(0, 1e-3), (5_000, 1e-2), (15_000, 1e-3)],
        };
        Hyper {
            steps,
            lr: vec![(0, if reference { 2e-3 } else { 1e-3 })],
            lambda,
            a: if reference { 1.0 } else { 2.0 },
            y_star: 0.1,
            top_k: if reference { 5 } else { 6 },
            swap_every: 200,
            swap_mode: SwapMode::Greedy,
            swap_moments: SwapMoments::Follow,
            reduction: Reduction::Sum,
            bias_penalty: true,
            bias_from: if reference { steps * 3 / 4 } else { 0 },
            last_layer_distance: true,
            l2: false,
            log_every: 400,
            batch: None,
            finetune_steps: 0,
            finetune_lr: 1e-3,
        }
    };
    // The larger networks (§3.3–3.5): lr 1e-3, A = 2, y* = 0.5, k = 30, S = 200, mean
    // reduction, full batch, logged every 1,000 steps.
    let large = |steps: usize, lambda: Vec<(usize, f64)>| Hyper {
        steps,
        lr: vec![(0, 1e-3)],
        lambda,
        a: 2.0,
        y_star: 0.5,
        top_k: 30,
        swap_every: 200,
        swap_mode: SwapMode::Greedy,
        swap_moments: SwapMoments::Follow,
        reduction: Reduction::Mean,
        bias_penalty: true,
        bias_from: 0,
        last_layer_distance: true,
        l2: false,
        log_every: 1_000,
        batch: None,
        finetune_steps: 0,
        finetune_lr: 1e-3,
    };
    let reference = profile == Profile::Reference;
    // Not in the paper: 2,000 steps of pruned fine-tuning remove the bias that the last
    // λ = 1e-3 quarter leaves on the surviving weights (feature sharing, seeds 0–7: median
    // MSE on fresh data 3.8e-4 -> 1.0e-4, the same active neurons; docs/gaps.md). Not for
    // independence, where pruning at 3 % costs more than the fine-tune wins back (seeds 0
    // and 1: training loss 6.4e-4 -> 1.4e-3, 9.2e-4 -> 2.0e-3). The reference notebooks have
    // none.
    let finetuned = |h: Hyper| Hyper {
        finetune_steps: if reference { 0 } else { 2_000 },
        ..h
    };
    let mut hyper = match preset {
        "symbolic-feature-sharing" => finetuned(symbolic(reference, false)),
        "symbolic-compositionality" => finetuned(symbolic(reference, true)),
        "symbolic-independence" | "symbolic-pruning" | "graph" | "mlp" => {
            symbolic(reference, false)
        }
        "two-moons" if reference => Hyper {
            steps: 10_001,
            lr: vec![(0, 2e-3)],
            lambda: vec![(0, 1e-3), (5_000, 1e-2)],
            a: 1.0,
            y_star: 0.2,
            top_k: 10,
            log_every: 200,
            bias_from: 0,
            ..symbolic(true, false)
        },
        "two-moons" => symbolic(false, false),
        // The paper trains S4 like modular addition; the reference notebook differs for S4
        // only. Both notebooks train in float64, bimt in float32.
        "permutation-s4" if reference => Hyper {
            lr: vec![(0, 2e-3)],
            a: 1.0,
            ..large(20_000, vec![(0, 1.0)])
        },
        "modular-addition" => large(20_000, vec![(0, 0.1), (5_000, 1.0), (15_000, 0.1)]),
        // The paper trains S4 "the same as modular addition", but the authors' S4 notebook,
        // which made Fig. 6 and Table 1's S4 entry, uses lr 2e-3. With modular addition's
        // 1e-3, 4 of seeds 0-11 memorised (test accuracy under 50 %, mean 73.0 %); with 2e-3,
        // none did (mean 94.9 %, the sign neuron at 3 of 12 seeds; docs/gaps.md).
        "permutation-s4" => Hyper {
            lr: vec![(0, 2e-3)],
            ..large(20_000, vec![(0, 0.1), (5_000, 1.0), (15_000, 0.1)])
        },
        "mnist" => Hyper {
            swap_every: if reference { 500 } else { 200 },
            last_layer_distance: !reference,
            batch: Some(100),
            ..large(
                40_000,
                if reference {
                    vec![(0, 0.01), (10_000, 0.1), (20_000, 1.0)]
                } else {
                    vec![(0, 0.001), (10_000, 0.01), (20_000, 0.1), (30_000, 0.3)]
                },
            )
        },
        "in-context" | "in-context-singular" => Hyper {
            top_k: if reference { 20 } else { 30 },
            log_every: 4_000,
            batch: Some(64),
            // Not in the paper: 2,000 steps of pruned fine-tuning remove the bias that the
            // λ = 0.3 quarter leaves on the surviving weights (query MSE 1.1e-3 -> 3.4e-4 at
            // seed 0, docs/gaps.md). The reference notebook has none.
            finetune_steps: if reference { 0 } else { 2_000 },
            finetune_lr: 2e-3,
            ..large(
                40_000,
                if reference {
                    vec![(0, 1e-3), (10_000, 1e-2), (30_000, 1e-1)]
                } else {
                    vec![(0, 1e-3), (10_000, 1e-2), (20_000, 0.1), (30_000, 0.3)]
                },
            )
        },
        _ => return None,
    };
    if reference {
        // The notebooks' swaps: the top-k positions fixed when a round starts, and the
        // optimizer's moments left in place (docs/gaps.md: with both, bimt follows the
        // feature-sharing notebook step for step from the same start).
        hyper.swap_mode = SwapMode::GreedyPositions;
        hyper.swap_moments = SwapMoments::Stay;
    }
    Some(hyper)
}

/// Overrides from a JSON config file or the command line; every field optional, named as on
/// the command line. A run's `run.json` has this form, so `--config run.json` repeats it.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Overrides {
    /// The preset the settings are for; a config file naming another preset is refused.
    pub preset: Option<String>,
    pub profile: Option<Profile>,
    pub variant: Option<String>,
    pub seed: Option<u64>,
    pub backend: Option<String>,
    /// Recorded by `run.json`; not a setting (a note is printed when it differs).
    pub bimt_version: Option<String>,
    /// Recorded by `run.json`; not a setting.
    #[serde(rename = "command")]
    pub _command: Option<serde::de::IgnoredAny>,
    /// `bimt run graph`: the architecture file.
    pub arch: Option<std::path::PathBuf>,
    /// Recorded by `run.json`: the architecture file's SHA-256 then (checked against it now).
    pub arch_sha256: Option<String>,
    /// `bimt run mlp`: hidden layer widths.
    pub hidden: Option<Vec<usize>>,
    /// `bimt run graph|mlp`: a CSV of measurements.
    pub data: Option<std::path::PathBuf>,
    /// Recorded by `run.json`: the data file's SHA-256 then (checked against it now).
    pub data_sha256: Option<String>,
    /// The CSV's target columns.
    pub targets: Option<Vec<String>>,
    /// `bimt run graph|mlp`: formulas to sample data from.
    pub formula: Option<String>,
    /// `mse` or `cross-entropy` (a class-label target column).
    pub loss: Option<String>,
    /// Fraction of the rows in the test split.
    pub test_fraction: Option<f64>,
    /// Formula samples, both splits.
    pub samples: Option<usize>,
    /// Input range of formula samples.
    pub range: Option<(f64, f64)>,
    /// Standardise the input columns (training statistics).
    pub standardise: Option<bool>,
    pub steps: Option<usize>,
    pub lr: Option<PhaseSpec>,
    pub lambda: Option<PhaseSpec>,
    #[serde(rename = "A")]
    pub a: Option<f64>,
    pub y_star: Option<f64>,
    pub top_k: Option<usize>,
    pub swap_every: Option<usize>,
    pub swap_mode: Option<String>,
    pub swap_moments: Option<String>,
    pub reduction: Option<String>,
    pub bias_penalty: Option<bool>,
    pub bias_from: Option<usize>,
    pub last_layer_distance: Option<bool>,
    pub metric: Option<String>,
    pub log_every: Option<usize>,
    pub batch: Option<usize>,
    pub finetune_steps: Option<usize>,
    pub finetune_lr: Option<f64>,
    /// Steps between checkpoints.
    pub checkpoint_every: Option<usize>,
}

impl Overrides {
    /// Applies the overrides that are set; a value that cannot be read names the setting
    /// (ranges are checked once all sources are applied: [`crate::limits::check_hyper`]).
    pub fn apply(&self, h: &mut Hyper) -> Result<(), String> {
        macro_rules! set {
            ($($field:ident),*) => { $(if let Some(v) = self.$field.clone() { h.$field = v; })* };
        }
        set!(
            steps,
            a,
            y_star,
            top_k,
            swap_every,
            bias_penalty,
            bias_from,
            last_layer_distance,
            log_every,
            finetune_steps,
            finetune_lr
        );
        if let Some(b) = self.batch {
            h.batch = Some(b);
        }
        if let Some(spec) = &self.lambda {
            h.lambda = spec.phases("lambda")?;
        }
        if let Some(spec) = &self.lr {
            h.lr = spec.phases("lr")?;
        }
        if let Some(m) = &self.swap_mode {
            h.swap_mode = SwapMode::parse(m).ok_or_else(|| {
                format!("swap mode '{m}': expected greedy, exact or greedy-positions")
            })?;
        }
        if let Some(m) = &self.swap_moments {
            h.swap_moments = SwapMoments::parse(m)
                .ok_or_else(|| format!("swap moments '{m}': expected follow or stay"))?;
        }
        if let Some(r) = &self.reduction {
            h.reduction = match r.as_str() {
                "sum" => Reduction::Sum,
                "mean" => Reduction::Mean,
                other => return Err(format!("reduction '{other}': expected sum or mean")),
            };
        }
        if let Some(m) = &self.metric {
            h.l2 = match m.as_str() {
                "l1" => false,
                "l2" => true,
                other => return Err(format!("metric '{other}': expected l1 or l2")),
            };
        }
        Ok(())
    }
}

/// A setting given as one number or as phases `STEP:VALUE,STEP:VALUE,...`.
#[derive(Clone, Debug, Deserialize)]
#[serde(untagged)]
pub enum PhaseSpec {
    /// The same value throughout.
    Value(f64),
    /// Phases, or a number, as text.
    Text(String),
}

impl PhaseSpec {
    /// The phases; a bad value names the setting.
    pub fn phases(&self, name: &str) -> Result<Vec<(usize, f64)>, String> {
        match self {
            PhaseSpec::Value(v) => parse_phases(name, &v.to_string()),
            PhaseSpec::Text(text) => parse_phases(name, text),
        }
    }
}

/// Parses phases: `1e-3` (constant) or `0:1e-3,5000:1e-2,15000:1e-3`. The first phase starts
/// at step 0 and the steps increase; each value is a finite number ≥ 0 (its range is checked
/// later, with the other settings).
pub fn parse_phases(name: &str, text: &str) -> Result<Vec<(usize, f64)>, String> {
    let expected = "expected a number or STEP:VALUE,STEP:VALUE,... starting at step 0";
    let mut phases = Vec::new();
    for part in text.split(',').map(str::trim) {
        let (step, value) = match part.split_once(':') {
            Some((s, v)) => {
                let step = s.trim().parse().map_err(|_| {
                    format!(
                        "{name} '{text}': cannot read the step '{}' of '{part}'; {expected}",
                        s.trim()
                    )
                })?;
                (step, v.trim())
            }
            None => (0, part),
        };
        let value: f64 = value
            .parse()
            .map_err(|_| format!("{name} '{text}': cannot read '{part}'; {expected}"))?;
        if !value.is_finite() || value < 0.0 {
            let wanted = if name == "lr" {
                "a learning rate > 0"
            } else {
                "a finite number ≥ 0"
            };
            return Err(format!("{name} '{text}': expected {wanted}, not {value}"));
        }
        phases.push((step, value));
    }
    if let Some(&(first, _)) = phases.first().filter(|&&(step, _)| step != 0) {
        return Err(format!(
            "{name} '{text}': the first phase starts at step {first}, so steps 0-{} would have no \
             {name}; start at step 0 (e.g. 0:VALUE,{text})",
            first - 1
        ));
    }
    if phases.windows(2).any(|w| w[0].0 >= w[1].0) {
        return Err(format!("{name} '{text}': phase steps must increase"));
    }
    Ok(phases)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn both(preset: &str) -> (Hyper, Hyper) {
        (
            defaults(preset, Profile::Paper).unwrap(),
            defaults(preset, Profile::Reference).unwrap(),
        )
    }

    /// The settings of `../shared/spec/experiments.md`, profile by profile.
    #[test]
    fn presets_hold_the_papers_and_the_notebooks_settings() {
        let (p, r) = both("mnist");
        assert_eq!(
            p.lambda,
            vec![(0, 0.001), (10_000, 0.01), (20_000, 0.1), (30_000, 0.3)]
        );
        assert_eq!(r.lambda, vec![(0, 0.01), (10_000, 0.1), (20_000, 1.0)]);
        assert_eq!((p.swap_every, r.swap_every), (200, 500));
        assert_eq!(
            (p.last_layer_distance, r.last_layer_distance),
            (true, false)
        );
        assert_eq!((p.batch, p.top_k, p.a, p.y_star), (Some(100), 30, 2.0, 0.5));
        assert_eq!((p.steps, p.reduction), (40_000, Reduction::Mean));

        let (p, r) = both("in-context");
        assert_eq!(
            p.lambda,
            vec![(0, 1e-3), (10_000, 1e-2), (20_000, 0.1), (30_000, 0.3)]
        );
        assert_eq!(r.lambda, vec![(0, 1e-3), (10_000, 1e-2), (30_000, 1e-1)]);
        assert_eq!((p.top_k, r.top_k, p.batch), (30, 20, Some(64)));
        assert_eq!((p.finetune_steps, r.finetune_steps), (2_000, 0));

        let (p, r) = both("modular-addition");
        // The profiles differ only in how they swap.
        assert_eq!(
            (r.swap_mode, r.swap_moments),
            (SwapMode::GreedyPositions, SwapMoments::Stay)
        );
        assert_eq!(
            (p.swap_mode, p.swap_moments),
            (SwapMode::Greedy, SwapMoments::Follow)
        );
        assert_eq!(
            p,
            Hyper {
                swap_mode: p.swap_mode,
                swap_moments: p.swap_moments,
                ..r.clone()
            }
        );
        assert_eq!(p.lambda, vec![(0, 0.1), (5_000, 1.0), (15_000, 0.1)]);
        assert_eq!(
            (p.steps, p.lr[0].1, p.a, p.y_star, p.top_k),
            (20_000, 1e-3, 2.0, 0.5, 30)
        );
        assert_eq!((p.reduction, p.batch), (Reduction::Mean, None));

        let (p, r) = both("permutation-s4");
        assert_eq!(
            p,
            Hyper {
                lr: vec![(0, 2e-3)],
                ..defaults("modular-addition", Profile::Paper).unwrap()
            }
        );
        assert_eq!(
            (r.lr[0].1, r.a, r.lambda.clone()),
            (2e-3, 1.0, vec![(0, 1.0)])
        );

        let (p, r) = both("symbolic-compositionality");
        assert_eq!(p.lambda, vec![(0, 1e-3), (5_000, 1e-2), (15_000, 1e-3)]);
        assert_eq!(r.lambda, vec![(0, 1e-3), (5_000, 3e-3)]);
        assert_eq!(
            (p.a, p.top_k, r.a, r.top_k, r.bias_from),
            (2.0, 6, 1.0, 5, 15_000)
        );

        let (_, r) = both("two-moons");
        assert_eq!(
            (r.steps, r.y_star, r.top_k, r.lr[0].1),
            (10_001, 0.2, 10, 2e-3)
        );
    }
}
