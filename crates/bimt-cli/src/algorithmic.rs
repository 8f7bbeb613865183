//! The algorithmic presets (paper §3.3, App. D, E): modular addition and composition in S4,
//! learned from two token embeddings by an MLP.

use crate::report::ACTIVE_THRESHOLD;
use crate::run::{RunRequest, train_and_write};
use bimt_analysis::{active_counts, knock_out, modules, pearson, predict};
use bimt_data::{Dataset, Operation, is_even_permutation, permutations_of_four};
use bimt_format::{MetricsFile, ModelFile};
use bimt_mlp::{Mlp, MlpConfig};
use bimt_tasks::Loss;
use serde_json::{Value, json};

/// Width of each token's embedding (the paper's d = 32).
pub const EMBEDDING_WIDTH: usize = 32;

/// Share of all token pairs that train (the paper's 80/20 split).
const TRAIN_FRACTION: f64 = 0.8;

/// The operation behind an algorithmic preset.
pub fn operation(preset: &str) -> Option<Operation> {
    match preset {
        "modular-addition" => Some(Operation::ModularAddition { p: 59 }),
        "permutation-s4" => Some(Operation::PermutationS4),
        _ => None,
    }
}

/// Trains the preset's MLP `2·32 → 50 → 50 → tokens` on all token pairs.
pub fn run(request: &RunRequest, operation: Operation) -> Result<MetricsFile, String> {
    let tokens = operation.size();
    let data = Dataset {
        input_names: (1..=EMBEDDING_WIDTH).map(|i| format!("e{i}")).collect(),
        ..bimt_data::algorithmic(operation, TRAIN_FRACTION, request.seed)
    };
    let config = MlpConfig::token_embedding(tokens, 2, &[EMBEDDING_WIDTH, 50, 50, tokens]);
    let mlp = Mlp::new(&config).map_err(|e| e.to_string())?;
    train_and_write(request, mlp, &data, Loss::CrossEntropy)
}

/// Test accuracy of the network in `model` (a file), rebuilt from its token embedding.
fn test_accuracy(model: &ModelFile, data: &Dataset) -> f64 {
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

/// Active neurons per layer, the modules fed by the embedding (paper: "a tree with three
/// roots") with the test accuracy left when each is knocked out, and for S4 the embedding neuron that best tracks
/// the sign of a permutation.
pub fn structure(preset: &str, model: &ModelFile, data: &Dataset) -> Value {
    let found = modules(model, ACTIVE_THRESHOLD);
    let name = |n: usize| {
        let feature = model.input_features.get(n).copied().unwrap_or(n);
        data.input_names
            .get(feature)
            .cloned()
            .unwrap_or_else(|| feature.to_string())
    };
    // A part fed by no embedding dimension computes a constant from biases: not a module.
    let module_reports: Vec<Value> = found
        .iter()
        .filter(|m| m.count_in(0) > 0)
        .map(|m| {
            let per_layer: Vec<usize> = (0..model.neuron_layers.len() - 1)
                .map(|l| m.count_in(l))
                .collect();
            let embedding: Vec<String> = m
                .neurons
                .iter()
                .filter(|(l, _)| *l == 0)
                .map(|&(_, n)| name(n))
                .collect();
            json!({
                "neurons_per_layer": per_layer,
                "embedding_dimensions": embedding,
                "test_accuracy_without_it": test_accuracy(&knock_out(model, m), data),
            })
        })
        .collect();
    let mut value = json!({
        "active_threshold": ACTIVE_THRESHOLD,
        "active_neurons": active_counts(model, ACTIVE_THRESHOLD),
        "test_accuracy_from_model_json": test_accuracy(model, data),
        "modules": module_reports,
    });
    if preset == "permutation-s4" {
        value["sign_neuron"] = sign_neuron(model, &name);
    }
    value
}

/// The active embedding neurons (rows, in storage order) over all tokens (columns), each row
/// normalised by its largest |value| as in the paper's Fig. 6: blue +1, red −1, white 0.
pub fn embedding_picture(model: &ModelFile) -> image::RgbImage {
    let Some(embedding) = &model.token_embedding else {
        return image::RgbImage::new(1, 1);
    };
    let active = &bimt_analysis::active_neurons(model, ACTIVE_THRESHOLD)[0];
    let rows: Vec<Vec<f32>> = (0..active.len())
        .filter(|&n| active[n])
        .map(|n| embedding.iter().map(|token| token[n]).collect())
        .collect();
    bimt_views::render_image_grid(&rows, embedding.len(), 1, 1, 12)
}

/// Among the active embedding neurons, the one whose value over the 24 permutations
/// correlates best with their sign (+1 even, −1 odd), with that correlation.
fn sign_neuron(model: &ModelFile, name: &dyn Fn(usize) -> String) -> Value {
    let Some(embedding) = &model.token_embedding else {
        return Value::Null;
    };
    let sign: Vec<f64> = permutations_of_four()
        .iter()
        .map(|p| if is_even_permutation(p) { 1.0 } else { -1.0 })
        .collect();
    let active = &bimt_analysis::active_neurons(model, ACTIVE_THRESHOLD)[0];
    let best = (0..active.len())
        .filter(|&n| active[n])
        .map(|n| {
            let column: Vec<f64> = embedding.iter().map(|row| row[n] as f64).collect();
            (n, pearson(&column, &sign))
        })
        .max_by(|a, b| a.1.abs().total_cmp(&b.1.abs()));
    match best {
        Some((n, r)) => json!({ "neuron": n, "dimension": name(n), "correlation": r }),
        None => Value::Null,
    }
}
