//! [`run`]: one run of any preset, from its resolved settings to a written run directory.

use crate::error::Error;
use crate::preset::Experiment;
use crate::registry::find;
use crate::runner::{RunSpec, prepare_out};
use crate::{algorithmic, custom, in_context, mnist, symbolic};
use bimt_format::{MetricsFile, write_json};

/// Runs `spec` end to end and returns the metrics written. The output directory is checked
/// and `run.json` written before any data is loaded.
pub fn run(spec: &RunSpec) -> Result<MetricsFile, Error> {
    let preset = find(&spec.settings.preset)?;
    prepare_out(&spec.out)?;
    remove_stale_outputs(spec)?;
    write_json(&spec.out.join("run.json"), &spec.record())?;
    match preset.experiment {
        Experiment::Symbolic(formula) => symbolic::run(spec, formula),
        Experiment::TwoMoons => symbolic::run_two_moons(spec),
        Experiment::Algorithmic(operation) => algorithmic::run(spec, operation),
        Experiment::Mnist => mnist::run(spec),
        Experiment::MnistCnn => mnist::train(spec, mnist::cnn_network()?),
        Experiment::InContext { singular } => in_context::run(spec, singular),
        Experiment::Custom => custom::run(spec),
    }
}

/// Removes what an earlier run left in the output directory that this run would not replace
/// before it ends: its `checkpoint.json` (unless this run resumes from it) and its
/// `metrics.json`, so that neither is taken for this run's.
fn remove_stale_outputs(spec: &RunSpec) -> Result<(), Error> {
    // The checkpoint this run resumes from, if it lies here, stays.
    let resumed_from = spec.resume.as_deref().and_then(|r| r.canonicalize().ok());
    for name in ["checkpoint.json", "metrics.json"] {
        let path = spec.out.join(name);
        if path.exists() && path.canonicalize().ok() != resumed_from {
            std::fs::remove_file(&path).map_err(|e| {
                Error::Output(format!(
                    "{}: cannot remove the previous run's file: {e}",
                    path.display()
                ))
            })?;
        }
    }
    Ok(())
}

/// The metrics of a finished run of `spec`: its directory holds `metrics.json` and a
/// `run.json` with the same settings (the command line and the bimt version aside). A run
/// that stopped before `metrics.json`, or one made with other settings, gives `None`.
pub fn finished(spec: &RunSpec) -> Option<MetricsFile> {
    let recorded: serde_json::Value =
        serde_json::from_slice(&std::fs::read(spec.out.join("run.json")).ok()?).ok()?;
    let wanted = spec.record().to_json();
    let same =
        |key: &str| key == "command" || key == "bimt_version" || recorded[key] == wanted[key];
    if !wanted.as_object()?.keys().all(|key| same(key)) {
        return None;
    }
    bimt_format::read_json(&spec.out.join("metrics.json"), "metrics file").ok()
}

/// [`run`], unless [`finished`] finds the run already made; `true` when it was reused.
pub fn run_or_reuse(spec: &RunSpec) -> Result<(MetricsFile, bool), Error> {
    match finished(spec) {
        Some(metrics) => Ok((metrics, true)),
        None => run(spec).map(|metrics| (metrics, false)),
    }
}
