//! Convolutional networks declared as architecture files: channels are the neurons. Random
//! channel permutations of every domain keep the function; the fast swap delta is exact; a
//! network whose flatten leaves a channel's block behind is refused by the coupling check,
//! naming the domain; `model.json` rebuilds the outputs; bad convolutional files are refused
//! with the reason.
mod common;
use bimt_engine::{Device, Model, Network, Tensor, export_model};
use bimt_graph::Graph;
use bimt_layout::{Layout, Reduction};

use common::*;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// Two images of 2 channels, 6x6: a conv, a residual conv block (conv + identity), a max pool,
/// a conv, an average pool, two flattens into a dense layer, a dense output.
const CNN: &str = r#"{
  "layers": [
    {"name": "image", "role": "input", "channels": 2, "shape": [6, 6]},
    {"name": "c1", "channels": 4, "shape": [6, 6], "placement": "grid"},
    {"name": "c2", "channels": 4, "shape": [6, 6], "placement": "grid"},
    {"name": "p", "channels": 4, "shape": [3, 3], "placement": "grid"},
    {"name": "c3", "channels": 6, "shape": [2, 2]},
    {"name": "q", "channels": 6, "shape": [1, 1]},
    {"name": "h", "size": 5},
    {"name": "y", "size": 3, "role": "output"}
  ],
  "edges": [
    {"from": "image", "to": "c1", "kind": "conv2d", "kernel": 3, "padding": 1},
    {"from": "c1", "to": "c2", "kind": "conv2d", "kernel": 3, "padding": 1},
    {"from": "c1", "to": "c2", "kind": "identity"},
    {"from": "c2", "to": "p", "kind": "pool", "kernel": 2},
    {"from": "p", "to": "c3", "kind": "conv2d", "kernel": 2, "bias": false},
    {"from": "c3", "to": "q", "kind": "pool", "pool": "average", "kernel": 2},
    {"from": "q", "to": "h", "kind": "flatten"},
    {"from": "p", "to": "h", "kind": "flatten"},
    {"from": "h", "to": "y"}
  ]
}"#;

fn cnn(edit: impl FnOnce(&mut serde_json::Value)) -> Result<Graph, String> {
    edited_graph(CNN, edit)
}

#[test]
fn a_cnn_keeps_its_function_under_every_domains_channel_permutations() {
    let graph = cnn(|_| {}).unwrap();
    let layout = graph.layout();
    // The residual conv block and its pool share one permutation; the image is fixed.
    let domain_of = |name: &str| layout.domain_of(layout.layer_named(name).unwrap());
    assert_eq!(domain_of("c1"), domain_of("c2"));
    assert_eq!(domain_of("c2"), domain_of("p"));
    assert_eq!(domain_of("c3"), domain_of("q"));
    assert!(layout.domains()[domain_of("image")].fixed);
    let shapes: Vec<[usize; 2]> = layout.params().iter().map(|p| p.shape).collect();
    assert!(
        shapes.contains(&[9 * 2, 4]),
        "conv image -> c1: 3x3 taps of 2 channels"
    );
    assert!(
        shapes.contains(&[9 * 4, 5]),
        "flatten p -> h: 3x3 pixels of 4 channels"
    );
    let mut model = Model::new(graph, 1, &device()).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    let x = random_input(5, 72, 9, &device());
    let before = values(model.predict(x.clone(), false));
    let host_before = model.params.to_host();
    for round in 0..4 {
        scramble(&mut model, &mut rng);
        let after = values(model.predict(x.clone(), false));
        let diff = max_abs_diff(&before, &after);
        assert!(diff < 1e-5, "round {round}: outputs moved by {diff}");
    }
    assert_ne!(model.params.to_host(), host_before, "the channels moved");
}

#[test]
fn the_fast_swap_delta_is_exact_in_a_cnn() {
    let mut rng = ChaCha8Rng::seed_from_u64(8);
    for reduction in [Reduction::Sum, Reduction::Mean] {
        let mut model = Model::new(cnn(|_| {}).unwrap(), 2, &device()).unwrap();
        scramble(&mut model, &mut rng);
        assert_swap_deltas_are_exact(&model, reduction, &mut rng);
    }
}

/// The CNN with one change: its flatten `p -> h` reads the pooled maps channel-major
/// (input `c·9 + pixel`) while the layout keeps a block of rows per channel pixel-major, so
/// a moved channel leaves its block of the flatten's weight behind.
struct ChannelMajorFlatten(Graph);

impl Network for ChannelMajorFlatten {
    fn layout(&self) -> &Layout {
        self.0.layout()
    }

    fn forward(&self, params: &[Tensor<2>], x: Tensor<2>) -> Tensor<2> {
        let layout = self.0.layout();
        let [p, h, y] = ["p", "h", "y"].map(|n| layout.layer_named(n).unwrap());
        let weight = |from, to| {
            let (c, _) = layout.graph().find_edge_undirected(from, to).unwrap();
            let c = &layout.graph()[c];
            (params[c.weight].clone(), params[c.bias.unwrap()].clone())
        };
        let arch = |name: &str| {
            let layers = &self.0.architecture().layers;
            layers.iter().position(|l| l.name == name).unwrap()
        };
        let values = self.0.forward_layers(params, x);
        let pooled = values[arch("p")].clone().unwrap();
        let [rows, channels] = pooled.dims();
        let n = rows / 9;
        let flat = pooled
            .reshape([n, 9, channels])
            .swap_dims(1, 2)
            .reshape([n, 9 * channels]);
        let (w, b) = weight(p, h);
        let from_q = values[arch("q")].clone().unwrap();
        let (wq, bq) = weight(layout.layer_named("q").unwrap(), h);
        let hidden = flat.matmul(w) + b + from_q.matmul(wq) + bq;
        let (wy, by) = weight(h, y);
        burn::tensor::activation::silu(hidden).matmul(wy) + by
    }

    fn activation(&self) -> String {
        self.0.activation()
    }

    fn example_input(&self, device: &Device) -> Tensor<2> {
        self.0.example_input(device)
    }
}

#[test]
fn a_flatten_that_leaves_a_channels_block_behind_is_refused_naming_the_domain() {
    // The honest network passes the same check.
    let graph = cnn(|_| {}).unwrap();
    let domain = {
        let layout = graph.layout();
        layout.domains()[layout.domain_of(layout.layer_named("p").unwrap())]
            .name
            .clone()
    };
    let error = Model::new(ChannelMajorFlatten(graph), 0, &device())
        .err()
        .expect("refused")
        .0;
    assert!(
        error.contains(&domain) && error.contains("changes the network's outputs"),
        "{error}"
    );
}

#[test]
fn model_json_of_a_cnn_rebuilds_its_outputs() {
    let mut model = Model::new(cnn(|_| {}).unwrap(), 3, &device()).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(6);
    scramble(&mut model, &mut rng);
    let spec = paper_l1_cost_spec();
    let inputs: Vec<String> = (0..2).map(|c| format!("channel{c}")).collect();
    let outputs: Vec<String> = (0..3).map(|o| format!("y{o}")).collect();
    let file = export_model(&model, &inputs, &outputs, spec);
    file.check().unwrap();
    bimt_analysis::check_evaluable(&file).unwrap();
    let layer = |name: &str| file.neuron_layers.iter().find(|l| l.name == name).unwrap();
    assert_eq!(layer("p").shape, Some([3, 3]));
    let kinds: Vec<_> = file.connections.iter().map(|c| c.kind).collect();
    assert!(kinds.contains(&bimt_format::ConnectionKind::Pool));
    let rows = 6;
    let x = random_input(rows, 72, 11, &device());
    let engine = values(model.predict(x.clone(), false));
    let data = values(x);
    for r in 0..rows {
        let row: Vec<f64> = data[r * 72..(r + 1) * 72]
            .iter()
            .map(|&v| v as f64)
            .collect();
        for (o, v) in bimt_analysis::predict(&file, &row).iter().enumerate() {
            let e = engine[r * 3 + o];
            assert!(
                (*v as f32 - e).abs() <= 1e-5 * (1.0 + e.abs()),
                "row {r}, output {o}: model.json gives {v}, the engine {e}"
            );
        }
    }
}

#[test]
fn bad_convolutional_architectures_are_refused_with_the_reason() {
    let edge = |i: usize, key: &'static str, value: serde_json::Value| -> Box<Edit> {
        Box::new(move |v: &mut serde_json::Value| v["edges"][i][key] = value)
    };
    let layer = |i: usize, key: &'static str, value: serde_json::Value| -> Box<Edit> {
        Box::new(move |v: &mut serde_json::Value| v["layers"][i][key] = value)
    };
    let cases: Vec<(Box<Edit>, &str)> = vec![
        (
            layer(1, "shape", serde_json::json!([5, 6])),
            "makes 6x6 maps of 6x6; expected 'c1' to be 6x6, found 5x6",
        ),
        (
            edge(0, "padding", serde_json::json!(0)),
            "expected 'c1' to be 4x4",
        ),
        (
            edge(0, "kernel", serde_json::Value::Null),
            "expected \"kernel\"",
        ),
        (
            edge(3, "padding", serde_json::json!(1)),
            "a pool takes no \"padding\"",
        ),
        (
            edge(8, "kind", serde_json::json!("conv2d")),
            "joins layers of feature maps",
        ),
        (
            edge(7, "kind", serde_json::json!("linear")),
            "a linear edge joins layers of neurons",
        ),
        (
            edge(8, "kernel", serde_json::json!(3)),
            "\"kernel\" belongs to conv2d and pool edges",
        ),
        (
            Box::new(|v: &mut serde_json::Value| {
                v["layers"][6] = serde_json::json!({"name": "h", "size": 5, "shape": [2, 2]});
            }),
            "expected \"channels\": C",
        ),
        (
            Box::new(|v: &mut serde_json::Value| {
                v["layers"][3] = serde_json::json!({"name": "p", "channels": 5, "shape": [3, 3]});
            }),
            "a pool keeps the channels",
        ),
    ];
    assert_refused(CNN, cases);
}
