//! Connectivity graphs (paper §2 and figures 2–4, 7, 8): every neuron a dot at its place in
//! space, every weight a line whose width is `|w|` over the largest `|w|` of its weight matrix,
//! blue for positive and red for negative weights. The graph is built once as a [`Scene`]
//! (lines, discs, polygons, text), then drawn into pixels or written as SVG.

use crate::scene::{Part, Rgba, Scene, Shape};
use crate::text;
use bimt_format::{ConnectionKind, LayerRole, ModelFile, NeuronLayerFile};
use image::RgbImage;

const BLACK: Rgba = [0, 0, 0, 255];
/// Positive weights (the paper's blue).
const BLUE: Rgba = [0, 0, 255, 255];
/// Negative weights (the paper's red).
const RED: Rgba = [255, 0, 0, 255];
/// Plane outlines.
const GREY: Rgba = [140, 140, 140, 255];
/// Identity connections.
const IDENTITY_GREY: Rgba = [150, 150, 150, 255];
/// Width in pixels of an identity connection's line.
const IDENTITY_WIDTH: f32 = 0.8;
/// Weights whose line would be thinner than this many pixels are left out: they would change
/// no pixel by more than a few levels, and a dense 784-input layer has tens of thousands.
const MIN_LINE_WIDTH: f32 = 0.05;

/// How a connectivity graph is drawn.
#[derive(Clone, Debug, PartialEq)]
pub struct GraphStyle {
    /// Picture width in pixels.
    pub width: u32,
    /// Picture height in pixels.
    pub height: u32,
    /// A title printed at the top, if any.
    pub title: Option<String>,
    /// Width in pixels of the line of the largest weight of each weight matrix; a weight `w`
    /// gets `max_line_width · |w| / max|w|`, so thin ones fade out.
    pub max_line_width: f32,
    /// Radius in pixels of a neuron's dot (dots shrink where neurons are packed densely).
    pub neuron_radius: f32,
    /// Font size (em) in pixels of the labels (layer and feature names); the title is a third
    /// larger.
    pub font_size: f32,
}

impl Default for GraphStyle {
    /// 800×600 pixels, no title, 3-pixel lines for the largest weights.
    fn default() -> Self {
        GraphStyle {
            width: 800,
            height: 600,
            title: None,
            max_line_width: 3.0,
            neuron_radius: 3.0,
            font_size: 12.0,
        }
    }
}

/// Draws the connectivity graph of `model`.
///
/// Layers stack bottom to top by `depth` (the smallest depth, the input, at the bottom). A
/// layer whose coordinates have one number per neuron is a row of dots, the number (on `[0, 1]`,
/// or on the range all such layers span if that is wider) giving the horizontal position. If
/// any layer has two numbers per neuron (a grid or a ring), the picture becomes an oblique view
/// of 3D space: each such layer is a parallelogram, the first coordinate running to the right
/// and the second going up and to the right, and each one-number layer runs along the middle
/// of its plane.
///
/// Weight `weight[o][i]` joins neuron `i % size(from)` to neuron `o % size(to)`. A layer that
/// receives a connection with `out_fold = k ≥ 2` is drawn as `k` side-by-side shrunk copies
/// (labelled Q, K, V when `k = 3`, else 1..k), output index `o` landing in copy `o / size`; a
/// layer read by a connection with `in_fold = k ≥ 2` (token embeddings sharing neurons) is
/// drawn as `k` copies stacked a little apart, as in the paper's figures 5 and 6.
///
/// An identity connection (format 2) is a thin grey line from neuron `i` of one layer to
/// neuron `i` of the other. Weights whose line would be under 0.05 pixels wide are left out.
///
/// Non-finite weights count as zero, zero weights draw nothing, and inconsistent indices are
/// skipped rather than trusted, so any model file renders.
pub fn render_graph(model: &ModelFile, style: &GraphStyle) -> RgbImage {
    graph_scene(model, style).rasterise()
}

/// The connectivity graph of [`render_graph`] as a standalone SVG document: the same shapes,
/// with layer, copy and feature names as `<text>` elements and each kind of shape in its own
/// group (`<g class="weights">`, `"neurons"`, `"labels"`, …).
pub fn render_graph_svg(model: &ModelFile, style: &GraphStyle) -> String {
    graph_scene(model, style).to_svg()
}

/// The connectivity graph of [`render_graph`] as a list of shapes, from which both the picture
/// and the SVG document are drawn.
pub fn graph_scene(model: &ModelFile, style: &GraphStyle) -> Scene {
    let mut scene = Scene::new(style.width, style.height);
    let layout = Layout::new(model, style, scene.width as f32, scene.height as f32);
    layout.draw_planes(&mut scene);
    draw_identities(model, &layout, &mut scene);
    draw_weights(model, style, &layout, &mut scene);
    layout.draw_neurons(model, style, &mut scene);
    layout.draw_labels(model, style, &mut scene);
    if let Some(title) = &style.title {
        scene.push(
            Part::Title,
            label(
                title,
                (scene.width as f32 / 2.0, MARGIN),
                title_size(style),
                (0.5, 0.0),
            ),
        );
    }
    scene
}

/// Black text at `at`, read left to right.
fn label(text: &str, at: (f32, f32), size: f32, anchor: (f32, f32)) -> Shape {
    Shape::Text {
        text: text.into(),
        at,
        size,
        colour: BLACK,
        anchor,
        upward: false,
    }
}

/// Blank space around the picture, in pixels.
const MARGIN: f32 = 8.0;
/// Share of the plot width taken by the second coordinate's slant in the oblique view.
const SHEAR: f32 = 0.28;
/// Gap between side-by-side copies of a folded layer, as a share of one copy's width.
const COPY_GAP: f32 = 0.2;

fn title_size(style: &GraphStyle) -> f32 {
    (style.font_size * 4.0 / 3.0).max(1.0)
}

/// The two weight signs' colours; `w` is finite and non-zero.
fn weight_colour(w: f32) -> Rgba {
    if w > 0.0 { BLUE } else { RED }
}

/// How the copies of a folded layer are arranged.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Copies {
    /// `k` side-by-side copies (a packed output such as Q, K, V).
    Side(usize),
    /// `k` copies stacked upwards (inputs folded onto shared neurons).
    Stacked(usize),
}

impl Copies {
    fn count(self) -> usize {
        match self {
            Copies::Side(k) | Copies::Stacked(k) => k,
        }
    }
}

/// The canvas positions of one copy of a layer's neurons, `None` where not drawable.
type Points = Vec<Option<(f32, f32)>>;

/// Where every neuron of every layer lands on the canvas.
pub(crate) struct Layout {
    /// `positions[layer][copy][neuron]`, `None` where a coordinate is not finite.
    positions: Vec<Vec<Points>>,
    copies: Vec<Copies>,
    /// Whether each layer is drawn as a plane (two coordinates per neuron).
    planar: Vec<bool>,
    /// Pixel `y` of each layer's front edge (its row, for a one-number layer in a 2D picture).
    base_y: Vec<f32>,
    left: f32,
    plot_width: f32,
    /// Screen height of a plane in the oblique view (0 in a flat picture).
    plane_h: f32,
    /// Vertical gap between stacked copies.
    stack_dy: f32,
    /// How the input and output labels are drawn.
    input_labels: LabelMode,
    output_labels: LabelMode,
    input: Option<usize>,
    output: Option<usize>,
}

/// How a row of feature names fits under or over its neurons.
#[derive(Clone, Copy, Debug, PartialEq)]
enum LabelMode {
    None,
    Horizontal,
    Vertical,
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

fn is_planar(layer: &NeuronLayerFile) -> bool {
    layer.coords.iter().any(|c| c.len() >= 2)
}

/// The range `[lo, hi]` that maps to the plot's extent: `[0, 1]`, widened to hold all values.
fn unit_range(values: impl Iterator<Item = f64>) -> (f64, f64) {
    values.fold((0.0, 1.0), |(lo, hi), v| (lo.min(v), hi.max(v)))
}

impl Layout {
    /// The layout of `model` on a `width × height` picture.
    pub(crate) fn new(model: &ModelFile, style: &GraphStyle, width: f32, height: f32) -> Self {
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
        for conn in &model.connections {
            if let Some(c) = copies.get_mut(conn.from)
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

        // Labels decide the top and bottom margins.
        let input_labels = label_mode(model, input, &uv, &copies, front_width, style, true);
        let output_labels = label_mode(model, output, &uv, &copies, front_width, style, false);
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
        let mut top = MARGIN + style.neuron_radius.max(0.0) + 2.0;
        if style.title.is_some() {
            top += title_size(style) + 8.0;
        }
        top += label_extent(output_labels, &model.output_names, &model.output_features);
        let bottom = height
            - MARGIN
            - style.neuron_radius.max(0.0)
            - label_extent(input_labels, &model.input_names, &model.input_features);

        // Vertical geometry: depth → pixel row, leaving room for the top plane's height and for
        // stacked copies.
        let depths: Vec<f64> = finite.iter().map(|&l| depth(l)).collect();
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
        let needs_room = any_planar || copies.iter().any(|c| matches!(c, Copies::Stacked(_)));
        let f = if needs_room {
            if any_planar { 0.55 } else { 0.35 }
        } else {
            0.0
        };
        let room = if span > 0.0 {
            let g = (min_gap / span) as f32;
            f * g * height / (1.0 + f * g)
        } else {
            f * height / (1.0 + f)
        };
        let plane_h = if any_planar { room } else { 0.0 };
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
                let dy = match copies[l] {
                    Copies::Stacked(k) => stack_dy(k),
                    Copies::Side(_) => 0.0,
                };
                uv[l]
                    .iter()
                    .enumerate()
                    .map(|(j, row)| {
                        row.iter()
                            .map(|p| {
                                let (u, v) = (*p)?;
                                let (x, y) = if any_planar {
                                    (
                                        left + u * front_width + v * plot_width * SHEAR,
                                        base_y[l] - v * plane_h,
                                    )
                                } else {
                                    (left + u * plot_width, base_y[l])
                                };
                                let y = y - j as f32 * dy;
                                (x.is_finite() && y.is_finite()).then_some((x, y))
                            })
                            .collect()
                    })
                    .collect()
            })
            .collect();
        let stack = copies.iter().map(|c| match c {
            Copies::Stacked(k) => stack_dy(*k),
            Copies::Side(_) => 0.0,
        });
        Layout {
            positions,
            stack_dy: stack.fold(0.0, f32::max),
            copies,
            planar,
            base_y,
            left,
            plot_width,
            plane_h,
            input_labels,
            output_labels,
            input,
            output,
        }
    }

    /// Where neuron `neuron` of copy `copy` of layer `layer` is drawn (the copy is clamped to
    /// the layer's copies).
    pub(crate) fn position(&self, layer: usize, copy: usize, neuron: usize) -> Option<(f32, f32)> {
        let copies = self.positions.get(layer)?;
        copies
            .get(copy.min(copies.len().saturating_sub(1)))?
            .get(neuron)
            .copied()
            .flatten()
    }

    /// The outline of every planar layer (of every copy of it).
    fn draw_planes(&self, scene: &mut Scene) {
        for (l, &planar) in self.planar.iter().enumerate() {
            if !planar || !self.base_y[l].is_finite() {
                continue;
            }
            let k = self.copies[l].count();
            for j in 0..k {
                let (u0, u1) = match self.copies[l] {
                    Copies::Side(k) if k > 1 => (
                        (j as f32 + COPY_GAP / 2.0) / k as f32,
                        (j as f32 + 1.0 - COPY_GAP / 2.0) / k as f32,
                    ),
                    _ => (0.0, 1.0),
                };
                let dy = if matches!(self.copies[l], Copies::Stacked(_)) {
                    j as f32 * self.stack_dy
                } else {
                    0.0
                };
                let front = self.plot_width * (1.0 - SHEAR);
                let at = |u: f32, v: f32| {
                    (
                        self.left + u * front + v * self.plot_width * SHEAR,
                        self.base_y[l] - v * self.plane_h - dy,
                    )
                };
                let pad = 0.02;
                let points = vec![
                    at(u0 - pad, -pad),
                    at(u1 + pad, -pad),
                    at(u1 + pad, 1.0 + pad),
                    at(u0 - pad, 1.0 + pad),
                ];
                scene.push(
                    Part::Plane,
                    Shape::Polygon {
                        points,
                        fill: None,
                        stroke: Some((1.0, GREY)),
                    },
                );
            }
        }
    }

    /// Every neuron as a dot; dots shrink where neurons are packed tightly.
    fn draw_neurons(&self, model: &ModelFile, style: &GraphStyle, scene: &mut Scene) {
        for (l, layer) in model.neuron_layers.iter().enumerate() {
            let k = self.copies[l].count() as f32;
            let spacing = if self.planar[l] {
                let side = (layer.size as f32).sqrt().max(1.0);
                let slant = (self.plot_width * SHEAR).hypot(self.plane_h);
                (self.plot_width * (1.0 - SHEAR) / k / side).min(slant / side)
            } else {
                self.plot_width / k / layer.size.max(1) as f32
            };
            let (r, colour) = if self.planar[l] {
                (
                    (0.6 * style.neuron_radius).min(0.2 * spacing),
                    [77, 77, 77, 255],
                )
            } else {
                (style.neuron_radius.min(0.35 * spacing), BLACK)
            };
            for copy in &self.positions[l] {
                for &centre in copy.iter().flatten() {
                    scene.push(
                        Part::Neuron,
                        Shape::Circle {
                            centre,
                            radius: r,
                            colour,
                        },
                    );
                }
            }
        }
    }

    /// Layer names on the left, fold names over copies, feature names under the inputs and
    /// over the outputs.
    fn draw_labels(&self, model: &ModelFile, style: &GraphStyle, scene: &mut Scene) {
        let fs = style.font_size;
        let row_y = |l: usize| {
            self.base_y[l]
                - 0.5 * self.plane_h
                - 0.5 * self.stack_dy * (self.copies[l].count() - 1) as f32
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
                    label(&names.join(" | "), (self.left - 12.0, y), fs, (1.0, 0.5)),
                );
            }
            if let Copies::Side(k) = self.copies[l]
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
                        self.positions[l][j].iter().flatten().copied().collect();
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
            LayerRole::Input if self.input.is_some() => {
                Some((l, self.input_labels, &model.input_names, true))
            }
            LayerRole::Output if self.output.is_some() => {
                Some((l, self.output_labels, &model.output_names, false))
            }
            _ => None,
        });
        for (l, mode, names, below) in rows {
            for (p, name) in labelled(model, l, names, &self.copies[l]) {
                let copy = match self.copies[l] {
                    Copies::Stacked(k) if !below => k - 1,
                    _ => p / model.neuron_layers[l].size,
                };
                let Some((x, y)) = self.position(l, copy, p % model.neuron_layers[l].size) else {
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

/// Every identity connection as thin grey lines joining neuron `i` to neuron `i`.
fn draw_identities(model: &ModelFile, layout: &Layout, scene: &mut Scene) {
    for conn in &model.connections {
        if conn.kind != ConnectionKind::Identity {
            continue;
        }
        let (Some(from), Some(to)) = (
            model.neuron_layers.get(conn.from),
            model.neuron_layers.get(conn.to),
        ) else {
            continue;
        };
        for i in 0..from.size.min(to.size) {
            if let (Some(a), Some(b)) = (
                layout.position(conn.from, 0, i),
                layout.position(conn.to, 0, i),
            ) {
                scene.push(
                    Part::Identity,
                    Shape::Line {
                        from: a,
                        to: b,
                        width: IDENTITY_WIDTH,
                        colour: IDENTITY_GREY,
                    },
                );
            }
        }
    }
}

/// Every weight whose line is at least [`MIN_LINE_WIDTH`] wide, thin ones first (so strong
/// weights stay visible on top).
fn draw_weights(model: &ModelFile, style: &GraphStyle, layout: &Layout, scene: &mut Scene) {
    let mut lines = Vec::new();
    for conn in model
        .connections
        .iter()
        .filter(|c| c.kind == ConnectionKind::Linear)
    {
        let (Some(from), Some(to)) = (
            model.neuron_layers.get(conn.from),
            model.neuron_layers.get(conn.to),
        ) else {
            continue;
        };
        if from.size == 0 || to.size == 0 {
            continue;
        }
        let clean = |w: f32| if w.is_finite() { w } else { 0.0 };
        let max = conn
            .weight
            .iter()
            .flatten()
            .map(|&w| clean(w).abs())
            .fold(0.0f32, f32::max);
        if max <= 0.0 {
            continue;
        }
        for (o, row) in conn.weight.iter().enumerate() {
            let Some(b) = layout.position(conn.to, o / to.size, o % to.size) else {
                continue;
            };
            for (i, &w) in row.iter().enumerate() {
                let w = clean(w);
                let width = style.max_line_width * w.abs() / max;
                if width < MIN_LINE_WIDTH {
                    continue;
                }
                let Some(a) = layout.position(conn.from, i / from.size, i % from.size) else {
                    continue;
                };
                let line = Shape::Line {
                    from: a,
                    to: b,
                    width,
                    colour: weight_colour(w),
                };
                lines.push((width, line));
            }
        }
    }
    lines.sort_by(|a, b| a.0.total_cmp(&b.0));
    scene
        .shapes
        .extend(lines.into_iter().map(|(_, line)| (Part::Weight, line)));
}

#[cfg(test)]
mod tests {
    use super::*;
    use bimt_format::{ConnectionFile, CostSpec};

    fn line(name: &str, xs: &[f64], depth: f64) -> NeuronLayerFile {
        NeuronLayerFile::new(name, xs.iter().map(|&x| vec![x]).collect(), depth)
    }

    fn model(neuron_layers: Vec<NeuronLayerFile>, connections: Vec<ConnectionFile>) -> ModelFile {
        ModelFile {
            activation: "silu".into(),
            neuron_layers,
            connections,
            input_features: vec![],
            output_features: vec![],
            input_names: vec![],
            output_names: vec![],
            cost: CostSpec {
                metric: "l1".into(),
                a: 2.0,
                y_star: 1.0,
                reduction: "sum".into(),
                bias_penalty: true,
                last_layer_distance: true,
            },
            token_embedding: None,
            format: 1,
        }
    }

    fn layout(m: &ModelFile, style: &GraphStyle) -> Layout {
        Layout::new(m, style, style.width as f32, style.height as f32)
    }

    fn pixel(img: &RgbImage, (x, y): (f32, f32)) -> [u8; 3] {
        img.get_pixel(x as u32, y as u32).0
    }

    fn mid(a: (f32, f32), b: (f32, f32)) -> (f32, f32) {
        ((a.0 + b.0) / 2.0, (a.1 + b.1) / 2.0)
    }

    /// How much a pixel departs from white, in `[0, 1]`.
    fn ink(p: [u8; 3]) -> f32 {
        p.iter().map(|&v| 255.0 - v as f32).sum::<f32>() / (3.0 * 255.0)
    }

    /// Ink summed across a horizontal window of ±`half` pixels around `(x, y)`.
    fn row_ink(img: &RgbImage, (x, y): (f32, f32), half: i64) -> f32 {
        (-half..=half)
            .map(|d| ink(pixel(img, (x + d as f32, y))))
            .sum()
    }

    fn is_blue(p: [u8; 3]) -> bool {
        p[2] > 200 && p[0] < 80 && p[1] < 80
    }

    fn is_red(p: [u8; 3]) -> bool {
        p[0] > 200 && p[1] < 80 && p[2] < 80
    }

    /// The 2-2-1 network of the tests: input 0 → hidden 0 positive, input 1 → hidden 1
    /// negative, hidden 0 → output zero, hidden 1 → output positive.
    fn two_two_one() -> ModelFile {
        model(
            vec![
                line("in", &[0.25, 0.75], 0.0),
                line("hid", &[0.25, 0.75], 1.0),
                line("out", &[0.5], 2.0),
            ],
            vec![
                ConnectionFile::plain(0, 1, vec![vec![2.0, 0.0], vec![0.0, -2.0]]),
                ConnectionFile::plain(1, 2, vec![vec![0.0, 1.0]]),
            ],
        )
    }

    #[test]
    fn positive_weights_are_blue_negative_red_and_zero_weights_invisible() {
        let m = two_two_one();
        let style = GraphStyle::default();
        let (img, lay) = (render_graph(&m, &style), layout(&m, &style));
        let p = |l, n| lay.position(l, 0, n).unwrap();
        assert!(
            is_blue(pixel(&img, mid(p(0, 0), p(1, 0)))),
            "{:?}",
            pixel(&img, mid(p(0, 0), p(1, 0)))
        );
        assert!(is_red(pixel(&img, mid(p(0, 1), p(1, 1)))));
        assert!(is_blue(pixel(&img, mid(p(1, 1), p(2, 0)))));
        // The zero weight's line: untouched background all along it.
        for k in 1..20 {
            let t = k as f32 / 20.0;
            let (a, b) = (p(1, 0), p(2, 0));
            let q = (a.0 + t * (b.0 - a.0), a.1 + t * (b.1 - a.1));
            if (q.1 - a.1).abs() > 6.0 && (q.1 - b.1).abs() > 6.0 {
                assert_eq!(pixel(&img, q), [255, 255, 255], "at {q:?}");
            }
        }
        // No weight at all between input 0 and hidden 1.
        assert_eq!(pixel(&img, mid(p(0, 0), p(1, 1))), [255, 255, 255]);
    }

    #[test]
    fn larger_depth_is_higher_and_coordinates_run_left_to_right() {
        let m = two_two_one();
        let lay = layout(&m, &GraphStyle::default());
        let p = |l, n| lay.position(l, 0, n).unwrap();
        assert!(p(0, 0).1 > p(1, 0).1 && p(1, 0).1 > p(2, 0).1);
        assert!(p(0, 0).0 < p(0, 1).0);
        assert!(
            (p(2, 0).0 - (p(0, 0).0 + p(0, 1).0) / 2.0).abs() < 1.0,
            "0.5 lies halfway between 0.25 and 0.75"
        );
    }

    #[test]
    fn widths_are_normalised_per_weight_matrix() {
        // A tiny matrix and a huge one: each one's largest weight gets the full width, each
        // one's half-sized weight half of it.
        let m = model(
            vec![
                line("a", &[0.25, 0.75], 0.0),
                line("b", &[0.25, 0.75], 1.0),
                line("c", &[0.25, 0.75], 2.0),
            ],
            vec![
                ConnectionFile::plain(0, 1, vec![vec![1e-3, 0.0], vec![0.0, 5e-4]]),
                ConnectionFile::plain(1, 2, vec![vec![100.0, 0.0], vec![0.0, 50.0]]),
            ],
        );
        let style = GraphStyle {
            max_line_width: 4.0,
            ..GraphStyle::default()
        };
        let (img, lay) = (render_graph(&m, &style), layout(&m, &style));
        let p = |l, n| lay.position(l, 0, n).unwrap();
        let tiny_max = row_ink(&img, mid(p(0, 0), p(1, 0)), 8);
        let huge_max = row_ink(&img, mid(p(1, 0), p(2, 0)), 8);
        let tiny_half = row_ink(&img, mid(p(0, 1), p(1, 1)), 8);
        let huge_half = row_ink(&img, mid(p(1, 1), p(2, 1)), 8);
        assert!(
            tiny_max > 1.5,
            "the largest weight of a tiny matrix is clearly drawn: {tiny_max}"
        );
        assert!(
            (tiny_max - huge_max).abs() < 0.05 * huge_max,
            "{tiny_max} vs {huge_max}"
        );
        assert!(
            (tiny_half / tiny_max - 0.5).abs() < 0.1,
            "{tiny_half} vs {tiny_max}"
        );
        assert!(
            (huge_half / huge_max - 0.5).abs() < 0.1,
            "{huge_half} vs {huge_max}"
        );
    }

    #[test]
    fn thick_lines_are_drawn_over_thin_ones() {
        // Two crossing weights: the strong negative one must win at the crossing.
        let m = model(
            vec![line("a", &[0.25, 0.75], 0.0), line("b", &[0.25, 0.75], 1.0)],
            vec![ConnectionFile::plain(
                0,
                1,
                vec![vec![0.0, -1.0], vec![0.3, 0.0]],
            )],
        );
        let style = GraphStyle::default();
        let (img, lay) = (render_graph(&m, &style), layout(&m, &style));
        let cross = mid(
            lay.position(0, 0, 0).unwrap(),
            lay.position(1, 0, 1).unwrap(),
        );
        assert!(is_red(pixel(&img, cross)), "{:?}", pixel(&img, cross));
    }

    #[test]
    fn nan_weights_count_as_zero() {
        let mut m = two_two_one();
        m.connections[0].weight[0][1] = f32::NAN;
        m.connections[0].weight[1][0] = f32::INFINITY;
        let style = GraphStyle::default();
        let (img, lay) = (render_graph(&m, &style), layout(&m, &style));
        let p = |l, n| lay.position(l, 0, n).unwrap();
        assert!(
            is_blue(pixel(&img, mid(p(0, 0), p(1, 0)))),
            "the finite maximum still sets the scale"
        );
        assert_eq!(pixel(&img, mid(p(0, 1), p(1, 0))), [255, 255, 255]);
    }

    #[test]
    fn feature_names_label_inputs_and_outputs() {
        let mut m = two_two_one();
        let style = GraphStyle::default();
        let lay = layout(&m, &style);
        let dark_below = |img: &RgbImage, (x, y): (f32, f32), dy: f32| {
            (0..30)
                .flat_map(|yy| {
                    (-12..=12).map(move |xx| {
                        (
                            x + xx as f32,
                            y + dy * (style.neuron_radius + 2.0 + yy as f32),
                        )
                    })
                })
                .filter(|&q| q.1 >= 0.0 && q.1 < style.height as f32)
                .filter(|&q| ink(pixel(img, q)) > 0.5)
                .count()
        };
        let (in0, out0) = (
            lay.position(0, 0, 0).unwrap(),
            lay.position(2, 0, 0).unwrap(),
        );
        let plain = render_graph(&m, &style);
        assert_eq!(dark_below(&plain, in0, 1.0), 0);
        m.input_names = vec!["alpha".into(), "beta".into()];
        m.input_features = vec![1, 0];
        m.output_names = vec!["y".into()];
        m.output_features = vec![0];
        let lay = layout(&m, &style);
        let (in0, out0_named) = (
            lay.position(0, 0, 0).unwrap(),
            lay.position(2, 0, 0).unwrap(),
        );
        let named = render_graph(&m, &style);
        assert!(
            dark_below(&named, in0, 1.0) > 10,
            "a name under the first input"
        );
        assert!(
            dark_below(&named, out0_named, -1.0) > 5,
            "a name over the output"
        );
        assert!(out0.1 <= out0_named.1, "room is made for the labels");
    }

    #[test]
    fn title_and_layer_names_are_written() {
        let m = two_two_one();
        let style = GraphStyle {
            title: Some("BIMT".into()),
            ..GraphStyle::default()
        };
        let img = render_graph(&m, &style);
        let dark = |x0: u32, x1: u32, y0: u32, y1: u32| {
            (y0..y1)
                .flat_map(|y| (x0..x1).map(move |x| (x, y)))
                .filter(|&(x, y)| ink(img.get_pixel(x, y).0) > 0.5)
                .count()
        };
        assert!(dark(300, 500, 0, 30) > 20, "title at the top centre");
        let lay = layout(&m, &style);
        let y = lay.position(1, 0, 0).unwrap().1 as u32;
        assert!(
            dark(0, lay.left as u32, y - 8, y + 8) > 10,
            "layer name on the left"
        );
    }

    #[test]
    fn folded_outputs_become_side_by_side_copies() {
        let mut c = ConnectionFile::plain(0, 1, vec![vec![0.0; 2]; 6]);
        c.out_fold = 3;
        c.weight[4][0] = 1.0; // output index 4: copy 2 (V), neuron 0
        let m = model(
            vec![
                line("res", &[0.25, 0.75], 0.0),
                line("qkv", &[0.25, 0.75], 1.0),
            ],
            vec![c],
        );
        let style = GraphStyle::default();
        let (img, lay) = (render_graph(&m, &style), layout(&m, &style));
        assert_eq!(lay.copies[1], Copies::Side(3));
        let q: Vec<(f32, f32)> = (0..3).map(|j| lay.position(1, j, 0).unwrap()).collect();
        assert!(
            q[0].0 < q[1].0 && q[1].0 < q[2].0,
            "copies run left to right: {q:?}"
        );
        assert!(
            lay.position(1, 0, 1).unwrap().0 < q[1].0,
            "each copy is shrunk into its own third"
        );
        assert!(is_blue(pixel(
            &img,
            mid(lay.position(0, 0, 0).unwrap(), q[2])
        )));
        assert_eq!(
            pixel(&img, mid(lay.position(0, 0, 0).unwrap(), q[0])),
            [255, 255, 255]
        );
    }

    #[test]
    fn folded_inputs_become_stacked_copies() {
        let mut c = ConnectionFile::plain(0, 1, vec![vec![0.0, 0.0, 0.0, 1.0]]);
        c.in_fold = 2;
        let m = model(
            vec![line("emb", &[0.25, 0.75], 0.0), line("out", &[0.5], 1.0)],
            vec![c],
        );
        let lay = layout(&m, &GraphStyle::default());
        assert_eq!(lay.copies[0], Copies::Stacked(2));
        let (a, b) = (
            lay.position(0, 0, 1).unwrap(),
            lay.position(0, 1, 1).unwrap(),
        );
        assert!(
            (a.0 - b.0).abs() < 1e-3 && b.1 < a.1 - 5.0,
            "the second token sits above the first: {a:?} {b:?}"
        );
    }

    #[test]
    fn grids_are_drawn_as_oblique_planes() {
        let m = model(
            vec![
                NeuronLayerFile::grid("in", 3, 0.0),
                line("out", &[0.5], 1.0),
            ],
            vec![],
        );
        let lay = layout(&m, &GraphStyle::default());
        let p = |n| lay.position(0, 0, n).unwrap();
        // Neuron 0: (u, v) = (1/6, 1/6); neuron 2: u = 5/6; neuron 6: v = 5/6.
        assert!(
            p(2).0 > p(0).0 && (p(2).1 - p(0).1).abs() < 1e-3,
            "first coordinate runs to the right"
        );
        assert!(
            p(6).0 > p(0).0 && p(6).1 < p(0).1,
            "second coordinate goes up and to the right"
        );
        assert!(
            lay.position(1, 0, 0).unwrap().1 < p(6).1,
            "the next layer sits above the plane"
        );
    }

    #[test]
    fn a_784_neuron_grid_renders_quickly() {
        let mut state = 12345u32;
        let mut noise = move || {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (state >> 8) as f32 / (1u32 << 24) as f32 - 0.5
        };
        let dense = |rows: usize, cols: usize, noise: &mut dyn FnMut() -> f32| {
            (0..rows)
                .map(|_| (0..cols).map(|_| noise()).collect())
                .collect::<Vec<Vec<f32>>>()
        };
        let m = model(
            vec![
                NeuronLayerFile::grid("input", 28, 0.0),
                NeuronLayerFile::grid("hidden", 10, 1.0),
                NeuronLayerFile::grid("hidden2", 10, 2.0),
            ],
            vec![
                ConnectionFile::plain(0, 1, dense(100, 784, &mut noise)),
                ConnectionFile::plain(1, 2, dense(100, 100, &mut noise)),
            ],
        );
        let start = std::time::Instant::now();
        let img = render_graph(&m, &GraphStyle::default());
        let elapsed = start.elapsed().as_secs_f64();
        // Well under a second optimised; unoptimised builds are several times slower.
        let bound = if cfg!(debug_assertions) { 15.0 } else { 1.0 };
        assert!(elapsed < bound, "took {elapsed} s");
        assert!(img.pixels().any(|p| is_blue(p.0)) && img.pixels().any(|p| is_red(p.0)));
    }

    #[test]
    fn odd_models_render_without_panicking() {
        let style = GraphStyle::default();
        let empty = model(vec![], vec![]);
        let img = render_graph(&empty, &style);
        assert!(img.pixels().all(|p| p.0 == [255, 255, 255]));

        let mut odd = model(
            vec![
                line("empty", &[], 0.0),
                line("nan", &[f64::NAN, 0.5], f64::NAN),
                NeuronLayerFile {
                    size: 3,
                    ..NeuronLayerFile::new("no coords", vec![], 1.0)
                },
                line("far", &[-1e300, 1e300], 2.0),
            ],
            vec![
                ConnectionFile::plain(0, 1, vec![vec![1.0]]),
                ConnectionFile::plain(1, 2, vec![vec![f32::NAN, 1.0]]),
                ConnectionFile::plain(2, 3, vec![vec![1.0, 2.0, 3.0], vec![0.0]]),
                ConnectionFile::plain(3, 9, vec![vec![1.0]]),
                ConnectionFile::plain(2, 2, vec![vec![0.0; 3]; 3]),
            ],
        );
        odd.connections[2].out_fold = 1_000_000;
        odd.connections[2].in_fold = 0;
        odd.input_names = vec!["a".into()];
        odd.input_features = vec![5, 0, 0, 0];
        odd.output_names = vec!["z".into()];
        odd.output_features = vec![0; 10];
        for (w, h) in [(800, 600), (0, 0), (3, 2)] {
            let _ = render_graph(
                &odd,
                &GraphStyle {
                    width: w,
                    height: h,
                    title: Some("t".into()),
                    ..style.clone()
                },
            );
        }
        let all_zero = model(
            vec![line("a", &[0.5], 0.0), line("b", &[0.5], 1.0)],
            vec![ConnectionFile::plain(0, 1, vec![vec![0.0]])],
        );
        let img = render_graph(&all_zero, &style);
        assert!(!img.pixels().any(|p| is_blue(p.0) || is_red(p.0)));
    }
}
