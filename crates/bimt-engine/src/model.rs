//! What BIMT trains: the [`Network`] and [`Task`] traits, and the [`Model`] that holds a
//! network's parameters and its input and output order and permutes them.

use crate::params::{ParamStore, SwapMoments};
use bimt_format::{AttentionFile, WindowFile};
use bimt_layout::{ConnectionId, Direction, DomainId, LayerId, Layout, LayoutError, ParamId};
use burn::tensor::{Device, Distribution, Tensor};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use std::sync::Arc;

/// An architecture BIMT can train: a layout and a forward pass over the parameters it declares.
///
/// `forward` sees the parameters in their current (swapped) arrangement and the input in the
/// current input order; the engine keeps both consistent, so a model never deals with swaps.
pub trait Network {
    /// The layout graph: layers, connections, coupling groups.
    fn layout(&self) -> &Layout;

    /// Forward pass: `x` is `[rows, input features]`, the result `[rows, outputs]`.
    fn forward(&self, params: &[Tensor<2>], x: Tensor<2>) -> Tensor<2>;

    /// The activation written into `model.json` (`silu`, `gelu`, ...).
    fn activation(&self) -> String;

    /// The token embedding `[vocabulary, input width]`, where the input is token ids: row `t`
    /// is token `t`'s vector, its columns stored like the input layer's neurons.
    fn token_embedding(&self) -> Option<ParamId> {
        None
    }

    /// Tokens per sequence, for a model whose data rows come in sequences (row
    /// `b·sequence + t` is position `t` of sequence `b`).
    fn sequence(&self) -> Option<usize> {
        None
    }

    /// How `layer` attends, where it is a layer of self-attention fed by a packed Q, K, V
    /// projection (`model.json` records it).
    fn attention(&self, _layer: LayerId) -> Option<AttentionFile> {
        None
    }

    /// The `[H, W]` of a layer of feature maps, whose neurons are channels.
    fn layer_shape(&self, _layer: LayerId) -> Option<[usize; 2]> {
        None
    }

    /// The windows of a convolution (`model.json` records them).
    fn connection_window(&self, _connection: ConnectionId) -> Option<WindowFile> {
        None
    }

    /// The windows of a pool, where the layout's identity edge `from → to` is one.
    fn pool_window(&self, _from: LayerId, _to: LayerId) -> Option<WindowFile> {
        None
    }

    /// The learned positional table `[sequence, size]` added to `layer`'s pre-activation,
    /// where it has one.
    fn learned_positions(&self, _layer: LayerId) -> Option<ParamId> {
        None
    }

    /// A connection's own activation where it differs from [`activation`](Self::activation)
    /// (`identity` for the last layer, `attention` for a Q,K,V projection, ...).
    fn connection_activation(&self, _connection: ConnectionId) -> Option<String> {
        None
    }

    /// The activation a layer applies to the sum of its incoming edges, as `model.json`
    /// (format 2) records it: by default none on input layers, `identity` on output layers,
    /// and [`activation`](Self::activation) on the others.
    fn layer_activation(&self, layer: LayerId) -> String {
        let layout = self.layout();
        if layout.inputs().contains(&layer) || layout.outputs().contains(&layer) {
            "identity".into()
        } else {
            self.activation()
        }
    }

    /// A few valid input rows in the original feature order, for the coupling check of
    /// [`Model::new`]: by default 8 rows uniform in `[-1, 1]`, one column per input neuron.
    /// Models that read token ids or whole sequences override it.
    fn example_input(&self, device: &Device) -> Tensor<2> {
        let layout = self.layout();
        let width = layout.inputs().iter().map(|&l| layout.layer(l).size).sum();
        Tensor::random([8, width], Distribution::Uniform(-1.0, 1.0), device)
    }
}

/// A batch in the original feature order.
#[derive(Clone, Debug)]
pub struct Batch {
    /// `[rows, input features]`.
    pub x: Tensor<2>,
    /// What the rows should produce, `[rows, outputs]` in the original output order (one-hot
    /// rows for classification).
    pub target: Tensor<2>,
}

/// Losses and accuracy at one evaluation.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Evaluation {
    /// Loss on the whole training split.
    pub train_loss: f64,
    /// Loss on the test split (the figure the paper's Table 1 reports for regression).
    pub test_loss: f64,
    /// Test accuracy for classification.
    pub test_accuracy: Option<f64>,
}

/// Data and loss: what the network should learn.
pub trait Task {
    /// The training batch of `step` (the same batch every step for full-batch tasks).
    fn batch(&mut self, step: usize, device: &Device) -> Batch;

    /// The prediction loss of `prediction` (original output order) on `batch`.
    fn loss(&self, prediction: Tensor<2>, batch: &Batch) -> Tensor<1>;

    /// Evaluates a predictor (original feature order in and out) on both splits.
    fn evaluate(&self, predict: &dyn Fn(Tensor<2>) -> Tensor<2>, device: &Device) -> Evaluation;

    /// What the training and the test loss of [`evaluate`](Self::evaluate) average over, in
    /// words (`metrics.json` records them).
    fn loss_definitions(&self) -> [String; 2] {
        [
            "the loss averaged over the whole training split".into(),
            "the loss averaged over the whole test split".into(),
        ]
    }
}

/// A network, its parameters, and the order of its input and output neurons.
pub struct Model<N> {
    /// The architecture.
    pub network: N,
    /// Parameters and optimizer states.
    pub params: ParamStore,
    /// The input layers' orders, concatenated in input-layer order (global data columns).
    input_order: Vec<usize>,
    /// The output layers' orders, concatenated in output-layer order (global targets).
    output_order: Vec<usize>,
    /// The input's columns to take, in order, for the current orders (`None` while they are
    /// the identity).
    input_columns: Option<Arc<[usize]>>,
    /// The output's columns to take, in order, for the current orders (`None` likewise).
    output_columns: Option<Arc<[usize]>>,
}

/// A permutation the model cannot apply.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum PermuteError {
    /// The domain is declared fixed.
    #[error("domain '{0}' is fixed: its neurons never move")]
    Fixed(String),
    /// No such domain.
    #[error("there is no domain {0}")]
    NoDomain(DomainId),
    /// Not a permutation of the domain's neurons.
    #[error("domain '{domain}': {message}")]
    Invalid {
        /// The domain's name.
        domain: String,
        /// What is wrong with the permutation.
        message: String,
    },
}

impl<N: Network> Model<N> {
    /// A freshly initialised model, after checking numerically that every coupling domain is
    /// a symmetry of the network: permuting a domain's neurons must leave the outputs
    /// unchanged (random parameters, [`Network::example_input`], a random permutation per
    /// domain). A domain that fails is refused, naming it and, where one exists, the domain
    /// that must share its permutation.
    pub fn new(network: N, seed: u64, device: &Device) -> Result<Self, LayoutError> {
        let params = ParamStore::init(network.layout(), seed, device);
        let layout = network.layout();
        let total = |layers: &[LayerId]| layers.iter().map(|&l| layout.layer(l).size).sum();
        let input_order = (0..total(layout.inputs())).collect();
        let output_order = (0..total(layout.outputs())).collect();
        let mut model = Self {
            network,
            params,
            input_order,
            output_order,
            input_columns: None,
            output_columns: None,
        };
        model.verify_coupling(seed)?;
        Ok(model)
    }

    /// `input_order()[p]`: the original data column at input position `p` (input layers
    /// concatenated in their declared order).
    pub fn input_order(&self) -> &[usize] {
        &self.input_order
    }

    /// `output_order()[p]`: the original output at output position `p` (output layers
    /// concatenated in their declared order).
    pub fn output_order(&self) -> &[usize] {
        &self.output_order
    }

    /// Replaces both orders (restoring a checkpoint).
    pub(crate) fn set_orders(&mut self, input: Vec<usize>, output: Vec<usize>) {
        self.input_order = input;
        self.output_order = output;
        self.orders_changed();
    }

    /// `(layer, offset)` of every input (`inputs = true`) or output layer within its order.
    pub fn segments(&self, inputs: bool) -> Vec<(LayerId, usize)> {
        let layout = self.network.layout();
        let layers = if inputs {
            layout.inputs()
        } else {
            layout.outputs()
        };
        let mut offset = 0;
        layers
            .iter()
            .map(|&l| {
                let segment = (l, offset);
                offset += layout.layer(l).size;
                segment
            })
            .collect()
    }

    /// Rebuilds the cached gather indices after the orders changed.
    fn orders_changed(&mut self) {
        let layout = self.network.layout();
        // Input columns of a layer whose outgoing connections fold its neurons (concatenated
        // token embeddings) repeat its order once per fold.
        let folds: Vec<usize> = layout
            .inputs()
            .iter()
            .map(|&l| {
                layout
                    .connections_at(l, Direction::Outgoing)
                    .map(|(_, c)| c.in_fold)
                    .max()
                    .unwrap_or(1)
            })
            .collect();
        let input = self.column_map(true, &folds);
        let output = self.column_map(false, &vec![1; layout.outputs().len()]);
        // Token ids are not in input-neuron order: the embedding's columns, which swap with
        // the input neurons, carry the order instead.
        let embedded = self.network.token_embedding().is_some();
        self.input_columns = gather_columns(input, false).filter(|_| !embedded);
        self.output_columns = gather_columns(output, true);
    }

    /// For every column of the network's input (or output) in storage order, the data column
    /// (or target) it holds.
    fn column_map(&self, inputs: bool, folds: &[usize]) -> Vec<usize> {
        let order = if inputs {
            &self.input_order
        } else {
            &self.output_order
        };
        let layout = self.network.layout();
        let mut map = Vec::new();
        let mut column = 0;
        for ((l, offset), &fold) in self.segments(inputs).into_iter().zip(folds) {
            let n = layout.layer(l).size;
            for t in 0..fold {
                map.extend((0..n).map(|p| column + t * n + order[offset + p] - offset));
            }
            column += n * fold;
        }
        map
    }

    /// Moves the neurons of `domain` by `perm` (position `q` receives neuron `perm[q]`): every
    /// tensor axis of the domain, its AdamW moments, and the order of every input or output
    /// layer in the domain. The network's function does not change. A fixed domain, or a
    /// `perm` that is not a permutation of the domain's neurons, is refused.
    pub fn permute(&mut self, domain: DomainId, perm: &[usize]) -> Result<(), PermuteError> {
        self.permute_all(&[(domain, perm)])
    }

    /// [`permute`](Self::permute) for several domains at once (a swap round): every tensor
    /// is copied to the host and back once, whatever the number of domains and axes. Nothing
    /// moves if one permutation is refused.
    pub fn permute_all(&mut self, perms: &[(DomainId, &[usize])]) -> Result<(), PermuteError> {
        self.permute_round(perms, SwapMoments::Follow)
    }

    /// [`permute_all`](Self::permute_all), with the AdamW moments moved or left in place as
    /// `moments` says (leaving them changes the next optimizer steps, not the function).
    pub fn permute_round(
        &mut self,
        perms: &[(DomainId, &[usize])],
        moments: SwapMoments,
    ) -> Result<(), PermuteError> {
        let layout = self.network.layout();
        let mut moves = Vec::new();
        for &(domain, perm) in perms {
            let d = layout
                .domains()
                .get(domain)
                .ok_or(PermuteError::NoDomain(domain))?;
            if d.fixed {
                return Err(PermuteError::Fixed(d.name.clone()));
            }
            let n = layout.domain_size(domain);
            let mut seen = vec![false; n];
            if perm.len() != n
                || !perm
                    .iter()
                    .all(|&p| p < n && !std::mem::replace(&mut seen[p], true))
            {
                return Err(PermuteError::Invalid {
                    domain: d.name.clone(),
                    message: format!("{perm:?} is not a permutation of its {n} neurons"),
                });
            }
            moves.extend(
                layout
                    .domain_axes(domain)
                    .into_iter()
                    .map(|axis| (axis, perm)),
            );
        }
        self.params.permute_axes(&moves, moments);
        for &(domain, perm) in perms {
            let n = perm.len();
            for inputs in [true, false] {
                for (l, offset) in self.segments(inputs) {
                    if self.network.layout().domain_of(l) != domain {
                        continue;
                    }
                    let order = if inputs {
                        &mut self.input_order
                    } else {
                        &mut self.output_order
                    };
                    let old = order[offset..offset + n].to_vec();
                    for (q, &p) in perm.iter().enumerate() {
                        order[offset + q] = old[p];
                    }
                }
            }
        }
        self.orders_changed();
        Ok(())
    }

    /// `x` (original feature order) moved into the network's current input order: what
    /// [`Network::forward`] takes, for models that expose more than one output (probes).
    pub fn to_input_order(&self, x: Tensor<2>) -> Tensor<2> {
        match &self.input_columns {
            Some(g) => bimt_kernels::select_columns(x, g.clone()),
            None => x,
        }
    }

    /// Runs the network on `x` given in the original feature order and returns outputs in the
    /// original order. `tracked` keeps the autodiff graph (training); otherwise parameters are
    /// detached (evaluation).
    pub fn predict(&self, x: Tensor<2>, tracked: bool) -> Tensor<2> {
        let x = self.to_input_order(x);
        let y = if tracked {
            self.network.forward(self.params.tensors(), x)
        } else {
            self.network.forward(&self.params.detached(), x)
        };
        match &self.output_columns {
            Some(g) => bimt_kernels::select_columns(y, g.clone()),
            None => y,
        }
    }

    /// Permutes every movable domain at random and back, refusing the layout where the
    /// outputs move: the forward pass combines that domain's neurons with others that do not
    /// move with them.
    fn verify_coupling(&mut self, seed: u64) -> Result<(), LayoutError> {
        let device = self.params.device().clone();
        let x = self.network.example_input(&device);
        let outputs = |m: &Self| -> Vec<f32> {
            let y = m.predict(x.clone(), false).into_data().convert::<f32>();
            y.as_slice::<f32>().unwrap_or(&[]).to_vec()
        };
        let before = outputs(self);
        let scale = before.iter().fold(1.0f32, |m, v| m.max(v.abs()));
        let moved = |after: &[f32]| {
            before
                .iter()
                .zip(after)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0f32, f32::max)
        };
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0xc0_091e);
        let count = self.network.layout().domains().len();
        for d in 0..count {
            let layout = self.network.layout();
            let domain = &layout.domains()[d];
            let n = layout.domain_size(d);
            if domain.fixed || n < 2 {
                continue;
            }
            let perm = shuffled(n, domain.block, &mut rng);
            let shift = self.try_permutation(&[(d, &perm)], &outputs, &moved)?;
            if shift <= 1e-4 * scale {
                continue;
            }
            let layout = self.network.layout();
            let partners: Vec<DomainId> = (0..count)
                .filter(|&e| e != d && !layout.domains()[e].fixed && layout.domain_size(e) == n)
                .collect();
            let mut partner = None;
            for e in partners {
                let shift = self.try_permutation(&[(d, &perm), (e, &perm)], &outputs, &moved)?;
                if shift <= 1e-4 * scale {
                    partner = Some(e);
                    break;
                }
            }
            let layout = self.network.layout();
            let name = |d: DomainId| domain_label(layout, d);
            let advice = match partner {
                Some(e) => format!(
                    "it moves together with domain {}: put their layers in one coupling group \
                     (an identity edge between them does that)",
                    name(e)
                ),
                None => "its neurons are combined with others that do not move with them (an \
                         addition, a product or a concatenation in the forward pass): put the \
                         layers involved in one coupling group"
                    .to_string(),
            };
            return Err(LayoutError(format!(
                "coupling check: permuting domain {} changes the network's outputs by {shift:.3}; \
                 {advice}",
                name(d)
            )));
        }
        Ok(())
    }

    /// Applies `perms` (domain, permutation), measures how far the outputs move, and undoes
    /// them.
    fn try_permutation(
        &mut self,
        perms: &[(DomainId, &[usize])],
        outputs: &dyn Fn(&Self) -> Vec<f32>,
        moved: &dyn Fn(&[f32]) -> f32,
    ) -> Result<f32, LayoutError> {
        let fail = |e: PermuteError| LayoutError(format!("coupling check: {e}"));
        for &(d, perm) in perms {
            self.permute(d, perm).map_err(fail)?;
        }
        let shift = moved(&outputs(self));
        for &(d, perm) in perms.iter().rev() {
            let mut inverse = vec![0; perm.len()];
            for (q, &p) in perm.iter().enumerate() {
                inverse[p] = q;
            }
            self.permute(d, &inverse).map_err(fail)?;
        }
        Ok(shift)
    }
}

/// `'name' (layers a, b)`.
fn domain_label(layout: &Layout, d: DomainId) -> String {
    let domain = &layout.domains()[d];
    let layers: Vec<&str> = domain
        .layers
        .iter()
        .map(|&l| layout.layer(l).name.as_str())
        .collect();
    format!("'{}' (layers {})", domain.name, layers.join(", "))
}

/// A random permutation of `n` neurons that moves every one of them, within blocks of
/// `block` neurons where the domain has blocks (the blocks themselves rotate too).
fn shuffled(n: usize, block: Option<usize>, rng: &mut ChaCha8Rng) -> Vec<usize> {
    let size = block.unwrap_or(n).max(1);
    let blocks = n / size;
    let mut order: Vec<usize> = (0..blocks).collect();
    order.rotate_left(1.min(blocks.saturating_sub(1)));
    let mut perm = Vec::with_capacity(n);
    for b in order {
        let mut within: Vec<usize> = (0..size).collect();
        within.shuffle(rng);
        if size > 1 && within.iter().enumerate().all(|(i, &w)| i == w) {
            within.rotate_left(1);
        }
        perm.extend(within.into_iter().map(|w| b * size + w));
    }
    perm
}

/// The gather that moves data columns into storage order (`inverse = false`: storage column
/// `c` takes data column `map[c]`) or outputs back to the original order (`inverse = true`);
/// `None` for the identity.
fn gather_columns(map: Vec<usize>, inverse: bool) -> Option<Arc<[usize]>> {
    if map.iter().enumerate().all(|(c, &f)| c == f) {
        return None;
    }
    Some(if inverse {
        let mut back = vec![0; map.len()];
        for (c, &f) in map.iter().enumerate() {
            back[f] = c;
        }
        back.into()
    } else {
        map.into()
    })
}
