//! Training invariants: permuted optimizer state, determinism, export, checkpoints.
mod common;
use bimt_engine::{
    Checkpoint, Divergence, Finetune, Model, Network, SwapMoments, TrainConfig, TrainError,
    Trainer, Variant, export_model,
};
use bimt_layout::{CostConfig, Distances};
use bimt_manifold::PaperMetric;
use bimt_tasks::{Batching, Loss, Supervised};
use common::*;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

fn config(steps: usize, variant: Variant) -> TrainConfig {
    TrainConfig {
        lr: vec![(0, 2e-3)],
        lambda: vec![(0, 1e-3), (steps / 2, 1e-2)],
        swap_every: 50,
        variant,
        log_every: steps / 4,
        ..TrainConfig::paper(steps)
    }
}

fn trainer(
    seed: u64,
    cfg: TrainConfig,
    metric: &PaperMetric,
) -> Trainer<'_, bimt_mlp::Mlp, Supervised> {
    let device = device();
    let data = bimt_data::symbolic(bimt_data::Formula::Independence, 100, 100, seed);
    let task = Supervised::new(&data, Loss::Mse, Batching::Full, &device);
    Trainer::new(
        Model::new(mlp(&[4, 12, 12, 2], 1), seed, &device).unwrap(),
        task,
        cfg,
        metric,
    )
}

/// With a distance-free cost (A = 0) every permutation costs the same, so forced swaps during
/// training must leave the trained function exactly as training without swaps. This fails if
/// AdamW's moment estimates are not permuted with the weights.
#[test]
fn forced_swaps_with_a_zero_leave_the_trajectory_unchanged() {
    let metric = PaperMetric::l1(0.0, 0.1);
    let cfg = config(60, Variant::L1Local);
    let mut plain = trainer(3, cfg.clone(), &metric);
    let mut swapped = trainer(3, cfg.clone(), &metric);
    let mut rng = ChaCha8Rng::seed_from_u64(99);
    for chunk in 0..6 {
        for t in [&mut plain, &mut swapped] {
            t.config.steps = (chunk + 1) * 10;
            t.run(&mut ()).unwrap();
        }
        scramble(&mut swapped.model, &mut rng);
    }
    let x = random_input(32, 4, 1, &device());
    let (a, b) = (
        values(plain.model.predict(x.clone(), false)),
        values(swapped.model.predict(x, false)),
    );
    assert!(max_abs_diff(&a, &b) < 2e-5, "diff {}", max_abs_diff(&a, &b));
}

/// The same test with the moments left in place (`SwapMoments::Stay`, the reference
/// notebooks' behaviour) must fail: the invariant has teeth, and the option does what it says.
#[test]
fn forced_swaps_that_leave_the_moments_change_the_trajectory() {
    let metric = PaperMetric::l1(0.0, 0.1);
    let cfg = config(40, Variant::L1Local);
    let mut plain = trainer(4, cfg.clone(), &metric);
    let mut swapped = trainer(4, cfg, &metric);
    for t in [&mut plain, &mut swapped] {
        t.config.steps = 20;
        t.run(&mut ()).unwrap();
    }
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let x = random_input(32, 4, 1, &device());
    let before = values(swapped.model.predict(x.clone(), false));
    let moments = swapped.model.params.states_to_host();
    scramble_with(&mut swapped.model, &mut rng, SwapMoments::Stay);
    // The swap itself keeps the function and leaves every moment where it was.
    let after = values(swapped.model.predict(x.clone(), false));
    assert!(max_abs_diff(&before, &after) < 1e-5);
    assert_eq!(swapped.model.params.states_to_host(), moments);
    for t in [&mut plain, &mut swapped] {
        t.config.steps = 40;
        t.run(&mut ()).unwrap();
    }
    let (a, b) = (
        values(plain.model.predict(x.clone(), false)),
        values(swapped.model.predict(x, false)),
    );
    assert!(max_abs_diff(&a, &b) > 1e-4);
}

/// `SwapMoments::Reset` keeps the function and zeroes the moments of exactly the moved
/// weights: every moment is the one `Follow` moves there, or zero where `Follow` moves in
/// another weight's.
#[test]
fn swaps_that_reset_the_moments_zero_only_the_moved_weights() {
    let metric = PaperMetric::l1(0.0, 0.1);
    let moments_after = |moments: SwapMoments| {
        let mut t = trainer(4, config(20, Variant::L1Local), &metric);
        t.run(&mut ()).unwrap();
        let x = random_input(32, 4, 1, &device());
        let before = values(t.model.predict(x.clone(), false));
        let unmoved = t.model.params.states_to_host();
        scramble_with(&mut t.model, &mut ChaCha8Rng::seed_from_u64(5), moments);
        let after = values(t.model.predict(x, false));
        assert!(max_abs_diff(&before, &after) < 1e-5);
        (unmoved, t.model.params.states_to_host())
    };
    let (unmoved, follow) = moments_after(SwapMoments::Follow);
    let (_, reset) = moments_after(SwapMoments::Reset);
    let (mut zeroed, mut kept) = (0, 0);
    for ((u, f), r) in unmoved.iter().zip(&follow).zip(&reset) {
        let (u, f, r) = (
            u.as_ref().unwrap(),
            f.as_ref().unwrap(),
            r.as_ref().unwrap(),
        );
        for (((&u, &f), &r), which) in u
            .first
            .iter()
            .zip(&f.first)
            .zip(&r.first)
            .chain(u.second.iter().zip(&f.second).zip(&r.second))
            .zip(0..)
        {
            if r == 0.0 && f != 0.0 {
                zeroed += 1;
            } else {
                assert_eq!(r, f, "moment {which}: neither moved nor reset");
                assert_eq!(r, u, "moment {which}: kept, so its weight did not move");
                kept += 1;
            }
        }
    }
    assert!(zeroed > 0 && kept > 0, "zeroed {zeroed}, kept {kept}");
}

/// A whole run with `swap_moments: Stay` equals one with the moments moved up to its first
/// swap round (step 50), and follows another trajectory after it.
#[test]
fn swap_moments_stay_is_a_different_run_with_the_same_swaps_before_it() {
    let metric = PaperMetric::l1(2.0, 0.1);
    let run = |moments: SwapMoments, steps: usize| {
        let cfg = TrainConfig {
            swap_moments: moments,
            log_every: 10,
            ..config(steps, Variant::Bimt)
        };
        let mut t = trainer(6, cfg, &metric);
        t.run(&mut ()).unwrap().log
    };
    let (follow, stay) = (run(SwapMoments::Follow, 100), run(SwapMoments::Stay, 100));
    let loss = |log: &[bimt_engine::LogEntry], step: usize| {
        log.iter().find(|e| e.step == step).unwrap().train_loss
    };
    // The round at step 50 makes the same swaps in both runs, so their weights still agree.
    assert_eq!(loss(&follow, 50), loss(&stay, 50));
    assert!(follow.iter().find(|e| e.step == 50).unwrap().swaps > 0);
    assert_ne!(loss(&follow, 60), loss(&stay, 60));
}

#[test]
fn same_seed_same_numbers() {
    let metric = PaperMetric::l1(2.0, 0.1);
    let run = || {
        let mut t = trainer(8, config(200, Variant::Bimt), &metric);
        let summary = t.run(&mut ()).unwrap();
        let log: Vec<_> = summary
            .log
            .into_iter()
            .map(|e| {
                (
                    e.step,
                    e.train_loss,
                    e.test_loss,
                    e.connection_cost,
                    e.swaps,
                )
            })
            .collect();
        (
            log,
            t.model.params.to_host(),
            t.model.output_order().to_vec(),
        )
    };
    assert_eq!(run(), run());
}

#[test]
fn bimt_training_lowers_loss_and_cost_and_swaps() {
    let metric = PaperMetric::l1(2.0, 0.1);
    let mut t = trainer(1, config(600, Variant::Bimt), &metric);
    let start_cost = t.connection_cost(0);
    let start = t.evaluate();
    let summary = t.run(&mut ()).unwrap();
    assert!(
        summary.evaluation.test_loss < 0.5 * start.test_loss,
        "{:?} vs {start:?}",
        summary.evaluation
    );
    assert!(
        summary.connection_cost < 0.7 * start_cost,
        "{} vs {start_cost}",
        summary.connection_cost
    );
    assert!(summary.swaps > 0);
    // The timing accounts for every part of the run and no more than its wall time.
    let t = summary.timing;
    assert_eq!(t.rounds, 600 / 50, "one swap round every 50 steps");
    assert_eq!(
        t.rows_per_step, 100,
        "full batch of the 100 training samples"
    );
    assert!(
        t.steps > 0.0 && t.swap_rounds > 0.0 && t.evaluation > 0.0,
        "{t:?}"
    );
    let parts = t.steps + t.swap_rounds + t.evaluation + t.observer + t.checkpoints;
    assert!(
        parts <= summary.wall_seconds,
        "{parts} > {}",
        summary.wall_seconds
    );
}

#[test]
fn exported_file_rebuilds_function_and_cost() {
    let metric = PaperMetric::l1(2.0, 0.1);
    let mut t = trainer(2, config(200, Variant::Bimt), &metric);
    t.run(&mut ()).unwrap();
    let file = export_model(&t.model, &[], &[], t.config.cost_spec(&metric));
    file.check().unwrap();
    let engine_cost = t.connection_cost(199);
    let file_cost = bimt_analysis::connection_cost(&file).unwrap();
    assert!(
        (engine_cost - file_cost).abs() < 1e-4 * engine_cost,
        "{engine_cost} vs {file_cost}"
    );
    let x = random_input(5, 4, 9, &device());
    let engine = values(t.model.predict(x.clone(), false));
    let xs = values(x);
    for r in 0..5 {
        let row: Vec<f64> = xs[r * 4..(r + 1) * 4].iter().map(|&v| v as f64).collect();
        let out = bimt_analysis::predict(&file, &row);
        for (o, v) in out.iter().enumerate() {
            assert!((*v as f32 - engine[r * 2 + o]).abs() < 1e-4);
        }
    }
}

#[test]
fn resuming_from_a_checkpoint_matches_an_uninterrupted_run() {
    let metric = PaperMetric::l1(2.0, 0.1);
    let dir = std::env::temp_dir().join(format!("bimt-ckpt-{}", std::process::id()));
    let path = dir.join("checkpoint.json");
    let mut whole = trainer(6, config(200, Variant::Bimt), &metric);
    whole.run(&mut ()).unwrap();
    let mut first = trainer(6, config(200, Variant::Bimt), &metric);
    first.config.steps = 100;
    first.run(&mut ()).unwrap();
    Checkpoint::capture(&first.model, 100, first.swaps)
        .save(&path)
        .unwrap();
    let mut second = trainer(6, config(200, Variant::Bimt), &metric);
    let ckpt = Checkpoint::restore(&path, &mut second.model).unwrap();
    second.start_step = ckpt.step;
    second.swaps = ckpt.swaps;
    second.run(&mut ()).unwrap();
    assert_eq!(whole.model.params.to_host(), second.model.params.to_host());
    // A corrupt checkpoint is a clear error naming the file, not a panic.
    std::fs::write(&path, b"{\"version\": 1, \"step\": 3").unwrap();
    let err = Checkpoint::restore(&path, &mut second.model)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("checkpoint.json") && err.contains("not a valid checkpoint"),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

/// A run's own checkpoint carries its settings and its log: a trainer resumed from it ends
/// with the whole log of a run that never stopped, and the same parameters.
#[test]
fn a_resumed_trainer_continues_the_whole_log() {
    let metric = PaperMetric::l1(2.0, 0.1);
    let dir = std::env::temp_dir().join(format!("bimt-history-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (path, kept) = (dir.join("checkpoint.json"), dir.join("step-100.json"));
    let cfg = TrainConfig {
        checkpoint_every: Some(100),
        ..config(200, Variant::Bimt)
    };
    /// Keeps a copy of the checkpoint of step 100 (the one of step 200 overwrites it).
    struct KeepAt(std::path::PathBuf, std::path::PathBuf);
    impl<N> bimt_engine::Observer<N> for KeepAt {
        fn on_step(&mut self, step: usize) {
            if step == 100 {
                std::fs::copy(&self.0, &self.1).unwrap();
            }
        }
    }
    let mut whole = trainer(5, cfg.clone(), &metric);
    whole.checkpoint_path = Some(path.clone());
    whole.settings = serde_json::json!({"preset": "test"});
    let full = whole.run(&mut KeepAt(path.clone(), kept.clone())).unwrap();
    let mut resumed = trainer(5, cfg, &metric);
    let ckpt = Checkpoint::restore(&kept, &mut resumed.model).unwrap();
    assert_eq!(ckpt.settings, serde_json::json!({"preset": "test"}));
    assert_eq!(ckpt.log.len(), 2);
    resumed.resume(&ckpt);
    let rest = resumed.run(&mut ()).unwrap();
    let steps = |log: &[bimt_engine::LogEntry]| -> Vec<(usize, f64, f64, usize)> {
        log.iter()
            .map(|e| (e.step, e.train_loss, e.connection_cost, e.swaps))
            .collect()
    };
    assert_eq!(full.log.len(), 4);
    assert_eq!(steps(&full.log), steps(&rest.log));
    assert_eq!(whole.model.params.to_host(), resumed.model.params.to_host());
    std::fs::remove_dir_all(&dir).ok();
}

/// A loss that grows a millionfold stops the run, naming the step and the learning rate; a
/// cost term that dwarfs the loss is blamed on λ and A instead.
#[test]
fn a_blow_up_is_a_divergence_with_its_likely_cause() {
    let metric = PaperMetric::l1(2.0, 0.1);
    let cfg = TrainConfig {
        lr: vec![(0, 1e-3), (40, 1e3)],
        log_every: 20,
        ..config(200, Variant::Bimt)
    };
    let mut t = trainer(1, cfg, &metric);
    let Err(TrainError::Diverged(d)) = t.run(&mut ()) else {
        panic!("no divergence");
    };
    assert!(d.step > 40 && d.lr == 1e3, "{d}");
    assert!(d.likely_cause().contains("--lr"), "{d}");
    let cost_bound = Divergence {
        lambda: 10.0,
        initial_cost: 50.0,
        initial_loss: 0.5,
        lr: 1e-3,
        ..*d
    };
    assert!(
        cost_bound.likely_cause().contains("--lambda"),
        "{cost_bound}"
    );
    assert!(
        !cost_bound.to_string().contains("0.0010000"),
        "{cost_bound}"
    );
}

/// A divergence in the pruned fine-tune names the fine-tune's learning rate, not the
/// schedule's.
#[test]
fn a_divergence_in_the_finetune_blames_the_finetune_lr() {
    let metric = PaperMetric::l1(2.0, 0.1);
    let cfg = TrainConfig {
        log_every: 20,
        finetune: Some(Finetune {
            steps: 100,
            lr: 1e4,
            threshold: 0.03,
        }),
        ..config(100, Variant::Bimt)
    };
    let mut t = trainer(1, cfg, &metric);
    let Err(TrainError::Diverged(d)) = t.run(&mut ()) else {
        panic!("no divergence");
    };
    assert!(d.in_finetune && d.step > 100, "{d}");
    let cause = d.likely_cause();
    assert!(
        cause.contains("--finetune-lr") && !cause.contains("--lr "),
        "{cause}"
    );
}

#[test]
fn distances_follow_a_user_metric() {
    struct Ring;
    impl bimt_manifold::Metric for Ring {
        fn distance(&self, a: &nalgebra::Point3<f64>, b: &nalgebra::Point3<f64>) -> f64 {
            let d = (a.x - b.x).abs();
            d.min(1.0 - d) + (a.z - b.z).abs()
        }
        fn name(&self) -> String {
            "ring".into()
        }
    }
    let model = Model::new(mlp(&[4, 4], 1), 0, &device()).unwrap();
    let layout = model.network.layout();
    let d = Distances::new(layout, &Ring, &CostConfig::default());
    // Neuron 0 (x = 0.125) to neuron 3 (x = 0.875): 0.25 around the ring, + 1 layer.
    assert!((d.weight[0][3] - 1.25).abs() < 1e-6);
    assert!((d.weight[0][1] - 1.25).abs() < 1e-6);
    assert!((d.weight[0][0] - 1.0).abs() < 1e-6);
}

/// The pruned fine-tune zeroes every weight under the threshold, keeps it at zero while the
/// rest trains without the cost, and fits the training data better than the model it starts
/// from. Resuming inside the fine-tune gives the same numbers as not stopping.
#[test]
fn pruned_finetune_keeps_pruned_weights_at_zero_and_lowers_the_loss() {
    let metric = PaperMetric::l1(2.0, 0.1);
    let threshold = 0.05;
    let finetune = Finetune {
        steps: 150,
        lr: 2e-3,
        threshold,
    };
    let mut before = trainer(7, config(300, Variant::Bimt), &metric);
    before.run(&mut ()).unwrap();
    let layout = before.model.network.layout().clone();
    let host = before.model.params.to_host();
    let pruned: Vec<Vec<bool>> = layout
        .params()
        .iter()
        .zip(&host)
        .map(|(spec, w)| {
            let largest = w.iter().fold(0.0f32, |m, v| m.max(v.abs()));
            w.iter()
                .map(|v| !spec.penalised_like_bias && v.abs() < threshold as f32 * largest)
                .collect()
        })
        .collect();
    assert!(pruned.iter().flatten().filter(|&&p| p).count() > 0);

    let cfg = TrainConfig {
        finetune: Some(finetune),
        log_every: 120,
        ..config(300, Variant::Bimt)
    };
    let mut whole = trainer(7, cfg.clone(), &metric);
    // Save a checkpoint at step 360, inside the fine-tune, while running through.
    struct SaveAt(usize, std::path::PathBuf);
    impl<N: Network> bimt_engine::Observer<N> for SaveAt {
        fn on_log(&mut self, model: &Model<N>, entry: &bimt_engine::LogEntry) {
            if entry.step == self.0 {
                Checkpoint::capture(model, entry.step, entry.swaps)
                    .save(&self.1)
                    .unwrap();
            }
        }
    }
    let dir = std::env::temp_dir().join(format!("bimt-ft-{}", std::process::id()));
    let path = dir.join("checkpoint.json");
    let summary = whole.run(&mut SaveAt(360, path.clone())).unwrap();
    let tuned_host = whole.model.params.to_host();
    for ((mask, w), spec) in pruned.iter().zip(&tuned_host).zip(layout.params()) {
        for (&p, &v) in mask.iter().zip(w) {
            if p {
                assert_eq!(v, 0.0, "{} revived a pruned weight", spec.name);
            }
        }
    }
    let start = before.evaluate().train_loss;
    assert!(
        summary.evaluation.train_loss < 0.9 * start,
        "fine-tune {} vs before {start}",
        summary.evaluation.train_loss
    );
    let mut resumed = trainer(7, cfg, &metric);
    let ckpt = Checkpoint::restore(&path, &mut resumed.model).unwrap();
    assert_eq!(ckpt.step, 360);
    resumed.start_step = ckpt.step;
    resumed.swaps = ckpt.swaps;
    resumed.run(&mut ()).unwrap();
    std::fs::remove_dir_all(&dir).ok();
    assert_eq!(tuned_host, resumed.model.params.to_host());
}

/// The pruning frontier (App. A) starts at the trained network, with the engine's test loss,
/// and removes at least one parameter per point until none is left.
#[test]
fn pruning_frontier_starts_at_the_trained_network_and_ends_empty() {
    let metric = PaperMetric::l1(2.0, 0.1);
    let mut t = trainer(2, config(200, Variant::Bimt), &metric);
    let summary = t.run(&mut ()).unwrap();
    let file = export_model(&t.model, &[], &[], t.config.cost_spec(&metric));
    let data = bimt_data::symbolic(bimt_data::Formula::Independence, 100, 100, 2);
    let rows = |f: &dyn Fn(usize) -> Vec<f32>| -> Vec<Vec<f64>> {
        (0..data.test.n)
            .map(|i| f(i).into_iter().map(f64::from).collect())
            .collect()
    };
    let inputs = rows(&|i| data.test.row(i).to_vec());
    let targets = rows(&|i| data.test.target_row(i).unwrap().to_vec());
    let frontier = bimt_analysis::pruning_frontier(&file, &inputs, &targets);
    let (first, last) = (frontier[0], frontier[frontier.len() - 1]);
    assert_eq!(first.0, bimt_analysis::nonzero_parameters(&file));
    let engine = summary.evaluation.test_loss;
    assert!(
        (first.1 - engine).abs() < 1e-4 * engine,
        "{} vs {engine}",
        first.1
    );
    assert_eq!(last.0, 0);
    assert!(frontier.windows(2).all(|w| w[1].0 < w[0].0));
    assert_eq!(
        bimt_analysis::nonzero_parameters(&bimt_analysis::prune(&file, 0.0)),
        first.0
    );
}
