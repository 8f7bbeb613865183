//! What the page is given: the graph's background and neuron places, its weight lines at
//! each timeline frame, the model, the metrics, the log and the test sample.

use crate::ViewError;
use bimt_format::{ConnectionKind, ModelFile};
use bimt_views::{
    GraphStyle, LayerPositions, Part, Scene, Shape, graph_scene, neuron_positions, weight_lines,
};
use serde_json::{Value, json};
use std::path::Path;

/// The lines a frame keeps at most: the strongest relative to their matrix's largest (what a
/// browser draws without stutter; a dense MNIST layer alone has 78,400 weights).
pub const MAX_LINES: usize = 8_000;
/// Lines under this fraction of their matrix's largest are never kept.
const MIN_RELATIVE: f32 = 0.01;
/// Frames the page holds at most, spread evenly over the log (the last always among them).
const MAX_FRAMES: usize = 60;

/// Everything the page shows, as one JSON document.
pub struct Payload {
    /// The page's title.
    pub title: String,
    value: Value,
}

impl Payload {
    /// The payload as JSON text.
    pub fn to_json(&self) -> String {
        self.value.to_string()
    }
}

/// A timeline frame of `model`, as training writes it next to each frame of
/// `evolution.gif`: each layer's neuron coordinates, and the drawn lines (at most
/// [`MAX_LINES`], see [`bimt_views::weight_lines`]) as a flat list of
/// `connection, o, i, q`, where `q` is the line's size over its matrix's largest in
/// thousandths, negative for a negative weight; `candidates` counts the lines of at least 1 %
/// before the cap.
pub fn frame(model: &ModelFile) -> Value {
    let coords: Vec<&Vec<Vec<f64>>> = model.neuron_layers.iter().map(|l| &l.coords).collect();
    let mut lines: Vec<(f32, [i64; 4])> = Vec::new();
    for (c, conn) in model.connections.iter().enumerate() {
        if conn.kind != ConnectionKind::Linear {
            continue;
        }
        let pairs = weight_lines(model, conn);
        let max = pairs.iter().map(|p| p.3).fold(0.0f32, f32::max);
        if max <= 0.0 {
            continue;
        }
        for (o, i, sign, size) in pairs {
            let relative = size / max;
            if relative < MIN_RELATIVE {
                continue;
            }
            let q = (1000.0 * relative).round() as i64;
            let q = if sign < 0.0 { -q } else { q };
            lines.push((relative, [c as i64, o as i64, i as i64, q]));
        }
    }
    let candidates = lines.len();
    if lines.len() > MAX_LINES {
        lines.sort_by(|a, b| b.0.total_cmp(&a.0));
        lines.truncate(MAX_LINES);
    }
    let flat: Vec<i64> = lines.into_iter().flat_map(|(_, line)| line).collect();
    json!({ "coords": coords, "lines": flat, "candidates": candidates })
}

/// The style of the graph: `graph.svg`'s sizes (a larger canvas with thinner lines for
/// networks with a layer of 100 neurons or more, as MNIST's are drawn).
fn style(model: &ModelFile) -> GraphStyle {
    let large = model.neuron_layers.iter().any(|l| l.size >= 100);
    GraphStyle {
        width: if large { 1000 } else { 800 },
        height: if large { 820 } else { 600 },
        max_line_width: if large { 1.5 } else { 3.0 },
        ..GraphStyle::default()
    }
}

/// The planes and labels of the graph's `scene`, as SVG elements (the page draws the weights,
/// neurons, identity lines and head boxes itself: they move with the timeline).
fn background(scene: &Scene) -> String {
    let mut planes = Scene::new(scene.width, scene.height);
    planes.shapes = scene
        .shapes
        .iter()
        .filter(|(part, _)| {
            !matches!(
                part,
                Part::Weight | Part::Neuron | Part::Identity | Part::Head
            )
        })
        .cloned()
        .collect();
    let svg = planes.to_svg();
    // The elements inside the document's <svg> element.
    let start = svg.find("<rect").unwrap_or(0);
    let end = svg.rfind("</svg>").unwrap_or(svg.len());
    svg[start..end].to_string()
}

/// Where each neuron sits: `[layer][copy][neuron]` as `[x, y]` or null.
fn positions_json(positions: &[LayerPositions]) -> Value {
    json!(
        positions
            .iter()
            .map(|copies| copies
                .iter()
                .map(|points| points
                    .iter()
                    .map(|p| p.map(|(x, y)| [round2(x), round2(y)]))
                    .collect::<Vec<_>>())
                .collect::<Vec<_>>())
            .collect::<Vec<_>>()
    )
}

/// Each layer's dot radius and colour as the graph's `scene` draws them (dots shrink where
/// neurons are packed tightly; a plane's are grey), its neurons at `positions`.
fn dots(scene: &Scene, positions: &[LayerPositions], style: &GraphStyle) -> Value {
    let mut circles = scene
        .shapes
        .iter()
        .filter_map(|(part, shape)| match (part, shape) {
            (Part::Neuron, Shape::Circle { radius, colour, .. }) => Some((*radius, *colour)),
            _ => None,
        });
    json!(
        positions
            .iter()
            .map(|copies| {
                let drawn: usize = copies.iter().map(|p| p.iter().flatten().count()).sum();
                let mut first = None;
                for _ in 0..drawn {
                    let c = circles.next();
                    first = first.or(c);
                }
                let (radius, [r, g, b, _]) = first.unwrap_or((style.neuron_radius, [0, 0, 0, 255]));
                json!({ "radius": round2(radius), "colour": format!("rgb({r},{g},{b})") })
            })
            .collect::<Vec<_>>()
    )
}

fn round2(v: f32) -> f64 {
    (v as f64 * 100.0).round() / 100.0
}

/// `model` with each layer's coordinates from a frame (where the sizes agree).
fn with_coords(model: &ModelFile, frame: &Value) -> ModelFile {
    let mut moved = model.clone();
    if let Some(layers) = frame["coords"].as_array() {
        for (layer, coords) in moved.neuron_layers.iter_mut().zip(layers) {
            if let Ok(coords) = serde_json::from_value::<Vec<Vec<f64>>>(coords.clone())
                && coords.len() == layer.coords.len()
            {
                layer.coords = coords;
            }
        }
    }
    moved
}

fn read_json(path: &Path) -> Result<Option<Value>, ViewError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(ViewError::Read {
                path: path.to_path_buf(),
                reason: e.to_string(),
            });
        }
    };
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| ViewError::Read {
            path: path.to_path_buf(),
            reason: format!("not valid JSON: {e}"),
        })
}

/// The log's entries (`log.jsonl`, one JSON object a line); lines that do not parse (a run
/// killed while writing one) are left out.
fn read_log(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .map(|entry| {
            let keep = [
                "step",
                "train_loss",
                "test_loss",
                "test_accuracy",
                "connection_cost",
                "lambda",
                "swaps",
            ];
            json!(
                keep.iter()
                    .filter_map(|k| entry.get(*k).map(|v| (k.to_string(), v.clone())))
                    .collect::<serde_json::Map<_, _>>()
            )
        })
        .collect()
}

/// The timeline frames in `frames/` (`step-NNNNNNNN.json`), by step, at most [`MAX_FRAMES`]
/// spread evenly and the last kept.
fn read_frames(dir: &Path) -> Result<Vec<(usize, Value)>, ViewError> {
    let mut steps: Vec<(usize, std::path::PathBuf)> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let name = entry.file_name().into_string().ok()?;
            let step = name
                .strip_prefix("step-")?
                .strip_suffix(".json")?
                .parse()
                .ok()?;
            Some((step, entry.path()))
        })
        .collect();
    steps.sort();
    let n = steps.len();
    let chosen: Vec<usize> = if n <= MAX_FRAMES {
        (0..n).collect()
    } else {
        let mut picks: Vec<usize> = (0..MAX_FRAMES)
            .map(|k| k * (n - 1) / (MAX_FRAMES - 1))
            .collect();
        picks.dedup();
        picks
    };
    // Frames are written atomically: one that does not read is damaged, and named.
    chosen
        .into_iter()
        .map(|k| {
            let (step, path) = &steps[k];
            let frame = read_json(path)?.ok_or_else(|| ViewError::Read {
                path: path.clone(),
                reason: "disappeared while the viewer was written".into(),
            })?;
            Ok((*step, frame))
        })
        .collect()
}

/// The payload of the run in `run_dir`: `model.json` is required; the metrics, settings,
/// log, frames and sample are shown where present.
pub fn payload(run_dir: &Path) -> Result<Payload, ViewError> {
    let model = ModelFile::read(&run_dir.join("model.json"))?;
    let metrics = read_json(&run_dir.join("metrics.json"))?;
    let settings = read_json(&run_dir.join("run.json"))?;
    let sample = read_json(&run_dir.join("sample.json"))?;
    let log = read_log(&run_dir.join("log.jsonl"));
    let style = style(&model);
    let mut frames: Vec<Value> = read_frames(&run_dir.join("frames"))?
        .into_iter()
        .map(|(step, frame)| {
            json!({
                "step": step,
                "positions": positions_json(&neuron_positions(&with_coords(&model, &frame), &style)),
                "lines": frame["lines"],
                "candidates": frame["candidates"],
            })
        })
        .collect();
    // The trained model is the last frame (the end of the fine-tune, after the log's last
    // interval), with its exact lines.
    let last_step = metrics
        .as_ref()
        .and_then(|m| {
            let steps = m["steps"].as_u64()? + m["finetune_steps"].as_u64().unwrap_or(0);
            Some(steps as usize)
        })
        .or_else(|| {
            frames
                .last()
                .and_then(|f| f["step"].as_u64())
                .map(|s| s as usize)
        })
        .unwrap_or(0);
    if frames.last().and_then(|f| f["step"].as_u64()) == Some(last_step as u64) {
        frames.pop();
    }
    let last = frame(&model);
    let scene = graph_scene(&model, &style);
    let placed = neuron_positions(&model, &style);
    frames.push(json!({
        "step": last_step,
        "positions": positions_json(&placed),
        "lines": last["lines"],
        "candidates": last["candidates"],
    }));
    let title = {
        let preset = metrics
            .as_ref()
            .and_then(|m| m["preset"].as_str())
            .unwrap_or("run");
        let variant = metrics
            .as_ref()
            .and_then(|m| m["variant"].as_str())
            .map(|v| format!(" ({v})"))
            .unwrap_or_default();
        let seed = metrics
            .as_ref()
            .and_then(|m| m["seed"].as_u64())
            .map(|s| format!(", seed {s}"))
            .unwrap_or_default();
        format!("{preset}{variant}{seed}")
    };
    let model_value = serde_json::to_value(&model).expect("a model file serialises");
    let threshold = metrics
        .as_ref()
        .and_then(|m| m["structure"]["active_threshold"].as_f64())
        .unwrap_or(bimt_analysis::ACTIVE_THRESHOLD);
    let modules: Vec<_> = bimt_analysis::modules(&model, threshold)
        .into_iter()
        .map(|m| m.neurons)
        .collect();
    let value = json!({
        "title": title,
        "width": style.width,
        "height": style.height,
        "max_line_width": style.max_line_width,
        "background": background(&scene),
        "modules": modules,
        "dots": dots(&scene, &placed, &style),
        "frames": frames,
        "model": model_value,
        "metrics": metrics,
        "settings": settings,
        "log": log,
        "sample": sample,
    });
    Ok(Payload { title, value })
}
