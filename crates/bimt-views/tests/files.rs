//! The file writers: what is written decodes back to the same pictures.

use bimt_views::{write_gif, write_png, write_svg};
use image::{AnimationDecoder, RgbImage, codecs::gif::GifDecoder};
use std::path::PathBuf;

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("bimt-views-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn gradient(w: u32, h: u32, shift: u32) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([
            (x * 7 + shift) as u8,
            (y * 5) as u8,
            ((x + y + shift) * 3) as u8,
        ])
    })
}

#[test]
fn png_round_trip() {
    let dir = temp_dir("png");
    let path = dir.join("nested/graph.png");
    let img = gradient(37, 21, 0);
    write_png(&path, &img).unwrap();
    let back = image::open(&path).unwrap().to_rgb8();
    assert_eq!(back, img, "PNG is lossless");
    let leftovers: Vec<_> = std::fs::read_dir(path.parent().unwrap()).unwrap().collect();
    assert_eq!(leftovers.len(), 1, "no temporary file is left behind");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn svg_is_written_as_given() {
    let dir = temp_dir("svg");
    let path = dir.join("nested/graph.svg");
    let svg = "<svg xmlns=\"http://www.w3.org/2000/svg\"><text>λ</text></svg>\n";
    write_svg(&path, svg).unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), svg);
    let leftovers: Vec<_> = std::fs::read_dir(path.parent().unwrap()).unwrap().collect();
    assert_eq!(leftovers.len(), 1, "no temporary file is left behind");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn gif_round_trip_loops_and_keeps_every_frame() {
    let dir = temp_dir("gif");
    let path = dir.join("evolution.gif");
    // The last frame has another size: it is fitted to the first frame's.
    let frames = vec![
        gradient(40, 30, 0),
        gradient(40, 30, 50),
        gradient(40, 30, 100),
        gradient(50, 10, 0),
    ];
    write_gif(&path, &frames, 250).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    assert!(
        bytes.windows(11).any(|w| w == b"NETSCAPE2.0"),
        "loops forever"
    );
    let decoded = GifDecoder::new(std::io::Cursor::new(bytes))
        .unwrap()
        .into_frames()
        .collect_frames()
        .unwrap();
    assert_eq!(decoded.len(), 4);
    for frame in &decoded {
        assert_eq!(frame.buffer().dimensions(), (40, 30));
        let (num, den) = frame.delay().numer_denom_ms();
        assert_eq!(num / den, 250);
    }
    // Quantised, but close: compare a pixel of the first frame.
    let p = decoded[0].buffer().get_pixel(20, 10).0;
    let q = frames[0].get_pixel(20, 10).0;
    assert!(
        (0..3).all(|k| (p[k] as i32 - q[k] as i32).abs() < 24),
        "{p:?} vs {q:?}"
    );
    assert_eq!(
        decoded[3].buffer().get_pixel(39, 29).0,
        [255, 255, 255, 255],
        "padding is white"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn gif_without_frames_is_an_error() {
    let dir = temp_dir("nogif");
    let path = dir.join("none.gif");
    assert!(write_gif(&path, &[], 100).is_err());
    assert!(!path.exists());
    std::fs::remove_dir_all(dir).unwrap();
}
