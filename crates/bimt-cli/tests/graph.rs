//! `bimt run graph`, `bimt run mlp` and `bimt predict`: a user's own network and data.
mod common;

use common::{bimt, one_line_error, read_json, succeeded, temp_dir};
use std::path::{Path, PathBuf};

fn example(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/graph_file")
        .join(file)
}

#[test]
fn a_file_declared_graph_trains_on_a_csv_and_predicts_from_model_json() {
    let dir = temp_dir("graph-run");
    let (arch, data) = (example("two_towers.json"), example("two_towers.csv"));
    succeeded(&bimt(&[
        "run",
        "graph",
        "--quiet",
        "--arch",
        arch.to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
        "--targets",
        "y1,y2",
        "--steps",
        "3000",
        "--out",
        dir.to_str().unwrap(),
    ]));
    let model = read_json(&dir.join("model.json"));
    assert_eq!(model["format"], 2);
    let roles: Vec<&str> = model["neuron_layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles.iter().filter(|&&r| r == "input").count(), 2);
    let identity = model["connections"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["kind"] == "identity")
        .count();
    assert_eq!(identity, 1);
    let settings = read_json(&dir.join("run.json"));
    assert_eq!(settings["targets"], serde_json::json!(["y1", "y2"]));
    // Predictions rebuilt from model.json: one row per data row, a header of output names.
    let preds = dir.join("preds.csv");
    succeeded(&bimt(&[
        "predict",
        dir.to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
        "--out",
        preds.to_str().unwrap(),
    ]));
    let text = std::fs::read_to_string(&preds).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("y1,y2"));
    let rows: Vec<Vec<f64>> = lines
        .map(|l| l.split(',').map(|v| v.parse().unwrap()).collect())
        .collect();
    assert_eq!(rows.len(), 500);
    // The predictions fit the data's targets far better than their mean does.
    let csv = std::fs::read_to_string(&data).unwrap();
    let targets: Vec<Vec<f64>> = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').skip(7).map(|v| v.parse().unwrap()).collect())
        .collect();
    let mse = |f: &dyn Fn(usize, usize) -> f64| {
        (0..500)
            .flat_map(|r| (0..2).map(move |o| (r, o)))
            .map(|(r, o)| (f(r, o) - targets[r][o]).powi(2))
            .sum::<f64>()
            / 1000.0
    };
    let means: Vec<f64> = (0..2)
        .map(|o| targets.iter().map(|t| t[o]).sum::<f64>() / 500.0)
        .collect();
    let (fit, baseline) = (mse(&|r, o| rows[r][o]), mse(&|_, o| means[o]));
    assert!(fit < 0.2 * baseline, "{fit} vs {baseline}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_formula_run_is_recorded_and_repeats_from_run_json() {
    let dir = temp_dir("formula");
    let (first, second) = (dir.join("first"), dir.join("second"));
    succeeded(&bimt(&[
        "run",
        "mlp",
        "--quiet",
        "--hidden",
        "8,8",
        "--formula",
        "y1 = x1^2 + x2; y2 = sin(pi*x3)",
        "--steps",
        "400",
        "--out",
        first.to_str().unwrap(),
    ]));
    let settings = read_json(&first.join("run.json"));
    assert_eq!(settings["hidden"], serde_json::json!([8, 8]));
    assert_eq!(settings["formula"], "y1 = x1^2 + x2; y2 = sin(pi*x3)");
    let metrics = read_json(&first.join("metrics.json"));
    let reach = &metrics["structure"]["inputs_reaching_each_output"];
    assert!(reach["y1"].is_array() && reach["y2"].is_array(), "{reach}");
    succeeded(&bimt(&[
        "run",
        "mlp",
        "--quiet",
        "--config",
        first.join("run.json").to_str().unwrap(),
        "--out",
        second.to_str().unwrap(),
    ]));
    assert!(
        std::fs::read(first.join("model.json")).unwrap()
            == std::fs::read(second.join("model.json")).unwrap()
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn bad_csvs_and_mismatched_layers_are_refused_by_name() {
    let dir = temp_dir("bad-csv");
    std::fs::create_dir_all(&dir).unwrap();
    let arch = example("two_towers.json");
    let run = |csv: &str, targets: &str| {
        let path = dir.join("data.csv");
        std::fs::write(&path, csv).unwrap();
        bimt(&[
            "run",
            "graph",
            "--quiet",
            "--arch",
            arch.to_str().unwrap(),
            "--data",
            path.to_str().unwrap(),
            "--targets",
            targets,
            "--out",
            dir.join("out").to_str().unwrap(),
        ])
    };
    let e = one_line_error(&run("a,b,y\n1,2,3\n4,5\n6,7,8\n", "y"));
    assert!(
        e.contains("data.csv") && e.contains("line 3"),
        "ragged: {e}"
    );
    let e = one_line_error(&run("a,b,y\n1,2,3\n4,x5,6\n6,7,8\n", "y"));
    assert!(
        e.contains("data.csv") && e.contains("x5"),
        "non-numeric: {e}"
    );
    let e = one_line_error(&run("a,b,y\n1,2,3\n4,NaN,6\n6,7,8\n", "y"));
    assert!(e.contains("data.csv") && e.contains("line 3"), "NaN: {e}");
    let e = one_line_error(&run("a,b,y\n1,2,3\n4,5,6\n6,7,8\n", "z"));
    assert!(
        e.contains("data.csv") && e.contains("\"z\"") && e.contains("a, b, y"),
        "target: {e}"
    );
    // Well-formed, but two input columns for input layers of 4 + 3.
    let rows: String = (0..20)
        .map(|i| format!("{i},{},{}\n", i * 2, i * 3))
        .collect();
    let e = one_line_error(&run(&format!("a,b,y\n{rows}"), "y"));
    assert!(
        e.contains("two_towers.json") && e.contains("xa (4), xb (3)") && e.contains("take 7"),
        "{e}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn predict_names_a_missing_input_column() {
    let dir = temp_dir("predict-missing");
    succeeded(&bimt(&[
        "run",
        "mlp",
        "--quiet",
        "--hidden",
        "4",
        "--formula",
        "y = x1 + x2",
        "--steps",
        "100",
        "--out",
        dir.to_str().unwrap(),
    ]));
    let data = dir.join("new.csv");
    std::fs::write(&data, "x1,x3\n1,2\n").unwrap();
    let e = one_line_error(&bimt(&[
        "predict",
        dir.to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
    ]));
    assert!(e.contains("new.csv") && e.contains("x2"), "{e}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn predict_refuses_to_write_over_a_file_it_reads() {
    let dir = temp_dir("predict-overwrite");
    let run = dir.join("run");
    succeeded(&bimt(&[
        "run",
        "mlp",
        "--quiet",
        "--hidden",
        "4",
        "--formula",
        "y = x1 + x2",
        "--steps",
        "100",
        "--out",
        run.to_str().unwrap(),
    ]));
    let data = dir.join("x.csv");
    std::fs::write(&data, "x1,x2\n1,2\n3,4\n").unwrap();
    let model = std::fs::read(run.join("model.json")).unwrap();
    for (out, what) in [
        (data.clone(), "the data file"),
        (dir.join(".").join("x.csv"), "the data file"),
        (run.join("model.json"), "model.json"),
        (run.join("..").join("run").join("model.json"), "model.json"),
    ] {
        let e = one_line_error(&bimt(&[
            "predict",
            run.to_str().unwrap(),
            "--data",
            data.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ]));
        assert!(e.contains("--out") && e.contains(what), "{e}");
    }
    assert_eq!(std::fs::read(&data).unwrap(), b"x1,x2\n1,2\n3,4\n");
    assert!(std::fs::read(run.join("model.json")).unwrap() == model);
    // Any other file is fine.
    let preds = dir.join("preds.csv");
    succeeded(&bimt(&[
        "predict",
        run.to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
        "--out",
        preds.to_str().unwrap(),
    ]));
    assert_eq!(std::fs::read_to_string(&preds).unwrap().lines().count(), 3);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn class_labels_must_be_every_class_from_zero() {
    let dir = temp_dir("labels");
    std::fs::create_dir_all(&dir).unwrap();
    let run = |labels: &[u32]| {
        let path = dir.join("labels.csv");
        let rows: String = labels
            .iter()
            .enumerate()
            .map(|(i, l)| format!("{i},{l}\n"))
            .collect();
        std::fs::write(&path, format!("a,label\n{rows}")).unwrap();
        bimt(&[
            "run",
            "mlp",
            "--quiet",
            "--hidden",
            "4",
            "--data",
            path.to_str().unwrap(),
            "--targets",
            "label",
            "--loss",
            "cross-entropy",
            "--steps",
            "50",
            "--log-every",
            "50",
            "--out",
            dir.join("out").to_str().unwrap(),
        ])
    };
    // {0, 7} made 8 outputs; one class reported 100 % accuracy.
    let e = one_line_error(&run(&[0, 7, 0, 7, 0, 7]));
    assert!(
        e.contains("labels.csv") && e.contains("\"label\"") && e.contains("missing 1-6"),
        "{e}"
    );
    let e = one_line_error(&run(&[1, 1, 1, 1, 1]));
    assert!(
        e.contains("labels.csv") && e.contains("at least two classes"),
        "{e}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn formula_mistakes_are_told_in_the_formula_s_terms() {
    let dir = temp_dir("formula-typos");
    for (formula, want) in [
        ("y1 = x1 + z + x2", "unknown name 'z'"),
        (
            "y = sinn(x1)",
            "unknown function 'sinn' (did you mean 'sin'?)",
        ),
        ("y = 2x1 + x2", "'2x1': write 2*x1"),
        ("y = (x1 + x2", "a ')' is missing"),
    ] {
        let e = one_line_error(&bimt(&[
            "run",
            "mlp",
            "--quiet",
            "--hidden",
            "4",
            "--formula",
            formula,
            "--out",
            dir.to_str().unwrap(),
        ]));
        assert!(e.contains(formula) && e.contains(want), "{formula}: {e}");
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn architecture_files_that_cannot_mean_what_they_say_are_refused_by_name() {
    let dir = temp_dir("bad-arch");
    std::fs::create_dir_all(&dir).unwrap();
    let run = |layers: &str, edges: &str| {
        let path = dir.join("arch.json");
        std::fs::write(
            &path,
            format!(r#"{{"layers": [{layers}], "edges": [{edges}]}}"#),
        )
        .unwrap();
        bimt(&[
            "run",
            "graph",
            "--quiet",
            "--arch",
            path.to_str().unwrap(),
            "--formula",
            "y = x1 + x2",
            "--out",
            dir.join("out").to_str().unwrap(),
        ])
    };
    let layers = |h: &str| {
        format!(
            r#"{{"name": "x", "size": 2, "role": "input"}}, {{"name": "{h}", "size": 3}},
               {{"name": "y", "size": 1, "role": "output"}}"#
        )
    };
    let chain = r#"{"from": "x", "to": "h"}, {"from": "h", "to": "y"}"#;
    let e = one_line_error(&run(
        &layers("h"),
        &format!(r#"{chain}, {{"from": "x", "to": "h"}}"#),
    ));
    assert!(
        e.contains("arch.json") && e.contains("edges 1 and 3") && e.contains("x -> h"),
        "duplicate edge: {e}"
    );
    let low = layers("h").replace(r#""size": 3"#, r#""size": 3, "depth": -1"#);
    let e = one_line_error(&run(&low, chain));
    assert!(
        e.contains("arch.json") && e.contains("layer 'h'") && e.contains("above 0"),
        "negative depth: {e}"
    );
    let e = one_line_error(&run(
        &layers(""),
        r#"{"from": "x", "to": ""}, {"from": "", "to": "y"}"#,
    ));
    assert!(
        e.contains("arch.json") && e.contains("layer 2 has an empty name"),
        "empty name: {e}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

fn architecture(file: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/architectures")
        .join(file)
        .to_str()
        .unwrap()
        .to_string()
}

/// `bimt run graph --task` refuses an architecture whose shapes do not fit the task, and data
/// settings the task brings itself, each in one line naming the file or flag.
#[test]
fn a_task_refuses_an_architecture_that_does_not_fit_it() {
    let dir = temp_dir("graph-task-errors");
    let out = dir.to_str().unwrap();
    let towers = example("two_towers.json");
    let towers = towers.to_str().unwrap();
    let (addition, s4) = (
        architecture("modular_addition.json"),
        architecture("permutation_s4.json"),
    );
    let csv = example("two_towers.csv");
    let csv = csv.to_str().unwrap();
    let task = |arch: &str, task: &str, extra: &[&str]| {
        let mut args = vec!["run", "graph", "--arch", arch, "--task", task, "--out", out];
        args.extend_from_slice(extra);
        one_line_error(&bimt(&args))
    };
    let e = task(towers, "modular-addition", &[]);
    assert!(
        e.contains("two_towers.json")
            && e.contains("2 token ids from a vocabulary of 59")
            && e.contains("the input layer 'xa' holds 4 numbers"),
        "{e}"
    );
    let e = task(&s4, "modular-addition", &[]);
    assert!(
        e.contains("permutation_s4.json") && e.contains("'tokens' has \"tokens\": 24"),
        "{e}"
    );
    let e = task(&addition, "permutation-s4", &[]);
    assert!(
        e.contains("vocabulary of 24") && e.contains("\"tokens\": 59"),
        "{e}"
    );
    let e = task(&addition, "modular-addition", &["--data", csv]);
    assert!(
        e.contains("--data is not for --task modular-addition"),
        "{e}"
    );
    let e = task(&addition, "addition", &[]);
    assert!(
        e.contains("expected one of `modular-addition`, `permutation-s4`, `in-context`"),
        "{e}"
    );
    // A token architecture without --task: a CSV holds no token ids.
    let e = one_line_error(&bimt(&[
        "run",
        "graph",
        "--arch",
        &addition,
        "--data",
        csv,
        "--targets",
        "y1,y2",
        "--out",
        out,
    ]));
    assert!(
        e.contains("the token layer 'tokens' reads token ids") && e.contains("--task"),
        "{e}"
    );
    let e = one_line_error(&bimt(&[
        "run",
        "modular-addition",
        "--task",
        "modular-addition",
        "--out",
        out,
    ]));
    assert!(e.contains("not the preset 'modular-addition'"), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The file-declared modular addition, trained with `--task`, follows the built-in preset step
/// for step: the same data, settings, initial parameters and arithmetic, so the same weights,
/// swaps and test accuracy (here over 400 steps with two swap rounds). Only the layer names and
/// the format-1 `activation` of the last connection, which the built-in MLP also writes, differ.
#[test]
fn the_file_declared_modular_addition_trains_as_the_preset_does() {
    let (graph, builtin) = (temp_dir("graph-task"), temp_dir("graph-task-builtin"));
    let steps = ["--steps", "400", "--log-every", "200", "--quiet"];
    let arch = architecture("modular_addition.json");
    let mut args = vec![
        "run",
        "graph",
        "--arch",
        &arch,
        "--task",
        "modular-addition",
    ];
    args.extend_from_slice(&steps);
    args.extend_from_slice(&["--out", graph.to_str().unwrap()]);
    succeeded(&bimt(&args));
    let mut args = vec!["run", "modular-addition"];
    args.extend_from_slice(&steps);
    args.extend_from_slice(&["--out", builtin.to_str().unwrap()]);
    succeeded(&bimt(&args));
    let settings = read_json(&graph.join("run.json"));
    assert_eq!(settings["task"], "modular-addition");
    assert_eq!(
        settings["y_star"], 0.5,
        "the preset's settings are the defaults"
    );
    let (a, b) = (
        read_json(&graph.join("metrics.json")),
        read_json(&builtin.join("metrics.json")),
    );
    assert_eq!(a["preset"], "graph");
    assert!(a["test_accuracy"].as_f64().is_some());
    assert!(a["swaps"].as_u64().unwrap() > 0);
    for key in [
        "test_accuracy",
        "train_loss",
        "test_loss",
        "swaps",
        "connection_cost",
    ] {
        assert_eq!(a[key], b[key], "{key}");
    }
    assert_eq!(a["structure"]["modules"], b["structure"]["modules"]);
    let (ma, mb) = (
        read_json(&graph.join("model.json")),
        read_json(&builtin.join("model.json")),
    );
    for key in ["token_embedding", "token_positions", "input_features"] {
        assert_eq!(ma[key], mb[key], "model.json {key}");
    }
    let connections = |m: &serde_json::Value| -> Vec<serde_json::Value> {
        let parts = ["from", "to", "weight", "bias", "in_fold"];
        m["connections"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| parts.iter().map(|&p| c[p].clone()).collect())
            .collect()
    };
    assert_eq!(connections(&ma), connections(&mb), "model.json weights");
    let layers = |m: &serde_json::Value| -> Vec<serde_json::Value> {
        let parts = ["size", "coords", "depth", "role", "activation", "features"];
        m["neuron_layers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| parts.iter().map(|&p| l[p].clone()).collect())
            .collect()
    };
    assert_eq!(layers(&ma), layers(&mb), "model.json layers, names aside");
    let _ = std::fs::remove_dir_all(&graph);
    let _ = std::fs::remove_dir_all(&builtin);
}

/// The file-declared in-context transformer, trained with `--task in-context`, follows `bimt
/// run in-context` step for step (the same parameter order, domain order, data and
/// arithmetic), and `bimt predict` evaluates both runs' `model.json` (attention, residual
/// identities and all) to the same predictions, a sequence of three rows at a time.
#[test]
fn the_file_declared_transformer_trains_and_predicts_as_the_preset_does() {
    let (graph, builtin) = (temp_dir("graph-ic"), temp_dir("graph-ic-builtin"));
    let steps = ["--steps", "300", "--finetune-steps", "50", "--quiet"];
    let arch = architecture("in_context.json");
    let mut args = vec!["run", "graph", "--arch", &arch, "--task", "in-context"];
    args.extend_from_slice(&steps);
    args.extend_from_slice(&["--out", graph.to_str().unwrap()]);
    succeeded(&bimt(&args));
    let mut args = vec!["run", "in-context"];
    args.extend_from_slice(&steps);
    args.extend_from_slice(&["--out", builtin.to_str().unwrap()]);
    succeeded(&bimt(&args));
    let (a, b) = (
        read_json(&graph.join("metrics.json")),
        read_json(&builtin.join("metrics.json")),
    );
    for key in ["train_loss", "test_loss", "swaps", "connection_cost"] {
        assert_eq!(a[key], b[key], "{key}");
    }
    assert_eq!(a["structure"]["probes"], b["structure"]["probes"]);

    // Sequences of (0, x1), (w·x1, 0), (0, x2): 7 of them.
    let data = graph.join("sequences.csv");
    let mut csv = String::from("y,x\n");
    for s in 0..7 {
        let (w, x1, x2) = (
            0.3 * s as f64 - 0.9,
            1.0 + 0.25 * s as f64,
            2.9 - 0.2 * s as f64,
        );
        csv += &format!("0,{x1}\n{},0\n0,{x2}\n", w * x1);
    }
    std::fs::write(&data, &csv).unwrap();
    let predict = |run: &Path| {
        let out = bimt(&[
            "predict",
            run.to_str().unwrap(),
            "--data",
            data.to_str().unwrap(),
        ]);
        succeeded(&out);
        String::from_utf8(out.stdout).unwrap()
    };
    let (from_file, from_builtin) = (predict(&graph), predict(&builtin));
    assert_eq!(from_file.lines().count(), 1 + 21);
    assert_eq!(from_file, from_builtin);

    // Rows that do not make whole sequences are refused, naming the file and the count.
    std::fs::write(&data, "y,x\n0,1\n0.5,0\n0,2\n0,1.5\n").unwrap();
    let e = one_line_error(&bimt(&[
        "predict",
        graph.to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
    ]));
    assert!(
        e.contains("sequences.csv") && e.contains("4 data rows") && e.contains("multiple of 3"),
        "{e}"
    );
    // An architecture without a sequence does not fit the task.
    let towers = example("two_towers.json");
    let e = one_line_error(&bimt(&[
        "run",
        "graph",
        "--arch",
        towers.to_str().unwrap(),
        "--task",
        "in-context",
        "--out",
        graph.to_str().unwrap(),
    ]));
    assert!(
        e.contains("two_towers.json") && e.contains("has no \"sequence\""),
        "{e}"
    );
    let _ = std::fs::remove_dir_all(&graph);
    let _ = std::fs::remove_dir_all(&builtin);
}
