//! MNIST in the IDX format, plain or gzipped (paper §3.5, App. G).
//!
//! [`load_mnist`] returns a [`Dataset`]: inputs are pixels / 255 as `f32`
//! (row-major `rows × cols`, 784 values for MNIST), targets are
//! [`Targets::Classes`] with 10 classes. Input names are `p(r,c)` with
//! 0-based row `r` and column `c`; output names are the digits `0`..`9`.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use flate2::read::MultiGzDecoder;

use crate::{DataError, Dataset, MNIST_DIR_ENV, Split, Targets};

/// The four MNIST file names, without `.gz`: training images, training
/// labels, test images, test labels.
pub const MNIST_FILES: [&str; 4] = [
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
];

/// IDX magic number of a `u8` 3-dimensional array (images).
const IMAGES_MAGIC: u32 = 2051;
/// IDX magic number of a `u8` 1-dimensional array (labels).
const LABELS_MAGIC: u32 = 2049;
/// The gzip magic bytes.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
/// Largest buffer reserved up front, whatever the header claims.
const MAX_RESERVE: u64 = 64 << 20;
/// How much of a gzip stream past the payload is read to reach its checksum.
const MAX_TRAILER: u64 = 1 << 20;

/// The contents of an IDX image file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdxImages {
    /// The `n * rows * cols` pixels, image after image, each row-major.
    pub pixels: Vec<u8>,
    /// Number of images.
    pub n: usize,
    /// Rows per image.
    pub rows: usize,
    /// Columns per image.
    pub cols: usize,
}

/// The MNIST directory to use: `flag` if given, else the
/// [`MNIST_DIR_ENV`] (`BIMT_MNIST_DIR`) environment variable if set and
/// non-empty, else `../shared/data/mnist` relative to the current directory.
pub fn default_mnist_dir(flag: Option<&Path>) -> PathBuf {
    resolve_dir(flag, std::env::var_os(MNIST_DIR_ENV))
}

fn resolve_dir(flag: Option<&Path>, env: Option<std::ffi::OsString>) -> PathBuf {
    match (flag, env) {
        (Some(dir), _) => dir.to_path_buf(),
        (None, Some(dir)) if !dir.is_empty() => PathBuf::from(dir),
        _ => PathBuf::from("../shared/data/mnist"),
    }
}

/// Loads MNIST from `dir`: the four [`MNIST_FILES`], each either plain or
/// with a `.gz` suffix (the plain name is preferred when both exist; gzip is
/// recognised by its magic bytes whatever the name). Any number of images
/// and any image size are accepted, as long as each image file matches its
/// label file in count, both image files have the same size, and every
/// label is 0–9. See the module documentation for the layout.
pub fn load_mnist(dir: &Path) -> Result<Dataset, DataError> {
    let [train_images, train_labels, test_images, test_labels] =
        MNIST_FILES.map(|name| find_file(dir, name));
    let (train_images, train_labels) = (train_images?, train_labels?);
    let (test_images, test_labels) = (test_images?, test_labels?);
    let (train, rows, cols) = load_split(&train_images, &train_labels)?;
    let (test, test_rows, test_cols) = load_split(&test_images, &test_labels)?;
    if (rows, cols) != (test_rows, test_cols) {
        return Err(DataError::ShapeMismatch {
            train: train_images,
            train_rows: rows,
            train_cols: cols,
            test: test_images,
            test_rows,
            test_cols,
        });
    }
    Ok(Dataset {
        train,
        test,
        input_names: (0..rows)
            .flat_map(|r| (0..cols).map(move |c| format!("p({r},{c})")))
            .collect(),
        output_names: (0..10).map(|d| d.to_string()).collect(),
        rows_per_sample: 1,
    })
}

/// `dir/name` if it exists, else `dir/name.gz` if it exists.
fn find_file(dir: &Path, name: &str) -> Result<PathBuf, DataError> {
    let tried = vec![dir.join(name), dir.join(format!("{name}.gz"))];
    match tried.iter().find(|p| p.exists()) {
        Some(path) => Ok(path.clone()),
        None => Err(DataError::MissingFile {
            dir: dir.to_path_buf(),
            tried,
        }),
    }
}

/// One split from an image file and its label file; also returns the image
/// size.
fn load_split(images: &Path, labels: &Path) -> Result<(Split, usize, usize), DataError> {
    let img = read_idx_images(images)?;
    let lab = read_idx_labels(labels)?;
    if img.n != lab.len() {
        return Err(DataError::CountMismatch {
            images: images.to_path_buf(),
            n_images: img.n,
            labels: labels.to_path_buf(),
            n_labels: lab.len(),
        });
    }
    if let Some((index, &label)) = lab.iter().enumerate().find(|(_, l)| **l > 9) {
        return Err(DataError::LabelOutOfRange {
            path: labels.to_path_buf(),
            index,
            label,
        });
    }
    let split = Split {
        inputs: img.pixels.iter().map(|&p| f32::from(p) / 255.0).collect(),
        n: img.n,
        in_dim: img.rows * img.cols,
        targets: Targets::Classes {
            labels: lab.into_iter().map(u32::from).collect(),
            classes: 10,
        },
    };
    Ok((split, img.rows, img.cols))
}

/// Reads an IDX image file (magic 2051: big-endian `u32` magic, count, rows,
/// columns, then `u8` pixels), plain or gzipped (detected by the gzip magic
/// bytes `1f 8b`). Bytes after the last image are ignored.
pub fn read_idx_images(path: &Path) -> Result<IdxImages, DataError> {
    let mut reader = IdxReader::open(path)?;
    let dims = reader.header(IMAGES_MAGIC, 3)?;
    let [n, rows, cols] = [dims[0], dims[1], dims[2]];
    let pixels = reader.payload(&[n, rows, cols])?;
    Ok(IdxImages {
        pixels,
        n: n as usize,
        rows: rows as usize,
        cols: cols as usize,
    })
}

/// Reads an IDX label file (magic 2049: big-endian `u32` magic and count,
/// then one `u8` per label), plain or gzipped (detected by the gzip magic
/// bytes `1f 8b`). Label values are not checked here ([`load_mnist`] does).
pub fn read_idx_labels(path: &Path) -> Result<Vec<u8>, DataError> {
    let mut reader = IdxReader::open(path)?;
    let dims = reader.header(LABELS_MAGIC, 1)?;
    reader.payload(&dims)
}

/// A sequential reader over a (possibly gzipped) IDX file.
struct IdxReader {
    inner: Box<dyn Read>,
    path: PathBuf,
    gzipped: bool,
    /// Bytes consumed so far (after decompression).
    consumed: u64,
}

impl IdxReader {
    fn open(path: &Path) -> Result<Self, DataError> {
        let io_err = |source| DataError::Io {
            path: path.to_path_buf(),
            source,
        };
        let mut file = BufReader::new(File::open(path).map_err(io_err)?);
        let gzipped = file.fill_buf().map_err(io_err)?.starts_with(&GZIP_MAGIC);
        let inner: Box<dyn Read> = if gzipped {
            Box::new(MultiGzDecoder::new(file))
        } else {
            Box::new(file)
        };
        Ok(IdxReader {
            inner,
            path: path.to_path_buf(),
            gzipped,
            consumed: 0,
        })
    }

    fn error(&self, err: io::Error) -> DataError {
        if self.gzipped {
            DataError::CorruptGzip {
                path: self.path.clone(),
                message: err.to_string(),
            }
        } else {
            DataError::Io {
                path: self.path.clone(),
                source: err,
            }
        }
    }

    /// Reads at most `limit` more bytes.
    fn read_up_to(&mut self, limit: u64) -> Result<Vec<u8>, DataError> {
        let mut buf = Vec::with_capacity(limit.min(MAX_RESERVE) as usize);
        let read = (&mut self.inner).take(limit).read_to_end(&mut buf);
        read.map_err(|e| self.error(e))?;
        self.consumed += buf.len() as u64;
        Ok(buf)
    }

    /// Reads and checks the magic number, then reads `ndims` dimensions.
    fn header(&mut self, magic: u32, ndims: usize) -> Result<Vec<u32>, DataError> {
        let len = 4 * (1 + ndims) as u64;
        let bytes = self.read_up_to(len)?;
        let words: Vec<u32> = bytes
            .chunks_exact(4)
            .map(|w| u32::from_be_bytes([w[0], w[1], w[2], w[3]]))
            .collect();
        match words.first() {
            Some(&found) if found != magic => Err(DataError::WrongMagic {
                path: self.path.clone(),
                expected: magic,
                found,
            }),
            _ if (bytes.len() as u64) < len => Err(DataError::Truncated {
                path: self.path.clone(),
                expected: len,
                found: bytes.len() as u64,
            }),
            _ => Ok(words[1..].to_vec()),
        }
    }

    /// Reads the `u8` payload of an array with dimensions `dims`.
    fn payload(&mut self, dims: &[u32]) -> Result<Vec<u8>, DataError> {
        let size = dims
            .iter()
            .try_fold(1u64, |acc, &d| acc.checked_mul(u64::from(d)))
            .filter(|&s| usize::try_from(s).is_ok())
            .ok_or_else(|| DataError::BadHeader {
                path: self.path.clone(),
                message: format!("dimensions {dims:?} describe too many bytes"),
            })?;
        let start = self.consumed;
        let data = self.read_up_to(size)?;
        if (data.len() as u64) < size {
            return Err(DataError::Truncated {
                path: self.path.clone(),
                expected: start + size,
                found: self.consumed,
            });
        }
        if self.gzipped {
            // Read on to the end of the stream (bounded) so that a damaged
            // stream or a bad checksum is reported.
            let drained = io::copy(&mut (&mut self.inner).take(MAX_TRAILER), &mut io::sink());
            drained.map_err(|e| self.error(e))?;
        }
        Ok(data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directory_resolution_order() {
        let flag = Path::new("/from/flag");
        let env = Some(std::ffi::OsString::from("/from/env"));
        assert_eq!(resolve_dir(Some(flag), env.clone()), flag);
        assert_eq!(resolve_dir(None, env), Path::new("/from/env"));
        assert_eq!(
            resolve_dir(None, Some(std::ffi::OsString::new())),
            Path::new("../shared/data/mnist")
        );
        assert_eq!(resolve_dir(None, None), Path::new("../shared/data/mnist"));
        assert_eq!(default_mnist_dir(Some(flag)), flag);
    }
}
