//! `bimt frontier`: the pruning experiment of the paper's App. A (Fig. 9). Trains the
//! `symbolic-pruning` preset in all five variants, then prunes each network by magnitude and
//! records how many parameters are left against the test MSE.

use crate::error::Error;
use crate::launch::run;
use crate::registry::find;
use crate::runner::RunSpec;
use crate::settings::{Profile, Settings};
use bimt_analysis::{best_within_budget, nonzero_parameters, pruning_frontier};
use bimt_engine::Variant;
use bimt_format::{ModelFile, read_json, write_json};
use bimt_views::{LinePlot, Series, render_line_chart, write_png};
use std::path::Path;

const PRESET: &str = "symbolic-pruning";
/// The MSE levels at which the summary reports the fewest parameters.
const LEVELS: [f64; 3] = [1e-1, 1e-2, 1e-3];

/// Trains the five variants into `out/<variant>/` and writes `out/frontier.json` and
/// `out/frontier.png`; `steps` overrides the preset's 20,000.
pub fn frontier(out: &Path, seed: u64, steps: Option<usize>, quiet: bool) -> Result<(), Error> {
    let mut defaults = find(PRESET)?.defaults(Profile::Paper);
    defaults.seed = seed;
    if let Some(steps) = steps {
        defaults.steps = steps;
    }
    let data = crate::symbolic::data(bimt_data::Formula::Pruning, seed);
    let split = &data.test;
    let inputs: Vec<Vec<f64>> = (0..split.n)
        .map(|i| split.row(i).iter().map(|&v| v as f64).collect())
        .collect();
    let targets: Vec<Vec<f64>> = (0..split.n)
        .map(|i| {
            split
                .target_row(i)
                .expect("regression targets")
                .iter()
                .map(|&v| v as f64)
                .collect()
        })
        .collect();
    let mut curves = Vec::new();
    let mut report = Vec::new();
    println!(
        "{:10} {:>10} {:>8}   fewest parameters with test MSE at most {}",
        "variant",
        "test MSE",
        "params",
        LEVELS.map(|l| format!("{l:.0e}")).join(" / ")
    );
    for variant in Variant::ALL {
        let dir = out.join(variant.to_string());
        let settings = Settings {
            variant,
            ..defaults.clone()
        };
        run(&RunSpec {
            quiet,
            command: std::env::args().collect(),
            ..RunSpec::new(settings, &dir)
        })?;
        let model: ModelFile = read_json(&dir.join("model.json"), "model file")?;
        let points = pruning_frontier(&model, &inputs, &targets);
        let fewest = LEVELS.map(|level| {
            points
                .iter()
                .filter(|(_, loss)| *loss <= level)
                .map(|(n, _)| *n)
                .min()
        });
        println!(
            "{:10} {:>10.2e} {:>8}   {}",
            variant.to_string(),
            points[0].1,
            nonzero_parameters(&model),
            fewest
                .map(|f| f.map_or("-".to_string(), |n| n.to_string()))
                .join(" / ")
        );
        report.push(serde_json::json!({
            "variant": variant.to_string(),
            "unpruned_test_mse": points[0].1,
            "parameters": points[0].0,
            "fewest_parameters_at_mse": LEVELS.iter().zip(fewest).map(|(l, f)| serde_json::json!({"mse": l, "parameters": f})).collect::<Vec<_>>(),
            "frontier": points.iter().map(|(n, loss)| serde_json::json!({"parameters": n, "test_mse": loss})).collect::<Vec<_>>(),
        }));
        curves.push((variant, points[0].0, points));
    }
    let most = curves.iter().map(|c| c.1).max().unwrap_or(0);
    let series: Vec<Series> = curves
        .iter()
        .map(|(variant, _, points)| {
            let best = best_within_budget(points, most);
            Series {
                name: variant.to_string(),
                x: (0..best.len()).map(|n| n as f64).collect(),
                y: best,
            }
        })
        .collect();
    write_json(
        &out.join("frontier.json"),
        &serde_json::json!({ "preset": PRESET, "seed": seed, "steps": defaults.steps, "variants": report }),
    )?;
    let plot = LinePlot {
        title: "pruning frontier: best test MSE within a parameter budget".into(),
        x_label: "parameters kept".into(),
        y_label: "test MSE".into(),
        log_y: true,
        series,
        ..LinePlot::default()
    };
    write_png(
        &out.join("frontier.png"),
        &render_line_chart(&plot, (720, 480)),
    )?;
    println!("-> {}", out.display());
    Ok(())
}
