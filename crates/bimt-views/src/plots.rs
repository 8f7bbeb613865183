//! Small task plots: decision boundaries (paper Fig. 4), predicted-vs-true scatter plots
//! (Fig. 7), token embeddings in a plane (Fig. 5), feature images (Fig. 17) and labelled
//! curves (Fig. 16).

use crate::canvas::{BLACK, Canvas, MAX_SIDE, PALETTE, Rgb, WHITE, fmt_num, mix, text_width};
use image::RgbImage;

/// Height in pixels of tick labels and legends.
const FONT: f32 = 10.0;
/// Height in pixels of titles.
const TITLE_FONT: f32 = 13.0;

/// Pale shade of class 0 (`P(class 1) = 0`) and of class 1 (`P(class 1) = 1`).
const PALE_0: Rgb = [1.0, 0.85, 0.70];
const PALE_1: Rgb = [0.72, 0.84, 1.0];

/// The colour of class `k`'s points: orange, blue, then the rest of `tab10`.
fn class_colour(k: u32) -> Rgb {
    match k {
        0 => PALETTE[1],
        1 => PALETTE[0],
        k => PALETTE[(k as usize) % PALETTE.len()],
    }
}

/// Draws a two-class probability map over `bounds = (x_min, x_max, y_min, y_max)` on a
/// `size × size` picture: the background shades from pale orange (`P(class 1) = 0`) to pale
/// blue (`P(class 1) = 1`), the `P = 0.5` contour is a black line, and each point `(x, y,
/// class)` is a dot in its class's colour (orange for 0, blue for 1), y pointing up.
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
    let size = size.clamp(1, MAX_SIDE);
    let (x_lo, x_hi, y_lo, y_hi) = checked_bounds(bounds, points);
    let n = size as usize;
    // Samples every `step` pixels; pixel centres are interpolated from them.
    let samples = n.min(200) + 1;
    let step = n as f64 / (samples - 1) as f64;
    let sample_x = |s: usize| x_lo + (s as f64 * step) / n as f64 * (x_hi - x_lo);
    let sample_y = |s: usize| y_hi - (s as f64 * step) / n as f64 * (y_hi - y_lo);
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
    let at = |fx: f64, fy: f64| {
        let (gx, gy) = (
            (fx / step).clamp(0.0, (samples - 1) as f64),
            (fy / step).clamp(0.0, (samples - 1) as f64),
        );
        let (ix, iy) = (
            (gx as usize).min(samples - 2),
            (gy as usize).min(samples - 2),
        );
        let (tx, ty) = (gx - ix as f64, gy - iy as f64);
        let g = |x: usize, y: usize| grid[y * samples + x];
        let top = g(ix, iy) * (1.0 - tx) + g(ix + 1, iy) * tx;
        let bottom = g(ix, iy + 1) * (1.0 - tx) + g(ix + 1, iy + 1) * tx;
        top * (1.0 - ty) + bottom * ty
    };
    let field: Vec<f64> = (0..n * n)
        .map(|k| at((k % n) as f64 + 0.5, (k / n) as f64 + 0.5))
        .collect();
    let mut canvas = Canvas::new(size, size, WHITE);
    for y in 0..n {
        for x in 0..n {
            let p = field[y * n + x];
            canvas.set(x as i64, y as i64, mix(PALE_0, PALE_1, p as f32));
            // The 0.5 contour, about 1.5 px wide: distance to it from the local gradient.
            let right = field[y * n + (x + 1).min(n - 1)] - field[y * n + x.saturating_sub(1)];
            let down = field[(y + 1).min(n - 1) * n + x] - field[y.saturating_sub(1) * n + x];
            let grad = 0.5 * right.hypot(down);
            if grad > 1e-12 {
                let d = ((p - 0.5).abs() / grad) as f32;
                canvas.blend(x as i64, y as i64, BLACK, (1.25 - d).clamp(0.0, 1.0));
            }
        }
    }
    let r = (size as f32 / 110.0).clamp(2.0, 6.0);
    let to_px = |x: f64, y: f64| {
        (
            ((x - x_lo) / (x_hi - x_lo) * n as f64) as f32,
            ((y_hi - y) / (y_hi - y_lo) * n as f64) as f32,
        )
    };
    for &(x, y, class) in points {
        let (px, py) = to_px(x, y);
        canvas.disc(px, py, r + 0.8, BLACK, 0.8);
        canvas.disc(px, py, r, class_colour(class), 1.0);
    }
    canvas.rect(0.5, 0.5, n as f32 - 0.5, n as f32 - 0.5, BLACK);
    canvas.into_image()
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

/// `(lo, hi)` widened outwards to round numbers: multiples of a tenth of the span's order of
/// magnitude, so tick labels stay short.
fn nice_range((lo, hi): (f64, f64)) -> (f64, f64) {
    let step = 10f64.powf((hi - lo).log10().floor() - 1.0);
    if !(step.is_finite() && step > 0.0) {
        return (lo, hi);
    }
    let (a, b) = ((lo / step).floor() * step, (hi / step).ceil() * step);
    if a.is_finite() && b.is_finite() && b > a {
        (a, b)
    } else {
        (lo, hi)
    }
}

/// A plot frame on the canvas: the pixel box and the data ranges it shows.
struct Axes {
    left: f32,
    top: f32,
    right: f32,
    bottom: f32,
    x: (f64, f64),
    y: (f64, f64),
}

impl Axes {
    fn to_px(&self, x: f64, y: f64) -> (f32, f32) {
        let fx = (x - self.x.0) / (self.x.1 - self.x.0);
        let fy = (y - self.y.0) / (self.y.1 - self.y.0);
        (
            self.left + fx as f32 * (self.right - self.left),
            self.bottom - fy as f32 * (self.bottom - self.top),
        )
    }

    /// The frame with ticks and labels at both ends of each axis.
    fn draw(&self, canvas: &mut Canvas) {
        canvas.rect(self.left, self.top, self.right, self.bottom, BLACK);
        for v in [self.x.0, self.x.1] {
            let (px, _) = self.to_px(v, self.y.0);
            let tick = px.floor() + 0.5;
            canvas.line(
                (tick, self.bottom),
                (tick, self.bottom + 4.0),
                1.0,
                BLACK,
                1.0,
            );
            // Centred under the tick, but kept inside the picture.
            let label = fmt_num(v);
            let half = text_width(&label, FONT) / 2.0;
            let x = px.min(canvas.width() - 2.0 - half).max(2.0 + half);
            canvas.text(&label, x, self.bottom + 6.0, FONT, BLACK, (0.5, 0.0));
        }
        for v in [self.y.0, self.y.1] {
            let (_, py) = self.to_px(self.x.0, v);
            let tick = py.floor() + 0.5;
            canvas.line((self.left - 4.0, tick), (self.left, tick), 1.0, BLACK, 1.0);
            canvas.text(&fmt_num(v), self.left - 6.0, py, FONT, BLACK, (1.0, 0.5));
        }
    }
}

/// Draws a `size × size` scatter plot of `points` (e.g. predicted against true values) with a
/// frame, tick labels at the ends of both axes, both axis labels, a title and the grey
/// diagonal `y = x`. Both axes share one range (the finite data's, padded), so the diagonal
/// runs corner to corner and a perfect prediction lies on it. Non-finite points are skipped.
pub fn render_scatter(
    points: &[(f64, f64)],
    x_label: &str,
    y_label: &str,
    title: &str,
    size: u32,
) -> RgbImage {
    let size = size.clamp(1, MAX_SIDE);
    let mut canvas = Canvas::new(size, size, WHITE);
    let s = size as f32;
    let finite: Vec<(f64, f64)> = points
        .iter()
        .copied()
        .filter(|p| p.0.is_finite() && p.1.is_finite())
        .collect();
    let range = nice_range(padded_range(finite.iter().flat_map(|p| [p.0, p.1])));
    let tick_width = [range.0, range.1]
        .iter()
        .map(|&v| text_width(&fmt_num(v), FONT))
        .fold(0.0, f32::max);
    let axes = Axes {
        left: 8.0 + FONT + 8.0 + tick_width + 8.0,
        top: if title.is_empty() {
            10.0
        } else {
            14.0 + TITLE_FONT
        },
        right: s - 14.0,
        bottom: s - (8.0 + FONT + 8.0 + FONT + 8.0),
        x: range,
        y: range,
    };
    canvas.line(
        axes.to_px(range.0, range.0),
        axes.to_px(range.1, range.1),
        1.0,
        [0.55, 0.55, 0.55],
        1.0,
    );
    let r = (s / 150.0).clamp(1.5, 4.0);
    for &(x, y) in &finite {
        let (px, py) = axes.to_px(x, y);
        canvas.disc(px, py, r, PALETTE[0], 0.7);
    }
    axes.draw(&mut canvas);
    canvas.text(
        x_label,
        (axes.left + axes.right) / 2.0,
        s - 8.0,
        FONT,
        BLACK,
        (0.5, 1.0),
    );
    canvas.text_up(
        y_label,
        8.0 + FONT / 2.0,
        (axes.top + axes.bottom - text_width(y_label, FONT)) / 2.0,
        FONT,
        BLACK,
    );
    canvas.text(title, s / 2.0, 7.0, TITLE_FONT, BLACK, (0.5, 0.0));
    canvas.into_image()
}

/// Side-by-side `panel × panel` plots of token embeddings in a plane, one per `(title,
/// points)` (paper Fig. 5: each module's embeddings form a circle). Point `t` is token `t`,
/// coloured by its index around the hue circle, so an ordered circle shows as a rainbow. Both
/// axes of a panel share one range, symmetric around 0, so a circle stays round. Non-finite
/// points are skipped; no panels give a 1×1 white picture.
pub fn render_token_planes(panels: &[(String, Vec<(f64, f64)>)], panel: u32) -> RgbImage {
    if panels.is_empty() {
        return RgbImage::from_pixel(1, 1, image::Rgb([255, 255, 255]));
    }
    let side = panel.clamp(60, MAX_SIDE);
    let width = (side as u64 * panels.len() as u64).min(MAX_SIDE as u64) as u32;
    let mut canvas = Canvas::new(width, side, WHITE);
    let s = side as f32;
    for (k, (title, points)) in panels.iter().enumerate() {
        let x0 = k as f32 * s;
        if x0 >= width as f32 {
            break;
        }
        let extent = points
            .iter()
            .flat_map(|p| [p.0.abs(), p.1.abs()])
            .filter(|v| v.is_finite())
            .fold(0.0f64, f64::max);
        let range = nice_range(if extent > 0.0 {
            (-1.1 * extent, 1.1 * extent)
        } else {
            (-1.0, 1.0)
        });
        // A square box, so that a circle stays round.
        let (left, top) = (
            x0 + 8.0 + text_width(&fmt_num(range.0), FONT) + 8.0,
            14.0 + TITLE_FONT,
        );
        let box_side = (x0 + s - 12.0 - left).min(s - (8.0 + FONT + 8.0) - top);
        let axes = Axes {
            left,
            top,
            right: left + box_side,
            bottom: top + box_side,
            x: range,
            y: range,
        };
        let n = points.len().max(1);
        let r = (s / 100.0).clamp(2.0, 4.0);
        for (t, &(x, y)) in points.iter().enumerate() {
            if x.is_finite() && y.is_finite() {
                let (px, py) = axes.to_px(x, y);
                canvas.disc(px, py, r, hue(t as f32 / n as f32), 0.9);
            }
        }
        axes.draw(&mut canvas);
        canvas.text(title, x0 + s / 2.0, 7.0, TITLE_FONT, BLACK, (0.5, 0.0));
    }
    canvas.into_image()
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
    let title = (TITLE_FONT + 10.0) as u32;
    let (cell_w, cell_h) = (w + 8, h + title + 8);
    let width = (cell_w as u64 * columns as u64).min(MAX_SIDE as u64) as u32;
    let height = (cell_h as u64 * rows as u64).min(MAX_SIDE as u64) as u32;
    let mut canvas = Canvas::new(width, height, WHITE);
    for (k, (text, _)) in panels.iter().enumerate() {
        let (x, y) = ((k % columns) as u32 * cell_w, (k / columns) as u32 * cell_h);
        canvas.text(
            text,
            x as f32 + cell_w as f32 / 2.0,
            y as f32 + 5.0,
            TITLE_FONT,
            BLACK,
            (0.5, 0.0),
        );
    }
    let mut img = canvas.into_image();
    for (k, (_, panel)) in panels.iter().enumerate() {
        let (x, y) = ((k % columns) as u32 * cell_w, (k / columns) as u32 * cell_h);
        image::imageops::replace(&mut img, panel, (x + 4) as i64, (y + title) as i64);
    }
    img
}

/// A fully saturated colour at `h` turns around the hue circle (0: red, 1/3: green, 2/3: blue).
fn hue(h: f32) -> Rgb {
    let h = h.rem_euclid(1.0) * 6.0;
    let x = 1.0 - (h % 2.0 - 1.0).abs();
    match h as u32 {
        0 => [1.0, x, 0.0],
        1 => [x, 1.0, 0.0],
        2 => [0.0, 1.0, x],
        3 => [0.0, x, 1.0],
        4 => [x, 0.0, 1.0],
        _ => [1.0, 0.0, x],
    }
    .map(|c| 0.85 * c)
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
    let mut canvas = Canvas::new(side(columns, cell_w), side(rows, cell_h), [0.8, 0.8, 0.8]);
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
        if x0 >= MAX_SIDE as u64 || y0 >= MAX_SIDE as u64 {
            continue;
        }
        for r in 0..height {
            for c in 0..width {
                let v = if max > 0.0 {
                    clean(img.get(r * width + c)) / max
                } else {
                    0.0
                };
                let colour = diverging(v);
                let (px, py) = (x0 + c as u64 * scale, y0 + r as u64 * scale);
                if px >= MAX_SIDE as u64 || py >= MAX_SIDE as u64 {
                    continue;
                }
                let (px, py) = (px as f32, py as f32);
                canvas.fill_rect(px, py, px + scale as f32, py + scale as f32, colour, 1.0);
            }
        }
    }
    canvas.into_image()
}

/// Blue for `v = 1`, white for 0, red for `-1`.
fn diverging(v: f32) -> Rgb {
    let t = v.clamp(-1.0, 1.0);
    if t >= 0.0 {
        [1.0 - t, 1.0 - t, 1.0]
    } else {
        [1.0, 1.0 + t, 1.0 + t]
    }
}

/// Draws several labelled curves on one set of axes, e.g. per layer the sorted magnitudes of
/// positive and of negative weights (paper Fig. 16). Series `k` plots its values against
/// their index `0, 1, …` in the `k`-th colour of matplotlib's `tab10`; a legend in the upper
/// right names each series. Ticks are labelled at both ends of both axes, the y axis always
/// includes 0, and a non-finite value breaks its curve.
pub fn render_line_plot(series: &[(String, Vec<f64>)], title: &str, size: (u32, u32)) -> RgbImage {
    let (w, h) = (size.0.clamp(1, MAX_SIDE), size.1.clamp(1, MAX_SIDE));
    let mut canvas = Canvas::new(w, h, WHITE);
    let longest = series.iter().map(|(_, v)| v.len()).max().unwrap_or(0);
    let x = (0.0, (longest.max(2) - 1) as f64);
    let values = series
        .iter()
        .flat_map(|(_, v)| v.iter().copied())
        .filter(|v| v.is_finite());
    let (lo, hi) = values.fold((0.0f64, f64::NEG_INFINITY), |(a, b), v| {
        (a.min(v), b.max(v))
    });
    let y = if hi > lo {
        nice_range((lo, hi))
    } else {
        (lo, lo + 1.0)
    };
    let tick_width = [y.0, y.1]
        .iter()
        .map(|&v| text_width(&fmt_num(v), FONT))
        .fold(0.0, f32::max);
    let axes = Axes {
        left: 8.0 + tick_width + 8.0,
        top: if title.is_empty() {
            10.0
        } else {
            14.0 + TITLE_FONT
        },
        right: w as f32 - 14.0,
        bottom: h as f32 - (8.0 + FONT + 10.0),
        x,
        y,
    };
    for (k, (_, values)) in series.iter().enumerate() {
        let colour = PALETTE[k % PALETTE.len()];
        let points: Vec<(f32, f32)> = values
            .iter()
            .enumerate()
            .map(|(i, &v)| {
                if v.is_finite() {
                    axes.to_px(i as f64, v)
                } else {
                    (f32::NAN, f32::NAN)
                }
            })
            .collect();
        canvas.polyline(&points, 1.5, colour);
        // A value with no finite neighbour has no segment: show it as a dot.
        let finite = |k: usize| points.get(k).is_some_and(|p| p.0.is_finite());
        for (k, &(px, py)) in points.iter().enumerate() {
            if finite(k) && !finite(k + 1) && !(k > 0 && finite(k - 1)) {
                canvas.disc(px, py, 2.0, colour, 1.0);
            }
        }
    }
    axes.draw(&mut canvas);
    // Legend: a swatch and a name per series, in a white box at the upper right.
    if !series.is_empty() {
        let line_h = FONT + 5.0;
        let name_w = series
            .iter()
            .map(|(n, _)| text_width(n, FONT))
            .fold(0.0, f32::max);
        let (bw, bh) = (name_w + 36.0, line_h * series.len() as f32 + 6.0);
        let (bx, by) = (axes.right - bw - 6.0, axes.top + 6.0);
        canvas.fill_rect(bx, by, bx + bw, by + bh, WHITE, 0.9);
        canvas.rect(bx, by, bx + bw, by + bh, [0.7, 0.7, 0.7]);
        for (k, (name, _)) in series.iter().enumerate() {
            let cy = by + 3.0 + line_h * (k as f32 + 0.5);
            canvas.line(
                (bx + 6.0, cy),
                (bx + 26.0, cy),
                2.0,
                PALETTE[k % PALETTE.len()],
                1.0,
            );
            canvas.text(name, bx + 30.0, cy, FONT, BLACK, (0.0, 0.5));
        }
    }
    canvas.text(title, w as f32 / 2.0, 7.0, TITLE_FONT, BLACK, (0.5, 0.0));
    canvas.into_image()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn px(img: &RgbImage, x: u32, y: u32) -> [u8; 3] {
        img.get_pixel(x, y).0
    }

    fn bluish(p: [u8; 3]) -> bool {
        p[2] as i32 > p[0] as i32 + 30
    }

    fn orangish(p: [u8; 3]) -> bool {
        p[0] as i32 > p[2] as i32 + 30
    }

    #[test]
    fn decision_boundary_colours_each_side_and_draws_the_contour() {
        let prob = |x: f64, _y: f64| 1.0 / (1.0 + (-10.0 * x).exp());
        let points = [(-0.5, 0.5, 0), (0.5, -0.5, 1)];
        let img = render_decision_boundary(&prob, &points, (-1.0, 1.0, -1.0, 1.0), 200);
        assert_eq!(img.dimensions(), (200, 200));
        // Away from the points: left is class 0 (orange), right class 1 (blue).
        assert!(orangish(px(&img, 20, 180)), "{:?}", px(&img, 20, 180));
        assert!(bluish(px(&img, 180, 20)), "{:?}", px(&img, 180, 20));
        // The 0.5 contour is the line x = 0, the middle column.
        for y in [20, 100, 180] {
            let darkest = (98..=101)
                .map(|x| px(&img, x, y).iter().map(|&v| v as u32).sum::<u32>())
                .min()
                .unwrap();
            assert!(darkest < 200, "row {y}: {darkest}");
        }
        // The points: class 0 at (-0.5, 0.5) → pixel (50, 50), class 1 at (0.5, -0.5) → (150, 150).
        assert_eq!(
            px(&img, 50, 50),
            crate::canvas::Canvas::new(1, 1, class_colour(0))
                .into_image()
                .get_pixel(0, 0)
                .0
        );
        assert!(
            bluish(px(&img, 150, 150)) && px(&img, 150, 150)[2] < 220,
            "a saturated blue dot"
        );
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
        assert!(a.len() > 200, "the circle's dots: {}", a.len());
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
        let title = (TITLE_FONT + 10.0) as u32;
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
        let grey_or_blue = img.pixels().filter(|p| bluish(p.0)).count();
        assert!(grey_or_blue > 50, "the points are drawn");
        // The diagonal passes through the centre of the frame, where no point lies except
        // (0.5, 0.5): find a grey pixel along the diagonal a quarter of the way up.
        let dark_rows = (0..300)
            .filter(|&y| (0..300).any(|x| px(&img, x, y).iter().all(|&v| v < 100)))
            .count();
        assert!(dark_rows > 200, "frame, ticks and labels");
        let _ = render_scatter(&[], "", "", "", 10);
        let _ = render_scatter(&[(f64::NAN, 1.0), (2.0, 2.0)], "x", "y", "t", 64);
    }

    #[test]
    fn scatter_diagonal_is_grey_where_there_are_no_points() {
        let img = render_scatter(&[(0.0, 0.0), (1.0, 1.0)], "x", "y", "", 300);
        // Walk up the diagonal from the centre of the picture: some pixel is grey (neither
        // white nor coloured).
        let grey = |p: [u8; 3]| p[0] == p[1] && p[1] == p[2] && p[0] > 60 && p[0] < 220;
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
        assert_eq!(render_image_grid(&[], 28, 28, 5, 2).dimensions(), (1, 1));
        assert_eq!(
            render_image_grid(&[vec![]], 3, 1, 0, 0).dimensions(),
            (5, 3)
        );
    }

    #[test]
    fn line_plot_draws_each_series_in_its_colour() {
        let series = vec![
            ("positive".to_string(), vec![3.0, 2.0, 1.0, 0.5]),
            ("negative".to_string(), vec![2.0, f64::NAN, 0.2]),
            ("empty".to_string(), vec![]),
        ];
        let img = render_line_plot(&series, "weights", (400, 300));
        assert_eq!(img.dimensions(), (400, 300));
        let near = |c: Rgb| {
            let c = c.map(|v| (v * 255.0).round() as i32);
            img.pixels()
                .filter(|p| (0..3).all(|k| (p.0[k] as i32 - c[k]).abs() < 8))
                .count()
        };
        assert!(near(PALETTE[0]) > 50, "first series in tab:blue");
        assert!(near(PALETTE[1]) > 20, "second series in tab:orange");
        let _ = render_line_plot(&[], "", (0, 0));
        let _ = render_line_plot(&[("x".into(), vec![f64::INFINITY])], "t", (50, 40));
    }

    #[test]
    fn nice_ranges_are_round_and_wider() {
        assert_eq!(nice_range((-3.553, 3.436)), (-3.6, 3.5));
        let (lo, hi) = nice_range((0.0, 5032.0));
        assert!(lo == 0.0 && (5032.0..=5100.0).contains(&hi));
    }
}
