//! A user's CSV file of measurements as a [`Dataset`], plus input
//! standardisation.
//!
//! The file needs a header row of column names. Cells are trimmed and parsed
//! as `f64`, then stored as `f32`. Empty lines are allowed only at the end.

use std::path::{Path, PathBuf};

use ::csv::{ReaderBuilder, StringRecord, Trim};
use rand::seq::SliceRandom;

use crate::rng::seeded;
use crate::{DataError, Dataset, MAX_CLASSES, Split, Targets};

/// How [`read_csv`] turns the columns of a CSV file into a dataset.
#[derive(Debug, Clone, PartialEq)]
pub struct CsvOptions {
    /// Names of the target columns (the other columns are inputs, in file
    /// order).
    pub targets: Vec<String>,
    /// Classification: exactly one target column holding class labels
    /// `0..k-1` (non-negative integers written as numbers, e.g. `2` or
    /// `2.0`), each of them present and `k` at least 2; the dataset's
    /// [`Targets::Classes`] has `classes` = k. Otherwise regression.
    pub classification: bool,
    /// Fraction of rows in the test split, in `[0, 1)`; rows are shuffled
    /// with `seed` first (reproducible). The test split gets
    /// `round(rows * test_fraction)` rows.
    pub test_fraction: f64,
    /// Seed of the shuffle that assigns rows to the splits.
    pub seed: u64,
}

/// Reads a CSV file of measurements as a train/test [`Dataset`].
///
/// The columns named in [`CsvOptions::targets`] are the targets (in the
/// order given); every other column is an input, in file order.
/// `input_names` are the input column names; `output_names` are the target
/// names, or for classification one name `"<target>=<k>"` per class `k`.
/// The rows are shuffled with a `ChaCha8Rng` seeded with
/// [`CsvOptions::seed`]; the first `rows - round(rows * test_fraction)` form
/// the training split and the rest the test split.
///
/// # Errors
///
/// A one-line [`DataError`] naming the file (and the line and column where
/// relevant) when the file cannot be read or parsed, the header has a
/// duplicate name, a row is ragged or a line in the middle is empty, a
/// cell is not a finite number, a target column is missing, no input column
/// is left, there are fewer than 2 data rows, a class label is not a
/// non-negative integer, the labels are one class or skip one of `0..k-1`
/// (naming the labels found and missing), the test fraction is not in `[0, 1)`, or one of
/// the splits would be empty.
///
/// # Example
///
/// ```
/// use bimt_data::{CsvOptions, Targets, read_csv};
///
/// let path = std::env::temp_dir().join(format!("bimt-doc-{}.csv", std::process::id()));
/// std::fs::write(&path, "a,b,y\n1,2,3\n4,5,9\n7,8,15\n0,1,1\n").unwrap();
/// let options = CsvOptions {
///     targets: vec!["y".into()],
///     classification: false,
///     test_fraction: 0.25,
///     seed: 7,
/// };
/// let data = read_csv(&path, &options).unwrap();
/// std::fs::remove_file(&path).unwrap();
/// assert_eq!(data.input_names, ["a", "b"]);
/// assert_eq!(data.output_names, ["y"]);
/// assert_eq!((data.train.n, data.test.n), (3, 1));
/// // Every row keeps y = a + b whatever split it landed in.
/// for split in [&data.train, &data.test] {
///     for i in 0..split.n {
///         let (x, y) = (split.row(i), split.target_row(i).unwrap());
///         assert_eq!(x[0] + x[1], y[0]);
///     }
/// }
/// ```
pub fn read_csv(path: &Path, options: &CsvOptions) -> Result<Dataset, DataError> {
    let test_fraction = options.test_fraction;
    if !(0.0..1.0).contains(&test_fraction) {
        return Err(DataError::CsvTestFraction {
            path: path.to_path_buf(),
            value: test_fraction,
        });
    }
    let table = Table::read(path)?;

    if options.targets.is_empty() {
        return Err(DataError::CsvNoTargets {
            path: table.path.clone(),
        });
    }
    if options.classification && options.targets.len() != 1 {
        return Err(DataError::CsvClassTargets {
            path: table.path.clone(),
            found: options.targets.len(),
        });
    }
    for (i, name) in options.targets.iter().enumerate() {
        if options.targets[..i].contains(name) {
            return Err(DataError::CsvDuplicateTarget {
                path: table.path.clone(),
                name: name.clone(),
            });
        }
    }
    let target_cols = options
        .targets
        .iter()
        .map(|name| table.column(name))
        .collect::<Result<Vec<_>, _>>()?;
    let input_cols: Vec<usize> = (0..table.header.len())
        .filter(|c| !target_cols.contains(c))
        .collect();
    if input_cols.is_empty() {
        return Err(DataError::CsvNoInputs {
            path: table.path.clone(),
            columns: table.header.len(),
        });
    }
    let n = table.rows.len();
    if n < 2 {
        return Err(DataError::CsvTooFewRows {
            path: table.path.clone(),
            rows: n,
        });
    }

    let inputs = table.values(&input_cols)?;
    let (targets, output_names) = if options.classification {
        let col = target_cols[0];
        let labels = table.labels(col)?;
        let classes = table.classes(col, &labels)?;
        let name = &table.header[col];
        let names = (0..classes).map(|k| format!("{name}={k}")).collect();
        (Targets::Classes { labels, classes }, names)
    } else {
        let values = table.values(&target_cols)?;
        let targets = Targets::Regression {
            values,
            dim: target_cols.len(),
        };
        (targets, options.targets.clone())
    };

    let n_test = (n as f64 * test_fraction).round() as usize;
    if test_fraction > 0.0 && n_test == 0 {
        return Err(DataError::CsvEmptyTestSplit {
            path: table.path.clone(),
            rows: n,
            test_fraction,
        });
    }
    if n_test >= n {
        return Err(DataError::CsvEmptyTrainSplit {
            path: table.path.clone(),
            rows: n,
            test_fraction,
        });
    }
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(&mut seeded(options.seed));
    let (train_idx, test_idx) = order.split_at(n - n_test);

    let all = Split {
        inputs,
        n,
        in_dim: input_cols.len(),
        targets,
    };
    Ok(Dataset {
        train: all.subset(train_idx),
        test: all.subset(test_idx),
        input_names: input_cols
            .iter()
            .map(|&c| table.header[c].clone())
            .collect(),
        output_names,
        rows_per_sample: 1,
    })
}

/// For prediction: reads the named input columns (in the order of
/// `columns`) from a CSV file with a header; other columns are ignored.
/// Returns the row-major values (`rows * columns.len()` of them) and the
/// number of rows, which may be 0.
///
/// # Errors
///
/// As [`read_csv`] for unreadable files, duplicate header names, ragged
/// rows, empty lines in the middle and non-finite or non-numeric cells (in
/// the requested columns); [`DataError::CsvUnknownColumn`] for a requested
/// column the header lacks.
///
/// # Example
///
/// ```
/// use bimt_data::read_csv_columns;
///
/// let path = std::env::temp_dir().join(format!("bimt-doc-cols-{}.csv", std::process::id()));
/// std::fs::write(&path, "id,b,a\nfirst,2,1\nsecond,4,3\n").unwrap();
/// let (values, rows) = read_csv_columns(&path, &["a".into(), "b".into()]).unwrap();
/// std::fs::remove_file(&path).unwrap();
/// assert_eq!(rows, 2);
/// assert_eq!(values, [1.0, 2.0, 3.0, 4.0]);
/// ```
pub fn read_csv_columns(path: &Path, columns: &[String]) -> Result<(Vec<f32>, usize), DataError> {
    let table = Table::read(path)?;
    let cols = columns
        .iter()
        .map(|name| table.column(name))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((table.values(&cols)?, table.rows.len()))
}

/// The per-column shift and scale applied by [`standardise`]: a value `v`
/// of input column `j` becomes `(v - mean[j]) / std[j]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Standardisation {
    /// Mean of each input column over the training split.
    pub mean: Vec<f64>,
    /// Standard deviation (population) of each input column over the
    /// training split; 1 for a constant column.
    pub std: Vec<f64>,
}

impl Standardisation {
    /// Applies the transform to row-major values with `mean.len()` columns
    /// (for example rows read by [`read_csv_columns`] for prediction). The
    /// value at position `i` belongs to column `i % mean.len()`; nothing
    /// happens when there are no columns.
    pub fn apply(&self, row_major: &mut [f32]) {
        let d = self.mean.len();
        if d == 0 {
            return;
        }
        for (i, v) in row_major.iter_mut().enumerate() {
            let j = i % d;
            *v = ((f64::from(*v) - self.mean[j]) / self.std[j]) as f32;
        }
    }
}

/// Shifts and scales every input column to mean 0 and standard deviation 1
/// using the statistics of the training split, applies the same transform
/// to both splits, and returns it (to apply to new rows at prediction time).
/// A constant column is only shifted (its `std` is 1). With an empty
/// training split every mean is 0 and every std 1.
///
/// # Example
///
/// ```
/// use bimt_data::{Dataset, Split, Targets, standardise};
///
/// let split = |inputs: Vec<f32>| Split {
///     n: inputs.len(),
///     inputs,
///     in_dim: 1,
///     targets: Targets::Classes { labels: vec![0; 2], classes: 1 },
/// };
/// let mut data = Dataset {
///     train: split(vec![1.0, 3.0]),
///     test: split(vec![5.0, 2.0]),
///     input_names: vec!["x".into()],
///     output_names: vec!["c=0".into()],
///     rows_per_sample: 1,
/// };
/// let s = standardise(&mut data);
/// assert_eq!((s.mean[0], s.std[0]), (2.0, 1.0));
/// assert_eq!(data.train.inputs, [-1.0, 1.0]);
/// assert_eq!(data.test.inputs, [3.0, 0.0]);
/// ```
pub fn standardise(data: &mut Dataset) -> Standardisation {
    let d = data.train.in_dim;
    let rows = || data.train.inputs.chunks_exact(d.max(1)).take(data.train.n);
    let mut mean = vec![0.0; d];
    let mut std = vec![1.0; d];
    if d > 0 && data.train.n > 0 {
        for j in 0..d {
            let column = || rows().map(|r| f64::from(r[j]));
            let lo = column().fold(f64::INFINITY, f64::min);
            let hi = column().fold(f64::NEG_INFINITY, f64::max);
            if lo == hi {
                // Exactly constant: shift to 0, keep the scale.
                mean[j] = lo;
                continue;
            }
            let count = column().count() as f64;
            let m = column().sum::<f64>() / count;
            let var = column().map(|v| (v - m) * (v - m)).sum::<f64>() / count;
            mean[j] = m;
            std[j] = if var > 0.0 && var.is_finite() {
                var.sqrt()
            } else {
                1.0
            };
        }
    }
    let s = Standardisation { mean, std };
    s.apply(&mut data.train.inputs);
    if data.test.in_dim == d {
        s.apply(&mut data.test.inputs);
    }
    s
}

/// A parsed CSV file: trimmed header names and the raw data rows, each with
/// its 1-based line number; every row has as many cells as the header.
struct Table {
    path: PathBuf,
    header: Vec<String>,
    rows: Vec<(usize, StringRecord)>,
}

impl Table {
    fn read(path: &Path) -> Result<Table, DataError> {
        let path_buf = path.to_path_buf();
        let bytes = std::fs::read(path).map_err(|source| DataError::Io {
            path: path_buf.clone(),
            source,
        })?;
        let mut reader = ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .trim(Trim::All)
            .from_reader(bytes.as_slice());
        let mut header: Option<Vec<String>> = None;
        let mut rows = Vec::new();
        let mut record = StringRecord::new();
        let mut lines = LineCounter { byte: 0, line: 1 };
        loop {
            match reader.read_record(&mut record) {
                Ok(true) => {}
                Ok(false) => break,
                Err(e) => {
                    return Err(DataError::CsvParse {
                        path: path_buf,
                        message: e.to_string().replace('\n', " "),
                    });
                }
            }
            // The reader skips empty lines silently and reports the position
            // where it started looking (possibly between the `\r` and `\n`
            // of the previous row's terminator), so any empty lines lie
            // between that position and the record's first byte.
            let mut start = record.position().map_or(0, |p| p.byte() as usize);
            if start > 0 && bytes[start - 1] == b'\r' && bytes.get(start) == Some(&b'\n') {
                start += 1;
            }
            let gap = bytes[start..]
                .iter()
                .take_while(|b| matches!(b, b'\n' | b'\r'))
                .count();
            if gap > 0 {
                return Err(DataError::CsvEmptyLine {
                    path: path_buf,
                    line: lines.line_at(&bytes, start),
                });
            }
            let line = lines.line_at(&bytes, start);
            match &header {
                None => header = Some(parse_header(&path_buf, &record)?),
                Some(names) => {
                    if record.len() != names.len() {
                        return Err(DataError::CsvRagged {
                            path: path_buf,
                            line,
                            expected: names.len(),
                            found: record.len(),
                        });
                    }
                    rows.push((line, record.clone()));
                }
            }
        }
        let header = header.ok_or_else(|| DataError::CsvNoHeader {
            path: path_buf.clone(),
        })?;
        Ok(Table {
            path: path_buf,
            header,
            rows,
        })
    }

    /// The 0-based index of the column called `name`.
    fn column(&self, name: &str) -> Result<usize, DataError> {
        let wanted = name.trim();
        self.header
            .iter()
            .position(|h| h == wanted)
            .ok_or_else(|| DataError::CsvUnknownColumn {
                path: self.path.clone(),
                name: name.to_string(),
                available: self.header.clone(),
            })
    }

    /// The finite number in row `r`, column `col` (0-based).
    fn number(&self, r: usize, col: usize) -> Result<f64, DataError> {
        let (line, record) = &self.rows[r];
        let cell = record.get(col).unwrap_or_default();
        let err_fields = || {
            (
                self.path.clone(),
                self.header[col].clone(),
                cell.to_string(),
            )
        };
        let value: f64 = cell.parse().map_err(|_| {
            let (path, column, cell) = err_fields();
            DataError::CsvNotNumeric {
                path,
                line: *line,
                column,
                index: col + 1,
                cell,
            }
        })?;
        if !value.is_finite() || !(value as f32).is_finite() {
            let (path, column, cell) = err_fields();
            return Err(DataError::CsvNonFinite {
                path,
                line: *line,
                column,
                index: col + 1,
                cell,
            });
        }
        Ok(value)
    }

    /// The row-major values of columns `cols` (0-based), as `f32`.
    fn values(&self, cols: &[usize]) -> Result<Vec<f32>, DataError> {
        let mut out = Vec::with_capacity(self.rows.len() * cols.len());
        for r in 0..self.rows.len() {
            for &c in cols {
                out.push(self.number(r, c)? as f32);
            }
        }
        Ok(out)
    }

    /// The class labels in column `col` (0-based).
    fn labels(&self, col: usize) -> Result<Vec<u32>, DataError> {
        (0..self.rows.len())
            .map(|r| {
                let v = self.number(r, col)?;
                if v >= 0.0 && v.fract() == 0.0 && v < MAX_CLASSES as f64 {
                    Ok(v as u32)
                } else {
                    let (line, record) = &self.rows[r];
                    Err(DataError::CsvBadLabel {
                        path: self.path.clone(),
                        line: *line,
                        column: self.header[col].clone(),
                        index: col + 1,
                        cell: record.get(col).unwrap_or_default().to_string(),
                    })
                }
            })
            .collect()
    }

    /// The number of classes `k` of the labels of column `col`: every label `0..k-1` must
    /// occur, and `k` must be at least 2 (one class would be learnt by a constant).
    fn classes(&self, col: usize, labels: &[u32]) -> Result<usize, DataError> {
        let mut seen = vec![false; labels.iter().max().map_or(0, |&m| m as usize + 1)];
        for &l in labels {
            seen[l as usize] = true;
        }
        let (found, missing): (Vec<u32>, Vec<u32>) =
            (0..seen.len() as u32).partition(|&l| seen[l as usize]);
        let (path, column, index) = (self.path.clone(), self.header[col].clone(), col + 1);
        if found.len() < 2 {
            return Err(DataError::CsvOneClass {
                path,
                column,
                index,
                found: label_runs(&found),
            });
        }
        if !missing.is_empty() {
            return Err(DataError::CsvLabelGaps {
                path,
                column,
                index,
                found: label_runs(&found),
                missing: label_runs(&missing),
                classes: found.len(),
            });
        }
        Ok(seen.len())
    }
}

/// Sorted labels as a short list of runs, `0, 3-5, 9`: at most [`LISTED_RUNS`] of them,
/// then `… (N in all)`.
fn label_runs(labels: &[u32]) -> String {
    let mut runs: Vec<(u32, u32)> = Vec::new();
    for &l in labels {
        match runs.last_mut() {
            Some((_, hi)) if *hi + 1 == l => *hi = l,
            _ => runs.push((l, l)),
        }
    }
    let mut text: Vec<String> = runs
        .iter()
        .take(LISTED_RUNS)
        .map(|&(lo, hi)| {
            if lo == hi {
                lo.to_string()
            } else {
                format!("{lo}-{hi}")
            }
        })
        .collect();
    if runs.len() > LISTED_RUNS {
        text.push(format!("… ({} in all)", labels.len()));
    }
    text.join(", ")
}

/// How many runs of labels an error lists before it abbreviates.
const LISTED_RUNS: usize = 8;

/// Finds 1-based line numbers of increasing byte offsets; a line ends at
/// `\n`, `\r\n` or a lone `\r`, as for the CSV reader.
struct LineCounter {
    /// The last offset asked for.
    byte: usize,
    /// Its line.
    line: usize,
}

impl LineCounter {
    /// The line of the byte at offset `at` (not below the last one asked).
    fn line_at(&mut self, bytes: &[u8], at: usize) -> usize {
        let at = at.min(bytes.len()).max(self.byte);
        self.line += bytes[self.byte..at]
            .iter()
            .enumerate()
            .filter(|&(i, &b)| {
                b == b'\n' || (b == b'\r' && bytes.get(self.byte + i + 1) != Some(&b'\n'))
            })
            .count();
        self.byte = at;
        self.line
    }
}

/// Trimmed header names (a leading byte-order mark removed), checked for
/// duplicates.
fn parse_header(path: &Path, record: &StringRecord) -> Result<Vec<String>, DataError> {
    let mut names: Vec<String> = Vec::with_capacity(record.len());
    for (i, cell) in record.iter().enumerate() {
        let cell = if i == 0 {
            cell.trim_start_matches('\u{feff}')
        } else {
            cell
        };
        let name = cell.trim().to_string();
        if let Some(first) = names.iter().position(|n| *n == name) {
            return Err(DataError::CsvDuplicateColumn {
                path: path.to_path_buf(),
                name,
                first: first + 1,
                second: i + 1,
            });
        }
        names.push(name);
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A CSV file in the temporary directory, removed on drop.
    struct TempCsv(PathBuf);

    impl TempCsv {
        fn new(tag: &str, text: &str) -> Self {
            let path = std::env::temp_dir()
                .join(format!("bimt-data-csv-{}-{tag}.csv", std::process::id()));
            std::fs::write(&path, text).unwrap();
            TempCsv(path)
        }
    }

    impl Drop for TempCsv {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    fn regression(targets: &[&str], test_fraction: f64) -> CsvOptions {
        CsvOptions {
            targets: targets.iter().map(|s| s.to_string()).collect(),
            classification: false,
            test_fraction,
            seed: 3,
        }
    }

    /// The error message of reading `text` with `options`, checked to be one
    /// line naming the file.
    fn error(tag: &str, text: &str, options: &CsvOptions) -> String {
        let file = TempCsv::new(tag, text);
        let err = read_csv(&file.0, options).unwrap_err().to_string();
        assert!(!err.contains('\n'), "{err}");
        assert!(err.contains(&file.0.display().to_string()), "{err}");
        err
    }

    /// Ten rows `i, 10 i, i + 0.5 | 2 i` (inputs a, b, c; target y in the
    /// middle).
    fn ten_rows() -> String {
        let mut text = String::from(" a , y ,b,c\n");
        for i in 0..10 {
            text += &format!("{i}, {}, {}, {}\n", 2 * i, 10 * i, f64::from(i) + 0.5);
        }
        text
    }

    #[test]
    fn regression_split_keeps_rows_together_and_is_reproducible() {
        let file = TempCsv::new("reg", &(ten_rows() + "\n\n"));
        let data = read_csv(&file.0, &regression(&["y"], 0.3)).unwrap();
        assert_eq!(data.input_names, ["a", "b", "c"]);
        assert_eq!(data.output_names, ["y"]);
        assert_eq!((data.train.n, data.test.n), (7, 3));
        assert_eq!((data.in_dim(), data.out_dim()), (3, 1));
        let mut seen = Vec::new();
        for split in [&data.train, &data.test] {
            for i in 0..split.n {
                let x = split.row(i);
                assert_eq!(x[1], 10.0 * x[0]);
                assert_eq!(x[2], x[0] + 0.5);
                assert_eq!(split.target_row(i).unwrap()[0], 2.0 * x[0]);
                seen.push(x[0] as usize);
            }
        }
        seen.sort_unstable();
        assert_eq!(seen, (0..10).collect::<Vec<_>>());
        // Same seed, same split; another seed shuffles differently.
        assert_eq!(read_csv(&file.0, &regression(&["y"], 0.3)).unwrap(), data);
        let other = CsvOptions {
            seed: 4,
            ..regression(&["y"], 0.3)
        };
        assert_ne!(read_csv(&file.0, &other).unwrap().train, data.train);
        // Fraction 0: everything is training data.
        let all = read_csv(&file.0, &regression(&["y"], 0.0)).unwrap();
        assert_eq!((all.train.n, all.test.n), (10, 0));
    }

    #[test]
    fn several_targets_in_the_order_given() {
        let file = TempCsv::new("multi", &ten_rows());
        let data = read_csv(&file.0, &regression(&["c", "y"], 0.2)).unwrap();
        assert_eq!(data.input_names, ["a", "b"]);
        assert_eq!(data.output_names, ["c", "y"]);
        let row = data.train.row(0);
        assert_eq!(
            data.train.target_row(0).unwrap(),
            [row[0] + 0.5, 2.0 * row[0]]
        );
    }

    #[test]
    fn classification_labels_and_names() {
        let text = "x1,label,x2\n0.5,2,1\n1.5,0.0,2\n2.5,2,3\n3.5,1,4\n";
        let file = TempCsv::new("class", text);
        let options = CsvOptions {
            targets: vec!["label".into()],
            classification: true,
            test_fraction: 0.25,
            seed: 1,
        };
        let data = read_csv(&file.0, &options).unwrap();
        assert_eq!(data.output_names, ["label=0", "label=1", "label=2"]);
        assert_eq!(data.out_dim(), 3);
        assert_eq!((data.train.n, data.test.n), (3, 1));
        for split in [&data.train, &data.test] {
            for i in 0..split.n {
                let expected = match split.row(i)[0] {
                    0.5 | 2.5 => 2,
                    1.5 => 0,
                    _ => 1,
                };
                assert_eq!(split.label(i), Some(expected));
            }
        }
        let bad = |cell: &str, tag: &str| {
            let text = format!("x,label\n1,0\n2,{cell}\n");
            error(tag, &text, &options)
        };
        let msg = bad("1.5", "label-frac");
        assert!(
            msg.contains("line 3") && msg.contains("\"label\" (2)"),
            "{msg}"
        );
        assert!(
            msg.contains("\"1.5\"") && msg.contains("non-negative integer"),
            "{msg}"
        );
        assert!(bad("-1", "label-neg").contains("\"-1\""));
        assert!(bad("1e9", "label-big").contains("\"1e9\""));
        let two = CsvOptions {
            targets: vec!["x".into(), "label".into()],
            ..options.clone()
        };
        let msg = error("class-two", text, &two);
        assert!(
            msg.contains("exactly one target") && msg.contains("2 given"),
            "{msg}"
        );
    }

    #[test]
    fn class_labels_must_be_every_label_from_zero() {
        let options = CsvOptions {
            targets: vec!["label".into()],
            classification: true,
            test_fraction: 0.0,
            seed: 1,
        };
        let rows = |labels: &[&str]| {
            let mut text = String::from("x,label\n");
            for (i, l) in labels.iter().enumerate() {
                text += &format!("{i},{l}\n");
            }
            text
        };
        // {0, 7} would silently make 8 outputs, six of them never seen.
        let msg = error("gap", &rows(&["0", "7", "0", "7"]), &options);
        assert!(msg.contains("column \"label\" (2)"), "{msg}");
        assert!(
            msg.contains("found 0, 7") && msg.contains("missing 1-6"),
            "{msg}"
        );
        // Labels that do not start at 0.
        let msg = error("from-one", &rows(&["1", "2", "3", "2.0"]), &options);
        assert!(
            msg.contains("found 1-3") && msg.contains("missing 0"),
            "{msg}"
        );
        // Many gaps are listed briefly, not one by one.
        let evens: Vec<String> = (0..100).map(|i| (2 * i).to_string()).collect();
        let evens: Vec<&str> = evens.iter().map(String::as_str).collect();
        let msg = error("evens", &rows(&evens), &options);
        assert!(
            msg.contains("15, … (99 in all)") && msg.len() < 400,
            "{msg}"
        );
        // One class would report 100 % accuracy for a constant.
        for labels in [["0", "0", "0"], ["3", "3", "3"]] {
            let msg = error("one", &rows(&labels), &options);
            assert!(
                msg.contains("at least two classes") && msg.contains(labels[0]),
                "{msg}"
            );
        }
        // 0..k-1, each present, in any order: fine.
        let file = TempCsv::new("ok", &rows(&["2", "0", "1", "1"]));
        assert_eq!(read_csv(&file.0, &options).unwrap().out_dim(), 3);
    }

    #[test]
    fn cell_errors_name_line_and_column() {
        let options = regression(&["y"], 0.0);
        let msg = error("nonnum", "a,b,y\n1,2,3\n4,five,6\n", &options);
        assert!(msg.contains("line 3, column \"b\" (2)"), "{msg}");
        assert!(msg.contains("\"five\" is not a number"), "{msg}");
        let msg = error("empty-cell", "a,b,y\n1,2,3\n4,,6\n", &options);
        assert!(msg.contains("\"\" is not a number"), "{msg}");
        for (tag, cell) in [("nan", "NaN"), ("inf", "-inf"), ("big", "1e300")] {
            let text = format!("a,b,y\n1,2,3\n4,5,{cell}\n");
            let msg = error(tag, &text, &options);
            assert!(msg.contains("line 3, column \"y\" (3)"), "{msg}");
            assert!(
                msg.contains(&format!("\"{cell}\"")) && msg.contains("infinite"),
                "{msg}"
            );
        }
    }

    #[test]
    fn ragged_rows_and_empty_lines() {
        let options = regression(&["y"], 0.0);
        let msg = error("ragged", "a,b,y\n1,2,3\n4,5\n7,8,9\n", &options);
        assert!(
            msg.contains("line 3") && msg.contains("expected 3 cells"),
            "{msg}"
        );
        assert!(msg.contains("found 2"), "{msg}");
        let msg = error("long", "a,b,y\n1,2,3,4\n", &options);
        assert!(msg.contains("line 2") && msg.contains("found 4"), "{msg}");
        let msg = error("gap", "a,b,y\n1,2,3\n\n4,5,6\n", &options);
        assert!(msg.contains("line 3 is empty"), "{msg}");
        let msg = error(
            "gap-crlf",
            "a,b,y\r\n1,2,3\r\n4,5,6\r\n\r\n7,8,9\r\n",
            &options,
        );
        assert!(msg.contains("line 4 is empty"), "{msg}");
        let msg = error("gap-cr", "a,b,y\r1,2,3\r\r4,5,6\r", &options);
        assert!(msg.contains("line 3 is empty"), "{msg}");
        let msg = error("crlf-cell", "a,b,y\r\n1,2,3\r\n4,x,6\r\n", &options);
        assert!(msg.contains("line 3, column \"b\" (2)"), "{msg}");
        let msg = error("lead", "\na,b,y\n1,2,3\n4,5,6\n", &options);
        assert!(msg.contains("line 1 is empty"), "{msg}");
        // A quoted cell spanning two lines does not shift later line numbers.
        let msg = error("quoted", "\"a\nb\",c,y\n1,2,3\n4,x,6\n", &options);
        assert!(msg.contains("line 4, column \"c\" (2)"), "{msg}");
        // Trailing empty lines (CRLF too) are fine.
        let file = TempCsv::new("trail", "a,b,y\r\n1,2,3\r\n4,5,6\r\n\r\n\r\n");
        assert_eq!(read_csv(&file.0, &options).unwrap().train.n, 2);
    }

    #[test]
    fn header_and_target_errors() {
        let options = regression(&["y"], 0.0);
        let msg = error("dup", "a, b ,b,y\n1,2,3,4\n5,6,7,8\n", &options);
        assert!(msg.contains("duplicate column name \"b\""), "{msg}");
        assert!(msg.contains("columns 2 and 3"), "{msg}");
        let msg = error("empty", "", &options);
        assert!(msg.contains("no header row"), "{msg}");
        let msg = error("missing", "a,b\n1,2\n3,4\n", &options);
        assert!(msg.contains("no column named \"y\""), "{msg}");
        assert!(msg.contains("available columns: a, b"), "{msg}");
        let msg = error("noinputs", "y,z\n1,2\n3,4\n", &regression(&["y", "z"], 0.0));
        assert!(msg.contains("no input column left"), "{msg}");
        let msg = error("notargets", "y,z\n1,2\n3,4\n", &regression(&[], 0.0));
        assert!(msg.contains("no target column"), "{msg}");
        let msg = error("twice", "x,y\n1,2\n3,4\n", &regression(&["y", "y"], 0.0));
        assert!(msg.contains("\"y\" is named twice"), "{msg}");
        let msg = error("onerow", "x,y\n1,2\n", &options);
        assert!(msg.contains("found 1, need at least 2"), "{msg}");
        let msg = error("norows", "x,y\n", &options);
        assert!(msg.contains("found 0, need at least 2"), "{msg}");
        // A byte-order mark does not become part of the first name.
        let file = TempCsv::new("bom", "\u{feff}x,y\n1,2\n3,4\n");
        let data = read_csv(&file.0, &options).unwrap();
        assert_eq!(data.input_names, ["x"]);
    }

    #[test]
    fn test_fraction_and_split_errors() {
        let text = "x,y\n1,2\n3,4\n5,6\n";
        for bad in [-0.1, 1.0, 1.5, f64::NAN] {
            let msg = error("frac", text, &regression(&["y"], bad));
            assert!(
                msg.contains("test fraction") && msg.contains("[0, 1)"),
                "{msg}"
            );
        }
        let msg = error("small-test", text, &regression(&["y"], 0.1));
        assert!(msg.contains("test split would be empty"), "{msg}");
        assert!(msg.contains("3 data rows"), "{msg}");
        let msg = error("small-train", text, &regression(&["y"], 0.9));
        assert!(msg.contains("training split would be empty"), "{msg}");
        assert!(msg.contains("3 data rows"), "{msg}");
    }

    #[test]
    fn unreadable_file_is_an_io_error() {
        let path = std::env::temp_dir().join("bimt-data-csv-does-not-exist.csv");
        let err = read_csv(&path, &regression(&["y"], 0.0)).unwrap_err();
        assert!(matches!(err, DataError::Io { .. }), "{err}");
        assert!(err.to_string().contains("does-not-exist"));
    }

    #[test]
    fn columns_for_prediction() {
        let file = TempCsv::new("cols", "name,x2,x1,unused\nfirst,2,1,zz\nsecond,4,3,\n");
        let cols = ["x1".to_string(), "x2".to_string()];
        let (values, rows) = read_csv_columns(&file.0, &cols).unwrap();
        assert_eq!(rows, 2);
        assert_eq!(values, [1.0, 2.0, 3.0, 4.0]);
        let err = read_csv_columns(&file.0, &["x3".to_string()]).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("\"x3\"") && msg.contains("name, x2, x1, unused"),
            "{msg}"
        );
        let msg = read_csv_columns(&file.0, &["name".to_string()])
            .unwrap_err()
            .to_string();
        assert!(msg.contains("line 2, column \"name\" (1)"), "{msg}");
        let empty = TempCsv::new("cols-empty", "x1,x2\n");
        assert_eq!(read_csv_columns(&empty.0, &cols).unwrap(), (vec![], 0));
    }

    #[test]
    fn standardise_uses_training_statistics() {
        let mut text = String::from("a,const,b,y\n");
        for i in 0..40 {
            let a = f64::from(i) * 0.37 - 3.0;
            let b = (f64::from(i) * 1.7).sin() * 50.0 + 100.0;
            text += &format!("{a},0.1,{b},{}\n", a + b);
        }
        let file = TempCsv::new("std", &text);
        let mut data = read_csv(&file.0, &regression(&["y"], 0.25)).unwrap();
        let raw_test = data.test.clone();
        let s = standardise(&mut data);
        assert_eq!(s.mean.len(), 3);
        assert_eq!(s.std[1], 1.0);
        let n = data.train.n as f64;
        for j in 0..3 {
            let col: Vec<f64> = (0..data.train.n)
                .map(|i| f64::from(data.train.row(i)[j]))
                .collect();
            let mean = col.iter().sum::<f64>() / n;
            let var = col.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
            assert!(mean.abs() < 1e-5, "column {j}: mean {mean}");
            let want_var = if j == 1 { 0.0 } else { 1.0 };
            assert!((var - want_var).abs() < 1e-5, "column {j}: var {var}");
        }
        // The test split gets the training transform, as does apply().
        let mut again = raw_test.inputs.clone();
        s.apply(&mut again);
        assert_eq!(again, data.test.inputs);
        let (r0, t0) = (raw_test.row(0), data.test.row(0));
        for j in [0, 2] {
            let want = (f64::from(r0[j]) - s.mean[j]) / s.std[j];
            assert!((f64::from(t0[j]) - want).abs() < 1e-5);
        }
        // Targets are untouched.
        assert_eq!(data.test.targets, raw_test.targets);
    }
}
