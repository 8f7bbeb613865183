//! The in-context linear regression presets (paper §3.4 and App. F): a LayerNorm-free
//! transformer, its probes of the residual stream, and its pictures.

use crate::runner::{Extras, GraphSize, RunSpec, train_task};
use bimt_analysis::{active_neurons, probe};
use bimt_data::InContext;
use bimt_engine::{Model, Network, Tensor, TensorData};
use bimt_format::{MetricsFile, ModelFile};
use bimt_tasks::InContextTask;
use bimt_transformer::{Transformer, TransformerConfig};
use serde_json::{Value, json};

use crate::report::ACTIVE_THRESHOLD;

/// The data of a preset: `in-context` (x ~ U[1, 3]) or, `singular`, `in-context-singular`
/// (x ~ U[−1, 1]).
pub fn data(singular: bool, seed: u64) -> InContext {
    let x_range = if singular { (-1.0, 1.0) } else { (1.0, 3.0) };
    bimt_data::in_context(10_000, x_range, (-1.0, 1.0), 0.2, seed)
}

/// Trains the transformer and writes the run directory, the probes and the scatter plot.
pub fn run(spec: &RunSpec, singular: bool) -> Result<MetricsFile, String> {
    let seed = spec.settings.seed;
    let data = data(singular, seed);
    let network = Transformer::new(TransformerConfig::in_context()).map_err(|e| e.to_string())?;
    let batch = spec.hyper().batch.unwrap_or(64);
    let task = InContextTask::new(&data, batch, seed ^ 0x5eed, &spec.device());
    let names = vec!["y".to_string(), "x".to_string()];
    train_task(
        spec,
        network,
        task,
        (&names, &names),
        GraphSize::Small,
        |model, task, file| {
            let scatter = task.query_predictions(&|x| model.predict(x, false));
            let picture = bimt_views::render_scatter(
                &scatter,
                "true y",
                "predicted y",
                "in-context: query position",
                400,
            );
            let probes = probe_residuals(model, &data, file);
            Ok(Extras {
                structure: json!({
                    "active_threshold": ACTIVE_THRESHOLD,
                    "active_neurons": bimt_analysis::active_counts(file, ACTIVE_THRESHOLD),
                    "probes": probes,
                }),
                pictures: vec![("prediction.png", picture)],
                graph_note: None,
            })
        },
    )
}

/// Table 1 criterion of in-context regression (paper Fig. 7): a sparse residual layer, at most
/// half of its neurons active, in which a pair of active neurons at the query position
/// predicts w with R² ≥ 0.9.
pub fn w_readable(metrics: &MetricsFile) -> Option<bool> {
    let layers = metrics.structure["probes"].as_array()?;
    Some(layers.iter().any(|layer| {
        let sparse = layer["active"].as_u64().is_some_and(|a| a <= 16);
        let readable = layer["best_pairs"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|pair| pair["r2"].as_f64().is_some_and(|r2| r2 >= 0.9));
        sparse && readable
    }))
}

/// For every residual layer: each active neuron's correlation with `w` at the query position
/// (test split), and the neuron pairs that predict `w` best together (paper Fig. 7 right).
fn probe_residuals(model: &Model<Transformer>, data: &InContext, file: &ModelFile) -> Value {
    let split = &data.data.test;
    let (seq_len, dim) = (data.seq_len, data.token_dim);
    let device = model.params.device().clone();
    let x = Tensor::<2>::from_data(
        TensorData::new(split.inputs.clone(), [split.n * seq_len, dim]),
        &device,
    );
    let residuals = model
        .network
        .forward_residuals(&model.params.detached(), model.to_input_order(x));
    let active = active_neurons(file, ACTIVE_THRESHOLD);
    let target: Vec<f64> = data.test_w.iter().map(|&w| w as f64).collect();
    let layers = model.network.residual_layers();
    let mut out = Vec::new();
    for (r, values) in residuals.into_iter().enumerate() {
        let [_, width] = values.dims();
        let v = values.into_data().convert::<f32>();
        let v = v.as_slice::<f32>().unwrap_or(&[]);
        let query: Vec<Vec<f64>> = (0..split.n)
            .map(|s| {
                let row = (s * seq_len + seq_len - 1) * width;
                v[row..row + width].iter().map(|&a| a as f64).collect()
            })
            .collect();
        let layer = layers[r].index();
        let neurons: Vec<usize> = (0..width).filter(|&n| active[layer][n]).collect();
        let (singles, pairs) = probe(&query, &neurons, &target);
        out.push(json!({
            "layer": model.network.layout().layer(layers[r]).name,
            "active": neurons.len(),
            "correlations": singles,
            "best_pairs": pairs.into_iter().take(5).collect::<Vec<_>>(),
        }));
    }
    Value::Array(out)
}
