//! `bimt._bimt`: the Python package's extension module. Every function converts Python values
//! to the bimt crates' types and back (settings as JSON, arrays as `.npy` bytes, results as
//! JSON text and little-endian bytes); the training, reading and checking are the crates'.
//! `python/bimt/` holds the Python side.
//!
//! The module keeps the system allocator: mimalloc (the command's) takes static thread-local
//! storage, and PyTorch's libgomp, loaded after it, then fails to load.

use bimt_format::ModelFile;
use bimt_presets::{ArchSource, Error, NpyPair, Overrides, Rows, RunControl, RunSpec};
use pyo3::exceptions::{PyKeyboardInterrupt, PyOSError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// How often the calling thread, while a run trains on another, checks for Ctrl-C and moves
/// the progress bar.
const WATCH_INTERVAL: Duration = Duration::from_millis(50);

/// A bimt error as the Python exception of its kind, with the same one-line message as the
/// command's: `KeyboardInterrupt` for a run stopped by Ctrl-C, `OSError` for a file that
/// cannot be read or written, `ValueError` for the rest (settings, data, architectures).
fn to_python(e: Error) -> PyErr {
    let message = e.to_string();
    if e.is_stopped() {
        PyKeyboardInterrupt::new_err(message)
    } else if e.is_file_access() {
        PyOSError::new_err(message)
    } else {
        PyValueError::new_err(message)
    }
}

/// The keyword settings (JSON, named as in `run.json`) as overrides; an unknown name or a
/// value of the wrong type is a `ValueError` naming the setting and its value.
fn overrides(settings: &str) -> PyResult<Overrides> {
    let invalid = |e: serde_json::Error| PyValueError::new_err(format!("settings: {e}"));
    let map: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(settings).map_err(invalid)?;
    // Each setting alone first, so that an error names the one at fault.
    for (key, value) in &map {
        let one = serde_json::Value::Object([(key.clone(), value.clone())].into_iter().collect());
        if let Err(e) = serde_json::from_value::<Overrides>(one) {
            return Err(PyValueError::new_err(format!("setting {key}={value}: {e}")));
        }
    }
    serde_json::from_value(serde_json::Value::Object(map)).map_err(invalid)
}

/// Runs `work` on a thread of its own while this one, with the GIL released between looks,
/// checks for Ctrl-C (which stops the run after its current step and raises
/// `KeyboardInterrupt`) and hands the run's progress to `progress(step, total, message)`.
fn watched<T: Send>(
    py: Python<'_>,
    threads: Option<usize>,
    progress: &Bound<'_, PyAny>,
    work: impl FnOnce(Arc<RunControl>) -> Result<T, Error> + Send,
) -> PyResult<T> {
    let control = Arc::new(RunControl::default());
    let threads = threads.unwrap_or_else(|| bimt_presets::default_threads(1));
    std::thread::scope(|scope| {
        let worker = {
            let control = Arc::clone(&control);
            scope.spawn(move || bimt_presets::on_threads(threads, || work(control)))
        };
        let mut failure: Option<PyErr> = None;
        let mut shown = None;
        let mut show = |failure: &mut Option<PyErr>| {
            let now = control.progress();
            if now.total > 0 && shown.as_ref() != Some(&now) {
                if let Err(e) = progress.call1((now.step, now.total, now.message.as_str())) {
                    control.stop();
                    failure.get_or_insert(e);
                }
                shown = Some(now);
            }
        };
        while !worker.is_finished() {
            py.detach(|| std::thread::sleep(WATCH_INTERVAL));
            if failure.is_none()
                && let Err(e) = py.check_signals()
            {
                control.stop();
                failure = Some(e);
            }
            show(&mut failure);
        }
        let result = match worker.join() {
            Ok(result) => result.and_then(|r| r),
            Err(_) => return Err(PyRuntimeError::new_err("the run's thread panicked")),
        };
        if let Some(e) = failure {
            // Ctrl-C: the KeyboardInterrupt says where the run stopped.
            return Err(match result {
                Err(stopped)
                    if stopped.is_stopped() && e.is_instance_of::<PyKeyboardInterrupt>(py) =>
                {
                    to_python(stopped)
                }
                _ => e,
            });
        }
        show(&mut failure);
        result.map_err(to_python)
    })
}

/// The preset names and descriptions, as `bimt presets` lists them.
#[pyfunction]
fn presets() -> Vec<(&'static str, &'static str)> {
    bimt_presets::PRESETS
        .iter()
        .map(|p| (p.name, p.description))
        .collect()
}

/// Trains `preset` with `settings` (JSON) as `bimt run` does (resuming from a checkpoint if
/// given); returns the run directory.
#[pyfunction]
#[allow(clippy::too_many_arguments)]
fn run_preset(
    py: Python<'_>,
    preset: &str,
    settings: &str,
    out: Option<PathBuf>,
    config: Option<PathBuf>,
    resume: Option<PathBuf>,
    data_dir: Option<PathBuf>,
    threads: Option<usize>,
    progress: &Bound<'_, PyAny>,
) -> PyResult<PathBuf> {
    let flags = overrides(settings)?;
    let resolved = bimt_presets::resolve(preset, &flags, config.as_deref(), resume.as_deref())
        .map_err(to_python)?;
    let out = out.unwrap_or_else(|| bimt_presets::default_out(&resolved.preset, resolved.variant));
    let command = vec!["bimt.run".into(), preset.into(), settings.into()];
    watched(py, threads, progress, |control| {
        let spec = RunSpec {
            quiet: true,
            resume,
            data_dir,
            command,
            control: Some(control),
            ..RunSpec::new(resolved, &out)
        };
        bimt_presets::run(&spec)
    })?;
    Ok(out)
}

/// Trains an architecture (a file, or its JSON text) on the `.npy` bytes `x` and `y` with
/// `settings` (JSON); returns the run directory.
#[pyfunction]
#[allow(clippy::too_many_arguments)]
fn train_arrays(
    py: Python<'_>,
    arch_path: Option<PathBuf>,
    arch_json: Option<String>,
    x: &[u8],
    y: &[u8],
    settings: &str,
    out: Option<PathBuf>,
    threads: Option<usize>,
    progress: &Bound<'_, PyAny>,
) -> PyResult<PathBuf> {
    let flags = overrides(settings)?;
    let command = vec!["bimt.train".into(), settings.into()];
    let (_, out) = watched(py, threads, progress, |control| {
        let arch = match (&arch_path, &arch_json) {
            (Some(path), _) => ArchSource::File(path),
            (None, Some(text)) => ArchSource::Json(text),
            (None, None) => return Err(Error::Settings("no architecture given".into())),
        };
        let arrays = NpyPair {
            x,
            y,
            names: ["X", "Y"],
        };
        bimt_presets::run_arrays(arch, arrays, &flags, out.as_deref(), |spec| RunSpec {
            quiet: true,
            command,
            control: Some(control),
            ..spec
        })
    })?;
    Ok(out)
}

fn read_model(run: &Path) -> PyResult<ModelFile> {
    ModelFile::read(&run.join("model.json")).map_err(|e| to_python(e.into()))
}

fn read_value(path: &Path, what: &'static str) -> PyResult<String> {
    let value: serde_json::Value =
        bimt_format::read_json(path, what).map_err(|e| to_python(e.into()))?;
    Ok(value.to_string())
}

/// A finished run's `metrics.json`, `run.json` and `model.json`, each checked and as JSON.
#[pyfunction]
fn read_run(run: PathBuf) -> PyResult<(String, String, String)> {
    let metrics: bimt_format::MetricsFile =
        bimt_format::read_json(&run.join("metrics.json"), "metrics file")
            .map_err(|e| to_python(e.into()))?;
    let model = read_model(&run)?;
    Ok((
        serde_json::to_string(&metrics).expect("plain data"),
        read_value(&run.join("run.json"), "run settings file")?,
        serde_json::to_string(&model).expect("plain data"),
    ))
}

/// The outputs for the `.npy` bytes `x`, with the neurons `knock_out` knocked out: the values
/// as little-endian float64 bytes, and their shape.
#[pyfunction]
fn predict<'py>(
    py: Python<'py>,
    run: PathBuf,
    x: &[u8],
    knock_out: Vec<(usize, usize)>,
) -> PyResult<(Bound<'py, PyBytes>, Vec<usize>)> {
    let rows = Rows::Npy {
        bytes: x,
        name: "X",
    };
    let predictions = py
        .detach(|| bimt_presets::predict(&run, rows, &knock_out))
        .map_err(to_python)?;
    let bytes: Vec<u8> = predictions
        .values
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    Ok((PyBytes::new(py, &bytes), predictions.shape))
}

/// The connection cost of the trained network, as `model.json` defines it.
#[pyfunction]
fn cost(run: PathBuf) -> PyResult<Option<f64>> {
    Ok(bimt_analysis::connection_cost(&read_model(&run)?))
}

/// A parameter tensor for Python: name, shape and little-endian float32 bytes.
type Tensor<'py> = (String, Vec<usize>, Bound<'py, PyBytes>);

/// Every parameter tensor: name, shape and little-endian float32 bytes.
#[pyfunction]
fn weights(py: Python<'_>, run: PathBuf) -> PyResult<Vec<Tensor<'_>>> {
    Ok(read_model(&run)?
        .tensors()
        .into_iter()
        .map(|t| {
            let bytes: Vec<u8> = t.values.iter().flat_map(|v| v.to_le_bytes()).collect();
            (t.name, t.shape, PyBytes::new(py, &bytes))
        })
        .collect())
}

/// Writes the parameters to a safetensors file.
#[pyfunction]
fn export_safetensors(run: PathBuf, path: PathBuf) -> PyResult<()> {
    bimt_presets::export_safetensors(&run, &path)
        .map(|_| ())
        .map_err(to_python)
}

/// Writes `view.html` and returns its path.
#[pyfunction]
fn write_view(run: PathBuf) -> PyResult<PathBuf> {
    bimt_viewer::write_view(&run).map_err(|e| match e {
        bimt_viewer::ViewError::File(e) => to_python(e.into()),
        e @ bimt_viewer::ViewError::Read { .. } if !run.is_dir() => {
            PyOSError::new_err(e.to_string())
        }
        e => PyValueError::new_err(e.to_string()),
    })
}

/// The layer graph of `model.json` as `bimt.torch` builds a module from it, resolved by the
/// format's rules: every layer's role, activation, data columns and the fold its input is
/// read with; every connection's name, kind and windows; the order to evaluate layers in.
#[pyfunction]
fn graph(py: Python<'_>, run: PathBuf) -> PyResult<Bound<'_, PyAny>> {
    let model = read_model(&run)?;
    bimt_analysis::check_evaluable(&model)
        .map_err(|e| PyValueError::new_err(format!("{}: {e}", run.display())))?;
    let order = bimt_analysis::topological_order(&model).map_err(PyValueError::new_err)?;
    let roles = model.roles();
    let layers: Vec<_> = model
        .neuron_layers
        .iter()
        .enumerate()
        .map(|(l, layer)| {
            json!({
                "name": layer.name.replace('.', "_"),
                "role": bimt_format::serde_name(&roles[l]),
                "size": layer.size,
                "shape": layer.shape,
                "activation": model.layer_activation(l),
                "features": model.features(l),
                "attention": layer.attention.map(|a| json!({"heads": a.heads, "causal": a.causal})),
                "learned_positions": layer.learned_positions.is_some(),
                "fold": model.fold_out_of(l),
            })
        })
        .collect();
    let connections: Vec<_> = model
        .connections
        .iter()
        .zip(model.connection_names())
        .map(|(c, name)| {
            json!({
                "name": name,
                "from": c.from,
                "to": c.to,
                "kind": bimt_format::serde_name(&c.kind),
                "window": c.window,
                "tied": c.tied,
            })
        })
        .collect();
    // As `bimt_analysis::predict_sequence` lays outputs out.
    let outputs = model
        .layers_with(bimt_format::LayerRole::Output)
        .iter()
        .flat_map(|&l| model.features(l))
        .map(|f| f + 1)
        .fold(model.output_features.len().max(1), usize::max);
    let graph = json!({
        "order": order,
        "layers": layers,
        "connections": connections,
        "sequence": model.sequence,
        "outputs": outputs,
    });
    py.import("json")?
        .call_method1("loads", (graph.to_string(),))
}

/// The module: see `python/bimt/__init__.py`.
#[pymodule]
fn _bimt(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_function(wrap_pyfunction!(presets, m)?)?;
    m.add_function(wrap_pyfunction!(run_preset, m)?)?;
    m.add_function(wrap_pyfunction!(train_arrays, m)?)?;
    m.add_function(wrap_pyfunction!(read_run, m)?)?;
    m.add_function(wrap_pyfunction!(predict, m)?)?;
    m.add_function(wrap_pyfunction!(cost, m)?)?;
    m.add_function(wrap_pyfunction!(weights, m)?)?;
    m.add_function(wrap_pyfunction!(export_safetensors, m)?)?;
    m.add_function(wrap_pyfunction!(write_view, m)?)?;
    m.add_function(wrap_pyfunction!(graph, m)?)?;
    Ok(())
}
