//! Pictures of bimt models and runs.
//!
//! * [`render_graph`] and [`render_graph_svg`]: the connectivity graph of a
//!   [`ModelFile`](bimt_format::ModelFile) as in the BIMT paper (line width ∝ `|w|`
//!   normalised per weight matrix, blue positive, red negative, feature names under the inputs
//!   and over the outputs, 2D layers in an oblique 3D view), as pixels or as SVG; both are
//!   drawn from one list of shapes, [`graph_scene`].
//! * [`render_curves`]: a run's training curves (losses, connection cost, λ on log axes).
//! * [`render_decision_boundary`], [`render_scatter`], [`render_token_planes`],
//!   [`render_image_grid`], [`render_line_chart`] and [`render_line_plot`]: the paper's task
//!   plots; [`render_panels`] tiles titled pictures.
//! * [`write_png`], [`write_svg`] and [`write_gif`] (an animated, endlessly looping training
//!   evolution), all written atomically.
//!
//! Shapes are anti-aliased (`tiny-skia`, and `ab_glyph`'s coverage rasteriser for a graph's
//! many weight lines); charts are laid out by `plotters`, with round ticks and tick labels on
//! every axis. Text is set in DejaVu Sans, bundled in the crate (`fonts/`, with its licence),
//! so nothing is read from the system or the network.

#![warn(missing_docs)]

mod chart;
mod graph;
mod lines;
mod plots;
mod raster;
mod scene;
mod shape;
mod text;

pub use graph::{
    GraphStyle, LayerPositions, graph_scene, neuron_positions, render_graph, render_graph_svg,
    weight_lines,
};
pub use lines::{Curves, LinePlot, Series, render_curves, render_line_chart, render_line_plot};
pub use plots::{
    render_decision_boundary, render_filters, render_image_grid, render_panels, render_scatter,
    render_token_planes,
};
pub use scene::Scene;
pub use shape::{Part, Rgba, Shape};

use bimt_format::{FormatError, write_atomic};
use image::codecs::gif::{GifEncoder, Repeat};
use image::{Delay, Frame, ImageFormat, RgbImage, RgbaImage};
use std::io::Cursor;
use std::path::Path;

/// An encoding failure, reported as a failure to write `path`.
fn encode_error(path: &Path, e: image::ImageError) -> FormatError {
    FormatError::Write {
        path: path.to_path_buf(),
        source: std::io::Error::other(e),
    }
}

/// Writes `img` as a PNG file, atomically (see [`bimt_format::write_atomic`]).
pub fn write_png(path: &Path, img: &RgbImage) -> Result<(), FormatError> {
    let mut bytes = Vec::new();
    img.write_to(&mut Cursor::new(&mut bytes), ImageFormat::Png)
        .map_err(|e| encode_error(path, e))?;
    write_atomic(path, &bytes)
}

/// Writes an SVG document (e.g. from [`render_graph_svg`]), atomically.
pub fn write_svg(path: &Path, svg: &str) -> Result<(), FormatError> {
    write_atomic(path, svg.as_bytes())
}

/// Quantiser speed handed to the GIF encoder (1 = best and slowest, 30 = fastest). Pictures
/// with at most 256 colours are stored exactly whatever the speed.
const GIF_SPEED: i32 = 10;

/// Writes `frames` as an animated GIF that loops forever, each frame shown for
/// `frame_delay_ms` milliseconds, atomically. Every frame takes the first frame's size (a
/// larger one is cropped, a smaller one padded with white). Colours are quantised to the
/// GIF's 256 per frame. An empty `frames` is an error.
pub fn write_gif(path: &Path, frames: &[RgbImage], frame_delay_ms: u32) -> Result<(), FormatError> {
    let mut gif = GifWriter::new(frame_delay_ms);
    for frame in frames {
        gif.push(frame);
    }
    gif.finish(path)
}

/// An animated GIF built one frame at a time (so frames can be encoded while a run trains),
/// written atomically by [`finish`](Self::finish).
pub struct GifWriter {
    bytes: SharedBytes,
    encoder: Option<GifEncoder<SharedBytes>>,
    size: Option<(u32, u32)>,
    delay: Delay,
    error: Option<String>,
}

/// A byte buffer the encoder writes into while the writer keeps a handle to read it back.
#[derive(Clone, Default)]
struct SharedBytes(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for SharedBytes {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .map_err(|_| std::io::Error::other("poisoned buffer"))?
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl GifWriter {
    /// An empty animation whose frames show for `frame_delay_ms` each.
    pub fn new(frame_delay_ms: u32) -> Self {
        let bytes = SharedBytes::default();
        let mut encoder = GifEncoder::new_with_speed(bytes.clone(), GIF_SPEED);
        let error = encoder
            .set_repeat(Repeat::Infinite)
            .err()
            .map(|e| e.to_string());
        Self {
            bytes,
            encoder: Some(encoder),
            size: None,
            delay: Delay::from_numer_denom_ms(frame_delay_ms, 1),
            error,
        }
    }

    /// Encodes one frame (sized like the first frame: cropped or padded with white).
    pub fn push(&mut self, img: &RgbImage) {
        let (w, h) = *self.size.get_or_insert(img.dimensions());
        let rgba = RgbaImage::from_fn(w, h, |x, y| match img.get_pixel_checked(x, y) {
            Some(p) => image::Rgba([p[0], p[1], p[2], 255]),
            None => image::Rgba([255, 255, 255, 255]),
        });
        if let Some(encoder) = &mut self.encoder
            && let Err(e) = encoder.encode_frame(Frame::from_parts(rgba, 0, 0, self.delay))
        {
            self.error.get_or_insert(e.to_string());
        }
    }

    /// Writes the animation to `path` atomically.
    pub fn finish(mut self, path: &Path) -> Result<(), FormatError> {
        let invalid = |message: String| FormatError::Invalid {
            path: path.to_path_buf(),
            message,
        };
        if let Some(e) = self.error {
            return Err(invalid(format!("cannot encode the GIF: {e}")));
        }
        if self.size.is_none() {
            return Err(invalid("a GIF needs at least one frame".into()));
        }
        drop(self.encoder.take()); // writes the GIF trailer
        let bytes = self.bytes.0.lock().map(|b| b.clone()).unwrap_or_default();
        write_atomic(path, &bytes)
    }
}
