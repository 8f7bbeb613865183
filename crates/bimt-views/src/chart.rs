//! Charts: `plotters` lays out axes, ticks, tick labels, axis titles and legends, and draws
//! them through [`Skia`], a backend that paints anti-aliased with `tiny-skia` and writes text
//! in the bundled font. Ticks come from [`Axis`]: round 1-2-5 steps on linear axes, decades
//! (or 1-2-5 multiples within a decade) on logarithmic ones.

use crate::raster::paint;
use crate::shape::Rgba;
use crate::text::{self, Direction};
use plotters::coord::Shift;
use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint};
use plotters::prelude::*;
use plotters::style::FontStyle;
use plotters_backend::text_anchor::{HPos, VPos};
use plotters_backend::{
    BackendColor, BackendCoord, BackendStyle, BackendTextStyle, DrawingErrorKind, FontTransform,
};
use std::convert::Infallible;
use std::ops::Range;
use tiny_skia::{FillRule, LineCap, LineJoin, PathBuilder, Pixmap, Rect, Stroke, Transform};

/// A drawing area on a pixmap.
pub(crate) type Area<'a> = DrawingArea<Skia<'a>, Shift>;
/// A chart with two [`Axis`].
pub(crate) type Chart<'a, 'b> = ChartContext<'a, Skia<'b>, Cartesian2d<Axis, Axis>>;
/// What drawing with `plotters` can report (layout problems; the backend itself cannot fail).
pub(crate) type Drawn<T = ()> = Result<T, DrawingAreaErrorKind<Infallible>>;

/// The family every chart asks for; the bundled font is registered under it.
pub(crate) const FAMILY: &str = "sans-serif";
/// Size of tick labels and legends, as `plotters` gives sizes (descender to ascender, in
/// pixels; the em is about 0.86 of it).
pub(crate) const TICK_FONT: f64 = 13.0;
/// Size of axis titles.
const AXIS_FONT: f64 = 14.0;
/// Size of chart titles.
const TITLE_FONT: f64 = 16.0;
/// Length of the tick marks, in pixels.
const TICK: i32 = 4;
/// Blank space around a chart, in pixels.
const MARGIN: u32 = 8;

/// matplotlib's `tab10` palette, for series and classes.
pub(crate) const PALETTE: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];
/// Faint grid lines at the labelled ticks, fainter ones at a log axis's minor ticks.
const GRID: RGBColor = RGBColor(228, 228, 228);
const MINOR_GRID: RGBColor = RGBColor(243, 243, 243);

/// A `plotters` backend painting onto a `tiny-skia` pixmap: shapes anti-aliased, text in the
/// bundled DejaVu Sans. `plotters` places everything at whole pixels; lines and outlines run
/// through pixel centres so that one-pixel lines stay crisp.
pub(crate) struct Skia<'a>(&'a mut Pixmap);

/// Makes the bundled font known to `plotters`, which measures legend entries with it.
fn register_font() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // The bundled font parses (the text module relies on it too), so this cannot fail.
        let _ = plotters::style::register_font(FAMILY, FontStyle::Normal, text::FONT_DATA);
    });
}

/// The drawing area covering all of `pixmap`.
pub(crate) fn area(pixmap: &mut Pixmap) -> Area<'_> {
    register_font();
    Skia(pixmap).into_drawing_area()
}

fn rgba(c: BackendColor) -> Rgba {
    [
        c.rgb.0,
        c.rgb.1,
        c.rgb.2,
        (c.alpha.clamp(0.0, 1.0) * 255.0).round() as u8,
    ]
}

fn centre(p: BackendCoord) -> (f32, f32) {
    (p.0 as f32 + 0.5, p.1 as f32 + 0.5)
}

/// A path through the centres of `points`, closed or not; `None` if it has no segment.
fn path(points: &[BackendCoord], close: bool) -> Option<tiny_skia::Path> {
    let (first, rest) = points.split_first()?;
    let mut pb = PathBuilder::new();
    pb.move_to(centre(*first).0, centre(*first).1);
    for p in rest {
        pb.line_to(centre(*p).0, centre(*p).1);
    }
    if close {
        pb.close();
    }
    pb.finish()
}

impl Skia<'_> {
    /// Strokes the path through `points` (closed if `close`).
    fn stroke<S: BackendStyle>(
        &mut self,
        points: &[BackendCoord],
        style: &S,
        cap: LineCap,
        close: bool,
    ) {
        let colour = rgba(style.color());
        if style.stroke_width() == 0 || colour[3] == 0 {
            return;
        }
        if let Some(path) = path(points, close) {
            let stroke = Stroke {
                width: style.stroke_width() as f32,
                line_cap: cap,
                line_join: LineJoin::Round,
                ..Stroke::default()
            };
            self.0
                .stroke_path(&path, &paint(colour), &stroke, Transform::identity(), None);
        }
    }

    fn fill(&mut self, path: Option<tiny_skia::Path>, colour: Rgba) {
        if let Some(path) = path {
            let id = Transform::identity();
            self.0
                .fill_path(&path, &paint(colour), FillRule::Winding, id, None);
        }
    }
}

/// `(0, 0)`: the text's top left at the anchor point; `(1, 1)`: its bottom right.
fn anchor(style: &impl BackendTextStyle) -> (f32, f32) {
    let pos = style.anchor();
    let h = match pos.h_pos {
        HPos::Left => 0.0,
        HPos::Center => 0.5,
        HPos::Right => 1.0,
    };
    let v = match pos.v_pos {
        VPos::Top => 0.0,
        VPos::Center => 0.5,
        VPos::Bottom => 1.0,
    };
    (h, v)
}

impl DrawingBackend for Skia<'_> {
    type ErrorType = Infallible;

    fn get_size(&self) -> (u32, u32) {
        (self.0.width(), self.0.height())
    }

    fn ensure_prepared(&mut self) -> Result<(), DrawingErrorKind<Infallible>> {
        Ok(())
    }

    fn present(&mut self) -> Result<(), DrawingErrorKind<Infallible>> {
        Ok(())
    }

    fn draw_pixel(
        &mut self,
        p: BackendCoord,
        color: BackendColor,
    ) -> Result<(), DrawingErrorKind<Infallible>> {
        if let Some(rect) = Rect::from_xywh(p.0 as f32, p.1 as f32, 1.0, 1.0) {
            let id = Transform::identity();
            self.0.fill_rect(rect, &paint(rgba(color)), id, None);
        }
        Ok(())
    }

    fn draw_line<S: BackendStyle>(
        &mut self,
        from: BackendCoord,
        to: BackendCoord,
        style: &S,
    ) -> Result<(), DrawingErrorKind<Infallible>> {
        // Square ends cover the end pixels, as `plotters` means them.
        self.stroke(&[from, to], style, LineCap::Square, false);
        Ok(())
    }

    fn draw_rect<S: BackendStyle>(
        &mut self,
        upper_left: BackendCoord,
        bottom_right: BackendCoord,
        style: &S,
        fill: bool,
    ) -> Result<(), DrawingErrorKind<Infallible>> {
        let (x0, y0) = (
            upper_left.0.min(bottom_right.0),
            upper_left.1.min(bottom_right.1),
        );
        let (x1, y1) = (
            upper_left.0.max(bottom_right.0),
            upper_left.1.max(bottom_right.1),
        );
        if fill {
            let rect = Rect::from_ltrb(x0 as f32, y0 as f32, (x1 + 1) as f32, (y1 + 1) as f32);
            self.fill(rect.map(PathBuilder::from_rect), rgba(style.color()));
        } else {
            // A closed outline through the corner pixels' centres.
            let corners = [(x0, y0), (x1, y0), (x1, y1), (x0, y1)];
            self.stroke(&corners, style, LineCap::Butt, true);
        }
        Ok(())
    }

    fn draw_path<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        path: I,
        style: &S,
    ) -> Result<(), DrawingErrorKind<Infallible>> {
        let points: Vec<BackendCoord> = path.into_iter().collect();
        self.stroke(&points, style, LineCap::Round, false);
        Ok(())
    }

    fn draw_circle<S: BackendStyle>(
        &mut self,
        c: BackendCoord,
        radius: u32,
        style: &S,
        fill: bool,
    ) -> Result<(), DrawingErrorKind<Infallible>> {
        let (x, y) = centre(c);
        let circle = PathBuilder::from_circle(x, y, radius as f32);
        if fill {
            self.fill(circle, rgba(style.color()));
        } else if let Some(circle) = circle {
            let stroke = Stroke {
                width: style.stroke_width().max(1) as f32,
                ..Stroke::default()
            };
            let paint = paint(rgba(style.color()));
            self.0
                .stroke_path(&circle, &paint, &stroke, Transform::identity(), None);
        }
        Ok(())
    }

    fn fill_polygon<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        vert: I,
        style: &S,
    ) -> Result<(), DrawingErrorKind<Infallible>> {
        let points: Vec<BackendCoord> = vert.into_iter().collect();
        self.fill(path(&points, true), rgba(style.color()));
        Ok(())
    }

    fn draw_text<T: BackendTextStyle>(
        &mut self,
        text: &str,
        style: &T,
        pos: BackendCoord,
    ) -> Result<(), DrawingErrorKind<Infallible>> {
        let direction = match style.transform() {
            FontTransform::Rotate270 => Direction::Up,
            _ => Direction::Right,
        };
        let em = text::em_of_height(style.size() as f32);
        let at = (pos.0 as f32, pos.1 as f32);
        text::draw(
            self.0,
            text,
            at,
            em,
            rgba(style.color()),
            anchor(style),
            direction,
        );
        Ok(())
    }

    fn estimate_text_size<T: BackendTextStyle>(
        &self,
        text: &str,
        style: &T,
    ) -> Result<(u32, u32), DrawingErrorKind<Infallible>> {
        let em = text::em_of_height(style.size() as f32);
        Ok((text::width(text, em).ceil() as u32, em.ceil() as u32))
    }
}

/// The round step nearest (in ratio) to `span / target`: 1, 2 or 5 times a power of ten.
fn nice_step(span: f64, target: usize) -> f64 {
    let raw = span / target.max(1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let m = raw / mag;
    // Thresholds halfway between 1, 2, 5 and 10 on a log scale.
    let f = if m < 2f64.sqrt() {
        1.0
    } else if m < 10f64.sqrt() {
        2.0
    } else if m < 50f64.sqrt() {
        5.0
    } else {
        10.0
    };
    f * mag
}

/// The multiples of `step` in `[lo, hi]`.
fn multiples(lo: f64, hi: f64, step: f64) -> Vec<f64> {
    let (a, b) = ((lo / step - 1e-9).ceil(), (hi / step + 1e-9).floor());
    if !(a.is_finite() && b.is_finite()) || b - a > 1000.0 {
        return Vec::new();
    }
    (a as i64..=b as i64).map(|k| k as f64 * step).collect()
}

/// Superscript digits and minus sign for `10ⁿ`.
fn superscript(n: i32) -> String {
    const DIGITS: [char; 10] = ['⁰', '¹', '²', '³', '⁴', '⁵', '⁶', '⁷', '⁸', '⁹'];
    let digits = n.unsigned_abs().to_string();
    let sign = if n < 0 { "⁻" } else { "" };
    sign.to_string()
        + &digits
            .bytes()
            .map(|b| DIGITS[(b - b'0') as usize])
            .collect::<String>()
}

/// A typographic minus sign instead of the hyphen.
fn minus(s: String) -> String {
    match s.strip_prefix('-') {
        Some(rest) if rest.chars().any(|c| c != '0' && c != '.') => format!("−{rest}"),
        Some(rest) => rest.to_string(),
        None => s,
    }
}

/// A short label for `v`: plain decimals with at most four significant digits between 10⁻³
/// and 10⁵, else `m×10ⁿ` (`10ⁿ` for a power of ten).
pub(crate) fn fmt_num(v: f64) -> String {
    if !v.is_finite() {
        return format!("{v}");
    }
    if v == 0.0 {
        return "0".into();
    }
    let mag = v.abs().log10().floor() as i32;
    let trim = |s: String| {
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s
        }
    };
    if (-3..5).contains(&mag) {
        let decimals = (3 - mag).max(0) as usize;
        return minus(trim(format!("{v:.decimals$}")));
    }
    let mantissa = trim(format!("{:.2}", v / 10f64.powi(mag)));
    match mantissa.as_str() {
        "1" => format!("10{}", superscript(mag)),
        "-1" => format!("−10{}", superscript(mag)),
        m => minus(format!("{m}×10{}", superscript(mag))),
    }
}

/// One axis of a chart: its range, linear or logarithmic, labelled ticks and (on log axes)
/// minor ticks, which only get faint grid lines.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Axis {
    lo: f64,
    hi: f64,
    log: bool,
    ticks: Vec<f64>,
    minor: Vec<f64>,
    /// How tick labels are written.
    labels: Labels,
}

/// How an axis writes its tick labels.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Labels {
    /// With this many decimals each (a linear axis).
    Decimals(usize),
    /// As `10ⁿ` (a log axis with decades beyond 0.001 … 10000).
    Powers,
    /// Each on its own, by [`fmt_num`].
    Short,
}

/// The range of the finite `values` (`None` if there are none).
fn extent(values: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    values.filter(|v| v.is_finite()).fold(None, |r, v| match r {
        None => Some((v, v)),
        Some((a, b)) => Some((f64::min(a, v), f64::max(b, v))),
    })
}

impl Axis {
    /// A linear axis over `[lo, hi]` (widened if empty) with about `target` round ticks.
    pub(crate) fn linear(lo: f64, hi: f64, target: usize) -> Self {
        let (lo, hi) = if lo.is_finite() && hi.is_finite() && hi > lo {
            (lo, hi)
        } else if lo.is_finite() {
            (lo - 0.5, lo + 0.5)
        } else {
            (0.0, 1.0)
        };
        let step = nice_step(hi - lo, target);
        let ticks = multiples(lo, hi, step);
        let big = lo.abs().max(hi.abs());
        let labels = if step >= 1e-4 && big < 1e5 && !ticks.is_empty() {
            Labels::Decimals((-step.log10().floor()).max(0.0) as usize)
        } else {
            Labels::Short
        };
        Axis {
            lo,
            hi,
            log: false,
            ticks,
            minor: Vec::new(),
            labels,
        }
    }

    /// A linear axis over the finite `values`, 5% wider each side ([0, 1] if there are none).
    pub(crate) fn linear_fit(values: impl Iterator<Item = f64>, target: usize) -> Self {
        match extent(values) {
            Some((a, b)) if b > a => {
                let pad = 0.05 * (b - a);
                Axis::linear(a - pad, b + pad, target)
            }
            Some((a, _)) => Axis::linear(a, a, target),
            None => Axis::linear(0.0, 1.0, target),
        }
    }

    /// A logarithmic axis over the positive finite `values`, 5% wider each side in log space
    /// ([1, 10] if there are none). Ticks are at decades if at least two fit (every n-th
    /// decade if there are many, with minor ticks at 2…9 × 10ⁿ when every decade is labelled),
    /// else at 1, 2, 5 × 10ⁿ, else at round linear steps.
    pub(crate) fn log_fit(values: impl Iterator<Item = f64>, target: usize) -> Self {
        let (lo, hi) = match extent(values.filter(|&v| v > 0.0)) {
            Some((a, b)) if b > a => {
                let pad = 0.05 * (b.ln() - a.ln());
                ((a.ln() - pad).exp(), (b.ln() + pad).exp())
            }
            Some((a, _)) => (a / 2.0, a * 2.0),
            None => (1.0, 10.0),
        };
        let target = target.max(2);
        let (k0, k1) = (lo.log10().ceil() as i32, hi.log10().floor() as i32);
        let decade = |k: i32| 10f64.powi(k);
        let inside = |v: &f64| *v >= lo * (1.0 - 1e-9) && *v <= hi * (1.0 + 1e-9);
        let mut minor = Vec::new();
        let mut labels = Labels::Short;
        let ticks: Vec<f64> = if k1 - k0 + 1 >= 2 {
            if k0 < -3 || k1 > 4 {
                labels = Labels::Powers;
            }
            let every = ((k1 - k0 + 1) as usize).div_ceil(target).max(1) as i32;
            let labelled: Vec<i32> = (k0..=k1).filter(|k| (k - k0) % every == 0).collect();
            minor = if every == 1 {
                (k0 - 1..=k1)
                    .flat_map(|k| (2..=9).map(move |m| m as f64 * decade(k)))
                    .filter(inside)
                    .collect()
            } else {
                (k0..=k1)
                    .filter(|k| (k - k0) % every != 0)
                    .map(decade)
                    .collect()
            };
            labelled.into_iter().map(decade).collect()
        } else {
            let one_two_five: Vec<f64> = (k0 - 1..=k1)
                .flat_map(|k| [1.0, 2.0, 5.0].map(|m| m * decade(k)))
                .filter(inside)
                .collect();
            if one_two_five.len() >= 2 && one_two_five.len() <= target + 1 {
                one_two_five
            } else {
                let step = nice_step(hi - lo, target);
                multiples(lo, hi, step)
                    .into_iter()
                    .filter(|&v| v > 0.0)
                    .collect()
            }
        };
        Axis {
            lo,
            hi,
            log: true,
            ticks,
            minor,
            labels,
        }
    }

    /// Whether `v` can be shown on this axis (finite, and positive on a log axis).
    pub(crate) fn shows(&self, v: f64) -> bool {
        v.is_finite() && (!self.log || v > 0.0)
    }

    /// The share of the axis's length at which `v` lies (0 at `lo`, 1 at `hi`).
    pub(crate) fn unit(&self, v: f64) -> f64 {
        if self.log {
            (v.ln() - self.lo.ln()) / (self.hi.ln() - self.lo.ln())
        } else {
            (v - self.lo) / (self.hi - self.lo)
        }
    }

    /// The range shown.
    pub(crate) fn bounds(&self) -> (f64, f64) {
        (self.lo, self.hi)
    }

    /// The value halfway along the axis.
    pub(crate) fn middle(&self) -> f64 {
        if self.log {
            (self.lo * self.hi).sqrt()
        } else {
            (self.lo + self.hi) / 2.0
        }
    }

    /// The label of tick `v`.
    pub(crate) fn label(&self, v: f64) -> String {
        match self.labels {
            Labels::Decimals(d) => minus(format!("{v:.d$}")),
            Labels::Powers => format!("10{}", superscript(v.log10().round() as i32)),
            Labels::Short => fmt_num(v),
        }
    }
}

impl Ranged for Axis {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, v: &f64, limit: (i32, i32)) -> i32 {
        let t = self.unit(*v);
        let p = limit.0 as f64 + t * (limit.1 - limit.0) as f64;
        // Values off the chart (or undefined) land far outside it rather than wrapping.
        if p.is_nan() {
            i32::MIN / 2
        } else {
            p.clamp(-1e7, 1e7).round() as i32
        }
    }

    fn key_points<H: KeyPointHint>(&self, hint: H) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            self.minor.clone()
        } else {
            self.ticks.clone()
        }
    }

    fn range(&self) -> Range<f64> {
        self.lo..self.hi
    }
}

/// How many ticks suit an axis `pixels` long.
pub(crate) fn tick_target(pixels: f32, spacing: f32) -> usize {
    ((pixels / spacing).floor() as usize).clamp(2, 10)
}

/// A chart's frame: title, axes and axis titles.
pub(crate) struct Frame<'a> {
    pub(crate) title: &'a str,
    pub(crate) x: Axis,
    pub(crate) y: Axis,
    pub(crate) x_title: &'a str,
    pub(crate) y_title: &'a str,
}

/// The em in pixels of `plotters` text of the given size.
fn em(size: f64) -> f32 {
    text::em_of_height(size as f32)
}

impl Frame<'_> {
    /// Draws the frame on `area` and returns the chart, whose plotting area then holds the
    /// data: the title on top, tick labels and axis titles left of and under the plot, faint
    /// grid lines at the ticks (if `grid`), outward tick marks and a box around the plot.
    /// With `square`, the plot is made as wide as it is high.
    pub(crate) fn draw<'a, 'b>(
        &self,
        area: &'a Area<'b>,
        grid: bool,
        square: bool,
    ) -> Drawn<Chart<'a, 'b>> {
        let (w, h) = area.dim_in_pixel();
        let tick_w = self
            .y
            .ticks
            .iter()
            .map(|&v| text::width(&self.y.label(v), em(TICK_FONT)))
            .fold(0.0, f32::max);
        let gap = 2 * TICK as u32;
        let axis_h = em(AXIS_FONT).ceil() as u32;
        let left =
            gap + tick_w.ceil() as u32 + 6 + if self.y_title.is_empty() { 0 } else { axis_h };
        let bottom = gap
            + em(TICK_FONT).ceil() as u32
            + 6
            + if self.x_title.is_empty() { 0 } else { axis_h };
        let top = if self.title.is_empty() {
            MARGIN
        } else {
            let style = (FAMILY, TITLE_FONT).into_font().color(&BLACK);
            let style = style.pos(plotters::style::text_anchor::Pos::new(
                HPos::Center,
                VPos::Top,
            ));
            area.draw_text(self.title, &style, (w as i32 / 2, 4))?;
            em(TITLE_FONT).ceil() as u32 + 10
        };
        // Room on the right for the last x tick label's overhang.
        let mut right = MARGIN + 6;
        let mut bottom_margin = MARGIN;
        if square {
            let plot_w = w.saturating_sub(MARGIN + left + right);
            let plot_h = h.saturating_sub(top + bottom + bottom_margin);
            if plot_w > plot_h {
                right += plot_w - plot_h;
            } else {
                bottom_margin += plot_h - plot_w;
            }
        }
        let mut chart = ChartBuilder::on(area)
            .margin_left(MARGIN)
            .margin_right(right)
            .margin_top(top)
            .margin_bottom(bottom_margin)
            .x_label_area_size(bottom)
            .y_label_area_size(left)
            .build_cartesian_2d(self.x.clone(), self.y.clone())?;
        let x_label = |v: &f64| self.x.label(*v);
        let y_label = |v: &f64| self.y.label(*v);
        let mut mesh = chart.configure_mesh();
        mesh.x_label_formatter(&x_label)
            .y_label_formatter(&y_label)
            .bold_line_style(Color::stroke_width(&GRID, 1))
            .light_line_style(Color::stroke_width(&MINOR_GRID, 1))
            .axis_style(Color::stroke_width(&BLACK, 1))
            .set_all_tick_mark_size(TICK)
            .label_style((FAMILY, TICK_FONT).into_font().color(&BLACK))
            .axis_desc_style((FAMILY, AXIS_FONT).into_font().color(&BLACK));
        if !self.x_title.is_empty() {
            mesh.x_desc(self.x_title);
        }
        if !self.y_title.is_empty() {
            mesh.y_desc(self.y_title);
        }
        if !grid {
            mesh.disable_mesh();
        }
        mesh.draw()?;
        // The axes are the box's left and bottom sides; close it on top and on the right.
        let (x0, x1) = self.x.bounds();
        let (y0, y1) = self.y.bounds();
        let sides = vec![(x0, y1), (x1, y1), (x1, y0)];
        chart
            .plotting_area()
            .draw(&PathElement::new(sides, Color::stroke_width(&BLACK, 1)))?;
        Ok(chart)
    }
}

/// The pixel box of a chart's plot: left, top, right, bottom edges (the frame's lines run
/// through the centres of the outermost pixels).
pub(crate) fn plot_box(chart: &Chart) -> (f32, f32, f32, f32) {
    let (xs, ys) = chart.plotting_area().get_pixel_range();
    (
        xs.start as f32 + 0.5,
        ys.start as f32 + 0.5,
        xs.end as f32 - 0.5,
        ys.end as f32 - 0.5,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linear_ticks_are_round() {
        let a = Axis::linear(-3.553, 3.436, 6);
        assert_eq!(a.ticks, &[-3.0, -2.0, -1.0, 0.0, 1.0, 2.0, 3.0]);
        let labels: Vec<String> = a.ticks.iter().map(|&v| a.label(v)).collect();
        assert_eq!(labels[0], "−3");
        assert_eq!(labels[3], "0");
        let b = Axis::linear(0.0, 1.0, 5);
        let labels: Vec<String> = b.ticks.iter().map(|&v| b.label(v)).collect();
        assert_eq!(labels, ["0.0", "0.2", "0.4", "0.6", "0.8", "1.0"]);
        let c = Axis::linear(0.0, 5032.0, 5);
        assert_eq!(c.ticks, &[0.0, 1000.0, 2000.0, 3000.0, 4000.0, 5000.0]);
    }

    #[test]
    fn log_ticks_are_decades_or_one_two_five() {
        let a = Axis::log_fit([1e-4, 0.5].into_iter(), 8);
        assert_eq!(a.ticks, &[1e-4, 1e-3, 1e-2, 1e-1]);
        assert!(a.minor.contains(&2e-3) && a.minor.contains(&5e-2));
        let labels: Vec<String> = a.ticks.iter().map(|&v| a.label(v)).collect();
        assert_eq!(labels, ["10⁻⁴", "10⁻³", "10⁻²", "10⁻¹"]);
        let few = Axis::log_fit([0.002, 50.0].into_iter(), 8);
        let labels: Vec<String> = few.ticks.iter().map(|&v| few.label(v)).collect();
        assert_eq!(labels, ["0.01", "0.1", "1", "10"]);
        let narrow = Axis::log_fit([0.15, 0.9].into_iter(), 6);
        assert_eq!(narrow.ticks, &[0.2, 0.5]);
        let wide = Axis::log_fit([1e-12, 1.0].into_iter(), 4);
        assert!(
            wide.ticks.len() <= 5 && wide.ticks.len() >= 3,
            "{:?}",
            wide.ticks
        );
        let none = Axis::log_fit([0.0, -1.0, f64::NAN].into_iter(), 5);
        assert_eq!(none.bounds(), (1.0, 10.0));
    }

    #[test]
    fn numbers_are_short() {
        assert_eq!(fmt_num(0.5), "0.5");
        assert_eq!(fmt_num(-1.0), "−1");
        assert_eq!(fmt_num(123.456), "123.5");
        assert_eq!(fmt_num(0.0001234), "1.23×10⁻⁴");
        assert_eq!(fmt_num(1e6), "10⁶");
        assert_eq!(fmt_num(-0.0), "0");
    }

    #[test]
    fn map_keeps_undefined_values_off_the_chart() {
        let a = Axis::log_fit([1.0, 100.0].into_iter(), 4);
        assert!(a.map(&-1.0, (0, 100)) < -1000);
        assert_eq!(a.map(&a.bounds().0, (0, 100)), 0);
        assert!(a.shows(3.0) && !a.shows(0.0) && !a.shows(f64::INFINITY));
    }
}
