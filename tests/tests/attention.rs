//! Attention declared in architecture files: the forward pass against a loop-by-loop reference
//! (head slices, the 1/√d scale, the causal mask, GELU, the residual adds), causality, the
//! in-context file laid out and coupled as the paper's Fig. 7 and App. F say, and the coupling
//! rules being real (breaking them changes the function).
mod common;
use bimt_engine::{Model, Network, ParamStore, Tensor, TensorData, default_device};
use bimt_graph::{Architecture, Graph};

use common::*;
use serde_json::json;
use std::path::Path;

/// Rows per sequence of [`transformer`].
const SEQ_LEN: usize = 3;

/// The in-context file's shape at any size: 2-D tokens into a residual stream of `width`,
/// `depth` blocks of causal attention with `heads` heads and a GELU MLP of `2·width`, 3 outputs,
/// sequences of three, every linear with a bias.
fn transformer(width: usize, depth: usize, heads: usize) -> Graph {
    let mut layers = vec![
        json!({"name": "input", "size": 2, "role": "input"}),
        json!({"name": "res0", "size": width, "activation": "identity"}),
    ];
    let mut edges = vec![json!({"from": "input", "to": "res0"})];
    let mut residual = vec!["res0".to_string()];
    for b in 1..=depth {
        let (r0, r1, r2) = (
            format!("res{}", 2 * b - 2),
            format!("res{}", 2 * b - 1),
            format!("res{}", 2 * b),
        );
        let (atn, mlp) = (format!("atn{b}"), format!("mlp{b}"));
        let attention = json!({"heads": heads, "causal": true});
        layers.extend([
            json!({"name": atn, "size": width, "attention": attention}),
            json!({"name": r1, "size": width, "activation": "identity"}),
            json!({"name": mlp, "size": 2 * width, "activation": "gelu"}),
            json!({"name": r2, "size": width, "activation": "identity"}),
        ]);
        edges.extend([
            json!({"from": r0, "to": atn}),
            json!({"from": atn, "to": r1}),
            json!({"from": r0, "to": r1, "kind": "identity"}),
            json!({"from": r1, "to": mlp}),
            json!({"from": mlp, "to": r2}),
            json!({"from": r1, "to": r2, "kind": "identity"}),
        ]);
        residual.extend([r1, r2]);
    }
    layers.push(json!({"name": "output", "size": 3, "role": "output"}));
    edges.push(json!({"from": format!("res{}", 2 * depth), "to": "output"}));
    let arch: Architecture = serde_json::from_value(json!({
        "sequence": SEQ_LEN,
        "layers": layers,
        "edges": edges,
        "groups": [{"name": "residual", "layers": residual}],
    }))
    .unwrap();
    Graph::new(&arch).unwrap()
}

fn model(graph: Graph, seed: u64) -> Model<Graph> {
    Model::new(graph, seed, &default_device()).unwrap()
}

/// `sequences · 3` random 2-D tokens.
fn tokens(sequences: usize, seed: u64) -> Tensor<2> {
    random_input(sequences * SEQ_LEN, 2, seed, &default_device())
}

/// Largest absolute difference relative to the largest magnitude of `a`.
fn max_relative(a: &[f32], b: &[f32]) -> f32 {
    let scale = a
        .iter()
        .fold(0.0f32, |m, x| m.max(x.abs()))
        .max(f32::MIN_POSITIVE);
    max_abs_diff(a, b) / scale
}

/// `x·W + b` for one row, `W` row-major `[x.len(), b.len()]`.
fn linear(x: &[f32], w: &[f32], b: &[f32]) -> Vec<f32> {
    let mut y = b.to_vec();
    for (xi, row) in x.iter().zip(w.chunks_exact(b.len())) {
        y.iter_mut().zip(row).for_each(|(y, w)| *y += xi * w);
    }
    y
}

fn add(a: &mut [f32], b: &[f32]) {
    a.iter_mut().zip(b).for_each(|(a, b)| *a += b);
}

#[test]
fn forward_matches_a_loop_reference() {
    let (width, depth, heads) = (8, 2, 2);
    let model = model(transformer(width, depth, heads), 9);
    let x = tokens(3, 6);
    let got = values(model.predict(x.clone(), false));
    let p = model.params.to_host();
    let layout = model.network.layout();
    let hd = width / heads;
    // Linear connections in the file's order: embed, then per block qkv, proj, fc1, fc2, then
    // unembed.
    let linears: Vec<(usize, usize)> = layout
        .connections()
        .map(|(_, _, _, c)| (c.weight, c.bias.expect("bias")))
        .collect();
    assert_eq!(linears.len(), 2 + 4 * depth);
    let lin = |i: usize, x: &[f32]| linear(x, &p[linears[i].0], &p[linears[i].1]);
    let gelu = |v: Vec<f32>| {
        let n = v.len();
        values(burn::tensor::activation::gelu(Tensor::<2>::from_data(
            TensorData::new(v, [1, n]),
            &default_device(),
        )))
    };
    let xs = values(x);
    let mut expected = Vec::new();
    for seq in xs.chunks_exact(SEQ_LEN * 2) {
        let mut h: Vec<Vec<f32>> = seq.chunks_exact(2).map(|tok| lin(0, tok)).collect();
        for block in 0..depth {
            let c = 1 + 4 * block;
            let qkv: Vec<Vec<f32>> = h.iter().map(|r| lin(c, r)).collect();
            for (i, row) in h.iter_mut().enumerate() {
                let mut attended = vec![0.0; width];
                for head in 0..heads {
                    let cols = head * hd..(head + 1) * hd;
                    let scores: Vec<f32> = (0..=i)
                        .map(|s| {
                            let q = &qkv[i][cols.clone()];
                            let k = &qkv[s][width + cols.start..width + cols.end];
                            q.iter().zip(k).map(|(a, b)| a * b).sum::<f32>() / (hd as f32).sqrt()
                        })
                        .collect();
                    let max = scores.iter().fold(f32::MIN, |m, &s| m.max(s));
                    let weights: Vec<f32> = scores.iter().map(|s| (s - max).exp()).collect();
                    let total: f32 = weights.iter().sum();
                    for (s, a) in weights.iter().enumerate() {
                        for d in cols.clone() {
                            attended[d] += a / total * qkv[s][2 * width + d];
                        }
                    }
                }
                add(row, &lin(c + 1, &attended));
                let hidden = gelu(lin(c + 2, row));
                add(row, &lin(c + 3, &hidden));
            }
        }
        expected.extend(h.iter().flat_map(|r| lin(1 + 4 * depth, r)));
    }
    let err = max_relative(&expected, &got);
    assert!(
        err < 1e-5,
        "the forward pass differs from the loop by {err}"
    );
}

#[test]
fn attention_is_causal() {
    // Changing the last token of every sequence leaves the first two positions' outputs alone.
    let model = model(transformer(8, 2, 2), 2);
    let x = tokens(3, 5);
    let mut changed = values(x.clone());
    for last in changed
        .chunks_exact_mut(2 * SEQ_LEN)
        .map(|s| &mut s[2 * (SEQ_LEN - 1)..])
    {
        last.iter_mut().for_each(|v| *v += 1.0);
    }
    let y = Tensor::from_data(TensorData::new(changed, [9, 2]), &default_device());
    let (a, b) = (
        values(model.predict(x, false)),
        values(model.predict(y, false)),
    );
    for (s, (ra, rb)) in a.chunks_exact(9).zip(b.chunks_exact(9)).enumerate() {
        assert_eq!(
            ra[..6],
            rb[..6],
            "sequence {s}: earlier tokens saw a later one"
        );
        assert_ne!(
            ra[6..],
            rb[6..],
            "sequence {s}: the last token ignored its input"
        );
    }
}

/// The in-context file is the paper's transformer (Fig. 7, App. F): its layers named and
/// stacked in order, one `residual` domain over every residual layer, one domain per attention
/// layer with a block per head, free MLP, input and output domains; every linear with a bias.
#[test]
fn the_in_context_file_is_laid_out_and_coupled_as_the_paper_says() {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/architectures/in_context.json");
    let graph = Graph::from_file(&path).unwrap();
    let layout = graph.layout();
    let names = [
        "input", "res0", "atn1", "res1", "mlp1", "res2", "atn2", "res3", "mlp2", "res4", "output",
    ];
    for (depth, name) in names.iter().enumerate() {
        let layer = layout.layer(layout.layer_named(name).unwrap());
        assert_eq!(layer.depth, depth as f64, "{name}");
    }
    assert_eq!(graph.sequence(), Some(3));
    let domain = |name: &str| {
        let d = layout.domains().iter().find(|d| d.name == name).unwrap();
        let layers: Vec<&str> = d.layers.iter().map(|&l| &*layout.layer(l).name).collect();
        (layers, d.block, d.fixed)
    };
    assert_eq!(
        domain("residual"),
        (vec!["res0", "res1", "res2", "res3", "res4"], None, false)
    );
    for (name, block) in [("atn1", Some(32)), ("atn2", Some(32))] {
        assert_eq!(domain(name), (vec![name], block, false), "{name}");
    }
    for name in ["input", "mlp1", "mlp2", "output"] {
        assert_eq!(domain(name), (vec![name], None, false), "{name}");
    }
    assert_eq!(layout.domains().len(), 7);
    assert!(layout.connections().all(|(_, _, _, c)| c.bias.is_some()));
}

#[test]
fn moving_one_neuron_to_another_head_changes_the_outputs() {
    let mut model = model(transformer(8, 2, 2), 11);
    let x = tokens(4, 3);
    let before = values(model.predict(x.clone(), false));
    let atn1 = model
        .network
        .layout()
        .domains()
        .iter()
        .position(|d| d.name == "atn1")
        .unwrap();
    // Neurons 3 (last of head 0) and 4 (first of head 1) trade places: not a whole-head move.
    let mut perm: Vec<usize> = (0..8).collect();
    perm.swap(3, 4);
    model.permute(atn1, &perm).unwrap();
    let err = max_relative(&before, &values(model.predict(x, false)));
    assert!(
        err > 1e-3,
        "a cross-head swap left the outputs unchanged ({err})"
    );
}

#[test]
fn permuting_queries_without_keys_changes_the_outputs() {
    let width = 8;
    let model = model(transformer(width, 1, 1), 5);
    let x = tokens(4, 4);
    let before = values(model.predict(x.clone(), false));
    let layout = model.network.layout();
    let (_, _, _, qkv) = layout
        .connections()
        .find(|(_, _, to, _)| layout.layer(*to).name == "atn1")
        .unwrap();
    let mut params = model.params.to_host();
    // Reverse the order of the Q columns (the first `width` of the packed projection) only.
    for row in params[qkv.weight].chunks_exact_mut(3 * width) {
        row[..width].reverse();
    }
    params[qkv.bias.unwrap()][..width].reverse();
    let broken = ParamStore::from_host(layout, &params, &default_device());
    let after = values(model.network.forward(&broken.detached(), x));
    let err = max_relative(&before, &after);
    assert!(
        err > 1e-3,
        "permuting Q but not K left the outputs unchanged ({err})"
    );
}
