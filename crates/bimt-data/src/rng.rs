//! Small sampling helpers shared by the generators (never panic on odd ranges).

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The crate's only random number generator constructor.
pub(crate) fn seeded(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed)
}

/// A draw from U[lo, hi) (or exactly `lo` when `lo == hi`; reversed bounds
/// are accepted and sample the same interval).
pub(crate) fn uniform(rng: &mut ChaCha8Rng, lo: f32, hi: f32) -> f32 {
    let u: f64 = rng.random();
    (f64::from(lo) + (f64::from(hi) - f64::from(lo)) * u) as f32
}

/// A draw from N(0, 1) by the Box–Muller transform.
pub(crate) fn standard_normal(rng: &mut ChaCha8Rng) -> f64 {
    // 1 - U lies in (0, 1], so the logarithm is finite.
    let u1: f64 = 1.0 - rng.random::<f64>();
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}
