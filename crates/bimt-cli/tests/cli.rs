//! The command line's errors: one line that says what is wrong and where, no panic, no
//! half-written output.
mod common;

use common::{bimt, one_line_error, temp_dir, two_moons};
use std::path::PathBuf;

#[test]
fn unknown_preset_lists_the_known_ones() {
    let e = one_line_error(&bimt(&["run", "symbolic-indepndence"]));
    assert!(
        e.contains("unknown preset 'symbolic-indepndence'") && e.contains("symbolic-independence"),
        "{e}"
    );
}

#[test]
fn bad_override_names_the_setting() {
    let e = one_line_error(&bimt(&["run", "two-moons", "--lambda", "0:1e-3,abc"]));
    assert!(e.contains("lambda") && e.contains("abc"), "{e}");
    let dir = temp_dir("config");
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("bad.json");
    std::fs::write(&config, r#"{"lr": 1e-3, "learning_rate": 2}"#).unwrap();
    let e = one_line_error(&bimt(&[
        "run",
        "two-moons",
        "--config",
        config.to_str().unwrap(),
    ]));
    assert!(e.contains("bad.json") && e.contains("learning_rate"), "{e}");
    let e = one_line_error(&bimt(&["run", "two-moons", "--finetune-lr", "0"]));
    assert!(e.contains("finetune_lr = 0"), "{e}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_pruned_finetune_counts_its_steps_and_leaves_exact_zeros() {
    let dir = temp_dir("finetune");
    let d = dir.to_str().unwrap();
    let out = two_moons(d, "300", &["--finetune-steps", "100"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let metrics = std::fs::read_to_string(dir.join("metrics.json")).unwrap();
    assert!(
        metrics.contains("\"steps\": 300") && metrics.contains("\"finetune_steps\": 100"),
        "the schedule's steps as typed, the fine-tune's apart: {metrics}"
    );
    let log = std::fs::read_to_string(dir.join("log.jsonl")).unwrap();
    assert!(
        log.lines().last().unwrap().contains("\"step\":400"),
        "{log}"
    );
    let model: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("model.json")).unwrap()).unwrap();
    let zeros = model["connections"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| c["weight"].as_array().unwrap().iter())
        .flat_map(|row| row.as_array().unwrap().iter())
        .filter(|w| w.as_f64() == Some(0.0))
        .count();
    assert!(
        zeros > 0,
        "the pruned weights are exact zeros in model.json"
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn diverging_training_stops_with_the_step_and_writes_nothing() {
    let dir = temp_dir("nan");
    let out = bimt(&[
        "run",
        "in-context",
        "--quiet",
        "--lr",
        "1",
        "--lambda",
        "0",
        "--steps",
        "400",
        "--log-every",
        "100",
        "--out",
        dir.to_str().unwrap(),
    ]);
    let e = one_line_error(&out);
    assert!(e.contains("diverged at step") && e.contains("--lr"), "{e}");
    assert!(!dir.join("metrics.json").exists() && !dir.join("model.json").exists());
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn corrupt_checkpoint_names_the_file() {
    let dir = temp_dir("ckpt");
    std::fs::create_dir_all(&dir).unwrap();
    let ckpt = dir.join("checkpoint.json");
    std::fs::write(&ckpt, b"{\"version\": 1, \"step\": ").unwrap();
    let out = bimt(&[
        "run",
        "two-moons",
        "--quiet",
        "--resume",
        ckpt.to_str().unwrap(),
        "--out",
        dir.to_str().unwrap(),
    ]);
    let e = one_line_error(&out);
    assert!(
        e.contains("checkpoint.json") && e.contains("not a valid checkpoint"),
        "{e}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_short_run_writes_the_contract_files_and_resumes() {
    let dir = temp_dir("run");
    let d = dir.to_str().unwrap();
    let out = two_moons(d, "300", &["--checkpoint-every", "100"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for f in [
        "metrics.json",
        "model.json",
        "graph.png",
        "graph.svg",
        "curves.png",
        "evolution.gif",
        "log.jsonl",
        "decision_boundary.png",
        "weight_knockouts.png",
        "checkpoint.json",
    ] {
        assert!(dir.join(f).exists(), "{f}");
    }
    // The SVG graph names the layers and the inputs and outputs as text.
    let svg = std::fs::read_to_string(dir.join("graph.svg")).unwrap();
    assert!(
        svg.starts_with("<svg") || svg.starts_with("<?xml"),
        "{}",
        &svg[..80.min(svg.len())]
    );
    for name in ["input", "output", "x1", "x2", "<text"] {
        assert!(svg.contains(name), "graph.svg lacks {name}");
    }
    let metrics: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("metrics.json")).unwrap()).unwrap();
    for key in [
        "preset",
        "variant",
        "seed",
        "steps",
        "wall_seconds",
        "steps_per_second",
        "train_loss",
        "test_loss",
        "test_accuracy",
        "connection_cost",
        "A",
        "y_star",
        "reduction",
    ] {
        assert!(metrics.get(key).is_some(), "metrics.json lacks {key}");
    }
    // Every visible weight is removed once, and its removal is scored.
    let knockouts = &metrics["structure"]["weight_knockouts"];
    let weights = knockouts["weights"].as_array().unwrap();
    assert!(!weights.is_empty());
    assert!(knockouts["weights_needed"].as_u64().unwrap() <= weights.len() as u64);
    for w in weights {
        let left = w["test_accuracy_without_it"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&left), "{w}");
    }
    assert_eq!(
        std::fs::read_to_string(dir.join("log.jsonl"))
            .unwrap()
            .lines()
            .count(),
        3
    );
    // Resuming the finished checkpoint with more steps continues from step 300.
    let ckpt = dir.join("checkpoint.json");
    let out = two_moons(d, "400", &["--resume", ckpt.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let log = std::fs::read_to_string(dir.join("log.jsonl")).unwrap();
    let steps: Vec<u64> = log
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["step"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert_eq!(steps, [100, 200, 300, 400], "the log continues: {log}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn an_s4_run_rebuilds_its_accuracy_from_the_token_embedding_in_model_json() {
    let dir = temp_dir("s4");
    let d = dir.to_str().unwrap();
    let out = bimt(&[
        "run",
        "permutation-s4",
        "--profile",
        "reference",
        "--steps",
        "5000",
        "--log-every",
        "1000",
        "--quiet",
        "--out",
        d,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let read = |f: &str| -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(dir.join(f)).unwrap()).unwrap()
    };
    let (metrics, model) = (read("metrics.json"), read("model.json"));
    let embedding = model["token_embedding"]
        .as_array()
        .expect("token_embedding");
    assert_eq!(embedding.len(), 24);
    assert!(
        embedding
            .iter()
            .all(|row| row.as_array().unwrap().len() == 32)
    );
    let engine = metrics["test_accuracy"].as_f64().unwrap();
    let s = &metrics["structure"];
    let rebuilt = s["test_accuracy_from_model_json"].as_f64().unwrap();
    // 115 test pairs; chance is 1/24.
    assert!(engine > 0.2, "learns beyond chance: {engine}");
    assert!(
        (engine - rebuilt).abs() <= 1.0 / 115.0,
        "{engine} vs {rebuilt}"
    );
    let active_embedding = s["active_neurons"][0]["active"].as_u64().unwrap();
    assert!(active_embedding < 32, "λ prunes embedding dimensions");
    let modules = s["modules"].as_array().unwrap();
    assert!(!modules.is_empty());
    for m in modules {
        assert!(m["test_accuracy_without_it"].as_f64().unwrap() < engine);
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_seed_sweep_writes_one_run_per_seed_and_their_summary() {
    let dir = temp_dir("seeds");
    let d = dir.to_str().unwrap();
    let out = two_moons(d, "200", &["--seeds", "4,7"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let read = |f: PathBuf| -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(f).unwrap()).unwrap()
    };
    let summary = read(dir.join("seeds.json"));
    let rows = summary["seeds"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    for (row, seed) in rows.iter().zip([4, 7]) {
        let metrics = read(dir.join(format!("seed-{seed}")).join("metrics.json"));
        assert_eq!(metrics["seed"], seed);
        assert_eq!(row["seed"], seed);
        assert_eq!(row["test_loss"], metrics["test_loss"]);
        assert_eq!(row["active_neurons"].as_array().unwrap().len(), 4);
        // Two moons' Table 1 criterion: at most 6 active neurons in the hidden layers.
        let active: Vec<u64> = row["active_neurons"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_u64().unwrap())
            .collect();
        let few = active[1] + active[2] <= 6;
        assert_eq!(row["structure_shown"].as_bool(), Some(few), "{row}");
    }
    let shown = rows.iter().filter(|r| r["structure_shown"] == true).count();
    assert_eq!(summary["seeds_showing_structure"], shown);
    assert!(
        summary["structure"]
            .as_str()
            .unwrap()
            .contains("active hidden neurons")
    );
    assert_ne!(rows[0]["test_loss"], rows[1]["test_loss"]);
    std::fs::remove_dir_all(&dir).ok();
}
