//! The architecture file's schema: layers, edges and coupling groups as the file declares
//! them, read and written with serde. Nothing here builds a network; [`crate::Graph`] does.

use bimt_engine::Tensor;
use bimt_layout::LayoutError;
use burn::tensor::activation;
use serde::{Deserialize, Serialize};

/// An architecture file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Architecture {
    /// The neuron layers.
    pub layers: Vec<LayerSpec>,
    /// The edges; a layer's pre-activation is the sum of its incoming edges.
    pub edges: Vec<EdgeSpec>,
    /// Coupling groups beyond those the identity edges imply.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<GroupSpec>,
    /// Tokens per sequence, for a sequence model (attention, learned positions): the data's
    /// rows come `sequence` at a time, row `b·sequence + t` being position `t` of sequence
    /// `b`; every edge but attention acts on each row (position) alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sequence: Option<usize>,
}

/// A layer of multi-head self-attention over the positions of a sequence (no LayerNorm).
///
/// Its one incoming edge, a linear one, is the packed Q, K, V projection: a weight
/// `[size(from), 3·size]` whose column blocks are Q, K and V (and a bias `[1, 3·size]` unless
/// `"bias": false`). Head `h` is the slice `h·d .. (h+1)·d` of each, `d = size / heads`; the
/// layer's value is `softmax(q·kᵀ/√d [+ causal mask])·v` per head, the heads side by side, and
/// the edges leaving it (an output projection, usually) read that. Its neurons are the
/// columns of Q, K and V together (so `q·kᵀ` keeps its value when they move) and the rows of
/// the edges leaving it; a neuron moves only within its head, and whole heads trade places.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttentionSpec {
    /// Number of heads; it divides the layer's size.
    pub heads: usize,
    /// Whether position `t` attends only to positions `s ≤ t` (default false).
    #[serde(default)]
    pub causal: bool,
}

/// What a layer is for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Role {
    /// Holds data columns, one per neuron.
    Input,
    /// Computed from its incoming edges.
    #[default]
    Hidden,
    /// Computed, and compared with targets.
    Output,
    /// An input of token ids (`"role": "input", "tokens": V` in the file): it holds one id in
    /// `0..vocabulary` per position (its `size` counts the positions, the data columns it
    /// takes) and has no neurons; an `embedding` edge reads it.
    Tokens {
        /// How many tokens there are.
        vocabulary: usize,
    },
}

impl Role {
    /// Whether the layer holds data: numbers or token ids.
    pub fn is_input(self) -> bool {
        matches!(self, Role::Input | Role::Tokens { .. })
    }

    /// The role's name in the file (`input` for token layers too).
    pub fn name(self) -> &'static str {
        match self {
            Role::Input | Role::Tokens { .. } => "input",
            Role::Hidden => "hidden",
            Role::Output => "output",
        }
    }
}

/// A layer's nonlinearity, applied to the sum of its incoming edges.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Activation {
    /// `x·sigmoid(x)`.
    Silu,
    /// `x·Φ(x)`, Φ the standard normal distribution function.
    Gelu,
    /// `max(x, 0)`.
    Relu,
    /// `tanh(x)`.
    Tanh,
    /// `x` unchanged.
    Identity,
}

impl Activation {
    /// The name `model.json` records.
    pub fn name(self) -> &'static str {
        match self {
            Activation::Silu => "silu",
            Activation::Gelu => "gelu",
            Activation::Relu => "relu",
            Activation::Tanh => "tanh",
            Activation::Identity => "identity",
        }
    }

    pub(crate) fn apply(self, x: Tensor<2>) -> Tensor<2> {
        match self {
            // Fused: one pass each way instead of burn's x·sigmoid(x).
            Activation::Silu => bimt_kernels::silu(x),
            Activation::Gelu => bimt_kernels::gelu(x),
            Activation::Relu => activation::relu(x),
            Activation::Tanh => activation::tanh(x),
            Activation::Identity => x,
        }
    }
}

/// How a layer's neurons are placed within it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PlacementSpec {
    /// Evenly on a line (the paper's 2D embedding).
    #[default]
    Line,
    /// On the most nearly square grid that holds the layer.
    Grid,
    /// On a ring of radius 1/4 around the centre.
    Ring,
}

/// One layer: neurons, or (a [`Role::Tokens`] layer) token ids.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "LayerFile", into = "LayerFile")]
pub struct LayerSpec {
    /// Unique name.
    pub name: String,
    /// Number of neurons; for a token layer, the number of token positions (`positions` in
    /// the file), the data columns of ids it takes.
    pub size: usize,
    /// `input`, `hidden` (default) or `output`; an input with `tokens` is a token layer.
    pub role: Role,
    /// Default: `silu` for hidden layers, `identity` for output layers, for a layer an
    /// embedding feeds and for a layer fed by pools alone (input layers hold data and take
    /// none).
    pub activation: Option<Activation>,
    /// `line` (default), `grid` or `ring`. Line layers at one depth share the line, side by
    /// side.
    pub placement: PlacementSpec,
    /// Position along the stacking axis, in layer gaps; default: the longest path from an
    /// input layer (a layer an embedding feeds is where the data enters: depth 0).
    pub depth: Option<f64>,
    /// Its neurons never move (image pixels).
    pub fixed: bool,
    /// Makes it a layer of self-attention (see [`AttentionSpec`]).
    pub attention: Option<AttentionSpec>,
    /// A learned table `[sequence, size]` whose row `t` is added to the layer's
    /// pre-activation at position `t` (learned positional embeddings); its columns move with
    /// the neurons.
    pub learned_positions: bool,
    /// Makes it a layer of feature maps `[H, W]`, one per channel (`"channels": C` in the
    /// file; `size` counts the channels, which are its neurons). An input layer of feature
    /// maps holds `C·H·W` data columns, channel-major (column `c·H·W + y·W + x`), as a NumPy
    /// array `[n, C, H, W]` flattens; its channels never move.
    pub shape: Option<[usize; 2]>,
}

impl LayerSpec {
    /// The numbers the layer holds per sample: its neurons, times `H·W` for feature maps.
    pub fn data_width(&self) -> usize {
        self.size * self.shape.map_or(1, |[h, w]| h * w)
    }

    /// Whether its neurons never move: `fixed`, or an input of feature maps (the channels of
    /// the data's images).
    pub fn never_moves(&self) -> bool {
        self.fixed || (self.role == Role::Input && self.shape.is_some())
    }
}

/// A layer as the file spells it: `size` for neurons, `tokens` and `positions` for ids.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct LayerFile {
    name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    size: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    channels: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    shape: Option<[usize; 2]>,
    #[serde(default)]
    role: FileRole,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tokens: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    positions: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    activation: Option<Activation>,
    #[serde(default)]
    placement: PlacementSpec,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    depth: Option<f64>,
    #[serde(default)]
    fixed: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    attention: Option<AttentionSpec>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    learned_positions: bool,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum FileRole {
    Input,
    #[default]
    Hidden,
    Output,
}

impl TryFrom<LayerFile> for LayerSpec {
    type Error = String;

    fn try_from(f: LayerFile) -> Result<Self, String> {
        let what = format!("layer '{}'", f.name);
        let role = match (f.tokens, f.role) {
            (None, FileRole::Input) => Role::Input,
            (None, FileRole::Hidden) => Role::Hidden,
            (None, FileRole::Output) => Role::Output,
            (Some(0), _) => {
                return Err(format!(
                    "{what}: \"tokens\": 0; expected a vocabulary of at least 1 token"
                ));
            }
            (Some(vocabulary), FileRole::Input) => Role::Tokens { vocabulary },
            (Some(_), role) => {
                return Err(format!(
                    "{what}: \"tokens\" makes a layer of token ids, which is an input; expected \
                     \"role\": \"input\", found \"{}\"",
                    serde_name(role)
                ));
            }
        };
        let size = match (f.channels, f.shape, f.size) {
            (Some(channels), Some(_), None) => Some(channels),
            (None, None, size) => size,
            (Some(_), None, _) => {
                return Err(format!(
                    "{what}: \"channels\" makes a layer of feature maps; expected \"shape\": \
                     [H, W] beside it"
                ));
            }
            (None, Some(_), _) => {
                return Err(format!(
                    "{what}: \"shape\" makes a layer of feature maps, whose neurons are its \
                     channels; expected \"channels\": C (and no \"size\")"
                ));
            }
            (Some(_), Some(_), Some(_)) => {
                return Err(format!(
                    "{what}: a layer of feature maps counts its \"channels\"; remove \"size\""
                ));
            }
        };
        if let (Role::Tokens { .. }, Some(_)) = (role, f.shape) {
            return Err(format!(
                "{what}: a token layer holds ids, not feature maps; remove \"shape\""
            ));
        }
        let size = match (role, size, f.positions) {
            (Role::Tokens { .. }, Some(size), _) => {
                return Err(format!(
                    "{what}: a token layer has no neurons, so no \"size\" (found {size}); \
                     \"positions\" counts its ids per row, and the layer its embedding feeds \
                     has the neurons"
                ));
            }
            (Role::Tokens { .. }, None, Some(0)) => {
                return Err(format!(
                    "{what}: \"positions\": 0; expected 1 or more token positions"
                ));
            }
            (Role::Tokens { .. }, None, positions) => positions.unwrap_or(1),
            (_, _, Some(_)) => {
                return Err(format!(
                    "{what}: \"positions\" counts the ids of a token layer; expected \
                     \"tokens\": V beside it (a layer of numbers has a \"size\")"
                ));
            }
            (_, Some(size), None) => size,
            (_, None, None) => {
                return Err(format!(
                    "{what} has no \"size\"; expected its number of neurons"
                ));
            }
        };
        if matches!(role, Role::Tokens { .. }) {
            let neuron_fields = [
                ("activation", f.activation.is_some()),
                ("placement", f.placement != PlacementSpec::Line),
                ("depth", f.depth.is_some()),
                ("fixed", f.fixed),
                ("attention", f.attention.is_some()),
                ("learned_positions", f.learned_positions),
            ];
            if let Some((field, _)) = neuron_fields.iter().find(|(_, given)| *given) {
                return Err(format!(
                    "{what}: a token layer holds ids, not neurons, and takes no \"{field}\"; \
                     give it to the layer its embedding feeds"
                ));
            }
        }
        Ok(LayerSpec {
            name: f.name,
            size,
            role,
            activation: f.activation,
            placement: f.placement,
            depth: f.depth,
            fixed: f.fixed,
            attention: f.attention,
            learned_positions: f.learned_positions,
            shape: f.shape,
        })
    }
}

impl From<LayerSpec> for LayerFile {
    fn from(l: LayerSpec) -> Self {
        let (role, size, tokens, positions) = match l.role {
            Role::Input => (FileRole::Input, Some(l.size), None, None),
            Role::Hidden => (FileRole::Hidden, Some(l.size), None, None),
            Role::Output => (FileRole::Output, Some(l.size), None, None),
            Role::Tokens { vocabulary } => (FileRole::Input, None, Some(vocabulary), Some(l.size)),
        };
        let (size, channels) = match l.shape {
            Some(_) => (None, size),
            None => (size, None),
        };
        LayerFile {
            name: l.name,
            size,
            channels,
            shape: l.shape,
            role,
            tokens,
            positions,
            activation: l.activation,
            placement: l.placement,
            depth: l.depth,
            fixed: l.fixed,
            attention: l.attention,
            learned_positions: l.learned_positions,
        }
    }
}

/// The name serde gives a unit variant.
fn serde_name<T: Serialize>(value: T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(name)) => name,
        _ => String::new(),
    }
}

/// What an edge does.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EdgeKind {
    /// A weight matrix and, unless `bias` is false, a bias.
    #[default]
    Linear,
    /// The source's values, unchanged (a residual skip).
    Identity,
    /// From a token layer: each id's row of a learned table `[vocabulary, size(to)]`, one
    /// column per neuron of the target (which moves with it); no bias.
    Embedding,
    /// Into an output layer of one neuron per token, from a layer that shares the embedded
    /// layer's permutation (the residual stream): `value · tableᵀ`, the token table tied as
    /// the output projection (no weight of its own, no bias; the output layer is fixed,
    /// since its neurons are the table's rows).
    Unembedding,
    /// Between layers of feature maps: a 2-D convolution with a square `kernel`, `stride`
    /// (default 1) and zero `padding` (default 0), and a bias unless `bias` is false. Its
    /// weight `[kernel²·C_in, C_out]` holds tap `t = ky·kernel + kx` of input channel `i` in
    /// row `t·C_in + i` (PyTorch's `weight[o, i, ky, kx]` at column `o`).
    Conv2d,
    /// Between layers of feature maps with the same channels: `max` (default) or `average`
    /// over square windows (`kernel`, `stride` default `kernel`, no padding). The two layers
    /// share one permutation.
    Pool,
    /// From a layer of feature maps into a layer of neurons: a linear edge over the maps,
    /// pixel-major (input `p·C + c` is pixel `p = y·W + x` of channel `c`), so each channel
    /// owns a block of `H·W` rows of the weight, one per pixel; a bias unless `bias` is false.
    Flatten,
}

impl EdgeKind {
    /// The kind's name in the file.
    pub fn name(self) -> &'static str {
        match self {
            EdgeKind::Linear => "linear",
            EdgeKind::Identity => "identity",
            EdgeKind::Embedding => "embedding",
            EdgeKind::Unembedding => "unembedding",
            EdgeKind::Conv2d => "conv2d",
            EdgeKind::Pool => "pool",
            EdgeKind::Flatten => "flatten",
        }
    }
}

/// One edge.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EdgeSpec {
    /// Source layer.
    pub from: String,
    /// Target layer.
    pub to: String,
    /// `linear` (default), `identity`, `embedding`, `unembedding`, `conv2d`, `pool` or
    /// `flatten`.
    #[serde(default)]
    pub kind: EdgeKind,
    /// Whether a linear, conv2d or flatten edge has a bias (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bias: Option<bool>,
    /// A conv2d or pool edge's square window, in pixels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kernel: Option<usize>,
    /// Pixels between windows (default 1 for conv2d, `kernel` for pool).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stride: Option<usize>,
    /// Zero pixels added on each side before a convolution (default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub padding: Option<usize>,
    /// A pool edge's reduction: `max` (default) or `average`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pool: Option<PoolKind>,
}

/// A declared coupling group.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupSpec {
    /// Name for errors and reports.
    pub name: String,
    /// Layers (of one size) that share one permutation.
    pub layers: Vec<String>,
    /// Neurons move only within blocks of this size, and whole blocks trade places
    /// (attention heads).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub block: Option<usize>,
}

/// How a `pool` edge reduces each window.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PoolKind {
    /// The largest value.
    #[default]
    Max,
    /// The mean.
    Average,
}

impl PoolKind {
    /// The name in the file and in `model.json`.
    pub fn name(self) -> &'static str {
        match self {
            PoolKind::Max => "max",
            PoolKind::Average => "average",
        }
    }
}

/// The layout error of `file`, or of the architecture itself.
pub(crate) fn invalid(message: String) -> LayoutError {
    LayoutError(message)
}
