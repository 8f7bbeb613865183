//! The structure each preset should show, in numbers (written into `metrics.json`).

use bimt_analysis::{Module, active_counts, knock_out, modules, predict, reachability};
use bimt_data::Dataset;
use bimt_format::{MetricsFile, ModelFile};
use serde_json::{Value, json};

pub use bimt_analysis::ACTIVE_THRESHOLD;

/// Active neurons per layer, which inputs reach which outputs, and the modules with the test
/// figure without each (see [`module_knockouts`]).
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
        "modules": module_knockouts(model, data),
    })
}

/// The test figure on the first [`bimt_viewer::SAMPLE_ROWS`] test rows, the rows `sample.json`
/// gives the viewer: `("test_accuracy", share of rows whose last largest output is their
/// label)` for classes, else `("test_mse", mean over rows of the mean squared error over
/// outputs)`, summed in the order the viewer sums them.
pub fn sample_figure(model: &ModelFile, data: &Dataset) -> (&'static str, f64) {
    let split = &data.test;
    let rows = split.n.min(bimt_viewer::SAMPLE_ROWS);
    let classes = split.label(0).is_some();
    let mut total = 0.0;
    for i in 0..rows {
        let x: Vec<f64> = split.row(i).iter().map(|&v| v as f64).collect();
        let out = predict(model, &x);
        match (split.label(i), split.target_row(i)) {
            (Some(label), _) => {
                let best = (0..out.len()).max_by(|&a, &b| out[a].total_cmp(&out[b]));
                total += f64::from(best.map(|b| b as u32) == Some(label));
            }
            (None, Some(target)) => {
                let s: f64 = out
                    .iter()
                    .zip(target)
                    .map(|(v, t)| (v - *t as f64).powi(2))
                    .sum();
                total += s / out.len().max(1) as f64;
            }
            (None, None) => {}
        }
    }
    let value = total / rows.max(1) as f64;
    (if classes { "test_accuracy" } else { "test_mse" }, value)
}

/// One module's report: its neurons (`[layer, neuron]`, as `bimt view` lists them), how many
/// sit in each layer, and the test figure without it on the viewer's sample rows.
pub fn module_report(model: &ModelFile, data: &Dataset, module: &Module) -> Value {
    let per_layer: Vec<usize> = (0..model.neuron_layers.len())
        .map(|l| module.count_in(l))
        .collect();
    let (name, value) = sample_figure(&knock_out(model, module), data);
    json!({
        "neurons": module.neurons,
        "neurons_per_layer": per_layer,
        "sample_rows": data.test.n.min(bimt_viewer::SAMPLE_ROWS),
        format!("{name}_without_it"): value,
    })
}

/// Every module ([`bimt_analysis::modules`] at [`ACTIVE_THRESHOLD`]) with [`module_report`].
pub fn module_knockouts(model: &ModelFile, data: &Dataset) -> Vec<Value> {
    modules(model, ACTIVE_THRESHOLD)
        .iter()
        .map(|m| module_report(model, data, m))
        .collect()
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
