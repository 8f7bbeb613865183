//! Structure a person can check in numbers, computed from a [`ModelFile`] alone: which
//! neurons are active, which inputs still reach which outputs, the network's function and its
//! connection cost.

#![warn(missing_docs)]

mod modules;
mod probe;
mod pruning;

pub use modules::{Module, knock_out, modules};
pub use probe::{NeuronProbe, PairProbe, pair_r2, pearson, probe};
pub use pruning::{best_within_budget, mse, nonzero_parameters, prune, pruning_frontier};

use bimt_format::{ConnectionKind, LayerRole, ModelFile};

/// The visibility threshold of bimt's reports: a weight is visible, and the neurons it touches
/// active, where it is at least this fraction of its matrix's largest `|w|`.
pub const ACTIVE_THRESHOLD: f64 = 0.03;
use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::Dfs;
use serde::Serialize;

/// Calls `visit(from_layer, from_neuron, to_layer, to_neuron)` for every weight of at least
/// `threshold × (largest |w| of its matrix)`; folded indices map to their neurons.
fn visible_weights(
    model: &ModelFile,
    threshold: f64,
    mut visit: impl FnMut(usize, usize, usize, usize),
) {
    for c in &model.connections {
        let max = c
            .weight
            .iter()
            .flatten()
            .fold(0.0f32, |m, w| m.max(w.abs())) as f64;
        if max == 0.0 {
            continue;
        }
        let (n_from, n_to) = (
            model.neuron_layers[c.from].size,
            model.neuron_layers[c.to].size,
        );
        for (o, row) in c.weight.iter().enumerate() {
            for (i, w) in row.iter().enumerate() {
                if w.abs() as f64 >= threshold * max {
                    visit(c.from, i % n_from, c.to, o % n_to);
                }
            }
        }
    }
}

/// Neurons that a weight of at least `threshold × (largest |w| of its matrix)` touches,
/// per layer, in storage order.
pub fn active_neurons(model: &ModelFile, threshold: f64) -> Vec<Vec<bool>> {
    let mut active: Vec<Vec<bool>> = model
        .neuron_layers
        .iter()
        .map(|l| vec![false; l.size])
        .collect();
    visible_weights(model, threshold, |from, i, to, o| {
        active[from][i] = true;
        active[to][o] = true;
    });
    active
}

/// Per layer: its name and how many neurons are active.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ActiveCount {
    /// Layer name.
    pub layer: String,
    /// Active neurons.
    pub active: usize,
    /// All neurons.
    pub size: usize,
}

/// [`active_neurons`] counted per layer.
pub fn active_counts(model: &ModelFile, threshold: f64) -> Vec<ActiveCount> {
    active_neurons(model, threshold)
        .iter()
        .zip(&model.neuron_layers)
        .map(|(a, l)| ActiveCount {
            layer: l.name.clone(),
            active: a.iter().filter(|&&x| x).count(),
            size: l.size,
        })
        .collect()
}

/// A graph of neurons, each node `(layer, neuron)`.
type NeuronGraph = DiGraph<(usize, usize), ()>;

/// The neuron graph of the visible weights (at least `threshold ×` the largest |w| of their
/// matrix) and of the connections that join neuron `i` to neuron `i` (identities, pools), with
/// the node of each neuron by layer.
fn visible_graph(model: &ModelFile, threshold: f64) -> (NeuronGraph, Vec<Vec<NodeIndex>>) {
    let mut graph = NeuronGraph::new();
    let nodes: Vec<Vec<NodeIndex>> = model
        .neuron_layers
        .iter()
        .enumerate()
        .map(|(l, layer)| (0..layer.size).map(|n| graph.add_node((l, n))).collect())
        .collect();
    visible_weights(model, threshold, |from, i, to, o| {
        graph.update_edge(nodes[from][i], nodes[to][o], ());
    });
    for c in &model.connections {
        if c.kind.joins_neuron_to_neuron() {
            for (a, b) in nodes[c.from].iter().zip(&nodes[c.to]) {
                graph.update_edge(*a, *b, ());
            }
        }
    }
    (graph, nodes)
}

/// Neurons on a path of visible weights (at least `threshold ×` the largest |w| of their
/// matrix) and neuron-to-neuron connections from an input neuron to an output neuron, per
/// layer in storage order: the neurons that can carry anything from the data to the outputs.
/// A channel of a convolutional network counts once per layer (its pooled copy too).
pub fn live_neurons(model: &ModelFile, threshold: f64) -> Vec<Vec<bool>> {
    let (mut graph, nodes) = visible_graph(model, threshold);
    let roles = model.roles();
    let reached = |graph: &NeuronGraph, role: LayerRole| {
        let mut seen = vec![false; graph.node_count()];
        let mut stack: Vec<NodeIndex> = (0..nodes.len())
            .filter(|&l| roles[l] == role)
            .flat_map(|l| nodes[l].iter().copied())
            .collect();
        while let Some(n) = stack.pop() {
            if !std::mem::replace(&mut seen[n.index()], true) {
                stack.extend(graph.neighbors(n));
            }
        }
        seen
    };
    let from_inputs = reached(&graph, LayerRole::Input);
    graph.reverse();
    let to_outputs = reached(&graph, LayerRole::Output);
    nodes
        .iter()
        .map(|layer| {
            layer
                .iter()
                .map(|n| from_inputs[n.index()] && to_outputs[n.index()])
                .collect()
        })
        .collect()
}

/// For every original output (target, by index), the original data columns that reach it
/// through weights of at least `threshold × (largest |w| of their matrix)` and through
/// identity connections, from every input layer to every output layer.
pub fn reachability(model: &ModelFile, threshold: f64) -> Vec<Vec<usize>> {
    let (graph, nodes) = visible_graph(model, threshold);
    let roles = model.roles();
    let targets = model.output_features.len();
    let mut reach = vec![Vec::new(); targets];
    for input in model.layers_with(LayerRole::Input) {
        for (p, &feature) in model.features(input).iter().enumerate() {
            let mut dfs = Dfs::new(&graph, nodes[input][p]);
            while let Some(node) = dfs.next(&graph) {
                let (l, n) = graph[node];
                if roles[l] == LayerRole::Output {
                    let target = model.features(l).get(n).copied().unwrap_or(n);
                    if target < targets {
                        reach[target].push(feature);
                    }
                }
            }
        }
    }
    for r in &mut reach {
        r.sort_unstable();
        r.dedup();
    }
    reach
}

fn activate(name: &str, x: f64) -> f64 {
    match name {
        "silu" => x / (1.0 + (-x).exp()),
        "gelu" => 0.5 * x * (1.0 + erf(x / std::f64::consts::SQRT_2)),
        "relu" => x.max(0.0),
        "tanh" => x.tanh(),
        _ => x,
    }
}

/// Abramowitz–Stegun erf, accurate to 1.5e-7: enough to check a GELU network's outputs.
fn erf(x: f64) -> f64 {
    let t = 1.0 / (1.0 + 0.3275911 * x.abs());
    let y = 1.0
        - (((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t - 0.284496736) * t
            + 0.254829592)
            * t
            * (-x * x).exp();
    y.copysign(x)
}

/// Whether [`forward_layers`] and [`predict`] (or, for a sequence model, their `_sequence`
/// twins) can evaluate the model: every layer's activation must be one they know (`silu`,
/// `gelu`, `relu`, `tanh`, `identity`), or `attention` on a layer that records how it attends
/// and is fed by one packed Q, K, V projection. The error names the layer.
pub fn check_evaluable(model: &ModelFile) -> Result<(), String> {
    for l in 0..model.neuron_layers.len() {
        let layer = &model.neuron_layers[l];
        let activation = model.layer_activation(l);
        if let Some(attention) = layer.attention {
            let feeding: Vec<_> = model.connections.iter().filter(|c| c.to == l).collect();
            let fits = matches!(feeding[..], [c] if c.kind == ConnectionKind::Linear && c.out_fold == 3)
                && attention.heads > 0
                && layer.size.is_multiple_of(attention.heads)
                && model.sequence.is_some();
            if !fits {
                return Err(format!(
                    "layer '{}' attends with {} heads, which needs a \"sequence\", heads that \
                     divide its {} neurons and one linear connection into it with out_fold 3 \
                     (the packed Q, K, V projection)",
                    layer.name, attention.heads, layer.size
                ));
            }
            continue;
        }
        if !KNOWN_ACTIVATIONS.contains(&activation.as_str()) {
            return Err(format!(
                "layer '{}' has activation '{activation}', which model.json cannot evaluate \
                 (known: {}, and attention on a layer that records it)",
                layer.name,
                KNOWN_ACTIVATIONS.join(", ")
            ));
        }
    }
    topological_order(model).map(|_| ())
}

/// The activations [`forward_layers`] evaluates.
pub const KNOWN_ACTIVATIONS: [&str; 5] = ["silu", "gelu", "relu", "tanh", "identity"];

/// Layer indices, every connection's source before its target; an error names a layer on a
/// cycle.
pub fn topological_order(model: &ModelFile) -> Result<Vec<usize>, String> {
    let mut graph = DiGraph::<usize, ()>::new();
    let nodes: Vec<NodeIndex> = (0..model.neuron_layers.len())
        .map(|l| graph.add_node(l))
        .collect();
    for c in &model.connections {
        graph.add_edge(nodes[c.from], nodes[c.to], ());
    }
    petgraph::algo::toposort(&graph, None)
        .map(|order| order.into_iter().map(|n| graph[n]).collect())
        .map_err(|cycle| {
            format!(
                "the connections form a cycle through layer '{}'",
                model.neuron_layers[graph[cycle.node_id()]].name
            )
        })
}

/// Every layer's values for one sample `x` (data columns in their original order), by layer
/// index, each in storage order: input layers hold their data columns (or, with a token
/// embedding, the embeddings of the token ids in `x`, concatenated); every other layer its
/// activation of the sum of its incoming connections.
///
/// Panics where [`check_evaluable`] fails, or where a token id is not a row of the embedding.
pub fn forward_layers(model: &ModelFile, x: &[f64]) -> Vec<Vec<f64>> {
    forward_sequence(model, &[x])
        .into_iter()
        .map(|mut positions| positions.swap_remove(0))
        .collect()
}

/// Every layer's values at every position of one sequence `xs` (one sample per position, as
/// [`forward_layers`] takes it), by layer index and then position: connections act on each
/// position alone; an attention layer mixes the positions; a layer's learned positional row
/// `t` is added to its sum at position `t`. A model of single rows reads a sequence of one.
///
/// Panics where [`check_evaluable`] fails, where a token id is not a row of the embedding, or
/// where a positional table is shorter than the sequence.
pub fn forward_sequence(model: &ModelFile, xs: &[&[f64]]) -> Vec<Vec<Vec<f64>>> {
    let order = topological_order(model).expect("check_evaluable: no cycle");
    let roles = model.roles();
    let mut values: Vec<Vec<Vec<f64>>> = vec![Vec::new(); model.neuron_layers.len()];
    for l in order {
        let layer = &model.neuron_layers[l];
        if roles[l] == LayerRole::Input {
            let features = model.features(l);
            let n = features.len();
            let fold = model.fold_out_of(l);
            if let Some([h, w]) = layer.shape {
                // Channel-major data columns to the pixel-major value.
                let pixels = h * w;
                values[l] = xs
                    .iter()
                    .map(|x| {
                        (0..pixels * n)
                            .map(|i| x[features[i % n] * pixels + i / n])
                            .collect()
                    })
                    .collect();
                continue;
            }
            values[l] = xs
                .iter()
                .map(|x| match &model.token_embedding {
                    Some(embedding) => (0..n * model.token_positions())
                        .map(|i| embedding[x[i / n] as usize][i % n] as f64)
                        .collect(),
                    None => (0..n * fold)
                        .map(|i| x[i - i % n + features[i % n]])
                        .collect(),
                })
                .collect();
            add_positions(layer, &mut values[l]);
            continue;
        }
        if let Some(attention) = layer.attention {
            let c = model
                .connections
                .iter()
                .find(|c| c.to == l)
                .expect("check_evaluable: a projection feeds an attention layer");
            let qkv: Vec<Vec<f64>> = values[c.from].iter().map(|v| linear(c, v)).collect();
            values[l] = attend(&qkv, layer.size, attention.heads, attention.causal);
            continue;
        }
        let mut sums: Vec<Vec<f64>> = vec![Vec::new(); xs.len()];
        for c in model.connections.iter().filter(|c| c.to == l) {
            for (sum, from) in sums.iter_mut().zip(&values[c.from]) {
                let term = match (c.kind, &c.window) {
                    (ConnectionKind::Identity, _) => from.clone(),
                    (ConnectionKind::Linear, None) => linear(c, from),
                    (ConnectionKind::Linear, Some(window)) => {
                        let shape = model.neuron_layers[c.from].shape;
                        convolve(c, window, from, shape.expect("check: a convolution's maps"))
                    }
                    (ConnectionKind::Pool, window) => {
                        let window = window.as_ref().expect("check: a pool has windows");
                        let shape = model.neuron_layers[c.from].shape;
                        pool(
                            window,
                            from,
                            layer.size,
                            shape.expect("check: a pool's maps"),
                        )
                    }
                };
                if sum.is_empty() {
                    *sum = term;
                } else {
                    sum.iter_mut().zip(term).for_each(|(s, t)| *s += t);
                }
            }
        }
        add_positions(layer, &mut sums);
        let activation = model.layer_activation(l);
        values[l] = sums
            .into_iter()
            .map(|sum| sum.into_iter().map(|v| activate(&activation, v)).collect())
            .collect();
    }
    values
}

/// `weight · from + bias`, one value per output index.
fn linear(c: &bimt_format::ConnectionFile, from: &[f64]) -> Vec<f64> {
    c.weight
        .iter()
        .enumerate()
        .map(|(o, row)| {
            let b = c.bias.as_ref().map_or(0.0, |b| b[o] as f64);
            row.iter()
                .zip(from)
                .map(|(w, v)| *w as f64 * v)
                .sum::<f64>()
                + b
        })
        .collect()
}

/// The window entries of output pixel `(y, x)`: each tap's input pixel, `None` in the padding.
fn taps(
    window: &bimt_format::WindowFile,
    [h, w]: [usize; 2],
    (y, x): (usize, usize),
) -> impl Iterator<Item = Option<usize>> + '_ {
    (0..window.kernel * window.kernel).map(move |t| {
        let iy = (y * window.stride + t / window.kernel).checked_sub(window.padding)?;
        let ix = (x * window.stride + t % window.kernel).checked_sub(window.padding)?;
        (iy < h && ix < w).then_some(iy * w + ix)
    })
}

/// A convolution of pixel-major maps `from` (`[H·W][channels]`): weight `[o][t·C_in + i]`,
/// the same at every output pixel, plus the bias.
fn convolve(
    c: &bimt_format::ConnectionFile,
    window: &bimt_format::WindowFile,
    from: &[f64],
    shape: [usize; 2],
) -> Vec<f64> {
    let channels = from.len() / (shape[0] * shape[1]);
    let out = [shape[0], shape[1]].map(|n| window.output_side(n).expect("check: it fits"));
    let outputs = c.weight.len();
    // `[t·C_in + i][o]`: the outputs of one input value side by side.
    let mut weight = vec![0.0f64; c.weight.first().map_or(0, Vec::len) * outputs];
    for (o, row) in c.weight.iter().enumerate() {
        for (j, &w) in row.iter().enumerate() {
            weight[j * outputs + o] = w as f64;
        }
    }
    let bias: Vec<f64> = match &c.bias {
        Some(b) => b.iter().map(|&v| v as f64).collect(),
        None => vec![0.0; outputs],
    };
    let mut values = Vec::with_capacity(out[0] * out[1] * outputs);
    for y in 0..out[0] {
        for x in 0..out[1] {
            let start = values.len();
            values.extend_from_slice(&bias);
            let sum = &mut values[start..];
            for (t, pixel) in taps(window, shape, (y, x)).enumerate() {
                let Some(p) = pixel else { continue };
                for (i, &v) in from[p * channels..][..channels].iter().enumerate() {
                    let w = &weight[(t * channels + i) * outputs..][..outputs];
                    sum.iter_mut().zip(w).for_each(|(s, w)| *s += w * v);
                }
            }
        }
    }
    values
}

/// A pool of pixel-major maps `from` of `channels` channels: each window's largest value or
/// mean per channel (padding counts as zero in a mean and never wins a max).
fn pool(
    window: &bimt_format::WindowFile,
    from: &[f64],
    channels: usize,
    shape: [usize; 2],
) -> Vec<f64> {
    let out = [shape[0], shape[1]].map(|n| window.output_side(n).expect("check: it fits"));
    let max = window.pool.as_deref() == Some("max");
    let mut values = Vec::with_capacity(out[0] * out[1] * channels);
    for y in 0..out[0] {
        for x in 0..out[1] {
            let pixels: Vec<usize> = taps(window, shape, (y, x)).flatten().collect();
            for ch in 0..channels {
                let each = pixels.iter().map(|p| from[p * channels + ch]);
                values.push(if max {
                    each.fold(f64::NEG_INFINITY, f64::max)
                } else {
                    each.sum::<f64>() / (window.kernel * window.kernel) as f64
                });
            }
        }
    }
    values
}

/// Adds the layer's learned positional row `t` to its values at position `t`, if it has a
/// table.
fn add_positions(layer: &bimt_format::NeuronLayerFile, values: &mut [Vec<f64>]) {
    if let Some(table) = &layer.learned_positions {
        for (t, value) in values.iter_mut().enumerate() {
            value
                .iter_mut()
                .zip(&table[t])
                .for_each(|(v, p)| *v += *p as f64);
        }
    }
}

/// Multi-head self-attention over the positions of one sequence, from each position's packed
/// projection `qkv` (`[Q | K | V]`, `size` values each): head `h` is neurons `h·d .. (h+1)·d`,
/// and position `t` takes `Σ_s softmax_s(q_t·k_s/√d) v_s` over `s ≤ t` where `causal`.
fn attend(qkv: &[Vec<f64>], size: usize, heads: usize, causal: bool) -> Vec<Vec<f64>> {
    let d = size / heads;
    let part =
        |p: usize, kind: usize, h: usize| &qkv[p][kind * size + h * d..kind * size + (h + 1) * d];
    let mut out = vec![vec![0.0; size]; qkv.len()];
    for h in 0..heads {
        for (t, row) in out.iter_mut().enumerate() {
            let seen = if causal { t + 1 } else { qkv.len() };
            let q = part(t, 0, h);
            let scores: Vec<f64> = (0..seen)
                .map(|s| {
                    q.iter().zip(part(s, 1, h)).map(|(a, b)| a * b).sum::<f64>() / (d as f64).sqrt()
                })
                .collect();
            let top = scores.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let weights: Vec<f64> = scores.iter().map(|x| (x - top).exp()).collect();
            let total: f64 = weights.iter().sum();
            for (s, w) in weights.iter().enumerate() {
                for (i, v) in part(s, 2, h).iter().enumerate() {
                    row[h * d + i] += w / total * v;
                }
            }
        }
    }
    out
}

/// The network's outputs for one sample, both in the original order (data columns and
/// targets as the dataset numbers them), over every output layer.
///
/// Panics where [`check_evaluable`] fails.
pub fn predict(model: &ModelFile, x: &[f64]) -> Vec<f64> {
    predict_sequence(model, &[x]).swap_remove(0)
}

/// [`predict`] at every position of one sequence `xs` (see [`forward_sequence`]).
///
/// Panics where [`check_evaluable`] fails.
pub fn predict_sequence(model: &ModelFile, xs: &[&[f64]]) -> Vec<Vec<f64>> {
    let mut values = forward_sequence(model, xs);
    let mut outs = vec![vec![0.0; model.output_features.len().max(1)]; xs.len()];
    for l in model.layers_with(LayerRole::Output) {
        let features = model.features(l);
        for (out, value) in outs.iter_mut().zip(std::mem::take(&mut values[l])) {
            for (q, v) in value.into_iter().enumerate() {
                let target = features.get(q).copied().unwrap_or(q);
                if target >= out.len() {
                    out.resize(target + 1, 0.0);
                }
                out[target] = v;
            }
        }
    }
    outs
}

/// The connection cost of the model as its `cost` section defines it (paper eq. 3, L1 or L2
/// metric; user metrics are not known to the file and give `None`).
pub fn connection_cost(model: &ModelFile) -> Option<f64> {
    let spec = &model.cost;
    let l2 = match spec.metric.as_str() {
        "l1" => false,
        "l2" => true,
        _ => return None,
    };
    let mean = spec.reduction == "mean";
    let roles = model.roles();
    let mut total = 0.0;
    for c in model
        .connections
        .iter()
        .filter(|c| c.kind == ConnectionKind::Linear && !c.tied)
    {
        let (from, to) = (&model.neuron_layers[c.from], &model.neuron_layers[c.to]);
        let local = spec.last_layer_distance || roles[c.to] != LayerRole::Output;
        let count = (c.weight.len() * c.weight.first().map_or(0, Vec::len)).max(1) as f64;
        let mut sum = 0.0;
        for (o, row) in c.weight.iter().enumerate() {
            let b = &to.coords[o % to.size];
            for (i, w) in row.iter().enumerate() {
                let a = &from.coords[i % from.size];
                let dz = spec.y_star * (to.depth - from.depth).abs();
                let dx: Vec<f64> = a
                    .iter()
                    .zip(b)
                    .map(|(p, q)| if local { spec.a * (q - p) } else { 0.0 })
                    .collect();
                let d = if l2 {
                    (dx.iter().map(|v| v * v).sum::<f64>() + dz * dz).sqrt()
                } else {
                    dx.iter().map(|v| v.abs()).sum::<f64>() + dz
                };
                sum += w.abs() as f64 * d;
            }
        }
        total += if mean { sum / count } else { sum };
        if spec.bias_penalty
            && let Some(bias) = &c.bias
        {
            let s: f64 = bias.iter().map(|b| b.abs() as f64 * spec.y_star).sum();
            total += if mean {
                s / bias.len().max(1) as f64
            } else {
                s
            };
        }
    }
    // The token table and the learned positional tables are charged like biases.
    let tables = model.token_embedding.iter().chain(
        model
            .neuron_layers
            .iter()
            .filter_map(|l| l.learned_positions.as_ref()),
    );
    for table in tables.filter(|_| spec.bias_penalty) {
        let values = table.iter().flatten();
        let s: f64 = values.clone().map(|e| e.abs() as f64 * spec.y_star).sum();
        total += if mean {
            s / values.count().max(1) as f64
        } else {
            s
        };
    }
    Some(total)
}
