//! A LayerNorm-free decoder-only transformer for BIMT (paper §3.4 and App. F), declaring its
//! layout so that the engine's regulariser and swapper work on it unchanged.
//!
//! # Architecture
//!
//! Tokens go through an input linear `token_dim → width`, then `depth` blocks of
//! causal multi-head attention (a packed Q,K,V projection `width → 3·width`, scaled dot
//! products over the contiguous `head_dim` slice of each head, a causal mask, an output
//! projection `width → width`, residual add) and a GELU MLP (`width → mlp_ratio·width →
//! width`, residual add), then an output linear `width → out_dim`. There is no positional
//! embedding and no LayerNorm, as in the paper. Every linear has a bias.
//!
//! # Layout and coupling groups
//!
//! The neuron layers are named as in the paper's Fig. 7 and stacked at consecutive depths:
//! `input`, `res0`, then for each block `i = 1..=depth`: `atn{i}`, `res{2i-1}`, `mlp{i}`,
//! `res{2i}`, and finally `output`. The connections are `input → res0`,
//! `res{2i-2} → atn{i}` (the packed Q,K,V projection, `out_fold = 3`),
//! `atn{i} → res{2i-1}` (the output projection), `res{2i-1} → mlp{i}`, `mlp{i} → res{2i}` and
//! `res{2·depth} → output`, and the identity edges of the residual adds,
//! `res{2i-2} → res{2i-1}` and `res{2i-1} → res{2i}` (so that `model.json` describes the
//! function whole).
//!
//! Swaps must leave the network's function unchanged (App. F), which the layout expresses as
//! coupling groups, with nothing special-cased in the engine:
//!
//! - **`residual`**: every `res*` layer is in one domain. The residual adds make each
//!   residual layer the sum of earlier ones, so they all share one permutation.
//! - **`atn{i}`**: a domain with `block = head_dim`. Its neurons are the columns of Q, K and V
//!   (the `out_fold = 3` of the packed projection moves the three slices together, so
//!   `q·kᵀ` is unchanged) and the rows of the output projection (so the permuted values land
//!   where the projection expects them). A neuron may move only within its head, and whole
//!   heads may trade places.
//! - **`mlp{i}`**, **`input`**, **`output`**: free domains (one per layer). The engine tracks
//!   the order of the input and output neurons.
//!
//! ```
//! use bimt_engine::Network;
//! use bimt_transformer::{Transformer, TransformerConfig};
//! let t = Transformer::new(TransformerConfig::in_context()).unwrap();
//! let names: Vec<_> = t.layout().domains().iter().map(|d| d.name.as_str()).collect();
//! assert_eq!(names, ["residual", "atn1", "atn2", "input", "mlp1", "mlp2", "output"]);
//! ```

#![warn(missing_docs)]

use bimt_engine::{AttentionFile, Network, Tensor, TensorData};
use bimt_layout::{
    ConnectionId, Direction, Domain, LayerId, Layout, LayoutBuilder, LayoutError, ParamId,
    Placement,
};
use burn::tensor::Device;
use burn::tensor::activation::softmax;
use std::sync::OnceLock;

/// Shape of a [`Transformer`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TransformerConfig {
    /// Features per input token.
    pub token_dim: usize,
    /// Outputs per token.
    pub out_dim: usize,
    /// Width of the residual stream (the embedding size).
    pub width: usize,
    /// Number of blocks (attention + MLP).
    pub depth: usize,
    /// Attention heads per block; must divide `width`.
    pub heads: usize,
    /// The MLP's hidden layer has `mlp_ratio·width` neurons.
    pub mlp_ratio: usize,
    /// Tokens per sequence: `forward` reads `rows / seq_len` sequences.
    pub seq_len: usize,
}

impl TransformerConfig {
    /// The paper's in-context linear regression model: 2-D tokens, width 32, two blocks of
    /// single-head attention, MLP ratio 4, sequences of three tokens.
    pub fn in_context() -> Self {
        Self {
            token_dim: 2,
            out_dim: 2,
            width: 32,
            depth: 2,
            heads: 1,
            mlp_ratio: 4,
            seq_len: 3,
        }
    }

    /// Neurons per attention head.
    pub fn head_dim(&self) -> usize {
        self.width / self.heads.max(1)
    }
}

/// Weight and bias of one linear.
#[derive(Clone, Copy, Debug)]
struct Linear {
    weight: ParamId,
    bias: ParamId,
}

impl Linear {
    fn of(layout: &Layout, connection: ConnectionId) -> Self {
        let c = &layout.graph()[connection];
        Self {
            weight: c.weight,
            bias: c.bias.expect("transformer linears have biases"),
        }
    }

    fn apply(self, params: &[Tensor<2>], x: Tensor<2>) -> Tensor<2> {
        bimt_kernels::add_bias(
            bimt_kernels::matmul(x, params[self.weight].clone()),
            params[self.bias].clone(),
        )
    }
}

/// The linears of one block.
#[derive(Clone, Copy, Debug)]
struct Block {
    qkv: Linear,
    proj: Linear,
    fc1: Linear,
    fc2: Linear,
}

/// The transformer: its layout and the ids of its parameters.
#[derive(Clone, Debug)]
pub struct Transformer {
    config: TransformerConfig,
    layout: Layout,
    residuals: Vec<LayerId>,
    embed: Linear,
    blocks: Vec<Block>,
    unembed: Linear,
    attention: Vec<ConnectionId>,
    gelu: Vec<ConnectionId>,
    /// Additive causal mask `[1, 1, seq_len, seq_len]`, built once on the first device used.
    mask: OnceLock<Tensor<4>>,
}

impl Transformer {
    /// Builds the layout; an inconsistent configuration (heads not dividing the width, an
    /// empty dimension) is reported with the numbers involved.
    pub fn new(config: TransformerConfig) -> Result<Self, LayoutError> {
        let TransformerConfig {
            token_dim,
            out_dim,
            width,
            depth,
            heads,
            mlp_ratio,
            seq_len,
        } = config;
        if heads == 0 || width % heads != 0 {
            return Err(LayoutError(format!(
                "the number of attention heads ({heads}) must divide the width ({width})"
            )));
        }
        if seq_len == 0 {
            return Err(LayoutError(
                "a transformer needs seq_len of at least 1".into(),
            ));
        }
        let mut b = LayoutBuilder::new();
        let mut level = 0.0;
        let mut layer = |b: &mut LayoutBuilder, name: &str, size: usize| {
            let id = b.layer(name, size, Placement::Line, level);
            level += 1.0;
            id
        };
        let input = layer(&mut b, "input", token_dim);
        let res0 = layer(&mut b, "res0", width);
        let embed = b.linear(input, res0, true);
        let mut residuals = vec![res0];
        let mut connections = Vec::with_capacity(depth);
        let mut attention_layers = Vec::with_capacity(depth);
        for i in 1..=depth {
            let atn = layer(&mut b, &format!("atn{i}"), width);
            let mid = layer(&mut b, &format!("res{}", 2 * i - 1), width);
            let mlp = layer(&mut b, &format!("mlp{i}"), mlp_ratio * width);
            let out = layer(&mut b, &format!("res{}", 2 * i), width);
            let last = residuals[residuals.len() - 1];
            let qkv = b.folded_linear(last, atn, 1, 3, true);
            let proj = b.linear(atn, mid, true);
            let fc1 = b.linear(mid, mlp, true);
            let fc2 = b.linear(mlp, out, true);
            // The residual adds, recorded so that model.json describes the function whole.
            b.identity(last, mid).identity(mid, out);
            connections.push([qkv, proj, fc1, fc2]);
            attention_layers.push(atn);
            residuals.extend([mid, out]);
        }
        let output = layer(&mut b, "output", out_dim);
        let unembed = b.linear(residuals[residuals.len() - 1], output, true);
        b.domain(Domain {
            name: "residual".into(),
            layers: residuals.clone(),
            block: None,
            fixed: false,
            extra_axes: Vec::new(),
        });
        for (i, &atn) in attention_layers.iter().enumerate() {
            b.domain(Domain {
                name: format!("atn{}", i + 1),
                layers: vec![atn],
                block: Some(width / heads),
                fixed: false,
                extra_axes: Vec::new(),
            });
        }
        b.input(input).output(output);
        let layout = b.build()?;
        let blocks = connections
            .iter()
            .map(|&[qkv, proj, fc1, fc2]| Block {
                qkv: Linear::of(&layout, qkv),
                proj: Linear::of(&layout, proj),
                fc1: Linear::of(&layout, fc1),
                fc2: Linear::of(&layout, fc2),
            })
            .collect();
        Ok(Self {
            config,
            embed: Linear::of(&layout, embed),
            unembed: Linear::of(&layout, unembed),
            attention: connections.iter().map(|c| c[0]).collect(),
            gelu: connections.iter().map(|c| c[2]).collect(),
            blocks,
            residuals,
            layout,
            mask: OnceLock::new(),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &TransformerConfig {
        &self.config
    }

    /// The residual layers `res0 ..= res{2·depth}`, in order.
    pub fn residual_layers(&self) -> &[LayerId] {
        &self.residuals
    }

    /// The hidden activations of every residual layer, `res0 ..= res{2·depth}`, each
    /// `[rows, width]` with rows ordered like `x` (for probing what the stream encodes).
    /// `x` is in the network's current input order, as [`Network::forward`] takes it.
    ///
    /// # Panics
    ///
    /// If the number of rows is not a multiple of `seq_len`.
    pub fn forward_residuals(&self, params: &[Tensor<2>], x: Tensor<2>) -> Vec<Tensor<2>> {
        let mut residuals = Vec::with_capacity(self.residuals.len());
        self.trunk(params, x, &mut |h| residuals.push(h.clone()));
        residuals
    }

    /// Runs the input linear and every block, handing each residual layer to `record`, and
    /// returns the last residual layer.
    fn trunk(
        &self,
        params: &[Tensor<2>],
        x: Tensor<2>,
        record: &mut dyn FnMut(&Tensor<2>),
    ) -> Tensor<2> {
        let [rows, _] = x.dims();
        let t = self.config.seq_len;
        assert!(
            rows % t == 0,
            "the transformer reads sequences of {t} tokens, but got {rows} rows (not a multiple of {t})"
        );
        let batch = rows / t;
        let (heads, width) = (self.config.heads, self.config.width);
        let head_dim = width / heads;
        let scale = 1.0 / (head_dim as f64).sqrt();
        let mask = self.mask(&x.device());
        let mut h = self.embed.apply(params, x);
        record(&h);
        for block in &self.blocks {
            // Q, K and V each through their own column slice of the packed projection (cheaper
            // on the CPU than slicing the packed output), as [batch, heads, t, head_dim].
            let project = |part: usize| {
                let w = params[block.qkv.weight]
                    .clone()
                    .narrow(1, part * width, width);
                let b = params[block.qkv.bias]
                    .clone()
                    .narrow(1, part * width, width);
                bimt_kernels::add_bias(bimt_kernels::matmul(h.clone(), w), b)
                    .reshape([batch, t, heads, head_dim])
                    .swap_dims(1, 2)
            };
            let (q, k, v) = (project(0), project(1), project(2));
            let scores = q.matmul(k.swap_dims(2, 3)).mul_scalar(scale) + mask.clone();
            let attended = softmax(scores, 3)
                .matmul(v)
                .swap_dims(1, 2)
                .reshape([rows, width]);
            h = h + block.proj.apply(params, attended);
            record(&h);
            h = h.clone()
                + block
                    .fc2
                    .apply(params, bimt_kernels::gelu(block.fc1.apply(params, h)));
            record(&h);
        }
        h
    }

    /// The additive causal mask for `device`: 0 where token `t` may attend to token `s ≤ t`,
    /// −∞ above the diagonal. Built once and reused on the device of the first call.
    fn mask(&self, device: &Device) -> Tensor<4> {
        let build = || {
            let t = self.config.seq_len;
            let values: Vec<f32> = (0..t * t)
                .map(|i| {
                    if i % t > i / t {
                        f32::NEG_INFINITY
                    } else {
                        0.0
                    }
                })
                .collect();
            Tensor::from_data(TensorData::new(values, [1, 1, t, t]), device)
        };
        let cached = self.mask.get_or_init(build);
        if cached.device() == *device {
            cached.clone()
        } else {
            build()
        }
    }
}

impl Network for Transformer {
    fn layout(&self) -> &Layout {
        &self.layout
    }

    /// `x` is `[batch·seq_len, token_dim]`, sequence-major (row `b·seq_len + t` is token `t` of
    /// sequence `b`); the result is `[batch·seq_len, out_dim]` in the same row order.
    ///
    /// # Panics
    ///
    /// If the number of rows is not a multiple of `seq_len`.
    fn forward(&self, params: &[Tensor<2>], x: Tensor<2>) -> Tensor<2> {
        let h = self.trunk(params, x, &mut |_| {});
        self.unembed.apply(params, h)
    }

    fn activation(&self) -> String {
        "gelu".into()
    }

    fn example_input(&self, device: &Device) -> Tensor<2> {
        let rows = 2 * self.config.seq_len;
        Tensor::random(
            [rows, self.config.token_dim],
            burn::tensor::Distribution::Uniform(-1.0, 1.0),
            device,
        )
    }

    fn layer_activation(&self, layer: LayerId) -> String {
        self.layout
            .connections_at(layer, Direction::Incoming)
            .next()
            .and_then(|(id, _)| self.connection_activation(id))
            .unwrap_or_else(|| "identity".into())
    }

    fn sequence(&self) -> Option<usize> {
        Some(self.config.seq_len)
    }

    fn attention(&self, layer: LayerId) -> Option<AttentionFile> {
        self.attention
            .iter()
            .any(|&c| self.layout.graph().edge_endpoints(c).map(|(_, to)| to) == Some(layer))
            .then_some(AttentionFile {
                heads: self.config.heads,
                causal: true,
            })
    }

    fn connection_activation(&self, connection: ConnectionId) -> Option<String> {
        let name = if self.attention.contains(&connection) {
            "attention"
        } else if self.gelu.contains(&connection) {
            "gelu"
        } else {
            "identity"
        };
        Some(name.into())
    }
}
