//! Curves against a common x axis: [`render_line_chart`] for any labelled curves (paper Fig.
//! 16), [`render_curves`] for a run's training curves.

use crate::chart::{self, Area, Axis, Drawn, FAMILY, Frame, PALETTE, TICK_FONT, tick_target};
use crate::raster::{to_image, white_pixmap};
use image::RgbImage;
use plotters::prelude::*;

/// One curve of a [`LinePlot`].
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Series {
    /// The curve's name in the legend.
    pub name: String,
    /// The x value of each point; if empty, point `i` is at `x = i`.
    pub x: Vec<f64>,
    /// The y value of each point.
    pub y: Vec<f64>,
}

/// Labelled curves on one set of axes.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LinePlot {
    /// Title over the chart (none if empty).
    pub title: String,
    /// Title of the x axis.
    pub x_label: String,
    /// Title of the y axis.
    pub y_label: String,
    /// A logarithmic x axis (points with `x ≤ 0` are not drawn).
    pub log_x: bool,
    /// A logarithmic y axis (points with `y ≤ 0` are not drawn).
    pub log_y: bool,
    /// The curves, drawn in matplotlib's `tab10` colours in order.
    pub series: Vec<Series>,
}

/// Draws `plot` on a `size` picture: ticks with labels on both axes, both axis titles, a faint
/// grid, and a legend in the upper right if there are several curves. Each axis spans its
/// data, 5% wider each side. A point that cannot be drawn (a non-finite value, or one `≤ 0` on
/// a log axis) breaks its curve; a point with no drawable neighbour is a dot. A log axis
/// without any positive value becomes linear.
pub fn render_line_chart(plot: &LinePlot, size: (u32, u32)) -> RgbImage {
    let mut pixmap = white_pixmap(size.0, size.1);
    // `plotters` reports only layout problems (a picture too small for its labels); what was
    // drawn until then stays.
    let _ = draw_line_chart(&chart::area(&mut pixmap), plot);
    to_image(&pixmap)
}

/// Draws several labelled curves on one set of axes, e.g. per layer the sorted magnitudes of
/// positive and of negative weights (paper Fig. 16): series `k` plots its values against their
/// index `0, 1, …`. The axes are titled "index" and "value"; see [`render_line_chart`] for the
/// rest, and for axis titles and log scales of one's own.
pub fn render_line_plot(series: &[(String, Vec<f64>)], title: &str, size: (u32, u32)) -> RgbImage {
    let plot = LinePlot {
        title: title.into(),
        x_label: "index".into(),
        y_label: "value".into(),
        series: series
            .iter()
            .map(|(name, y)| Series {
                name: name.clone(),
                x: Vec::new(),
                y: y.clone(),
            })
            .collect(),
        ..LinePlot::default()
    };
    render_line_chart(&plot, size)
}

/// The points of `series`, `(x, y)`, including undrawable ones.
fn points(series: &Series) -> impl Iterator<Item = (f64, f64)> + '_ {
    series.y.iter().enumerate().map(|(i, &y)| {
        let x = if series.x.is_empty() {
            i as f64
        } else {
            series.x.get(i).copied().unwrap_or(f64::NAN)
        };
        (x, y)
    })
}

/// An axis over `values`: logarithmic if asked for and some value is positive.
fn fit(values: Vec<f64>, log: bool, target: usize) -> Axis {
    if log && values.iter().any(|&v| v > 0.0 && v.is_finite()) {
        Axis::log_fit(values.into_iter(), target)
    } else {
        Axis::linear_fit(values.into_iter(), target)
    }
}

/// Draws `plot` on `area` (see [`render_line_chart`]).
pub(crate) fn draw_line_chart(area: &Area, plot: &LinePlot) -> Drawn {
    let (w, h) = area.dim_in_pixel();
    let all = || plot.series.iter().flat_map(points);
    let x = fit(
        all().map(|p| p.0).collect(),
        plot.log_x,
        tick_target(w as f32, 90.0),
    );
    let y = fit(
        all().map(|p| p.1).collect(),
        plot.log_y,
        tick_target(h as f32, 50.0),
    );
    let frame = Frame {
        title: &plot.title,
        x: x.clone(),
        y: y.clone(),
        x_title: &plot.x_label,
        y_title: &plot.y_label,
    };
    let mut chart = frame.draw(area, true, false)?;
    let legend = plot.series.len() > 1;
    let mut drawn = false;
    for (k, series) in plot.series.iter().enumerate() {
        let colour = PALETTE[k % PALETTE.len()];
        let style = colour.stroke_width(2);
        // Runs of drawable points.
        let mut runs: Vec<Vec<(f64, f64)>> = vec![Vec::new()];
        for (px, py) in points(series) {
            if x.shows(px) && y.shows(py) {
                runs.last_mut().expect("one run at least").push((px, py));
            } else if !runs.last().is_some_and(Vec::is_empty) {
                runs.push(Vec::new());
            }
        }
        drawn |= runs.iter().any(|r| !r.is_empty());
        let lines = runs.iter().filter(|r| r.len() > 1);
        let anno = chart.draw_series(lines.map(|r| PathElement::new(r.clone(), style)))?;
        if legend {
            anno.label(series.name.as_str())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], style));
        }
        let dots = runs.iter().filter(|r| r.len() == 1);
        chart.draw_series(dots.map(|r| Circle::new(r[0], 2, colour.filled())))?;
    }
    if !drawn {
        let style = (FAMILY, TICK_FONT)
            .into_font()
            .color(&RGBColor(120, 120, 120))
            .pos(plotters::style::text_anchor::Pos::new(
                plotters::style::text_anchor::HPos::Center,
                plotters::style::text_anchor::VPos::Center,
            ));
        let middle = (x.middle(), y.middle());
        chart
            .plotting_area()
            .draw(&Text::new("no data", middle, style))?;
    }
    if legend {
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .margin(6)
            .legend_area_size(24)
            .border_style(RGBColor(190, 190, 190))
            .background_style(WHITE.mix(0.9))
            .label_font((FAMILY, TICK_FONT))
            .draw()?;
    }
    Ok(())
}

/// A run's training curves, one value per logged step.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Curves {
    /// The step of each record (if empty, record `i` is at step `i`).
    pub steps: Vec<f64>,
    /// Training loss.
    pub train_loss: Vec<f64>,
    /// Test loss.
    pub test_loss: Vec<f64>,
    /// Connection cost (paper eq. 3).
    pub connection_cost: Vec<f64>,
    /// The connection cost's weight λ.
    pub lambda: Vec<f64>,
}

/// Draws a run's training curves on a `size` picture, three panels side by side against the
/// step: training and test loss, the connection cost, and λ, each on a log y axis. Values that
/// are not finite or not positive (λ before the regularisation starts, a loss of exactly 0)
/// are not drawn; a panel with no positive value at all gets a linear axis.
pub fn render_curves(curves: &Curves, size: (u32, u32)) -> RgbImage {
    let mut pixmap = white_pixmap(size.0, size.1);
    let series = |name: &str, y: &[f64]| Series {
        name: name.into(),
        x: if curves.steps.is_empty() {
            Vec::new()
        } else {
            curves.steps.clone()
        },
        y: y.to_vec(),
    };
    let panel = |title: &str, y_label: &str, series: Vec<Series>| LinePlot {
        title: title.into(),
        x_label: "step".into(),
        y_label: y_label.into(),
        log_x: false,
        log_y: true,
        series,
    };
    let plots = [
        panel(
            "Loss",
            "loss",
            vec![
                series("train", &curves.train_loss),
                series("test", &curves.test_loss),
            ],
        ),
        panel(
            "Connection cost",
            "connection cost",
            vec![series("connection cost", &curves.connection_cost)],
        ),
        panel(
            "Regularisation strength",
            "λ",
            vec![series("λ", &curves.lambda)],
        ),
    ];
    {
        let area = chart::area(&mut pixmap);
        for (cell, plot) in area.split_evenly((1, plots.len())).iter().zip(&plots) {
            // As in `render_line_chart`: a panel too small for its labels stays partly drawn.
            let _ = draw_line_chart(cell, plot);
        }
    }
    to_image(&pixmap)
}
