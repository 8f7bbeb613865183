//! The backend extension trait. Its own module so that the deprecation of `NdArray` (burn 0.22
//! deprecates it in favour of Flex; bimt keeps it selectable) can be allowed in the code the
//! attribute generates.
#![allow(deprecated)]

use crate::windows::Windows;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Backend, backend_extension};
use std::sync::Arc;

/// The fused ops as a burn backend extension: implemented for `Flex`, `NdArray` and
/// `Autodiff` over either, and reached from a [`Tensor`](burn::tensor::Tensor) through `Dispatch` (see [`silu`](crate::silu) and
/// [`cross_entropy_with_targets`](crate::cross_entropy_with_targets)).
#[backend_extension(Flex, NdArray, Autodiff)]
pub trait FusedOps: Backend {
    /// `x·σ(x)`, element-wise.
    fn fused_silu(x: FloatTensor<Self>) -> FloatTensor<Self>;

    /// `x·Φ(x)`, element-wise (the exact GELU).
    fn fused_gelu(x: FloatTensor<Self>) -> FloatTensor<Self>;

    /// `−Σ targets·log_softmax(logits, 1) / rows` for `[rows, classes]` logits and targets of
    /// the same shape: a one-element tensor.
    fn fused_cross_entropy(
        logits: FloatTensor<Self>,
        targets: FloatTensor<Self>,
    ) -> FloatTensor<Self>;

    /// `lhs·rhs` for matrices.
    fn fused_matmul(lhs: FloatTensor<Self>, rhs: FloatTensor<Self>) -> FloatTensor<Self>;

    /// `x + bias` for a `[rows, cols]` matrix and a `[1, cols]` bias.
    fn fused_add_bias(x: FloatTensor<Self>, bias: FloatTensor<Self>) -> FloatTensor<Self>;

    /// `(x + bias)·σ(x + bias)` for a `[rows, cols]` matrix and a `[1, cols]` bias.
    fn fused_silu_with_bias(x: FloatTensor<Self>, bias: FloatTensor<Self>) -> FloatTensor<Self>;

    /// Row `r`: `Σ_t table[t·vocabulary + ids[r, t]]` for a table of `tokens` blocks of
    /// `vocabulary` rows and `[rows, tokens]` ids (see [`token_sum`](crate::token_sum)).
    fn fused_token_sum(table: FloatTensor<Self>, ids: FloatTensor<Self>) -> FloatTensor<Self>;

    /// The columns `columns` of a matrix, in that order.
    fn fused_select_columns(x: FloatTensor<Self>, columns: Arc<[usize]>) -> FloatTensor<Self>;

    /// A 2-D convolution of `[n·period, C_in]` images through a `[window·C_in, C_out]`
    /// weight: `[n·outputs, C_out]`.
    fn fused_conv2d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        windows: Arc<Windows>,
    ) -> FloatTensor<Self>;

    /// Each window's largest value per channel: `[n·outputs, cols]`.
    fn fused_window_max(x: FloatTensor<Self>, windows: Arc<Windows>) -> FloatTensor<Self>;

    /// Each window's mean per channel, padding counted as zeros: `[n·outputs, cols]`.
    fn fused_window_mean(x: FloatTensor<Self>, windows: Arc<Windows>) -> FloatTensor<Self>;
}
