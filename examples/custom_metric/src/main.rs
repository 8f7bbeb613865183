//! BIMT with a user-defined metric: every layer is a circle instead of a segment, so the
//! neurons at both ends of a layer are neighbours and modules may wrap around.
//!
//! ```sh
//! cargo run --release -p custom-metric -- [steps] [out-dir]
//! ```

use bimt_engine::{Model, Network, TrainConfig, Trainer, default_device, export_model};
use bimt_format::CostSpec;
use bimt_manifold::Metric;
use bimt_mlp::{Mlp, MlpConfig};
use bimt_tasks::{Batching, Loss, Supervised};
use nalgebra::Point3;
use std::path::PathBuf;

/// In-layer coordinates live on a circle of circumference 1 (they wrap around at 0 and 1);
/// layers are `gap` apart. Any type with a `distance` is a metric.
struct Torus {
    a: f64,
    gap: f64,
}

impl Metric for Torus {
    fn distance(&self, p: &Point3<f64>, q: &Point3<f64>) -> f64 {
        let d = (p.x - q.x).abs().rem_euclid(1.0);
        self.a * d.min(1.0 - d) + self.gap * (p.z - q.z).abs()
    }

    fn name(&self) -> String {
        "torus".into()
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let steps: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(20_000);
    let out = PathBuf::from(args.next().unwrap_or_else(|| "runs/custom-metric".into()));

    let metric = Torus { a: 2.0, gap: 0.1 };
    let device = default_device().autodiff();
    let data = bimt_data::symbolic(bimt_data::Formula::Independence, 100, 100, 0);
    let task = Supervised::new(&data, Loss::Mse, Batching::Full, &device);
    let mlp = Mlp::new(&MlpConfig::lines(&[4, 20, 20, 2])).expect("a valid layout");
    let config = TrainConfig::paper(steps);
    let mut trainer = Trainer::new(
        Model::new(mlp, 0, &device).expect("the coupling check passes"),
        task,
        config,
        &metric,
    );
    let start_cost = trainer.connection_cost(0);
    let summary = trainer.run(&mut ()).expect("training converges");

    let spec = CostSpec {
        metric: metric.name(),
        a: metric.a,
        y_star: metric.gap,
        reduction: "sum".into(),
        bias_penalty: true,
        last_layer_distance: true,
    };
    let model = export_model(&trainer.model, &data.input_names, &data.output_names, spec);
    let reach = bimt_analysis::reachability(&model, 0.03);
    println!(
        "{} steps on a torus: test MSE {:.2e}, torus wiring cost {start_cost:.2} -> {:.2}, {} swaps",
        steps, summary.evaluation.test_loss, summary.connection_cost, summary.swaps
    );
    for (o, inputs) in reach.iter().enumerate() {
        let names: Vec<&str> = inputs
            .iter()
            .map(|&i| data.input_names[i].as_str())
            .collect();
        println!("  {} <- {}", data.output_names[o], names.join(", "));
    }
    let layout = trainer.model.network.layout();
    let positions: Vec<String> = trainer
        .model
        .input_order()
        .iter()
        .map(|&f| data.input_names[f].clone())
        .collect();
    println!(
        "  input positions on the circle ({} neurons): {}",
        layout.layer(layout.inputs()[0]).size,
        positions.join(" ")
    );
    let style = bimt_views::GraphStyle {
        title: Some("BIMT on a torus".into()),
        ..Default::default()
    };
    let png = out.join("graph.png");
    bimt_views::write_png(&png, &bimt_views::render_graph(&model, &style))
        .expect("writable output dir");
    bimt_format::write_json(&out.join("model.json"), &model).expect("writable output dir");
    println!("  wrote {} and model.json", png.display());
}
