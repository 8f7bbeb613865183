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

#![warn(missing_docs)]

use bimt_engine::{Device, Network, Tensor, TensorData};
use bimt_layout::{
    Axis, ConnectionId, Domain, LayerId, Layout, LayoutBuilder, LayoutError, ParamId, ParamSpec,
    Placement,
};
use burn::tensor::Distribution;

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

    /// The activation of `x + bias`, fused for SiLU: one pass each way instead of burn's
    /// broadcast sum and `x·sigmoid(x)`.
    fn apply_with_bias(self, x: Tensor<2>, bias: Tensor<2>) -> Tensor<2> {
        match self {
            Activation::Silu => bimt_kernels::silu_with_bias(x, bias),
            Activation::Gelu => bimt_kernels::gelu(bimt_kernels::add_bias(x, bias)),
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
    /// Token embeddings: a vocabulary of this many tokens, each a trainable vector of the
    /// input layer's width (drawn from N(0, 1), charged `y*·|E|` like a bias). The input is
    /// then `input_fold` token ids per row, and their embeddings, concatenated, feed the first
    /// weight layer: the tokens share the input neurons, which swap with the embedding's
    /// columns.
    pub token_vocabulary: Option<usize>,
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
            token_vocabulary: None,
            activation: Activation::Silu,
        }
    }

    /// The paper's algorithmic-task MLP (§3.3, Fig. 5, 6): `tokens` token ids per row, each
    /// embedded into the first of `widths` (its embedding width `d`) from a vocabulary of
    /// `vocabulary`, then the rest of `widths`, every layer on a line.
    ///
    /// ```
    /// use bimt_mlp::{Mlp, MlpConfig};
    /// let config = MlpConfig::token_embedding(59, 2, &[32, 50, 50, 59]);
    /// let mlp = Mlp::new(&config).unwrap();
    /// # use bimt_engine::Network;
    /// assert!(mlp.token_embedding().is_some());
    /// ```
    pub fn token_embedding(vocabulary: usize, tokens: usize, widths: &[usize]) -> Self {
        Self {
            input_fold: tokens,
            token_vocabulary: Some(vocabulary),
            ..Self::lines(widths)
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
            token_vocabulary: None,
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
    /// The token embedding `[vocabulary, input width]` and the tokens per row.
    embedding: Option<(ParamId, usize)>,
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
        let embedding = match config.token_vocabulary {
            Some(0) => {
                return Err(LayoutError(
                    "token embedding: the vocabulary has no tokens".into(),
                ));
            }
            Some(vocabulary) => Some(b.param(ParamSpec {
                name: "embedding".into(),
                shape: [vocabulary, config.widths[0]],
                init_bound: 0.0,
                init_normal: Some(1.0),
                penalised_like_bias: true,
            })),
            None => None,
        };
        if config.fixed_input || embedding.is_some() {
            b.domain(Domain {
                name: "input".into(),
                layers: vec![layers[0]],
                block: None,
                fixed: config.fixed_input,
                extra_axes: embedding
                    .map(|param| Axis {
                        param,
                        axis: 1,
                        fold: 1,
                    })
                    .into_iter()
                    .collect(),
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
            embedding: embedding.map(|e| (e, config.input_fold)),
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
            let product = match self.embedding {
                Some((embedding, _)) if i == 0 => {
                    bimt_kernels::token_product(params[embedding].clone(), params[w].clone(), h)
                }
                _ => bimt_kernels::matmul(h, params[w].clone()),
            };
            h = if i + 1 < self.weights.len() {
                self.activation.apply_with_bias(product, params[b].clone())
            } else {
                bimt_kernels::add_bias(product, params[b].clone())
            };
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

    fn token_embedding(&self) -> Option<ParamId> {
        self.embedding.map(|(e, _)| e)
    }

    fn example_input(&self, device: &Device) -> Tensor<2> {
        // Folded inputs (several values per input neuron) fill the first weight's rows.
        let width = self.layout.params()[self.weights[0].0].shape[0];
        match self.embedding {
            // Token ids: every token of the vocabulary, in a few rows.
            Some((embedding, tokens)) => {
                let vocabulary = self.layout.params()[embedding].shape[0];
                let ids: Vec<f32> = (0..8 * tokens)
                    .map(|i| ((i * 7 + 3) % vocabulary) as f32)
                    .collect();
                Tensor::from_data(TensorData::new(ids, [8, tokens]), device)
            }
            None => Tensor::random([8, width], Distribution::Uniform(-1.0, 1.0), device),
        }
    }

    fn connection_activation(&self, connection: ConnectionId) -> Option<String> {
        self.layout
            .is_last(connection)
            .then(|| "identity".to_string())
    }
}
