//! The questions, as MILPs over an [`Encoding`]: each adds an objective and a few rows.
//!
//! Each function returns the solver's raw [`Outcome`] (with input points extracted); the oracle
//! decides what an outcome proves. Keeping the mathematics here and the judgement there means a
//! solver quirk cannot silently become a proof.

use super::encode::{Encoding, LinExpr};
use super::solver::{self, Limits, Milp, Outcome, Sense, SolverError};
use crate::property::Constraint;

/// Adds `lb <= expr <= ub` to `milp`.
pub fn constrain(milp: &mut Milp, expr: &LinExpr, lb: f64, ub: f64) {
    milp.add_row(lb - expr.constant, ub - expr.constant, expr.terms.clone());
}

/// Sets the objective of `milp` to `expr`.
pub(crate) fn set_objective(milp: &mut Milp, expr: &LinExpr) {
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
    /// The input part of the relaxation's point ([`Outcome::relaxed`]), if there is one.
    pub relaxed_point: Option<Vec<f64>>,
}

fn answer(enc: &Encoding, outcome: Outcome) -> Answer {
    let point = outcome.solution.as_deref().map(|s| enc.input_point(s));
    let relaxed_point = outcome.relaxed.as_deref().map(|s| enc.input_point(s));
    Answer {
        outcome,
        point,
        relaxed_point,
    }
}

/// A property constraint's *satisfaction* `-value(x, y)` as a linear expression over the
/// encoding's columns (an input the box fixes contributes a constant). The constraint holds
/// where the expression is `>= 0` (`> 0` when strict).
pub fn satisfaction(enc: &Encoding, c: &Constraint) -> LinExpr {
    let mut e = LinExpr {
        terms: Vec::with_capacity(c.x.len() + 2 * c.y.len()),
        constant: -c.constant,
    };
    for &(i, a) in &c.x {
        match enc.input[i] {
            Some(col) => e.terms.push((col, -a)),
            None => e.constant -= a * enc.region.lb()[i],
        }
    }
    for &(j, b) in &c.y {
        let out = &enc.outputs[j];
        e.constant -= b * out.constant;
        for &(col, v) in &out.terms {
            match e.terms.iter_mut().find(|(tc, _)| *tc == col) {
                Some(t) => t.1 -= b * v,
                None => e.terms.push((col, -b * v)),
            }
        }
    }
    e.terms.retain(|&(_, v)| v != 0.0);
    e
}

/// Is there x in the encoded box where every expression is `>= -tau`? One expression:
/// maximise it under that constraint; several: maximise `s` with `s <= expr_k` ([`member`]).
/// Stops at the first point where the objective is positive (every expression satisfied with
/// room to spare). Infeasible means proved: on the whole box some expression is `< -tau`.
pub fn satisfy(
    enc: &Encoding,
    exprs: &[LinExpr],
    tau: f64,
    limits: &Limits,
) -> Result<Answer, SolverError> {
    let [e] = exprs else {
        return member(enc, exprs, -tau, limits);
    };
    let mut milp = enc.milp.clone();
    constrain(&mut milp, e, -tau, f64::INFINITY);
    set_objective(&mut milp, e);
    let limits = Limits {
        objective_target: Some(0.0),
        ..limits.clone()
    };
    Ok(answer(enc, solver::solve(&milp, Sense::Maximise, &limits)?))
}

/// One disjunctive MILP: is there x in the encoded box where *some* expression `exprs[k]` is
/// `>= -tau`? Maximise `t` with `t <= expr_k + M_k (1 - s_k)`, `sum s_k = 1`, `t >= -tau`.
/// `bounds[k]` bounds `exprs[k]` from below and above over the box (valid bounds are required:
/// they are the big-M constants).
pub fn any_of(
    enc: &Encoding,
    exprs: &[LinExpr],
    bounds: &[(f64, f64)],
    tau: f64,
    limits: &Limits,
) -> Result<Answer, SolverError> {
    let mut milp = enc.milp.clone();
    let t_max = bounds.iter().map(|b| b.1).fold(f64::NEG_INFINITY, f64::max);
    let t = milp.add_col(-tau, t_max.max(-tau), false);
    let mut pick = Vec::with_capacity(exprs.len());
    for (m, &(lo, _)) in exprs.iter().zip(bounds) {
        let s = milp.add_col(0.0, 1.0, true);
        pick.push((s, 1.0));
        // t - expr + M s <= M, with M = t_max - lo >= 0.
        let big_m = (t_max - lo).max(0.0);
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

/// The LP of one linear region: maximise the expression (several: their minimum) with every
/// binary fixed to `x`'s activation pattern ([`Encoding::fix_pattern`] must have been
/// applied). Used to polish a near-boundary witness into a clear one.
pub fn polish(enc: &Encoding, exprs: &[LinExpr], limits: &Limits) -> Result<Answer, SolverError> {
    let limits = Limits {
        relaxation: true,
        ..limits.clone()
    };
    let mut milp = enc.milp.clone();
    if let [e] = exprs {
        set_objective(&mut milp, e);
    } else {
        let s = milp.add_col(f64::NEG_INFINITY, f64::INFINITY, false);
        for e in exprs {
            let mut terms: Vec<(usize, f64)> = e.terms.iter().map(|&(c, v)| (c, -v)).collect();
            terms.push((s, 1.0));
            milp.add_row(f64::NEG_INFINITY, e.constant, terms);
        }
        milp.cost.iter_mut().for_each(|v| *v = 0.0);
        milp.cost[s] = 1.0;
        milp.offset = 0.0;
    }
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
    match min_radius_model(enc, center, c, j, threshold, t_max) {
        Some(milp) => Ok(answer(enc, solver::solve(&milp, Sense::Minimise, limits)?)),
        None => Ok(answer(enc, solver::Outcome::infeasible())),
    }
}

/// The model of [`min_radius`] (to be minimised); `None` when the
/// coordinates the box fixes are already further than `t_max` from `center`.
pub fn min_radius_model(
    enc: &Encoding,
    center: &[f64],
    c: usize,
    j: usize,
    threshold: f64,
    t_max: f64,
) -> Option<Milp> {
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
        return None;
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
    Some(milp)
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
    let milp = extreme_coordinate_model(enc, coord, conditions, threshold);
    Ok(answer(enc, solver::solve(&milp, sense, limits)?))
}

/// The model of [`extreme_coordinate`]: the encoding with `expr_k >= threshold` for every
/// condition and input coordinate `coord` as the objective (to be minimised or maximised).
pub fn extreme_coordinate_model(
    enc: &Encoding,
    coord: usize,
    conditions: &[LinExpr],
    threshold: f64,
) -> Milp {
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
    milp
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
