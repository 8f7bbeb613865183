//! scikit-learn's `make_moons` distribution (paper §3.2, App. C).

use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use crate::rng::{seeded, standard_normal};
use crate::{Dataset, Split, Targets};

/// Two interleaved half circles, following scikit-learn's `make_moons` in
/// distribution.
///
/// For each split of `n` samples, `n / 2` (floor) points lie on the upper
/// moon `(cos t, sin t)` with label 0 and the remaining `n − n / 2` on the
/// lower moon `(1 − cos t, 0.5 − sin t)` with label 1, `t` evenly spaced
/// over `[0, π]` (numpy's `linspace`, end point included). The samples are
/// shuffled, then Gaussian noise of standard deviation `noise` is added to
/// both coordinates (scikit-learn's order). The training split is drawn
/// first and the test split after it from the same seeded stream, so they
/// are independent draws. A `noise` that is not positive adds nothing.
///
/// Input names are `x1`, `x2`; output names `class 0`, `class 1`.
pub fn two_moons(n_train: usize, n_test: usize, noise: f32, seed: u64) -> Dataset {
    let mut rng = seeded(seed);
    let train = moons_split(n_train, noise, &mut rng);
    let test = moons_split(n_test, noise, &mut rng);
    Dataset {
        train,
        test,
        input_names: vec!["x1".into(), "x2".into()],
        output_names: vec!["class 0".into(), "class 1".into()],
        rows_per_sample: 1,
    }
}

/// `n` points evenly spaced over `[0, π]`, as `numpy.linspace(0, π, n)`.
fn linspace_pi(n: usize) -> impl Iterator<Item = f64> {
    let step = if n > 1 {
        std::f64::consts::PI / (n - 1) as f64
    } else {
        0.0
    };
    (0..n).map(move |i| {
        if n > 1 && i == n - 1 {
            std::f64::consts::PI
        } else {
            step * i as f64
        }
    })
}

fn moons_split(n: usize, noise: f32, rng: &mut ChaCha8Rng) -> Split {
    let n_out = n / 2;
    let n_in = n - n_out;
    let mut points: Vec<([f64; 2], u32)> = linspace_pi(n_out)
        .map(|t| ([t.cos(), t.sin()], 0))
        .chain(linspace_pi(n_in).map(|t| ([1.0 - t.cos(), 0.5 - t.sin()], 1)))
        .collect();
    points.shuffle(rng);
    let sigma = f64::from(noise);
    let mut inputs = Vec::with_capacity(2 * n);
    let mut labels = Vec::with_capacity(n);
    for ([a, b], label) in points {
        if sigma > 0.0 {
            inputs.push((a + sigma * standard_normal(rng)) as f32);
            inputs.push((b + sigma * standard_normal(rng)) as f32);
        } else {
            inputs.push(a as f32);
            inputs.push(b as f32);
        }
        labels.push(label);
    }
    Split {
        inputs,
        n,
        in_dim: 2,
        targets: Targets::Classes { labels, classes: 2 },
    }
}
