//! Writes sample pictures into the folder given as the first argument:
//!
//! * `graph.png` and `graph.svg`: a random 4-20-20-2 network (inputs x1..x4, outputs y1, y2)
//!   whose weights fade with wiring length, as after BIMT training;
//! * `grid.png`: a 28×28 → 10×10 → 10×10 → 10 network embedded in 3D, as for MNIST;
//! * `qkv.png`: a residual layer feeding a packed Q,K,V projection (`out_fold = 3`), and an
//!   attention output projection joined to the residual stream by an identity connection;
//! * `demo.gif`: five frames of the 4-20-20-2 network growing more local;
//! * `boundary.png`, `scatter.png`, `features.png`, `weights.png`, `tokens.png`: the task
//!   plots;
//! * `curves.png`: training curves of a made-up run.
//!
//! Run with `cargo run -p bimt-views --example demo -- <folder>`.

use bimt_format::{ConnectionFile, ConnectionKind, CostSpec, ModelFile, NeuronLayerFile};
use bimt_views::{
    Curves, GraphStyle, LinePlot, Series, render_curves, render_decision_boundary, render_graph,
    render_graph_svg, render_image_grid, render_line_chart, render_scatter, render_token_planes,
    write_gif, write_png, write_svg,
};
use std::path::PathBuf;

/// A small deterministic generator (xorshift64*), so the demo needs no dependency.
struct Rng(u64);

impl Rng {
    fn uniform(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A standard normal sample (Box–Muller).
    fn normal(&mut self) -> f64 {
        let (u, v) = (self.uniform().max(1e-12), self.uniform());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }
}

/// Distance between two neurons' coordinates (on a line or a grid).
fn distance(a: &[f64], b: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).powi(2))
        .sum::<f64>()
        .sqrt()
}

/// A dense connection whose weights are normal noise damped by `exp(-locality · distance)`.
fn connection(
    layers: &[NeuronLayerFile],
    from: usize,
    to: usize,
    locality: f64,
    out_fold: usize,
    rng: &mut Rng,
) -> ConnectionFile {
    let (src, dst) = (&layers[from], &layers[to]);
    let weight = (0..dst.size * out_fold)
        .map(|o| {
            (0..src.size)
                .map(|i| {
                    let d = distance(&src.coords[i], &dst.coords[o % dst.size]);
                    let sparse = if rng.uniform() < 0.6 { 0.15 } else { 1.0 };
                    (rng.normal() * sparse * (-locality * d).exp()) as f32
                })
                .collect()
        })
        .collect();
    ConnectionFile {
        out_fold,
        ..ConnectionFile::plain(from, to, weight)
    }
}

fn cost() -> CostSpec {
    CostSpec {
        metric: "l1".into(),
        a: 2.0,
        y_star: 1.0,
        reduction: "sum".into(),
        bias_penalty: true,
        last_layer_distance: true,
    }
}

fn mlp(locality: f64, seed: u64) -> ModelFile {
    let mut rng = Rng(seed);
    let layers = vec![
        NeuronLayerFile::line("input", 4, 0.0),
        NeuronLayerFile::line("hidden1", 20, 1.0),
        NeuronLayerFile::line("hidden2", 20, 2.0),
        NeuronLayerFile::line("output", 2, 3.0),
    ];
    let connections = (0..3)
        .map(|l| connection(&layers, l, l + 1, locality, 1, &mut rng))
        .collect();
    ModelFile {
        activation: "silu".into(),
        neuron_layers: layers,
        connections,
        input_features: vec![0, 2, 1, 3],
        output_features: vec![0, 1],
        input_names: (1..=4).map(|i| format!("x{i}")).collect(),
        output_names: vec!["y1".into(), "y2".into()],
        cost: cost(),
        token_embedding: None,
        token_positions: None,
        sequence: None,
        format: 1,
    }
}

fn mnist(seed: u64) -> ModelFile {
    let mut rng = Rng(seed);
    let layers = vec![
        NeuronLayerFile::grid("input", 28, 0.0),
        NeuronLayerFile::grid("layer1", 10, 1.0),
        NeuronLayerFile::grid("layer2", 10, 2.0),
        NeuronLayerFile::line("output", 10, 3.0),
    ];
    let connections = (0..3)
        .map(|l| connection(&layers, l, l + 1, 12.0, 1, &mut rng))
        .collect();
    ModelFile {
        activation: "silu".into(),
        neuron_layers: layers,
        connections,
        input_features: (0..784).collect(),
        output_features: vec![0, 1, 7, 2, 3, 4, 5, 6, 8, 9],
        input_names: (0..784)
            .map(|p| format!("pixel({},{})", p / 28, p % 28))
            .collect(),
        output_names: (0..10).map(|d| d.to_string()).collect(),
        cost: cost(),
        token_embedding: None,
        token_positions: None,
        sequence: None,
        format: 1,
    }
}

fn attention(seed: u64) -> ModelFile {
    let mut rng = Rng(seed);
    let layers = vec![
        NeuronLayerFile::line("res1", 16, 0.0),
        NeuronLayerFile::line("qkv", 16, 1.0),
        NeuronLayerFile::line("attn", 16, 2.0),
        NeuronLayerFile::line("res2", 16, 3.0),
    ];
    let identity = ConnectionFile {
        kind: ConnectionKind::Identity,
        ..ConnectionFile::plain(0, 3, Vec::new())
    };
    let connections = vec![
        connection(&layers, 0, 1, 10.0, 3, &mut rng),
        connection(&layers, 2, 3, 10.0, 1, &mut rng),
        identity,
    ];
    ModelFile {
        activation: "silu".into(),
        neuron_layers: layers,
        connections,
        input_features: vec![],
        output_features: vec![],
        input_names: vec![],
        output_names: vec![],
        cost: cost(),
        token_embedding: None,
        token_positions: None,
        sequence: None,
        format: 1,
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = PathBuf::from(
        std::env::args()
            .nth(1)
            .ok_or("usage: demo <output folder>")?,
    );
    let style = |title: &str| GraphStyle {
        title: Some(title.into()),
        ..GraphStyle::default()
    };

    let t = std::time::Instant::now();
    let local = style("4-20-20-2, local weights");
    write_png(&dir.join("graph.png"), &render_graph(&mlp(8.0, 7), &local))?;
    write_svg(
        &dir.join("graph.svg"),
        &render_graph_svg(&mlp(8.0, 7), &local),
    )?;
    let img = render_graph(&mnist(3), &style("MNIST in 3D"));
    write_png(&dir.join("grid.png"), &img)?;
    let img = render_graph(&attention(5), &style("packed Q,K,V"));
    write_png(&dir.join("qkv.png"), &img)?;
    eprintln!("graphs: {:?}", t.elapsed());

    let t = std::time::Instant::now();
    let frames: Vec<_> = (0..5)
        .map(|k| {
            render_graph(
                &mlp(3.0 * k as f64, 7),
                &style(&format!("step {}", 1000 * k)),
            )
        })
        .collect();
    write_gif(&dir.join("demo.gif"), &frames, 400)?;
    eprintln!("gif: {:?}", t.elapsed());

    let prob = |x: f64, y: f64| 1.0 / (1.0 + (-4.0 * (y - 0.5 * (3.0 * x).sin())).exp());
    let mut rng = Rng(11);
    let points: Vec<(f64, f64, u32)> = (0..120)
        .map(|_| {
            let (x, y) = (rng.uniform() * 4.0 - 2.0, rng.uniform() * 4.0 - 2.0);
            (x, y, u32::from(prob(x, y) > 0.5))
        })
        .collect();
    write_png(
        &dir.join("boundary.png"),
        &render_decision_boundary(&prob, &points, (-2.0, 2.0, -2.0, 2.0), 400),
    )?;
    let pairs: Vec<(f64, f64)> = (0..200)
        .map(|_| {
            let y = rng.uniform() * 6.0 - 3.0;
            (y, y + 0.2 * rng.normal())
        })
        .collect();
    write_png(
        &dir.join("scatter.png"),
        &render_scatter(&pairs, "true y", "predicted y", "predicted vs true", 400),
    )?;
    let ring = |radius: f64, noise: f64, rng: &mut Rng| -> Vec<(f64, f64)> {
        (0..31)
            .map(|t| {
                let a = std::f64::consts::TAU * t as f64 / 31.0;
                let r = radius + noise * rng.normal();
                (r * a.cos(), r * a.sin())
            })
            .collect()
    };
    let planes = vec![
        ("module 1".to_string(), ring(1.0, 0.02, &mut rng)),
        ("module 2".to_string(), ring(0.3, 0.1, &mut rng)),
    ];
    write_png(&dir.join("tokens.png"), &render_token_planes(&planes, 300))?;
    let model = mnist(3);
    let features: Vec<Vec<f32>> = model.connections[0]
        .weight
        .iter()
        .take(12)
        .cloned()
        .collect();
    write_png(
        &dir.join("features.png"),
        &render_image_grid(&features, 28, 28, 6, 3),
    )?;
    let sorted = |sign: f32| {
        let mut v: Vec<f64> = model.connections[1]
            .weight
            .iter()
            .flatten()
            .filter(|w| **w * sign > 0.0)
            .map(|w| w.abs() as f64)
            .collect();
        v.sort_by(|a, b| b.total_cmp(a));
        v
    };
    let series = |name: &str, y: Vec<f64>| Series {
        name: name.into(),
        x: (1..=y.len()).map(|r| r as f64).collect(),
        y,
    };
    let plot = LinePlot {
        title: "layer 2: |w| by rank".into(),
        x_label: "rank".into(),
        y_label: "|w|".into(),
        log_x: true,
        log_y: true,
        series: vec![
            series("positive", sorted(1.0)),
            series("negative", sorted(-1.0)),
        ],
    };
    write_png(
        &dir.join("weights.png"),
        &render_line_chart(&plot, (500, 350)),
    )?;

    // A made-up run: losses falling as a power law, λ switched on at step 2000.
    let steps: Vec<f64> = (0..=100).map(|k| 100.0 * k as f64).collect();
    let curves = Curves {
        train_loss: steps.iter().map(|&s| 2.0 / (1.0 + s / 50.0)).collect(),
        test_loss: steps
            .iter()
            .map(|&s| 2.2 / (1.0 + s / 80.0) + 0.01)
            .collect(),
        connection_cost: steps
            .iter()
            .map(|&s| 300.0 * (-s / 4000.0).exp() + 20.0)
            .collect(),
        lambda: steps
            .iter()
            .map(|&s| if s < 2000.0 { 0.0 } else { 1e-3 * (s / 2000.0) })
            .collect(),
        steps,
    };
    write_png(
        &dir.join("curves.png"),
        &render_curves(&curves, (1200, 380)),
    )?;
    Ok(())
}
