//! [`LayoutBuilder`]: a layout declared step by step, then validated and placed by
//! [`build`](LayoutBuilder::build).

use crate::domains::derive_identity_domains;
use crate::layout::{
    Connection, ConnectionId, Domain, DomainId, LayerId, Layout, LayoutError, NeuronLayer, ParamId,
    ParamSpec, Tied,
};
use bimt_manifold::Placement;
use petgraph::Direction;
use petgraph::graph::DiGraph;
use petgraph::visit::EdgeRef;

/// Declares a layout step by step; [`build`](Self::build) validates it.
#[derive(Default)]
pub struct LayoutBuilder {
    graph: DiGraph<NeuronLayer, Connection>,
    identities: Vec<(LayerId, LayerId)>,
    tied: Vec<Tied>,
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

    /// Adds a tied edge `from → to` whose weight is the parameter `weight`, `[size(to),
    /// size(from)]`, used transposed (a token table as the output projection): `to`'s
    /// pre-activation includes `value(from) · weightᵀ`. It has no parameter of its own and no
    /// wiring cost; the domains that move `weight`'s axes must be those of `to` (rows) and
    /// `from` (columns), which the coupling check of a model verifies.
    pub fn tied(&mut self, from: LayerId, to: LayerId, weight: ParamId) -> &mut Self {
        self.tied.push(Tied { from, to, weight });
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
            tied,
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
        for t in &tied {
            let (from, to) = (graph.node_weight(t.from), graph.node_weight(t.to));
            let (Some(from), Some(to)) = (from, to) else {
                return err("a tied edge names a layer that does not exist".into());
            };
            let expected = [to.size, from.size];
            let w = param(t.weight, "a tied edge")?;
            if w.shape != expected {
                return err(format!(
                    "tied edge {} -> {}: '{}' is {:?}, expected {expected:?}",
                    from.name, to.name, w.name, w.shape
                ));
            }
        }
        let flow: Vec<(LayerId, LayerId)> = identities
            .iter()
            .copied()
            .chain(tied.iter().map(|t| (t.from, t.to)))
            .collect();
        check_roles(&graph, &flow, &inputs, &outputs)?;
        Ok(Layout {
            graph,
            identities,
            tied,
            params,
            domains,
            domain_of,
            inputs,
            outputs,
        })
    }
}

/// Checks the declared inputs and outputs, and that every other layer is fed and read: a
/// layer that is not an input needs an incoming edge, one that is not an output an outgoing
/// edge (`links`, the identity and tied edges, count).
fn check_roles(
    graph: &DiGraph<NeuronLayer, Connection>,
    links: &[(LayerId, LayerId)],
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
            || links.iter().any(|&(_, to)| to == l);
        let read = graph
            .edges_directed(l, Direction::Outgoing)
            .next()
            .is_some()
            || links.iter().any(|&(from, _)| from == l);
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
