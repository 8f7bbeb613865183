//! What can go wrong in a run, by kind ([`Error`]); every message names what is wrong and
//! what to do about it.

use bimt_data::DataError;
use bimt_engine::{CheckpointError, TrainError};
use bimt_format::FormatError;
use bimt_layout::LayoutError;

/// A failed run, setting or file.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A setting, flag or config file that cannot be used: out of range, unreadable, or in
    /// contradiction with another setting or with the run it resumes.
    #[error("{0}")]
    Settings(String),
    /// One of bimt's own files (`run.json`, `model.json`, `metrics.json`, a config file) that
    /// cannot be read, parsed or written.
    #[error(transparent)]
    File(#[from] FormatError),
    /// The data cannot be loaded (a CSV file, the MNIST files, a formula).
    #[error(transparent)]
    Data(#[from] DataError),
    /// An architecture file that does not declare a network (the message names the file).
    #[error("{0}")]
    Architecture(String),
    /// A network whose layout is inconsistent.
    #[error(transparent)]
    Layout(#[from] LayoutError),
    /// A checkpoint that cannot be read or does not fit the model.
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    /// Training stopped: the loss diverged, or a checkpoint could not be written.
    #[error(transparent)]
    Train(#[from] TrainError),
    /// Rows to predict, or neurons to knock out, that do not fit the model.
    #[error("{0}")]
    Input(String),
    /// An output that cannot be written: the run directory, the log, the frames, a picture.
    #[error("{0}")]
    Output(String),
    /// Runs of a batch (`bimt table1`) that failed, each named with its error.
    #[error("{0}")]
    RunsFailed(String),
    /// Any of the above, with what was being done (a variant, a preset, a seed).
    #[error("{context}: {source}")]
    Context {
        /// What was being done.
        context: String,
        /// What went wrong.
        source: Box<Error>,
    },
}

impl Error {
    /// Whether a file or directory could not be read or written (the Python package raises
    /// `OSError` for these, `ValueError` for the rest).
    pub fn is_file_access(&self) -> bool {
        match self {
            Error::File(FormatError::Read { .. } | FormatError::Write { .. })
            | Error::Output(_) => true,
            Error::Data(DataError::Io { .. } | DataError::MissingFile { .. }) => true,
            Error::Context { source, .. } => source.is_file_access(),
            _ => false,
        }
    }

    /// Whether the run stopped because it was asked to ([`crate::RunControl::stop`]).
    pub fn is_stopped(&self) -> bool {
        match self {
            Error::Train(TrainError::Stopped { .. }) => true,
            Error::Context { source, .. } => source.is_stopped(),
            _ => false,
        }
    }

    /// This error, saying what was being done when it happened.
    pub fn context(self, context: impl std::fmt::Display) -> Self {
        Error::Context {
            context: context.to_string(),
            source: Box::new(self),
        }
    }
}
