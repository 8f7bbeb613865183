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
//! An input layer may hold token ids instead of numbers (`"tokens": V`, a vocabulary of `V`;
//! `"positions": P` ids per row, default 1). An `embedding` edge maps it to a neuron layer
//! through a learned table `[V, size]`, one column per neuron of that layer: its columns move
//! with the neurons. With `P` positions the positions share the table and the layer's neurons,
//! which hold `P` values each (every position's row, concatenated), so the edges leaving it
//! are linear, with `P` rows per neuron: the token-embedding MLP of modular addition and S4.
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
//!
//! // Two token ids per row from a vocabulary of 11, embedded in 6 dimensions.
//! let tokens: Architecture = serde_json::from_str(r#"{
//!   "layers": [
//!     {"name": "ids", "role": "input", "tokens": 11, "positions": 2},
//!     {"name": "e", "size": 6},
//!     {"name": "h", "size": 20},
//!     {"name": "y", "size": 11, "role": "output"}
//!   ],
//!   "edges": [{"from": "ids", "to": "e", "kind": "embedding"},
//!             {"from": "e", "to": "h"}, {"from": "h", "to": "y"}]
//! }"#).unwrap();
//! let graph = Graph::new(&tokens).unwrap();
//! let table = graph.token_embedding().unwrap();
//! assert_eq!(graph.layout().params()[table].shape, [11, 6]);
//! // e -> h reads both positions: 2 x 6 rows.
//! assert_eq!(graph.layout().params()[0].shape, [12, 20]);
//! ```

#![warn(missing_docs)]

use bimt_engine::{AttentionFile, Device, Network, Tensor, TensorData, WindowFile};
use bimt_layout::{
    Axis, ConnectionId, Domain, LayerId, Layout, LayoutBuilder, LayoutError, ParamId, ParamSpec,
    Placement,
};
use burn::tensor::{Distribution, activation};
use petgraph::algo::toposort;
use petgraph::graph::DiGraph;
use std::path::Path;
use std::sync::Arc;

mod architecture;
mod spatial;

use architecture::invalid;
pub use architecture::{
    Activation, Architecture, AttentionSpec, EdgeKind, EdgeSpec, GroupSpec, LayerSpec,
    PlacementSpec, PoolKind, Role,
};

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
    /// The token table's rows of the ids in layer `from`.
    Embedding {
        from: usize,
    },
    /// `value(from) · tableᵀ`: the token table as the output projection.
    Unembedding {
        from: usize,
    },
    /// A convolution of the feature maps of `from`.
    Conv {
        from: usize,
        weight: ParamId,
        bias: Option<ParamId>,
        windows: Arc<bimt_kernels::Windows>,
    },
    /// A pool of the feature maps of `from`.
    Pool {
        from: usize,
        kind: PoolKind,
        windows: Arc<bimt_kernels::Windows>,
    },
    /// A linear edge over the flattened maps of `from`.
    Flatten {
        from: usize,
        weight: ParamId,
        bias: Option<ParamId>,
    },
    /// The packed Q, K, V projection of `from` into an attention layer, and the attention.
    Attention {
        from: usize,
        weight: ParamId,
        bias: Option<ParamId>,
        attention: AttentionSpec,
    },
}

/// The token input of an architecture: its layer, the layer its embedding feeds, the table.
#[derive(Clone, Copy, Debug)]
struct TokenInput {
    /// The token layer (architecture index).
    layer: usize,
    /// The table `[vocabulary, size(embedded)]`.
    table: ParamId,
    vocabulary: usize,
    positions: usize,
    /// Whether an edge other than a linear one reads the embedded layer, so that its values
    /// are needed as such (otherwise each linear edge takes the ids through the table and its
    /// weight in one product, [`bimt_kernels::token_product`]).
    values_needed: bool,
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
    /// The architecture index of each layout layer (token layers have none).
    arch_of: Vec<usize>,
    tokens: Option<TokenInput>,
    /// Per layer: its learned positional table `[sequence, size]`, if it has one.
    position_tables: Vec<Option<ParamId>>,
    /// The windows of each convolution, by connection.
    conv_windows: Vec<(ConnectionId, WindowFile)>,
    /// The windows of each pool, by its ends (architecture indices).
    pool_windows: Vec<((usize, usize), WindowFile)>,
}

/// The standard deviation of a learned positional table's initial values (GPT-2's 0.01 is
/// for widths of hundreds; the paper's widths are tens).
const POSITIONS_INIT_STD: f64 = 0.02;

impl Graph {
    /// Reads an architecture file (JSON) and builds its network; a bad file is an error
    /// naming the file and what is wrong.
    pub fn from_file(path: &Path) -> Result<Self, LayoutError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| invalid(format!("cannot read {}: {e}", path.display())))?;
        Self::from_json(&text, &path.display().to_string())
    }

    /// Builds the network an architecture file's text declares; errors name `source` (the
    /// file it came from) and what is wrong.
    pub fn from_json(text: &str, source: &str) -> Result<Self, LayoutError> {
        let arch: Architecture = serde_json::from_str(text)
            .map_err(|e| invalid(format!("{source} is not a valid architecture file: {e}")))?;
        Self::new(&arch).map_err(|e| invalid(format!("{source}: {}", e.0)))
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
        let is_tokens = |l: usize| matches!(arch.layers[l].role, Role::Tokens { .. });
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
                    EdgeKind::Linear | EdgeKind::Conv2d | EdgeKind::Flatten => {
                        "two parallel weight matrices add up to one"
                    }
                    EdgeKind::Pool => "they would add the pool twice",
                    EdgeKind::Identity => "they would add the source twice",
                    EdgeKind::Embedding => "two tables of one token layer add up to one",
                    EdgeKind::Unembedding => "they would add the tied projection twice",
                };
                return Err(invalid(format!(
                    "edges {} and {} are both {} edges {} -> {}: {why}; declare the edge once",
                    first + 1,
                    e + 1,
                    edge.kind.name(),
                    edge.from,
                    edge.to
                )));
            }
            if arch.layers[to].role.is_input() {
                return Err(invalid(format!(
                    "{what}: '{}' is an input layer, which holds data and takes no edges",
                    edge.to
                )));
            }
            if edge.kind == EdgeKind::Embedding && !is_tokens(from) {
                return Err(invalid(format!(
                    "{what}: an embedding edge reads token ids; expected a token layer \
                     (\"role\": \"input\", \"tokens\": V), found '{}', {} {} layer of {} \
                     neurons",
                    edge.from,
                    if arch.layers[from].role == Role::Input {
                        "an"
                    } else {
                        "a"
                    },
                    arch.layers[from].role.name(),
                    arch.layers[from].size
                )));
            }
            if is_tokens(from) && edge.kind != EdgeKind::Embedding {
                return Err(invalid(format!(
                    "{what}: '{}' holds token ids, which only an embedding edge (\"kind\": \
                     \"embedding\") reads; found a {} edge",
                    edge.from,
                    edge.kind.name()
                )));
            }
            let weighted = matches!(
                edge.kind,
                EdgeKind::Linear | EdgeKind::Conv2d | EdgeKind::Flatten
            );
            if !weighted && edge.bias == Some(true) {
                return Err(invalid(format!(
                    "{what}: an {} edge has no bias",
                    edge.kind.name()
                )));
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
            if !arch
                .layers
                .iter()
                .any(|l| l.role == role || (role == Role::Input && l.role.is_input()))
            {
                return Err(invalid(format!("no layer has role \"{}\"", role.name())));
            }
        }
        check_sequence_layers(arch, &ends)?;
        let token_input = token_input(arch, &ends)?;
        check_unembeddings(arch, &ends, token_input)?;
        let windows = spatial::check_edges(arch, &ends)?;
        let embedded = token_input.map(|(_, e)| e);
        // Depth: the longest path from an input layer, unless given (a token layer has no
        // depth; the layer its embedding feeds is where the data enters, at depth 0 unless
        // given). A given depth is 0 or more for an input layer or an embedded one, above 0
        // for the others, and every layer sits above the layers that feed it (which the
        // default depths do by construction).
        let mut depth = vec![0.0f64; arch.layers.len()];
        for &l in &order {
            let spec = &arch.layers[l];
            if is_tokens(l) {
                depth[l] = -1.0;
                continue;
            }
            if let Some(d) = spec.depth {
                let (fits, expected) = if spec.role == Role::Input || Some(l) == embedded {
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
            if !is_tokens(from) && depth[to] <= depth[from] {
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
        let mut ids: Vec<Option<LayerId>> = Vec::with_capacity(arch.layers.len());
        let mut arch_of = Vec::new();
        for (l, spec) in arch.layers.iter().enumerate() {
            if is_tokens(l) {
                ids.push(None);
                continue;
            }
            // Line layers that share a depth share the line, side by side in declaration
            // order, each on a part as wide as its share of the neurons.
            let beside: Vec<usize> = (0..arch.layers.len())
                .filter(|&m| {
                    !is_tokens(m)
                        && depth[m] == depth[l]
                        && arch.layers[m].placement == PlacementSpec::Line
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
            ids.push(Some(b.layer(&spec.name, spec.size, placement, depth[l])));
            arch_of.push(l);
        }
        let positions = token_input.map_or(1, |(t, _)| arch.layers[t].size);
        type Incoming = (usize, usize, usize, Option<bimt_layout::ConnectionId>);
        let mut incoming: Vec<Vec<Incoming>> = vec![Vec::new(); arch.layers.len()];
        for (e, (edge, &(from, to))) in arch.edges.iter().zip(&ends).enumerate() {
            let bias = edge.bias.unwrap_or(true);
            let connection = match (edge.kind, ids[from], ids[to]) {
                (EdgeKind::Linear, Some(a), Some(z)) => {
                    // The positions of a token input share the embedded layer's neurons: a
                    // linear edge leaving it has a row per position and neuron.
                    let fold = if Some(from) == embedded { positions } else { 1 };
                    // Into an attention layer: the packed Q, K, V projection.
                    let out_fold = if arch.layers[to].attention.is_some() {
                        3
                    } else {
                        1
                    };
                    Some(b.folded_linear(a, z, fold, out_fold, edge.bias.unwrap_or(true)))
                }
                (EdgeKind::Conv2d, Some(a), Some(z)) => {
                    let window = windows[e].as_ref().expect("checked: a conv2d has windows");
                    let taps = window.kernel * window.kernel;
                    Some(b.folded_linear(a, z, taps, 1, bias))
                }
                (EdgeKind::Flatten, Some(a), Some(z)) => {
                    let pixels = arch.layers[from].data_width() / arch.layers[from].size;
                    Some(b.folded_linear(a, z, pixels, 1, bias))
                }
                // A pool keeps its channels: its ends share a permutation, as an identity's.
                (EdgeKind::Identity | EdgeKind::Pool, Some(a), Some(z)) => {
                    b.identity(a, z);
                    None
                }
                _ => None,
            };
            incoming[to].push((from, to, e, connection));
        }
        // After every connection's parameters, as the built-in token MLP orders them.
        let table = token_input.map(|(t, e)| {
            let Role::Tokens { vocabulary } = arch.layers[t].role else {
                unreachable!("token_input returns a token layer")
            };
            b.param(ParamSpec {
                name: format!(
                    "{} -> {} embedding",
                    arch.layers[t].name, arch.layers[e].name
                ),
                shape: [vocabulary, arch.layers[e].size],
                init_bound: 0.0,
                init_normal: Some(1.0),
                penalised_like_bias: true,
            })
        });
        // The tied output projections read the token table.
        for (edge, &(from, to)) in arch.edges.iter().zip(&ends) {
            if let (EdgeKind::Unembedding, Some(table), Some(a), Some(z)) =
                (edge.kind, table, ids[from], ids[to])
            {
                b.tied(a, z, table);
            }
        }
        // After the token table, one learned positional table per layer that asks for one.
        let sequence = arch.sequence.unwrap_or(1);
        let position_tables: Vec<Option<ParamId>> = arch
            .layers
            .iter()
            .map(|spec| {
                spec.learned_positions.then(|| {
                    b.param(ParamSpec {
                        name: format!("{} positions", spec.name),
                        shape: [sequence, spec.size],
                        init_bound: 0.0,
                        init_normal: Some(POSITIONS_INIT_STD),
                        penalised_like_bias: true,
                    })
                })
            })
            .collect();
        // The parameter axes that move with a layer's neurons beyond its connections': the
        // token table's columns (the embedded layer), the positional table's columns.
        let layer_axes = |l: usize| -> Vec<Axis> {
            let table = table.filter(|_| Some(l) == embedded);
            table
                .into_iter()
                .chain(position_tables[l])
                .map(|param| Axis {
                    param,
                    axis: 1,
                    fold: 1,
                })
                .collect()
        };
        let classes = identity_classes(arch, &ends);
        let mut group_members = Vec::with_capacity(arch.groups.len());
        for group in &arch.groups {
            let what = format!("group '{}'", group.name);
            let members = group
                .layers
                .iter()
                .map(|name| index(name, &what))
                .collect::<Result<Vec<usize>, _>>()?;
            if let Some(&t) = members.iter().find(|&&l| is_tokens(l)) {
                return Err(invalid(format!(
                    "{what}: '{}' is a token layer, which has no neurons to couple; expected \
                     layers of neurons",
                    arch.layers[t].name
                )));
            }
            if let Some(&f) = members.iter().find(|&&l| arch.layers[l].never_moves()) {
                return Err(invalid(format!(
                    "{what}: layer '{}' is fixed, so its neurons never move; a group's layers \
                     move together (remove it from the group, or \"fixed\")",
                    arch.layers[f].name
                )));
            }
            group_members.push(members);
        }
        // A class of layers joined by identity edges shares one permutation. Where it holds a
        // declared group's layer, that group's domain is the class's (the engine adds the
        // other layers); otherwise a class that is fixed, moves more than its connections
        // (tables) or holds attention heads gets a domain of its own, named like the classes
        // the engine derives (`a+b`). The rest the engine derives.
        let mut class_axes: Vec<Vec<Axis>> = vec![Vec::new(); arch.layers.len()];
        for (l, &class) in classes.iter().enumerate() {
            class_axes[class].extend(layer_axes(l));
        }
        let in_group = |l: usize| {
            group_members
                .iter()
                .any(|m| m.iter().any(|&g| classes[g] == classes[l]))
        };
        // Declared groups first, in the file's order; then the classes, by first layer.
        for (group, members) in arch.groups.iter().zip(&group_members) {
            let mut extra_axes = Vec::new();
            for &m in members {
                extra_axes.append(&mut class_axes[classes[m]]);
            }
            b.domain(Domain {
                name: group.name.clone(),
                layers: members.iter().filter_map(|&l| ids[l]).collect(),
                block: group.block,
                fixed: false,
                extra_axes,
            });
        }
        for (class, axes) in class_axes.iter_mut().enumerate() {
            let members: Vec<usize> = (0..arch.layers.len())
                .filter(|&l| classes[l] == class && ids[l].is_some())
                .collect();
            if members.is_empty() || members.iter().any(|&l| in_group(l)) {
                continue;
            }
            let block = attention_block(arch, &members)?;
            let fixed = members.iter().any(|&l| arch.layers[l].never_moves());
            if !(fixed || block.is_some() || !axes.is_empty()) {
                continue;
            }
            b.domain(Domain {
                name: members
                    .iter()
                    .map(|&l| arch.layers[l].name.as_str())
                    .collect::<Vec<_>>()
                    .join("+"),
                layers: members.iter().filter_map(|&l| ids[l]).collect(),
                block,
                fixed,
                extra_axes: std::mem::take(axes),
            });
        }
        let mut inputs = Vec::new();
        let mut column = 0;
        for (l, spec) in arch.layers.iter().enumerate() {
            match (spec.role, ids[l]) {
                (Role::Input, Some(id)) => {
                    b.input(id);
                    inputs.push((l, column));
                    column += spec.data_width();
                }
                (Role::Tokens { .. }, _) => {
                    if let Some(e) = embedded.and_then(|e| ids[e]) {
                        b.input(e);
                    }
                    inputs.push((l, column));
                    column += spec.size;
                }
                (Role::Output, Some(id)) => {
                    b.output(id);
                }
                _ => {}
            }
        }
        let layout = b.build()?;
        let window_file = |e: usize| {
            let w = windows[e]
                .as_ref()
                .expect("checked: a window edge has windows");
            WindowFile {
                kernel: w.kernel,
                stride: w.stride,
                padding: w.padding,
                pool: (arch.edges[e].kind == EdgeKind::Pool)
                    .then(|| arch.edges[e].pool.unwrap_or_default().name().into()),
            }
        };
        let mut conv_windows = Vec::new();
        let mut pool_windows = Vec::new();
        for edges in &incoming {
            for &(from, to, e, connection) in edges {
                match (arch.edges[e].kind, connection) {
                    (EdgeKind::Conv2d, Some(c)) => conv_windows.push((c, window_file(e))),
                    (EdgeKind::Pool, _) => pool_windows.push(((from, to), window_file(e))),
                    _ => {}
                }
            }
        }
        let incoming = incoming
            .into_iter()
            .map(|edges| {
                edges
                    .into_iter()
                    .map(
                        |(from, to, e, connection)| match (arch.edges[e].kind, connection) {
                            (EdgeKind::Conv2d, Some(c)) => Edge::Conv {
                                from,
                                weight: layout.graph()[c].weight,
                                bias: layout.graph()[c].bias,
                                windows: windows[e].as_ref().expect("checked").windows.clone(),
                            },
                            (EdgeKind::Flatten, Some(c)) => Edge::Flatten {
                                from,
                                weight: layout.graph()[c].weight,
                                bias: layout.graph()[c].bias,
                            },
                            (EdgeKind::Pool, _) => Edge::Pool {
                                from,
                                kind: arch.edges[e].pool.unwrap_or_default(),
                                windows: windows[e].as_ref().expect("checked").windows.clone(),
                            },
                            (EdgeKind::Linear, Some(c)) => {
                                let c = &layout.graph()[c];
                                match arch.layers[to].attention {
                                    Some(attention) => Edge::Attention {
                                        from,
                                        weight: c.weight,
                                        bias: c.bias,
                                        attention,
                                    },
                                    None => Edge::Linear {
                                        from,
                                        weight: c.weight,
                                        bias: c.bias,
                                    },
                                }
                            }
                            (EdgeKind::Embedding, _) => Edge::Embedding { from },
                            (EdgeKind::Unembedding, _) => Edge::Unembedding { from },
                            _ => Edge::Identity { from },
                        },
                    )
                    .collect()
            })
            .collect();
        let activations = arch
            .layers
            .iter()
            .enumerate()
            .map(|(l, spec)| {
                // A layer fed by pools alone pools maps that were activated already.
                let pooled = ends
                    .iter()
                    .zip(&arch.edges)
                    .filter(|((_, to), _)| *to == l)
                    .all(|(_, edge)| edge.kind == EdgeKind::Pool);
                match (spec.activation, spec.role) {
                    (Some(a), Role::Hidden | Role::Output) => a,
                    (None, Role::Hidden)
                        if Some(l) != embedded && spec.attention.is_none() && !pooled =>
                    {
                        Activation::Silu
                    }
                    _ => Activation::Identity,
                }
            })
            .collect();
        let outputs = (0..arch.layers.len())
            .filter(|&l| arch.layers[l].role == Role::Output)
            .collect();
        let tokens = token_input.zip(table).map(|((layer, embedded), table)| {
            let Role::Tokens { vocabulary } = arch.layers[layer].role else {
                unreachable!("token_input returns a token layer")
            };
            TokenInput {
                layer,
                table,
                vocabulary,
                positions,
                // Learned positions are added to the layer's values, so they are needed.
                values_needed: arch.layers[embedded].learned_positions
                    || arch.edges.iter().zip(&ends).any(|(edge, &(from, _))| {
                        from == embedded && edge.kind != EdgeKind::Linear
                    }),
            }
        });
        Ok(Self {
            layout,
            architecture: arch.clone(),
            order,
            incoming,
            activations,
            inputs,
            outputs,
            arch_of,
            tokens,
            position_tables,
            conv_windows,
            pool_windows,
        })
    }

    /// The architecture it was built from.
    pub fn architecture(&self) -> &Architecture {
        &self.architecture
    }

    /// The token table `[vocabulary, size]` of a token input, whose columns are the neurons
    /// of the layer its embedding feeds (in storage order); `None` for an input of numbers.
    pub fn token_embedding(&self) -> Option<ParamId> {
        self.tokens.map(|t| t.table)
    }

    /// Every layer's values (after its activation), by layer index; `x` in storage order (for
    /// a token input, `[rows, positions]` token ids). A token layer's values are its ids; the
    /// layer its embedding feeds holds every position's table row, concatenated.
    pub fn forward_layers(&self, params: &[Tensor<2>], x: Tensor<2>) -> Vec<Option<Tensor<2>>> {
        self.evaluate(params, x, true)
    }

    /// [`forward_layers`](Self::forward_layers); with `all` false the layer a token
    /// embedding feeds is left out where only linear edges read it (they take the ids
    /// straight through the table and their weight).
    fn evaluate(&self, params: &[Tensor<2>], x: Tensor<2>, all: bool) -> Vec<Option<Tensor<2>>> {
        let mut values: Vec<Option<Tensor<2>>> = vec![None; self.incoming.len()];
        let single_input = self.inputs.len() == 1;
        for &(l, column) in &self.inputs {
            let spec = &self.architecture.layers[l];
            let data = if single_input {
                x.clone()
            } else {
                x.clone().narrow(1, column, spec.data_width())
            };
            values[l] = Some(match spec.shape {
                // Channel-major columns to a row per pixel, a column per channel.
                Some([h, w]) if spec.size > 1 => {
                    let images = data.dims()[0];
                    data.reshape([images, spec.size, h * w])
                        .swap_dims(1, 2)
                        .reshape([images * h * w, spec.size])
                }
                Some([h, w]) => {
                    let images = data.dims()[0];
                    data.reshape([images * h * w, 1])
                }
                None => data,
            });
        }
        for &l in &self.order {
            if self.architecture.layers[l].role.is_input() {
                continue;
            }
            let mut sum: Option<Tensor<2>> = None;
            for edge in &self.incoming[l] {
                let term = match *edge {
                    Edge::Linear { from, weight, bias } => {
                        let y = match (&values[from], self.tokens) {
                            (Some(h), _) => bimt_kernels::matmul(h.clone(), params[weight].clone()),
                            (None, Some(t)) => bimt_kernels::token_product(
                                params[t.table].clone(),
                                params[weight].clone(),
                                values[t.layer].clone().expect("the ids are an input"),
                            ),
                            (None, None) => unreachable!("sources come first"),
                        };
                        match bias {
                            Some(b) => bimt_kernels::add_bias(y, params[b].clone()),
                            None => y,
                        }
                    }
                    Edge::Attention {
                        from,
                        weight,
                        bias,
                        attention,
                    } => {
                        let h = values[from].clone().expect("sources come first");
                        self.attend(params, h, weight, bias, attention)
                    }
                    Edge::Identity { from } => values[from].clone().expect("sources come first"),
                    Edge::Conv {
                        from,
                        weight,
                        bias,
                        ref windows,
                    } => {
                        let h = values[from].clone().expect("sources come first");
                        let y = bimt_kernels::conv2d(h, params[weight].clone(), windows);
                        match bias {
                            Some(b) => bimt_kernels::add_bias(y, params[b].clone()),
                            None => y,
                        }
                    }
                    Edge::Pool {
                        from,
                        kind,
                        ref windows,
                    } => {
                        let h = values[from].clone().expect("sources come first");
                        match kind {
                            PoolKind::Max => bimt_kernels::max_pool(h, windows),
                            PoolKind::Average => bimt_kernels::average_pool(h, windows),
                        }
                    }
                    Edge::Flatten { from, weight, bias } => {
                        let h = values[from].clone().expect("sources come first");
                        let [rows, channels] = h.dims();
                        let pixels = params[weight].dims()[0] / channels.max(1);
                        let h = h.reshape([rows / pixels, pixels * channels]);
                        let y = bimt_kernels::matmul(h, params[weight].clone());
                        match bias {
                            Some(b) => bimt_kernels::add_bias(y, params[b].clone()),
                            None => y,
                        }
                    }
                    Edge::Unembedding { from } => {
                        let t = self.tokens.expect("an unembedding edge has a token input");
                        let h = values[from].clone().expect("sources come first");
                        bimt_kernels::matmul(h, params[t.table].clone().transpose())
                    }
                    Edge::Embedding { from } => {
                        let t = self.tokens.expect("an embedding edge has a token input");
                        if !(all || t.values_needed) {
                            break;
                        }
                        let ids = values[from].clone().expect("the ids are an input");
                        bimt_kernels::token_rows(params[t.table].clone(), ids)
                    }
                };
                sum = Some(match sum {
                    Some(s) => s + term,
                    None => term,
                });
            }
            let sum = match (sum, self.position_tables[l]) {
                (Some(sum), Some(table)) => Some(self.add_positions(sum, params[table].clone())),
                (sum, _) => sum,
            };
            values[l] = sum.map(|sum| self.activations[l].apply(sum));
        }
        values
    }

    /// Tokens per sequence (1 for a model of single rows).
    fn sequence(&self) -> usize {
        self.architecture.sequence.unwrap_or(1)
    }

    /// The number of sequences in `rows` rows.
    ///
    /// # Panics
    ///
    /// If `rows` is not a multiple of the sequence length.
    fn sequences(&self, rows: usize) -> usize {
        let t = self.sequence();
        assert!(
            rows.is_multiple_of(t),
            "the architecture reads sequences of {t} rows, but got {rows} rows (not a multiple \
             of {t})"
        );
        rows / t
    }

    /// `x + table[t]` at every position `t` of every sequence.
    fn add_positions(&self, x: Tensor<2>, table: Tensor<2>) -> Tensor<2> {
        let [rows, size] = x.dims();
        let (batch, t) = (self.sequences(rows), self.sequence());
        (x.reshape([batch, t, size]) + table.reshape([1, t, size])).reshape([rows, size])
    }

    /// Multi-head self-attention of `h` (`[rows, in]`) through the packed projection `weight`
    /// `[in, 3·size]`: Q, K and V each through its own column block (cheaper on the CPU than
    /// slicing the packed product), scaled dot products per head, an optional causal mask.
    fn attend(
        &self,
        params: &[Tensor<2>],
        h: Tensor<2>,
        weight: ParamId,
        bias: Option<ParamId>,
        attention: AttentionSpec,
    ) -> Tensor<2> {
        let [rows, _] = h.dims();
        let width = params[weight].dims()[1] / 3;
        let heads = attention.heads;
        let head_dim = width / heads;
        let (batch, t) = (self.sequences(rows), self.sequence());
        let project = |part: usize| {
            let w = params[weight].clone().narrow(1, part * width, width);
            let y = bimt_kernels::matmul(h.clone(), w);
            let y = match bias {
                Some(b) => {
                    bimt_kernels::add_bias(y, params[b].clone().narrow(1, part * width, width))
                }
                None => y,
            };
            y.reshape([batch, t, heads, head_dim]).swap_dims(1, 2)
        };
        let (q, k, v) = (project(0), project(1), project(2));
        let mut scores = q
            .matmul(k.swap_dims(2, 3))
            .mul_scalar(1.0 / (head_dim as f64).sqrt());
        if attention.causal {
            scores = scores + causal_mask(t, &h.device());
        }
        activation::softmax(scores, 3)
            .matmul(v)
            .swap_dims(1, 2)
            .reshape([rows, width])
    }
}

/// The token layer and the layer its embedding feeds, checked: one token layer, no input of
/// numbers beside it, one embedding edge from it, into a hidden layer that no other edge
/// feeds and that passes its positions on through linear edges only.
fn token_input(
    arch: &Architecture,
    ends: &[(usize, usize)],
) -> Result<Option<(usize, usize)>, LayoutError> {
    let layers = &arch.layers;
    let token_layers: Vec<usize> = (0..layers.len())
        .filter(|&l| matches!(layers[l].role, Role::Tokens { .. }))
        .collect();
    let Some(&t) = token_layers.first() else {
        if let Some(e) = arch
            .edges
            .iter()
            .position(|e| e.kind == EdgeKind::Embedding)
        {
            // Caught per edge already; kept for an architecture built in Rust.
            return Err(invalid(format!(
                "edge {} ({} -> {}): an embedding edge reads token ids, and no layer holds them",
                e + 1,
                arch.edges[e].from,
                arch.edges[e].to
            )));
        }
        return Ok(None);
    };
    let name = |l: usize| layers[l].name.as_str();
    if let Some(&u) = token_layers.get(1) {
        return Err(invalid(format!(
            "layers '{}' and '{}' both hold token ids; an architecture takes one token layer \
             for now (positions of one token layer share its table: \"positions\": 2)",
            name(t),
            name(u)
        )));
    }
    if let Some(x) = (0..layers.len()).find(|&l| layers[l].role == Role::Input) {
        return Err(invalid(format!(
            "layer '{}' is an input of numbers beside the token layer '{}'; an architecture of \
             token ids takes no other input for now",
            name(x),
            name(t)
        )));
    }
    let embeddings: Vec<usize> = (0..ends.len()).filter(|&e| ends[e].0 == t).collect();
    let e = match embeddings[..] {
        [] => {
            return Err(invalid(format!(
                "token layer '{}' feeds no edge; expected one embedding edge (\"kind\": \
                 \"embedding\") to the layer that holds its vectors",
                name(t)
            )));
        }
        [e] => e,
        [first, second, ..] => {
            return Err(invalid(format!(
                "token layer '{}' feeds {} embedding edges (edges {} and {}); expected one: a \
                 token layer has one table",
                name(t),
                embeddings.len(),
                first + 1,
                second + 1
            )));
        }
    };
    let target = ends[e].1;
    let what = format!("edge {} ({} -> {})", e + 1, name(t), name(target));
    if layers[target].role != Role::Hidden {
        return Err(invalid(format!(
            "{what}: an embedding feeds a hidden layer; found '{}', an {} layer",
            name(target),
            layers[target].role.name()
        )));
    }
    if let Some(a) = layers[target]
        .activation
        .filter(|&a| a != Activation::Identity)
    {
        return Err(invalid(format!(
            "layer '{}' holds the rows of the embedding table, which take no activation; \
             expected none or \"identity\", found \"{}\"",
            name(target),
            a.name()
        )));
    }
    if let Some(other) = (0..ends.len()).find(|&f| f != e && ends[f].1 == target) {
        return Err(invalid(format!(
            "layer '{}' is fed by the embedding {what} and by edge {} ({} -> {}); a layer an \
             embedding feeds takes no other edge",
            name(target),
            other + 1,
            name(ends[other].0),
            name(target)
        )));
    }
    let positions = layers[t].size;
    if positions > 1
        && let Some(f) =
            (0..ends.len()).find(|&f| ends[f].0 == target && arch.edges[f].kind != EdgeKind::Linear)
    {
        let to = ends[f].1;
        return Err(invalid(format!(
            "edge {} ({} -> {}): '{}' holds {positions} token positions of {} values each, \
             which an {} edge cannot pass to the {} neurons of '{}'; expected a linear edge \
             (its weight has a row per position and neuron)",
            f + 1,
            name(target),
            name(to),
            name(target),
            layers[target].size,
            arch.edges[f].kind.name(),
            layers[to].size,
            name(to)
        )));
    }
    Ok(Some((t, target)))
}
/// The additive causal mask `[1, 1, t, t]`: 0 where position `i` may attend to `j ≤ i`, −∞
/// above the diagonal.
fn causal_mask(t: usize, device: &Device) -> Tensor<4> {
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
}

/// For every layer, the smallest index of the layers joined to it by identity edges (its
/// class, which shares one permutation).
fn identity_classes(arch: &Architecture, ends: &[(usize, usize)]) -> Vec<usize> {
    let mut class: Vec<usize> = (0..arch.layers.len()).collect();
    fn root(class: &mut [usize], mut x: usize) -> usize {
        while class[x] != x {
            class[x] = class[class[x]];
            x = class[x];
        }
        x
    }
    for (edge, &(from, to)) in arch.edges.iter().zip(ends) {
        if matches!(edge.kind, EdgeKind::Identity | EdgeKind::Pool) {
            let (a, b) = (root(&mut class, from), root(&mut class, to));
            class[a.max(b)] = a.min(b);
        }
    }
    (0..class.len()).map(|l| root(&mut class, l)).collect()
}

/// The block of a class of layers that holds attention layers: their head size, which must
/// be one.
fn attention_block(arch: &Architecture, members: &[usize]) -> Result<Option<usize>, LayoutError> {
    let mut block: Option<(usize, usize)> = None;
    for &l in members {
        let spec = &arch.layers[l];
        let Some(attention) = spec.attention else {
            continue;
        };
        let head_dim = spec.size / attention.heads;
        match block {
            Some((first, d)) if d != head_dim => {
                return Err(invalid(format!(
                    "attention layers '{}' and '{}' are joined by identity edges, so they share \
                     one permutation, but their heads hold {d} and {head_dim} neurons; expected \
                     equal head sizes",
                    arch.layers[first].name, spec.name
                )));
            }
            Some(_) => {}
            None => block = Some((l, head_dim)),
        }
    }
    Ok(block.map(|(_, d)| d))
}

/// The rules of sequence models: a positive `sequence` where attention or learned positions
/// need it; an attention layer is hidden, its heads divide it, and one linear edge feeds it
/// (the Q, K, V projection); learned positions sit on computed layers other than attention;
/// a token layer of a sequence model holds one id per row.
fn check_sequence_layers(arch: &Architecture, ends: &[(usize, usize)]) -> Result<(), LayoutError> {
    if arch.sequence == Some(0) {
        return Err(invalid(
            "\"sequence\": 0; expected the number of tokens per sequence, 1 or more".into(),
        ));
    }
    for (l, spec) in arch.layers.iter().enumerate() {
        let what = format!("layer '{}'", spec.name);
        let needs_sequence = |feature: &str| {
            invalid(format!(
                "{what} has {feature}, which works over the positions of a sequence; expected a \
                 top-level \"sequence\": T (tokens per sequence; the data's rows come T at a \
                 time)"
            ))
        };
        if spec.learned_positions {
            if arch.sequence.is_none() {
                return Err(needs_sequence("\"learned_positions\""));
            }
            if spec.role == Role::Input {
                return Err(invalid(format!(
                    "{what} holds data, to which nothing is added; give \"learned_positions\" \
                     to the layer the data feeds"
                )));
            }
            if spec.attention.is_some() {
                return Err(invalid(format!(
                    "{what}: an attention layer takes no \"learned_positions\"; give them to \
                     the layer that feeds its Q, K, V projection"
                )));
            }
        }
        if let (Role::Tokens { .. }, Some(_)) = (spec.role, arch.sequence)
            && spec.size != 1
        {
            return Err(invalid(format!(
                "{what}: in a sequence model a token layer holds one id per row (a row is a \
                 position); found \"positions\": {}",
                spec.size
            )));
        }
        let Some(attention) = spec.attention else {
            continue;
        };
        if arch.sequence.is_none() {
            return Err(needs_sequence("\"attention\""));
        }
        if spec.role != Role::Hidden {
            return Err(invalid(format!(
                "{what}: an attention layer is hidden; found role \"{}\"",
                spec.role.name()
            )));
        }
        if attention.heads == 0 || !spec.size.is_multiple_of(attention.heads) {
            return Err(invalid(format!(
                "{what}: {} heads do not divide its {} neurons; expected a number of heads that \
                 does",
                attention.heads, spec.size
            )));
        }
        if let Some(a) = spec.activation {
            return Err(invalid(format!(
                "{what}: an attention layer's value is the attention itself; expected no \
                 \"activation\", found \"{}\"",
                a.name()
            )));
        }
        if spec.fixed {
            return Err(invalid(format!(
                "{what}: attention heads are not fixed; remove \"fixed\""
            )));
        }
        let feeding: Vec<usize> = (0..ends.len()).filter(|&e| ends[e].1 == l).collect();
        match feeding[..] {
            [e] if arch.edges[e].kind == EdgeKind::Linear => {}
            [e] => {
                return Err(invalid(format!(
                    "edge {} ({} -> {}): an attention layer is fed by one linear edge, its Q, K, \
                     V projection; found an {} edge",
                    e + 1,
                    arch.edges[e].from,
                    spec.name,
                    arch.edges[e].kind.name()
                )));
            }
            _ => {
                return Err(invalid(format!(
                    "{what}: an attention layer is fed by one linear edge (its Q, K, V \
                     projection); found {} edges into it",
                    feeding.len()
                )));
            }
        }
    }
    Ok(())
}

/// An unembedding edge ties the token table: there is a token input, the edge leaves a layer
/// that shares the embedded layer's permutation (so the table's columns are its neurons) and
/// feeds a fixed output layer of one neuron per token.
fn check_unembeddings(
    arch: &Architecture,
    ends: &[(usize, usize)],
    token_input: Option<(usize, usize)>,
) -> Result<(), LayoutError> {
    let classes = identity_classes(arch, ends);
    for (e, (edge, &(from, to))) in arch.edges.iter().zip(ends).enumerate() {
        if edge.kind != EdgeKind::Unembedding {
            continue;
        }
        let what = format!("edge {} ({} -> {})", e + 1, edge.from, edge.to);
        let Some((tokens, embedded)) = token_input else {
            return Err(invalid(format!(
                "{what}: an unembedding edge projects through the token table, and no layer \
                 holds token ids; expected a token layer (\"tokens\": V) and its embedding"
            )));
        };
        let Role::Tokens { vocabulary } = arch.layers[tokens].role else {
            unreachable!("token_input returns a token layer")
        };
        let target = &arch.layers[to];
        if classes[from] != classes[embedded] {
            return Err(invalid(format!(
                "{what}: the tied table's columns are the neurons of '{}', the layer the \
                 embedding feeds, so the edge must leave a layer joined to it by identity \
                 edges (the residual stream); '{}' is not",
                arch.layers[embedded].name, edge.from
            )));
        }
        if target.role != Role::Output || target.size != vocabulary {
            return Err(invalid(format!(
                "{what}: an unembedding edge gives one value per token; expected an output \
                 layer of {vocabulary} neurons, found '{}', {} layer of {}",
                target.name,
                match target.role {
                    Role::Hidden => "a hidden",
                    role =>
                        if role == Role::Output {
                            "an output"
                        } else {
                            "an input"
                        },
                },
                target.size
            )));
        }
        if !target.fixed {
            return Err(invalid(format!(
                "{what}: the neurons of '{}' are the tied table's rows, one per token id, so \
                 they cannot move; expected \"fixed\": true on it",
                target.name
            )));
        }
    }
    Ok(())
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
        let mut values = self.evaluate(params, x, false);
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
        let l = self.arch_of[layer.index()];
        match self.architecture.layers[l].attention {
            Some(_) => "attention".into(),
            None => self.activations[l].name().into(),
        }
    }

    fn connection_activation(&self, connection: ConnectionId) -> Option<String> {
        let to = self.layout.graph().edge_endpoints(connection)?.1;
        self.architecture.layers[self.arch_of[to.index()]]
            .attention
            .map(|_| "attention".into())
    }

    fn sequence(&self) -> Option<usize> {
        self.architecture.sequence
    }

    fn attention(&self, layer: LayerId) -> Option<AttentionFile> {
        self.architecture.layers[self.arch_of[layer.index()]]
            .attention
            .map(|a| AttentionFile {
                heads: a.heads,
                causal: a.causal,
            })
    }

    fn learned_positions(&self, layer: LayerId) -> Option<ParamId> {
        self.position_tables[self.arch_of[layer.index()]]
    }

    fn layer_shape(&self, layer: LayerId) -> Option<[usize; 2]> {
        self.architecture.layers[self.arch_of[layer.index()]].shape
    }

    fn connection_window(&self, connection: ConnectionId) -> Option<WindowFile> {
        self.conv_windows
            .iter()
            .find(|(c, _)| *c == connection)
            .map(|(_, w)| w.clone())
    }

    fn pool_window(&self, from: LayerId, to: LayerId) -> Option<WindowFile> {
        let ends = (self.arch_of[from.index()], self.arch_of[to.index()]);
        self.pool_windows
            .iter()
            .find(|(e, _)| *e == ends)
            .map(|(_, w)| w.clone())
    }

    fn token_embedding(&self) -> Option<ParamId> {
        Graph::token_embedding(self)
    }

    fn example_input(&self, device: &Device) -> Tensor<2> {
        match self.tokens {
            // Token ids: a spread of the vocabulary at every position, in a few rows (two
            // sequences of a sequence model).
            Some(t) => {
                let rows = 8 * self.sequence();
                let ids: Vec<f32> = (0..rows * t.positions)
                    .map(|i| ((i * 7 + 3) % t.vocabulary) as f32)
                    .collect();
                Tensor::from_data(TensorData::new(ids, [rows, t.positions]), device)
            }
            None => {
                let width = self
                    .inputs
                    .iter()
                    .map(|&(l, _)| self.architecture.layers[l].data_width())
                    .sum();
                let rows = 8 * self.sequence();
                Tensor::random([rows, width], Distribution::Uniform(-1.0, 1.0), device)
            }
        }
    }
}
