use bimt_layout::{Axis, Layout};
use burn::optim::{AdamW, AdamWConfig, AdamWState, AdaptiveMomentumState, Optimizer};
use burn::tensor::{Device, Tensor, TensorData};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal, Uniform};

/// The CPU backends bimt can train on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// burn's flex backend (SIMD, rayon): the fastest on the networks of the paper.
    Flex,
    /// burn's ndarray backend.
    NdArray,
}

impl Backend {
    /// Parses `flex` or `ndarray`.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "flex" => Some(Backend::Flex),
            "ndarray" => Some(Backend::NdArray),
            _ => None,
        }
    }

    /// The name [`parse`](Self::parse) reads.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Flex => "flex",
            Backend::NdArray => "ndarray",
        }
    }

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

/// What a swap does to the AdamW moment estimates of the neurons it moves.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SwapMoments {
    /// The moments move with their weights: the optimizer's next step is what it would have
    /// been without the swap, moved with it (the correct form; the default).
    #[default]
    Follow,
    /// The moments stay at their positions, so a moved weight is stepped with the moments of
    /// the weight it replaced, as the authors' notebooks do (`--profile reference`).
    Stay,
}

impl SwapMoments {
    /// Command-line name.
    pub fn name(self) -> &'static str {
        match self {
            SwapMoments::Follow => "follow",
            SwapMoments::Stay => "stay",
        }
    }

    /// Parses a command-line name.
    pub fn parse(name: &str) -> Option<Self> {
        [SwapMoments::Follow, SwapMoments::Stay]
            .into_iter()
            .find(|m| m.name() == name)
    }
}

/// The trainable parameters of a layout as burn tensors, with their AdamW state.
///
/// Every parameter is a 2-D tensor (biases are `[1, n]`), indexed by
/// [`ParamId`](bimt_layout::ParamId); the forward pass sees one autodiff leaf per parameter.
/// The optimizer steps all of them at once as one flat `[1, total]` tensor (one AdamW update
/// instead of one per parameter: far fewer tensor operations per step on small networks). Its
/// state is owned here, not hidden in an opaque record, so that a swap can permute the moment
/// estimates with the weights.
pub struct ParamStore {
    /// Autodiff leaves, one per parameter.
    leaves: Vec<Tensor<2>>,
    /// All parameters, concatenated row-major, without autodiff.
    flat: Tensor<2>,
    /// `(offset, shape)` of each parameter inside `flat`.
    segments: Vec<(usize, [usize; 2])>,
    state: Option<AdamWState<2>>,
    optimizer: AdamW,
    /// `1` where a parameter may change, `0` where [`prune`](Self::prune) holds it at zero.
    mask: Option<Tensor<2>>,
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
            flat: tensor(host.concat(), [1, offset], device),
            segments,
            state: None,
            mask: None,
            optimizer: AdamWConfig::new()
                .with_weight_decay(0.0)
                .with_epsilon(1e-8)
                .build(),
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
                self.flat
                    .clone()
                    .slice([0..1, offset..offset + n])
                    .reshape(shape)
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
        self.split(&host(&self.flat))
    }

    fn split(&self, flat: &[f32]) -> Vec<Vec<f32>> {
        self.segments
            .iter()
            .map(|&(o, s)| flat[o..o + s[0] * s[1]].to_vec())
            .collect()
    }

    /// One AdamW step on all parameters (those without a gradient get a zero one).
    pub fn step(&mut self, lr: f64, grads: &burn::tensor::Gradients) {
        let parts: Vec<Tensor<2>> = self
            .leaves
            .iter()
            .zip(&self.segments)
            .map(|(leaf, &(_, [r, c]))| match leaf.grad(grads) {
                Some(g) => g.reshape([1, r * c]),
                None => Tensor::zeros([1, r * c], &self.device),
            })
            .collect();
        let grad = Tensor::cat(parts, 1);
        let (updated, state) = self
            .optimizer
            .step(lr, self.flat.clone(), grad, self.state.take());
        self.flat = match &self.mask {
            Some(mask) => updated * mask.clone(),
            None => updated,
        };
        self.state = state;
        self.refresh_leaves();
    }

    /// Prunes the weights of `layout`: every weight matrix entry that is zero or below
    /// `threshold` × that matrix's largest |w| is set to zero and held there by every later
    /// [`step`](Self::step). Biases and embeddings are left free. Returns the number of weights
    /// held at zero. `threshold = 0` only holds the weights that are already zero (what a
    /// resumed run needs).
    pub fn prune(&mut self, layout: &Layout, threshold: f64) -> usize {
        let mut values = host(&self.flat);
        let mut mask = vec![1.0f32; values.len()];
        let mut pruned = 0;
        for (spec, &(offset, [rows, cols])) in layout.params().iter().zip(&self.segments) {
            if spec.penalised_like_bias {
                continue;
            }
            let range = offset..offset + rows * cols;
            let largest = values[range.clone()]
                .iter()
                .fold(0.0f32, |m, w| m.max(w.abs()));
            let cut = threshold as f32 * largest;
            for (w, keep) in values[range.clone()].iter_mut().zip(&mut mask[range]) {
                if *w == 0.0 || w.abs() < cut {
                    *w = 0.0;
                    *keep = 0.0;
                    pruned += 1;
                }
            }
        }
        let total = values.len();
        self.flat = tensor(values, [1, total], &self.device);
        self.mask = Some(tensor(mask, [1, total], &self.device));
        self.refresh_leaves();
        pruned
    }

    /// Moves `axis` of its parameter, and the parameter's AdamW moments, by `perm`
    /// (position `q` receives neuron `perm[q]`).
    pub fn permute(&mut self, axis: &Axis, perm: &[usize]) {
        self.permute_axes(&[(*axis, perm)], SwapMoments::Follow);
    }

    /// Applies every `(axis, perm)` move (see [`permute`](Self::permute)) with one host copy
    /// of the parameters, the mask and each moment estimate: a whole swap round at once.
    /// `moments` says whether the AdamW moments move too.
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
        let device = self.device.clone();
        let moved = |t: &Tensor<2>| {
            let mut flat = host(t);
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
            let total = flat.len();
            tensor(flat, [1, total], &device)
        };
        self.flat = moved(&self.flat);
        self.mask = self.mask.as_ref().map(&moved);
        if let (Some(state), SwapMoments::Follow) = (&mut self.state, moments) {
            let m = &mut state.momentum;
            m.moment_1 = moved(&m.moment_1);
            m.moment_2 = moved(&m.moment_2);
            if let Some(max) = m.max_moment_2.take() {
                m.max_moment_2 = Some(moved(&max));
            }
        }
        self.refresh_leaves();
    }

    /// Host copies of the optimizer state: `(steps taken, moment_1, moment_2)` per parameter.
    pub fn states_to_host(&self) -> Vec<Option<Moments>> {
        match &self.state {
            None => vec![None; self.segments.len()],
            Some(s) => {
                let m = &s.momentum;
                let (m1, m2) = (
                    self.split(&host(&m.moment_1)),
                    self.split(&host(&m.moment_2)),
                );
                m1.into_iter()
                    .zip(m2)
                    .map(|(first, second)| {
                        Some(Moments {
                            steps: m.time,
                            first,
                            second,
                        })
                    })
                    .collect()
            }
        }
    }

    /// Restores an optimizer state saved by [`states_to_host`](Self::states_to_host); all
    /// parameters must have been stepped equally often (or none at all).
    pub fn set_states(&mut self, states: Vec<Option<Moments>>) {
        let Some(Some(Moments { steps: time, .. })) = states.first().cloned() else {
            self.state = None;
            return;
        };
        let total = self
            .segments
            .iter()
            .map(|(_, s)| s[0] * s[1])
            .sum::<usize>();
        let (mut m1, mut m2) = (Vec::with_capacity(total), Vec::with_capacity(total));
        for m in states.into_iter().flatten() {
            m1.extend(m.first);
            m2.extend(m.second);
        }
        self.state = Some(AdamWState::new(AdaptiveMomentumState::new(
            time,
            tensor(m1, [1, total], &self.device),
            tensor(m2, [1, total], &self.device),
        )));
    }
}

fn tensor(values: Vec<f32>, shape: [usize; 2], device: &Device) -> Tensor<2> {
    Tensor::from_data(TensorData::new(values, shape), device)
}

fn host(t: &Tensor<2>) -> Vec<f32> {
    t.to_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .expect("float tensor")
}
