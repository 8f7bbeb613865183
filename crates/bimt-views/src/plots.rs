//! Small task plots: decision boundaries (paper Fig. 4), predicted-vs-true scatter plots
//! (Fig. 7), token embeddings in a plane (Fig. 5) and feature images (Fig. 17), and a tiling
//! of titled pictures.

use crate::chart::{self, Axis, Drawn, Frame, PALETTE, plot_box, tick_target};
use crate::raster::{MAX_SIDE, draw_shape, paint, to_image, white_pixmap};
use crate::shape::Shape;
use crate::text::{self, Direction};
use image::RgbImage;
use plotters::prelude::*;
use tiny_skia::{LineCap, LineJoin, PathBuilder, Stroke, Transform};

/// Font size (em, pixels) of panel titles.
const PANEL_TITLE: f32 = 13.0;

/// Pale shade of class 0 (`P(class 1) = 0`) and of class 1 (`P(class 1) = 1`).
const PALE_0: [f32; 3] = [1.0, 0.85, 0.70];
const PALE_1: [f32; 3] = [0.72, 0.84, 1.0];

/// The colour of class `k`'s points: orange, blue, then the rest of `tab10`.
fn class_colour(k: u32) -> RGBColor {
    match k {
        0 => PALETTE[1],
        1 => PALETTE[0],
        k => PALETTE[(k as usize) % PALETTE.len()],
    }
}

/// Draws a two-class probability map over `bounds = (x_min, x_max, y_min, y_max)` on a
/// `size × size` picture, with ticks, tick labels and the axis titles `x1` and `x2`: the
/// background shades from pale orange (`P(class 1) = 0`) to pale blue (`P(class 1) = 1`), the
/// `P = 0.5` contour is a black line, and each point `(x, y, class)` is a dot in its class's
/// colour (orange for 0, blue for 1), y pointing up.
///
/// `prob` is evaluated on a grid of at most 201 × 201 points and interpolated in between, so
/// an expensive model stays cheap to draw; a non-finite probability counts as 0.5. Bounds that
/// are not finite or empty are replaced by the points' range (or `[-1, 1]²`).
pub fn render_decision_boundary(
    prob: &dyn Fn(f64, f64) -> f64,
    points: &[(f64, f64, u32)],
    bounds: (f64, f64, f64, f64),
    size: u32,
) -> RgbImage {
    decision_boundary(prob, points, bounds, size).0
}

/// [`render_decision_boundary`], and the pixel box of its plot (left, top, right, bottom).
fn decision_boundary(
    prob: &dyn Fn(f64, f64) -> f64,
    points: &[(f64, f64, u32)],
    bounds: (f64, f64, f64, f64),
    size: u32,
) -> (RgbImage, (f32, f32, f32, f32)) {
    let size = size.clamp(1, MAX_SIDE);
    let mut pixmap = white_pixmap(size, size);
    let (x_lo, x_hi, y_lo, y_hi) = checked_bounds(bounds, points);
    let target = tick_target(size as f32, 70.0);
    let frame = Frame {
        title: "",
        x: Axis::linear(x_lo, x_hi, target),
        y: Axis::linear(y_lo, y_hi, target),
        x_title: "x1",
        y_title: "x2",
    };
    let whole = (0.5, 0.5, size as f32 - 0.5, size as f32 - 0.5);
    let plot = match frame.draw(&chart::area(&mut pixmap), false, true) {
        Ok(chart) => plot_box(&chart),
        Err(_) => whole,
    };
    // A picture too small for axes is all plot.
    let plot = if plot.2 - plot.0 >= 8.0 && plot.3 - plot.1 >= 8.0 {
        plot
    } else {
        whole
    };
    let (left, top, right, bottom) = plot;
    let to_px = |x: f64, y: f64| {
        (
            left + ((x - x_lo) / (x_hi - x_lo)) as f32 * (right - left),
            bottom - ((y - y_lo) / (y_hi - y_lo)) as f32 * (bottom - top),
        )
    };
    // Samples on a grid over the plot, top row first.
    let n = (right - left).max(bottom - top).ceil() as usize;
    let samples = n.clamp(1, 200) + 1;
    let sample_x = |s: usize| x_lo + s as f64 / (samples - 1) as f64 * (x_hi - x_lo);
    let sample_y = |s: usize| y_hi - s as f64 / (samples - 1) as f64 * (y_hi - y_lo);
    let mut grid = vec![0.5f64; samples * samples];
    for sy in 0..samples {
        for sx in 0..samples {
            let p = prob(sample_x(sx), sample_y(sy));
            grid[sy * samples + sx] = if p.is_finite() {
                p.clamp(0.0, 1.0)
            } else {
                0.5
            };
        }
    }
    // The field, interpolated at the centre of every pixel inside the frame.
    let at = |gx: f32, gy: f32| {
        let last = (samples - 1) as f32;
        let (gx, gy) = (gx.clamp(0.0, last), gy.clamp(0.0, last));
        let (ix, iy) = (
            (gx as usize).min(samples.saturating_sub(2)),
            (gy as usize).min(samples.saturating_sub(2)),
        );
        let (tx, ty) = ((gx - ix as f32) as f64, (gy - iy as f32) as f64);
        let g = |x: usize, y: usize| grid[y.min(samples - 1) * samples + x.min(samples - 1)];
        let upper = g(ix, iy) * (1.0 - tx) + g(ix + 1, iy) * tx;
        let lower = g(ix, iy + 1) * (1.0 - tx) + g(ix + 1, iy + 1) * tx;
        upper * (1.0 - ty) + lower * ty
    };
    let (width, height) = (pixmap.width(), pixmap.height());
    let scale_x = (samples - 1) as f32 / (right - left);
    let scale_y = (samples - 1) as f32 / (bottom - top);
    for py in (top.ceil() as u32)..(bottom.floor() as u32).min(height) {
        for px in (left.ceil() as u32)..(right.floor() as u32).min(width) {
            let (cx, cy) = (px as f32 + 0.5, py as f32 + 0.5);
            let p = at((cx - left) * scale_x, (cy - top) * scale_y) as f32;
            let c = (0..3).map(|k| PALE_0[k] + (PALE_1[k] - PALE_0[k]) * p);
            let c: Vec<u8> = c.map(|v| (v * 255.0).round() as u8).collect();
            let i = (py * width + px) as usize;
            if let Some(colour) = tiny_skia::PremultipliedColorU8::from_rgba(c[0], c[1], c[2], 255)
            {
                pixmap.pixels_mut()[i] = colour;
            }
        }
    }
    // The 0.5 contour, as one path, so that its pieces join without overlapping ink.
    let to_canvas = |(gx, gy): (f64, f64)| {
        let step = |g: f64, lo: f32, hi: f32| lo + (g / (samples - 1) as f64) as f32 * (hi - lo);
        (step(gx, left, right), step(gy, top, bottom))
    };
    let mut pb = PathBuilder::new();
    for (a, b) in contour(&grid, samples, 0.5) {
        let (a, b) = (to_canvas(a), to_canvas(b));
        pb.move_to(a.0, a.1);
        pb.line_to(b.0, b.1);
    }
    if let Some(path) = pb.finish() {
        let stroke = Stroke {
            width: 1.6,
            line_cap: LineCap::Round,
            line_join: LineJoin::Round,
            ..Stroke::default()
        };
        let black = paint([0, 0, 0, 255]);
        pixmap.stroke_path(&path, &black, &stroke, Transform::identity(), None);
    }
    let r = (size as f32 / 110.0).clamp(2.0, 6.0);
    for &(x, y, class) in points {
        let (px, py) = to_px(x, y);
        let RGBColor(cr, cg, cb) = class_colour(class);
        for (radius, colour) in [(r + 0.8, [0, 0, 0, 204]), (r, [cr, cg, cb, 255])] {
            let centre = (px, py);
            draw_shape(
                &mut pixmap,
                &Shape::Circle {
                    centre,
                    radius,
                    colour,
                },
            );
        }
    }
    (to_image(&pixmap), plot)
}

/// The segments where the `n × n` grid (row-major, rows top to bottom) crosses `level`, in
/// grid coordinates `(column, row)`, by marching squares (saddles split by the cell's mean).
fn contour(grid: &[f64], n: usize, level: f64) -> Vec<((f64, f64), (f64, f64))> {
    let mut segments = Vec::new();
    for y in 0..n.saturating_sub(1) {
        for x in 0..n - 1 {
            let corners = [(x, y), (x + 1, y), (x + 1, y + 1), (x, y + 1)];
            let v = corners.map(|(cx, cy)| grid[cy * n + cx] - level);
            let mut cross = Vec::with_capacity(4);
            for e in 0..4 {
                let (a, b) = (e, (e + 1) % 4);
                if (v[a] > 0.0) != (v[b] > 0.0) {
                    let t = v[a] / (v[a] - v[b]);
                    let (pa, pb) = (corners[a], corners[b]);
                    cross.push((
                        pa.0 as f64 + t * (pb.0 as f64 - pa.0 as f64),
                        pa.1 as f64 + t * (pb.1 as f64 - pa.1 as f64),
                    ));
                }
            }
            match cross.len() {
                2 => segments.push((cross[0], cross[1])),
                4 => {
                    // Corners 0 and 2 share a side; if the centre does too, they connect.
                    let centre = v.iter().sum::<f64>() / 4.0;
                    if (centre > 0.0) == (v[0] > 0.0) {
                        segments.push((cross[0], cross[1]));
                        segments.push((cross[2], cross[3]));
                    } else {
                        segments.push((cross[3], cross[0]));
                        segments.push((cross[1], cross[2]));
                    }
                }
                _ => {}
            }
        }
    }
    segments
}

/// Usable plot bounds: `bounds` if finite and non-empty, else the points' range, else `[-1, 1]²`.
fn checked_bounds(
    bounds: (f64, f64, f64, f64),
    points: &[(f64, f64, u32)],
) -> (f64, f64, f64, f64) {
    let (x_lo, x_hi, y_lo, y_hi) = bounds;
    let ok = |lo: f64, hi: f64| lo.is_finite() && hi.is_finite() && hi > lo;
    let x = if ok(x_lo, x_hi) {
        (x_lo, x_hi)
    } else {
        padded_range(points.iter().map(|p| p.0))
    };
    let y = if ok(y_lo, y_hi) {
        (y_lo, y_hi)
    } else {
        padded_range(points.iter().map(|p| p.1))
    };
    (x.0, x.1, y.0, y.1)
}

/// The range of the finite `values`, widened by 5% each side; `[-1, 1]` if there are none,
/// `v ± 0.5` if they are all equal.
fn padded_range(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(v), b.max(v))
        });
    if lo > hi {
        (-1.0, 1.0)
    } else if hi - lo <= 1e-12 * lo.abs().max(1.0) {
        (lo - 0.5, hi + 0.5)
    } else {
        let pad = 0.05 * (hi - lo);
        (lo - pad, hi + pad)
    }
}

/// Draws a `size × size` scatter plot of `points` (e.g. predicted against true values) with
/// ticks and tick labels on both axes, both axis titles, a title and the grey diagonal `y = x`.
/// Both axes share one range (the finite data's, padded) and the plot is square, so the
/// diagonal runs corner to corner and a perfect prediction lies on it. Non-finite points are
/// skipped.
pub fn render_scatter(
    points: &[(f64, f64)],
    x_label: &str,
    y_label: &str,
    title: &str,
    size: u32,
) -> RgbImage {
    let size = size.clamp(1, MAX_SIDE);
    let mut pixmap = white_pixmap(size, size);
    let _ = draw_scatter(&chart::area(&mut pixmap), points, (x_label, y_label, title));
    to_image(&pixmap)
}

fn draw_scatter(
    area: &chart::Area,
    points: &[(f64, f64)],
    (x_label, y_label, title): (&str, &str, &str),
) -> Drawn {
    let (size, _) = area.dim_in_pixel();
    let finite: Vec<(f64, f64)> = points
        .iter()
        .copied()
        .filter(|p| p.0.is_finite() && p.1.is_finite())
        .collect();
    let (lo, hi) = padded_range(finite.iter().flat_map(|p| [p.0, p.1]));
    let axis = Axis::linear(lo, hi, tick_target(size as f32, 70.0));
    let frame = Frame {
        title,
        x: axis.clone(),
        y: axis,
        x_title: x_label,
        y_title: y_label,
    };
    let mut chart = frame.draw(area, true, true)?;
    let diagonal = RGBColor(140, 140, 140).stroke_width(1);
    chart.draw_series([PathElement::new(vec![(lo, lo), (hi, hi)], diagonal)])?;
    let r = (size as f32 / 150.0).clamp(2.0, 4.0).round() as u32;
    let dot = PALETTE[0].mix(0.7).filled();
    chart.draw_series(finite.iter().map(|&p| Circle::new(p, r, dot)))?;
    Ok(())
}

/// Side-by-side `panel × panel` plots of token embeddings in a plane, one per `(title,
/// points)` (paper Fig. 5: each module's embeddings form a circle), with ticks, tick labels
/// and the axis titles `x1` and `x2`. Point `t` is token `t`, coloured by its index around the
/// hue circle, so an ordered circle shows as a rainbow. Both axes of a panel share one range,
/// symmetric around 0, and the plot is square, so a circle stays round. Non-finite points are
/// skipped; no panels give a 1×1 white picture.
pub fn render_token_planes(panels: &[(String, Vec<(f64, f64)>)], panel: u32) -> RgbImage {
    if panels.is_empty() {
        return RgbImage::from_pixel(1, 1, image::Rgb([255, 255, 255]));
    }
    let side = panel.clamp(60, MAX_SIDE);
    // Only as many panels as fit in the largest picture.
    let count = panels.len().min((MAX_SIDE / side) as usize).max(1);
    let mut pixmap = white_pixmap(side * count as u32, side);
    {
        let area = chart::area(&mut pixmap);
        for (cell, (title, points)) in area.split_evenly((1, count)).iter().zip(panels) {
            // A panel too small for its labels stays partly drawn.
            let _ = draw_token_plane(cell, title, points);
        }
    }
    to_image(&pixmap)
}

fn draw_token_plane(area: &chart::Area, title: &str, points: &[(f64, f64)]) -> Drawn {
    let (side, _) = area.dim_in_pixel();
    let extent = points
        .iter()
        .flat_map(|p| [p.0.abs(), p.1.abs()])
        .filter(|v| v.is_finite())
        .fold(0.0f64, f64::max);
    let e = if extent > 0.0 { 1.1 * extent } else { 1.0 };
    let axis = Axis::linear(-e, e, tick_target(side as f32, 60.0));
    let frame = Frame {
        title,
        x: axis.clone(),
        y: axis,
        x_title: "x1",
        y_title: "x2",
    };
    let mut chart = frame.draw(area, true, true)?;
    let n = points.len().max(1);
    let r = (side as f32 / 100.0).clamp(2.0, 4.0).round() as u32;
    let dots = points
        .iter()
        .enumerate()
        .filter(|(_, p)| p.0.is_finite() && p.1.is_finite())
        .map(|(t, &p)| Circle::new(p, r, hue(t as f32 / n as f32).mix(0.9).filled()));
    chart.draw_series(dots)?;
    Ok(())
}

/// Tiles titled pictures in `columns` columns, each under its title (for example the
/// decision boundary with one weight removed, paper Fig. 12). Cells are as large as the
/// largest picture; no panels give a 1×1 white picture.
pub fn render_panels(panels: &[(String, RgbImage)], columns: usize) -> RgbImage {
    if panels.is_empty() {
        return RgbImage::from_pixel(1, 1, image::Rgb([255, 255, 255]));
    }
    let columns = columns.clamp(1, panels.len());
    let rows = panels.len().div_ceil(columns);
    let (w, h) = panels.iter().fold((1, 1), |(w, h), (_, p)| {
        (w.max(p.width()), h.max(p.height()))
    });
    let title = title_row();
    let (cell_w, cell_h) = (w + 8, h + title + 8);
    let width = (cell_w as u64 * columns as u64).min(MAX_SIDE as u64) as u32;
    let height = (cell_h as u64 * rows as u64).min(MAX_SIDE as u64) as u32;
    let mut pixmap = white_pixmap(width, height);
    for (k, (name, _)) in panels.iter().enumerate() {
        let (x, y) = ((k % columns) as u32 * cell_w, (k / columns) as u32 * cell_h);
        let at = (x as f32 + cell_w as f32 / 2.0, y as f32 + 5.0);
        let black = [0, 0, 0, 255];
        text::draw(
            &mut pixmap,
            name,
            at,
            PANEL_TITLE,
            black,
            (0.5, 0.0),
            Direction::Right,
        );
    }
    let mut img = to_image(&pixmap);
    for (k, (_, panel)) in panels.iter().enumerate() {
        let (x, y) = ((k % columns) as u32 * cell_w, (k / columns) as u32 * cell_h);
        image::imageops::replace(&mut img, panel, (x + 4) as i64, (y + title) as i64);
    }
    img
}

/// Height in pixels of the title row above each tile of [`render_panels`].
fn title_row() -> u32 {
    (PANEL_TITLE + 10.0) as u32
}

/// A fully saturated colour at `h` turns around the hue circle (0: red, 1/3: green, 2/3: blue).
fn hue(h: f32) -> RGBColor {
    let h = h.rem_euclid(1.0) * 6.0;
    let x = 1.0 - (h % 2.0 - 1.0).abs();
    let [r, g, b] = match h as u32 {
        0 => [1.0, x, 0.0],
        1 => [x, 1.0, 0.0],
        2 => [0.0, 1.0, x],
        3 => [0.0, x, 1.0],
        4 => [x, 0.0, 1.0],
        _ => [1.0, 0.0, x],
    }
    .map(|c: f32| (0.85 * c * 255.0).round() as u8);
    RGBColor(r, g, b)
}

/// Tiles `images` (each `height × width` floats, row-major) in `columns` columns, each pixel
/// blown up to a `scale × scale` block, with a one-block grey gap around every image. Colours
/// are diverging and normalised per image by its largest `|value|`: blue positive, red
/// negative, white zero, as in the paper's feature pictures (Fig. 17). Missing values count as
/// zero and non-finite ones as zero; an empty list gives a 1×1 white picture.
pub fn render_image_grid(
    images: &[Vec<f32>],
    width: usize,
    height: usize,
    columns: usize,
    scale: u32,
) -> RgbImage {
    if images.is_empty() || width == 0 || height == 0 {
        return RgbImage::from_pixel(1, 1, image::Rgb([255, 255, 255]));
    }
    let scale = scale.max(1) as u64;
    let columns = columns.clamp(1, images.len());
    let rows = images.len().div_ceil(columns);
    let gap = scale.div_ceil(2).max(1);
    let cell_w = width as u64 * scale;
    let cell_h = height as u64 * scale;
    let side =
        |cells: usize, cell: u64| (cells as u64 * (cell + gap) + gap).min(MAX_SIDE as u64) as u32;
    let mut out = RgbImage::from_pixel(
        side(columns, cell_w),
        side(rows, cell_h),
        image::Rgb([204, 204, 204]),
    );
    let (out_w, out_h) = (out.width() as u64, out.height() as u64);
    for (k, img) in images.iter().enumerate() {
        let clean = |v: Option<&f32>| v.copied().filter(|v| v.is_finite()).unwrap_or(0.0);
        let max = img
            .iter()
            .map(|v| clean(Some(v)).abs())
            .fold(0.0f32, f32::max);
        let (x0, y0) = (
            (k % columns) as u64 * (cell_w + gap) + gap,
            (k / columns) as u64 * (cell_h + gap) + gap,
        );
        for r in 0..height {
            for c in 0..width {
                let v = if max > 0.0 {
                    clean(img.get(r * width + c)) / max
                } else {
                    0.0
                };
                let colour = image::Rgb(diverging(v));
                let (px, py) = (x0 + c as u64 * scale, y0 + r as u64 * scale);
                for y in py..(py + scale).min(out_h) {
                    for x in px..(px + scale).min(out_w) {
                        out.put_pixel(x as u32, y as u32, colour);
                    }
                }
            }
        }
    }
    out
}

/// Small images (a convolution's filters) on a grid of cells, image `k` in cell
/// `cells[k] = (row, col)`, every image `side × side` pixels of `scale` screen pixels, all on
/// one colour scale (blue positive, red negative, white 0; the largest |v| of all at full
/// colour, so that a weak filter looks weak); a cell is framed in black where `live[k]` and
/// in light grey otherwise.
pub fn render_filters(
    images: &[Vec<f32>],
    side: usize,
    cells: &[(usize, usize)],
    live: &[bool],
    scale: u32,
) -> RgbImage {
    let rows = cells.iter().map(|c| c.0 + 1).max().unwrap_or(1);
    let cols = cells.iter().map(|c| c.1 + 1).max().unwrap_or(1);
    let (scale, frame, gap) = (scale.max(1), 2u32, 6u32);
    let cell = side as u32 * scale + 2 * frame;
    let width = (cols as u32 * (cell + gap) + gap).min(MAX_SIDE);
    let height = (rows as u32 * (cell + gap) + gap).min(MAX_SIDE);
    let mut out = RgbImage::from_pixel(width, height, image::Rgb([255, 255, 255]));
    let max = images
        .iter()
        .flatten()
        .filter(|v| v.is_finite())
        .fold(0.0f32, |m, v| m.max(v.abs()));
    for (k, (img, &(row, col))) in images.iter().zip(cells).enumerate() {
        let (x0, y0) = (
            col as u32 * (cell + gap) + gap,
            row as u32 * (cell + gap) + gap,
        );
        let border = if live.get(k).copied().unwrap_or(false) {
            image::Rgb([0, 0, 0])
        } else {
            image::Rgb([200, 200, 200])
        };
        for y in y0..(y0 + cell).min(height) {
            for x in x0..(x0 + cell).min(width) {
                let (dx, dy) = (x - x0, y - y0);
                let inside =
                    (frame..cell - frame).contains(&dx) && (frame..cell - frame).contains(&dy);
                let colour = if inside {
                    let (r, c) = (
                        ((dy - frame) / scale) as usize,
                        ((dx - frame) / scale) as usize,
                    );
                    let v = img.get(r * side + c).copied().filter(|v| v.is_finite());
                    let v = if max > 0.0 {
                        v.unwrap_or(0.0) / max
                    } else {
                        0.0
                    };
                    image::Rgb(diverging(v))
                } else {
                    border
                };
                out.put_pixel(x, y, colour);
            }
        }
    }
    out
}

/// Blue for `v = 1`, white for 0, red for `-1`.
fn diverging(v: f32) -> [u8; 3] {
    let t = v.clamp(-1.0, 1.0);
    let fade = |x: f32| (x * 255.0).round() as u8;
    if t >= 0.0 {
        [fade(1.0 - t), fade(1.0 - t), 255]
    } else {
        [255, fade(1.0 + t), fade(1.0 + t)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_share_one_colour_scale_and_show_which_are_live() {
        // Two 2x2 filters side by side; the second is ten times weaker.
        let images = vec![vec![1.0, -1.0, 0.0, 0.5], vec![0.1, 0.0, 0.0, 0.0]];
        let img = render_filters(&images, 2, &[(0, 0), (0, 1)], &[true, false], 4);
        // Cell 0 starts at the gap (6), its frame is 2 wide: pixel (0, 0) of the filter at 8.
        assert_eq!(px(&img, 8, 8), [0, 0, 255], "the largest value: full blue");
        assert_eq!(px(&img, 12, 8), [255, 0, 0], "its negative: full red");
        assert_eq!(px(&img, 6, 6), [0, 0, 0], "a live filter's frame");
        // Cell 1 starts at x = 6 + 12 + 6 = 24.
        let weak = px(&img, 26, 8);
        assert!(
            weak[0] > 200 && weak[2] == 255,
            "a weak filter stays pale: {weak:?}"
        );
        assert_eq!(px(&img, 24, 6), [200, 200, 200], "a dead filter's frame");
    }

    fn px(img: &RgbImage, x: u32, y: u32) -> [u8; 3] {
        img.get_pixel(x, y).0
    }

    fn bluish(p: [u8; 3]) -> bool {
        p[2] as i32 > p[0] as i32 + 30
    }

    fn orangish(p: [u8; 3]) -> bool {
        p[0] as i32 > p[2] as i32 + 30
    }

    fn dark(p: [u8; 3]) -> bool {
        p.iter().all(|&v| v < 100)
    }

    #[test]
    fn decision_boundary_colours_each_side_and_draws_the_contour() {
        let prob = |x: f64, _y: f64| 1.0 / (1.0 + (-10.0 * x).exp());
        let points = [(-0.5, 0.5, 0), (0.5, -0.5, 1)];
        let (img, (left, top, right, bottom)) =
            decision_boundary(&prob, &points, (-1.0, 1.0, -1.0, 1.0), 300);
        assert_eq!(img.dimensions(), (300, 300));
        assert!(
            (right - left - (bottom - top)).abs() < 1.0,
            "the plot is square"
        );
        assert!(left > 20.0 && bottom < 280.0, "room for ticks and labels");
        let at = |x: f64, y: f64| {
            (
                (left + (x as f32 + 1.0) / 2.0 * (right - left)) as u32,
                (bottom - (y as f32 + 1.0) / 2.0 * (bottom - top)) as u32,
            )
        };
        // Away from the points: left is class 0 (orange), right class 1 (blue).
        let (x, y) = at(-0.9, -0.9);
        assert!(orangish(px(&img, x, y)), "{:?}", px(&img, x, y));
        let (x, y) = at(0.9, 0.9);
        assert!(bluish(px(&img, x, y)), "{:?}", px(&img, x, y));
        // The 0.5 contour is the line x = 0.
        for y in [-0.8, 0.0, 0.8] {
            let (x, y) = at(0.0, y);
            let darkest = (x - 2..=x + 2)
                .map(|x| px(&img, x, y).iter().map(|&v| v as u32).sum::<u32>())
                .min()
                .unwrap();
            assert!(darkest < 200, "row {y}: {darkest}");
        }
        // The points, in their class colours.
        let (x, y) = at(-0.5, 0.5);
        assert_eq!(px(&img, x, y), [255, 127, 14]);
        let (x, y) = at(0.5, -0.5);
        assert!(bluish(px(&img, x, y)) && px(&img, x, y)[2] < 220);
        // Tick labels left of the plot and under it.
        let ink = |xs: std::ops::Range<u32>, ys: std::ops::Range<u32>| {
            ys.flat_map(|y| xs.clone().map(move |x| (x, y)))
                .filter(|&(x, y)| dark(px(&img, x, y)))
                .count()
        };
        assert!(ink(0..left as u32 - 2, top as u32..bottom as u32) > 30);
        assert!(ink(left as u32..right as u32, bottom as u32 + 2..300) > 30);
    }

    #[test]
    fn decision_boundary_survives_nonsense() {
        let img = render_decision_boundary(
            &|_, _| f64::NAN,
            &[(f64::NAN, 0.0, 7)],
            (1.0, -1.0, f64::NAN, 0.0),
            0,
        );
        assert_eq!(img.dimensions(), (1, 1));
        let flat = render_decision_boundary(&|_, _| 0.5, &[], (0.0, 1.0, 0.0, 1.0), 50);
        assert_eq!(flat.dimensions(), (50, 50));
    }

    #[test]
    fn contours_follow_the_level() {
        // Values rise left to right across 0.5 between columns 1 and 2.
        let n = 4;
        let grid: Vec<f64> = (0..n * n).map(|i| [0.0, 0.25, 0.75, 1.0][i % n]).collect();
        let segments = contour(&grid, n, 0.5);
        assert_eq!(segments.len(), n - 1);
        for (a, b) in segments {
            assert!((a.0 - 1.5).abs() < 1e-9 && (b.0 - 1.5).abs() < 1e-9);
        }
        assert!(contour(&[0.2; 9], 3, 0.5).is_empty());
    }

    #[test]
    fn token_planes_draw_a_round_circle_in_each_panel() {
        let circle: Vec<(f64, f64)> = (0..59)
            .map(|t| {
                let a = std::f64::consts::TAU * t as f64 / 59.0;
                (2.0 * a.cos(), 2.0 * a.sin())
            })
            .collect();
        let img = render_token_planes(
            &[
                ("A".into(), circle.clone()),
                ("B".into(), vec![(f64::NAN, 0.0)]),
            ],
            200,
        );
        assert_eq!(img.dimensions(), (400, 200));
        let coloured = |p: [u8; 3]| p.iter().max().unwrap() - p.iter().min().unwrap() > 80;
        let count = |x0: u32| {
            (x0..x0 + 200)
                .flat_map(|x| (0..200).map(move |y| (x, y)))
                .filter(|&(x, y)| coloured(px(&img, x, y)))
                .collect::<Vec<_>>()
        };
        let (a, b) = (count(0), count(200));
        assert!(a.len() > 150, "the circle's dots: {}", a.len());
        assert!(b.is_empty(), "a non-finite point draws nothing");
        // Round: the dots' bounding box is as wide as it is tall.
        let (xs, ys): (Vec<u32>, Vec<u32>) = a.into_iter().unzip();
        let span = |v: &[u32]| v.iter().max().unwrap() - v.iter().min().unwrap();
        assert!(
            span(&xs).abs_diff(span(&ys)) <= 2,
            "{} vs {}",
            span(&xs),
            span(&ys)
        );
        assert_eq!(render_token_planes(&[], 100).dimensions(), (1, 1));
    }

    #[test]
    fn panels_tile_pictures_under_their_titles() {
        let red = RgbImage::from_pixel(50, 40, image::Rgb([200, 0, 0]));
        let blue = RgbImage::from_pixel(30, 20, image::Rgb([0, 0, 200]));
        let img = render_panels(
            &[
                ("a".into(), red.clone()),
                ("b".into(), blue),
                ("c".into(), red),
            ],
            2,
        );
        let title = title_row();
        assert_eq!(img.dimensions(), (2 * 58, 2 * (40 + title + 8)));
        assert_eq!(px(&img, 4 + 10, title + 10), [200, 0, 0]);
        assert_eq!(px(&img, 58 + 4 + 10, title + 10), [0, 0, 200]);
        assert_eq!(px(&img, 4 + 10, 40 + title + 8 + title + 10), [200, 0, 0]);
        // Each title is drawn above its picture.
        let dark = |x0: u32, y0: u32| {
            (x0..x0 + 58).any(|x| (y0..y0 + title).any(|y| px(&img, x, y)[0] < 100))
        };
        assert!(dark(0, 0) && dark(58, 0) && dark(0, 40 + title + 8));
        assert_eq!(render_panels(&[], 3).dimensions(), (1, 1));
    }

    #[test]
    fn scatter_draws_points_diagonal_and_labels() {
        let points: Vec<(f64, f64)> = (0..=10)
            .map(|k| (k as f64 / 10.0, 1.0 - k as f64 / 10.0))
            .collect();
        let img = render_scatter(&points, "true", "predicted", "title", 300);
        assert_eq!(img.dimensions(), (300, 300));
        assert!(
            img.pixels().filter(|p| bluish(p.0)).count() > 50,
            "the points are drawn"
        );
        let dark_rows = (0..300)
            .filter(|&y| (0..300).any(|x| dark(px(&img, x, y))))
            .count();
        assert!(dark_rows > 200, "frame, ticks and labels: {dark_rows}");
        let _ = render_scatter(&[], "", "", "", 10);
        let _ = render_scatter(&[(f64::NAN, 1.0), (2.0, 2.0)], "x", "y", "t", 64);
    }

    #[test]
    fn scatter_diagonal_is_grey_where_there_are_no_points() {
        let img = render_scatter(&[(0.0, 0.0), (1.0, 1.0)], "x", "y", "", 300);
        let grey = |p: [u8; 3]| p[0] == p[1] && p[1] == p[2] && p[0] > 60 && p[0] < 200;
        let found = (0..300u32)
            .flat_map(|y| (0..300u32).map(move |x| (x, y)))
            .filter(|&(x, y)| grey(px(&img, x, y)))
            .count();
        assert!(found > 100, "{found}");
    }

    #[test]
    fn image_grid_uses_a_diverging_map_per_image() {
        let a = vec![1.0, -1.0, 0.0, 0.5];
        let b = vec![100.0, 0.0, 0.0, f32::NAN];
        let img = render_image_grid(&[a, b.clone(), b], 2, 2, 2, 3);
        // Two columns of 2×3-pixel images with 2-pixel gaps: 2·(6+2)+2 = 18; two rows.
        assert_eq!(img.dimensions(), (18, 18));
        assert_eq!(px(&img, 2, 2), [0, 0, 255], "largest positive is pure blue");
        assert_eq!(px(&img, 5, 2), [255, 0, 0], "largest negative is pure red");
        assert_eq!(px(&img, 2, 5), [255, 255, 255], "zero is white");
        assert_eq!(px(&img, 5, 5), [128, 128, 255], "half is pale blue");
        assert_eq!(px(&img, 10, 2), [0, 0, 255], "each image has its own scale");
        assert_eq!(px(&img, 13, 5), [255, 255, 255], "NaN counts as zero");
        assert_eq!(px(&img, 0, 0), [204, 204, 204], "grey gaps");
        assert_eq!(render_image_grid(&[], 28, 28, 5, 2).dimensions(), (1, 1));
        assert_eq!(
            render_image_grid(&[vec![]], 3, 1, 0, 0).dimensions(),
            (5, 3)
        );
    }
}
