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
//! Four more ops compute exactly what burn's do, without its overhead on the CPU:
//! [`matmul`] (the same `gemm` calls as Flex, into an output that is neither zeroed nor copied
//! to realign it), [`add_bias`] (a bias row added into the product's own values, its gradient
//! the same column sums as Flex's), [`token_sum`] (per-token embedding rows looked up and summed
//! in one pass) and [`select_columns`] (burn's `select` along columns, row by row instead of
//! element by element). [`token_product`] (token ids through an embedding and a weight matrix,
//! by the cheaper of two orders) and [`token_rows`] build the token-embedding input of a
//! network from them.
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

#![warn(missing_docs)]

mod backends;
mod extension;
pub mod host;
mod subnormals;
pub mod windows;

pub use backends::Host;
pub use extension::FusedOps;
pub use subnormals::flush_subnormals;
pub use windows::Windows;

use burn::backend::autodiff::{
    Autodiff,
    checkpoint::{base::Checkpointer, strategy::CheckpointStrategy},
    grads::Gradients,
    ops::{Backward, Ops, OpsKind, binary, unary},
};
use burn::backend::tensor::FloatTensor;
#[allow(deprecated)]
// burn 0.22 deprecates ndarray in favour of flex; bimt keeps it selectable
use burn::backend::{Backend, Dispatch, Flex, NdArray, TensorMetadata};
use burn::tensor::Tensor;
use std::sync::Arc;

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

    /// `op(lhs)·op(rhs)` of two matrices, `op` the transpose where its flag asks for it (see
    /// [`host::matmul`]).
    fn matrix_product(
        lhs: FloatTensor<Self>,
        transpose_lhs: bool,
        rhs: FloatTensor<Self>,
        transpose_rhs: bool,
    ) -> FloatTensor<Self>;

    /// `x + bias` for a `[rows, cols]` matrix and a `[1, cols]` bias, written into `x`'s
    /// values where nothing else holds them.
    fn add_bias(x: FloatTensor<Self>, bias: FloatTensor<Self>) -> FloatTensor<Self>;

    /// SiLU of `x + bias` (a `[1, cols]` bias row), tracked: `(z·σ(z), z, σ(z))` for
    /// `z = x + bias`, written into `x`'s values where they are its own.
    #[allow(clippy::type_complexity)]
    fn bias_silu_forward_keep(
        x: FloatTensor<Self>,
        bias: FloatTensor<Self>,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>);

    /// The gradient of [`HostKernels::add_bias`] with respect to its bias: `grad`'s column
    /// sums, bit for bit the backend's own `sum_dim(grad, 0)` (what burn's broadcasting add
    /// gives its bias).
    fn bias_grad(grad: FloatTensor<Self>) -> FloatTensor<Self>;

    /// The table rows that [`FusedOps::fused_token_sum`] adds for `[rows, tokens]` ids (see
    /// [`host::token_rows`]).
    fn token_rows(ids: FloatTensor<Self>, vocabulary: usize) -> Vec<usize>;

    /// Row `r`: the sum of the table's rows `rows[r·tokens..(r + 1)·tokens]`.
    fn token_sum_forward(
        table: FloatTensor<Self>,
        rows: &[usize],
        tokens: usize,
    ) -> FloatTensor<Self>;

    /// The gradient of [`HostKernels::token_sum_forward`] with respect to its table of
    /// `table_rows` rows.
    fn token_sum_backward(
        grad: FloatTensor<Self>,
        rows: &[usize],
        tokens: usize,
        table_rows: usize,
    ) -> FloatTensor<Self>;

    /// The columns `columns` of a matrix, in that order.
    fn select_columns(x: FloatTensor<Self>, columns: &[usize]) -> FloatTensor<Self>;

    /// The gradient of [`HostKernels::select_columns`] with respect to its matrix of `cols`
    /// columns.
    fn select_columns_backward(
        grad: FloatTensor<Self>,
        cols: usize,
        columns: &[usize],
    ) -> FloatTensor<Self>;

    /// A 2-D convolution of `[n·period, C_in]` images through a `[window·C_in, C_out]`
    /// weight (see [`windows::conv_forward`]).
    fn conv2d_forward(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        windows: &Windows,
    ) -> FloatTensor<Self>;

    /// The gradients of [`HostKernels::conv2d_forward`] with respect to the images (where
    /// `want_x`) and the weight.
    fn conv2d_backward(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        windows: &Windows,
        want_x: bool,
    ) -> (Option<FloatTensor<Self>>, FloatTensor<Self>);

    /// Each window's largest value per channel, and the input element each came from.
    fn window_max(x: FloatTensor<Self>, windows: &Windows) -> (FloatTensor<Self>, Vec<usize>);

    /// The gradient of [`HostKernels::window_max`] with respect to its `shape` input.
    fn window_max_backward(
        grad: FloatTensor<Self>,
        from: &[usize],
        shape: [usize; 2],
    ) -> FloatTensor<Self>;

    /// Each window's mean per channel, padding counted as zeros.
    fn window_mean(x: FloatTensor<Self>, windows: &Windows) -> FloatTensor<Self>;

    /// The gradient of [`HostKernels::window_mean`] with respect to its input.
    fn window_mean_backward(grad: FloatTensor<Self>, windows: &Windows) -> FloatTensor<Self>;
}

/// Checks that every one of `columns` is a column of `x`.
fn check_columns<B: Backend>(x: &FloatTensor<B>, columns: &[usize]) {
    let shape = x.shape();
    let cols = shape[shape.num_dims() - 1];
    if let Some(c) = columns.iter().find(|&&c| c >= cols) {
        panic!("bimt-kernels: column {c} selected from a matrix of {cols} columns");
    }
}

/// Checks that `x` holds whole images and that `weight` has a row per tap and channel.
fn check_conv<B: Backend>(x: &FloatTensor<B>, weight: &FloatTensor<B>, windows: &Windows) {
    check_images::<B>(x, windows);
    let (channels, shape) = (x.shape()[1], weight.shape());
    assert!(
        shape.num_dims() == 2 && shape[0] == windows.window * channels,
        "bimt-kernels: conv2d: the weight has shape {shape:?}, expected {} rows (a window of {} \
         x {channels} channels)",
        windows.window * channels,
        windows.window
    );
}

/// Checks that `x` is a matrix of whole images of the windows' pixels.
fn check_images<B: Backend>(x: &FloatTensor<B>, windows: &Windows) {
    let shape = x.shape();
    assert!(
        shape.num_dims() == 2 && windows.period > 0 && shape[0].is_multiple_of(windows.period),
        "bimt-kernels: a window op over images of {} pixels got a tensor of shape {shape:?}",
        windows.period
    );
}

/// The rows a token sum adds and the tokens per row, from its table and `[rows, tokens]` ids.
fn token_sum_rows<B: HostKernels>(
    table: &FloatTensor<B>,
    ids: FloatTensor<B>,
) -> (Vec<usize>, usize) {
    let ids_shape = ids.shape();
    let table_rows = table.shape()[0];
    let tokens = ids_shape[ids_shape.num_dims() - 1];
    assert!(
        tokens > 0 && table_rows.is_multiple_of(tokens),
        "bimt-kernels: a token sum's table of {table_rows} rows is not {tokens} blocks of equal size"
    );
    (B::token_rows(ids, table_rows / tokens), tokens)
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
            fn fused_matmul(lhs: FloatTensor<Self>, rhs: FloatTensor<Self>) -> FloatTensor<Self> {
                Self::matrix_product(lhs, false, rhs, false)
            }
            fn fused_add_bias(x: FloatTensor<Self>, bias: FloatTensor<Self>) -> FloatTensor<Self> {
                Self::add_bias(x, bias)
            }
            fn fused_silu_with_bias(
                x: FloatTensor<Self>,
                bias: FloatTensor<Self>,
            ) -> FloatTensor<Self> {
                Self::silu_forward(Self::add_bias(x, bias))
            }
            fn fused_token_sum(
                table: FloatTensor<Self>,
                ids: FloatTensor<Self>,
            ) -> FloatTensor<Self> {
                let (rows, tokens) = token_sum_rows::<Self>(&table, ids);
                Self::token_sum_forward(table, &rows, tokens)
            }
            fn fused_select_columns(
                x: FloatTensor<Self>,
                columns: Arc<[usize]>,
            ) -> FloatTensor<Self> {
                check_columns::<Self>(&x, &columns);
                Self::select_columns(x, &columns)
            }
            fn fused_conv2d(
                x: FloatTensor<Self>,
                weight: FloatTensor<Self>,
                windows: Arc<Windows>,
            ) -> FloatTensor<Self> {
                check_conv::<Self>(&x, &weight, &windows);
                Self::conv2d_forward(x, weight, &windows)
            }
            fn fused_window_max(x: FloatTensor<Self>, windows: Arc<Windows>) -> FloatTensor<Self> {
                check_images::<Self>(&x, &windows);
                Self::window_max(x, &windows).0
            }
            fn fused_window_mean(
                x: FloatTensor<Self>,
                windows: Arc<Windows>,
            ) -> FloatTensor<Self> {
                check_images::<Self>(&x, &windows);
                Self::window_mean(x, &windows)
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

/// Backward step of a matrix product; its state is the left factor where the right one wants
/// a gradient, and the right factor where the left one does.
#[derive(Debug)]
struct MatmulBackward;

impl<B: HostKernels> Backward<B, 2> for MatmulBackward {
    type State = (Option<FloatTensor<B>>, Option<FloatTensor<B>>);

    fn backward(
        self,
        ops: Ops<Self::State, 2>,
        grads: &mut Gradients,
        _checkpointer: &mut Checkpointer,
    ) {
        let (lhs, rhs) = ops.state;
        binary::<B, _, _>(
            ops.parents,
            ops.node,
            grads,
            |grad| {
                let rhs = rhs.expect("the right factor, kept for the left one's gradient");
                B::matrix_product(grad, false, rhs, true)
            },
            |grad| {
                let lhs = lhs.expect("the left factor, kept for the right one's gradient");
                B::matrix_product(lhs, true, grad, false)
            },
        );
    }
}

/// Backward step of a bias sum: the gradient passes to the matrix unchanged, and its column
/// sums go to the bias.
#[derive(Debug)]
struct AddBiasBackward;

impl<B: HostKernels> Backward<B, 2> for AddBiasBackward {
    type State = ();

    fn backward(
        self,
        ops: Ops<Self::State, 2>,
        grads: &mut Gradients,
        _checkpointer: &mut Checkpointer,
    ) {
        binary::<B, _, _>(ops.parents, ops.node, grads, |grad| grad, B::bias_grad);
    }
}

/// Backward step of a SiLU of a biased product; its state is the biased product `z` and
/// `σ(z)`. The gradient of `z` goes to the product, its column sums to the bias: what the
/// backward steps of [`silu`] and [`add_bias`] give, one after the other.
#[derive(Debug)]
struct SiluWithBiasBackward;

impl<B: HostKernels> Backward<B, 2> for SiluWithBiasBackward {
    type State = (FloatTensor<B>, FloatTensor<B>);

    fn backward(
        self,
        ops: Ops<Self::State, 2>,
        grads: &mut Gradients,
        _checkpointer: &mut Checkpointer,
    ) {
        let [node_x, node_bias] = ops.parents;
        let grad = grads.consume::<B>(&ops.node);
        let (z, sigma) = ops.state;
        let grad_z = B::silu_backward(z, sigma, grad);
        if let Some(node) = node_bias {
            grads.register::<B>(node.id, B::bias_grad(grad_z.clone()));
        }
        if let Some(node) = node_x {
            grads.register::<B>(node.id, grad_z);
        }
    }
}

/// Backward step of a token sum; its state is the table rows each row of the sum took, the
/// tokens per row and the table's rows.
#[derive(Debug)]
struct TokenSumBackward;

impl<B: HostKernels> Backward<B, 1> for TokenSumBackward {
    type State = (Vec<usize>, usize, usize);

    fn backward(
        self,
        ops: Ops<Self::State, 1>,
        grads: &mut Gradients,
        _checkpointer: &mut Checkpointer,
    ) {
        let (rows, tokens, table_rows) = ops.state;
        unary::<B, _>(ops.parents, ops.node, grads, |grad| {
            B::token_sum_backward(grad, &rows, tokens, table_rows)
        });
    }
}

/// Backward step of a column selection; its state is the columns and the matrix's width.
#[derive(Debug)]
struct SelectColumnsBackward;

impl<B: HostKernels> Backward<B, 1> for SelectColumnsBackward {
    type State = (Arc<[usize]>, usize);

    fn backward(
        self,
        ops: Ops<Self::State, 1>,
        grads: &mut Gradients,
        _checkpointer: &mut Checkpointer,
    ) {
        let (columns, cols) = ops.state;
        unary::<B, _>(ops.parents, ops.node, grads, |grad| {
            B::select_columns_backward(grad, cols, &columns)
        });
    }
}

/// Backward step of a convolution; its state is the images, the weight, the windows and
/// whether the images want a gradient.
#[derive(Debug)]
struct Conv2dBackward;

impl<B: HostKernels> Backward<B, 2> for Conv2dBackward {
    type State = (FloatTensor<B>, FloatTensor<B>, Arc<Windows>);

    fn backward(
        self,
        ops: Ops<Self::State, 2>,
        grads: &mut Gradients,
        _checkpointer: &mut Checkpointer,
    ) {
        let [node_x, node_weight] = ops.parents;
        let grad = grads.consume::<B>(&ops.node);
        let (x, weight, windows) = ops.state;
        let (dx, dw) = B::conv2d_backward(x, weight, grad, &windows, node_x.is_some());
        if let Some(node) = node_weight {
            grads.register::<B>(node.id, dw);
        }
        if let (Some(node), Some(dx)) = (node_x, dx) {
            grads.register::<B>(node.id, dx);
        }
    }
}

/// Backward step of a max pool; its state is the input element each output came from and the
/// input's shape.
#[derive(Debug)]
struct WindowMaxBackward;

impl<B: HostKernels> Backward<B, 1> for WindowMaxBackward {
    type State = (Vec<usize>, [usize; 2]);

    fn backward(
        self,
        ops: Ops<Self::State, 1>,
        grads: &mut Gradients,
        _checkpointer: &mut Checkpointer,
    ) {
        let (from, shape) = ops.state;
        unary::<B, _>(ops.parents, ops.node, grads, |grad| {
            B::window_max_backward(grad, &from, shape)
        });
    }
}

/// Backward step of an average pool; its state is the windows.
#[derive(Debug)]
struct WindowMeanBackward;

impl<B: HostKernels> Backward<B, 1> for WindowMeanBackward {
    type State = Arc<Windows>;

    fn backward(
        self,
        ops: Ops<Self::State, 1>,
        grads: &mut Gradients,
        _checkpointer: &mut Checkpointer,
    ) {
        let windows = ops.state;
        unary::<B, _>(ops.parents, ops.node, grads, |grad| {
            B::window_mean_backward(grad, &windows)
        });
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

    fn fused_matmul(lhs: FloatTensor<Self>, rhs: FloatTensor<Self>) -> FloatTensor<Self> {
        let (lhs_tracked, rhs_tracked) = (lhs.is_tracked(), rhs.is_tracked());
        match MatmulBackward
            .prepare::<C>([lhs.node(), rhs.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let (lhs, rhs) = (lhs.into_primitive(), rhs.into_primitive());
                let state = (
                    rhs_tracked.then(|| lhs.clone()),
                    lhs_tracked.then(|| rhs.clone()),
                );
                prep.finish(state, B::matrix_product(lhs, false, rhs, false))
            }
            OpsKind::UnTracked(prep) => prep.finish(B::matrix_product(
                lhs.into_primitive(),
                false,
                rhs.into_primitive(),
                false,
            )),
        }
    }

    fn fused_add_bias(x: FloatTensor<Self>, bias: FloatTensor<Self>) -> FloatTensor<Self> {
        match AddBiasBackward
            .prepare::<C>([x.node(), bias.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                prep.finish((), B::add_bias(x.into_primitive(), bias.into_primitive()))
            }
            OpsKind::UnTracked(prep) => {
                prep.finish(B::add_bias(x.into_primitive(), bias.into_primitive()))
            }
        }
    }

    fn fused_silu_with_bias(x: FloatTensor<Self>, bias: FloatTensor<Self>) -> FloatTensor<Self> {
        match SiluWithBiasBackward
            .prepare::<C>([x.node(), bias.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let (y, z, sigma) =
                    B::bias_silu_forward_keep(x.into_primitive(), bias.into_primitive());
                prep.finish((z, sigma), y)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::silu_forward(B::add_bias(
                x.into_primitive(),
                bias.into_primitive(),
            ))),
        }
    }

    fn fused_token_sum(table: FloatTensor<Self>, ids: FloatTensor<Self>) -> FloatTensor<Self> {
        let node = table.node();
        let table = table.into_primitive();
        let table_rows = table.shape()[0];
        let (rows, tokens) = token_sum_rows::<B>(&table, ids.into_primitive());
        let sum = B::token_sum_forward(table, &rows, tokens);
        match TokenSumBackward
            .prepare::<C>([node])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => prep.finish((rows, tokens, table_rows), sum),
            OpsKind::UnTracked(prep) => prep.finish(sum),
        }
    }

    fn fused_select_columns(x: FloatTensor<Self>, columns: Arc<[usize]>) -> FloatTensor<Self> {
        let node = x.node();
        let x = x.into_primitive();
        check_columns::<B>(&x, &columns);
        let cols = x.shape()[1];
        let y = B::select_columns(x, &columns);
        match SelectColumnsBackward
            .prepare::<C>([node])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => prep.finish((columns, cols), y),
            OpsKind::UnTracked(prep) => prep.finish(y),
        }
    }

    fn fused_conv2d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        windows: Arc<Windows>,
    ) -> FloatTensor<Self> {
        match Conv2dBackward
            .prepare::<C>([x.node(), weight.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let (x, weight) = (x.into_primitive(), weight.into_primitive());
                check_conv::<B>(&x, &weight, &windows);
                let y = B::conv2d_forward(x.clone(), weight.clone(), &windows);
                prep.finish((x, weight, windows), y)
            }
            OpsKind::UnTracked(prep) => {
                let (x, weight) = (x.into_primitive(), weight.into_primitive());
                check_conv::<B>(&x, &weight, &windows);
                prep.finish(B::conv2d_forward(x, weight, &windows))
            }
        }
    }

    fn fused_window_max(x: FloatTensor<Self>, windows: Arc<Windows>) -> FloatTensor<Self> {
        let node = x.node();
        let x = x.into_primitive();
        check_images::<B>(&x, &windows);
        let shape = [x.shape()[0], x.shape()[1]];
        let (y, from) = B::window_max(x, &windows);
        match WindowMaxBackward
            .prepare::<C>([node])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => prep.finish((from, shape), y),
            OpsKind::UnTracked(prep) => prep.finish(y),
        }
    }

    fn fused_window_mean(x: FloatTensor<Self>, windows: Arc<Windows>) -> FloatTensor<Self> {
        let node = x.node();
        let x = x.into_primitive();
        check_images::<B>(&x, &windows);
        let y = B::window_mean(x, &windows);
        match WindowMeanBackward
            .prepare::<C>([node])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => prep.finish(windows, y),
            OpsKind::UnTracked(prep) => prep.finish(y),
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

/// `lhs·rhs` for matrices: burn's `matmul` with the same products (the same `gemm` calls as
/// burn's Flex backend, so the same bits), written straight into a new tensor each way instead
/// of a zeroed one that is then copied.
pub fn matmul(lhs: Tensor<2>, rhs: Tensor<2>) -> Tensor<2> {
    Tensor::from_dispatch(<Dispatch as FusedOps>::fused_matmul(
        lhs.into_dispatch(),
        rhs.into_dispatch(),
    ))
}

/// `x + bias` for a `[rows, cols]` matrix and a `[1, cols]` bias row: burn's broadcasting
/// `x + bias` (the same sums, and for the bias's gradient the same column sums as burn's
/// `sum_dim`), written into `x`'s own values where nothing else holds them (the fresh output
/// of a matrix product) instead of a new tensor. Differentiable in both.
///
/// # Panics
///
/// When `bias` is not `[1, cols]`.
pub fn add_bias(x: Tensor<2>, bias: Tensor<2>) -> Tensor<2> {
    Tensor::from_dispatch(<Dispatch as FusedOps>::fused_add_bias(
        x.into_dispatch(),
        bias.into_dispatch(),
    ))
}

/// SiLU of `x + bias` (a `[1, cols]` bias row): [`silu`] of [`add_bias`] as one op, the
/// bias added into `x`'s own values where nothing else holds them and the SiLU taken over
/// them, one autodiff node and no intermediate tensor. The same values and gradients, bit for
/// bit, as the two ops. Differentiable in both.
///
/// # Panics
///
/// When `bias` is not `[1, cols]`.
pub fn silu_with_bias(x: Tensor<2>, bias: Tensor<2>) -> Tensor<2> {
    Tensor::from_dispatch(<Dispatch as FusedOps>::fused_silu_with_bias(
        x.into_dispatch(),
        bias.into_dispatch(),
    ))
}

/// Sums of token embeddings. For a table of `tokens` blocks of `vocabulary` rows
/// (`[tokens·vocabulary, width]`) and `[rows, tokens]` token ids (whole numbers, as floats),
/// row `r` of the result is `Σ_t table[t·vocabulary + ids[r, t]]`, summed in token order:
/// what a `select` per token and their sum give, in one pass each way. Differentiable in the
/// table.
///
/// # Panics
///
/// When an id is not a whole number in `0..vocabulary`, or the table's rows are not `tokens`
/// equal blocks.
pub fn token_sum(table: Tensor<2>, ids: Tensor<2>) -> Tensor<2> {
    Tensor::from_dispatch(<Dispatch as FusedOps>::fused_token_sum(
        table.into_dispatch(),
        ids.into_dispatch(),
    ))
}

/// Token ids through an embedding and a weight matrix: for `[rows, tokens]` token ids (whole
/// numbers, as floats), the embedding `[vocabulary, d]` and the weight `[tokens·d, width]`,
/// the ids' embedding rows, concatenated in token order, times the weight (`[rows, width]`).
///
/// With fewer tokens in the vocabulary than rows, the weight's block of each token position
/// is multiplied into the embedding first and the ids pick rows of that `[vocabulary, width]`
/// table with [`token_sum`]: the same function with `vocabulary` instead of `rows` in the
/// products (modular addition: 59 against 2,785), up to the order of float sums.
/// Differentiable in the embedding and the weight.
///
/// # Panics
///
/// When an id is not a whole number in `0..vocabulary`, or the weight does not have
/// `tokens·d` rows.
pub fn token_product(embedding: Tensor<2>, weight: Tensor<2>, ids: Tensor<2>) -> Tensor<2> {
    let [rows, tokens] = ids.dims();
    let [vocabulary, d] = embedding.dims();
    assert_eq!(
        weight.dims()[0],
        tokens * d,
        "token_product: the weight has {} rows, expected {tokens} tokens x {d}",
        weight.dims()[0]
    );
    if vocabulary < rows {
        let tables = (0..tokens)
            .map(|t| matmul(embedding.clone(), weight.clone().narrow(0, t * d, d)))
            .collect();
        token_sum(Tensor::cat(tables, 0), ids)
    } else {
        matmul(token_rows(embedding, ids), weight)
    }
}

/// The embedding rows of `[rows, tokens]` token ids (whole numbers, as floats), concatenated
/// in token order: `[rows, tokens·d]` for an embedding `[vocabulary, d]`. Differentiable in
/// the embedding.
///
/// # Panics
///
/// When an id is not in `0..vocabulary`.
pub fn token_rows(embedding: Tensor<2>, ids: Tensor<2>) -> Tensor<2> {
    let [rows, tokens] = ids.dims();
    let ids = ids.int();
    let parts = (0..tokens)
        .map(|t| {
            let column = ids.clone().narrow(1, t, 1).reshape([rows]);
            embedding.clone().select(0, column)
        })
        .collect();
    Tensor::cat(parts, 1)
}

/// The columns `columns` of `x`, in that order: burn's `x.select(1, columns)` in one pass each
/// way (burn's takes one element at a time, and its backward pass too). Differentiable in `x`.
///
/// # Panics
///
/// When a column is not one of `x`'s.
pub fn select_columns(x: Tensor<2>, columns: Arc<[usize]>) -> Tensor<2> {
    Tensor::from_dispatch(<Dispatch as FusedOps>::fused_select_columns(
        x.into_dispatch(),
        columns,
    ))
}

/// A 2-D convolution of images stored as `[n·H·W, C_in]` matrices (row `i·H·W + y·W + x` is
/// pixel `(y, x)` of image `i`, a column per channel): each output pixel's window entries
/// gathered side by side (`[n·outputs, window·C_in]`, entry `t` of the window in columns
/// `t·C_in..(t + 1)·C_in`) times `weight` `[window·C_in, C_out]`. Row `t·C_in + i`, column `o`
/// of the weight is PyTorch's `weight[o, i, ky, kx]` for `t = ky·kw + kx`. Differentiable in
/// both.
///
/// # Panics
///
/// When `x`'s rows are not whole images of the windows' pixels, or the weight does not have
/// `window·C_in` rows.
pub fn conv2d(x: Tensor<2>, weight: Tensor<2>, windows: &Arc<Windows>) -> Tensor<2> {
    Tensor::from_dispatch(<Dispatch as FusedOps>::fused_conv2d(
        x.into_dispatch(),
        weight.into_dispatch(),
        windows.clone(),
    ))
}

/// Max pooling of images stored as `[n·H·W, C]` matrices (see [`conv2d`]): each window's
/// largest value per channel, `[n·outputs, C]`. Differentiable in `x`.
///
/// # Panics
///
/// When `x`'s rows are not whole images of the windows' pixels.
pub fn max_pool(x: Tensor<2>, windows: &Arc<Windows>) -> Tensor<2> {
    Tensor::from_dispatch(<Dispatch as FusedOps>::fused_window_max(
        x.into_dispatch(),
        windows.clone(),
    ))
}

/// Average pooling of images stored as `[n·H·W, C]` matrices (see [`conv2d`]): each window's
/// mean per channel, padding counted as zeros, `[n·outputs, C]`. Differentiable in `x`.
///
/// # Panics
///
/// When `x`'s rows are not whole images of the windows' pixels.
pub fn average_pool(x: Tensor<2>, windows: &Arc<Windows>) -> Tensor<2> {
    Tensor::from_dispatch(<Dispatch as FusedOps>::fused_window_mean(
        x.into_dispatch(),
        windows.clone(),
    ))
}
