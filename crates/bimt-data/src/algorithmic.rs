//! Algorithmic datasets (paper §3.3, App. D, E): every pair of tokens `(a, b)` of a finite
//! binary operation, labelled with `a ∘ b`, split at random into training and test pairs.

use rand::seq::SliceRandom;

use crate::rng::seeded;
use crate::{Dataset, Split, Targets};

/// A finite binary operation on the tokens `0..size`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operation {
    /// `(a + b) mod p`.
    ModularAddition {
        /// The modulus (the paper's p = 59).
        p: usize,
    },
    /// Composition in the symmetric group S4: token `t` is the `t`-th of the 24 permutations
    /// of `0..4` in lexicographic order, and `a ∘ b` maps `i` to `a[b[i]]`.
    PermutationS4,
}

impl Operation {
    /// Number of tokens (and classes).
    pub fn size(self) -> usize {
        match self {
            Operation::ModularAddition { p } => p,
            Operation::PermutationS4 => 24,
        }
    }

    /// `a ∘ b` (both `< size()`).
    pub fn apply(self, a: usize, b: usize) -> usize {
        match self {
            Operation::ModularAddition { p } => (a + b) % p,
            Operation::PermutationS4 => {
                let all = permutations_of_four();
                let (pa, pb) = (all[a], all[b]);
                let c = [pa[pb[0]], pa[pb[1]], pa[pb[2]], pa[pb[3]]];
                all.iter().position(|&q| q == c).expect("S4 is closed")
            }
        }
    }

    /// How each token is written in reports: the number, or the permutation (`2031`).
    pub fn token_name(self, token: usize) -> String {
        match self {
            Operation::ModularAddition { .. } => token.to_string(),
            Operation::PermutationS4 => permutations_of_four()[token]
                .iter()
                .map(|d| d.to_string())
                .collect(),
        }
    }
}

/// The 24 permutations of `0..4`, in lexicographic order.
pub fn permutations_of_four() -> Vec<[usize; 4]> {
    let mut all = Vec::with_capacity(24);
    for a in 0..4 {
        for b in (0..4).filter(|&b| b != a) {
            for c in (0..4).filter(|&c| c != a && c != b) {
                let d = 6 - a - b - c;
                all.push([a, b, c, d]);
            }
        }
    }
    all
}

/// Whether permutation `p` of `0..4` is even (an even number of inversions).
pub fn is_even_permutation(p: &[usize; 4]) -> bool {
    let inversions = (0..4)
        .flat_map(|i| (i + 1..4).map(move |j| (i, j)))
        .filter(|&(i, j)| p[i] > p[j])
        .count();
    inversions % 2 == 0
}

/// All `size²` pairs of `operation`, shuffled with `seed`; the first
/// `round(train_fraction · size²)` train, the rest test. Inputs are the two token ids as
/// floats (`a`, `b`); labels are `a ∘ b`.
pub fn algorithmic(operation: Operation, train_fraction: f64, seed: u64) -> Dataset {
    let n = operation.size();
    let mut pairs: Vec<(usize, usize)> = (0..n).flat_map(|a| (0..n).map(move |b| (a, b))).collect();
    pairs.shuffle(&mut seeded(seed));
    let n_train =
        ((train_fraction.clamp(0.0, 1.0) * pairs.len() as f64).round() as usize).min(pairs.len());
    let split = |pairs: &[(usize, usize)]| Split {
        inputs: pairs
            .iter()
            .flat_map(|&(a, b)| [a as f32, b as f32])
            .collect(),
        n: pairs.len(),
        in_dim: 2,
        targets: Targets::Classes {
            labels: pairs
                .iter()
                .map(|&(a, b)| operation.apply(a, b) as u32)
                .collect(),
            classes: n,
        },
    };
    Dataset {
        train: split(&pairs[..n_train]),
        test: split(&pairs[n_train..]),
        input_names: vec!["a".into(), "b".into()],
        output_names: (0..n).map(|t| operation.token_name(t)).collect(),
        rows_per_sample: 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modular_addition_labels_every_pair() {
        let data = algorithmic(Operation::ModularAddition { p: 59 }, 0.8, 3);
        assert_eq!(data.train.n + data.test.n, 59 * 59);
        assert_eq!(data.train.n, (0.8f64 * 3481.0).round() as usize);
        for split in [&data.train, &data.test] {
            for i in 0..split.n {
                let x = split.row(i);
                let (a, b) = (x[0] as u32, x[1] as u32);
                assert_eq!(split.label(i), Some((a + b) % 59));
            }
        }
    }

    #[test]
    fn s4_is_a_group_with_half_its_elements_even() {
        let s4 = Operation::PermutationS4;
        let all = permutations_of_four();
        assert_eq!(all.len(), 24);
        let identity = all.iter().position(|p| *p == [0, 1, 2, 3]).unwrap();
        for a in 0..24 {
            assert_eq!(s4.apply(a, identity), a);
            assert_eq!(s4.apply(identity, a), a);
            // Every element has an inverse, and the sign is a homomorphism.
            assert!((0..24).any(|b| s4.apply(a, b) == identity));
            for b in 0..24 {
                let even = |t: usize| is_even_permutation(&all[t]);
                assert_eq!(even(s4.apply(a, b)), even(a) == even(b));
            }
        }
        assert_eq!(all.iter().filter(|p| is_even_permutation(p)).count(), 12);
        // Not commutative.
        assert!((0..24).any(|a| (0..24).any(|b| s4.apply(a, b) != s4.apply(b, a))));
    }

    #[test]
    fn the_split_depends_on_the_seed_only() {
        let op = Operation::PermutationS4;
        assert_eq!(algorithmic(op, 0.8, 1), algorithmic(op, 0.8, 1));
        assert_ne!(algorithmic(op, 0.8, 1), algorithmic(op, 0.8, 2));
    }
}
