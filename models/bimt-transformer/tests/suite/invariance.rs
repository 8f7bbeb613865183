//! Swaps never change what the transformer computes: random permutations that respect the
//! coupling groups, and real swap rounds of the swapper.

use crate::common::{block_shuffled, config, host, max_relative, model, shuffled, tokens};
use bimt_engine::{Int, Network, Tensor, TensorData};
use bimt_layout::{CostConfig, Distances, Reduction};
use bimt_manifold::PaperMetric;
use bimt_swap::{SwapConfig, SwapMode, Swapper};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// `x` (original feature order) moved into the model's current input order.
fn stored_inputs(x: Tensor<2>, order: &[usize]) -> Tensor<2> {
    let index: Vec<i64> = order.iter().map(|&i| i as i64).collect();
    let device = x.device();
    x.select(
        1,
        Tensor::<1, Int>::from_data(TensorData::new(index, [order.len()]), &device),
    )
}

#[test]
fn random_permutations_of_every_domain_keep_the_outputs() {
    for heads in [1, 2, 4] {
        let config = config(8, 2, heads);
        let mut model = model(config, 7 + heads as u64);
        let x = tokens(&config, 4, 1);
        let before = host(model.predict(x.clone(), false));
        let residuals_before: Vec<Vec<f32>> = model
            .network
            .forward_residuals(&model.params.detached(), x.clone())
            .into_iter()
            .map(host)
            .collect();
        let params_before = model.params.to_host();
        let mut rng = ChaCha8Rng::seed_from_u64(heads as u64);
        let mut residual_perm = Vec::new();
        let domains = model.network.layout().domains().to_vec();
        for (d, domain) in domains.iter().enumerate() {
            let n = model.network.layout().domain_size(d);
            let perm = match domain.block {
                Some(block) => block_shuffled(n, block, &mut rng),
                None => shuffled(n, &mut rng),
            };
            if domain.name == "residual" {
                residual_perm = perm.clone();
            }
            model.permute(d, &perm).unwrap();
        }
        assert_ne!(
            model.params.to_host(),
            params_before,
            "the permutations moved nothing"
        );
        let after = host(model.predict(x.clone(), false));
        let err = max_relative(&before, &after);
        assert!(
            err < 1e-5,
            "heads = {heads}: outputs changed by {err} (relative)"
        );

        // Every residual layer moved by the one residual permutation.
        let x_stored = stored_inputs(x, model.input_order());
        let residuals_after = model
            .network
            .forward_residuals(&model.params.detached(), x_stored);
        assert_eq!(residuals_after.len(), 2 * config.depth + 1);
        for (layer, (old, new)) in residuals_before.iter().zip(residuals_after).enumerate() {
            let new = host(new);
            let moved: Vec<f32> = old
                .chunks_exact(config.width)
                .flat_map(|row| residual_perm.iter().map(|&p| row[p]).collect::<Vec<_>>())
                .collect();
            let err = max_relative(&moved, &new);
            assert!(
                err < 1e-5,
                "heads = {heads}: res{layer} is not the permuted original ({err})"
            );
        }
    }
}

#[test]
fn swap_rounds_keep_outputs_and_never_raise_the_cost() {
    for (heads, mode) in [
        (1, SwapMode::Greedy),
        (2, SwapMode::Greedy),
        (4, SwapMode::Greedy),
        (2, SwapMode::Exact),
    ] {
        let config = config(16, 2, heads);
        let mut model = model(config, 3);
        let x = tokens(&config, 5, 2);
        let before = host(model.predict(x.clone(), false));
        let layout = model.network.layout().clone();
        let cost = CostConfig {
            reduction: Reduction::Mean,
            ..CostConfig::default()
        };
        let distances = Distances::new(&layout, &PaperMetric::l1(2.0, 0.5), &cost);
        let mut params = model.params.to_host();
        let cost_before = distances.cost(&layout, &params);
        let round =
            Swapper::new(&layout, &distances).round(&mut params, &SwapConfig { top_k: 8, mode });
        assert!(
            round.swaps > 0,
            "heads = {heads}, {mode:?}: random weights should leave room for swaps"
        );
        for (d, perm) in round.permutations.iter().enumerate() {
            let Some(perm) = perm else { continue };
            if let Some(block) = layout.domains()[d].block {
                for (q, &p) in perm.iter().enumerate() {
                    let head = perm[q - q % block] / block;
                    assert_eq!(
                        p / block,
                        head,
                        "domain '{}' split a head: {perm:?}",
                        layout.domains()[d].name
                    );
                }
            }
            model.permute(d, perm).unwrap();
        }
        assert_eq!(
            model.params.to_host(),
            params,
            "Model::permute and the swapper disagree"
        );
        let cost_after = distances.cost(&layout, &params);
        assert!(
            cost_after <= cost_before + 1e-9,
            "cost rose from {cost_before} to {cost_after}"
        );
        let after = host(model.predict(x, false));
        let err = max_relative(&before, &after);
        assert!(
            err < 1e-5,
            "heads = {heads}, {mode:?}: a swap round changed the outputs by {err}"
        );
    }
}
