//! A picture as a list of shapes, drawn either into pixels (anti-aliased, by `tiny-skia`) or
//! into an SVG document, so that both show the same thing.

use crate::raster::{self, MAX_SIDE};
use crate::shape::{Part, Rgba, Shape, sane};
use crate::text;
use image::RgbImage;
use std::fmt::Write;

/// A picture: a white `width × height` canvas and shapes drawn in order, later ones on top.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Scene {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// The shapes, each with what it stands for.
    pub shapes: Vec<(Part, Shape)>,
}

impl Scene {
    /// An empty picture of the given size (each side clamped to `1..=16384`).
    pub fn new(width: u32, height: u32) -> Self {
        Scene {
            width: width.clamp(1, MAX_SIDE),
            height: height.clamp(1, MAX_SIDE),
            shapes: Vec::new(),
        }
    }

    /// Appends a shape.
    pub fn push(&mut self, part: Part, shape: Shape) {
        self.shapes.push((part, shape));
    }

    /// The picture in pixels, anti-aliased. Consecutive lines whose widths lie in the same
    /// whole pixel (under 1, 1 to 2, …) are drawn together: where they cross, their colours
    /// mix instead of the later one covering the earlier.
    pub fn rasterise(&self) -> RgbImage {
        let mut pixmap = raster::white_pixmap(self.width, self.height);
        raster::draw_shapes(&mut pixmap, self.shapes.iter().map(|(_, shape)| shape));
        raster::to_image(&pixmap)
    }

    /// The picture as a standalone SVG document. Text becomes `<text>` elements in DejaVu
    /// Sans (the viewer's own copy, or another sans-serif font); shapes that would not be drawn
    /// in pixels (non-finite coordinates) are left out too. Consecutive shapes of one [`Part`]
    /// form a group, `<g class="weights">` and so on.
    pub fn to_svg(&self) -> String {
        let (w, h) = (self.width, self.height);
        let mut svg = String::with_capacity(200 + 90 * self.shapes.len());
        svg.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        let _ = writeln!(
            svg,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" \
             viewBox=\"0 0 {w} {h}\" font-family=\"{}\">",
            text::FAMILY
        );
        svg.push_str("<rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>\n");
        let mut open: Option<Part> = None;
        for (part, shape) in &self.shapes {
            let Some(element) = svg_element(shape) else {
                continue;
            };
            if open != Some(*part) {
                if open.is_some() {
                    svg.push_str("</g>\n");
                }
                let _ = writeln!(svg, "<g class=\"{}\">", part.class());
                open = Some(*part);
            }
            svg.push_str(&element);
            svg.push('\n');
        }
        if open.is_some() {
            svg.push_str("</g>\n");
        }
        svg.push_str("</svg>\n");
        svg
    }
}

/// A number for SVG: at most two decimals, no trailing zeros.
fn num(v: f32) -> String {
    decimals(v, 2)
}

/// `v` with at most `d` decimals, no trailing zeros.
fn decimals(v: f32, d: usize) -> String {
    let s = format!("{v:.d$}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" { "0".into() } else { s.into() }
}

/// `#rrggbb`, plus an opacity attribute named `what` if not opaque.
fn colour_attrs(what: &str, c: Rgba) -> String {
    let mut s = format!("{what}=\"#{:02x}{:02x}{:02x}\"", c[0], c[1], c[2]);
    if c[3] < 255 {
        let _ = write!(s, " {what}-opacity=\"{}\"", num(c[3] as f32 / 255.0));
    }
    s
}

/// Text made safe for XML: markup characters escaped, characters XML forbids dropped.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if c.is_control() => {}
            '\u{FFFE}' | '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
    out
}

/// One shape as an SVG element, `None` if it is not [drawable](Shape::drawable).
fn svg_element(shape: &Shape) -> Option<String> {
    if !shape.drawable() {
        return None;
    }
    match shape {
        Shape::Line {
            from,
            to,
            width,
            colour,
        } => Some(format!(
            "<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke-width=\"{}\" {}/>",
            num(from.0),
            num(from.1),
            num(to.0),
            num(to.1),
            // Keep the thinnest lines' ink: two decimals would round them to nothing.
            decimals(*width, 3),
            colour_attrs("stroke", *colour)
        )),
        Shape::Circle {
            centre,
            radius,
            colour,
        } => Some(format!(
            "<circle cx=\"{}\" cy=\"{}\" r=\"{}\" {}/>",
            num(centre.0),
            num(centre.1),
            num(*radius),
            colour_attrs("fill", *colour)
        )),
        Shape::Polygon {
            points,
            fill,
            stroke,
        } => {
            let coords: Vec<String> = points
                .iter()
                .map(|p| format!("{},{}", num(p.0), num(p.1)))
                .collect();
            let fill = match fill {
                Some(c) => colour_attrs("fill", *c),
                None => "fill=\"none\"".into(),
            };
            let stroke = match stroke {
                Some((w, c)) if *w > 0.0 && sane(*w) => {
                    format!(
                        " stroke-width=\"{}\" stroke-linejoin=\"miter\" {}",
                        num(*w),
                        colour_attrs("stroke", *c)
                    )
                }
                _ => String::new(),
            };
            Some(format!(
                "<polygon points=\"{}\" {fill}{stroke}/>",
                coords.join(" ")
            ))
        }
        Shape::Text {
            text,
            at,
            size,
            colour,
            anchor,
            upward,
        } => {
            // The anchor's point on the baseline, in the text's frame (u along, v down), then
            // on the canvas; SVG aligns horizontally itself where it can.
            let (text_anchor, u) = match anchor.0 {
                0.0 => ("start", 0.0),
                0.5 => ("middle", 0.0),
                1.0 => ("end", 0.0),
                h => ("start", -h * text::width(text, *size)),
            };
            let v = (text::ASCENT - anchor.1) * size;
            let (x, y) = if *upward {
                (at.0 + v, at.1 - u)
            } else {
                (at.0 + u, at.1 + v)
            };
            let turn = if *upward {
                format!(" transform=\"rotate(-90 {} {})\"", num(x), num(y))
            } else {
                String::new()
            };
            Some(format!(
                "<text x=\"{}\" y=\"{}\" font-size=\"{}\" text-anchor=\"{text_anchor}\" \
                 {}{turn}>{}</text>",
                num(x),
                num(y),
                num(*size),
                colour_attrs("fill", *colour),
                escape(text)
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_keeps_xml_well_formed() {
        assert_eq!(
            escape("a<b & \"c\">'d'"),
            "a&lt;b &amp; &quot;c&quot;&gt;&apos;d&apos;"
        );
        assert_eq!(escape("x\u{0}y\u{1b}z\u{FFFF}λ"), "xyzλ");
    }

    #[test]
    fn numbers_are_short() {
        assert_eq!(num(1.0), "1");
        assert_eq!(num(-0.001), "0");
        assert_eq!(num(12.345), "12.35");
        assert_eq!(decimals(2.0, 3), "2");
        assert_eq!(decimals(0.0504, 3), "0.05");
    }

    #[test]
    fn undrawable_shapes_are_skipped_in_both_outputs() {
        let mut scene = Scene::new(10, 10);
        let bad = Shape::Line {
            from: (f32::NAN, 0.0),
            to: (1.0, 1.0),
            width: 1.0,
            colour: [0, 0, 0, 255],
        };
        scene.push(Part::Weight, bad);
        scene.push(
            Part::Neuron,
            Shape::Circle {
                centre: (5.0, 5.0),
                radius: 1e9,
                colour: [0, 0, 0, 255],
            },
        );
        assert!(scene.rasterise().pixels().all(|p| p.0 == [255, 255, 255]));
        assert!(!scene.to_svg().contains("<line") && !scene.to_svg().contains("<circle"));
    }
}
