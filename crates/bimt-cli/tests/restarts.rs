//! `--restarts`: candidates from different initial weights, the one with the shortest wiring at
//! about equal fit chosen and trained again as the run.
mod common;

use common::{bimt, one_line_error, read_json, succeeded, temp_dir, two_moons};
use std::path::Path;

/// The log line of `step`.
fn log_line(dir: &Path, step: u64) -> serde_json::Value {
    std::fs::read_to_string(dir.join("log.jsonl"))
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap())
        .find(|entry| entry["step"].as_u64() == Some(step))
        .unwrap_or_else(|| panic!("no log line at step {step}"))
}

#[test]
fn the_run_is_the_chosen_candidate_trained_again() {
    let dir = temp_dir("restarts");
    let run = dir.join("run");
    let flags = ["--seed", "5", "--restarts", "4", "--restart-steps", "200"];
    succeeded(&two_moons(run.to_str().unwrap(), "600", &flags));
    let metrics = read_json(&run.join("metrics.json"));
    let restarts = &metrics["restarts"];
    assert_eq!(restarts, &read_json(&run.join("restarts.json")));
    assert_eq!(restarts["steps"], 200);
    let candidates = restarts["candidates"].as_array().unwrap();
    assert_eq!(candidates.len(), 4);
    assert_eq!(
        candidates[0]["init_seed"], 5,
        "the run's own seed comes first"
    );
    let seeds: std::collections::BTreeSet<u64> = candidates
        .iter()
        .map(|c| c["init_seed"].as_u64().unwrap())
        .collect();
    assert_eq!(seeds.len(), 4);

    // The rule: the lowest cost among the losses within 1.2 of the lowest.
    let figure = |c: &serde_json::Value, key: &str| c[key].as_f64().unwrap();
    let best_loss = candidates
        .iter()
        .map(|c| figure(c, "train_loss"))
        .fold(f64::INFINITY, f64::min);
    let expected = (0..4)
        .filter(|&i| figure(&candidates[i], "train_loss") <= 1.2 * best_loss)
        .min_by(|&a, &b| {
            figure(&candidates[a], "connection_cost")
                .total_cmp(&figure(&candidates[b], "connection_cost"))
        })
        .unwrap();
    let chosen = restarts["chosen"].as_u64().unwrap() as usize;
    assert_eq!(chosen, expected);

    // Trained again from the start, the chosen candidate passes through exactly the state it
    // was chosen in.
    let at_choice = log_line(&run, 200);
    assert_eq!(at_choice["train_loss"], candidates[chosen]["train_loss"]);
    assert_eq!(
        at_choice["connection_cost"],
        candidates[chosen]["connection_cost"]
    );

    // Without restarts there is no record, and the run starts from its own seed's weights:
    // the first candidate is that run's first 200 steps.
    let plain = dir.join("plain");
    succeeded(&two_moons(plain.to_str().unwrap(), "600", &["--seed", "5"]));
    assert!(
        read_json(&plain.join("metrics.json"))
            .get("restarts")
            .is_none()
    );
    assert!(!plain.join("restarts.json").exists());
    let first = log_line(&plain, 200);
    assert_eq!(first["train_loss"], candidates[0]["train_loss"]);
    assert_eq!(first["connection_cost"], candidates[0]["connection_cost"]);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_resumed_run_keeps_its_record_of_the_choice() {
    let dir = temp_dir("restarts-resume");
    let first = dir.join("first");
    let flags = [
        "--restarts",
        "2",
        "--restart-steps",
        "100",
        "--checkpoint-every",
        "200",
    ];
    succeeded(&two_moons(first.to_str().unwrap(), "200", &flags));
    let resumed = dir.join("resumed");
    succeeded(&bimt(&[
        "run",
        "two-moons",
        "--quiet",
        "--resume",
        first.join("checkpoint.json").to_str().unwrap(),
        "--steps",
        "400",
        "--out",
        resumed.to_str().unwrap(),
    ]));
    assert_eq!(
        read_json(&resumed.join("metrics.json"))["restarts"],
        read_json(&first.join("restarts.json"))
    );
    // A record that does not read is refused by name, not dropped.
    std::fs::write(first.join("restarts.json"), "{\"steps\": ").unwrap();
    let out = bimt(&[
        "run",
        "two-moons",
        "--quiet",
        "--resume",
        first.join("checkpoint.json").to_str().unwrap(),
        "--steps",
        "400",
        "--out",
        dir.join("again").to_str().unwrap(),
    ]);
    let error = one_line_error(&out);
    assert!(error.contains("restarts.json"), "{error}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn candidates_longer_than_the_run_are_refused() {
    let dir = temp_dir("restarts-refused");
    let out = two_moons(
        dir.to_str().unwrap(),
        "300",
        &["--restarts", "3", "--restart-steps", "500"],
    );
    assert_eq!(
        one_line_error(&out),
        "error: restart_steps = 500: expected at most 300 (the candidates train part of the run's \
         300 steps)"
    );
    let out = two_moons(dir.to_str().unwrap(), "300", &["--restarts", "0"]);
    assert_eq!(
        one_line_error(&out),
        "error: restarts = 0: expected at least 1"
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn the_robust_profile_records_its_settings_and_chooses_among_its_candidates() {
    let dir = temp_dir("robust");
    succeeded(&bimt(&[
        "run",
        "symbolic-feature-sharing",
        "--profile",
        "robust",
        "--steps",
        "300",
        "--finetune-steps",
        "0",
        "--log-every",
        "100",
        "--quiet",
        "--out",
        dir.to_str().unwrap(),
    ]));
    let settings = read_json(&dir.join("run.json"));
    assert_eq!(settings["profile"], "robust");
    assert_eq!(settings["swap_moments"], "stay");
    let restarts = settings["restarts"].as_u64().unwrap() as usize;
    assert!(restarts > 1);
    let record = &read_json(&dir.join("metrics.json"))["restarts"];
    assert_eq!(record["candidates"].as_array().unwrap().len(), restarts);
    assert_eq!(record["steps"], 300, "whole runs by default");
    std::fs::remove_dir_all(&dir).ok();
}
