//! Host access to the tensors of the CPU backends, and the [`HostKernels`] built on it.

// burn 0.22 deprecates ndarray in favour of flex; bimt keeps it selectable.
#![allow(deprecated)]

use burn::backend::ndarray::NdArrayTensor;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Backend, DType, FloatDType, NdArray, Shape, TensorMetadata};
use burn::backend::{Flex, flex::FlexTensor, flex::Layout};
use burn::tensor::{Bytes, TensorData};

use crate::HostKernels;
use crate::host::{self, Real};
use crate::windows::{self, Windows};

/// A backend whose float tensors live in host memory, readable as slices.
pub trait Host: Backend {
    /// The same values in a row-major, contiguous layout (no copy when they already are).
    fn contiguous(x: FloatTensor<Self>) -> FloatTensor<Self>;
    /// The values of a tensor returned by [`Host::contiguous`], in row-major order.
    fn f32s(x: &FloatTensor<Self>) -> &[f32];
    /// The values of a tensor returned by [`Host::contiguous`], in row-major order.
    fn f64s(x: &FloatTensor<Self>) -> &[f64];
    /// A tensor of `shape` holding `values` in row-major order.
    fn from_f32s(values: Vec<f32>, shape: Shape) -> FloatTensor<Self>;
    /// A tensor of `shape` holding `values` in row-major order.
    fn from_f64s(values: Vec<f64>, shape: Shape) -> FloatTensor<Self>;
    /// The `f32` values of a contiguous tensor, to change in place: `None` where the tensor
    /// shares them with another (or the backend cannot tell), so that nothing else sees the
    /// change.
    fn f32s_mut(x: &mut FloatTensor<Self>) -> Option<&mut [f32]>;
    /// The `f64` values of a contiguous tensor, to change in place (see [`Host::f32s_mut`]).
    fn f64s_mut(x: &mut FloatTensor<Self>) -> Option<&mut [f64]>;
    /// The sums over the rows of a matrix, `[1, cols]`: the backend's own `sum_dim(x, 0)`,
    /// bit for bit.
    fn column_sums(x: FloatTensor<Self>) -> FloatTensor<Self>;
}

impl Host for Flex {
    fn contiguous(x: FloatTensor<Self>) -> FloatTensor<Self> {
        if x.is_contiguous() {
            x
        } else {
            x.to_contiguous()
        }
    }
    fn f32s(x: &FloatTensor<Self>) -> &[f32] {
        x.as_slice::<f32>()
            .expect("bimt-kernels: a contiguous f32 Flex tensor")
    }
    fn f64s(x: &FloatTensor<Self>) -> &[f64] {
        x.as_slice::<f64>()
            .expect("bimt-kernels: a contiguous f64 Flex tensor")
    }
    fn from_f32s(values: Vec<f32>, shape: Shape) -> FloatTensor<Self> {
        FlexTensor::new(
            Bytes::from_elems(values),
            Layout::contiguous(shape),
            DType::F32,
        )
    }
    fn from_f64s(values: Vec<f64>, shape: Shape) -> FloatTensor<Self> {
        FlexTensor::new(
            Bytes::from_elems(values),
            Layout::contiguous(shape),
            DType::F64,
        )
    }
    fn f32s_mut(x: &mut FloatTensor<Self>) -> Option<&mut [f32]> {
        if x.dtype() != DType::F32 {
            return None;
        }
        let (start, end) = x.layout().contiguous_offsets()?;
        x.try_storage_mut::<f32>().map(|s| &mut s[start..end])
    }
    fn f64s_mut(x: &mut FloatTensor<Self>) -> Option<&mut [f64]> {
        if x.dtype() != DType::F64 {
            return None;
        }
        let (start, end) = x.layout().contiguous_offsets()?;
        x.try_storage_mut::<f64>().map(|s| &mut s[start..end])
    }
    fn column_sums(x: FloatTensor<Self>) -> FloatTensor<Self> {
        // Flex sums an `f32` matrix's first dimension from zeros, adding the rows in order
        // (`reduce_first_dim_f32`); `host::column_sums` does the same without its aligned
        // scratch and copy. Other types go to Flex itself.
        let shape = x.shape();
        if x.dtype() == DType::F32 && shape.num_dims() == 2 {
            let x = Self::contiguous(x);
            let sums = host::column_sums(Self::f32s(&x), shape[1]);
            return Self::from_f32s(sums, Shape::new([1, shape[1]]));
        }
        backend_sum_rows::<Self>(x)
    }
}

impl Host for NdArray {
    fn contiguous(x: FloatTensor<Self>) -> FloatTensor<Self> {
        let shape = x.shape();
        match x {
            NdArrayTensor::F32(s) if !s.view().is_standard_layout() => {
                Self::from_f32s(s.view().iter().copied().collect(), shape)
            }
            NdArrayTensor::F64(s) if !s.view().is_standard_layout() => {
                Self::from_f64s(s.view().iter().copied().collect(), shape)
            }
            x => x,
        }
    }
    fn f32s(x: &FloatTensor<Self>) -> &[f32] {
        match x {
            NdArrayTensor::F32(s) => s.view().to_slice(),
            _ => None,
        }
        .expect("bimt-kernels: a contiguous f32 NdArray tensor")
    }
    fn f64s(x: &FloatTensor<Self>) -> &[f64] {
        match x {
            NdArrayTensor::F64(s) => s.view().to_slice(),
            _ => None,
        }
        .expect("bimt-kernels: a contiguous f64 NdArray tensor")
    }
    fn from_f32s(values: Vec<f32>, shape: Shape) -> FloatTensor<Self> {
        NdArrayTensor::from_data(TensorData::new(values, shape))
    }
    fn from_f64s(values: Vec<f64>, shape: Shape) -> FloatTensor<Self> {
        NdArrayTensor::from_data(TensorData::new(values, shape))
    }
    fn f32s_mut(_x: &mut FloatTensor<Self>) -> Option<&mut [f32]> {
        None
    }
    fn f64s_mut(_x: &mut FloatTensor<Self>) -> Option<&mut [f64]> {
        None
    }
    fn column_sums(x: FloatTensor<Self>) -> FloatTensor<Self> {
        backend_sum_rows::<Self>(x)
    }
}

/// The backend's own sum over the rows of a matrix.
fn backend_sum_rows<B: Backend>(x: FloatTensor<B>) -> FloatTensor<B> {
    B::float_sum_dim(x, 0)
}

/// [`Real`] types that a [`Host`] backend stores natively.
trait HostReal: Real {
    fn slice<B: Host>(x: &FloatTensor<B>) -> &[Self];
    fn slice_mut<B: Host>(x: &mut FloatTensor<B>) -> Option<&mut [Self]>;
    fn tensor<B: Host>(values: Vec<Self>, shape: Shape) -> FloatTensor<B>;
}

impl HostReal for f32 {
    fn slice<B: Host>(x: &FloatTensor<B>) -> &[Self] {
        B::f32s(x)
    }
    fn slice_mut<B: Host>(x: &mut FloatTensor<B>) -> Option<&mut [Self]> {
        B::f32s_mut(x)
    }
    fn tensor<B: Host>(values: Vec<Self>, shape: Shape) -> FloatTensor<B> {
        B::from_f32s(values, shape)
    }
}

impl HostReal for f64 {
    fn slice<B: Host>(x: &FloatTensor<B>) -> &[Self] {
        B::f64s(x)
    }
    fn slice_mut<B: Host>(x: &mut FloatTensor<B>) -> Option<&mut [Self]> {
        B::f64s_mut(x)
    }
    fn tensor<B: Host>(values: Vec<Self>, shape: Shape) -> FloatTensor<B> {
        B::from_f64s(values, shape)
    }
}

/// `x` cast to `dtype` unless it already has it.
fn cast<B: Backend>(x: FloatTensor<B>, dtype: DType) -> FloatTensor<B> {
    if x.dtype() == dtype {
        x
    } else {
        B::float_cast(x, FloatDType::from(dtype))
    }
}

/// Runs `f` with the elements of `x` (and `y`, cast to `x`'s type) as `f32` or `f64`
/// slices: natively for those types, through an `f32` copy for the others (`f16`, `bf16`).
macro_rules! with_real {
    ($B:ty, $x:expr, $dtype:ident, $f32:expr, $f64:expr) => {{
        let x = $x;
        match x.dtype() {
            DType::F64 => $f64(x),
            DType::F32 => $f32(x),
            $dtype => {
                let out = $f32(cast::<$B>(x, DType::F32));
                cast::<$B>(out, $dtype)
            }
        }
    }};
}

fn silu_forward_typed<B: Host, T: HostReal>(x: FloatTensor<B>) -> FloatTensor<B> {
    let shape = x.shape();
    let x = B::contiguous(x);
    T::tensor::<B>(host::silu_forward(T::slice::<B>(&x)), shape)
}

fn silu_forward_keep_typed<B: Host, T: HostReal>(
    x: FloatTensor<B>,
) -> (FloatTensor<B>, FloatTensor<B>) {
    let shape = x.shape();
    let x = B::contiguous(x);
    let (y, sigma) = host::silu_forward_keep(T::slice::<B>(&x));
    (
        T::tensor::<B>(y, shape.clone()),
        T::tensor::<B>(sigma, shape),
    )
}

fn silu_backward_typed<B: Host, T: HostReal>(
    x: FloatTensor<B>,
    sigma: FloatTensor<B>,
    grad: FloatTensor<B>,
) -> FloatTensor<B> {
    let shape = x.shape();
    let x = B::contiguous(x);
    let sigma = B::contiguous(sigma);
    let grad = B::contiguous(cast::<B>(grad, x.dtype()));
    T::tensor::<B>(
        host::silu_backward(
            T::slice::<B>(&x),
            T::slice::<B>(&sigma),
            T::slice::<B>(&grad),
        ),
        shape,
    )
}

/// GELU on `f32` host values: `x·Φ(x)`, and `Φ(x)` when `keep`.
fn gelu_forward_f32<B: Host>(
    x: FloatTensor<B>,
    keep: bool,
) -> (FloatTensor<B>, Option<FloatTensor<B>>) {
    let shape = x.shape();
    let x = B::contiguous(x);
    if keep {
        let (y, cdf) = host::gelu_forward_keep(B::f32s(&x));
        (
            B::from_f32s(y, shape.clone()),
            Some(B::from_f32s(cdf, shape)),
        )
    } else {
        (B::from_f32s(host::gelu_forward(B::f32s(&x)), shape), None)
    }
}

/// `[rows, cols]` of a matrix.
fn matrix(shape: &Shape, what: &str) -> (usize, usize) {
    assert_eq!(
        shape.num_dims(),
        2,
        "bimt-kernels: {what} wants a matrix, not shape {shape:?}"
    );
    (shape[0], shape[1])
}

fn cross_entropy_forward_typed<B: Host, T: HostReal>(
    logits: FloatTensor<B>,
    targets: FloatTensor<B>,
    keep_probs: bool,
) -> (FloatTensor<B>, Option<FloatTensor<B>>) {
    let shape = logits.shape();
    assert_eq!(
        shape,
        targets.shape(),
        "bimt-kernels: logits and targets differ in shape"
    );
    let (rows, cols) = matrix(&shape, "cross entropy");
    let logits = B::contiguous(logits);
    let targets = B::contiguous(cast::<B>(targets, logits.dtype()));
    let mut probs = keep_probs.then(|| vec![T::ZERO; rows * cols]);
    let loss = host::cross_entropy_forward(
        T::slice::<B>(&logits),
        T::slice::<B>(&targets),
        rows,
        cols,
        probs.as_deref_mut(),
    );
    (
        T::tensor::<B>(vec![loss], Shape::new([1])),
        probs.map(|p| T::tensor::<B>(p, shape)),
    )
}

/// The incoming gradient of the loss (a one-element tensor) over the number of rows.
fn scale<B: Host, T: HostReal>(grad: FloatTensor<B>, dtype: DType, rows: usize) -> T {
    let grad = B::contiguous(cast::<B>(grad, dtype));
    let g = T::slice::<B>(&grad);
    assert_eq!(
        g.len(),
        1,
        "bimt-kernels: the loss gradient has one element"
    );
    T::from_f64(g[0].to_f64() / rows as f64)
}

fn cross_entropy_backward_typed<B: Host, T: HostReal>(
    probs: FloatTensor<B>,
    targets: FloatTensor<B>,
    grad: FloatTensor<B>,
) -> FloatTensor<B> {
    let shape = probs.shape();
    let (rows, cols) = matrix(&shape, "cross entropy");
    let dtype = probs.dtype();
    let probs = B::contiguous(probs);
    let targets = B::contiguous(cast::<B>(targets, dtype));
    let scale = scale::<B, T>(grad, dtype, rows);
    let mut out = vec![T::ZERO; rows * cols];
    host::cross_entropy_backward(
        T::slice::<B>(&probs),
        T::slice::<B>(&targets),
        cols,
        scale,
        &mut out,
    );
    T::tensor::<B>(out, shape)
}

fn cross_entropy_targets_backward_typed<B: Host, T: HostReal>(
    logits: FloatTensor<B>,
    grad: FloatTensor<B>,
) -> FloatTensor<B> {
    let shape = logits.shape();
    let (rows, cols) = matrix(&shape, "cross entropy");
    let dtype = logits.dtype();
    let logits = B::contiguous(logits);
    let scale = scale::<B, T>(grad, dtype, rows);
    let mut out = vec![T::ZERO; rows * cols];
    host::cross_entropy_targets_backward(T::slice::<B>(&logits), cols, scale, &mut out);
    T::tensor::<B>(out, shape)
}

/// `op(lhs)·op(rhs)` on host values, `op` the transpose where asked.
fn matrix_product_typed<B: Host, T: HostReal>(
    lhs: FloatTensor<B>,
    transpose_lhs: bool,
    rhs: FloatTensor<B>,
    transpose_rhs: bool,
) -> FloatTensor<B> {
    let (lhs_rows, lhs_cols) = matrix(&lhs.shape(), "matmul");
    let (rhs_rows, rhs_cols) = matrix(&rhs.shape(), "matmul");
    let dtype = lhs.dtype();
    let lhs = B::contiguous(lhs);
    let rhs = B::contiguous(cast::<B>(rhs, dtype));
    let operand = |values, rows, cols, transpose| {
        let m = host::Matrix::row_major(values, rows, cols);
        if transpose { m.transposed() } else { m }
    };
    let a = operand(T::slice::<B>(&lhs), lhs_rows, lhs_cols, transpose_lhs);
    let b = operand(T::slice::<B>(&rhs), rhs_rows, rhs_cols, transpose_rhs);
    let m = if transpose_lhs { lhs_cols } else { lhs_rows };
    let n = if transpose_rhs { rhs_rows } else { rhs_cols };
    T::tensor::<B>(host::matmul(a, b), Shape::new([m, n]))
}

/// `x + bias` for a `[rows, cols]` matrix and a `[1, cols]` bias: into `x`'s own values where
/// nothing else holds them, else into new ones.
fn add_bias_typed<B: Host, T: HostReal>(x: FloatTensor<B>, bias: FloatTensor<B>) -> FloatTensor<B> {
    let shape = x.shape();
    let (_, cols) = matrix(&shape, "a bias sum");
    let bias_shape = bias.shape();
    assert!(
        matrix(&bias_shape, "a bias") == (1, cols),
        "bimt-kernels: a bias of shape {bias_shape:?} added to rows of {cols} columns"
    );
    let bias = B::contiguous(cast::<B>(bias, x.dtype()));
    let mut x = B::contiguous(x);
    if let Some(values) = T::slice_mut::<B>(&mut x) {
        host::add_bias_in_place(values, T::slice::<B>(&bias));
        return x;
    }
    T::tensor::<B>(
        host::add_bias(T::slice::<B>(&x), T::slice::<B>(&bias)),
        shape,
    )
}

/// SiLU of `x + bias`, tracked: `(z·σ(z), z, σ(z))` for `z = x + bias`, with `z` written into
/// `x`'s own values where nothing else holds them (see [`add_bias_typed`]).
fn bias_silu_forward_keep_typed<B: Host, T: HostReal>(
    x: FloatTensor<B>,
    bias: FloatTensor<B>,
) -> (FloatTensor<B>, FloatTensor<B>, FloatTensor<B>) {
    let shape = x.shape();
    let z = add_bias_typed::<B, T>(x, bias);
    let (y, sigma) = host::silu_forward_keep(T::slice::<B>(&z));
    (
        T::tensor::<B>(y, shape.clone()),
        z,
        T::tensor::<B>(sigma, shape),
    )
}

fn token_rows_typed<B: Host, T: HostReal>(ids: FloatTensor<B>, vocabulary: usize) -> Vec<usize> {
    let (_, tokens) = matrix(&ids.shape(), "a token sum's ids");
    let ids = B::contiguous(ids);
    host::token_rows(T::slice::<B>(&ids), tokens, vocabulary)
}

fn token_sum_typed<B: Host, T: HostReal>(
    table: FloatTensor<B>,
    rows: &[usize],
    tokens: usize,
) -> FloatTensor<B> {
    let (_, width) = matrix(&table.shape(), "a token sum's table");
    let table = B::contiguous(table);
    let sum = host::token_sum(T::slice::<B>(&table), width, rows, tokens);
    T::tensor::<B>(sum, Shape::new([rows.len() / tokens, width]))
}

fn token_sum_backward_typed<B: Host, T: HostReal>(
    grad: FloatTensor<B>,
    rows: &[usize],
    tokens: usize,
    table_rows: usize,
) -> FloatTensor<B> {
    let (_, width) = matrix(&grad.shape(), "a token sum's gradient");
    let grad = B::contiguous(grad);
    let g = host::token_sum_backward(T::slice::<B>(&grad), width, rows, tokens, table_rows);
    T::tensor::<B>(g, Shape::new([table_rows, width]))
}

fn select_columns_typed<B: Host, T: HostReal>(
    x: FloatTensor<B>,
    columns: &[usize],
) -> FloatTensor<B> {
    let (rows, _) = matrix(&x.shape(), "a column selection");
    let x = B::contiguous(x);
    let out = host::select_columns(T::slice::<B>(&x), rows, columns);
    T::tensor::<B>(out, Shape::new([rows, columns.len()]))
}

fn select_columns_backward_typed<B: Host, T: HostReal>(
    grad: FloatTensor<B>,
    cols: usize,
    columns: &[usize],
) -> FloatTensor<B> {
    let (rows, _) = matrix(&grad.shape(), "a column selection's gradient");
    let grad = B::contiguous(grad);
    let g = host::select_columns_backward(T::slice::<B>(&grad), rows, cols, columns);
    T::tensor::<B>(g, Shape::new([rows, cols]))
}

fn conv2d_forward_typed<B: Host, T: HostReal>(
    x: FloatTensor<B>,
    weight: FloatTensor<B>,
    w: &Windows,
) -> FloatTensor<B> {
    let (rows, channels) = matrix(&x.shape(), "a convolution");
    let (_, out_channels) = matrix(&weight.shape(), "a convolution's weight");
    let weight = B::contiguous(cast::<B>(weight, x.dtype()));
    let x = B::contiguous(x);
    let out = windows::conv_forward(
        T::slice::<B>(&x),
        channels,
        w,
        T::slice::<B>(&weight),
        out_channels,
    );
    let images = rows / w.period;
    T::tensor::<B>(out, Shape::new([images * w.outputs(), out_channels]))
}

fn conv2d_backward_typed<B: Host, T: HostReal>(
    x: FloatTensor<B>,
    weight: FloatTensor<B>,
    grad: FloatTensor<B>,
    w: &Windows,
    want_x: bool,
) -> (Option<FloatTensor<B>>, FloatTensor<B>) {
    let x_shape = x.shape();
    let weight_shape = weight.shape();
    let (_, channels) = matrix(&x_shape, "a convolution");
    let dtype = grad.dtype();
    let x = B::contiguous(cast::<B>(x, dtype));
    let weight = B::contiguous(cast::<B>(weight, dtype));
    let grad = B::contiguous(grad);
    let (dx, dw) = windows::conv_backward(
        T::slice::<B>(&x),
        channels,
        w,
        T::slice::<B>(&weight),
        T::slice::<B>(&grad),
        want_x,
    );
    (
        dx.map(|dx| T::tensor::<B>(dx, x_shape)),
        T::tensor::<B>(dw, weight_shape),
    )
}

fn window_max_typed<B: Host, T: HostReal>(
    x: FloatTensor<B>,
    w: &Windows,
) -> (FloatTensor<B>, Vec<usize>) {
    let (rows, cols) = matrix(&x.shape(), "a max pool");
    let x = B::contiguous(x);
    let (out, from) = windows::max(T::slice::<B>(&x), cols, w);
    let images = rows / w.period;
    let out = T::tensor::<B>(out, Shape::new([images * w.outputs(), cols]));
    (out, from)
}

fn window_max_backward_typed<B: Host, T: HostReal>(
    grad: FloatTensor<B>,
    from: &[usize],
    [rows, cols]: [usize; 2],
) -> FloatTensor<B> {
    let grad = B::contiguous(grad);
    let g = windows::max_backward(T::slice::<B>(&grad), from, rows * cols);
    T::tensor::<B>(g, Shape::new([rows, cols]))
}

fn window_mean_typed<B: Host, T: HostReal>(x: FloatTensor<B>, w: &Windows) -> FloatTensor<B> {
    let (rows, cols) = matrix(&x.shape(), "an average pool");
    let x = B::contiguous(x);
    let out = windows::mean(T::slice::<B>(&x), cols, w);
    let images = rows / w.period;
    T::tensor::<B>(out, Shape::new([images * w.outputs(), cols]))
}

fn window_mean_backward_typed<B: Host, T: HostReal>(
    grad: FloatTensor<B>,
    w: &Windows,
) -> FloatTensor<B> {
    let (rows, cols) = matrix(&grad.shape(), "an average pool's gradient");
    let grad = B::contiguous(grad);
    let g = windows::mean_backward(T::slice::<B>(&grad), cols, w);
    let images = rows / w.outputs().max(1);
    T::tensor::<B>(g, Shape::new([images * w.period, cols]))
}

impl<B: Host> HostKernels for B {
    fn silu_forward(x: FloatTensor<Self>) -> FloatTensor<Self> {
        with_real!(
            B,
            x,
            other,
            silu_forward_typed::<B, f32>,
            silu_forward_typed::<B, f64>
        )
    }

    fn silu_forward_keep(x: FloatTensor<Self>) -> (FloatTensor<Self>, FloatTensor<Self>) {
        match x.dtype() {
            DType::F64 => silu_forward_keep_typed::<B, f64>(x),
            DType::F32 => silu_forward_keep_typed::<B, f32>(x),
            other => {
                let (y, sigma) = silu_forward_keep_typed::<B, f32>(cast::<B>(x, DType::F32));
                (cast::<B>(y, other), cast::<B>(sigma, other))
            }
        }
    }

    fn silu_backward(
        x: FloatTensor<Self>,
        sigma: FloatTensor<Self>,
        grad: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        with_real!(
            B,
            x,
            other,
            |x| silu_backward_typed::<B, f32>(x, cast::<B>(sigma, DType::F32), grad),
            |x| silu_backward_typed::<B, f64>(x, sigma, grad)
        )
    }

    fn gelu_with_cdf(
        x: FloatTensor<Self>,
        keep_cdf: bool,
    ) -> (FloatTensor<Self>, Option<FloatTensor<Self>>) {
        match x.dtype() {
            DType::F32 => gelu_forward_f32::<B>(x, keep_cdf),
            _ => (B::gelu(x), None),
        }
    }

    fn gelu_grad(
        x: FloatTensor<Self>,
        cdf: Option<FloatTensor<Self>>,
        grad: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        let Some(cdf) = cdf else {
            return B::gelu_backward(x, grad);
        };
        let shape = x.shape();
        let x = B::contiguous(x);
        let cdf = B::contiguous(cdf);
        let grad = B::contiguous(cast::<B>(grad, DType::F32));
        B::from_f32s(
            host::gelu_backward(B::f32s(&x), B::f32s(&cdf), B::f32s(&grad)),
            shape,
        )
    }

    fn cross_entropy_forward(
        logits: FloatTensor<Self>,
        targets: FloatTensor<Self>,
        keep_probs: bool,
    ) -> (FloatTensor<Self>, Option<FloatTensor<Self>>) {
        match logits.dtype() {
            DType::F64 => cross_entropy_forward_typed::<B, f64>(logits, targets, keep_probs),
            DType::F32 => cross_entropy_forward_typed::<B, f32>(logits, targets, keep_probs),
            other => {
                let (loss, probs) = cross_entropy_forward_typed::<B, f32>(
                    cast::<B>(logits, DType::F32),
                    targets,
                    keep_probs,
                );
                (cast::<B>(loss, other), probs.map(|p| cast::<B>(p, other)))
            }
        }
    }

    fn cross_entropy_backward(
        probs: FloatTensor<Self>,
        targets: FloatTensor<Self>,
        grad: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        with_real!(
            B,
            probs,
            other,
            |p| cross_entropy_backward_typed::<B, f32>(p, targets, grad),
            |p| cross_entropy_backward_typed::<B, f64>(p, targets, grad)
        )
    }

    fn cross_entropy_targets_backward(
        logits: FloatTensor<Self>,
        grad: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        with_real!(
            B,
            logits,
            other,
            |l| cross_entropy_targets_backward_typed::<B, f32>(l, grad),
            |l| cross_entropy_targets_backward_typed::<B, f64>(l, grad)
        )
    }

    fn matrix_product(
        lhs: FloatTensor<Self>,
        transpose_lhs: bool,
        rhs: FloatTensor<Self>,
        transpose_rhs: bool,
    ) -> FloatTensor<Self> {
        with_real!(
            B,
            lhs,
            other,
            |lhs| matrix_product_typed::<B, f32>(lhs, transpose_lhs, rhs, transpose_rhs),
            |lhs| matrix_product_typed::<B, f64>(lhs, transpose_lhs, rhs, transpose_rhs)
        )
    }

    fn add_bias(x: FloatTensor<Self>, bias: FloatTensor<Self>) -> FloatTensor<Self> {
        with_real!(B, x, other, |x| add_bias_typed::<B, f32>(x, bias), |x| {
            add_bias_typed::<B, f64>(x, bias)
        })
    }

    fn bias_silu_forward_keep(
        x: FloatTensor<Self>,
        bias: FloatTensor<Self>,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        match x.dtype() {
            DType::F64 => bias_silu_forward_keep_typed::<B, f64>(x, bias),
            DType::F32 => bias_silu_forward_keep_typed::<B, f32>(x, bias),
            other => {
                let (y, z, sigma) =
                    bias_silu_forward_keep_typed::<B, f32>(cast::<B>(x, DType::F32), bias);
                (
                    cast::<B>(y, other),
                    cast::<B>(z, other),
                    cast::<B>(sigma, other),
                )
            }
        }
    }

    fn bias_grad(grad: FloatTensor<Self>) -> FloatTensor<Self> {
        B::column_sums(grad)
    }

    fn token_rows(ids: FloatTensor<Self>, vocabulary: usize) -> Vec<usize> {
        match ids.dtype() {
            DType::F64 => token_rows_typed::<B, f64>(ids, vocabulary),
            DType::F32 => token_rows_typed::<B, f32>(ids, vocabulary),
            _ => token_rows_typed::<B, f32>(cast::<B>(ids, DType::F32), vocabulary),
        }
    }

    fn token_sum_forward(
        table: FloatTensor<Self>,
        rows: &[usize],
        tokens: usize,
    ) -> FloatTensor<Self> {
        with_real!(
            B,
            table,
            other,
            |table| token_sum_typed::<B, f32>(table, rows, tokens),
            |table| token_sum_typed::<B, f64>(table, rows, tokens)
        )
    }

    fn token_sum_backward(
        grad: FloatTensor<Self>,
        rows: &[usize],
        tokens: usize,
        table_rows: usize,
    ) -> FloatTensor<Self> {
        with_real!(
            B,
            grad,
            other,
            |grad| token_sum_backward_typed::<B, f32>(grad, rows, tokens, table_rows),
            |grad| token_sum_backward_typed::<B, f64>(grad, rows, tokens, table_rows)
        )
    }

    fn select_columns(x: FloatTensor<Self>, columns: &[usize]) -> FloatTensor<Self> {
        with_real!(
            B,
            x,
            other,
            |x| select_columns_typed::<B, f32>(x, columns),
            |x| select_columns_typed::<B, f64>(x, columns)
        )
    }

    fn select_columns_backward(
        grad: FloatTensor<Self>,
        cols: usize,
        columns: &[usize],
    ) -> FloatTensor<Self> {
        with_real!(
            B,
            grad,
            other,
            |grad| select_columns_backward_typed::<B, f32>(grad, cols, columns),
            |grad| select_columns_backward_typed::<B, f64>(grad, cols, columns)
        )
    }

    fn conv2d_forward(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        windows: &Windows,
    ) -> FloatTensor<Self> {
        with_real!(
            B,
            x,
            other,
            |x| conv2d_forward_typed::<B, f32>(x, weight, windows),
            |x| conv2d_forward_typed::<B, f64>(x, weight, windows)
        )
    }

    fn conv2d_backward(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        windows: &Windows,
        want_x: bool,
    ) -> (Option<FloatTensor<Self>>, FloatTensor<Self>) {
        match grad.dtype() {
            DType::F64 => conv2d_backward_typed::<B, f64>(x, weight, grad, windows, want_x),
            DType::F32 => conv2d_backward_typed::<B, f32>(x, weight, grad, windows, want_x),
            other => {
                let grad = cast::<B>(grad, DType::F32);
                let (dx, dw) = conv2d_backward_typed::<B, f32>(x, weight, grad, windows, want_x);
                (dx.map(|dx| cast::<B>(dx, other)), cast::<B>(dw, other))
            }
        }
    }

    fn window_max(x: FloatTensor<Self>, windows: &Windows) -> (FloatTensor<Self>, Vec<usize>) {
        match x.dtype() {
            DType::F64 => window_max_typed::<B, f64>(x, windows),
            DType::F32 => window_max_typed::<B, f32>(x, windows),
            other => {
                let (y, from) = window_max_typed::<B, f32>(cast::<B>(x, DType::F32), windows);
                (cast::<B>(y, other), from)
            }
        }
    }

    fn window_max_backward(
        grad: FloatTensor<Self>,
        from: &[usize],
        shape: [usize; 2],
    ) -> FloatTensor<Self> {
        with_real!(
            B,
            grad,
            other,
            |grad| window_max_backward_typed::<B, f32>(grad, from, shape),
            |grad| window_max_backward_typed::<B, f64>(grad, from, shape)
        )
    }

    fn window_mean(x: FloatTensor<Self>, windows: &Windows) -> FloatTensor<Self> {
        with_real!(
            B,
            x,
            other,
            |x| window_mean_typed::<B, f32>(x, windows),
            |x| window_mean_typed::<B, f64>(x, windows)
        )
    }

    fn window_mean_backward(grad: FloatTensor<Self>, windows: &Windows) -> FloatTensor<Self> {
        with_real!(
            B,
            grad,
            other,
            |grad| window_mean_backward_typed::<B, f32>(grad, windows),
            |grad| window_mean_backward_typed::<B, f64>(grad, windows)
        )
    }
}
