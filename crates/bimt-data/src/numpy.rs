//! NumPy `.npy` and `.npz` files as data: inputs `x` and targets `y`, read and checked, then
//! laid out as the rows a model reads (one row per sample, or per position of a sequence).

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use npyz::{DType, Deserialize, NpyFile, Order, TypeChar};
use rand::seq::SliceRandom;

use crate::rng::seeded;
use crate::{DataError, Dataset, Split, Targets};

/// The kind of data file `--data` names, by its extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DataFormat {
    /// `.csv`: a header row of column names (see [`crate::read_csv`]).
    Csv,
    /// `.npy`: one NumPy array; the targets are a second `.npy` file.
    Npy,
    /// `.npz`: a NumPy archive holding the arrays `x` and `y`.
    Npz,
}

impl DataFormat {
    /// The format of `path`, by its extension (case-insensitive).
    ///
    /// # Errors
    ///
    /// [`DataError::UnknownFormat`], naming the file and the three extensions, for any other.
    pub fn of(path: &Path) -> Result<Self, DataError> {
        let extension = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        match extension.as_deref() {
            Some("csv") => Ok(DataFormat::Csv),
            Some("npy") => Ok(DataFormat::Npy),
            Some("npz") => Ok(DataFormat::Npz),
            _ => Err(DataError::UnknownFormat {
                path: path.to_path_buf(),
            }),
        }
    }
}

/// The values of a [`NumpyArray`], in C order.
#[derive(Clone, Debug, PartialEq)]
pub enum NumpyValues {
    /// A float32 or float64 array (float64 stored as the nearest float32), every value finite.
    Floats(Vec<f32>),
    /// An integer array of any width, every value in `0..2^32`: token ids or class labels.
    Integers(Vec<u32>),
}

/// One array read from a `.npy` file or a `.npz` archive.
#[derive(Clone, Debug, PartialEq)]
pub struct NumpyArray {
    /// The file, and in an archive the array: `data.npz, array 'x'`. Every error names it so.
    pub name: String,
    /// Its shape; the first axis counts the samples.
    pub shape: Vec<usize>,
    /// Its dtype as NumPy names it (`float32`, `int64`, …).
    pub dtype: String,
    /// Its values.
    pub values: NumpyValues,
}

impl NumpyArray {
    /// Whether it holds integers (token ids or class labels).
    pub fn is_integer(&self) -> bool {
        matches!(self.values, NumpyValues::Integers(_))
    }

    /// Its largest value, for an integer array with at least one value.
    pub fn largest(&self) -> Option<u32> {
        match &self.values {
            NumpyValues::Integers(v) => v.iter().copied().max(),
            NumpyValues::Floats(_) => None,
        }
    }

    /// Checks that every value of an integer array is below `limit` (a float array holds no
    /// ids or labels to check); `what` (`token id`, `class label`) and `limit_name` (where the
    /// limit comes from) go into the error.
    ///
    /// # Errors
    ///
    /// [`DataError::NumpyOutOfRange`] for the first value at or above `limit`, naming the
    /// array, the sample, the element's index and the value.
    pub fn check_below(
        &self,
        limit: usize,
        what: &'static str,
        limit_name: &str,
    ) -> Result<(), DataError> {
        let NumpyValues::Integers(values) = &self.values else {
            return Ok(());
        };
        match values.iter().position(|&v| v as usize >= limit) {
            Some(i) => Err(DataError::NumpyOutOfRange {
                array: self.name.clone(),
                index: unflatten(i, &self.shape),
                what,
                value: values[i].to_string(),
                range: format!("0..{limit} ({limit_name})"),
            }),
            None => Ok(()),
        }
    }

    fn samples(&self) -> usize {
        self.shape[0]
    }

    fn len(&self) -> usize {
        match &self.values {
            NumpyValues::Floats(v) => v.len(),
            NumpyValues::Integers(v) => v.len(),
        }
    }
}

/// The inputs and the targets of a NumPy data set, each checked on its own and against the
/// other (see [`read_npy`]); [`NumpyData::dataset`] lays them out as rows.
#[derive(Clone, Debug, PartialEq)]
pub struct NumpyData {
    /// The inputs: floats `[n, features]`, `[n, T, features]` or images `[n, C, H, W]`, or
    /// integer token ids `[n, k]`.
    pub x: NumpyArray,
    /// The targets: floats `[n, outputs]` or `[n, T, outputs]`, or integer class labels `[n]`
    /// or `[n, T]`.
    pub y: NumpyArray,
}

/// What an array is for: its accepted shapes and dtypes differ.
#[derive(Clone, Copy)]
enum Role {
    Inputs,
    Targets,
}

impl Role {
    fn expected(self) -> &'static str {
        match self {
            Role::Inputs => {
                "inputs: float32/float64 [n, features], [n, T, features] or images \
                 [n, C, H, W], or integer token ids [n, k] or [n, T]"
            }
            Role::Targets => {
                "targets: float32/float64 [n, outputs] or [n, T, outputs], or integer class \
                 labels [n] or [n, T]"
            }
        }
    }

    fn dimensions(self, integer: bool) -> &'static [usize] {
        match (self, integer) {
            (Role::Inputs, false) => &[2, 3, 4],
            (Role::Targets, false) => &[2, 3],
            (Role::Inputs, true) => &[2],
            (Role::Targets, true) => &[1, 2],
        }
    }
}

/// Reads inputs and targets from two `.npy` files.
///
/// # Errors
///
/// A one-line [`DataError`] naming the file: it cannot be read or is no `.npy` file
/// ([`DataError::Io`], [`DataError::NumpyParse`]); a dtype other than float32, float64 or an
/// integer (object arrays included; [`DataError::NumpyDtype`]); Fortran order; a shape the
/// inputs or targets do not take, or no sample ([`DataError::NumpyShape`]); a NaN or an
/// infinity; a negative integer or one of 2^32 or more; inputs and targets with different
/// numbers of samples ([`DataError::NumpySampleCount`]).
///
/// # Example
///
/// ```
/// use bimt_data::{NumpyValues, read_npy};
/// use npyz::WriterBuilder;
///
/// let dir = std::env::temp_dir();
/// let (x, y) = (dir.join("bimt-doc-x.npy"), dir.join("bimt-doc-y.npy"));
/// let write = |path: &std::path::Path, shape: &[u64], values: &[f32]| {
///     let file = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
///     let options = npyz::WriteOptions::new().default_dtype().shape(shape).writer(file);
///     let mut writer = options.begin_nd().unwrap();
///     writer.extend(values.iter().copied()).unwrap();
///     writer.finish().unwrap();
/// };
/// write(&x, &[2, 3], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
/// write(&y, &[2, 1], &[6.0, 15.0]);
/// let data = read_npy(&x, &y).unwrap();
/// assert_eq!(data.x.shape, [2, 3]);
/// assert_eq!(data.y.values, NumpyValues::Floats(vec![6.0, 15.0]));
/// ```
pub fn read_npy(x: &Path, y: &Path) -> Result<NumpyData, DataError> {
    pair(
        read_npy_array(x, Role::Inputs)?,
        read_npy_array(y, Role::Targets)?,
    )
}

/// Reads inputs and targets from the arrays `x` and `y` of a `.npz` archive (as NumPy's
/// `np.savez(path, x=..., y=...)` or `np.savez_compressed` writes it: stored or deflated).
///
/// # Errors
///
/// As [`read_npy`], naming the archive and the array; and [`DataError::NumpyMissingArray`],
/// listing the arrays found, where `x` or `y` is missing.
pub fn read_npz(path: &Path) -> Result<NumpyData, DataError> {
    let mut archive = Npz::open(path)?;
    let x = archive.read("x", Role::Inputs)?;
    let y = archive.read("y", Role::Targets)?;
    pair(x, y)
}

/// Reads inputs alone (to predict from): a `.npy` file, or the array `x` of a `.npz` archive;
/// checked as [`read_npy`] and [`read_npz`] check them.
///
/// # Errors
///
/// As [`read_npy`] and [`read_npz`]; [`DataError::UnknownFormat`] for another extension.
pub fn read_numpy_inputs(path: &Path) -> Result<NumpyArray, DataError> {
    match DataFormat::of(path)? {
        DataFormat::Npy => read_npy_array(path, Role::Inputs),
        DataFormat::Npz => Npz::open(path)?.read("x", Role::Inputs),
        DataFormat::Csv => Err(DataError::UnknownFormat {
            path: path.to_path_buf(),
        }),
    }
}

/// Reads inputs and targets from the bytes of two `.npy` files held in memory (the Python
/// package's arrays), checked as [`read_npy`] checks files; `names` name them in errors.
///
/// # Errors
///
/// As [`read_npy`], naming the arrays by `names`.
pub fn read_npy_bytes(x: &[u8], y: &[u8], names: [&str; 2]) -> Result<NumpyData, DataError> {
    pair(
        npy_bytes(x, names[0], Role::Inputs)?,
        npy_bytes(y, names[1], Role::Targets)?,
    )
}

/// Reads inputs alone from the bytes of a `.npy` file held in memory, named `name` in
/// errors; checked as [`read_numpy_inputs`] checks a file.
///
/// # Errors
///
/// As [`read_numpy_inputs`].
pub fn read_npy_inputs_bytes(x: &[u8], name: &str) -> Result<NumpyArray, DataError> {
    npy_bytes(x, name, Role::Inputs)
}

fn npy_bytes(bytes: &[u8], name: &str, role: Role) -> Result<NumpyArray, DataError> {
    let path = Path::new(name);
    let npy = NpyFile::new(bytes).map_err(|e| parse(path, ".npy", e))?;
    read_array(npy, name.to_string(), path, ".npy", role)
}

fn read_npy_array(path: &Path, role: Role) -> Result<NumpyArray, DataError> {
    let npy = NpyFile::new(BufReader::new(open(path)?)).map_err(|e| parse(path, ".npy", e))?;
    read_array(npy, path.display().to_string(), path, ".npy", role)
}

/// An open `.npz` archive and the names of the arrays it holds.
struct Npz<'a> {
    path: &'a Path,
    archive: zip::ZipArchive<BufReader<File>>,
    found: Vec<String>,
}

impl<'a> Npz<'a> {
    fn open(path: &'a Path) -> Result<Self, DataError> {
        let archive = zip::ZipArchive::new(BufReader::new(open(path)?))
            .map_err(|e| parse(path, ".npz", e))?;
        let mut found: Vec<String> = archive
            .file_names()
            .filter_map(npyz::npz::array_name_from_file_name)
            .map(str::to_string)
            .collect();
        found.sort();
        Ok(Npz {
            path,
            archive,
            found,
        })
    }

    /// The array `name`, checked for `role`.
    fn read(&mut self, name: &str, role: Role) -> Result<NumpyArray, DataError> {
        let path = self.path;
        let entry = match self
            .archive
            .by_name(&npyz::npz::file_name_from_array_name(name))
        {
            Ok(entry) => entry,
            Err(zip::result::ZipError::FileNotFound) => {
                return Err(DataError::NumpyMissingArray {
                    path: path.to_path_buf(),
                    name: name.to_string(),
                    found: self.found.clone(),
                });
            }
            Err(e) => return Err(parse(path, ".npz", e)),
        };
        let npy = NpyFile::new(entry).map_err(|e| parse(path, ".npz", e))?;
        let array = format!("{}, array '{name}'", path.display());
        read_array(npy, array, path, ".npz", role)
    }
}

impl NumpyData {
    /// The number of samples (the first axis of both arrays).
    pub fn samples(&self) -> usize {
        self.x.samples()
    }

    /// Lays the arrays out as rows, `rows_per_sample` per sample (`T` for sequences, whose
    /// row `b·T + t` is position `t` of sequence `b`; else 1), and splits the samples (whole
    /// sequences) into training and test sets: shuffled with a `ChaCha8Rng` seeded with
    /// `seed`, the last `round(n · test_fraction)` form the test split. Integer targets are
    /// class labels out of `classes` (checked with [`NumpyArray::check_below`] first). Input
    /// names are `x[j]`; output names `y[j]`, or `y=k` per class.
    ///
    /// # Errors
    ///
    /// [`DataError::NumpyShape`] when an array's values are not `rows_per_sample` rows per
    /// sample (of integer targets: one label per row); [`DataError::NumpyOutOfRange`] for a
    /// label of `classes` or more; [`DataError::NumpyEmptySplit`] when a split would be
    /// empty (a positive fraction that rounds to no test sample, or to every sample).
    pub fn dataset(
        &self,
        rows_per_sample: usize,
        classes: usize,
        test_fraction: f64,
        seed: u64,
    ) -> Result<Dataset, DataError> {
        let n = self.samples();
        let rows = n * rows_per_sample.max(1);
        let per_row = |array: &NumpyArray, what: &str| {
            if rows_per_sample > 0 && array.len().is_multiple_of(rows) && array.len() > 0 {
                Ok(array.len() / rows)
            } else {
                Err(DataError::NumpyShape {
                    array: array.name.clone(),
                    expected: format!("{n} samples of {rows_per_sample} {what} each"),
                    found: array.shape.clone(),
                    dtype: array.dtype.clone(),
                })
            }
        };
        let in_dim = per_row(&self.x, "rows")?;
        let inputs = match &self.x.values {
            NumpyValues::Floats(v) => v.clone(),
            NumpyValues::Integers(v) => v.iter().map(|&id| id as f32).collect(),
        };
        let (targets, output_names) = match &self.y.values {
            NumpyValues::Floats(values) => {
                let dim = per_row(&self.y, "rows")?;
                let names = (0..dim).map(|j| format!("y[{j}]")).collect();
                let targets = Targets::Regression {
                    values: values.clone(),
                    dim,
                };
                (targets, names)
            }
            NumpyValues::Integers(labels) => {
                if per_row(&self.y, "labels (one per row)")? != 1 {
                    return Err(DataError::NumpyShape {
                        array: self.y.name.clone(),
                        expected: format!("one class label per row: shape [{n}] or [{n}, T]"),
                        found: self.y.shape.clone(),
                        dtype: self.y.dtype.clone(),
                    });
                }
                self.y
                    .check_below(classes, "class label", &format!("{classes} classes"))?;
                let names = (0..classes).map(|k| format!("y={k}")).collect();
                let targets = Targets::Classes {
                    labels: labels.clone(),
                    classes,
                };
                (targets, names)
            }
        };
        let n_test = (n as f64 * test_fraction).round() as usize;
        let empty = |which| DataError::NumpyEmptySplit {
            array: self.x.name.clone(),
            samples: n,
            test_fraction,
            which,
        };
        if test_fraction > 0.0 && n_test == 0 {
            return Err(empty("test"));
        }
        if n_test >= n {
            return Err(empty("training"));
        }
        let mut order: Vec<usize> = (0..n).collect();
        order.shuffle(&mut seeded(seed));
        let rows_of = |samples: &[usize]| -> Vec<usize> {
            let r = rows_per_sample;
            samples.iter().flat_map(|&s| s * r..(s + 1) * r).collect()
        };
        let (train, test) = order.split_at(n - n_test);
        let all = Split {
            inputs,
            n: rows,
            in_dim,
            targets,
        };
        Ok(Dataset {
            train: all.subset(&rows_of(train)),
            test: all.subset(&rows_of(test)),
            input_names: (0..in_dim).map(|j| format!("x[{j}]")).collect(),
            output_names,
            rows_per_sample,
        })
    }
}

/// The element index of the `flat`-th value of an array of `shape`, in C order.
fn unflatten(mut flat: usize, shape: &[usize]) -> Vec<usize> {
    let mut index = vec![0; shape.len()];
    for (i, &d) in shape.iter().enumerate().rev() {
        if d > 0 {
            index[i] = flat % d;
            flat /= d;
        }
    }
    index
}

fn open(path: &Path) -> Result<File, DataError> {
    File::open(path).map_err(|source| DataError::Io {
        path: path.to_path_buf(),
        source,
    })
}

fn parse(path: &Path, kind: &'static str, e: impl std::fmt::Display) -> DataError {
    DataError::NumpyParse {
        path: PathBuf::from(path),
        kind,
        message: e.to_string(),
    }
}

/// Checks that `x` and `y` count the same samples.
fn pair(x: NumpyArray, y: NumpyArray) -> Result<NumpyData, DataError> {
    if x.samples() != y.samples() {
        return Err(DataError::NumpySampleCount {
            x_samples: x.samples(),
            y_samples: y.samples(),
            x: x.name,
            x_shape: x.shape,
            y: y.name,
            y_shape: y.shape,
        });
    }
    Ok(NumpyData { x, y })
}

/// The element types accepted, as NumPy names them.
#[derive(Clone, Copy)]
enum Element {
    F32,
    F64,
    I8,
    I16,
    I32,
    I64,
    U8,
    U16,
    U32,
    U64,
}

impl Element {
    fn of(dtype: &DType) -> Option<Self> {
        let DType::Plain(ty) = dtype else {
            return None;
        };
        Some(match (ty.type_char(), ty.size_field()) {
            (TypeChar::Float, 4) => Element::F32,
            (TypeChar::Float, 8) => Element::F64,
            (TypeChar::Int, 1) => Element::I8,
            (TypeChar::Int, 2) => Element::I16,
            (TypeChar::Int, 4) => Element::I32,
            (TypeChar::Int, 8) => Element::I64,
            (TypeChar::Uint, 1) => Element::U8,
            (TypeChar::Uint, 2) => Element::U16,
            (TypeChar::Uint, 4) => Element::U32,
            (TypeChar::Uint, 8) => Element::U64,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            Element::F32 => "float32",
            Element::F64 => "float64",
            Element::I8 => "int8",
            Element::I16 => "int16",
            Element::I32 => "int32",
            Element::I64 => "int64",
            Element::U8 => "uint8",
            Element::U16 => "uint16",
            Element::U32 => "uint32",
            Element::U64 => "uint64",
        }
    }

    fn is_integer(self) -> bool {
        !matches!(self, Element::F32 | Element::F64)
    }
}

/// Reads and checks one array: dtype, order, shape for its role, values.
fn read_array<R: Read>(
    npy: NpyFile<R>,
    name: String,
    path: &Path,
    kind: &'static str,
    role: Role,
) -> Result<NumpyArray, DataError> {
    let dtype = npy.dtype();
    let element = match Element::of(&dtype) {
        Some(e) if !npy.uses_pickled_array() => e,
        _ => {
            return Err(DataError::NumpyDtype {
                array: name,
                found: dtype.descr(),
                expected: match role {
                    Role::Inputs => {
                        "float32 or float64 inputs, or integer token ids (int8 to int64, uint8 \
                         to uint64)"
                    }
                    Role::Targets => {
                        "float32 or float64 targets, or integer class labels (int8 to int64, \
                         uint8 to uint64)"
                    }
                },
            });
        }
    };
    let shape: Vec<usize> = npy.shape().iter().map(|&d| d as usize).collect();
    if npy.order() == Order::Fortran && shape.len() > 1 {
        return Err(DataError::NumpyFortranOrder { array: name, shape });
    }
    let bad_shape = |expected: String, shape: Vec<usize>| DataError::NumpyShape {
        array: name.clone(),
        expected,
        found: shape,
        dtype: element.name().to_string(),
    };
    if !role.dimensions(element.is_integer()).contains(&shape.len()) {
        return Err(bad_shape(role.expected().to_string(), shape));
    }
    if shape[0] == 0 {
        return Err(bad_shape("at least one sample".into(), shape));
    }
    if shape.contains(&0) {
        return Err(bad_shape("no axis of length 0".into(), shape));
    }
    let read_error = |e: std::io::Error| parse(path, kind, e);
    let values = match element {
        Element::F32 => floats(&name, &shape, read::<f32, _>(npy, read_error)?, f64::from)?,
        Element::F64 => floats(&name, &shape, read::<f64, _>(npy, read_error)?, |v| v)?,
        Element::I8 => integers(&name, &shape, read::<i8, _>(npy, read_error)?)?,
        Element::I16 => integers(&name, &shape, read::<i16, _>(npy, read_error)?)?,
        Element::I32 => integers(&name, &shape, read::<i32, _>(npy, read_error)?)?,
        Element::I64 => integers(&name, &shape, read::<i64, _>(npy, read_error)?)?,
        Element::U8 => integers(&name, &shape, read::<u8, _>(npy, read_error)?)?,
        Element::U16 => integers(&name, &shape, read::<u16, _>(npy, read_error)?)?,
        Element::U32 => integers(&name, &shape, read::<u32, _>(npy, read_error)?)?,
        Element::U64 => integers(&name, &shape, read::<u64, _>(npy, read_error)?)?,
    };
    Ok(NumpyArray {
        name,
        shape,
        dtype: element.name().to_string(),
        values,
    })
}

fn read<T: Deserialize, R: Read>(
    npy: NpyFile<R>,
    error: impl Fn(std::io::Error) -> DataError,
) -> Result<Vec<T>, DataError> {
    npy.into_vec::<T>().map_err(error)
}

/// Float values as `f32`, each finite.
fn floats<T: Copy>(
    name: &str,
    shape: &[usize],
    values: Vec<T>,
    wide: impl Fn(T) -> f64,
) -> Result<NumpyValues, DataError> {
    let mut out = Vec::with_capacity(values.len());
    for (i, &v) in values.iter().enumerate() {
        let value = wide(v);
        let narrow = value as f32;
        if !narrow.is_finite() {
            return Err(DataError::NumpyNonFinite {
                array: name.to_string(),
                index: unflatten(i, shape),
                value,
            });
        }
        out.push(narrow);
    }
    Ok(NumpyValues::Floats(out))
}

/// Integer values as `u32`, each in `0..2^32`.
fn integers<T: Copy + Into<i128>>(
    name: &str,
    shape: &[usize],
    values: Vec<T>,
) -> Result<NumpyValues, DataError> {
    let mut out = Vec::with_capacity(values.len());
    for (i, &v) in values.iter().enumerate() {
        let value: i128 = v.into();
        let Ok(id) = u32::try_from(value) else {
            return Err(DataError::NumpyOutOfRange {
                array: name.to_string(),
                index: unflatten(i, shape),
                what: "integer",
                value: value.to_string(),
                range: "0..2^32 (token ids and class labels)".into(),
            });
        };
        out.push(id);
    }
    Ok(NumpyValues::Integers(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use npyz::WriterBuilder;

    /// A directory of fixtures in the temporary directory, removed on drop.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new(tag: &str) -> Self {
            let dir =
                std::env::temp_dir().join(format!("bimt-data-numpy-{}-{tag}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            TempDir(dir)
        }

        /// Writes `values` as an array of `shape` (C order unless `fortran`) to `name`.
        fn npy<T: npyz::AutoSerialize + Copy>(
            &self,
            name: &str,
            shape: &[u64],
            values: &[T],
            fortran: bool,
        ) -> PathBuf {
            let path = self.0.join(name);
            let file = std::io::BufWriter::new(File::create(&path).unwrap());
            let order = if fortran { Order::Fortran } else { Order::C };
            let options = npyz::WriteOptions::new()
                .default_dtype()
                .shape(shape)
                .order(order)
                .writer(file);
            let mut writer = options.begin_nd().unwrap();
            writer.extend(values.iter().copied()).unwrap();
            writer.finish().unwrap();
            path
        }

        /// Writes the header of an array of dtype `descr` (one npyz cannot write values of,
        /// such as Python objects) and some bytes after it.
        fn header_only(&self, name: &str, descr: &str, shape: &[u64]) -> PathBuf {
            let path = self.0.join(name);
            let file = File::create(&path).unwrap();
            let dtype = DType::new_scalar(descr.parse().unwrap());
            let mut file = npyz::WriteOptions::new_header_only()
                .dtype(dtype)
                .shape(shape)
                .writer(file)
                .write_header_only()
                .unwrap();
            std::io::Write::write_all(&mut file, &[0u8; 64]).unwrap();
            path
        }

        /// Writes an archive of `arrays`, each `(name, shape, values)`, floats or integers.
        fn npz(&self, name: &str, arrays: &[(&str, &[u64], Vals)]) -> PathBuf {
            let path = self.0.join(name);
            let mut npz = zip::ZipWriter::new(File::create(&path).unwrap());
            for (array, shape, values) in arrays {
                let options = zip::write::FileOptions::default();
                npz.start_file(format!("{array}.npy"), options).unwrap();
                match values {
                    Vals::F(v) => {
                        let options = npyz::WriteOptions::<f32>::new()
                            .default_dtype()
                            .shape(shape)
                            .writer(&mut npz);
                        let mut w = options.begin_nd().unwrap();
                        w.extend(v.iter().copied()).unwrap();
                        w.finish().unwrap();
                    }
                    Vals::I(v) => {
                        let options = npyz::WriteOptions::<i64>::new()
                            .default_dtype()
                            .shape(shape)
                            .writer(&mut npz);
                        let mut w = options.begin_nd().unwrap();
                        w.extend(v.iter().copied()).unwrap();
                        w.finish().unwrap();
                    }
                }
            }
            npz.finish().unwrap();
            path
        }
    }

    enum Vals {
        F(Vec<f32>),
        I(Vec<i64>),
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// The one-line message of `result`'s error, checked to name `file`.
    fn message<T: std::fmt::Debug>(result: Result<T, DataError>, file: &Path) -> String {
        let msg = result.unwrap_err().to_string();
        assert!(!msg.contains('\n'), "{msg}");
        assert!(msg.contains(&file.display().to_string()), "{msg}");
        msg
    }

    fn range(n: usize) -> Vec<f32> {
        (0..n).map(|i| i as f32).collect()
    }

    #[test]
    fn formats_by_extension() {
        assert_eq!(
            DataFormat::of(Path::new("a/b.CSV")).unwrap(),
            DataFormat::Csv
        );
        assert_eq!(DataFormat::of(Path::new("b.npy")).unwrap(), DataFormat::Npy);
        assert_eq!(DataFormat::of(Path::new("b.npz")).unwrap(), DataFormat::Npz);
        for bad in ["data.txt", "data"] {
            let msg = DataFormat::of(Path::new(bad)).unwrap_err().to_string();
            assert!(msg.starts_with(bad), "{msg}");
            assert!(
                msg.contains(".csv") && msg.contains(".npy") && msg.contains(".npz"),
                "{msg}"
            );
        }
    }

    #[test]
    fn rows_split_by_sample_and_seeded() {
        let dir = TempDir::new("rows");
        // x = [i, 10 i], y = 2 i: every row keeps its target whichever split it lands in.
        let xs: Vec<f64> = (0..10).flat_map(|i| [i as f64, 10.0 * i as f64]).collect();
        let x = dir.npy("x.npy", &[10, 2], &xs, false);
        let ys: Vec<f32> = (0..10).map(|i| 2.0 * i as f32).collect();
        let y = dir.npy("y.npy", &[10, 1], &ys, false);
        let data = read_npy(&x, &y).unwrap();
        assert_eq!(
            (data.x.dtype.as_str(), data.y.dtype.as_str()),
            ("float64", "float32")
        );
        let set = data.dataset(1, 0, 0.3, 5).unwrap();
        assert_eq!(
            (set.train.n, set.test.n, set.in_dim(), set.out_dim()),
            (7, 3, 2, 1)
        );
        assert_eq!(set.input_names, ["x[0]", "x[1]"]);
        assert_eq!(set.output_names, ["y[0]"]);
        let mut seen = Vec::new();
        for split in [&set.train, &set.test] {
            for i in 0..split.n {
                let r = split.row(i);
                assert_eq!(
                    (r[1], split.target_row(i).unwrap()[0]),
                    (10.0 * r[0], 2.0 * r[0])
                );
                seen.push(r[0] as usize);
            }
        }
        seen.sort_unstable();
        assert_eq!(seen, (0..10).collect::<Vec<_>>());
        assert_eq!(data.dataset(1, 0, 0.3, 5).unwrap(), set);
        assert_ne!(data.dataset(1, 0, 0.3, 6).unwrap().train, set.train);
        // Splits that would be empty.
        let msg = message(data.dataset(1, 0, 0.01, 5), &x);
        assert!(
            msg.contains("10 samples") && msg.contains("test split empty"),
            "{msg}"
        );
        let msg = message(data.dataset(1, 0, 0.99, 5), &x);
        assert!(msg.contains("training split empty"), "{msg}");
    }

    #[test]
    fn sequences_keep_their_positions_together() {
        let dir = TempDir::new("seq");
        // 6 sequences of 4 positions of 2 features; x = [100 b + t, -t], y = b + t.
        let (n, t) = (6, 4);
        let xs: Vec<f32> = (0..n * t)
            .flat_map(|r| [(100 * (r / t) + r % t) as f32, -((r % t) as f32)])
            .collect();
        let ys: Vec<f32> = (0..n * t).map(|r| (r / t + r % t) as f32).collect();
        let path = dir.npz(
            "seq.npz",
            &[
                ("x", &[6, 4, 2], Vals::F(xs)),
                ("y", &[6, 4, 1], Vals::F(ys)),
            ],
        );
        let data = read_npz(&path).unwrap();
        assert_eq!(data.x.name, format!("{}, array 'x'", path.display()));
        let set = data.dataset(t, 0, 0.5, 1).unwrap();
        assert_eq!((set.rows_per_sample, set.train.n, set.test.n), (4, 12, 12));
        for split in [&set.train, &set.test] {
            for row in 0..split.n {
                let x = split.row(row);
                let (b, pos) = ((x[0] as usize) / 100, (x[0] as usize) % 100);
                assert_eq!(pos, row % t, "row {row} is position {pos}");
                assert_eq!(x[1], -(pos as f32));
                assert_eq!(split.target_row(row).unwrap()[0], (b + pos) as f32);
            }
        }
        // Rows that do not fill whole sequences of that length.
        let msg = message(data.dataset(5, 0, 0.5, 1), &path);
        assert!(msg.contains("6 samples of 5 rows"), "{msg}");
    }

    #[test]
    fn token_ids_and_class_labels() {
        let dir = TempDir::new("tokens");
        let x = dir.npy("ids.npy", &[4, 2], &[0u8, 1, 2, 3, 4, 5, 6, 7], false);
        let y = dir.npy("labels.npy", &[4], &[1i16, 0, 2, 1], false);
        let data = read_npy(&x, &y).unwrap();
        assert!(data.x.is_integer() && data.y.is_integer());
        assert_eq!(data.x.largest(), Some(7));
        let set = data.dataset(1, 5, 0.25, 0).unwrap();
        assert_eq!((set.in_dim(), set.out_dim()), (2, 5));
        assert_eq!(set.output_names, ["y=0", "y=1", "y=2", "y=3", "y=4"]);
        for split in [&set.train, &set.test] {
            for i in 0..split.n {
                let id = split.row(i)[0] as usize / 2;
                assert_eq!(split.label(i), Some([1, 0, 2, 1][id]));
            }
        }
        // An id beyond the vocabulary names the file, the sample and the id.
        let msg = message(data.x.check_below(6, "token id", "\"tokens\": 6"), &x);
        assert!(
            msg.contains("sample 3 (index [3, 0])") && msg.contains("token id 6"),
            "{msg}"
        );
        assert!(msg.contains("outside 0..6 (\"tokens\": 6)"), "{msg}");
        // A label beyond the classes, likewise.
        let msg = message(data.dataset(1, 2, 0.25, 0), &y);
        assert!(
            msg.contains("sample 2 (index [2])") && msg.contains("class label 2"),
            "{msg}"
        );
        // Labels per position of a sequence: [n, T].
        let y2 = dir.npy("labels2.npy", &[4, 2], &[0u64, 1, 1, 0, 0, 0, 1, 1], false);
        let seq = read_npy(&x, &y2).unwrap().dataset(2, 2, 0.5, 0).unwrap();
        assert_eq!((seq.train.n, seq.in_dim()), (4, 1));
        // Negative labels and ids are refused where they are read.
        let neg = dir.npy("neg.npy", &[4], &[0i32, 1, -3, 1], false);
        let msg = message(read_npy(&x, &neg), &neg);
        assert!(msg.contains("sample 2") && msg.contains("-3"), "{msg}");
    }

    #[test]
    fn dtypes_orders_and_values_refused() {
        let dir = TempDir::new("bad");
        let y = dir.npy("y.npy", &[2, 1], &[1.0f32, 2.0], false);
        let x = dir.npy("x.npy", &[2, 2], &[1.0f32, 2.0, 3.0, 4.0], false);
        // Object arrays (pickled Python objects), complex numbers, booleans.
        for (name, descr, found) in [
            ("object.npy", "|O", "'|O'"),
            ("complex.npy", "<c16", "'<c16'"),
            ("half.npy", "<f2", "'<f2'"),
        ] {
            let bad = dir.header_only(name, descr, &[2, 2]);
            let msg = message(read_npy(&bad, &y), &bad);
            assert!(
                msg.contains(&format!("dtype {found} is not accepted")),
                "{msg}"
            );
            assert!(msg.contains("float32 or float64 inputs"), "{msg}");
            let msg = message(read_npy(&x, &bad), &bad);
            assert!(msg.contains("integer class labels"), "{msg}");
        }
        let flags = dir.npy("bool.npy", &[2, 2], &[true, false, true, true], false);
        let msg = message(read_npy(&flags, &y), &flags);
        assert!(msg.contains("dtype '|b1'"), "{msg}");
        // Fortran order.
        let fortran = dir.npy("f.npy", &[2, 2], &[1.0f32, 2.0, 3.0, 4.0], true);
        let msg = message(read_npy(&fortran, &y), &fortran);
        assert!(
            msg.contains("Fortran order") && msg.contains("[2, 2]"),
            "{msg}"
        );
        // NaN and infinities, and float64 beyond float32.
        for (name, value) in [
            ("nan.npy", f64::NAN),
            ("inf.npy", f64::NEG_INFINITY),
            ("big.npy", 1e300),
        ] {
            let bad = dir.npy(name, &[2, 2], &[1.0, 2.0, 3.0, value], false);
            let msg = message(read_npy(&bad, &y), &bad);
            assert!(msg.contains("sample 1 (index [1, 1])"), "{msg}");
            let msg = message(
                read_npy(&x, &dir.npy(name, &[2, 1], &[value, 0.0], false)),
                &dir.0,
            );
            assert!(msg.contains("sample 0 (index [0, 0])"), "{msg}");
        }
        // Not a NumPy file at all; a missing file.
        let text = dir.0.join("text.npy");
        std::fs::write(&text, "a,b\n1,2\n").unwrap();
        let msg = message(read_npy(&text, &y), &text);
        assert!(msg.contains("cannot read it as a NumPy .npy file"), "{msg}");
        let missing = dir.0.join("missing.npy");
        let msg = message(read_npy(&x, &missing), &missing);
        assert!(msg.contains("cannot read"), "{msg}");
    }

    #[test]
    fn shapes_refused() {
        let dir = TempDir::new("shapes");
        let x = dir.npy("x.npy", &[3, 2], &range(6), false);
        let y = dir.npy("y.npy", &[3, 1], &range(3), false);
        let check = |x: &Path, y: &Path, bad: &Path, expected: &str, found: &str| {
            let msg = message(read_npy(x, y), bad);
            assert!(msg.contains(expected), "{msg}");
            assert!(msg.contains(found), "{msg}");
        };
        let flat = dir.npy("flat.npy", &[6], &range(6), false);
        check(
            &flat,
            &y,
            &flat,
            "[n, features], [n, T, features] or images [n, C, H, W]",
            "found shape [6] of float32",
        );
        check(
            &x,
            &flat,
            &flat,
            "[n, outputs] or [n, T, outputs]",
            "found shape [6]",
        );
        // Images [n, C, H, W] are read; five axes are not.
        let deep = dir.npy("deep.npy", &[3, 1, 1, 2, 1], &range(6), false);
        check(&deep, &y, &deep, "inputs:", "[3, 1, 1, 2, 1]");
        let ids3 = dir.npy("ids3.npy", &[3, 1, 2], &[0i32; 6], false);
        check(
            &ids3,
            &y,
            &ids3,
            "token ids [n, k] or [n, T]",
            "[3, 1, 2] of int32",
        );
        let labels3 = dir.npy("labels3.npy", &[3, 1, 1], &[0u32; 3], false);
        check(
            &x,
            &labels3,
            &labels3,
            "class labels [n] or [n, T]",
            "[3, 1, 1] of uint32",
        );
        let none = dir.npy("none.npy", &[0, 2], &range(0), false);
        check(&none, &y, &none, "at least one sample", "[0, 2]");
        let narrow = dir.npy("narrow.npy", &[3, 0], &range(0), false);
        check(&narrow, &y, &narrow, "no axis of length 0", "[3, 0]");
        // X and Y with different numbers of samples name both files and shapes.
        let four = dir.npy("four.npy", &[4, 1], &range(4), false);
        let msg = message(read_npy(&x, &four), &x);
        assert!(msg.contains(&four.display().to_string()), "{msg}");
        assert!(
            msg.contains("3 samples (shape [3, 2])") && msg.contains("4 (shape [4, 1])"),
            "{msg}"
        );
    }

    #[test]
    fn archives_name_their_arrays() {
        let dir = TempDir::new("npz");
        let path = dir.npz(
            "d.npz",
            &[
                ("inputs", &[2, 1], Vals::F(vec![1.0, 2.0])),
                ("y", &[2], Vals::I(vec![0, 1])),
            ],
        );
        let msg = message(read_npz(&path), &path);
        assert!(
            msg.contains("no array named 'x'") && msg.contains("found: inputs, y"),
            "{msg}"
        );
        let path = dir.npz(
            "labels.npz",
            &[
                ("x", &[2, 1], Vals::F(vec![1.0, 2.0])),
                ("y", &[2], Vals::I(vec![0, -1])),
            ],
        );
        let msg = message(read_npz(&path), &path);
        assert!(msg.contains("labels.npz, array 'y': sample 1"), "{msg}");
        let data = dir.npz(
            "ok.npz",
            &[
                ("x", &[2, 1], Vals::I(vec![3, 4])),
                ("y", &[2], Vals::I(vec![0, 1])),
            ],
        );
        assert_eq!(read_npz(&data).unwrap().x.largest(), Some(4));
        let not_zip = dir.0.join("not.npz");
        std::fs::write(&not_zip, "plain text").unwrap();
        let msg = message(read_npz(&not_zip), &not_zip);
        assert!(msg.contains("NumPy .npz file"), "{msg}");
    }
}
