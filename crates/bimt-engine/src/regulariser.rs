//! The connection cost of paper eq. 3 as per-parameter multipliers, and its gradient term.

use bimt_layout::{Distances, Layout};

/// The connection cost of paper eq. 3, `Σ_c Σ |W_c| ⊙ D_c + y*·Σ |b|`, as one multiplier per
/// parameter over all parameters concatenated (distances, reduction and the bias charge folded
/// in), so that the cost is `Σ |θ| ⊙ m`.
///
/// The cost never enters the autodiff graph: its gradient, `λ·m·sign(θ)` (the subgradient
/// that autodiff of `|θ|` gives, 0 at 0), is added to the task's gradient inside
/// [`ParamStore::step`](crate::ParamStore::step), in the same pass as AdamW.
pub struct Regulariser {
    /// Multipliers without and with the bias (and embedding) charge.
    multipliers: [Vec<f32>; 2],
}

/// The connection cost term of one step: λ and the multipliers in force.
#[derive(Clone, Copy, Debug)]
pub struct CostTerm<'a> {
    /// The weight of the cost in the loss.
    pub lambda: f64,
    /// One multiplier per parameter entry, in [`ParamStore`](crate::ParamStore)'s flat order.
    pub multipliers: &'a [f32],
}

impl Regulariser {
    /// The multipliers of `distances` for the parameters of `layout`.
    pub fn new(layout: &Layout, distances: &Distances) -> Self {
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
        Self {
            multipliers: [weights, with_bias],
        }
    }

    /// The cost term at weight `lambda`; biases and embeddings are charged only when
    /// `bias_penalty` holds.
    pub fn term(&self, lambda: f64, bias_penalty: bool) -> CostTerm<'_> {
        CostTerm {
            lambda,
            multipliers: &self.multipliers[bias_penalty as usize],
        }
    }
}
