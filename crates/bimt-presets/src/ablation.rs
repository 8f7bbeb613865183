//! `bimt ablation`: the paper's Fig. 2 in one picture. Trains a preset in the five variants
//! (vanilla, L1, L1 + local, L1 + swap, BIMT) and draws their connectivity graphs side by
//! side, each titled with its test figure and its connection cost under BIMT's definition (each
//! variant's own cost differs: L1 has no distances), so that the five costs compare.

use crate::error::Error;
use crate::launch::run_or_reuse;
use crate::resolve::resolve;
use crate::runner::RunSpec;
use crate::settings::Overrides;
use bimt_analysis::connection_cost;
use bimt_engine::Variant;
use bimt_format::{ModelFile, read_json, write_json};
use bimt_views::{GraphStyle, render_graph, render_panels, write_png};
use std::path::Path;

/// Trains `preset` in every variant into `out/<variant>/` (reusing runs already finished there
/// with the same settings), then writes `out/ablation.png` and `out/ablation.json`. `overrides`
/// apply to every variant (their `variant` is ignored).
pub fn ablation(preset: &str, overrides: &Overrides, out: &Path, quiet: bool) -> Result<(), Error> {
    let mut runs = Vec::new();
    for variant in Variant::ALL {
        let flags = Overrides {
            variant: Some(variant),
            ..overrides.clone()
        };
        let settings = resolve(preset, &flags, None, None)?;
        let spec = RunSpec {
            quiet,
            command: std::env::args().collect(),
            ..RunSpec::new(settings, out.join(variant.to_string()))
        };
        let (metrics, reused) = run_or_reuse(&spec).map_err(|e| e.context(variant))?;
        let model: ModelFile = read_json(&spec.out.join("model.json"), "model file")?;
        if !spec.out.join("view.html").exists() {
            // A run reused from before bimt wrote viewers.
            bimt_viewer::write_view(&spec.out)
                .map_err(|e| Error::Output(format!("view.html: {e}")))?;
        }
        runs.push((variant, metrics, model, reused));
    }
    let bimt_cost = runs
        .iter()
        .find(|(v, ..)| *v == Variant::Bimt)
        .map(|(_, _, model, _)| model.cost.clone())
        .ok_or_else(|| Error::Output("the ablation has no BIMT run".into()))?;
    let mut panels = Vec::new();
    let mut rows = Vec::new();
    for (variant, metrics, model, reused) in &runs {
        let cost = connection_cost(&ModelFile {
            cost: bimt_cost.clone(),
            ..model.clone()
        })
        .unwrap_or(f64::NAN);
        let figure = match metrics.test_accuracy {
            Some(a) => format!("test accuracy {:.1}%", 100.0 * a),
            None => format!("test loss {:.2e}", metrics.test_loss),
        };
        println!(
            "{:9} {figure}, connection cost {cost:.3} (BIMT's definition){}",
            variant.to_string(),
            if *reused {
                " (finished run reused)"
            } else {
                ""
            }
        );
        let style = GraphStyle {
            width: 480,
            height: 420,
            title: Some(variant.to_string()),
            ..GraphStyle::default()
        };
        panels.push((
            format!("{figure}, cost {cost:.2}"),
            render_graph(model, &style),
        ));
        rows.push(serde_json::json!({
            "variant": variant.to_string(),
            "test_loss": metrics.test_loss,
            "test_accuracy": metrics.test_accuracy,
            "connection_cost_bimt_definition": cost,
            "connection_cost_own_definition": metrics.connection_cost,
            "viewer": format!("{variant}/view.html"),
        }));
    }
    let picture = out.join("ablation.png");
    write_png(&picture, &render_panels(&panels, panels.len()))?;
    write_json(
        &out.join("ablation.json"),
        &serde_json::json!({ "preset": preset, "variants": rows }),
    )?;
    println!("-> {}", picture.display());
    Ok(())
}
