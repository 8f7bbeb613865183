//! The plain files a bimt run writes, and nothing else: `model.json` (the trained network,
//! enough to rebuild its function and its connection cost) and `metrics.json`.
//!
//! Every other tool (the views, the analysis commands, a user's own script) reads these
//! types, so they stay free of training code.

#![warn(missing_docs)]

mod tensors;

pub use tensors::NamedTensor;

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The `model.json` format this crate writes: 2 describes any graph (every layer's role,
/// activation and data columns, identity connections); a file without `format` is version 1,
/// a chain from the shallowest layer (input) to the deepest (output).
pub const MODEL_FORMAT: u32 = 2;

fn format_one() -> u32 {
    1
}

/// A network as written to `model.json`.
///
/// Format 2 semantics: a layer's value is its activation applied to the sum of its incoming
/// connections (a linear one contributes `weight · value(from) + bias`, an identity one
/// `value(from)`); an input layer's neuron `q` holds data column `features[q]`, an output
/// layer's neuron `q` gives target `features[q]`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelFile {
    /// Format version ([`MODEL_FORMAT`]; 1 when absent).
    #[serde(default = "format_one")]
    pub format: u32,
    /// Format 1: the activation applied after every connection but the last, unless a
    /// connection names its own. Format 2: the default of hidden layers without their own.
    pub activation: String,
    /// Neuron layers in drawing order (bottom to top).
    pub neuron_layers: Vec<NeuronLayerFile>,
    /// Weight matrices joining neuron layers.
    pub connections: Vec<ConnectionFile>,
    /// For each position of the input layer, the index of the original input feature that sits there.
    pub input_features: Vec<usize>,
    /// For each position of the output layer, the index of the original output that sits there.
    pub output_features: Vec<usize>,
    /// Names of the original input features (`x1`, `pixel(3,4)`, ...), indexed by feature.
    #[serde(default)]
    pub input_names: Vec<String>,
    /// Names of the original outputs, indexed by output.
    #[serde(default)]
    pub output_names: Vec<String>,
    /// How the connection cost of this network is defined.
    pub cost: CostSpec,
    /// The token table, where the input is token ids (modular addition, S4, an architecture
    /// file's token layer): row `t` is token `t`'s vector, one value per neuron of the (only)
    /// input layer, in storage order (the table's columns move with those neurons;
    /// `input_features[q]` names the embedding dimension at neuron `q`). A data row is
    /// [`token_positions`](Self::token_positions) ids `t_0 … t_{k-1}`; the input layer's
    /// value is their rows, concatenated: input index `j·size + q` holds
    /// `token_embedding[t_j][q]`, and every connection leaving the input layer is linear with
    /// `in_fold` `k`. No activation applies. The cost charges `y*·|E|` like a bias.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_embedding: Option<Vec<Vec<f32>>>,
    /// With a token table: how many token ids a data row holds (absent in files written before
    /// bimt recorded it: the `in_fold` of the connections leaving the input layer).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_positions: Option<usize>,
    /// For a sequence model (attention, learned positions): tokens per sequence. The data's
    /// rows then come `sequence` at a time (row `b·sequence + t` is position `t` of sequence
    /// `b`), and every connection but a layer's [`attention`](NeuronLayerFile::attention)
    /// acts on each row alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sequence: Option<usize>,
}

/// One neuron layer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NeuronLayerFile {
    /// Layer name (`input`, `hidden1`, `res2`, ...).
    pub name: String,
    /// Number of neurons.
    pub size: usize,
    /// Each neuron's position within its layer, in storage order: one number per neuron on a
    /// line, two on a grid or a ring.
    pub coords: Vec<Vec<f64>>,
    /// Position of the layer along the stacking axis, in units of the layer gap `y*`.
    pub depth: f64,
    /// Format 2: `input`, `hidden` or `output`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<LayerRole>,
    /// Format 2: the activation applied to the sum of the incoming connections.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activation: Option<String>,
    /// Format 2, input and output layers: for each neuron (storage order), the data column
    /// (input) or target (output) it holds, counted over all input (output) layers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub features: Option<Vec<usize>>,
    /// A layer of self-attention: its one incoming connection (`out_fold` 3) is the packed
    /// Q, K, V projection, output index `o` in block `o / size` (Q, K, V) at neuron
    /// `o % size`; head `h` is neurons `h·d .. (h+1)·d`, `d = size / heads`. The layer's value
    /// at position `t` is, per head, `Σ_s softmax_s(q_t·k_s / √d) v_s` (over `s ≤ t` when
    /// causal), the heads side by side. No activation follows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attention: Option<AttentionFile>,
    /// A learned positional table, `[sequence][size]` (neurons in storage order): row `t` is
    /// added to the layer's pre-activation at position `t`, before its activation (to an
    /// input layer's value, where a token embedding feeds it). The cost
    /// charges `y*·|P|` like a bias.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub learned_positions: Option<Vec<Vec<f32>>>,
    /// A layer of feature maps `[H, W]`: each neuron is a channel, and the layer's value for
    /// one sample is `H·W·size` numbers, pixel-major (index `p·size + c` is pixel
    /// `p = y·W + x` of channel `c`). An input layer of feature maps reads its data
    /// channel-major instead (column `c·H·W + p`, as a NumPy array `[n, C, H, W]` flattens).
    /// A linear connection from such a layer into a layer without a shape reads the whole
    /// value (`in_fold` `H·W`: a flatten).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shape: Option<[usize; 2]>,
}

/// How a layer attends (see [`NeuronLayerFile::attention`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttentionFile {
    /// Number of heads.
    pub heads: usize,
    /// Whether position `t` attends only to positions `s ≤ t`.
    pub causal: bool,
}

/// What a neuron layer is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LayerRole {
    /// Holds data columns.
    Input,
    /// Computed from its incoming connections.
    Hidden,
    /// Computed and compared with targets.
    Output,
}

/// What a connection does.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ConnectionKind {
    /// `weight · value(from) + bias`.
    #[default]
    Linear,
    /// `value(from)` unchanged; no weight (an empty `weight`), no bias, equal sizes.
    Identity,
    /// Between layers of feature maps with the same channels: each channel's windows
    /// ([`ConnectionFile::window`]) reduced to their largest value or their mean; no weight,
    /// no bias.
    Pool,
}

impl ConnectionKind {
    /// Whether neuron `i` of the source feeds only neuron `i` of the target (identity
    /// connections and pools): the two layers' neurons are the same, one to one.
    pub fn joins_neuron_to_neuron(self) -> bool {
        matches!(self, ConnectionKind::Identity | ConnectionKind::Pool)
    }
}

/// The square windows of a convolution or a pool over `[H, W]` feature maps: output pixel
/// `(y, x)` reads input pixels `(y·stride + ky − padding, x·stride + kx − padding)` for
/// `ky, kx < kernel`, zeros outside the map.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WindowFile {
    /// The window's side, in pixels.
    pub kernel: usize,
    /// Pixels between windows.
    pub stride: usize,
    /// Zero pixels on each side.
    pub padding: usize,
    /// A pool's reduction: `max` or `average` (absent for a convolution).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pool: Option<String>,
}

impl WindowFile {
    /// The output side for an input side of `n` pixels, where the window fits.
    pub fn output_side(&self, n: usize) -> Option<usize> {
        (n + 2 * self.padding)
            .checked_sub(self.kernel)
            .filter(|_| self.stride > 0)
            .map(|d| d / self.stride + 1)
    }
}

/// One weight matrix with its bias.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConnectionFile {
    /// Index into `neuron_layers` of the source layer.
    pub from: usize,
    /// Index into `neuron_layers` of the target layer.
    pub to: usize,
    /// `linear` (default) or `identity`.
    #[serde(default)]
    pub kind: ConnectionKind,
    /// `weight[o][i]` joins input index `i` to output index `o`. With folds, input index `i`
    /// sits at neuron `i % size(from)` and output index `o` at neuron `o % size(to)`.
    pub weight: Vec<Vec<f32>>,
    /// One bias per output index, or null.
    pub bias: Option<Vec<f32>>,
    /// How many input indices share each source neuron (1 for a plain linear layer).
    #[serde(default = "one")]
    pub in_fold: usize,
    /// How many output indices share each target neuron (3 for a packed Q,K,V projection).
    #[serde(default = "one")]
    pub out_fold: usize,
    /// Activation applied to this connection's output, where it differs from the model's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activation: Option<String>,
    /// The weight is the token table itself (`weight[o]` = `token_embedding[o]`), tied as
    /// the output projection: it computes as any linear connection, and the cost charges the
    /// table once, like a bias, not this connection by length.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub tied: bool,
    /// A convolution (a linear connection between layers of feature maps, `in_fold`
    /// `kernel²`: input index `t·size(from) + i` is tap `t = ky·kernel + kx` of channel `i`,
    /// the same weight at every output pixel) or a pool: its windows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<WindowFile>,
}

fn one() -> usize {
    1
}

/// The definition of the connection cost (paper eq. 3) a run used.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CostSpec {
    /// Name of the metric (`l1`, `l2`, or a user metric's name).
    pub metric: String,
    /// Scale of in-layer distances.
    #[serde(rename = "A")]
    pub a: f64,
    /// Distance between consecutive neuron layers.
    pub y_star: f64,
    /// `sum` over all weights, or `mean` per weight matrix.
    pub reduction: String,
    /// Whether biases (and token embeddings) are charged `y*·|b|`.
    pub bias_penalty: bool,
    /// Whether the last connection's in-layer distance is charged (`false`: only `y*`).
    pub last_layer_distance: bool,
}

/// The summary of a run as written to `metrics.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MetricsFile {
    /// The preset's name (`custom` for a run of the user's own data).
    pub preset: String,
    /// The training variant (`bimt`, `l1`, ...).
    pub variant: String,
    /// The settings profile (`paper` or `reference`).
    pub profile: String,
    /// The seed of data and initialisation.
    pub seed: u64,
    /// Steps of the BIMT schedule (`--steps`).
    pub steps: usize,
    /// Steps of the pruned fine-tune after the schedule (0: none).
    #[serde(default)]
    pub finetune_steps: usize,
    /// Seconds of training, over resumes too.
    pub wall_seconds: f64,
    /// Steps per second of the last call (after a resume, of the steps it ran).
    pub steps_per_second: f64,
    /// Final loss on the training split.
    pub train_loss: f64,
    /// Final loss on the test split.
    pub test_loss: f64,
    /// The test loss before the first step (absent in files written before bimt recorded
    /// it): a run whose `test_loss` is not below it ended worse than it started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initial_test_loss: Option<f64>,
    /// What `train_loss` and `test_loss` average over.
    #[serde(default)]
    pub loss_definitions: LossDefinitions,
    /// Classification accuracy on the test split; null for regression.
    pub test_accuracy: Option<f64>,
    /// Connection cost of the final model under the run's own definition.
    pub connection_cost: f64,
    /// The cost's distance scale `A` (0 for the variants without locality).
    #[serde(rename = "A")]
    pub a: f64,
    /// The cost's bias charge `y*`.
    pub y_star: f64,
    /// How the per-weight costs add up (`sum` or `mean`).
    pub reduction: String,
    /// Number of swaps applied over the run.
    pub swaps: usize,
    /// Task-specific structure figures (active neurons per layer, reachability, ...).
    #[serde(default)]
    pub structure: serde_json::Value,
    /// Where the wall time went (absent in files written before bimt recorded it).
    #[serde(default)]
    pub timing: Timing,
    /// How the run chose its initialisation among restarts (absent for a run without them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restarts: Option<Restarts>,
}

/// How a run with restarts chose its initialisation: every candidate trained the same data
/// for `steps` steps from its own initial weights, and the chosen one was trained again from
/// the start as the run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Restarts {
    /// Steps each candidate trained before the choice.
    pub steps: usize,
    /// The index in `candidates` of the one chosen.
    pub chosen: usize,
    /// Seconds the candidates took together.
    pub wall_seconds: f64,
    /// Every candidate, the run's own seed first.
    pub candidates: Vec<RestartCandidate>,
}

/// One candidate of [`Restarts`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RestartCandidate {
    /// The seed of its initial weights.
    pub init_seed: u64,
    /// Its training loss after the candidate steps (null: it diverged).
    pub train_loss: Option<f64>,
    /// Its connection cost after the candidate steps (null: it diverged).
    pub connection_cost: Option<f64>,
}

/// Where a run's wall time went, in seconds (of the last call, after a resume).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Timing {
    /// Training steps: batch, forward pass, loss and cost, backward pass, optimizer step.
    pub steps: f64,
    /// Swap rounds: the search on a host copy and moving every tensor.
    pub swap_rounds: f64,
    /// How many swap rounds ran.
    pub rounds: usize,
    /// Evaluations at the log intervals and before checkpoints.
    pub evaluation: f64,
    /// The observer at each step and log interval: log lines, progress, handing the frame
    /// to its drawing thread (which draws on another core).
    pub observer: f64,
    /// Writing checkpoints.
    pub checkpoints: f64,
    /// Rows (samples, or tokens for a sequence model) that every linear layer sees in one
    /// training step: with the weight count, the step's arithmetic.
    #[serde(default)]
    pub rows_per_step: usize,
    /// Writing the run's files after training (model, pictures, animation, structure report);
    /// the trainer leaves it at 0 for its caller to fill.
    pub outputs: f64,
}

/// What each loss figure of `metrics.json` averages over, in words.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LossDefinitions {
    /// What `train_loss` averages over.
    pub train_loss: String,
    /// What `test_loss` averages over.
    pub test_loss: String,
}

/// A file that could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum FormatError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why not.
        source: std::io::Error,
    },
    /// The file is not JSON of the expected shape.
    #[error("{path} is not a valid {what}: {source}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What it should have held (`model file`, `checkpoint`, ...).
        what: &'static str,
        /// Where and how the JSON differs.
        source: serde_json::Error,
    },
    /// The file could not be written.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// Why not.
        source: std::io::Error,
    },
    /// The file parses but its content is inconsistent.
    #[error("{path}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong, naming the part.
        message: String,
    },
}

/// Writes `bytes` to `path` atomically: a temporary file beside it, then a rename, so a reader
/// never sees half a file and an interrupted run never leaves one.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), FormatError> {
    let err = |source| FormatError::Write {
        path: path.to_path_buf(),
        source,
    };
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(err)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp{}", std::process::id()));
    std::fs::write(&tmp, bytes).map_err(err)?;
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        err(e)
    })
}

/// Serialises `value` as pretty JSON and writes it atomically.
pub fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<(), FormatError> {
    let text = serde_json::to_vec_pretty(value).expect("plain data serialises");
    write_atomic(path, &text)
}

/// Reads a JSON file, naming the file in any error.
pub fn read_json<T: for<'de> Deserialize<'de>>(
    path: &Path,
    what: &'static str,
) -> Result<T, FormatError> {
    let text = std::fs::read(path).map_err(|source| FormatError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    serde_json::from_slice(&text).map_err(|source| FormatError::Parse {
        path: path.to_path_buf(),
        what,
        source,
    })
}

/// A connection's windows fit the shapes of its ends: a convolution or a pool has windows
/// that map `from`'s maps onto `to`'s (a convolution with `in_fold` `kernel²`, a pool with a
/// reduction); a linear connection from feature maps into neurons reads every pixel
/// (`in_fold` `H·W`); nothing else involves feature maps.
fn check_window(
    c: usize,
    conn: &ConnectionFile,
    from: &NeuronLayerFile,
    to: &NeuronLayerFile,
) -> Result<(), String> {
    let what = format!("connection {c} ({} -> {})", from.name, to.name);
    let pool = conn.kind == ConnectionKind::Pool;
    match (&conn.window, from.shape, to.shape) {
        (Some(w), Some([h, wd]), Some(out)) => {
            let fits = [w.output_side(h), w.output_side(wd)] == [Some(out[0]), Some(out[1])];
            let reduction = matches!(w.pool.as_deref(), Some("max" | "average"));
            let kind = match conn.kind {
                ConnectionKind::Linear => !reduction && conn.in_fold == w.kernel * w.kernel,
                ConnectionKind::Pool => reduction,
                ConnectionKind::Identity => false,
            };
            if !(fits && kind) {
                return Err(format!(
                    "{what}: windows of {} every {} with padding {} do not make {h}x{wd} maps \
                     into {}x{} for a {} connection (a convolution has in_fold kernel², a pool \
                     a \"pool\" of max or average)",
                    w.kernel,
                    w.stride,
                    w.padding,
                    out[0],
                    out[1],
                    if pool { "pool" } else { "linear" }
                ));
            }
            Ok(())
        }
        (None, Some([h, w]), None) if conn.kind == ConnectionKind::Linear => {
            if conn.in_fold != h * w {
                return Err(format!(
                    "{what}: a linear connection from {h}x{w} feature maps into neurons reads \
                     every pixel; expected in_fold {}, found {}",
                    h * w,
                    conn.in_fold
                ));
            }
            Ok(())
        }
        (None, None, None) if !pool => Ok(()),
        (None, a, b) if conn.kind == ConnectionKind::Identity && a == b => Ok(()),
        _ => Err(format!(
            "{what}: the connection's windows do not fit its ends' shapes ({:?} -> {:?})",
            from.shape, to.shape
        )),
    }
}

impl NeuronLayerFile {
    /// A format-1 layer (no role, activation or features) with one neuron per coordinate.
    pub fn new(name: &str, coords: Vec<Vec<f64>>, depth: f64) -> Self {
        Self {
            name: name.into(),
            size: coords.len(),
            coords,
            depth,
            role: None,
            activation: None,
            features: None,
            attention: None,
            learned_positions: None,
            shape: None,
        }
    }

    /// `size` neurons on a line at `(i + 0.5) / size`, as the paper places them.
    pub fn line(name: &str, size: usize, depth: f64) -> Self {
        let at = |i: usize| (i as f64 + 0.5) / size as f64;
        Self::new(name, (0..size).map(|i| vec![at(i)]).collect(), depth)
    }

    /// `side × side` neurons on a grid at `((c + 0.5) / side, (r + 0.5) / side)`, row-major.
    pub fn grid(name: &str, side: usize, depth: f64) -> Self {
        let at = |k: usize| (k as f64 + 0.5) / side as f64;
        let coords = (0..side * side)
            .map(|i| vec![at(i % side), at(i / side)])
            .collect();
        Self::new(name, coords, depth)
    }
}

impl ConnectionFile {
    /// A plain linear connection: no bias, no folds, the model's activation.
    pub fn plain(from: usize, to: usize, weight: Vec<Vec<f32>>) -> Self {
        Self {
            from,
            to,
            kind: ConnectionKind::Linear,
            weight,
            bias: None,
            in_fold: 1,
            out_fold: 1,
            activation: None,
            tied: false,
            window: None,
        }
    }
}

impl ModelFile {
    /// Reads and checks a `model.json`.
    pub fn read(path: &Path) -> Result<Self, FormatError> {
        let model: ModelFile = read_json(path, "model file")?;
        model.check().map_err(|message| FormatError::Invalid {
            path: path.to_path_buf(),
            message,
        })?;
        Ok(model)
    }

    /// Checks that every index and every shape is consistent; the message names the culprit.
    pub fn check(&self) -> Result<(), String> {
        if self.format > MODEL_FORMAT {
            return Err(format!(
                "format {}; this bimt reads formats 1 to {MODEL_FORMAT}",
                self.format
            ));
        }
        if self.sequence == Some(0) {
            return Err("sequence is 0; expected 1 or more positions".into());
        }
        for (l, layer) in self.neuron_layers.iter().enumerate() {
            if layer.coords.len() != layer.size {
                return Err(format!(
                    "neuron layer {l} ({}): {} coords for {} neurons",
                    layer.name,
                    layer.coords.len(),
                    layer.size
                ));
            }
            if let Some(table) = &layer.learned_positions {
                let positions = self.sequence.unwrap_or(1);
                if table.len() != positions || table.iter().any(|row| row.len() != layer.size) {
                    return Err(format!(
                        "neuron layer {l} ({}): learned_positions is [{}][{}]; expected \
                         [{positions}][{}], a row per position of the sequence and a value per \
                         neuron",
                        layer.name,
                        table.len(),
                        table.first().map_or(0, Vec::len),
                        layer.size
                    ));
                }
            }
            if let Some(attention) = layer.attention
                && (attention.heads == 0 || !layer.size.is_multiple_of(attention.heads))
            {
                return Err(format!(
                    "neuron layer {l} ({}): {} attention heads do not divide its {} neurons",
                    layer.name, attention.heads, layer.size
                ));
            }
        }
        if self.neuron_layers.is_empty() {
            return Err("no neuron layers".into());
        }
        let roles = self.roles();
        for (what, role, total) in [
            ("input", LayerRole::Input, self.input_features.len()),
            ("output", LayerRole::Output, self.output_features.len()),
        ] {
            let layers: Vec<usize> = (0..roles.len()).filter(|&l| roles[l] == role).collect();
            if layers.is_empty() {
                return Err(format!("no {what} layer"));
            }
            let mut seen = vec![false; total];
            for &l in &layers {
                let layer = &self.neuron_layers[l];
                let features = self.features(l);
                if features.len() != layer.size {
                    return Err(format!(
                        "{what} layer {l} ({}): {} features for {} neurons",
                        layer.name,
                        features.len(),
                        layer.size
                    ));
                }
                for f in features {
                    if f >= total || std::mem::replace(&mut seen[f], true) {
                        return Err(format!(
                            "{what} layer {l} ({}): feature {f} is out of range or repeated \
                             ({total} {what} features in all)",
                            layer.name
                        ));
                    }
                }
            }
        }
        if let Some(embedding) = &self.token_embedding {
            let width = self.input_features.len();
            if let Some((t, row)) = embedding.iter().enumerate().find(|(_, r)| r.len() != width) {
                return Err(format!(
                    "token_embedding row {t}: {} values, expected one per input neuron ({width})",
                    row.len()
                ));
            }
            let inputs = self.layers_with(LayerRole::Input);
            if inputs.len() != 1 {
                return Err(format!(
                    "token_embedding feeds one input layer; found {} input layers",
                    inputs.len()
                ));
            }
            let positions = self.token_positions();
            if positions == 0 {
                return Err("token_positions is 0; expected 1 or more ids per row".into());
            }
            // With one position the input layer's value is one table row, which an identity
            // connection may pass on (a residual stream that starts at the embedding).
            if let Some((c, conn)) = self.connections.iter().enumerate().find(|(_, c)| {
                c.from == inputs[0]
                    && match c.kind {
                        ConnectionKind::Linear => c.in_fold != positions,
                        ConnectionKind::Identity | ConnectionKind::Pool => positions != 1,
                    }
            }) {
                return Err(format!(
                    "connection {c}: it reads the token input of {positions} positions, so it \
                     is linear with in_fold {positions}; found a {} connection with in_fold {}",
                    if conn.kind == ConnectionKind::Linear {
                        "linear"
                    } else {
                        "identity"
                    },
                    conn.in_fold
                ));
            }
        } else if let Some(positions) = self.token_positions {
            return Err(format!(
                "token_positions is {positions}, but there is no token_embedding"
            ));
        }
        for (c, conn) in self.connections.iter().enumerate() {
            let layer = |i: usize| {
                self.neuron_layers
                    .get(i)
                    .ok_or_else(|| format!("connection {c}: no neuron layer {i}"))
            };
            let (from, to) = (layer(conn.from)?, layer(conn.to)?);
            check_window(c, conn, from, to)?;
            if conn.kind == ConnectionKind::Pool {
                if from.size != to.size || !conn.weight.is_empty() || conn.bias.is_some() {
                    return Err(format!(
                        "connection {c} ({} -> {}): a pool joins layers of the same channels \
                         and has no weight and no bias",
                        from.name, to.name
                    ));
                }
                continue;
            }
            if conn.kind == ConnectionKind::Identity {
                if from.size != to.size
                    || from.shape != to.shape
                    || !conn.weight.is_empty()
                    || conn.bias.is_some()
                {
                    return Err(format!(
                        "connection {c} ({} -> {}): an identity connection joins layers of one \
                         size and has no weight and no bias",
                        from.name, to.name
                    ));
                }
                continue;
            }
            let (rows, cols) = (to.size * conn.out_fold, from.size * conn.in_fold);
            if conn.weight.len() != rows || conn.weight.iter().any(|r| r.len() != cols) {
                return Err(format!(
                    "connection {c} ({} -> {}): weight must be {rows}x{cols}",
                    from.name, to.name
                ));
            }
            if let Some(b) = &conn.bias
                && b.len() != rows
            {
                return Err(format!(
                    "connection {c}: bias has {} entries, expected {rows}",
                    b.len()
                ));
            }
        }
        Ok(())
    }

    /// The numbers a data row holds for the input layers: one per input neuron, times `H·W`
    /// for an input of feature maps (`C·H·W` columns, channel-major).
    pub fn input_width(&self) -> usize {
        self.layers_with(LayerRole::Input)
            .iter()
            .map(|&l| {
                let layer = &self.neuron_layers[l];
                layer.size * layer.shape.map_or(1, |[h, w]| h * w)
            })
            .sum()
    }

    /// How many input indices share each neuron of `layer` where its value is read: the
    /// largest `in_fold` of the connections leaving it (1 where none leaves it).
    pub fn fold_out_of(&self, layer: usize) -> usize {
        self.connections
            .iter()
            .filter(|c| c.from == layer)
            .map(|c| c.in_fold)
            .max()
            .unwrap_or(1)
    }

    /// How many token ids a data row holds, where the input is token ids: as recorded, or
    /// (older files) the largest `in_fold` of the connections leaving the input layer; 0
    /// without a token table.
    pub fn token_positions(&self) -> usize {
        if self.token_embedding.is_none() {
            return 0;
        }
        self.token_positions.unwrap_or_else(|| {
            let inputs = self.layers_with(LayerRole::Input);
            self.connections
                .iter()
                .filter(|c| inputs.contains(&c.from))
                .map(|c| c.in_fold)
                .max()
                .unwrap_or(1)
        })
    }

    /// Every layer's role: as recorded (format 2), or for format 1 the shallowest layer is the
    /// input and the deepest the output.
    pub fn roles(&self) -> Vec<LayerRole> {
        let by_depth = |deeper: bool| {
            (0..self.neuron_layers.len()).reduce(|a, b| {
                let (da, db) = (self.neuron_layers[a].depth, self.neuron_layers[b].depth);
                if (deeper && db > da) || (!deeper && db < da) {
                    b
                } else {
                    a
                }
            })
        };
        let (input, output) = (by_depth(false), by_depth(true));
        (0..self.neuron_layers.len())
            .map(|l| match self.neuron_layers[l].role {
                Some(role) => role,
                None if Some(l) == input => LayerRole::Input,
                None if Some(l) == output => LayerRole::Output,
                None => LayerRole::Hidden,
            })
            .collect()
    }

    /// The layers of one role, in file order (data columns and targets are counted in it).
    pub fn layers_with(&self, role: LayerRole) -> Vec<usize> {
        let roles = self.roles();
        (0..roles.len()).filter(|&l| roles[l] == role).collect()
    }

    /// For an input or output layer, the data column or target of each neuron (format 1: the
    /// file's `input_features` / `output_features`); empty for a hidden layer.
    pub fn features(&self, layer: usize) -> Vec<usize> {
        if let Some(features) = &self.neuron_layers[layer].features {
            return features.clone();
        }
        match self.roles()[layer] {
            LayerRole::Input => self.input_features.clone(),
            LayerRole::Output => self.output_features.clone(),
            LayerRole::Hidden => Vec::new(),
        }
    }

    /// The activation a layer applies to the sum of its incoming connections: as recorded
    /// (format 2), else the activation of the connections into it (format 1); `identity` for
    /// input layers.
    pub fn layer_activation(&self, layer: usize) -> String {
        if let Some(a) = &self.neuron_layers[layer].activation {
            return a.clone();
        }
        match self.roles()[layer] {
            LayerRole::Input => "identity".into(),
            role => self
                .connections
                .iter()
                .find(|c| c.to == layer)
                .and_then(|c| c.activation.clone())
                .unwrap_or_else(|| match role {
                    LayerRole::Output if self.format >= 2 => "identity".into(),
                    _ => self.activation.clone(),
                }),
        }
    }
}

/// Gives a unit-variant enum with serde names (`#[serde(rename_all = "kebab-case")]`) its
/// [`Display`](std::fmt::Display) and [`FromStr`](std::str::FromStr) from those names, so that
/// the command line, the settings files and the printed text name it one way, the way serde
/// does. An unknown name is refused with serde's list of the known ones.
///
/// ```
/// #[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
/// #[serde(rename_all = "kebab-case")]
/// enum Speed { Slow, VeryFast }
/// bimt_format::named_by_serde!(Speed);
///
/// assert_eq!(Speed::VeryFast.to_string(), "very-fast");
/// assert_eq!("slow".parse::<Speed>(), Ok(Speed::Slow));
/// let e = "fast".parse::<Speed>().unwrap_err();
/// assert!(e.contains("unknown variant `fast`, expected `slow` or `very-fast`"), "{e}");
/// ```
#[macro_export]
macro_rules! named_by_serde {
    ($($name:ty),+ $(,)?) => {$(
        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(&$crate::serde_name(self))
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = String;

            fn from_str(name: &str) -> Result<Self, String> {
                $crate::from_serde_name(name)
            }
        }
    )+};
}

/// The name serde gives a unit variant (see [`named_by_serde!`]).
pub fn serde_name<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(name)) => name,
        other => panic!("serde_name is for unit variants, not {other:?}"),
    }
}

/// The unit variant serde names `name` (see [`named_by_serde!`]); an unknown name gives
/// serde's message, which lists the known ones.
pub fn from_serde_name<T: for<'de> Deserialize<'de>>(name: &str) -> Result<T, String> {
    serde_json::from_value(serde_json::Value::String(name.to_string())).map_err(|e| e.to_string())
}
