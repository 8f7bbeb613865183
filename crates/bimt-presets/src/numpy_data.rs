//! NumPy data for `bimt run graph|mlp`: the arrays of `--data X.npy --targets Y.npy` or
//! `--data D.npz`, the loss their targets take, and how they fit an architecture.

use crate::error::Error;
use crate::settings::Settings;
use bimt_data::{DataFormat, NumpyArray, NumpyData};
use bimt_graph::{Architecture, Role};
use bimt_tasks::Loss;
use std::path::Path;

/// How the arrays fit the architecture: rows per sample (`T` for a sequence model, else 1)
/// and the number of classes (the output width) for class labels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fit {
    /// Rows per sample.
    pub rows_per_sample: usize,
    /// The output layers' total size.
    pub outputs: usize,
}

/// Reads `--data` (a `.npy` file, with `--targets` a second one, or a `.npz` archive).
pub fn read(custom: &Settings, data: &Path) -> Result<NumpyData, Error> {
    Ok(match DataFormat::of(data)? {
        DataFormat::Npz => bimt_data::read_npz(data)?,
        _ => {
            let targets = match custom.targets.as_deref() {
                Some([path]) => path,
                _ => {
                    return Err(Error::Settings(format!(
                        "--data {} needs --targets Y.npy: one .npy file of targets",
                        data.display()
                    )));
                }
            };
            bimt_data::read_npy(data, Path::new(targets))?
        }
    })
}

/// The loss `--loss` names, which the targets' dtype must take: float targets for `mse`,
/// integer class labels for `cross-entropy`.
pub fn loss(custom: &Settings, y: &NumpyArray) -> Result<Loss, Error> {
    match (custom.loss.as_deref(), y.is_integer()) {
        (Some("cross-entropy"), true) => Ok(Loss::CrossEntropy),
        (Some("cross-entropy"), false) => Err(Error::Settings(format!(
            "{} holds {} targets: --loss cross-entropy takes integer class labels; use --loss \
             mse for real targets",
            y.name, y.dtype
        ))),
        (_, true) => Err(Error::Settings(format!(
            "{} holds {} class labels: use --loss cross-entropy (--loss mse takes float \
             targets)",
            y.name, y.dtype
        ))),
        (_, false) => Ok(Loss::Mse),
    }
}

/// The width of an MLP's input and output layers for these arrays (`bimt run mlp`): the
/// last axis of float inputs (the ids per sample of token ids, which [`fit`] then refuses)
/// and of float targets, or the largest class label + 1.
pub fn mlp_widths(data: &NumpyData) -> (usize, usize) {
    let last = |a: &NumpyArray| a.shape.last().copied().unwrap_or(0);
    let outputs = match data.y.largest() {
        Some(label) => label as usize + 1,
        None => last(&data.y),
    };
    (last(&data.x), outputs)
}

/// Checks that the arrays fit the architecture `arch` (from the file `source`): 3-D inputs
/// `[n, T, features]` need `"sequence": T`, 2-D inputs none (or, as token ids `[n, T]`, a
/// sequence model of one id per position); the input layers take `features` numbers (a token
/// layer: the ids per row, each below its vocabulary); the output layers give the targets'
/// last axis, or one output per class. Every mismatch names the architecture, the layer, the
/// array and both shapes.
pub fn fit(arch: &Architecture, source: &str, data: &NumpyData) -> Result<Fit, Error> {
    let (x, y) = (&data.x, &data.y);
    let layers = |input: bool| -> (usize, String) {
        let chosen: Vec<_> = arch
            .layers
            .iter()
            .filter(|l| {
                if input {
                    l.role.is_input()
                } else {
                    l.role == Role::Output
                }
            })
            .collect();
        let total = chosen.iter().map(|l| l.data_width()).sum();
        let names = chosen
            .iter()
            .map(|l| match l.shape {
                Some([h, w]) => format!("'{}' ({} channels of {h}x{w})", l.name, l.size),
                None => format!("'{}' ({})", l.name, l.size),
            })
            .collect::<Vec<_>>()
            .join(", ");
        (total, names)
    };
    let shape = |a: &NumpyArray| format!("{} of shape {:?}", a.dtype, a.shape);
    let wrong = |what: String| Error::Architecture(format!("{source}: {what}"));
    let sequence = match arch.sequence {
        Some(t) => format!("\"sequence\": {t}"),
        None => "no \"sequence\" (one row per sample)".to_string(),
    };
    let token = arch.layers.iter().find_map(|l| match l.role {
        Role::Tokens { vocabulary } => Some((l, vocabulary)),
        _ => None,
    });
    let (in_total, in_names) = layers(true);
    let rows_per_sample = match (x.is_integer(), &x.shape[..], token) {
        (false, _, Some((layer, _))) => {
            return Err(wrong(format!(
                "the token layer '{}' reads token ids, but {} holds {} numbers",
                layer.name,
                x.name,
                shape(x)
            )));
        }
        (true, _, None) => {
            return Err(wrong(format!(
                "the input layers {in_names} take numbers, but {} holds token ids ({}); \
                 declare a token layer (\"tokens\": V, \"positions\": ids per sample)",
                x.name,
                shape(x)
            )));
        }
        (false, &[_, t, features], None) => {
            if arch.sequence != Some(t) {
                return Err(wrong(format!(
                    "the architecture has {sequence}, but {} holds {}: sequences of {t} \
                     positions (expected \"sequence\": {t})",
                    x.name,
                    shape(x)
                )));
            }
            check_width(
                &wrong,
                &in_names,
                in_total,
                features,
                x,
                "numbers per position",
            )?;
            t
        }
        (false, &[_, c, h, w], None) => {
            let images: Vec<_> = arch.layers.iter().filter(|l| l.role.is_input()).collect();
            if !matches!(images[..], [l] if l.shape == Some([h, w]) && l.size == c) {
                return Err(wrong(format!(
                    "{} holds images ({}); expected one input layer of \"channels\": {c}, \
                     \"shape\": [{h}, {w}], found the input layers {in_names}",
                    x.name,
                    shape(x)
                )));
            }
            1
        }
        (false, &[_, features], None) => {
            if let Some(t) = arch.sequence {
                return Err(wrong(format!(
                    "the architecture has \"sequence\": {t}, but {} holds {}: one row per \
                     sample (a sequence model takes [n, {t}, features])",
                    x.name,
                    shape(x)
                )));
            }
            check_width(
                &wrong,
                &in_names,
                in_total,
                features,
                x,
                "numbers per sample",
            )?;
            1
        }
        (true, &[_, k], Some((layer, vocabulary))) => {
            let limit = format!(
                "the token layer '{}' of {source} has \"tokens\": {vocabulary}",
                layer.name
            );
            x.check_below(vocabulary, "token id", &limit)?;
            match arch.sequence {
                Some(t) if t != k => {
                    return Err(wrong(format!(
                        "the architecture has \"sequence\": {t} (one token id per position), \
                         but {} holds {}: {k} ids per sample",
                        x.name,
                        shape(x)
                    )));
                }
                Some(t) => t,
                None => {
                    check_width(&wrong, &in_names, layer.size, k, x, "token ids per sample")?;
                    1
                }
            }
        }
        _ => {
            return Err(wrong(format!(
                "{} holds {}, which no architecture takes",
                x.name,
                shape(x)
            )));
        }
    };
    let (out_total, out_names) = layers(false);
    // The targets' positions per sample (None: one row per sample) and width (None: labels).
    let (positions, width) = match (y.is_integer(), &y.shape[..]) {
        (false, [_, t, outputs]) => (Some(*t), Some(*outputs)),
        (false, [_, outputs]) => (None, Some(*outputs)),
        (true, [_, t]) => (Some(*t), None),
        _ => (None, None),
    };
    let wanted = (rows_per_sample > 1).then_some(rows_per_sample);
    if positions != wanted || (y.is_integer() && y.shape.len() > 2) {
        let expected = match (y.is_integer(), wanted) {
            (true, None) => "[n] (one class label per sample)".to_string(),
            (true, Some(t)) => format!("[n, {t}] (one class label per position)"),
            (false, None) => "[n, outputs]".to_string(),
            (false, Some(t)) => format!("[n, {t}, outputs]"),
        };
        return Err(wrong(format!(
            "with {sequence} and inputs {} ({}), the targets must have shape {expected}, but \
             {} holds {}",
            x.name,
            shape(x),
            y.name,
            shape(y)
        )));
    }
    if let Some(width) = width {
        let what = match wanted {
            Some(_) => "outputs per position",
            None => "outputs per sample",
        };
        check_width(&wrong, &out_names, out_total, width, y, what)?;
    }
    Ok(Fit {
        rows_per_sample,
        outputs: out_total,
    })
}

/// Refuses `layers` of `total` neurons where the array gives `width` per row.
fn check_width(
    wrong: &dyn Fn(String) -> Error,
    layers: &str,
    total: usize,
    width: usize,
    array: &NumpyArray,
    what: &str,
) -> Result<(), Error> {
    if total == width {
        return Ok(());
    }
    Err(wrong(format!(
        "the layers {layers} hold {total} in all, but {} holds {} of shape {:?}: {width} {what}",
        array.name, array.dtype, array.shape
    )))
}
