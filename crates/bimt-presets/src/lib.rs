//! The BIMT paper's experiments as a library.
//!
//! Each [`Preset`] (see [`PRESETS`]) knows its data, network, task, settings under the paper's
//! profile and the reference notebooks', the structure report it writes into `metrics.json`,
//! its pictures, and, where the paper's Table 1 has a column for it, the paper's figures and
//! the structural criterion a run is judged by. A run's [`Settings`] are one type: [`resolve`]
//! merges a preset's defaults with a config file and the flags (each an [`Overrides`]); [`run`] trains and writes a run directory (`run.json`,
//! `metrics.json`, `model.json`, `graph.png`, `graph.svg`, `curves.png`, `evolution.gif`,
//! `log.jsonl`, `frames/` and the preset's own pictures).
//!
//! ```
//! use bimt_presets::{Overrides, RunSpec, resolve, run};
//!
//! // symbolic-independence with the paper's settings, except for 2,000 steps.
//! let overrides = Overrides { steps: Some(2_000), ..Overrides::default() };
//! let settings = resolve("symbolic-independence", &overrides, None, None)?;
//! let out = std::env::temp_dir().join("bimt-doc-independence");
//! let metrics = run(&RunSpec::new(settings, &out))?;
//! println!("test MSE {:.2e}, {} swaps", metrics.test_loss, metrics.swaps);
//! assert_eq!(metrics.steps, 2_000);
//! assert!(out.join("graph.svg").exists() && out.join("curves.png").exists());
//! # Ok::<(), bimt_presets::Error>(())
//! ```
//!
//! Above one run: [`run_seeds`] repeats a run over seeds, [`ablation`] trains the five variants
//! of Fig. 2, [`table1`] measures the paper's Table 1 over seeds and [`frontier`] the pruning
//! frontier of App. A.

mod ablation;
mod algorithmic;
mod bench;
mod control;
mod custom;
mod error;
mod export;
mod frontier;
mod history;
mod in_context;
mod in_memory;
mod launch;
mod limits;
mod mnist;
mod mnist_cnn;
mod numpy_data;
mod predict;
mod preset;
mod progress;
mod registry;
mod report;
mod resolve;
mod restarts;
mod runner;
mod seeds;
mod settings;
mod symbolic;
mod table1;
mod threads;

pub use ablation::ablation;
pub use bench::{bench_graph_vs_builtin, bench_in_context, bench_mnist, bench_presets};
pub use control::{RunControl, RunProgress};
pub use custom::StandardisationFile;
pub use error::Error;
pub use export::export_safetensors;
pub use frontier::frontier;
pub use in_memory::{ArchSource, NpyPair, run_arrays};
pub use launch::run;
pub use predict::{Predictions, Rows, predict};
pub use preset::{Experiment, Preset, Table1Entry};
pub use registry::{PRESETS, find};
pub use resolve::{CHANGEABLE_ON_RESUME, resolve};
pub use runner::{RunSpec, default_out, ended_worse};
pub use seeds::{parse_seeds, run_seeds};
pub use settings::{GraphTask, Norm, Overrides, Phases, Profile, Record, Settings};
pub use table1::{Table1Options, table1};
pub use threads::{default_threads, on_threads};
