//! The things a picture is made of: [`Shape`]s in [`Rgba`] colours, each standing for a
//! [`Part`] of the picture.

/// A colour with straight alpha: red, green, blue, opacity.
pub type Rgba = [u8; 4];

/// One thing drawn. Coordinates are pixels from the top left corner, `y` pointing down.
#[derive(Clone, Debug, PartialEq)]
pub enum Shape {
    /// A straight segment with flat ends; widths under a pixel come out as fainter hairlines.
    Line {
        /// Start point.
        from: (f32, f32),
        /// End point.
        to: (f32, f32),
        /// Width in pixels.
        width: f32,
        /// Colour.
        colour: Rgba,
    },
    /// A filled disc.
    Circle {
        /// Centre.
        centre: (f32, f32),
        /// Radius in pixels.
        radius: f32,
        /// Colour.
        colour: Rgba,
    },
    /// A closed polygon, filled and/or outlined.
    Polygon {
        /// Corners in order.
        points: Vec<(f32, f32)>,
        /// Fill colour, if filled.
        fill: Option<Rgba>,
        /// Outline width and colour, if outlined.
        stroke: Option<(f32, Rgba)>,
    },
    /// One line of text.
    Text {
        /// The text.
        text: String,
        /// Where its anchor point goes.
        at: (f32, f32),
        /// Font size (em) in pixels; the text's box is this high.
        size: f32,
        /// Colour.
        colour: Rgba,
        /// Which point of the text's box sits at `at`: `(0, 0)` its top left, `(0.5, 0.5)`
        /// its centre, `(1, 1)` its bottom right, in the text's own frame.
        anchor: (f32, f32),
        /// Whether the text reads bottom to top (a quarter turn anticlockwise).
        upward: bool,
    },
}

/// What a shape stands for; SVG output groups shapes by it (`<g class="…">`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Part {
    /// The outline of a 2D layer.
    Plane,
    /// The outline of one attention head within a layer (of each Q, K, V copy of it).
    Head,
    /// An identity connection (neuron `i` to neuron `i`).
    Identity,
    /// A weight.
    Weight,
    /// A neuron.
    Neuron,
    /// A pale patch behind a label.
    Backdrop,
    /// A layer name, copy name (Q, K, V) or feature name.
    Label,
    /// The title.
    Title,
}

impl Part {
    /// The SVG group's class of shapes that stand for this.
    pub(crate) fn class(self) -> &'static str {
        match self {
            Part::Plane => "planes",
            Part::Head => "heads",
            Part::Identity => "identities",
            Part::Weight => "weights",
            Part::Neuron => "neurons",
            Part::Backdrop => "backdrops",
            Part::Label => "labels",
            Part::Title => "title",
        }
    }
}

impl Shape {
    /// Whether the shape can be drawn: finite coordinates not absurdly far off the canvas, a
    /// positive line width, radius or font size, a polygon's two corners, a text's characters.
    /// Both outputs leave out the shapes that cannot.
    pub(crate) fn drawable(&self) -> bool {
        match self {
            Shape::Line {
                from, to, width, ..
            } => sane_point(*from) && sane_point(*to) && *width > 0.0 && sane(*width),
            Shape::Circle { centre, radius, .. } => {
                sane_point(*centre) && *radius > 0.0 && sane(*radius)
            }
            Shape::Polygon { points, .. } => {
                points.len() >= 2 && points.iter().all(|&p| sane_point(p))
            }
            Shape::Text { text, at, size, .. } => {
                sane_point(*at) && *size > 0.0 && sane(*size) && !text.is_empty()
            }
        }
    }
}

/// Whether a coordinate is finite and not absurdly far off the canvas.
pub(crate) fn sane(v: f32) -> bool {
    v.is_finite() && v.abs() < 1e6
}

/// Whether both coordinates of a point are [`sane`].
pub(crate) fn sane_point(p: (f32, f32)) -> bool {
    sane(p.0) && sane(p.1)
}
