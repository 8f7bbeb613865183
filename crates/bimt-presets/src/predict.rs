//! A trained network's predictions for new rows, rebuilt from a run's `model.json` alone (and
//! `standardisation.json` where the run standardised its inputs): `bimt predict` and the
//! Python package's `Run.predict`.

use crate::custom::StandardisationFile;
use crate::error::Error;
use bimt_analysis::Module;
use bimt_data::{DataFormat, NumpyArray, NumpyValues};
use bimt_format::{ModelFile, read_json};
use std::path::Path;

/// The rows to predict.
pub enum Rows<'a> {
    /// A CSV with a header holding the model's input columns (others ignored; a token model:
    /// one column of ids per token position), or NumPy inputs: a `.npy` file or the array `x`
    /// of a `.npz`, shaped as training takes them.
    File(&'a Path),
    /// The bytes of a `.npy` file held in memory, named `name` in errors.
    Npy {
        /// The file's bytes.
        bytes: &'a [u8],
        /// What errors call the array.
        name: &'a str,
    },
}

/// The outputs of every row (a sequence model: of every position).
#[derive(Clone, Debug, PartialEq)]
pub struct Predictions {
    /// One name per output (`y1`, ... where the model names none).
    pub names: Vec<String>,
    /// The outputs, row after row.
    pub values: Vec<f64>,
    /// `[rows, outputs]`; NumPy inputs of a sequence model: `[samples, T, outputs]`.
    pub shape: Vec<usize>,
}

/// Predicts `rows` with the network of the run directory `run`, with every weight leaving
/// the neurons `knock_out` (`(layer, neuron)`, as `metrics.json`'s modules list them) zeroed
/// first.
///
/// # Errors
///
/// The run's files that cannot be read ([`Error::File`]), data that cannot be read
/// ([`Error::Data`]), and rows or knock-outs that do not fit the model ([`Error::Input`]),
/// each naming the file or array, what it holds and what the model reads.
pub fn predict(run: &Path, rows: Rows, knock_out: &[(usize, usize)]) -> Result<Predictions, Error> {
    let model_path = run.join("model.json");
    let mut model = ModelFile::read(&model_path)?;
    bimt_analysis::check_evaluable(&model)
        .map_err(|e| Error::Input(format!("{}: {e}", model_path.display())))?;
    if !knock_out.is_empty() {
        model = bimt_analysis::knock_out(&model, &module_of(&model, knock_out)?);
    }
    let (name, numpy) = match &rows {
        Rows::File(path) => (
            path.display().to_string(),
            match DataFormat::of(path) {
                Ok(DataFormat::Npy | DataFormat::Npz) => Some(bimt_data::read_numpy_inputs(path)?),
                _ => None,
            },
        ),
        Rows::Npy { bytes, name } => (
            name.to_string(),
            Some(bimt_data::read_npy_inputs_bytes(bytes, name)?),
        ),
    };
    let samples = numpy.as_ref().map(|x| x.shape[0]);
    let (mut values, count, width) = match (numpy, &rows) {
        (Some(x), _) => numpy_rows(x, &model)?,
        (None, Rows::File(path)) if model.token_embedding.is_some() => {
            read_token_ids(path, &model)?
        }
        (None, Rows::File(path)) => read_columns(run, path, &model)?,
        (None, Rows::Npy { .. }) => unreachable!("in-memory rows are NumPy arrays"),
    };
    match &model.token_embedding {
        Some(table) => check_ids(&values, width, table.len(), &name)?,
        None => standardise(&run.join("standardisation.json"), &model, &mut values)?,
    }
    let length = model.sequence.unwrap_or(1);
    if !count.is_multiple_of(length) {
        return Err(Error::Input(format!(
            "{name}: {count} data rows; the model reads sequences of {length} rows (one per \
             position), so expected a multiple of {length}"
        )));
    }
    let outputs = model.output_features.len();
    let names = (0..outputs)
        .map(|o| {
            model
                .output_names
                .get(o)
                .cloned()
                .unwrap_or_else(|| format!("y{}", o + 1))
        })
        .collect();
    let rows: Vec<Vec<f64>> = values
        .chunks(width.max(1))
        .take(count)
        .map(|row| row.iter().map(|&v| v as f64).collect())
        .collect();
    let mut out = Vec::with_capacity(count * outputs);
    for sequence in rows.chunks(length) {
        let xs: Vec<&[f64]> = sequence.iter().map(Vec::as_slice).collect();
        for y in bimt_analysis::predict_sequence(&model, &xs) {
            out.extend(y);
        }
    }
    let shape = match (samples, model.sequence) {
        (Some(n), Some(t)) => vec![n, t, outputs],
        _ => vec![count, outputs],
    };
    Ok(Predictions {
        names,
        values: out,
        shape,
    })
}

/// The neurons `(layer, neuron)` as a module, each checked against the model's layers.
fn module_of(model: &ModelFile, neurons: &[(usize, usize)]) -> Result<Module, Error> {
    let layers = &model.neuron_layers;
    for &(l, n) in neurons {
        let Some(layer) = layers.get(l) else {
            return Err(Error::Input(format!(
                "knock-out ({l}, {n}): no layer {l}; the model has {} layers (0..{})",
                layers.len(),
                layers.len()
            )));
        };
        if n >= layer.size {
            return Err(Error::Input(format!(
                "knock-out ({l}, {n}): layer {l} ('{}') has {} neurons (0..{})",
                layer.name, layer.size, layer.size
            )));
        }
    }
    let mut neurons = neurons.to_vec();
    neurons.sort_unstable();
    neurons.dedup();
    Ok(Module { neurons })
}

/// Every token id below the vocabulary and a whole number.
fn check_ids(values: &[f32], width: usize, vocabulary: usize, name: &str) -> Result<(), Error> {
    match values
        .iter()
        .enumerate()
        .find(|(_, id)| id.fract() != 0.0 || **id < 0.0 || **id as usize >= vocabulary)
    {
        Some((i, id)) => Err(Error::Input(format!(
            "{name}, data row {}, column {}: token id {id}; expected an integer in 0..{vocabulary}",
            i / width + 1,
            i % width + 1,
        ))),
        None => Ok(()),
    }
}

/// The model's input columns of `data`: `(values, rows, width)`.
fn read_columns(
    run: &Path,
    data: &Path,
    model: &ModelFile,
) -> Result<(Vec<f32>, usize, usize), Error> {
    if model.input_names.len() != model.input_width() {
        return Err(Error::Input(format!(
            "{}: model.json names {} inputs for {} input columns",
            run.display(),
            model.input_names.len(),
            model.input_width()
        )));
    }
    let (values, rows) = bimt_data::read_csv_columns(data, &model.input_names)?;
    Ok((values, rows, model.input_names.len()))
}

/// Standardises input rows as the run did, where it did (`scaling` exists).
fn standardise(scaling: &Path, model: &ModelFile, values: &mut [f32]) -> Result<(), Error> {
    if !scaling.exists() {
        return Ok(());
    }
    let file: StandardisationFile = read_json(scaling, "standardisation file")?;
    if file.columns.len() != model.input_width()
        || (!model.input_names.is_empty() && file.columns != model.input_names)
    {
        return Err(Error::Input(format!(
            "{}: its columns differ from model.json's inputs",
            scaling.display()
        )));
    }
    bimt_data::Standardisation {
        mean: file.mean,
        std: file.std,
    }
    .apply(values);
    Ok(())
}

/// NumPy inputs as rows: floats `[n, inputs]` (a sequence model: `[n, T, inputs]`, T rows per
/// sample), images `[n, C, H, W]`, or a token model's integer ids `[n, ids per row]` (a
/// sequence model: `[n, T]`). Every mismatch names the array, its dtype and shape, and the
/// shape expected.
fn numpy_rows(x: NumpyArray, model: &ModelFile) -> Result<(Vec<f32>, usize, usize), Error> {
    let tokens = model.token_embedding.is_some();
    let (n, sequence) = (x.shape[0], model.sequence);
    let (expected, width) = match (tokens, sequence) {
        (true, Some(t)) => (format!("integer token ids [n, {t}] (one per position)"), 1),
        (true, None) => {
            let k = model.token_positions();
            (format!("integer token ids [n, {k}]"), k)
        }
        (false, Some(t)) => {
            let f = model.input_width();
            (format!("float32/float64 [n, {t}, {f}]"), f)
        }
        (false, None) => match image_input(model) {
            Some([c, h, w]) => (
                format!("float32/float64 [n, {c}, {h}, {w}] or [n, {}]", c * h * w),
                c * h * w,
            ),
            None => {
                let f = model.input_width();
                (format!("float32/float64 [n, {f}]"), f)
            }
        },
    };
    let fits = match (tokens, sequence, &x.shape[..]) {
        (true, Some(t), &[_, k]) => k == t,
        (true, None, &[_, k]) => k == width,
        (false, Some(t), &[_, s, f]) => s == t && f == width,
        (false, None, &[_, f]) => f == width,
        (false, None, &[_, c, h, w]) => image_input(model) == Some([c, h, w]),
        _ => false,
    } && x.is_integer() == tokens;
    if !fits {
        return Err(Error::Input(format!(
            "{} holds {} of shape {:?}; the model reads {expected}",
            x.name, x.dtype, x.shape
        )));
    }
    let rows = n * sequence.unwrap_or(1);
    let values = match x.values {
        NumpyValues::Floats(v) => v,
        NumpyValues::Integers(v) => v.into_iter().map(|id| id as f32).collect(),
    };
    Ok((values, rows, width))
}

/// `[C, H, W]` of a model whose one input layer holds feature maps (images).
fn image_input(model: &ModelFile) -> Option<[usize; 3]> {
    match model.layers_with(bimt_format::LayerRole::Input)[..] {
        [l] => {
            let layer = &model.neuron_layers[l];
            layer.shape.map(|[h, w]| [layer.size, h, w])
        }
        _ => None,
    }
}

/// A token model's ids: every column of `data` (a header row, then `token_positions` ids per
/// row): `(ids, rows, width)`.
fn read_token_ids(data: &Path, model: &ModelFile) -> Result<(Vec<f32>, usize, usize), Error> {
    let text = std::fs::read_to_string(data).map_err(|source| bimt_data::DataError::Io {
        path: data.to_path_buf(),
        source,
    })?;
    let header: Vec<String> = text
        .lines()
        .next()
        .unwrap_or_default()
        .split(',')
        .map(|name| name.trim().to_string())
        .filter(|name| !name.is_empty())
        .collect();
    let positions = model.token_positions();
    if header.len() != positions {
        return Err(Error::Input(format!(
            "{}: {} columns ({}); the model reads {positions} token id(s) per row, one column \
             each",
            data.display(),
            header.len(),
            header.join(", ")
        )));
    }
    let (values, rows) = bimt_data::read_csv_columns(data, &header)?;
    Ok((values, rows, positions))
}
