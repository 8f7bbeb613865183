//! Where neurons sit, and how far apart two of them are.
//!
//! A neuron's position is a [`Point3`]: `x` and `y` are its coordinates within its layer
//! (a line uses `x` only, a grid or a ring both), `z` is its layer's depth along the stacking
//! axis, in units of the layer gap. A [`Metric`] turns two positions into a wiring length;
//! [`PaperMetric`] is the paper's `A·|Δ| + y*·|Δz|` (eq. 2) with the L1 or L2 norm, and any
//! type implementing [`Metric`] can replace it.
//!
//! ```
//! use bimt_manifold::{Metric, PaperMetric, Placement};
//! let metric = PaperMetric::l1(2.0, 0.1);
//! let below = Placement::Line.positions(4, 0.0).unwrap();
//! let above = Placement::Line.positions(2, 1.0).unwrap();
//! // (0.125 → 0.25): 2·0.125 + 0.1
//! assert!((metric.distance(&below[0], &above[0]) - 0.35).abs() < 1e-12);
//! ```

#![warn(missing_docs)]

use nalgebra::{Point2, Point3};
use std::f64::consts::TAU;
use std::fmt;

/// A wiring length between two neuron positions.
///
/// Implement this to train in any space: the regulariser and the swapper only ever ask for
/// distances between neurons of connected layers, computed once per connection.
pub trait Metric: Send + Sync {
    /// Length of a connection between neurons at `a` and `b`.
    fn distance(&self, a: &Point3<f64>, b: &Point3<f64>) -> f64;

    /// Short name written into run files (`l1`, `torus`, ...).
    fn name(&self) -> String;

    /// The length charged to a bias (and to a token embedding): by default the distance
    /// between two neurons at the same in-layer point, one layer apart (`y*` for the paper's metric).
    fn bias_length(&self) -> f64 {
        self.distance(&Point3::new(0.5, 0.5, 0.0), &Point3::new(0.5, 0.5, 1.0))
    }
}

/// The vector norm of the paper's metric.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Norm {
    /// `A·(|Δx| + |Δy|) + y*·|Δz|`, the paper's default.
    L1,
    /// `sqrt(A²·(Δx² + Δy²) + y*²·Δz²)`.
    L2,
}

/// The paper's metric (eq. 2): in-layer offsets scaled by `A`, layer offsets by `y*`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PaperMetric {
    /// Scale of in-layer distances; `A = 0` reduces the cost to plain L1 regularisation.
    pub a: f64,
    /// Distance between consecutive layers.
    pub y_star: f64,
    /// L1 or L2.
    pub norm: Norm,
}

impl PaperMetric {
    /// The L1 metric `A·|Δ| + y*`.
    pub fn l1(a: f64, y_star: f64) -> Self {
        Self {
            a,
            y_star,
            norm: Norm::L1,
        }
    }

    /// The L2 metric `sqrt(A²|Δ|² + y*²)`.
    pub fn l2(a: f64, y_star: f64) -> Self {
        Self {
            a,
            y_star,
            norm: Norm::L2,
        }
    }
}

impl Metric for PaperMetric {
    fn distance(&self, a: &Point3<f64>, b: &Point3<f64>) -> f64 {
        let d = b - a;
        let dz = self.y_star * d.z.abs();
        match self.norm {
            Norm::L1 => self.a * (d.x.abs() + d.y.abs()) + dz,
            Norm::L2 => ((self.a * self.a) * (d.x * d.x + d.y * d.y) + dz * dz).sqrt(),
        }
    }

    fn name(&self) -> String {
        match self.norm {
            Norm::L1 => "l1".into(),
            Norm::L2 => "l2".into(),
        }
    }
}

/// How the neurons of one layer are laid out within the layer.
#[derive(Clone, Debug, PartialEq)]
pub enum Placement {
    /// `n` neurons evenly on `[0, 1]`: `x = (i + 0.5)/n`.
    Line,
    /// `n` neurons evenly on `[start, end]`, a part of the line shared with other layers at
    /// the same depth: `x = start + (end - start)·(i + 0.5)/n`.
    Segment {
        /// Where the segment begins.
        start: f64,
        /// Where it ends.
        end: f64,
    },
    /// A `rows × cols` grid on `[0, 1]²`, row-major: neuron `r·cols + c` at
    /// `((c + 0.5)/cols, (r + 0.5)/rows)`.
    Grid {
        /// Rows of the grid.
        rows: usize,
        /// Columns of the grid.
        cols: usize,
    },
    /// `n` neurons evenly on a circle of `radius` around `center`, neuron `i` at angle `2πi/n`.
    Ring {
        /// The circle's centre.
        center: Point2<f64>,
        /// The circle's radius.
        radius: f64,
    },
    /// One given point per neuron.
    Explicit(Vec<Point2<f64>>),
}

/// A placement that does not fit its layer.
#[derive(Clone, Debug, PartialEq)]
pub struct PlacementError {
    /// What went wrong, naming expected and found sizes.
    pub message: String,
}

impl fmt::Display for PlacementError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for PlacementError {}

impl Placement {
    /// The positions of `n` neurons of a layer at `depth`.
    pub fn positions(&self, n: usize, depth: f64) -> Result<Vec<Point3<f64>>, PlacementError> {
        let points: Vec<Point2<f64>> = match self {
            Placement::Line => (0..n)
                .map(|i| Point2::new((i as f64 + 0.5) / n as f64, 0.0))
                .collect(),
            Placement::Segment { start, end } => (0..n)
                .map(|i| Point2::new(start + (end - start) * (i as f64 + 0.5) / n as f64, 0.0))
                .collect(),
            Placement::Grid { rows, cols } => {
                if rows * cols != n {
                    return Err(PlacementError {
                        message: format!(
                            "a {rows}x{cols} grid holds {} neurons, the layer has {n}",
                            rows * cols
                        ),
                    });
                }
                (0..n)
                    .map(|i| {
                        let (r, c) = (i / cols, i % cols);
                        Point2::new(
                            (c as f64 + 0.5) / *cols as f64,
                            (r as f64 + 0.5) / *rows as f64,
                        )
                    })
                    .collect()
            }
            Placement::Ring { center, radius } => (0..n)
                .map(|i| {
                    let t = TAU * i as f64 / n as f64;
                    Point2::new(center.x + radius * t.cos(), center.y + radius * t.sin())
                })
                .collect(),
            Placement::Explicit(points) => {
                if points.len() != n {
                    return Err(PlacementError {
                        message: format!(
                            "{} explicit points for a layer of {n} neurons",
                            points.len()
                        ),
                    });
                }
                points.clone()
            }
        };
        Ok(points
            .into_iter()
            .map(|p| Point3::new(p.x, p.y, depth))
            .collect())
    }

    /// How many in-layer coordinates this placement uses (1 for a line, 2 otherwise).
    pub fn dimensions(&self) -> usize {
        match self {
            Placement::Line | Placement::Segment { .. } => 1,
            _ => 2,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_spans_unit_interval() {
        let p = Placement::Line.positions(4, 2.0).unwrap();
        let xs: Vec<f64> = p.iter().map(|p| p.x).collect();
        assert_eq!(xs, vec![0.125, 0.375, 0.625, 0.875]);
        assert!(p.iter().all(|p| p.z == 2.0 && p.y == 0.0));
    }

    #[test]
    fn grid_is_row_major_and_checks_size() {
        let p = Placement::Grid { rows: 2, cols: 3 }
            .positions(6, 0.0)
            .unwrap();
        assert_eq!((p[1].x, p[1].y), (0.5, 0.25));
        assert_eq!((p[3].x, p[3].y), (1.0 / 6.0, 0.75));
        let err = Placement::Grid { rows: 28, cols: 28 }
            .positions(100, 0.0)
            .unwrap_err();
        assert!(
            err.message.contains("28x28") && err.message.contains("100"),
            "{err}"
        );
    }

    #[test]
    fn ring_has_given_radius() {
        let c = Point2::new(0.5, 0.5);
        let p = Placement::Ring {
            center: c,
            radius: 0.25,
        }
        .positions(10, 3.0)
        .unwrap();
        for q in &p {
            assert!(((q.x - 0.5).hypot(q.y - 0.5) - 0.25).abs() < 1e-12);
        }
        assert!((p[0].x - 0.75).abs() < 1e-12);
    }

    #[test]
    fn paper_metric_l1_and_l2() {
        let a = Point3::new(0.1, 0.2, 0.0);
        let b = Point3::new(0.4, 0.6, 1.0);
        let l1 = PaperMetric::l1(2.0, 0.5).distance(&a, &b);
        assert!((l1 - (2.0 * 0.7 + 0.5)).abs() < 1e-12);
        let l2 = PaperMetric::l2(2.0, 0.5).distance(&a, &b);
        assert!((l2 - (4.0 * 0.25f64 + 0.25).sqrt()).abs() < 1e-12);
        assert!((PaperMetric::l1(2.0, 0.5).bias_length() - 0.5).abs() < 1e-12);
    }
}
