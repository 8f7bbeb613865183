//! Trains the residual MLP of this example with BIMT on the paper's independence task and
//! writes its connectivity graph.
//!
//! ```sh
//! cargo run --release -p register-architecture -- [steps] [out-dir]
//! ```

use bimt_engine::{Model, TrainConfig, Trainer, default_device, export_model};
use bimt_manifold::PaperMetric;
use bimt_tasks::{Batching, Loss, Supervised};
use register_architecture::{ResidualMlp, ResidualMlpConfig};
use std::path::PathBuf;

fn main() {
    let mut args = std::env::args().skip(1);
    let steps: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(20_000);
    let out = PathBuf::from(
        args.next()
            .unwrap_or_else(|| "runs/register-architecture".into()),
    );

    let network = ResidualMlp::new(ResidualMlpConfig {
        inputs: 4,
        width: 12,
        hidden: 12,
        blocks: 2,
        outputs: 2,
    })
    .expect("a consistent layout");
    let device = default_device().autodiff();
    let data = bimt_data::symbolic(bimt_data::Formula::Independence, 100, 100, 0);
    let task = Supervised::new(&data, Loss::Mse, Batching::Full, &device);
    let metric = PaperMetric::l1(2.0, 0.1);
    let config = TrainConfig::paper(steps);
    let spec = config.cost_spec(&metric);
    let mut trainer = Trainer::new(
        Model::new(network, 0, &device).expect("the coupling check passes"),
        task,
        config,
        &metric,
    );
    let start_cost = trainer.connection_cost(0);
    let summary = trainer.run(&mut ()).expect("training converges");
    let model = export_model(&trainer.model, &data.input_names, &data.output_names, spec);
    println!(
        "residual MLP, {steps} steps: test MSE {:.2e}, wiring cost {start_cost:.2} -> {:.2}, {} swaps",
        summary.evaluation.test_loss, summary.connection_cost, summary.swaps
    );
    for count in bimt_analysis::active_counts(&model, 0.03) {
        println!(
            "  {:>6}: {:2} of {:2} neurons active",
            count.layer, count.active, count.size
        );
    }
    let style = bimt_views::GraphStyle {
        title: Some("residual MLP (BIMT)".into()),
        ..Default::default()
    };
    let png = out.join("graph.png");
    bimt_views::write_png(&png, &bimt_views::render_graph(&model, &style))
        .expect("writable output dir");
    bimt_format::write_json(&out.join("model.json"), &model).expect("writable output dir");
    println!("  wrote {} and model.json", png.display());
}
