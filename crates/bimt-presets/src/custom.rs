//! `bimt run graph` and `bimt run mlp`: BIMT on a user's own network (an architecture file,
//! or hidden widths) and own data (a CSV file, NumPy arrays, or formulas to sample).

use crate::error::Error;
use crate::numpy_data;
use crate::preset::{Experiment, Preset};
use crate::runner::{GraphSize, RunSpec, plain_structure, train_supervised};
use crate::settings::{GraphTask, Settings};
use bimt_data::{CsvOptions, DataFormat, Dataset, Formulas, Standardisation};
use bimt_format::{MetricsFile, write_json};
use bimt_graph::{Architecture, EdgeSpec, Graph, LayerSpec, Role};
use bimt_tasks::Loss;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The input standardisation of a run, written to `standardisation.json` so that `bimt
/// predict` applies it to new rows.
#[derive(Debug, Serialize, Deserialize)]
pub struct StandardisationFile {
    /// The input columns, in data order.
    pub columns: Vec<String>,
    pub mean: Vec<f64>,
    pub std: Vec<f64>,
}

/// Loads the data, builds the network, trains and writes the run directory.
pub fn run(spec: &RunSpec) -> Result<MetricsFile, Error> {
    let custom = &spec.settings;
    if let (Some(task), Some(path)) = (custom.task, &custom.arch) {
        return run_task(spec, task, path);
    }
    if let Some(path) = &custom.data
        && DataFormat::of(path)? != DataFormat::Csv
    {
        return run_numpy(spec, path);
    }
    let (mut data, loss) = load(custom)?;
    standardise_inputs(spec, &mut data)?;
    let graph = network(custom, || (data.in_dim(), data.out_dim()))?;
    check_widths(&graph, &data, custom)?;
    train_supervised(spec, graph, &data, loss, GraphSize::Small, |model| {
        plain_structure(model, &data)
    })
}

/// `--task`: the architecture file trained on a preset's data, loss, test figure and structure
/// report, once its input and output layers are found to fit that data.
fn run_task(spec: &RunSpec, task: GraphTask, path: &Path) -> Result<MetricsFile, Error> {
    let graph = Graph::from_file(path).map_err(|e| Error::Architecture(e.0))?;
    if let Some(operation) = task.operation() {
        check_task_shapes(&graph, task, operation.size(), path)?;
        return crate::algorithmic::train(spec, operation, graph);
    }
    if let Some(formula) = task.formula() {
        let (inputs, outputs) = crate::symbolic::data_widths(formula);
        check_dense_shapes(
            &graph,
            task,
            (inputs, "numbers"),
            (outputs, "outputs"),
            path,
        )?;
        return crate::symbolic::train(spec, formula, graph);
    }
    match task {
        GraphTask::TwoMoons => {
            check_dense_shapes(&graph, task, (2, "numbers"), (2, "classes"), path)?;
            crate::symbolic::train_two_moons(spec, graph)
        }
        GraphTask::Mnist => {
            let pixels = crate::mnist::SIDE * crate::mnist::SIDE;
            check_dense_shapes(&graph, task, (pixels, "pixels"), (10, "digits"), path)?;
            crate::mnist::train(spec, graph)
        }
        _ => {
            check_sequence_shapes(&graph, task, path)?;
            crate::in_context::train(spec, false, graph)
        }
    }
}

/// `--data X.npy --targets Y.npy` or `--data D.npz`: reads the arrays, checks that they fit
/// the network, and trains on their rows (whole sequences at a time for a sequence model).
fn run_numpy(spec: &RunSpec, path: &Path) -> Result<MetricsFile, Error> {
    let custom = &spec.settings;
    let Some(test_fraction) = custom.test_fraction else {
        return Err(incomplete(custom));
    };
    let arrays = numpy_data::read(custom, path)?;
    let loss = numpy_data::loss(custom, &arrays.y)?;
    let graph = network(custom, || numpy_data::mlp_widths(&arrays))?;
    let fit = numpy_data::fit(graph.architecture(), &network_name(custom), &arrays)?;
    if custom.standardise == Some(true) && arrays.x.is_integer() {
        return Err(Error::Settings(format!(
            "--standardise is for numbers, but {} holds token ids ({})",
            arrays.x.name, arrays.x.dtype
        )));
    }
    let mut data = arrays.dataset(fit.rows_per_sample, fit.outputs, test_fraction, custom.seed)?;
    standardise_inputs(spec, &mut data)?;
    train_supervised(spec, graph, &data, loss, GraphSize::Small, |model| {
        plain_structure(model, &data)
    })
}

/// With `--standardise`, shifts and scales the input columns (by the training split) and
/// writes `standardisation.json`.
fn standardise_inputs(spec: &RunSpec, data: &mut Dataset) -> Result<(), Error> {
    if spec.settings.standardise == Some(true) {
        let Standardisation { mean, std } = bimt_data::standardise(data);
        let file = StandardisationFile {
            columns: data.input_names.clone(),
            mean,
            std,
        };
        write_json(&spec.out.join("standardisation.json"), &file)?;
    }
    Ok(())
}

/// The network of a custom run: the architecture file (`graph`), or an MLP of the hidden
/// widths (`mlp`) between the data's input and output widths, which `widths` gives.
fn network(custom: &Settings, widths: impl FnOnce() -> (usize, usize)) -> Result<Graph, Error> {
    match (&custom.arch, &custom.hidden) {
        (Some(path), _) => Graph::from_file(path).map_err(|e| Error::Architecture(e.0)),
        (None, Some(hidden)) => {
            let (inputs, outputs) = widths();
            Ok(Graph::new(&mlp(inputs, hidden, outputs))?)
        }
        (None, None) => Err(Error::Settings(
            "bimt run graph needs --arch, bimt run mlp --hidden".into(),
        )),
    }
}

/// How errors name the network: the architecture file, or "the MLP".
fn network_name(custom: &Settings) -> String {
    custom
        .arch
        .as_deref()
        .map_or_else(|| "the MLP".to_string(), |p: &Path| p.display().to_string())
}

/// The error of a custom run whose data settings were not resolved.
fn incomplete(custom: &Settings) -> Error {
    Error::Settings(format!(
        "bimt run {}: the data settings are incomplete; resolve them with \
         bimt_presets::resolve",
        custom.preset
    ))
}

/// The dataset and the loss of a custom run.
fn load(custom: &Settings) -> Result<(Dataset, Loss), Error> {
    let (Some(loss), Some(test_fraction), Some(samples), Some(range)) = (
        &custom.loss,
        custom.test_fraction,
        custom.samples,
        custom.range,
    ) else {
        return Err(incomplete(custom));
    };
    let seed = custom.seed;
    let classification = loss == "cross-entropy";
    let loss = if classification {
        Loss::CrossEntropy
    } else {
        Loss::Mse
    };
    if let Some(path) = &custom.data {
        let options = CsvOptions {
            targets: custom.targets.clone().unwrap_or_default(),
            classification,
            test_fraction,
            seed,
        };
        let data = bimt_data::read_csv(path, &options)?;
        return Ok((data, loss));
    }
    let text = custom.formula.as_deref().unwrap_or_default();
    let formulas = Formulas::parse(text)?;
    let test = (samples as f64 * test_fraction).round() as usize;
    if test == 0 || test >= samples {
        return Err(Error::Settings(format!(
            "--samples {samples} with --test-fraction {test_fraction} leaves a split empty"
        )));
    }
    let data = formulas.sample(samples - test, test, range, seed)?;
    Ok((data, loss))
}

/// The architecture of an MLP `inputs`-`hidden`-`outputs`, every layer on a line.
pub fn mlp(inputs: usize, hidden: &[usize], outputs: usize) -> Architecture {
    let layer = |name: String, size: usize, role: Role| LayerSpec {
        name,
        size,
        role,
        activation: None,
        placement: Default::default(),
        depth: None,
        fixed: false,
        attention: None,
        learned_positions: false,
        shape: None,
    };
    let mut layers = vec![layer("input".into(), inputs, Role::Input)];
    for (i, &size) in hidden.iter().enumerate() {
        layers.push(layer(format!("hidden{}", i + 1), size, Role::Hidden));
    }
    layers.push(layer("output".into(), outputs, Role::Output));
    let edges = layers
        .windows(2)
        .map(|pair| EdgeSpec {
            from: pair[0].name.clone(),
            to: pair[1].name.clone(),
            ..Default::default()
        })
        .collect();
    Architecture {
        layers,
        edges,
        groups: Vec::new(),
        sequence: None,
    }
}

/// `--task`'s rows must fit the architecture: one token layer of the task's vocabulary and
/// two positions, and output layers with one neuron per class. The error names the file, the
/// layer and both shapes.
fn check_task_shapes(
    graph: &Graph,
    task: GraphTask,
    tokens: usize,
    path: &Path,
) -> Result<(), Error> {
    let arch = graph.architecture();
    let wrong = |what: String| {
        Error::Architecture(format!(
            "{}: --task {task} gives each row 2 token ids from a vocabulary of {tokens} and \
             {tokens} classes; {what}",
            path.display()
        ))
    };
    match arch.layers.iter().find(|l| l.role.is_input()) {
        Some(l) => match l.role {
            Role::Tokens { vocabulary } if vocabulary != tokens => {
                return Err(wrong(format!(
                    "the token layer '{}' has \"tokens\": {vocabulary}",
                    l.name
                )));
            }
            Role::Tokens { .. } if l.size != 2 => {
                return Err(wrong(format!(
                    "the token layer '{}' has \"positions\": {}",
                    l.name, l.size
                )));
            }
            Role::Tokens { .. } => {}
            _ => {
                return Err(wrong(format!(
                    "the input layer '{}' holds {} numbers, not token ids (expected \
                     \"role\": \"input\", \"tokens\": {tokens}, \"positions\": 2)",
                    l.name, l.size
                )));
            }
        },
        None => return Err(wrong("the architecture has no input layer".into())),
    }
    let (total, outputs) = role_sizes(arch, Role::Output);
    if total != tokens {
        return Err(wrong(format!(
            "the output layers {outputs} give {total} outputs"
        )));
    }
    Ok(())
}

/// The numbers per sample the layers of `role` hold, and the layers as `'name' (size)`.
fn role_sizes(arch: &Architecture, role: Role) -> (usize, String) {
    let layers: Vec<_> = arch.layers.iter().filter(|l| l.role == role).collect();
    (
        layers.iter().map(|l| l.data_width()).sum(),
        layers
            .iter()
            .map(|l| match l.shape {
                Some([h, w]) => format!("'{}' ({} channels of {h}x{w})", l.name, l.size),
                None => format!("'{}' ({})", l.name, l.size),
            })
            .collect::<Vec<_>>()
            .join(", "),
    )
}

/// A dense task's samples must fit the architecture: input layers of `inputs` numbers in all,
/// output layers of `outputs`, no token layer and no sequence. The error names the file, the
/// layers and both shapes.
fn check_dense_shapes(
    graph: &Graph,
    task: GraphTask,
    inputs: (usize, &str),
    outputs: (usize, &str),
    path: &Path,
) -> Result<(), Error> {
    let arch = graph.architecture();
    let wrong = |what: String| {
        Error::Architecture(format!(
            "{}: --task {task} gives each sample {} {} and {} {}; {what}",
            path.display(),
            inputs.0,
            inputs.1,
            outputs.0,
            outputs.1
        ))
    };
    if let Some(t) = arch.sequence {
        return Err(wrong(format!(
            "the architecture has \"sequence\": {t}, which reads sequences"
        )));
    }
    if let Some(t) = arch
        .layers
        .iter()
        .find(|l| matches!(l.role, Role::Tokens { .. }))
    {
        return Err(wrong(format!(
            "the layer '{}' holds token ids, not numbers",
            t.name
        )));
    }
    for (role, what, want) in [
        (Role::Input, "input", inputs.0),
        (Role::Output, "output", outputs.0),
    ] {
        let (total, layers) = role_sizes(arch, role);
        if total != want {
            return Err(wrong(format!("the {what} layers {layers} hold {total}")));
        }
    }
    Ok(())
}

/// `--task in-context`'s sequences must fit the architecture: `"sequence": 3`, inputs of 2
/// numbers per token and 2 outputs. The error names the file and both shapes.
fn check_sequence_shapes(graph: &Graph, task: GraphTask, path: &Path) -> Result<(), Error> {
    let (seq_len, token_dim) = (
        bimt_data::IN_CONTEXT_SEQ_LEN,
        bimt_data::IN_CONTEXT_TOKEN_DIM,
    );
    let arch = graph.architecture();
    let wrong = |what: String| {
        Error::Architecture(format!(
            "{}: --task {task} gives sequences of {seq_len} tokens of {token_dim} numbers each \
             (\"sequence\": {seq_len}, input layers of {token_dim} neurons in all) and \
             {token_dim} outputs per token; {what}",
            path.display()
        ))
    };
    if arch.sequence != Some(seq_len) {
        return Err(wrong(match arch.sequence {
            Some(t) => format!("the architecture has \"sequence\": {t}"),
            None => "the architecture has no \"sequence\"".into(),
        }));
    }
    if let Some(t) = arch
        .layers
        .iter()
        .find(|l| matches!(l.role, Role::Tokens { .. }))
    {
        return Err(wrong(format!(
            "the layer '{}' holds token ids, not numbers",
            t.name
        )));
    }
    for (role, what) in [(Role::Input, "input"), (Role::Output, "output")] {
        let (total, layers) = role_sizes(arch, role);
        if total != token_dim {
            return Err(wrong(format!("the {what} layers {layers} hold {total}")));
        }
    }
    Ok(())
}

/// The input (output) layers must take exactly the data's input columns (targets); a token
/// layer takes token ids, which only `--task` gives.
fn check_widths(graph: &Graph, data: &Dataset, custom: &Settings) -> Result<(), Error> {
    let arch = graph.architecture();
    let source = network_name(custom);
    if let Some(l) = arch
        .layers
        .iter()
        .find(|l| matches!(l.role, Role::Tokens { .. }))
    {
        return Err(Error::Architecture(format!(
            "{source}: the token layer '{}' reads token ids, which --data and --formula do not \
             give; train it with --task modular-addition or --task permutation-s4, or on \
             NumPy token ids (--data X.npy)",
            l.name
        )));
    }
    let data_name = custom
        .data
        .as_deref()
        .map_or_else(|| "the formula".to_string(), |p| p.display().to_string());
    for (role, what, width, names) in [
        (Role::Input, "input", data.in_dim(), &data.input_names),
        (Role::Output, "output", data.out_dim(), &data.output_names),
    ] {
        let (total, layers) = role_sizes(arch, role);
        if total != width {
            return Err(Error::Architecture(format!(
                "{source}: the {what} layers {layers} take {total} columns, but {data_name} has \
                 {width} {what} columns ({})",
                names.join(", ")
            )));
        }
    }
    Ok(())
}

/// The preset `graph`.
pub const GRAPH: Preset = Preset {
    name: "graph",
    description: "your own network (--arch FILE.json) on your data (--data FILE.csv --targets ..., --data X.npy --targets Y.npy, --data D.npz, or --formula)",
    experiment: Experiment::Custom,
    table1: None,
    settings: crate::symbolic::plain_symbolic_settings,
};

/// The preset `mlp`.
pub const MLP: Preset = Preset {
    name: "mlp",
    description: "an MLP with --hidden widths on your data (--data FILE.csv --targets ... or --formula)",
    experiment: Experiment::Custom,
    table1: None,
    settings: crate::symbolic::plain_symbolic_settings,
};
