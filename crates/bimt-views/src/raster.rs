//! Drawing [`Shape`]s into pixels. Discs and polygons go through `tiny-skia`, text through
//! [`crate::text`]. Straight lines go in batches through `ab_glyph`'s exact-area coverage
//! rasteriser: a graph has tens of thousands of long thin lines, and `tiny-skia` pays a
//! pipeline call per pixel row of each (a dense 784-100-100-10 graph took seven times longer).

use crate::shape::{Rgba, Shape, sane};
use crate::text::{self, Direction};
use ab_glyph_rasterizer::{Rasterizer, point};
use image::RgbImage;
use tiny_skia::{FillRule, Paint, PathBuilder, Pixmap, PremultipliedColorU8, Stroke, Transform};

/// Largest side of any picture the views make, so that absurd arguments cannot exhaust memory.
pub(crate) const MAX_SIDE: u32 = 16384;

/// Lines whose widths fall in one band of this many pixels are drawn together.
const BAND: f32 = 1.0;

/// Line buffers for pictures up to this many pixels are kept for the next picture.
const KEEP_PIXELS: u64 = 1 << 22;

/// An anti-aliasing paint of one colour.
pub(crate) fn paint(c: Rgba) -> Paint<'static> {
    let mut paint = Paint::default();
    paint.set_color_rgba8(c[0], c[1], c[2], c[3]);
    paint.anti_alias = true;
    paint
}

/// A white pixmap of the given size (each side clamped to `1..=MAX_SIDE`).
pub(crate) fn white_pixmap(width: u32, height: u32) -> Pixmap {
    let mut pixmap = Pixmap::new(width.clamp(1, MAX_SIDE), height.clamp(1, MAX_SIDE))
        .expect("a non-empty pixmap of bounded size");
    pixmap.fill(tiny_skia::Color::WHITE);
    pixmap
}

/// The RGB image of a pixmap (transparent parts, if any, over white).
pub(crate) fn to_image(pixmap: &Pixmap) -> RgbImage {
    let mut rgb = Vec::with_capacity(pixmap.pixels().len() * 3);
    for p in pixmap.pixels() {
        // Premultiplied over white: c + (1 - a)·255.
        let white = 255 - p.alpha();
        rgb.extend_from_slice(&[p.red() + white, p.green() + white, p.blue() + white]);
    }
    RgbImage::from_raw(pixmap.width(), pixmap.height(), rgb).expect("one RGB triple per pixel")
}

/// Draws `shapes` in order. Consecutive lines are drawn as a batch (see [`draw_lines`]).
pub(crate) fn draw_shapes<'a>(pixmap: &mut Pixmap, shapes: impl IntoIterator<Item = &'a Shape>) {
    let mut lines: Vec<&Shape> = Vec::new();
    for shape in shapes {
        if matches!(shape, Shape::Line { .. }) {
            lines.push(shape);
            continue;
        }
        draw_lines(pixmap, &lines);
        lines.clear();
        draw_shape(pixmap, shape);
    }
    draw_lines(pixmap, &lines);
}

/// Draws one shape; shapes with non-finite or absurd coordinates are skipped.
pub(crate) fn draw_shape(pixmap: &mut Pixmap, shape: &Shape) {
    let id = Transform::identity();
    match shape {
        Shape::Line { .. } => draw_lines(pixmap, &[shape]),
        Shape::Circle {
            centre,
            radius,
            colour,
        } => {
            if !shape.drawable() {
                return;
            }
            if let Some(path) = PathBuilder::from_circle(centre.0, centre.1, *radius) {
                pixmap.fill_path(&path, &paint(*colour), FillRule::Winding, id, None);
            }
        }
        Shape::Polygon {
            points,
            fill,
            stroke,
        } => {
            if !shape.drawable() {
                return;
            }
            let mut pb = PathBuilder::new();
            pb.move_to(points[0].0, points[0].1);
            for p in &points[1..] {
                pb.line_to(p.0, p.1);
            }
            pb.close();
            let Some(path) = pb.finish() else { return };
            if let Some(c) = fill {
                pixmap.fill_path(&path, &paint(*c), FillRule::Winding, id, None);
            }
            if let Some((width, c)) = stroke
                && *width > 0.0
                && sane(*width)
            {
                let stroke = Stroke {
                    width: *width,
                    ..Stroke::default()
                };
                pixmap.stroke_path(&path, &paint(*c), &stroke, id, None);
            }
        }
        Shape::Text {
            text,
            at,
            size,
            colour,
            anchor,
            upward,
        } => {
            let direction = if *upward {
                Direction::Up
            } else {
                Direction::Right
            };
            text::draw(pixmap, text, *at, *size, *colour, *anchor, direction);
        }
    }
}

/// A line as the rasteriser takes it: its outline, width and colour.
struct Quad {
    corners: [(f32, f32); 4],
    width: f32,
    colour: Rgba,
}

/// The four corners of a line `width` wide with flat ends, always in the same turning sense
/// (`None` for a line too short to have a direction).
fn corners(from: (f32, f32), to: (f32, f32), width: f32) -> Option<[(f32, f32); 4]> {
    let (dx, dy) = (to.0 - from.0, to.1 - from.1);
    let len = dx.hypot(dy);
    if len <= 1e-4 {
        return None;
    }
    let (nx, ny) = (-dy / len * width / 2.0, dx / len * width / 2.0);
    Some([
        (from.0 + nx, from.1 + ny),
        (to.0 + nx, to.1 + ny),
        (to.0 - nx, to.1 - ny),
        (from.0 - nx, from.1 - ny),
    ])
}

/// Draws lines (other shapes in `lines` are ignored) in order, except that consecutive lines
/// whose widths fall in one [`BAND`] are drawn together: where they overlap, their colours
/// mix by coverage instead of the later one covering the earlier. Coverage is the exact area
/// of each pixel under the line, so a line under a pixel wide leaves ink in proportion to its
/// width.
pub(crate) fn draw_lines(pixmap: &mut Pixmap, lines: &[&Shape]) {
    let quads: Vec<Quad> = lines
        .iter()
        .filter_map(|shape| match shape {
            Shape::Line {
                from,
                to,
                width,
                colour,
            } if shape.drawable() => corners(*from, *to, *width).map(|corners| Quad {
                corners,
                width: *width,
                colour: *colour,
            }),
            _ => None,
        })
        .collect();
    let band = |w: f32| (w / BAND).floor() as i64;
    thread_local! {
        static BUFFERS: std::cell::RefCell<Buffers> = Default::default();
    }
    BUFFERS.with_borrow_mut(|buffers| {
        for batch in quads.chunk_by(|a, b| band(a.width) == band(b.width)) {
            draw_batch(pixmap, batch, buffers);
        }
        if pixmap.width() as u64 * pixmap.height() as u64 > KEEP_PIXELS {
            *buffers = Buffers::default();
        }
    });
}

/// Memory reused from batch to batch, and kept by each thread from picture to picture (frames
/// of a GIF) up to [`KEEP_PIXELS`]: a coverage rasteriser per colour, and each colour's
/// coverage of every pixel.
#[derive(Default)]
struct Buffers {
    rasters: Vec<(Rgba, Rasterizer)>,
    coverage: Vec<Vec<f32>>,
}

/// Draws one batch of line quads: one coverage buffer per colour over the batch's bounding
/// box, then every pixel takes the coverage-weighted mean of the colours.
fn draw_batch(pixmap: &mut Pixmap, batch: &[Quad], buffers: &mut Buffers) {
    let (pw, ph) = (pixmap.width() as f32, pixmap.height() as f32);
    // The batch's bounding box, in whole pixels, within the picture.
    let corners = batch.iter().flat_map(|q| q.corners);
    let (x0, y0, x1, y1) = corners.fold(
        (
            f32::INFINITY,
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::NEG_INFINITY,
        ),
        |(a, b, c, d), (x, y)| (a.min(x), b.min(y), c.max(x), d.max(y)),
    );
    let (x0, y0) = (x0.floor().max(0.0), y0.floor().max(0.0));
    let (x1, y1) = (x1.ceil().min(pw), y1.ceil().min(ph));
    if !(x1 > x0 && y1 > y0) {
        return;
    }
    let (w, h) = ((x1 - x0) as usize, (y1 - y0) as usize);
    let Buffers { rasters, coverage } = buffers;
    let mut used = 0;
    for Quad {
        corners, colour, ..
    } in batch
    {
        let k = match rasters[..used].iter().position(|(c, _)| c == colour) {
            Some(k) => k,
            None => {
                if used == rasters.len() {
                    rasters.push((*colour, Rasterizer::new(w, h)));
                }
                rasters[used].0 = *colour;
                rasters[used].1.reset(w, h);
                used += 1;
                used - 1
            }
        };
        // Into the box's frame; x is kept inside the box so that every row's coverage sums
        // to zero (the rasteriser accumulates along the whole buffer).
        let at = |(x, y): (f32, f32)| point((x - x0).clamp(0.0, w as f32 - 1e-3), y - y0);
        for e in 0..4 {
            rasters[k]
                .1
                .draw_line(at(corners[e]), at(corners[(e + 1) % 4]));
        }
    }
    // Every colour but the last keeps its coverage; the last one's pass blends them all in.
    let (last, others) = (used - 1, &rasters[..used - 1]);
    coverage.resize_with(last.max(coverage.len()), Vec::new);
    for ((colour, raster), cov) in others.iter().zip(coverage.iter_mut()) {
        let opacity = colour[3] as f32 / 255.0;
        cov.resize(w * h, 0.0);
        raster.for_each_pixel(|i, c| cov[i] = c.min(1.0) * opacity);
    }
    let stride = pixmap.width() as usize;
    let pixels = pixmap.pixels_mut();
    let (colour, raster) = &rasters[last];
    let opacity = colour[3] as f32 / 255.0;
    let kept = &coverage[..last];
    raster.for_each_pixel(|i, c| {
        let c = c.min(1.0) * opacity;
        let total = kept.iter().fold(c, |t, v| t + v[i]);
        // Faint enough to change no pixel (this also drops the rasteriser's rounding residue).
        if total < 1.0 / 512.0 {
            return;
        }
        let mut rgb = [0, 1, 2].map(|j| c * colour[j] as f32);
        for ((k, _), v) in others.iter().zip(kept) {
            (0..3).for_each(|j| rgb[j] += v[i] * k[j] as f32);
        }
        let a = total.min(1.0);
        let p = &mut pixels[(y0 as usize + i / w) * stride + x0 as usize + i % w];
        // Source over (premultiplied) with the mean colour.
        // (Values are in 0..=255, so adding a half and truncating rounds them.)
        let mix = |d: u8, src: f32| (d as f32 * (1.0 - a) + src / total * a + 0.5) as u8;
        let alpha = (p.alpha() as f32 * (1.0 - a) + 255.0 * a + 0.5) as u8;
        if let Some(c) = PremultipliedColorU8::from_rgba(
            mix(p.red(), rgb[0]).min(alpha),
            mix(p.green(), rgb[1]).min(alpha),
            mix(p.blue(), rgb[2]).min(alpha),
            alpha,
        ) {
            *p = c;
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ink(img: &RgbImage) -> f64 {
        img.pixels()
            .map(|p| p.0.iter().map(|&v| 255.0 - v as f64).sum::<f64>() / (3.0 * 255.0))
            .sum()
    }

    fn line(from: (f32, f32), to: (f32, f32), width: f32, colour: Rgba) -> Shape {
        Shape::Line {
            from,
            to,
            width,
            colour,
        }
    }

    fn draw(w: u32, h: u32, shapes: &[Shape]) -> RgbImage {
        let mut pixmap = white_pixmap(w, h);
        draw_shapes(&mut pixmap, shapes);
        to_image(&pixmap)
    }

    #[test]
    fn line_ink_is_proportional_to_width() {
        for width in [0.1f32, 0.25, 1.0, 3.0] {
            let img = draw(
                200,
                200,
                &[line((20.0, 30.0), (180.0, 150.0), width, [0, 0, 0, 255])],
            );
            let expected = 200.0 * width as f64; // the segment is 200 long
            let got = ink(&img);
            assert!(
                (got - expected).abs() < 0.03 * expected + 1.0,
                "width {width}: ink {got}, expected {expected}"
            );
        }
    }

    #[test]
    fn lines_are_anti_aliased() {
        let img = draw(
            40,
            40,
            &[line((5.0, 5.0), (35.0, 20.0), 1.5, [0, 0, 255, 255])],
        );
        let partial = img.pixels().filter(|p| p.0[0] > 20 && p.0[0] < 235).count();
        assert!(partial > 20, "soft edges: {partial} partly covered pixels");
    }

    #[test]
    fn thicker_batches_cover_thinner_ones_and_one_batch_mixes() {
        let cross = |w_blue: f32, w_red: f32| {
            draw(
                60,
                60,
                &[
                    line((30.0, 0.0), (30.0, 60.0), w_blue, [0, 0, 255, 255]),
                    line((0.0, 30.0), (60.0, 30.0), w_red, [255, 0, 0, 255]),
                ],
            )
            .get_pixel(30, 30)
            .0
        };
        assert_eq!(
            cross(1.0, 3.0),
            [255, 0, 0],
            "the thicker red line is on top"
        );
        let mixed = cross(2.0, 2.0);
        assert!(
            mixed[0] > 100 && mixed[2] > 100 && mixed[1] < 30,
            "{mixed:?}"
        );
    }

    #[test]
    fn lines_clip_and_ignore_nonsense() {
        let img = draw(
            10,
            10,
            &[
                line((-1e5, -5.0), (1e5, 5.0), 2.0, [0, 0, 0, 255]),
                line((f32::NAN, 0.0), (3.0, 3.0), 2.0, [0, 0, 0, 255]),
                line((3.0, 3.0), (3.0, 3.0), 2.0, [0, 0, 0, 255]),
                line((-3.0, 20.0), (20.0, -3.0), 1.0, [0, 0, 0, 255]),
            ],
        );
        // The first and last lines cross the picture; every row's ink stays in its row.
        assert!(ink(&img) > 10.0);
        assert_eq!(img.get_pixel(9, 0).0, [255, 255, 255]);
    }
}
