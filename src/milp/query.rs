//! The questions, as MILPs over an [`Encoding`]: each adds an objective and a few rows.
//!
//! Each function returns the solver's raw [`Outcome`] (with input points extracted); the oracle
//! decides what an outcome proves. Keeping the mathematics here and the judgement there means a
//! solver quirk cannot silently become a proof.

use super::encode::{Encoding, LinExpr};
use super::solver::{self, Limits, Milp, Outcome, Sense, SolverError};

/// Adds `lb <= expr <= ub` to `milp`.
pub fn constrain(milp: &mut Milp, expr: &LinExpr, lb: f64, ub: f64) {
    milp.add_row(lb - expr.constant, ub - expr.constant, expr.terms.clone());
}

/// Sets the objective of `milp` to `expr`.
fn set_objective(milp: &mut Milp, expr: &LinExpr) {
    milp.cost.iter_mut().for_each(|c| *c = 0.0);
    for &(c, v) in &expr.terms {
        milp.cost[c] += v;
    }
    milp.offset = expr.constant;
}

/// A solver outcome together with the input point of its solution.
#[derive(Debug, Clone)]
pub struct Answer {
    /// The raw outcome.
    pub outcome: Outcome,
    /// The input part of the solution, if there is one.
    pub point: Option<Vec<f64>>,
}

fn answer(enc: &Encoding, outcome: Outcome) -> Answer {
    let point = outcome.solution.as_deref().map(|s| enc.input_point(s));
    Answer { outcome, point }
}

/// Is there x in the encoded box with `y_j - y_c >= -tau`? Maximises `y_j - y_c` under that
/// constraint and stops at the first point where the margin is positive (a counterexample).
/// Infeasible means proved: `y_j - y_c < -tau` on the whole box.
pub fn violation(
    enc: &Encoding,
    c: usize,
    j: usize,
    tau: f64,
    limits: &Limits,
) -> Result<Answer, SolverError> {
    let mut milp = enc.milp.clone();
    let m = enc.margin(c, j);
    constrain(&mut milp, &m, -tau, f64::INFINITY);
    set_objective(&mut milp, &m);
    let limits = Limits {
        objective_target: Some(0.0),
        ..limits.clone()
    };
    Ok(answer(enc, solver::solve(&milp, Sense::Maximise, &limits)?))
}

/// One disjunctive MILP for all competing classes `js`: maximise `t` with
/// `t <= y_j - y_c + M_j (1 - s_j)`, `sum s_j = 1`, `t >= -tau`. `margin_bounds[k]` bounds
/// `y_{js[k]} - y_c` from below and above over the box (valid bounds are required: they are the
/// big-M constants).
pub fn violation_disjunctive(
    enc: &Encoding,
    c: usize,
    js: &[usize],
    margin_bounds: &[(f64, f64)],
    tau: f64,
    limits: &Limits,
) -> Result<Answer, SolverError> {
    let mut milp = enc.milp.clone();
    let t_max = margin_bounds
        .iter()
        .map(|b| b.1)
        .fold(f64::NEG_INFINITY, f64::max);
    let t = milp.add_col(-tau, t_max.max(-tau), false);
    let mut pick = Vec::with_capacity(js.len());
    for (&j, &(lo, _)) in js.iter().zip(margin_bounds) {
        let s = milp.add_col(0.0, 1.0, true);
        pick.push((s, 1.0));
        // t - (y_j - y_c) + M s <= M, with M = t_max - lo >= 0.
        let big_m = (t_max - lo).max(0.0);
        let m = enc.margin(c, j);
        let mut terms: Vec<(usize, f64)> = m.terms.iter().map(|&(col, v)| (col, -v)).collect();
        terms.push((t, 1.0));
        terms.push((s, big_m));
        milp.add_row(f64::NEG_INFINITY, big_m + m.constant, terms);
    }
    milp.add_row(1.0, 1.0, pick);
    milp.cost.iter_mut().for_each(|v| *v = 0.0);
    milp.cost[t] = 1.0;
    milp.offset = 0.0;
    let limits = Limits {
        objective_target: Some(0.0),
        ..limits.clone()
    };
    Ok(answer(enc, solver::solve(&milp, Sense::Maximise, &limits)?))
}

/// The LP of one linear region: maximise `y_j - y_c` with every binary fixed to `x`'s activation
/// pattern ([`Encoding::fix_pattern`] must have been applied). Used to polish a near-boundary
/// witness into a clear counterexample.
pub fn polish(enc: &Encoding, c: usize, j: usize, limits: &Limits) -> Result<Answer, SolverError> {
    let mut milp = enc.milp.clone();
    set_objective(&mut milp, &enc.margin(c, j));
    let limits = Limits {
        relaxation: true,
        ..limits.clone()
    };
    Ok(answer(enc, solver::solve(&milp, Sense::Maximise, &limits)?))
}

/// Smallest L∞ distance `t` from `center` of a point of the encoded box with
/// `y_j - y_c >= threshold`. `t` is capped at `t_max` (infeasible: no such point that close).
pub fn min_radius(
    enc: &Encoding,
    center: &[f64],
    c: usize,
    j: usize,
    threshold: f64,
    t_max: f64,
    limits: &Limits,
) -> Result<Answer, SolverError> {
    let mut milp = enc.milp.clone();
    // Coordinates the box fixes still count towards the distance.
    let t_min = enc
        .input
        .iter()
        .zip(center)
        .enumerate()
        .filter(|(_, (c, _))| c.is_none())
        .map(|(i, (_, &x0))| (enc.region.lb()[i] - x0).abs())
        .fold(0.0, f64::max);
    if t_min > t_max {
        return Ok(answer(enc, solver::Outcome::infeasible()));
    }
    let t = milp.add_col(t_min, t_max, false);
    for (col, &x0) in enc.input.iter().zip(center) {
        let Some(col) = *col else { continue };
        // x - t <= x0 and x + t >= x0; a side where the box already stops at x0 (x* on the
        // domain's boundary) needs no row. Fewer rows make every LP of the search cheaper.
        if milp.col_ub[col] > x0 {
            milp.add_row(f64::NEG_INFINITY, x0, vec![(col, 1.0), (t, -1.0)]);
        }
        if milp.col_lb[col] < x0 {
            milp.add_row(x0, f64::INFINITY, vec![(col, 1.0), (t, 1.0)]);
        }
    }
    constrain(&mut milp, &enc.margin(c, j), threshold, f64::INFINITY);
    milp.cost.iter_mut().for_each(|v| *v = 0.0);
    milp.cost[t] = 1.0;
    milp.offset = 0.0;
    Ok(answer(enc, solver::solve(&milp, Sense::Minimise, limits)?))
}

/// Optimises input coordinate `coord` over the points of the encoded box that satisfy
/// `expr_k >= threshold` for the given expressions (all of them: a conjunction).
pub fn extreme_coordinate(
    enc: &Encoding,
    coord: usize,
    sense: Sense,
    conditions: &[LinExpr],
    threshold: f64,
    limits: &Limits,
) -> Result<Answer, SolverError> {
    let mut milp = enc.milp.clone();
    for e in conditions {
        constrain(&mut milp, e, threshold, f64::INFINITY);
    }
    milp.cost.iter_mut().for_each(|v| *v = 0.0);
    milp.offset = 0.0;
    match enc.input[coord] {
        Some(c) => milp.cost[c] = 1.0,
        // A coordinate the box fixes: the objective is that constant.
        None => milp.offset = enc.region.lb()[coord],
    }
    Ok(answer(enc, solver::solve(&milp, sense, limits)?))
}

/// Is there a point of the encoded box where every expression is `>= threshold`? Maximises
/// `s` with `s <= expr_k` for all k and `s >= threshold`; stops at the first point with `s > 0`.
/// Infeasible means proved: no such point.
pub fn member(
    enc: &Encoding,
    conditions: &[LinExpr],
    threshold: f64,
    limits: &Limits,
) -> Result<Answer, SolverError> {
    let mut milp = enc.milp.clone();
    let s = milp.add_col(threshold, f64::INFINITY, false);
    for e in conditions {
        // s - expr <= 0  <=>  s - terms <= constant
        let mut terms: Vec<(usize, f64)> = e.terms.iter().map(|&(c, v)| (c, -v)).collect();
        terms.push((s, 1.0));
        milp.add_row(f64::NEG_INFINITY, e.constant, terms);
    }
    milp.cost.iter_mut().for_each(|v| *v = 0.0);
    milp.cost[s] = 1.0;
    milp.offset = 0.0;
    let limits = Limits {
        objective_target: Some(0.0),
        ..limits.clone()
    };
    Ok(answer(enc, solver::solve(&milp, Sense::Maximise, &limits)?))
}
