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
        let mut model = Model::new(mlp(&widths, fold), seed, &device);
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
    let mut model = Model::new(mlp(&[4, 8, 2], 1), 7, &device);
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
        let model = Model::new(mlp(&widths, fold), rng.random(), &device);
        let layout = model.network.layout();
        let cfg = CostConfig {
            reduction,
            ..CostConfig::default()
        };
        let distances = Distances::new(layout, &PaperMetric::l1(2.0, 0.3), &cfg);
        let swapper = Swapper::new(layout, &distances);
        let host = model.params.to_host();
        for d in 0..layout.domains().len() {
            let n = layout.domain_size(d);
            for _ in 0..10 {
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
                let delta = swapper.delta(d, &host, &map);
                let mut moved = host.clone();
                let perm: Vec<usize> = (0..n).map(map).collect();
                apply_host(layout, &layout.domain_axes(d), &mut moved, &perm);
                let full = distances.cost(layout, &moved) - distances.cost(layout, &host);
                assert!(
                    (delta - full).abs() < 1e-4 * (1.0 + full.abs()),
                    "domain {d}: {delta} vs {full}"
                );
            }
        }
    }
}

#[test]
fn swap_rounds_lower_the_cost_and_keep_the_function() {
    let device = device();
    for mode in [SwapMode::Greedy, SwapMode::Exact] {
        let mut model = Model::new(mlp(&[4, 20, 20, 2], 1), 5, &device);
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
                model.permute(d, perm);
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
    let model = Model::new(bimt_mlp::Mlp::new(&config).unwrap(), 3, &device);
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
    let input = layout.domain_of(layout.input().unwrap());
    assert!(round.permutations[input].is_none());
    assert!(round.swaps > 0);
}
