//! `sample.json`: test rows the page evaluates the model on, with what it should answer.

use serde_json::{Value, json};

/// Test rows of a supervised run the page keeps at most (its module knock-outs in
/// `metrics.json` are measured on the first this many test rows, or all of them where there are
/// fewer); an in-context run keeps its whole test set, on which its knock-outs are measured.
pub const SAMPLE_ROWS: usize = 1_000;

/// What the sample's rows should give.
pub enum Truth<'a> {
    /// A class per row: the page reports accuracy.
    Labels(Vec<u32>),
    /// A target row per row: the page reports the mean squared error.
    Targets(Vec<&'a [f32]>),
    /// Each row is a sequence of `positions` tokens of `token_dim` values; the page reports
    /// the squared error of the first output at the last position against each row's target,
    /// averaged over the rows (the in-context presets' query MSE).
    Query {
        /// Tokens per sequence.
        positions: usize,
        /// Values per token.
        token_dim: usize,
        /// The target at the query position, per row.
        targets: Vec<f32>,
    },
}

/// `sample.json` of the data rows `inputs` (each as `bimt predict` reads a row) and their
/// truth. Rows of bytes over 255 (MNIST's pixels) are written as the bytes, with
/// `"scale": 255`; the page divides them back in `f32` arithmetic, so it reads the values
/// training saw.
pub fn sample(inputs: &[&[f32]], truth: Truth) -> Value {
    let bytes = |v: f32| {
        let b = (v * 255.0).round();
        ((0.0..=255.0).contains(&b) && b / 255.0 == v).then_some(b as u8)
    };
    let scaled = !inputs.is_empty()
        && inputs
            .iter()
            .all(|row| row.iter().all(|&v| bytes(v).is_some()));
    let rows: Vec<Value> = inputs
        .iter()
        .map(|row| {
            if scaled {
                json!(
                    row.iter()
                        .map(|&v| bytes(v).unwrap_or(0))
                        .collect::<Vec<u8>>()
                )
            } else {
                json!(row)
            }
        })
        .collect();
    let mut value = json!({ "inputs": rows });
    if scaled {
        value["scale"] = json!(255);
    }
    match truth {
        Truth::Labels(labels) => {
            value["measure"] = json!("accuracy");
            value["labels"] = json!(labels);
        }
        Truth::Targets(targets) => {
            value["measure"] = json!("mse");
            value["targets"] = json!(targets);
        }
        Truth::Query {
            positions,
            token_dim,
            targets,
        } => {
            value["measure"] = json!("query_mse");
            value["positions"] = json!(positions);
            value["token_dim"] = json!(token_dim);
            value["targets"] = json!(targets);
        }
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pixel_rows_are_written_as_bytes_and_other_rows_as_numbers() {
        let pixels: [f32; 3] = [0.0, 1.0, 128.0 / 255.0];
        let s = sample(&[&pixels], Truth::Labels(vec![7]));
        assert_eq!(s["scale"], 255);
        assert_eq!(s["inputs"][0], json!([0, 255, 128]));
        assert_eq!(s["measure"], "accuracy");
        let reals: [f32; 2] = [0.25, -1.5];
        let target: [f32; 1] = [2.0];
        let s = sample(&[&reals], Truth::Targets(vec![&target]));
        assert!(s.get("scale").is_none());
        assert_eq!(s["inputs"][0], json!([0.25, -1.5]));
        assert_eq!(s["targets"][0], json!([2.0]));
    }
}
