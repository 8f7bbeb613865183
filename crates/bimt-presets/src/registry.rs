//! Every preset `bimt run` knows, in one list; each is declared by its experiment's module.

use crate::error::Error;
use crate::preset::{Preset, Table1Entry};
use crate::{algorithmic, custom, in_context, mnist, mnist_cnn, symbolic};

/// Every preset, in the paper's order, then `mnist-cnn` (beyond the paper); `graph` and `mlp`
/// (a user's own network) last.
pub static PRESETS: [Preset; 13] = [
    symbolic::INDEPENDENCE,
    symbolic::FEATURE_SHARING,
    symbolic::COMPOSITIONALITY,
    symbolic::PRUNING,
    symbolic::TWO_MOONS,
    algorithmic::MODULAR_ADDITION,
    algorithmic::PERMUTATION_S4,
    in_context::IN_CONTEXT,
    in_context::IN_CONTEXT_SINGULAR,
    mnist::MNIST,
    mnist_cnn::MNIST_CNN,
    custom::GRAPH,
    custom::MLP,
];

/// The preset called `name`, or an error that lists the known ones.
pub fn find(name: &str) -> Result<&'static Preset, Error> {
    PRESETS.iter().find(|p| p.name == name).ok_or_else(|| {
        let known: Vec<&str> = PRESETS.iter().map(|p| p.name).collect();
        Error::Settings(format!(
            "unknown preset '{name}'; known presets: {}",
            known.join(", ")
        ))
    })
}

/// The presets of Table 1, in the paper's column order.
pub fn table1_presets() -> impl Iterator<Item = (&'static Preset, &'static Table1Entry)> {
    PRESETS
        .iter()
        .filter_map(|p| p.table1.as_ref().map(|entry| (p, entry)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::{Phases, Profile, Settings};
    use bimt_engine::SwapMoments;
    use bimt_layout::Reduction;
    use bimt_swap::SwapMode;

    fn both(preset: &str) -> (Settings, Settings) {
        let preset = find(preset).unwrap();
        (
            preset.defaults(Profile::Paper),
            preset.defaults(Profile::Reference),
        )
    }

    fn phases(p: &[(usize, f64)]) -> Phases {
        Phases(p.to_vec())
    }

    /// The settings of `../shared/spec/experiments.md`, profile by profile.
    #[test]
    fn presets_hold_the_papers_and_the_notebooks_settings() {
        let (p, r) = both("mnist");
        assert_eq!(
            p.lambda,
            phases(&[(0, 0.001), (10_000, 0.01), (20_000, 0.1), (30_000, 0.3)])
        );
        assert_eq!(r.lambda, phases(&[(0, 0.01), (10_000, 0.1), (20_000, 1.0)]));
        assert_eq!((p.swap_every, r.swap_every), (200, 500));
        assert_eq!(
            (p.last_layer_distance, r.last_layer_distance),
            (true, false)
        );
        assert_eq!((p.batch, p.top_k, p.a, p.y_star), (Some(100), 30, 2.0, 0.5));
        assert_eq!((p.steps, p.reduction), (40_000, Reduction::Mean));

        let (p, r) = both("in-context");
        assert_eq!(
            p.lambda,
            phases(&[(0, 1e-3), (10_000, 1e-2), (20_000, 0.1), (30_000, 0.3)])
        );
        assert_eq!(
            r.lambda,
            phases(&[(0, 1e-3), (10_000, 1e-2), (30_000, 1e-1)])
        );
        assert_eq!((p.top_k, r.top_k, p.batch), (30, 20, Some(64)));
        assert_eq!((p.finetune_steps, r.finetune_steps), (2_000, 0));

        let (p, r) = both("modular-addition");
        // The profiles differ only in how they swap.
        assert_eq!(
            (r.swap_mode, r.swap_moments),
            (SwapMode::GreedyPositions, SwapMoments::Stay)
        );
        assert_eq!(
            (p.swap_mode, p.swap_moments),
            (SwapMode::Greedy, SwapMoments::Follow)
        );
        assert_eq!(
            p,
            Settings {
                profile: p.profile,
                swap_mode: p.swap_mode,
                swap_moments: p.swap_moments,
                ..r.clone()
            }
        );
        assert_eq!(p.lambda, phases(&[(0, 0.1), (5_000, 1.0), (15_000, 0.1)]));
        assert_eq!(
            (p.steps, p.lr.0[0].1, p.a, p.y_star, p.top_k),
            (20_000, 1e-3, 2.0, 0.5, 30)
        );
        assert_eq!((p.reduction, p.batch), (Reduction::Mean, None));

        let (p, r) = both("permutation-s4");
        assert_eq!(
            p,
            Settings {
                preset: p.preset.clone(),
                lr: Phases::constant(2e-3),
                ..find("modular-addition").unwrap().defaults(Profile::Paper)
            }
        );
        assert_eq!(
            (r.lr.0[0].1, r.a, r.lambda.clone()),
            (2e-3, 1.0, Phases::constant(1.0))
        );

        let (p, r) = both("symbolic-compositionality");
        assert_eq!(
            p.lambda,
            phases(&[(0, 1e-3), (5_000, 1e-2), (15_000, 1e-3)])
        );
        assert_eq!(r.lambda, phases(&[(0, 1e-3), (5_000, 3e-3)]));
        assert_eq!(
            (p.a, p.top_k, r.a, r.top_k, r.bias_from),
            (2.0, 6, 1.0, 5, 15_000)
        );

        let (_, r) = both("two-moons");
        assert_eq!(
            (r.steps, r.y_star, r.top_k, r.lr.0[0].1),
            (10_001, 0.2, 10, 2e-3)
        );
    }

    /// The robust profile changes the paper's settings of three presets only, and only in the
    /// factors docs/gaps.md measured.
    #[test]
    fn the_robust_profile_is_the_papers_but_where_structure_depends_on_the_seed() {
        for preset in PRESETS {
            let paper = preset.defaults(Profile::Paper);
            let robust = preset.defaults(Profile::Robust);
            assert_eq!(robust.profile, Profile::Robust);
            let as_paper = |changes: Settings| Settings {
                profile: Profile::Paper,
                ..changes
            };
            match preset.name {
                "symbolic-feature-sharing" => {
                    assert_eq!(robust.swap_moments, SwapMoments::Stay);
                    assert_eq!(robust.lambda.0.len(), 6, "λ raised step by step");
                    assert!(robust.restarts > 1 && robust.restart_steps.is_none());
                    assert_eq!(
                        as_paper(robust.clone()),
                        Settings {
                            swap_moments: robust.swap_moments,
                            lambda: robust.lambda.clone(),
                            restarts: robust.restarts,
                            restart_steps: robust.restart_steps,
                            ..paper
                        }
                    );
                }
                "modular-addition" => {
                    assert_eq!(
                        as_paper(robust),
                        Settings {
                            swap_moments: SwapMoments::Reset,
                            ..paper
                        }
                    );
                }
                "permutation-s4" => {
                    assert!(robust.restarts > 1 && robust.restart_steps.is_none());
                    assert_eq!(
                        as_paper(robust.clone()),
                        Settings {
                            swap_moments: SwapMoments::Reset,
                            restarts: robust.restarts,
                            ..paper
                        }
                    );
                }
                _ => assert_eq!(as_paper(robust), paper, "{}", preset.name),
            }
        }
    }
}
