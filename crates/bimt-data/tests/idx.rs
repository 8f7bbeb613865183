//! Tests of the IDX reader and the MNIST loader, on synthetic files and on
//! the real MNIST files when present.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use bimt_data::{DataError, MNIST_FILES, Targets, load_mnist, read_idx_images, read_idx_labels};
use flate2::Compression;
use flate2::write::GzEncoder;

/// A fresh, empty temporary directory removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("bimt-data-test-{}-{tag}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn images_bytes(n: u32, rows: u32, cols: u32) -> Vec<u8> {
    let mut b = Vec::new();
    for w in [2051, n, rows, cols] {
        b.extend_from_slice(&u32::to_be_bytes(w));
    }
    b.extend((0..n * rows * cols).map(|i| (i * 37 % 256) as u8));
    b
}

fn labels_bytes(labels: &[u8]) -> Vec<u8> {
    let mut b = Vec::new();
    for w in [2049, labels.len() as u32] {
        b.extend_from_slice(&u32::to_be_bytes(w));
    }
    b.extend_from_slice(labels);
    b
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::new(), Compression::default());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

fn write(path: &Path, bytes: &[u8]) {
    std::fs::write(path, bytes).unwrap();
}

/// Writes a complete small MNIST directory: 5 train and 3 test 4×3 images.
fn write_mnist(dir: &TempDir, gz: bool) {
    let files = [
        images_bytes(5, 4, 3),
        labels_bytes(&[0, 9, 3, 3, 7]),
        images_bytes(3, 4, 3),
        labels_bytes(&[1, 2, 0]),
    ];
    for (name, bytes) in MNIST_FILES.iter().zip(files) {
        if gz {
            write(&dir.path(&format!("{name}.gz")), &gzip(&bytes));
        } else {
            write(&dir.path(name), &bytes);
        }
    }
}

fn assert_names(err: &DataError, path: &Path) {
    let msg = err.to_string();
    assert!(
        msg.contains(&path.display().to_string()),
        "message {msg:?} should name {}",
        path.display()
    );
    assert!(!msg.contains('\n'), "message should be one line: {msg:?}");
}

#[test]
fn reads_plain_and_gzipped_idx() {
    let dir = TempDir::new("read");
    let bytes = images_bytes(2, 3, 5);
    let plain = dir.path("images");
    let gz = dir.path("images-without-gz-suffix");
    write(&plain, &bytes);
    write(&gz, &gzip(&bytes));
    for path in [&plain, &gz] {
        let img = read_idx_images(path).unwrap();
        assert_eq!((img.n, img.rows, img.cols), (2, 3, 5));
        assert_eq!(img.pixels, bytes[16..]);
    }
    let labels = dir.path("labels.gz");
    write(&labels, &gzip(&labels_bytes(&[4, 2, 200])));
    assert_eq!(read_idx_labels(&labels).unwrap(), [4, 2, 200]);
}

#[test]
fn loads_a_small_mnist_directory() {
    for gz in [false, true] {
        let dir = TempDir::new("load");
        write_mnist(&dir, gz);
        let data = load_mnist(&dir.0).unwrap();
        assert_eq!((data.train.n, data.test.n), (5, 3));
        assert_eq!(data.train.in_dim, 12);
        assert_eq!(data.input_names.len(), 12);
        assert_eq!(data.input_names[0], "p(0,0)");
        assert_eq!(data.input_names[11], "p(3,2)");
        assert_eq!(
            data.output_names,
            ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"]
        );
        assert_eq!(
            data.train.targets,
            Targets::Classes {
                labels: vec![0, 9, 3, 3, 7],
                classes: 10
            }
        );
        let raw = images_bytes(5, 4, 3);
        for (v, b) in data.train.inputs.iter().zip(&raw[16..]) {
            assert_eq!(*v, f32::from(*b) / 255.0);
        }
        assert!(data.train.inputs.iter().all(|v| (0.0..=1.0).contains(v)));
    }
}

#[test]
fn plain_file_is_preferred_and_gzip_detected_by_content() {
    let dir = TempDir::new("prefer");
    write_mnist(&dir, true);
    // A plain-named file that is really gzipped, next to a broken .gz file.
    let name = MNIST_FILES[0];
    write(&dir.path(name), &gzip(&images_bytes(5, 4, 3)));
    write(&dir.path(&format!("{name}.gz")), b"garbage");
    assert_eq!(load_mnist(&dir.0).unwrap().train.n, 5);
}

#[test]
fn missing_file_lists_what_was_tried() {
    let dir = TempDir::new("missing");
    write_mnist(&dir, false);
    std::fs::remove_file(dir.path(MNIST_FILES[3])).unwrap();
    let err = load_mnist(&dir.0).unwrap_err();
    assert!(matches!(err, DataError::MissingFile { .. }), "{err:?}");
    let plain = dir.path(MNIST_FILES[3]);
    assert_names(&err, &plain);
    let msg = err.to_string();
    assert!(msg.contains(&format!("{}.gz", plain.display())), "{msg}");
    assert!(
        msg.contains("--data-dir") && msg.contains("BIMT_MNIST_DIR"),
        "{msg}"
    );

    let nowhere = dir.path("no-such-dir");
    let err = load_mnist(&nowhere).unwrap_err();
    assert!(matches!(err, DataError::MissingFile { .. }), "{err:?}");

    let err = read_idx_labels(&dir.path("absent")).unwrap_err();
    assert!(matches!(err, DataError::Io { .. }), "{err:?}");
    assert_names(&err, &dir.path("absent"));
}

#[test]
fn wrong_magic_reports_expected_and_found() {
    let dir = TempDir::new("magic");
    // A label file where an image file is expected.
    let path = dir.path("images");
    write(&path, &labels_bytes(&[1, 2, 3]));
    let err = read_idx_images(&path).unwrap_err();
    assert!(
        matches!(
            err,
            DataError::WrongMagic {
                expected: 2051,
                found: 2049,
                ..
            }
        ),
        "{err:?}"
    );
    assert_names(&err, &path);
    assert!(err.to_string().contains("2051") && err.to_string().contains("2049"));

    let path = dir.path("labels.gz");
    write(&path, &gzip(&images_bytes(1, 2, 2)));
    let err = read_idx_labels(&path).unwrap_err();
    assert!(
        matches!(
            err,
            DataError::WrongMagic {
                expected: 2049,
                found: 2051,
                ..
            }
        ),
        "{err:?}"
    );
    assert_names(&err, &path);
}

#[test]
fn truncated_files_are_reported_with_sizes() {
    let dir = TempDir::new("trunc");
    let full = images_bytes(4, 5, 5);
    let path = dir.path("images");
    write(&path, &full[..full.len() - 7]);
    let err = read_idx_images(&path).unwrap_err();
    assert!(
        matches!(
            err,
            DataError::Truncated {
                expected: 116,
                found: 109,
                ..
            }
        ),
        "{err:?}"
    );
    assert_names(&err, &path);
    assert!(err.to_string().contains("116") && err.to_string().contains("109"));

    // Truncated inside the header.
    write(&path, &full[..10]);
    let err = read_idx_images(&path).unwrap_err();
    assert!(
        matches!(
            err,
            DataError::Truncated {
                expected: 16,
                found: 10,
                ..
            }
        ),
        "{err:?}"
    );

    // Empty file.
    write(&path, &[]);
    let err = read_idx_labels(&path).unwrap_err();
    assert!(
        matches!(err, DataError::Truncated { found: 0, .. }),
        "{err:?}"
    );

    // A complete gzip stream of a truncated payload.
    let gz = dir.path("images.gz");
    write(&gz, &gzip(&full[..50]));
    let err = read_idx_images(&gz).unwrap_err();
    assert!(matches!(err, DataError::Truncated { .. }), "{err:?}");
    assert_names(&err, &gz);

    // A gzip stream cut short: either truncated or corrupt, never a panic.
    let packed = gzip(&full);
    write(&gz, &packed[..packed.len() / 2]);
    let err = read_idx_images(&gz).unwrap_err();
    assert!(
        matches!(
            err,
            DataError::Truncated { .. } | DataError::CorruptGzip { .. }
        ),
        "{err:?}"
    );
    assert_names(&err, &gz);
}

#[test]
fn huge_header_counts_do_not_allocate() {
    let dir = TempDir::new("huge");
    let path = dir.path("images");
    let mut bytes = Vec::new();
    for w in [2051u32, u32::MAX, u32::MAX, u32::MAX] {
        bytes.extend_from_slice(&w.to_be_bytes());
    }
    bytes.extend_from_slice(&[1, 2, 3]);
    write(&path, &bytes);
    let err = read_idx_images(&path).unwrap_err();
    assert!(matches!(err, DataError::BadHeader { .. }), "{err:?}");
    assert_names(&err, &path);

    // Large but representable: reported as truncated, not allocated.
    let mut bytes = Vec::new();
    for w in [2051u32, 1_000_000, 1000, 1000] {
        bytes.extend_from_slice(&w.to_be_bytes());
    }
    bytes.extend_from_slice(&[0; 100]);
    write(&path, &bytes);
    let err = read_idx_images(&path).unwrap_err();
    assert!(
        matches!(
            err,
            DataError::Truncated {
                expected: 1_000_000_000_016,
                found: 116,
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn corrupt_gzip_is_reported() {
    let dir = TempDir::new("gz");
    let path = dir.path("labels.gz");
    // gzip header, then a deflate block of the reserved type 3.
    let mut bytes = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
    bytes.extend_from_slice(&[0xff; 32]);
    write(&path, &bytes);
    let err = read_idx_labels(&path).unwrap_err();
    assert!(matches!(err, DataError::CorruptGzip { .. }), "{err:?}");
    assert_names(&err, &path);

    // A damaged checksum after a complete payload.
    let mut packed = gzip(&labels_bytes(&[1, 2, 3]));
    let n = packed.len();
    packed[n - 8] ^= 0xff;
    write(&path, &packed);
    let err = read_idx_labels(&path).unwrap_err();
    assert!(matches!(err, DataError::CorruptGzip { .. }), "{err:?}");
}

#[test]
fn count_mismatch_and_bad_labels_and_shape_mismatch() {
    let dir = TempDir::new("mismatch");
    write_mnist(&dir, false);
    let labels = dir.path(MNIST_FILES[1]);
    write(&labels, &labels_bytes(&[1, 2, 3, 4]));
    let err = load_mnist(&dir.0).unwrap_err();
    assert!(
        matches!(
            err,
            DataError::CountMismatch {
                n_images: 5,
                n_labels: 4,
                ..
            }
        ),
        "{err:?}"
    );
    assert_names(&err, &labels);
    assert_names(&err, &dir.path(MNIST_FILES[0]));

    write(&labels, &labels_bytes(&[1, 2, 10, 4, 5]));
    let err = load_mnist(&dir.0).unwrap_err();
    assert!(
        matches!(
            err,
            DataError::LabelOutOfRange {
                index: 2,
                label: 10,
                ..
            }
        ),
        "{err:?}"
    );
    assert_names(&err, &labels);

    write(&labels, &labels_bytes(&[1, 2, 3, 4, 5]));
    let test_images = dir.path(MNIST_FILES[2]);
    write(&test_images, &images_bytes(3, 3, 4));
    let err = load_mnist(&dir.0).unwrap_err();
    assert!(matches!(err, DataError::ShapeMismatch { .. }), "{err:?}");
    assert_names(&err, &test_images);
}

#[test]
fn real_mnist_when_present() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/mnist");
    if !dir.join(format!("{}.gz", MNIST_FILES[0])).exists() && !dir.join(MNIST_FILES[0]).exists() {
        println!("skipping: no MNIST files in {}", dir.display());
        return;
    }
    let data = load_mnist(&dir).unwrap();
    assert_eq!(data.train.n, 10_000);
    assert_eq!(data.test.n, 10_000);
    assert_eq!(data.in_dim(), 784);
    assert_eq!(data.input_names.len(), 784);
    assert_eq!(data.out_dim(), 10);
    for split in [&data.train, &data.test] {
        assert_eq!(split.inputs.len(), 784 * 10_000);
        let Targets::Classes {
            labels,
            classes: 10,
        } = &split.targets
        else {
            panic!("expected 10 classes");
        };
        let mut hist = [0usize; 10];
        for &l in labels {
            hist[l as usize] += 1;
        }
        // Every digit is between 5% and 15% of the split.
        assert!(hist.iter().all(|&c| (500..1500).contains(&c)), "{hist:?}");
        let mean = split.inputs.iter().map(|&v| f64::from(v)).sum::<f64>() / 7_840_000.0;
        assert!((0.1..0.2).contains(&mean), "mean pixel {mean}");
    }
}
