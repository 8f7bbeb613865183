//! The convolution and the pools over images stored as `[n·H·W, C]` matrices: values against
//! a loop-by-loop reference, gradients against central finite differences in `f64`, on Flex
//! and NdArray.

use bimt_kernels::{Windows, average_pool, conv2d, max_pool};
use burn::tensor::{DType, Device, Tensor, TensorData};
use std::sync::Arc;

mod common;
use common::devices;

/// Deterministic values in (-1, 1), different for each `salt`.
fn values(n: usize, salt: f64) -> Vec<f64> {
    (0..n)
        .map(|i| ((i as f64 + 1.0) * (0.7548 + salt)).sin())
        .collect()
}

fn tensor(v: &[f64], shape: [usize; 2], device: &Device) -> Tensor<2> {
    Tensor::<2>::from_data(TensorData::new(v.to_vec(), shape), (device, DType::F64))
}

fn host(x: Tensor<2>) -> Vec<f64> {
    x.into_data()
        .convert::<f64>()
        .try_into_vec::<f64>()
        .unwrap()
}

/// The images, `[n, H, W, C]` flattened, with a `[kh·kw·C_in, C_out]` weight: PyTorch's
/// convolution (cross-correlation), written out.
#[allow(clippy::too_many_arguments)]
fn reference_conv(
    x: &[f64],
    [n, h, w, c]: [usize; 4],
    weight: &[f64],
    out_channels: usize,
    kernel: usize,
    stride: usize,
    padding: usize,
) -> Vec<f64> {
    let oh = (h + 2 * padding - kernel) / stride + 1;
    let ow = (w + 2 * padding - kernel) / stride + 1;
    let mut y = vec![0.0; n * oh * ow * out_channels];
    for i in 0..n {
        for oy in 0..oh {
            for ox in 0..ow {
                for o in 0..out_channels {
                    let mut sum = 0.0;
                    for ky in 0..kernel {
                        for kx in 0..kernel {
                            let yy = (oy * stride + ky) as isize - padding as isize;
                            let xx = (ox * stride + kx) as isize - padding as isize;
                            if yy < 0 || xx < 0 || yy >= h as isize || xx >= w as isize {
                                continue;
                            }
                            let pixel = (i * h + yy as usize) * w + xx as usize;
                            for ci in 0..c {
                                let t = ky * kernel + kx;
                                sum += x[pixel * c + ci] * weight[(t * c + ci) * out_channels + o];
                            }
                        }
                    }
                    y[((i * oh + oy) * ow + ox) * out_channels + o] = sum;
                }
            }
        }
    }
    y
}

#[test]
fn conv2d_equals_the_loop_reference() {
    // The last case has more output pixels than the convolution's block (512), with blocks
    // that end inside an image.
    for (n, h, w, c, co, k, stride, padding) in [
        (2, 5, 6, 3, 4, 3, 1, 0),
        (2, 5, 6, 3, 4, 3, 1, 1),
        (2, 5, 6, 3, 4, 3, 2, 1),
        (2, 5, 6, 3, 4, 3, 2, 2),
        (3, 15, 17, 2, 3, 5, 1, 2),
    ] {
        let (windows, [oh, ow]) = Windows::square([h, w], k, stride, padding);
        let windows = Arc::new(windows);
        let x = values(n * h * w * c, 0.1);
        let weight = values(k * k * c * co, 0.2);
        let want = reference_conv(&x, [n, h, w, c], &weight, co, k, stride, padding);
        for (name, device) in devices() {
            let y = conv2d(
                tensor(&x, [n * h * w, c], &device),
                tensor(&weight, [k * k * c, co], &device),
                &windows,
            );
            assert_eq!(y.dims(), [n * oh * ow, co], "{name}");
            for (i, (g, r)) in host(y).iter().zip(&want).enumerate() {
                assert!(
                    (g - r).abs() < 1e-10,
                    "{name}, stride {stride}, padding {padding}: [{i}] {g} vs {r}"
                );
            }
        }
    }
}

/// `Σ r·f(x)` and its gradient with respect to each input, checked against central
/// differences of the same sum.
fn check_gradients(
    name: &str,
    inputs: &[(Vec<f64>, [usize; 2])],
    f: &dyn Fn(&[Tensor<2>]) -> Tensor<2>,
    device: &Device,
) {
    let build = |vals: &[Vec<f64>], grad: bool| -> Vec<Tensor<2>> {
        vals.iter()
            .zip(inputs)
            .map(|(v, (_, shape))| {
                let t = tensor(v, *shape, device);
                if grad { t.require_grad() } else { t }
            })
            .collect()
    };
    let base: Vec<Vec<f64>> = inputs.iter().map(|(v, _)| v.clone()).collect();
    let probe = {
        let y = f(&build(&base, false));
        let [rows, cols] = y.dims();
        tensor(&values(rows * cols, 0.3), [rows, cols], device)
    };
    let objective = |vals: &[Vec<f64>]| -> f64 {
        let y = f(&build(vals, false));
        host((y * probe.clone()).sum().reshape([1, 1]))[0]
    };
    let tracked = build(&base, true);
    let grads = (f(&tracked) * probe.clone()).sum().backward();
    let eps = 1e-6;
    for (a, t) in tracked.iter().enumerate() {
        let analytic = host(t.grad(&grads).expect("a gradient"));
        for i in 0..base[a].len() {
            let mut plus = base.clone();
            plus[a][i] += eps;
            let mut minus = base.clone();
            minus[a][i] -= eps;
            let numeric = (objective(&plus) - objective(&minus)) / (2.0 * eps);
            assert!(
                (analytic[i] - numeric).abs() < 1e-6 * (1.0 + numeric.abs()),
                "{name}: input {a}[{i}]: gradient {} vs finite difference {numeric}",
                analytic[i]
            );
        }
    }
}

#[test]
fn conv_and_pool_gradients_match_finite_differences() {
    let (n, h, w, c, co) = (2, 4, 5, 2, 3);
    let (conv, _) = Windows::square([h, w], 3, 2, 1);
    let conv = Arc::new(conv);
    let (pool, _) = Windows::square([h, w], 2, 2, 0);
    let pool = Arc::new(pool);
    let x = (values(n * h * w * c, 0.4), [n * h * w, c]);
    let weight = (values(9 * c * co, 0.5), [9 * c, co]);
    for (name, device) in devices() {
        check_gradients(
            &format!("{name} conv2d"),
            &[x.clone(), weight.clone()],
            &|t| conv2d(t[0].clone(), t[1].clone(), &conv),
            &device,
        );
        check_gradients(
            &format!("{name} max pool"),
            std::slice::from_ref(&x),
            &|t| max_pool(t[0].clone(), &pool),
            &device,
        );
        check_gradients(
            &format!("{name} average pool"),
            std::slice::from_ref(&x),
            &|t| average_pool(t[0].clone(), &pool),
            &device,
        );
    }
}
