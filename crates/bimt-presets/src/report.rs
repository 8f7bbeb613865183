//! The structure each preset should show, in numbers (written into `metrics.json`).

use bimt_analysis::{
    active_counts, active_neurons, forward_layers, pearson, predict, reachability,
};
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
            (forward_layers(model, &xs)[layer].clone(), features(x))
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

/// Most panels in `weight_knockouts.png` (a dense network has hundreds of visible weights).
const MAX_PANELS: usize = 36;

/// Paper App. C, Fig. 12: every visible weight of a two-moons network removed in turn. Returns
/// the `structure.weight_knockouts` entry (each weight with the test accuracy left without
/// it) and the decision boundaries without the weights whose removal costs most (at most
/// [`MAX_PANELS`]), titled by the weight's number.
pub fn weight_knockouts(model: &ModelFile, data: &Dataset) -> (Value, image::RgbImage) {
    let accuracy = |m: &ModelFile| test_accuracy(m, data);
    let full = accuracy(model);
    let neuron = |layer: usize, n: usize| {
        let (features, names) = match layer {
            0 => (&model.input_features, &data.input_names),
            l if l + 1 == model.neuron_layers.len() => (&model.output_features, &data.output_names),
            _ => return format!("{}[{n}]", model.neuron_layers[layer].name),
        };
        let f = features.get(n).copied().unwrap_or(n);
        names.get(f).cloned().unwrap_or_else(|| f.to_string())
    };
    let mut entries = Vec::new();
    let mut removed = Vec::new();
    for (c, conn) in model.connections.iter().enumerate() {
        let max = conn
            .weight
            .iter()
            .flatten()
            .fold(0.0f32, |m, w| m.max(w.abs()));
        for (o, row) in conn.weight.iter().enumerate() {
            for (i, &w) in row.iter().enumerate() {
                if max == 0.0 || (w.abs() as f64) < ACTIVE_THRESHOLD * max as f64 {
                    continue;
                }
                let mut without = model.clone();
                without.connections[c].weight[o][i] = 0.0;
                let left = accuracy(&without);
                entries.push(json!({
                    "number": entries.len() + 1,
                    "from": neuron(conn.from, i),
                    "to": neuron(conn.to, o),
                    "weight": w,
                    "test_accuracy_without_it": left,
                }));
                removed.push((left, without));
            }
        }
    }
    // The picture shows the weights whose removal costs most, at most MAX_PANELS of them.
    let mut order: Vec<usize> = (0..removed.len()).collect();
    order.sort_by(|&a, &b| removed[a].0.total_cmp(&removed[b].0));
    order.truncate(MAX_PANELS);
    order.sort_unstable();
    let panels: Vec<(String, image::RgbImage)> = order
        .into_iter()
        .map(|k| {
            let (left, without) = &removed[k];
            let title = format!("#{}: {:.1}%", k + 1, 100.0 * left);
            (title, boundary_picture(without, data, 160))
        })
        .collect();
    let needed = entries
        .iter()
        .filter(|e| e["test_accuracy_without_it"].as_f64() < Some(full))
        .count();
    let value = json!({
        "test_accuracy": full,
        "weights": entries,
        "weights_needed": needed,
    });
    (value, bimt_views::render_panels(&panels, 6))
}

/// The two-moons decision boundary of the exported network, with the test points.
pub fn decision_boundary(model: &ModelFile, data: &Dataset) -> image::RgbImage {
    boundary_picture(model, data, 400)
}

/// The decision boundary on a `size × size` picture.
fn boundary_picture(model: &ModelFile, data: &Dataset, size: u32) -> image::RgbImage {
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
    bimt_views::render_decision_boundary(&prob, &points, (-1.5, 2.5, -1.0, 1.5), size)
}
