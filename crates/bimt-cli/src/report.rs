//! The structure each preset should show, in numbers (written into `metrics.json`).

use bimt_analysis::{active_counts, active_neurons, forward_chain, pearson, predict, reachability};
use bimt_data::Dataset;
use bimt_format::ModelFile;
use serde_json::{Value, json};

/// A neuron is active where a weight of at least this fraction of its matrix's largest touches it.
pub const ACTIVE_THRESHOLD: f64 = 0.03;

/// Active neurons per layer, which inputs reach which outputs, and the preset's own check.
///
/// For `mnist` the per-pixel reach lists are replaced by counts, and the receptive field, the
/// weight signs per layer, the top first-layer features and the output ring are added (see
/// [`crate::mnist::structure`]).
pub fn structure(preset: &str, model: &ModelFile, data: &Dataset) -> Value {
    if preset == "mnist" {
        return crate::mnist::structure(model, data);
    }
    if crate::algorithmic::operation(preset).is_some() {
        return crate::algorithmic::structure(preset, model, data);
    }
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
    let mut value = json!({
        "active_threshold": ACTIVE_THRESHOLD,
        "active_neurons": active_counts(model, ACTIVE_THRESHOLD),
        "inputs_reaching_each_output": reaches,
    });
    let probe = match preset {
        "symbolic-feature-sharing" => Some(probe_layer(model, data, 2, &|x: &[f32]| {
            vec![
                ("x1^2", (x[0] * x[0]) as f64),
                ("x2^2", (x[1] * x[1]) as f64),
                ("x3^2", (x[2] * x[2]) as f64),
            ]
        })),
        "symbolic-compositionality" => Some(probe_layer(model, data, 3, &|x: &[f32]| {
            vec![("I=(x1-x2)^2+(x3-x4)^2", bimt_data::intermediate_i(x) as f64)]
        })),
        _ => None,
    };
    if let Some(probe) = probe {
        value["probe"] = probe;
    }
    value
}

type Features<'a> = &'a dyn Fn(&[f32]) -> Vec<(&'static str, f64)>;

/// One test sample: the probed layer's values and the candidate features.
type ProbeRow = (Vec<f64>, Vec<(&'static str, f64)>);

/// For each active neuron of `layer`, the feature its activation correlates with best (over
/// the test inputs), with the Pearson correlation.
fn probe_layer(model: &ModelFile, data: &Dataset, layer: usize, features: Features) -> Value {
    let active = active_neurons(model, ACTIVE_THRESHOLD);
    let Some(active) = active.get(layer) else {
        return Value::Null;
    };
    let split = &data.test;
    let rows: Vec<ProbeRow> = (0..split.n)
        .map(|i| {
            let x = split.row(i);
            let xs: Vec<f64> = x.iter().map(|&v| v as f64).collect();
            (forward_chain(model, &xs)[layer].clone(), features(x))
        })
        .collect();
    let mut neurons = Vec::new();
    for (n, _) in active.iter().enumerate().filter(|(_, a)| **a) {
        let acts: Vec<f64> = rows.iter().map(|r| r.0[n]).collect();
        let best = (0..rows.first().map_or(0, |r| r.1.len()))
            .map(|f| {
                let vals: Vec<f64> = rows.iter().map(|r| r.1[f].1).collect();
                (rows[0].1[f].0, pearson(&acts, &vals))
            })
            .max_by(|a, b| a.1.abs().total_cmp(&b.1.abs()));
        if let Some((feature, r)) = best {
            neurons.push(json!({ "neuron": n, "best_feature": feature, "correlation": r }));
        }
    }
    json!({ "layer": model.neuron_layers.get(layer).map(|l| l.name.clone()), "neurons": neurons })
}

/// The two-moons decision boundary of the exported network, with the test points.
pub fn decision_boundary(model: &ModelFile, data: &Dataset) -> image::RgbImage {
    let prob = |x1: f64, x2: f64| {
        let out = predict(model, &[x1, x2]);
        let (a, b) = (
            out.first().copied().unwrap_or(0.0),
            out.get(1).copied().unwrap_or(0.0),
        );
        1.0 / (1.0 + (a - b).exp())
    };
    let points: Vec<(f64, f64, u32)> = (0..data.test.n)
        .map(|i| {
            let x = data.test.row(i);
            (x[0] as f64, x[1] as f64, data.test.label(i).unwrap_or(0))
        })
        .collect();
    bimt_views::render_decision_boundary(&prob, &points, (-1.5, 2.5, -1.0, 1.5), 400)
}
