//! `bimt predict RUN_DIR --data X.csv` (or `X.npy`, `D.npz`): a trained network's
//! predictions for new rows, rebuilt from `model.json` alone (and `standardisation.json`
//! where the run standardised its inputs).

use bimt_data::{DataFormat, NumpyArray, NumpyValues};
use bimt_format::{ModelFile, read_json, write_atomic};
use bimt_presets::StandardisationFile;
use std::fmt::Write as _;
use std::path::Path;

/// Reads `data` (a CSV with a header holding the model's input columns, others ignored; for a
/// token model, one column of ids per token position; or NumPy inputs, a `.npy` file or the
/// array `x` of a `.npz`, shaped as training takes them), predicts every row (a sequence
/// model: every position of each run of `sequence` rows), and writes a CSV with one column
/// per output to `out`, or to standard output.
pub fn predict(run: &Path, data: &Path, out: Option<&Path>) -> Result<(), String> {
    let scaling = run.join("standardisation.json");
    if let Some(out) = out {
        let model = run.join("model.json");
        let read = [
            (data, "the data file"),
            (model.as_path(), "the run's model.json"),
            (scaling.as_path(), "the run's standardisation.json"),
        ];
        refuse_overwriting(out, &read)?;
    }
    let model = ModelFile::read(&run.join("model.json")).map_err(|e| e.to_string())?;
    bimt_analysis::check_evaluable(&model)
        .map_err(|e| format!("{}: {e}", run.join("model.json").display()))?;
    let numpy = matches!(DataFormat::of(data), Ok(DataFormat::Npy | DataFormat::Npz));
    let (mut values, rows, width) = match (&model.token_embedding, numpy) {
        (_, true) => read_numpy(data, &model)?,
        (Some(_), false) => read_token_ids(data, &model)?,
        (None, false) => read_columns(run, data, &model)?,
    };
    match &model.token_embedding {
        Some(table) => {
            if let Some((i, id)) = values
                .iter()
                .enumerate()
                .find(|(_, id)| id.fract() != 0.0 || **id < 0.0 || **id as usize >= table.len())
            {
                return Err(format!(
                    "{}, data row {}, column {}: token id {id}; expected an integer in 0..{}",
                    data.display(),
                    i / width + 1,
                    i % width + 1,
                    table.len()
                ));
            }
        }
        None => standardise(&scaling, &model, &mut values)?,
    }
    let length = model.sequence.unwrap_or(1);
    if rows % length != 0 {
        return Err(format!(
            "{}: {rows} data rows; the model reads sequences of {length} rows (one per \
             position), so expected a multiple of {length}",
            data.display()
        ));
    }
    let names: Vec<String> = (0..model.output_features.len())
        .map(|o| {
            model
                .output_names
                .get(o)
                .cloned()
                .unwrap_or_else(|| format!("y{}", o + 1))
        })
        .collect();
    let mut text = names.join(",") + "\n";
    let rows: Vec<Vec<f64>> = values
        .chunks(width.max(1))
        .take(rows)
        .map(|row| row.iter().map(|&v| v as f64).collect())
        .collect();
    for sequence in rows.chunks(length) {
        let xs: Vec<&[f64]> = sequence.iter().map(Vec::as_slice).collect();
        for y in bimt_analysis::predict_sequence(&model, &xs) {
            let cells: Vec<String> = y.iter().map(|v| format!("{v}")).collect();
            let _ = writeln!(text, "{}", cells.join(","));
        }
    }
    match out {
        Some(path) => write_atomic(path, text.as_bytes()).map_err(|e| e.to_string()),
        None => {
            print!("{text}");
            Ok(())
        }
    }
}

/// The model's input columns of `data`: `(values, rows, width)`.
fn read_columns(
    run: &Path,
    data: &Path,
    model: &ModelFile,
) -> Result<(Vec<f32>, usize, usize), String> {
    if model.input_names.len() != model.input_width() {
        return Err(format!(
            "{}: model.json names {} inputs for {} input columns",
            run.display(),
            model.input_names.len(),
            model.input_width()
        ));
    }
    let (values, rows) =
        bimt_data::read_csv_columns(data, &model.input_names).map_err(|e| e.to_string())?;
    Ok((values, rows, model.input_names.len()))
}

/// Standardises input rows as the run did, where it did (`scaling` exists).
fn standardise(scaling: &Path, model: &ModelFile, values: &mut [f32]) -> Result<(), String> {
    if !scaling.exists() {
        return Ok(());
    }
    let file: StandardisationFile =
        read_json(scaling, "standardisation file").map_err(|e| e.to_string())?;
    if file.columns.len() != model.input_width()
        || (!model.input_names.is_empty() && file.columns != model.input_names)
    {
        return Err(format!(
            "{}: its columns differ from model.json's inputs",
            scaling.display()
        ));
    }
    bimt_data::Standardisation {
        mean: file.mean,
        std: file.std,
    }
    .apply(values);
    Ok(())
}

/// NumPy inputs as rows: floats `[n, inputs]` (a sequence model: `[n, T, inputs]`, T rows per
/// sample), or a token model's integer ids `[n, ids per row]` (a sequence model: `[n, T]`).
/// Every mismatch names the file or array, its dtype and shape, and the shape expected.
fn read_numpy(data: &Path, model: &ModelFile) -> Result<(Vec<f32>, usize, usize), String> {
    let x = bimt_data::read_numpy_inputs(data).map_err(|e| e.to_string())?;
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
        return Err(format!(
            "{} holds {} of shape {:?}; the model reads {expected}",
            x.name, x.dtype, x.shape
        ));
    }
    let rows = n * sequence.unwrap_or(1);
    Ok((values_of(x), rows, width))
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

fn values_of(x: NumpyArray) -> Vec<f32> {
    match x.values {
        NumpyValues::Floats(v) => v,
        NumpyValues::Integers(v) => v.into_iter().map(|id| id as f32).collect(),
    }
}

/// A token model's ids: every column of `data` (a header row, then `token_positions` ids per
/// row): `(ids, rows, width)`.
fn read_token_ids(data: &Path, model: &ModelFile) -> Result<(Vec<f32>, usize, usize), String> {
    let text = std::fs::read_to_string(data)
        .map_err(|e| format!("cannot read {}: {e}", data.display()))?;
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
        return Err(format!(
            "{}: {} columns ({}); the model reads {positions} token id(s) per row, one column \
             each",
            data.display(),
            header.len(),
            header.join(", ")
        ));
    }
    let (values, rows) = bimt_data::read_csv_columns(data, &header).map_err(|e| e.to_string())?;
    Ok((values, rows, positions))
}

/// Refuses an output path that is one of the files `read` (compared as canonical paths, so
/// `./x.csv` or a link to it count too): writing there would destroy what is being read.
fn refuse_overwriting(out: &Path, read: &[(&Path, &str)]) -> Result<(), String> {
    // An output that does not exist yet is none of the existing inputs.
    let Ok(target) = out.canonicalize() else {
        return Ok(());
    };
    match read
        .iter()
        .find(|(path, _)| path.canonicalize().is_ok_and(|p| p == target))
    {
        Some((_, what)) => Err(format!(
            "--out {} is {what}, which bimt predict reads; write the predictions to another file",
            out.display()
        )),
        None => Ok(()),
    }
}
