//! Pictures of bimt models and runs.
//!
//! * [`render_graph`]: the connectivity graph of a [`ModelFile`](bimt_format::ModelFile) as in
//!   the BIMT paper (line width ∝ `|w|` normalised per weight matrix, blue positive, red
//!   negative, feature names under the inputs and over the outputs, 2D layers in an oblique
//!   3D view).
//! * [`render_decision_boundary`], [`render_scatter`], [`render_image_grid`] and
//!   [`render_line_plot`]: the paper's task plots.
//! * [`write_png`] and [`write_gif`] (an animated, endlessly looping training evolution), both
//!   written atomically.
//!
//! Text uses a built-in 8×8 bitmap font, so nothing is read from the system or the network.

mod canvas;
mod graph;
mod plots;

pub use graph::{GraphStyle, render_graph};
pub use plots::{render_decision_boundary, render_image_grid, render_line_plot, render_scatter};

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

/// Quantiser speed handed to the GIF encoder (1 = best and slowest, 30 = fastest). Pictures
/// with at most 256 colours are stored exactly whatever the speed.
const GIF_SPEED: i32 = 10;

/// Writes `frames` as an animated GIF that loops forever, each frame shown for
/// `frame_delay_ms` milliseconds, atomically. Every frame takes the first frame's size (a
/// larger one is cropped, a smaller one padded with white). Colours are quantised to the
/// GIF's 256 per frame. An empty `frames` is an error.
pub fn write_gif(path: &Path, frames: &[RgbImage], frame_delay_ms: u32) -> Result<(), FormatError> {
    let Some(first) = frames.first() else {
        return Err(FormatError::Invalid {
            path: path.to_path_buf(),
            message: "a GIF needs at least one frame".into(),
        });
    };
    let (w, h) = first.dimensions();
    let mut bytes = Vec::new();
    {
        let mut encoder = GifEncoder::new_with_speed(&mut bytes, GIF_SPEED);
        encoder
            .set_repeat(Repeat::Infinite)
            .map_err(|e| encode_error(path, e))?;
        let delay = Delay::from_numer_denom_ms(frame_delay_ms, 1);
        for img in frames {
            let rgba = RgbaImage::from_fn(w, h, |x, y| match img.get_pixel_checked(x, y) {
                Some(p) => image::Rgba([p[0], p[1], p[2], 255]),
                None => image::Rgba([255, 255, 255, 255]),
            });
            encoder
                .encode_frame(Frame::from_parts(rgba, 0, 0, delay))
                .map_err(|e| encode_error(path, e))?;
        }
    }
    write_atomic(path, &bytes)
}
