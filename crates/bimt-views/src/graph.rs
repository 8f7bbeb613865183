//! Connectivity graphs (paper §2 and figures 2–4, 7, 8): every neuron a dot at its place in
//! space, every weight a line whose width is `|w|` over the largest `|w|` of its weight matrix,
//! blue for positive and red for negative weights. The graph is built once as a [`Scene`]
//! (lines, discs, polygons, text), then drawn into pixels or written as SVG. Here: the weights,
//! neurons and planes; where they go is `placement`'s, the words `labels`'s.

mod labels;
mod placement;
mod style;

pub use style::GraphStyle;

use crate::scene::Scene;
use crate::shape::{Part, Rgba, Shape};
use bimt_format::{ConnectionFile, ConnectionKind, ModelFile};
use image::RgbImage;
use labels::{Labels, label};
use placement::{COPY_GAP, Copies, Geometry, Horizontal, SHEAR};
use style::{BLACK, MARGIN, title_size};

/// Positive weights (the paper's blue).
const BLUE: Rgba = [0, 0, 255, 255];
/// Negative weights (the paper's red).
const RED: Rgba = [255, 0, 0, 255];
/// Plane outlines.
const GREY: Rgba = [140, 140, 140, 255];
/// Identity connections.
const IDENTITY_GREY: Rgba = [150, 150, 150, 255];
/// The shade of every other attention head's box.
const HEAD_SHADE: Rgba = [0, 0, 0, 28];
/// Width in pixels of an identity connection's line.
const IDENTITY_WIDTH: f32 = 0.8;
/// Weights whose line would be thinner than this many pixels are left out: they would change
/// no pixel by more than a few levels, and a dense 784-input layer has tens of thousands.
const MIN_LINE_WIDTH: f32 = 0.05;

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
/// drawn as `k` copies stacked a little apart, as in the paper's figures 5 and 6. A layer of
/// feature maps (a `shape`) is drawn once, each of its channels a dot: a convolution or a
/// flatten out of it is one line per pair of channel and target neuron, as wide as the pair's
/// summed `|w|` and coloured by the sign of its sum.
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
    let (geometry, labels) = place(model, style, scene.width as f32, scene.height as f32);
    draw_planes(&geometry, &mut scene);
    draw_heads(model, style, &geometry, &mut scene);
    draw_identities(model, &geometry, &mut scene);
    draw_weights(model, style, &geometry, &mut scene);
    draw_neurons(model, style, &geometry, &mut scene);
    labels.draw(model, style, &geometry, &mut scene);
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

/// One layer's places in a picture: per copy of the layer, each neuron's pixel `(x, y)`, or
/// `None` where a coordinate is not finite.
pub type LayerPositions = Vec<Vec<Option<(f32, f32)>>>;

/// Where [`render_graph`] draws each neuron: `positions[layer][copy][neuron]` in pixels of a
/// `style.width × style.height` picture, `None` where a coordinate is not finite. A layer
/// drawn once has one copy.
pub fn neuron_positions(model: &ModelFile, style: &GraphStyle) -> Vec<LayerPositions> {
    place(model, style, style.width as f32, style.height as f32)
        .0
        .positions
}

/// Where every neuron of `model` lands on a `width × height` picture, and how its feature
/// names fit: the names decide the room left above and below the layers.
fn place(model: &ModelFile, style: &GraphStyle, width: f32, height: f32) -> (Geometry, Labels) {
    let horizontal = Horizontal::new(model, style, width);
    let labels = Labels::fit(model, &horizontal, style);
    let room = labels.room(model, style, height);
    (horizontal.place(model, style, height, room), labels)
}

/// The two weight signs' colours; `w` is finite and non-zero.
fn weight_colour(w: f32) -> Rgba {
    if w > 0.0 { BLUE } else { RED }
}

/// The outline of every planar layer (of every copy of it).
fn draw_planes(geometry: &Geometry, scene: &mut Scene) {
    for (l, &planar) in geometry.planar.iter().enumerate() {
        if !planar || !geometry.base_y[l].is_finite() {
            continue;
        }
        let k = geometry.copies[l].count();
        for j in 0..k {
            let (u0, u1) = match geometry.copies[l] {
                Copies::Side(k) if k > 1 => (
                    (j as f32 + COPY_GAP / 2.0) / k as f32,
                    (j as f32 + 1.0 - COPY_GAP / 2.0) / k as f32,
                ),
                _ => (0.0, 1.0),
            };
            let dy = if matches!(geometry.copies[l], Copies::Stacked(_)) {
                j as f32 * geometry.stack_dy
            } else {
                0.0
            };
            let front = geometry.plot_width * (1.0 - SHEAR);
            let at = |u: f32, v: f32| {
                (
                    geometry.left + u * front + v * geometry.plot_width * SHEAR,
                    geometry.base_y[l] - v * geometry.plane_h - dy,
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

/// A box around each head of a multi-head attention layer, in each of its copies, every other
/// one shaded, so that the heads (which trade places whole, and inside which alone a neuron
/// moves) show as blocks even where they sit close. Heads are neurons `h·d .. (h+1)·d` in
/// storage order, `d = size / heads`.
fn draw_heads(model: &ModelFile, style: &GraphStyle, geometry: &Geometry, scene: &mut Scene) {
    for (l, layer) in model.neuron_layers.iter().enumerate() {
        let Some(heads) = layer.attention.map(|a| a.heads) else {
            continue;
        };
        if heads < 2 || geometry.planar[l] || !layer.size.is_multiple_of(heads) {
            continue;
        }
        let d = layer.size / heads;
        // Boxes stop short of the neighbouring head's first neuron.
        let spacing = geometry.plot_width / geometry.copies[l].count() as f32 / layer.size as f32;
        let (pad_x, pad_y) = (
            (0.35 * spacing).min(style.neuron_radius + 1.5),
            style.neuron_radius + 2.0,
        );
        for copy in &geometry.positions[l] {
            for h in 0..heads {
                let points: Vec<(f32, f32)> =
                    copy.iter().skip(h * d).take(d).flatten().copied().collect();
                if points.is_empty() {
                    continue;
                }
                let (mut x0, mut x1, mut y0, mut y1) = (
                    f32::INFINITY,
                    f32::NEG_INFINITY,
                    f32::INFINITY,
                    f32::NEG_INFINITY,
                );
                for &(x, y) in &points {
                    (x0, x1, y0, y1) = (x0.min(x), x1.max(x), y0.min(y), y1.max(y));
                }
                let (x0, x1, y0, y1) = (x0 - pad_x, x1 + pad_x, y0 - pad_y, y1 + pad_y);
                scene.push(
                    Part::Head,
                    Shape::Polygon {
                        points: vec![(x0, y0), (x1, y0), (x1, y1), (x0, y1)],
                        fill: h.is_multiple_of(2).then_some(HEAD_SHADE),
                        stroke: Some((0.8, GREY)),
                    },
                );
            }
        }
    }
}

/// Every neuron as a dot; dots shrink where neurons are packed tightly.
fn draw_neurons(model: &ModelFile, style: &GraphStyle, geometry: &Geometry, scene: &mut Scene) {
    for (l, layer) in model.neuron_layers.iter().enumerate() {
        let k = geometry.copies[l].count() as f32;
        let spacing = if geometry.planar[l] {
            let side = (layer.size as f32).sqrt().max(1.0);
            let slant = (geometry.plot_width * SHEAR).hypot(geometry.plane_h);
            (geometry.plot_width * (1.0 - SHEAR) / k / side).min(slant / side)
        } else {
            geometry.plot_width / k / layer.size.max(1) as f32
        };
        let (r, colour) = if geometry.planar[l] {
            (
                (0.6 * style.neuron_radius).min(0.2 * spacing),
                [77, 77, 77, 255],
            )
        } else {
            (style.neuron_radius.min(0.35 * spacing), BLACK)
        };
        for copy in &geometry.positions[l] {
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

/// Every identity connection as thin grey lines joining neuron `i` to neuron `i`.
fn draw_identities(model: &ModelFile, geometry: &Geometry, scene: &mut Scene) {
    for conn in &model.connections {
        if !conn.kind.joins_neuron_to_neuron() {
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
                geometry.position(conn.from, 0, i),
                geometry.position(conn.to, 0, i),
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
/// weights stay visible on top). A connection out of a layer of feature maps (a convolution,
/// one block of rows per kernel tap, or a flatten, one per pixel) is drawn as one line per pair
/// of channel and target neuron, its width the sum of the block's `|w|` (what the connection
/// cost charges for the pair) and its colour the sign of the block's sum.
fn draw_weights(model: &ModelFile, style: &GraphStyle, geometry: &Geometry, scene: &mut Scene) {
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
        let pairs = weight_lines(model, conn);
        let max = pairs.iter().map(|p| p.3).fold(0.0f32, f32::max);
        if max <= 0.0 {
            continue;
        }
        for (o, i, sum, size) in pairs {
            let width = style.max_line_width * size / max;
            if width < MIN_LINE_WIDTH {
                continue;
            }
            let (Some(a), Some(b)) = (
                geometry.position(conn.from, i / from.size, i % from.size),
                geometry.position(conn.to, o / to.size, o % to.size),
            ) else {
                continue;
            };
            let line = Shape::Line {
                from: a,
                to: b,
                width,
                colour: weight_colour(sum),
            };
            lines.push((width, line));
        }
    }
    lines.sort_by(|a, b| a.0.total_cmp(&b.0));
    scene
        .shapes
        .extend(lines.into_iter().map(|(_, line)| (Part::Weight, line)));
}

/// The lines of a linear connection, as [`render_graph`] draws them: `(o, i, sign, size)`
/// for output index `o` and input index `i`, where `size` sets the width (`|w|`, or the
/// summed `|w|` of a channel pair's block out of a layer of feature maps) and the sign of
/// `sign` the colour. Non-finite weights count as zero; zero lines are included.
pub fn weight_lines(model: &ModelFile, conn: &ConnectionFile) -> Vec<(usize, usize, f32, f32)> {
    let clean = |w: f32| if w.is_finite() { w } else { 0.0 };
    let Some(from) = model.neuron_layers.get(conn.from) else {
        return Vec::new();
    };
    if from.shape.is_some() && from.size > 0 {
        conn.weight
            .iter()
            .enumerate()
            .flat_map(|(o, row)| {
                let mut sums = vec![(0.0f32, 0.0f32); from.size];
                for (i, &w) in row.iter().enumerate() {
                    let s = &mut sums[i % from.size];
                    (s.0, s.1) = (s.0 + clean(w), s.1 + clean(w).abs());
                }
                sums.into_iter()
                    .enumerate()
                    .map(move |(i, (sum, size))| (o, i, sum, size))
            })
            .collect()
    } else {
        conn.weight
            .iter()
            .enumerate()
            .flat_map(|(o, row)| {
                row.iter()
                    .enumerate()
                    .map(move |(i, &w)| (o, i, clean(w), clean(w).abs()))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bimt_format::{ConnectionFile, CostSpec, NeuronLayerFile};

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
            token_positions: None,
            sequence: None,
            format: 1,
        }
    }

    fn geometry(m: &ModelFile, style: &GraphStyle) -> Geometry {
        place(m, style, style.width as f32, style.height as f32).0
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
        let (img, lay) = (render_graph(&m, &style), geometry(&m, &style));
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
        let lay = geometry(&m, &GraphStyle::default());
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
        let (img, lay) = (render_graph(&m, &style), geometry(&m, &style));
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
        let (img, lay) = (render_graph(&m, &style), geometry(&m, &style));
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
        let (img, lay) = (render_graph(&m, &style), geometry(&m, &style));
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
        let lay = geometry(&m, &style);
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
        let lay = geometry(&m, &style);
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
        let lay = geometry(&m, &style);
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
        let (img, lay) = (render_graph(&m, &style), geometry(&m, &style));
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
    fn attention_heads_are_drawn_as_boxes_in_each_copy() {
        // 4 neurons in 2 heads; the packed projection makes Q, K and V copies.
        let mut c = ConnectionFile::plain(0, 1, vec![vec![1.0; 4]; 12]);
        c.out_fold = 3;
        let mut attention = line("atn", &[0.1, 0.2, 0.8, 0.9], 1.0);
        attention.attention = Some(bimt_format::AttentionFile {
            heads: 2,
            causal: true,
        });
        let mut m = model(
            vec![line("res", &[0.1, 0.2, 0.8, 0.9], 0.0), attention],
            vec![c],
        );
        let style = GraphStyle::default();
        let boxes = |m: &ModelFile| -> Vec<Vec<(f32, f32)>> {
            graph_scene(m, &style)
                .shapes
                .into_iter()
                .filter_map(|(part, shape)| match (part, shape) {
                    (Part::Head, Shape::Polygon { points, .. }) => Some(points),
                    _ => None,
                })
                .collect()
        };
        let found = boxes(&m);
        assert_eq!(found.len(), 6, "2 heads in each of Q, K and V");
        let lay = geometry(&m, &style);
        // Head 0 of copy Q holds neurons 0 and 1 and not neuron 2.
        let inside = |b: &[(f32, f32)], p: (f32, f32)| {
            let (x0, x1) = (b[0].0.min(b[1].0), b[0].0.max(b[1].0));
            p.0 > x0 && p.0 < x1
        };
        assert!(inside(&found[0], lay.position(1, 0, 0).unwrap()));
        assert!(inside(&found[0], lay.position(1, 0, 1).unwrap()));
        assert!(!inside(&found[0], lay.position(1, 0, 2).unwrap()));
        // One head: no boxes.
        m.neuron_layers[1].attention = Some(bimt_format::AttentionFile {
            heads: 1,
            causal: true,
        });
        assert!(boxes(&m).is_empty());
    }

    #[test]
    fn folded_inputs_become_stacked_copies() {
        let mut c = ConnectionFile::plain(0, 1, vec![vec![0.0, 0.0, 0.0, 1.0]]);
        c.in_fold = 2;
        let m = model(
            vec![line("emb", &[0.25, 0.75], 0.0), line("out", &[0.5], 1.0)],
            vec![c],
        );
        let lay = geometry(&m, &GraphStyle::default());
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
    fn a_convolution_is_one_line_per_channel_pair_summing_its_taps() {
        // Two channels of 2x2 maps, a 2x2 kernel (in_fold 4) into one channel: channel 0's
        // taps cancel (sum 0, |w| 4), channel 1's are all positive (sum 2, |w| 2).
        let mut c =
            ConnectionFile::plain(0, 1, vec![vec![1.0, 0.5, -1.0, 0.5, 1.0, 0.5, -1.0, 0.5]]);
        c.in_fold = 4;
        let mut maps = line("maps", &[0.25, 0.75], 0.0);
        maps.shape = Some([2, 2]);
        let m = model(vec![maps, line("out", &[0.5], 1.0)], vec![c]);
        let style = GraphStyle::default();
        assert_eq!(geometry(&m, &style).copies[0], Copies::Side(1));
        let lines: Vec<(f32, Rgba)> = graph_scene(&m, &style)
            .shapes
            .iter()
            .filter_map(|(part, shape)| match (part, shape) {
                (Part::Weight, Shape::Line { width, colour, .. }) => Some((*width, *colour)),
                _ => None,
            })
            .collect();
        assert_eq!(lines.len(), 2, "{lines:?}");
        // Thin first: channel 1 (|w| 2, blue), then channel 0 (|w| 4, the widest).
        assert_eq!(lines[0].1, BLUE);
        assert!((lines[0].0 - style.max_line_width / 2.0).abs() < 1e-6);
        assert!((lines[1].0 - style.max_line_width).abs() < 1e-6);
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
        let lay = geometry(&m, &GraphStyle::default());
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
