//! `bimt table1`: the paper's Table 1 measured over seeds. Runs every preset that has a Table 1
//! column without BIMT (vanilla) and with it, at every seed, as many at once as asked, and
//! writes `TABLE1.md` (the paper's figures against our mean and range, wall times, and how many
//! seeds show the structure the paper describes) and `REPORT.md` (each preset's pictures for
//! the first seed).

use crate::error::Error;
use crate::launch::run_or_reuse;
use crate::preset::{Preset, Table1Entry};
use crate::registry::table1_presets;
use crate::resolve::resolve;
use crate::runner::RunSpec;
use crate::settings::Overrides;
use bimt_engine::Variant;
use bimt_format::{MetricsFile, write_atomic};
use std::collections::VecDeque;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Instant;

/// Steps of every run under `--quick` (the in-context fine-tune gets [`QUICK_FINETUNE`]).
pub const QUICK_STEPS: usize = 300;
/// Fine-tune steps of the in-context preset under `--quick`.
const QUICK_FINETUNE: usize = 50;

/// What `bimt table1` runs and where it writes.
#[derive(Clone, Debug)]
pub struct Table1Options {
    /// The seeds of every row.
    pub seeds: Vec<u64>,
    /// The settings profile of every run.
    pub profile: crate::Profile,
    /// Runs go to `out/<preset>/<variant>/seed-N`; `TABLE1.md`, `REPORT.md` and `report/`
    /// (the pictures `REPORT.md` shows) to `out`.
    pub out: PathBuf,
    /// [`QUICK_STEPS`] steps per run: checks that everything is written, measures nothing.
    pub quick: bool,
    /// Runs at once.
    pub jobs: usize,
    /// Threads each run computes on (see [`crate::default_threads`]).
    pub threads: usize,
    /// MNIST directory (see `RunSpec::data_dir`).
    pub data_dir: Option<PathBuf>,
    /// The command line, printed at the top of `TABLE1.md`.
    pub command: Vec<String>,
}

/// One run of the table.
struct Job {
    preset: &'static Preset,
    entry: &'static Table1Entry,
    variant: Variant,
    seed: u64,
    spec: RunSpec,
}

/// A run's outcome: its metrics, or why it failed.
/// A run's metrics, or why it failed (as the table prints it).
type Outcome = Result<MetricsFile, String>;

/// Runs the table (reusing runs already finished under `out` with the same settings) and
/// writes `TABLE1.md` and `REPORT.md`. A failed run is reported in the table and does not
/// stop the others; the call fails at the end if any did.
pub fn table1(options: &Table1Options) -> Result<(), Error> {
    crate::threads::check_per_core("--jobs", options.jobs)?;
    let jobs = plan(options)?;
    let started = Instant::now();
    let (outcomes, reused) = run_all(&jobs, options.jobs, options.threads);
    let wall = started.elapsed().as_secs_f64();
    let report_dir = options.out.join("report");
    let pictures = collect_pictures(&jobs, &outcomes, &options.out, &report_dir)?;
    let table = render_table(options, &jobs, &outcomes, wall, reused);
    write_atomic(&options.out.join("TABLE1.md"), table.as_bytes())?;
    let report = render_report(&pictures);
    write_atomic(&options.out.join("REPORT.md"), report.as_bytes())?;
    println!("-> {}", options.out.join("TABLE1.md").display());
    let failed: Vec<String> = jobs
        .iter()
        .zip(&outcomes)
        .filter_map(|(job, o)| o.as_ref().err().map(|e| format!("{}: {e}", job_name(job))))
        .collect();
    if failed.is_empty() {
        Ok(())
    } else {
        Err(Error::RunsFailed(format!(
            "{} runs failed:\n{}",
            failed.len(),
            failed.join("\n")
        )))
    }
}

/// Every run of the table, each with its settings resolved.
fn plan(options: &Table1Options) -> Result<Vec<Job>, Error> {
    if options.seeds.is_empty() {
        return Err(Error::Settings(
            "bimt table1 needs at least one seed".into(),
        ));
    }
    let mut jobs = Vec::new();
    for (preset, entry) in table1_presets() {
        for variant in [Variant::Vanilla, Variant::Bimt] {
            for &seed in &options.seeds {
                let mut overrides = Overrides {
                    seed: Some(seed),
                    variant: Some(variant),
                    profile: Some(options.profile),
                    ..Overrides::default()
                };
                if options.quick {
                    overrides.steps = Some(QUICK_STEPS);
                    overrides.log_every = Some(QUICK_STEPS / 2);
                    let finetunes = preset.defaults(options.profile).finetune_steps > 0;
                    overrides.finetune_steps = finetunes.then_some(QUICK_FINETUNE);
                }
                let settings = resolve(preset.name, &overrides, None, None)?;
                let out = options
                    .out
                    .join(preset.name)
                    .join(variant.to_string())
                    .join(format!("seed-{seed}"));
                let spec = RunSpec {
                    quiet: true,
                    data_dir: options.data_dir.clone(),
                    command: options.command.clone(),
                    ..RunSpec::new(settings, out)
                };
                jobs.push(Job {
                    preset,
                    entry,
                    variant,
                    seed,
                    spec,
                });
            }
        }
    }
    Ok(jobs)
}

fn job_name(job: &Job) -> String {
    format!("{} {} seed {}", job.preset.name, job.variant, job.seed)
}

/// Runs `jobs` on `workers` workers of `threads` threads each, printing a line as each ends. A
/// run that fails or panics gives its error and leaves the others running. Returns every
/// job's outcome and how many were finished runs reused.
fn run_all(jobs: &[Job], workers: usize, threads: usize) -> (Vec<Outcome>, usize) {
    let queue = Mutex::new((0..jobs.len()).collect::<VecDeque<usize>>());
    let outcomes: Mutex<Vec<Option<Outcome>>> = Mutex::new(vec![None; jobs.len()]);
    let done = Mutex::new(0usize);
    let reused_runs = Mutex::new(0usize);
    std::thread::scope(|scope| {
        for _ in 0..workers.min(jobs.len()) {
            scope.spawn(|| {
                // The queue's lock is held only while a run is taken, not while it trains.
                let next = || queue.lock().ok().and_then(|mut q| q.pop_front());
                let work = || {
                    while let Some(k) = next() {
                        let job = &jobs[k];
                        let started = Instant::now();
                        let outcome =
                            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                                run_or_reuse(&job.spec)
                            }))
                            .unwrap_or_else(|_| Err(Error::RunsFailed("the run panicked".into())));
                        if let (Ok((_, true)), Ok(mut n)) = (&outcome, reused_runs.lock()) {
                            *n += 1;
                        }
                        let line = match &outcome {
                            Ok((m, reused)) => format!(
                                "{}{}",
                                figure(job.entry, m),
                                if *reused {
                                    " (finished run reused)".to_string()
                                } else {
                                    format!(" ({:.0} s)", started.elapsed().as_secs_f64())
                                }
                            ),
                            Err(e) => format!("failed: {e}"),
                        };
                        let mut count = done.lock().unwrap_or_else(|e| e.into_inner());
                        *count += 1;
                        println!("[{}/{}] {}: {line}", *count, jobs.len(), job_name(job));
                        drop(count);
                        if let Ok(mut all) = outcomes.lock() {
                            all[k] = Some(outcome.map(|(m, _)| m).map_err(|e| e.to_string()));
                        }
                    }
                };
                if let Err(e) = crate::on_threads(threads, work) {
                    eprintln!("a worker could not start: {e}");
                }
            });
        }
    });
    let outcomes = outcomes
        .into_inner()
        .unwrap_or_else(|e| e.into_inner())
        .into_iter()
        .map(|o| o.unwrap_or_else(|| Err("not run".into())))
        .collect();
    (
        outcomes,
        reused_runs.into_inner().unwrap_or_else(|e| e.into_inner()),
    )
}

/// The run's figure for its Table 1 column: accuracy in percent or the test loss.
fn value(entry: &Table1Entry, m: &MetricsFile) -> f64 {
    match (entry.accuracy, m.test_accuracy) {
        (true, Some(a)) => 100.0 * a,
        _ => m.test_loss,
    }
}

fn format_value(entry: &Table1Entry, v: f64) -> String {
    if entry.accuracy {
        format!("{v:.1}%")
    } else {
        format!("{v:.1e}")
    }
}

fn figure(entry: &Table1Entry, m: &MetricsFile) -> String {
    let metric = if entry.accuracy {
        "test accuracy"
    } else {
        "test loss"
    };
    format!("{metric} {}", format_value(entry, value(entry, m)))
}

/// Mean and range of a row's runs, e.g. `1.4e-3 (1.2e-3 – 1.7e-3, 4 seeds)`.
fn summary(entry: &Table1Entry, runs: &[&MetricsFile]) -> String {
    if runs.is_empty() {
        return "no finished run".into();
    }
    let values: Vec<f64> = runs.iter().map(|m| value(entry, m)).collect();
    let mean = values.iter().sum::<f64>() / values.len() as f64;
    let (lo, hi) = values
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
            (a.min(v), b.max(v))
        });
    let seeds = match values.len() {
        1 => "1 seed".to_string(),
        n => format!("{n} seeds"),
    };
    format!(
        "{} ({} – {}, {seeds})",
        format_value(entry, mean),
        format_value(entry, lo),
        format_value(entry, hi),
    )
}

/// How many of `runs` show the entry's structure, e.g. `3 of 4`.
fn structure_count(entry: &Table1Entry, runs: &[&MetricsFile]) -> String {
    let checked: Vec<bool> = runs
        .iter()
        .filter_map(|m| (entry.shows_structure)(m))
        .collect();
    let shown = checked.iter().filter(|&&s| s).count();
    format!("{shown} of {}", checked.len())
}

/// `TABLE1.md`.
fn render_table(
    options: &Table1Options,
    jobs: &[Job],
    outcomes: &[Outcome],
    wall: f64,
    reused: usize,
) -> String {
    let mut md = String::new();
    let command = if options.command.is_empty() {
        "bimt table1".to_string()
    } else {
        options.command.join(" ")
    };
    let _ = writeln!(md, "# Table 1, measured\n");
    let _ = writeln!(
        md,
        "`{command}` on {}, bimt {}, the {} profile, {} runs at once, {:.0} s in all{}{}.\n",
        today(),
        env!("CARGO_PKG_VERSION"),
        options.profile,
        options.jobs.max(1),
        wall,
        if reused > 0 {
            format!(
                "; {reused} of the {} runs were not run again: finished runs with the same \
                 settings, reused from this directory",
                jobs.len()
            )
        } else {
            String::new()
        },
        if options.quick {
            format!("; **--quick: {QUICK_STEPS} steps per run, the figures mean nothing**")
        } else {
            String::new()
        }
    );
    let _ = writeln!(
        md,
        "Each figure is the mean over seeds, with the range over seeds in brackets. Accuracy and \
         loss are measured on each preset's test split (`metrics.json`); wall time is per run, \
         training and outputs included. A structure is counted per seed with the criterion \
         stated in its row, read from `metrics.json`. Pictures of each preset: \
         [REPORT.md](REPORT.md).\n"
    );
    let _ = writeln!(
        md,
        "| column | metric | paper without BIMT | ours without BIMT | paper with BIMT | ours with BIMT | wall time per run (with BIMT) | structure the paper describes | seeds showing it: with BIMT | without BIMT |"
    );
    let _ = writeln!(
        md,
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
    );
    let finished = |preset: &str, variant: Variant| -> Vec<&MetricsFile> {
        jobs.iter()
            .zip(outcomes)
            .filter(|(j, _)| j.preset.name == preset && j.variant == variant)
            .filter_map(|(_, o)| o.as_ref().ok())
            .collect()
    };
    for (preset, entry) in table1_presets() {
        let without = finished(preset.name, Variant::Vanilla);
        let with = finished(preset.name, Variant::Bimt);
        let wall = if with.is_empty() {
            "-".to_string()
        } else {
            format!(
                "{:.1} s",
                with.iter().map(|m| m.wall_seconds).sum::<f64>() / with.len() as f64
            )
        };
        let _ = writeln!(
            md,
            "| [{}](REPORT.md#{}) | {} | {} | {} | {} | {} | {wall} | {} | {} | {} |",
            entry.column,
            preset.name,
            if entry.accuracy {
                "test accuracy"
            } else {
                "test loss"
            },
            entry.paper.0,
            summary(entry, &without),
            entry.paper.1,
            summary(entry, &with),
            entry.structure.replace('|', "\\|"),
            structure_count(entry, &with),
            structure_count(entry, &without),
        );
    }
    let _ = writeln!(md, "\n## Every run\n");
    let _ = writeln!(
        md,
        "| preset | variant | seed | figure | connection cost | structure shown | wall time |"
    );
    let _ = writeln!(md, "| --- | --- | --- | --- | --- | --- | --- |");
    for (job, outcome) in jobs.iter().zip(outcomes) {
        let row = match outcome {
            Ok(m) => format!(
                "{} | {:.4} | {} | {:.1} s",
                figure(job.entry, m),
                m.connection_cost,
                match (job.entry.shows_structure)(m) {
                    Some(true) => "yes",
                    Some(false) => "no",
                    None => "-",
                },
                m.wall_seconds
            ),
            Err(e) => format!("failed: {} | | |", e.replace('|', "/").replace('\n', " ")),
        };
        let _ = writeln!(
            md,
            "| {} | {} | {} | {row} |",
            job.preset.name, job.variant, job.seed
        );
    }
    md
}

/// The pictures of one preset's first-seed BIMT run, copied into the report folder.
struct PresetPictures {
    preset: &'static Preset,
    seed: u64,
    /// Paths relative to the table's folder.
    files: Vec<String>,
    /// Each finished run's viewer: its variant, seed and `view.html` relative to the table's
    /// folder.
    viewers: Vec<(Variant, u64, String)>,
}

/// Copies each preset's pictures (first seed, with BIMT) into `report_dir/<preset>/`, and
/// lists every finished run's viewer (writing it where a reused run lacks one).
fn collect_pictures(
    jobs: &[Job],
    outcomes: &[Outcome],
    table_dir: &Path,
    report_dir: &Path,
) -> Result<Vec<PresetPictures>, Error> {
    let mut all = Vec::new();
    for (preset, _) in table1_presets() {
        let first = jobs
            .iter()
            .zip(outcomes)
            .find(|(j, o)| j.preset.name == preset.name && j.variant == Variant::Bimt && o.is_ok());
        let Some((job, _)) = first else { continue };
        let dir = report_dir.join(preset.name);
        std::fs::create_dir_all(&dir).map_err(|e| {
            Error::Output(format!(
                "{}: cannot create the directory: {e}",
                dir.display()
            ))
        })?;
        let mut names: Vec<String> = std::fs::read_dir(&job.spec.out)
            .map_err(|e| Error::Output(format!("{}: {e}", job.spec.out.display())))?
            .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
            .filter(|name| name.ends_with(".png") || name.ends_with(".svg"))
            .collect();
        // The connectivity graph first, then the curves, then the preset's own pictures.
        names.sort_by_key(|n| (!n.starts_with("graph."), n != "curves.png", n.clone()));
        let mut files = Vec::new();
        for name in names {
            let bytes = std::fs::read(job.spec.out.join(&name)).map_err(|e| {
                Error::Output(format!("{}: {e}", job.spec.out.join(&name).display()))
            })?;
            write_atomic(&dir.join(&name), &bytes)?;
            files.push(format!("report/{}/{name}", preset.name));
        }
        let mut viewers = Vec::new();
        for (job, _) in jobs
            .iter()
            .zip(outcomes)
            .filter(|(j, o)| j.preset.name == preset.name && o.is_ok())
        {
            let page = job.spec.out.join("view.html");
            if !page.exists() {
                // A run reused from before bimt wrote viewers.
                bimt_viewer::write_view(&job.spec.out)
                    .map_err(|e| Error::Output(format!("view.html: {e}")))?;
            }
            let relative = page.strip_prefix(table_dir).unwrap_or(&page);
            viewers.push((job.variant, job.seed, relative.display().to_string()));
        }
        all.push(PresetPictures {
            preset,
            seed: job.seed,
            files,
            viewers,
        });
    }
    Ok(all)
}

/// `REPORT.md`: every preset's pictures, one section each (anchors are the preset names).
fn render_report(pictures: &[PresetPictures]) -> String {
    let mut md = String::from(
        "# Table 1 presets: pictures\n\nOne run per preset with BIMT (the first seed of \
         [TABLE1.md](TABLE1.md)). `graph.svg` is the connectivity graph at any size.\n",
    );
    for p in pictures {
        let _ = writeln!(md, "\n## {}\n", p.preset.name);
        let _ = writeln!(md, "{} (seed {}).\n", p.preset.description, p.seed);
        let links: Vec<String> = p
            .viewers
            .iter()
            .map(|(variant, seed, page)| format!("[{variant} seed {seed}]({page})"))
            .collect();
        if !links.is_empty() {
            let _ = writeln!(
                md,
                "Interactive viewers (`view.html`): {}.\n",
                links.join(", ")
            );
        }
        for file in &p.files {
            let name = file.rsplit('/').next().unwrap_or(file);
            if file.ends_with(".svg") {
                let _ = writeln!(md, "[{name}]({file})\n");
            } else {
                let _ = writeln!(md, "![{name}]({file})\n");
            }
        }
    }
    md
}

/// Today's date (UTC) as `YYYY-MM-DD`.
fn today() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (y, m, d) = civil_from_days((secs / 86_400) as i64);
    format!("{y:04}-{m:02}-{d:02}")
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (H. Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    use super::{Table1Options, civil_from_days, plan};
    use crate::Profile;

    #[test]
    fn every_run_of_a_profiles_table_has_that_profiles_settings() {
        let options = Table1Options {
            seeds: vec![0, 1],
            profile: Profile::Robust,
            out: "runs/table1-robust".into(),
            quick: true,
            jobs: 1,
            threads: 1,
            data_dir: None,
            command: Vec::new(),
        };
        let jobs = plan(&options).unwrap();
        assert_eq!(jobs.len(), 9 * 2 * 2);
        for job in &jobs {
            let expected = job.preset.defaults(Profile::Robust);
            let settings = &job.spec.settings;
            assert_eq!(settings.profile, Profile::Robust);
            assert_eq!(
                (settings.swap_moments, settings.restarts),
                (expected.swap_moments, expected.restarts),
                "{}",
                job.preset.name
            );
        }
    }

    #[test]
    fn dates_from_day_counts() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(20_418), (2025, 11, 26));
    }
}
