//! The dense presets' networks declared as architecture files (`examples/architectures`): each
//! file builds its built-in twin (`bimt_mlp::Mlp`) exactly, so `bimt run graph --arch FILE
//! --task PRESET` trains the preset's own network: the same layers, places, activations,
//! domains and parameters, and the same outputs.
mod common;
use bimt_engine::{Model, Network};
use bimt_graph::Graph;
use bimt_layout::Layout;
use bimt_mlp::{Mlp, MlpConfig};

use common::*;
use std::path::Path;

/// The files and their twins' configurations (as the presets build them).
fn twins() -> Vec<(&'static str, MlpConfig)> {
    vec![
        ("symbolic_4_20_20_2.json", MlpConfig::lines(&[4, 20, 20, 2])),
        ("symbolic_3_20_20_3.json", MlpConfig::lines(&[3, 20, 20, 3])),
        (
            "symbolic_4_20_20_20_20_1.json",
            MlpConfig::lines(&[4, 20, 20, 20, 20, 1]),
        ),
        ("two_moons.json", MlpConfig::lines(&[2, 20, 20, 2])),
        (
            "mnist.json",
            MlpConfig::image(28, 28, &[(10, 10), (10, 10)], 10),
        ),
    ]
}

fn file_graph(name: &str) -> Graph {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples/architectures")
        .join(name);
    Graph::from_file(&path).unwrap()
}

/// Every layer as its name, size, depth and places; every domain as its layers, block and
/// whether it is fixed.
fn shape(layout: &Layout) -> (Vec<String>, Vec<String>) {
    let layers = layout
        .graph()
        .node_indices()
        .map(|l| {
            let layer = layout.layer(l);
            format!(
                "{} {} depth {} at {:?}",
                layer.name, layer.size, layer.depth, layer.positions
            )
        })
        .collect();
    let domains = layout
        .domains()
        .iter()
        .map(|d| {
            let names: Vec<&str> = d.layers.iter().map(|&l| &*layout.layer(l).name).collect();
            format!("{names:?} block {:?} fixed {}", d.block, d.fixed)
        })
        .collect();
    (layers, domains)
}

#[test]
fn the_dense_preset_files_build_their_builtin_twins() {
    for (name, config) in twins() {
        let file = Model::new(file_graph(name), 7, &device()).unwrap();
        let twin = Model::new(Mlp::new(&config).unwrap(), 7, &device()).unwrap();
        let (f, b) = (file.network.layout(), twin.network.layout());
        assert_eq!(shape(f), shape(b), "{name}");
        assert_eq!(
            file.network.activation(),
            twin.network.activation(),
            "{name}"
        );
        let names = |l: &Layout| -> Vec<(String, [usize; 2])> {
            l.params()
                .iter()
                .map(|p| (p.name.clone(), p.shape))
                .collect()
        };
        assert_eq!(names(f), names(b), "{name}: the same parameters, in order");
        assert_eq!(
            file.params.to_host(),
            twin.params.to_host(),
            "{name}: one seed starts both alike"
        );
        let inputs = f.layer(f.inputs()[0]).size;
        let x = random_input(16, inputs, 3, &device());
        let diff = max_abs_diff(
            &values(file.predict(x.clone(), false)),
            &values(twin.predict(x, false)),
        );
        assert!(diff < 1e-5, "{name}: outputs differ by {diff}");
    }
}
