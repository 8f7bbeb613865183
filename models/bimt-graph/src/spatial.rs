//! Layers of feature maps and the edges between them: convolutions, pools and flattens.
//!
//! A layer with a `"shape": [H, W]` is a stack of feature maps, one per channel, and its
//! channels are its neurons. Its values for `n` images are a `[n·H·W, channels]` matrix (row
//! `i·H·W + y·W + x` is pixel `(y, x)` of image `i`), so that a channel is a column, as a
//! neuron is, and a swap moves columns. A `conv2d` edge is a linear edge with one block of
//! rows per kernel tap (`in_fold` = kernel²), a `flatten` edge one with a block per pixel
//! (`in_fold` = H·W), and a `pool` edge joins two layers of the same channels, which share
//! one permutation as an identity edge's ends do.

use crate::architecture::{Architecture, EdgeKind, Role, invalid};
use bimt_kernels::Windows;
use bimt_layout::LayoutError;
use std::sync::Arc;

/// A checked window edge: its geometry, as the forward pass uses it.
#[derive(Clone, Debug)]
pub(crate) struct WindowEdge {
    pub windows: Arc<Windows>,
    pub kernel: usize,
    pub stride: usize,
    pub padding: usize,
}

/// Checks every edge against the shapes of its ends, and returns the windows of each
/// `conv2d` and `pool` edge (by edge index). Errors name the edge and what does not fit.
pub(crate) fn check_edges(
    arch: &Architecture,
    ends: &[(usize, usize)],
) -> Result<Vec<Option<WindowEdge>>, LayoutError> {
    for spec in &arch.layers {
        let Some([h, w]) = spec.shape else { continue };
        let what = format!("layer '{}'", spec.name);
        if h == 0 || w == 0 || spec.size == 0 {
            return Err(invalid(format!(
                "{what}: {} channels of {h}x{w}; expected 1 or more of each",
                spec.size
            )));
        }
        if arch.sequence.is_some() || spec.attention.is_some() || spec.learned_positions {
            return Err(invalid(format!(
                "{what}: feature maps (\"shape\") and sequences (attention, learned positions) \
                 do not mix in one architecture"
            )));
        }
        if spec.role == Role::Output {
            return Err(invalid(format!(
                "{what}: an output layer holds one number per target, not feature maps; \
                 flatten into a dense output layer (an edge of \"kind\": \"flatten\")"
            )));
        }
    }
    let mut windows = Vec::with_capacity(ends.len());
    for (e, (edge, &(from, to))) in arch.edges.iter().zip(ends).enumerate() {
        let (a, z) = (&arch.layers[from], &arch.layers[to]);
        let what = format!("edge {} ({} -> {})", e + 1, edge.from, edge.to);
        let describe = |l: &crate::LayerSpec| match l.shape {
            Some([h, w]) => format!("'{}' ({} channels of {h}x{w})", l.name, l.size),
            None => format!("'{}' ({} neurons)", l.name, l.size),
        };
        let windowed = matches!(edge.kind, EdgeKind::Conv2d | EdgeKind::Pool);
        for (field, given) in [
            ("kernel", edge.kernel.is_some()),
            ("stride", edge.stride.is_some()),
            ("padding", edge.padding.is_some()),
        ] {
            if given && !windowed {
                return Err(invalid(format!(
                    "{what}: \"{field}\" belongs to conv2d and pool edges; this is a {} edge",
                    edge.kind.name()
                )));
            }
        }
        if edge.pool.is_some() && edge.kind != EdgeKind::Pool {
            return Err(invalid(format!(
                "{what}: \"pool\" belongs to pool edges; this is a {} edge",
                edge.kind.name()
            )));
        }
        match edge.kind {
            EdgeKind::Conv2d | EdgeKind::Pool => {
                let (Some(shape), Some(target)) = (a.shape, z.shape) else {
                    return Err(invalid(format!(
                        "{what}: a {} edge joins layers of feature maps (\"channels\" and \
                         \"shape\"); found {} -> {}",
                        edge.kind.name(),
                        describe(a),
                        describe(z)
                    )));
                };
                let Some(kernel) = edge.kernel.filter(|&k| k > 0) else {
                    return Err(invalid(format!(
                        "{what}: expected \"kernel\": the side of its square window, 1 or more"
                    )));
                };
                let pool = edge.kind == EdgeKind::Pool;
                let stride = edge.stride.unwrap_or(if pool { kernel } else { 1 });
                let padding = edge.padding.unwrap_or(0);
                if stride == 0 {
                    return Err(invalid(format!(
                        "{what}: \"stride\": 0; expected 1 or more"
                    )));
                }
                if pool && padding > 0 {
                    return Err(invalid(format!(
                        "{what}: a pool takes no \"padding\" (a max over zeros it did not \
                         see would change what it means)"
                    )));
                }
                if pool && a.size != z.size {
                    return Err(invalid(format!(
                        "{what}: a pool keeps the channels; {} -> {}",
                        describe(a),
                        describe(z)
                    )));
                }
                if shape.iter().any(|&n| n + 2 * padding < kernel) {
                    return Err(invalid(format!(
                        "{what}: a {kernel}x{kernel} window does not fit {} padded by {padding}",
                        describe(a)
                    )));
                }
                let (w, out) = Windows::square(shape, kernel, stride, padding);
                if out != target {
                    return Err(invalid(format!(
                        "{what}: a {kernel}x{kernel} window every {stride} pixels with padding \
                         {padding} makes {}x{} maps of {}x{}; expected '{}' to be {}x{}, found \
                         {}x{}",
                        shape[0],
                        shape[1],
                        out[0],
                        out[1],
                        z.name,
                        out[0],
                        out[1],
                        target[0],
                        target[1]
                    )));
                }
                windows.push(Some(WindowEdge {
                    windows: Arc::new(w),
                    kernel,
                    stride,
                    padding,
                }));
                continue;
            }
            EdgeKind::Flatten if a.shape.is_none() || z.shape.is_some() => {
                return Err(invalid(format!(
                    "{what}: a flatten edge reads feature maps into a layer of neurons; found {} \
                     -> {}",
                    describe(a),
                    describe(z)
                )));
            }
            EdgeKind::Identity if a.shape != z.shape => {
                return Err(invalid(format!(
                    "{what}: an identity edge joins layers of one shape; found {} -> {}",
                    describe(a),
                    describe(z)
                )));
            }
            EdgeKind::Linear | EdgeKind::Embedding | EdgeKind::Unembedding
                if a.shape.is_some() || z.shape.is_some() =>
            {
                return Err(invalid(format!(
                    "{what}: a {} edge joins layers of neurons; found {} -> {} (feature maps \
                     take \"conv2d\", \"pool\", \"identity\" or, into neurons, \"flatten\")",
                    edge.kind.name(),
                    describe(a),
                    describe(z)
                )));
            }
            _ => {}
        }
        windows.push(None);
    }
    Ok(windows)
}
