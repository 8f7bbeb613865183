//! Magnitude pruning of a whole network (paper App. A, Fig. 9).

use crate::predict;
use bimt_format::ModelFile;

/// Every parameter of the model's connections: weights, then biases, connection by connection.
fn parameters_mut(model: &mut ModelFile) -> impl Iterator<Item = &mut f32> {
    model.connections.iter_mut().flat_map(|c| {
        c.weight
            .iter_mut()
            .flatten()
            .chain(c.bias.iter_mut().flatten())
    })
}

/// The model with every weight and bias of magnitude below `threshold` set to zero.
pub fn prune(model: &ModelFile, threshold: f32) -> ModelFile {
    let mut pruned = model.clone();
    for p in parameters_mut(&mut pruned) {
        if p.abs() < threshold {
            *p = 0.0;
        }
    }
    pruned
}

/// The number of weights and biases that are not zero.
pub fn nonzero_parameters(model: &ModelFile) -> usize {
    model
        .connections
        .iter()
        .flat_map(|c| c.weight.iter().flatten().chain(c.bias.iter().flatten()))
        .filter(|p| **p != 0.0)
        .count()
}

/// Mean squared error of the model's function (rebuilt from the file, an MLP chain) over
/// `inputs` and `targets`, both in the original feature order.
pub fn mse(model: &ModelFile, inputs: &[Vec<f64>], targets: &[Vec<f64>]) -> f64 {
    let (mut sum, mut count) = (0.0, 0usize);
    for (x, y) in inputs.iter().zip(targets) {
        for (p, t) in predict(model, x).iter().zip(y) {
            sum += (p - t) * (p - t);
            count += 1;
        }
    }
    sum / count.max(1) as f64
}

/// The pruning frontier: for each magnitude threshold that removes at least one more
/// parameter, `(parameters left, MSE of the pruned network)`, from the unpruned network down
/// to the empty one.
pub fn pruning_frontier(
    model: &ModelFile,
    inputs: &[Vec<f64>],
    targets: &[Vec<f64>],
) -> Vec<(usize, f64)> {
    let mut magnitudes: Vec<f32> = model
        .connections
        .iter()
        .flat_map(|c| c.weight.iter().flatten().chain(c.bias.iter().flatten()))
        .map(|p| p.abs())
        .filter(|m| *m > 0.0)
        .collect();
    magnitudes.sort_by(f32::total_cmp);
    magnitudes.dedup();
    let thresholds = std::iter::once(0.0)
        .chain(magnitudes.iter().skip(1).copied())
        .chain(magnitudes.last().map(|m| m * 2.0));
    thresholds
        .map(|t| {
            let pruned = prune(model, t);
            (nonzero_parameters(&pruned), mse(&pruned, inputs, targets))
        })
        .collect()
}

/// The best MSE reachable with at most `k` parameters, for `k = 0..=most`, from a frontier
/// (infinite where no point has that few).
pub fn best_within_budget(frontier: &[(usize, f64)], most: usize) -> Vec<f64> {
    (0..=most)
        .map(|k| {
            frontier
                .iter()
                .filter(|(n, _)| *n <= k)
                .map(|(_, loss)| *loss)
                .fold(f64::INFINITY, f64::min)
        })
        .collect()
}
