//! A fully connected network for BIMT (paper §2): weight layers with biases, SiLU between
//! them, and a layout that places every neuron layer on a line (2D embedding) or on a grid or
//! ring (3D embedding), stacked one layer gap apart.
//!
//! ```
//! use bimt_mlp::{Mlp, MlpConfig};
//! let mlp = Mlp::new(&MlpConfig::lines(&[4, 20, 20, 2])).unwrap();
//! assert_eq!(mlp.layout().domains().len(), 4);
//! # use bimt_engine::Network;
//! ```

use bimt_engine::{Network, Tensor};
use bimt_layout::{
    ConnectionId, Domain, LayerId, Layout, LayoutBuilder, LayoutError, ParamId, Placement,
};

/// Nonlinearity between weight layers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Activation {
    /// `x·σ(x)`, the paper's choice.
    Silu,
    /// Gaussian error linear unit.
    Gelu,
}

impl Activation {
    /// Name written into `model.json`.
    pub fn name(self) -> &'static str {
        match self {
            Activation::Silu => "silu",
            Activation::Gelu => "gelu",
        }
    }

    fn apply(self, x: Tensor<2>) -> Tensor<2> {
        match self {
            Activation::Silu => burn::tensor::activation::silu(x),
            Activation::Gelu => burn::tensor::activation::gelu(x),
        }
    }
}

/// Shape and embedding of an MLP.
#[derive(Clone, Debug, PartialEq)]
pub struct MlpConfig {
    /// Neurons per layer, input first.
    pub widths: Vec<usize>,
    /// Placement of each layer (same length as `widths`).
    pub placements: Vec<Placement>,
    /// How many input values share each input neuron (concatenated token embeddings).
    pub input_fold: usize,
    /// Input neurons never move (image pixels).
    pub fixed_input: bool,
    /// The nonlinearity.
    pub activation: Activation,
}

impl MlpConfig {
    /// Every layer on a line: the paper's 2D embedding.
    pub fn lines(widths: &[usize]) -> Self {
        Self {
            widths: widths.to_vec(),
            placements: vec![Placement::Line; widths.len()],
            input_fold: 1,
            fixed_input: false,
            activation: Activation::Silu,
        }
    }

    /// The paper's 3D embedding of an image classifier (§3.5, Fig. 8, App. G): the input is
    /// the `rows × cols` pixel grid (pixel `r·cols + c` at `((c + 0.5)/cols, (r + 0.5)/rows)`),
    /// which never swaps; hidden layer `i` is a `hidden[i].0 × hidden[i].1` grid; the
    /// `outputs` neurons sit on a ring of radius 1/4 around the centre `(0.5, 0.5)` (the
    /// reference code's choice). Layers stack one gap apart (depth 0, 1, 2, ...), so a metric
    /// with layer gap `y*` measures distances in 3D.
    ///
    /// ```
    /// use bimt_mlp::{Mlp, MlpConfig};
    /// let config = MlpConfig::image(28, 28, &[(10, 10), (10, 10)], 10);
    /// assert_eq!(config.widths, vec![784, 100, 100, 10]);
    /// assert!(Mlp::new(&config).is_ok());
    /// ```
    pub fn image(rows: usize, cols: usize, hidden: &[(usize, usize)], outputs: usize) -> Self {
        let mut widths = vec![rows * cols];
        let mut placements = vec![Placement::Grid { rows, cols }];
        for &(rows, cols) in hidden {
            widths.push(rows * cols);
            placements.push(Placement::Grid { rows, cols });
        }
        widths.push(outputs);
        placements.push(Placement::Ring {
            center: [0.5, 0.5].into(),
            radius: 0.25,
        });
        Self {
            widths,
            placements,
            input_fold: 1,
            fixed_input: true,
            activation: Activation::Silu,
        }
    }
}

/// The MLP: its layout and the ids of its parameters.
#[derive(Clone, Debug)]
pub struct Mlp {
    layout: Layout,
    layers: Vec<LayerId>,
    weights: Vec<(ParamId, ParamId)>,
    activation: Activation,
}

impl Mlp {
    /// Builds the layout; inconsistent widths or placements are reported by layer name.
    pub fn new(config: &MlpConfig) -> Result<Self, LayoutError> {
        if config.widths.len() < 2 {
            return Err(LayoutError(format!(
                "an MLP needs at least an input and an output layer, got widths {:?}",
                config.widths
            )));
        }
        if config.placements.len() != config.widths.len() {
            return Err(LayoutError(format!(
                "{} placements for {} layers",
                config.placements.len(),
                config.widths.len()
            )));
        }
        let mut b = LayoutBuilder::new();
        let last = config.widths.len() - 1;
        let layers: Vec<LayerId> = config
            .widths
            .iter()
            .zip(&config.placements)
            .enumerate()
            .map(|(i, (&w, p))| {
                let name = match i {
                    0 => "input".to_string(),
                    i if i == last => "output".to_string(),
                    i => format!("hidden{i}"),
                };
                b.layer(&name, w, p.clone(), i as f64)
            })
            .collect();
        let mut connections = Vec::new();
        for (i, pair) in layers.windows(2).enumerate() {
            let fold = if i == 0 { config.input_fold } else { 1 };
            connections.push(b.folded_linear(pair[0], pair[1], fold, 1, true));
        }
        if config.fixed_input {
            b.domain(Domain {
                name: "input".into(),
                layers: vec![layers[0]],
                block: None,
                fixed: true,
                extra_axes: Vec::new(),
            });
        }
        b.input(layers[0]).output(layers[last]);
        let layout = b.build()?;
        let weights = connections
            .iter()
            .map(|&c| {
                let c = &layout.graph()[c];
                (c.weight, c.bias.expect("MLP connections have biases"))
            })
            .collect();
        Ok(Self {
            layout,
            layers,
            weights,
            activation: config.activation,
        })
    }

    /// The neuron layers, input first.
    pub fn layers(&self) -> &[LayerId] {
        &self.layers
    }

    /// Forward pass that also returns every hidden layer's activations (for probing).
    pub fn forward_all(&self, params: &[Tensor<2>], x: Tensor<2>) -> Vec<Tensor<2>> {
        let mut outs = Vec::with_capacity(self.weights.len());
        let mut h = x;
        for (i, &(w, b)) in self.weights.iter().enumerate() {
            h = h.matmul(params[w].clone()) + params[b].clone();
            if i + 1 < self.weights.len() {
                h = self.activation.apply(h);
            }
            outs.push(h.clone());
        }
        outs
    }
}

impl Network for Mlp {
    fn layout(&self) -> &Layout {
        &self.layout
    }

    fn forward(&self, params: &[Tensor<2>], x: Tensor<2>) -> Tensor<2> {
        self.forward_all(params, x)
            .pop()
            .expect("at least one weight layer")
    }

    fn activation(&self) -> String {
        self.activation.name().to_string()
    }

    fn connection_activation(&self, connection: ConnectionId) -> Option<String> {
        self.layout
            .is_last(connection)
            .then(|| "identity".to_string())
    }
}
