//! `bimt predict RUN_DIR --data X.csv`: a trained network's predictions for new rows, rebuilt
//! from `model.json` alone (and `standardisation.json` where the run standardised its inputs).

use bimt_format::{ModelFile, read_json, write_atomic};
use bimt_presets::StandardisationFile;
use std::fmt::Write as _;
use std::path::Path;

/// Reads `data` (a CSV with a header holding the model's input columns; others are ignored),
/// predicts every row, and writes a CSV with one column per output to `out`, or to standard
/// output.
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
    if model.token_embedding.is_some() {
        return Err(format!(
            "{}: the model reads token ids, not data columns; bimt predict takes networks of \
             data columns",
            run.display()
        ));
    }
    if model.input_names.len() != model.input_features.len() {
        return Err(format!(
            "{}: model.json names {} inputs for {} input neurons",
            run.display(),
            model.input_names.len(),
            model.input_features.len()
        ));
    }
    let (mut values, rows) =
        bimt_data::read_csv_columns(data, &model.input_names).map_err(|e| e.to_string())?;
    if scaling.exists() {
        let file: StandardisationFile =
            read_json(&scaling, "standardisation file").map_err(|e| e.to_string())?;
        if file.columns != model.input_names {
            return Err(format!(
                "{}: its columns differ from model.json's inputs",
                scaling.display()
            ));
        }
        bimt_data::Standardisation {
            mean: file.mean,
            std: file.std,
        }
        .apply(&mut values);
    }
    let width = model.input_names.len();
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
    for r in 0..rows {
        let x: Vec<f64> = values[r * width..(r + 1) * width]
            .iter()
            .map(|&v| v as f64)
            .collect();
        let y = bimt_analysis::predict(&model, &x);
        let cells: Vec<String> = y.iter().map(|v| format!("{v}")).collect();
        let _ = writeln!(text, "{}", cells.join(","));
    }
    match out {
        Some(path) => write_atomic(path, text.as_bytes()).map_err(|e| e.to_string()),
        None => {
            print!("{text}");
            Ok(())
        }
    }
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
