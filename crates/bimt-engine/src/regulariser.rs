use bimt_layout::{Distances, Layout, ParamId};
use burn::tensor::{Device, Tensor, TensorData};

/// The connection cost of paper eq. 3 as a differentiable burn expression:
/// `Σ_c Σ |W_c| ⊙ D_c + y*·Σ |b|`, with the distance matrices `D_c` (reduction folded in)
/// uploaded once.
pub struct Regulariser {
    weights: Vec<(ParamId, Tensor<2>)>,
    biases: Vec<(ParamId, f64)>,
}

impl Regulariser {
    /// Uploads the multipliers of `distances` for the connections of `layout`.
    pub fn new(layout: &Layout, distances: &Distances, device: &Device) -> Self {
        let weights = layout
            .connections()
            .map(|(id, _, _, c)| {
                let shape = layout.params()[c.weight].shape;
                let d = TensorData::new(distances.weight[id.index()].clone(), shape);
                (c.weight, Tensor::from_data(d, device))
            })
            .collect();
        let biases = distances.bias.iter().map(|&(p, s)| (p, s as f64)).collect();
        Self { weights, biases }
    }

    /// The cost of `params`; biases and embeddings are charged only when `bias_penalty` holds.
    pub fn cost(&self, params: &[Tensor<2>], bias_penalty: bool) -> Tensor<1> {
        let mut terms = self
            .weights
            .iter()
            .map(|(p, d)| params[*p].clone().abs().mul(d.clone()).sum());
        let first = terms.next().expect("a layout with at least one connection");
        let mut cost = terms.fold(first, |acc, t| acc + t);
        if bias_penalty {
            for &(p, scale) in &self.biases {
                cost = cost + params[p].clone().abs().sum().mul_scalar(scale);
            }
        }
        cost
    }
}
