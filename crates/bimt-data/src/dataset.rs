//! The plain containers every generator and loader returns.

/// Targets of one split.
#[derive(Debug, Clone, PartialEq)]
pub enum Targets {
    /// Row-major `n × dim` real targets.
    Regression {
        /// The `n * dim` values, row-major.
        values: Vec<f32>,
        /// Width of one target row.
        dim: usize,
    },
    /// One class index per sample.
    Classes {
        /// One label in `0..classes` per sample.
        labels: Vec<u32>,
        /// Number of classes.
        classes: usize,
    },
}

impl Targets {
    /// The output width a model needs: `dim` for regression, `classes` for
    /// classification.
    pub fn dim(&self) -> usize {
        match self {
            Targets::Regression { dim, .. } => *dim,
            Targets::Classes { classes, .. } => *classes,
        }
    }

    /// Number of samples these targets describe.
    pub fn len(&self) -> usize {
        match self {
            Targets::Regression { values, dim } => values.len().checked_div(*dim).unwrap_or(0),
            Targets::Classes { labels, .. } => labels.len(),
        }
    }

    /// Whether there are no samples.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The targets of the samples at `indices`, in that order.
    ///
    /// Panics if an index is out of range.
    pub fn subset(&self, indices: &[usize]) -> Targets {
        match self {
            Targets::Regression { values, dim } => Targets::Regression {
                values: indices
                    .iter()
                    .flat_map(|&i| &values[i * dim..(i + 1) * dim])
                    .copied()
                    .collect(),
                dim: *dim,
            },
            Targets::Classes { labels, classes } => Targets::Classes {
                labels: indices.iter().map(|&i| labels[i]).collect(),
                classes: *classes,
            },
        }
    }
}

/// One split: `n` samples, row-major inputs of `in_dim` floats each.
#[derive(Debug, Clone, PartialEq)]
pub struct Split {
    /// The `n * in_dim` input values, row-major.
    pub inputs: Vec<f32>,
    /// Number of samples.
    pub n: usize,
    /// Width of one input row.
    pub in_dim: usize,
    /// The `n` targets.
    pub targets: Targets,
}

impl Split {
    /// The input row of sample `i`.
    ///
    /// Panics if `i >= n`.
    pub fn row(&self, i: usize) -> &[f32] {
        &self.inputs[i * self.in_dim..(i + 1) * self.in_dim]
    }

    /// The regression target row of sample `i`, or `None` for a
    /// classification split or an index out of range.
    pub fn target_row(&self, i: usize) -> Option<&[f32]> {
        match &self.targets {
            Targets::Regression { values, dim } if i < self.n => values.get(i * dim..(i + 1) * dim),
            _ => None,
        }
    }

    /// The class label of sample `i`, or `None` for a regression split or an
    /// index out of range.
    pub fn label(&self, i: usize) -> Option<u32> {
        match &self.targets {
            Targets::Classes { labels, .. } => labels.get(i).copied(),
            Targets::Regression { .. } => None,
        }
    }

    /// A new split holding copies of the samples at `indices`, in that order
    /// (for example one batch from a [`crate::BatchSampler`]).
    ///
    /// Panics if an index is out of range.
    pub fn subset(&self, indices: &[usize]) -> Split {
        Split {
            inputs: indices.iter().flat_map(|&i| self.row(i)).copied().collect(),
            n: indices.len(),
            in_dim: self.in_dim,
            targets: self.targets.subset(indices),
        }
    }
}

/// A train/test pair with human-readable names for input and output units.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    /// Training split.
    pub train: Split,
    /// Test split.
    pub test: Split,
    /// One name per input coordinate (`in_dim` names).
    pub input_names: Vec<String>,
    /// One name per output unit (`targets.dim()` names).
    pub output_names: Vec<String>,
    /// Rows per sample: 1, or `T` for sequences of `T` positions, whose rows come
    /// sequence-major (row `b·T + t` is position `t` of sequence `b`); batches and splits keep
    /// a sample's rows together.
    pub rows_per_sample: usize,
}

impl Dataset {
    /// Width of one input row.
    pub fn in_dim(&self) -> usize {
        self.train.in_dim
    }

    /// Output width a model needs (see [`Targets::dim`]).
    pub fn out_dim(&self) -> usize {
        self.train.targets.dim()
    }
}
