//! `bimt predict RUN_DIR --data X.csv` (or `X.npy`, `D.npz`): a trained network's
//! predictions for new rows as CSV (see [`bimt_presets::predict`]).

use bimt_format::write_atomic;
use bimt_presets::Rows;
use std::fmt::Write as _;
use std::path::Path;

/// Predicts every row of `data` with the network of `run` and writes a CSV with one column
/// per output to `out`, or to standard output.
pub fn predict(run: &Path, data: &Path, out: Option<&Path>) -> Result<(), String> {
    if let Some(out) = out {
        let model = run.join("model.json");
        let scaling = run.join("standardisation.json");
        let read = [
            (data, "the data file"),
            (model.as_path(), "the run's model.json"),
            (scaling.as_path(), "the run's standardisation.json"),
        ];
        refuse_overwriting(out, &read)?;
    }
    let predictions =
        bimt_presets::predict(run, Rows::File(data), &[]).map_err(|e| e.to_string())?;
    let mut text = predictions.names.join(",") + "\n";
    for row in predictions.values.chunks(predictions.names.len().max(1)) {
        let cells: Vec<String> = row.iter().map(|v| format!("{v}")).collect();
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
