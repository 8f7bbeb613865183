//! Brain-Inspired Modular Training on burn.
//!
//! A model implements [`Network`] (its [`Layout`](bimt_layout::Layout) and a forward pass over
//! the parameters the layout declares); a task implements [`Task`] (batches and a loss). The
//! [`Trainer`] adds the connection cost of paper eq. 3–4 ([`Regulariser`]), runs AdamW, swaps
//! neurons every `S` steps ([`bimt_swap::Swapper`]) moving the optimizer's moment estimates
//! with the weights, logs, and writes checkpoints atomically.

#![warn(missing_docs)]

mod checkpoint;
mod config;
mod error;
mod export;
mod log;
mod model;
mod params;
mod regulariser;
mod trainer;

pub use checkpoint::{Checkpoint, CheckpointError, CheckpointHeader, InitialState};
pub use config::{Finetune, TrainConfig, Variant};
pub use error::{DIVERGENCE_FACTOR, Divergence, TrainError};
pub use export::export_model;
pub use log::{LogEntry, Observer, RunSummary};
pub use model::{Batch, Evaluation, Model, Network, PermuteError, Task};
pub use params::{Backend, Moments, ParamStore, SwapMoments, default_device};
pub use regulariser::{CostTerm, Regulariser};
pub use trainer::Trainer;

pub use bimt_format::{AttentionFile, Timing, WindowFile};
pub use burn::tensor::{Device, Int, Tensor, TensorData};
