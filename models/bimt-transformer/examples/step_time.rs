//! Times one training step of the in-context model (width 32, depth 2, one head, batch 64
//! sequences of 3 tokens): forward + backward, and forward + backward + AdamW.
//!
//! `cargo run --release -p bimt-transformer --example step_time`

use bimt_engine::{Model, Tensor, TensorData, default_device};
use bimt_transformer::{Transformer, TransformerConfig};
use std::time::Instant;

fn main() {
    let device = default_device();
    let mut model = Model::new(Transformer::new(TransformerConfig::in_context()).expect("valid config"), 0, &device);
    let rows = 64 * 3;
    let data = |phase: f32| {
        let values: Vec<f32> = (0..rows * 2).map(|i| ((i as f32) * 0.37 + phase).sin()).collect();
        Tensor::<2>::from_data(TensorData::new(values, [rows, 2]), &device)
    };
    let (x, y) = (data(0.0), data(1.0));
    let loss = |model: &Model<Transformer>| (model.predict(x.clone(), true) - y.clone()).powi_scalar(2).mean();
    let steps = 2000;
    for _ in 0..200 {
        loss(&model).backward();
    }
    let start = Instant::now();
    for _ in 0..steps {
        loss(&model).backward();
    }
    let fwd_bwd = start.elapsed().as_secs_f64() * 1e6 / steps as f64;
    let start = Instant::now();
    for _ in 0..steps {
        let grads = loss(&model).backward();
        model.params.step(1e-3, &grads);
    }
    let full = start.elapsed().as_secs_f64() * 1e6 / steps as f64;
    println!("forward+backward: {fwd_bwd:.1} µs/step; with AdamW: {full:.1} µs/step");
}
