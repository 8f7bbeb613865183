//! The arithmetic of the fused ops on host slices, for `f32` and `f64`.
//!
//! Every loop is written branch-free (selects, not jumps) so that LLVM vectorises it. On x86-64
//! each kernel is compiled twice, once for the baseline target and once with AVX2 and FMA
//! enabled, and the second is chosen at run time when the CPU has them. The `f32` exp is a
//! Cephes-style polynomial (range reduction by `ln 2`, degree-6 polynomial, scaling by `2^n`
//! in two halves so that subnormal results and overflow to infinity come out right), within
//! 2 ulp of the correctly rounded value over the whole `f32` range; the `f64` exp is std's.

/// An element type the kernels work on: `f32` or `f64`.
pub trait Real:
    Copy
    + PartialOrd
    + Send
    + Sync
    + core::fmt::Debug
    + core::ops::Add<Output = Self>
    + core::ops::Sub<Output = Self>
    + core::ops::Mul<Output = Self>
    + core::ops::Div<Output = Self>
    + core::ops::Neg<Output = Self>
    + 'static
{
    /// `0`.
    const ZERO: Self;
    /// `1`.
    const ONE: Self;
    /// `-∞`.
    const NEG_INFINITY: Self;

    /// `e^x`; `FMA` says whether fused multiply-adds may be used.
    fn exp<const FMA: bool>(self) -> Self;
    /// `ln(1 + x)` (std's).
    fn ln_1p(self) -> Self;
    /// `|x|`.
    fn abs(self) -> Self;
    /// Conversion from `f64` (rounding).
    fn from_f64(x: f64) -> Self;
    /// Conversion to `f64` (exact).
    fn to_f64(self) -> f64;
}

/// `a·b + c`, fused when `FMA`.
#[inline(always)]
fn madd<const FMA: bool>(a: f32, b: f32, c: f32) -> f32 {
    if FMA { a.mul_add(b, c) } else { a * b + c }
}

/// `e^x` for `f32`, vectorisable: no branches, no float-to-int conversions.
///
/// Inputs below `-104` give `0` (or the correctly scaled subnormal above it), inputs above
/// `89` give `+∞`, NaN stays NaN.
#[inline(always)]
pub fn exp_f32<const FMA: bool>(x: f32) -> f32 {
    const LOG2E: f32 = core::f32::consts::LOG2_E;
    // ln 2 split into a part with few significant bits (so that `k·LN2_HI` is exact for the
    // |k| ≤ 150 used here) and the remainder (Cody–Waite).
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    // 1.5·2^23: adding it rounds a float of magnitude < 2^22 to an integer, which then sits in
    // the low mantissa bits.
    const SHIFTER: f32 = 12_582_912.0;
    const HI: f32 = 89.0;
    const LO: f32 = -104.0;

    // Clamp with comparisons so that NaN passes through (it fails both).
    let x = if x > HI { HI } else { x };
    let x = if x < LO { LO } else { x };

    // k = round(x / ln 2), as a float and as the integer in the shifted float's bits.
    let shifted = madd::<FMA>(x, LOG2E, SHIFTER);
    let k = shifted - SHIFTER;
    let n = (shifted.to_bits() as i32).wrapping_sub(SHIFTER.to_bits() as i32);
    let r = madd::<FMA>(k, -LN2_LO, madd::<FMA>(k, -LN2_HI, x));

    // e^r on |r| ≤ ln2/2 (Cephes expf coefficients).
    let mut p = 1.987_569_1e-4_f32;
    p = madd::<FMA>(p, r, 1.398_199_9e-3);
    p = madd::<FMA>(p, r, 8.333_452e-3);
    p = madd::<FMA>(p, r, 4.166_579_6e-2);
    p = madd::<FMA>(p, r, 1.666_666_5e-1);
    p = madd::<FMA>(p, r, 0.5); // Cephes: 5.0000001201e-1, which is 0.5 in f32
    let y = madd::<FMA>(p, r * r, r) + 1.0;

    // Multiply by 2^n as 2^h · 2^(n−h), h = ⌊n/2⌋: both factors are normal floats for
    // n ∈ [−151, 129], so the product rounds once into the subnormals or overflows to ∞.
    let h = n >> 1;
    let s1 = f32::from_bits((h.wrapping_add(127) as u32) << 23);
    let s2 = f32::from_bits((n.wrapping_sub(h).wrapping_add(127) as u32) << 23);
    y * s1 * s2
}

impl Real for f32 {
    const ZERO: Self = 0.0;
    const ONE: Self = 1.0;
    const NEG_INFINITY: Self = f32::NEG_INFINITY;

    #[inline(always)]
    fn exp<const FMA: bool>(self) -> Self {
        exp_f32::<FMA>(self)
    }
    #[inline(always)]
    fn ln_1p(self) -> Self {
        f32::ln_1p(self)
    }
    #[inline(always)]
    fn abs(self) -> Self {
        f32::abs(self)
    }
    #[inline(always)]
    fn from_f64(x: f64) -> Self {
        x as f32
    }
    #[inline(always)]
    fn to_f64(self) -> f64 {
        self as f64
    }
}

impl Real for f64 {
    const ZERO: Self = 0.0;
    const ONE: Self = 1.0;
    const NEG_INFINITY: Self = f64::NEG_INFINITY;

    #[inline(always)]
    fn exp<const FMA: bool>(self) -> Self {
        f64::exp(self)
    }
    #[inline(always)]
    fn ln_1p(self) -> Self {
        f64::ln_1p(self)
    }
    #[inline(always)]
    fn abs(self) -> Self {
        f64::abs(self)
    }
    #[inline(always)]
    fn from_f64(x: f64) -> Self {
        x
    }
    #[inline(always)]
    fn to_f64(self) -> f64 {
        self
    }
}

/// Compiles `$body` (an expression using the const `FMA`) once per instruction set and calls the
/// best one the CPU has.
macro_rules! multiversion {
    ($(#[$meta:meta])* fn $name:ident<$T:ident>($($arg:ident: $ty:ty),* $(,)?) $(-> $ret:ty)? $body:block) => {
        $(#[$meta])*
        pub fn $name<$T: Real>($($arg: $ty),*) $(-> $ret)? {
            #[inline(always)]
            fn generic<$T: Real, const FMA: bool>($($arg: $ty),*) $(-> $ret)? $body

            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx2,fma")]
                fn avx2<$T: Real>($($arg: $ty),*) $(-> $ret)? {
                    generic::<$T, true>($($arg),*)
                }
                if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
                    // SAFETY: the CPU supports AVX2 and FMA, checked just above.
                    return unsafe { avx2::<$T>($($arg),*) };
                }
            }
            generic::<$T, false>($($arg),*)
        }
    };
}

/// `σ(x)` and `e^{−|x|}·σ(|x|)² = σ(x)(1−σ(x))`, from one exp, accurate in both tails.
#[inline(always)]
fn sigmoid_parts<T: Real, const FMA: bool>(x: T) -> (T, T) {
    let e = (-x.abs()).exp::<FMA>();
    let s = T::ONE / (T::ONE + e);
    let sigma = if x >= T::ZERO { s } else { e * s };
    (sigma, e * s * s)
}

multiversion! {
    /// `out = x·σ(x)`; at `x = −∞` its limit 0 (not `−∞·0`).
    fn silu_forward<T>(x: &[T], out: &mut [T]) {
        assert_eq!(x.len(), out.len());
        for (o, &v) in out.iter_mut().zip(x) {
            let (sigma, _) = sigmoid_parts::<T, FMA>(v);
            *o = if sigma == T::ZERO { T::ZERO } else { v * sigma };
        }
    }
}

multiversion! {
    /// `out = g·(σ(x) + x·σ(x)(1−σ(x)))`, the derivative of `x·σ(x)` times the incoming gradient.
    /// At `x = ±∞` the second term is taken as its limit 0 (not `∞·0`).
    fn silu_backward<T>(x: &[T], grad: &[T], out: &mut [T]) {
        assert_eq!(x.len(), out.len());
        assert_eq!(grad.len(), out.len());
        for ((o, &v), &g) in out.iter_mut().zip(x).zip(grad) {
            let (sigma, slope) = sigmoid_parts::<T, FMA>(v);
            let tail = if slope == T::ZERO { T::ZERO } else { v * slope };
            *o = g * (sigma + tail);
        }
    }
}

multiversion! {
    /// `v = e^v` in place.
    fn exp_in_place<T>(v: &mut [T]) {
        for x in v.iter_mut() {
            *x = x.exp::<FMA>();
        }
    }
}

/// Per row of a row-major `[rows, cols]` matrix: the maximum and where it is (`-∞` and 0 for a
/// row without one, e.g. all `-∞` or NaN).
fn row_max<T: Real>(x: &[T], cols: usize) -> Vec<(T, usize)> {
    x.chunks_exact(cols)
        .map(|row| {
            row.iter().enumerate().fold(
                (T::NEG_INFINITY, 0),
                |(m, at), (j, &v)| {
                    if v > m { (v, j) } else { (m, at) }
                },
            )
        })
        .collect()
}

/// `e^{x − max}` per row into `out`; returns per row the maximum and the sum of `out` less the
/// maximum's own term (which is exactly 1), so that `ln Σ = ln_1p(rest)` keeps its precision
/// when one class dominates.
fn shifted_exp<T: Real>(x: &[T], cols: usize, out: &mut [T]) -> (Vec<T>, Vec<T>) {
    let max = row_max(x, cols);
    for ((o, row), &(m, _)) in out
        .chunks_exact_mut(cols)
        .zip(x.chunks_exact(cols))
        .zip(&max)
    {
        for (o, &v) in o.iter_mut().zip(row) {
            *o = v - m;
        }
    }
    exp_in_place(out);
    let sum = |s: &[T]| s.iter().fold(T::ZERO, |s, &e| s + e);
    let rest = out
        .chunks_exact(cols)
        .zip(&max)
        .map(|(row, &(_, at))| sum(&row[..at]) + sum(&row[at + 1..]))
        .collect();
    (max.into_iter().map(|(m, _)| m).collect(), rest)
}

/// Softmax cross entropy of a row-major `[rows, cols]` matrix of logits against targets of the
/// same shape: `−Σ target·log_softmax(logits, 1) / rows`. When `probs` is given, the row
/// softmax is written into it (what the backward pass needs).
pub fn cross_entropy_forward<T: Real>(
    logits: &[T],
    targets: &[T],
    rows: usize,
    cols: usize,
    probs: Option<&mut [T]>,
) -> T {
    assert_eq!(logits.len(), rows * cols);
    assert_eq!(targets.len(), rows * cols);
    // The mean as the composed expression takes it: the sum times −1/rows (NaN for no rows).
    let mean = |total: f64| T::from_f64(total * (-1.0 / rows as f64));
    if logits.is_empty() {
        return mean(0.0);
    }
    let keep = probs.is_some();
    let mut scratch;
    let buf = match probs {
        Some(p) => {
            assert_eq!(p.len(), logits.len());
            p
        }
        None => {
            scratch = vec![T::ZERO; logits.len()];
            scratch.as_mut_slice()
        }
    };
    let (max, rest) = shifted_exp(logits, cols, buf);
    let mut total = 0.0f64;
    for (((row, target), p), (&m, &rest)) in logits
        .chunks_exact(cols)
        .zip(targets.chunks_exact(cols))
        .zip(buf.chunks_exact_mut(cols))
        .zip(max.iter().zip(&rest))
    {
        let lse = rest.ln_1p();
        let s = T::ONE + rest;
        let mut acc = T::ZERO;
        for (&v, &t) in row.iter().zip(target) {
            acc = acc + t * ((v - m) - lse);
        }
        total += acc.to_f64();
        if keep {
            for p in p.iter_mut() {
                *p = *p / s;
            }
        }
    }
    mean(total)
}

/// Gradient of [`cross_entropy_forward`] with respect to the logits:
/// `out = scale·(softmax·Σ_row target − target)`, where `scale` is the incoming gradient over
/// the number of rows.
pub fn cross_entropy_backward<T: Real>(
    probs: &[T],
    targets: &[T],
    cols: usize,
    scale: T,
    out: &mut [T],
) {
    assert_eq!(probs.len(), targets.len());
    assert_eq!(probs.len(), out.len());
    if cols == 0 {
        return;
    }
    for ((o, p), t) in out
        .chunks_exact_mut(cols)
        .zip(probs.chunks_exact(cols))
        .zip(targets.chunks_exact(cols))
    {
        let mass = t.iter().fold(T::ZERO, |s, &v| s + v);
        for ((o, &p), &t) in o.iter_mut().zip(p).zip(t) {
            *o = scale * (p * mass - t);
        }
    }
}

/// Gradient of [`cross_entropy_forward`] with respect to the targets:
/// `out = −scale·log_softmax(logits, 1)`.
pub fn cross_entropy_targets_backward<T: Real>(logits: &[T], cols: usize, scale: T, out: &mut [T]) {
    assert_eq!(logits.len(), out.len());
    if cols == 0 {
        return;
    }
    let (max, rest) = shifted_exp(logits, cols, out);
    for ((o, row), (&m, &rest)) in out
        .chunks_exact_mut(cols)
        .zip(logits.chunks_exact(cols))
        .zip(max.iter().zip(&rest))
    {
        let lse = rest.ln_1p();
        for (o, &v) in o.iter_mut().zip(row) {
            *o = -(scale * ((v - m) - lse));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Distance in units in the last place between two finite floats of the same sign.
    fn ulps(a: f32, b: f32) -> u32 {
        (a.to_bits() as i64 - b.to_bits() as i64).unsigned_abs() as u32
    }

    fn check_exp<const FMA: bool>() {
        let mut worst = 0;
        let mut x = -103.0f32;
        while x < 88.7 {
            let want = (x as f64).exp() as f32;
            let got = exp_f32::<FMA>(x);
            if want >= f32::MIN_POSITIVE {
                worst = worst.max(ulps(got, want));
            } else {
                // Subnormal results: within one subnormal step.
                assert!(
                    (got - want).abs() <= f32::from_bits(1),
                    "{x}: {got} vs {want}"
                );
            }
            x += 0.000_731;
        }
        assert!(worst <= 2, "worst error {worst} ulp");
    }

    #[test]
    fn exp_is_accurate() {
        check_exp::<false>();
        #[cfg(target_arch = "x86_64")]
        if std::is_x86_feature_detected!("fma") {
            check_exp::<true>();
        }
    }

    #[test]
    fn exp_special_values() {
        for fma in [false, true] {
            let e = |x: f32| {
                if fma {
                    exp_f32::<true>(x)
                } else {
                    exp_f32::<false>(x)
                }
            };
            if fma && !std::is_x86_feature_detected!("fma") {
                continue;
            }
            assert_eq!(e(0.0), 1.0);
            assert_eq!(e(-0.0), 1.0);
            assert_eq!(e(f32::INFINITY), f32::INFINITY);
            assert_eq!(e(1e30), f32::INFINITY);
            assert_eq!(e(89.0), f32::INFINITY);
            assert!(e(88.72).is_finite());
            assert_eq!(e(f32::NEG_INFINITY), 0.0);
            assert_eq!(e(-1e30), 0.0);
            assert_eq!(e(-104.0), 0.0);
            assert!(e(-100.0) > 0.0);
            assert!(e(f32::NAN).is_nan());
            assert_eq!(e(1.0), core::f32::consts::E);
        }
    }

    #[test]
    fn slices_match_elementwise() {
        let x: Vec<f32> = (0..1037).map(|i| (i as f32 - 518.0) * 0.37).collect();
        let mut a = x.clone();
        exp_in_place(&mut a);
        for (&v, &e) in x.iter().zip(&a) {
            let want = (v as f64).exp() as f32;
            if want.is_finite() && want >= f32::MIN_POSITIVE {
                assert!(ulps(e, want) <= 2, "{v}: {e} vs {want}");
            }
        }
    }
}
