//! The layout of a network, as BIMT sees it: which neuron layers exist and where they sit,
//! which weight matrices join them, and which neurons may trade places.
//!
//! A model declares its layout once with [`LayoutBuilder`]; the regulariser, the swapper, the
//! exporter and the views then work for it without knowing what the architecture is.
//!
//! ```
//! use bimt_layout::{LayoutBuilder, Placement};
//! let mut b = LayoutBuilder::new();
//! let input = b.layer("input", 4, Placement::Line, 0.0);
//! let hidden = b.layer("hidden", 20, Placement::Line, 1.0);
//! let output = b.layer("output", 2, Placement::Line, 2.0);
//! b.linear(input, hidden, true);
//! b.linear(hidden, output, true);
//! b.input(input).output(output);
//! let layout = b.build().unwrap();
//! assert_eq!(layout.domains().len(), 3); // one free domain per layer
//! assert_eq!(layout.params().len(), 4); // two weights, two biases
//! ```

#![warn(missing_docs)]

mod builder;
mod distance;
mod domains;
mod layout;

pub use bimt_manifold::{Metric, Placement};
pub use builder::LayoutBuilder;
pub use distance::{CostConfig, Distances, Reduction};
pub use layout::{
    Axis, Connection, ConnectionId, Domain, DomainId, LayerId, Layout, LayoutError, NeuronLayer,
    ParamId, ParamSpec, Permutation, Tied,
};
pub use petgraph::Direction;
