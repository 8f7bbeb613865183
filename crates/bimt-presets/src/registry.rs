//! Every experiment `bimt run` knows, as a value: its name, what it trains, its settings per
//! profile, the figure the paper's Table 1 gives for it and the structure the paper describes.

use crate::hyper::{Hyper, Profile, defaults};
use crate::{algorithmic, in_context, mnist, symbolic};
use bimt_data::{Formula, Operation};
use bimt_format::MetricsFile;

/// An experiment: data, network, task, settings, structure report and pictures.
#[derive(Clone, Copy, Debug)]
pub struct Preset {
    /// The name `bimt run` takes.
    pub name: &'static str,
    /// One line for `bimt presets`.
    pub description: &'static str,
    /// What it trains.
    pub experiment: Experiment,
    /// Its column of the paper's Table 1, if it has one.
    pub table1: Option<Table1Entry>,
}

/// What a preset trains; [`crate::run`] dispatches on it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Experiment {
    /// An MLP on a symbolic formula (paper §3.1, App. A).
    Symbolic(Formula),
    /// Two moons (§3.2).
    TwoMoons,
    /// Token embeddings and an MLP on a group operation (§3.3).
    Algorithmic(Operation),
    /// MNIST in 3D (§3.5).
    Mnist,
    /// In-context linear regression with a transformer (§3.4); `singular`: x ~ U[−1, 1].
    InContext { singular: bool },
    /// A user's network (`graph`: an architecture file, `mlp`: hidden widths) on a user's data.
    Custom,
}

/// A preset's column of Table 1 and its structural criterion.
#[derive(Clone, Copy, Debug)]
pub struct Table1Entry {
    /// The column's title in the paper.
    pub column: &'static str,
    /// Test accuracy (else the test loss).
    pub accuracy: bool,
    /// The paper's figure without BIMT and with BIMT.
    pub paper: (&'static str, &'static str),
    /// The structure the paper describes, as a sentence.
    pub structure: &'static str,
    /// Whether a run shows it, read from its `metrics.json`; `None` where the metrics lack
    /// what the check needs.
    pub shows_structure: fn(&MetricsFile) -> Option<bool>,
}

impl Preset {
    /// The preset's settings under `profile`.
    pub fn defaults(&self, profile: Profile) -> Hyper {
        defaults(self.name, profile).expect("every registered preset has defaults")
    }
}

/// Every preset, in the paper's order; `graph` and `mlp` (a user's own network) last.
pub static PRESETS: [Preset; 12] = [
    Preset {
        name: "symbolic-independence",
        description: "y = ((x1+x3)^3, x2^2 + sin(pi x4)), MLP 4-20-20-2 (paper Fig. 3a)",
        experiment: Experiment::Symbolic(Formula::Independence),
        table1: Some(Table1Entry {
            column: "symbolic (a)",
            accuracy: false,
            paper: ("5.8e-3", "7.4e-3"),
            structure: "two modules that share nothing: y1 reached from x1, x3 only, y2 from x2, x4 only",
            shows_structure: symbolic::independent_modules,
        }),
    },
    Preset {
        name: "symbolic-feature-sharing",
        description: "y = (x1^2, x1^2+x2^2, x1^2+x2^2+x3^2), MLP 3-20-20-3 (Fig. 3b)",
        experiment: Experiment::Symbolic(Formula::FeatureSharing),
        table1: Some(Table1Entry {
            column: "symbolic (b)",
            accuracy: false,
            paper: ("1.1e-5", "8.5e-5"),
            structure: "exactly three active neurons in hidden layer 2",
            shows_structure: symbolic::three_shared_features,
        }),
    },
    Preset {
        name: "symbolic-compositionality",
        description: "y = sqrt((x1-x2)^2 + (x3-x4)^2), MLP 4-20-20-20-20-1 (Fig. 3c)",
        experiment: Experiment::Symbolic(Formula::Compositionality),
        table1: Some(Table1Entry {
            column: "symbolic (c)",
            accuracy: false,
            paper: ("1.2e-4", "1.3e-3"),
            structure: "one active neuron in hidden layer 3, tracking I = (x1-x2)^2 + (x3-x4)^2 (|r| >= 0.9)",
            shows_structure: symbolic::one_intermediate_neuron,
        }),
    },
    Preset {
        name: "symbolic-pruning",
        description: "y = (x1 x4 + x2 x3, x1 x4 - x2 x3), MLP 4-20-20-2; `bimt frontier` prunes five variants (App. A, Fig. 9)",
        experiment: Experiment::Symbolic(Formula::Pruning),
        table1: None,
    },
    Preset {
        name: "two-moons",
        description: "two interleaved half circles, MLP 2-20-20-2, cross entropy (Fig. 4)",
        experiment: Experiment::TwoMoons,
        table1: Some(Table1Entry {
            column: "two moon",
            accuracy: true,
            paper: ("100.0%", "100.0%"),
            structure: "at most 6 active hidden neurons (both hidden layers together)",
            shows_structure: symbolic::few_moon_neurons,
        }),
    },
    Preset {
        name: "modular-addition",
        description: "(a + b) mod 59 from two learned 32-dim token embeddings, MLP 64-50-50-59 (Fig. 5)",
        experiment: Experiment::Algorithmic(Operation::ModularAddition { p: 59 }),
        table1: Some(Table1Entry {
            column: "modular addition",
            accuracy: true,
            paper: ("100.0%", "100.0%"),
            structure: "a tree with at least three roots: three or more modules fed by the embedding",
            shows_structure: algorithmic::three_modules,
        }),
    },
    Preset {
        name: "permutation-s4",
        description: "composition in the permutation group S4, token embeddings, MLP 64-50-50-24 (Fig. 6)",
        experiment: Experiment::Algorithmic(Operation::PermutationS4),
        table1: Some(Table1Entry {
            column: "permutation",
            accuracy: true,
            paper: ("100.0%", "100.0%"),
            structure: "a sign neuron: an embedding dimension with |r| >= 0.95 against the permutation's sign",
            shows_structure: algorithmic::sign_neuron_found,
        }),
    },
    Preset {
        name: "in-context",
        description: "in-context linear regression, x ~ U[1,3], LayerNorm-free transformer (Fig. 7); then a 2,000-step pruned fine-tune",
        experiment: Experiment::InContext { singular: false },
        table1: Some(Table1Entry {
            column: "in-context",
            accuracy: false,
            paper: ("7.2e-5", "1.8e-4"),
            structure: "a sparse residual layer (at most 16 of 32 neurons active) in which a pair of neurons predicts w at the query position with R^2 >= 0.9",
            shows_structure: in_context::w_readable,
        }),
    },
    Preset {
        name: "in-context-singular",
        description: "the same with x ~ U[-1,1]: the singularity at x1 = 0 (App. F, Fig. 15)",
        experiment: Experiment::InContext { singular: true },
        table1: None,
    },
    Preset {
        name: "mnist",
        description: "MNIST digits in 3D: 28x28 pixel grid, 10x10, 10x10, output ring; MLP 784-100-100-10 (Fig. 8)",
        experiment: Experiment::Mnist,
        table1: Some(Table1Entry {
            column: "MNIST",
            accuracy: true,
            paper: ("98.5%", "98.0%"),
            structure: "the receptive field shrinks: at most 60 % of the pixels keep a visible weight",
            shows_structure: mnist::receptive_field_shrinks,
        }),
    },
    Preset {
        name: "graph",
        description: "your own network (--arch FILE.json) on your data (--data FILE.csv --targets ... or --formula)",
        experiment: Experiment::Custom,
        table1: None,
    },
    Preset {
        name: "mlp",
        description: "an MLP with --hidden widths on your data (--data FILE.csv --targets ... or --formula)",
        experiment: Experiment::Custom,
        table1: None,
    },
];

/// The preset called `name`, or an error that lists the known ones.
pub fn find(name: &str) -> Result<&'static Preset, String> {
    PRESETS.iter().find(|p| p.name == name).ok_or_else(|| {
        let known: Vec<&str> = PRESETS.iter().map(|p| p.name).collect();
        format!(
            "unknown preset '{name}'; known presets: {}",
            known.join(", ")
        )
    })
}

/// The presets of Table 1, in the paper's column order.
pub fn table1_presets() -> impl Iterator<Item = (&'static Preset, &'static Table1Entry)> {
    PRESETS
        .iter()
        .filter_map(|p| p.table1.as_ref().map(|entry| (p, entry)))
}
