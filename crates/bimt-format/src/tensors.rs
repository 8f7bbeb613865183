//! A `model.json`'s parameters as named tensors, and written as a safetensors file (the format
//! PyTorch, JAX and Hugging Face tools load).

use crate::{ConnectionKind, FormatError, ModelFile, write_atomic};
use safetensors::tensor::{Dtype, TensorView};
use std::collections::HashMap;
use std::path::Path;

/// One parameter tensor of a model, row-major.
#[derive(Clone, Debug, PartialEq)]
pub struct NamedTensor {
    /// `FROM->TO.weight` or `FROM->TO.bias` (a connection, by its layers' names), or
    /// `token_embedding`, or `LAYER.learned_positions`.
    pub name: String,
    /// `[outputs, inputs]` for a weight, `[outputs]` for a bias, `[tokens, neurons]` for the
    /// token table, `[positions, neurons]` for learned positions.
    pub shape: Vec<usize>,
    /// The values, row after row.
    pub values: Vec<f32>,
}

impl ModelFile {
    /// Each connection's name: `FROM->TO` by its layers' names (a `.` in a name becomes `_`,
    /// so that the names are PyTorch module names), with `#2`, `#3`, ... on a second or third
    /// connection between the same layers.
    pub fn connection_names(&self) -> Vec<String> {
        let layer = |l: usize| self.neuron_layers[l].name.replace('.', "_");
        let mut seen: HashMap<String, usize> = HashMap::new();
        self.connections
            .iter()
            .map(|c| {
                let name = format!("{}->{}", layer(c.from), layer(c.to));
                let count = seen.entry(name.clone()).or_default();
                *count += 1;
                match *count {
                    1 => name,
                    n => format!("{name}#{n}"),
                }
            })
            .collect()
    }

    /// Every parameter: each linear connection's weight and bias (a tied output projection
    /// is the token table, listed once as `token_embedding`), the token table, and each
    /// layer's learned positions.
    pub fn tensors(&self) -> Vec<NamedTensor> {
        let matrix = |name: String, rows: &[Vec<f32>]| NamedTensor {
            name,
            shape: vec![rows.len(), rows.first().map_or(0, Vec::len)],
            values: rows.iter().flatten().copied().collect(),
        };
        let mut tensors = Vec::new();
        for (c, name) in self.connections.iter().zip(self.connection_names()) {
            if c.kind != ConnectionKind::Linear || c.tied {
                continue;
            }
            tensors.push(matrix(format!("{name}.weight"), &c.weight));
            if let Some(bias) = &c.bias {
                tensors.push(NamedTensor {
                    name: format!("{name}.bias"),
                    shape: vec![bias.len()],
                    values: bias.clone(),
                });
            }
        }
        if let Some(table) = &self.token_embedding {
            tensors.push(matrix("token_embedding".into(), table));
        }
        for layer in &self.neuron_layers {
            if let Some(table) = &layer.learned_positions {
                let name = format!("{}.learned_positions", layer.name.replace('.', "_"));
                tensors.push(matrix(name, table));
            }
        }
        tensors
    }

    /// Writes [`ModelFile::tensors`] to `path` as a safetensors file (float32, little-endian),
    /// atomically, with the connections in its metadata: `"connections"` holds a JSON list of
    /// `{name, kind, from, to}` (the layers' names), in `model.json`'s order.
    ///
    /// # Errors
    ///
    /// [`FormatError::Write`] where the file cannot be written.
    pub fn write_safetensors(&self, path: &Path) -> Result<(), FormatError> {
        let tensors = self.tensors();
        let bytes: Vec<Vec<u8>> = tensors
            .iter()
            .map(|t| t.values.iter().flat_map(|v| v.to_le_bytes()).collect())
            .collect();
        let views = tensors.iter().zip(&bytes).map(|(t, data)| {
            let view = TensorView::new(Dtype::F32, t.shape.clone(), data)
                .expect("the byte length is the shape's");
            (t.name.clone(), view)
        });
        // One metadata entry (a map of several would be written in a random order).
        let connections: Vec<serde_json::Value> = self
            .connections
            .iter()
            .zip(self.connection_names())
            .map(|(c, name)| {
                serde_json::json!({
                    "name": name,
                    "kind": crate::serde_name(&c.kind),
                    "from": self.neuron_layers[c.from].name,
                    "to": self.neuron_layers[c.to].name,
                })
            })
            .collect();
        let metadata = HashMap::from([(
            "connections".to_string(),
            serde_json::Value::from(connections).to_string(),
        )]);
        let serialized =
            safetensors::serialize(views, Some(metadata)).map_err(|e| FormatError::Write {
                path: path.to_path_buf(),
                source: std::io::Error::other(e.to_string()),
            })?;
        write_atomic(path, &serialized)
    }
}
