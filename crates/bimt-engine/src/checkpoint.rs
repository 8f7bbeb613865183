//! Checkpoints: a run's full state (parameters, AdamW moments, neuron orders, settings, log)
//! written atomically, and read back only into a model of the same layout.

use crate::log::LogEntry;
use crate::model::{Evaluation, Model, Network};
use crate::params::Moments;
use bimt_format::{FormatError, read_json, write_json};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Everything needed to resume a run exactly: parameters, AdamW moments, neuron orders, and
/// what the run was (its settings as the caller recorded them, its log so far).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Format version.
    pub version: u32,
    /// The settings of the run that wrote it, as its caller recorded them (the command line
    /// stores its resolved settings here, and refuses a resume that contradicts them); null
    /// when none were given.
    #[serde(default)]
    pub settings: serde_json::Value,
    /// Steps completed.
    pub step: usize,
    /// Swaps applied so far.
    pub swaps: usize,
    /// Seconds of training before this checkpoint, over all earlier calls.
    #[serde(default)]
    pub wall_seconds: f64,
    /// The evaluation before the first step: the reference a divergence is measured against.
    #[serde(default)]
    pub initial: Option<InitialState>,
    /// Every log line up to `step`.
    #[serde(default)]
    pub log: Vec<LogEntry>,
    /// Parameter names, to catch a checkpoint of another model.
    pub names: Vec<String>,
    /// Row-major parameter values.
    pub params: Vec<Vec<f32>>,
    /// AdamW moments per parameter, once it has been stepped.
    pub moments: Vec<Option<Moments>>,
    /// Input order.
    pub input_order: Vec<usize>,
    /// Output order.
    pub output_order: Vec<usize>,
}

/// A checkpoint that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    /// Unreadable or not JSON.
    #[error(transparent)]
    File(#[from] FormatError),
    /// Readable, but not for this model.
    #[error("checkpoint {path}: {message}")]
    Mismatch {
        /// The checkpoint file.
        path: String,
        /// What does not fit.
        message: String,
    },
}

/// A run's state before its first step, kept so that a resumed run judges divergence
/// against the same reference as one that never stopped.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct InitialState {
    /// Loss on the training split.
    pub train_loss: f64,
    /// Loss on the test split.
    pub test_loss: f64,
    /// Connection cost under the definition of step 0.
    pub connection_cost: f64,
}

impl InitialState {
    /// The reference of an evaluation and a connection cost.
    pub fn new(evaluation: &Evaluation, connection_cost: f64) -> Self {
        Self {
            train_loss: evaluation.train_loss,
            test_loss: evaluation.test_loss,
            connection_cost,
        }
    }
}

/// What a resume is checked against: a checkpoint's settings and its step.
#[derive(Clone, Debug)]
pub struct CheckpointHeader {
    /// The settings the run recorded (null when it gave none).
    pub settings: serde_json::Value,
    /// Steps completed.
    pub step: usize,
}

const VERSION: u32 = 2;

impl Checkpoint {
    /// Captures a model after `step` steps, with no settings and no history (see
    /// [`Trainer::checkpoint`](crate::Trainer::checkpoint) for a run's full checkpoint).
    pub fn capture<N: Network>(model: &Model<N>, step: usize, swaps: usize) -> Self {
        Self {
            version: VERSION,
            settings: serde_json::Value::Null,
            step,
            swaps,
            wall_seconds: 0.0,
            initial: None,
            log: Vec::new(),
            names: model
                .network
                .layout()
                .params()
                .iter()
                .map(|p| p.name.clone())
                .collect(),
            params: model.params.to_host(),
            moments: model.params.states_to_host(),
            input_order: model.input_order().to_vec(),
            output_order: model.output_order().to_vec(),
        }
    }

    /// Writes the checkpoint atomically.
    pub fn save(&self, path: &Path) -> Result<(), FormatError> {
        write_json(path, self)
    }

    /// Reads only a checkpoint's settings and step, to check a resume against them before
    /// any model is built.
    pub fn read_header(path: &Path) -> Result<CheckpointHeader, CheckpointError> {
        #[derive(Deserialize)]
        struct Header {
            version: u32,
            #[serde(default)]
            settings: serde_json::Value,
            step: usize,
        }
        let header: Header = read_json(path, "checkpoint")?;
        check_version(path, header.version)?;
        Ok(CheckpointHeader {
            settings: header.settings,
            step: header.step,
        })
    }

    /// Reads a checkpoint and checks it against `model`'s layout, then loads it into `model`.
    pub fn restore<N: Network>(path: &Path, model: &mut Model<N>) -> Result<Self, CheckpointError> {
        let ckpt: Checkpoint = read_json(path, "checkpoint")?;
        let mismatch = |message: String| CheckpointError::Mismatch {
            path: path.display().to_string(),
            message,
        };
        check_version(path, ckpt.version)?;
        if ckpt.log.iter().any(|e| e.step > ckpt.step) {
            return Err(mismatch(format!(
                "its log goes past its step {}",
                ckpt.step
            )));
        }
        let layout = model.network.layout();
        let specs = layout.params();
        if ckpt.params.len() != specs.len()
            || ckpt.moments.len() != specs.len()
            || ckpt.names.len() != specs.len()
        {
            return Err(mismatch(format!(
                "written for another layout: {} parameters, the model has {}",
                ckpt.params.len(),
                specs.len()
            )));
        }
        for (i, spec) in specs.iter().enumerate() {
            let n = spec.shape[0] * spec.shape[1];
            if ckpt.names[i] != spec.name {
                return Err(mismatch(format!(
                    "written for another layout: parameter {i} is '{}', the model expects '{}'",
                    ckpt.names[i], spec.name
                )));
            }
            let moments_ok = ckpt.moments[i]
                .as_ref()
                .is_none_or(|m| m.first.len() == n && m.second.len() == n);
            if ckpt.params[i].len() != n || !moments_ok {
                return Err(mismatch(format!(
                    "written for another layout: parameter '{}' has {} values, the model expects {n}",
                    spec.name,
                    ckpt.params[i].len()
                )));
            }
            if ckpt.params[i].iter().any(|v| !v.is_finite()) {
                return Err(mismatch(format!(
                    "parameter '{}' holds a non-finite value",
                    spec.name
                )));
            }
        }
        let times: Vec<Option<usize>> = ckpt
            .moments
            .iter()
            .map(|m| m.as_ref().map(|m| m.steps))
            .collect();
        if times.windows(2).any(|w| w[0] != w[1]) {
            return Err(mismatch(
                "the AdamW moments disagree on how many steps were taken".into(),
            ));
        }
        let is_perm = |order: &[usize], n: usize| {
            let mut seen = vec![false; n];
            order.len() == n
                && order
                    .iter()
                    .all(|&f| f < n && !std::mem::replace(&mut seen[f], true))
        };
        // Each input (output) layer's part of the order holds that layer's own columns.
        let within_layers = |order: &[usize], inputs: bool| {
            model.segments(inputs).iter().all(|&(l, offset)| {
                let n = layout.layer(l).size;
                order
                    .get(offset..offset + n)
                    .is_some_and(|part| part.iter().all(|&f| (offset..offset + n).contains(&f)))
            })
        };
        if !is_perm(&ckpt.input_order, model.input_order().len())
            || !is_perm(&ckpt.output_order, model.output_order().len())
            || !within_layers(&ckpt.input_order, true)
            || !within_layers(&ckpt.output_order, false)
        {
            return Err(mismatch(
                "input or output order is not a permutation of the model's features".into(),
            ));
        }
        let device = model.params.device().clone();
        model.params = crate::params::ParamStore::from_host(layout, &ckpt.params, &device);
        model.params.set_states(ckpt.moments.clone());
        model.set_orders(ckpt.input_order.clone(), ckpt.output_order.clone());
        Ok(ckpt)
    }
}

/// Refuses a checkpoint of another format version, naming it.
fn check_version(path: &Path, version: u32) -> Result<(), CheckpointError> {
    if version == VERSION {
        return Ok(());
    }
    Err(CheckpointError::Mismatch {
        path: path.display().to_string(),
        message: format!(
            "version {version}; this bimt reads version {VERSION} (checkpoints of version 1 \
             carry neither their settings nor their log, so they cannot be resumed safely)"
        ),
    })
}
