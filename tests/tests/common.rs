#![allow(dead_code)]
use bimt_engine::{Device, Model, Tensor, TensorData, default_device};
use bimt_mlp::{Mlp, MlpConfig};
use rand::{Rng, SeedableRng, seq::SliceRandom};
use rand_chacha::ChaCha8Rng;

pub fn device() -> Device {
    default_device().autodiff()
}

pub fn mlp(widths: &[usize], input_fold: usize) -> Mlp {
    Mlp::new(&MlpConfig {
        input_fold,
        ..MlpConfig::lines(widths)
    })
    .unwrap()
}

pub fn random_input(rows: usize, cols: usize, seed: u64, device: &Device) -> Tensor<2> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let v: Vec<f32> = (0..rows * cols)
        .map(|_| rng.random_range(-1.0..1.0))
        .collect();
    Tensor::from_data(TensorData::new(v, [rows, cols]), device)
}

pub fn values(t: Tensor<2>) -> Vec<f32> {
    t.into_data().convert::<f32>().try_to_vec::<f32>().unwrap()
}

pub fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

pub fn random_perm(n: usize, rng: &mut ChaCha8Rng) -> Vec<usize> {
    let mut p: Vec<usize> = (0..n).collect();
    p.shuffle(rng);
    p
}

/// Applies a random permutation to every movable domain of the model.
pub fn scramble<N: bimt_engine::Network>(model: &mut Model<N>, rng: &mut ChaCha8Rng) {
    scramble_with(model, rng, bimt_engine::SwapMoments::Follow);
}

/// [`scramble`], moving the AdamW moments or leaving them as `moments` says.
pub fn scramble_with<N: bimt_engine::Network>(
    model: &mut Model<N>,
    rng: &mut ChaCha8Rng,
    moments: bimt_engine::SwapMoments,
) {
    let layout = model.network.layout();
    let perms: Vec<(usize, Vec<usize>)> = (0..layout.domains().len())
        .filter(|&d| !layout.domains()[d].fixed)
        .map(|d| (d, random_perm(layout.domain_size(d), rng)))
        .collect();
    let perms: Vec<(usize, &[usize])> = perms.iter().map(|(d, p)| (*d, &p[..])).collect();
    model.permute_round(&perms, moments).unwrap();
}

/// For ten random pairs per domain of `model`, the swapper's fast pair delta and its general
/// delta both equal the difference of two full cost evaluations (under `reduction`, metric
/// l1 with A = 2, y* = 0.3).
pub fn assert_swap_deltas_are_exact<N: bimt_engine::Network>(
    model: &Model<N>,
    reduction: bimt_layout::Reduction,
    rng: &mut ChaCha8Rng,
) {
    let layout = model.network.layout();
    let cfg = bimt_layout::CostConfig {
        reduction,
        ..bimt_layout::CostConfig::default()
    };
    let metric = bimt_manifold::PaperMetric::l1(2.0, 0.3);
    let distances = bimt_layout::Distances::new(layout, &metric, &cfg);
    let swapper = bimt_swap::Swapper::new(layout, &distances);
    let host = model.params.to_host();
    for d in 0..layout.domains().len() {
        let n = layout.domain_size(d);
        for _ in 0..10 {
            let (j, k) = (rng.random_range(0..n), rng.random_range(0..n));
            let fast = swapper.swap_delta(d, &host, j, k);
            let mut perm: Vec<usize> = (0..n).collect();
            perm.swap(j, k);
            let general = swapper.delta(d, &host, &|q| perm[q]);
            let mut moved = host.clone();
            bimt_swap::apply_host(layout, &layout.domain_axes(d), &mut moved, &perm);
            let full = distances.cost(layout, &moved) - distances.cost(layout, &host);
            let tol = 1e-4 * (1.0 + full.abs());
            assert!(
                (fast - full).abs() < tol && (general - full).abs() < tol,
                "domain {}: fast {fast}, general {general}, full {full}",
                layout.domains()[d].name
            );
        }
    }
}

/// The predictions of the independent reader `examples/graph_file/read_model.py` for `file`
/// and the CSV text `csv` (one row per output row); `None`, with a note, where there is no
/// `python3` (`.ci/run` installs one).
pub fn read_with_python(file: &bimt_format::ModelFile, csv: &str) -> Option<Vec<Vec<f64>>> {
    let dir = std::env::temp_dir().join(format!(
        "bimt-read-model-{}-{}",
        std::process::id(),
        rand::random::<u64>()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    bimt_format::write_json(&dir.join("model.json"), file).unwrap();
    std::fs::write(dir.join("data.csv"), csv).unwrap();
    let reader = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples/graph_file/read_model.py");
    let run = std::process::Command::new("python3")
        .arg(reader)
        .arg(dir.join("model.json"))
        .arg(dir.join("data.csv"))
        .output();
    std::fs::remove_dir_all(&dir).unwrap();
    let run = match run {
        Ok(run) => run,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            eprintln!("python3 not found: read_model.py was not checked");
            return None;
        }
        Err(e) => panic!("python3 could not run read_model.py: {e}"),
    };
    assert!(
        run.status.success(),
        "read_model.py failed: {}",
        String::from_utf8_lossy(&run.stderr)
    );
    let text = String::from_utf8(run.stdout).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next().map(str::to_string),
        Some(file.output_names.join(",")),
        "read_model.py's header"
    );
    Some(
        lines
            .map(|line| line.split(',').map(|c| c.parse().unwrap()).collect())
            .collect(),
    )
}

/// The cost `model.json` records for the paper's l1 metric (A = 2, y* = 0.1, summed, biases
/// and the last layer's distances charged).
pub fn paper_l1_cost_spec() -> bimt_format::CostSpec {
    bimt_format::CostSpec {
        metric: "l1".into(),
        a: 2.0,
        y_star: 0.1,
        reduction: "sum".into(),
        bias_penalty: true,
        last_layer_distance: true,
    }
}

/// A change to an architecture file's JSON.
pub type Edit = dyn FnOnce(&mut serde_json::Value);

/// The network of the architecture file `json` after `edit`, or the reason it is refused.
pub fn edited_graph(
    json: &str,
    edit: impl FnOnce(&mut serde_json::Value),
) -> Result<bimt_graph::Graph, String> {
    let mut value: serde_json::Value = serde_json::from_str(json).unwrap();
    edit(&mut value);
    let arch: bimt_graph::Architecture =
        serde_json::from_value(value).map_err(|e| e.to_string())?;
    bimt_graph::Graph::new(&arch).map_err(|e| e.0)
}

/// Asserts that each edit of `json` is refused with an error containing its expected text.
pub fn assert_refused(json: &str, cases: Vec<(Box<Edit>, &str)>) {
    for (i, (edit, expected)) in cases.into_iter().enumerate() {
        let error = edited_graph(json, edit)
            .err()
            .unwrap_or_else(|| panic!("case {i} was accepted"));
        assert!(
            error.contains(expected),
            "case {i}: expected {expected:?} in: {error}"
        );
    }
}
