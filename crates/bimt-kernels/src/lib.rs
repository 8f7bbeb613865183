//! Fused, differentiable tensor ops for BIMT's training step: SiLU, GELU and softmax cross
//! entropy, each one pass over the data with a vectorised exp, and a hand-written backward pass.
//!
//! burn composes SiLU as `x·sigmoid(x)` (an exp in the forward pass and another in the
//! backward, plus two multiplications each way) and log-softmax as six ops, with one scalar
//! `expf` call per element. Here each op is a [burn backend extension](FusedOps) implemented for
//! the `Flex` and `NdArray` CPU backends and for `Autodiff` over them; the tensor functions
//! [`silu`] and [`cross_entropy_with_targets`] compute the same values as burn's composition up
//! to float rounding. burn's GELU is one op with a scalar `erf` per element; [`gelu`] replaces
//! it for `f32` with a vectorised normal distribution function, and its backward pass reuses
//! the forward's `Φ(x)`.
//!
//! ```
//! use burn::tensor::{Device, Tensor};
//! let device = Device::flex().autodiff();
//! let x = Tensor::<2>::from_floats([[-1.0, 0.0, 2.0]], &device).require_grad();
//! let y = bimt_kernels::silu(x.clone());
//! let grads = y.sum().backward();
//! let dx = x.grad(&grads).unwrap().into_data().try_into_vec::<f32>().unwrap();
//! assert!((dx[1] - 0.5).abs() < 1e-6);
//! ```
//!
//! The ops run on the backends listed in [`FusedOps`]'s extension attribute; on any other
//! backend they panic.

mod backends;
mod extension;
pub mod host;

pub use backends::Host;
pub use extension::FusedOps;

use burn::backend::autodiff::{
    Autodiff,
    checkpoint::{base::Checkpointer, strategy::CheckpointStrategy},
    grads::Gradients,
    ops::{Backward, Ops, OpsKind, unary},
};
use burn::backend::tensor::FloatTensor;
#[allow(deprecated)]
// burn 0.22 deprecates ndarray in favour of flex; bimt keeps it selectable
use burn::backend::{Backend, Dispatch, Flex, NdArray};
use burn::tensor::Tensor;

/// The forward and backward kernels of [`FusedOps`] on a concrete backend (what the
/// `Autodiff` implementation calls). Implemented for every [`Host`] backend.
pub trait HostKernels: Backend {
    /// `x·σ(x)`.
    fn silu_forward(x: FloatTensor<Self>) -> FloatTensor<Self>;

    /// `x·σ(x)` and `σ(x)`, which [`HostKernels::silu_backward`] takes.
    fn silu_forward_keep(x: FloatTensor<Self>) -> (FloatTensor<Self>, FloatTensor<Self>);

    /// `grad·(σ + x·σ·(1−σ))`: the gradient of [`HostKernels::silu_forward`], from `σ(x)`.
    fn silu_backward(
        x: FloatTensor<Self>,
        sigma: FloatTensor<Self>,
        grad: FloatTensor<Self>,
    ) -> FloatTensor<Self>;

    /// `x·Φ(x)`, and with `keep_cdf` also `Φ(x)` for [`HostKernels::gelu_grad`]. Fused
    /// for `f32`; other types get burn's own GELU (and no `Φ`).
    fn gelu_with_cdf(
        x: FloatTensor<Self>,
        keep_cdf: bool,
    ) -> (FloatTensor<Self>, Option<FloatTensor<Self>>);

    /// `grad·(Φ(x) + x·φ(x))`: the gradient of [`HostKernels::gelu_with_cdf`], from the `Φ(x)`
    /// it kept, or burn's own GELU gradient where it kept none.
    fn gelu_grad(
        x: FloatTensor<Self>,
        cdf: Option<FloatTensor<Self>>,
        grad: FloatTensor<Self>,
    ) -> FloatTensor<Self>;

    /// The loss of [`FusedOps::fused_cross_entropy`], and with `keep_probs` also the row
    /// softmax of the logits (for the backward pass).
    fn cross_entropy_forward(
        logits: FloatTensor<Self>,
        targets: FloatTensor<Self>,
        keep_probs: bool,
    ) -> (FloatTensor<Self>, Option<FloatTensor<Self>>);

    /// The gradient of the loss with respect to the logits,
    /// `grad/rows·(softmax·Σ_row targets − targets)`, from the softmax the forward pass kept
    /// and the loss's one-element gradient `grad`.
    fn cross_entropy_backward(
        probs: FloatTensor<Self>,
        targets: FloatTensor<Self>,
        grad: FloatTensor<Self>,
    ) -> FloatTensor<Self>;

    /// The gradient of the loss with respect to the targets, `−grad/rows·log_softmax(logits, 1)`.
    fn cross_entropy_targets_backward(
        logits: FloatTensor<Self>,
        grad: FloatTensor<Self>,
    ) -> FloatTensor<Self>;
}

/// [`FusedOps`] on host backends: the kernels, with nothing kept for a backward pass.
macro_rules! host_fused_ops {
    ($($backend:ty),*) => {$(
        #[allow(deprecated)]
        impl FusedOps for $backend {
            fn fused_silu(x: FloatTensor<Self>) -> FloatTensor<Self> {
                Self::silu_forward(x)
            }
            fn fused_gelu(x: FloatTensor<Self>) -> FloatTensor<Self> {
                Self::gelu_with_cdf(x, false).0
            }
            fn fused_cross_entropy(
                logits: FloatTensor<Self>,
                targets: FloatTensor<Self>,
            ) -> FloatTensor<Self> {
                Self::cross_entropy_forward(logits, targets, false).0
            }
        }
    )*};
}

host_fused_ops!(Flex, NdArray);

/// An element-wise activation's forward pass: the output, and with `keep` what the backward
/// pass needs of it besides the input.
type ActivationForward<B> = fn(FloatTensor<B>, bool) -> (FloatTensor<B>, Option<FloatTensor<B>>);

/// An element-wise activation's gradient from its input, what the forward pass kept and the
/// incoming gradient.
type ActivationGradient<B> =
    fn(FloatTensor<B>, Option<FloatTensor<B>>, FloatTensor<B>) -> FloatTensor<B>;

/// Backward step of an element-wise activation; its state is the input and what the forward
/// pass kept.
#[derive(Debug)]
struct ActivationBackward<B: Backend> {
    gradient: ActivationGradient<B>,
}

impl<B: HostKernels> Backward<B, 1> for ActivationBackward<B> {
    type State = (FloatTensor<B>, Option<FloatTensor<B>>);

    fn backward(
        self,
        ops: Ops<Self::State, 1>,
        grads: &mut Gradients,
        _checkpointer: &mut Checkpointer,
    ) {
        let (x, kept) = ops.state;
        unary::<B, _>(ops.parents, ops.node, grads, |grad| {
            (self.gradient)(x, kept, grad)
        });
    }
}

/// An element-wise activation on `Autodiff`: tracked, its forward pass keeps what `gradient`
/// needs; untracked, it keeps nothing.
fn activation<B: HostKernels, C: CheckpointStrategy>(
    x: FloatTensor<Autodiff<B, C>>,
    forward: ActivationForward<B>,
    gradient: ActivationGradient<B>,
) -> FloatTensor<Autodiff<B, C>> {
    let backward = ActivationBackward { gradient };
    match backward.prepare::<C>([x.node()]).compute_bound().stateful() {
        OpsKind::Tracked(prep) => {
            let x = x.into_primitive();
            let (y, kept) = forward(x.clone(), true);
            prep.finish((x, kept), y)
        }
        OpsKind::UnTracked(prep) => prep.finish(forward(x.into_primitive(), false).0),
    }
}

/// Backward step of the cross entropy; its state is the logits, the targets and the softmax.
#[derive(Debug)]
struct CrossEntropyBackward;

impl<B: HostKernels> Backward<B, 2> for CrossEntropyBackward {
    type State = (FloatTensor<B>, FloatTensor<B>, FloatTensor<B>);

    fn backward(
        self,
        ops: Ops<Self::State, 2>,
        grads: &mut Gradients,
        _checkpointer: &mut Checkpointer,
    ) {
        let [node_logits, node_targets] = ops.parents;
        let grad = grads.consume::<B>(&ops.node);
        let (logits, targets, probs) = ops.state;
        if let Some(node) = node_targets {
            let g = B::cross_entropy_targets_backward(logits, grad.clone());
            grads.register::<B>(node.id, g);
        }
        if let Some(node) = node_logits {
            grads.register::<B>(node.id, B::cross_entropy_backward(probs, targets, grad));
        }
    }
}

impl<B: HostKernels, C: CheckpointStrategy> FusedOps for Autodiff<B, C> {
    fn fused_silu(x: FloatTensor<Self>) -> FloatTensor<Self> {
        activation::<B, C>(
            x,
            |x, keep| {
                if keep {
                    let (y, sigma) = B::silu_forward_keep(x);
                    (y, Some(sigma))
                } else {
                    (B::silu_forward(x), None)
                }
            },
            |x, sigma, grad| {
                let sigma = sigma.expect("a tracked SiLU keeps σ");
                B::silu_backward(x, sigma, grad)
            },
        )
    }

    fn fused_gelu(x: FloatTensor<Self>) -> FloatTensor<Self> {
        activation::<B, C>(x, B::gelu_with_cdf, B::gelu_grad)
    }

    fn fused_cross_entropy(
        logits: FloatTensor<Self>,
        targets: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        match CrossEntropyBackward
            .prepare::<C>([logits.node(), targets.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let logits = logits.into_primitive();
                let targets = targets.into_primitive();
                let (loss, probs) = B::cross_entropy_forward(logits.clone(), targets.clone(), true);
                let probs = probs.expect("the forward pass keeps the softmax when asked");
                prep.finish((logits, targets, probs), loss)
            }
            OpsKind::UnTracked(prep) => prep.finish(
                B::cross_entropy_forward(logits.into_primitive(), targets.into_primitive(), false)
                    .0,
            ),
        }
    }
}

/// SiLU, `x·σ(x)`, element-wise: burn's `activation::silu` as one fused op (forward and
/// backward one pass each).
pub fn silu<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    Tensor::from_dispatch(<Dispatch as FusedOps>::fused_silu(x.into_dispatch()))
}

/// GELU, `x·Φ(x)` element-wise (the exact form): burn's `activation::gelu` as one fused op for
/// `f32`, with a vectorised `Φ` and a backward pass that reuses it; other types go to burn's.
pub fn gelu<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    Tensor::from_dispatch(<Dispatch as FusedOps>::fused_gelu(x.into_dispatch()))
}

/// Softmax cross entropy averaged over rows: for `[rows, classes]` logits and targets (one-hot
/// or soft) of the same shape, `−Σ targets·log_softmax(logits, 1) / rows`, as a one-element
/// tensor. Differentiable in both arguments.
pub fn cross_entropy_with_targets(logits: Tensor<2>, targets: Tensor<2>) -> Tensor<1> {
    Tensor::from_dispatch(<Dispatch as FusedOps>::fused_cross_entropy(
        logits.into_dispatch(),
        targets.into_dispatch(),
    ))
}
