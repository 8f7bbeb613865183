//! Probes: how well neuron activations predict a hidden quantity (the paper's Fig. 7 right:
//! which residual neurons carry the in-context weight `w`).

use nalgebra::{DMatrix, DVector};
use serde::Serialize;

/// Pearson correlation of two equally long series (0 when either is constant).
pub fn pearson(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len().max(1) as f64;
    let (ma, mb) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
    let cov: f64 = a.iter().zip(b).map(|(x, y)| (x - ma) * (y - mb)).sum();
    let va: f64 = a.iter().map(|x| (x - ma).powi(2)).sum();
    let vb: f64 = b.iter().map(|y| (y - mb).powi(2)).sum();
    if va == 0.0 || vb == 0.0 {
        0.0
    } else {
        cov / (va * vb).sqrt()
    }
}

/// R² of the least-squares fit `target ≈ c0 + c1·a + c2·b + c3·a² + c4·b² + c5·a·b`: how much
/// of the target a pair of neurons determines together, linearly or not.
pub fn pair_r2(a: &[f64], b: &[f64], target: &[f64]) -> f64 {
    let n = target.len();
    if n < 7 {
        return 0.0;
    }
    let features = |i: usize| [1.0, a[i], b[i], a[i] * a[i], b[i] * b[i], a[i] * b[i]];
    let x = DMatrix::from_fn(n, 6, |i, j| features(i)[j]);
    let y = DVector::from_column_slice(target);
    let Ok(coef) = x.clone().svd(true, true).solve(&y, 1e-10) else {
        return 0.0;
    };
    let residual = (&x * coef - &y).norm_squared();
    let mean = y.mean();
    let total: f64 = y.iter().map(|v| (v - mean).powi(2)).sum();
    if total == 0.0 {
        0.0
    } else {
        1.0 - residual / total
    }
}

/// One neuron's correlation with the probed quantity.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct NeuronProbe {
    /// Neuron index in storage order.
    pub neuron: usize,
    /// Pearson correlation with the quantity.
    pub correlation: f64,
}

/// A pair of neurons and how well they predict the quantity together.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PairProbe {
    /// The two neurons.
    pub neurons: (usize, usize),
    /// R² of the quadratic fit ([`pair_r2`]).
    pub r2: f64,
}

/// Probes the `neurons` of a layer: `activations[sample][neuron]` against `target[sample]`.
/// Returns each neuron's correlation and every pair's R², best pairs first.
pub fn probe(
    activations: &[Vec<f64>],
    neurons: &[usize],
    target: &[f64],
) -> (Vec<NeuronProbe>, Vec<PairProbe>) {
    let column = |n: usize| activations.iter().map(|row| row[n]).collect::<Vec<f64>>();
    let columns: Vec<Vec<f64>> = neurons.iter().map(|&n| column(n)).collect();
    let singles = neurons
        .iter()
        .zip(&columns)
        .map(|(&neuron, c)| NeuronProbe {
            neuron,
            correlation: pearson(c, target),
        })
        .collect();
    let mut pairs = Vec::new();
    for i in 0..neurons.len() {
        for j in i + 1..neurons.len() {
            pairs.push(PairProbe {
                neurons: (neurons[i], neurons[j]),
                r2: pair_r2(&columns[i], &columns[j], target),
            });
        }
    }
    pairs.sort_by(|a, b| b.r2.total_cmp(&a.r2));
    (singles, pairs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pair_recovers_a_quantity_no_single_neuron_does() {
        // w = a·b: neither a nor b alone correlates with w, the pair determines it.
        let (mut a, mut b, mut w) = (vec![], vec![], vec![]);
        for i in 0..200 {
            let x = (i as f64 * 0.37).sin();
            let y = (i as f64 * 0.91).cos();
            a.push(x);
            b.push(y);
            w.push(x * y);
        }
        assert!(pearson(&a, &w).abs() < 0.3);
        assert!(pair_r2(&a, &b, &w) > 0.999);
        let rows: Vec<Vec<f64>> = (0..200).map(|i| vec![a[i], 0.0, b[i]]).collect();
        let (singles, pairs) = probe(&rows, &[0, 2], &w);
        assert_eq!(singles.len(), 2);
        assert_eq!(pairs[0].neurons, (0, 2));
    }

    #[test]
    fn correlation_of_a_line_is_one() {
        let a = [1.0, 2.0, 3.0];
        assert!((pearson(&a, &[2.0, 4.0, 6.0]) - 1.0).abs() < 1e-12);
        assert!((pearson(&a, &[3.0, 2.0, 1.0]) + 1.0).abs() < 1e-12);
        assert_eq!(pearson(&a, &[1.0, 1.0, 1.0]), 0.0);
    }
}
