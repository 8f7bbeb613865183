//! The range of every numeric setting, checked ([`crate::Settings::check_ranges`]) once all
//! sources are merged and before any work starts. The README's table "Ranges of the settings"
//! lists the same bounds.
//!
//! The bounds are of two kinds: those that make a run meaningless (a learning rate of 0, a
//! test split of 0 rows) and those that would only exhaust the machine (10¹¹ formula samples,
//! thousands of threads). Neither is ever clamped silently.

use crate::error::Error;

/// Most training steps (and fine-tune steps, and steps between swaps) a run may ask for.
pub const MAX_STEPS: usize = 100_000_000;
/// Largest learning rate: AdamW moves each weight by about `lr` per step, so a rate above 1
/// throws the weights far past any loss minimum at the first step.
pub const MAX_LR: f64 = 1.0;
/// Largest λ, A and y*: beyond it the connection cost outweighs any task loss by orders of
/// magnitude and prunes every weight within a few steps.
pub const MAX_COST_SCALE: f64 = 1e3;
/// Most neurons tried per layer in a swap round.
pub const MAX_TOP_K: usize = 100_000;
/// Most samples per training batch.
pub const MAX_BATCH: usize = 10_000_000;
/// Most formula samples over both splits (ten million rows hold a few hundred MB).
pub const MAX_SAMPLES: usize = 10_000_000;
/// Most candidates of `--restarts` (each trains `--restart-steps` steps).
pub const MAX_RESTARTS: usize = 1_000;
/// Most seeds in one `--seeds` list.
pub const MAX_SEEDS: usize = 10_000;

/// A count in `lo..=hi`.
pub fn check_count(name: &str, value: usize, lo: usize, hi: usize) -> Result<(), Error> {
    if (lo..=hi).contains(&value) {
        return Ok(());
    }
    Err(Error::Settings(format!(
        "{name} = {value}: expected {}",
        if value < lo {
            format!("at least {lo}")
        } else {
            format!("at most {hi}")
        }
    )))
}

/// A learning rate in (0, [`MAX_LR`]].
pub fn check_rate(name: &str, value: f64) -> Result<(), Error> {
    if value.is_finite() && value > 0.0 && value <= MAX_LR {
        return Ok(());
    }
    let why = if value > MAX_LR {
        format!(
            "at most {MAX_LR}: AdamW moves each weight by about lr per step, so a larger rate \
             throws the weights past any minimum"
        )
    } else {
        format!("a learning rate > 0 and at most {MAX_LR}")
    };
    Err(Error::Settings(format!("{name} = {value}: expected {why}")))
}

/// A cost weight or distance scale in [0, [`MAX_COST_SCALE`]].
pub fn check_scale(name: &str, value: f64) -> Result<(), Error> {
    if value.is_finite() && (0.0..=MAX_COST_SCALE).contains(&value) {
        return Ok(());
    }
    let why = if value > MAX_COST_SCALE {
        format!(
            "at most {MAX_COST_SCALE}: beyond it the connection cost outweighs any task loss and \
             prunes every weight"
        )
    } else {
        "a finite number ≥ 0".to_string()
    };
    Err(Error::Settings(format!("{name} = {value}: expected {why}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::Profile;

    #[test]
    fn every_preset_default_is_in_range() {
        for preset in &crate::registry::PRESETS {
            for profile in [Profile::Paper, Profile::Reference] {
                let settings = preset.defaults(profile);
                settings
                    .check_ranges()
                    .unwrap_or_else(|e| panic!("{} {profile:?}: {e}", preset.name));
            }
        }
    }

    #[test]
    fn out_of_range_values_name_the_setting_and_the_bound() {
        let e = check_rate("lr", 1e3).unwrap_err().to_string();
        assert!(e.starts_with("lr = 1000: expected at most 1"), "{e}");
        let e = check_rate("finetune_lr", 0.0).unwrap_err().to_string();
        assert!(e.contains("finetune_lr = 0") && e.contains("> 0"), "{e}");
        let e = check_scale("A", 1e30).unwrap_err().to_string();
        assert!(e.contains("A = 1000000000000000000000000000000: expected at most 1000"));
        let e = check_scale("lambda", f64::NAN).unwrap_err().to_string();
        assert!(e.contains("finite"), "{e}");
        let e = check_count("steps", 0, 1, MAX_STEPS)
            .unwrap_err()
            .to_string();
        assert_eq!(e, "steps = 0: expected at least 1");
    }
}
