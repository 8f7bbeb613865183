//! Settings that a run keeps and checks: ranges checked before any work, a resume that carries
//! every setting and compares its input files by content, run directories usable from any
//! directory, and a run that ended worse than it started told apart by its exit status.
mod common;

use common::{bimt, one_line_error, read_json, succeeded, temp_dir, two_moons};
use std::path::Path;
use std::process::{Command, Output};

/// `bimt` with `args`, started in `cwd`.
fn bimt_in(cwd: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_bimt"))
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("bimt runs")
}

/// A CSV of 60 rows, y = x1 - 2·x2 (+ `shift`).
fn write_csv(path: &Path, shift: f64) {
    let mut text = String::from("x1,x2,y\n");
    for i in 0..60 {
        let (x1, x2) = ((i as f64 * 0.37).sin(), (i as f64 * 0.91).cos());
        text.push_str(&format!("{x1},{x2},{}\n", x1 - 2.0 * x2 + shift));
    }
    std::fs::write(path, text).unwrap();
}

#[test]
fn every_numeric_setting_is_checked_before_any_work_starts() {
    let dir = temp_dir("ranges");
    let out = dir.join("out");
    let o = out.to_str().unwrap();
    let formula = ["mlp", "--hidden", "4", "--formula", "y1 = x1"];
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["two-moons", "--lr", "1e3"],
            "lr = 1000: expected at most 1",
        ),
        (vec!["two-moons", "--finetune-lr", "5"], "finetune_lr = 5"),
        (
            vec!["two-moons", "--lambda", "1e6"],
            "lambda = 1000000: expected at most 1000",
        ),
        (vec!["two-moons", "--A", "1e30"], "expected at most 1000"),
        (vec!["two-moons", "--y-star=-1"], "y_star = -1"),
        (
            vec!["two-moons", "--lr", "100:1e-3"],
            "the first phase starts at step 100",
        ),
        (
            vec!["two-moons", "--lambda", "100:1e-3"],
            "the first phase starts at step 100",
        ),
        (
            vec!["two-moons", "--lr=-1e-3"],
            "lr = -0.001: expected a learning rate > 0",
        ),
        (
            vec!["two-moons", "--lr", "0"],
            "expected a learning rate > 0 and at most 1",
        ),
        (
            vec!["two-moons", "--steps", "1000000000"],
            "steps = 1000000000: expected at most",
        ),
        (
            vec!["two-moons", "--batch", "0"],
            "batch = 0: expected at least 1",
        ),
        (
            vec!["two-moons", "--seeds", "0,0"],
            "seed 0 is listed twice",
        ),
        (
            vec!["two-moons", "--seeds", "0-99999999999"],
            "more than 10000 seeds",
        ),
        (
            vec!["--threads", "100000", "run", "two-moons"],
            "--threads 100000",
        ),
        (
            [&formula[..], &["--test-fraction", "0"]].concat(),
            "test_fraction = 0",
        ),
        (
            [&formula[..], &["--test-fraction", "1"]].concat(),
            "test_fraction = 1",
        ),
        (
            [&formula[..], &["--samples", "100000000000"]].concat(),
            "samples = 100000000000",
        ),
    ];
    for (args, expected) in cases {
        let mut full = if args[0] == "--threads" {
            vec![]
        } else {
            vec!["run"]
        };
        full.extend(&args);
        full.extend(["--out", o]);
        let e = one_line_error(&bimt(&full));
        assert!(e.contains(expected), "{args:?}: {e}");
        assert!(!out.exists(), "{args:?} created --out before refusing");
    }
    let e = bimt(&[
        "run",
        "mlp",
        "--hidden",
        "4",
        "--formula",
        "y1 = x1",
        "--range",
        "1,-1",
    ]);
    let stderr = String::from_utf8_lossy(&e.stderr);
    assert!(stderr.contains("LO (1) must be below HI (-1)"), "{stderr}");
    let e = one_line_error(&bimt(&["table1", "--jobs", "0", "--out", o]));
    assert!(e.contains("--jobs 0"), "{e}");
}

#[test]
fn a_resumed_run_keeps_writing_checkpoints() {
    let dir = temp_dir("resume-checkpoints");
    let d = dir.to_str().unwrap();
    succeeded(&two_moons(d, "400", &["--checkpoint-every", "100"]));
    let checkpoint = dir.join("checkpoint.json");
    assert_eq!(read_json(&checkpoint)["step"], 400);
    let ckpt = checkpoint.to_str().unwrap();
    // No --checkpoint-every: the run's own setting carries over.
    succeeded(&two_moons(d, "700", &["--resume", ckpt]));
    assert_eq!(read_json(&checkpoint)["step"], 700);
    assert_eq!(read_json(&dir.join("run.json"))["checkpoint_every"], 100);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_resume_that_would_end_before_its_checkpoint_is_refused() {
    let dir = temp_dir("resume-steps");
    let d = dir.to_str().unwrap();
    succeeded(&two_moons(d, "400", &["--checkpoint-every", "200"]));
    let ckpt = dir.join("checkpoint.json");
    let metrics_before = std::fs::read(dir.join("metrics.json")).unwrap();
    let e = one_line_error(&two_moons(d, "300", &["--resume", ckpt.to_str().unwrap()]));
    assert!(
        e.contains("at step 400") && e.contains("--steps of at least 400"),
        "{e}"
    );
    assert_eq!(
        std::fs::read(dir.join("metrics.json")).unwrap(),
        metrics_before
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_new_run_into_an_old_directory_leaves_no_checkpoint_of_the_old_one() {
    let dir = temp_dir("stale");
    let d = dir.to_str().unwrap();
    succeeded(&two_moons(d, "200", &["--checkpoint-every", "100"]));
    assert!(dir.join("checkpoint.json").exists());
    succeeded(&two_moons(d, "200", &[]));
    assert!(!dir.join("checkpoint.json").exists());
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn input_files_are_compared_by_content_and_runs_work_from_any_directory() {
    let dir = temp_dir("inputs");
    let (first, second) = (dir.join("first"), dir.join("second"));
    std::fs::create_dir_all(&first).unwrap();
    std::fs::create_dir_all(&second).unwrap();
    write_csv(&first.join("data.csv"), 0.0);
    let run = [
        "run",
        "mlp",
        "--hidden",
        "6",
        "--data",
        "data.csv",
        "--targets",
        "y",
        "--steps",
        "200",
        "--log-every",
        "100",
        "--quiet",
        "--checkpoint-every",
        "100",
        "--out",
        "out",
    ];
    succeeded(&bimt_in(&first, &run));
    let out = first.join("out");
    let (ckpt, config) = (out.join("checkpoint.json"), out.join("run.json"));
    let (ckpt, config) = (ckpt.to_str().unwrap(), config.to_str().unwrap());
    let recorded = std::fs::read_to_string(config).unwrap();
    assert!(recorded.contains("data_sha256"), "{recorded}");

    // From another directory: the recorded paths still find the data.
    let elsewhere = second.join("again");
    let again = elsewhere.to_str().unwrap();
    succeeded(&bimt_in(
        &second,
        &["run", "mlp", "--config", config, "--quiet", "--out", again],
    ));
    assert_eq!(
        std::fs::read(out.join("model.json")).unwrap(),
        std::fs::read(elsewhere.join("model.json")).unwrap()
    );
    let o = out.to_str().unwrap();
    let resume = |steps| {
        [
            "run", "mlp", "--resume", ckpt, "--quiet", "--out", o, "--steps", steps,
        ]
    };
    succeeded(&bimt_in(&second, &resume("300")));

    // The same file by its absolute path is the same input.
    let absolute = first.join("data.csv");
    let resume_abs = [&resume("400")[..], &["--data", absolute.to_str().unwrap()]].concat();
    succeeded(&bimt_in(&second, &resume_abs));

    // Edited data: refused by --resume and by --config, naming the file.
    write_csv(&first.join("data.csv"), 1.0);
    let e = one_line_error(&bimt_in(&second, &resume("500")));
    assert!(e.contains("data.csv") && e.contains("has changed"), "{e}");
    let e = one_line_error(&bimt_in(
        &second,
        &["run", "mlp", "--config", config, "--out", again],
    ));
    assert!(e.contains("data.csv") && e.contains("has changed"), "{e}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_run_that_ends_worse_than_it_started_exits_with_status_3() {
    let dir = temp_dir("worse");
    let d = dir.to_str().unwrap();
    // λ = 10 prunes the independence network down to nothing within a few hundred steps.
    let out = bimt(&[
        "run",
        "symbolic-independence",
        "--lambda",
        "10",
        "--steps",
        "1000",
        "--quiet",
        "--out",
        d,
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("before the first step"), "{stderr}");
    assert!(dir.join("metrics.json").exists() && dir.join("model.json").exists());
    assert!(
        read_json(&dir.join("metrics.json"))["initial_test_loss"]
            .as_f64()
            .unwrap()
            > 0.0
    );
    // The same preset trained as it should exits 0.
    succeeded(&bimt(&[
        "run",
        "symbolic-independence",
        "--steps",
        "1000",
        "--quiet",
        "--out",
        d,
    ]));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn progress_is_printed_as_lines_when_stderr_is_not_a_terminal() {
    let dir = temp_dir("progress");
    let out = bimt(&[
        "run",
        "two-moons",
        "--steps",
        "300",
        "--out",
        dir.to_str().unwrap(),
    ]);
    succeeded(&out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("step 0/300 (0%)"), "{stderr}");
    let last = stderr.lines().last().unwrap();
    assert!(last.starts_with("step 300/300 (100%), "), "{stderr}");
    // A rate as a plain number: `6571 steps/s`, never `6,571.3837/s`.
    let rate = last.split(", ").nth(1).unwrap();
    let number = rate.strip_suffix(" steps/s").unwrap();
    assert!(number.parse::<f64>().is_ok(), "{last}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_resumed_runs_summary_gives_steps_and_rate_that_agree() {
    let dir = temp_dir("summary");
    let d = dir.to_str().unwrap();
    succeeded(&two_moons(d, "400", &["--checkpoint-every", "200"]));
    let ckpt = dir.join("checkpoint.json");
    let out = two_moons(d, "1200", &["--resume", ckpt.to_str().unwrap()]);
    succeeded(&out);
    let line = String::from_utf8_lossy(&out.stdout).to_string();
    // "... 1200 steps, ..., 0.41 s (2927 steps/s) -> ..."
    let steps: f64 = line
        .split(" steps,")
        .next()
        .unwrap()
        .rsplit(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let (before, after) = line.split_once(" s (").unwrap();
    let seconds: f64 = before.rsplit(' ').next().unwrap().parse().unwrap();
    let rate: f64 = after.split(' ').next().unwrap().parse().unwrap();
    assert_eq!(steps, 1200.0, "{line}");
    // The seconds are printed to 0.01 s: allow for that rounding.
    let (low, high) = (
        steps / (seconds + 0.005),
        steps / (seconds - 0.005).max(1e-3),
    );
    assert!(rate >= low.floor() && rate <= high.ceil(), "{line}");
    std::fs::remove_dir_all(&dir).ok();
}
