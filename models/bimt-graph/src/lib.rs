//! A network declared as data: neuron layers and the edges between them, any directed acyclic
//! graph, read from a JSON architecture file.
//!
//! A layer's pre-activation is the sum of its incoming edges; an edge is `linear` (a weight
//! and, unless `"bias": false`, a bias) or `identity` (no parameters; the sizes must match);
//! the layer's activation is applied after the sum. Data columns go to the input layers in the
//! order they are declared, targets to the output layers likewise. Coupling groups are
//! derived: an identity edge makes its two ends share one permutation; a file may declare
//! more (`groups`, with optional blocks), and `fixed` layers never move.
//!
//! ```
//! use bimt_graph::{Architecture, Graph};
//! let arch: Architecture = serde_json::from_str(r#"{
//!   "layers": [
//!     {"name": "x", "size": 4, "role": "input"},
//!     {"name": "h", "size": 20},
//!     {"name": "y", "size": 2, "role": "output"}
//!   ],
//!   "edges": [{"from": "x", "to": "h"}, {"from": "h", "to": "y"}]
//! }"#).unwrap();
//! let graph = Graph::new(&arch).unwrap();
//! # use bimt_engine::Network;
//! assert_eq!(graph.layout().params().len(), 4);
//! ```

#![warn(missing_docs)]

use bimt_engine::{Network, Tensor};
use bimt_layout::{Domain, LayerId, Layout, LayoutBuilder, LayoutError, ParamId, Placement};
use burn::tensor::activation;
use petgraph::algo::toposort;
use petgraph::graph::DiGraph;
use serde::{Deserialize, Serialize};
use std::path::Path;

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
}

/// What a layer is for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Holds data columns.
    Input,
    /// Computed from its incoming edges.
    #[default]
    Hidden,
    /// Computed, and compared with targets.
    Output,
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

    fn apply(self, x: Tensor<2>) -> Tensor<2> {
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

/// One neuron layer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LayerSpec {
    /// Unique name.
    pub name: String,
    /// Number of neurons.
    pub size: usize,
    /// `input`, `hidden` (default) or `output`.
    #[serde(default)]
    pub role: Role,
    /// Default: `silu` for hidden layers, `identity` for output layers (input layers hold
    /// data and take none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activation: Option<Activation>,
    /// `line` (default), `grid` or `ring`. Line layers at one depth share the line, side by
    /// side.
    #[serde(default)]
    pub placement: PlacementSpec,
    /// Position along the stacking axis, in layer gaps; default: the longest path from an
    /// input layer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub depth: Option<f64>,
    /// Its neurons never move (image pixels).
    #[serde(default)]
    pub fixed: bool,
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
}

/// One edge.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EdgeSpec {
    /// Source layer.
    pub from: String,
    /// Target layer.
    pub to: String,
    /// `linear` (default) or `identity`.
    #[serde(default)]
    pub kind: EdgeKind,
    /// Whether a linear edge has a bias (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bias: Option<bool>,
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

/// A parameterised edge, as the forward pass uses it.
#[derive(Clone, Debug)]
enum Edge {
    Linear {
        from: usize,
        weight: ParamId,
        bias: Option<ParamId>,
    },
    Identity {
        from: usize,
    },
}

/// A network built from an [`Architecture`].
#[derive(Clone, Debug)]
pub struct Graph {
    layout: Layout,
    architecture: Architecture,
    /// Layer indices in an order where every edge's source comes before its target.
    order: Vec<usize>,
    /// Incoming edges per layer.
    incoming: Vec<Vec<Edge>>,
    activations: Vec<Activation>,
    /// Input layers: `(layer, first data column)`.
    inputs: Vec<(usize, usize)>,
    outputs: Vec<usize>,
}

/// The layout error of `file`, or of the architecture itself.
fn invalid(message: String) -> LayoutError {
    LayoutError(message)
}

impl Graph {
    /// Reads an architecture file (JSON) and builds its network; a bad file is an error
    /// naming the file and what is wrong.
    pub fn from_file(path: &Path) -> Result<Self, LayoutError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| invalid(format!("cannot read {}: {e}", path.display())))?;
        let arch: Architecture = serde_json::from_str(&text).map_err(|e| {
            invalid(format!(
                "{} is not a valid architecture file: {e}",
                path.display()
            ))
        })?;
        Self::new(&arch).map_err(|e| invalid(format!("{}: {}", path.display(), e.0)))
    }

    /// Builds the network of `arch`; an inconsistent architecture is an error naming the
    /// layer or edge.
    pub fn new(arch: &Architecture) -> Result<Self, LayoutError> {
        let index = |name: &str, what: &str| {
            arch.layers
                .iter()
                .position(|l| l.name == name)
                .ok_or_else(|| {
                    let known: Vec<&str> = arch.layers.iter().map(|l| l.name.as_str()).collect();
                    invalid(format!(
                        "{what} names layer '{name}', which is not declared (layers: {})",
                        known.join(", ")
                    ))
                })
        };
        if let Some(l) = arch.layers.iter().position(|l| l.name.trim().is_empty()) {
            return Err(invalid(format!(
                "layer {} has an empty name; every layer needs a name of its own, which edges \
                 refer to",
                l + 1
            )));
        }
        let mut dag = DiGraph::<usize, ()>::new();
        let nodes: Vec<_> = (0..arch.layers.len()).map(|i| dag.add_node(i)).collect();
        let mut ends: Vec<(usize, usize)> = Vec::with_capacity(arch.edges.len());
        for (e, edge) in arch.edges.iter().enumerate() {
            let what = format!("edge {} ({} -> {})", e + 1, edge.from, edge.to);
            let (from, to) = (index(&edge.from, &what)?, index(&edge.to, &what)?);
            if let Some(first) =
                (0..e).find(|&f| ends[f] == (from, to) && arch.edges[f].kind == edge.kind)
            {
                let why = match edge.kind {
                    EdgeKind::Linear => "two parallel weight matrices add up to one",
                    EdgeKind::Identity => "they would add the source twice",
                };
                return Err(invalid(format!(
                    "edges {} and {} are both {} edges {} -> {}: {why}; declare the edge once",
                    first + 1,
                    e + 1,
                    match edge.kind {
                        EdgeKind::Linear => "linear",
                        EdgeKind::Identity => "identity",
                    },
                    edge.from,
                    edge.to
                )));
            }
            if arch.layers[to].role == Role::Input {
                return Err(invalid(format!(
                    "{what}: '{}' is an input layer, which holds data and takes no edges",
                    edge.to
                )));
            }
            if edge.kind == EdgeKind::Identity && edge.bias == Some(true) {
                return Err(invalid(format!("{what}: an identity edge has no bias")));
            }
            dag.add_edge(nodes[from], nodes[to], ());
            ends.push((from, to));
        }
        let order: Vec<usize> = toposort(&dag, None)
            .map_err(|cycle| {
                invalid(format!(
                    "the edges form a cycle through layer '{}'; a network is a directed acyclic graph",
                    arch.layers[dag[cycle.node_id()]].name
                ))
            })?
            .into_iter()
            .map(|n| dag[n])
            .collect();
        for role in [Role::Input, Role::Output] {
            if !arch.layers.iter().any(|l| l.role == role) {
                return Err(invalid(format!(
                    "no layer has role \"{}\"",
                    if role == Role::Input {
                        "input"
                    } else {
                        "output"
                    }
                )));
            }
        }
        // Depth: the longest path from an input layer, unless given. A given depth is 0 or
        // more for an input layer, above 0 for the others, and every layer sits above the
        // layers that feed it (which the default depths do by construction).
        let mut depth = vec![0.0f64; arch.layers.len()];
        for &l in &order {
            let spec = &arch.layers[l];
            if let Some(d) = spec.depth {
                let (fits, expected) = if spec.role == Role::Input {
                    (d >= 0.0, "0 or more")
                } else {
                    (d > 0.0, "a number above 0, where the input layers sit")
                };
                if !(fits && d.is_finite()) {
                    return Err(invalid(format!(
                        "layer '{}': depth {d}; expected {expected}",
                        spec.name
                    )));
                }
                depth[l] = d;
                continue;
            }
            depth[l] = ends
                .iter()
                .filter(|&&(_, to)| to == l)
                .map(|&(from, _)| depth[from] + 1.0)
                .fold(0.0, f64::max);
        }
        for (e, &(from, to)) in ends.iter().enumerate() {
            if depth[to] <= depth[from] {
                return Err(invalid(format!(
                    "edge {} ({} -> {}): layer '{}' is at depth {}, not above layer '{}' at \
                     depth {}; a layer sits above every layer that feeds it",
                    e + 1,
                    arch.layers[from].name,
                    arch.layers[to].name,
                    arch.layers[to].name,
                    depth[to],
                    arch.layers[from].name,
                    depth[from]
                )));
            }
        }
        let mut b = LayoutBuilder::new();
        let mut ids = Vec::with_capacity(arch.layers.len());
        for (l, spec) in arch.layers.iter().enumerate() {
            // Line layers that share a depth share the line, side by side in declaration
            // order, each on a part as wide as its share of the neurons.
            let beside: Vec<usize> = (0..arch.layers.len())
                .filter(|&m| {
                    depth[m] == depth[l] && arch.layers[m].placement == PlacementSpec::Line
                })
                .collect();
            let placement = if spec.placement == PlacementSpec::Line && beside.len() > 1 {
                let total: usize = beside.iter().map(|&m| arch.layers[m].size).sum();
                let before: usize = beside
                    .iter()
                    .take_while(|&&m| m != l)
                    .map(|&m| arch.layers[m].size)
                    .sum();
                Placement::Segment {
                    start: before as f64 / total as f64,
                    end: (before + spec.size) as f64 / total as f64,
                }
            } else {
                placement(spec)
            };
            ids.push(b.layer(&spec.name, spec.size, placement, depth[l]));
        }
        let mut incoming: Vec<Vec<(usize, EdgeKind, Option<bimt_layout::ConnectionId>)>> =
            vec![Vec::new(); arch.layers.len()];
        for (edge, &(from, to)) in arch.edges.iter().zip(&ends) {
            let connection = match edge.kind {
                EdgeKind::Linear => Some(b.linear(ids[from], ids[to], edge.bias.unwrap_or(true))),
                EdgeKind::Identity => {
                    b.identity(ids[from], ids[to]);
                    None
                }
            };
            incoming[to].push((from, edge.kind, connection));
        }
        for (l, spec) in arch.layers.iter().enumerate() {
            if spec.fixed {
                b.domain(Domain {
                    name: spec.name.clone(),
                    layers: vec![ids[l]],
                    block: None,
                    fixed: true,
                    extra_axes: Vec::new(),
                });
            }
        }
        for group in &arch.groups {
            let what = format!("group '{}'", group.name);
            let layers = group
                .layers
                .iter()
                .map(|name| index(name, &what).map(|l| ids[l]))
                .collect::<Result<Vec<LayerId>, _>>()?;
            b.domain(Domain {
                name: group.name.clone(),
                layers,
                block: group.block,
                fixed: false,
                extra_axes: Vec::new(),
            });
        }
        let mut inputs = Vec::new();
        let mut column = 0;
        for (l, spec) in arch.layers.iter().enumerate() {
            match spec.role {
                Role::Input => {
                    b.input(ids[l]);
                    inputs.push((l, column));
                    column += spec.size;
                }
                Role::Output => {
                    b.output(ids[l]);
                }
                Role::Hidden => {}
            }
        }
        let layout = b.build()?;
        let incoming = incoming
            .into_iter()
            .map(|edges| {
                edges
                    .into_iter()
                    .map(|(from, kind, connection)| match (kind, connection) {
                        (EdgeKind::Linear, Some(c)) => {
                            let c = &layout.graph()[c];
                            Edge::Linear {
                                from,
                                weight: c.weight,
                                bias: c.bias,
                            }
                        }
                        _ => Edge::Identity { from },
                    })
                    .collect()
            })
            .collect();
        let activations = arch
            .layers
            .iter()
            .map(|spec| match (spec.activation, spec.role) {
                (Some(a), Role::Hidden | Role::Output) => a,
                (_, Role::Hidden) => Activation::Silu,
                _ => Activation::Identity,
            })
            .collect();
        let outputs = (0..arch.layers.len())
            .filter(|&l| arch.layers[l].role == Role::Output)
            .collect();
        Ok(Self {
            layout,
            architecture: arch.clone(),
            order,
            incoming,
            activations,
            inputs,
            outputs,
        })
    }

    /// The architecture it was built from.
    pub fn architecture(&self) -> &Architecture {
        &self.architecture
    }

    /// Every layer's values (after its activation), by layer index; `x` in storage order.
    pub fn forward_layers(&self, params: &[Tensor<2>], x: Tensor<2>) -> Vec<Option<Tensor<2>>> {
        let mut values: Vec<Option<Tensor<2>>> = vec![None; self.incoming.len()];
        let single_input = self.inputs.len() == 1;
        for &(l, column) in &self.inputs {
            let size = self.architecture.layers[l].size;
            values[l] = Some(if single_input {
                x.clone()
            } else {
                x.clone().narrow(1, column, size)
            });
        }
        for &l in &self.order {
            if values[l].is_some() {
                continue;
            }
            let mut sum: Option<Tensor<2>> = None;
            for edge in &self.incoming[l] {
                let term = match *edge {
                    Edge::Linear { from, weight, bias } => {
                        let h = values[from].clone().expect("sources come first");
                        let y = bimt_kernels::matmul(h, params[weight].clone());
                        match bias {
                            Some(b) => bimt_kernels::add_bias(y, params[b].clone()),
                            None => y,
                        }
                    }
                    Edge::Identity { from } => values[from].clone().expect("sources come first"),
                };
                sum = Some(match sum {
                    Some(s) => s + term,
                    None => term,
                });
            }
            let sum = sum.expect("every non-input layer has an incoming edge");
            values[l] = Some(self.activations[l].apply(sum));
        }
        values
    }
}

fn placement(spec: &LayerSpec) -> Placement {
    match spec.placement {
        PlacementSpec::Line => Placement::Line,
        PlacementSpec::Grid => {
            let rows = (1..=spec.size)
                .take_while(|r| r * r <= spec.size)
                .filter(|&r| spec.size.is_multiple_of(r))
                .last()
                .unwrap_or(1);
            Placement::Grid {
                rows,
                cols: spec.size / rows,
            }
        }
        PlacementSpec::Ring => Placement::Ring {
            center: [0.5, 0.5].into(),
            radius: 0.25,
        },
    }
}

impl Network for Graph {
    fn layout(&self) -> &Layout {
        &self.layout
    }

    fn forward(&self, params: &[Tensor<2>], x: Tensor<2>) -> Tensor<2> {
        let mut values = self.forward_layers(params, x);
        let mut outputs: Vec<Tensor<2>> = self
            .outputs
            .iter()
            .map(|&l| values[l].take().expect("every layer is computed"))
            .collect();
        if outputs.len() == 1 {
            outputs.pop().expect("one output")
        } else {
            Tensor::cat(outputs, 1)
        }
    }

    fn activation(&self) -> String {
        Activation::Silu.name().into()
    }

    fn layer_activation(&self, layer: LayerId) -> String {
        self.activations[layer.index()].name().into()
    }
}
