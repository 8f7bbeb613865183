//! Plain, deterministic datasets for Brain-Inspired Modular Training (BIMT).
//!
//! Every generator takes a `u64` seed and draws from
//! `rand_chacha::ChaCha8Rng::seed_from_u64`, so the same arguments always
//! give the same data. No ML framework is involved: inputs are row-major
//! `f32` buffers and targets are either real vectors or class indices.
//!
//! * [`symbolic`]: the symbolic-formula tasks of the paper (§3.1, App. A, B).
//! * [`algorithmic`]: modular addition and S4 composition tables (§3.3, App. D, E).
//! * [`two_moons`]: scikit-learn's `make_moons` distribution (§3.2, App. C).
//! * [`in_context`]: in-context linear regression sequences (§3.4, App. F).
//! * [`load_mnist`]: an IDX (optionally gzipped) MNIST loader (§3.5, App. G).
//! * [`read_csv`]: a user's CSV file of measurements, with [`standardise`]
//!   and [`read_csv_columns`] for prediction.
//! * [`read_npy`], [`read_npz`]: a user's NumPy arrays (rows, sequences or token ids), laid
//!   out as rows by [`NumpyData::dataset`]; [`read_numpy_inputs`] for prediction.
//! * [`Formulas`]: data sampled from formulas the user types, such as
//!   `"y1 = (x1 + x3)^3; y2 = x2^2 + sin(pi*x4)"`.
//! * [`BatchSampler`]: deterministic mini-batch index sampling.

#![warn(missing_docs)]

mod algorithmic;
mod csv;
mod dataset;
mod error;
mod formula;
mod in_context;
mod mnist;
mod moons;
mod numpy;
mod rng;
mod sampler;
mod symbolic;

pub use crate::csv::{CsvOptions, Standardisation, read_csv, read_csv_columns, standardise};
pub use algorithmic::{Operation, algorithmic, is_even_permutation, permutations_of_four};
pub use dataset::{Dataset, Split, Targets};
pub use error::DataError;
pub use formula::Formulas;
pub use in_context::{
    InContext, SEQ_LEN as IN_CONTEXT_SEQ_LEN, TOKEN_DIM as IN_CONTEXT_TOKEN_DIM, in_context,
};
pub use mnist::{
    IdxImages, MNIST_FILES, default_mnist_dir, load_mnist, read_idx_images, read_idx_labels,
};

/// Largest number of classes a classification CSV may have: labels must lie in
/// `0..MAX_CLASSES`. Here, not in `csv`, because the errors name it too.
pub const MAX_CLASSES: usize = 1 << 16;

/// Environment variable naming the MNIST directory (see [`default_mnist_dir`]). Here, not in
/// `mnist`, because the errors name it too.
pub const MNIST_DIR_ENV: &str = "BIMT_MNIST_DIR";
pub use moons::two_moons;
pub use numpy::{
    DataFormat, NumpyArray, NumpyData, NumpyValues, read_npy, read_npy_bytes,
    read_npy_inputs_bytes, read_npz, read_numpy_inputs,
};
pub use sampler::{BatchSampler, Sampling};
pub use symbolic::{Formula, intermediate_i, symbolic};
