//! A run's interactive viewer: `view.html`, one self-contained file that works offline from
//! `file://` (the page's JavaScript and styles are compiled into this crate and written into
//! the file; nothing is fetched).
//!
//! The page shows the connectivity graph as `graph.svg` draws it (the same placement, line
//! widths and colours, from [`bimt_views`]), alive: zoom and pan, a weight threshold, a
//! timeline over the run's log intervals with its curves, the details of any neuron or weight
//! under the pointer, and knock-outs (click neurons or a module) whose test figure the page
//! recomputes from the run's `model.json` and the sample of its test set in `sample.json`.
//!
//! What the page is given, [`Payload`], is built here from the run directory: `model.json`,
//! `metrics.json`, `run.json`, `log.jsonl`, the timeline frames `frames/step-*.json` (written
//! by training, see [`frame`]) and `sample.json`.

#![warn(missing_docs)]

mod payload;
mod sample;

pub use payload::{MAX_LINES, Payload, frame, payload};
pub use sample::{SAMPLE_ROWS, Truth, sample};

use bimt_format::{FormatError, write_atomic};
use std::path::{Path, PathBuf};

/// Why a viewer could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ViewError {
    /// A file of the run is unreadable or not what it should be.
    #[error("{path}: {reason}")]
    Read {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// `model.json` could not be read, or `view.html` written (the error names the file).
    #[error(transparent)]
    File(#[from] FormatError),
}

/// The page's markup, with `/*STYLE*/`, `/*SCRIPT*/` and `/*DATA*/` to fill in.
const PAGE: &str = include_str!("../assets/view.html");
/// The page's styles.
const STYLE: &str = include_str!("../assets/view.css");
/// The page's code.
const SCRIPT: &str = include_str!("../assets/view.js");

/// The viewer of the payload as one HTML document.
pub fn html(payload: &Payload) -> String {
    // No `<` in the data's <script> element (it could end it, or open a comment): in JSON a `<`
    // only occurs inside strings, where `\u003c` stands for it.
    let data = payload.to_json().replace('<', "\\u003c");
    let title = html_escape(&payload.title);
    PAGE.replacen("/*TITLE*/", &title, 1)
        .replacen("/*STYLE*/", STYLE, 1)
        .replacen("/*SCRIPT*/", SCRIPT, 1)
        .replacen("/*DATA*/", &data, 1)
}

/// Writes `run_dir/view.html` (atomically) and returns its path.
pub fn write_view(run_dir: &Path) -> Result<PathBuf, ViewError> {
    let payload = payload(run_dir)?;
    let path = run_dir.join("view.html");
    write_atomic(&path, html(&payload).as_bytes())?;
    Ok(path)
}

fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use bimt_format::{ConnectionFile, CostSpec, ModelFile, NeuronLayerFile, write_json};

    /// 2 inputs, 2 hidden, 1 output; a name with markup in it.
    fn model() -> ModelFile {
        let line = |name: &str, xs: &[f64], depth| {
            NeuronLayerFile::new(name, xs.iter().map(|&x| vec![x]).collect(), depth)
        };
        ModelFile {
            activation: "silu".into(),
            neuron_layers: vec![
                line("in", &[0.25, 0.75], 0.0),
                line("hid", &[0.25, 0.75], 1.0),
                line("out", &[0.5], 2.0),
            ],
            connections: vec![
                ConnectionFile::plain(0, 1, vec![vec![2.0, 0.0], vec![0.0, -2.0]]),
                ConnectionFile::plain(1, 2, vec![vec![0.5, 1.0]]),
            ],
            input_features: vec![0, 1],
            output_features: vec![0],
            input_names: vec!["x</script><!--".into(), "b".into()],
            output_names: vec!["y".into()],
            cost: CostSpec {
                metric: "l1".into(),
                a: 2.0,
                y_star: 1.0,
                reduction: "sum".into(),
                bias_penalty: true,
                last_layer_distance: true,
            },
            token_embedding: None,
            token_positions: None,
            sequence: None,
            format: 1,
        }
    }

    #[test]
    fn the_page_holds_its_data_whole_and_nothing_that_ends_its_script_early() {
        let dir = std::env::temp_dir().join(format!("bimt-viewer-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        write_json(&dir.join("model.json"), &model()).unwrap();
        let path = write_view(&dir).unwrap();
        let page = std::fs::read_to_string(&path).unwrap();
        let start = page.find("id=\"bimt-data\">").unwrap() + "id=\"bimt-data\">".len();
        let end = start + page[start..].find("</script>").unwrap();
        let data: serde_json::Value = serde_json::from_str(&page[start..end]).unwrap();
        assert_eq!(data["model"]["input_names"][0], "x</script><!--");
        // One frame (no training frames): the trained model's four nonzero weights, the zero
        // ones left out.
        assert_eq!(data["frames"].as_array().unwrap().len(), 1);
        assert_eq!(data["frames"][0]["lines"].as_array().unwrap().len(), 4 * 4);
        assert_eq!(
            data["frames"][0]["positions"][1][0]
                .as_array()
                .unwrap()
                .len(),
            2
        );
        // Two modules, in0 -> hid0 and in1 -> hid1, joined only at the output.
        assert_eq!(
            data["modules"],
            serde_json::json!([[[0, 0], [1, 0]], [[0, 1], [1, 1]]])
        );
        // No script or style is fetched: everything is inline.
        assert!(!page.contains("src=") && !page.contains("href="));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_frame_keeps_the_strongest_lines_and_counts_the_rest() {
        let mut m = model();
        let n = 200;
        m.neuron_layers[0] = NeuronLayerFile::new(
            "in",
            (0..n).map(|i| vec![i as f64 / n as f64]).collect(),
            0.0,
        );
        m.neuron_layers[1] = NeuronLayerFile::new(
            "hid",
            (0..n).map(|i| vec![i as f64 / n as f64]).collect(),
            1.0,
        );
        m.connections[0] = ConnectionFile::plain(
            0,
            1,
            (0..n)
                .map(|o| (0..n).map(|i| 1.0 + ((o * n + i) % 7) as f32).collect())
                .collect(),
        );
        m.connections[1] = ConnectionFile::plain(1, 2, vec![vec![1.0; n]]);
        let f = frame(&m);
        assert_eq!(f["candidates"], n * n + n);
        let lines = f["lines"].as_array().unwrap();
        assert_eq!(lines.len(), 4 * MAX_LINES);
        // The kept lines of the first connection are its largest (7 of 7, then 6 of 7, ...).
        let smallest = lines
            .chunks(4)
            .filter(|l| l[0] == 0)
            .map(|l| l[3].as_i64().unwrap())
            .min()
            .unwrap();
        assert!(smallest >= 714, "{smallest}");
    }
}
