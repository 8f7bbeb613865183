//! A run's resolved settings: the preset's defaults under its profile, then a config file, then
//! the flags. `run.json` records them in the form `--config` reads back, and a checkpoint
//! carries them, so that a resume is checked against the run it continues.

use crate::hyper::{Hyper, Overrides, Profile};
use crate::limits;
use crate::registry::{self, Experiment};
use bimt_engine::{Backend, Checkpoint, SwapMoments, Variant};
use bimt_format::read_json;
use serde::Serialize;
use std::path::{Path, PathBuf};

/// The settings a resume may change: the total step count, the log interval and how often
/// checkpoints are written (none of them changes the numbers of the steps already taken).
pub const CHANGEABLE_ON_RESUME: [&str; 3] = ["steps", "log_every", "checkpoint_every"];

/// Every setting of a run, resolved.
#[derive(Clone, Debug, PartialEq)]
pub struct Resolved {
    pub preset: String,
    pub profile: Profile,
    pub variant: Variant,
    pub seed: u64,
    pub backend: Backend,
    pub hyper: Hyper,
    /// Write `checkpoint.json` every this many steps (and at the end); a resume keeps it.
    pub checkpoint_every: Option<usize>,
    /// The network and data of `bimt run graph|mlp` (`None` for the paper's presets).
    pub custom: Option<Custom>,
}

/// A user's own network and data (`bimt run graph`, `bimt run mlp`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Custom {
    /// `graph`: the architecture file, as an absolute path.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arch: Option<std::path::PathBuf>,
    /// The SHA-256 of the architecture file's contents when the run started.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arch_sha256: Option<String>,
    /// `mlp`: hidden widths.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hidden: Option<Vec<usize>>,
    /// A CSV file (as an absolute path), or else `formula`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<std::path::PathBuf>,
    /// The SHA-256 of the data file's contents when the run started.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_sha256: Option<String>,
    /// The CSV's target columns.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub targets: Option<Vec<String>>,
    /// Formulas to sample data from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub formula: Option<String>,
    /// `mse` or `cross-entropy`.
    pub loss: String,
    pub test_fraction: f64,
    /// Formula samples over both splits.
    pub samples: usize,
    /// Input range of formula samples.
    pub range: (f64, f64),
    /// Standardise the inputs with the training split's statistics.
    pub standardise: bool,
}

impl Custom {
    /// Resolves the custom-run settings of `sources` for `preset` (`graph` or `mlp`); any of
    /// them on a paper preset is refused.
    fn resolve(
        preset: &str,
        sources: &[(Option<String>, &Overrides)],
    ) -> Result<Option<Self>, String> {
        fn last<T>(
            sources: &[(Option<String>, &Overrides)],
            f: impl Fn(&Overrides) -> Option<T>,
        ) -> Option<T> {
            sources.iter().rev().find_map(|(_, o)| f(o))
        }
        let given = sources.iter().any(|(_, o)| {
            o.arch.is_some()
                || o.hidden.is_some()
                || o.data.is_some()
                || o.targets.is_some()
                || o.formula.is_some()
                || o.loss.is_some()
                || o.test_fraction.is_some()
                || o.samples.is_some()
                || o.range.is_some()
                || o.standardise.is_some()
        });
        if registry::find(preset)?.experiment != Experiment::Custom {
            if given {
                return Err(format!(
                    "--arch, --hidden, --data, --targets, --formula, --loss, --test-fraction, \
                     --samples, --range and --standardise are for `bimt run graph` and `bimt run \
                     mlp`, not the preset '{preset}'"
                ));
            }
            return Ok(None);
        }
        let (arch, arch_sha256) = input_file(sources, "--arch", |o| (&o.arch, &o.arch_sha256))?;
        let (data, data_sha256) = input_file(sources, "--data", |o| (&o.data, &o.data_sha256))?;
        let custom = Custom {
            arch,
            arch_sha256,
            hidden: last(sources, |o| o.hidden.clone()),
            data,
            data_sha256,
            targets: last(sources, |o| o.targets.clone()),
            formula: last(sources, |o| o.formula.clone()),
            loss: last(sources, |o| o.loss.clone()).unwrap_or_else(|| "mse".into()),
            test_fraction: 0.0,
            samples: last(sources, |o| o.samples).unwrap_or(200),
            range: last(sources, |o| o.range).unwrap_or((-1.0, 1.0)),
            standardise: last(sources, |o| o.standardise).unwrap_or(false),
        };
        let test_fraction = last(sources, |o| o.test_fraction)
            .unwrap_or(if custom.data.is_some() { 0.2 } else { 0.5 });
        let custom = Custom {
            test_fraction,
            ..custom
        };
        match (preset, &custom.arch, &custom.hidden) {
            ("graph", None, _) => return Err("bimt run graph needs --arch FILE".into()),
            ("graph", _, Some(_)) => {
                return Err(
                    "--hidden is for bimt run mlp; a graph's layers come from --arch".into(),
                );
            }
            ("mlp", _, None) => {
                return Err("bimt run mlp needs --hidden WIDTHS (e.g. 20,20)".into());
            }
            ("mlp", Some(_), _) => return Err("--arch is for bimt run graph".into()),
            _ => {}
        }
        match (&custom.data, &custom.formula, &custom.targets) {
            (Some(_), Some(_), _) => return Err("give --data or --formula, not both".into()),
            (None, None, _) => {
                return Err(format!(
                    "bimt run {preset} needs --data FILE.csv --targets COLUMNS, or --formula TEXT"
                ));
            }
            (Some(_), None, None) => {
                return Err("--data needs --targets: the names of the target columns".into());
            }
            (None, Some(_), Some(_)) => {
                return Err("--targets is for --data; a formula names its outputs".into());
            }
            _ => {}
        }
        if !matches!(custom.loss.as_str(), "mse" | "cross-entropy") {
            return Err(format!(
                "loss '{}': expected mse or cross-entropy",
                custom.loss
            ));
        }
        if custom.formula.is_some() && custom.loss != "mse" {
            return Err("a formula gives real targets: use --loss mse".into());
        }
        if !(custom.test_fraction > 0.0 && custom.test_fraction < 1.0) {
            return Err(format!(
                "test_fraction = {}: expected a fraction strictly between 0 and 1 (both splits \
                 need rows: the test split measures the run, the training split trains it)",
                custom.test_fraction
            ));
        }
        if custom.formula.is_some() {
            limits::check_count("samples", custom.samples, 2, limits::MAX_SAMPLES)?;
        }
        let (lo, hi) = custom.range;
        if !(lo.is_finite() && hi.is_finite() && lo < hi) {
            return Err(format!(
                "range = {lo},{hi}: expected finite LO,HI with LO below HI, e.g. -1,1"
            ));
        }
        Ok(Some(custom))
    }
}

/// The settings as `run.json` and checkpoints record them (the keys of [`Overrides`]).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RunSettings {
    pub bimt_version: String,
    /// The command line that started the run.
    pub command: Vec<String>,
    pub preset: String,
    pub profile: Profile,
    pub variant: String,
    pub seed: u64,
    pub backend: String,
    pub steps: usize,
    /// Learning-rate phases, `STEP:VALUE,...`.
    pub lr: String,
    /// λ phases, `STEP:VALUE,...`.
    pub lambda: String,
    #[serde(rename = "A")]
    pub a: f64,
    pub y_star: f64,
    pub top_k: usize,
    pub swap_every: usize,
    pub swap_mode: String,
    /// `follow` or `stay`.
    pub swap_moments: String,
    pub reduction: String,
    pub bias_penalty: bool,
    pub bias_from: usize,
    pub last_layer_distance: bool,
    pub metric: String,
    pub log_every: usize,
    /// Samples per batch; null for the whole training split.
    pub batch: Option<usize>,
    pub finetune_steps: usize,
    pub finetune_lr: f64,
    /// Steps between checkpoints; absent when the run writes none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checkpoint_every: Option<usize>,
    /// `bimt run graph|mlp`: the network and the data.
    #[serde(flatten)]
    pub custom: Option<Custom>,
}

impl RunSettings {
    /// The record of `r`, started by `command`.
    pub fn new(r: &Resolved, command: Vec<String>) -> Self {
        let h = &r.hyper;
        // `{}` prints the shortest text that parses back to the same f64: the record is exact.
        let phases = |p: &[(usize, f64)]| {
            p.iter()
                .map(|(step, v)| format!("{step}:{v}"))
                .collect::<Vec<_>>()
                .join(",")
        };
        Self {
            bimt_version: env!("CARGO_PKG_VERSION").to_string(),
            command,
            preset: r.preset.clone(),
            profile: r.profile,
            variant: r.variant.name().to_string(),
            seed: r.seed,
            backend: r.backend.name().to_string(),
            steps: h.steps,
            lr: phases(&h.lr),
            lambda: phases(&h.lambda),
            a: h.a,
            y_star: h.y_star,
            top_k: h.top_k,
            swap_every: h.swap_every,
            swap_mode: h.swap_mode.name().to_string(),
            swap_moments: h.swap_moments.name().to_string(),
            reduction: h.reduction.name().to_string(),
            bias_penalty: h.bias_penalty,
            bias_from: h.bias_from,
            last_layer_distance: h.last_layer_distance,
            metric: if h.l2 { "l2" } else { "l1" }.to_string(),
            log_every: h.log_every,
            batch: h.batch,
            finetune_steps: h.finetune_steps,
            finetune_lr: h.finetune_lr,
            checkpoint_every: r.checkpoint_every,
            custom: r.custom.clone(),
        }
    }

    /// As JSON (for checkpoints).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).expect("plain data")
    }
}

/// Resolves the settings of `bimt run <preset>`: the preset's defaults under the chosen
/// profile, then `config` (a JSON file of [`Overrides`], such as a run's `run.json`), then the
/// command line's `flags`. With `resume`, the checkpoint's settings replace the defaults, and
/// a config file or flag that contradicts them is refused, except for the settings in
/// [`CHANGEABLE_ON_RESUME`].
pub fn resolve(
    preset: &str,
    flags: &Overrides,
    config: Option<&Path>,
    resume: Option<&Path>,
) -> Result<Resolved, String> {
    let config = match config {
        Some(path) => {
            let file: Overrides = read_json(path, "config file").map_err(|e| e.to_string())?;
            if let Some(other) = file.preset.as_deref().filter(|&p| p != preset) {
                return Err(format!(
                    "{}: the config file is for preset '{other}', not '{preset}'",
                    path.display()
                ));
            }
            note_version(&file, &path.display().to_string());
            Some((path.display().to_string(), file))
        }
        None => None,
    };
    let mut sources: Vec<(Option<String>, &Overrides)> = Vec::new();
    let stored = match resume {
        Some(path) => Some((path, stored_settings(path, preset)?)),
        None => None,
    };
    if let Some((path, (stored, _))) = &stored {
        sources.push((Some(format!("checkpoint {}", path.display())), stored));
    }
    if let Some((label, file)) = &config {
        sources.push((Some(label.clone()), file));
    }
    sources.push((None, flags));
    let resolved = merge(preset, &sources)?;
    if let Some((path, (stored, step))) = &stored {
        check_resume_steps(path, *step, &resolved.hyper, stored.steps)?;
        let before = RunSettings::new(
            &merge(preset, &[(Some(path.display().to_string()), stored)])?,
            Vec::new(),
        )
        .to_json();
        let after = RunSettings::new(&resolved, Vec::new()).to_json();
        for (key, was) in before.as_object().into_iter().flatten() {
            let asked = &after[key.as_str()];
            // Input files are compared by their contents (the `*_sha256` keys), not by the
            // path's text: the same file may be named another way.
            if key == "bimt_version"
                || key == "arch"
                || key == "data"
                || CHANGEABLE_ON_RESUME.contains(&key.as_str())
                || asked == was
            {
                continue;
            }
            if let Some(file) = key.strip_suffix("_sha256") {
                return Err(format!(
                    "--resume {}: the --{file} file {} holds other contents than the run was \
                     made with (SHA-256 {was} then, {asked} now); a resume needs the same \
                     {file}: restore the file or start a new run without --resume",
                    path.display(),
                    after[file]
                ));
            }
            return Err(format!(
                "--resume {}: the run was made with {key} = {was}, but this command asks for \
                 {key} = {asked}; a resume keeps its run's settings (only {} may change), so \
                 drop that setting or start a new run without --resume",
                path.display(),
                CHANGEABLE_ON_RESUME.join(" and ")
            ));
        }
    }
    Ok(resolved)
}

/// The settings a checkpoint was written with, and its step; refused when the settings are
/// missing or belong to another preset.
fn stored_settings(path: &Path, preset: &str) -> Result<(Overrides, usize), String> {
    let header = Checkpoint::read_header(path).map_err(|e| e.to_string())?;
    let value = header.settings;
    if value.is_null() {
        return Err(format!(
            "checkpoint {}: it records no run settings, so a resume cannot be checked against them",
            path.display()
        ));
    }
    let mut stored: Overrides = serde_json::from_value(value)
        .map_err(|e| format!("checkpoint {}: unreadable settings: {e}", path.display()))?;
    // Checkpoints written before the setting existed moved the moments at every swap.
    stored
        .swap_moments
        .get_or_insert_with(|| SwapMoments::Follow.name().to_string());
    match stored.preset.as_deref() {
        Some(p) if p == preset => Ok((stored, header.step)),
        Some(p) => Err(format!(
            "checkpoint {} was written by a run of preset '{p}', not '{preset}' \
             (resume it with `bimt run {p} --resume ...`)",
            path.display()
        )),
        None => Err(format!(
            "checkpoint {}: its settings name no preset",
            path.display()
        )),
    }
}

/// Applies `sources` in order to the preset's defaults under the last profile given.
fn merge(preset: &str, sources: &[(Option<String>, &Overrides)]) -> Result<Resolved, String> {
    fn last<T>(
        sources: &[(Option<String>, &Overrides)],
        f: impl Fn(&Overrides) -> Option<T>,
    ) -> Option<T> {
        sources.iter().rev().find_map(|(_, o)| f(o))
    }
    let profile = last(sources, |o| o.profile).unwrap_or(Profile::Paper);
    let mut hyper = registry::find(preset)?.defaults(profile);
    for (label, overrides) in sources {
        overrides.apply(&mut hyper).map_err(|e| match label {
            Some(label) => format!("{label}: {e}"),
            None => e,
        })?;
    }
    limits::check_hyper(&hyper)?;
    if hyper.log_every > hyper.steps {
        eprintln!(
            "note: log_every {} is longer than the run's {} steps; logging every {} steps",
            hyper.log_every, hyper.steps, hyper.steps
        );
        hyper.log_every = hyper.steps;
    }
    let variant_name = last(sources, |o| o.variant.clone()).unwrap_or_else(|| "bimt".into());
    let variant = Variant::parse(&variant_name).ok_or_else(|| {
        format!("unknown variant '{variant_name}'; expected vanilla, l1, l1-local, l1-swap or bimt")
    })?;
    let backend_name = last(sources, |o| o.backend.clone()).unwrap_or_else(|| "flex".into());
    let backend = Backend::parse(&backend_name)
        .ok_or_else(|| format!("unknown backend '{backend_name}'; expected flex or ndarray"))?;
    Ok(Resolved {
        preset: preset.to_string(),
        profile,
        variant,
        seed: last(sources, |o| o.seed).unwrap_or(0),
        backend,
        hyper,
        checkpoint_every: last(sources, |o| o.checkpoint_every),
        custom: Custom::resolve(preset, sources)?,
    })
}

/// The input file of `sources` (the last one given, by `select`'s path) as an absolute path,
/// with the SHA-256 of its contents. When the source that names the file also records its
/// hash (a `run.json` or a checkpoint), the file must still hold those contents.
fn input_file(
    sources: &[(Option<String>, &Overrides)],
    flag: &str,
    select: impl Fn(&Overrides) -> (&Option<PathBuf>, &Option<String>),
) -> Result<(Option<PathBuf>, Option<String>), String> {
    let Some((label, path, recorded)) = sources.iter().rev().find_map(|(label, o)| {
        let (path, hash) = select(o);
        path.as_ref().map(|p| (label, p, hash))
    }) else {
        return Ok((None, None));
    };
    let path = path
        .canonicalize()
        .or_else(|_| std::path::absolute(path))
        .unwrap_or_else(|_| path.clone());
    // A file that cannot be read is reported by its loader, with the reason.
    let Ok(contents) = std::fs::read(&path) else {
        return Ok((Some(path), None));
    };
    let hash = sha256_hex(&contents);
    if let (Some(recorded), Some(label)) = (recorded, label)
        && *recorded != hash
    {
        return Err(format!(
            "{label}: its {flag} file {} has changed since the run was recorded (SHA-256 \
             {recorded} then, {hash} now); restore the file, or give {flag} again to use its \
             new contents in a new run",
            path.display()
        ));
    }
    Ok((Some(path), Some(hash)))
}

/// The SHA-256 of `bytes` in lowercase hex.
fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Refuses a resume from a checkpoint at `step` whose `--steps` would end the run before it,
/// or change the schedule (of `recorded_steps`) under a fine-tune that has already begun.
fn check_resume_steps(
    path: &Path,
    step: usize,
    h: &Hyper,
    recorded_steps: Option<usize>,
) -> Result<(), String> {
    if let Some(recorded) = recorded_steps.filter(|&r| step > r && r != h.steps) {
        return Err(format!(
            "--resume {}: the checkpoint is at step {step}, in the fine-tune after the run's \
             {recorded} steps; --steps {} would move the schedule under it: leave --steps out",
            path.display(),
            h.steps
        ));
    }
    let total = h.steps + h.finetune_steps;
    if step > total {
        return Err(format!(
            "--resume {}: the checkpoint is at step {step}, past the {total} steps this command \
             asks for (--steps {}{}); give --steps of at least {} to continue it",
            path.display(),
            h.steps,
            if h.finetune_steps > 0 {
                format!(" and {} fine-tune steps", h.finetune_steps)
            } else {
                String::new()
            },
            step.saturating_sub(h.finetune_steps)
        ));
    }
    Ok(())
}

/// Says so when a recorded run was made by another version of bimt.
fn note_version(file: &Overrides, label: &str) {
    if let Some(version) = &file.bimt_version
        && version != env!("CARGO_PKG_VERSION")
    {
        eprintln!(
            "note: {label} was written by bimt {version}; this is bimt {}",
            env!("CARGO_PKG_VERSION")
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `run.json` read back as a config file gives the same settings, for every preset and
    /// profile, also with phases and values that print long.
    #[test]
    fn run_json_reads_back_as_the_same_settings() {
        let paper = registry::PRESETS
            .iter()
            .filter(|p| p.experiment != Experiment::Custom);
        for preset in paper.map(|p| p.name) {
            for profile in ["paper", "reference"] {
                let flags: Overrides = serde_json::from_str(&format!(
                    r#"{{"profile": "{profile}", "seed": 7, "variant": "l1-swap",
                        "lambda": "0:0.1,300:0.30000000000000004", "A": 0.7, "batch": 3}}"#
                ))
                .unwrap();
                let first = resolve(preset, &flags, None, None).unwrap();
                let record = RunSettings::new(&first, vec!["bimt".into()]).to_json();
                let back: Overrides = serde_json::from_value(record).unwrap();
                let second = resolve(preset, &back, None, None).unwrap();
                assert_eq!(first, second, "{preset} {profile}");
            }
        }
    }

    #[test]
    fn a_config_for_another_preset_is_refused() {
        let dir = std::env::temp_dir().join(format!("bimt-settings-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("run.json");
        std::fs::write(&path, r#"{"preset": "two-moons", "seed": 3}"#).unwrap();
        let e = resolve("mnist", &Overrides::default(), Some(&path), None).unwrap_err();
        assert!(e.contains("run.json") && e.contains("'two-moons'"), "{e}");
        let ok = resolve("two-moons", &Overrides::default(), Some(&path), None).unwrap();
        assert_eq!(ok.seed, 3);
        std::fs::remove_dir_all(&dir).ok();
    }
}
