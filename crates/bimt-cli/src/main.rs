//! `bimt`: Brain-Inspired Modular Training from the command line.

mod predict;

/// mimalloc: glibc's allocator returns and re-faults the many small tensors of a training step
/// (about 12 % of a transformer step).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
use bimt_presets::{Overrides, RunSpec, Table1Options};
use clap::error::ErrorKind;
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

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
    /// Export a run's trained weights for other tools: `--safetensors PATH` writes every
    /// connection's weight and bias by name (`FROM->TO.weight`), for PyTorch and Hugging Face.
    Export(ExportArgs),
    /// Write a run's interactive viewer, RUN/view.html (one self-contained file that works
    /// offline), and open it in the default browser.
    View(ViewArgs),
}

#[derive(clap::Args)]
struct ExportArgs {
    /// A run directory (with model.json).
    run: PathBuf,
    /// Write the weights to this safetensors file.
    #[arg(long, required = true)]
    safetensors: PathBuf,
}

#[derive(clap::Args)]
struct ViewArgs {
    /// A run directory (with model.json).
    run: PathBuf,
    /// Only write view.html; do not open it.
    #[arg(long)]
    no_open: bool,
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
    /// Settings of every run: paper, reference or robust.
    #[arg(long, default_value = "paper")]
    profile: bimt_presets::Profile,
    /// Output directory: the runs, TABLE1.md, REPORT.md and report/ (default: runs/table1,
    /// or runs/table1-PROFILE for another profile than paper's).
    #[arg(long)]
    out: Option<PathBuf>,
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
    /// The rows: a CSV file with a header row that holds the model's input columns (a token
    /// model: one column of ids per position), or NumPy inputs (`X.npy`, or `D.npz` with its
    /// array `x`) shaped as training reads them.
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
    /// Compare built-in networks with the same networks declared as graphs instead: the
    /// 4-20-20-2 MLP, and the in-context, modular-addition and S4 networks of
    /// examples/architectures on their presets' tasks.
    #[arg(long)]
    graph: bool,
    /// Measure the MNIST network instead (784-100-100-10 in 3D): one swap round and the
    /// training step.
    #[arg(long)]
    mnist: bool,
    /// Measure the MNIST CNN instead (examples/architectures/mnist_cnn.json): one swap round
    /// and the training step.
    #[arg(long)]
    cnn: bool,
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
    /// Run once per seed instead (`0-7`, `0,3,6` or both), each into <out>/seed-N, and
    /// write <out>/seeds.json: the test figure and active neurons per layer of every seed.
    #[arg(long, conflicts_with_all = ["seed", "resume"])]
    seeds: Option<String>,
    /// A JSON file of settings (keys as the flags below, e.g. {"lr": 2e-3, "lambda":
    /// "0:1e-3,5000:1e-2"}), such as a run's run.json; flags override it.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Resume from a checkpoint written by an earlier run (see below).
    #[arg(long)]
    resume: Option<PathBuf>,
    /// No progress bar.
    #[arg(long)]
    quiet: bool,
    /// Directory of the MNIST IDX files (mnist preset; default: $BIMT_MNIST_DIR, else
    /// ../shared/data/mnist).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// The run's settings: each overrides the preset's default (and a --config file).
    #[command(flatten)]
    settings: Overrides,
}

/// Why a command failed: an error of the library, or one of `predict`'s.
type Failure = Box<dyn std::error::Error>;

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

/// mimalloc's `mi_option_purge_delay` (its place in the option enum of mimalloc.h, v2 and v3).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

fn main() -> ExitCode {
    // Never hand freed pages back to the system: a convolution's step frees and allocates
    // tensors of megabytes, which mimalloc would otherwise purge after 10 ms and the kernel
    // zero again on the next touch (a fifth of the MNIST CNN's step).
    // SAFETY: setting an option is thread-safe, and this one is read where memory is freed.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1) };
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        // A flag's value that cannot be read: one line that names the flag, the value and why
        // (clap's rendering adds a usage hint below it).
        Err(e)
            if matches!(
                e.kind(),
                ErrorKind::InvalidValue | ErrorKind::ValueValidation
            ) =>
        {
            let text = e.to_string();
            eprintln!("{}", text.lines().next().unwrap_or_default());
            return ExitCode::from(2);
        }
        Err(e) => e.exit(),
    };
    let threads = cli
        .threads
        .unwrap_or_else(|| bimt_presets::default_threads(1));
    // Table 1 runs several runs at once, each on a pool of its own (`cli.threads` each).
    let outcome = bimt_presets::on_threads(threads, || {
        execute(cli.command, cli.threads).map_err(|e| e.to_string())
    });
    match outcome.map_err(|e| e.to_string()).and_then(|r| r) {
        Ok(Outcome::Done) => ExitCode::SUCCESS,
        Ok(Outcome::EndedWorse) => ExitCode::from(EXIT_ENDED_WORSE),
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

/// `bimt table1`: `threads` per run, or the default for its runs at once.
fn table1(args: Table1Args, threads: Option<usize>) -> Result<(), Failure> {
    let seeds = match (&args.seeds, args.quick) {
        (Some(list), _) => bimt_presets::parse_seeds(list)?,
        (None, true) => vec![0],
        (None, false) => (0..4).collect(),
    };
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let jobs = args.jobs.unwrap_or(cores);
    // `--threads 0` never gets here: `main` refuses it when it starts its own pool.
    let threads = threads.unwrap_or_else(|| bimt_presets::default_threads(jobs));
    let out = args.out.unwrap_or_else(|| match args.profile {
        bimt_presets::Profile::Paper => PathBuf::from("runs/table1"),
        other => PathBuf::from(format!("runs/table1-{other}")),
    });
    let options = Table1Options {
        seeds,
        profile: args.profile,
        out,
        quick: args.quick,
        jobs,
        threads,
        data_dir: args.data_dir,
        command: std::env::args().collect(),
    };
    bimt_presets::table1(&options)?;
    Ok(())
}

fn execute(command: Command, threads: Option<usize>) -> Result<Outcome, Failure> {
    match command {
        Command::Run(args) => return run(*args),
        Command::Table1(args) => table1(args, threads)?,
        Command::Bench(args) if args.mnist || args.cnn => {
            bimt_presets::bench_mnist(args.data_dir.as_deref(), args.cnn)?
        }
        Command::Bench(args) if args.in_context => bimt_presets::bench_in_context(4_000)?,
        Command::Bench(args) if args.graph => bimt_presets::bench_graph_vs_builtin()?,
        Command::Bench(args) => bimt_presets::bench_presets(
            (!args.full).then_some(args.steps),
            args.data_dir.as_deref(),
        )?,
        Command::Frontier(args) => {
            bimt_presets::frontier(&args.out, args.seed, args.steps, args.quiet)?
        }
        Command::Predict(args) => predict::predict(&args.run, &args.data, args.out.as_deref())?,
        Command::Export(args) => {
            let tensors = bimt_presets::export_safetensors(&args.run, &args.safetensors)?;
            println!("wrote {} ({tensors} tensors)", args.safetensors.display());
        }
        Command::View(args) => {
            let path = bimt_viewer::write_view(&args.run)?;
            println!("wrote {}", path.display());
            if !args.no_open
                && let Err(e) = open::that_detached(&path)
            {
                eprintln!("no browser opened ({e}); open the file yourself");
            }
        }
        Command::Presets => {
            for preset in &bimt_presets::PRESETS {
                println!("{:28} {}", preset.name, preset.description);
            }
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
            bimt_presets::ablation(&args.preset, &overrides, &out, args.quiet)?
        }
    }
    Ok(Outcome::Done)
}

/// `bimt run`.
fn run(args: RunArgs) -> Result<Outcome, Failure> {
    let settings = bimt_presets::resolve(
        &args.preset,
        &args.settings,
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
