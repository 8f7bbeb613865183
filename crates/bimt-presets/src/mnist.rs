//! The `mnist` preset (paper §3.5, Fig. 8, App. G): the data, the 3D-embedded network, and
//! what a trained model shows in numbers (`metrics.json` → `structure`) and pictures
//! (`features.png`, `receptive_field.png`, `sign_balance.png`).

use crate::error::Error;
use crate::preset::{Experiment, Preset, Table1Entry};
use crate::report::ACTIVE_THRESHOLD;
use crate::runner::{Extras, GraphSize, RunSpec, train_supervised};
use crate::settings::{Phases, Profile, Settings};
use bimt_analysis::active_counts;
use bimt_analysis::pearson;
use bimt_data::Dataset;
use bimt_engine::Network;
use bimt_format::{ConnectionFile, FormatError, MetricsFile, ModelFile};
use bimt_mlp::{Mlp, MlpConfig};
use bimt_tasks::Loss;
use bimt_views::{LinePlot, Series, render_image_grid, render_line_chart, write_png};
use image::{Rgb, RgbImage};
use serde_json::{Value, json};
use std::path::Path;

/// Side of an MNIST image.
pub const SIDE: usize = 28;
/// At most this many hidden1 features are shown in `features.png` (the paper finds 38 large
/// ones, Fig. 17).
pub const FEATURES_SHOWN: usize = 40;

/// Trains the 3D network on MNIST (from `spec.data_dir`) and writes the run directory (see
/// [`train`]).
pub fn run(spec: &RunSpec) -> Result<MetricsFile, Error> {
    train(spec, network()?)
}

/// Trains `network` (784 pixels in, 10 digits out) on MNIST and writes the run directory with
/// the receptive field, the weight signs, the first-layer features and the output ring; for a
/// convolutional network, the live channels, the modules and the first layer's filters.
pub fn train<N: Network>(spec: &RunSpec, network: N) -> Result<MetricsFile, Error> {
    let data = load(spec.data_dir.as_deref())?;
    train_supervised(
        spec,
        network,
        &data,
        Loss::OneHotMse,
        GraphSize::Large,
        |model| {
            // The ring's digits are not drawn on a planar layer: the graph's title names them.
            let order: Vec<String> = ring_order(model).iter().map(|d| d.to_string()).collect();
            let graph_note = Some(format!("ring (anticlockwise): {}", order.join(" ")));
            if crate::mnist_cnn::is_convolutional(model) {
                let mut structure = crate::mnist_cnn::structure(model, &data);
                structure["output_ring"] = json!(ring_order(model));
                return Ok(Extras {
                    graph_note,
                    pictures: crate::mnist_cnn::filters_image(model)
                        .map(|image| ("filters.png", image))
                        .into_iter()
                        .collect(),
                    ..Extras::structure(structure)
                });
            }
            write_views(&spec.out, model, &data)?;
            Ok(Extras {
                graph_note,
                ..Extras::structure(structure(model, &data))
            })
        },
    )
}

/// Table 1 criterion of MNIST: at most 60 % of the pixels keep a visible weight.
pub fn receptive_field_shrinks(metrics: &MetricsFile) -> Option<bool> {
    let fraction = metrics.structure["receptive_field"]["fraction"].as_f64()?;
    Some(fraction <= 0.6)
}

/// Loads MNIST from `--data-dir`, else `$BIMT_MNIST_DIR`, else `../shared/data/mnist`; checks
/// that the images are 28×28.
pub fn load(flag: Option<&Path>) -> Result<Dataset, Error> {
    let dir = bimt_data::default_mnist_dir(flag);
    if !dir.is_dir() {
        let shown = std::path::absolute(&dir).unwrap_or_else(|_| dir.clone());
        return Err(Error::Settings(format!(
            "MNIST directory {} not found; pass --data-dir DIR or set {} to a directory holding train-images-idx3-ubyte(.gz), train-labels-idx1-ubyte(.gz), t10k-images-idx3-ubyte(.gz) and t10k-labels-idx1-ubyte(.gz)",
            shown.display(),
            bimt_data::MNIST_DIR_ENV
        )));
    }
    let data = bimt_data::load_mnist(&dir)?;
    if data.train.in_dim != SIDE * SIDE {
        return Err(Error::Settings(format!(
            "{}: the mnist preset needs 28x28 images (784 pixels), these have {} pixels",
            dir.display(),
            data.train.in_dim
        )));
    }
    Ok(data)
}

/// The 784-100-100-10 SiLU MLP embedded in 3D: the fixed 28×28 pixel grid, two 10×10 grids and
/// an output ring of radius 1/4.
pub fn network() -> Result<Mlp, Error> {
    Ok(Mlp::new(&MlpConfig::image(
        SIDE,
        SIDE,
        &[(10, 10), (10, 10)],
        10,
    ))?)
}

/// The convolutional network of `examples/architectures/mnist_cnn.json`: conv 1→16 (5×5) →
/// max pool → conv 16→32 (5×5) → max pool → flatten → 10, channels on grids in 3D.
pub fn cnn_network() -> Result<bimt_graph::Graph, Error> {
    let text = include_str!("../../../examples/architectures/mnist_cnn.json");
    bimt_graph::Graph::from_json(text, "examples/architectures/mnist_cnn.json")
        .map_err(|e| Error::Architecture(e.0))
}

/// The connection that leaves the input layer, and the one after it (into hidden1's successor).
fn first_two(model: &ModelFile) -> Option<(&ConnectionFile, Option<&ConnectionFile>)> {
    let input = input_layer(model)?;
    let first = model.connections.iter().find(|c| c.from == input)?;
    let second = model.connections.iter().find(|c| c.from == first.to);
    Some((first, second))
}

fn input_layer(model: &ModelFile) -> Option<usize> {
    (0..model.neuron_layers.len()).min_by(|&a, &b| {
        model.neuron_layers[a]
            .depth
            .total_cmp(&model.neuron_layers[b].depth)
    })
}

fn output_layer(model: &ModelFile) -> Option<usize> {
    (0..model.neuron_layers.len()).max_by(|&a, &b| {
        model.neuron_layers[a]
            .depth
            .total_cmp(&model.neuron_layers[b].depth)
    })
}

fn max_abs(c: &ConnectionFile) -> f32 {
    c.weight
        .iter()
        .flatten()
        .fold(0.0f32, |m, w| m.max(w.abs()))
}

/// Per pixel (original order), whether a first-layer weight of at least
/// `ACTIVE_THRESHOLD × (largest |w| of that matrix)` leaves it.
pub fn receptive_field(model: &ModelFile) -> Vec<bool> {
    let n = model.input_features.len();
    let mut visible = vec![false; n];
    let Some((first, _)) = first_two(model) else {
        return visible;
    };
    let cut = ACTIVE_THRESHOLD as f32 * max_abs(first);
    if cut <= 0.0 {
        return visible;
    }
    for row in &first.weight {
        for (i, w) in row.iter().enumerate() {
            if w.abs() >= cut
                && let Some(&pixel) = model.input_features.get(i % n.max(1))
                && pixel < n
            {
                visible[pixel] = true;
            }
        }
    }
    visible
}

/// Active hidden1 neurons (a visible weight touches them) ranked by score (Σ|incoming| +
/// Σ|outgoing| weights, as the reference code ranks them), best first, with their incoming
/// weights as a picture in the original pixel order. Inactive neurons are left out: each
/// picture is normalised to its own largest weight, which would blow their leftover noise up.
pub fn ranked_features(model: &ModelFile) -> Vec<(usize, f64, Vec<f32>)> {
    let Some((first, second)) = first_two(model) else {
        return Vec::new();
    };
    let active = bimt_analysis::active_neurons(model, ACTIVE_THRESHOLD);
    let hidden1 = active.get(first.to).cloned().unwrap_or_default();
    let n_in = model.input_features.len();
    let mut ranked: Vec<(usize, f64, Vec<f32>)> = first
        .weight
        .iter()
        .enumerate()
        .map(|(h, row)| {
            let incoming: f64 = row.iter().map(|w| w.abs() as f64).sum();
            let outgoing: f64 = second.map_or(0.0, |c| {
                c.weight
                    .iter()
                    .filter_map(|r| r.get(h))
                    .map(|w| w.abs() as f64)
                    .sum()
            });
            let mut picture = vec![0.0f32; n_in];
            for (i, &w) in row.iter().enumerate().take(n_in) {
                if let Some(p) = model
                    .input_features
                    .get(i)
                    .and_then(|&p| picture.get_mut(p))
                {
                    *p = w;
                }
            }
            (h, incoming + outgoing, picture)
        })
        .filter(|(h, _, _)| hidden1.get(*h).copied().unwrap_or(false))
        .collect();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    ranked
}

/// Per weight layer: its name and the shares of weight mass (Σ|w|) that are positive and
/// negative, plus the counts of visible weights (≥ 3 % of the matrix's largest) of each sign.
fn sign_balance(model: &ModelFile) -> Vec<Value> {
    model
        .connections
        .iter()
        .map(|c| {
            let (mut pos, mut neg) = (0.0f64, 0.0f64);
            let (mut pos_visible, mut neg_visible) = (0usize, 0usize);
            let cut = ACTIVE_THRESHOLD as f32 * max_abs(c);
            for &w in c.weight.iter().flatten() {
                if w > 0.0 {
                    pos += w as f64;
                } else {
                    neg -= w as f64;
                }
                if cut > 0.0 && w.abs() >= cut {
                    if w > 0.0 {
                        pos_visible += 1;
                    } else {
                        neg_visible += 1;
                    }
                }
            }
            let total = (pos + neg).max(f64::MIN_POSITIVE);
            json!({
                "layer": connection_name(model, c),
                "positive_mass_fraction": pos / total,
                "negative_mass_fraction": neg / total,
                "visible_positive": pos_visible,
                "visible_negative": neg_visible,
            })
        })
        .collect()
}

fn connection_name(model: &ModelFile, c: &ConnectionFile) -> String {
    let name = |l: usize| {
        model
            .neuron_layers
            .get(l)
            .map_or_else(|| l.to_string(), |l| l.name.clone())
    };
    format!("{}->{}", name(c.from), name(c.to))
}

/// Pearson correlation of the ten digits' mean test images: how alike two digits look.
fn digit_similarity(data: &Dataset) -> Vec<Vec<f64>> {
    let split = &data.test;
    let dim = split.in_dim;
    let mut sums = vec![vec![0.0f64; dim]; 10];
    let mut counts = [0usize; 10];
    for i in 0..split.n {
        if let Some(label) = split.label(i).map(|l| l as usize).filter(|&l| l < 10) {
            counts[label] += 1;
            for (s, &x) in sums[label].iter_mut().zip(split.row(i)) {
                *s += x as f64;
            }
        }
    }
    for (s, &c) in sums.iter_mut().zip(&counts) {
        s.iter_mut().for_each(|v| *v /= c.max(1) as f64);
    }
    (0..10)
        .map(|a| (0..10).map(|b| pearson(&sums[a], &sums[b])).collect())
        .collect()
}

/// How often the trained network mixes up two digits on the test split: `c[a][b]` counts the
/// test images of `a` classified as `b` plus those of `b` classified as `a`.
fn confusions(model: &ModelFile, data: &Dataset) -> Vec<Vec<f64>> {
    let split = &data.test;
    let mut c = vec![vec![0.0f64; 10]; 10];
    for i in 0..split.n {
        let Some(label) = split.label(i).map(|l| l as usize).filter(|&l| l < 10) else {
            continue;
        };
        let x: Vec<f64> = split.row(i).iter().map(|&v| v as f64).collect();
        let out = bimt_analysis::predict(model, &x);
        let guess = (0..out.len().min(10))
            .max_by(|&a, &b| out[a].total_cmp(&out[b]))
            .unwrap_or(label);
        if guess != label {
            c[label][guess] += 1.0;
            c[guess][label] += 1.0;
        }
    }
    c
}

/// Sum of `sim` over the neighbouring pairs of a ring order.
fn ring_score(order: &[usize], sim: &[Vec<f64>]) -> f64 {
    (0..order.len())
        .map(|p| sim[order[p]][order[(p + 1) % order.len()]])
        .sum()
}

/// The share of all ring orders of the ten digits whose neighbours are less alike than in
/// `order` (1 = the most similar neighbours possible, 0.5 = what a random ring gives).
fn ring_rank(order: &[usize], sim: &[Vec<f64>]) -> f64 {
    let score = ring_score(order, sim);
    // Every ring up to rotation: digit 0 first, the other nine in every order (Heap's algorithm).
    let mut rest: Vec<usize> = (1..10).collect();
    let mut ring = vec![0usize; 10];
    let (mut below, mut ties, mut total) = (0u64, 0u64, 0u64);
    let mut count = |rest: &[usize]| {
        ring[1..].copy_from_slice(rest);
        let s = ring_score(&ring, sim);
        total += 1;
        if s < score - 1e-12 {
            below += 1;
        } else if s <= score + 1e-12 {
            ties += 1;
        }
    };
    let n = rest.len();
    let mut c = vec![0usize; n];
    count(&rest);
    let mut i = 0;
    while i < n {
        if c[i] < i {
            if i % 2 == 0 {
                rest.swap(0, i);
            } else {
                rest.swap(c[i], i);
            }
            count(&rest);
            c[i] += 1;
            i = 0;
        } else {
            c[i] = 0;
            i += 1;
        }
    }
    (below as f64 + 0.5 * ties as f64) / total.max(1) as f64
}

/// The digit at each ring position of the output layer (position `p` at angle `2πp/10`).
pub fn ring_order(model: &ModelFile) -> Vec<usize> {
    let size = output_layer(model).map_or(0, |l| model.neuron_layers[l].size);
    (0..size)
        .map(|p| model.output_features.get(p).copied().unwrap_or(p))
        .collect()
}

/// The output ring: the digit at each position, the neighbouring pairs with how alike the two
/// digits are (correlation of their mean test images; test images of one classified as the
/// other by this network), whether 1 and 7 are neighbours, and, for both measures, how the
/// ring ranks among all ring orders of the ten digits.
fn output_ring(model: &ModelFile, data: &Dataset) -> Value {
    let order = ring_order(model);
    if order.len() != 10 || order.iter().any(|&d| d >= 10) {
        return json!({ "order": order });
    }
    let sim = digit_similarity(data);
    let confused = confusions(model, data);
    let pairs: Vec<Value> = (0..10)
        .map(|p| {
            let (a, b) = (order[p], order[(p + 1) % 10]);
            json!({
                "pair": [a, b],
                "mean_image_correlation": sim[a][b],
                "test_confusions": confused[a][b],
            })
        })
        .collect();
    let adjacent = |x: usize, y: usize| {
        (0..10).any(|p| {
            let (a, b) = (order[p], order[(p + 1) % 10]);
            (a, b) == (x, y) || (a, b) == (y, x)
        })
    };
    let all_pairs: f64 = (0..10)
        .flat_map(|a| (a + 1..10).map(move |b| (a, b)))
        .map(|(a, b)| sim[a][b])
        .sum::<f64>()
        / 45.0;
    json!({
        "order": order,
        "adjacent_pairs": pairs,
        "one_and_seven_adjacent": adjacent(1, 7),
        "mean_neighbour_correlation": ring_score(&order, &sim) / 10.0,
        "mean_correlation_all_pairs": all_pairs,
        "share_of_rings_with_less_similar_neighbours": ring_rank(&order, &sim),
        "neighbour_confusions": ring_score(&order, &confused),
        "all_confusions": confused.iter().flatten().sum::<f64>() / 2.0,
        "share_of_rings_with_fewer_neighbour_confusions": ring_rank(&order, &confused),
    })
}

/// `metrics.json` → `structure` for the mnist preset.
pub fn structure(model: &ModelFile, data: &Dataset) -> Value {
    let field = receptive_field(model);
    let visible = field.iter().filter(|&&v| v).count();
    let ranked = ranked_features(model);
    let reach = bimt_analysis::reachability(model, ACTIVE_THRESHOLD);
    let pixels_reaching: serde_json::Map<String, Value> = reach
        .iter()
        .enumerate()
        .map(|(o, inputs)| {
            let name = data.output_names.get(o).cloned().unwrap_or(o.to_string());
            (name, json!(inputs.len()))
        })
        .collect();
    json!({
        "active_threshold": ACTIVE_THRESHOLD,
        "active_neurons": active_counts(model, ACTIVE_THRESHOLD),
        "receptive_field": {
            "visible_pixels": visible,
            "pixels": field.len(),
            "fraction": visible as f64 / field.len().max(1) as f64,
        },
        "pixels_reaching_each_output": pixels_reaching,
        "weight_signs": sign_balance(model),
        "top_hidden1_features": ranked.iter().take(FEATURES_SHOWN)
            .map(|(h, score, _)| json!({ "neuron": h, "score": score }))
            .collect::<Vec<_>>(),
        "output_ring": output_ring(model, data),
        "modules": crate::report::module_knockouts(model, data),
    })
}

/// Writes `features.png`, `receptive_field.png` and `sign_balance.png` into `out`.
pub fn write_views(out: &Path, model: &ModelFile, data: &Dataset) -> Result<(), FormatError> {
    let features: Vec<Vec<f32>> = ranked_features(model)
        .into_iter()
        .take(FEATURES_SHOWN)
        .map(|f| f.2)
        .collect();
    write_png(
        &out.join("features.png"),
        &render_image_grid(&features, SIDE, SIDE, 8, 4),
    )?;
    write_png(
        &out.join("receptive_field.png"),
        &receptive_field_image(model, data, 10),
    )?;
    write_png(&out.join("sign_balance.png"), &sign_balance_image(model))
}

/// The receptive field as a `28·scale` square: pixels with a visible weight in blue, the
/// others in grey shaded by the mean training image (so the digits' area shows).
fn receptive_field_image(model: &ModelFile, data: &Dataset, scale: u32) -> RgbImage {
    let field = receptive_field(model);
    let split = &data.train;
    let mut mean = vec![0.0f64; split.in_dim];
    for i in 0..split.n {
        for (m, &x) in mean.iter_mut().zip(split.row(i)) {
            *m += x as f64;
        }
    }
    let top = mean.iter().copied().fold(0.0f64, f64::max).max(1e-12);
    let side = SIDE as u32 * scale;
    RgbImage::from_fn(side, side, |x, y| {
        let (r, c) = ((y / scale) as usize, (x / scale) as usize);
        let p = r * SIDE + c;
        if (x % scale == 0 || y % scale == 0) && scale >= 4 {
            return Rgb([230, 230, 230]);
        }
        if field.get(p).copied().unwrap_or(false) {
            Rgb([31, 78, 190])
        } else {
            let shade = 255.0 - 90.0 * mean.get(p).copied().unwrap_or(0.0) / top;
            let v = shade.round().clamp(0.0, 255.0) as u8;
            Rgb([v, v, v])
        }
    })
}

/// Per weight layer, the sorted magnitudes of its positive and of its negative weights (paper
/// Fig. 16), side by side; each panel runs to the rank where both fall below 1 % of the layer's
/// largest |w|.
fn sign_balance_image(model: &ModelFile) -> RgbImage {
    let (w, h) = (420u32, 320u32);
    let panels: Vec<RgbImage> = model
        .connections
        .iter()
        .enumerate()
        .map(|(k, c)| {
            let sorted = |sign: f32| {
                let mut v: Vec<f64> = c
                    .weight
                    .iter()
                    .flatten()
                    .filter(|&&x| x * sign > 0.0)
                    .map(|&x| x.abs() as f64)
                    .collect();
                v.sort_by(|a, b| b.total_cmp(a));
                v
            };
            let (mut pos, mut neg) = (sorted(1.0), sorted(-1.0));
            let names = (
                format!("positive ({} weights)", pos.len()),
                format!("negative ({} weights)", neg.len()),
            );
            let cut = 0.01 * max_abs(c) as f64;
            let len = pos
                .iter()
                .take_while(|&&x| x >= cut)
                .count()
                .max(neg.iter().take_while(|&&x| x >= cut).count())
                .max(10);
            pos.truncate(len);
            neg.truncate(len);
            let title = format!("layer {}: {}", k + 1, connection_name(model, c));
            let series = |name: String, y: Vec<f64>| Series {
                name,
                x: Vec::new(),
                y,
            };
            let plot = LinePlot {
                title,
                x_label: "rank (largest first)".into(),
                y_label: "|w|".into(),
                series: vec![series(names.0, pos), series(names.1, neg)],
                ..LinePlot::default()
            };
            render_line_chart(&plot, (w, h))
        })
        .collect();
    let mut image = RgbImage::from_pixel(w * panels.len().max(1) as u32, h, Rgb([255, 255, 255]));
    for (k, panel) in panels.iter().enumerate() {
        image::imageops::replace(&mut image, panel, (k as u32 * w) as i64, 0);
    }
    image
}

/// MNIST (§3.5): 40,000 steps in batches of 100, λ rising from 1e-3 to 0.3; the reference
/// notebook swaps every 500 steps, raises λ from 0.01 to 1 and charges no in-layer distance on
/// the connections into the output ring.
fn mnist_settings(profile: Profile) -> Settings {
    let reference = profile == Profile::Reference;
    let lambda = if reference {
        vec![(0, 0.01), (10_000, 0.1), (20_000, 1.0)]
    } else {
        vec![(0, 0.001), (10_000, 0.01), (20_000, 0.1), (30_000, 0.3)]
    };
    Settings {
        swap_every: if reference { 500 } else { 200 },
        last_layer_distance: !reference,
        batch: Some(100),
        ..Settings::paper_large(40_000, Phases(lambda))
    }
}

/// The preset `mnist`.
pub const MNIST: Preset = Preset {
    name: "mnist",
    description: "MNIST digits in 3D: 28x28 pixel grid, 10x10, 10x10, output ring; MLP 784-100-100-10 (Fig. 8)",
    experiment: Experiment::Mnist,
    table1: Some(Table1Entry {
        column: "MNIST",
        accuracy: true,
        paper: ("98.5%", "98.0%"),
        structure: "the receptive field shrinks: at most 60 % of the pixels keep a visible weight",
        shows_structure: receptive_field_shrinks,
    }),
    settings: mnist_settings,
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ring_rank_of_the_best_and_worst_orders() {
        // Similarity 1 between consecutive digits, 0 otherwise: 0..9 in order is the best ring.
        let sim: Vec<Vec<f64>> = (0..10)
            .map(|a| {
                (0..10)
                    .map(|b: usize| f64::from(u8::from((a + 1) % 10 == b || (b + 1) % 10 == a)))
                    .collect()
            })
            .collect();
        let best: Vec<usize> = (0..10).collect();
        assert!(ring_rank(&best, &sim) > 0.99);
        let worst = [0, 2, 4, 6, 8, 1, 3, 5, 9, 7];
        assert!(ring_rank(&worst, &sim) < 0.1);
    }
}
