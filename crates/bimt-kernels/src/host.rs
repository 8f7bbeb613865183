//! The arithmetic of the fused ops on host slices, for `f32` and `f64`.
//!
//! Every loop is written branch-free (selects, not jumps) so that LLVM vectorises it. On x86-64
//! each kernel is compiled three times, for the baseline target, with AVX2 and FMA, and with
//! AVX-512 and FMA, and the widest the CPU has is chosen at run time. The two FMA versions do
//! the same operations on every element (the lane count is not part of any sum's order: sums
//! keep their own partial sums), so they give the same bits. The `f32` exp is a
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
    /// `√x` (correctly rounded, std's).
    fn sqrt(self) -> Self;
    /// Conversion from `f64` (rounding).
    fn from_f64(x: f64) -> Self;
    /// Conversion to `f64` (exact).
    fn to_f64(self) -> f64;
    /// [`gather_columns`] by a faster route where there is one (rows of at most 32 `f32`s on
    /// a CPU with AVX-512: two register permutes per row); `None` elsewhere.
    fn permute_narrow_rows(
        _x: &[Self],
        _cols: usize,
        _source: &[usize],
        _add_zero: bool,
    ) -> Option<Vec<Self>> {
        None
    }
    /// [`column_sums`] by a faster route where there is one (at most 64 `f32` columns on a
    /// CPU with AVX-512: every partial sum kept in a register through all the rows); `None`
    /// elsewhere.
    fn narrow_column_sums(_x: &[Self], _cols: usize) -> Option<Vec<Self>> {
        None
    }
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
    fn sqrt(self) -> Self {
        f32::sqrt(self)
    }
    #[inline(always)]
    fn from_f64(x: f64) -> Self {
        x as f32
    }
    #[inline(always)]
    fn to_f64(self) -> f64 {
        self as f64
    }
    fn permute_narrow_rows(
        x: &[Self],
        cols: usize,
        source: &[usize],
        add_zero: bool,
    ) -> Option<Vec<Self>> {
        #[cfg(target_arch = "x86_64")]
        if (1..=32).contains(&cols)
            && (1..=32).contains(&source.len())
            && source.iter().all(|&c| c < cols)
            && std::is_x86_feature_detected!("avx512f")
        {
            // SAFETY: the CPU has AVX-512 F (checked just above), and the shapes are the
            // ones `permute_rows_avx512` asks for.
            return Some(unsafe { permute_rows_avx512(x, cols, source, add_zero) });
        }
        None
    }
    fn narrow_column_sums(x: &[Self], cols: usize) -> Option<Vec<Self>> {
        #[cfg(target_arch = "x86_64")]
        if (1..=64).contains(&cols) && std::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU has AVX-512 F (checked just above), and `cols ≤ 64`.
            return Some(unsafe { column_sums_avx512(x, cols) });
        }
        None
    }
}

/// The column sums of a row-major matrix of `1 ≤ cols ≤ 64` columns, each started at 0 and
/// added to row by row in row order (as [`column_sums`]), in four 16-lane registers that
/// stay in place through all the rows. Masked loads read nothing past a row.
///
/// # Safety
///
/// The CPU must support AVX-512 F.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn column_sums_avx512(x: &[f32], cols: usize) -> Vec<f32> {
    use core::arch::x86_64::*;
    let mask = |n: usize| -> __mmask16 { ((1u32 << n.min(16)) - 1) as __mmask16 };
    let masks = [
        mask(cols),
        mask(cols.saturating_sub(16)),
        mask(cols.saturating_sub(32)),
        mask(cols.saturating_sub(48)),
    ];
    let mut sums = [0.0f32; 64];
    // SAFETY: each masked load reads only values of row `r` (the lanes past `cols` are
    // masked off and not read); the stores write into `sums`, 64 values long.
    unsafe {
        let mut acc = [_mm512_setzero_ps(); 4];
        for row in x.chunks_exact(cols) {
            let src = row.as_ptr();
            acc[0] = _mm512_add_ps(acc[0], _mm512_maskz_loadu_ps(masks[0], src));
            if cols > 16 {
                acc[1] = _mm512_add_ps(acc[1], _mm512_maskz_loadu_ps(masks[1], src.add(16)));
            }
            if cols > 32 {
                acc[2] = _mm512_add_ps(acc[2], _mm512_maskz_loadu_ps(masks[2], src.add(32)));
            }
            if cols > 48 {
                acc[3] = _mm512_add_ps(acc[3], _mm512_maskz_loadu_ps(masks[3], src.add(48)));
            }
        }
        for (k, a) in acc.into_iter().enumerate() {
            _mm512_storeu_ps(sums.as_mut_ptr().add(16 * k), a);
        }
    }
    sums[..cols].to_vec()
}

/// `out[r][j] = x[r][source[j]]` (`0 + x[r][source[j]]` where `add_zero`) for rows of
/// `cols ≤ 32` values and `1 ≤ source.len() ≤ 32` indices below `cols`: each row loaded into
/// two 16-lane registers (masked, so nothing past the row is read) and rearranged by two
/// two-register permutes. The same values as the scalar gather, bit for bit.
///
/// # Safety
///
/// The CPU must support AVX-512 F.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn permute_rows_avx512(
    x: &[f32],
    cols: usize,
    source: &[usize],
    add_zero: bool,
) -> Vec<f32> {
    use core::arch::x86_64::*;
    let (rows, width) = (x.len() / cols, source.len());
    let mut index = [0i32; 32];
    for (i, &c) in source.iter().enumerate() {
        index[i] = c as i32;
    }
    let mask = |n: usize| -> __mmask16 { ((1u32 << n.min(16)) - 1) as __mmask16 };
    let (load_low, load_high) = (mask(cols), mask(cols.saturating_sub(16)));
    let (store_low, store_high) = (mask(width), mask(width.saturating_sub(16)));
    let mut out = Vec::<f32>::with_capacity(rows * width);
    // SAFETY: every load reads `cols` values of row `r` (the masks leave the lanes past
    // them unread), every store writes `width` values of output row `r` inside the capacity
    // reserved above, and all `rows·width` are written before `set_len`.
    unsafe {
        let index_low = _mm512_loadu_epi32(index.as_ptr());
        let index_high = _mm512_loadu_epi32(index.as_ptr().add(16));
        let zero = _mm512_setzero_ps();
        let dst = out.as_mut_ptr();
        for r in 0..rows {
            let src = x.as_ptr().add(r * cols);
            let a = _mm512_maskz_loadu_ps(load_low, src);
            let b = if cols > 16 {
                _mm512_maskz_loadu_ps(load_high, src.add(16))
            } else {
                zero
            };
            let mut low = _mm512_permutex2var_ps(a, index_low, b);
            if add_zero {
                low = _mm512_add_ps(zero, low);
            }
            _mm512_mask_storeu_ps(dst.add(r * width), store_low, low);
            if width > 16 {
                let mut high = _mm512_permutex2var_ps(a, index_high, b);
                if add_zero {
                    high = _mm512_add_ps(zero, high);
                }
                _mm512_mask_storeu_ps(dst.add(r * width + 16), store_high, high);
            }
        }
        out.set_len(rows * width);
    }
    out
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
    fn sqrt(self) -> Self {
        f64::sqrt(self)
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
///
/// The body's loops must be plain loops over slices with `#[inline(always)]` helpers: what is
/// not inlined into the AVX2 function is compiled for the baseline target, where `mul_add`
/// becomes a call to libm's `fmaf` (collecting through iterator adapters did that, and ran 3×
/// slower than burn's scalar code).
macro_rules! multiversion {
    ($(#[$meta:meta])* fn $name:ident<$T:ident>($($arg:ident: $ty:ty),* $(,)?) $(-> $ret:ty)? $body:block) => {
        $(#[$meta])*
        pub fn $name<$T: Real>($($arg: $ty),*) $(-> $ret)? {
            #[inline(always)]
            fn generic<$T: Real, const FMA: bool>($($arg: $ty),*) $(-> $ret)? $body

            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f,avx512vl,avx2,fma")]
                fn avx512<$T: Real>($($arg: $ty),*) $(-> $ret)? {
                    generic::<$T, true>($($arg),*)
                }
                #[target_feature(enable = "avx2,fma")]
                fn avx2<$T: Real>($($arg: $ty),*) $(-> $ret)? {
                    generic::<$T, true>($($arg),*)
                }
                if std::is_x86_feature_detected!("avx512f")
                    && std::is_x86_feature_detected!("avx512vl")
                    && std::is_x86_feature_detected!("fma")
                {
                    // SAFETY: the CPU supports AVX-512 (F, VL) and FMA, checked just above
                    // (and with them AVX2).
                    return unsafe { avx512::<$T>($($arg),*) };
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

/// `n` values from `f`, written straight into a fresh vector (no zeroing first). `f` is
/// called in index order, here, so that it is compiled for the caller's instruction set.
#[inline(always)]
fn fill<T: Real>(n: usize, mut f: impl FnMut(usize) -> T) -> Vec<T> {
    let mut out = Vec::with_capacity(n);
    for (i, o) in out.spare_capacity_mut()[..n].iter_mut().enumerate() {
        o.write(f(i));
    }
    // SAFETY: the loop above initialised the first `n` elements.
    unsafe { out.set_len(n) };
    out
}

/// Two new vectors, element `i` of each from `f(x[i])`: for the forward passes that keep a
/// second result for their backward pass.
#[inline(always)]
fn map2<T: Real>(x: &[T], mut f: impl FnMut(T) -> (T, T)) -> (Vec<T>, Vec<T>) {
    let n = x.len();
    let (mut first, mut second) = (Vec::with_capacity(n), Vec::with_capacity(n));
    for ((&v, a), b) in x
        .iter()
        .zip(&mut first.spare_capacity_mut()[..n])
        .zip(&mut second.spare_capacity_mut()[..n])
    {
        let (y, z) = f(v);
        a.write(y);
        b.write(z);
    }
    // SAFETY: the loop above initialised the first `n` elements of both.
    unsafe {
        first.set_len(n);
        second.set_len(n);
    }
    (first, second)
}

multiversion! {
    /// `x·σ(x)`; at `x = −∞` its limit 0 (not `−∞·0`).
    fn silu_forward<T>(x: &[T]) -> Vec<T> {
        fill(x.len(), |i| {
            let v = x[i];
            let (sigma, _) = sigmoid_parts::<T, FMA>(v);
            if sigma == T::ZERO { T::ZERO } else { v * sigma }
        })
    }
}

multiversion! {
    /// `x·σ(x)` and `σ(x)`: the forward pass of a tracked SiLU keeps `σ` for the backward.
    fn silu_forward_keep<T>(x: &[T]) -> (Vec<T>, Vec<T>) {
        map2(x, |v| {
            let (sigma, _) = sigmoid_parts::<T, FMA>(v);
            (if sigma == T::ZERO { T::ZERO } else { v * sigma }, sigma)
        })
    }
}

multiversion! {
    /// `g·(σ + x·σ(1−σ))`, the derivative of `x·σ(x)` times the incoming gradient, from the
    /// `σ(x)` the forward pass kept (no exp). At `x = ±∞` the second term is taken as its limit
    /// 0 (not `∞·0`).
    fn silu_backward<T>(x: &[T], sigma: &[T], grad: &[T]) -> Vec<T> {
        assert_eq!(x.len(), grad.len());
        assert_eq!(x.len(), sigma.len());
        fill(x.len(), |i| {
            let (v, s, g) = (x[i], sigma[i], grad[i]);
            let slope = s * (T::ONE - s);
            let tail = if slope == T::ZERO { T::ZERO } else { v * slope };
            g * (s + tail)
        })
    }
}

multiversion! {
    /// `x + bias` row by row, in place: `x` row-major with rows as wide as `bias`.
    fn add_bias_in_place<T>(x: &mut [T], bias: &[T]) {
        if !bias.is_empty() {
            for row in x.chunks_exact_mut(bias.len()) {
                for (v, &b) in row.iter_mut().zip(bias) {
                    *v = *v + b;
                }
            }
        }
    }
}

multiversion! {
    /// `x + bias` row by row, in a new vector: `x` row-major with rows as wide as `bias`.
    fn add_bias<T>(x: &[T], bias: &[T]) -> Vec<T> {
        let mut out = x.to_vec();
        if !bias.is_empty() {
            for row in out.chunks_exact_mut(bias.len()) {
                for (v, &b) in row.iter_mut().zip(bias) {
                    *v = *v + b;
                }
            }
        }
        out
    }
}

multiversion! {
    /// The sums of the columns of a row-major matrix with `cols` columns, each started at 0
    /// and added to row by row, in row order (what burn's Flex backend does for `sum_dim(0)`,
    /// so the same bits).
    fn column_sums<T>(x: &[T], cols: usize) -> Vec<T> {
        if let Some(sums) = T::narrow_column_sums(x, cols) {
            return sums;
        }
        let mut out = vec![T::ZERO; cols];
        if cols > 0 {
            for row in x.chunks_exact(cols) {
                for (o, &v) in out.iter_mut().zip(row) {
                    *o = *o + v;
                }
            }
        }
        out
    }
}

/// The constants of one AdamW step (no weight decay), as burn's `AdamW` computes them.
#[derive(Clone, Copy, Debug)]
pub struct AdamW<T> {
    /// First-moment decay `β₁`.
    pub beta_1: T,
    /// Second-moment decay `β₂`.
    pub beta_2: T,
    /// `1 − β₁`.
    pub factor_1: T,
    /// `1 − β₂`.
    pub factor_2: T,
    /// Bias correction `1 − β₁^t`.
    pub correction_1: T,
    /// Bias correction `1 − β₂^t`.
    pub correction_2: T,
    /// `ε`.
    pub epsilon: T,
    /// The learning rate.
    pub lr: T,
}

multiversion! {
    /// One optimizer step on flat parameter vectors, in three passes, each element with the
    /// same operations in the same order as the scalar code it replaces (so the same bits):
    /// with `cost = (λ, m)`, `grad += λ·m·sign(w)` (0 at 0); then AdamW,
    /// `m₁ = β₁m₁ + (1−β₁)g`, `m₂ = β₂m₂ + g²(1−β₂)`,
    /// `w −= (m₁/(1−β₁^t)) / (√(m₂/(1−β₂^t)) + ε) · lr`; then with `mask`, `w *= mask`.
    fn adamw_step<T>(
        values: &mut [T],
        grad: &mut [T],
        moment_1: &mut [T],
        moment_2: &mut [T],
        cost: Option<(T, &[T])>,
        mask: Option<&[T]>,
        adamw: AdamW<T>,
    ) {
        if let Some((lambda, multipliers)) = cost {
            for ((g, &w), &m) in grad.iter_mut().zip(values.iter()).zip(multipliers) {
                let positive = if w > T::ZERO { T::ONE } else { T::ZERO };
                let negative = if w < T::ZERO { T::ONE } else { T::ZERO };
                *g = *g + lambda * m * (positive - negative);
            }
        }
        let AdamW { beta_1, beta_2, factor_1, factor_2, correction_1, correction_2, epsilon, lr } =
            adamw;
        for (((w, &g), m), v) in values
            .iter_mut()
            .zip(grad.iter())
            .zip(moment_1.iter_mut())
            .zip(moment_2.iter_mut())
        {
            *m = *m * beta_1 + g * factor_1;
            *v = *v * beta_2 + g * g * factor_2;
            let delta = (*m / correction_1) / ((*v / correction_2).sqrt() + epsilon);
            *w = *w - delta * lr;
        }
        if let Some(mask) = mask {
            for (w, &keep) in values.iter_mut().zip(mask) {
                *w = *w * keep;
            }
        }
    }
}

/// `1/√2`.
const FRAC_1_SQRT_2: f64 = core::f64::consts::FRAC_1_SQRT_2;

/// `1/√(2π)`.
const FRAC_1_SQRT_2PI: f64 = 0.398_942_280_401_432_7;

/// `Φ(x)`, the standard normal distribution function, as `erfc(−x/√2)/2`, with `erfc` by the
/// Chebyshev fit of Numerical Recipes' `erfcc` (relative error below 1.2e-7 everywhere, both
/// tails included) and the vectorised exp: `f32` precision, which is what the fused GELU uses
/// it for.
#[inline(always)]
fn normal_cdf<T: Real, const FMA: bool>(x: T) -> T {
    let c = T::from_f64;
    let z = (x * c(FRAC_1_SQRT_2)).abs();
    let t = T::ONE / (T::ONE + c(0.5) * z);
    let mut p = c(0.170_872_77);
    for k in [
        -0.822_152_23,
        1.488_515_87,
        -1.135_203_98,
        0.278_868_07,
        -0.186_288_06,
        0.096_784_18,
        0.374_091_96,
        1.000_023_68,
    ] {
        p = p * t + c(k);
    }
    // erfc(|x|/√2)/2 = Φ(−|x|).
    let lower = c(0.5) * t * (t * p - z * z - c(1.265_512_23)).exp::<FMA>();
    if x >= T::ZERO { T::ONE - lower } else { lower }
}

/// `x·Φ(x)`, with its limit 0 where `Φ(x)` is 0 (at `x = −∞`, not `−∞·0`).
#[inline(always)]
fn gelu_of<T: Real>(x: T, cdf: T) -> T {
    if cdf == T::ZERO { T::ZERO } else { x * cdf }
}

multiversion! {
    /// GELU, `x·Φ(x)` (the exact form, as burn's `activation::gelu`), for `f32`.
    fn gelu_forward<T>(x: &[T]) -> Vec<T> {
        fill(x.len(), |i| gelu_of(x[i], normal_cdf::<T, FMA>(x[i])))
    }
}

multiversion! {
    /// `x·Φ(x)` and `Φ(x)`: the forward pass of a tracked GELU keeps `Φ` for the backward.
    fn gelu_forward_keep<T>(x: &[T]) -> (Vec<T>, Vec<T>) {
        map2(x, |v| {
            let cdf = normal_cdf::<T, FMA>(v);
            (gelu_of(v, cdf), cdf)
        })
    }
}

multiversion! {
    /// `g·(Φ(x) + x·φ(x))`, the derivative of `x·Φ(x)` times the incoming gradient, from the
    /// `Φ(x)` the forward pass kept. At `x = ±∞` the second term is its limit 0.
    fn gelu_backward<T>(x: &[T], cdf: &[T], grad: &[T]) -> Vec<T> {
        assert_eq!(x.len(), grad.len());
        assert_eq!(x.len(), cdf.len());
        fill(x.len(), |i| {
            let (v, g) = (x[i], grad[i]);
            let pdf = T::from_f64(FRAC_1_SQRT_2PI) * (T::from_f64(-0.5) * v * v).exp::<FMA>();
            let tail = if pdf == T::ZERO { T::ZERO } else { v * pdf };
            g * (cdf[i] + tail)
        })
    }
}

multiversion! {
    /// `v = e^v` in place (for the tests: the vectorised exp over a slice).
    #[cfg(test)]
    fn exp_in_place<T>(v: &mut [T]) {
        for x in v.iter_mut() {
            *x = x.exp::<FMA>();
        }
    }
}

/// Lanes of the partial sums in [`sum_of`]: enough for one AVX2 (or two SSE) registers of `f32`.
const LANES: usize = 8;

/// `Σ f(a_i, b_i)`, accumulated in [`LANES`] partial sums so that it vectorises (strict float
/// semantics forbid LLVM from reordering a plain running sum).
#[inline(always)]
fn sum_of<T: Real>(a: &[T], b: &[T], f: impl Fn(T, T) -> T) -> T {
    let mut acc = [T::ZERO; LANES];
    let (ca, cb) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (ca, cb) in ca.zip(cb) {
        for i in 0..LANES {
            acc[i] = acc[i] + f(ca[i], cb[i]);
        }
    }
    let mut tail = T::ZERO;
    for (&x, &y) in ra.iter().zip(rb) {
        tail = tail + f(x, y);
    }
    let [a0, a1, a2, a3, a4, a5, a6, a7] = acc;
    ((a0 + a4) + (a1 + a5)) + ((a2 + a6) + (a3 + a7)) + tail
}

/// `Σ v_i`, vectorisable.
#[inline(always)]
fn sum<T: Real>(v: &[T]) -> T {
    sum_of(v, v, |x, _| x)
}

/// A row's maximum (`-∞` for a row without one: empty, all `-∞` or NaN), vectorisable.
#[inline(always)]
fn max_of<T: Real>(row: &[T]) -> T {
    let pick = |m: T, v: T| if v > m { v } else { m };
    let mut acc = [T::NEG_INFINITY; LANES];
    let chunks = row.chunks_exact(LANES);
    let mut tail = T::NEG_INFINITY;
    for &v in chunks.remainder() {
        tail = pick(tail, v);
    }
    for c in chunks {
        for i in 0..LANES {
            acc[i] = pick(acc[i], c[i]);
        }
    }
    acc.into_iter().fold(tail, pick)
}

/// `e^{x − max}` per row of a row-major `[rows, cols]` matrix into `out`; returns per row the
/// maximum and the sum of `out` less one term of the maximum (which is exactly 1), so that
/// `ln Σ = ln_1p(rest)` keeps its precision when one class dominates.
#[inline(always)]
fn shifted_exp<T: Real, const FMA: bool>(x: &[T], cols: usize, out: &mut [T]) -> Vec<(T, T)> {
    // Plain `for` loops and `push`, not `map(..).collect()`: a collect's fold is compiled out
    // of line, for the baseline target, and it took a third of this function.
    let mut max = Vec::with_capacity(x.len() / cols);
    for row in x.chunks_exact(cols) {
        max.push(max_of(row));
    }
    for ((o, row), &m) in out
        .chunks_exact_mut(cols)
        .zip(x.chunks_exact(cols))
        .zip(&max)
    {
        for (o, &v) in o.iter_mut().zip(row) {
            *o = v - m;
        }
    }
    // One flat pass, so that the exp vectorises however narrow the rows are.
    for v in out.iter_mut() {
        *v = v.exp::<FMA>();
    }
    let mut stats = Vec::with_capacity(max.len());
    for ((e, row), &m) in out.chunks_exact(cols).zip(x.chunks_exact(cols)).zip(&max) {
        // The terms of the maxima are exactly 1: sum the others, then add all but one of
        // those (more than one only for ties).
        let others = sum_of(e, row, |e, v| if v == m { T::ZERO } else { e });
        let ones = sum_of(row, row, |v, _| if v == m { T::ONE } else { T::ZERO });
        stats.push((m, others + (ones - T::ONE)));
    }
    stats
}

multiversion! {
    /// Softmax cross entropy of a row-major `[rows, cols]` matrix of logits against targets of
    /// the same shape: `−Σ target·log_softmax(logits, 1) / rows`. When `probs` is given, the row
    /// softmax is written into it (what the backward pass needs).
    fn cross_entropy_forward<T>(
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
        let stats = shifted_exp::<T, FMA>(logits, cols, buf);
        let mut total = 0.0f64;
        for (((row, target), p), (m, rest)) in logits
            .chunks_exact(cols)
            .zip(targets.chunks_exact(cols))
            .zip(buf.chunks_exact_mut(cols))
            .zip(stats)
        {
            let lse = rest.ln_1p();
            total += sum_of(row, target, |v, t| t * ((v - m) - lse)).to_f64();
            if keep {
                let s = T::ONE + rest;
                for p in p.iter_mut() {
                    *p = *p / s;
                }
            }
        }
        mean(total)
    }
}

multiversion! {
    /// Gradient of [`cross_entropy_forward`] with respect to the logits:
    /// `out = scale·(softmax·Σ_row target − target)`, where `scale` is the incoming gradient over
    /// the number of rows.
    fn cross_entropy_backward<T>(
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
            let mass = sum(t);
            for ((o, &p), &t) in o.iter_mut().zip(p).zip(t) {
                *o = scale * (p * mass - t);
            }
        }
    }
}

multiversion! {
    /// Gradient of [`cross_entropy_forward`] with respect to the targets:
    /// `out = −scale·log_softmax(logits, 1)`.
    fn cross_entropy_targets_backward<T>(logits: &[T], cols: usize, scale: T, out: &mut [T]) {
        assert_eq!(logits.len(), out.len());
        if cols == 0 {
            return;
        }
        let stats = shifted_exp::<T, FMA>(logits, cols, out);
        for ((o, row), (m, rest)) in out
            .chunks_exact_mut(cols)
            .zip(logits.chunks_exact(cols))
            .zip(stats)
        {
            let lse = rest.ln_1p();
            for (o, &v) in o.iter_mut().zip(row) {
                *o = -(scale * ((v - m) - lse));
            }
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
            #[cfg(target_arch = "x86_64")]
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

    /// `Φ(x)` in `f64`, by the series of `erf` near 0 and the continued fraction of `erfc` in
    /// the tails: the reference for [`normal_cdf`].
    fn phi_reference(x: f64) -> f64 {
        let z = x / core::f64::consts::SQRT_2;
        if z.abs() < 2.0 {
            // erf(z) = 2/√π Σ (−1)^n z^(2n+1) / (n! (2n+1))
            let (mut term, mut sum) = (z, z);
            for n in 1..60 {
                term *= -z * z / n as f64;
                sum += term / (2 * n + 1) as f64;
            }
            0.5 * (1.0 + sum * 2.0 / core::f64::consts::PI.sqrt())
        } else {
            // erfc(a) = e^(−a²)/√π · 1/(a + (1/2)/(a + 1/(a + (3/2)/(a + …)))), a = |z|
            let a = z.abs();
            let mut f = a;
            for k in (1..80).rev() {
                f = a + (k as f64 / 2.0) / f;
            }
            let erfc = (-a * a).exp() / core::f64::consts::PI.sqrt() / f;
            if z > 0.0 {
                1.0 - 0.5 * erfc
            } else {
                0.5 * erfc
            }
        }
    }

    #[test]
    fn normal_cdf_is_accurate_in_both_tails() {
        // Relative error: 1e-6, plus in the lower tail the rounding of the f32 exponent −x²/2
        // (about 6e-8·x²/2).
        let mut x = -13.0f32;
        while x < 6.0 {
            let want = phi_reference(x as f64);
            let got = normal_cdf::<f32, false>(x) as f64;
            let tol = (1e-6 + 1.5e-7 * (x as f64).powi(2)) * want;
            assert!((got - want).abs() <= tol, "Φ({x}): {got:e} vs {want:e}");
            x += 0.001_37;
        }
        assert_eq!(normal_cdf::<f32, false>(f32::INFINITY), 1.0);
        assert_eq!(normal_cdf::<f32, false>(f32::NEG_INFINITY), 0.0);
        assert!(normal_cdf::<f32, false>(f32::NAN).is_nan());
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

/// A matrix read from a row-major slice, or its transpose (the same values read with the
/// strides swapped, not copied).
#[derive(Clone, Copy, Debug)]
pub struct Matrix<'a, T> {
    values: &'a [T],
    rows: usize,
    cols: usize,
    row_stride: usize,
    col_stride: usize,
}

impl<'a, T> Matrix<'a, T> {
    /// The `[rows, cols]` matrix stored row after row in `values`.
    ///
    /// # Panics
    ///
    /// When `values` does not hold `rows·cols` elements.
    pub fn row_major(values: &'a [T], rows: usize, cols: usize) -> Self {
        assert_eq!(
            values.len(),
            rows * cols,
            "bimt-kernels: a [{rows}, {cols}] matrix holds {} values",
            rows * cols
        );
        Self {
            values,
            rows,
            cols,
            row_stride: cols,
            col_stride: 1,
        }
    }

    /// The transpose, `[cols, rows]`.
    pub fn transposed(self) -> Self {
        Self {
            rows: self.cols,
            cols: self.rows,
            row_stride: self.col_stride,
            col_stride: self.row_stride,
            ..self
        }
    }
}

/// `lhs·rhs`, row-major, in a new vector.
///
/// The products are the `gemm` crate's, called with the arguments burn's Flex backend gives it
/// (so the same sums in the same order), but written straight into the new vector: Flex
/// allocates its output zeroed and then copies it to realign it, which cost a tenth of the
/// modular-addition step.
///
/// # Panics
///
/// When the inner dimensions differ.
pub fn matmul<T: Real>(lhs: Matrix<T>, rhs: Matrix<T>) -> Vec<T> {
    assert_eq!(
        lhs.cols, rhs.rows,
        "bimt-kernels: matmul of [{}, {}] by [{}, {}]",
        lhs.rows, lhs.cols, rhs.rows, rhs.cols
    );
    let (m, k, n) = (lhs.rows, lhs.cols, rhs.cols);
    if k == 0 {
        return vec![T::ZERO; m * n];
    }
    let mut out = Vec::with_capacity(m * n);
    // SAFETY: `out` has room for m·n elements; with `accumulate` false and k > 0, gemm writes
    // every one of them without reading any, so they are initialised before `set_len`.
    unsafe {
        gemm_raw(lhs, rhs, out.as_mut_ptr(), false);
        out.set_len(m * n);
    }
    out
}

/// `lhs·rhs` written into `out` (row-major `[lhs.rows, rhs.cols]`), or added to it where
/// `accumulate`: [`matmul`] into a buffer the caller keeps.
///
/// # Panics
/// If the inner dimensions differ or `out` does not hold `lhs.rows·rhs.cols` values.
pub fn matmul_into<T: Real>(lhs: Matrix<T>, rhs: Matrix<T>, out: &mut [T], accumulate: bool) {
    assert!(
        lhs.cols == rhs.rows && out.len() == lhs.rows * rhs.cols,
        "bimt-kernels: matmul of [{}, {}] by [{}, {}] into {} values",
        lhs.rows,
        lhs.cols,
        rhs.rows,
        rhs.cols,
        out.len()
    );
    if lhs.cols == 0 {
        if !accumulate {
            out.fill(T::ZERO);
        }
        return;
    }
    // SAFETY: `out` holds the m·n elements gemm writes (and, accumulating, reads).
    unsafe { gemm_raw(lhs, rhs, out.as_mut_ptr(), accumulate) }
}

/// `dst = lhs·rhs` (or `dst += lhs·rhs` where `accumulate`), row-major `[m, n]`, through gemm.
///
/// # Safety
/// `lhs.cols == rhs.rows > 0`; `dst` is valid for `lhs.rows·rhs.cols` writes, and for as many
/// reads of initialised values where `accumulate`. Each operand's strides address its own
/// slice only (a row-major matrix or its transpose, checked in `row_major`).
unsafe fn gemm_raw<T: Real>(lhs: Matrix<T>, rhs: Matrix<T>, dst: *mut T, accumulate: bool) {
    let (m, k, n) = (lhs.rows, lhs.cols, rhs.cols);
    if m * n == 0 {
        return;
    }
    // SAFETY: the caller's contract above.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst,
            1,
            n as isize,
            accumulate,
            lhs.values.as_ptr(),
            lhs.col_stride as isize,
            lhs.row_stride as isize,
            rhs.values.as_ptr(),
            rhs.col_stride as isize,
            rhs.row_stride as isize,
            if accumulate { T::ONE } else { T::ZERO },
            T::ONE,
            false,
            false,
            false,
            parallelism(m, n, k),
        );
    }
}

/// Flex's rule: the current thread pool's threads from 192³ multiply-adds up, else one.
fn parallelism(m: usize, n: usize, k: usize) -> gemm::Parallelism {
    if m.saturating_mul(n).saturating_mul(k) >= 192 * 192 * 192 {
        gemm::Parallelism::Rayon(0)
    } else {
        gemm::Parallelism::None
    }
}

/// The table rows that [`token_sum`] adds: `t·vocabulary + id` for the id of token `t`, for
/// row-major `[rows, tokens]` ids.
///
/// # Panics
///
/// When an id is not a whole number in `0..vocabulary`.
pub fn token_rows<T: Real>(ids: &[T], tokens: usize, vocabulary: usize) -> Vec<usize> {
    let mut rows = Vec::with_capacity(ids.len());
    for (r, row) in ids.chunks_exact(tokens.max(1)).enumerate() {
        for (t, id) in row.iter().enumerate() {
            let id = id.to_f64();
            // Saturating: NaN gives 0, too large gives usize::MAX; both fail below.
            let whole = id as usize;
            assert!(
                id >= 0.0 && whole < vocabulary && whole as f64 == id,
                "bimt-kernels: token id {id} (row {r}, token {t}) is not one of 0..{vocabulary}"
            );
            rows.push(t * vocabulary + whole);
        }
    }
    rows
}

multiversion! {
    /// Row `r` of the result: `Σ_t table[rows[r·tokens + t]]`, summed in token order, for a
    /// row-major table of `width`-wide rows.
    fn token_sum<T>(table: &[T], width: usize, rows: &[usize], tokens: usize) -> Vec<T> {
        let mut out = Vec::with_capacity(rows.len() / tokens.max(1) * width);
        for picks in rows.chunks_exact(tokens.max(1)) {
            let start = out.len();
            out.extend_from_slice(&table[picks[0] * width..][..width]);
            let sum = &mut out[start..];
            for &p in &picks[1..] {
                for (s, &v) in sum.iter_mut().zip(&table[p * width..][..width]) {
                    *s = *s + v;
                }
            }
        }
        out
    }
}

multiversion! {
    /// The gradient of [`token_sum`] with respect to its table of `table_rows` rows: each row
    /// of `grad` added into every table row that its row of the sum took, rows in order.
    fn token_sum_backward<T>(
        grad: &[T],
        width: usize,
        rows: &[usize],
        tokens: usize,
        table_rows: usize,
    ) -> Vec<T> {
        let mut out = vec![T::ZERO; table_rows * width];
        if width > 0 {
            for (g, picks) in grad.chunks_exact(width).zip(rows.chunks_exact(tokens.max(1))) {
                for &p in picks {
                    for (o, &v) in out[p * width..][..width].iter_mut().zip(g) {
                        *o = *o + v;
                    }
                }
            }
        }
        out
    }
}

/// Where each of `0..cols` stands in `columns`, when `columns` is a permutation of them.
fn inverse_permutation(columns: &[usize], cols: usize) -> Option<Vec<usize>> {
    if columns.len() != cols {
        return None;
    }
    let mut source = vec![usize::MAX; cols];
    for (j, &c) in columns.iter().enumerate() {
        if source[c] != usize::MAX {
            return None;
        }
        source[c] = j;
    }
    Some(source)
}

/// Row by row, `out[r][j] = x[r][source[j]]` (plus zero where `add_zero`, as a sum onto
/// zeros gives, down to the sign of a zero), for a row-major `x` of `cols` columns.
#[inline(always)]
fn gather_columns<T: Real>(x: &[T], cols: usize, source: &[usize], add_zero: bool) -> Vec<T> {
    if let Some(out) = T::permute_narrow_rows(x, cols, source, add_zero) {
        return out;
    }
    let (rows, width) = (x.len() / cols.max(1), source.len());
    let mut out = Vec::with_capacity(rows * width);
    if cols > 0 && width > 0 {
        for (o, row) in out.spare_capacity_mut()[..rows * width]
            .chunks_exact_mut(width)
            .zip(x.chunks_exact(cols))
        {
            for (o, &c) in o.iter_mut().zip(source) {
                o.write(if add_zero { T::ZERO + row[c] } else { row[c] });
            }
        }
        // SAFETY: the loop above initialised all `rows·width` elements.
        unsafe { out.set_len(rows * width) };
    }
    out
}

multiversion! {
    /// The columns `columns` of a row-major matrix of `rows` rows, in that order:
    /// `out[r][j] = x[r][columns[j]]`.
    fn select_columns<T>(x: &[T], rows: usize, columns: &[usize]) -> Vec<T> {
        if rows == 0 || columns.is_empty() {
            return Vec::new();
        }
        gather_columns(x, x.len() / rows, columns, false)
    }
}

multiversion! {
    /// The gradient of [`select_columns`] with respect to its `[rows, cols]` matrix: each
    /// column of `grad` added into the column it was taken from.
    fn select_columns_backward<T>(grad: &[T], rows: usize, cols: usize, columns: &[usize]) -> Vec<T> {
        if let Some(source) = inverse_permutation(columns, cols) {
            // Each column receives exactly one: gather it (`0 + g`, as the sum onto zeros
            // gives, down to the sign of a zero).
            return gather_columns(grad, cols, &source, true);
        }
        let mut out = vec![T::ZERO; rows * cols];
        if !columns.is_empty() && cols > 0 {
            for (o, g) in out.chunks_exact_mut(cols).zip(grad.chunks_exact(columns.len())) {
                for (&c, &v) in columns.iter().zip(g) {
                    o[c] = o[c] + v;
                }
            }
        }
        out
    }
}
