//! A swap never changes the network's function, and the swapper's cost deltas are exact.
mod common;
use bimt_engine::{Model, Network};
use bimt_layout::{CostConfig, Distances, Reduction};
use bimt_manifold::PaperMetric;
use bimt_swap::{SwapConfig, SwapMode, Swapper, apply_host};
use common::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

#[test]
fn random_permutations_keep_the_mlp_function() {
    let device = device();
    for (seed, widths, fold) in [
        (1, vec![4, 20, 20, 2], 1),
        (2, vec![3, 7, 5, 3], 1),
        (3, vec![6, 9, 4], 2),
    ] {
        let mut model = Model::new(mlp(&widths, fold), seed, &device).unwrap();
        let x = random_input(16, widths[0] * fold, seed, &device);
        let before = values(model.predict(x.clone(), false));
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        for _ in 0..3 {
            scramble(&mut model, &mut rng);
        }
        assert!(
            model.input_order().iter().enumerate().any(|(p, &f)| p != f),
            "input order moved"
        );
        let after = values(model.predict(x, false));
        assert!(
            max_abs_diff(&before, &after) < 1e-5,
            "{widths:?} fold {fold}"
        );
    }
}

#[test]
fn a_wrong_permutation_does_change_the_function() {
    // Guards the test above: permuting one axis alone (not the whole domain) must be caught.
    let device = device();
    let mut model = Model::new(mlp(&[4, 8, 2], 1), 7, &device).unwrap();
    let x = random_input(8, 4, 7, &device);
    let before = values(model.predict(x.clone(), false));
    let layout = model.network.layout();
    let axis = layout.domain_axes(1)[0];
    model.params.permute(&axis, &[1, 0, 2, 3, 4, 5, 6, 7]);
    let after = values(model.predict(x, false));
    assert!(max_abs_diff(&before, &after) > 1e-4);
}

#[test]
fn swap_delta_equals_difference_of_full_costs() {
    let device = device();
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    for (widths, fold, reduction) in [
        (vec![4, 20, 20, 2], 1, Reduction::Sum),
        (vec![3, 6, 5], 2, Reduction::Mean),
        (vec![5, 5, 5, 5], 1, Reduction::Sum),
    ] {
        let model = Model::new(mlp(&widths, fold), rng.random(), &device).unwrap();
        assert_swap_deltas_are_exact(&model, reduction, &mut rng);
    }
}

#[test]
fn swap_rounds_lower_the_cost_and_keep_the_function() {
    let device = device();
    for mode in [SwapMode::Greedy, SwapMode::Exact, SwapMode::GreedyPositions] {
        let mut model = Model::new(mlp(&[4, 20, 20, 2], 1), 5, &device).unwrap();
        let x = random_input(10, 4, 5, &device);
        let before = values(model.predict(x.clone(), false));
        let layout = model.network.layout().clone();
        let distances = Distances::new(&layout, &PaperMetric::l1(2.0, 0.1), &CostConfig::default());
        let mut host = model.params.to_host();
        let cost_before = distances.cost(&layout, &host);
        let round =
            Swapper::new(&layout, &distances).round(&mut host, &SwapConfig { top_k: 20, mode });
        assert!(
            round.swaps > 0,
            "{mode:?}: random weights leave room to improve"
        );
        for (d, perm) in round.permutations.iter().enumerate() {
            if let Some(perm) = perm {
                model.permute(d, perm).unwrap();
            }
        }
        assert_eq!(
            model.params.to_host(),
            host,
            "{mode:?}: device tensors follow the host search"
        );
        assert!(distances.cost(&layout, &host) < cost_before);
        let after = values(model.predict(x, false));
        assert!(max_abs_diff(&before, &after) < 1e-5);
    }
}

#[test]
fn fixed_domains_never_move() {
    let device = device();
    let config = bimt_mlp::MlpConfig {
        fixed_input: true,
        placements: vec![
            bimt_layout::Placement::Grid { rows: 4, cols: 4 },
            bimt_layout::Placement::Grid { rows: 3, cols: 3 },
            bimt_layout::Placement::Line,
        ],
        ..bimt_mlp::MlpConfig::lines(&[16, 9, 3])
    };
    let model = Model::new(bimt_mlp::Mlp::new(&config).unwrap(), 3, &device).unwrap();
    let layout = model.network.layout();
    let distances = Distances::new(layout, &PaperMetric::l1(2.0, 0.5), &CostConfig::default());
    let mut host = model.params.to_host();
    let round = Swapper::new(layout, &distances).round(
        &mut host,
        &SwapConfig {
            top_k: 16,
            mode: SwapMode::Greedy,
        },
    );
    let input = layout.domain_of(layout.inputs()[0]);
    assert!(round.permutations[input].is_none());
    assert!(round.swaps > 0);
}

#[test]
fn fast_pair_deltas_match_full_costs() {
    // The greedy search's pairwise deltas (contiguous rows and transposed columns) against the
    // general delta and the difference of full costs: folded inputs, the 3D MNIST layout, and a
    // domain of two layers joined to each other (rows and columns move together).
    use bimt_layout::{Domain, LayoutBuilder, Placement};
    let mut rng = ChaCha8Rng::seed_from_u64(23);
    let shared = {
        let mut b = LayoutBuilder::new();
        let input = b.layer("input", 4, Placement::Line, 0.0);
        let a = b.layer("a", 6, Placement::Line, 1.0);
        let c = b.layer("b", 6, Placement::Line, 2.0);
        let output = b.layer("output", 3, Placement::Line, 3.0);
        b.folded_linear(input, a, 1, 1, true);
        b.folded_linear(a, c, 1, 1, true);
        b.folded_linear(c, output, 1, 1, true);
        b.domain(Domain {
            name: "shared".into(),
            layers: vec![a, c],
            block: None,
            fixed: false,
            extra_axes: Vec::new(),
        });
        b.input(input).output(output);
        b.build().unwrap()
    };
    let mnist = bimt_mlp::Mlp::new(&bimt_mlp::MlpConfig::image(
        28,
        28,
        &[(10, 10), (10, 10)],
        10,
    ))
    .unwrap();
    let layouts = [
        mlp(&[3, 6, 5], 2).layout().clone(),
        mlp(&[4, 20, 20, 2], 1).layout().clone(),
        mnist.layout().clone(),
        shared,
    ];
    for (i, layout) in layouts.iter().enumerate() {
        let host: Vec<Vec<f32>> = layout
            .params()
            .iter()
            .map(|p| {
                (0..p.shape[0] * p.shape[1])
                    .map(|_| rng.random_range(-1.0..1.0))
                    .collect()
            })
            .collect();
        let cfg = CostConfig {
            reduction: if i % 2 == 0 {
                Reduction::Mean
            } else {
                Reduction::Sum
            },
            last_layer_distance: i != 2,
            ..CostConfig::default()
        };
        let distances = Distances::new(layout, &PaperMetric::l1(2.0, 0.5), &cfg);
        let swapper = Swapper::new(layout, &distances);
        for d in 0..layout.domains().len() {
            let n = layout.domain_size(d);
            for _ in 0..8 {
                let (j, k) = (rng.random_range(0..n), rng.random_range(0..n));
                let map = |q: usize| {
                    if q == j {
                        k
                    } else if q == k {
                        j
                    } else {
                        q
                    }
                };
                let fast = swapper.swap_delta(d, &host, j, k);
                let general = swapper.delta(d, &host, &map);
                let mut moved = host.clone();
                let perm: Vec<usize> = (0..n).map(map).collect();
                apply_host(layout, &layout.domain_axes(d), &mut moved, &perm);
                let full = distances.cost(layout, &moved) - distances.cost(layout, &host);
                let tol = 1e-4 * (1.0 + full.abs());
                assert!(
                    (fast - full).abs() < tol && (general - full).abs() < tol,
                    "layout {i}, domain {d}, swap {j}<->{k}: fast {fast}, general {general}, full {full}"
                );
            }
        }
    }
}

#[test]
fn mnist_swap_rounds_never_move_a_pixel() {
    // The real 784-100-100-10 layout: pixels stay put, hidden and output neurons move, and
    // the function and the pixel order are untouched.
    let device = device();
    let config = bimt_mlp::MlpConfig::image(28, 28, &[(10, 10), (10, 10)], 10);
    let mut model = Model::new(bimt_mlp::Mlp::new(&config).unwrap(), 4, &device).unwrap();
    let layout = model.network.layout().clone();
    let cfg = CostConfig {
        reduction: Reduction::Mean,
        ..CostConfig::default()
    };
    let distances = Distances::new(&layout, &PaperMetric::l1(2.0, 0.5), &cfg);
    let x = random_input(6, 784, 4, &device);
    let before = values(model.predict(x.clone(), false));
    let input = layout.domain_of(layout.inputs()[0]);
    let mut total = 0;
    for _ in 0..3 {
        let mut host = model.params.to_host();
        let cost_before = distances.cost(&layout, &host);
        let round = Swapper::new(&layout, &distances).round(
            &mut host,
            &SwapConfig {
                top_k: 30,
                mode: SwapMode::Greedy,
            },
        );
        assert!(round.permutations[input].is_none(), "a pixel moved");
        for (d, perm) in round.permutations.iter().enumerate() {
            if let Some(perm) = perm {
                model.permute(d, perm).unwrap();
            }
        }
        assert_eq!(model.params.to_host(), host);
        assert!(distances.cost(&layout, &host) <= cost_before);
        total += round.swaps;
    }
    assert!(total > 0, "random weights leave room to improve");
    assert!(
        model.input_order().iter().enumerate().all(|(p, &f)| p == f),
        "the pixel order is the identity"
    );
    let after = values(model.predict(x, false));
    assert!(max_abs_diff(&before, &after) < 1e-5);
}
