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

/// A validated layout graph.
#[derive(Clone, Debug)]
pub struct Layout {
    graph: DiGraph<NeuronLayer, Connection>,
    identities: Vec<(LayerId, LayerId)>,
    params: Vec<ParamSpec>,
    domains: Vec<Domain>,
    domain_of: Vec<DomainId>,
    inputs: Vec<LayerId>,
    outputs: Vec<LayerId>,
}

/// Declares a layout step by step; [`build`](Self::build) validates it.
#[derive(Default)]
pub struct LayoutBuilder {
    graph: DiGraph<NeuronLayer, Connection>,
    identities: Vec<(LayerId, LayerId)>,
    params: Vec<ParamSpec>,
    domains: Vec<Domain>,
    inputs: Vec<LayerId>,
    outputs: Vec<LayerId>,
}

impl LayoutBuilder {
    /// An empty layout.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a neuron layer of `size` neurons at `depth`.
    pub fn layer(&mut self, name: &str, size: usize, placement: Placement, depth: f64) -> LayerId {
        self.graph.add_node(NeuronLayer {
            name: name.to_string(),
            size,
            placement,
            depth,
            positions: Vec::new(),
        })
    }

    /// Adds a parameter and returns its id.
    pub fn param(&mut self, spec: ParamSpec) -> ParamId {
        self.params.push(spec);
        self.params.len() - 1
    }

    /// Adds a plain linear connection `from → to` with PyTorch's default initialisation,
    /// creating its weight (and bias) parameters.
    pub fn linear(&mut self, from: LayerId, to: LayerId, bias: bool) -> ConnectionId {
        self.folded_linear(from, to, 1, 1, bias)
    }

    /// Adds a linear connection with input and output folds (see [`Connection`]).
    pub fn folded_linear(
        &mut self,
        from: LayerId,
        to: LayerId,
        in_fold: usize,
        out_fold: usize,
        bias: bool,
    ) -> ConnectionId {
        let name = format!("{} -> {}", self.name(from), self.name(to));
        let (rows, cols) = (self.size(from) * in_fold, self.size(to) * out_fold);
        let bound = 1.0 / (rows.max(1) as f64).sqrt();
        let weight = self.param(ParamSpec {
            name: format!("{name} weight"),
            shape: [rows, cols],
            init_bound: bound,
            init_normal: None,
            penalised_like_bias: false,
        });
        let bias = bias.then(|| {
            self.param(ParamSpec {
                name: format!("{name} bias"),
                shape: [1, cols],
                init_bound: bound,
                init_normal: None,
                penalised_like_bias: true,
            })
        });
        self.connect(
            from,
            to,
            Connection {
                weight,
                bias,
                in_fold,
                out_fold,
            },
        )
    }

    /// Adds a connection over parameters declared with [`param`](Self::param).
    pub fn connect(&mut self, from: LayerId, to: LayerId, connection: Connection) -> ConnectionId {
        self.graph.add_edge(from, to, connection)
    }

    /// Adds an identity edge `from → to`: `to`'s pre-activation includes `from`'s values
    /// unchanged (a residual skip), so the two layers must share one permutation. Identity
    /// edges have no parameters and no wiring cost. [`build`](Self::build) puts both ends in
    /// one domain, or refuses a layout whose declared domains separate them.
    pub fn identity(&mut self, from: LayerId, to: LayerId) -> &mut Self {
        self.identities.push((from, to));
        self
    }

    /// Declares a coupling group. Layers in no declared group get one free domain each
    /// (layers joined by identity edges share one).
    pub fn domain(&mut self, domain: Domain) -> DomainId {
        self.domains.push(domain);
        self.domains.len() - 1
    }

    /// Marks an input layer; data columns go to the input layers in the order they are
    /// marked, and each input layer's order is tracked.
    pub fn input(&mut self, layer: LayerId) -> &mut Self {
        self.inputs.push(layer);
        self
    }

    /// Marks an output layer; the network's outputs are the output layers' values in the
    /// order they are marked, and each output layer's order is tracked.
    pub fn output(&mut self, layer: LayerId) -> &mut Self {
        self.outputs.push(layer);
        self
    }

    fn name(&self, layer: LayerId) -> String {
        self.graph
            .node_weight(layer)
            .map(|l| l.name.clone())
            .unwrap_or_else(|| format!("#{}", layer.index()))
    }

    fn size(&self, layer: LayerId) -> usize {
        self.graph.node_weight(layer).map_or(0, |l| l.size)
    }

    /// Validates the layout and places every neuron.
    pub fn build(self) -> Result<Layout, LayoutError> {
        let LayoutBuilder {
            mut graph,
            identities,
            params,
            mut domains,
            inputs,
            outputs,
        } = self;
        let err = |m: String| Err(LayoutError(m));
        let mut names = std::collections::HashSet::new();
        for layer in graph.node_weights_mut() {
            if layer.size == 0 {
                return err(format!("layer '{}' has no neurons", layer.name));
            }
            if !names.insert(layer.name.clone()) {
                return err(format!("two layers are named '{}'", layer.name));
            }
            layer.positions = layer
                .placement
                .positions(layer.size, layer.depth)
                .map_err(|e| LayoutError(format!("layer '{}': {e}", layer.name)))?;
        }
        for (p, spec) in params.iter().enumerate() {
            if spec.shape[0] == 0 || spec.shape[1] == 0 {
                return err(format!(
                    "parameter {p} ('{}') has an empty shape {:?}",
                    spec.name, spec.shape
                ));
            }
        }
        let param = |id: ParamId, what: &str| {
            params.get(id).ok_or_else(|| {
                LayoutError(format!(
                    "{what} refers to parameter {id}, but only {} exist",
                    params.len()
                ))
            })
        };
        let mut axis_owner: std::collections::HashMap<(ParamId, usize), String> =
            Default::default();
        let mut claim = |axis: (ParamId, usize), owner: String| -> Result<(), LayoutError> {
            match axis_owner.insert(axis, owner.clone()) {
                Some(previous) => Err(LayoutError(format!(
                    "the {} of '{}' are permuted by both {previous} and {owner}",
                    if axis.1 == 0 { "rows" } else { "columns" },
                    params.get(axis.0).map_or("?", |p| p.name.as_str())
                ))),
                None => Ok(()),
            }
        };
        for edge in graph.edge_references() {
            let (from, to, c) = (&graph[edge.source()], &graph[edge.target()], edge.weight());
            let what = format!("connection {} -> {}", from.name, to.name);
            if c.in_fold == 0 || c.out_fold == 0 {
                return err(format!("{what}: folds must be at least 1"));
            }
            let w = param(c.weight, &what)?;
            let expected = [from.size * c.in_fold, to.size * c.out_fold];
            if w.shape != expected {
                return err(format!(
                    "{what}: weight '{}' is {:?}, expected {:?} ({} x in_fold {} by {} x out_fold {})",
                    w.name, w.shape, expected, from.size, c.in_fold, to.size, c.out_fold
                ));
            }
            claim((c.weight, 0), what.clone())?;
            claim((c.weight, 1), what.clone())?;
            if let Some(b) = c.bias {
                let b = param(b, &what)?;
                if b.shape != [1, expected[1]] {
                    return err(format!(
                        "{what}: bias '{}' is {:?}, expected [1, {}]",
                        b.name, b.shape, expected[1]
                    ));
                }
                claim((c.bias.unwrap_or_default(), 1), what.clone())?;
            }
        }
        let mut domain_of = vec![usize::MAX; graph.node_count()];
        for (d, domain) in domains.iter().enumerate() {
            if domain.layers.is_empty() {
                return err(format!("domain '{}' has no layers", domain.name));
            }
            let mut size = None;
            for &l in &domain.layers {
                let Some(layer) = graph.node_weight(l) else {
                    return err(format!(
                        "domain '{}' names layer #{}, which does not exist",
                        domain.name,
                        l.index()
                    ));
                };
                if domain_of[l.index()] != usize::MAX {
                    let other = &domains[domain_of[l.index()]].name;
                    return err(format!(
                        "layer '{}' is in two domains: '{other}' and '{}'",
                        layer.name, domain.name
                    ));
                }
                domain_of[l.index()] = d;
                match size {
                    None => size = Some(layer.size),
                    Some(s) if s != layer.size => {
                        return err(format!(
                            "domain '{}' couples layers of different sizes: {s} and {} ('{}')",
                            domain.name, layer.size, layer.name
                        ));
                    }
                    _ => {}
                }
            }
            let size = size.unwrap_or_default();
            if let Some(block) = domain.block
                && (block == 0 || size % block != 0)
            {
                return err(format!(
                    "domain '{}': block size {block} does not divide its {size} neurons",
                    domain.name
                ));
            }
            for a in &domain.extra_axes {
                let what = format!("domain '{}'", domain.name);
                let p = param(a.param, &what)?;
                if a.axis > 1 {
                    return err(format!(
                        "{what}: parameter '{}' has no axis {} (parameters are 2-D)",
                        p.name, a.axis
                    ));
                }
                if a.fold == 0 || p.shape[a.axis] != size * a.fold {
                    return err(format!(
                        "{what}: axis {} of '{}' has length {}, expected {size} neurons x fold {}",
                        a.axis, p.name, p.shape[a.axis], a.fold
                    ));
                }
                claim((a.param, a.axis), what)?;
            }
        }
        derive_identity_domains(&graph, &identities, &mut domains, &mut domain_of)?;
        let mut domain_names = std::collections::HashSet::new();
        for domain in &domains {
            if !domain_names.insert(domain.name.as_str()) {
                return err(format!(
                    "two domains are named '{}': give each coupling group its own name",
                    domain.name
                ));
            }
        }
        check_roles(&graph, &identities, &inputs, &outputs)?;
        Ok(Layout {
            graph,
            identities,
            params,
            domains,
            domain_of,
            inputs,
            outputs,
        })
    }
}

/// Puts the two ends of every identity edge into one domain: a layer in no declared domain
/// joins its partner's, and layers in no declared domain at all form one new domain (named
/// after its layers, `a+b`). Two declared domains joined by an identity edge are refused.
fn derive_identity_domains(
    graph: &DiGraph<NeuronLayer, Connection>,
    identities: &[(LayerId, LayerId)],
    domains: &mut Vec<Domain>,
    domain_of: &mut [DomainId],
) -> Result<(), LayoutError> {
    let exists = |l: LayerId| graph.node_weight(l).is_some();
    for &(a, b) in identities {
        if !exists(a) || !exists(b) {
            return Err(LayoutError(format!(
                "an identity edge names layer #{}, which does not exist",
                if exists(a) { b.index() } else { a.index() }
            )));
        }
        if graph[a].size != graph[b].size {
            return Err(LayoutError(format!(
                "identity edge {} -> {}: the layers have {} and {} neurons; an identity edge \
                 needs equal sizes",
                graph[a].name, graph[b].name, graph[a].size, graph[b].size
            )));
        }
    }
    // Union-find over layers; each class keeps the declared domain it holds, if any.
    let n = graph.node_count();
    let mut parent: Vec<usize> = (0..n).collect();
    fn root(parent: &mut [usize], mut x: usize) -> usize {
        while parent[x] != x {
            parent[x] = parent[parent[x]];
            x = parent[x];
        }
        x
    }
    for l in 0..n {
        if domain_of[l] != usize::MAX {
            let first = domains[domain_of[l]].layers[0].index();
            let (a, b) = (root(&mut parent, l), root(&mut parent, first));
            parent[a] = b;
        }
    }
    for &(a, b) in identities {
        let (ra, rb) = (root(&mut parent, a.index()), root(&mut parent, b.index()));
        let declared = |r: usize, domain_of: &[DomainId], parent: &mut [usize]| {
            (0..n).find(|&l| domain_of[l] != usize::MAX && root(parent, l) == r)
        };
        if let (Some(da), Some(db)) = (
            declared(ra, domain_of, &mut parent),
            declared(rb, domain_of, &mut parent),
        ) && domain_of[da] != domain_of[db]
        {
            return Err(LayoutError(format!(
                "identity edge {} -> {}: its ends must share one permutation, but they are in \
                 the domains '{}' and '{}'; put both layers in one domain",
                graph[a].name,
                graph[b].name,
                domains[domain_of[da]].name,
                domains[domain_of[db]].name
            )));
        }
        parent[ra] = rb;
    }
    let mut class_domain: std::collections::HashMap<usize, DomainId> = Default::default();
    for (l, &d) in domain_of.iter().enumerate() {
        if d != usize::MAX {
            class_domain.insert(root(&mut parent, l), d);
        }
    }
    for l in graph.node_indices() {
        if domain_of[l.index()] != usize::MAX {
            continue;
        }
        let r = root(&mut parent, l.index());
        let d = *class_domain.entry(r).or_insert_with(|| {
            domains.push(Domain {
                name: String::new(),
                layers: Vec::new(),
                block: None,
                fixed: false,
                extra_axes: Vec::new(),
            });
            domains.len() - 1
        });
        domains[d].layers.push(l);
        domain_of[l.index()] = d;
    }
    for domain in domains.iter_mut().filter(|d| d.name.is_empty()) {
        domain.name = domain
            .layers
            .iter()
            .map(|&l| graph[l].name.as_str())
            .collect::<Vec<_>>()
            .join("+");
    }
    Ok(())
}

/// Checks the declared inputs and outputs, and that every other layer is fed and read: a
/// layer that is not an input needs an incoming edge, one that is not an output an outgoing
/// edge (identity edges count).
fn check_roles(
    graph: &DiGraph<NeuronLayer, Connection>,
    identities: &[(LayerId, LayerId)],
    inputs: &[LayerId],
    outputs: &[LayerId],
) -> Result<(), LayoutError> {
    let err = |m: String| Err(LayoutError(m));
    for (what, layers) in [("input", inputs), ("output", outputs)] {
        for (i, &l) in layers.iter().enumerate() {
            let Some(layer) = graph.node_weight(l) else {
                return err(format!("the {what} layer #{} does not exist", l.index()));
            };
            if layers[..i].contains(&l) {
                return err(format!(
                    "layer '{}' is marked as an {what} twice",
                    layer.name
                ));
            }
        }
    }
    if let Some(&l) = inputs.iter().find(|l| outputs.contains(l)) {
        return err(format!(
            "layer '{}' is marked both as an input and as an output",
            graph[l].name
        ));
    }
    for l in graph.node_indices() {
        let fed = graph
            .edges_directed(l, Direction::Incoming)
            .next()
            .is_some()
            || identities.iter().any(|&(_, to)| to == l);
        let read = graph
            .edges_directed(l, Direction::Outgoing)
            .next()
            .is_some()
            || identities.iter().any(|&(from, _)| from == l);
        if !inputs.is_empty() && !inputs.contains(&l) && !fed {
            return err(format!(
                "layer '{}' is not an input, and no edge enters it: connect a layer to it, or \
                 mark it as an input",
                graph[l].name
            ));
        }
        if !outputs.is_empty() && !outputs.contains(&l) && !read {
            return err(format!(
                "layer '{}' is not an output, and no edge leaves it: connect it to a layer, or \
                 mark it as an output",
                graph[l].name
            ));
        }
    }
    Ok(())
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
