//! Transformers declared as architecture files: attention layers, learned positions, token
//! inputs over sequences. A 2-block, 4-head causal transformer with learned positions and a
//! tied unembedding keeps its function under random permutations of every domain (within heads
//! and of whole heads); the fast swap delta is exact (there and in the in-context file); a
//! coupling left out is refused. `attention.rs` holds the forward pass to a loop reference.
mod common;
use bimt_engine::{Model, Network, Tensor, TensorData, export_model};
use bimt_graph::Graph;
use bimt_layout::Reduction;

use common::*;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::path::{Path, PathBuf};

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn in_context_file() -> Graph {
    Graph::from_file(&repository().join("examples/architectures/in_context.json")).unwrap()
}

/// Two blocks of causal attention with 4 heads of 4, learned positions on the token
/// embedding's layer (which starts the residual stream), Q, K, V without bias in block 1, and
/// the token table tied as the output projection.
const TWO_BLOCKS: &str = r#"{
  "sequence": 5,
  "layers": [
    {"name": "ids", "role": "input", "tokens": 11},
    {"name": "res0", "size": 16, "learned_positions": true},
    {"name": "atn1", "size": 16, "attention": {"heads": 4, "causal": true}},
    {"name": "res1", "size": 16, "activation": "identity"},
    {"name": "mlp1", "size": 24, "activation": "gelu"},
    {"name": "res2", "size": 16, "activation": "identity"},
    {"name": "atn2", "size": 16, "attention": {"heads": 4, "causal": true}},
    {"name": "res3", "size": 16, "activation": "identity"},
    {"name": "mlp2", "size": 24, "activation": "gelu"},
    {"name": "res4", "size": 16, "activation": "identity"},
    {"name": "logits", "size": 11, "role": "output", "fixed": true}
  ],
  "edges": [
    {"from": "ids", "to": "res0", "kind": "embedding"},
    {"from": "res0", "to": "atn1", "bias": false},
    {"from": "atn1", "to": "res1"},
    {"from": "res0", "to": "res1", "kind": "identity"},
    {"from": "res1", "to": "mlp1"},
    {"from": "mlp1", "to": "res2"},
    {"from": "res1", "to": "res2", "kind": "identity"},
    {"from": "res2", "to": "atn2"},
    {"from": "atn2", "to": "res3"},
    {"from": "res2", "to": "res3", "kind": "identity"},
    {"from": "res3", "to": "mlp2"},
    {"from": "mlp2", "to": "res4"},
    {"from": "res3", "to": "res4", "kind": "identity"},
    {"from": "res4", "to": "logits", "kind": "unembedding"}
  ]
}"#;

fn two_blocks(edit: impl FnOnce(&mut serde_json::Value)) -> Result<Graph, String> {
    edited_graph(TWO_BLOCKS, edit)
}

/// `sequences` sequences of 5 token ids.
fn token_sequences(sequences: usize, rng: &mut ChaCha8Rng) -> Tensor<2> {
    let ids: Vec<f32> = (0..5 * sequences)
        .map(|_| rng.random_range(0..11) as f32)
        .collect();
    Tensor::from_data(TensorData::new(ids, [5 * sequences, 1]), &device())
}

/// A random permutation of `n` neurons within blocks of `block` (the blocks shuffled too).
fn block_permutation(n: usize, block: Option<usize>, rng: &mut ChaCha8Rng) -> Vec<usize> {
    let size = block.unwrap_or(n);
    let mut blocks: Vec<usize> = (0..n / size).collect();
    blocks.shuffle(rng);
    blocks
        .into_iter()
        .flat_map(|b| {
            let mut inner: Vec<usize> = (b * size..(b + 1) * size).collect();
            inner.shuffle(rng);
            inner
        })
        .collect()
}

#[test]
fn a_two_block_transformer_keeps_its_function_under_every_domains_permutations() {
    let graph = two_blocks(|_| {}).unwrap();
    let layout = graph.layout();
    let names: Vec<&str> = layout.domains().iter().map(|d| d.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "res0+res1+res2+res3+res4",
            "atn1",
            "atn2",
            "logits",
            "mlp1",
            "mlp2"
        ],
        "the residual stream, the heads, the fixed output of the tied table, the MLP layers"
    );
    assert!(layout.domains()[3].fixed);
    assert_eq!(layout.domains()[1].block, Some(4), "4 heads of 4");
    let positions = graph.learned_positions(layout.layer_named("res0").unwrap());
    let table = graph.token_embedding().unwrap();
    let mut model = Model::new(graph, 1, &device()).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(21);
    let x = token_sequences(7, &mut rng);
    let before = values(model.predict(x.clone(), false));
    let host_before = model.params.to_host();
    for round in 0..4 {
        scramble_in_blocks(&mut model, &mut rng);
        let after = values(model.predict(x.clone(), false));
        let diff = max_abs_diff(&before, &after);
        assert!(diff < 1e-5, "round {round}: outputs moved by {diff}");
    }
    let host = model.params.to_host();
    let positions = positions.expect("res0 has learned positions");
    assert_ne!(
        host[positions], host_before[positions],
        "the positions moved"
    );
    assert_ne!(host[table], host_before[table], "the token table moved");
}

#[test]
fn the_fast_swap_delta_is_exact_in_a_file_transformer() {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    for (graph, reduction) in [
        (two_blocks(|_| {}).unwrap(), Reduction::Sum),
        (in_context_file(), Reduction::Mean),
    ] {
        let model = Model::new(graph, 2, &device()).unwrap();
        assert_swap_deltas_are_exact(&model, reduction, &mut rng);
    }
}

#[test]
fn a_coupling_left_out_is_refused_by_the_coupling_check_naming_the_domain() {
    // A declared group that lets atn1's neurons cross heads.
    let graph = two_blocks(|v| {
        v["groups"] = serde_json::json!([{"name": "loose-heads", "layers": ["atn1"]}]);
    })
    .unwrap();
    let error = Model::new(graph, 0, &device()).err().expect("refused").0;
    assert!(
        error.contains("loose-heads") && error.contains("changes the network's outputs"),
        "{error}"
    );
    // Heads of 2 in a layer whose heads hold 4: a neuron leaves its head.
    let graph = two_blocks(|v| {
        v["groups"] = serde_json::json!([{"name": "half-heads", "layers": ["atn2"], "block": 2}]);
    })
    .unwrap();
    let error = Model::new(graph, 0, &device()).err().expect("refused").0;
    assert!(error.contains("half-heads"), "{error}");
}

/// A change to the `TWO_BLOCKS` file.
#[test]
fn bad_sequence_architectures_are_refused_with_the_reason() {
    let cases: Vec<(Box<Edit>, &str)> = vec![
        (
            Box::new(|v| {
                v.as_object_mut().unwrap().remove("sequence");
            }),
            "layer 'res0' has \"learned_positions\", which works over the positions of a sequence",
        ),
        (Box::new(|v| v["sequence"] = 0.into()), "\"sequence\": 0"),
        (
            Box::new(|v| v["layers"][2]["attention"]["heads"] = 3.into()),
            "layer 'atn1': 3 heads do not divide its 16 neurons",
        ),
        (
            Box::new(|v| v["layers"][2]["activation"] = "gelu".into()),
            "an attention layer's value is the attention itself",
        ),
        (
            Box::new(|v| {
                v["edges"]
                    .as_array_mut()
                    .unwrap()
                    .push(serde_json::json!({"from": "res1", "to": "atn2", "kind": "identity"}))
            }),
            "layer 'atn2': an attention layer is fed by one linear edge (its Q, K, V \
             projection); found 2 edges into it",
        ),
        (
            Box::new(|v| v["layers"][0]["positions"] = 2.into()),
            "in a sequence model a token layer holds one id per row",
        ),
        (
            Box::new(|v| v["layers"][10]["attention"] = serde_json::json!({"heads": 1})),
            "an attention layer is hidden; found role \"output\"",
        ),
        (
            Box::new(|v| v["layers"][2]["learned_positions"] = true.into()),
            "an attention layer takes no \"learned_positions\"",
        ),
        (
            Box::new(|v| v["layers"][10]["fixed"] = false.into()),
            "the neurons of 'logits' are the tied table's rows",
        ),
        (
            Box::new(|v| v["edges"][13]["from"] = "mlp2".into()),
            "edge 14 (mlp2 -> logits): the tied table's columns are the neurons of 'res0'",
        ),
        (
            Box::new(|v| v["layers"][10]["size"] = 12.into()),
            "expected an output layer of 11 neurons, found 'logits', an output layer of 12",
        ),
    ];
    assert_refused(TWO_BLOCKS, cases);
}

/// `model.json` of a file transformer records its sequence length, its attention layers and
/// its positional table, and the connection cost it gives is the engine's.
#[test]
fn model_json_records_attention_and_positions() {
    let mut model = Model::new(two_blocks(|_| {}).unwrap(), 6, &device()).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(6);
    scramble_in_blocks(&mut model, &mut rng);
    let spec = paper_l1_cost_spec();
    let inputs = vec!["id".to_string()];
    let outputs: Vec<String> = (0..11).map(|i| format!("y{i}")).collect();
    let file = export_model(&model, &inputs, &outputs, spec);
    file.check().unwrap();
    assert_eq!(file.sequence, Some(5));
    let layer = |name: &str| {
        file.neuron_layers
            .iter()
            .find(|l| l.name == name)
            .unwrap()
            .clone()
    };
    let atn = layer("atn2").attention.expect("atn2 attends");
    assert_eq!((atn.heads, atn.causal), (4, true));
    assert!(layer("res1").attention.is_none());
    let tied: Vec<_> = file.connections.iter().filter(|c| c.tied).collect();
    assert_eq!(tied.len(), 1, "the tied output projection");
    assert_eq!(Some(&tied[0].weight), file.token_embedding.as_ref());
    let table = layer("res0").learned_positions.expect("res0's positions");
    let host = model.params.to_host();
    let param = model
        .network
        .learned_positions(model.network.layout().layer_named("res0").unwrap())
        .unwrap();
    assert_eq!(table.concat(), host[param]);
    let metric = bimt_manifold::PaperMetric::l1(2.0, 0.1);
    let layout = model.network.layout();
    let engine =
        bimt_layout::Distances::new(layout, &metric, &Default::default()).cost(layout, &host);
    let from_file = bimt_analysis::connection_cost(&file).unwrap();
    assert!(
        (engine - from_file).abs() < 1e-4 * engine,
        "{engine} vs {from_file}"
    );

    // The independent reader rebuilds the outputs at every position from the file alone.
    let x = token_sequences(4, &mut rng);
    let ids = values(x.clone());
    let want = values(model.predict(x, false));
    let csv: String = std::iter::once("id".to_string())
        .chain(ids.iter().map(|id| id.to_string()))
        .map(|line| line + "\n")
        .collect();
    let Some(read) = read_with_python(&file, &csv) else {
        return;
    };
    assert_eq!(read.len(), ids.len());
    for (r, line) in read.iter().enumerate() {
        for (o, &v) in line.iter().enumerate() {
            let e = want[r * 11 + o] as f64;
            assert!(
                (v - e).abs() < 1e-5 * (1.0 + e.abs()),
                "row {r}, output {o}: {v} vs {e}"
            );
        }
    }
}

/// Applies a random permutation within blocks to every movable domain.
fn scramble_in_blocks<N: Network>(model: &mut Model<N>, rng: &mut ChaCha8Rng) {
    let layout = model.network.layout();
    let perms: Vec<(usize, Vec<usize>)> = (0..layout.domains().len())
        .filter(|&d| !layout.domains()[d].fixed)
        .map(|d| {
            let n = layout.domain_size(d);
            (d, block_permutation(n, layout.domains()[d].block, rng))
        })
        .collect();
    let perms: Vec<(usize, &[usize])> = perms.iter().map(|(d, p)| (*d, &p[..])).collect();
    model.permute_all(&perms).unwrap();
}
