//! Times one training step of the paper's in-context model (width 32, depth 2, one head,
//! batch 64 sequences of 3 tokens): forward + backward, and forward + backward + AdamW.
//!
//! `cargo run --release -p bimt-transformer --example step_time`
//!
//! Prints the best and the median of 15 rounds of 200 steps (the best is the figure least
//! disturbed by other work on the machine).

use bimt_engine::{Model, Tensor, TensorData, default_device};
use bimt_transformer::{Transformer, TransformerConfig};
use std::time::Instant;

/// Microseconds per call of `step`: (best, median) over rounds.
fn time(step: &mut dyn FnMut()) -> (f64, f64) {
    for _ in 0..200 {
        step();
    }
    let mut rounds: Vec<f64> = (0..15)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..200 {
                step();
            }
            start.elapsed().as_secs_f64() * 1e6 / 200.0
        })
        .collect();
    rounds.sort_by(f64::total_cmp);
    (rounds[0], rounds[rounds.len() / 2])
}

fn main() {
    let device = default_device();
    let network = Transformer::new(TransformerConfig::in_context()).expect("valid config");
    let mut model = Model::new(network, 0, &device).expect("the transformer's coupling holds");
    let rows = 64 * 3;
    let data = |phase: f32| {
        let values: Vec<f32> = (0..rows * 2)
            .map(|i| ((i as f32) * 0.37 + phase).sin())
            .collect();
        Tensor::<2>::from_data(TensorData::new(values, [rows, 2]), &device)
    };
    let (x, y) = (data(0.0), data(1.0));
    let loss = |model: &Model<Transformer>| {
        (model.predict(x.clone(), true) - y.clone())
            .powi_scalar(2)
            .mean()
    };
    let (best, median) = time(&mut || {
        loss(&model).backward();
    });
    println!("forward+backward:         best {best:7.1} µs/step, median {median:7.1}");
    let (best, median) = time(&mut || {
        let grads = loss(&model).backward();
        model.params.step(1e-3, &grads, None);
    });
    println!("forward+backward+AdamW:   best {best:7.1} µs/step, median {median:7.1}");
}
