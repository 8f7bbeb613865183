//! `bimt table1 --quick` and `bimt ablation`: every file written, finished runs reused.

mod common;
use common::{bimt, mnist_dir, read_json, succeeded, temp_dir};

/// The Table 1 presets, as `bimt table1` names their run folders.
const TABLE1: [&str; 9] = [
    "symbolic-independence",
    "symbolic-feature-sharing",
    "symbolic-compositionality",
    "two-moons",
    "modular-addition",
    "permutation-s4",
    "in-context",
    "mnist",
    "mnist-cnn",
];

#[test]
fn table1_quick_writes_every_run_the_table_and_the_report_then_reuses_them() {
    let dir = temp_dir("table1");
    let d = dir.to_str().unwrap();
    let mnist = mnist_dir();
    let quick = ["table1", "--quick", "--out", d, "--data-dir", &mnist];
    let out = bimt(&quick);
    succeeded(&out);
    let table = std::fs::read_to_string(dir.join("TABLE1.md")).unwrap();
    let report = std::fs::read_to_string(dir.join("REPORT.md")).unwrap();
    assert!(
        table.contains("bimt table1 --quick"),
        "the command heads the table"
    );
    for preset in TABLE1 {
        for variant in ["vanilla", "bimt"] {
            let run = dir.join(preset).join(variant).join("seed-0");
            for file in [
                "metrics.json",
                "model.json",
                "graph.png",
                "graph.svg",
                "curves.png",
            ] {
                assert!(run.join(file).exists(), "{}", run.join(file).display());
            }
            assert_eq!(read_json(&run.join("metrics.json"))["steps"], 300);
        }
        assert!(
            table.contains(&format!("(REPORT.md#{preset})")),
            "{preset} row"
        );
        assert!(report.contains(&format!("## {preset}")), "{preset} section");
        // Every picture the report shows exists.
        let shown = format!("report/{preset}/graph.png");
        assert!(
            report.contains(&shown) && dir.join(&shown).exists(),
            "{shown}"
        );
    }
    // One row per preset, and every run listed.
    assert_eq!(
        table.lines().filter(|l| l.starts_with("| [")).count(),
        TABLE1.len(),
        "{table}"
    );
    let listed = |l: &str| TABLE1.iter().any(|p| l.starts_with(&format!("| {p} |")));
    assert_eq!(
        table.lines().filter(|l| listed(l)).count(),
        2 * TABLE1.len(),
        "{table}"
    );
    // Started again, it reuses every finished run.
    let again = bimt(&quick);
    succeeded(&again);
    let printed = String::from_utf8_lossy(&again.stdout);
    assert_eq!(
        printed.matches("finished run reused").count(),
        2 * TABLE1.len(),
        "{printed}"
    );
    // The first table ran everything; the second says what it took over.
    let reused = "runs were not run again";
    assert!(!table.contains(reused), "{table}");
    let table = std::fs::read_to_string(dir.join("TABLE1.md")).unwrap();
    let runs = 2 * TABLE1.len();
    assert!(
        table.contains(&format!("{runs} of the {runs} {reused}")),
        "{table}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn ablation_draws_the_five_variants_in_one_picture() {
    let dir = temp_dir("ablation");
    let d = dir.to_str().unwrap();
    let out = bimt(&["ablation", "--steps", "400", "--quiet", "--out", d]);
    succeeded(&out);
    let summary = read_json(&dir.join("ablation.json"));
    let variants: Vec<&str> = summary["variants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["variant"].as_str().unwrap())
        .collect();
    assert_eq!(variants, ["vanilla", "l1", "l1-local", "l1-swap", "bimt"]);
    let picture = image::open(dir.join("ablation.png")).unwrap();
    let single = image::open(dir.join("bimt").join("graph.png")).unwrap();
    // Five panels side by side: wider than four single graphs.
    assert!(picture.width() > 4 * 400, "{}", picture.width());
    assert!(single.width() > 0);
    std::fs::remove_dir_all(&dir).ok();
}
