//! `bimt run graph`, `bimt run mlp` and `bimt predict`: a user's own network and data.
mod common;

use common::{bimt, finished, one_line_error, read_json, succeeded, temp_dir};
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
        e.contains("two_towers.json") && e.contains("'xa' (4), 'xb' (3)") && e.contains("take 7"),
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
    // The dense tasks: the widths, token layers and sequences that do not fit.
    let e = task(towers, "two-moons", &[]);
    assert!(
        e.contains("two_towers.json")
            && e.contains("--task two-moons gives each sample 2 numbers and 2 classes")
            && e.contains("the input layers 'xa' (4), 'xb' (3) hold 7"),
        "{e}"
    );
    let e = task(&architecture("two_moons.json"), "mnist", &[]);
    assert!(
        e.contains("784 pixels and 10 digits") && e.contains("'input' (2) hold 2"),
        "{e}"
    );
    let e = task(&addition, "symbolic-independence", &[]);
    assert!(
        e.contains("the layer 'tokens' holds token ids, not numbers"),
        "{e}"
    );
    let e = task(&architecture("in_context.json"), "symbolic-pruning", &[]);
    assert!(e.contains("\"sequence\": 3"), "{e}");
    let e = one_line_error(&bimt(&["run", "graph", "--task", "mnist", "--out", out]));
    assert!(
        e.contains("--task mnist needs --arch FILE")
            && e.contains("examples/architectures/mnist.json"),
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

/// The dense presets' networks as files (`examples/architectures`), trained with `--task`,
/// follow the presets step for step: the same losses, swaps, cost and structure report
/// (two moons' weight knock-outs; MNIST's receptive field, features and output ring), and
/// the same pictures' files.
#[test]
fn the_file_declared_dense_presets_train_as_the_presets_do() {
    for (preset, file, steps) in [
        ("two-moons", "two_moons.json", "200"),
        ("symbolic-feature-sharing", "symbolic_3_20_20_3.json", "200"),
        ("mnist", "mnist.json", "20"),
    ] {
        let (graph, builtin) = (temp_dir("graph-dense"), temp_dir("graph-dense-builtin"));
        let mnist = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/mnist");
        let mut flags = vec![
            "--steps",
            steps,
            "--log-every",
            steps,
            "--finetune-steps",
            "0",
        ];
        flags.extend_from_slice(&["--quiet", "--data-dir", mnist.to_str().unwrap()]);
        let arch = architecture(file);
        let mut args = vec!["run", "graph", "--arch", &arch, "--task", preset];
        args.extend_from_slice(&flags);
        args.extend_from_slice(&["--out", graph.to_str().unwrap()]);
        succeeded(&bimt(&args));
        let mut args = vec!["run", preset];
        args.extend_from_slice(&flags);
        args.extend_from_slice(&["--out", builtin.to_str().unwrap()]);
        succeeded(&bimt(&args));
        let (a, b) = (
            read_json(&graph.join("metrics.json")),
            read_json(&builtin.join("metrics.json")),
        );
        assert_eq!(a["preset"], "graph");
        for key in [
            "test_accuracy",
            "train_loss",
            "test_loss",
            "swaps",
            "connection_cost",
            "structure",
        ] {
            assert!(
                !a[key].is_null() || key == "test_accuracy",
                "{preset}: {key}"
            );
            assert_eq!(a[key], b[key], "{preset}: {key}");
        }
        let pictures = |dir: &Path| -> Vec<String> {
            let mut names: Vec<String> = std::fs::read_dir(dir)
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .filter(|n| n.ends_with(".png"))
                .collect();
            names.sort();
            names
        };
        assert_eq!(pictures(&graph), pictures(&builtin), "{preset}");
        let _ = std::fs::remove_dir_all(&graph);
        let _ = std::fs::remove_dir_all(&builtin);
    }
}

/// Writes `arrays` (name, shape, values) as the `.npy` members of a `.npz` archive at `path`,
/// as `np.savez_compressed` does.
fn write_npz(path: &Path, arrays: &[(&str, &[u64], NpyValues)]) {
    use npyz::WriterBuilder;
    let mut zip = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    for (name, shape, values) in arrays {
        zip.start_file(format!("{name}.npy"), zip::write::FileOptions::default())
            .unwrap();
        match values {
            NpyValues::F(v) => {
                let options = npyz::WriteOptions::<f32>::new().default_dtype();
                let mut w = options.shape(shape).writer(&mut zip).begin_nd().unwrap();
                w.extend(v.iter().copied()).unwrap();
                w.finish().unwrap();
            }
            NpyValues::I(v) => {
                let options = npyz::WriteOptions::<i64>::new().default_dtype();
                let mut w = options.shape(shape).writer(&mut zip).begin_nd().unwrap();
                w.extend(v.iter().copied()).unwrap();
                w.finish().unwrap();
            }
        }
    }
    zip.finish().unwrap();
}

/// Writes one array as a `.npy` file.
fn write_npy(path: &Path, shape: &[u64], values: NpyValues) {
    use npyz::WriterBuilder;
    let file = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    match values {
        NpyValues::F(v) => {
            let options = npyz::WriteOptions::<f32>::new().default_dtype();
            let mut w = options.shape(shape).writer(file).begin_nd().unwrap();
            w.extend(v).unwrap();
            w.finish().unwrap();
        }
        NpyValues::I(v) => {
            let options = npyz::WriteOptions::<i64>::new().default_dtype();
            let mut w = options.shape(shape).writer(file).begin_nd().unwrap();
            w.extend(v).unwrap();
            w.finish().unwrap();
        }
    }
}

enum NpyValues {
    F(Vec<f32>),
    I(Vec<i64>),
}

/// A causal transformer of width 16 with 2 heads over sequences of 4 scalars, one output per
/// position.
const RUNNING_MEAN_ARCH: &str = r#"{
  "sequence": 4,
  "layers": [
    {"name": "input", "size": 1, "role": "input"},
    {"name": "res0", "size": 16, "activation": "identity"},
    {"name": "atn", "size": 16, "attention": {"heads": 2, "causal": true}},
    {"name": "res1", "size": 16, "activation": "identity"},
    {"name": "mlp", "size": 32, "activation": "gelu"},
    {"name": "res2", "size": 16, "activation": "identity"},
    {"name": "output", "size": 1, "role": "output"}
  ],
  "edges": [
    {"from": "input", "to": "res0"},
    {"from": "res0", "to": "atn"},
    {"from": "atn", "to": "res1"},
    {"from": "res0", "to": "res1", "kind": "identity"},
    {"from": "res1", "to": "mlp"},
    {"from": "mlp", "to": "res2"},
    {"from": "res1", "to": "res2", "kind": "identity"},
    {"from": "res2", "to": "output"}
  ],
  "groups": [{"name": "residual", "layers": ["res0", "res1", "res2"]}]
}"#;

/// `n` sequences of 4 scalars and, at each position, the mean of the sequence so far:
/// `x` `[n, 4, 1]`, `y` `[n, 4, 1]`. The scalars are a fixed quasi-random sequence in (-1, 1).
fn running_means(n: usize) -> (Vec<f32>, Vec<f32>) {
    let xs: Vec<f32> = (0..n * 4)
        .map(|i| ((i as f64 * 0.618_033_988_75).fract() * 2.0 - 1.0) as f32)
        .collect();
    let ys = xs
        .chunks(4)
        .flat_map(|s| (0..4).map(move |t| s[..=t].iter().sum::<f32>() / (t + 1) as f32))
        .collect();
    (xs, ys)
}

/// A file transformer learns, from an `.npz` archive of sequences, to output at every position
/// the running mean of its scalar inputs (causal attention spread evenly over the past): in 300
/// full-batch steps its test loss, over every position of the held-out sequences, falls far
/// below where it started.
#[test]
fn a_file_transformer_learns_running_means_from_an_npz_archive() {
    let dir = temp_dir("graph-npz");
    std::fs::create_dir_all(&dir).unwrap();
    let arch = dir.join("running_mean.json");
    std::fs::write(&arch, RUNNING_MEAN_ARCH).unwrap();
    let (xs, ys) = running_means(256);
    let data = dir.join("running_mean.npz");
    write_npz(
        &data,
        &[
            ("x", &[256, 4, 1], NpyValues::F(xs)),
            ("y", &[256, 4, 1], NpyValues::F(ys)),
        ],
    );
    let out = dir.join("run");
    succeeded(&bimt(&[
        "run",
        "graph",
        "--quiet",
        "--arch",
        arch.to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
        "--steps",
        "300",
        "--log-every",
        "100",
        "--out",
        out.to_str().unwrap(),
    ]));
    let metrics = read_json(&out.join("metrics.json"));
    let (initial, last) = (
        metrics["initial_test_loss"].as_f64().unwrap(),
        metrics["test_loss"].as_f64().unwrap(),
    );
    assert!(last < 0.01 * initial, "test loss {initial} -> {last}");
    let definition = metrics["loss_definitions"]["test_loss"]
        .as_str()
        .unwrap_or_default();
    assert!(
        definition.contains("51 sequences of 4 positions"),
        "{metrics}"
    );
    let settings = read_json(&out.join("run.json"));
    assert!(settings["targets"].is_null(), "{settings}");
    // `bimt predict` reads the archive's `x` as it reads the same rows from a CSV.
    let predict = |data: &Path| {
        let run = bimt(&[
            "predict",
            out.to_str().unwrap(),
            "--data",
            data.to_str().unwrap(),
        ]);
        succeeded(&run);
        String::from_utf8(run.stdout).unwrap()
    };
    let (xs, _) = running_means(256);
    let csv = dir.join("rows.csv");
    let rows: Vec<String> = xs.iter().map(|v| format!("{v}")).collect();
    std::fs::write(&csv, format!("x[0]\n{}\n", rows.join("\n"))).unwrap();
    let from_npz = predict(&data);
    assert_eq!(from_npz.lines().count(), 1 + 256 * 4);
    assert_eq!(from_npz, predict(&csv));
    let short = dir.join("short.npy");
    write_npy(&short, &[10, 3, 1], NpyValues::F(vec![0.5; 30]));
    let e = one_line_error(&bimt(&[
        "predict",
        out.to_str().unwrap(),
        "--data",
        short.to_str().unwrap(),
    ]));
    assert!(
        e.contains("short.npy holds float32 of shape [10, 3, 1]")
            && e.contains("the model reads float32/float64 [n, 4, 1]"),
        "{e}"
    );
    // Mini-batches of 16 whole sequences train it too.
    let batched = dir.join("batched");
    succeeded(&bimt(&[
        "run",
        "graph",
        "--quiet",
        "--arch",
        arch.to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
        "--batch",
        "16",
        "--steps",
        "300",
        "--log-every",
        "100",
        "--out",
        batched.to_str().unwrap(),
    ]));
    let metrics = read_json(&batched.join("metrics.json"));
    let (initial, last) = (
        metrics["initial_test_loss"].as_f64().unwrap(),
        metrics["test_loss"].as_f64().unwrap(),
    );
    assert!(
        last < 0.01 * initial,
        "batched: test loss {initial} -> {last}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Token ids from `.npy` files train a token architecture; NumPy inputs that do not fit the
/// architecture, and flags that do not fit the files, are refused by name.
#[test]
fn numpy_files_that_do_not_fit_are_refused_by_name() {
    let dir = temp_dir("graph-npy-errors");
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join("out");
    let out = out.to_str().unwrap();
    let path = |name: &str| dir.join(name).to_str().unwrap().to_string();
    let run = |arch: &str, data: &str, extra: &[&str]| {
        let mut args = vec!["run", "graph", "--quiet", "--arch", arch, "--data", data];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["--out", out]);
        bimt(&args)
    };
    // Modular addition's token MLP on (a + b) mod 59 as .npy token ids and class labels.
    let addition = architecture("modular_addition.json");
    let pairs: Vec<(i64, i64)> = (0..59).flat_map(|a| (0..59).map(move |b| (a, b))).collect();
    let ids: Vec<i64> = pairs.iter().flat_map(|&(a, b)| [a, b]).collect();
    let labels: Vec<i64> = pairs.iter().map(|&(a, b)| (a + b) % 59).collect();
    write_npy(&dir.join("ids.npy"), &[3481, 2], NpyValues::I(ids.clone()));
    write_npy(&dir.join("sums.npy"), &[3481], NpyValues::I(labels));
    let (x, y) = (path("ids.npy"), path("sums.npy"));
    let steps = ["--steps", "20", "--log-every", "10"];
    let mut args = vec!["--targets", y.as_str(), "--loss", "cross-entropy"];
    args.extend_from_slice(&steps);
    // Too few steps for held-out sums (the test loss may end where it started), enough for
    // the training pairs.
    finished(&run(&addition, &x, &args));
    let metrics = read_json(&dir.join("out/metrics.json"));
    assert!(metrics["test_accuracy"].as_f64().is_some(), "{metrics}");
    let log = std::fs::read_to_string(dir.join("out/log.jsonl")).unwrap();
    let train: Vec<f64> = log
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["train_loss"]
                .as_f64()
                .unwrap()
        })
        .collect();
    assert!(train[train.len() - 1] < train[0], "{log}");
    // The same labels under --loss mse.
    let e = one_line_error(&run(&addition, &x, &["--targets", &y]));
    assert!(
        e.contains("sums.npy holds int64 class labels") && e.contains("--loss cross-entropy"),
        "{e}"
    );
    // An id beyond the vocabulary: the file, the sample, the id.
    let mut big = ids;
    big[2 * 7 + 1] = 59;
    write_npy(&dir.join("big.npy"), &[3481, 2], NpyValues::I(big));
    let e = one_line_error(&run(
        &addition,
        &path("big.npy"),
        &["--targets", &y, "--loss", "cross-entropy"],
    ));
    assert!(
        e.contains("big.npy: sample 7 (index [7, 1]) holds token id 59")
            && e.contains("the token layer 'tokens'")
            && e.contains("\"tokens\": 59"),
        "{e}"
    );
    // Float sequences for the token architecture; for the transformer, single rows.
    let transformer = dir.join("running_mean.json");
    std::fs::write(&transformer, RUNNING_MEAN_ARCH).unwrap();
    let transformer = transformer.to_str().unwrap();
    let (xs, ys) = running_means(8);
    write_npy(&dir.join("seq_x.npy"), &[8, 4, 1], NpyValues::F(xs.clone()));
    write_npy(&dir.join("seq_y.npy"), &[8, 4, 1], NpyValues::F(ys.clone()));
    write_npy(&dir.join("rows_x.npy"), &[32, 1], NpyValues::F(xs));
    write_npy(&dir.join("rows_y.npy"), &[32, 1], NpyValues::F(ys));
    let e = one_line_error(&run(
        &addition,
        &path("seq_x.npy"),
        &["--targets", &path("seq_y.npy")],
    ));
    assert!(
        e.contains("modular_addition.json: the token layer 'tokens' reads token ids")
            && e.contains("seq_x.npy holds float32 of shape [8, 4, 1]"),
        "{e}"
    );
    let e = one_line_error(&run(
        transformer,
        &path("rows_x.npy"),
        &["--targets", &path("rows_y.npy")],
    ));
    assert!(
        e.contains("running_mean.json: the architecture has \"sequence\": 4")
            && e.contains("rows_x.npy holds float32 of shape [32, 1]"),
        "{e}"
    );
    // Sequences of 4 positions, but targets one row per sample.
    write_npy(&dir.join("flat_y.npy"), &[8, 1], NpyValues::F(vec![0.0; 8]));
    let e = one_line_error(&run(
        transformer,
        &path("seq_x.npy"),
        &["--targets", &path("flat_y.npy")],
    ));
    assert!(
        e.contains("running_mean.json")
            && e.contains("[n, 4, outputs]")
            && e.contains("flat_y.npy holds float32 of shape [8, 1]"),
        "{e}"
    );
    // Two outputs per position for one output neuron.
    write_npy(
        &dir.join("wide_y.npy"),
        &[8, 4, 2],
        NpyValues::F(vec![0.0; 64]),
    );
    let e = one_line_error(&run(
        transformer,
        &path("seq_x.npy"),
        &["--targets", &path("wide_y.npy")],
    ));
    assert!(
        e.contains("the layers 'output' (1) hold 1 in all")
            && e.contains("wide_y.npy holds float32 of shape [8, 4, 2]: 2 outputs per position"),
        "{e}"
    );
    // X and Y of different lengths.
    let e = one_line_error(&run(
        transformer,
        &path("seq_x.npy"),
        &["--targets", &path("rows_y.npy")],
    ));
    assert!(
        e.contains("seq_x.npy has 8 samples") && e.contains("rows_y.npy has 32"),
        "{e}"
    );
    // Flags that do not fit the files.
    let e = one_line_error(&run(transformer, &path("seq_x.npy"), &[]));
    assert!(e.contains("seq_x.npy needs --targets Y.npy"), "{e}");
    let e = one_line_error(&run(
        transformer,
        &path("seq_x.npy"),
        &["--targets", "a.npy,b.npy"],
    ));
    assert!(e.contains("one .npy file of targets"), "{e}");
    let archive = dir.join("d.npz");
    write_npz(&archive, &[("inputs", &[1, 1], NpyValues::F(vec![0.0]))]);
    let e = one_line_error(&run(
        transformer,
        archive.to_str().unwrap(),
        &["--targets", &y],
    ));
    assert!(e.contains("--targets is not for .npz data"), "{e}");
    let e = one_line_error(&run(transformer, archive.to_str().unwrap(), &[]));
    assert!(
        e.contains("d.npz: no array named 'x'") && e.contains("found: inputs"),
        "{e}"
    );
    let text = dir.join("data.txt");
    std::fs::write(&text, "1,2\n").unwrap();
    let e = one_line_error(&run(
        transformer,
        text.to_str().unwrap(),
        &["--targets", "y"],
    ));
    assert!(
        e.contains("data.txt") && e.contains(".csv, .npy or .npz"),
        "{e}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// A causal token transformer over sequences of 4 ids from a vocabulary of 8, with learned
/// positions, one class per id at every position.
const PREVIOUS_TOKEN_ARCH: &str = r#"{
  "sequence": 4,
  "layers": [
    {"name": "tokens", "role": "input", "tokens": 8},
    {"name": "res0", "size": 16, "learned_positions": true},
    {"name": "atn", "size": 16, "attention": {"heads": 2, "causal": true}},
    {"name": "res1", "size": 16, "activation": "identity"},
    {"name": "mlp", "size": 32, "activation": "gelu"},
    {"name": "res2", "size": 16, "activation": "identity"},
    {"name": "output", "size": 8, "role": "output"}
  ],
  "edges": [
    {"from": "tokens", "to": "res0", "kind": "embedding"},
    {"from": "res0", "to": "atn"},
    {"from": "atn", "to": "res1"},
    {"from": "res0", "to": "res1", "kind": "identity"},
    {"from": "res1", "to": "mlp"},
    {"from": "mlp", "to": "res2"},
    {"from": "res1", "to": "res2", "kind": "identity"},
    {"from": "res2", "to": "output"}
  ],
  "groups": [{"name": "residual", "layers": ["res0", "res1", "res2"]}]
}"#;

/// Token ids `[n, 4]` and, at each position, the previous id as a class label `[n, 4]` (the
/// first position's own): a token transformer learns to look one position back, per-position
/// cross-entropy and accuracy.
#[test]
fn a_token_transformer_learns_the_previous_token_from_npy_files() {
    let dir = temp_dir("graph-npy-tokens");
    std::fs::create_dir_all(&dir).unwrap();
    let arch = dir.join("previous_token.json");
    std::fs::write(&arch, PREVIOUS_TOKEN_ARCH).unwrap();
    let n = 512;
    let mut state = 12_345u64;
    let ids: Vec<i64> = (0..n * 4)
        .map(|_| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1);
            ((state >> 33) % 8) as i64
        })
        .collect();
    let labels: Vec<i64> = (0..n * 4)
        .map(|i| if i % 4 == 0 { ids[i] } else { ids[i - 1] })
        .collect();
    let (x, y) = (dir.join("ids.npy"), dir.join("previous.npy"));
    write_npy(&x, &[n as u64, 4], NpyValues::I(ids.clone()));
    write_npy(&y, &[n as u64, 4], NpyValues::I(labels));
    let out = dir.join("run");
    succeeded(&bimt(&[
        "run",
        "graph",
        "--quiet",
        "--arch",
        arch.to_str().unwrap(),
        "--data",
        x.to_str().unwrap(),
        "--targets",
        y.to_str().unwrap(),
        "--loss",
        "cross-entropy",
        "--lr",
        "0.01",
        "--steps",
        "300",
        "--log-every",
        "100",
        "--out",
        out.to_str().unwrap(),
    ]));
    let metrics = read_json(&out.join("metrics.json"));
    let accuracy = metrics["test_accuracy"].as_f64().unwrap();
    let (initial, last) = (
        metrics["initial_test_loss"].as_f64().unwrap(),
        metrics["test_loss"].as_f64().unwrap(),
    );
    assert!(accuracy > 0.9 && last < 0.3 * initial, "{metrics}");
    // `bimt predict` reads the ids from the .npy file as from a CSV of one id per row, and
    // refuses numbers where the model reads ids.
    let predict = |data: &Path| {
        bimt(&[
            "predict",
            out.to_str().unwrap(),
            "--data",
            data.to_str().unwrap(),
        ])
    };
    let csv = dir.join("ids.csv");
    let rows: Vec<String> = ids.iter().map(|id| id.to_string()).collect();
    std::fs::write(&csv, format!("id\n{}\n", rows.join("\n"))).unwrap();
    let (from_npy, from_csv) = (predict(&x), predict(&csv));
    succeeded(&from_npy);
    assert_eq!(from_npy.stdout, from_csv.stdout);
    assert_eq!(
        from_npy.stdout.iter().filter(|&&b| b == b'\n').count(),
        1 + n * 4
    );
    let floats = dir.join("floats.npy");
    write_npy(&floats, &[2, 4], NpyValues::F(vec![1.0; 8]));
    let e = one_line_error(&predict(&floats));
    assert!(
        e.contains("floats.npy holds float32 of shape [2, 4]")
            && e.contains("the model reads integer token ids [n, 4]"),
        "{e}"
    );
    let _ = std::fs::remove_dir_all(&dir);
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
    // The module analysis and its knock-outs run on the file's model.json, whose query MSE
    // (evaluated from the file alone) is the engine's test loss.
    assert_eq!(a["structure"]["modules"], b["structure"]["modules"]);
    let modules = a["structure"]["modules"].as_array().unwrap();
    assert!(!modules.is_empty());
    for m in modules {
        assert!(
            m["query_mse_without_it"].as_f64().unwrap().is_finite(),
            "{m}"
        );
    }
    let (from_file, engine) = (
        a["structure"]["query_mse_from_model_json"]
            .as_f64()
            .unwrap(),
        a["test_loss"].as_f64().unwrap(),
    );
    assert!(
        (from_file - engine).abs() <= 1e-3 * engine,
        "{from_file} vs {engine}"
    );

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

/// `run.json` records the `--targets` .npy file as an absolute path with its SHA-256, as it
/// does `--data`: `--config run.json` repeats the run from another directory, and refuses
/// targets whose contents have changed.
#[test]
fn run_json_records_the_targets_file_and_notices_a_change() {
    let dir = temp_dir("graph-npy-config");
    std::fs::create_dir_all(&dir).unwrap();
    let (xs, ys) = running_means(16);
    write_npy(&dir.join("x.npy"), &[64, 1], NpyValues::F(xs));
    write_npy(&dir.join("y.npy"), &[64, 1], NpyValues::F(ys.clone()));
    let run = std::process::Command::new(env!("CARGO_BIN_EXE_bimt"))
        .args([
            "run",
            "mlp",
            "--quiet",
            "--hidden",
            "4",
            "--data",
            "x.npy",
            "--targets",
            "y.npy",
            "--steps",
            "50",
            "--out",
            "run",
        ])
        .current_dir(&dir)
        .output()
        .unwrap();
    succeeded(&run);
    let config = dir.join("run/run.json");
    let settings = read_json(&config);
    let targets = dir.join("y.npy").canonicalize().unwrap();
    assert_eq!(settings["targets"][0], targets.to_str().unwrap());
    assert_eq!(settings["targets_sha256"].as_str().unwrap().len(), 64);
    let again = dir.join("again");
    let repeat = |out: &Path| {
        bimt(&[
            "run",
            "mlp",
            "--quiet",
            "--config",
            config.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ])
    };
    succeeded(&repeat(&again));
    assert_eq!(
        std::fs::read(dir.join("run/model.json")).unwrap(),
        std::fs::read(again.join("model.json")).unwrap()
    );
    let changed: Vec<f32> = ys.iter().map(|y| y + 1.0).collect();
    write_npy(&dir.join("y.npy"), &[64, 1], NpyValues::F(changed));
    let e = one_line_error(&repeat(&dir.join("changed")));
    assert!(
        e.contains("its --targets file") && e.contains("y.npy") && e.contains("has changed"),
        "{e}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
