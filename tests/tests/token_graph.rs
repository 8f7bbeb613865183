//! Token models declared as architecture files (`examples/architectures`): given the same
//! parameters each computes what its built-in twin computes, with the same coupling domains;
//! random permutations of every domain keep its function; the fast swap delta is exact; and
//! its `model.json`, read by the independent Python reader, rebuilds its outputs.
mod common;
use bimt_engine::{Model, Network, ParamStore, Tensor, TensorData, export_model};
use bimt_graph::{Architecture, Graph};
use bimt_layout::{CostConfig, Distances, Layout, ParamId, Reduction};
use bimt_manifold::PaperMetric;
use bimt_mlp::{Mlp, MlpConfig};

use common::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The architecture files and the vocabularies of their built-in twins (the presets'
/// `MlpConfig::token_embedding(V, 2, &[32, 50, 50, V])`).
const TWINS: [(&str, usize); 2] = [("modular_addition.json", 59), ("permutation_s4.json", 24)];

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn file_graph(name: &str) -> Graph {
    Graph::from_file(&repository().join("examples/architectures").join(name)).unwrap()
}

fn builtin(vocabulary: usize, seed: u64) -> Model<Mlp> {
    let config = MlpConfig::token_embedding(vocabulary, 2, &[32, 50, 50, vocabulary]);
    Model::new(Mlp::new(&config).unwrap(), seed, &device()).unwrap()
}

/// The file's name for a layer of the built-in MLP.
fn file_layer(builtin: &str) -> &str {
    match builtin {
        "input" => "embedding",
        name => name,
    }
}

/// `rows` pairs of token ids: every pair in order while they last.
fn pairs(vocabulary: usize, rows: usize) -> Tensor<2> {
    let ids: Vec<f32> = (0..rows)
        .flat_map(|i| {
            let i = i % (vocabulary * vocabulary);
            [(i / vocabulary) as f32, (i % vocabulary) as f32]
        })
        .collect();
    Tensor::from_data(TensorData::new(ids, [rows, 2]), &device())
}

/// Each parameter's part, in the file's layer names: `weight a -> b`, `bias a -> b`, `table`.
fn param_names<N: Network>(
    network: &N,
    rename: &dyn Fn(&str) -> String,
) -> HashMap<ParamId, String> {
    let layout = network.layout();
    let mut names = HashMap::new();
    for (_, from, to, c) in layout.connections() {
        let ends = format!(
            "{} -> {}",
            rename(&layout.layer(from).name),
            rename(&layout.layer(to).name)
        );
        names.insert(c.weight, format!("weight {ends}"));
        if let Some(b) = c.bias {
            names.insert(b, format!("bias {ends}"));
        }
    }
    if let Some(table) = network.token_embedding() {
        names.insert(table, "table".into());
    }
    names
}

/// Every domain as names and numbers: its name, layers, size, block, whether fixed, and the
/// axes it moves (part, axis, fold), sorted.
fn domains<N: Network>(network: &N, rename: &dyn Fn(&str) -> String) -> Vec<String> {
    let layout: &Layout = network.layout();
    let names = param_names(network, rename);
    (0..layout.domains().len())
        .map(|d| {
            let domain = &layout.domains()[d];
            let layers: Vec<String> = domain
                .layers
                .iter()
                .map(|&l| rename(&layout.layer(l).name))
                .collect();
            let mut axes: Vec<String> = layout
                .domain_axes(d)
                .iter()
                .map(|a| format!("{} axis {} fold {}", names[&a.param], a.axis, a.fold))
                .collect();
            axes.sort();
            format!(
                "{} {layers:?} size {} block {:?} fixed {}: {axes:?}",
                rename(&domain.name),
                layout.domain_size(d),
                domain.block,
                domain.fixed
            )
        })
        .collect()
}

#[test]
fn the_file_token_mlps_equal_their_builtin_twins() {
    let rename = |n: &str| file_layer(n).to_string();
    let same = |n: &str| n.to_string();
    for (name, vocabulary) in TWINS {
        let twin = builtin(vocabulary, 3);
        let mut file = Model::new(file_graph(name), 4, &device()).unwrap();
        let (b, f) = (twin.network.layout(), file.network.layout());

        // Layers: the same sizes, places and activations; the same domains, moving the same
        // axes (the table's columns with the embedding layer's neurons).
        assert_eq!(b.graph().node_count(), f.graph().node_count(), "{name}");
        for l in b.graph().node_indices() {
            let layer = b.layer(l);
            let m = f.layer_named(file_layer(&layer.name)).unwrap();
            assert_eq!(layer.size, f.layer(m).size, "{name}: {}", layer.name);
            assert_eq!(layer.depth, f.layer(m).depth, "{name}: {}", layer.name);
            assert_eq!(
                layer.positions,
                f.layer(m).positions,
                "{name}: {}",
                layer.name
            );
            assert_eq!(
                twin.network.layer_activation(l),
                file.network.layer_activation(m),
                "{name}: {}",
                layer.name
            );
        }
        assert_eq!(
            domains(&twin.network, &rename),
            domains(&file.network, &same),
            "{name}"
        );
        assert_eq!(twin.network.activation(), file.network.activation());
        // The parameters come in the built-in's order, so one seed starts both alike.
        assert_eq!(
            builtin(vocabulary, 4).params.to_host(),
            file.params.to_host(),
            "{name}: the same initial parameters at one seed"
        );

        // The built-in's parameters (another seed), copied part by part.
        let from = param_names(&twin.network, &rename);
        let to: HashMap<String, ParamId> = param_names(&file.network, &same)
            .into_iter()
            .map(|(p, n)| (n, p))
            .collect();
        assert_eq!(
            from.len(),
            f.params().len(),
            "{name}: every parameter has a twin"
        );
        let source = twin.params.to_host();
        let mut host = file.params.to_host();
        for (p, part) in &from {
            host[to[part]] = source[*p].clone();
        }
        assert_ne!(
            host,
            file.params.to_host(),
            "{name}: the copy changes something"
        );
        file.params = ParamStore::from_host(f, &host, &device());
        // More rows than tokens (the table-then-ids order of the product) and fewer.
        for rows in [vocabulary * vocabulary, 5] {
            let x = pairs(vocabulary, rows);
            let want = values(twin.predict(x.clone(), false));
            let got = values(file.predict(x, false));
            let diff = max_abs_diff(&want, &got);
            assert!(diff < 1e-5, "{name}, {rows} rows: outputs differ by {diff}");
        }
    }
}

/// A token input of one position whose embedded layer also starts a residual stream: the
/// identity edge puts `r` in the embedding's domain, which moves the table's columns too.
const RESIDUAL: &str = r#"{
  "layers": [
    {"name": "ids", "role": "input", "tokens": 13},
    {"name": "e", "size": 8},
    {"name": "h", "size": 12},
    {"name": "r", "size": 8, "activation": "identity"},
    {"name": "y", "size": 13, "role": "output"}
  ],
  "edges": [
    {"from": "ids", "to": "e", "kind": "embedding"},
    {"from": "e", "to": "h"}, {"from": "h", "to": "r"},
    {"from": "e", "to": "r", "kind": "identity"},
    {"from": "r", "to": "y"}
  ]
}"#;

fn residual() -> Graph {
    let arch: Architecture = serde_json::from_str(RESIDUAL).unwrap();
    Graph::new(&arch).unwrap()
}

#[test]
fn random_permutations_of_every_domain_keep_the_function() {
    let mut rng = ChaCha8Rng::seed_from_u64(8);
    let cases = [
        (file_graph(TWINS[0].0), TWINS[0].1, 2),
        (file_graph(TWINS[1].0), TWINS[1].1, 2),
        (residual(), 13, 1),
    ];
    for (seed, (graph, vocabulary, positions)) in cases.into_iter().enumerate() {
        let name = graph.architecture().layers[1].name.clone();
        let table = graph.token_embedding().unwrap();
        let mut model = Model::new(graph, seed as u64, &device()).unwrap();
        let rows = vocabulary.pow(positions as u32);
        let ids: Vec<f32> = (0..rows)
            .flat_map(|i| {
                (0..positions).map(move |j| ((i / vocabulary.pow(j as u32)) % vocabulary) as f32)
            })
            .collect();
        let x = Tensor::from_data(TensorData::new(ids, [rows, positions]), &device());
        let before = values(model.predict(x.clone(), false));
        let table_before = model.params.to_host()[table].clone();
        for _ in 0..3 {
            scramble(&mut model, &mut rng);
        }
        assert_ne!(
            model.input_order(),
            (0..model.input_order().len()).collect::<Vec<_>>(),
            "{name}: the embedded layer moved"
        );
        assert_ne!(
            model.params.to_host()[table],
            table_before,
            "{name}: the table's columns moved"
        );
        let after = values(model.predict(x, false));
        let diff = max_abs_diff(&before, &after);
        assert!(diff < 1e-5, "{name}: outputs moved by {diff}");
    }
}

#[test]
fn the_fast_swap_delta_equals_two_full_costs() {
    let mut rng = ChaCha8Rng::seed_from_u64(12);
    for (graph, reduction) in [
        (file_graph(TWINS[0].0), Reduction::Sum),
        (file_graph(TWINS[1].0), Reduction::Mean),
        (residual(), Reduction::Sum),
    ] {
        let model = Model::new(graph, 2, &device()).unwrap();
        assert_swap_deltas_are_exact(&model, reduction, &mut rng);
    }
}

/// After swaps, `model.json` of the file-declared modular addition gives the Rust forward
/// pass's outputs and connection cost, through `bimt_analysis` and through the independent
/// Python reader `examples/graph_file/read_model.py` (run with `python3` where there is one;
/// `.ci/run` installs it).
#[test]
fn model_json_of_a_token_model_rebuilds_its_outputs_in_rust_and_python() {
    let (name, vocabulary) = TWINS[0];
    let mut model = Model::new(file_graph(name), 5, &device()).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    scramble(&mut model, &mut rng);
    let metric = PaperMetric::l1(2.0, 0.1);
    let spec = paper_l1_cost_spec();
    let inputs: Vec<String> = (1..=32).map(|i| format!("e{i}")).collect();
    let outputs: Vec<String> = (0..vocabulary).map(|i| format!("y{i}")).collect();
    let file = export_model(&model, &inputs, &outputs, spec);
    file.check().unwrap();
    assert_eq!(file.token_positions, Some(2));
    assert_eq!(
        file.token_embedding.as_ref().map(Vec::len),
        Some(vocabulary)
    );
    let layout = model.network.layout();
    let engine_cost = Distances::new(layout, &metric, &CostConfig::default())
        .cost(layout, &model.params.to_host());
    let file_cost = bimt_analysis::connection_cost(&file).unwrap();
    assert!(
        (engine_cost - file_cost).abs() < 1e-4 * engine_cost,
        "{engine_cost} vs {file_cost}"
    );

    let rows = 40;
    let ids: Vec<f32> = (0..2 * rows)
        .map(|_| rng.random_range(0..vocabulary) as f32)
        .collect();
    let x = Tensor::from_data(TensorData::new(ids.clone(), [rows, 2]), &device());
    let engine = values(model.predict(x, false));
    let close = |a: f64, b: f32| (a as f32 - b).abs() <= 1e-5 * (1.0 + b.abs());
    for r in 0..rows {
        let row = [ids[2 * r] as f64, ids[2 * r + 1] as f64];
        for (o, v) in bimt_analysis::predict(&file, &row).iter().enumerate() {
            let e = engine[r * vocabulary + o];
            assert!(
                close(*v, e),
                "bimt_analysis, row {r}, output {o}: {v} vs {e}"
            );
        }
    }

    let mut csv = String::from("a,b\n");
    for r in 0..rows {
        csv += &format!("{},{}\n", ids[2 * r], ids[2 * r + 1]);
    }
    let Some(read) = read_with_python(&file, &csv) else {
        return;
    };
    assert_eq!(read.len(), rows);
    for (r, line) in read.iter().enumerate() {
        for (o, &v) in line.iter().enumerate() {
            let e = engine[r * vocabulary + o];
            assert!(
                close(v, e),
                "read_model.py, row {r}, output {o}: {v} vs {e}"
            );
        }
    }
}
