//! Helpers shared by the tests.

use bimt_engine::{Model, Tensor, TensorData, default_device};
use bimt_transformer::{Transformer, TransformerConfig};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// A tiny configuration: 2-D tokens, sequences of three.
pub fn config(width: usize, depth: usize, heads: usize) -> TransformerConfig {
    TransformerConfig {
        token_dim: 2,
        out_dim: 3,
        width,
        depth,
        heads,
        mlp_ratio: 2,
        seq_len: 3,
    }
}

/// A freshly initialised model.
pub fn model(config: TransformerConfig, seed: u64) -> Model<Transformer> {
    Model::new(
        Transformer::new(config).expect("valid config"),
        seed,
        &default_device(),
    )
    .unwrap()
}

/// `sequences·seq_len` random tokens.
pub fn tokens(config: &TransformerConfig, sequences: usize, seed: u64) -> Tensor<2> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let rows = sequences * config.seq_len;
    let values: Vec<f32> = (0..rows * config.token_dim)
        .map(|_| rng.random_range(-2.0..2.0))
        .collect();
    Tensor::from_data(
        TensorData::new(values, [rows, config.token_dim]),
        &default_device(),
    )
}

/// Row-major host values.
pub fn host(t: Tensor<2>) -> Vec<f32> {
    t.into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .expect("float tensor")
}

/// Largest absolute difference relative to the largest magnitude of `a`: outputs agree to
/// `tol` when this is below it (panics on a length mismatch).
pub fn max_relative(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    let scale = a
        .iter()
        .fold(0.0f32, |m, x| m.max(x.abs()))
        .max(f32::MIN_POSITIVE);
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
        / scale
}

/// A random permutation of `n`.
pub fn shuffled(n: usize, rng: &mut ChaCha8Rng) -> Vec<usize> {
    let mut p: Vec<usize> = (0..n).collect();
    p.shuffle(rng);
    p
}

/// A random permutation of `n` neurons in blocks of `block`: whole blocks shuffled, then
/// neurons shuffled within each block (position `q` receives neuron `perm[q]`).
pub fn block_shuffled(n: usize, block: usize, rng: &mut ChaCha8Rng) -> Vec<usize> {
    let blocks = shuffled(n / block, rng);
    blocks
        .iter()
        .flat_map(|&src| {
            shuffled(block, rng)
                .into_iter()
                .map(move |i| src * block + i)
                .collect::<Vec<_>>()
        })
        .collect()
}
