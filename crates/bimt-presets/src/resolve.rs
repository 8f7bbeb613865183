//! Resolving a run's [`Settings`]: the preset's defaults under the chosen profile, then a
//! config file (such as a run's `run.json`), then the command line's flags, each an
//! [`Overrides`]; on a resume, the checkpoint's recorded settings come first and the others may
//! change only [`CHANGEABLE_ON_RESUME`].

use crate::error::Error;
use crate::limits;
use crate::preset::Experiment;
use crate::registry;
use crate::settings::{Overrides, Profile, Settings};
use bimt_data::DataFormat;
use bimt_engine::{Checkpoint, SwapMoments};
use bimt_format::read_json;
use std::path::{Path, PathBuf};

/// The settings a resume may change: the total step count, the log interval and how often
/// checkpoints are written (none of them changes the numbers of the steps already taken).
pub const CHANGEABLE_ON_RESUME: [&str; 3] = ["steps", "log_every", "checkpoint_every"];

/// Settings from one source, with the source's name for errors (`None`: the command line).
type Source<'a> = (Option<String>, &'a Overrides);

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
) -> Result<Settings, Error> {
    let config = match config {
        Some(path) => {
            let file: Overrides = read_json(path, "config file")?;
            if let Some(other) = file.preset.as_deref().filter(|&p| p != preset) {
                return Err(Error::Settings(format!(
                    "{}: the config file is for preset '{other}', not '{preset}'",
                    path.display()
                )));
            }
            note_version(&file, &path.display().to_string());
            Some((path.display().to_string(), file))
        }
        None => None,
    };
    let mut sources: Vec<Source> = Vec::new();
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
        check_resume_steps(path, *step, &resolved, stored.steps)?;
        let before = merge(preset, &[(Some(path.display().to_string()), stored)])?;
        let before = before.record(Vec::new()).to_json();
        let after = resolved.record(Vec::new()).to_json();
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
                return Err(Error::Settings(format!(
                    "--resume {}: the --{file} file {} holds other contents than the run was \
                     made with (SHA-256 {was} then, {asked} now); a resume needs the same \
                     {file}: restore the file or start a new run without --resume",
                    path.display(),
                    after[file]
                )));
            }
            return Err(Error::Settings(format!(
                "--resume {}: the run was made with {key} = {was}, but this command asks for \
                 {key} = {asked}; a resume keeps its run's settings (only {} may change), so \
                 drop that setting or start a new run without --resume",
                path.display(),
                CHANGEABLE_ON_RESUME.join(" and ")
            )));
        }
    }
    Ok(resolved)
}

/// The settings a checkpoint was written with, and its step; refused when the settings are
/// missing or belong to another preset.
fn stored_settings(path: &Path, preset: &str) -> Result<(Overrides, usize), Error> {
    let header = Checkpoint::read_header(path)?;
    let value = header.settings;
    if value.is_null() {
        return Err(Error::Settings(format!(
            "checkpoint {}: it records no run settings, so a resume cannot be checked against them",
            path.display()
        )));
    }
    let mut stored: Overrides = serde_json::from_value(value).map_err(|e| {
        Error::Settings(format!(
            "checkpoint {}: unreadable settings: {e}",
            path.display()
        ))
    })?;
    // Checkpoints written before the setting existed moved the moments at every swap.
    stored.swap_moments.get_or_insert(SwapMoments::Follow);
    match stored.preset.as_deref() {
        Some(p) if p == preset => Ok((stored, header.step)),
        Some(p) => Err(Error::Settings(format!(
            "checkpoint {} was written by a run of preset '{p}', not '{preset}' \
             (resume it with `bimt run {p} --resume ...`)",
            path.display()
        ))),
        None => Err(Error::Settings(format!(
            "checkpoint {}: its settings name no preset",
            path.display()
        ))),
    }
}

/// Applies `sources` in order to the preset's defaults under the last profile given, then
/// checks the ranges and completes the settings of a custom run.
fn merge(preset: &str, sources: &[Source]) -> Result<Settings, Error> {
    let profile = sources
        .iter()
        .rev()
        .find_map(|(_, o)| o.profile)
        .unwrap_or(Profile::Paper);
    // `bimt run graph --task P` starts from the preset P's settings, under its own name.
    let task = sources.iter().rev().find_map(|(_, o)| o.task.flatten());
    let mut settings = match task {
        Some(task) if registry::find(preset)?.experiment == Experiment::Custom => Settings {
            preset: preset.to_string(),
            ..registry::find(task.preset())?.defaults(profile)
        },
        _ => registry::find(preset)?.defaults(profile),
    };
    for (_, overrides) in sources {
        overrides.apply(&mut settings);
    }
    settings.check_ranges()?;
    if settings.log_every > settings.steps {
        eprintln!(
            "note: log_every {} is longer than the run's {} steps; logging every {} steps",
            settings.log_every, settings.steps, settings.steps
        );
        settings.log_every = settings.steps;
    }
    complete_custom(&mut settings, sources)?;
    Ok(settings)
}

/// Checks the network and data settings of `bimt run graph|mlp` and fills in their defaults,
/// so that `run.json` records every one; any of them on a paper preset is refused. The input
/// files are recorded as absolute paths with the SHA-256 of their contents.
fn complete_custom(custom: &mut Settings, sources: &[Source]) -> Result<(), Error> {
    let preset = custom.preset.clone();
    let preset = preset.as_str();
    if registry::find(preset)?.experiment != Experiment::Custom {
        let given = custom.arch.is_some()
            || custom.task.is_some()
            || custom.hidden.is_some()
            || custom.data.is_some()
            || custom.targets.is_some()
            || custom.formula.is_some()
            || custom.loss.is_some()
            || custom.test_fraction.is_some()
            || custom.samples.is_some()
            || custom.range.is_some()
            || custom.standardise.is_some();
        if given {
            return Err(Error::Settings(format!(
                "--arch, --task, --hidden, --data, --targets, --formula, --loss, \
                 --test-fraction, --samples, --range and --standardise are for `bimt run graph` \
                 and `bimt run mlp`, not the preset '{preset}'"
            )));
        }
        return Ok(());
    }
    (custom.arch, custom.arch_sha256) =
        input_file(sources, "--arch", |o| (&o.arch, &o.arch_sha256))?;
    (custom.data, custom.data_sha256) =
        input_file(sources, "--data", |o| (&o.data, &o.data_sha256))?;
    if let Some(task) = custom.task {
        return complete_task(custom, task);
    }
    let default_fraction = if custom.data.is_some() { 0.2 } else { 0.5 };
    let loss = custom.loss.get_or_insert_with(|| "mse".into()).clone();
    let test_fraction = *custom.test_fraction.get_or_insert(default_fraction);
    let samples = *custom.samples.get_or_insert(200);
    let range = *custom.range.get_or_insert((-1.0, 1.0));
    custom.standardise.get_or_insert(false);
    match (preset, &custom.arch, &custom.hidden) {
        ("graph", None, _) => {
            return Err(Error::Settings("bimt run graph needs --arch FILE".into()));
        }
        ("graph", _, Some(_)) => {
            return Err(Error::Settings(
                "--hidden is for bimt run mlp; a graph's layers come from --arch".into(),
            ));
        }
        ("mlp", _, None) => {
            return Err(Error::Settings(
                "bimt run mlp needs --hidden WIDTHS (e.g. 20,20)".into(),
            ));
        }
        ("mlp", Some(_), _) => return Err(Error::Settings("--arch is for bimt run graph".into())),
        _ => {}
    }
    match (&custom.data, &custom.formula, &custom.targets) {
        (Some(_), Some(_), _) => {
            return Err(Error::Settings("give --data or --formula, not both".into()));
        }
        (None, None, _) => {
            return Err(Error::Settings(format!(
                "bimt run {preset} needs --data FILE.csv --targets COLUMNS, --data X.npy \
                 --targets Y.npy, --data D.npz, or --formula TEXT"
            )));
        }
        (Some(data), None, targets) => complete_targets(data, targets.as_deref())?,
        (None, Some(_), Some(_)) => {
            return Err(Error::Settings(
                "--targets is for --data; a formula names its outputs".into(),
            ));
        }
        _ => {}
    }
    if let (Some(data), Some([targets])) = (&custom.data, custom.targets.as_deref())
        && DataFormat::of(data)? == DataFormat::Npy
    {
        // Recorded as an absolute path with its SHA-256, as --data is, so that a resume finds
        // it and notices a change.
        let path = Path::new(targets);
        let path = path
            .canonicalize()
            .or_else(|_| std::path::absolute(path))
            .unwrap_or_else(|_| path.to_path_buf());
        let recorded = sources.iter().rev().find_map(|(label, o)| {
            o.targets.as_ref()?.as_ref()?;
            Some((label, o.targets_sha256.as_ref().and_then(Option::as_ref)))
        });
        let recorded =
            recorded.and_then(|(label, hash)| label.as_deref().zip(hash.map(String::as_str)));
        custom.targets_sha256 = file_hash(&path, "--targets", recorded)?;
        custom.targets = Some(vec![path.display().to_string()]);
    }
    if !matches!(loss.as_str(), "mse" | "cross-entropy") {
        return Err(Error::Settings(format!(
            "loss '{loss}': expected mse or cross-entropy"
        )));
    }
    if custom.formula.is_some() && loss != "mse" {
        return Err(Error::Settings(
            "a formula gives real targets: use --loss mse".into(),
        ));
    }
    if !(test_fraction > 0.0 && test_fraction < 1.0) {
        return Err(Error::Settings(format!(
            "test_fraction = {}: expected a fraction strictly between 0 and 1 (both splits \
             need rows: the test split measures the run, the training split trains it)",
            test_fraction
        )));
    }
    if custom.formula.is_some() {
        limits::check_count("samples", samples, 2, limits::MAX_SAMPLES)?;
    }
    let (lo, hi) = range;
    if !(lo.is_finite() && hi.is_finite() && lo < hi) {
        return Err(Error::Settings(format!(
            "range = {lo},{hi}: expected finite LO,HI with LO below HI, e.g. -1,1"
        )));
    }
    Ok(())
}

/// `--targets` by the kind of `--data`: column names for a CSV file, one `.npy` file for a
/// `.npy` file, none for a `.npz` archive (its array `y` holds the targets). An unknown
/// extension is refused, naming the three.
fn complete_targets(data: &Path, targets: Option<&[String]>) -> Result<(), Error> {
    let data_name = data.display();
    match (DataFormat::of(data)?, targets) {
        (DataFormat::Csv, None) => Err(Error::Settings(
            "--data needs --targets: the names of the target columns".into(),
        )),
        (DataFormat::Npy, None) => Err(Error::Settings(format!(
            "--data {data_name} needs --targets Y.npy: the .npy file of the targets"
        ))),
        (DataFormat::Npy, Some(list)) if list.len() != 1 => Err(Error::Settings(format!(
            "--targets {}: for .npy data, --targets is one .npy file of targets (a path \
             without commas)",
            list.join(",")
        ))),
        (DataFormat::Npz, Some(_)) => Err(Error::Settings(format!(
            "--targets is not for .npz data: {data_name} holds the inputs as its array 'x' \
             and the targets as 'y'"
        ))),
        _ => Ok(()),
    }
}

/// Checks the settings of `bimt run graph --task`: an architecture file, and none of the data
/// settings, which the task's preset brings.
fn complete_task(custom: &Settings, task: crate::settings::GraphTask) -> Result<(), Error> {
    let task = task.preset();
    if custom.preset != "graph" {
        return Err(Error::Settings(format!(
            "--task is for bimt run graph (an architecture file); bimt run {} builds an MLP \
             from --hidden for --data or --formula",
            custom.preset
        )));
    }
    if custom.arch.is_none() {
        return Err(Error::Settings(format!(
            "bimt run graph --task {task} needs --arch FILE (the preset's own network as a \
             file: {})",
            example_architecture(task)
        )));
    }
    let given = [
        ("--hidden", custom.hidden.is_some()),
        ("--data", custom.data.is_some()),
        ("--targets", custom.targets.is_some()),
        ("--formula", custom.formula.is_some()),
        ("--loss", custom.loss.is_some()),
        ("--test-fraction", custom.test_fraction.is_some()),
        ("--samples", custom.samples.is_some()),
        ("--range", custom.range.is_some()),
        ("--standardise", custom.standardise.is_some()),
    ];
    if let Some((flag, _)) = given.iter().find(|(_, given)| *given) {
        return Err(Error::Settings(format!(
            "{flag} is not for --task {task}: the task brings the preset's own data, loss and \
             split; drop {flag}, or drop --task to train on your own data"
        )));
    }
    Ok(())
}

/// Where the repository declares the network of the preset `task` as an architecture file.
fn example_architecture(task: &str) -> String {
    let file = match task {
        "in-context" | "modular-addition" | "permutation-s4" | "mnist" => task.replace('-', "_"),
        "two-moons" => "two_moons".into(),
        "symbolic-feature-sharing" => "symbolic_3_20_20_3".into(),
        "symbolic-compositionality" => "symbolic_4_20_20_20_20_1".into(),
        _ => "symbolic_4_20_20_2".into(),
    };
    format!("examples/architectures/{file}.json")
}

/// The input file of `sources` (the last one given, by `select`'s path) as an absolute path,
/// with the SHA-256 of its contents. When the source that names the file also records its
/// hash (a `run.json` or a checkpoint), the file must still hold those contents.
fn input_file(
    sources: &[Source],
    flag: &str,
    select: impl Fn(&Overrides) -> (&Option<Option<PathBuf>>, &Option<Option<String>>),
) -> Result<(Option<PathBuf>, Option<String>), Error> {
    let Some((label, path, recorded)) = sources.iter().rev().find_map(|(label, o)| {
        let (path, hash) = select(o);
        let recorded = hash.as_ref().and_then(Option::as_ref);
        path.as_ref()
            .and_then(Option::as_ref)
            .map(|p| (label, p, recorded))
    }) else {
        return Ok((None, None));
    };
    let path = path
        .canonicalize()
        .or_else(|_| std::path::absolute(path))
        .unwrap_or_else(|_| path.clone());
    let recorded = label.as_deref().zip(recorded.map(String::as_str));
    let hash = file_hash(&path, flag, recorded)?;
    Ok((Some(path), hash))
}

/// The SHA-256 of the contents of `path`, the `flag` file, or `None` where it cannot be read
/// (its loader reports why); refused where `recorded` (the settings' source and the hash it
/// recorded) differs.
fn file_hash(
    path: &Path,
    flag: &str,
    recorded: Option<(&str, &str)>,
) -> Result<Option<String>, Error> {
    let Ok(contents) = std::fs::read(path) else {
        return Ok(None);
    };
    let hash = sha256_hex(&contents);
    if let Some((label, recorded)) = recorded
        && recorded != hash
    {
        return Err(Error::Settings(format!(
            "{label}: its {flag} file {} has changed since the run was recorded (SHA-256 \
             {recorded} then, {hash} now); restore the file, or give {flag} again to use its \
             new contents in a new run",
            path.display()
        )));
    }
    Ok(Some(hash))
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
    h: &Settings,
    recorded_steps: Option<usize>,
) -> Result<(), Error> {
    if let Some(recorded) = recorded_steps.filter(|&r| step > r && r != h.steps) {
        return Err(Error::Settings(format!(
            "--resume {}: the checkpoint is at step {step}, in the fine-tune after the run's \
             {recorded} steps; --steps {} would move the schedule under it: leave --steps out",
            path.display(),
            h.steps
        )));
    }
    let total = h.steps + h.finetune_steps;
    if step > total {
        return Err(Error::Settings(format!(
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
        )));
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
                let record = first.record(vec!["bimt".into()]).to_json();
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
        let e = resolve("mnist", &Overrides::default(), Some(&path), None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("run.json") && e.contains("'two-moons'"), "{e}");
        let ok = resolve("two-moons", &Overrides::default(), Some(&path), None).unwrap();
        assert_eq!(ok.seed, 3);
        std::fs::remove_dir_all(&dir).ok();
    }
}
