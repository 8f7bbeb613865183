//! The structure each preset should show, in numbers (written into `metrics.json`).

use bimt_analysis::{active_counts, predict, reachability};
use bimt_data::Dataset;
use bimt_format::{MetricsFile, ModelFile};
use serde_json::{Value, json};

/// A neuron is active where a weight of at least this fraction of its matrix's largest touches it.
pub const ACTIVE_THRESHOLD: f64 = 0.03;

/// Active neurons per layer and which inputs reach which outputs.
pub fn structure(model: &ModelFile, data: &Dataset) -> Value {
    let reach = reachability(model, ACTIVE_THRESHOLD);
    let name = |names: &[String], i: usize| names.get(i).cloned().unwrap_or_else(|| i.to_string());
    let reaches: serde_json::Map<String, Value> = reach
        .iter()
        .enumerate()
        .map(|(o, inputs)| {
            let inputs: Vec<String> = inputs.iter().map(|&i| name(&data.input_names, i)).collect();
            (name(&data.output_names, o), json!(inputs))
        })
        .collect();
    json!({
        "active_threshold": ACTIVE_THRESHOLD,
        "active_neurons": active_counts(model, ACTIVE_THRESHOLD),
        "inputs_reaching_each_output": reaches,
    })
}

/// The active neuron counts of `metrics.json`'s structure, per layer.
pub fn active_per_layer(metrics: &MetricsFile) -> Option<Vec<u64>> {
    metrics.structure["active_neurons"]
        .as_array()?
        .iter()
        .map(|layer| layer["active"].as_u64())
        .collect()
}

/// Test accuracy of the classifier in `model` (a file), rebuilt with
/// [`bimt_analysis::predict`]: the share of test samples whose largest output is their label.
pub fn test_accuracy(model: &ModelFile, data: &Dataset) -> f64 {
    let split = &data.test;
    let correct = (0..split.n)
        .filter(|&i| {
            let x: Vec<f64> = split.row(i).iter().map(|&v| v as f64).collect();
            let out = predict(model, &x);
            let best = (0..out.len()).max_by(|&a, &b| out[a].total_cmp(&out[b]));
            best.map(|b| b as u32) == split.label(i)
        })
        .count();
    correct as f64 / split.n.max(1) as f64
}
