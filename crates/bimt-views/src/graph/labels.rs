//! A connectivity graph's words: layer names on the left, Q, K, V (or 1..k) under the copies
//! of a folded layer, feature names under the inputs and over the outputs, upright where they
//! do not fit side by side.

use super::placement::{Copies, Geometry, Horizontal, Points, is_planar};
use super::style::{BLACK, GraphStyle};
use crate::scene::Scene;
use crate::shape::{Part, Shape};
use crate::text;
use bimt_format::{LayerRole, ModelFile};

/// How the feature names of the input and the output layer are drawn.
pub(super) struct Labels {
    input: LabelMode,
    output: LabelMode,
}

/// How a row of feature names fits under or over its neurons.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum LabelMode {
    None,
    Horizontal,
    Vertical,
}

impl Labels {
    /// How the feature names of `horizontal`'s input and output layers fit.
    pub(super) fn fit(model: &ModelFile, horizontal: &Horizontal, style: &GraphStyle) -> Self {
        let h = horizontal;
        Labels {
            input: label_mode(model, h.input, &h.uv, &h.copies, h.front_width, style, true),
            output: label_mode(
                model,
                h.output,
                &h.uv,
                &h.copies,
                h.front_width,
                style,
                false,
            ),
        }
    }

    /// Pixels the feature names take above the outputs and below the inputs on a picture
    /// `height` high.
    pub(super) fn room(&self, model: &ModelFile, style: &GraphStyle, height: f32) -> (f32, f32) {
        let label_extent = |mode: LabelMode, names: &[String], features: &[usize]| match mode {
            LabelMode::None => 0.0,
            LabelMode::Horizontal => style.font_size + 6.0,
            LabelMode::Vertical => {
                let longest = features
                    .iter()
                    .filter_map(|&f| names.get(f))
                    .map(|s| text::width(s, style.font_size));
                longest.fold(0.0, f32::max).min(0.25 * height) + 6.0
            }
        };
        (
            label_extent(self.output, &model.output_names, &model.output_features),
            label_extent(self.input, &model.input_names, &model.input_features),
        )
    }

    /// Layer names on the left, fold names over copies, feature names under the inputs and
    /// over the outputs.
    pub(super) fn draw(
        &self,
        model: &ModelFile,
        style: &GraphStyle,
        geometry: &Geometry,
        scene: &mut Scene,
    ) {
        let fs = style.font_size;
        let row_y = |l: usize| {
            geometry.base_y[l]
                - 0.5 * geometry.plane_h
                - 0.5 * geometry.stack_dy * (geometry.copies[l].count() - 1) as f32
        };
        for (l, _) in model.neuron_layers.iter().enumerate() {
            let y = row_y(l);
            // Layers that share a row (several inputs, two towers) share one name tag.
            if y.is_finite() && (0..l).all(|m| row_y(m) != y) {
                let names: Vec<&str> = (l..model.neuron_layers.len())
                    .filter(|&m| row_y(m) == y)
                    .map(|m| model.neuron_layers[m].name.as_str())
                    .collect();
                scene.push(
                    Part::Label,
                    label(
                        &names.join(" | "),
                        (geometry.left - 12.0, y),
                        fs,
                        (1.0, 0.5),
                    ),
                );
            }
            if let Copies::Side(k) = geometry.copies[l]
                && k > 1
            {
                for j in 0..k {
                    let name = if k == 3 {
                        ["Q", "K", "V"][j].to_string()
                    } else {
                        (j + 1).to_string()
                    };
                    // Centred under the copy, on a pale patch so that lines do not hide it.
                    let points: Vec<(f32, f32)> =
                        geometry.positions[l][j].iter().flatten().copied().collect();
                    if points.is_empty() {
                        continue;
                    }
                    let x = points.iter().map(|p| p.0).sum::<f32>() / points.len() as f32;
                    let y = points.iter().map(|p| p.1).fold(f32::NEG_INFINITY, f32::max)
                        + style.neuron_radius
                        + 3.0;
                    let half = text::width(&name, fs) / 2.0 + 2.0;
                    let (x0, x1, y0, y1) = (x - half, x + half, y - 1.0, y + fs + 1.0);
                    scene.push(
                        Part::Backdrop,
                        Shape::Polygon {
                            points: vec![(x0, y0), (x1, y0), (x1, y1), (x0, y1)],
                            fill: Some([255, 255, 255, 217]),
                            stroke: None,
                        },
                    );
                    scene.push(
                        Part::Label,
                        Shape::Text {
                            text: name,
                            at: (x, y),
                            size: fs,
                            colour: [51, 51, 51, 255],
                            anchor: (0.5, 0.0),
                            upward: false,
                        },
                    );
                }
            }
        }
        // Every input and output layer is named like the first one found by depth.
        let roles = model.roles();
        let rows = (0..model.neuron_layers.len()).filter_map(|l| match roles[l] {
            LayerRole::Input if geometry.input.is_some() => {
                Some((l, self.input, &model.input_names, true))
            }
            LayerRole::Output if geometry.output.is_some() => {
                Some((l, self.output, &model.output_names, false))
            }
            _ => None,
        });
        for (l, mode, names, below) in rows {
            for (p, name) in labelled(model, l, names, &geometry.copies[l]) {
                let copy = match geometry.copies[l] {
                    Copies::Stacked(k) if !below => k - 1,
                    _ => p / model.neuron_layers[l].size,
                };
                let Some((x, y)) = geometry.position(l, copy, p % model.neuron_layers[l].size)
                else {
                    continue;
                };
                let gap = style.neuron_radius + 4.0;
                let at = if below { (x, y + gap) } else { (x, y - gap) };
                // Upright names start (or end) at the neuron and read upwards.
                let (anchor, upward) = match (mode, below) {
                    (LabelMode::Horizontal, true) => ((0.5, 0.0), false),
                    (LabelMode::Horizontal, false) => ((0.5, 1.0), false),
                    (LabelMode::Vertical, true) => ((1.0, 0.5), true),
                    (LabelMode::Vertical, false) => ((0.0, 0.5), true),
                    (LabelMode::None, _) => continue,
                };
                scene.push(
                    Part::Label,
                    Shape::Text {
                        text: name.into(),
                        at,
                        size: fs,
                        colour: BLACK,
                        anchor,
                        upward,
                    },
                );
            }
        }
    }
}

/// Black text at `at`, read left to right.
pub(super) fn label(text: &str, at: (f32, f32), size: f32, anchor: (f32, f32)) -> Shape {
    Shape::Text {
        text: text.into(),
        at,
        size,
        colour: BLACK,
        anchor,
        upward: false,
    }
}

/// The positions `p` of layer `l` that carry a feature name, with that name: position `p`
/// sits at neuron `p % size` of copy `p / size`; for stacked copies only the first copy (the
/// one nearest the labels) is named.
fn labelled<'a>(
    model: &ModelFile,
    l: usize,
    names: &'a [String],
    copies: &Copies,
) -> Vec<(usize, &'a str)> {
    let size = model.neuron_layers[l].size;
    // Format 2 names each input or output layer's own data columns.
    let features = model.features(l);
    let positions = match copies {
        Copies::Side(k) => size * k,
        Copies::Stacked(_) => size,
    };
    features
        .iter()
        .enumerate()
        .take(positions)
        .filter_map(|(p, &f)| names.get(f).map(|s| (p, s.as_str())))
        .collect()
}

/// Whether the feature names of layer `l` fit horizontally, upright, or not at all, given the
/// tightest spacing between two labelled neurons.
fn label_mode(
    model: &ModelFile,
    layer: Option<usize>,
    uv: &[Vec<Points>],
    copies: &[Copies],
    front_width: f32,
    style: &GraphStyle,
    input: bool,
) -> LabelMode {
    let Some(l) = layer else {
        return LabelMode::None;
    };
    let names = if input {
        &model.input_names
    } else {
        &model.output_names
    };
    let size = model.neuron_layers[l].size;
    if is_planar(&model.neuron_layers[l]) || names.is_empty() || size == 0 {
        return LabelMode::None;
    }
    let items = labelled(model, l, names, &copies[l]);
    if items.is_empty() {
        return LabelMode::None;
    }
    let mut xs: Vec<f32> = items
        .iter()
        .filter_map(|&(p, _)| uv[l].get(p / size)?.get(p % size).copied().flatten())
        .map(|(u, _)| u * front_width)
        .collect();
    xs.sort_by(f32::total_cmp);
    let gap = xs
        .windows(2)
        .map(|w| w[1] - w[0])
        .fold(f32::INFINITY, f32::min);
    let widest = items
        .iter()
        .map(|(_, s)| text::width(s, style.font_size))
        .fold(0.0, f32::max);
    if widest + 4.0 <= gap {
        LabelMode::Horizontal
    } else if style.font_size + 1.0 <= gap {
        LabelMode::Vertical
    } else {
        LabelMode::None
    }
}
