//! How a connectivity graph looks: the caller's [`GraphStyle`], and what every part of the
//! picture shares (black, the margin, the title's size).

use crate::shape::Rgba;

/// Labels, and the dots of one-number layers.
pub(super) const BLACK: Rgba = [0, 0, 0, 255];
/// Blank space around the picture, in pixels.
pub(super) const MARGIN: f32 = 8.0;

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

/// The title's font size: a third larger than the labels'.
pub(super) fn title_size(style: &GraphStyle) -> f32 {
    (style.font_size * 4.0 / 3.0).max(1.0)
}
