//! `bimt bench`: the speed figures the issues ask for, measured on this machine.

use crate::presets::{Profile, defaults};
use crate::run::{metric_of, train_config};
use bimt_engine::{Model, Network, Trainer, Variant, default_device};
use bimt_layout::Distances;
use bimt_mlp::{Mlp, MlpConfig};
use bimt_swap::{SwapConfig, Swapper};
use bimt_tasks::{Batching, Loss, Supervised};
use std::time::Instant;

/// Prints steps per second of the symbolic preset and the time of one swap round.
pub fn bench() -> Result<(), String> {
    let device = default_device().autodiff();
    let hyper = defaults("symbolic-independence", Profile::Paper).expect("preset exists");
    let metric = metric_of(&hyper);
    let data = bimt_data::symbolic(bimt_data::Formula::Independence, 100, 100, 0);
    let mlp = Mlp::new(&MlpConfig::lines(&[4, 20, 20, 2])).map_err(|e| e.to_string())?;
    let task = Supervised::new(&data, Loss::Mse, Batching::Full, &device);
    let config = train_config(&hyper, Variant::Bimt, None);
    let mut trainer = Trainer::new(Model::new(mlp, 0, &device), task, config.clone(), &metric);
    let started = Instant::now();
    let summary = trainer.run(&mut ()).map_err(|e| e.to_string())?;
    let wall = started.elapsed().as_secs_f64();
    println!(
        "symbolic-independence, 4-20-20-2, {} steps, swaps every {}: {wall:.2} s wall, {:.0} steps/s, test MSE {:.2e}",
        config.steps,
        config.swap_every,
        config.steps as f64 / wall,
        summary.evaluation.test_loss
    );
    let layout = trainer.model.network.layout();
    let distances = Distances::new(layout, &metric, &config.cost_at(config.steps));
    let swap = SwapConfig {
        top_k: config.top_k,
        mode: config.swap_mode,
    };
    let host = trainer.model.params.to_host();
    let rounds = 1000;
    let started = Instant::now();
    for _ in 0..rounds {
        let mut h = host.clone();
        Swapper::new(layout, &distances).round(&mut h, &swap);
    }
    let search = started.elapsed().as_secs_f64() / rounds as f64;
    let started = Instant::now();
    for _ in 0..rounds {
        trainer.swap_round(&distances);
    }
    let full = started.elapsed().as_secs_f64() / rounds as f64;
    println!(
        "swap round on 4-20-20-2 (k = {}): search {:.3} ms, with parameter and AdamW-moment moves {:.3} ms",
        config.top_k,
        search * 1e3,
        full * 1e3
    );
    Ok(())
}
