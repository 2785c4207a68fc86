//! Cutting planes for the big-M ReLU encoding: the inequalities of the ideal formulation of a
//! ReLU over a box (Anderson, Huchette, Ma, Tjandraatmadja & Vielma, "Strong mixed-integer
//! programming formulations for trained neural networks", Math. Programming 2020).
//!
//! The big-M rows relax each ReLU by its triangle over the neuron's *pre-activation* range; the
//! ideal formulation relaxes it over the box of the neuron's *inputs*, which is much tighter in
//! deep networks where a layer's inputs vary jointly. It has one inequality per subset `I` of the
//! inputs, and the most violated one for an LP point is found in linear time, so the cuts are
//! added in rounds at the root of the branch and bound, and in the LPs of bound tightening,
//! which keep them across solves in a `Pool`.
//!
//! For `z = Σ w_i v_i + b`, `v ∈ [L, U]`, `h = max(z, 0)`, phase binary `a`, with
//! `L̆_i, Ŭ_i` the ends of `[L_i, U_i]` that minimise / maximise `w_i v_i`:
//!
//! `h <= Σ_{i∈I} w_i (v_i − L̆_i (1 − a)) + (b + Σ_{i∉I} w_i Ŭ_i) a`
//!
//! Valid: at `a = 0` the right side is `Σ_{i∈I} w_i (v_i − L̆_i) >= 0 = h`; at `a = 1` it is
//! `Σ_I w_i v_i + b + Σ_{∉I} w_i Ŭ_i >= z = h`. Only the model's own (global) column bounds
//! are used, and `b` is the upper end of the defining row (which carries the encoding's rounding
//! slack), so each cut holds for every real execution in the box; its right side is further
//! widened by a bound on the rounding of its own evaluation.

use std::time::Instant;

use super::lp::Lp;
use super::solver::{Milp, ReluCols, Row};

/// Violation below which a cut is not worth its row.
const CUT_MIN_VIOLATION: f64 = 1e-5;

/// The most violated ideal-formulation inequality of `relu` at the LP point `sol`, when it cuts
/// `sol` off by more than `min_violation`; with its violation.
pub fn separate(
    milp: &Milp,
    relu: &ReluCols,
    sol: &[f64],
    min_violation: f64,
) -> Option<(Row, f64)> {
    let row = milp.rows.get(relu.row)?;
    let b = row.ub;
    if !b.is_finite() {
        return None;
    }
    let a_star = sol[relu.a].clamp(0.0, 1.0);
    let mut terms: Vec<(usize, f64)> = vec![(relu.h, 1.0)];
    let mut a_coef = b; // b + Σ_I w L̆ + Σ_∉I w Ŭ, negated below
    let mut rhs = 0.0; // −Σ_I w L̆
    let mut abs = b.abs();
    let mut count = 2usize;
    for &(v, coef) in &row.terms {
        if v == relu.z {
            continue;
        }
        let w = -coef;
        let (lo, hi) = (milp.col_lb[v], milp.col_ub[v]);
        if !lo.is_finite() || !hi.is_finite() {
            return None;
        }
        let (l_, u_) = if w >= 0.0 { (lo, hi) } else { (hi, lo) };
        let in_i = w * (sol[v] - l_ * (1.0 - a_star)) < w * u_ * a_star;
        if in_i {
            terms.push((v, -w));
            a_coef += w * l_;
            rhs -= w * l_;
            abs += 2.0 * (w * l_).abs() + (w * sol[v]).abs();
        } else {
            a_coef += w * u_;
            abs += (w * u_).abs();
        }
        count += 1;
    }
    terms.push((relu.a, -a_coef));
    // Rounding of the sums above, and a hair more: the cut must never cut a real point.
    let widen = (count as f64 + 2.0) * f64::EPSILON * abs * 4.0 + 1e-12;
    let rhs = rhs + widen;
    let lhs: f64 = terms.iter().map(|&(c, v)| v * sol[c]).sum();
    let violation = lhs - rhs;
    if violation <= min_violation {
        return None;
    }
    let cut = Row {
        lb: f64::NEG_INFINITY,
        ub: rhs,
        terms,
    };
    Some((cut, violation))
}

/// The `max` most violated cuts at `sol` over every ReLU of `milp` (violation above
/// `min_violation`), most violated first: one separation round.
pub fn most_violated(milp: &Milp, sol: &[f64], min_violation: f64, max: usize) -> Vec<Row> {
    let mut found: Vec<(Row, f64)> = milp
        .relus
        .iter()
        .filter_map(|r| separate(milp, r, sol, min_violation))
        .collect();
    found.sort_by(|a, b| b.1.total_cmp(&a.1));
    found.truncate(max);
    found.into_iter().map(|(row, _)| row).collect()
}

/// Whether a cut with row activity `activity` binds (is within a hair of its right side): a
/// cut that does not bind at an optimum is a candidate to drop, since dense rows slow every
/// later solve.
pub fn binds(cut: &Row, activity: f64) -> bool {
    activity >= cut.ub - 1e-7 * (1.0 + cut.ub.abs())
}

/// The cuts of one LP that is re-solved many times (a worker of LP tightening): their rows are
/// appended to `milp` (so that the LP's duals line up with `milp`'s rows for
/// [`super::safe::upper_bound`]) and to the LP; `last_bound[j]` is the last solve at which cut
/// `j` bound. Why a pool: most cuts bind for many objectives of one layer, so they are kept
/// across solves, and one idle for a while is dropped, since dense rows slow every solve.
pub(super) struct Pool {
    /// The model with the pool's cuts as its last rows.
    pub milp: Milp,
    base: usize,
    last_bound: Vec<usize>,
    /// The most violated cuts added per round.
    per_round: usize,
    /// A cut not binding at any of the last this many optima is dropped.
    idle: usize,
    /// Pair cuts ([`super::pairs`]) separated with the ideal ones, over the pairs among this
    /// many neurons per layer, until the given time.
    pairs: Option<(
        std::sync::Arc<super::pairs::PairCuts>,
        usize,
        Option<Instant>,
    )>,
}

impl Pool {
    /// An empty pool over `milp`, adding up to `per_round` cuts per round and dropping a cut
    /// idle for `idle` solves.
    pub fn new(milp: &Milp, per_round: usize, idle: usize) -> Self {
        Pool {
            milp: milp.clone(),
            base: milp.rows.len(),
            last_bound: Vec::new(),
            per_round,
            idle,
            pairs: None,
        }
    }

    /// Also separates pair cuts, over the pairs among the `top` neurons per layer that the LP
    /// point exploits most (up to `per_round` of them per round, besides the ideal cuts), and
    /// not after `stop_at`.
    pub fn with_pairs(
        mut self,
        pairs: std::sync::Arc<super::pairs::PairCuts>,
        top: usize,
        stop_at: Option<Instant>,
    ) -> Self {
        self.pairs = Some((pairs, top, stop_at));
        self
    }

    /// The cuts in the pool.
    pub fn count(&self) -> usize {
        self.last_bound.len()
    }

    /// Separates at `sol` and adds the most violated cuts; how many (0: none violated).
    pub fn separate(&mut self, lp: &mut Lp, sol: &[f64], solve: usize) -> Option<usize> {
        let mut found = most_violated(&self.milp, sol, CUT_MIN_VIOLATION, self.per_round);
        if let Some((pairs, top, stop_at)) = &self.pairs {
            found.extend(pairs.most_violated(sol, *top, self.per_round, *stop_at));
        }
        let n = found.len();
        lp.add_rows(&found).ok()?;
        self.last_bound.extend(std::iter::repeat_n(solve, n));
        self.milp.rows.extend(found);
        Some(n)
    }

    /// Notes which cuts bind at the LP's last optimum (solve number `solve`), then drops those
    /// idle for more than `idle` solves. Their slacks are basic, so the basis stays valid.
    pub fn age(&mut self, lp: &mut Lp, solve: usize) -> Option<()> {
        let act = lp.row_values();
        for (j, last) in self.last_bound.iter_mut().enumerate() {
            let cut = &self.milp.rows[self.base + j];
            if act.get(self.base + j).is_some_and(|&a| binds(cut, a)) {
                *last = solve;
            }
        }
        let drop: Vec<usize> = (0..self.last_bound.len())
            .filter(|&j| solve.saturating_sub(self.last_bound[j]) > self.idle)
            .collect();
        if drop.is_empty() {
            return Some(());
        }
        lp.delete_rows(&drop.iter().map(|j| self.base + j).collect::<Vec<_>>())
            .ok()?;
        let keep = |j: usize| drop.binary_search(&j).is_err();
        let cuts = self.milp.rows.split_off(self.base);
        self.milp.rows.extend(
            cuts.into_iter()
                .enumerate()
                .filter(|(j, _)| keep(*j))
                .map(|(_, r)| r),
        );
        let ages = std::mem::take(&mut self.last_bound);
        self.last_bound = ages
            .into_iter()
            .enumerate()
            .filter(|(j, _)| keep(*j))
            .map(|(_, a)| a)
            .collect();
        Some(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bounds::NeuronBounds;
    use crate::milp::encode::Encoding;
    use crate::network::{Layer, Network};
    use crate::region::Hyperbox;

    /// Every cut found at random LP-like points holds at every real execution of the network.
    #[test]
    fn cuts_never_cut_real_executions() {
        let net = Network::new(
            vec![
                Layer {
                    n_in: 3,
                    n_out: 4,
                    weights: vec![
                        1.0, -2.0, 0.5, -1.0, 1.0, 1.0, 0.3, 0.7, -0.9, 2.0, -1.5, 0.2,
                    ],
                    bias: vec![0.1, -0.2, 0.05, 0.0],
                    relu: true,
                },
                Layer {
                    n_in: 4,
                    n_out: 3,
                    weights: vec![
                        1.0, -1.0, 0.5, 0.25, -0.5, 1.0, 1.0, -1.0, 0.3, 0.3, -0.8, 1.1,
                    ],
                    bias: vec![0.0, 0.1, -0.1],
                    relu: true,
                },
                Layer {
                    n_in: 3,
                    n_out: 2,
                    weights: vec![1.0, -1.0, 0.5, -1.0, 1.0, 0.2],
                    bias: vec![0.0, 0.0],
                    relu: false,
                },
            ],
            vec![3],
        )
        .unwrap();
        let region = Hyperbox::uniform(3, -1.0, 1.0).unwrap();
        let bounds = NeuronBounds::symbolic(&net, &region);
        let enc = Encoding::new(&net, &region, &bounds);
        let m = &enc.milp;
        assert!(!m.relus.is_empty());
        let mut rnd = crate::network::uniform_stream(42u64);
        let mut cuts = Vec::new();
        for _ in 0..500 {
            // A random point of the column box (not feasible in general: any point may be asked).
            let p: Vec<f64> = (0..m.num_cols())
                .map(|c| m.col_lb[c] + (m.col_ub[c] - m.col_lb[c]) * rnd())
                .collect();
            for r in &m.relus {
                if let Some((row, _)) = separate(m, r, &p, 0.0) {
                    cuts.push(row);
                }
            }
        }
        assert!(!cuts.is_empty());
        // Real executions: the columns' values at sampled inputs.
        for _ in 0..2000 {
            let x: Vec<f64> = (0..3).map(|_| -1.0 + 2.0 * rnd()).collect();
            let tr = net.forward_trace(&x);
            let mut val = vec![0.0; m.num_cols()];
            for (i, c) in enc.input.iter().enumerate() {
                if let Some(c) = c {
                    val[*c] = x[i];
                }
            }
            for (b, r) in enc.binaries.iter().zip(&m.relus) {
                let z = tr[b.layer][b.neuron];
                val[r.z] = z;
                val[r.h] = z.max(0.0);
                val[r.a] = if z > 0.0 { 1.0 } else { 0.0 };
            }
            for cut in &cuts {
                // Only cuts whose columns we know (binaries' neurons and inputs).
                let known = cut.terms.iter().all(|&(c, _)| {
                    enc.input.contains(&Some(c))
                        || m.relus.iter().any(|r| r.a == c || r.h == c || r.z == c)
                });
                if !known {
                    continue;
                }
                let lhs: f64 = cut.terms.iter().map(|&(c, v)| v * val[c]).sum();
                assert!(
                    lhs <= cut.ub + 1e-12,
                    "cut violated by a real execution: {lhs} > {}",
                    cut.ub
                );
            }
        }
    }
}
