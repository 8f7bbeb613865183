use bimt_layout::{Distances, Layout};
use burn::tensor::{Device, Tensor, TensorData};

/// The connection cost of paper eq. 3 as a differentiable burn expression:
/// `Σ_c Σ |W_c| ⊙ D_c + y*·Σ |b|`, evaluated as one `|θ| ⊙ D` over all parameters
/// concatenated, with the multipliers (distances, reduction and bias charges folded in)
/// uploaded once.
pub struct Regulariser {
    /// Multipliers without and with the bias (and embedding) charge, `[1, total]`.
    multipliers: [Tensor<2>; 2],
}

impl Regulariser {
    /// Uploads the multipliers of `distances` for the parameters of `layout`.
    pub fn new(layout: &Layout, distances: &Distances, device: &Device) -> Self {
        let sizes: Vec<usize> = layout
            .params()
            .iter()
            .map(|p| p.shape[0] * p.shape[1])
            .collect();
        let mut offsets = Vec::with_capacity(sizes.len());
        let mut total = 0;
        for n in &sizes {
            offsets.push(total);
            total += n;
        }
        let mut weights = vec![0.0f32; total];
        for (id, _, _, c) in layout.connections() {
            let o = offsets[c.weight];
            weights[o..o + sizes[c.weight]].copy_from_slice(&distances.weight[id.index()]);
        }
        let mut with_bias = weights.clone();
        for &(p, scale) in &distances.bias {
            with_bias[offsets[p]..offsets[p] + sizes[p]].fill(scale);
        }
        let upload = |v: Vec<f32>| Tensor::from_data(TensorData::new(v, [1, total]), device);
        Self {
            multipliers: [upload(weights), upload(with_bias)],
        }
    }

    /// The cost of `params`; biases and embeddings are charged only when `bias_penalty` holds.
    pub fn cost(&self, params: &[Tensor<2>], bias_penalty: bool) -> Tensor<1> {
        let flat: Vec<Tensor<2>> = params
            .iter()
            .map(|p| {
                let [r, c] = p.dims();
                p.clone().reshape([1, r * c])
            })
            .collect();
        Tensor::cat(flat, 1)
            .abs()
            .mul(self.multipliers[bias_penalty as usize].clone())
            .sum()
    }
}
