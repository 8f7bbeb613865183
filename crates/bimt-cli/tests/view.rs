//! `bimt view` in a real browser: headless Chromium opens the viewer of a two-moons, a
//! modular-addition, an MNIST and an in-context transformer run, driven by `view_driver.js` (real DOM events), and what
//! the page shows is checked against the run's `model.json` and `metrics.json`. A screenshot
//! of each goes to `CARGO_TARGET_TMPDIR/view/`.
//!
//! Chromium comes from the system (`chromium`, `chromium-browser` or `google-chrome` on the
//! path, or `$BIMT_CHROMIUM`); `.ci/run` and `scripts/test` install Debian's when it is missing.

mod common;
use common::*;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The driver, appended to a copy of the page.
const DRIVER: &str = include_str!("view_driver.js");

fn chromium() -> PathBuf {
    if let Ok(path) = std::env::var("BIMT_CHROMIUM") {
        return PathBuf::from(path);
    }
    for name in ["chromium", "chromium-browser", "google-chrome"] {
        if let Ok(out) = Command::new("which").arg(name).output()
            && out.status.success()
        {
            return PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        }
    }
    panic!(
        "the viewer tests need Chromium: install it (Debian: apt-get install chromium) or run \
         scripts/test, which does; or set BIMT_CHROMIUM to a Chrome binary"
    );
}

fn headless(page: &Path, extra: &[&str]) -> std::process::Output {
    let profile = page.with_extension("profile");
    Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-extensions",
            "--enable-logging=stderr",
            "--v=0",
            "--window-size=1280,900",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("chromium runs")
}

/// The run's viewer, driven: what the driver wrote, and Chromium's log lines of the page's
/// console.
fn drive(run: &Path, name: &str) -> (Value, Vec<String>) {
    succeeded(&bimt(&["view", run.to_str().unwrap(), "--no-open"]));
    let page = run.join("view.html");
    let html = std::fs::read_to_string(&page).unwrap();
    let driven = run.join("view-driven.html");
    let script = format!("<script>{DRIVER}</script>\n</body>");
    std::fs::write(&driven, html.replacen("</body>", &script, 1)).unwrap();
    let out = headless(&driven, &["--dump-dom", "--virtual-time-budget=30000"]);
    let dom = String::from_utf8_lossy(&out.stdout);
    let start = dom.rfind("<pre id=\"bimt-test\">").unwrap_or_else(|| {
        panic!(
            "{name}: no driver output in the page: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let body = &dom[start + "<pre id=\"bimt-test\">".len()..];
    let text = &body[..body.find("</pre>").unwrap()];
    let text = text
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&");
    let results: Value = serde_json::from_str(&text).unwrap();
    let console: Vec<String> = String::from_utf8_lossy(&out.stderr)
        .lines()
        .filter(|l| l.contains("CONSOLE") || l.contains("Uncaught"))
        .map(str::to_string)
        .collect();
    // The screenshot of the page as a person opens it.
    let shots = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("view");
    std::fs::create_dir_all(&shots).unwrap();
    let shot = shots.join(format!("{name}.png"));
    let _ = std::fs::remove_file(&shot);
    headless(&page, &[&format!("--screenshot={}", shot.display())]);
    assert!(shot.exists(), "{name}: no screenshot at {}", shot.display());
    (results, console)
}

fn read(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The weight lines a frame of `model` draws at the page's lowest threshold, counted from
/// model.json alone: lines of at least 1 % of their matrix's largest, the 8,000 strongest, at
/// least 0.05 pixels wide (dense layers: one line per weight).
fn expected_lines(model: &Value, max_line_width: f64) -> usize {
    let mut rel: Vec<f64> = Vec::new();
    for c in model["connections"].as_array().unwrap() {
        if c["kind"].as_str().unwrap_or("linear") != "linear" {
            continue;
        }
        let w: Vec<f64> = c["weight"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|row| {
                row.as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v.as_f64().unwrap().abs())
            })
            .collect();
        let max = w.iter().copied().fold(0.0, f64::max);
        if max > 0.0 {
            rel.extend(w.iter().map(|v| v / max).filter(|&r| r as f32 >= 0.01));
        }
    }
    rel.sort_by(|a, b| b.total_cmp(a));
    rel.truncate(bimt_viewer::MAX_LINES);
    rel.iter()
        .filter(|&&r| max_line_width * (1000.0 * r).round() / 1000.0 >= 0.05)
        .count()
}

/// Checks a driven page against its run.
fn check(run: &Path, name: &str, figure_key: &str) {
    let (r, console) = drive(run, name);
    assert!(r["errors"].as_array().unwrap().is_empty(), "{name}: {r}");
    assert!(console.is_empty(), "{name}: the console logged {console:?}");
    assert_eq!(r["resources"], 0, "{name}: the page made network requests");
    let model = read(&run.join("model.json"));
    let metrics = read(&run.join("metrics.json"));
    let layers = model["neuron_layers"].as_array().unwrap();
    let neurons: u64 = layers.iter().map(|l| l["size"].as_u64().unwrap()).sum();
    assert_eq!(r["neurons"].as_u64().unwrap(), neurons, "{name}: neurons");
    let width = r["max_line_width"].as_f64().unwrap();
    assert_eq!(
        r["weights_last"].as_u64().unwrap() as usize,
        expected_lines(&model, width),
        "{name}: weight lines of the trained model"
    );
    assert_eq!(r["weights_last"], r["weights_in_dom"], "{name}");
    assert!(r["frames"].as_u64().unwrap() >= 3, "{name}: {r}");
    // Denser: more lines of at least 1 % of their matrix's largest (before the 8,000 cap).
    assert!(
        r["lines_first"].as_u64() > r["lines_last"].as_u64(),
        "{name}: the first frame is denser than the last: {} vs {} lines",
        r["lines_first"],
        r["lines_last"]
    );
    assert!(
        r["weights_first"].as_u64() >= r["weights_last"].as_u64(),
        "{name}"
    );
    // Hover: the info panel counts the neuron's nonzero incoming weights in model.json.
    let [l, n] = [0, 1].map(|k| r["hovered"][k].as_u64().unwrap() as usize);
    let size = |l: usize| layers[l]["size"].as_u64().unwrap() as usize;
    let incoming: usize = model["connections"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| {
            c["to"].as_u64() == Some(l as u64) && c["kind"].as_str().unwrap_or("linear") == "linear"
        })
        .map(|c| {
            c["weight"]
                .as_array()
                .unwrap()
                .iter()
                .enumerate()
                .filter(|(o, _)| o % size(l) == n)
                .map(|(_, row)| {
                    row.as_array()
                        .unwrap()
                        .iter()
                        .filter(|w| w.as_f64() != Some(0.0))
                        .count()
                })
                .sum::<usize>()
        })
        .sum();
    assert!(incoming > 0, "{name}");
    assert_eq!(
        r["hover_incoming"].as_u64().unwrap() as usize,
        incoming,
        "{name}: hover"
    );
    // Knock-outs: each module metrics.json lists gives the figure it lists, to its precision.
    let listed = metrics["structure"]["modules"].as_array().unwrap();
    assert!(!listed.is_empty(), "{name}: no modules in metrics.json");
    let shown = r["modules"].as_array().unwrap();
    for module in listed {
        let page = shown
            .iter()
            .find(|m| m["neurons"] == module["neurons"])
            .unwrap_or_else(|| panic!("{name}: module {} not in the page", module["neurons"]));
        let (want, got) = (
            module[figure_key].as_f64().unwrap(),
            page["figure"].as_f64().unwrap(),
        );
        assert!(
            (want - got).abs() <= 1e-9 * want.abs().max(1.0),
            "{name}: without module {}: metrics.json {want}, the page {got}",
            module["neurons"]
        );
        assert!(page["knocked_drawn"].as_u64().unwrap() > 0);
    }
    assert_eq!(r["figure"], r["figure_restored"], "{name}");
}

#[test]
fn the_viewer_of_a_two_moons_run_shows_its_graph_timeline_and_knock_outs() {
    let dir = temp_dir("view-two-moons");
    finished(&two_moons(dir.to_str().unwrap(), "1500", &[]));
    check(&dir, "two-moons", "test_accuracy_without_it");
}

#[test]
fn the_viewer_of_a_modular_addition_run_knocks_out_its_modules() {
    let dir = temp_dir("view-modular-addition");
    finished(&bimt(&[
        "run",
        "modular-addition",
        "--quiet",
        "--steps",
        "1500",
        "--log-every",
        "300",
        "--out",
        dir.to_str().unwrap(),
    ]));
    check(&dir, "modular-addition", "test_accuracy_without_it");
}

#[test]
fn the_viewer_of_an_mnist_run_draws_its_strongest_weights() {
    let dir = temp_dir("view-mnist");
    let data = mnist_dir();
    finished(&bimt(&[
        "run",
        "mnist",
        "--quiet",
        "--steps",
        "600",
        "--finetune-steps",
        "0",
        "--log-every",
        "200",
        "--lambda",
        "0.05",
        "--data-dir",
        &data,
        "--out",
        dir.to_str().unwrap(),
    ]));
    check(&dir, "mnist", "test_accuracy_without_it");
}

#[test]
fn the_viewer_of_an_in_context_transformer_knocks_out_its_modules() {
    let dir = temp_dir("view-in-context");
    finished(&bimt(&[
        "run",
        "in-context",
        "--quiet",
        "--steps",
        "400",
        "--finetune-steps",
        "0",
        "--log-every",
        "100",
        "--lambda",
        "0.05",
        "--out",
        dir.to_str().unwrap(),
    ]));
    check(&dir, "in-context", "query_mse_without_it");
}
