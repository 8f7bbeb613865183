//! The layout's parts (layers, connections, parameters, domains) and the validated
//! [`Layout`] with its queries.

use bimt_manifold::Placement;
use nalgebra::Point3;
use petgraph::Direction;
use petgraph::graph::{DiGraph, EdgeIndex, NodeIndex};
use petgraph::visit::EdgeRef;

/// A neuron layer, a node of the layout graph.
pub type LayerId = NodeIndex;
/// A connection, an edge of the layout graph.
pub type ConnectionId = EdgeIndex;
/// Index of a trainable parameter (every parameter is a 2-D tensor).
pub type ParamId = usize;
/// Index of a permutation domain.
pub type DomainId = usize;

/// A layer of neurons at one depth.
#[derive(Clone, Debug)]
pub struct NeuronLayer {
    /// Unique name (`input`, `hidden1`, `res2`, ...).
    pub name: String,
    /// Number of neurons.
    pub size: usize,
    /// How the neurons are laid out within the layer.
    pub placement: Placement,
    /// Position along the stacking axis, in units of the layer gap.
    pub depth: f64,
    /// Each neuron's position, filled in by [`LayoutBuilder::build`].
    pub positions: Vec<Point3<f64>>,
}

/// A weight matrix joining two neuron layers, stored `[in_fold·n_from, out_fold·n_to]`
/// (rows are inputs, so `y = x·W + b`), with an optional `[1, out_fold·n_to]` bias.
///
/// Input index `t·n_from + i` sits at neuron `i` of `from`, output index `t·n_to + o` at neuron
/// `o` of `to`: a packed Q,K,V projection has `out_fold = 3`, two concatenated token
/// embeddings `in_fold = 2`.
#[derive(Clone, Debug)]
pub struct Connection {
    /// Weight parameter.
    pub weight: ParamId,
    /// Bias parameter, if any.
    pub bias: Option<ParamId>,
    /// Input fold.
    pub in_fold: usize,
    /// Output fold.
    pub out_fold: usize,
}

/// A tensor axis that a domain's permutation moves: index `t·n + q` of axis `axis` of `param`
/// belongs to neuron `q` of the domain, for each fold `t < fold`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Axis {
    /// The parameter.
    pub param: ParamId,
    /// 0 (rows) or 1 (columns).
    pub axis: usize,
    /// How many times the domain's neurons repeat along the axis.
    pub fold: usize,
}

/// A trainable parameter: a 2-D tensor with a name and an initial scale.
#[derive(Clone, Debug, PartialEq)]
pub struct ParamSpec {
    /// Name used in checkpoints and errors (`hidden1.weight`).
    pub name: String,
    /// `[rows, cols]`.
    pub shape: [usize; 2],
    /// Initial values are drawn from `U[-init_bound, init_bound]` (PyTorch's `nn.Linear`
    /// default uses `1/sqrt(fan_in)`), or `N(0, init_std²)` where `init_normal` is set.
    pub init_bound: f64,
    /// Draw from a normal distribution with this standard deviation instead.
    pub init_normal: Option<f64>,
    /// Charged `bias_length·|p|` by the regulariser (biases and token embeddings).
    pub penalised_like_bias: bool,
}

/// A permutation-coupling group: neuron layers of one size that share one permutation.
#[derive(Clone, Debug)]
pub struct Domain {
    /// Name for errors and reports (`residual`, `atn1`, `hidden2`).
    pub name: String,
    /// The layers, all of the same size, that move together.
    pub layers: Vec<LayerId>,
    /// Block size: neurons move only within their block, and whole blocks may trade places
    /// (attention heads). `None`: any two neurons may swap.
    pub block: Option<usize>,
    /// A fixed domain never moves (input pixels).
    pub fixed: bool,
    /// Axes beyond the connections' own (token embedding columns, ...).
    pub extra_axes: Vec<Axis>,
}

/// A permutation of a domain's neurons: position `q` receives the neuron that was at `self[q]`.
pub type Permutation = Vec<usize>;

/// Something inconsistent in a layout; the message names the layer, parameter or domain.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("invalid layout: {0}")]
pub struct LayoutError(pub String);

/// An edge whose weight is another parameter, used transposed (a tied output projection).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tied {
    /// Source layer.
    pub from: LayerId,
    /// Target layer.
    pub to: LayerId,
    /// The parameter, `[size(to), size(from)]`.
    pub weight: ParamId,
}

/// A validated layout graph.
#[derive(Clone, Debug)]
pub struct Layout {
    pub(crate) graph: DiGraph<NeuronLayer, Connection>,
    pub(crate) identities: Vec<(LayerId, LayerId)>,
    pub(crate) tied: Vec<Tied>,
    pub(crate) params: Vec<ParamSpec>,
    pub(crate) domains: Vec<Domain>,
    pub(crate) domain_of: Vec<DomainId>,
    pub(crate) inputs: Vec<LayerId>,
    pub(crate) outputs: Vec<LayerId>,
}

impl Layout {
    /// The petgraph graph: nodes are neuron layers, edges connections.
    pub fn graph(&self) -> &DiGraph<NeuronLayer, Connection> {
        &self.graph
    }

    /// A neuron layer.
    pub fn layer(&self, id: LayerId) -> &NeuronLayer {
        &self.graph[id]
    }

    /// The layer with this name.
    pub fn layer_named(&self, name: &str) -> Option<LayerId> {
        self.graph
            .node_indices()
            .find(|&l| self.graph[l].name == name)
    }

    /// All parameters, indexed by [`ParamId`].
    pub fn params(&self) -> &[ParamSpec] {
        &self.params
    }

    /// All domains: the declared ones first, then one per remaining layer.
    pub fn domains(&self) -> &[Domain] {
        &self.domains
    }

    /// The domain a layer belongs to.
    pub fn domain_of(&self, layer: LayerId) -> DomainId {
        self.domain_of[layer.index()]
    }

    /// Number of neurons in each layer of a domain.
    pub fn domain_size(&self, domain: DomainId) -> usize {
        self.graph[self.domains[domain].layers[0]].size
    }

    /// The input layers, in the order data columns go to them; each one's order is tracked.
    pub fn inputs(&self) -> &[LayerId] {
        &self.inputs
    }

    /// The output layers, in the order the network's outputs list them; each one's order is
    /// tracked.
    pub fn outputs(&self) -> &[LayerId] {
        &self.outputs
    }

    /// The identity edges `(from, to)`: `to` adds `from`'s values unchanged.
    pub fn identities(&self) -> &[(LayerId, LayerId)] {
        &self.identities
    }

    /// The tied edges (see [`LayoutBuilder::tied`](crate::LayoutBuilder::tied)).
    pub fn tied(&self) -> &[Tied] {
        &self.tied
    }

    /// Connections in insertion order: `(id, from, to, connection)`.
    pub fn connections(
        &self,
    ) -> impl Iterator<Item = (ConnectionId, LayerId, LayerId, &Connection)> {
        self.graph
            .edge_references()
            .map(|e| (e.id(), e.source(), e.target(), e.weight()))
    }

    /// Connections leaving (`Outgoing`) or entering (`Incoming`) a layer.
    pub fn connections_at(
        &self,
        layer: LayerId,
        direction: Direction,
    ) -> impl Iterator<Item = (ConnectionId, &Connection)> {
        self.graph
            .edges_directed(layer, direction)
            .map(|e| (e.id(), e.weight()))
    }

    /// Every tensor axis a domain's permutation moves: weight rows of its outgoing
    /// connections, weight columns and biases of its incoming ones, and its extra axes.
    pub fn domain_axes(&self, domain: DomainId) -> Vec<Axis> {
        let d = &self.domains[domain];
        let mut axes = Vec::new();
        for &l in &d.layers {
            for (_, c) in self.connections_at(l, Direction::Outgoing) {
                axes.push(Axis {
                    param: c.weight,
                    axis: 0,
                    fold: c.in_fold,
                });
            }
            for (_, c) in self.connections_at(l, Direction::Incoming) {
                axes.push(Axis {
                    param: c.weight,
                    axis: 1,
                    fold: c.out_fold,
                });
                if let Some(b) = c.bias {
                    axes.push(Axis {
                        param: b,
                        axis: 1,
                        fold: c.out_fold,
                    });
                }
            }
        }
        axes.extend(d.extra_axes.iter().copied());
        axes
    }

    /// Whether a connection enters an output layer (a "last layer").
    pub fn is_last(&self, connection: ConnectionId) -> bool {
        let (_, to) = self
            .graph
            .edge_endpoints(connection)
            .expect("connection exists");
        self.outputs.contains(&to)
    }
}

/// Applies a permutation of `n` neurons to an index along an axis with `fold` repeats:
/// the gather index for every position of the axis.
pub(crate) fn gather_indices(perm: &[usize], fold: usize) -> Vec<usize> {
    let n = perm.len();
    (0..fold)
        .flat_map(|t| perm.iter().map(move |&p| t * n + p))
        .collect()
}

impl Axis {
    /// Gather indices moving this axis by `perm` (position `i` takes old index `result[i]`).
    pub fn gather(&self, perm: &[usize]) -> Vec<usize> {
        gather_indices(perm, self.fold)
    }
}
