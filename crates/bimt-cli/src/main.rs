//! `bimt`: Brain-Inspired Modular Training from the command line.

mod predict;

/// mimalloc: glibc's allocator returns and re-faults the many small tensors of a training step
/// (about 12 % of a transformer step).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
use bimt_presets::{Overrides, PhaseSpec, Profile, RunSpec, Table1Options};
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

/// The `--help` heading of the flags of `bimt run graph|mlp`.
const CUSTOM_HELP: &str = "Your own network and data (bimt run graph|mlp)";

#[derive(Parser)]
#[command(
    name = "bimt",
    version,
    about = "Brain-Inspired Modular Training: train networks whose wiring you can see"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Threads each run computes on (default: 1 on machines with two cores or fewer, where one
    /// is faster; else the cores shared out among the runs at once). Results do not depend on it.
    #[arg(long, global = true)]
    threads: Option<usize>,
}

#[derive(Subcommand)]
enum Command {
    /// Train a preset (an experiment of the paper) and write metrics, model and pictures.
    Run(Box<RunArgs>),
    /// List the presets.
    Presets,
    /// Predict new rows with a trained network, from its model.json alone.
    Predict(PredictArgs),
    /// Measure speed on this machine (release build): by default every preset for --steps
    /// steps, with where the time goes and the step's arithmetic rate.
    Bench(BenchArgs),
    /// The pruning experiment (App. A, Fig. 9): train symbolic-pruning in all five variants,
    /// prune each by magnitude, and compare parameters kept against test MSE.
    Frontier(FrontierArgs),
    /// Fig. 2 in one picture: train a preset as vanilla, L1, L1 + local, L1 + swap and BIMT,
    /// and draw the five connectivity graphs side by side (ablation.png).
    Ablation(AblationArgs),
    /// The paper's Table 1 over seeds: every Table 1 preset without and with BIMT; writes
    /// TABLE1.md and REPORT.md. Runs already finished in --out are reused.
    Table1(Table1Args),
}

#[derive(clap::Args)]
struct AblationArgs {
    /// The preset (default symbolic-independence, the paper's Fig. 2).
    #[arg(default_value = "symbolic-independence")]
    preset: String,
    /// Output directory (default: runs/ablation-<preset>): one run per variant, ablation.png
    /// and ablation.json.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Random seed (default 0).
    #[arg(long)]
    seed: Option<u64>,
    /// Training steps of each variant (default: the preset's).
    #[arg(long)]
    steps: Option<usize>,
    /// No progress bars.
    #[arg(long)]
    quiet: bool,
}

#[derive(clap::Args)]
struct Table1Args {
    /// Seeds of every row (`0-3`, `0,2` or both; default 0-3, or 0 with --quick).
    #[arg(long)]
    seeds: Option<String>,
    /// Output directory: the runs, TABLE1.md, REPORT.md and report/.
    #[arg(long, default_value = "runs/table1")]
    out: PathBuf,
    /// A few hundred steps per run: checks that every file is written; the figures mean
    /// nothing.
    #[arg(long)]
    quick: bool,
    /// Runs at once (default: the number of cores).
    #[arg(long)]
    jobs: Option<usize>,
    /// Directory of the MNIST IDX files (default: $BIMT_MNIST_DIR, else ../shared/data/mnist).
    #[arg(long)]
    data_dir: Option<PathBuf>,
}

#[derive(clap::Args)]
struct FrontierArgs {
    /// Output directory (default: runs/frontier): one run directory per variant, plus
    /// frontier.json and frontier.png.
    #[arg(long, default_value = "runs/frontier")]
    out: PathBuf,
    /// Random seed for data, initialisation and batches.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Training steps of each variant (default: the preset's 20,000).
    #[arg(long)]
    steps: Option<usize>,
    /// No progress bars.
    #[arg(long)]
    quiet: bool,
}

#[derive(clap::Args)]
struct PredictArgs {
    /// A run directory (with model.json).
    run: PathBuf,
    /// A CSV file with a header row that holds the model's input columns.
    #[arg(long)]
    data: PathBuf,
    /// Where to write the predictions (CSV, a header of output names); default: standard
    /// output.
    #[arg(long)]
    out: Option<PathBuf>,
}

#[derive(clap::Args)]
struct BenchArgs {
    /// Steps of each preset.
    #[arg(long, default_value_t = 2_000)]
    steps: usize,
    /// Run each preset's whole schedule (fine-tune included) instead of --steps, and print the
    /// rate of its first and its last tenth beside its steps per second.
    #[arg(long, conflicts_with = "steps")]
    full: bool,
    /// Compare the built-in 4-20-20-2 MLP with the same network declared as a graph instead.
    #[arg(long)]
    graph: bool,
    /// Measure the MNIST network instead (784-100-100-10 in 3D): one swap round and the
    /// training step.
    #[arg(long)]
    mnist: bool,
    /// Measure the in-context transformer instead (steps per second, swap round).
    #[arg(long)]
    in_context: bool,
    /// MNIST directory (default: $BIMT_MNIST_DIR, else ../shared/data/mnist; with --mnist,
    /// random images of the same shape when absent).
    #[arg(long)]
    data_dir: Option<PathBuf>,
}

#[derive(clap::Args)]
#[command(
    after_help = "Resuming: --resume continues a run with the settings its checkpoint \
recorded. Only --steps (the total) and --log-every may change on a resume; any other setting \
that contradicts the checkpoint is refused. Every run writes run.json, its fully resolved \
settings: `--config run.json` repeats the run bit for bit."
)]
struct RunArgs {
    /// The experiment: see `bimt presets`.
    preset: String,
    /// Output directory (default: runs/<preset>).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Random seed for data, initialisation and batches (default 0).
    #[arg(long)]
    seed: Option<u64>,
    /// Run once per seed instead (`0-7`, `0,3,6` or both), each into <out>/seed-N, and
    /// write <out>/seeds.json: the test figure and active neurons per layer of every seed.
    #[arg(long, conflicts_with_all = ["seed", "resume"])]
    seeds: Option<String>,
    /// `graph`: the architecture file (JSON: layers and edges; see the README).
    #[arg(long, help_heading = CUSTOM_HELP)]
    arch: Option<PathBuf>,
    /// `mlp`: hidden layer widths, e.g. 20,20.
    #[arg(
        long,
        value_delimiter = ',',
        help_heading = CUSTOM_HELP
    )]
    hidden: Option<Vec<usize>>,
    /// A CSV file with a header row: the --targets columns are targets, the others inputs
    /// in file order.
    #[arg(long, help_heading = CUSTOM_HELP)]
    data: Option<PathBuf>,
    /// The CSV's target columns, e.g. y1,y2.
    #[arg(
        long,
        value_delimiter = ',',
        help_heading = CUSTOM_HELP
    )]
    targets: Option<Vec<String>>,
    /// Sample the data from formulas instead, e.g. "y1 = (x1 + x3)^3; y2 = x2^2 + sin(pi*x4)".
    #[arg(long, help_heading = CUSTOM_HELP)]
    formula: Option<String>,
    /// mse (default) or cross-entropy (one target column of class labels 0..k-1).
    #[arg(long, help_heading = CUSTOM_HELP)]
    loss: Option<String>,
    /// Fraction of the rows in the test split (default 0.2 for --data, 0.5 for --formula).
    #[arg(long, help_heading = CUSTOM_HELP)]
    test_fraction: Option<f64>,
    /// Formula samples over both splits (default 200).
    #[arg(long, help_heading = CUSTOM_HELP)]
    samples: Option<usize>,
    /// Formula inputs are uniform in LO,HI (default -1,1).
    #[arg(long, value_parser = parse_range, allow_hyphen_values = true, help_heading = CUSTOM_HELP)]
    range: Option<(f64, f64)>,
    /// Standardise the input columns with the training split's mean and deviation.
    #[arg(long, help_heading = CUSTOM_HELP)]
    standardise: bool,
    /// Settings to start from: paper (default) or reference.
    #[arg(long)]
    profile: Option<Profile>,
    /// Ablation variant: vanilla, l1, l1-local, l1-swap or bimt (default).
    #[arg(long)]
    variant: Option<String>,
    /// A JSON file of settings (keys as the flags below, e.g. {"lr": 2e-3, "lambda":
    /// "0:1e-3,5000:1e-2"}), such as a run's run.json; flags override it.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Resume from a checkpoint written by an earlier run (see below).
    #[arg(long)]
    resume: Option<PathBuf>,
    /// Write checkpoint.json every N steps (and at the end); a resumed run keeps its run's N
    /// unless given again.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    checkpoint_every: Option<u64>,
    /// No progress bar.
    #[arg(long)]
    quiet: bool,
    /// CPU backend: flex (default, fastest here) or ndarray.
    #[arg(long)]
    backend: Option<String>,
    /// Directory of the MNIST IDX files (mnist preset; default: $BIMT_MNIST_DIR, else
    /// ../shared/data/mnist).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Steps of the BIMT schedule (a fine-tune, if any, comes after them).
    #[arg(long)]
    steps: Option<usize>,
    /// Learning rate: a number, or phases STEP:VALUE,STEP:VALUE,...
    #[arg(long)]
    lr: Option<String>,
    /// λ: a number, or phases STEP:VALUE,STEP:VALUE,...
    #[arg(long)]
    lambda: Option<String>,
    /// In-layer distance scale A.
    #[arg(long = "A", alias = "a")]
    a: Option<f64>,
    /// Distance between layers y*.
    #[arg(long)]
    y_star: Option<f64>,
    /// Important neurons tried per layer in a swap round (0: no swaps).
    #[arg(long)]
    top_k: Option<usize>,
    /// Steps between swap rounds S (0: no swaps).
    #[arg(long)]
    swap_every: Option<usize>,
    /// greedy (paper), exact (linear assignment per layer) or greedy-positions (the reference
    /// notebooks' rule: top-k positions fixed when the round starts).
    #[arg(long)]
    swap_mode: Option<String>,
    /// follow (default: a swap moves the AdamW moment estimates with the weights) or stay
    /// (they stay in place, as in the reference notebooks; --profile reference).
    #[arg(long)]
    swap_moments: Option<String>,
    /// sum or mean.
    #[arg(long)]
    reduction: Option<String>,
    /// l1 or l2.
    #[arg(long)]
    metric: Option<String>,
    /// Evaluate and log every N steps (at least 1; at most the run's steps).
    #[arg(long)]
    log_every: Option<usize>,
    /// Samples per training batch (at least 1; the preset's default when left out).
    #[arg(long)]
    batch: Option<usize>,
    /// Steps of pruned fine-tuning after the schedule: weights under 3 % of their matrix's
    /// largest are zeroed and held there, the rest train without the cost (0: none).
    #[arg(long)]
    finetune_steps: Option<usize>,
    /// Learning rate of the pruned fine-tune.
    #[arg(long)]
    finetune_lr: Option<f64>,
}

/// Parses `LO,HI` with LO below HI.
fn parse_range(text: &str) -> Result<(f64, f64), String> {
    let bad = || format!("'{text}': expected two numbers LO,HI, e.g. -1,1");
    let (lo, hi) = text.split_once(',').ok_or_else(bad)?;
    let (lo, hi): (f64, f64) = (
        lo.trim().parse().map_err(|_| bad())?,
        hi.trim().parse().map_err(|_| bad())?,
    );
    if !(lo.is_finite() && hi.is_finite()) {
        return Err(format!("'{text}': LO and HI must be finite numbers"));
    }
    if lo >= hi {
        return Err(format!("'{text}': LO ({lo}) must be below HI ({hi})"));
    }
    Ok((lo, hi))
}

/// The exit status of a run that finished and wrote its outputs, but ended worse than it
/// started (see `bimt_presets::ended_worse`); errors exit with 1.
const EXIT_ENDED_WORSE: u8 = 3;

/// How a command that did not fail ended.
enum Outcome {
    /// As asked.
    Done,
    /// Finished, but a run ended worse than it started (already reported).
    EndedWorse,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let threads = cli
        .threads
        .unwrap_or_else(|| bimt_presets::default_threads(1));
    // Table 1 runs several runs at once, each on a pool of its own (`cli.threads` each).
    match bimt_presets::on_threads(threads, || execute(cli.command, cli.threads)).and_then(|r| r) {
        Ok(Outcome::Done) => ExitCode::SUCCESS,
        Ok(Outcome::EndedWorse) => ExitCode::from(EXIT_ENDED_WORSE),
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

/// `bimt table1`: `threads` per run, or the default for its runs at once.
fn table1(args: Table1Args, threads: Option<usize>) -> Result<(), String> {
    let seeds = match (&args.seeds, args.quick) {
        (Some(list), _) => bimt_presets::parse_seeds(list)?,
        (None, true) => vec![0],
        (None, false) => (0..4).collect(),
    };
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let jobs = args.jobs.unwrap_or(cores);
    // `--threads 0` never gets here: `main` refuses it when it starts its own pool.
    let threads = threads.unwrap_or_else(|| bimt_presets::default_threads(jobs));
    let options = Table1Options {
        seeds,
        out: args.out,
        quick: args.quick,
        jobs,
        threads,
        data_dir: args.data_dir,
        command: std::env::args().collect(),
    };
    bimt_presets::table1(&options).map_err(|e| e.0)
}

fn execute(command: Command, threads: Option<usize>) -> Result<Outcome, String> {
    let result = match command {
        Command::Run(args) => return run(*args),
        Command::Table1(args) => table1(args, threads),
        Command::Bench(args) if args.mnist => bimt_presets::bench_mnist(args.data_dir.as_deref()),
        Command::Bench(args) if args.in_context => bimt_presets::bench_in_context(4_000),
        Command::Bench(args) if args.graph => bimt_presets::bench_graph_vs_builtin(),
        Command::Bench(args) => bimt_presets::bench_presets(
            (!args.full).then_some(args.steps),
            args.data_dir.as_deref(),
        ),
        Command::Frontier(args) => {
            bimt_presets::frontier(&args.out, args.seed, args.steps, args.quiet)
        }
        Command::Predict(args) => predict::predict(&args.run, &args.data, args.out.as_deref()),
        Command::Presets => {
            for preset in &bimt_presets::PRESETS {
                println!("{:28} {}", preset.name, preset.description);
            }
            Ok(())
        }
        Command::Ablation(args) => {
            let overrides = Overrides {
                seed: args.seed,
                steps: args.steps,
                ..Overrides::default()
            };
            let out = args
                .out
                .unwrap_or_else(|| PathBuf::from(format!("runs/ablation-{}", args.preset)));
            bimt_presets::ablation(&args.preset, &overrides, &out, args.quiet).map_err(|e| e.0)
        }
    };
    result.map(|()| Outcome::Done)
}

/// `bimt run`.
fn run(args: RunArgs) -> Result<Outcome, String> {
    let flags = Overrides {
        arch: args.arch.clone(),
        hidden: args.hidden.clone(),
        data: args.data.clone(),
        targets: args.targets.clone(),
        formula: args.formula.clone(),
        loss: args.loss.clone(),
        test_fraction: args.test_fraction,
        samples: args.samples,
        range: args.range,
        standardise: args.standardise.then_some(true),
        seed: args.seed,
        profile: args.profile,
        variant: args.variant.clone(),
        backend: args.backend.clone(),
        steps: args.steps,
        lr: args.lr.clone().map(PhaseSpec::Text),
        lambda: args.lambda.clone().map(PhaseSpec::Text),
        a: args.a,
        y_star: args.y_star,
        top_k: args.top_k,
        swap_every: args.swap_every,
        swap_mode: args.swap_mode.clone(),
        swap_moments: args.swap_moments.clone(),
        reduction: args.reduction.clone(),
        metric: args.metric.clone(),
        log_every: args.log_every,
        batch: args.batch,
        finetune_steps: args.finetune_steps,
        finetune_lr: args.finetune_lr,
        checkpoint_every: args.checkpoint_every.map(|n| n as usize),
        ..Overrides::default()
    };
    let settings = bimt_presets::resolve(
        &args.preset,
        &flags,
        args.config.as_deref(),
        args.resume.as_deref(),
    )?;
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| bimt_presets::default_out(&settings.preset, settings.variant));
    let spec = RunSpec {
        resume: args.resume,
        quiet: args.quiet,
        data_dir: args.data_dir,
        command: std::env::args().collect(),
        ..RunSpec::new(settings, &out)
    };
    if let Some(list) = &args.seeds {
        let worse = bimt_presets::run_seeds(&spec, &bimt_presets::parse_seeds(list)?)?;
        return Ok(if worse == 0 {
            Outcome::Done
        } else {
            Outcome::EndedWorse
        });
    }
    let m = bimt_presets::run(&spec)?;
    let accuracy = m
        .test_accuracy
        .map(|a| format!(", test accuracy {:.2}%", 100.0 * a))
        .unwrap_or_default();
    let finetune = match m.finetune_steps {
        0 => String::new(),
        n => format!(" + {n} fine-tune"),
    };
    // Steps and seconds over the whole run, also after a resume.
    let rate = (m.steps + m.finetune_steps) as f64 / m.wall_seconds.max(1e-9);
    println!(
        "{} ({}): {} steps{finetune}, test loss {:.3e}{accuracy}, connection cost {:.4}, {} swaps, {:.2} s ({:.0} steps/s) -> {}",
        m.preset,
        m.variant,
        m.steps,
        m.test_loss,
        m.connection_cost,
        m.swaps,
        m.wall_seconds,
        rate,
        out.display()
    );
    match bimt_presets::ended_worse(&m) {
        Some(why) => {
            eprintln!("error: {why}");
            Ok(Outcome::EndedWorse)
        }
        None => Ok(Outcome::Done),
    }
}
