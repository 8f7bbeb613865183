//! The crate's error type.

use std::path::PathBuf;

/// Everything that can go wrong when loading or naming data. Every message
/// is one line and names the file involved (for CSV cells also the 1-based
/// line and the column by name and 1-based index); formula errors quote the
/// formula instead.
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
    /// The CSV file could not be parsed (for example it is not UTF-8).
    #[error("{}: cannot parse CSV: {message}", path.display())]
    CsvParse {
        /// The file.
        path: PathBuf,
        /// What the CSV reader reported.
        message: String,
    },
    /// The CSV file has no header row.
    #[error("{}: no header row: the file is empty", path.display())]
    CsvNoHeader {
        /// The file.
        path: PathBuf,
    },
    /// Two header cells have the same (trimmed) name.
    #[error(
        "{}: duplicate column name {name:?} in the header (columns {first} and {second})",
        path.display()
    )]
    CsvDuplicateColumn {
        /// The file.
        path: PathBuf,
        /// The repeated name.
        name: String,
        /// 1-based index of its first occurrence.
        first: usize,
        /// 1-based index of its second occurrence.
        second: usize,
    },
    /// An empty line before the last row.
    #[error(
        "{}: line {line} is empty; empty lines are only allowed at the end of the file",
        path.display()
    )]
    CsvEmptyLine {
        /// The file.
        path: PathBuf,
        /// 1-based line number of the empty line.
        line: usize,
    },
    /// A row with a different number of cells than the header.
    #[error(
        "{}: line {line}: ragged row: expected {expected} cells (as in the header), found {found}",
        path.display()
    )]
    CsvRagged {
        /// The file.
        path: PathBuf,
        /// 1-based line number of the row.
        line: usize,
        /// Number of header cells.
        expected: usize,
        /// Number of cells in the row.
        found: usize,
    },
    /// A cell that does not parse as a number.
    #[error(
        "{}: line {line}, column {column:?} ({index}): {cell:?} is not a number",
        path.display()
    )]
    CsvNotNumeric {
        /// The file.
        path: PathBuf,
        /// 1-based line number of the row.
        line: usize,
        /// Name of the column.
        column: String,
        /// 1-based index of the column.
        index: usize,
        /// The cell text.
        cell: String,
    },
    /// A cell holding NaN, an infinity, or a value too large for `f32`.
    #[error(
        "{}: line {line}, column {column:?} ({index}): {cell:?} is NaN or infinite (or too large for a 32-bit float)",
        path.display()
    )]
    CsvNonFinite {
        /// The file.
        path: PathBuf,
        /// 1-based line number of the row.
        line: usize,
        /// Name of the column.
        column: String,
        /// 1-based index of the column.
        index: usize,
        /// The cell text.
        cell: String,
    },
    /// A requested column (target or input) is not in the header.
    #[error(
        "{}: no column named {name:?} in the header; available columns: {}",
        path.display(),
        available.join(", ")
    )]
    CsvUnknownColumn {
        /// The file.
        path: PathBuf,
        /// The requested name.
        name: String,
        /// The header names, in file order.
        available: Vec<String>,
    },
    /// No target column was named.
    #[error("{}: no target column given", path.display())]
    CsvNoTargets {
        /// The file.
        path: PathBuf,
    },
    /// A target column was named twice.
    #[error("{}: target column {name:?} is named twice", path.display())]
    CsvDuplicateTarget {
        /// The file.
        path: PathBuf,
        /// The repeated name.
        name: String,
    },
    /// Classification was asked for with other than one target column.
    #[error(
        "{}: classification needs exactly one target column (of class labels), {found} given",
        path.display()
    )]
    CsvClassTargets {
        /// The file.
        path: PathBuf,
        /// Number of target columns given.
        found: usize,
    },
    /// Every column is a target, so no input is left.
    #[error(
        "{}: no input column left: all {columns} columns are targets",
        path.display()
    )]
    CsvNoInputs {
        /// The file.
        path: PathBuf,
        /// Number of columns in the header.
        columns: usize,
    },
    /// Fewer than two data rows.
    #[error(
        "{}: too few data rows: found {rows}, need at least 2",
        path.display()
    )]
    CsvTooFewRows {
        /// The file.
        path: PathBuf,
        /// Number of data rows found.
        rows: usize,
    },
    /// A classification label that is not a non-negative integer (below
    /// [`crate::MAX_CLASSES`]).
    #[error(
        "{}: line {line}, column {column:?} ({index}): class label {cell:?} is not a non-negative integer below {}",
        path.display(),
        crate::MAX_CLASSES
    )]
    CsvBadLabel {
        /// The file.
        path: PathBuf,
        /// 1-based line number of the row.
        line: usize,
        /// Name of the column.
        column: String,
        /// 1-based index of the column.
        index: usize,
        /// The cell text.
        cell: String,
    },
    /// A classification column with a single class.
    #[error(
        "{}: column {column:?} ({index}) holds only class label {found}: classification needs at least two classes",
        path.display()
    )]
    CsvOneClass {
        /// The file.
        path: PathBuf,
        /// Name of the label column.
        column: String,
        /// 1-based index of the column.
        index: usize,
        /// The one label found.
        found: String,
    },
    /// Class labels that are not `0..k-1`, each present: a missing label
    /// would be an output trained only towards 0.
    #[error(
        "{}: column {column:?} ({index}): class labels must be 0 to k-1 with each one present; found {found}, missing {missing}; renumber the {classes} classes 0 to {}",
        path.display(),
        classes - 1
    )]
    CsvLabelGaps {
        /// The file.
        path: PathBuf,
        /// Name of the label column.
        column: String,
        /// 1-based index of the column.
        index: usize,
        /// The labels found, as runs (`0, 7`).
        found: String,
        /// The labels below the largest one that do not occur, as runs (`1-6`).
        missing: String,
        /// Number of distinct labels found.
        classes: usize,
    },
    /// The test fraction is not in `[0, 1)`.
    #[error(
        "{}: test fraction {value} is out of range: expected a number in [0, 1)",
        path.display()
    )]
    CsvTestFraction {
        /// The file.
        path: PathBuf,
        /// The fraction given.
        value: f64,
    },
    /// A positive test fraction rounds to no test row at all.
    #[error(
        "{}: the test split would be empty: {rows} data rows with test fraction {test_fraction} give 0 test rows; raise the fraction, set it to 0, or add rows",
        path.display()
    )]
    CsvEmptyTestSplit {
        /// The file.
        path: PathBuf,
        /// Number of data rows.
        rows: usize,
        /// The fraction given.
        test_fraction: f64,
    },
    /// The test fraction rounds to every row, leaving no training row.
    #[error(
        "{}: the training split would be empty: {rows} data rows with test fraction {test_fraction} leave 0 training rows; lower the fraction or add rows",
        path.display()
    )]
    CsvEmptyTrainSplit {
        /// The file.
        path: PathBuf,
        /// Number of data rows.
        rows: usize,
        /// The fraction given.
        test_fraction: f64,
    },
    /// The formula text holds no formula.
    #[error("no formula given: expected `name = expression`, separated by `;` or new lines")]
    FormulaEmpty,
    /// A formula without `=`.
    #[error("formula {formula:?} has no `=`: expected `name = expression`")]
    FormulaNoEquals {
        /// The formula as written.
        formula: String,
    },
    /// A formula with nothing left of `=`.
    #[error("formula {formula:?} has no output name left of `=`")]
    FormulaEmptyName {
        /// The formula as written.
        formula: String,
    },
    /// Two formulas define the same output.
    #[error("output {name:?} is defined twice")]
    FormulaDuplicateOutput {
        /// The repeated output name.
        name: String,
    },
    /// The expression right of `=` does not parse.
    #[error("syntax error in formula {formula:?}: {message}")]
    FormulaSyntax {
        /// The formula as written.
        formula: String,
        /// What is missing or unexpected, in the formula's terms.
        message: String,
    },
    /// A name that is neither an input (`x1`, `x2`, …) nor a constant.
    #[error(
        "formula {formula:?}: unknown name '{name}'{hint}; inputs are named x1, x2, x3, …; constants: {constants}; functions: {functions}"
    )]
    FormulaUnknownName {
        /// The formula as written.
        formula: String,
        /// The unknown name.
        name: String,
        /// ` (did you mean 'pi'?)`, or empty.
        hint: String,
        /// The known constants, comma-separated.
        constants: String,
        /// The known functions, comma-separated.
        functions: String,
    },
    /// A name called as a function that is no known function.
    #[error("formula {formula:?}: unknown function '{name}'{hint}; functions: {functions}")]
    FormulaUnknownFunction {
        /// The formula as written.
        formula: String,
        /// The unknown name.
        name: String,
        /// ` (did you mean 'sin'?)`, or empty.
        hint: String,
        /// The known functions, comma-separated.
        functions: String,
    },
    /// An output name also appears as an input variable.
    #[error(
        "{name:?} is both an output (left of `=`) and an input variable (right of `=`); formulas cannot refer to other outputs"
    )]
    FormulaOutputAsInput {
        /// The name.
        name: String,
    },
    /// No formula uses an input variable.
    #[error("the formulas use no input variable: write at least one, e.g. `y = x1^2`")]
    FormulaNoInputs,
    /// The sampling range is empty or has a non-finite end.
    #[error("bad input range [{lo}, {hi}]: expected finite ends with lo < hi")]
    FormulaRange {
        /// Lower end.
        lo: f64,
        /// Upper end.
        hi: f64,
    },
    /// An input point of the wrong length.
    #[error("expected {expected} input values ({names}), found {found}")]
    FormulaArity {
        /// Number of input variables.
        expected: usize,
        /// Their names, comma-separated.
        names: String,
        /// Number of values given.
        found: usize,
    },
    /// Evaluating a formula failed.
    #[error("cannot evaluate formula {formula:?}: {message}")]
    FormulaEval {
        /// The formula as written.
        formula: String,
        /// What the evaluator reported.
        message: String,
    },
    /// A formula gives NaN or an infinity (or a value too large for `f32`)
    /// at a sampled point.
    #[error(
        "formula {formula:?} gives {value} at {point}, which is not a finite 32-bit float; choose a range where it is defined"
    )]
    FormulaNonFinite {
        /// The formula as written.
        formula: String,
        /// The value computed.
        value: f64,
        /// The input point, as `x1 = 0.5, x2 = -1`.
        point: String,
    },
    /// A `--data` file whose extension names no format this crate reads.
    #[error(
        "{}: unknown data format: expected a file ending in .csv, .npy or .npz",
        path.display()
    )]
    UnknownFormat {
        /// The file.
        path: PathBuf,
    },
    /// A `.npy` or `.npz` file that cannot be parsed as one.
    #[error("{}: cannot read it as a NumPy {kind} file: {message}", path.display())]
    NumpyParse {
        /// The file.
        path: PathBuf,
        /// `.npy` or `.npz`.
        kind: &'static str,
        /// What the reader reported.
        message: String,
    },
    /// A `.npz` archive without the array `x` or `y`.
    #[error(
        "{}: no array named '{name}' (the inputs are 'x', the targets 'y'); the arrays found: {}",
        path.display(),
        if found.is_empty() { "none".to_string() } else { found.join(", ") }
    )]
    NumpyMissingArray {
        /// The archive.
        path: PathBuf,
        /// The array looked for.
        name: String,
        /// The arrays it holds.
        found: Vec<String>,
    },
    /// An array whose dtype is not a float or an integer of a width NumPy writes.
    #[error("{array}: dtype {found} is not accepted: expected {expected}")]
    NumpyDtype {
        /// The file (and the array in an archive).
        array: String,
        /// The dtype found, as NumPy writes it (`'<c16'`, `'|O'`, …).
        found: String,
        /// What this array may hold.
        expected: &'static str,
    },
    /// An array stored in Fortran order.
    #[error(
        "{array}: shape {shape:?} is stored in Fortran order; expected C order (save \
         np.ascontiguousarray(a))"
    )]
    NumpyFortranOrder {
        /// The file (and the array in an archive).
        array: String,
        /// Its shape.
        shape: Vec<usize>,
    },
    /// An array with a shape this role does not take.
    #[error("{array}: expected {expected}, found shape {found:?} of {dtype}")]
    NumpyShape {
        /// The file (and the array in an archive).
        array: String,
        /// The shapes it may have.
        expected: String,
        /// Its shape.
        found: Vec<usize>,
        /// Its dtype (`float32`, `int64`, …).
        dtype: String,
    },
    /// A NaN or an infinity (or a float64 too large for float32).
    #[error(
        "{array}: sample {} (index {index:?}) holds {value}: expected finite numbers (within float32's range)",
        index.first().unwrap_or(&0)
    )]
    NumpyNonFinite {
        /// The file (and the array in an archive).
        array: String,
        /// The element's index; its first entry is the sample.
        index: Vec<usize>,
        /// The value.
        value: f64,
    },
    /// A token id or class label below 0, or at least the number there are.
    #[error(
        "{array}: sample {} (index {index:?}) holds {what} {value}, outside {range}",
        index.first().unwrap_or(&0)
    )]
    NumpyOutOfRange {
        /// The file (and the array in an archive).
        array: String,
        /// The element's index; its first entry is the sample.
        index: Vec<usize>,
        /// `token id`, `class label` or `integer`.
        what: &'static str,
        /// The value, as written.
        value: String,
        /// The values allowed and where that comes from: `0..59 (the token layer …)`.
        range: String,
    },
    /// The inputs and the targets hold different numbers of samples.
    #[error(
        "{x} has {x_samples} samples (shape {x_shape:?}) but {y} has {y_samples} (shape {y_shape:?}): the first axis of both counts the samples"
    )]
    NumpySampleCount {
        /// The inputs' file (and array).
        x: String,
        /// Their shape.
        x_shape: Vec<usize>,
        /// Their samples.
        x_samples: usize,
        /// The targets' file (and array).
        y: String,
        /// Their shape.
        y_shape: Vec<usize>,
        /// Their samples.
        y_samples: usize,
    },
    /// A split of the samples that leaves the training or the test split empty.
    #[error(
        "{array}: {samples} samples with test fraction {test_fraction} leave the {which} split empty; change the fraction or add samples"
    )]
    NumpyEmptySplit {
        /// The inputs' file (and array).
        array: String,
        /// Number of samples.
        samples: usize,
        /// The fraction given.
        test_fraction: f64,
        /// `test` or `training`.
        which: &'static str,
    },
}
