//! Networks declared as data (two input layers, a sum junction, an identity skip): swaps keep
//! the function, the fast swap delta is exact, `model.json` rebuilds outputs and cost, and
//! layouts that would break under a swap are refused by name.
mod common;
use bimt_engine::{Model, Network, PermuteError, Tensor, export_model};
use bimt_graph::{Architecture, Graph};
use bimt_layout::{CostConfig, Distances, LayoutBuilder, Placement, Reduction};
use bimt_manifold::PaperMetric;

use common::*;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// The issue's two-tower network: xa (4) and xb (3) each through a tower, summed into s, a
/// residual block s -> h -> t with an identity skip s -> t, then y (2).
const TWO_TOWERS: &str = r#"{
  "layers": [
    {"name": "xa", "size": 4, "role": "input"},
    {"name": "xb", "size": 3, "role": "input"},
    {"name": "a1", "size": 8, "activation": "silu"},
    {"name": "b1", "size": 8, "activation": "silu"},
    {"name": "s",  "size": 8, "activation": "silu"},
    {"name": "h",  "size": 8, "activation": "silu"},
    {"name": "t",  "size": 8, "activation": "identity"},
    {"name": "y",  "size": 2, "role": "output"}
  ],
  "edges": [
    {"from": "xa", "to": "a1"}, {"from": "xb", "to": "b1"},
    {"from": "a1", "to": "s"},  {"from": "b1", "to": "s"},
    {"from": "s",  "to": "h"},  {"from": "h",  "to": "t"},
    {"from": "s",  "to": "t", "kind": "identity"},
    {"from": "t",  "to": "y"}
  ]
}"#;

fn arch(text: &str) -> Architecture {
    serde_json::from_str(text).unwrap()
}

fn two_towers(seed: u64) -> Model<Graph> {
    Model::new(Graph::new(&arch(TWO_TOWERS)).unwrap(), seed, &device()).unwrap()
}

#[test]
fn identity_edges_derive_one_domain_and_inputs_keep_their_own_orders() {
    let model = two_towers(0);
    let layout = model.network.layout();
    let s = layout.layer_named("s").unwrap();
    let t = layout.layer_named("t").unwrap();
    assert_eq!(layout.domain_of(s), layout.domain_of(t));
    assert_eq!(layout.domains()[layout.domain_of(s)].name, "s+t");
    assert_eq!(layout.inputs().len(), 2);
    assert_eq!(model.input_order().len(), 7);
}

#[test]
fn random_swaps_of_every_domain_keep_the_outputs() {
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    for seed in 0..3 {
        let mut model = two_towers(seed);
        let x = random_input(16, 7, seed, &device());
        let before = values(model.predict(x.clone(), false));
        for _ in 0..3 {
            scramble(&mut model, &mut rng);
        }
        // The input layers moved too: their orders are not the identity any more.
        assert_ne!(model.input_order(), (0..7).collect::<Vec<_>>());
        let after = values(model.predict(x, false));
        assert!(max_abs_diff(&before, &after) < 1e-5);
    }
}

#[test]
fn the_fast_swap_delta_equals_two_full_costs() {
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    assert_swap_deltas_are_exact(&two_towers(1), Reduction::Sum, &mut rng);
}

#[test]
fn model_json_rebuilds_outputs_and_cost_after_swaps() {
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    let mut model = two_towers(3);
    scramble(&mut model, &mut rng);
    let metric = PaperMetric::l1(2.0, 0.1);
    let spec = paper_l1_cost_spec();
    let file = export_model(&model, &[], &[], spec);
    file.check().unwrap();
    assert_eq!(file.format, 2);
    let layout = model.network.layout();
    let engine_cost = Distances::new(layout, &metric, &CostConfig::default())
        .cost(layout, &model.params.to_host());
    let file_cost = bimt_analysis::connection_cost(&file).unwrap();
    assert!(
        (engine_cost - file_cost).abs() < 1e-4 * engine_cost,
        "{engine_cost} vs {file_cost}"
    );
    let x = random_input(6, 7, 4, &device());
    let engine = values(model.predict(x.clone(), false));
    let xs = values(x);
    for r in 0..6 {
        let row: Vec<f64> = xs[r * 7..(r + 1) * 7].iter().map(|&v| v as f64).collect();
        for (o, v) in bimt_analysis::predict(&file, &row).iter().enumerate() {
            assert!(
                (*v as f32 - engine[r * 2 + o]).abs() < 1e-5,
                "row {r} output {o}"
            );
        }
    }
}

/// A hand-written network whose forward pass adds two layers' values without declaring it:
/// the coupling check refuses it, naming both domains.
#[test]
fn an_undeclared_sum_is_refused_with_the_domain_to_couple() {
    struct Undeclared(bimt_layout::Layout, [usize; 4]);
    impl Network for Undeclared {
        fn layout(&self) -> &bimt_layout::Layout {
            &self.0
        }
        fn forward(&self, p: &[Tensor<2>], x: Tensor<2>) -> Tensor<2> {
            let [wa, wb, way, _] = self.1;
            let a = burn::tensor::activation::silu(x.clone().matmul(p[wa].clone()));
            let b = burn::tensor::activation::silu(x.matmul(p[wb].clone()));
            (a + b).matmul(p[way].clone())
        }
        fn activation(&self) -> String {
            "silu".into()
        }
    }
    let mut b = LayoutBuilder::new();
    let x = b.layer("x", 2, Placement::Line, 0.0);
    let a = b.layer("a", 3, Placement::Line, 1.0);
    let c = b.layer("b", 3, Placement::Line, 1.0);
    let y = b.layer("y", 1, Placement::Line, 2.0);
    let connections: Vec<_> = [(x, a), (x, c), (a, y), (c, y)]
        .into_iter()
        .map(|(f, t)| b.linear(f, t, false))
        .collect();
    b.input(x).output(y);
    let layout = b.build().unwrap();
    let w: Vec<usize> = connections
        .iter()
        .map(|&c| layout.graph()[c].weight)
        .collect();
    let network = Undeclared(layout, [w[0], w[1], w[2], w[3]]);
    let e = Model::new(network, 0, &device()).err().unwrap().to_string();
    assert!(
        e.contains("coupling check") && e.contains("'a'") && e.contains("'b'"),
        "{e}"
    );
}

#[test]
fn inconsistent_graphs_are_refused_by_name() {
    let refuse = |text: &str| Graph::new(&arch(text)).unwrap_err().to_string();
    // A layer that is not an input and that nothing feeds.
    let e = refuse(
        r#"{"layers": [{"name": "x", "size": 2, "role": "input"}, {"name": "lost", "size": 2},
            {"name": "y", "size": 1, "role": "output"}],
            "edges": [{"from": "x", "to": "y"}, {"from": "lost", "to": "y"}]}"#,
    );
    assert!(
        e.contains("'lost'") && e.contains("no edge enters it"),
        "{e}"
    );
    // A layer that is not an output and that nothing reads.
    let e = refuse(
        r#"{"layers": [{"name": "x", "size": 2, "role": "input"}, {"name": "dead", "size": 2},
            {"name": "y", "size": 1, "role": "output"}],
            "edges": [{"from": "x", "to": "y"}, {"from": "x", "to": "dead"}]}"#,
    );
    assert!(
        e.contains("'dead'") && e.contains("no edge leaves it"),
        "{e}"
    );
    // Two domains with one name.
    let e = refuse(
        r#"{"layers": [{"name": "x", "size": 2, "role": "input"}, {"name": "h", "size": 2},
            {"name": "g", "size": 2}, {"name": "y", "size": 1, "role": "output"}],
            "edges": [{"from": "x", "to": "h"}, {"from": "x", "to": "g"}, {"from": "h", "to": "y"},
                      {"from": "g", "to": "y"}],
            "groups": [{"name": "h", "layers": ["g"]}]}"#,
    );
    assert!(e.contains("two domains are named 'h'"), "{e}");
    // An identity edge between layers that declared groups keep apart.
    let e = refuse(
        r#"{"layers": [{"name": "x", "size": 2, "role": "input"}, {"name": "h", "size": 2},
            {"name": "g", "size": 2}, {"name": "y", "size": 1, "role": "output"}],
            "edges": [{"from": "x", "to": "h"}, {"from": "h", "to": "g", "kind": "identity"},
                      {"from": "g", "to": "y"}],
            "groups": [{"name": "one", "layers": ["h"]}, {"name": "two", "layers": ["g"]}]}"#,
    );
    assert!(
        e.contains("identity edge h -> g") && e.contains("'one'") && e.contains("'two'"),
        "{e}"
    );
    // An identity edge between layers of different sizes; a cycle; an unknown layer.
    let e = refuse(
        r#"{"layers": [{"name": "x", "size": 2, "role": "input"}, {"name": "h", "size": 3},
            {"name": "y", "size": 3, "role": "output"}],
            "edges": [{"from": "x", "to": "h"}, {"from": "x", "to": "y", "kind": "identity"},
                      {"from": "h", "to": "y"}]}"#,
    );
    assert!(
        e.contains("identity edge x -> y") && e.contains("2 and 3"),
        "{e}"
    );
    let e = refuse(
        r#"{"layers": [{"name": "x", "size": 2, "role": "input"}, {"name": "h", "size": 2},
            {"name": "y", "size": 1, "role": "output"}],
            "edges": [{"from": "x", "to": "h"}, {"from": "h", "to": "h"}, {"from": "h", "to": "y"}]}"#,
    );
    assert!(e.contains("cycle") && e.contains("'h'"), "{e}");
    let e = refuse(
        r#"{"layers": [{"name": "x", "size": 2, "role": "input"}, {"name": "y", "size": 1, "role": "output"}],
            "edges": [{"from": "x", "to": "z"}]}"#,
    );
    assert!(e.contains("'z'") && e.contains("edge 1"), "{e}");
}

#[test]
fn a_fixed_domain_refuses_a_permutation() {
    let text = TWO_TOWERS.replace(
        r#"{"name": "xa", "size": 4, "role": "input"}"#,
        r#"{"name": "xa", "size": 4, "role": "input", "fixed": true}"#,
    );
    let mut model = Model::new(Graph::new(&arch(&text)).unwrap(), 0, &device()).unwrap();
    let layout = model.network.layout().clone();
    let xa = layout.domain_of(layout.layer_named("xa").unwrap());
    let e = model.permute(xa, &[1, 0, 2, 3]).unwrap_err();
    assert_eq!(e, PermuteError::Fixed("xa".into()));
    let h = layout.domain_of(layout.layer_named("h").unwrap());
    assert!(matches!(
        model.permute(h, &[0, 0, 1, 2, 3, 4, 5, 6]),
        Err(PermuteError::Invalid { .. })
    ));
}
