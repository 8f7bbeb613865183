//! Runs you can trust: a run records its settings, a resume is checked against them and keeps
//! the whole history, bad outputs fail before training, and divergence stops a run.
mod common;

use common::{bimt, finished, one_line_error, read_json, succeeded, temp_dir};
use image::AnimationDecoder;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The log's lines without their wall times.
fn log_without_wall_times(dir: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(dir.join("log.jsonl"))
        .unwrap()
        .lines()
        .map(|line| {
            let mut entry: serde_json::Value = serde_json::from_str(line).unwrap();
            entry.as_object_mut().unwrap().remove("wall_seconds");
            entry
        })
        .collect()
}

fn gif_frames(dir: &Path) -> usize {
    let file = std::io::BufReader::new(std::fs::File::open(dir.join("evolution.gif")).unwrap());
    image::codecs::gif::GifDecoder::new(file)
        .unwrap()
        .into_frames()
        .count()
}

#[test]
fn run_json_as_config_reproduces_the_model_byte_for_byte() {
    let dir = temp_dir("provenance");
    let (first, second) = (dir.join("first"), dir.join("second"));
    succeeded(&bimt(&[
        "run",
        "symbolic-independence",
        "--quiet",
        "--steps",
        "600",
        "--log-every",
        "200",
        "--lr",
        "2e-3",
        "--lambda",
        "0:1e-3,300:2e-2",
        "--seed",
        "3",
        "--top-k",
        "4",
        "--variant",
        "l1-swap",
        "--out",
        first.to_str().unwrap(),
    ]));
    let settings = read_json(&first.join("run.json"));
    for (key, value) in [
        ("preset", "\"symbolic-independence\""),
        ("seed", "3"),
        ("variant", "\"l1-swap\""),
        ("lr", "\"0:0.002\""),
        ("lambda", "\"0:0.001,300:0.02\""),
        ("top_k", "4"),
        ("swap_every", "200"),
        ("backend", "\"flex\""),
        ("profile", "\"paper\""),
    ] {
        assert_eq!(settings[key].to_string(), value, "run.json {key}");
    }
    assert!(settings["command"].as_array().unwrap().len() > 10);
    assert!(settings["bimt_version"].is_string());
    succeeded(&bimt(&[
        "run",
        "symbolic-independence",
        "--quiet",
        "--config",
        first.join("run.json").to_str().unwrap(),
        "--out",
        second.to_str().unwrap(),
    ]));
    let model = |d: &Path| std::fs::read(d.join("model.json")).unwrap();
    assert!(model(&first) == model(&second), "model.json differs");
    // A different seed gives a different model: the comparison can fail.
    let third = dir.join("third");
    succeeded(&bimt(&[
        "run",
        "symbolic-independence",
        "--quiet",
        "--config",
        first.join("run.json").to_str().unwrap(),
        "--seed",
        "4",
        "--out",
        third.to_str().unwrap(),
    ]));
    assert!(model(&first) != model(&third));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_resume_that_contradicts_its_checkpoint_is_refused_by_name() {
    let dir = temp_dir("identity");
    let d = dir.to_str().unwrap();
    succeeded(&bimt(&[
        "run",
        "symbolic-independence",
        "--quiet",
        "--steps",
        "200",
        "--lr",
        "2e-3",
        "--checkpoint-every",
        "100",
        "--out",
        d,
    ]));
    let ckpt = dir.join("checkpoint.json");
    let ckpt = ckpt.to_str().unwrap();
    let resume = |preset: &str, extra: &[&str]| {
        let mut args = vec!["run", preset, "--quiet", "--resume", ckpt, "--out", d];
        args.extend_from_slice(extra);
        bimt(&args)
    };
    for (flag, value, stored) in [
        ("--seed", "1", "seed = 0"),
        ("--lr", "1e-3", "lr = \"0:0.002\""),
        ("--variant", "l1", "variant = \"bimt\""),
        ("--profile", "reference", "profile = \"paper\""),
    ] {
        let e = one_line_error(&resume("symbolic-independence", &[flag, value]));
        assert!(e.contains(stored) && e.contains("--resume"), "{flag}: {e}");
    }
    // Same shapes, another preset: refused by name.
    let e = one_line_error(&resume("symbolic-pruning", &[]));
    assert!(
        e.contains("'symbolic-independence'") && e.contains("'symbolic-pruning'"),
        "{e}"
    );
    // The total step count may change: the run goes on to step 300.
    succeeded(&resume("symbolic-independence", &["--steps", "300"]));
    assert_eq!(read_json(&dir.join("metrics.json"))["steps"], 300);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_killed_run_resumed_has_the_history_of_one_that_never_stopped() {
    let dir = temp_dir("killed");
    let (whole, killed) = (dir.join("whole"), dir.join("killed"));
    let args = |out: &Path| {
        vec![
            "run".to_string(),
            "symbolic-independence".into(),
            "--quiet".into(),
            "--steps".into(),
            "20000".into(),
            "--log-every".into(),
            "500".into(),
            "--checkpoint-every".into(),
            "500".into(),
            "--out".into(),
            out.to_str().unwrap().into(),
        ]
    };
    let mut child = Command::new(env!("CARGO_BIN_EXE_bimt"))
        .args(args(&killed))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let log_lines = || {
        std::fs::read_to_string(killed.join("log.jsonl"))
            .map(|s| s.lines().count())
            .unwrap_or(0)
    };
    // Only a guard against a hang: two log lines take well under a second even on a busy
    // machine, so this bound says nothing about speed.
    let hang_guard = Duration::from_secs(600);
    while log_lines() < 2 {
        assert!(
            started.elapsed() < hang_guard,
            "no two log lines after {hang_guard:?}: the run hangs"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        !killed.join("metrics.json").exists(),
        "the run finished before it was killed"
    );
    assert!(log_lines() >= 2, "the killed run keeps its log");
    let ckpt = killed.join("checkpoint.json");
    succeeded(&bimt(&[
        "run",
        "symbolic-independence",
        "--quiet",
        "--resume",
        ckpt.to_str().unwrap(),
        "--out",
        killed.to_str().unwrap(),
    ]));
    let whole_args = args(&whole);
    let whole_args: Vec<&str> = whole_args.iter().map(String::as_str).collect();
    succeeded(&bimt(&whole_args));
    let log = log_without_wall_times(&whole);
    assert_eq!(log.len(), 40);
    assert_eq!(log, log_without_wall_times(&killed));
    assert_eq!(gif_frames(&whole), 41, "step 0 and every log interval");
    assert_eq!(gif_frames(&whole), gif_frames(&killed));
    assert!(
        std::fs::read(whole.join("model.json")).unwrap()
            == std::fs::read(killed.join("model.json")).unwrap()
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn an_output_path_that_is_a_file_fails_before_any_work() {
    let dir = temp_dir("out-file");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("taken");
    std::fs::write(&file, b"keep me").unwrap();
    // The MNIST directory holds no data: a run that loaded its data before checking --out
    // would fail on the missing files instead.
    let out = Command::new(env!("CARGO_BIN_EXE_bimt"))
        .args(["run", "mnist", "--quiet", "--out", file.to_str().unwrap()])
        .env("BIMT_MNIST_DIR", &dir)
        .output()
        .unwrap();
    let e = one_line_error(&out);
    assert!(e.contains("taken") && e.contains("is a file"), "{e}");
    assert_eq!(std::fs::read(&file).unwrap(), b"keep me");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_finite_blow_up_stops_the_run_and_names_the_learning_rate() {
    let dir = temp_dir("blow-up");
    let run = |lr: &str| {
        // The largest learning rate allowed, without the cost term that would hold the
        // weights back: the transformer's loss grows past 10⁶ times its start.
        bimt(&[
            "run",
            "in-context",
            "--quiet",
            "--lr",
            lr,
            "--lambda",
            "0",
            "--steps",
            "1000",
            "--log-every",
            "100",
            "--checkpoint-every",
            "100",
            "--out",
            dir.to_str().unwrap(),
        ])
    };
    let e = one_line_error(&run("1"));
    assert!(
        e.contains("diverged at step") && e.contains("lower --lr (now 1)"),
        "{e}"
    );
    assert!(!dir.join("metrics.json").exists());
    // Sane for 300 steps, then blown up: the checkpoint left is the last good one, of step 300.
    let e = one_line_error(&run("0:1e-3,300:1"));
    assert!(e.contains("diverged at step 400"), "{e}");
    let ckpt = read_json(&dir.join("checkpoint.json"));
    assert_eq!(ckpt["step"], 300);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn senseless_settings_are_refused() {
    let e = one_line_error(&bimt(&["run", "two-moons", "--batch", "0"]));
    assert!(e.contains("batch = 0"), "{e}");
    let e = one_line_error(&bimt(&["run", "two-moons", "--log-every", "0"]));
    assert!(e.contains("log_every = 0"), "{e}");
}

/// `--steps` is the schedule as typed, the fine-tune is counted apart, and a log interval
/// longer than the run is shortened to it, so the schedule's end is logged.
#[test]
fn steps_mean_what_was_typed_and_the_schedule_end_is_logged() {
    let dir = temp_dir("in-context-steps");
    let out = bimt(&[
        "run",
        "in-context",
        "--quiet",
        "--steps",
        "200",
        "--finetune-steps",
        "50",
        "--out",
        dir.to_str().unwrap(),
    ]);
    succeeded(&out);
    assert!(String::from_utf8_lossy(&out.stderr).contains("logging every 200 steps"));
    let metrics = read_json(&dir.join("metrics.json"));
    assert_eq!(
        (
            metrics["steps"].as_u64(),
            metrics["finetune_steps"].as_u64()
        ),
        (Some(200), Some(50))
    );
    let steps: Vec<u64> = log_without_wall_times(&dir)
        .iter()
        .map(|e| e["step"].as_u64().unwrap())
        .collect();
    assert_eq!(steps, [200, 250]);
    let definitions = &metrics["loss_definitions"];
    assert!(
        definitions["test_loss"]
            .as_str()
            .unwrap()
            .contains("query position")
    );
    assert!(
        definitions["train_loss"]
            .as_str()
            .unwrap()
            .contains("every x position")
    );
    std::fs::remove_dir_all(&dir).ok();
}

/// The number of threads a run computes on changes no number of it: the products split their
/// outputs among the threads, not their sums.
#[test]
fn threads_change_no_result() {
    let dir = temp_dir("threads");
    let run = |threads: &str| {
        let out = dir.join(format!("threads-{threads}"));
        // 40 steps of modular addition memorise: the test loss ends above its start, which
        // the run reports with status 3 after writing its outputs.
        finished(&bimt(&[
            "run",
            "modular-addition",
            "--quiet",
            "--steps",
            "40",
            "--threads",
            threads,
            "--out",
            out.to_str().unwrap(),
        ]));
        std::fs::read(out.join("model.json")).unwrap()
    };
    assert!(
        run("1") == run("2"),
        "model.json differs between 1 and 2 threads"
    );
    let e = one_line_error(&bimt(&["run", "two-moons", "--threads", "0"]));
    assert!(e.contains("--threads 0"), "{e}");
    std::fs::remove_dir_all(&dir).ok();
}
