//! Times `render_graph` (release mode: `cargo run --release -p bimt-views --example
//! graph_timing [name filter]`) on a 4-20-20-2 MLP and on a 784-100-100-10 MNIST-like network
//! whose first three layers are 2D grids (≈ 89k weights), each with dense random weights (as
//! at initialisation) and with weights that fade with wiring length (as after BIMT training).

use bimt_format::{ConnectionFile, CostSpec, ModelFile, NeuronLayerFile};
use bimt_views::{GraphStyle, render_graph};
use std::time::Instant;

/// A small deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn uniform(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// A network through `layers` whose weights are uniform noise times `exp(-locality · d)`.
fn model(layers: Vec<NeuronLayerFile>, locality: f64, seed: u64) -> ModelFile {
    let mut rng = Rng(seed);
    let distance = |a: &[f64], b: &[f64]| {
        let (a0, a1) = (a[0], a.get(1).copied().unwrap_or(0.5));
        let (b0, b1) = (b[0], b.get(1).copied().unwrap_or(0.5));
        (a0 - b0).hypot(a1 - b1)
    };
    let connections = (1..layers.len())
        .map(|l| {
            let (src, dst) = (&layers[l - 1], &layers[l]);
            let weight = dst
                .coords
                .iter()
                .map(|o| {
                    src.coords
                        .iter()
                        .map(|i| {
                            let w = rng.uniform() * 2.0 - 1.0;
                            (w * (-locality * distance(i, o)).exp()) as f32
                        })
                        .collect()
                })
                .collect();
            ConnectionFile::plain(l - 1, l, weight)
        })
        .collect();
    let (n_in, n_out) = (layers[0].size, layers[layers.len() - 1].size);
    ModelFile {
        format: 1,
        activation: "silu".into(),
        neuron_layers: layers,
        connections,
        input_features: (0..n_in).collect(),
        output_features: (0..n_out).collect(),
        input_names: (0..n_in).map(|i| format!("x{}", i + 1)).collect(),
        output_names: (0..n_out).map(|i| format!("y{}", i + 1)).collect(),
        cost: CostSpec {
            metric: "l1".into(),
            a: 2.0,
            y_star: 1.0,
            reduction: "sum".into(),
            bias_penalty: true,
            last_layer_distance: true,
        },
        token_embedding: None,
        token_positions: None,
        sequence: None,
    }
}

fn mlp(locality: f64) -> ModelFile {
    let sizes = [
        ("input", 4),
        ("hidden1", 20),
        ("hidden2", 20),
        ("output", 2),
    ];
    let layers = (0..4)
        .map(|l| NeuronLayerFile::line(sizes[l].0, sizes[l].1, l as f64))
        .collect();
    model(layers, locality, 7)
}

fn mnist(locality: f64) -> ModelFile {
    let layers = vec![
        NeuronLayerFile::grid("input", 28, 0.0),
        NeuronLayerFile::grid("hidden1", 10, 1.0),
        NeuronLayerFile::grid("hidden2", 10, 2.0),
        NeuronLayerFile::line("output", 10, 3.0),
    ];
    model(layers, locality, 3)
}

/// Median wall time of `render_graph` over `runs` runs, in milliseconds.
fn time(m: &ModelFile, runs: usize) -> f64 {
    let style = GraphStyle::default();
    let _ = render_graph(m, &style);
    let mut ms: Vec<f64> = (0..runs)
        .map(|_| {
            let t = Instant::now();
            std::hint::black_box(render_graph(m, &style));
            t.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    ms.sort_by(f64::total_cmp);
    ms[runs / 2]
}

fn main() {
    let only = std::env::args().nth(1).unwrap_or_default();
    for (name, m, runs) in [
        ("4-20-20-2, dense random", mlp(0.0), 50),
        ("4-20-20-2, local", mlp(8.0), 50),
        ("784-100-100-10 grids, dense random", mnist(0.0), 7),
        ("784-100-100-10 grids, local", mnist(12.0), 7),
    ] {
        if !name.contains(&only) {
            continue;
        }
        let weights: usize = m
            .connections
            .iter()
            .map(|c| c.weight.len() * c.weight[0].len())
            .sum();
        println!("{name} ({weights} weights): {:.2} ms", time(&m, runs));
    }
}
