//! Helpers shared by the command-line test files.
// Each test file uses its own subset of the helpers.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn bimt(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_bimt"))
        .args(args)
        .output()
        .expect("bimt runs")
}

/// A quiet two-moons run of `steps` steps, logged every 100, into `out`, with `extra` flags.
pub fn two_moons(out: &str, steps: &str, extra: &[&str]) -> Output {
    let mut args = vec![
        "run",
        "two-moons",
        "--quiet",
        "--steps",
        steps,
        "--log-every",
        "100",
        "--out",
        out,
    ];
    args.extend_from_slice(extra);
    bimt(&args)
}

/// The MNIST files beside the repository (`../shared/data/mnist`).
pub fn mnist_dir() -> String {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/mnist");
    dir.to_str().unwrap().to_string()
}

pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("bimt-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

pub fn one_line_error(out: &Output) -> String {
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr).trim().to_string();
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    assert!(stderr.starts_with("error: "), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    stderr
}

/// Asserts that `out` wrote a finished run: a success, or status 3 (it ended worse than it
/// started), showing its standard error otherwise.
pub fn finished(out: &Output) {
    assert!(
        matches!(out.status.code(), Some(0 | 3)),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Asserts that `out` is a success, showing its standard error otherwise.
pub fn succeeded(out: &Output) {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A JSON file's value.
pub fn read_json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}
