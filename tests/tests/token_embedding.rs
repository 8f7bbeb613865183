//! Token embeddings (paper §3.3): they swap with the input neurons, are charged like biases,
//! and `model.json` rebuilds the function and the cost from token ids.
mod common;
use bimt_engine::{Model, Network, TrainConfig, Trainer, export_model};
use bimt_layout::{CostConfig, Distances, Reduction};
use bimt_manifold::PaperMetric;
use bimt_mlp::{Mlp, MlpConfig};
use bimt_swap::{Swapper, apply_host};
use bimt_tasks::{Batching, Loss, Supervised};
use common::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const P: usize = 11;

fn embedded_mlp() -> Mlp {
    Mlp::new(&MlpConfig::token_embedding(P, 2, &[6, 9, 7, P])).unwrap()
}

/// Every pair `(a, b)` of tokens, as a `[P², 2]` tensor of ids.
fn all_pairs(device: &bimt_engine::Device) -> bimt_engine::Tensor<2> {
    let ids: Vec<f32> = (0..P * P)
        .flat_map(|i| [(i / P) as f32, (i % P) as f32])
        .collect();
    bimt_engine::Tensor::from_data(bimt_engine::TensorData::new(ids, [P * P, 2]), device)
}

#[test]
fn swaps_move_embedding_columns_with_the_input_neurons() {
    let device = device();
    let mut model = Model::new(embedded_mlp(), 3, &device).unwrap();
    let x = all_pairs(&device);
    let before = values(model.predict(x.clone(), false));
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    scramble(&mut model, &mut rng);
    assert!(
        model.input_order().iter().enumerate().any(|(p, &f)| p != f),
        "the embedding layer moved"
    );
    let after = values(model.predict(x, false));
    assert!(max_abs_diff(&before, &after) < 1e-5);
}

#[test]
fn swap_deltas_stay_exact_with_an_embedding() {
    let device = device();
    let model = Model::new(embedded_mlp(), 4, &device).unwrap();
    let layout = model.network.layout();
    let cfg = CostConfig {
        reduction: Reduction::Mean,
        ..CostConfig::default()
    };
    let distances = Distances::new(layout, &PaperMetric::l1(2.0, 0.5), &cfg);
    let swapper = Swapper::new(layout, &distances);
    let host = model.params.to_host();
    let input = layout.domain_of(layout.inputs()[0]);
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    for _ in 0..10 {
        let (j, k) = (rng.random_range(0..6), rng.random_range(0..6));
        let map = |q: usize| match q {
            q if q == j => k,
            q if q == k => j,
            q => q,
        };
        let delta = swapper.delta(input, &host, &map);
        let mut moved = host.clone();
        let perm: Vec<usize> = (0..6).map(map).collect();
        apply_host(layout, &layout.domain_axes(input), &mut moved, &perm);
        let full = distances.cost(layout, &moved) - distances.cost(layout, &host);
        assert!((delta - full).abs() < 1e-5 * (1.0 + full.abs()));
    }
}

#[test]
fn trained_embedding_model_exports_its_function_and_cost() {
    let device = device();
    let metric = PaperMetric::l1(2.0, 0.5);
    let data = bimt_data::algorithmic(bimt_data::Operation::ModularAddition { p: P }, 0.8, 5);
    let task = Supervised::new(&data, Loss::CrossEntropy, Batching::Full, &device);
    let config = TrainConfig {
        lr: vec![(0, 1e-2)],
        lambda: vec![(0, 1e-3)],
        swap_every: 50,
        top_k: 6,
        cost: CostConfig {
            reduction: Reduction::Mean,
            ..CostConfig::default()
        },
        log_every: 100,
        ..TrainConfig::paper(300)
    };
    let mut t = Trainer::new(
        Model::new(embedded_mlp(), 5, &device).unwrap(),
        task,
        config,
        &metric,
    );
    let first = t.evaluate();
    let summary = t.run(&mut ()).unwrap();
    assert!(summary.evaluation.train_loss < 0.5 * first.train_loss);
    assert!(summary.swaps > 0);

    let file = export_model(&t.model, &[], &[], t.config.cost_spec(&metric));
    file.check().unwrap();
    let embedding = file.token_embedding.as_ref().expect("exported embedding");
    assert_eq!((embedding.len(), embedding[0].len()), (P, 6));
    let engine_cost = t.connection_cost(299);
    let file_cost = bimt_analysis::connection_cost(&file).unwrap();
    assert!((engine_cost - file_cost).abs() < 1e-4 * engine_cost);
    let without = bimt_format::ModelFile {
        token_embedding: None,
        ..file.clone()
    };
    assert!(
        bimt_analysis::connection_cost(&without).unwrap() < file_cost - 1e-3,
        "the embedding is charged"
    );

    let x = all_pairs(&device);
    let engine = values(t.model.predict(x.clone(), false));
    let ids = values(x);
    for r in (0..P * P).step_by(7) {
        let row = [ids[2 * r] as f64, ids[2 * r + 1] as f64];
        for (o, v) in bimt_analysis::predict(&file, &row).iter().enumerate() {
            assert!((*v as f32 - engine[r * P + o]).abs() < 1e-3, "pair {r}");
        }
    }
}
