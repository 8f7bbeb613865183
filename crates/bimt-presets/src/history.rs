//! A run's history on disk while it trains: `log.jsonl` appended a line at a time, and the
//! frames of `evolution.gif` as PNG files in `frames/`, each with its timeline frame for the
//! viewer (`step-N.json`, see [`bimt_viewer::frame`]). A killed run keeps both up to its last
//! log interval; a resumed run continues them, so that its log and its animation equal those
//! of a run that never stopped.

use crate::error::Error;
use bimt_engine::LogEntry;
use bimt_format::{ModelFile, write_json};
use bimt_views::{GifWriter, GraphStyle, render_graph, write_png};
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread;

/// `log.jsonl`, appended and flushed at every log interval.
pub struct LogFile {
    path: PathBuf,
    file: File,
}

impl LogFile {
    /// Starts `path` afresh with `history`, the lines logged before a resume.
    pub fn start(path: &Path, history: &[LogEntry]) -> Result<Self, Error> {
        let mut log = Self {
            path: path.to_path_buf(),
            file: File::create(path)
                .map_err(|e| Error::Output(format!("cannot write {}: {e}", path.display())))?,
        };
        for entry in history {
            log.append(entry)?;
        }
        Ok(log)
    }

    /// Appends one line and hands it to the operating system at once.
    pub fn append(&mut self, entry: &LogEntry) -> Result<(), Error> {
        let line = serde_json::to_string(entry).expect("plain data") + "\n";
        self.file
            .write_all(line.as_bytes())
            .and_then(|()| self.file.flush())
            .map_err(|e| Error::Output(format!("cannot write {}: {e}", self.path.display())))
    }
}

enum Message {
    Frame(usize, Box<ModelFile>),
    /// Answered once every earlier frame is on disk.
    Sync(mpsc::Sender<()>),
}

/// Renders frames on the second core while the first one trains, writes each to
/// `frames/step-NNNNNNNN.png`, and encodes them into the animation.
pub struct FrameSink {
    sender: Option<mpsc::Sender<Message>>,
    worker: Option<thread::JoinHandle<(GifWriter, Option<String>)>>,
}

/// Milliseconds each frame of `evolution.gif` shows.
const FRAME_DELAY_MS: u32 = 120;

impl FrameSink {
    /// Starts the frames of a run in `dir`. A fresh run (`resume` is `None`) removes frames
    /// left there by an earlier run. A resume from the checkpoint of step `s` whose frames lie
    /// in `from` keeps those up to `s` (copied into `dir` when `from` is elsewhere) and drops
    /// later ones, which the resumed run draws again.
    pub fn start(
        dir: &Path,
        style: GraphStyle,
        resume: Option<(&Path, usize)>,
    ) -> Result<Self, Error> {
        let io = |e: std::io::Error| Error::Output(format!("frames {}: {e}", dir.display()));
        std::fs::create_dir_all(dir).map_err(io)?;
        let keep_until = resume.map(|(_, step)| step);
        let same = |a: &Path, b: &Path| matches!((a.canonicalize(), b.canonicalize()), (Ok(a), Ok(b)) if a == b);
        if let Some((from, step)) = resume
            && from.is_dir()
            && !same(from, dir)
        {
            for (s, path) in frame_files(from) {
                if s <= step {
                    let name = path.file_name().expect("a listed file");
                    std::fs::copy(&path, dir.join(name)).map_err(io)?;
                }
            }
        }
        let mut kept = Vec::new();
        for (s, path) in frame_files(dir) {
            if keep_until.is_some_and(|until| s <= until) {
                if path.extension().is_some_and(|e| e == "png") {
                    kept.push(path);
                }
            } else {
                std::fs::remove_file(&path).map_err(io)?;
            }
        }
        let (sender, receiver) = mpsc::channel::<Message>();
        let dir = dir.to_path_buf();
        let worker = thread::spawn(move || {
            let mut gif = GifWriter::new(FRAME_DELAY_MS);
            let mut error = None;
            for path in kept {
                match image::open(&path) {
                    Ok(frame) => gif.push(&frame.to_rgb8()),
                    Err(e) => {
                        error.get_or_insert(format!("cannot read frame {}: {e}", path.display()));
                    }
                }
            }
            for message in receiver.iter() {
                match message {
                    Message::Frame(step, model) => {
                        let frame = render_graph(&model, &style);
                        if let Err(e) = write_png(&dir.join(frame_name(step, "png")), &frame)
                            .and_then(|()| {
                                write_json(
                                    &dir.join(frame_name(step, "json")),
                                    &bimt_viewer::frame(&model),
                                )
                            })
                        {
                            error.get_or_insert(e.to_string());
                        }
                        gif.push(&frame);
                    }
                    Message::Sync(done) => {
                        let _ = done.send(());
                    }
                }
            }
            (gif, error)
        });
        Ok(Self {
            sender: Some(sender),
            worker: Some(worker),
        })
    }

    /// Queues the frame of the model after `step` steps.
    pub fn push(&self, step: usize, model: ModelFile) {
        if let Some(s) = &self.sender {
            let _ = s.send(Message::Frame(step, Box::new(model)));
        }
    }

    /// Waits until every queued frame is on disk.
    pub fn sync(&self) {
        let (done, wait) = mpsc::channel();
        if let Some(s) = &self.sender
            && s.send(Message::Sync(done)).is_ok()
        {
            let _ = wait.recv();
        }
    }

    /// Waits for the last frame and returns the animation.
    pub fn finish(mut self) -> Result<GifWriter, Error> {
        self.sender.take();
        match self.worker.take().map(|w| w.join()) {
            Some(Ok((gif, None))) => Ok(gif),
            Some(Ok((_, Some(error)))) => Err(Error::Output(error)),
            _ => Err(Error::Output(
                "the frame renderer stopped unexpectedly".into(),
            )),
        }
    }
}

/// The file of the frame after `step` steps: its picture (`png`) or its timeline frame for
/// the viewer (`json`, see [`bimt_viewer::frame`]).
fn frame_name(step: usize, extension: &str) -> String {
    format!("step-{step:08}.{extension}")
}

/// The frame files in `dir` (pictures and timeline frames), by step.
fn frame_files(dir: &Path) -> Vec<(usize, PathBuf)> {
    let mut frames: Vec<(usize, PathBuf)> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let name = entry.file_name().into_string().ok()?;
            let rest = name.strip_prefix("step-")?;
            let step = rest
                .strip_suffix(".png")
                .or_else(|| rest.strip_suffix(".json"))?
                .parse()
                .ok()?;
            Some((step, entry.path()))
        })
        .collect();
    frames.sort();
    frames
}
