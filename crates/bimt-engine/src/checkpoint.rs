use crate::model::{Model, Network};
use crate::params::Moments;
use bimt_format::{FormatError, read_json, write_json};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Everything needed to resume a run exactly: parameters, AdamW moments, neuron orders.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Format version.
    pub version: u32,
    /// Steps completed.
    pub step: usize,
    /// Swaps applied so far.
    pub swaps: usize,
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
    Mismatch { path: String, message: String },
}

const VERSION: u32 = 1;

impl Checkpoint {
    /// Captures a model after `step` steps.
    pub fn capture<N: Network>(model: &Model<N>, step: usize, swaps: usize) -> Self {
        Self {
            version: VERSION,
            step,
            swaps,
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

    /// Reads a checkpoint and checks it against `model`'s layout, then loads it into `model`.
    pub fn restore<N: Network>(path: &Path, model: &mut Model<N>) -> Result<Self, CheckpointError> {
        let ckpt: Checkpoint = read_json(path, "checkpoint")?;
        let mismatch = |message: String| CheckpointError::Mismatch {
            path: path.display().to_string(),
            message,
        };
        if ckpt.version != VERSION {
            return Err(mismatch(format!(
                "version {} (this bimt reads version {VERSION})",
                ckpt.version
            )));
        }
        let layout = model.network.layout();
        let specs = layout.params();
        if ckpt.params.len() != specs.len()
            || ckpt.moments.len() != specs.len()
            || ckpt.names.len() != specs.len()
        {
            return Err(mismatch(format!(
                "{} parameters, the model has {}",
                ckpt.params.len(),
                specs.len()
            )));
        }
        for (i, spec) in specs.iter().enumerate() {
            let n = spec.shape[0] * spec.shape[1];
            if ckpt.names[i] != spec.name {
                return Err(mismatch(format!(
                    "parameter {i} is '{}', the model expects '{}'",
                    ckpt.names[i], spec.name
                )));
            }
            let moments_ok = ckpt.moments[i]
                .as_ref()
                .is_none_or(|m| m.first.len() == n && m.second.len() == n);
            if ckpt.params[i].len() != n || !moments_ok {
                return Err(mismatch(format!(
                    "parameter '{}' has {} values, the model expects {n}",
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
        if !is_perm(&ckpt.input_order, model.input_order().len())
            || !is_perm(&ckpt.output_order, model.output_order().len())
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
