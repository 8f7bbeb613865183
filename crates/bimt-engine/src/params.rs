//! The parameters and AdamW moments as flat host vectors with burn leaves for the forward pass
//! ([`ParamStore`]), the fused optimizer step, and the CPU [`Backend`]s.

use crate::regulariser::CostTerm;
use bimt_layout::{Axis, Layout};
use burn::tensor::{Device, Gradients, Tensor, TensorData};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal, Uniform};

/// The CPU backends bimt can train on, named `flex` and `ndarray`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Backend {
    /// burn's flex backend (SIMD, rayon): the fastest on the networks of the paper.
    Flex,
    /// burn's ndarray backend.
    #[serde(rename = "ndarray")]
    NdArray,
}

bimt_format::named_by_serde!(Backend, SwapMoments);

impl Backend {
    /// The backend's device, without autodiff (call `.autodiff()` to train).
    #[allow(deprecated)] // burn 0.22 deprecates ndarray in favour of flex; we keep it selectable
    pub fn device(self) -> Device {
        match self {
            Backend::Flex => Device::flex(),
            Backend::NdArray => Device::ndarray(),
        }
    }
}

/// The CPU device bimt trains on by default (flex, the fastest CPU backend here).
pub fn default_device() -> Device {
    Backend::Flex.device()
}

/// Host copy of one parameter's AdamW moment estimates.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Moments {
    /// Optimizer steps taken.
    pub steps: usize,
    /// First moment, row-major.
    pub first: Vec<f32>,
    /// Second moment, row-major.
    pub second: Vec<f32>,
}

/// The ChaCha8 stream the initial parameters are drawn from (see [`ParamStore::init`]).
pub const INIT_STREAM: u64 = 1;

/// What a swap does to the AdamW moment estimates of the neurons it moves: `follow` or `stay`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SwapMoments {
    /// The moments move with their weights: the optimizer's next step is what it would have
    /// been without the swap, moved with it (the correct form; the default).
    #[default]
    Follow,
    /// The moments stay at their positions, so a moved weight is stepped with the moments of
    /// the weight it replaced, as the authors' notebooks do (`--profile reference`).
    Stay,
    /// The moments of every moved weight start again from zero: a deliberate perturbation
    /// (AdamW's next steps on them are about `lr·sign(g)/√(1−β₂)`, three times the usual, and
    /// shrink back over some thousand steps), tried for structure that depends less on the
    /// seed (issue 28, docs/gaps.md). Unmoved weights keep theirs.
    Reset,
}

/// AdamW's first-moment decay, as burn's `AdamWConfig` defaults.
const BETA_1: f32 = 0.9;
/// AdamW's second-moment decay, as burn's `AdamWConfig` defaults.
const BETA_2: f32 = 0.999;
/// AdamW's ε (PyTorch's default, which the reference code uses).
const EPSILON: f32 = 1e-8;

/// The trainable parameters of a layout, with their AdamW state.
///
/// Every parameter is a 2-D tensor (biases are `[1, n]`), indexed by
/// [`ParamId`](bimt_layout::ParamId); the forward pass sees one burn autodiff leaf per
/// parameter. The values and the AdamW moment estimates are kept on the host as one flat
/// row-major vector each, and [`step`](Self::step) updates all of them on the host: the
/// gradient, the connection cost's gradient, AdamW (without weight decay, burn's formula) and
/// the pruning mask. On the small networks of the paper a step is bound by the number of tensor
/// operations, and this replaces about twenty of them. The state is owned here, not hidden in
/// an opaque record, so that a swap can permute the moment estimates with the weights.
pub struct ParamStore {
    /// Autodiff leaves, one per parameter.
    leaves: Vec<Tensor<2>>,
    /// All parameters, concatenated row-major.
    values: Vec<f32>,
    /// `(offset, shape)` of each parameter inside `values`.
    segments: Vec<(usize, [usize; 2])>,
    /// AdamW steps taken (0: no state yet).
    time: usize,
    /// AdamW's first moment estimate, in `values`' order.
    moment_1: Vec<f32>,
    /// AdamW's second moment estimate, in `values`' order.
    moment_2: Vec<f32>,
    /// `1` where a parameter may change, `0` where [`prune`](Self::prune) holds it at zero.
    mask: Option<Vec<f32>>,
    /// The last step's gradient (kept to reuse its allocation).
    grad: Vec<f32>,
    device: Device,
}

impl ParamStore {
    /// Initialises every parameter of `layout` from `seed` (uniform `±init_bound`, or normal).
    ///
    /// The values come from stream [`INIT_STREAM`] of `seed`'s ChaCha8 generator. The data
    /// generators draw from stream 0 of the same seed, and initial weights that repeated the
    /// data's numbers (the first layer's weights proportional to the first inputs) would
    /// train measurably worse (issue 12, `docs/gaps.md`).
    pub fn init(layout: &Layout, seed: u64, device: &Device) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(INIT_STREAM);
        let host = layout
            .params()
            .iter()
            .map(|spec| {
                let n = spec.shape[0] * spec.shape[1];
                match spec.init_normal {
                    Some(std) => {
                        let normal = Normal::new(0.0, std).expect("finite standard deviation");
                        (0..n).map(|_| normal.sample(&mut rng) as f32).collect()
                    }
                    None => {
                        let b = spec.init_bound.max(f64::MIN_POSITIVE);
                        let uniform = Uniform::new(-b, b).expect("positive bound");
                        (0..n).map(|_| uniform.sample(&mut rng) as f32).collect()
                    }
                }
            })
            .collect::<Vec<Vec<f32>>>();
        Self::from_host(layout, &host, device)
    }

    /// Parameters with the given row-major values and a fresh optimizer state.
    pub fn from_host(layout: &Layout, host: &[Vec<f32>], device: &Device) -> Self {
        let mut segments = Vec::new();
        let mut offset = 0;
        for spec in layout.params() {
            segments.push((offset, spec.shape));
            offset += spec.shape[0] * spec.shape[1];
        }
        let mut store = Self {
            leaves: Vec::new(),
            values: host.concat(),
            segments,
            time: 0,
            moment_1: vec![0.0; offset],
            moment_2: vec![0.0; offset],
            mask: None,
            grad: Vec::new(),
            device: device.clone(),
        };
        store.refresh_leaves();
        store
    }

    fn refresh_leaves(&mut self) {
        self.leaves = self
            .segments
            .iter()
            .map(|&(offset, shape)| {
                let n = shape[0] * shape[1];
                tensor(
                    self.values[offset..offset + n].to_vec(),
                    shape,
                    &self.device,
                )
                .autodiff()
                .require_grad()
            })
            .collect();
    }

    /// The tensors, tracked for autodiff.
    pub fn tensors(&self) -> &[Tensor<2>] {
        &self.leaves
    }

    /// The tensors without autodiff, for evaluation.
    pub fn detached(&self) -> Vec<Tensor<2>> {
        self.leaves.iter().map(|t| t.clone().inner()).collect()
    }

    /// The device the parameters live on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Row-major host copies of every parameter.
    pub fn to_host(&self) -> Vec<Vec<f32>> {
        self.split(&self.values)
    }

    fn split(&self, flat: &[f32]) -> Vec<Vec<f32>> {
        self.segments
            .iter()
            .map(|&(o, s)| flat[o..o + s[0] * s[1]].to_vec())
            .collect()
    }

    /// One AdamW step on all parameters, on the gradient in `grads` (a parameter without one
    /// gets a zero gradient) plus, when `cost` is given, the connection cost's gradient
    /// `λ·m·sign(θ)`.
    ///
    /// The arithmetic is burn's `AdamW` (no weight decay) and autodiff's `|θ|` gradient, in
    /// the same f32 operations, done over the host vectors by one vectorised kernel
    /// ([`bimt_kernels::host::adamw_step`]) instead of tensor operations.
    pub fn step(&mut self, lr: f64, grads: &Gradients, cost: Option<CostTerm<'_>>) {
        let mut grad = std::mem::take(&mut self.grad);
        grad.clear();
        for (leaf, &(_, [rows, cols])) in self.leaves.iter().zip(&self.segments) {
            match leaf.grad(grads) {
                // Read in place: no host copy of the gradient before this one.
                Some(g) => {
                    let data = g.into_data();
                    match data.as_slice::<f32>() {
                        Ok(values) => grad.extend_from_slice(values),
                        Err(_) => grad.extend_from_slice(&host_data(data)),
                    }
                }
                None => grad.resize(grad.len() + rows * cols, 0.0),
            }
        }
        self.time += 1;
        let time = self.time as i32;
        // burn's AdamW, in one vectorised kernel (bimt_kernels::host::adamw_step) over the
        // host vectors.
        let adamw = bimt_kernels::host::AdamW {
            beta_1: BETA_1,
            beta_2: BETA_2,
            factor_1: 1.0 - BETA_1,
            factor_2: 1.0 - BETA_2,
            correction_1: 1.0 - BETA_1.powi(time),
            correction_2: 1.0 - BETA_2.powi(time),
            epsilon: EPSILON,
            lr: lr as f32,
        };
        bimt_kernels::host::adamw_step(
            &mut self.values,
            &mut grad,
            &mut self.moment_1,
            &mut self.moment_2,
            cost.map(|c| (c.lambda as f32, c.multipliers)),
            self.mask.as_deref(),
            adamw,
        );
        self.grad = grad;
        self.refresh_leaves();
    }

    /// Prunes the weights of `layout`: every weight matrix entry that is zero or below
    /// `threshold` × that matrix's largest |w| is set to zero and held there by every later
    /// [`step`](Self::step). Biases and embeddings are left free. Returns the number of weights
    /// held at zero. `threshold = 0` only holds the weights that are already zero (what a
    /// resumed run needs).
    pub fn prune(&mut self, layout: &Layout, threshold: f64) -> usize {
        let mut mask = vec![1.0f32; self.values.len()];
        let mut pruned = 0;
        for (spec, &(offset, [rows, cols])) in layout.params().iter().zip(&self.segments) {
            if spec.penalised_like_bias {
                continue;
            }
            let range = offset..offset + rows * cols;
            let largest = self.values[range.clone()]
                .iter()
                .fold(0.0f32, |m, w| m.max(w.abs()));
            let cut = threshold as f32 * largest;
            for (w, keep) in self.values[range.clone()].iter_mut().zip(&mut mask[range]) {
                if *w == 0.0 || w.abs() < cut {
                    *w = 0.0;
                    *keep = 0.0;
                    pruned += 1;
                }
            }
        }
        self.mask = Some(mask);
        self.refresh_leaves();
        pruned
    }

    /// Moves `axis` of its parameter, and the parameter's AdamW moments, by `perm`
    /// (position `q` receives neuron `perm[q]`).
    pub fn permute(&mut self, axis: &Axis, perm: &[usize]) {
        self.permute_axes(&[(*axis, perm)], SwapMoments::Follow);
    }

    /// Applies every `(axis, perm)` move (see [`permute`](Self::permute)) to the parameters,
    /// the mask and (unless `moments` leaves them) the AdamW moments, then rebuilds the leaves
    /// once: a whole swap round at once.
    pub fn permute_axes(&mut self, moves: &[(Axis, &[usize])], moments: SwapMoments) {
        if moves.is_empty() {
            return;
        }
        let plans: Vec<(usize, [usize; 2], usize, Vec<usize>)> = moves
            .iter()
            .map(|(axis, perm)| {
                let (offset, shape) = self.segments[axis.param];
                (offset, shape, axis.axis, axis.gather(perm))
            })
            .collect();
        let apply = |flat: &mut [f32]| {
            for (offset, [rows, cols], axis, gather) in &plans {
                let (offset, rows, cols) = (*offset, *rows, *cols);
                let old = flat[offset..offset + rows * cols].to_vec();
                let new = &mut flat[offset..offset + rows * cols];
                if *axis == 0 {
                    for (r, &src) in gather.iter().enumerate() {
                        new[r * cols..(r + 1) * cols]
                            .copy_from_slice(&old[src * cols..(src + 1) * cols]);
                    }
                } else {
                    for r in 0..rows {
                        for (c, &src) in gather.iter().enumerate() {
                            new[r * cols + c] = old[r * cols + src];
                        }
                    }
                }
            }
        };
        apply(&mut self.values);
        if let Some(mask) = &mut self.mask {
            apply(mask);
        }
        match moments {
            SwapMoments::Follow => {
                apply(&mut self.moment_1);
                apply(&mut self.moment_2);
            }
            SwapMoments::Stay => {}
            SwapMoments::Reset => {
                let reset = |flat: &mut [f32]| {
                    for (offset, [rows, cols], axis, gather) in &plans {
                        let moved = gather.iter().enumerate().filter(|&(i, &src)| i != src);
                        for (i, _) in moved {
                            if *axis == 0 {
                                flat[offset + i * cols..offset + (i + 1) * cols].fill(0.0);
                            } else {
                                for r in 0..*rows {
                                    flat[offset + r * cols + i] = 0.0;
                                }
                            }
                        }
                    }
                };
                reset(&mut self.moment_1);
                reset(&mut self.moment_2);
            }
        }
        self.refresh_leaves();
    }

    /// Host copies of the optimizer state: `(steps taken, moment_1, moment_2)` per parameter,
    /// `None` before the first step.
    pub fn states_to_host(&self) -> Vec<Option<Moments>> {
        if self.time == 0 {
            return vec![None; self.segments.len()];
        }
        self.split(&self.moment_1)
            .into_iter()
            .zip(self.split(&self.moment_2))
            .map(|(first, second)| {
                Some(Moments {
                    steps: self.time,
                    first,
                    second,
                })
            })
            .collect()
    }

    /// Restores an optimizer state saved by [`states_to_host`](Self::states_to_host); all
    /// parameters must have been stepped equally often (or none at all).
    pub fn set_states(&mut self, states: Vec<Option<Moments>>) {
        let total = self.values.len();
        let Some(Some(Moments { steps: time, .. })) = states.first().cloned() else {
            self.time = 0;
            self.moment_1 = vec![0.0; total];
            self.moment_2 = vec![0.0; total];
            return;
        };
        let (mut m1, mut m2) = (Vec::with_capacity(total), Vec::with_capacity(total));
        for m in states.into_iter().flatten() {
            m1.extend(m.first);
            m2.extend(m.second);
        }
        self.time = time;
        self.moment_1 = m1;
        self.moment_2 = m2;
    }
}

fn tensor(values: Vec<f32>, shape: [usize; 2], device: &Device) -> Tensor<2> {
    Tensor::from_data(TensorData::new(values, shape), device)
}

/// A tensor's values as `f32`s, converted where the tensor holds another float type.
fn host_data(data: TensorData) -> Vec<f32> {
    data.convert::<f32>()
        .try_into_vec::<f32>()
        .expect("float tensor")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Regulariser;
    use bimt_layout::{CostConfig, Distances, LayoutBuilder, Placement};
    use bimt_manifold::PaperMetric;
    use burn::optim::{AdamWConfig, AdamWState, Optimizer};

    fn host(t: &Tensor<2>) -> Vec<f32> {
        host_data(t.to_data())
    }

    /// The fused step equals burn's autodiff of `loss + λ·Σ|θ| ⊙ m` followed by burn's AdamW,
    /// over several steps, with some weights exactly zero (where `|θ|` has gradient 0).
    #[test]
    fn fused_step_equals_burn_autodiff_and_adamw() {
        let mut b = LayoutBuilder::new();
        let input = b.layer("input", 3, Placement::Line, 0.0);
        let hidden = b.layer("hidden", 5, Placement::Line, 1.0);
        let output = b.layer("output", 2, Placement::Line, 2.0);
        b.linear(input, hidden, true);
        b.linear(hidden, output, true);
        b.input(input).output(output);
        let layout = b.build().unwrap();
        let device = Device::flex();
        let mut start = ParamStore::init(&layout, 3, &device).to_host();
        start[0][4] = 0.0;
        start[3][1] = 0.0;
        let mut fused = ParamStore::from_host(&layout, &start, &device);
        let distances = Distances::new(&layout, &PaperMetric::l1(2.0, 0.5), &CostConfig::default());
        let regulariser = Regulariser::new(&layout, &distances);
        let lambda = 0.3;
        let term = regulariser.term(lambda, true);
        let x = tensor(
            (0..12).map(|i| (i as f32 * 0.7).sin()).collect(),
            [4, 3],
            &device,
        );
        let forward = |p: &[Tensor<2>]| {
            let h = (x.clone().autodiff().matmul(p[0].clone()) + p[1].clone()).tanh();
            (h.matmul(p[2].clone()) + p[3].clone()).square().mean()
        };

        let optimizer = AdamWConfig::new()
            .with_weight_decay(0.0)
            .with_epsilon(EPSILON)
            .build();
        let mut states: Vec<Option<AdamWState<2>>> = vec![None; start.len()];
        let mut reference = start.clone();
        let (mut offset, mut offsets) = (0, Vec::new());
        for p in &start {
            offsets.push(offset);
            offset += p.len();
        }
        for step in 0..4 {
            let lr = 1e-2 * (step + 1) as f64;
            let leaves: Vec<Tensor<2>> = reference
                .iter()
                .zip(layout.params())
                .map(|(v, spec)| {
                    tensor(v.clone(), spec.shape, &device)
                        .autodiff()
                        .require_grad()
                })
                .collect();
            let cost = leaves
                .iter()
                .zip(&offsets)
                .map(|(leaf, &o)| {
                    let n = leaf.dims()[0] * leaf.dims()[1];
                    let m = tensor(term.multipliers[o..o + n].to_vec(), leaf.dims(), &device);
                    (leaf.clone().abs() * m.autodiff()).sum()
                })
                .reduce(|a, b| a + b)
                .unwrap();
            let grads = (forward(&leaves) + cost.mul_scalar(lambda)).backward();
            for (i, leaf) in leaves.iter().enumerate() {
                let (next, state) = optimizer.step(
                    lr,
                    leaf.clone().inner(),
                    leaf.grad(&grads).unwrap(),
                    states[i].take(),
                );
                reference[i] = host(&next);
                states[i] = state;
            }

            let grads = forward(fused.tensors()).backward();
            fused.step(lr, &grads, Some(term));
            for (p, (a, b)) in fused.to_host().iter().zip(&reference).enumerate() {
                for (x, y) in a.iter().zip(b) {
                    assert!(
                        (x - y).abs() <= 1e-6 * y.abs().max(1e-3),
                        "step {step}, param {p}: {x} vs {y}"
                    );
                }
            }
        }
    }
}
