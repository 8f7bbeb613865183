//! Where a connectivity graph's neurons land on the canvas: the copies of folded layers, the
//! oblique view of planar layers, each layer's row by its depth.

use super::style::{GraphStyle, MARGIN, title_size};
use crate::text;
use bimt_format::{ModelFile, NeuronLayerFile};

/// Share of the plot width taken by the second coordinate's slant in the oblique view.
pub(super) const SHEAR: f32 = 0.28;
/// Gap between side-by-side copies of a folded layer, as a share of one copy's width.
pub(super) const COPY_GAP: f32 = 0.2;

/// How the copies of a folded layer are arranged.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Copies {
    /// `k` side-by-side copies (a packed output such as Q, K, V).
    Side(usize),
    /// `k` copies stacked upwards (inputs folded onto shared neurons).
    Stacked(usize),
}

impl Copies {
    /// How many copies.
    pub(super) fn count(self) -> usize {
        match self {
            Copies::Side(k) | Copies::Stacked(k) => k,
        }
    }
}

/// The positions (normalised, or on the canvas) of one copy of a layer's neurons, `None` where
/// not drawable.
pub(super) type Points = Vec<Option<(f32, f32)>>;

/// A graph's horizontal geometry and every neuron's normalised `(u, v)`, before the layers'
/// rows are placed: what the feature names are fitted to, and what decides the room they take.
pub(super) struct Horizontal {
    /// How each layer's copies are arranged.
    pub(super) copies: Vec<Copies>,
    /// Whether each layer is drawn as a plane, and whether any is.
    planar: Vec<bool>,
    any_planar: bool,
    /// The layers of finite depth.
    finite: Vec<usize>,
    /// The input layer (the smallest depth) and the output layer (the largest), if any.
    pub(super) input: Option<usize>,
    pub(super) output: Option<usize>,
    left: f32,
    plot_width: f32,
    /// Width of a plane's front edge (the plot width in a flat picture).
    pub(super) front_width: f32,
    /// `uv[layer][copy][neuron]` on the unit square of the plot, `None` where not drawable.
    pub(super) uv: Vec<Vec<Points>>,
}

/// Where every neuron of every layer lands on the canvas.
pub(super) struct Geometry {
    /// `positions[layer][copy][neuron]`, `None` where a coordinate is not finite.
    pub(super) positions: Vec<Vec<Points>>,
    /// How each layer's copies are arranged.
    pub(super) copies: Vec<Copies>,
    /// Whether each layer is drawn as a plane (two coordinates per neuron).
    pub(super) planar: Vec<bool>,
    /// Pixel `y` of each layer's front edge (its row, for a one-number layer in a 2D picture).
    pub(super) base_y: Vec<f32>,
    /// Pixel `x` where the plot begins, and its width.
    pub(super) left: f32,
    pub(super) plot_width: f32,
    /// Screen height of a plane in the oblique view (0 in a flat picture).
    pub(super) plane_h: f32,
    /// Vertical gap between stacked copies.
    pub(super) stack_dy: f32,
    /// The input layer (the smallest depth) and the output layer (the largest), if any.
    pub(super) input: Option<usize>,
    pub(super) output: Option<usize>,
}

/// The finite coordinate `k` of a neuron, if it has one.
fn coord(layer: &NeuronLayerFile, n: usize, k: usize) -> Option<f64> {
    layer
        .coords
        .get(n)
        .and_then(|c| c.get(k))
        .copied()
        .filter(|v| v.is_finite())
}

/// Whether a layer has two coordinates per neuron (a grid or a ring).
pub(super) fn is_planar(layer: &NeuronLayerFile) -> bool {
    layer.coords.iter().any(|c| c.len() >= 2)
}

/// The range `[lo, hi]` that maps to the plot's extent: `[0, 1]`, widened to hold all values.
fn unit_range(values: impl Iterator<Item = f64>) -> (f64, f64) {
    values.fold((0.0, 1.0), |(lo, hi), v| (lo.min(v), hi.max(v)))
}

impl Horizontal {
    /// The horizontal geometry of `model` on a picture `width` wide.
    pub(super) fn new(model: &ModelFile, style: &GraphStyle, width: f32) -> Self {
        let layers = &model.neuron_layers;
        let n = layers.len();
        let planar: Vec<bool> = layers.iter().map(is_planar).collect();
        let any_planar = planar.iter().any(|&p| p);

        // Copies of folded layers.
        let mut copies = vec![Copies::Side(1); n];
        for conn in &model.connections {
            if let Some(c) = copies.get_mut(conn.to)
                && conn.out_fold >= 2
                && conn.out_fold > c.count()
            {
                *c = Copies::Side(conn.out_fold);
            }
        }
        // A layer of feature maps is read one block per kernel tap or pixel: its channels are
        // drawn once, and the blocks summed into one line per pair (`draw_weights`).
        for conn in &model.connections {
            if let Some(c) = copies.get_mut(conn.from)
                && layers[conn.from].shape.is_none()
                && conn.in_fold >= 2
                && conn.in_fold > c.count()
                && !matches!(c, Copies::Side(k) if *k > 1)
            {
                *c = Copies::Stacked(conn.in_fold);
            }
        }
        // Keep absurd folds from making billions of copies.
        for c in &mut copies {
            *c = match *c {
                Copies::Side(k) => Copies::Side(k.min(64)),
                Copies::Stacked(k) => Copies::Stacked(k.min(64)),
            };
        }

        // Input and output: the smallest and the largest depth.
        let depth = |l: usize| layers[l].depth;
        let by_depth = |a: &usize, b: &usize| depth(*a).total_cmp(&depth(*b));
        let finite: Vec<usize> = (0..n).filter(|&l| depth(l).is_finite()).collect();
        let input = finite.iter().copied().min_by(by_depth);
        let output = finite
            .iter()
            .copied()
            .max_by(by_depth)
            .filter(|&o| Some(o) != input);

        // Coordinate ranges, separately for rows and planes.
        let line_range = unit_range(
            (0..n)
                .filter(|&l| !planar[l])
                .flat_map(|l| (0..layers[l].size).filter_map(move |i| coord(&layers[l], i, 0))),
        );
        let plane_range = |k| {
            unit_range((0..n).filter(|&l| planar[l]).flat_map(move |l| {
                (0..layers[l].size).filter_map(move |i| coord(&layers[l], i, k))
            }))
        };
        let (u_range, v_range) = (plane_range(0), plane_range(1));

        // Horizontal geometry: layer names on the left.
        // Layers at one depth share a row and one name tag, `a | b`.
        let name_width = layers
            .iter()
            .map(|l| {
                let row: Vec<&str> = layers
                    .iter()
                    .filter(|m| m.depth == l.depth)
                    .map(|m| m.name.as_str())
                    .collect();
                text::width(&row.join(" | "), style.font_size)
            })
            .fold(0.0, f32::max);
        let left = (MARGIN + name_width + 12.0).min(0.3 * width);
        let right = width
            - MARGIN
            - style.neuron_radius.max(0.0)
            - if any_planar { 0.02 * width } else { 0.0 };
        let plot_width = (right - left).max(1.0);
        let front_width = if any_planar {
            plot_width * (1.0 - SHEAR)
        } else {
            plot_width
        };

        // Normalised (u, v) of every neuron of every copy, before vertical placement.
        let unit = |v: f64, (lo, hi): (f64, f64)| ((v - lo) / (hi - lo)) as f32;
        let uv: Vec<Vec<Points>> = (0..n)
            .map(|l| {
                let layer = &layers[l];
                let k = copies[l].count();
                (0..k)
                    .map(|j| {
                        (0..layer.size)
                            .map(|i| {
                                let fallback = (i as f32 + 0.5) / layer.size as f32;
                                let has_coords = layer.coords.get(i).is_some_and(|c| !c.is_empty());
                                let (u, v) = if planar[l] {
                                    let u = coord(layer, i, 0).map(|x| unit(x, u_range));
                                    let v = coord(layer, i, 1).map(|y| unit(y, v_range));
                                    (u, v.or(if has_coords { None } else { Some(0.5) }))
                                } else {
                                    (coord(layer, i, 0).map(|x| unit(x, line_range)), Some(0.5))
                                };
                                let u = u.or(if has_coords { None } else { Some(fallback) })?;
                                let u = match copies[l] {
                                    Copies::Side(k) if k > 1 => {
                                        (j as f32 + COPY_GAP / 2.0 + u * (1.0 - COPY_GAP))
                                            / k as f32
                                    }
                                    _ => u,
                                };
                                Some((u, v?))
                            })
                            .collect()
                    })
                    .collect()
            })
            .collect();

        Horizontal {
            copies,
            planar,
            any_planar,
            finite,
            input,
            output,
            left,
            plot_width,
            front_width,
            uv,
        }
    }

    /// Places every neuron on a picture `height` high, leaving `label_room` pixels (above the
    /// outputs, below the inputs) for feature names.
    pub(super) fn place(
        self,
        model: &ModelFile,
        style: &GraphStyle,
        height: f32,
        label_room: (f32, f32),
    ) -> Geometry {
        let layers = &model.neuron_layers;
        let n = layers.len();
        let depth = |l: usize| layers[l].depth;
        let (above, below) = label_room;
        let mut top = MARGIN + style.neuron_radius.max(0.0) + 2.0;
        if style.title.is_some() {
            top += title_size(style) + 8.0;
        }
        top += above;
        let bottom = height - MARGIN - style.neuron_radius.max(0.0) - below;

        // Vertical geometry: depth → pixel row, leaving room for the top plane's height and for
        // stacked copies.
        let depths: Vec<f64> = self.finite.iter().map(|&l| depth(l)).collect();
        let (d_min, d_max) = depths
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &d| {
                (a.min(d), b.max(d))
            });
        let span = if d_max > d_min { d_max - d_min } else { 0.0 };
        let mut sorted = depths.clone();
        sorted.sort_by(f64::total_cmp);
        let min_gap = sorted
            .windows(2)
            .map(|w| w[1] - w[0])
            .filter(|&g| g > 1e-9 * span.max(1.0))
            .fold(span, f64::min);
        let height = (bottom - top).max(1.0);
        // Planes and stacks take a share `f` of the gap between layers.
        let needs_room =
            self.any_planar || self.copies.iter().any(|c| matches!(c, Copies::Stacked(_)));
        let f = if needs_room {
            if self.any_planar { 0.55 } else { 0.35 }
        } else {
            0.0
        };
        let room = if span > 0.0 {
            let g = (min_gap / span) as f32;
            f * g * height / (1.0 + f * g)
        } else {
            f * height / (1.0 + f)
        };
        let plane_h = if self.any_planar { room } else { 0.0 };
        let stack_dy = |k: usize| if k > 1 { room / (k - 1) as f32 } else { 0.0 };
        let base_y: Vec<f32> = (0..n)
            .map(|l| {
                let d = depth(l);
                if !d.is_finite() {
                    f32::NAN
                } else if span > 0.0 {
                    bottom - ((d - d_min) / span) as f32 * (height - room)
                } else {
                    bottom - 0.5 * (height - room)
                }
            })
            .collect();

        let positions = (0..n)
            .map(|l| {
                let dy = match self.copies[l] {
                    Copies::Stacked(k) => stack_dy(k),
                    Copies::Side(_) => 0.0,
                };
                self.uv[l]
                    .iter()
                    .enumerate()
                    .map(|(j, row)| {
                        row.iter()
                            .map(|p| {
                                let (u, v) = (*p)?;
                                let (x, y) = if self.any_planar {
                                    (
                                        self.left
                                            + u * self.front_width
                                            + v * self.plot_width * SHEAR,
                                        base_y[l] - v * plane_h,
                                    )
                                } else {
                                    (self.left + u * self.plot_width, base_y[l])
                                };
                                let y = y - j as f32 * dy;
                                (x.is_finite() && y.is_finite()).then_some((x, y))
                            })
                            .collect()
                    })
                    .collect()
            })
            .collect();
        let stack = self.copies.iter().map(|c| match c {
            Copies::Stacked(k) => stack_dy(*k),
            Copies::Side(_) => 0.0,
        });
        Geometry {
            positions,
            stack_dy: stack.fold(0.0, f32::max),
            copies: self.copies,
            planar: self.planar,
            base_y,
            left: self.left,
            plot_width: self.plot_width,
            plane_h,
            input: self.input,
            output: self.output,
        }
    }
}

impl Geometry {
    /// Where neuron `neuron` of copy `copy` of layer `layer` is drawn (the copy is clamped to
    /// the layer's copies).
    pub(super) fn position(&self, layer: usize, copy: usize, neuron: usize) -> Option<(f32, f32)> {
        let copies = self.positions.get(layer)?;
        copies
            .get(copy.min(copies.len().saturating_sub(1)))?
            .get(neuron)
            .copied()
            .flatten()
    }
}
