//! A floating-point RGB canvas with the few anti-aliased primitives the views need: lines of
//! any (also sub-pixel) width, discs, rectangles and text in an 8×8 bitmap font scaled to any
//! size. Coordinates are in pixels; pixel `(x, y)` covers `[x, x+1] × [y, y+1]`, so its centre
//! is `(x + 0.5, y + 0.5)`. Everything outside the canvas is clipped.

use font8x8::UnicodeFonts;
use image::RgbImage;

/// A colour with channels in `[0, 1]`.
pub(crate) type Rgb = [f32; 3];

pub(crate) const WHITE: Rgb = [1.0, 1.0, 1.0];
pub(crate) const BLACK: Rgb = [0.0, 0.0, 0.0];
/// Positive weights (the paper's blue).
pub(crate) const BLUE: Rgb = [0.0, 0.0, 1.0];
/// Negative weights (the paper's red).
pub(crate) const RED: Rgb = [1.0, 0.0, 0.0];

/// matplotlib's `tab10` palette, for series and classes.
pub(crate) const PALETTE: [Rgb; 10] = [
    [0.122, 0.467, 0.706],
    [1.000, 0.498, 0.055],
    [0.173, 0.627, 0.173],
    [0.839, 0.153, 0.157],
    [0.580, 0.404, 0.741],
    [0.549, 0.337, 0.294],
    [0.890, 0.467, 0.761],
    [0.498, 0.498, 0.498],
    [0.737, 0.741, 0.133],
    [0.090, 0.745, 0.812],
];

/// Mixes `a` and `b`: `t = 0` gives `a`, `t = 1` gives `b`.
pub(crate) fn mix(a: Rgb, b: Rgb, t: f32) -> Rgb {
    [
        a[0] + (b[0] - a[0]) * t,
        a[1] + (b[1] - a[1]) * t,
        a[2] + (b[2] - a[2]) * t,
    ]
}

/// Largest side of any picture the views make, so that absurd arguments cannot exhaust memory.
pub(crate) const MAX_SIDE: u32 = 16384;

pub(crate) struct Canvas {
    w: usize,
    h: usize,
    px: Vec<Rgb>,
}

impl Canvas {
    /// A canvas filled with `bg`; each side is clamped to `1..=MAX_SIDE`.
    pub(crate) fn new(w: u32, h: u32, bg: Rgb) -> Self {
        let (w, h) = (w.clamp(1, MAX_SIDE) as usize, h.clamp(1, MAX_SIDE) as usize);
        Canvas {
            w,
            h,
            px: vec![bg; w * h],
        }
    }

    pub(crate) fn width(&self) -> f32 {
        self.w as f32
    }

    pub(crate) fn height(&self) -> f32 {
        self.h as f32
    }

    /// Blends `c` over pixel `(x, y)` with opacity `a` (clamped to `[0, 1]`).
    #[inline]
    pub(crate) fn blend(&mut self, x: i64, y: i64, c: Rgb, a: f32) {
        if x < 0 || y < 0 || x >= self.w as i64 || y >= self.h as i64 || a.is_nan() || a <= 0.0 {
            return;
        }
        let a = a.min(1.0);
        let p = &mut self.px[y as usize * self.w + x as usize];
        for k in 0..3 {
            p[k] += (c[k] - p[k]) * a;
        }
    }

    /// Sets pixel `(x, y)` to `c`.
    pub(crate) fn set(&mut self, x: i64, y: i64, c: Rgb) {
        self.blend(x, y, c, 1.0);
    }

    /// The 8-bit image.
    pub(crate) fn into_image(self) -> RgbImage {
        let mut out = RgbImage::new(self.w as u32, self.h as u32);
        for (dst, src) in out.pixels_mut().zip(&self.px) {
            dst.0 = src.map(|v| (v.clamp(0.0, 1.0) * 255.0).round() as u8);
        }
        out
    }

    /// An anti-aliased segment of the given width; widths below a pixel are drawn one pixel wide
    /// with proportionally less opacity, so the ink per unit length is always `width · alpha`.
    pub(crate) fn line(&mut self, p0: (f32, f32), p1: (f32, f32), width: f32, c: Rgb, alpha: f32) {
        let (dx, dy) = (p1.0 - p0.0, p1.1 - p0.1);
        if !(width > 0.0
            && alpha > 0.0
            && dx.is_finite()
            && dy.is_finite()
            && p0.0.is_finite()
            && p0.1.is_finite())
        {
            return;
        }
        // Walk along the major axis `u`; `v` is the minor axis.
        let steep = dy.abs() > dx.abs();
        let (mut a, mut b) = if steep {
            ((p0.1, p0.0), (p1.1, p1.0))
        } else {
            (p0, p1)
        };
        if a.0 > b.0 {
            std::mem::swap(&mut a, &mut b);
        }
        let du = b.0 - a.0;
        if du < 1e-4 {
            return;
        }
        let slope = (b.1 - a.1) / du;
        let half = 0.5 * width * (1.0 + slope * slope).sqrt();
        let (u_len, v_len) = if steep {
            (self.h, self.w)
        } else {
            (self.w, self.h)
        };
        let u_first = (a.0.floor() as i64).max(0);
        let u_last = ((b.0.ceil() as i64) - 1).min(u_len as i64 - 1);
        for pu in u_first..=u_last {
            let cover_u = ((pu + 1) as f32).min(b.0) - (pu as f32).max(a.0);
            if cover_u <= 0.0 {
                continue;
            }
            let uc = (pu as f32 + 0.5).clamp(a.0, b.0);
            let vc = a.1 + (uc - a.0) * slope;
            let (lo, hi) = (vc - half, vc + half);
            let v_first = (lo.floor() as i64).max(0);
            let v_last = (hi.floor() as i64).min(v_len as i64 - 1);
            for pv in v_first..=v_last {
                let cover_v = ((pv + 1) as f32).min(hi) - (pv as f32).max(lo);
                if cover_v > 0.0 {
                    let (x, y) = if steep { (pv, pu) } else { (pu, pv) };
                    self.blend(x, y, c, cover_u * cover_v * alpha);
                }
            }
        }
    }

    /// A polyline through `points`, broken wherever a point is not finite.
    pub(crate) fn polyline(&mut self, points: &[(f32, f32)], width: f32, c: Rgb) {
        for pair in points.windows(2) {
            self.line(pair[0], pair[1], width, c, 1.0);
        }
    }

    /// An anti-aliased filled disc; discs smaller than a pixel become one faint pixel.
    pub(crate) fn disc(&mut self, cx: f32, cy: f32, r: f32, c: Rgb, alpha: f32) {
        if !(cx.is_finite() && cy.is_finite() && r > 0.0) {
            return;
        }
        if r < 0.6 {
            let a = (std::f32::consts::PI * r * r).min(1.0) * alpha;
            self.blend(cx.floor() as i64, cy.floor() as i64, c, a);
            return;
        }
        let (x0, x1) = ((cx - r - 1.0).floor() as i64, (cx + r + 1.0).ceil() as i64);
        let (y0, y1) = ((cy - r - 1.0).floor() as i64, (cy + r + 1.0).ceil() as i64);
        let (x0, x1) = (x0.max(0), x1.min(self.w as i64 - 1));
        let (y0, y1) = (y0.max(0), y1.min(self.h as i64 - 1));
        for y in y0..=y1 {
            for x in x0..=x1 {
                let d = ((x as f32 + 0.5 - cx).powi(2) + (y as f32 + 0.5 - cy).powi(2)).sqrt();
                self.blend(x, y, c, (r - d + 0.5).clamp(0.0, 1.0) * alpha);
            }
        }
    }

    /// Fills the pixels whose centres lie in `[x0, x1) × [y0, y1)`.
    pub(crate) fn fill_rect(&mut self, x0: f32, y0: f32, x1: f32, y1: f32, c: Rgb, alpha: f32) {
        if !(x0.is_finite() && x1.is_finite() && y0.is_finite() && y1.is_finite()) {
            return;
        }
        let xs = (x0.round() as i64).max(0)..(x1.round() as i64).min(self.w as i64);
        for y in (y0.round() as i64).max(0)..(y1.round() as i64).min(self.h as i64) {
            for x in xs.clone() {
                self.blend(x, y, c, alpha);
            }
        }
    }

    /// The outline of a rectangle, one pixel wide, snapped to pixel centres so it stays crisp.
    pub(crate) fn rect(&mut self, x0: f32, y0: f32, x1: f32, y1: f32, c: Rgb) {
        let snap = |v: f32| v.floor() + 0.5;
        let (x0, y0, x1, y1) = (snap(x0), snap(y0), snap(x1), snap(y1));
        // Each side runs half a pixel past the corners, so the corners are filled.
        let sides = [
            ((x0 - 0.5, y0), (x1 + 0.5, y0)),
            ((x0 - 0.5, y1), (x1 + 0.5, y1)),
            ((x0, y0 - 0.5), (x0, y1 + 0.5)),
            ((x1, y0 - 0.5), (x1, y1 + 0.5)),
        ];
        for (a, b) in sides {
            self.line(a, b, 1.0, c, 1.0);
        }
    }

    /// Draws `text` horizontally at `size` pixels per character cell (a cell is square).
    /// `(x, y)` is the anchor; `(ha, va)` place it within the text's box (`0`: left/top,
    /// `0.5`: centre, `1`: right/bottom).
    pub(crate) fn text(
        &mut self,
        text: &str,
        x: f32,
        y: f32,
        size: f32,
        c: Rgb,
        (ha, va): (f32, f32),
    ) {
        let left = x - ha * text_width(text, size);
        let top = y - va * size;
        self.glyphs(text, size, c, |tx, ty| (left + tx, top + ty));
    }

    /// Draws `text` turned a quarter turn anticlockwise (reading upwards), centred on `x`, with
    /// its end (the last character) at `top`.
    pub(crate) fn text_up(&mut self, text: &str, x: f32, top: f32, size: f32, c: Rgb) {
        let bottom = top + text_width(text, size);
        let left = x - 0.5 * size;
        self.glyphs(text, size, c, |tx, ty| (left + ty, bottom - tx));
    }

    /// Rasterises `text` with the map `place` from text coordinates (`tx` along the line, `ty`
    /// down within a cell, both in pixels) to canvas coordinates; coverage by 4×4 supersampling.
    fn glyphs(&mut self, text: &str, size: f32, c: Rgb, place: impl Fn(f32, f32) -> (f32, f32)) {
        if !(size > 0.0 && size.is_finite()) {
            return;
        }
        let cell = size / 8.0;
        const N: usize = 4;
        let mut coverage = std::collections::HashMap::<(i64, i64), f32>::new();
        for (k, ch) in text.chars().enumerate() {
            let Some(bits) = glyph(ch) else { continue };
            for (row, byte) in bits.iter().enumerate() {
                for col in 0..8 {
                    if byte >> col & 1 == 0 {
                        continue;
                    }
                    // One font pixel: a square of side `cell`; spread its area over canvas pixels.
                    let (tx0, ty0) = ((k * 8 + col) as f32 * cell, row as f32 * cell);
                    for sy in 0..N {
                        for sx in 0..N {
                            let tx = tx0 + (sx as f32 + 0.5) * cell / N as f32;
                            let ty = ty0 + (sy as f32 + 0.5) * cell / N as f32;
                            let (px, py) = place(tx, ty);
                            let key = (px.floor() as i64, py.floor() as i64);
                            *coverage.entry(key).or_default() += (cell / N as f32).powi(2);
                        }
                    }
                }
            }
        }
        for ((x, y), a) in coverage {
            self.blend(x, y, c, a);
        }
    }
}

/// The bitmap of one character, or `None` for characters the font does not have.
fn glyph(ch: char) -> Option<[u8; 8]> {
    font8x8::BASIC_FONTS
        .get(ch)
        .or_else(|| font8x8::LATIN_FONTS.get(ch))
        .or_else(|| font8x8::GREEK_FONTS.get(ch))
        .or_else(|| font8x8::BASIC_FONTS.get('?'))
}

/// Width in pixels of `text` at `size` pixels per character.
pub(crate) fn text_width(text: &str, size: f32) -> f32 {
    text.chars().count() as f32 * size
}

/// A short decimal for a tick label: at most four significant digits, no trailing zeros.
pub(crate) fn fmt_num(v: f64) -> String {
    if !v.is_finite() {
        return format!("{v}");
    }
    if v == 0.0 {
        return "0".into();
    }
    let mag = v.abs().log10().floor() as i32;
    if !(-3..5).contains(&mag) {
        return format!("{v:.2e}");
    }
    let decimals = (3 - mag).max(0) as usize;
    let s = format!("{v:.decimals$}");
    let s = if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    };
    if s == "-0" { "0".into() } else { s }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ink(img: &RgbImage) -> f64 {
        img.pixels()
            .map(|p| p.0.iter().map(|&v| 255.0 - v as f64).sum::<f64>() / (3.0 * 255.0))
            .sum()
    }

    #[test]
    fn line_ink_is_proportional_to_width() {
        for width in [0.25f32, 1.0, 3.0] {
            let mut c = Canvas::new(200, 200, WHITE);
            c.line((20.0, 30.0), (180.0, 150.0), width, BLACK, 1.0);
            let expected = 200.0 * width as f64; // length of the segment is 200
            let got = ink(&c.into_image());
            assert!(
                (got - expected).abs() < 0.1 * expected + 3.0,
                "width {width}: ink {got}, expected {expected}"
            );
        }
    }

    #[test]
    fn lines_clip_and_ignore_nonsense() {
        let mut c = Canvas::new(10, 10, WHITE);
        c.line((-1e9, -5.0), (1e9, 5.0), 2.0, BLACK, 1.0);
        c.line((f32::NAN, 0.0), (3.0, 3.0), 2.0, BLACK, 1.0);
        c.line((3.0, 3.0), (3.0, 3.0), 2.0, BLACK, 1.0);
        c.disc(f32::INFINITY, 0.0, 3.0, BLACK, 1.0);
        c.text("abc", -100.0, -100.0, 12.0, BLACK, (0.0, 0.0));
        let _ = c.into_image();
    }

    #[test]
    fn text_leaves_ink() {
        let mut c = Canvas::new(100, 30, WHITE);
        c.text("x1", 50.0, 15.0, 12.0, BLACK, (0.5, 0.5));
        assert!(ink(&c.into_image()) > 10.0);
    }

    #[test]
    fn numbers_are_short() {
        assert_eq!(fmt_num(0.5), "0.5");
        assert_eq!(fmt_num(-1.0), "-1");
        assert_eq!(fmt_num(123.456), "123.5");
        assert_eq!(fmt_num(0.0001234), "1.23e-4");
        assert_eq!(fmt_num(0.0), "0");
    }
}
