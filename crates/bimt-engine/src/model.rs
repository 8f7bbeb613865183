use crate::params::ParamStore;
use bimt_layout::{ConnectionId, DomainId, Layout, ParamId};
use burn::tensor::{Device, Int, Tensor, TensorData};

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

    /// A connection's own activation where it differs from [`activation`](Self::activation)
    /// (`identity` for the last layer, `attention` for a Q,K,V projection, ...).
    fn connection_activation(&self, _connection: ConnectionId) -> Option<String> {
        None
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
    input_order: Vec<usize>,
    output_order: Vec<usize>,
    /// Gather indices for the current orders (`None` while an order is the identity).
    gathers: (Option<Tensor<1, Int>>, Option<Tensor<1, Int>>),
}

impl<N: Network> Model<N> {
    /// A freshly initialised model.
    pub fn new(network: N, seed: u64, device: &Device) -> Self {
        let params = ParamStore::init(network.layout(), seed, device);
        let layout = network.layout();
        let size = |l: Option<bimt_layout::LayerId>| l.map_or(0, |l| layout.layer(l).size);
        let input_order = (0..size(layout.input())).collect();
        let output_order = (0..size(layout.output())).collect();
        Self {
            network,
            params,
            input_order,
            output_order,
            gathers: (None, None),
        }
    }

    /// `input_order()[p]`: the original input feature at input position `p`.
    pub fn input_order(&self) -> &[usize] {
        &self.input_order
    }

    /// `output_order()[p]`: the original output at output position `p`.
    pub fn output_order(&self) -> &[usize] {
        &self.output_order
    }

    /// Replaces both orders (restoring a checkpoint).
    pub(crate) fn set_orders(&mut self, input: Vec<usize>, output: Vec<usize>) {
        self.input_order = input;
        self.output_order = output;
        self.orders_changed();
    }

    /// Rebuilds the cached gather indices after the orders changed.
    fn orders_changed(&mut self) {
        let device = self.params.device().clone();
        let input_width = self.network.layout().input().map_or(0, |l| {
            let layout = self.network.layout();
            layout
                .connections_at(l, bimt_layout::Direction::Outgoing)
                .map(|(_, c)| c.in_fold)
                .max()
                .unwrap_or(1)
                * layout.layer(l).size
        });
        let output_width = self.output_order.len();
        // Token ids are not in input-neuron order: the embedding's columns, which swap with
        // the input neurons, carry the order instead.
        let embedded = self.network.token_embedding().is_some();
        self.gathers = (
            column_gather(&self.input_order, input_width, false, &device).filter(|_| !embedded),
            column_gather(&self.output_order, output_width, true, &device),
        );
    }

    /// Moves the neurons of `domain` by `perm` (position `q` receives neuron `perm[q]`): every
    /// tensor axis of the domain, its AdamW moments, and the input/output order where the
    /// domain holds the input or output layer. The network's function does not change.
    pub fn permute(&mut self, domain: DomainId, perm: &[usize]) {
        let layout = self.network.layout();
        for axis in layout.domain_axes(domain) {
            self.params.permute(&axis, perm);
        }
        if layout
            .input()
            .is_some_and(|l| layout.domain_of(l) == domain)
        {
            self.input_order = perm.iter().map(|&p| self.input_order[p]).collect();
        }
        if layout
            .output()
            .is_some_and(|l| layout.domain_of(l) == domain)
        {
            self.output_order = perm.iter().map(|&p| self.output_order[p]).collect();
        }
        self.orders_changed();
    }

    /// `x` (original feature order) moved into the network's current input order: what
    /// [`Network::forward`] takes, for models that expose more than one output (probes).
    pub fn to_input_order(&self, x: Tensor<2>) -> Tensor<2> {
        match &self.gathers.0 {
            Some(g) => x.select(1, g.clone()),
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
        match &self.gathers.1 {
            Some(g) => y.select(1, g.clone()),
            None => y,
        }
    }
}

/// Gather indices over `width` columns that move them into storage order (`inverse = false`:
/// column `p` takes original feature `order[p]`, folds repeating) or back to the original
/// order (`inverse = true`); `None` for the identity.
fn column_gather(
    order: &[usize],
    width: usize,
    inverse: bool,
    device: &Device,
) -> Option<Tensor<1, Int>> {
    let n = order.len();
    if n == 0 || order.iter().enumerate().all(|(p, &f)| p == f) {
        return None;
    }
    let mut map = order.to_vec();
    if inverse {
        for (p, &f) in order.iter().enumerate() {
            map[f] = p;
        }
    }
    let gather: Vec<i64> = (0..width)
        .map(|c| (c - c % n + map[c % n]) as i64)
        .collect();
    Some(Tensor::from_data(TensorData::new(gather, [width]), device))
}
