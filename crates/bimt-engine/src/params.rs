use bimt_layout::{Axis, Layout};
use burn::optim::{AdamW, AdamWConfig, AdamWState, AdaptiveMomentumState, Optimizer};
use burn::tensor::{Device, Int, Tensor, TensorData};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal, Uniform};

/// The CPU device bimt trains on (burn's flex backend, the fastest CPU backend here).
pub fn default_device() -> Device {
    Device::flex()
}

/// The trainable parameters of a layout as burn tensors, with their AdamW states.
///
/// Every parameter is a 2-D tensor (biases are `[1, n]`), indexed by
/// [`ParamId`](bimt_layout::ParamId). The optimizer states are owned here, not hidden in an
/// opaque record, so that a swap can permute them with the weights.
pub struct ParamStore {
    tensors: Vec<Tensor<2>>,
    states: Vec<Option<AdamWState<2>>>,
    optimizer: AdamW,
    device: Device,
}

impl ParamStore {
    /// Initialises every parameter of `layout` from `seed` (uniform `±init_bound`, or normal).
    pub fn init(layout: &Layout, seed: u64, device: &Device) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
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

    /// Parameters with the given row-major values and fresh optimizer states.
    pub fn from_host(layout: &Layout, host: &[Vec<f32>], device: &Device) -> Self {
        let tensors = layout
            .params()
            .iter()
            .zip(host)
            .map(|(spec, values)| {
                tensor(values.clone(), spec.shape, device)
                    .autodiff()
                    .require_grad()
            })
            .collect::<Vec<_>>();
        let states = vec![None; tensors.len()];
        Self {
            tensors,
            states,
            optimizer: AdamWConfig::new()
                .with_weight_decay(0.0)
                .with_epsilon(1e-8)
                .build(),
            device: device.clone(),
        }
    }

    /// The tensors, tracked for autodiff.
    pub fn tensors(&self) -> &[Tensor<2>] {
        &self.tensors
    }

    /// The tensors without autodiff, for evaluation.
    pub fn detached(&self) -> Vec<Tensor<2>> {
        self.tensors.iter().map(|t| t.clone().inner()).collect()
    }

    /// The device the parameters live on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Row-major host copies of every parameter.
    pub fn to_host(&self) -> Vec<Vec<f32>> {
        self.tensors.iter().map(host).collect()
    }

    /// One AdamW step on every parameter that received a gradient.
    pub fn step(&mut self, lr: f64, grads: &burn::tensor::Gradients) {
        for (tensor, state) in self.tensors.iter_mut().zip(self.states.iter_mut()) {
            if let Some(grad) = tensor.grad(grads) {
                let (updated, new_state) =
                    self.optimizer
                        .step(lr, tensor.clone().inner(), grad, state.take());
                *tensor = updated.autodiff().require_grad();
                *state = new_state;
            }
        }
    }

    /// Moves `axis` of its parameter, and of the parameter's AdamW moments, by `perm`
    /// (position `q` receives neuron `perm[q]`).
    pub fn permute(&mut self, axis: &Axis, perm: &[usize]) {
        let gather = axis.gather(perm);
        let indices = Tensor::<1, Int>::from_data(
            TensorData::new(
                gather.iter().map(|&i| i as i64).collect::<Vec<_>>(),
                [gather.len()],
            ),
            &self.device,
        );
        let p = axis.param;
        let moved = self.tensors[p]
            .clone()
            .inner()
            .select(axis.axis, indices.clone());
        self.tensors[p] = moved.autodiff().require_grad();
        if let Some(state) = &mut self.states[p] {
            let m = &mut state.momentum;
            m.moment_1 = m.moment_1.clone().select(axis.axis, indices.clone());
            m.moment_2 = m.moment_2.clone().select(axis.axis, indices.clone());
            if let Some(max) = m.max_moment_2.take() {
                m.max_moment_2 = Some(max.select(axis.axis, indices));
            }
        }
    }

    /// Host copies of the optimizer states: `(time, moment_1, moment_2)` per parameter.
    pub fn states_to_host(&self) -> Vec<Option<(usize, Vec<f32>, Vec<f32>)>> {
        self.states
            .iter()
            .map(|s| {
                s.as_ref().map(|s| {
                    (
                        s.momentum.time,
                        host(&s.momentum.moment_1),
                        host(&s.momentum.moment_2),
                    )
                })
            })
            .collect()
    }

    /// Restores optimizer states saved by [`states_to_host`](Self::states_to_host).
    pub fn set_states(
        &mut self,
        layout: &Layout,
        states: Vec<Option<(usize, Vec<f32>, Vec<f32>)>>,
    ) {
        self.states = layout
            .params()
            .iter()
            .zip(states)
            .map(|(spec, s)| {
                s.map(|(time, m1, m2)| {
                    AdamWState::new(AdaptiveMomentumState::new(
                        time,
                        tensor(m1, spec.shape, &self.device),
                        tensor(m2, spec.shape, &self.device),
                    ))
                })
            })
            .collect();
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
