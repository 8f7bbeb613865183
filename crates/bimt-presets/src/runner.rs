//! `bimt run`: trains a preset and writes the run directory.

use crate::history::{FrameSink, LogFile};
use crate::presets::{Hyper, Profile};
use crate::report;
use crate::settings::{Resolved, RunSettings};
use bimt_data::Dataset;
use bimt_engine::{
    Backend, Checkpoint, Device, Finetune, LogEntry, Model, Network, Observer, RunSummary, Task,
    TrainConfig, Trainer, Variant, export_model,
};
use bimt_format::{CostSpec, LossDefinitions, MetricsFile, ModelFile, write_atomic, write_json};
use bimt_layout::CostConfig;
use bimt_manifold::PaperMetric;
use bimt_mlp::{Mlp, MlpConfig};
use bimt_tasks::{Batching, Loss, Supervised};
use bimt_views::{GifWriter, GraphStyle, render_graph, write_png};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::Write;
use std::path::{Path, PathBuf};

/// What `bimt run` was asked for.
#[derive(Clone)]
pub struct RunRequest {
    pub preset: String,
    pub profile: Profile,
    pub variant: Variant,
    pub seed: u64,
    pub hyper: Hyper,
    pub out: PathBuf,
    pub resume: Option<PathBuf>,
    pub checkpoint_every: Option<usize>,
    pub quiet: bool,
    /// Where the mnist preset reads its IDX files (`--data-dir`; else `$BIMT_MNIST_DIR`, else
    /// `../shared/data/mnist`).
    pub data_dir: Option<PathBuf>,
    /// The burn backend to train on.
    pub backend: Backend,
    /// The command line that asked for the run (recorded in `run.json`).
    pub command: Vec<String>,
    /// The network and data of `bimt run graph|mlp`.
    pub custom: Option<crate::settings::Custom>,
}

impl RunRequest {
    /// The run's settings as `run.json` and its checkpoints record them.
    pub fn settings(&self) -> RunSettings {
        let resolved = Resolved {
            preset: self.preset.clone(),
            profile: self.profile,
            variant: self.variant,
            seed: self.seed,
            backend: self.backend,
            hyper: self.hyper.clone(),
            custom: self.custom.clone(),
        };
        RunSettings::new(&resolved, self.command.clone())
    }

    /// The training device (the chosen backend, with autodiff).
    pub fn device(&self) -> Device {
        self.backend.device().autodiff()
    }
}

/// What a preset adds to the standard outputs once training ends.
pub struct Extras {
    /// The `structure` section of `metrics.json`.
    pub structure: serde_json::Value,
    /// Extra pictures: file name and image.
    pub pictures: Vec<(&'static str, image::RgbImage)>,
}

/// Runs a preset end to end; returns the metrics written. The output directory is checked
/// and `run.json` written before any data is loaded.
pub fn run(request: &RunRequest) -> Result<MetricsFile, String> {
    prepare_out(&request.out)?;
    write_json(&request.out.join("run.json"), &request.settings()).map_err(|e| e.to_string())?;
    match request.preset.as_str() {
        "mnist" => {
            let data = crate::mnist::load(request.data_dir.as_deref())?;
            return train_and_write(request, crate::mnist::network()?, &data, Loss::OneHotMse);
        }
        "in-context" | "in-context-singular" => return crate::in_context::run(request),
        "graph" | "mlp" => return crate::custom::run(request),
        preset => {
            if let Some(operation) = crate::algorithmic::operation(preset) {
                return crate::algorithmic::run(request, operation);
            }
        }
    }
    let (data, widths, loss) = match request.preset.as_str() {
        "symbolic-independence" => (
            symbolic(bimt_data::Formula::Independence, request.seed),
            vec![4, 20, 20, 2],
            Loss::Mse,
        ),
        "symbolic-feature-sharing" => (
            symbolic(bimt_data::Formula::FeatureSharing, request.seed),
            vec![3, 20, 20, 3],
            Loss::Mse,
        ),
        "symbolic-compositionality" => (
            symbolic(bimt_data::Formula::Compositionality, request.seed),
            vec![4, 20, 20, 20, 20, 1],
            Loss::Mse,
        ),
        "symbolic-pruning" => (
            symbolic(bimt_data::Formula::Pruning, request.seed),
            vec![4, 20, 20, 2],
            Loss::Mse,
        ),
        "two-moons" => (
            bimt_data::two_moons(200, 200, 0.1, request.seed),
            vec![2, 20, 20, 2],
            Loss::CrossEntropy,
        ),
        other => return Err(crate::presets::unknown_preset(other)),
    };
    let mlp = Mlp::new(&MlpConfig::lines(&widths)).map_err(|e| e.to_string())?;
    train_and_write(request, mlp, &data, loss)
}

/// Creates the output directory and checks that it takes files, so that a bad `--out` fails
/// before training rather than after.
pub fn prepare_out(out: &Path) -> Result<(), String> {
    if out.exists() && !out.is_dir() {
        return Err(format!(
            "--out {}: is a file, not a directory; name a directory for the run's outputs",
            out.display()
        ));
    }
    std::fs::create_dir_all(out)
        .map_err(|e| format!("--out {}: cannot create the directory: {e}", out.display()))?;
    let probe = out.join(".bimt-write-check");
    std::fs::write(&probe, b"")
        .and_then(|()| std::fs::remove_file(&probe))
        .map_err(|e| {
            format!(
                "--out {}: cannot write into the directory: {e}",
                out.display()
            )
        })
}

/// The symbolic-formula data of the paper: 100 training and 100 test samples.
pub fn symbolic(formula: bimt_data::Formula, seed: u64) -> Dataset {
    bimt_data::symbolic(formula, 100, 100, seed)
}

/// The metric of a run.
pub fn metric_of(h: &Hyper) -> PaperMetric {
    if h.l2 {
        PaperMetric::l2(h.a, h.y_star)
    } else {
        PaperMetric::l1(h.a, h.y_star)
    }
}

/// The engine's configuration of a run.
pub fn train_config(h: &Hyper, variant: Variant, checkpoint_every: Option<usize>) -> TrainConfig {
    TrainConfig {
        steps: h.steps,
        lr: h.lr.clone(),
        lambda: h.lambda.clone(),
        swap_every: h.swap_every,
        top_k: h.top_k,
        swap_mode: h.swap_mode,
        variant,
        cost: CostConfig {
            reduction: h.reduction,
            bias_penalty: h.bias_penalty,
            last_layer_distance: h.last_layer_distance,
            local: true,
        },
        bias_from: h.bias_from,
        log_every: h.log_every,
        checkpoint_every,
        finetune: (h.finetune_steps > 0).then_some(Finetune {
            steps: h.finetune_steps,
            lr: h.finetune_lr,
            threshold: crate::report::ACTIVE_THRESHOLD,
        }),
    }
}

/// How a preset's connectivity graphs are drawn: `frame` for the frames of `evolution.gif`,
/// else `graph.png`. The MNIST network (784 pixels, 100 + 100 hidden neurons) gets a larger
/// picture and thinner lines, so that its dense start does not turn into a solid block.
pub fn graph_style(preset: &str, title: String, frame: bool) -> GraphStyle {
    let mnist = preset == "mnist";
    let (width, height) = match (mnist, frame) {
        (false, true) => (480, 360),
        (false, false) => (800, 600),
        (true, true) => (640, 520),
        (true, false) => (1000, 820),
    };
    GraphStyle {
        width,
        height,
        title: Some(title),
        max_line_width: match (mnist, frame) {
            (true, true) => 1.0,
            (true, false) => 1.5,
            (false, _) => 3.0,
        },
        ..GraphStyle::default()
    }
}

struct RunObserver<'a> {
    bar: ProgressBar,
    frames: &'a FrameSink,
    log: LogFile,
    /// The first error writing `log.jsonl`, reported when training ends.
    log_error: Option<String>,
    names: (&'a [String], &'a [String]),
    cost: CostSpec,
}

impl<N: Network> Observer<N> for RunObserver<'_> {
    fn on_step(&mut self, step: usize) {
        if step.is_multiple_of(100) {
            self.bar.set_position(step as u64);
        }
    }

    fn on_log(&mut self, model: &Model<N>, entry: &LogEntry) {
        let accuracy = entry
            .test_accuracy
            .map(|a| format!(" acc {:.1}%", 100.0 * a))
            .unwrap_or_default();
        self.bar.set_message(format!(
            "λ {:.0e} test {:.2e}{accuracy} cost {:.3} swaps {}",
            entry.lambda, entry.test_loss, entry.connection_cost, entry.swaps
        ));
        if let Err(e) = self.log.append(entry) {
            self.log_error.get_or_insert(e);
        }
        self.frames.push(
            entry.step,
            export_model(model, self.names.0, self.names.1, self.cost.clone()),
        );
    }

    fn before_checkpoint(&mut self, _step: usize) {
        self.frames.sync();
    }
}

/// Trains an MLP-style `network` on a supervised `data` set and writes every output of the
/// command-line contract, with the preset's structure report and pictures.
pub fn train_and_write<N: Network>(
    request: &RunRequest,
    network: N,
    data: &Dataset,
    loss: Loss,
) -> Result<MetricsFile, String> {
    let batching = match request.hyper.batch {
        Some(size) => Batching::Mini {
            size,
            seed: request.seed ^ 0x5eed,
        },
        None => Batching::Full,
    };
    let task = Supervised::new(data, loss, batching, &request.device());
    let names = (&data.input_names[..], &data.output_names[..]);
    train_task(request, network, task, names, |_, _, model| {
        let mut pictures = Vec::new();
        let mut structure = report::structure(&request.preset, model, data);
        if request.preset == "two-moons" {
            pictures.push((
                "decision_boundary.png",
                report::decision_boundary(model, data),
            ));
            let (knockouts, picture) = report::weight_knockouts(model, data);
            structure["weight_knockouts"] = knockouts;
            pictures.push(("weight_knockouts.png", picture));
        }
        if let Some(operation) = crate::algorithmic::operation(&request.preset) {
            pictures.push((
                "embedding.png",
                crate::algorithmic::embedding_picture(model),
            ));
            if matches!(operation, bimt_data::Operation::ModularAddition { .. }) {
                pictures.push((
                    "embedding_planes.png",
                    crate::algorithmic::planes_picture(model, data),
                ));
            }
        }
        if request.preset == "mnist" {
            crate::mnist::write_views(&request.out, model, data).map_err(|e| e.to_string())?;
        }
        Ok(Extras {
            structure,
            pictures,
        })
    })
}

/// Trains `network` on `task` (resuming if asked), then writes `model.json`, `graph.png`,
/// `evolution.gif`, `log.jsonl`, what `finish` adds, and last `metrics.json`. The log and the
/// frames are written as training goes (see [`crate::history`]).
pub fn train_task<N: Network, T: Task>(
    request: &RunRequest,
    network: N,
    task: T,
    names: (&[String], &[String]),
    finish: impl FnOnce(&Model<N>, &T, &ModelFile) -> Result<Extras, String>,
) -> Result<MetricsFile, String> {
    let h = &request.hyper;
    let device = request.device();
    let metric = metric_of(h);
    let config = train_config(h, request.variant, request.checkpoint_every);
    let mut model = Model::new(network, request.seed, &device).map_err(|e| e.to_string())?;
    let mut resumed = None;
    if let Some(path) = &request.resume {
        resumed = Some(Checkpoint::restore(path, &mut model).map_err(|e| e.to_string())?);
    }
    let loss_definitions = task.loss_definitions();
    let mut trainer = Trainer::new(model, task, config.clone(), &metric);
    trainer.checkpoint_path = Some(request.out.join("checkpoint.json"));
    trainer.settings = request.settings().to_json();
    if let Some(ckpt) = &resumed {
        trainer.resume(ckpt);
    }
    let cost = config.cost_spec(&metric);
    let title = format!("{} ({})", request.preset, request.variant.name());
    let frames_from = request
        .resume
        .as_ref()
        .map(|path| path.parent().unwrap_or(Path::new(".")).join("frames"));
    let frames = FrameSink::start(
        &request.out.join("frames"),
        graph_style(&request.preset, title, true),
        frames_from
            .as_deref()
            .zip(resumed.as_ref().map(|_| trainer.start_step)),
    )?;
    let log = LogFile::start(&request.out.join("log.jsonl"), &trainer.history)?;
    let bar = if request.quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(config.total_steps() as u64)
    };
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} {per_sec} {msg}",
        )
        .expect("valid template"),
    );
    bar.set_position(trainer.start_step as u64);
    if resumed.is_none() {
        frames.push(
            0,
            export_model(&trainer.model, names.0, names.1, cost.clone()),
        );
    }
    let mut observer = RunObserver {
        bar,
        frames: &frames,
        log,
        log_error: None,
        names,
        cost: cost.clone(),
    };
    let summary = trainer.run(&mut observer).map_err(|e| e.to_string())?;
    observer.bar.finish_and_clear();
    if let Some(e) = observer.log_error {
        return Err(e);
    }
    let model_file = export_model(&trainer.model, names.0, names.1, cost);
    let extras = finish(&trainer.model, &trainer.task, &model_file)?;
    let trained = Trained {
        model: &model_file,
        summary: &summary,
        wall_seconds: trainer.wall_offset + summary.wall_seconds,
        loss_definitions,
    };
    write_outputs(request, trained, frames.finish()?, extras)
}

/// What a finished training call hands to the writer.
struct Trained<'a> {
    model: &'a ModelFile,
    summary: &'a RunSummary,
    /// Seconds of training over every call of the run.
    wall_seconds: f64,
    loss_definitions: [String; 2],
}

fn write_outputs(
    request: &RunRequest,
    trained: Trained,
    frames: GifWriter,
    extras: Extras,
) -> Result<MetricsFile, String> {
    let out = &request.out;
    let h = &request.hyper;
    let (model, summary) = (trained.model, trained.summary);
    let e = |x: bimt_format::FormatError| x.to_string();
    let [train_definition, test_definition] = trained.loss_definitions;
    let metrics = MetricsFile {
        preset: request.preset.clone(),
        variant: request.variant.name().to_string(),
        profile: request.profile.name().to_string(),
        seed: request.seed,
        steps: h.steps,
        finetune_steps: h.finetune_steps,
        wall_seconds: trained.wall_seconds,
        steps_per_second: summary.steps_run as f64 / summary.wall_seconds.max(1e-9),
        train_loss: summary.evaluation.train_loss,
        test_loss: summary.evaluation.test_loss,
        loss_definitions: LossDefinitions {
            train_loss: train_definition,
            test_loss: test_definition,
        },
        test_accuracy: summary.evaluation.test_accuracy,
        connection_cost: summary.connection_cost,
        a: model.cost.a,
        y_star: h.y_star,
        reduction: h.reduction.name().to_string(),
        swaps: summary.swaps,
        structure: extras.structure,
    };
    write_json(&out.join("model.json"), model).map_err(e)?;
    let mut title = format!("{} ({})", request.preset, request.variant.name());
    if request.preset == "mnist" {
        // The ring's digits are not drawn on a planar layer: name them in the title.
        let order: Vec<String> = crate::mnist::ring_order(model)
            .iter()
            .map(|d| d.to_string())
            .collect();
        title.push_str(&format!(", ring (anticlockwise): {}", order.join(" ")));
    }
    let style = graph_style(&request.preset, title, false);
    write_png(&out.join("graph.png"), &render_graph(model, &style)).map_err(e)?;
    frames.finish(&out.join("evolution.gif")).map_err(e)?;
    let mut log = Vec::new();
    for entry in &summary.log {
        serde_json::to_writer(&mut log, entry).expect("plain data");
        log.write_all(b"\n").expect("in memory");
    }
    write_atomic(&out.join("log.jsonl"), &log).map_err(e)?;
    for (name, picture) in &extras.pictures {
        write_png(&out.join(name), picture).map_err(e)?;
    }
    write_json(&out.join("metrics.json"), &metrics).map_err(e)?;
    Ok(metrics)
}

/// Where a run writes by default.
pub fn default_out(preset: &str, variant: Variant) -> PathBuf {
    let name = if variant == Variant::Bimt {
        preset.to_string()
    } else {
        format!("{preset}-{}", variant.name())
    };
    Path::new("runs").join(name)
}
