//! `bimt bench`: the speed figures the issues ask for, measured on this machine.

use crate::error::Error;
use crate::registry::find;
use crate::settings::{Overrides, Profile, Settings};
use bimt_engine::{Model, Network, TrainError, Trainer, default_device};
use bimt_layout::Distances;
use bimt_mlp::{Mlp, MlpConfig};
use bimt_swap::{SwapConfig, Swapper};
use bimt_tasks::{Batching, Loss, Supervised};
use std::time::Instant;

/// One symbolic-independence run of `network`: its trainer after training, and its steps
/// per second.
fn symbolic_run<'m, N: Network>(
    network: N,
    settings: &Settings,
    metric: &'m bimt_manifold::PaperMetric,
) -> Result<(Trainer<'m, N, Supervised>, f64, f64), Error> {
    let device = default_device().autodiff();
    let data = bimt_data::symbolic(bimt_data::Formula::Independence, 100, 100, 0);
    let task = Supervised::new(&data, Loss::Mse, Batching::Full, &device);
    let config = settings.train_config();
    let model = Model::new(network, 0, &device)?;
    let mut trainer = Trainer::new(model, task, config.clone(), metric);
    let started = Instant::now();
    let summary = trainer.run(&mut ())?;
    let wall = started.elapsed().as_secs_f64();
    Ok((
        trainer,
        config.steps as f64 / wall,
        summary.evaluation.test_loss,
    ))
}

/// Prints steps per second of the symbolic preset, built in and declared as a graph, and the
/// time of one swap round.
pub fn bench_graph_vs_builtin() -> Result<(), Error> {
    let settings = find("symbolic-independence")?.defaults(Profile::Paper);
    let metric = settings.metric();
    let built_in = || Mlp::new(&MlpConfig::lines(&[4, 20, 20, 2]));
    let declared = || bimt_graph::Graph::new(&crate::custom::mlp(4, &[20, 20], 2));
    // Alternate the two, twice, and keep each one's faster run.
    let (mut mlp_rate, mut graph_rate) = (0.0f64, 0.0f64);
    for _ in 0..2 {
        let (_, rate, mse) = symbolic_run(built_in()?, &settings, &metric)?;
        mlp_rate = mlp_rate.max(rate);
        let (_, rate, graph_mse) = symbolic_run(declared()?, &settings, &metric)?;
        graph_rate = graph_rate.max(rate);
        println!(
            "symbolic-independence, 4-20-20-2, {} steps: built-in MLP {:.0} steps/s (test MSE {mse:.2e}), declared as a graph {:.0} steps/s (test MSE {graph_mse:.2e})",
            settings.steps, mlp_rate, graph_rate
        );
    }
    println!(
        "graph / built-in: {:.1} % of the built-in MLP's steps per second",
        100.0 * graph_rate / mlp_rate
    );
    for twin in FILE_TWINS {
        bench_file_twin(&twin)?;
    }
    let (mut trainer, _, _) = symbolic_run(built_in()?, &settings, &metric)?;
    let config = trainer.config.clone();
    let distances = Distances::new(
        trainer.model.network.layout(),
        &metric,
        &config.cost_at(config.steps),
    );
    let search = swap_search_seconds(&trainer.model, &distances, &config, 1000);
    let rounds = 1000;
    let started = Instant::now();
    for _ in 0..rounds {
        trainer.swap_round(&distances).map_err(TrainError::from)?;
    }
    let full = started.elapsed().as_secs_f64() / rounds as f64;
    println!(
        "swap round on 4-20-20-2 (k = {}): search {:.3} ms, with parameter and AdamW-moment moves {:.3} ms",
        config.top_k,
        search * 1e3,
        full * 1e3
    );
    Ok(())
}

/// A preset's built-in network and its twin in `examples/architectures`.
struct FileTwin {
    preset: &'static str,
    task: crate::settings::GraphTask,
    file: &'static str,
    architecture: &'static str,
    steps: usize,
}

/// The presets with a built-in network beside its file in `examples/architectures` (the
/// in-context preset trains its file itself).
const FILE_TWINS: [FileTwin; 2] = [
    FileTwin {
        preset: "modular-addition",
        task: crate::settings::GraphTask::ModularAddition,
        file: "modular_addition.json",
        architecture: include_str!("../../../examples/architectures/modular_addition.json"),
        steps: 1_000,
    },
    FileTwin {
        preset: "permutation-s4",
        task: crate::settings::GraphTask::PermutationS4,
        file: "permutation_s4.json",
        architecture: include_str!("../../../examples/architectures/permutation_s4.json"),
        steps: 4_000,
    },
];

/// Trains a preset's built-in network and its architecture file on the preset's task
/// (`--steps`, no fine-tune), alternating twice, and prints each one's faster steps per
/// second, their ratio and whether both ended with the same test loss.
fn bench_file_twin(twin: &FileTwin) -> Result<(), Error> {
    let dir = std::env::temp_dir().join(format!("bimt-bench-twin-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| Error::Output(format!("{}: {e}", dir.display())))?;
    let arch = dir.join(twin.file);
    std::fs::write(&arch, twin.architecture)
        .map_err(|e| Error::Output(format!("{}: {e}", arch.display())))?;
    let run = |preset: &str, flags: Overrides| -> Result<(f64, f64), Error> {
        let settings = crate::resolve(preset, &flags, None, None)?;
        let spec = crate::runner::RunSpec {
            quiet: true,
            ..crate::runner::RunSpec::new(settings, dir.join("run"))
        };
        let metrics = crate::launch::run(&spec)?;
        Ok((metrics.steps_per_second, metrics.test_loss))
    };
    let flags = || Overrides {
        steps: Some(twin.steps),
        finetune_steps: Some(0),
        ..Overrides::default()
    };
    let (mut builtin, mut file) = ((0.0f64, 0.0), (0.0f64, 0.0));
    for _ in 0..2 {
        let (rate, loss) = run(twin.preset, flags())?;
        builtin = (builtin.0.max(rate), loss);
        let declared = Overrides {
            arch: Some(Some(arch.clone())),
            task: Some(Some(twin.task)),
            ..flags()
        };
        let (rate, loss) = run("graph", declared)?;
        file = (file.0.max(rate), loss);
    }
    println!(
        "{}, {} steps: built-in {:.0} steps/s, examples/architectures/{} {:.0} steps/s ({:.1} %), test loss {:.4e} and {:.4e}",
        twin.preset,
        twin.steps,
        builtin.0,
        twin.file,
        file.0,
        100.0 * file.0 / builtin.0,
        builtin.1,
        file.1
    );
    std::fs::remove_dir_all(&dir).map_err(|e| Error::Output(format!("{}: {e}", dir.display())))?;
    Ok(())
}

/// Random 28×28 images with random digit labels: a stand-in of MNIST's shape for timing when
/// the real files are absent.
fn random_mnist(train: usize, test: usize) -> bimt_data::Dataset {
    // xorshift64*: enough randomness for timing, no extra dependency.
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        (state.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 40) as u32
    };
    let mut split = |n: usize| bimt_data::Split {
        inputs: (0..n * 784)
            .map(|_| next() as f32 / (1u32 << 24) as f32)
            .collect(),
        n,
        in_dim: 784,
        targets: bimt_data::Targets::Classes {
            labels: (0..n).map(|_| next() % 10).collect(),
            classes: 10,
        },
    };
    let (train, test) = (split(train), split(test));
    bimt_data::Dataset {
        train,
        test,
        input_names: (0..784)
            .map(|i| format!("p({},{})", i / 28, i % 28))
            .collect(),
        output_names: (0..10).map(|d| d.to_string()).collect(),
        rows_per_sample: 1,
    }
}

/// Prints the speed of the mnist preset's pieces: training steps per second (batch 100,
/// λ > 0), one evaluation on both splits, one swap round of the 784-100-100-10 network
/// (k = 30; search alone and with the parameter and AdamW-moment moves), and the projected
/// wall time of the 40,000-step preset under both profiles. With `cnn`, the same for the
/// convolutional network of `examples/architectures/mnist_cnn.json` (no projection).
pub fn bench_mnist(data_dir: Option<&std::path::Path>, cnn: bool) -> Result<(), Error> {
    let data = match crate::mnist::load(data_dir) {
        Ok(data) => {
            println!(
                "MNIST from {}: {} training and {} test images",
                bimt_data::default_mnist_dir(data_dir).display(),
                data.train.n,
                data.test.n
            );
            data
        }
        Err(e) => {
            println!("{e}\nusing random 28x28 images instead (same shapes, 10,000 + 10,000)");
            random_mnist(10_000, 10_000)
        }
    };
    if cnn {
        let name = "mnist-cnn (conv 1-16 5x5, max pool, conv 16-32 5x5, max pool, flatten to 10)";
        bench_images(name, crate::mnist::cnn_network()?, &data, 100, false)
    } else {
        bench_images(
            "mnist 784-100-100-10",
            crate::mnist::network()?,
            &data,
            1_000,
            true,
        )
    }
}

/// [`bench_mnist`] for one network, timing `steps` steps; `projection` prints the projected
/// preset times.
fn bench_images<N: Network>(
    name: &str,
    network: N,
    data: &bimt_data::Dataset,
    steps: usize,
    projection: bool,
) -> Result<(), Error> {
    let device = default_device().autodiff();
    let settings = find("mnist")?.defaults(Profile::Paper);
    let metric = settings.metric();
    let mut config = settings.train_config();
    config.steps = steps;
    config.log_every = steps;
    config.swap_every = 0;
    config.lambda = vec![(0, 0.01)];
    let batching = Batching::Mini {
        size: settings.batch.unwrap_or(100),
        seed: 0x5eed,
    };
    let task = Supervised::new(data, Loss::OneHotMse, batching, &device);
    let model = Model::new(network, 0, &device)?;
    let mut trainer = Trainer::new(model, task, config.clone(), &metric);
    // Warm up (allocations, first batches), then time.
    trainer.config.steps = 50;
    trainer.run(&mut ())?;
    trainer.start_step = 0;
    trainer.config.steps = steps;
    let started = Instant::now();
    trainer.run(&mut ())?;
    let with_eval = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let evaluation = trainer.evaluate();
    let eval = started.elapsed().as_secs_f64();
    let step = (with_eval - eval).max(1e-9) / steps as f64;
    println!(
        "{name}, batch {}, λ = 0.01: {:.1} steps/s ({:.3} ms per step); one evaluation on {} + {} images {:.3} s (test accuracy after {} + 50 steps {:.1}%)",
        settings.batch.unwrap_or(100),
        1.0 / step,
        step * 1e3,
        data.train.n,
        data.test.n,
        eval,
        steps,
        100.0 * evaluation.test_accuracy.unwrap_or(0.0),
    );

    let layout = trainer.model.network.layout().clone();
    let distances = Distances::new(&layout, &metric, &config.cost_at(config.steps));
    let swap = SwapConfig {
        top_k: settings.top_k,
        mode: settings.swap_mode,
    };
    let host = trainer.model.params.to_host();
    let rounds = 20;
    let mut swaps = 0;
    let started = Instant::now();
    for _ in 0..rounds {
        let mut h = host.clone();
        swaps = Swapper::new(&layout, &distances).round(&mut h, &swap).swaps;
    }
    let search = started.elapsed().as_secs_f64() / rounds as f64;
    // The trainer's own round: the first one applies the most swaps; later ones fewer.
    let started = Instant::now();
    trainer.swap_round(&distances).map_err(TrainError::from)?;
    let first = started.elapsed().as_secs_f64();
    let started = Instant::now();
    for _ in 1..rounds {
        trainer.swap_round(&distances).map_err(TrainError::from)?;
    }
    let later = started.elapsed().as_secs_f64() / (rounds - 1) as f64;
    let full = first.max(later);
    println!(
        "swap round on {name} (k = {}, {swaps} swaps): search {:.2} ms; with parameter and AdamW-moment moves {:.2} ms (first round), {:.2} ms (later rounds)",
        settings.top_k,
        search * 1e3,
        first * 1e3,
        later * 1e3
    );
    for profile in [Profile::Paper, Profile::Reference]
        .into_iter()
        .filter(|_| projection)
    {
        let h = find("mnist")?.defaults(profile);
        let rounds = h.steps / h.swap_every.max(1);
        let evals = h.steps / h.log_every.max(1);
        let projected = h.steps as f64 * step + rounds as f64 * full + evals as f64 * eval;
        println!(
            "projected {} profile: {} steps + {rounds} swap rounds + {evals} evaluations ≈ {projected:.0} s (PyTorch reference: 3,092 s, {:.0}x)",
            profile,
            h.steps,
            3092.0 / projected
        );
    }
    Ok(())
}

/// Steps per second of the in-context transformer (the preset's settings, swaps included)
/// over `steps` steps, and the time of one swap round on it.
pub fn bench_in_context(steps: usize) -> Result<(), Error> {
    let device = default_device().autodiff();
    let mut settings = find("in-context")?.defaults(Profile::Paper);
    settings.steps = steps;
    settings.log_every = steps;
    settings.finetune_steps = 0;
    let metric = settings.metric();
    let data = crate::in_context::data(false, 0);
    let network = crate::in_context::network()?;
    let task = bimt_tasks::InContextTask::new(&data, 64, 0, &device);
    let config = settings.train_config();
    let mut trainer = Trainer::new(
        Model::new(network, 0, &device)?,
        task,
        config.clone(),
        &metric,
    );
    let started = Instant::now();
    trainer.run(&mut ())?;
    let wall = started.elapsed().as_secs_f64();
    println!(
        "in-context transformer (width 32, 2 blocks, batch 64), {steps} steps with swaps every {}: {wall:.2} s, {:.0} steps/s (40,000 steps: {:.0} s)",
        config.swap_every,
        steps as f64 / wall,
        40_000.0 * wall / steps as f64
    );
    let started = Instant::now();
    trainer.evaluate();
    println!(
        "one evaluation (8,000 training + 2,000 test sequences): {:.3} s",
        started.elapsed().as_secs_f64()
    );
    let distances = Distances::new(
        trainer.model.network.layout(),
        &metric,
        &config.cost_at(config.steps),
    );
    let search = swap_search_seconds(&trainer.model, &distances, &config, 100);
    println!(
        "swap round on the transformer (k = {}): {:.3} ms",
        config.top_k,
        search * 1e3
    );
    Ok(())
}

/// Mean seconds of one swap-round search (host side, no tensor moves) on copies of the
/// model's current weights.
fn swap_search_seconds<N: Network>(
    model: &Model<N>,
    distances: &Distances,
    config: &bimt_engine::TrainConfig,
    rounds: usize,
) -> f64 {
    let layout = model.network.layout();
    let swap = SwapConfig {
        top_k: config.top_k,
        mode: config.swap_mode,
    };
    let host = model.params.to_host();
    let started = Instant::now();
    for _ in 0..rounds {
        let mut h = host.clone();
        Swapper::new(layout, distances).round(&mut h, &swap);
    }
    started.elapsed().as_secs_f64() / rounds as f64
}

/// Multiply-adds per second of a large matrix product on `device`: the machine's practical
/// peak for the step's arithmetic.
fn matmul_peak(device: &bimt_engine::Device) -> f64 {
    use bimt_engine::Tensor;
    let n = 768;
    let a = Tensor::<2>::ones([n, n], device);
    let b = Tensor::<2>::ones([n, n], device);
    let _ = a.clone().matmul(b.clone()).into_data(); // warm up
    let reps = 4;
    let started = Instant::now();
    for _ in 0..reps {
        let _ = a.clone().matmul(b.clone()).into_data();
    }
    (reps * n * n * n) as f64 / started.elapsed().as_secs_f64()
}

/// Runs every paper preset (`in-context-singular` aside: it is `in-context` on other data)
/// for `steps` steps with its own swap and log intervals and no fine-tune, or with `None` its
/// whole schedule (fine-tune included), and prints where the time went: steps per second, the
/// share of the wall time in training steps, swap rounds, evaluations, the observer (log lines
/// and frames) and the final outputs (pictures, model, animation), and the step's arithmetic
/// rate (6 × rows × weights per step) against a large matrix product's. A whole schedule also
/// gets the rate of the training steps alone over its first and its last tenth (see
/// [`tenths`]; short presets run several times, see [`repeats_for`]), so that a late slowdown
/// shows.
pub fn bench_presets(
    steps: Option<usize>,
    data_dir: Option<&std::path::Path>,
) -> Result<(), Error> {
    let peak = matmul_peak(&default_device());
    let length = match steps {
        Some(steps) => format!("{steps} steps per preset"),
        None => "each preset's whole schedule".to_string(),
    };
    println!(
        "{length} (release build); the machine's matrix-product rate: {:.1} G multiply-adds/s",
        peak / 1e9
    );
    let tenth_headers = match steps {
        None => format!(
            " {:>15} {:>15} {:>6} {:>17}",
            "first tenth/s", "last tenth/s", "late", "late per run"
        ),
        Some(_) => String::new(),
    };
    println!(
        "{:26} {:>6} {:>8} {:>6} {:>16} {:>6} {:>6} {:>8} {:>8}  {:>16}{tenth_headers}",
        "preset",
        "steps",
        "steps/s",
        "step",
        "swap rounds",
        "eval",
        "log",
        "outputs",
        "wall",
        "arithmetic"
    );
    let root = std::env::temp_dir().join(format!("bimt-bench-{}", std::process::id()));
    for preset in crate::registry::PRESETS.iter().filter(|p| {
        p.experiment != crate::preset::Experiment::Custom && p.name != "in-context-singular"
    }) {
        let overrides = match steps {
            Some(steps) => Overrides {
                steps: Some(steps),
                finetune_steps: Some(0),
                ..Default::default()
            },
            None => Overrides::default(),
        };
        let spec_in = |dir: std::path::PathBuf| -> Result<crate::runner::RunSpec, Error> {
            let settings = crate::resolve::resolve(preset.name, &overrides, None, None)?;
            Ok(crate::runner::RunSpec {
                quiet: true,
                data_dir: data_dir.map(|d| d.to_path_buf()),
                ..crate::runner::RunSpec::new(settings, dir)
            })
        };
        let spec = spec_in(root.join(preset.name))?;
        let run = |spec: &crate::runner::RunSpec| {
            crate::launch::run(spec).map_err(|e| e.context(preset.name))
        };
        Trainer::record_step_seconds(steps.is_none());
        let m = run(&spec)?;
        // The whole schedule: the seconds of each training step, over as many runs as a tenth
        // needs to hold TENTH_SECONDS of them.
        let mut step_runs = vec![Trainer::take_step_seconds()];
        if steps.is_none() {
            for repeat in 1..repeats_for(&step_runs[0]) {
                run(&spec_in(root.join(format!("{}-{repeat}", preset.name)))?)?;
                step_runs.push(Trainer::take_step_seconds());
            }
        }
        Trainer::record_step_seconds(false);
        let model: bimt_format::ModelFile =
            bimt_format::read_json(&spec.out.join("model.json"), "model file")?;
        let weights: usize = model
            .connections
            .iter()
            .map(|c| c.weight.len() * c.weight.first().map_or(0, Vec::len))
            .sum();
        let total = m.steps + m.finetune_steps;
        let t = m.timing;
        let wall = m.wall_seconds + t.outputs;
        let share = |s: f64| format!("{:.0}%", 100.0 * s / wall.max(1e-12));
        let rounds = match t.rounds {
            0 => "-".to_string(),
            n => format!(
                "{} {n}×{:.1}ms",
                share(t.swap_rounds),
                1e3 * t.swap_rounds / n as f64
            ),
        };
        let rate = (3 * t.rows_per_step * weights * total) as f64 / t.steps.max(1e-12);
        let tenth_columns = match steps {
            Some(_) => String::new(),
            None => match tenths(&step_runs) {
                Some(t) => format!(
                    " {:>15} {:>15} {:>5.2}x {:>17}",
                    t.first.describe(),
                    t.last.describe(),
                    t.first.rate / t.last.rate,
                    t.spread()
                ),
                None => format!(" {:>15} {:>15} {:>6} {:>17}", "-", "-", "-", "-"),
            },
        };
        println!(
            "{:26} {:>6} {:>8.0} {:>6} {:>16} {:>6} {:>6} {:>8} {:>7.1}s  {:>5.2} G/s ({:>2.0}%){tenth_columns}",
            preset.name,
            total,
            m.steps_per_second,
            share(t.steps),
            rounds,
            share(t.evaluation),
            share(t.observer),
            share(t.outputs),
            wall,
            rate / 1e9,
            100.0 * rate / peak
        );
    }
    std::fs::remove_dir_all(&root).ok();
    println!(
        "arithmetic: multiply-adds of the linear layers per second of training steps (forward and backward: 3 × rows × weights per step)"
    );
    if steps.is_none() {
        println!(
            "first and last tenth: one over the median time of a training step alone (batch, forward and backward pass, optimizer step; no swap rounds, evaluations, log lines, frames or checkpoints) in the run's first and last tenth of its steps (in thousands); a preset whose tenth holds under {TENTH_SECONDS} s of steps is run again, up to {MAX_RUNS} runs in all, and the tenths pooled; late: the last tenth's median step time over the first's; late per run: its range over the runs, and their number"
        );
    }
    Ok(())
}

/// `bench --full` runs a preset again until a tenth of its steps holds this many seconds of
/// training steps (all runs together), so that a short preset's tenths are not a few
/// scheduler time slices.
const TENTH_SECONDS: f64 = 0.5;

/// The most runs of one preset in `bench --full`.
const MAX_RUNS: usize = 8;

/// The runs of a preset that `bench --full` makes, from the step seconds of its first run:
/// enough for a tenth to hold [`TENTH_SECONDS`], at most [`MAX_RUNS`].
fn repeats_for(step_seconds: &[f64]) -> usize {
    let tenth: f64 = step_seconds[..step_seconds.len() / 10].iter().sum();
    if tenth <= 0.0 {
        return 1;
    }
    ((TENTH_SECONDS / tenth).ceil() as usize).clamp(1, MAX_RUNS)
}

/// Steps per second over a stretch of a run's steps.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Window {
    /// The first step of the stretch.
    from: usize,
    /// The step after its last.
    to: usize,
    /// Steps per second.
    rate: f64,
}

impl Window {
    /// `rate (from-to)`, the steps in thousands.
    fn describe(&self) -> String {
        let k = |s: usize| format!("{}", s as f64 / 1e3);
        format!("{:.0} ({}-{}k)", self.rate, k(self.from), k(self.to))
    }
}

/// The first and the last tenth of a preset's runs.
#[derive(Clone, Debug, PartialEq)]
struct Tenths {
    /// The first tenth, its steps' seconds summed over the runs.
    first: Window,
    /// The last tenth, likewise.
    last: Window,
    /// Each run's last-over-first time per step.
    per_run: Vec<f64>,
}

impl Tenths {
    /// The range of the runs' ratios and their number (`1 run` alone for one).
    fn spread(&self) -> String {
        let (low, high) = self
            .per_run
            .iter()
            .fold((f64::INFINITY, 0.0f64), |(l, h), &r| (l.min(r), h.max(r)));
        match self.per_run.len() {
            1 => "1 run".to_string(),
            n => format!("{low:.2}-{high:.2}, {n} runs"),
        }
    }
}

/// The median of some step times (the mean of the two middle ones for an even count).
fn median(mut seconds: Vec<f64>) -> f64 {
    seconds.sort_by(f64::total_cmp);
    let n = seconds.len();
    (seconds[(n - 1) / 2] + seconds[n / 2]) / 2.0
}

/// The rates of the first and the last tenth of the steps (`n/10` each, for runs of `n`
/// steps) from the seconds of every training step of one or more runs of the same schedule:
/// one over the median step time of the tenth, the runs' steps pooled. The median, not the
/// mean, so that the few steps during which the scheduler ran another process (a build on
/// the same cores: whole milliseconds against a step's tenths of one) do not count as slow
/// steps, while a slowdown of most steps (subnormal floats) still shows. `None` without
/// runs, for runs of different lengths, or for fewer than ten steps.
fn tenths(runs: &[Vec<f64>]) -> Option<Tenths> {
    let n = runs.first()?.len();
    let tenth = n / 10;
    if tenth == 0 || runs.iter().any(|r| r.len() != n) {
        return None;
    }
    let steps = |runs: &[Vec<f64>], from: usize| -> Vec<f64> {
        runs.iter()
            .flat_map(|r| r[from..from + tenth].iter().copied())
            .collect()
    };
    let window = |from: usize| Window {
        from,
        to: from + tenth,
        rate: 1.0 / median(steps(runs, from)),
    };
    Some(Tenths {
        first: window(0),
        last: window(n - tenth),
        per_run: runs
            .iter()
            .map(|r| {
                let run = std::slice::from_ref(r);
                median(steps(run, n - tenth)) / median(steps(run, 0))
            })
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenths_pool_the_step_seconds_of_every_run() {
        // Two runs of 50 steps: the first tenth (steps 0-5) at 1 ms a step in both, the last
        // (45-50) at 2 ms in one and 1 ms in the other; one step of the first tenth waited
        // 40 ms for the processor, which the median leaves out.
        let run = |late: f64| -> Vec<f64> {
            (0..50).map(|i| if i >= 45 { late } else { 1e-3 }).collect()
        };
        let mut preempted = run(2e-3);
        preempted[2] = 40e-3;
        let t = tenths(&[preempted, run(1e-3)]).unwrap();
        assert_eq!((t.first.from, t.first.to), (0, 5));
        assert_eq!((t.last.from, t.last.to), (45, 50));
        assert_eq!(t.first.rate, 1_000.0);
        // Ten pooled steps, five at 1 ms and five at 2 ms: the median 1.5 ms.
        assert!((t.last.rate - 1.0 / 1.5e-3).abs() < 1e-9);
        assert_eq!(t.per_run, vec![2.0, 1.0]);
        assert_eq!(t.spread(), "1.00-2.00, 2 runs");
        assert_eq!(t.last.describe(), "667 (0.045-0.05k)");
    }

    #[test]
    fn tenths_need_runs_of_one_length() {
        assert_eq!(tenths(&[]), None);
        assert_eq!(tenths(&[vec![1e-3; 9]]), None);
        assert_eq!(tenths(&[vec![1e-3; 20], vec![1e-3; 30]]), None);
    }

    #[test]
    fn short_runs_are_repeated_until_a_tenth_holds_enough() {
        // A tenth of 0.15625 s: four runs; of 1.25 s: one; of 1 ms: the most.
        assert_eq!(repeats_for(&[0.015625; 100]), 4);
        assert_eq!(repeats_for(&[0.125; 100]), 1);
        assert_eq!(repeats_for(&[1e-4; 100]), MAX_RUNS);
        assert_eq!(repeats_for(&[0.0; 5]), 1);
    }
}
