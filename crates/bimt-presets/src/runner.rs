//! The part of a run every preset shares: training with progress, log and frames as it goes,
//! then `model.json`, `graph.png`, `graph.svg`, `curves.png`, `evolution.gif`, `log.jsonl`, the
//! preset's own pictures and last `metrics.json`.

use crate::control::RunControl;
use crate::error::Error;
use crate::history::{FrameSink, LogFile};
use crate::progress::Progress;
use crate::report;
use crate::settings::Settings;
use bimt_data::Dataset;
use bimt_engine::{
    Checkpoint, Device, LogEntry, Model, Network, Observer, RunSummary, Task, Trainer, Variant,
    export_model,
};
use bimt_format::{
    CostSpec, LossDefinitions, MetricsFile, ModelFile, Restarts, write_atomic, write_json,
};
use bimt_tasks::{Batching, Loss, Supervised};
use bimt_views::{
    Curves, GifWriter, GraphStyle, render_curves, render_graph, render_graph_svg, write_png,
    write_svg,
};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A run to make: its resolved settings and where and how to write it.
#[derive(Clone, Debug)]
pub struct RunSpec {
    /// Every setting of the run (see [`crate::resolve`]).
    pub settings: Settings,
    /// The run directory.
    pub out: PathBuf,
    /// A checkpoint to continue from.
    pub resume: Option<PathBuf>,
    /// No progress bar.
    pub quiet: bool,
    /// Where the mnist preset reads its IDX files (else `$BIMT_MNIST_DIR`, else
    /// `../shared/data/mnist`).
    pub data_dir: Option<PathBuf>,
    /// The command line that asked for the run (recorded in `run.json`).
    pub command: Vec<String>,
    /// Someone following the run's progress, who may stop it.
    pub control: Option<Arc<RunControl>>,
}

impl RunSpec {
    /// A run of `settings` into `out`, with a progress bar, no checkpoints and no resume.
    pub fn new(settings: Settings, out: impl Into<PathBuf>) -> Self {
        RunSpec {
            settings,
            out: out.into(),
            resume: None,
            quiet: false,
            data_dir: None,
            command: Vec::new(),
            control: None,
        }
    }

    /// The run's settings as `run.json` and its checkpoints record them.
    pub fn record(&self) -> crate::settings::Record<'_> {
        self.settings.record(self.command.clone())
    }

    /// The training device (the chosen backend, with autodiff).
    pub fn device(&self) -> Device {
        self.settings.backend.device().autodiff()
    }
}

/// Where a run with restarts records its choice as soon as it is made (`metrics.json` repeats
/// it at the end; a resumed run reads it back from its checkpoint's directory).
const RESTARTS_FILE: &str = "restarts.json";

/// What a preset adds to the standard outputs once training ends.
pub struct Extras {
    /// The `structure` section of `metrics.json`.
    pub structure: serde_json::Value,
    /// Extra pictures: file name and image.
    pub pictures: Vec<(&'static str, image::RgbImage)>,
    /// Appended to the title of `graph.png` (what the picture cannot show by itself).
    pub graph_note: Option<String>,
}

impl Extras {
    /// A structure report and no pictures.
    pub fn structure(structure: serde_json::Value) -> Self {
        Extras {
            structure,
            pictures: Vec::new(),
            graph_note: None,
        }
    }
}

/// How large a preset's connectivity graph is drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GraphSize {
    /// Tens of neurons per layer.
    Small,
    /// Hundreds of neurons per layer (MNIST): a larger picture with thinner lines, so that the
    /// dense start does not turn into a solid block.
    Large,
}

/// Creates the output directory and checks that it takes files, so that a bad `--out` fails
/// before training rather than after.
pub fn prepare_out(out: &Path) -> Result<(), Error> {
    if out.exists() && !out.is_dir() {
        return Err(Error::Settings(format!(
            "--out {}: is a file, not a directory; name a directory for the run's outputs",
            out.display()
        )));
    }
    std::fs::create_dir_all(out).map_err(|e| {
        Error::Output(format!(
            "--out {}: cannot create the directory: {e}",
            out.display()
        ))
    })?;
    let probe = out.join(".bimt-write-check");
    std::fs::write(&probe, b"")
        .and_then(|()| std::fs::remove_file(&probe))
        .map_err(|e| {
            Error::Output(format!(
                "--out {}: cannot write into the directory: {e}",
                out.display()
            ))
        })
}

/// How a connectivity graph of `size` is drawn: `frame` for the frames of `evolution.gif`,
/// else `graph.png` and `graph.svg`.
pub fn graph_style(size: GraphSize, title: String, frame: bool) -> GraphStyle {
    let large = size == GraphSize::Large;
    let (width, height) = match (large, frame) {
        (false, true) => (480, 360),
        (false, false) => (800, 600),
        (true, true) => (640, 520),
        (true, false) => (1000, 820),
    };
    GraphStyle {
        width,
        height,
        title: Some(title),
        max_line_width: match (large, frame) {
            (true, true) => 1.0,
            (true, false) => 1.5,
            (false, _) => 3.0,
        },
        ..GraphStyle::default()
    }
}

struct RunObserver<'a> {
    progress: Progress,
    frames: &'a FrameSink,
    log: LogFile,
    /// The first error writing `log.jsonl`, reported when training ends.
    log_error: Option<Error>,
    names: (&'a [String], &'a [String]),
    cost: CostSpec,
    control: Option<&'a RunControl>,
}

impl<N: Network> Observer<N> for RunObserver<'_> {
    fn on_step(&mut self, step: usize) {
        if step.is_multiple_of(100) {
            self.progress.set_position(step);
        }
        if let Some(control) = self.control {
            control.set_step(step);
        }
    }

    fn should_stop(&mut self) -> bool {
        self.control.is_some_and(RunControl::stop_requested)
    }

    fn on_log(&mut self, model: &Model<N>, entry: &LogEntry) {
        let accuracy = entry
            .test_accuracy
            .map(|a| format!(" acc {:.1}%", 100.0 * a))
            .unwrap_or_default();
        let message = format!(
            "λ {:.0e} test {:.2e}{accuracy} cost {:.3} swaps {}",
            entry.lambda, entry.test_loss, entry.connection_cost, entry.swaps
        );
        if let Some(control) = self.control {
            control.set_message(&message);
        }
        self.progress.set_message(message);
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

/// Trains `network` on a supervised `data` set (full batch, or the settings' mini-batches),
/// then writes the run directory with what `finish` reports from the trained model file.
pub fn train_supervised<N: Network>(
    spec: &RunSpec,
    network: N,
    data: &Dataset,
    loss: Loss,
    size: GraphSize,
    finish: impl FnOnce(&ModelFile) -> Result<Extras, Error>,
) -> Result<MetricsFile, Error> {
    let batching = match spec.settings.batch {
        Some(batch) => Batching::Mini {
            size: batch,
            seed: spec.settings.seed ^ 0x5eed,
        },
        None => Batching::Full,
    };
    let task = Supervised::new(data, loss, batching, &spec.device());
    let names = (&data.input_names[..], &data.output_names[..]);
    train_task(spec, network, task, names, size, |_, _, model| {
        write_json(&spec.out.join("sample.json"), &test_sample(data))?;
        finish(model)
    })
}

/// The first [`bimt_viewer::SAMPLE_ROWS`] test rows, for the viewer's knock-outs.
fn test_sample(data: &Dataset) -> serde_json::Value {
    let split = &data.test;
    let rows = split.n.min(bimt_viewer::SAMPLE_ROWS);
    let inputs: Vec<&[f32]> = (0..rows).map(|i| split.row(i)).collect();
    let truth = match (0..rows)
        .map(|i| split.label(i))
        .collect::<Option<Vec<u32>>>()
    {
        Some(labels) => bimt_viewer::Truth::Labels(labels),
        None => {
            bimt_viewer::Truth::Targets((0..rows).filter_map(|i| split.target_row(i)).collect())
        }
    };
    bimt_viewer::sample(&inputs, truth)
}

/// The structure report every supervised preset starts from (see [`report::structure`]).
pub fn plain_structure(model: &ModelFile, data: &Dataset) -> Result<Extras, Error> {
    Ok(Extras::structure(report::structure(model, data)))
}

/// Trains `network` on `task` (resuming if asked), then writes `model.json`, `graph.png`,
/// `evolution.gif`, `log.jsonl`, what `finish` adds, and last `metrics.json`. The log and the
/// frames are written as training goes (see [`crate::history`]).
pub fn train_task<N: Network, T: Task>(
    spec: &RunSpec,
    network: N,
    task: T,
    names: (&[String], &[String]),
    size: GraphSize,
    finish: impl FnOnce(&Model<N>, &T, &ModelFile) -> Result<Extras, Error>,
) -> Result<MetricsFile, Error> {
    let settings = &spec.settings;
    let metric = settings.metric();
    let config = settings.train_config();
    let device = spec.device();
    // A resumed run's weights come from its checkpoint: its candidates were chosen already.
    let (network, task, restarts) = if settings.restarts > 1 && spec.resume.is_none() {
        let (network, task, restarts) = crate::restarts::choose_initialisation(
            settings,
            network,
            task,
            &device,
            spec.quiet,
            spec.control.as_deref(),
        )?;
        write_json(&spec.out.join(RESTARTS_FILE), &restarts)?;
        (network, task, Some(restarts))
    } else {
        // A resumed run's record of its candidates, where it had some; a record that exists
        // but does not read is an error rather than dropped.
        let earlier = match &spec.resume {
            Some(path) => {
                let file = path.parent().unwrap_or(Path::new(".")).join(RESTARTS_FILE);
                if file.exists() {
                    Some(bimt_format::read_json(&file, "a record of restarts")?)
                } else {
                    None
                }
            }
            None => None,
        };
        (network, task, earlier)
    };
    let init_seed = restarts.as_ref().map_or(settings.seed, |r: &Restarts| {
        r.candidates[r.chosen].init_seed
    });
    let mut model = Model::new(network, init_seed, &device)?;
    let mut resumed = None;
    if let Some(path) = &spec.resume {
        resumed = Some(Checkpoint::restore(path, &mut model)?);
    }
    let loss_definitions = task.loss_definitions();
    let mut trainer = Trainer::new(model, task, config.clone(), &metric);
    trainer.checkpoint_path = Some(spec.out.join("checkpoint.json"));
    trainer.settings = spec.record().to_json();
    if let Some(ckpt) = &resumed {
        trainer.resume(ckpt);
    }
    let cost = config.cost_spec(&metric);
    let title = format!("{} ({})", settings.preset, settings.variant);
    let frames_from = spec
        .resume
        .as_ref()
        .map(|path| path.parent().unwrap_or(Path::new(".")).join("frames"));
    let frames = FrameSink::start(
        &spec.out.join("frames"),
        graph_style(size, title.clone(), true),
        frames_from
            .as_deref()
            .zip(resumed.as_ref().map(|_| trainer.start_step)),
    )?;
    let log = LogFile::start(&spec.out.join("log.jsonl"), &trainer.history)?;
    let progress = Progress::new(spec.quiet, trainer.start_step, config.total_steps());
    if resumed.is_none() {
        frames.push(
            0,
            export_model(&trainer.model, names.0, names.1, cost.clone()),
        );
    }
    let mut observer = RunObserver {
        progress,
        frames: &frames,
        log,
        log_error: None,
        names,
        cost: cost.clone(),
        control: spec.control.as_deref(),
    };
    if let Some(control) = &spec.control {
        control.set_total(config.total_steps());
        control.set_step(trainer.start_step);
    }
    let summary = trainer.run(&mut observer)?;
    observer.progress.finish(config.total_steps());
    if let Some(e) = observer.log_error {
        return Err(e);
    }
    let outputs_started = std::time::Instant::now();
    let model_file = export_model(&trainer.model, names.0, names.1, cost);
    let extras = finish(&trainer.model, &trainer.task, &model_file)?;
    let trained = Trained {
        restarts,
        model: &model_file,
        summary: &summary,
        wall_seconds: trainer.wall_offset + summary.wall_seconds,
        initial_test_loss: trainer.initial.map(|i| i.test_loss),
        loss_definitions,
    };
    let mut title = title;
    if let Some(note) = &extras.graph_note {
        title.push_str(", ");
        title.push_str(note);
    }
    write_outputs(
        spec,
        trained,
        frames.finish()?,
        extras,
        graph_style(size, title, false),
        outputs_started,
    )
}

/// What a finished training call hands to the writer.
struct Trained<'a> {
    /// How the initialisation was chosen, with restarts.
    restarts: Option<Restarts>,
    model: &'a ModelFile,
    summary: &'a RunSummary,
    /// Seconds of training over every call of the run.
    wall_seconds: f64,
    /// The test loss before the first step.
    initial_test_loss: Option<f64>,
    loss_definitions: [String; 2],
}

fn write_outputs(
    spec: &RunSpec,
    trained: Trained,
    frames: GifWriter,
    extras: Extras,
    style: GraphStyle,
    outputs_started: std::time::Instant,
) -> Result<MetricsFile, Error> {
    let (out, settings) = (&spec.out, &spec.settings);
    let (model, summary) = (trained.model, trained.summary);
    let [train_definition, test_definition] = trained.loss_definitions;
    let mut metrics = MetricsFile {
        preset: settings.preset.clone(),
        variant: settings.variant.to_string(),
        profile: settings.profile.to_string(),
        seed: settings.seed,
        steps: settings.steps,
        finetune_steps: settings.finetune_steps,
        wall_seconds: trained.wall_seconds,
        steps_per_second: summary.steps_run as f64 / summary.wall_seconds.max(1e-9),
        train_loss: summary.evaluation.train_loss,
        test_loss: summary.evaluation.test_loss,
        initial_test_loss: trained.initial_test_loss,
        loss_definitions: LossDefinitions {
            train_loss: train_definition,
            test_loss: test_definition,
        },
        test_accuracy: summary.evaluation.test_accuracy,
        connection_cost: summary.connection_cost,
        a: model.cost.a,
        y_star: settings.y_star,
        reduction: settings.reduction.to_string(),
        swaps: summary.swaps,
        structure: extras.structure,
        timing: summary.timing,
        restarts: trained.restarts,
    };
    write_json(&out.join("model.json"), model)?;
    write_png(&out.join("graph.png"), &render_graph(model, &style))?;
    write_svg(&out.join("graph.svg"), &render_graph_svg(model, &style))?;
    write_png(
        &out.join("curves.png"),
        &render_curves(&curves(&summary.log), (1200, 380)),
    )?;
    frames.finish(&out.join("evolution.gif"))?;
    let mut log = Vec::new();
    for entry in &summary.log {
        serde_json::to_writer(&mut log, entry).expect("plain data");
        log.write_all(b"\n").expect("in memory");
    }
    write_atomic(&out.join("log.jsonl"), &log)?;
    for (name, picture) in &extras.pictures {
        write_png(&out.join(name), picture)?;
    }
    metrics.timing.outputs = outputs_started.elapsed().as_secs_f64();
    write_json(&out.join("metrics.json"), &metrics)?;
    // The viewer reads what the run wrote, metrics.json included.
    bimt_viewer::write_view(out).map_err(|e| Error::Output(format!("view.html: {e}")))?;
    Ok(metrics)
}

/// The least fraction of its initial test loss that training must remove for a run to count
/// as having learned: every preset removes over 90 % at its defaults.
pub const LEAST_IMPROVEMENT: f64 = 0.01;

/// Why a finished run is no better than no training at all, if it is: its test loss ended
/// above the one before the first step, or less than [`LEAST_IMPROVEMENT`] below it (a
/// learning rate or λ too large, say).
pub fn ended_worse(m: &MetricsFile) -> Option<String> {
    let initial = m.initial_test_loss?;
    // A NaN test loss counts as worse.
    let verdict = if m.test_loss.is_nan() || m.test_loss >= initial {
        "ended worse than it started"
    } else if m.test_loss > (1.0 - LEAST_IMPROVEMENT) * initial {
        "learned next to nothing"
    } else {
        return None;
    };
    Some(format!(
        "the run {verdict}: test loss {:.4e} after training, {:.4e} before the first step; \
         its outputs are written, but its settings need another look (a smaller --lr or \
         --lambda first)",
        m.test_loss, initial
    ))
}

/// The training curves of a run's log.
fn curves(log: &[LogEntry]) -> Curves {
    let column = |f: fn(&LogEntry) -> f64| log.iter().map(f).collect();
    Curves {
        steps: column(|e| e.step as f64),
        train_loss: column(|e| e.train_loss),
        test_loss: column(|e| e.test_loss),
        connection_cost: column(|e| e.connection_cost),
        lambda: column(|e| e.lambda),
    }
}

/// Where a run writes by default.
pub fn default_out(preset: &str, variant: Variant) -> PathBuf {
    let name = if variant == Variant::Bimt {
        preset.to_string()
    } else {
        format!("{preset}-{variant}")
    };
    Path::new("runs").join(name)
}
