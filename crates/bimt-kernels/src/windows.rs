//! Sliding windows over images stored as matrices: the gathers behind a convolution (im2col)
//! and pooling, on host slices.
//!
//! An image batch of `n` images, `H×W` pixels and `C` channels is a row-major `[n·H·W, C]`
//! matrix: row `i·H·W + y·W + x` holds pixel `(y, x)` of image `i`, one column per channel.
//! A [`Windows`] lists, for one image, the source pixel of each window entry; the same list
//! serves every image of the batch.

use crate::host::Real;

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

/// Every window entry's pixel, all channels: `[n·index.len(), cols]` from `[n·period, cols]`
/// (zeros for padding). Reshaped to `[n·outputs, window·cols]`, the im2col matrix.
pub fn gather<T: Real>(x: &[T], cols: usize, windows: &Windows) -> Vec<T> {
    let images = windows.images(x.len() / cols.max(1));
    let mut out = Vec::with_capacity(images * windows.index.len() * cols);
    for image in x.chunks_exact((windows.period * cols).max(1)).take(images) {
        for &p in &windows.index {
            if p == PADDING {
                out.resize(out.len() + cols, T::ZERO);
            } else {
                out.extend_from_slice(&image[p * cols..][..cols]);
            }
        }
    }
    out
}

/// The gradient of [`gather`] with respect to its `[n·period, cols]` input: each entry's row of
/// `grad` added into the pixel it was taken from.
pub fn gather_backward<T: Real>(grad: &[T], cols: usize, windows: &Windows) -> Vec<T> {
    let per_image = windows.index.len() * cols;
    let images = grad.len().checked_div(per_image).unwrap_or(0);
    let mut out = vec![T::ZERO; images * windows.period * cols];
    if cols == 0 {
        return out;
    }
    for (image, g) in out
        .chunks_exact_mut(windows.period * cols)
        .zip(grad.chunks_exact(per_image))
    {
        for (&p, g) in windows.index.iter().zip(g.chunks_exact(cols)) {
            if p != PADDING {
                for (o, &v) in image[p * cols..][..cols].iter_mut().zip(g) {
                    *o = *o + v;
                }
            }
        }
    }
    out
}

/// The largest value in each window, per channel: `[n·outputs, cols]`, and for each output
/// element the input element it came from (padding never wins; a window of padding only
/// gives 0 and the index [`PADDING`]).
pub fn max<T: Real>(x: &[T], cols: usize, windows: &Windows) -> (Vec<T>, Vec<usize>) {
    let images = windows.images(x.len() / cols.max(1));
    let size = images * windows.outputs() * cols;
    let (mut out, mut from) = (Vec::with_capacity(size), Vec::with_capacity(size));
    let mut best = vec![T::NEG_INFINITY; cols];
    let mut arg = vec![PADDING; cols];
    for i in 0..images {
        let base = i * windows.period;
        for entries in windows.index.chunks_exact(windows.window) {
            best.fill(T::NEG_INFINITY);
            arg.fill(PADDING);
            for &p in entries.iter().filter(|&&p| p != PADDING) {
                let row = (base + p) * cols;
                for c in 0..cols {
                    let v = x[row + c];
                    // NaN wins, so that it shows downstream as it would in a max.
                    if arg[c] == PADDING || v > best[c] || v.partial_cmp(&v).is_none() {
                        best[c] = v;
                        arg[c] = row + c;
                    }
                }
            }
            for c in 0..cols {
                out.push(if arg[c] == PADDING { T::ZERO } else { best[c] });
            }
            from.extend_from_slice(&arg);
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
    fn gather_and_its_backward_are_adjoint() {
        let (w, _) = Windows::square([4, 5], 3, 1, 1);
        let cols = 2;
        let x: Vec<f64> = (0..2 * 20 * cols)
            .map(|i| (i as f64 * 0.37).sin())
            .collect();
        let g: Vec<f64> = (0..2 * w.index.len() * cols)
            .map(|i| (i as f64 * 0.11).cos())
            .collect();
        let gx = gather(&x, cols, &w);
        let back = gather_backward(&g, cols, &w);
        let lhs: f64 = gx.iter().zip(&g).map(|(a, b)| a * b).sum();
        let rhs: f64 = x.iter().zip(&back).map(|(a, b)| a * b).sum();
        assert!((lhs - rhs).abs() < 1e-9, "{lhs} vs {rhs}");
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
