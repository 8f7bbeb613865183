//! [`run_arrays`]: `bimt run graph` on arrays held in memory (the Python package's
//! `bimt.train`), written into the run directory first so that `run.json` repeats the run.

use crate::error::Error;
use crate::launch::run;
use crate::resolve::resolve;
use crate::runner::{RunSpec, default_out, prepare_out};
use crate::settings::Overrides;
use bimt_engine::Variant;
use bimt_format::{FormatError, MetricsFile, write_atomic};
use std::path::{Path, PathBuf};

/// Where the network of [`run_arrays`] is declared.
pub enum ArchSource<'a> {
    /// An architecture file.
    File(&'a Path),
    /// An architecture file's contents (JSON), written to `architecture.json` in the run
    /// directory.
    Json(&'a str),
}

/// The arrays of [`run_arrays`]: the bytes of two `.npy` files (inputs and targets), named in
/// errors as `names`.
pub struct NpyPair<'a> {
    /// The inputs' `.npy` bytes.
    pub x: &'a [u8],
    /// The targets' `.npy` bytes.
    pub y: &'a [u8],
    /// What errors call them (`X`, `Y`).
    pub names: [&'a str; 2],
}

/// Trains the network `arch` on `arrays` with `overrides` (as `bimt run graph --arch A
/// --data X.npy --targets Y.npy` with those flags), into `out` (default `runs/graph`), and
/// returns the metrics and the run directory. `spec` supplies what a [`RunSpec`] adds to the
/// settings (progress, control, the command recorded).
///
/// The arrays are checked first (dtype, shape, values, sample counts; errors name them by
/// `names`), then written as `X.npy` and `Y.npy` into the run directory, which `run.json`
/// names as the data: `bimt run graph --config RUN/run.json` repeats the run.
///
/// # Errors
///
/// Arrays that do not read ([`Error::Data`]), settings that do not resolve, and whatever the
/// run itself fails with.
pub fn run_arrays(
    arch: ArchSource,
    arrays: NpyPair,
    overrides: &Overrides,
    out: Option<&Path>,
    spec: impl FnOnce(RunSpec) -> RunSpec,
) -> Result<(MetricsFile, PathBuf), Error> {
    if let ArchSource::File(path) = arch {
        // A missing or unreadable file is a file error (not an architecture that is wrong).
        std::fs::File::open(path).map_err(|source| FormatError::Read {
            path: path.to_path_buf(),
            source,
        })?;
    }
    bimt_data::read_npy_bytes(arrays.x, arrays.y, arrays.names)?;
    let out = match out {
        Some(out) => out.to_path_buf(),
        None => default_out("graph", overrides.variant.unwrap_or(Variant::Bimt)),
    };
    prepare_out(&out)?;
    let (x, y) = (out.join("X.npy"), out.join("Y.npy"));
    write_atomic(&x, arrays.x)?;
    write_atomic(&y, arrays.y)?;
    let arch = match arch {
        ArchSource::File(path) => path.to_path_buf(),
        ArchSource::Json(text) => {
            let path = out.join("architecture.json");
            write_atomic(&path, text.as_bytes())?;
            path
        }
    };
    let overrides = Overrides {
        arch: Some(Some(arch)),
        data: Some(Some(x)),
        targets: Some(Some(vec![y.display().to_string()])),
        ..overrides.clone()
    };
    let settings = resolve("graph", &overrides, None, None)?;
    let metrics = run(&spec(RunSpec::new(settings, &out)))?;
    Ok((metrics, out))
}
