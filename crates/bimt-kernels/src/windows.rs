//! Sliding windows over images stored as matrices: a convolution (im2col blocks through the
//! fast matrix product) and pooling, on host slices.
//!
//! An image batch of `n` images, `H×W` pixels and `C` channels is a row-major `[n·H·W, C]`
//! matrix: row `i·H·W + y·W + x` holds pixel `(y, x)` of image `i`, one column per channel.
//! A [`Windows`] lists, for one image, the source pixel of each window entry; the same list
//! serves every image of the batch.

use crate::host::{Matrix, Real, matmul_into};

/// A window entry that lies in the zero padding around the image.
pub const PADDING: usize = usize::MAX;

/// The windows of a convolution or a pooling over one image: entry `q·window + t` is the
/// pixel (row of the image, `0..period`) at offset `t` of output pixel `q`'s window, or
/// [`PADDING`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Windows {
    /// The source pixel of every entry, window after window.
    pub index: Vec<usize>,
    /// Pixels per input image (`H·W`).
    pub period: usize,
    /// Entries per window (`kh·kw`).
    pub window: usize,
}

impl Windows {
    /// The `kernel × kernel` windows of an `[height, width]` image taken every `stride` pixels
    /// after `padding` zeros on each side, offsets in row-major order (`t = ky·kernel + kx`),
    /// output pixels likewise; and the output's `[height, width]`.
    ///
    /// # Panics
    ///
    /// When the kernel does not fit the padded image, or `stride` or `kernel` is 0.
    pub fn square(
        [height, width]: [usize; 2],
        kernel: usize,
        stride: usize,
        padding: usize,
    ) -> (Self, [usize; 2]) {
        assert!(
            kernel > 0 && stride > 0,
            "bimt-kernels: a window of {kernel} every {stride}"
        );
        let out = |n: usize| {
            let padded = n + 2 * padding;
            assert!(
                padded >= kernel,
                "bimt-kernels: a {kernel}-pixel window does not fit {n} pixels padded by {padding}"
            );
            (padded - kernel) / stride + 1
        };
        let (oh, ow) = (out(height), out(width));
        let mut index = Vec::with_capacity(oh * ow * kernel * kernel);
        for oy in 0..oh {
            for ox in 0..ow {
                for ky in 0..kernel {
                    for kx in 0..kernel {
                        let y = (oy * stride + ky)
                            .checked_sub(padding)
                            .filter(|&y| y < height);
                        let x = (ox * stride + kx)
                            .checked_sub(padding)
                            .filter(|&x| x < width);
                        index.push(match (y, x) {
                            (Some(y), Some(x)) => y * width + x,
                            _ => PADDING,
                        });
                    }
                }
            }
        }
        let windows = Windows {
            index,
            period: height * width,
            window: kernel * kernel,
        };
        (windows, [oh, ow])
    }

    /// Output pixels per image.
    pub fn outputs(&self) -> usize {
        self.index.len() / self.window
    }

    /// The images in a matrix of `rows` rows.
    fn images(&self, rows: usize) -> usize {
        assert!(
            self.period > 0 && rows.is_multiple_of(self.period),
            "bimt-kernels: {rows} rows are not whole images of {} pixels",
            self.period
        );
        rows / self.period
    }
}

/// Output pixels whose im2col rows are built and multiplied at once: a block small enough to
/// stay in cache and to be reused, instead of one matrix of every window of the batch.
const BLOCK: usize = 512;

/// The im2col rows of output pixels `first..first + rows` (counted over the whole batch) into
/// `cols` (`rows × window·channels`): entry `t` of a window in columns `t·channels..`.
fn im2col_block<T: Real>(
    x: &[T],
    channels: usize,
    windows: &Windows,
    first: usize,
    cols: &mut [T],
) {
    let outputs = windows.outputs();
    let width = windows.window * channels;
    for (r, row) in cols.chunks_exact_mut(width).enumerate() {
        let (image, q) = ((first + r) / outputs, (first + r) % outputs);
        let base = image * windows.period;
        let entries = &windows.index[q * windows.window..][..windows.window];
        if channels == 1 {
            for (out, &p) in row.iter_mut().zip(entries) {
                *out = if p == PADDING { T::ZERO } else { x[base + p] };
            }
            continue;
        }
        for (&p, out) in entries.iter().zip(row.chunks_exact_mut(channels)) {
            if p == PADDING {
                out.fill(T::ZERO);
            } else {
                copy_short(out, &x[(base + p) * channels..][..channels]);
            }
        }
    }
}

/// `out.copy_from_slice(src)` for the few values of one pixel's channels, without a call
/// into `memcpy` per pixel.
#[inline(always)]
fn copy_short<T: Copy>(out: &mut [T], src: &[T]) {
    let mut out = out.chunks_exact_mut(8);
    let mut src = src.chunks_exact(8);
    for (o, s) in (&mut out).zip(&mut src) {
        let s: &[T; 8] = s.try_into().expect("chunks of 8");
        let o: &mut [T; 8] = o.try_into().expect("chunks of 8");
        *o = *s;
    }
    for (o, s) in out.into_remainder().iter_mut().zip(src.remainder()) {
        *o = *s;
    }
}

/// A 2-D convolution: `[n·period, channels]` images through `weight`
/// (`[window·channels, out_channels]`, row `t·channels + i` for tap `t` of channel `i`) into
/// `[n·outputs, out_channels]`, a block of output pixels at a time (im2col and the fast
/// matrix product).
pub fn conv_forward<T: Real>(
    x: &[T],
    channels: usize,
    windows: &Windows,
    weight: &[T],
    out_channels: usize,
) -> Vec<T> {
    let images = windows.images(x.len() / channels.max(1));
    let rows = images * windows.outputs();
    let width = windows.window * channels;
    let mut out = vec![T::ZERO; rows * out_channels];
    let mut cols = vec![T::ZERO; BLOCK.min(rows) * width];
    let w = Matrix::row_major(weight, width, out_channels);
    for first in (0..rows).step_by(BLOCK) {
        let n = BLOCK.min(rows - first);
        let block = &mut cols[..n * width];
        im2col_block(x, channels, windows, first, block);
        let y = &mut out[first * out_channels..][..n * out_channels];
        matmul_into(Matrix::row_major(block, n, width), w, y, false);
    }
    out
}

/// The gradients of [`conv_forward`] from the gradient of its output: with respect to the
/// images (where `want_x`; the im2col gradient of each block added back into the pixels it
/// was taken from) and to the weight (the im2col blocks' transposes times the gradient,
/// summed block by block).
pub fn conv_backward<T: Real>(
    x: &[T],
    channels: usize,
    windows: &Windows,
    weight: &[T],
    grad: &[T],
    want_x: bool,
) -> (Option<Vec<T>>, Vec<T>) {
    let images = windows.images(x.len() / channels.max(1));
    let rows = images * windows.outputs();
    let width = windows.window * channels;
    let out_channels = grad.len() / rows.max(1);
    let outputs = windows.outputs();
    let w = Matrix::row_major(weight, width, out_channels);
    let mut dw = vec![T::ZERO; width * out_channels];
    let mut dx = want_x.then(|| vec![T::ZERO; x.len()]);
    let mut cols = vec![T::ZERO; BLOCK.min(rows) * width];
    let mut dcols = vec![T::ZERO; if want_x { BLOCK.min(rows) * width } else { 0 }];
    for first in (0..rows).step_by(BLOCK) {
        let n = BLOCK.min(rows - first);
        let g = Matrix::row_major(
            &grad[first * out_channels..][..n * out_channels],
            n,
            out_channels,
        );
        let block = &mut cols[..n * width];
        im2col_block(x, channels, windows, first, block);
        let block = Matrix::row_major(&*block, n, width);
        matmul_into(block.transposed(), g, &mut dw, first > 0);
        let Some(dx) = dx.as_mut() else { continue };
        let d = &mut dcols[..n * width];
        matmul_into(g, w.transposed(), d, false);
        for (r, row) in d.chunks_exact(width).enumerate() {
            let (image, q) = ((first + r) / outputs, (first + r) % outputs);
            let base = image * windows.period;
            let entries = &windows.index[q * windows.window..][..windows.window];
            for (&p, g) in entries.iter().zip(row.chunks_exact(channels)) {
                if p != PADDING {
                    let target = &mut dx[(base + p) * channels..][..channels];
                    target.iter_mut().zip(g).for_each(|(o, &v)| *o = *o + v);
                }
            }
        }
    }
    (dx, dw)
}

/// The largest value in each window, per channel: `[n·outputs, cols]`, and for each output
/// element the input element it came from (padding never wins; a window of padding only
/// gives 0 and the index [`PADDING`]).
pub fn max<T: Real>(x: &[T], cols: usize, windows: &Windows) -> (Vec<T>, Vec<usize>) {
    let images = windows.images(x.len() / cols.max(1));
    let size = images * windows.outputs() * cols;
    let (mut out, mut from) = (Vec::with_capacity(size), Vec::with_capacity(size));
    for i in 0..images {
        let base = i * windows.period;
        for entries in windows.index.chunks_exact(windows.window) {
            let start = out.len();
            let mut present = entries.iter().filter(|&&p| p != PADDING);
            let Some(&first) = present.next() else {
                out.resize(start + cols, T::ZERO);
                from.resize(start + cols, PADDING);
                continue;
            };
            let row = (base + first) * cols;
            out.extend_from_slice(&x[row..][..cols]);
            from.extend(row..row + cols);
            let (best, arg) = (&mut out[start..], &mut from[start..]);
            for &p in present {
                let row = (base + p) * cols;
                for (c, &v) in x[row..][..cols].iter().enumerate() {
                    // NaN wins, so that it shows downstream as it would in a max.
                    if v > best[c] || v.partial_cmp(&v).is_none() {
                        best[c] = v;
                        arg[c] = row + c;
                    }
                }
            }
        }
    }
    (out, from)
}

/// The gradient of [`max`] with respect to its input of `len` elements: each output's
/// gradient to the element it came from.
pub fn max_backward<T: Real>(grad: &[T], from: &[usize], len: usize) -> Vec<T> {
    let mut out = vec![T::ZERO; len];
    for (&f, &g) in from.iter().zip(grad) {
        if f != PADDING {
            out[f] = out[f] + g;
        }
    }
    out
}

/// The mean of each window, per channel, padding counted as zeros: `[n·outputs, cols]`.
pub fn mean<T: Real>(x: &[T], cols: usize, windows: &Windows) -> Vec<T> {
    let images = windows.images(x.len() / cols.max(1));
    let scale = T::ONE / T::from_f64(windows.window as f64);
    let mut out = Vec::with_capacity(images * windows.outputs() * cols);
    for image in x.chunks_exact((windows.period * cols).max(1)).take(images) {
        for entries in windows.index.chunks_exact(windows.window) {
            let start = out.len();
            out.resize(start + cols, T::ZERO);
            let sum = &mut out[start..];
            for &p in entries.iter().filter(|&&p| p != PADDING) {
                for (s, &v) in sum.iter_mut().zip(&image[p * cols..][..cols]) {
                    *s = *s + v;
                }
            }
            for s in sum {
                *s = *s * scale;
            }
        }
    }
    out
}

/// The gradient of [`mean`] with respect to its `[n·period, cols]` input.
pub fn mean_backward<T: Real>(grad: &[T], cols: usize, windows: &Windows) -> Vec<T> {
    let per_image = windows.outputs() * cols;
    let images = grad.len().checked_div(per_image).unwrap_or(0);
    let scale = T::ONE / T::from_f64(windows.window as f64);
    let mut out = vec![T::ZERO; images * windows.period * cols];
    if cols == 0 {
        return out;
    }
    for (image, g) in out
        .chunks_exact_mut(windows.period * cols)
        .zip(grad.chunks_exact(per_image))
    {
        for (entries, g) in windows
            .index
            .chunks_exact(windows.window)
            .zip(g.chunks_exact(cols))
        {
            for &p in entries.iter().filter(|&&p| p != PADDING) {
                for (o, &v) in image[p * cols..][..cols].iter_mut().zip(g) {
                    *o = *o + v * scale;
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_of_a_padded_image_follow_the_convolution_arithmetic() {
        // 3x3 image, 2x2 kernel, stride 2, padding 1: outputs (3 + 2 - 2)/2 + 1 = 2 per side.
        let (w, shape) = Windows::square([3, 3], 2, 2, 1);
        assert_eq!(shape, [2, 2]);
        assert_eq!(w.window, 4);
        // Output (0, 0) covers (-1..1, -1..1): only pixel (0, 0) is inside.
        assert_eq!(&w.index[..4], &[PADDING, PADDING, PADDING, 0]);
        // Output (1, 1) covers (1..3, 1..3).
        assert_eq!(&w.index[12..], &[4, 5, 7, 8]);
    }

    #[test]
    fn the_convolution_and_its_backward_pass_are_adjoint() {
        // <conv(x), g> = <x, dx(g)> and, in the weight, <conv_w(x), g> = <w, dw(g)>: both
        // sides are linear. 3 images of 20x21 = 1,260 output pixels: blocks of BLOCK that
        // end inside images.
        let (w, _) = Windows::square([20, 21], 3, 1, 1);
        let (cin, cout) = (2, 3);
        let x: Vec<f64> = (0..3 * 420 * cin)
            .map(|i| (i as f64 * 0.37).sin())
            .collect();
        let weight: Vec<f64> = (0..9 * cin * cout)
            .map(|i| (i as f64 * 0.23).cos())
            .collect();
        let g: Vec<f64> = (0..3 * 420 * cout)
            .map(|i| (i as f64 * 0.11).cos())
            .collect();
        let y = conv_forward(&x, cin, &w, &weight, cout);
        let (dx, dw) = conv_backward(&x, cin, &w, &weight, &g, true);
        let dot = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(a, b)| a * b).sum::<f64>();
        let lhs = dot(&y, &g);
        assert!((lhs - dot(&x, &dx.unwrap())).abs() < 1e-9 * lhs.abs().max(1.0));
        assert!((lhs - dot(&weight, &dw)).abs() < 1e-9 * lhs.abs().max(1.0));
        let (none, dw_alone) = conv_backward(&x, cin, &w, &weight, &g, false);
        assert!(none.is_none());
        assert_eq!(dw_alone, dw);
    }

    #[test]
    fn max_and_mean_pool_two_by_two() {
        let (w, shape) = Windows::square([2, 4], 2, 2, 0);
        assert_eq!(shape, [1, 2]);
        // One channel: rows 1 2 3 4 / 5 6 7 0.
        let x = [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 0.0];
        let (m, from) = max(&x, 1, &w);
        assert_eq!(m, vec![6.0, 7.0]);
        assert_eq!(from, vec![5, 6]);
        assert_eq!(
            max_backward(&[1.0f32, 2.0], &from, 8),
            vec![0., 0., 0., 0., 0., 1., 2., 0.]
        );
        assert_eq!(mean(&x, 1, &w), vec![3.5, 3.5]);
        assert_eq!(
            mean_backward(&[4.0f32, 8.0], 1, &w),
            vec![1., 1., 2., 2., 1., 1., 2., 2.]
        );
    }
}
