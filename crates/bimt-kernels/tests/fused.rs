//! The fused ops against burn's own composition (`activation::silu`, and the cross entropy
//! `−(log_softmax(logits, 1)·targets).sum()/rows` that bimt-tasks used): values within 1e-6
//! and gradients within 1e-5 relative, on Flex and NdArray, with and without autodiff. GELU is
//! held against burn's GELU in `f64`, which is more accurate than burn's in `f32`. The matrix
//! product, the token sum and the column selection equal burn's `matmul` and `select` bit for
//! bit on Flex, values and gradients (NdArray multiplies with another library: within 1e-5).

use bimt_kernels::{
    add_bias, cross_entropy_with_targets, gelu, matmul, select_columns, silu, silu_with_bias,
    token_product, token_rows, token_sum,
};
use burn::tensor::activation::{gelu as burn_gelu, log_softmax, silu as burn_silu};
use burn::tensor::{DType, Device, Distribution, Int, Tensor, TensorData};
use std::sync::Arc;

mod common;
use common::devices;

fn host(x: Tensor<2>) -> Vec<f32> {
    x.into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .unwrap()
}

fn host1(x: Tensor<1>) -> Vec<f32> {
    x.into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .unwrap()
}

/// Asserts `|got − want| ≤ rel·max(|got|, |want|) + abs` element-wise (NaN equal to NaN).
#[track_caller]
fn assert_close(what: &str, got: &[f32], want: &[f32], rel: f32, abs: f32) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        if g.is_nan() && w.is_nan() || g == w {
            continue;
        }
        let tol = rel * g.abs().max(w.abs()) + abs;
        assert!((g - w).abs() <= tol, "{what}[{i}]: {g} vs burn's {w}");
    }
}

/// Inputs across the range: 0, ±80, ±1e4, the subnormal tail of σ and a dense sweep.
fn inputs() -> Vec<f32> {
    let mut x = vec![
        0.0, -0.0, 80.0, -80.0, 1e4, -1e4, 88.0, -88.0, 95.0, -95.0, 1e-3, -1e-3, 1e-30, -1e-30,
        15.0, -15.0, 17.5, -17.5, 30.0, -30.0,
    ];
    x.extend((0..=400).map(|i| -20.0 + i as f32 * 0.1));
    x.extend((0..=200).map(|i| -1.0 + i as f32 * 0.01));
    let pad = (8 - x.len() % 8) % 8;
    x.extend(std::iter::repeat_n(0.5, pad));
    x
}

fn matrix(values: &[f32], cols: usize, device: &Device) -> Tensor<2> {
    Tensor::from_data(
        TensorData::new(values.to_vec(), [values.len() / cols, cols]),
        device,
    )
}

/// Values below this are subnormal products of `x·e^{−|x|}`: compared absolutely.
const TINY: f32 = 1e-37;

#[test]
fn silu_values_match_burn() {
    let x = inputs();
    for (name, device) in devices() {
        for device in [device.clone(), device.without_autodiff()] {
            let t = matrix(&x, 8, &device);
            let got = host(silu(t.clone()));
            let want = host(burn_silu(t));
            assert_close(&format!("{name} silu"), &got, &want, 1e-6, TINY);
        }
    }
}

#[test]
fn silu_special_values() {
    let x = [
        f32::INFINITY,
        f32::NEG_INFINITY,
        f32::NAN,
        1e30,
        -1e30,
        f32::MAX,
        f32::MIN,
        0.0,
    ];
    for (name, device) in devices() {
        let t = matrix(&x, 8, &device).require_grad();
        let y = silu(t.clone());
        let got = host(y.clone());
        assert_eq!(got[0], f32::INFINITY, "{name}");
        assert_eq!(got[1], 0.0, "{name}");
        assert!(got[2].is_nan(), "{name}");
        assert_eq!(got[3], 1e30, "{name}");
        assert_eq!(got[4], 0.0, "{name}");
        assert_eq!(got[5], f32::MAX, "{name}");
        assert_eq!(got[6], 0.0, "{name}");
        assert_eq!(got[7], 0.0, "{name}");
        let grads = y.sum().backward();
        let dx = host(t.grad(&grads).unwrap());
        // The derivative tends to 1 at +∞ and to 0 at −∞.
        assert_eq!(&dx[..2], &[1.0, 0.0], "{name}");
        assert!(dx[2].is_nan(), "{name}");
        assert_eq!(&dx[3..], &[1.0, 0.0, 1.0, 0.0, 0.5], "{name}");
    }
}

#[test]
fn silu_gradients_match_burn() {
    let x = inputs();
    for (name, device) in devices() {
        let weights = Tensor::<2>::random([x.len() / 8, 8], Distribution::Default, &device);
        let grad_of = |f: fn(Tensor<2>) -> Tensor<2>| {
            let t = matrix(&x, 8, &device).require_grad();
            let loss = (f(t.clone()) * weights.clone()).sum();
            host(t.grad(&loss.backward()).unwrap())
        };
        let got = grad_of(silu);
        let want = grad_of(burn_silu);
        assert_close(&format!("{name} silu grad"), &got, &want, 1e-5, TINY);
    }
}

#[test]
fn silu_takes_non_contiguous_inputs() {
    for (name, device) in devices() {
        let t = Tensor::<2>::random([7, 5], Distribution::Normal(0.0, 4.0), &device);
        let transposed = t.clone().transpose();
        let got = host(silu(transposed.clone()));
        let want = host(burn_silu(transposed));
        assert_close(&format!("{name} transposed silu"), &got, &want, 1e-6, TINY);
        let sliced = t.slice([1..6, 2..4]);
        let got = host(silu(sliced.clone()));
        let want = host(burn_silu(sliced));
        assert_close(&format!("{name} sliced silu"), &got, &want, 1e-6, TINY);
    }
}

#[test]
fn silu_keeps_f64() {
    for (name, device) in devices() {
        let x: Vec<f64> = inputs().iter().map(|&v| v as f64).collect();
        let t = Tensor::<2>::from_data(TensorData::new(x.clone(), [x.len() / 8, 8]), &device)
            .cast(DType::F64);
        let y = silu(t);
        assert_eq!(y.dtype(), DType::F64, "{name}");
        let got = y.into_data().try_into_vec::<f64>().unwrap();
        for (&v, &g) in x.iter().zip(&got) {
            let want = v / (1.0 + (-v).exp());
            assert!(
                (g - want).abs() <= 1e-14 * want.abs(),
                "{name} f64 silu({v}): {g}"
            );
        }
    }
}

/// The GELU tolerance at `x`: `rel` relative, widened in the lower tail where `Φ(x)` comes
/// from an exp of `−x²/2` whose `f32` argument carries a rounding error of about `6e-8·x²/2`.
fn gelu_tolerance(x: f32, want: f64, rel: f64) -> f64 {
    (rel + 1.5e-7 * (x as f64).powi(2)) * want.abs() + TINY as f64
}

/// burn's GELU of `x` computed in `f64`, and its gradient against `weights`.
fn burn_gelu_f64(x: &[f32], weights: &Tensor<2>, device: &Device) -> (Vec<f64>, Vec<f64>) {
    let t = matrix(x, 8, device).cast(DType::F64).require_grad();
    let y = burn_gelu(t.clone());
    let loss = (y.clone() * weights.clone().cast(DType::F64)).sum();
    let grad = t.grad(&loss.backward()).unwrap();
    let f64s = |t: Tensor<2>| t.into_data().try_into_vec::<f64>().unwrap();
    (f64s(y), f64s(grad))
}

#[test]
fn gelu_values_and_gradients_match_burn_in_f64() {
    let x = inputs();
    for (name, device) in devices() {
        let weights = Tensor::<2>::random([x.len() / 8, 8], Distribution::Default, &device);
        // The reference is Flex's f64 GELU on both backends: NdArray's f64 GELU gradient
        // departs from it in the lower tail (at x = −5).
        let reference = Device::flex().autodiff();
        let weights_there = Tensor::from_data(weights.to_data(), &reference);
        let (want, want_grad) = burn_gelu_f64(&x, &weights_there, &reference);
        let t = matrix(&x, 8, &device).require_grad();
        let y = gelu(t.clone());
        let scales = host(weights.clone());
        let grad = host(t.grad(&(y.clone() * weights).sum().backward()).unwrap());
        // burn computes 1 + erf(x/√2), which cancels in the lower tail even in f64 (it is 0
        // below x ≈ −8.3): compared down to x = −5, where it keeps 9 digits. The tail itself is
        // held against a series in bimt-kernels' unit tests.
        let compared = |v: f32| v >= -5.0 || v.is_nan();
        for (i, ((&v, &g), &w)) in x.iter().zip(&host(y)).zip(&want).enumerate() {
            let ok = !compared(v) || (g as f64 - w).abs() <= gelu_tolerance(v, w, 1e-6);
            assert!(ok, "{name} gelu({v}) [{i}]: {g} vs {w}");
        }
        // The gradient Φ(x) + x·φ(x) is the difference of two nearly equal terms near
        // x = −0.75: f32 rounding of the terms (up to about 1.2·|weight|) is allowed absolutely.
        for ((&v, &s), (&g, &w)) in x.iter().zip(&scales).zip(grad.iter().zip(&want_grad)) {
            let tol = gelu_tolerance(v, w, 1e-5) + 2e-7 * s.abs() as f64;
            let ok = !compared(v) || (g as f64 - w).abs() <= tol;
            assert!(ok, "{name} gelu'({v}): {g} vs {w}");
        }
    }
}

#[test]
fn gelu_special_values() {
    let x = [
        f32::INFINITY,
        f32::NEG_INFINITY,
        f32::NAN,
        0.0,
        1e30,
        -1e30,
        0.5,
        0.5,
    ];
    for (name, device) in devices() {
        let t = matrix(&x, 8, &device).require_grad();
        let y = gelu(t.clone());
        let got = host(y.clone());
        assert_eq!(got[0], f32::INFINITY, "{name}");
        assert_eq!(got[1], 0.0, "{name}");
        assert!(got[2].is_nan(), "{name}");
        assert_eq!(&got[3..6], &[0.0, 1e30, 0.0], "{name}");
        let dx = host(t.grad(&y.sum().backward()).unwrap());
        // The derivative tends to 1 at +∞ and to 0 at −∞; it is 1/2 at 0.
        assert_eq!(&dx[..2], &[1.0, 0.0], "{name}");
        assert!(dx[2].is_nan(), "{name}");
        assert_eq!(&dx[3..6], &[0.5, 1.0, 0.0], "{name}");
    }
}

#[test]
fn gelu_leaves_f64_to_burn() {
    for (name, device) in devices() {
        let x: Vec<f64> = inputs().iter().map(|&v| v as f64).collect();
        let t = Tensor::<2>::from_data(TensorData::new(x.clone(), [x.len() / 8, 8]), &device)
            .cast(DType::F64);
        let y = gelu(t.clone());
        assert_eq!(y.dtype(), DType::F64, "{name}");
        let ours = y.into_data().try_into_vec::<f64>().unwrap();
        let burns = burn_gelu(t).into_data().try_into_vec::<f64>().unwrap();
        assert_eq!(ours, burns, "{name}");
    }
}

/// The loss bimt-tasks computed before the fused op.
fn composed_cross_entropy(logits: Tensor<2>, targets: Tensor<2>) -> Tensor<1> {
    let [n, _] = logits.dims();
    (log_softmax(logits, 1) * targets)
        .sum()
        .mul_scalar(-1.0 / n as f64)
}

/// Logits of `rows × cols` across the range (incl. ±80, ±1e4), one-hot or soft targets.
fn classification(rows: usize, cols: usize, soft: bool, device: &Device) -> (Tensor<2>, Tensor<2>) {
    let logits = Tensor::<2>::random([rows, cols], Distribution::Normal(0.0, 3.0), device);
    let mut values = host(logits);
    for (i, v) in [80.0, -80.0, 1e4, -1e4, 0.0, 30.0].into_iter().enumerate() {
        if i * cols + i % cols < values.len() {
            values[i * cols + i % cols] = v;
        }
    }
    let logits = matrix(&values, cols, device);
    let targets = if soft {
        let raw = Tensor::<2>::random([rows, cols], Distribution::Uniform(0.0, 1.0), device);
        // Rows that do not sum to one, to exercise the `Σ target` factor of the gradient.
        raw.clone() / raw.sum_dim(1).mul_scalar(0.7)
    } else {
        let mut one_hot = vec![0.0f32; rows * cols];
        for r in 0..rows {
            one_hot[r * cols + (r * 7 + 3) % cols] = 1.0;
        }
        matrix(&one_hot, cols, device)
    };
    (logits, targets)
}

#[test]
fn cross_entropy_values_match_burn() {
    for (name, device) in devices() {
        for device in [device.clone(), device.without_autodiff()] {
            for (rows, cols) in [(1, 1), (3, 2), (200, 2), (64, 59), (33, 24), (5, 17)] {
                for soft in [false, true] {
                    let (logits, targets) = classification(rows, cols, soft, &device);
                    let got = host1(cross_entropy_with_targets(logits.clone(), targets.clone()));
                    let want = host1(composed_cross_entropy(logits, targets));
                    assert_eq!(got.len(), 1);
                    assert_close(
                        &format!("{name} cross entropy {rows}x{cols} soft={soft}"),
                        &got,
                        &want,
                        1e-6,
                        0.0,
                    );
                }
            }
        }
    }
}

/// The exact (f64) gradients of `factor·cross_entropy` with respect to logits and targets.
fn exact_cross_entropy_gradients(
    logits: &[f32],
    targets: &[f32],
    cols: usize,
    factor: f64,
) -> (Vec<f32>, Vec<f32>) {
    let rows = logits.len() / cols;
    let scale = factor / rows as f64;
    let (mut d_logits, mut d_targets) = (vec![0.0; logits.len()], vec![0.0; logits.len()]);
    for r in 0..rows {
        let span = r * cols..(r + 1) * cols;
        let x: Vec<f64> = logits[span.clone()].iter().map(|&v| v as f64).collect();
        let t: Vec<f64> = targets[span.clone()].iter().map(|&v| v as f64).collect();
        let m = x.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let lse = x.iter().map(|v| (v - m).exp()).sum::<f64>().ln();
        let mass: f64 = t.iter().sum();
        for j in 0..cols {
            let ls = x[j] - m - lse;
            d_logits[r * cols + j] = (scale * (ls.exp() * mass - t[j])) as f32;
            d_targets[r * cols + j] = (-scale * ls) as f32;
        }
    }
    (d_logits, d_targets)
}

#[test]
fn cross_entropy_gradients_match_burn() {
    for (name, device) in devices() {
        for (rows, cols) in [(1, 1), (3, 2), (200, 2), (64, 59), (33, 24)] {
            for soft in [false, true] {
                let (logits, targets) = classification(rows, cols, soft, &device);
                let grads_of = |f: fn(Tensor<2>, Tensor<2>) -> Tensor<1>| {
                    let l = logits.clone().require_grad();
                    let t = targets.clone().require_grad();
                    // Scale the loss so that the incoming gradient is not 1.
                    let grads = f(l.clone(), t.clone()).mul_scalar(1.7).backward();
                    (host(l.grad(&grads).unwrap()), host(t.grad(&grads).unwrap()))
                };
                let (got_l, got_t) = grads_of(cross_entropy_with_targets);
                let (want_l, want_t) = grads_of(composed_cross_entropy);
                let (exact_l, exact_t) =
                    exact_cross_entropy_gradients(&host(logits), &host(targets), cols, 1.7);
                let what = format!("{name} {rows}x{cols} soft={soft}");
                // Each element is `scale·(p·Σt − t)`, a difference of terms up to ~1.5·scale that
                // nearly cancel where the softmax fits the target: measure the rounding against
                // those terms, not against the small difference.
                let abs = 2e-6 * 1.7 / rows as f32;
                assert_close(&format!("{what} d/dlogits"), &got_l, &want_l, 1e-5, abs);
                assert_close(
                    &format!("{what} d/dlogits exact"),
                    &got_l,
                    &exact_l,
                    1e-5,
                    abs,
                );
                // −log_softmax of the dominant class is ln(1 + small): burn's `ln(Σ e)` loses
                // digits there (its error is ~1e-7 of the terms x − max and ln Σ, i.e. up to
                // 1e-3 of a small result), the fused op's `ln_1p` does not. So: against the
                // exact gradient tightly, against burn's with its rounding of the terms.
                assert_close(
                    &format!("{what} d/dtargets exact"),
                    &got_t,
                    &exact_t,
                    1e-6,
                    1e-12,
                );
                assert_close(&format!("{what} d/dtargets"), &got_t, &want_t, 1e-5, abs);
            }
        }
    }
}

#[test]
fn cross_entropy_gradient_without_target_gradient() {
    for (name, device) in devices() {
        let (logits, targets) = classification(50, 7, false, &device);
        let grad_of = |f: fn(Tensor<2>, Tensor<2>) -> Tensor<1>| {
            let l = logits.clone().require_grad();
            let grads = f(l.clone(), targets.clone()).backward();
            host(l.grad(&grads).unwrap())
        };
        let got = grad_of(cross_entropy_with_targets);
        let want = grad_of(composed_cross_entropy);
        // As above: rounding measured against the cancelling terms, up to 1/rows each.
        assert_close(&format!("{name} d/dlogits"), &got, &want, 1e-5, 2e-6 / 50.0);
    }
}

#[test]
fn cross_entropy_takes_non_contiguous_inputs() {
    for (name, device) in devices() {
        let (logits, targets) = classification(9, 6, true, &device);
        let (logits, targets) = (logits.transpose(), targets.transpose());
        let got = host1(cross_entropy_with_targets(logits.clone(), targets.clone()));
        let want = host1(composed_cross_entropy(logits, targets));
        assert_close(&format!("{name} transposed"), &got, &want, 1e-6, 0.0);
    }
}

#[test]
fn cross_entropy_with_tied_and_infinite_logits() {
    for (name, device) in devices() {
        let logits = [1.0, 1.0, 1.0, 2.0, 2.0, 0.0, -3.0, 7.0, 7.0, 0.0, 0.0, 0.0];
        let targets = [0.0, 1.0, 0.0, 0.5, 0.0, 0.5, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0];
        let grads_of = |f: fn(Tensor<2>, Tensor<2>) -> Tensor<1>| {
            let l = matrix(&logits, 3, &device).require_grad();
            let loss = f(l.clone(), matrix(&targets, 3, &device));
            let value = host1(loss.clone());
            (value, host(l.grad(&loss.backward()).unwrap()))
        };
        let (got, got_grad) = grads_of(cross_entropy_with_targets);
        let (want, want_grad) = grads_of(composed_cross_entropy);
        assert_close(&format!("{name} tied"), &got, &want, 1e-6, 0.0);
        assert_close(
            &format!("{name} tied grad"),
            &got_grad,
            &want_grad,
            1e-5,
            1e-8,
        );

        // A −∞ logit with target 0 makes burn's composition 0·(−∞) = NaN; so does the fused op.
        let mut with_inf = logits;
        with_inf[0] = f32::NEG_INFINITY;
        let l = matrix(&with_inf, 3, &device);
        let t = matrix(&targets, 3, &device);
        let got = host1(cross_entropy_with_targets(l.clone(), t.clone()));
        let want = host1(composed_cross_entropy(l, t));
        assert!(
            got[0].is_nan() && want[0].is_nan(),
            "{name}: {got:?} vs {want:?}"
        );
    }
}

/// `got` equals `want` bit for bit on Flex (the same `gemm` calls, the same sums). On NdArray,
/// whose `matmul` is another library's and sums in another order, within what that order can
/// change in a sum of `terms` products of values about 1: `terms`·1e-6.
#[track_caller]
fn assert_same(backend: &str, what: &str, got: &[f32], want: &[f32], terms: usize) {
    if backend == "flex" {
        assert_bits(what, got, want);
    } else {
        assert_close(what, got, want, 1e-5, 1e-6 * terms as f32);
    }
}

/// `got` equals `want` bit for bit (so `-0` is not `+0`).
#[track_caller]
fn assert_bits(what: &str, got: &[f32], want: &[f32]) {
    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(got), bits(want), "{what}: not bit for bit burn's");
}

fn normal(shape: [usize; 2], device: &Device) -> Tensor<2> {
    Tensor::random(shape, Distribution::Normal(0.0, 1.0), device)
}

/// The value and the gradients (where tracked) of `Σ f(a, b)·weights`.
fn value_and_grads(
    f: impl Fn(Tensor<2>, Tensor<2>) -> Tensor<2>,
    a: &Tensor<2>,
    b: &Tensor<2>,
    weights: &Tensor<2>,
    track: [bool; 2],
) -> (Vec<f32>, Option<Vec<f32>>, Option<Vec<f32>>) {
    let input = |t: &Tensor<2>, on: bool| {
        if on {
            t.clone().require_grad()
        } else {
            t.clone()
        }
    };
    let (a, b) = (input(a, track[0]), input(b, track[1]));
    let y = f(a.clone(), b.clone());
    let grads = (y.clone() * weights.clone()).sum().backward();
    let grad = |t: &Tensor<2>| t.grad(&grads).map(host);
    (host(y), grad(&a), grad(&b))
}

#[test]
fn matmul_equals_burns_values_and_gradients() {
    for (name, device) in devices() {
        for (m, k, n) in [(1, 1, 1), (7, 5, 3), (64, 50, 59), (300, 20, 2)] {
            let (a, b) = (normal([m, k], &device), normal([k, n], &device));
            let weights = normal([m, n], &device);
            for track in [[true, true], [false, true], [true, false]] {
                let what = format!("{name} [{m}, {k}]·[{k}, {n}] tracked {track:?}");
                let ours = value_and_grads(matmul, &a, &b, &weights, track);
                let burns = value_and_grads(|a, b| a.matmul(b), &a, &b, &weights, track);
                assert_same(name, &what, &ours.0, &burns.0, k);
                // d/dlhs sums over the n columns, d/drhs over the m rows.
                let sides = [("lhs", &ours.1, &burns.1, n), ("rhs", &ours.2, &burns.2, m)];
                for (side, got, want, terms) in sides {
                    assert_eq!(got.is_some(), want.is_some(), "{what}: {side} gradient");
                    if let (Some(got), Some(want)) = (got, want) {
                        assert_same(name, &format!("{what} d/d{side}"), got, want, terms);
                    }
                }
            }
        }
    }
}

#[test]
fn matmul_over_an_empty_inner_dimension_is_zero() {
    // (burn's NdArray matmul divides by zero here.)
    for (name, device) in devices() {
        let y = matmul(normal([3, 0], &device), normal([0, 4], &device));
        assert_eq!(host(y), vec![0.0; 12], "{name}");
    }
}

#[test]
fn matmul_takes_views() {
    for (name, device) in devices() {
        let (a, b) = (normal([9, 12], &device), normal([20, 6], &device));
        let weights = normal([12, 6], &device);
        // A transposed left factor and a block of rows of the right one.
        let product = |mul: fn(Tensor<2>, Tensor<2>) -> Tensor<2>| {
            move |a: Tensor<2>, b: Tensor<2>| mul(a.transpose(), b.narrow(0, 9, 9))
        };
        let ours = value_and_grads(product(matmul), &a, &b, &weights, [true, true]);
        let burns = value_and_grads(product(|a, b| a.matmul(b)), &a, &b, &weights, [true, true]);
        assert_same(name, "values", &ours.0, &burns.0, 9);
        assert_same(name, "d/dlhs", &ours.1.unwrap(), &burns.1.unwrap(), 6);
        assert_same(name, "d/drhs", &ours.2.unwrap(), &burns.2.unwrap(), 12);
    }
}

/// `[rows, tokens]` ids in `0..vocabulary`, as floats, and as the int columns burn's `select`
/// takes.
fn token_ids(rows: usize, tokens: usize, vocabulary: usize, device: &Device) -> Tensor<2> {
    let ids: Vec<f32> = (0..rows * tokens)
        .map(|i| ((i * 7 + i / tokens * 3) % vocabulary) as f32)
        .collect();
    Tensor::from_data(TensorData::new(ids, [rows, tokens]), device)
}

/// burn's composition: per token, its block of the table, `select`ed by the token's ids; summed.
fn select_and_sum(table: Tensor<2>, ids: Tensor<2>) -> Tensor<2> {
    let [rows, tokens] = ids.dims();
    let vocabulary = table.dims()[0] / tokens;
    let ids: Tensor<2, Int> = ids.int();
    (0..tokens)
        .map(|t| {
            let block = table.clone().narrow(0, t * vocabulary, vocabulary);
            block.select(0, ids.clone().narrow(1, t, 1).reshape([rows]))
        })
        .reduce(|sum, part| sum + part)
        .unwrap()
}

#[test]
fn token_sum_equals_select_and_sum() {
    for (name, device) in devices() {
        for (rows, tokens, vocabulary, width) in [(1, 1, 1, 1), (40, 2, 7, 5), (300, 3, 11, 16)] {
            let table = normal([tokens * vocabulary, width], &device);
            let ids = token_ids(rows, tokens, vocabulary, &device);
            let weights = normal([rows, width], &device);
            let what = format!("{name} {rows} rows of {tokens} tokens from {vocabulary}");
            let ours = value_and_grads(token_sum, &table, &ids, &weights, [true, false]);
            let burns = value_and_grads(select_and_sum, &table, &ids, &weights, [true, false]);
            // Selecting and adding rounds the same way on both backends.
            assert_bits(&what, &ours.0, &burns.0);
            assert_bits(
                &format!("{what} d/dtable"),
                &ours.1.unwrap(),
                &burns.1.unwrap(),
            );
        }
    }
}

#[test]
#[should_panic(expected = "token id 7 (row 1, token 0) is not one of 0..7")]
fn token_sum_refuses_an_id_outside_the_vocabulary() {
    let device = Device::flex();
    let ids = Tensor::<2>::from_data([[0.0, 1.0], [7.0, 2.0]], &device);
    token_sum(normal([14, 3], &device), ids);
}

/// Both orders of `token_product` (fewer rows than tokens in the vocabulary: rows of the
/// embedding, then the product; more: the product, then a token sum) against the sum written
/// out on the host.
#[test]
fn token_product_equals_embedding_then_product() {
    for (name, device) in devices() {
        let (vocabulary, d, width) = (7, 3, 5);
        let embedding = normal([vocabulary, d], &device);
        let weight = normal([2 * d, width], &device);
        let (e, w) = (host(embedding.clone()), host(weight.clone()));
        for rows in [3, 20] {
            let ids = token_ids(rows, 2, vocabulary, &device);
            let got = host(token_product(
                embedding.clone(),
                weight.clone(),
                ids.clone(),
            ));
            let rows_got = host(token_rows(embedding.clone(), ids.clone()));
            let ids = host(ids);
            for r in 0..rows {
                for t in 0..2 {
                    let token = ids[2 * r + t] as usize;
                    for k in 0..d {
                        assert_eq!(rows_got[r * 2 * d + t * d + k], e[token * d + k]);
                    }
                }
                for j in 0..width {
                    let want: f32 = (0..2)
                        .flat_map(|t| {
                            let token = ids[2 * r + t] as usize;
                            (0..d).map(move |k| (token, t * d + k, k))
                        })
                        .map(|(token, row, k)| e[token * d + k] * w[row * width + j])
                        .sum();
                    let g = got[r * width + j];
                    assert!(
                        (g - want).abs() < 1e-5,
                        "{name}, rows {rows}, ({r}, {j}): {g} vs {want}"
                    );
                }
            }
        }
    }
}

#[test]
fn select_columns_equals_burns_select() {
    // Permutations (the model's output order) and choices with repeats and gaps, of rows
    // narrow enough for the register permutes (up to 32) and wider.
    let reversed = |n: usize| (0..n).rev().collect::<Vec<_>>();
    let cases: Vec<(usize, Vec<usize>)> = vec![
        (6, vec![3, 0, 5, 1, 4, 2]),
        (6, vec![2, 2, 0, 5]),
        (24, reversed(24)),
        (32, reversed(32)),
        (20, (0..25).map(|j| (j * 7) % 20).collect()),
        (40, reversed(40)),
        (3, (0..33).map(|j| j % 3).collect()),
    ];
    for (name, device) in devices() {
        for (cols, columns) in &cases {
            let x = normal([37, *cols], &device);
            let columns = columns.clone();
            let w = normal([37, columns.len()], &device);
            let index = Tensor::<1, Int>::from_data(
                TensorData::new(columns.iter().map(|&c| c as i64).collect(), [columns.len()]),
                &device,
            );
            let shared: Arc<[usize]> = columns.clone().into();
            let ours = value_and_grads(
                |x, _| select_columns(x, shared.clone()),
                &x,
                &x,
                &w,
                [true, false],
            );
            let burns =
                value_and_grads(|x, _| x.select(1, index.clone()), &x, &x, &w, [true, false]);
            let what = format!("{name} columns {columns:?}");
            assert_bits(&what, &ours.0, &burns.0);
            assert_bits(&format!("{what} d/dx"), &ours.1.unwrap(), &burns.1.unwrap());
        }
    }
}

#[test]
fn add_bias_equals_burns_broadcast_add() {
    for (name, device) in devices() {
        for (rows, cols) in [(1, 1), (7, 5), (37, 50), (20, 64), (9, 65), (5, 100)] {
            let x = normal([rows, cols], &device);
            let bias = normal([1, cols], &device);
            let weights = normal([rows, cols], &device);
            let before = host(x.clone());
            for track in [[true, true], [false, true], [true, false]] {
                let what = format!("{name} [{rows}, {cols}] + bias, tracked {track:?}");
                // A matrix that another tensor holds, and a fresh one (added into in place).
                let shared = value_and_grads(add_bias, &x, &bias, &weights, track);
                let fresh = |a: Tensor<2>, b| add_bias(a.mul_scalar(2.0), b);
                let ours = value_and_grads(fresh, &x, &bias, &weights, track);
                let burns = value_and_grads(|a, b| a + b, &x, &bias, &weights, track);
                let burns_fresh =
                    value_and_grads(|a, b| a.mul_scalar(2.0) + b, &x, &bias, &weights, track);
                for (kind, got, want) in
                    [("shared", &shared, &burns), ("fresh", &ours, &burns_fresh)]
                {
                    assert_bits(&format!("{what} {kind}"), &got.0, &want.0);
                    for (side, g, w) in [("x", &got.1, &want.1), ("bias", &got.2, &want.2)] {
                        assert_eq!(g.is_some(), w.is_some(), "{what}: {side} gradient");
                        if let (Some(g), Some(w)) = (g, w) {
                            assert_bits(&format!("{what} {kind} d/d{side}"), g, w);
                        }
                    }
                }
            }
            assert_bits(&format!("{name}: x unchanged"), &host(x), &before);
        }
    }
}

#[test]
fn silu_with_bias_equals_silu_of_add_bias() {
    for (name, device) in devices() {
        for (rows, cols) in [(1, 1), (7, 5), (37, 50), (9, 65)] {
            // Products of the size of the inputs' sweep, with a bias that moves them.
            let x = normal([rows, cols], &device).mul_scalar(8.0);
            let bias = normal([1, cols], &device);
            let weights = normal([rows, cols], &device);
            for track in [[true, true], [false, true], [true, false]] {
                let what = format!("{name} [{rows}, {cols}], tracked {track:?}");
                let fresh = |f: fn(Tensor<2>, Tensor<2>) -> Tensor<2>| {
                    move |a: Tensor<2>, b| f(a.mul_scalar(1.0), b)
                };
                let fused = |a, b| silu_with_bias(a, b);
                let composed = |a, b| silu(add_bias(a, b));
                for (kind, got, want) in [
                    (
                        "shared",
                        value_and_grads(fused, &x, &bias, &weights, track),
                        value_and_grads(composed, &x, &bias, &weights, track),
                    ),
                    (
                        "fresh",
                        value_and_grads(fresh(fused), &x, &bias, &weights, track),
                        value_and_grads(fresh(composed), &x, &bias, &weights, track),
                    ),
                ] {
                    assert_bits(&format!("{what} {kind}"), &got.0, &want.0);
                    for (side, g, w) in [("x", &got.1, &want.1), ("bias", &got.2, &want.2)] {
                        assert_eq!(g.is_some(), w.is_some(), "{what}: {side} gradient");
                        if let (Some(g), Some(w)) = (g, w) {
                            assert_bits(&format!("{what} {kind} d/d{side}"), g, w);
                        }
                    }
                }
            }
        }
    }
}

#[test]
#[should_panic(expected = "column 6 selected from a matrix of 6 columns")]
fn select_columns_refuses_a_missing_column() {
    select_columns(normal([2, 6], &Device::flex()), vec![0, 6].into());
}
