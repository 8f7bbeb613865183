//! Structure a person can check in numbers, computed from a [`ModelFile`] alone: which
//! neurons are active, which inputs still reach which outputs, the network's function and its
//! connection cost.

mod modules;
mod probe;
mod pruning;

pub use modules::{Module, knock_out, modules};
pub use probe::{NeuronProbe, PairProbe, pair_r2, pearson, probe};
pub use pruning::{best_within_budget, mse, nonzero_parameters, prune, pruning_frontier};

use bimt_format::ModelFile;
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

/// For every original output (by index), the original inputs that reach it through weights of
/// at least `threshold × (largest |w| of their matrix)`. Uses the first and last layers by depth.
pub fn reachability(model: &ModelFile, threshold: f64) -> Vec<Vec<usize>> {
    let mut graph = DiGraph::<(usize, usize), ()>::new();
    let nodes: Vec<Vec<NodeIndex>> = model
        .neuron_layers
        .iter()
        .enumerate()
        .map(|(l, layer)| (0..layer.size).map(|n| graph.add_node((l, n))).collect())
        .collect();
    visible_weights(model, threshold, |from, i, to, o| {
        graph.update_edge(nodes[from][i], nodes[to][o], ());
    });
    let by_depth = |f: fn(f64, f64) -> bool| {
        (0..model.neuron_layers.len())
            .reduce(|a, b| {
                if f(model.neuron_layers[b].depth, model.neuron_layers[a].depth) {
                    b
                } else {
                    a
                }
            })
            .unwrap_or(0)
    };
    let (input, output) = (by_depth(|b, a| b < a), by_depth(|b, a| b > a));
    let mut reach = vec![Vec::new(); model.neuron_layers[output].size];
    for (p, &feature) in model.input_features.iter().enumerate() {
        let mut dfs = Dfs::new(&graph, nodes[input][p]);
        while let Some(node) = dfs.next(&graph) {
            let (l, n) = graph[node];
            if l == output {
                let original = model.output_features.get(n).copied().unwrap_or(n);
                reach[original].push(feature);
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

/// Runs a feed-forward chain of connections (an MLP) from `model.json` on one sample given in
/// the original input order; returns every layer's values in storage order, the last being
/// the output layer. Connections apply the model's activation unless they name their own.
/// Where the model has a token embedding, `x` holds token ids.
///
/// Panics if a token id is not a row of the embedding.
pub fn forward_chain(model: &ModelFile, x: &[f64]) -> Vec<Vec<f64>> {
    let n_in = model.input_features.len();
    let fold = model.connections.first().map_or(1, |c| c.in_fold);
    let mut h: Vec<f64> = match &model.token_embedding {
        Some(embedding) => (0..n_in * fold)
            .map(|i| embedding[x[i / n_in] as usize][i % n_in] as f64)
            .collect(),
        None => (0..n_in * fold)
            .map(|i| x[i - i % n_in + model.input_features[i % n_in]])
            .collect(),
    };
    let mut layers = vec![h.clone()];
    for c in &model.connections {
        let act = c.activation.as_deref().unwrap_or(&model.activation);
        h = c
            .weight
            .iter()
            .enumerate()
            .map(|(o, row)| {
                let b = c.bias.as_ref().map_or(0.0, |b| b[o] as f64);
                activate(
                    act,
                    row.iter().zip(&h).map(|(w, v)| *w as f64 * v).sum::<f64>() + b,
                )
            })
            .collect();
        layers.push(h.clone());
    }
    layers
}

/// The network's outputs for one sample, both in the original order (input features and
/// outputs as the dataset numbers them).
pub fn predict(model: &ModelFile, x: &[f64]) -> Vec<f64> {
    let stored = forward_chain(model, x).pop().unwrap_or_default();
    let mut out = vec![0.0; stored.len()];
    for (p, v) in stored.into_iter().enumerate() {
        out[model.output_features.get(p).copied().unwrap_or(p)] = v;
    }
    out
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
    let max_depth = model
        .neuron_layers
        .iter()
        .map(|l| l.depth)
        .fold(f64::MIN, f64::max);
    let mut total = 0.0;
    for c in &model.connections {
        let (from, to) = (&model.neuron_layers[c.from], &model.neuron_layers[c.to]);
        let local = spec.last_layer_distance || to.depth < max_depth;
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
    if spec.bias_penalty
        && let Some(embedding) = &model.token_embedding
    {
        let values = embedding.iter().flatten();
        let s: f64 = values.clone().map(|e| e.abs() as f64 * spec.y_star).sum();
        total += if mean {
            s / values.count().max(1) as f64
        } else {
            s
        };
    }
    Some(total)
}
