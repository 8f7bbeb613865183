//! Text in DejaVu Sans, bundled in `fonts/` and compiled into the crate (nothing is read from
//! the system): laid out with the font's advances and kerning, rasterised with exact area
//! coverage by `ab_glyph`, at sub-pixel positions.
//!
//! A line of text at size `s` (its em, in pixels) sits in a box `s` high: the top `ASCENT · s`
//! above the baseline, the bottom `DESCENT · s` below it, so capitals and digits fill the box
//! and descenders reach its bottom.

use crate::shape::{sane, sane_point};
use ab_glyph::{Font, FontRef, GlyphId, PxScale, ScaleFont, point};
use std::sync::OnceLock;
use tiny_skia::Pixmap;

/// The family named in SVG output (a viewer without it falls back to another sans-serif).
pub(crate) const FAMILY: &str = "DejaVu Sans, Verdana, sans-serif";

/// Height of a text box above the baseline, as a share of the font size.
pub(crate) const ASCENT: f32 = 0.78;

/// The bundled font file.
pub(crate) static FONT_DATA: &[u8] = include_bytes!("../fonts/DejaVuSans.ttf");

/// The bundled font.
fn font() -> &'static FontRef<'static> {
    static FONT: OnceLock<FontRef<'static>> = OnceLock::new();
    FONT.get_or_init(|| {
        FontRef::try_from_slice(FONT_DATA).expect("the bundled DejaVu Sans is a valid font")
    })
}

/// The font's height from descender to ascender, in ems.
fn height_in_ems() -> f32 {
    let f = font();
    f.height_unscaled() / f.units_per_em().unwrap_or(2048.0)
}

/// ab_glyph's scale for an em of `size` pixels (ab_glyph scales ascent to descent).
fn scale(size: f32) -> PxScale {
    PxScale::from(size * height_in_ems())
}

/// The em of text whose descender-to-ascender height is `height` pixels (`plotters` sizes
/// text that way).
pub(crate) fn em_of_height(height: f32) -> f32 {
    height / height_in_ems()
}

/// Every drawn glyph of `text` with its pen position along the line, and the line's advance.
fn layout(text: &str, size: f32) -> (Vec<(GlyphId, f32)>, f32) {
    let scaled = font().as_scaled(scale(size));
    let mut glyphs = Vec::with_capacity(text.len());
    let (mut x, mut prev) = (0.0, None);
    for c in text.chars().filter(|c| !c.is_control()) {
        let id = scaled.glyph_id(c);
        if let Some(p) = prev {
            x += scaled.kern(p, id);
        }
        glyphs.push((id, x));
        x += scaled.h_advance(id);
        prev = Some(id);
    }
    (glyphs, x)
}

/// The advance width in pixels of `text` at `size`.
pub(crate) fn width(text: &str, size: f32) -> f32 {
    if !(size > 0.0 && size.is_finite()) {
        return 0.0;
    }
    layout(text, size).1
}

/// Which way a line of text runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Left to right.
    Right,
    /// Bottom to top (a quarter turn anticlockwise), as a y axis title.
    Up,
}

impl Direction {
    /// The canvas step of one pixel along the text (`u`) and one down within it (`v`).
    fn axes(self) -> [[i32; 2]; 2] {
        match self {
            Direction::Right => [[1, 0], [0, 1]],
            Direction::Up => [[0, -1], [1, 0]],
        }
    }
}

/// Draws `text` at `size` in `rgba` (straight alpha) onto `pixmap`. `anchor` is placed at
/// `at`: `(0, 0)` the top left of the text's box, `(1, 1)` its bottom right, `(0.5, 0.5)` its
/// centre, in the text's own frame (so for [`Direction::Up`], "top" faces left).
pub(crate) fn draw(
    pixmap: &mut Pixmap,
    text: &str,
    at: (f32, f32),
    size: f32,
    rgba: [u8; 4],
    anchor: (f32, f32),
    direction: Direction,
) {
    if !(size > 0.0 && sane(size) && sane_point(at)) || rgba[3] == 0 {
        return;
    }
    let (glyphs, advance) = layout(text, size);
    let [du, dv] = direction.axes();
    // The anchor's whole pixel, and its fraction expressed along the text's own axes, so
    // that whole pixels of the text's frame land on whole pixels of the canvas.
    let (xi, yi) = (at.0.floor(), at.1.floor());
    let (xf, yf) = (at.0 - xi, at.1 - yi);
    let u0 = xf * du[0] as f32 + yf * du[1] as f32 - anchor.0 * advance;
    let v0 = xf * dv[0] as f32 + yf * dv[1] as f32 + (ASCENT - anchor.1) * size;
    // A pixel `[k, k+1] × [m, m+1]` of the text's frame covers this canvas pixel.
    let corner = |k: i32, m: i32| {
        let (x, y) = (k * du[0] + m * dv[0], k * du[1] + m * dv[1]);
        let shift = |a: i32, b: i32| a.min(0) + b.min(0);
        (
            xi as i64 + (x + shift(du[0], dv[0])) as i64,
            yi as i64 + (y + shift(du[1], dv[1])) as i64,
        )
    };
    let (w, h) = (pixmap.width() as i64, pixmap.height() as i64);
    let colour = rgba.map(|c| c as f32 / 255.0);
    let pixels = pixmap.pixels_mut();
    let f = font();
    let px_scale = scale(size);
    for (id, pen) in glyphs {
        let glyph = id.with_scale_and_position(px_scale, point(u0 + pen, v0));
        let Some(outline) = f.outline_glyph(glyph) else {
            continue;
        };
        let min = outline.px_bounds().min;
        outline.draw(|gx, gy, coverage| {
            let (x, y) = corner(min.x as i32 + gx as i32, min.y as i32 + gy as i32);
            if (0..w).contains(&x) && (0..h).contains(&y) {
                let p = &mut pixels[(y * w + x) as usize];
                let a = (coverage.clamp(0.0, 1.0) * colour[3]).min(1.0);
                // Source over, premultiplied.
                let mix = |d: u8, s: f32| (d as f32 * (1.0 - a) + s * a * 255.0).round() as u8;
                let out = [
                    mix(p.red(), colour[0]),
                    mix(p.green(), colour[1]),
                    mix(p.blue(), colour[2]),
                    mix(p.alpha(), 1.0),
                ];
                if let Some(c) =
                    tiny_skia::PremultipliedColorU8::from_rgba(out[0], out[1], out[2], out[3])
                {
                    *p = c;
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ink(p: &Pixmap) -> f32 {
        p.pixels()
            .iter()
            .map(|c| (255 - c.red()) as f32 / 255.0)
            .sum()
    }

    fn white(w: u32, h: u32) -> Pixmap {
        let mut p = Pixmap::new(w, h).unwrap();
        p.fill(tiny_skia::Color::WHITE);
        p
    }

    #[test]
    fn widths_grow_with_text_and_size_and_kerning_applies() {
        assert!(width("hidden1", 12.0) > width("hid", 12.0));
        assert!((width("x1", 24.0) / width("x1", 12.0) - 2.0).abs() < 1e-3);
        assert_eq!(width("", 12.0), 0.0);
        assert_eq!(width("abc", f32::NAN), 0.0);
        // DejaVu Sans kerns "AV" tighter than its two letters apart.
        assert!(width("AV", 20.0) < width("A", 20.0) + width("V", 20.0));
    }

    #[test]
    fn text_lands_where_anchored() {
        let mut p = white(200, 60);
        draw(
            &mut p,
            "Wide",
            (100.0, 30.0),
            20.0,
            [0, 0, 0, 255],
            (0.5, 0.5),
            Direction::Right,
        );
        let dark: Vec<(u32, u32)> = (0..60)
            .flat_map(|y| (0..200).map(move |x| (x, y)))
            .filter(|&(x, y)| p.pixel(x, y).unwrap().red() < 128)
            .collect();
        let (xs, ys): (Vec<u32>, Vec<u32>) = dark.into_iter().unzip();
        let (x0, x1) = (*xs.iter().min().unwrap(), *xs.iter().max().unwrap());
        let (y0, y1) = (*ys.iter().min().unwrap(), *ys.iter().max().unwrap());
        assert!((x0 + x1) as f32 / 2.0 - 100.0 < 3.0, "centred: {x0}..{x1}");
        assert!(x1 - x0 > 35 && y1 - y0 > 10, "{x0}..{x1} × {y0}..{y1}");
        assert!(y0 >= 20 && y1 <= 40, "within the box: {y0}..{y1}");
    }

    #[test]
    fn upward_text_is_the_same_ink_turned() {
        let mut right = white(100, 100);
        let mut up = white(100, 100);
        draw(
            &mut right,
            "Step",
            (50.0, 50.0),
            16.0,
            [0, 0, 0, 255],
            (0.5, 0.5),
            Direction::Right,
        );
        draw(
            &mut up,
            "Step",
            (50.0, 50.0),
            16.0,
            [0, 0, 0, 255],
            (0.5, 0.5),
            Direction::Up,
        );
        assert!(
            (ink(&right) - ink(&up)).abs() < 0.5,
            "{} vs {}",
            ink(&right),
            ink(&up)
        );
        // Upward text is tall and narrow.
        let dark_columns = (0..100)
            .filter(|&x| (0..100).any(|y| up.pixel(x, y).unwrap().red() < 128))
            .count();
        assert!(dark_columns < 20, "{dark_columns}");
    }

    #[test]
    fn nonsense_draws_nothing() {
        let mut p = white(20, 20);
        draw(
            &mut p,
            "x",
            (f32::NAN, 0.0),
            12.0,
            [0, 0, 0, 255],
            (0.0, 0.0),
            Direction::Right,
        );
        draw(
            &mut p,
            "x",
            (5.0, 5.0),
            -1.0,
            [0, 0, 0, 255],
            (0.0, 0.0),
            Direction::Right,
        );
        draw(
            &mut p,
            "far",
            (-1e5, 1e5),
            12.0,
            [0, 0, 0, 255],
            (0.0, 0.0),
            Direction::Up,
        );
        draw(
            &mut p,
            "\u{0}\n",
            (5.0, 5.0),
            12.0,
            [0, 0, 0, 255],
            (0.0, 0.0),
            Direction::Right,
        );
        assert_eq!(ink(&p), 0.0);
    }
}
