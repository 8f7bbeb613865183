//! A residual MLP, registered with BIMT the way a user registers any architecture.
//!
//! ```text
//!   input ──W_in──▶ s0 ──W_a1──▶ h1 ──W_b1──▶ (+) ──▶ s1 ──W_a2──▶ h2 ──W_b2──▶ (+) ──▶ s2 ──W_out──▶ output
//!                    └──────────────── skip ──────────▲  └──────────────── skip ──────────▲
//! ```
//!
//! `s_k = s_{k-1} + W_bk·silu(W_ak·s_{k-1})`. The skip adds `s_{k-1}` to `s_k` position by
//! position, so a swap of two neurons of `s1` is only harmless if the same two neurons swap in
//! `s0` and `s2`: the stream layers form one **coupling group**. The hidden layers `h_k` have
//! no skip and move freely. That is all BIMT needs to know; the engine derives which weight
//! rows and columns each permutation moves from the connections.

use bimt_engine::{Network, Tensor};
use bimt_layout::{
    ConnectionId, Domain, LayerId, Layout, LayoutBuilder, LayoutError, ParamId, Placement,
};
use burn::tensor::activation::silu;

/// Sizes of the residual MLP.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ResidualMlpConfig {
    /// Input features.
    pub inputs: usize,
    /// Width of the residual stream.
    pub width: usize,
    /// Width of each block's hidden layer.
    pub hidden: usize,
    /// Number of residual blocks.
    pub blocks: usize,
    /// Outputs.
    pub outputs: usize,
}

/// One linear map: weight and bias ids.
#[derive(Clone, Copy, Debug)]
struct Linear {
    weight: ParamId,
    bias: ParamId,
}

impl Linear {
    fn apply(&self, params: &[Tensor<2>], x: Tensor<2>) -> Tensor<2> {
        x.matmul(params[self.weight].clone()) + params[self.bias].clone()
    }
}

/// The residual MLP: its layout and its parameter ids.
#[derive(Clone, Debug)]
pub struct ResidualMlp {
    layout: Layout,
    input: Linear,
    blocks: Vec<(Linear, Linear)>,
    output: Linear,
    /// The stream layers `s0..s_blocks`, for inspection.
    pub stream: Vec<LayerId>,
}

impl ResidualMlp {
    /// Declares the layout: one layer per neuron layer, one connection per weight matrix, and
    /// the coupling group of the residual stream.
    pub fn new(config: ResidualMlpConfig) -> Result<Self, LayoutError> {
        let mut b = LayoutBuilder::new();
        let mut depth = 0.0;
        let mut next_depth = || {
            depth += 1.0;
            depth - 1.0
        };
        let input = b.layer("input", config.inputs, Placement::Line, next_depth());
        let mut stream = vec![b.layer("s0", config.width, Placement::Line, next_depth())];
        let mut connections = vec![b.linear(input, stream[0], true)];
        for k in 1..=config.blocks {
            let hidden = b.layer(
                &format!("h{k}"),
                config.hidden,
                Placement::Line,
                next_depth(),
            );
            let next = b.layer(
                &format!("s{k}"),
                config.width,
                Placement::Line,
                next_depth(),
            );
            connections.push(b.linear(stream[k - 1], hidden, true));
            connections.push(b.linear(hidden, next, true));
            stream.push(next);
        }
        let output = b.layer("output", config.outputs, Placement::Line, next_depth());
        connections.push(b.linear(*stream.last().expect("s0 exists"), output, true));
        // The coupling group: every stream layer shares one permutation.
        b.domain(Domain {
            name: "stream".into(),
            layers: stream.clone(),
            block: None,
            fixed: false,
            extra_axes: vec![],
        });
        b.input(input).output(output);
        let layout = b.build()?;
        let linear = |c: ConnectionId| {
            let c = &layout.graph()[c];
            Linear {
                weight: c.weight,
                bias: c.bias.expect("declared with a bias"),
            }
        };
        let blocks = connections[1..connections.len() - 1]
            .chunks(2)
            .map(|p| (linear(p[0]), linear(p[1])))
            .collect();
        Ok(Self {
            input: linear(connections[0]),
            blocks,
            output: linear(*connections.last().expect("output connection")),
            layout,
            stream,
        })
    }
}

impl Network for ResidualMlp {
    fn layout(&self) -> &Layout {
        &self.layout
    }

    fn forward(&self, params: &[Tensor<2>], x: Tensor<2>) -> Tensor<2> {
        let mut s = self.input.apply(params, x);
        for (a, b) in &self.blocks {
            s = s.clone() + b.apply(params, silu(a.apply(params, s)));
        }
        self.output.apply(params, s)
    }

    fn activation(&self) -> String {
        "silu".into()
    }

    fn connection_activation(&self, connection: ConnectionId) -> Option<String> {
        // Only the block's first matrix is followed by SiLU; the others feed a sum or the output.
        let c = &self.layout.graph()[connection];
        let into_hidden = self.blocks.iter().any(|(a, _)| a.weight == c.weight);
        (!into_hidden).then(|| "identity".into())
    }
}
