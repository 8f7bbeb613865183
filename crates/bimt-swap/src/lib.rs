//! The swapper: permutes neurons inside their coupling groups so that the connection cost
//! drops while the network's function stays exactly the same (paper §2, step 3).
//!
//! It works on host copies of the parameters (row-major `Vec<f32>` per [`ParamId`]) and
//! returns, per domain, the permutation it applied, so the caller can move the trainable
//! tensors and the optimizer's moment estimates the same way.
//!
//! Greedy mode follows the paper: score every neuron by the absolute weights it touches
//! (eq. 5), take the top `k`, and swap each with the partner that lowers the cost most. The
//! cost change of a candidate swap is computed exactly from the rows and columns the two
//! neurons own (O(fan-in + fan-out)), never by re-evaluating the whole cost. Exact mode
//! places all neurons of a domain at once by solving a linear assignment problem.

#![warn(missing_docs)]

use bimt_layout::{Axis, Distances, DomainId, Layout, ParamId, Permutation};
use pathfinding::prelude::{Matrix, kuhn_munkres_min};

/// How a swap round searches: `greedy`, `exact` or `greedy-positions`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SwapMode {
    /// The paper's top-k greedy pairwise swaps.
    Greedy,
    /// Optimal placement of each domain given its neighbours (Hungarian algorithm); domains
    /// with a connection from the domain to itself fall back to greedy.
    Exact,
    /// The reference notebooks' greedy rule: the top-k *positions* are chosen once when the
    /// round starts, and each position's current occupant moves to the place (itself
    /// included) of lowest cost, the lowest index winning ties. Unlike [`SwapMode::Greedy`],
    /// which follows each top-k neuron wherever it moved, a neuron swapped onto a later top
    /// position can move twice and a top neuron swapped away is not tried again.
    GreedyPositions,
}

bimt_format::named_by_serde!(SwapMode);

/// Settings of a swap round.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SwapConfig {
    /// Important neurons (and blocks) tried per domain.
    pub top_k: usize,
    /// Greedy or exact.
    pub mode: SwapMode,
}

/// What a round did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SwapRound {
    /// Per domain, the permutation applied (position `q` now holds old neuron `perm[q]`), or
    /// `None` where nothing moved.
    pub permutations: Vec<Option<Permutation>>,
    /// Number of pairwise (or block, or assignment) moves applied.
    pub swaps: usize,
}

/// One connection as a domain sees it: which of its axes the domain moves.
#[derive(Clone, Copy)]
struct Term {
    weight: ParamId,
    rows: usize,
    cols: usize,
    /// Fold of the rows if the source layer is in the domain.
    row_fold: Option<usize>,
    /// Fold of the columns if the target layer is in the domain.
    col_fold: Option<usize>,
    distances: usize,
}

/// Column-major `|W|` and distances of one term (`[cols][rows]`), for contiguous column access.
struct Columns {
    abs_t: Vec<f32>,
    dist_t: Vec<f32>,
}

impl Columns {
    /// Follows a swap of columns `a` and `b` of the weight (distances stay with positions).
    fn swap(&mut self, rows: usize, a: usize, b: usize) {
        for r in 0..rows {
            self.abs_t.swap(a * rows + r, b * rows + r);
        }
    }
}

/// The swapper for one layout and one set of distances.
pub struct Swapper<'a> {
    layout: &'a Layout,
    distances: &'a Distances,
}

impl<'a> Swapper<'a> {
    /// A swapper using `distances` (normally the cost's own; the "L1 + swap" ablation passes
    /// local distances while training with plain L1).
    pub fn new(layout: &'a Layout, distances: &'a Distances) -> Self {
        Self { layout, distances }
    }

    fn terms(&self, domain: DomainId) -> Vec<Term> {
        let layout = self.layout;
        layout
            .connections()
            .filter_map(|(id, from, to, c)| {
                let shape = layout.params()[c.weight].shape;
                let row_fold = (layout.domain_of(from) == domain).then_some(c.in_fold);
                let col_fold = (layout.domain_of(to) == domain).then_some(c.out_fold);
                (row_fold.is_some() || col_fold.is_some()).then_some(Term {
                    weight: c.weight,
                    rows: shape[0],
                    cols: shape[1],
                    row_fold,
                    col_fold,
                    distances: id.index(),
                })
            })
            .collect()
    }

    /// Paper eq. 5: per neuron of the domain, the sum of absolute weights it touches.
    pub fn scores(&self, domain: DomainId, params: &[Vec<f32>]) -> Vec<f64> {
        let n = self.layout.domain_size(domain);
        let mut s = vec![0.0f64; n];
        for t in self.terms(domain) {
            let w = &params[t.weight];
            if t.row_fold.is_some() {
                for (r, row) in w.chunks_exact(t.cols).enumerate() {
                    s[r % n] += row.iter().map(|x| x.abs() as f64).sum::<f64>();
                }
            }
            if t.col_fold.is_some() {
                for row in w.chunks_exact(t.cols) {
                    for (c, x) in row.iter().enumerate() {
                        s[c % n] += x.abs() as f64;
                    }
                }
            }
        }
        s
    }

    /// The exact change of the connection cost if the domain's neurons moved by `map`
    /// (position `q` receives neuron `map(q)`), touching only the rows and columns that move.
    pub fn delta(
        &self,
        domain: DomainId,
        params: &[Vec<f32>],
        map: &dyn Fn(usize) -> usize,
    ) -> f64 {
        self.delta_terms(
            &self.terms(domain),
            self.layout.domain_size(domain),
            params,
            map,
        )
    }

    /// The exact change of the connection cost if neurons `j` and `k` of the domain traded
    /// places: [`delta`](Self::delta) of the transposition, computed as the greedy search does
    /// (one contiguous pass per moving row or column).
    pub fn swap_delta(&self, domain: DomainId, params: &[Vec<f32>], j: usize, k: usize) -> f64 {
        if j == k {
            return 0.0;
        }
        let terms = self.terms(domain);
        let columns = self.prepare(&terms, params);
        self.pair_delta(
            &terms,
            &columns,
            self.layout.domain_size(domain),
            params,
            j,
            k,
        )
    }

    fn delta_terms(
        &self,
        terms: &[Term],
        n: usize,
        params: &[Vec<f32>],
        map: &dyn Fn(usize) -> usize,
    ) -> f64 {
        let moved: Vec<usize> = (0..n).filter(|&q| map(q) != q).collect();
        if moved.is_empty() {
            return 0.0;
        }
        terms
            .iter()
            .map(|t| self.term_delta(t, n, params, map, &moved))
            .sum()
    }

    /// One term's share of [`delta_terms`](Self::delta_terms); `moved` lists the positions
    /// with `map(q) != q`.
    fn term_delta(
        &self,
        t: &Term,
        n: usize,
        params: &[Vec<f32>],
        map: &dyn Fn(usize) -> usize,
        moved: &[usize],
    ) -> f64 {
        let w = &params[t.weight];
        let d = &self.distances.weight[t.distances];
        let pr = |a: usize| {
            if t.row_fold.is_some() {
                a - a % n + map(a % n)
            } else {
                a
            }
        };
        let pc = |b: usize| {
            if t.col_fold.is_some() {
                b - b % n + map(b % n)
            } else {
                b
            }
        };
        let moved_rows: Vec<usize> = match t.row_fold {
            Some(f) => (0..f)
                .flat_map(|k| moved.iter().map(move |&q| k * n + q))
                .collect(),
            None => Vec::new(),
        };
        let moved_cols: Vec<usize> = match t.col_fold {
            Some(f) => (0..f)
                .flat_map(|k| moved.iter().map(move |&q| k * n + q))
                .collect(),
            None => Vec::new(),
        };
        let mut sum = 0.0f32;
        for &a in &moved_rows {
            let src = pr(a) * t.cols;
            let (row, drow) = (
                &w[a * t.cols..(a + 1) * t.cols],
                &d[a * t.cols..(a + 1) * t.cols],
            );
            if t.col_fold.is_some() {
                for b in 0..t.cols {
                    sum += (w[src + pc(b)].abs() - row[b].abs()) * drow[b];
                }
            } else {
                let srow = &w[src..src + t.cols];
                for b in 0..t.cols {
                    sum += (srow[b].abs() - row[b].abs()) * drow[b];
                }
            }
        }
        if !moved_cols.is_empty() {
            let row_moves = |a: usize| t.row_fold.is_some() && map(a % n) != a % n;
            for a in (0..t.rows).filter(|&a| !row_moves(a)) {
                let base = a * t.cols;
                for &b in &moved_cols {
                    sum += (w[base + pc(b)].abs() - w[base + b].abs()) * d[base + b];
                }
            }
        }
        sum as f64
    }

    /// Column-major copies of `|W|` and of the distances of every term whose columns (and
    /// only columns) the domain moves, so that a column is one contiguous slice.
    fn prepare(&self, terms: &[Term], params: &[Vec<f32>]) -> Vec<Option<Columns>> {
        terms
            .iter()
            .map(|t| {
                if t.col_fold.is_none() || t.row_fold.is_some() {
                    return None;
                }
                let (w, d) = (&params[t.weight], &self.distances.weight[t.distances]);
                let mut abs_t = vec![0.0f32; t.rows * t.cols];
                let mut dist_t = vec![0.0f32; t.rows * t.cols];
                for r in 0..t.rows {
                    for c in 0..t.cols {
                        abs_t[c * t.rows + r] = w[r * t.cols + c].abs();
                        dist_t[c * t.rows + r] = d[r * t.cols + c];
                    }
                }
                Some(Columns { abs_t, dist_t })
            })
            .collect()
    }

    /// The exact cost change of swapping positions `j` and `k` (`j != k`) of a domain: equal
    /// to [`delta_terms`](Self::delta_terms) with the transposition as `map`, but each moving
    /// row or column costs one contiguous pass, `(|w_k| − |w_j|)·(d_j − d_k)`.
    fn pair_delta(
        &self,
        terms: &[Term],
        columns: &[Option<Columns>],
        n: usize,
        params: &[Vec<f32>],
        j: usize,
        k: usize,
    ) -> f64 {
        let mut total = 0.0f64;
        for (t, cols) in terms.iter().zip(columns) {
            if t.row_fold.is_some() && t.col_fold.is_some() {
                // A connection from the domain to itself: rows and columns move together.
                let map = |q: usize| {
                    if q == j {
                        k
                    } else if q == k {
                        j
                    } else {
                        q
                    }
                };
                total += self.term_delta(t, n, params, &map, &[j.min(k), j.max(k)]);
                continue;
            }
            let (w, d) = (&params[t.weight], &self.distances.weight[t.distances]);
            let mut sum = 0.0f32;
            if let Some(f) = t.row_fold {
                let c = t.cols;
                for fold in 0..f {
                    let (a, b) = ((fold * n + j) * c, (fold * n + k) * c);
                    let (wa, wb) = (&w[a..a + c], &w[b..b + c]);
                    let (da, db) = (&d[a..a + c], &d[b..b + c]);
                    for i in 0..c {
                        sum += (wb[i].abs() - wa[i].abs()) * (da[i] - db[i]);
                    }
                }
            }
            if let (Some(f), Some(cols)) = (t.col_fold, cols) {
                let r = t.rows;
                for fold in 0..f {
                    let (a, b) = ((fold * n + j) * r, (fold * n + k) * r);
                    let (wa, wb) = (&cols.abs_t[a..a + r], &cols.abs_t[b..b + r]);
                    let (da, db) = (&cols.dist_t[a..a + r], &cols.dist_t[b..b + r]);
                    for i in 0..r {
                        sum += (wb[i] - wa[i]) * (da[i] - db[i]);
                    }
                }
            }
            total += sum as f64;
        }
        total
    }

    /// Runs one swap round over every movable domain, updating `params` in place.
    pub fn round(&self, params: &mut [Vec<f32>], config: &SwapConfig) -> SwapRound {
        let mut round = SwapRound {
            permutations: Vec::new(),
            swaps: 0,
        };
        for domain in 0..self.layout.domains().len() {
            let perm = if self.layout.domains()[domain].fixed {
                None
            } else {
                self.round_domain(domain, params, config, &mut round.swaps)
            };
            round.permutations.push(perm);
        }
        round
    }

    fn round_domain(
        &self,
        domain: DomainId,
        params: &mut [Vec<f32>],
        config: &SwapConfig,
        swaps: &mut usize,
    ) -> Option<Permutation> {
        let n = self.layout.domain_size(domain);
        let terms = self.terms(domain);
        let axes = self.layout.domain_axes(domain);
        let block = self.layout.domains()[domain].block.unwrap_or(n);
        let mut perm: Permutation = (0..n).collect();
        let self_connected = terms
            .iter()
            .any(|t| t.row_fold.is_some() && t.col_fold.is_some());
        if config.mode == SwapMode::Exact && !self_connected {
            for start in (0..n).step_by(block) {
                let local = self.assignment(&terms, n, start, block, params);
                if local.iter().enumerate().any(|(q, &p)| q != p) {
                    let map = |q: usize| {
                        if q >= start && q < start + block {
                            start + local[q - start]
                        } else {
                            q
                        }
                    };
                    if self.delta_terms(&terms, n, params, &map) < 0.0 {
                        let full: Permutation = (0..n).map(map).collect();
                        apply_host(self.layout, &axes, params, &full);
                        perm = full.iter().map(|&p| perm[p]).collect();
                        *swaps += 1;
                    }
                }
            }
        } else {
            let scores = self.scores(domain, params);
            let mut columns = self.prepare(&terms, params);
            let mut order: Vec<usize> = (0..n).collect();
            order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(a.cmp(&b)));
            let by_position = config.mode == SwapMode::GreedyPositions;
            for &neuron in order.iter().take(config.top_k) {
                // `perm[q]` is the round-start index of the neuron now at position `q`.
                let j = if by_position {
                    neuron
                } else {
                    perm.iter().position(|&p| p == neuron).unwrap_or(neuron)
                };
                let first = j - j % block;
                let mut best = (0.0, j);
                for k in (first..first + block).filter(|&k| k != j) {
                    let delta = self.pair_delta(&terms, &columns, n, params, j, k);
                    // By position, as an argmin over every place: ties go to the lowest index.
                    if delta < best.0 || (by_position && delta == best.0 && k < best.1) {
                        best = (delta, k);
                    }
                }
                let (delta, k) = best;
                let accepted = if by_position {
                    delta <= 0.0
                } else {
                    delta < -1e-12
                };
                if k != j && accepted {
                    let mut swap: Permutation = (0..n).collect();
                    swap.swap(j, k);
                    apply_host(self.layout, &axes, params, &swap);
                    for (t, cols) in terms.iter().zip(&mut columns) {
                        if let (Some(f), Some(cols)) = (t.col_fold, cols) {
                            for fold in 0..f {
                                cols.swap(t.rows, fold * n + j, fold * n + k);
                            }
                        }
                    }
                    perm.swap(j, k);
                    *swaps += 1;
                }
            }
            if block < n {
                self.block_swaps(domain, &terms, &axes, params, config, &mut perm, swaps);
            }
        }
        perm.iter()
            .enumerate()
            .any(|(q, &p)| q != p)
            .then_some(perm)
    }

    #[allow(clippy::too_many_arguments)]
    fn block_swaps(
        &self,
        domain: DomainId,
        terms: &[Term],
        axes: &[Axis],
        params: &mut [Vec<f32>],
        config: &SwapConfig,
        perm: &mut Permutation,
        swaps: &mut usize,
    ) {
        let n = self.layout.domain_size(domain);
        let block = self.layout.domains()[domain].block.unwrap_or(n);
        let blocks = n / block;
        let scores = self.scores(domain, params);
        let mut block_scores: Vec<(f64, usize)> = (0..blocks)
            .map(|b| (scores[b * block..(b + 1) * block].iter().sum(), b))
            .collect();
        block_scores.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        // `at[y]`: the round-start index of the block now at block position `y`.
        let mut at: Vec<usize> = (0..blocks).collect();
        for &(_, start_block) in block_scores.iter().take(config.top_k) {
            let x = at
                .iter()
                .position(|&b| b == start_block)
                .unwrap_or(start_block);
            let map_for = |y: usize| {
                move |q: usize| match q / block {
                    b if b == x => y * block + q % block,
                    b if b == y => x * block + q % block,
                    _ => q,
                }
            };
            let mut best = (0.0, x);
            for y in (0..blocks).filter(|&y| y != x) {
                let delta = self.delta_terms(terms, n, params, &map_for(y));
                if delta < best.0 {
                    best = (delta, y);
                }
            }
            let (delta, y) = best;
            if y != x && delta < -1e-12 {
                let swap: Permutation = (0..n).map(map_for(y)).collect();
                apply_host(self.layout, axes, params, &swap);
                *perm = swap.iter().map(|&p| perm[p]).collect();
                at.swap(x, y);
                *swaps += 1;
            }
        }
    }

    /// Optimal placement of the neurons `start..start + len` among those same positions,
    /// everything else fixed: `result[q - start] = j - start` puts neuron `j` at position `q`.
    fn assignment(
        &self,
        terms: &[Term],
        n: usize,
        start: usize,
        len: usize,
        params: &[Vec<f32>],
    ) -> Vec<usize> {
        // cost[j][q]: what neuron j's weights cost if it sat at position q.
        let mut cost = vec![vec![0.0f64; len]; len];
        for t in terms {
            let w = &params[t.weight];
            let d = &self.distances.weight[t.distances];
            if let Some(f) = t.row_fold {
                for k in 0..f {
                    for (j, row) in cost.iter_mut().enumerate() {
                        let src = &w[(k * n + start + j) * t.cols..][..t.cols];
                        for (q, c) in row.iter_mut().enumerate() {
                            let dst = &d[(k * n + start + q) * t.cols..][..t.cols];
                            *c += src
                                .iter()
                                .zip(dst)
                                .map(|(w, d)| (w.abs() * d) as f64)
                                .sum::<f64>();
                        }
                    }
                }
            }
            if let Some(f) = t.col_fold {
                for k in 0..f {
                    for a in 0..t.rows {
                        let base = a * t.cols + k * n + start;
                        for j in 0..len {
                            let wa = w[base + j].abs();
                            if wa != 0.0 {
                                for q in 0..len {
                                    cost[j][q] += (wa * d[base + q]) as f64;
                                }
                            }
                        }
                    }
                }
            }
        }
        let max = cost
            .iter()
            .flatten()
            .fold(0.0f64, |m, &c| m.max(c.abs()))
            .max(f64::MIN_POSITIVE);
        let scale = 1e12 / max;
        let matrix = Matrix::from_rows(
            cost.iter()
                .map(|row| row.iter().map(|&c| (c * scale).round() as i64)),
        )
        .expect("square cost matrix");
        let (_, assignment) = kuhn_munkres_min(&matrix);
        // assignment[j] = q; invert into position -> neuron.
        let mut local = vec![0; len];
        for (j, &q) in assignment.iter().enumerate() {
            local[q] = j;
        }
        local
    }
}

/// Moves every axis of a domain by `perm` in host memory (position `q` receives `perm[q]`).
pub fn apply_host(layout: &Layout, axes: &[Axis], params: &mut [Vec<f32>], perm: &[usize]) {
    for axis in axes {
        let [rows, cols] = layout.params()[axis.param].shape;
        let gather = axis.gather(perm);
        let old = params[axis.param].clone();
        let new = &mut params[axis.param];
        if axis.axis == 0 {
            for (r, &src) in gather.iter().enumerate() {
                new[r * cols..(r + 1) * cols].copy_from_slice(&old[src * cols..(src + 1) * cols]);
            }
        } else {
            for r in 0..rows {
                for (c, &src) in gather.iter().enumerate() {
                    new[r * cols + c] = old[r * cols + src];
                }
            }
        }
    }
}
