//! `bimt run <preset> --seeds 0-7`: the same run at several seeds, and how much its test
//! figure and its structure depend on the seed.

use crate::error::Error;
use crate::launch::run;
use crate::limits::MAX_SEEDS;
use crate::preset::Table1Entry;
use crate::registry::find;
use crate::runner::RunSpec;
use crate::runner::ended_worse;
use bimt_format::{MetricsFile, write_json};
use serde_json::{Value, json};

/// Parses `0-7`, `0,3,6` or a mix (`0-3,8`) into seeds, in the order given: at most
/// [`MAX_SEEDS`] of them, none twice.
pub fn parse_seeds(list: &str) -> Result<Vec<u64>, Error> {
    let bad = |part: &str| {
        Error::Settings(format!(
            "--seeds '{list}': cannot read '{part}'; expected N, A-B or a comma list of them"
        ))
    };
    let mut seeds = Vec::new();
    for part in list.split(',').map(str::trim) {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b): (u64, u64) = (
                    a.trim().parse().map_err(|_| bad(part))?,
                    b.trim().parse().map_err(|_| bad(part))?,
                );
                if a > b {
                    return Err(Error::Settings(format!(
                        "--seeds '{list}': the range '{part}' runs backwards; write {b}-{a}"
                    )));
                }
                if b - a >= (MAX_SEEDS - seeds.len().min(MAX_SEEDS)) as u64 {
                    return Err(too_many(list));
                }
                seeds.extend(a..=b);
            }
            None => seeds.push(part.parse().map_err(|_| bad(part))?),
        }
        if seeds.len() > MAX_SEEDS {
            return Err(too_many(list));
        }
    }
    let mut seen = std::collections::HashSet::new();
    if let Some(twice) = seeds.iter().find(|&&seed| !seen.insert(seed)) {
        return Err(Error::Settings(format!(
            "--seeds '{list}': seed {twice} is listed twice; each seed runs once"
        )));
    }
    Ok(seeds)
}

/// The error for a list of more than [`MAX_SEEDS`] seeds.
fn too_many(list: &str) -> Error {
    Error::Settings(format!(
        "--seeds '{list}': more than {MAX_SEEDS} seeds; split the list over several commands"
    ))
}

/// One seed's row of `seeds.json`; `structure` is the preset's Table 1 criterion, if any.
fn row(m: &MetricsFile, structure: Option<&Table1Entry>) -> Value {
    let active: Vec<Value> = m.structure["active_neurons"]
        .as_array()
        .map(|layers| layers.iter().map(|l| l["active"].clone()).collect())
        .unwrap_or_default();
    json!({
        "seed": m.seed,
        "test_loss": m.test_loss,
        "test_accuracy": m.test_accuracy,
        "connection_cost": m.connection_cost,
        "wall_seconds": m.wall_seconds,
        "active_neurons": active,
        "fresh_mse": m.structure.get("fresh_mse"),
        "structure_shown": structure.and_then(|entry| (entry.shows_structure)(m)),
    })
}

/// Runs `template` once per seed into `<out>/seed-N`, printing a line per seed, then writes
/// `<out>/seeds.json`. Returns how many seeds ended worse than they started (each is reported
/// on stderr).
pub fn run_seeds(template: &RunSpec, seeds: &[u64]) -> Result<usize, Error> {
    let base = template.out.clone();
    let entry = find(&template.settings.preset)?.table1.as_ref();
    let mut rows = Vec::with_capacity(seeds.len());
    let mut worse = 0;
    println!("seed  test loss  accuracy  active neurons per layer");
    for &seed in seeds {
        let mut spec = template.clone();
        spec.settings.seed = seed;
        spec.out = base.join(format!("seed-{seed}"));
        spec.resume = None;
        spec.quiet = true;
        let m = run(&spec).map_err(|e| e.context(format!("seed {seed}")))?;
        if let Some(why) = ended_worse(&m) {
            eprintln!("seed {seed}: {why}");
            worse += 1;
        }
        let r = row(&m, entry);
        let accuracy = m
            .test_accuracy
            .map(|a| format!("{:7.2}%", 100.0 * a))
            .unwrap_or_else(|| "       -".into());
        let shown = match r["structure_shown"].as_bool() {
            Some(true) => "  structure shown",
            Some(false) => "  structure not shown",
            None => "",
        };
        println!(
            "{seed:4}  {:9.3e}  {accuracy}  {}{shown}",
            m.test_loss, r["active_neurons"]
        );
        rows.push(r);
    }
    let shown = rows
        .iter()
        .filter(|r| r["structure_shown"].as_bool() == Some(true))
        .count();
    let median_of = |key: &str| median(rows.iter().filter_map(|r| r[key].as_f64()).collect());
    let (median_test, median_fresh) = (median_of("test_loss"), median_of("fresh_mse"));
    let summary = json!({
        "preset": template.settings.preset,
        "variant": template.settings.variant.to_string(),
        "profile": template.settings.profile.to_string(),
        "structure": entry.map(|e| e.structure),
        "seeds_showing_structure": entry.map(|_| shown),
        "median_test_loss": median_test,
        "median_fresh_mse": median_fresh,
        "seeds": rows,
    });
    if let Some(entry) = entry {
        println!("{shown} of {} seeds show: {}", seeds.len(), entry.structure);
    }
    if let Some(m) = median_test {
        print!("median test loss {m:.3e}");
        match median_fresh {
            Some(f) => println!(", median MSE on fresh data {f:.3e}"),
            None => println!(),
        }
    }
    write_json(&base.join("seeds.json"), &summary)?;
    println!("-> {}", base.join("seeds.json").display());
    Ok(worse)
}

/// The median of `values` (the mean of the middle two for an even count); `None` if empty.
fn median(mut values: Vec<f64>) -> Option<f64> {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(values[n / 2]),
        _ => Some(0.5 * (values[n / 2 - 1] + values[n / 2])),
    }
}

#[cfg(test)]
mod tests {
    use super::{MAX_SEEDS, median, parse_seeds};

    #[test]
    fn medians() {
        assert_eq!(median(vec![]), None);
        assert_eq!(median(vec![3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(vec![4.0, 1.0, 3.0, 2.0]), Some(2.5));
    }

    #[test]
    fn seed_lists() {
        assert_eq!(parse_seeds("0-3").unwrap(), vec![0, 1, 2, 3]);
        assert_eq!(parse_seeds("5, 1-2,9").unwrap(), vec![5, 1, 2, 9]);
        for bad in ["", "3-1", "a", "1-", "-2"] {
            let e = parse_seeds(bad).unwrap_err().to_string();
            assert!(e.contains("--seeds"), "{e}");
        }
        let e = parse_seeds("0,0").unwrap_err().to_string();
        assert!(e.contains("seed 0 is listed twice"), "{e}");
        let e = parse_seeds("2,0-3").unwrap_err().to_string();
        assert!(e.contains("seed 2 is listed twice"), "{e}");
        // A huge range is refused before any seed is stored.
        let e = parse_seeds("0-99999999999").unwrap_err().to_string();
        assert!(e.contains("more than 10000 seeds"), "{e}");
        assert_eq!(parse_seeds("0-9999").unwrap().len(), MAX_SEEDS);
        assert!(parse_seeds("0-9999,10000").is_err());
    }
}
