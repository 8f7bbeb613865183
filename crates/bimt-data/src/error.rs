//! The crate's error type.

use std::path::PathBuf;

/// Everything that can go wrong when loading or naming data. Every message
/// is one line and names the file involved.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// None of the candidate names of an MNIST file exists.
    #[error(
        "MNIST file not found in {}: tried {}; set the directory with --data-dir or the {} environment variable",
        dir.display(),
        tried.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "),
        crate::MNIST_DIR_ENV
    )]
    MissingFile {
        /// The directory searched.
        dir: PathBuf,
        /// Every path tried, in order.
        tried: Vec<PathBuf>,
    },
    /// The file exists but could not be opened or read.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The file starts with the gzip magic bytes but does not decompress.
    #[error("{}: corrupt gzip stream: {message}", path.display())]
    CorruptGzip {
        /// The file.
        path: PathBuf,
        /// What the decompressor reported.
        message: String,
    },
    /// The IDX magic number is not the expected one.
    #[error(
        "{}: wrong IDX magic number: expected {expected} ({expected:#010x}), found {found} ({found:#010x})",
        path.display()
    )]
    WrongMagic {
        /// The file.
        path: PathBuf,
        /// 2051 for images, 2049 for labels.
        expected: u32,
        /// What the file holds.
        found: u32,
    },
    /// The file (after decompression) is shorter than its header says.
    #[error(
        "{}: truncated IDX file: expected {expected} bytes, found {found}",
        path.display()
    )]
    Truncated {
        /// The file.
        path: PathBuf,
        /// Bytes the header implies (header included).
        expected: u64,
        /// Bytes actually present (header included).
        found: u64,
    },
    /// The header describes a size that cannot be represented.
    #[error("{}: invalid IDX header: {message}", path.display())]
    BadHeader {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// An image file and its label file disagree on the number of samples.
    #[error(
        "image/label count mismatch: {} holds {n_images} images but {} holds {n_labels} labels",
        images.display(),
        labels.display()
    )]
    CountMismatch {
        /// The image file.
        images: PathBuf,
        /// Number of images.
        n_images: usize,
        /// The label file.
        labels: PathBuf,
        /// Number of labels.
        n_labels: usize,
    },
    /// The training and test image files have different image sizes.
    #[error(
        "image size mismatch: {} holds {train_rows}x{train_cols} images but {} holds {test_rows}x{test_cols} images",
        train.display(),
        test.display()
    )]
    ShapeMismatch {
        /// The training image file.
        train: PathBuf,
        /// Rows of a training image.
        train_rows: usize,
        /// Columns of a training image.
        train_cols: usize,
        /// The test image file.
        test: PathBuf,
        /// Rows of a test image.
        test_rows: usize,
        /// Columns of a test image.
        test_cols: usize,
    },
    /// A label is not a digit 0–9.
    #[error("{}: label {label} at index {index} is out of range 0..=9", path.display())]
    LabelOutOfRange {
        /// The label file.
        path: PathBuf,
        /// Position of the bad label.
        index: usize,
        /// Its value.
        label: u8,
    },
    /// A formula name that [`crate::Formula`] does not know.
    #[error(
        "unknown formula {0:?}: expected one of independence, feature-sharing, compositionality, pruning"
    )]
    UnknownFormula(String),
}
