//! The proof hook of the branch and bound (issue 15): the leaves a search closed, with a Farkas
//! certificate each, for [`crate::proof::emit`]. The search calls `LeafLog::close` on every
//! infeasible leaf and `LeafLog::gap` wherever it drops a subtree for another reason, only
//! when the caller passed a log in [`Limits::leaves`].

use std::sync::Mutex;

use super::solver::{Limits, Lp, Milp, Status};

/// Collects, when passed in [`Limits::leaves`], every leaf the branch and bound closes: its
/// binary fixings from the root and Farkas multipliers (one per row of the MILP) showing its LP
/// infeasible. Leaves closed any other way (pruned by a bound, no certificate from HiGHS) are
/// recorded as gaps: a proof cannot be written then.
#[derive(Debug, Default)]
pub struct LeafLog {
    state: Mutex<LeafLogState>,
    /// The row `objective >= threshold` of the question, if any: when HiGHS's dual ray does not
    /// prove a leaf, the leaf LP is re-solved without that row and its duals, with multiplier
    /// -1 on the row, make the certificate (a dual bound below the threshold).
    objective_row: Option<usize>,
    /// The column `s >= threshold` maximised by a conjunction's MILP ([`super::query::member`]):
    /// the same fallback, with the column's lower bound dropped instead of a row (the LP duals
    /// of `max s` are then a Farkas certificate as they are).
    objective_column: Option<usize>,
}

/// What a [`LeafLog`] collected.
#[derive(Debug, Default, Clone)]
pub struct LeafLogState {
    /// Closed leaves with their certificates.
    pub leaves: Vec<LeafRecord>,
    /// Why some closed leaves have none.
    pub gaps: Vec<String>,
}

/// One closed leaf.
#[derive(Debug, Clone)]
pub struct LeafRecord {
    /// `(column, value)` fixings in branching order.
    pub fix: Vec<(usize, u8)>,
    /// Farkas multipliers, one per row, sign chosen so that they prove infeasibility.
    pub multipliers: Vec<f64>,
}

impl LeafLog {
    /// A log for a MILP whose row `row` is `objective >= threshold` (maximisation).
    pub fn with_objective_row(row: usize) -> Self {
        LeafLog {
            objective_row: Some(row),
            ..Self::default()
        }
    }

    /// A log for a MILP that maximises its column `col` under `col >= threshold`.
    pub fn with_objective_column(col: usize) -> Self {
        LeafLog {
            objective_column: Some(col),
            ..Self::default()
        }
    }

    /// What was collected so far (and clears it).
    pub fn take(&self) -> LeafLogState {
        std::mem::take(&mut *self.state.lock().unwrap_or_else(|e| e.into_inner()))
    }

    pub(super) fn gap(&self, why: &str) {
        self.state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .gaps
            .push(why.to_string());
    }

    /// Records the leaf `fix` whose LP `lp` just ended infeasible.
    pub(super) fn close(
        &self,
        lp: &mut Lp,
        milp: &Milp,
        fixed: &[Option<u8>],
        fix: Vec<(usize, u8)>,
    ) {
        // Candidates, each under both signs (HiGHS's conventions aside): its dual ray, then
        // the duals of the LP without the objective row. The one that proves best in f64 is
        // kept; the checker redoes it rigorously.
        let mut candidates: Vec<Vec<f64>> = Vec::new();
        if let Some(ray) = lp.dual_ray() {
            candidates.push(ray);
        }
        let best = |cands: &[Vec<f64>]| {
            cands
                .iter()
                .flat_map(|y| [y.clone(), y.iter().map(|v| -v).collect()])
                .map(|y| clean(milp, y))
                .map(|y| (farkas_gap(milp, fixed, &y), y))
                .max_by(|a, b| a.0.total_cmp(&b.0))
        };
        let mut found = best(&candidates);
        if found.as_ref().is_none_or(|(g, _)| *g <= 0.0) {
            if let Some(row) = self.objective_row {
                if let Some(y) = objective_duals(lp, milp, row) {
                    // The objective row enters against the duals: which relative sign that is
                    // depends on HiGHS's convention, so both are tried.
                    let mut other = y.clone();
                    other[row] = -y[row];
                    candidates = vec![y, other];
                    let alt = best(&candidates);
                    if alt.as_ref().map(|a| a.0) > found.as_ref().map(|f| f.0) {
                        found = alt;
                    }
                }
            }
        }
        if found.as_ref().is_none_or(|(g, _)| *g <= 0.0) {
            if let Some(col) = self.objective_column {
                if let Some(y) = column_duals(lp, milp, col) {
                    let alt = best(&[y]);
                    if alt.as_ref().map(|a| a.0) > found.as_ref().map(|f| f.0) {
                        found = alt;
                    }
                }
            }
        }
        match found {
            Some((g, y)) if g > 0.0 => self
                .state
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .leaves
                .push(LeafRecord {
                    fix,
                    multipliers: y,
                }),
            Some((g, _)) => self.gap(&format!(
                "an infeasible leaf whose certificates do not prove it (best margin {g:.3e} in f64)"
            )),
            None => self.gap("an infeasible leaf without a certificate from HiGHS"),
        }
    }
}

/// The LP at the current fixings without row `row` (`objective >= threshold`): its duals `y`
/// with the row's multiplier set to 1: with the right relative and overall signs (settled by the
/// caller) a Farkas vector when the LP's maximum lies below the threshold. Restores the row.
fn objective_duals(lp: &mut Lp, milp: &Milp, row: usize) -> Option<Vec<f64>> {
    let r = milp.rows.get(row)?;
    lp.set_row_bounds(row, f64::NEG_INFINITY, f64::INFINITY)
        .ok()?;
    let out = lp.solve(&Limits {
        relaxation: true,
        ..Limits::default()
    });
    let mut y = match out {
        Ok(o) if o.status == Status::Optimal => Some(lp.row_duals()),
        Ok(o) if o.status == Status::Infeasible => lp.dual_ray(),
        _ => None,
    };
    // Restore the row (and the LP's state for the next node).
    lp.set_row_bounds(row, r.lb, r.ub).ok()?;
    if let Some(y) = y.as_mut() {
        y[row] = 1.0;
    }
    y
}

/// The LP at the current fixings with column `col`'s lower bound dropped, maximising `col`:
/// its row duals (or dual ray). Restores the bound.
fn column_duals(lp: &mut Lp, milp: &Milp, col: usize) -> Option<Vec<f64>> {
    let (lb, ub) = (*milp.col_lb.get(col)?, milp.col_ub[col]);
    lp.set_bounds(col, f64::NEG_INFINITY, ub).ok()?;
    let out = lp.solve(&Limits {
        relaxation: true,
        ..Limits::default()
    });
    let y = match out {
        Ok(o) if o.status == Status::Optimal => Some(lp.row_duals()),
        Ok(o) if o.status == Status::Infeasible => lp.dual_ray(),
        _ => None,
    };
    lp.set_bounds(col, lb, ub).ok()?;
    y
}

/// Drops multipliers that push a one-sided row against its missing side (HiGHS's duals carry
/// such entries at rounding level); any multipliers make a valid certificate if they prove.
fn clean(milp: &Milp, mut y: Vec<f64>) -> Vec<f64> {
    for (row, v) in milp.rows.iter().zip(y.iter_mut()) {
        if (*v > 0.0 && row.ub == f64::INFINITY) || (*v < 0.0 && row.lb == f64::NEG_INFINITY) {
            *v = 0.0;
        }
    }
    y
}

/// `Σ_cols min(r l, r u) - Σ_rows y·(bound)` with `r = Aᵀy`, in plain f64: positive when `y`
/// proves the LP (under the fixings) infeasible.
fn farkas_gap(milp: &Milp, fixed: &[Option<u8>], y: &[f64]) -> f64 {
    let mut r = vec![0.0; milp.num_cols()];
    let mut beta = 0.0;
    for (row, &yi) in milp.rows.iter().zip(y) {
        if yi == 0.0 {
            continue;
        }
        let b = if yi > 0.0 { row.ub } else { row.lb };
        if !b.is_finite() {
            return f64::NEG_INFINITY;
        }
        beta += yi * b;
        for &(c, v) in &row.terms {
            r[c] += yi * v;
        }
    }
    let mut alpha = 0.0;
    for (c, &rc) in r.iter().enumerate() {
        if rc == 0.0 {
            continue;
        }
        let (l, u) = match fixed[c] {
            Some(v) => (v as f64, v as f64),
            None => (milp.col_lb[c], milp.col_ub[c]),
        };
        alpha += (rc * l).min(rc * u);
    }
    alpha - beta
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::milp::solver::Sense;

    #[test]
    fn the_duals_of_max_s_certify_a_conjunction_whose_best_is_below_the_threshold() {
        // x in [0, 1]; s <= x - 0.5 and s <= -x - 0.5, s >= -0.1: max s = -0.5 < -0.1.
        let mut milp = Milp::default();
        let x = milp.add_col(0.0, 1.0, false);
        let s = milp.add_col(-0.1, f64::INFINITY, false);
        milp.add_row(f64::NEG_INFINITY, -0.5, vec![(s, 1.0), (x, -1.0)]);
        milp.add_row(f64::NEG_INFINITY, -0.5, vec![(s, 1.0), (x, 1.0)]);
        milp.cost = vec![0.0, 1.0];
        let mut lp = Lp::new(&milp, Sense::Maximise).unwrap();
        let y = column_duals(&mut lp, &milp, s).expect("duals");
        let fixed = vec![None; milp.num_cols()];
        let gap = [y.clone(), y.iter().map(|v| -v).collect()]
            .into_iter()
            .map(|y| farkas_gap(&milp, &fixed, &clean(&milp, y)))
            .fold(f64::NEG_INFINITY, f64::max);
        // y = (1/2, 1/2): s <= -0.5 with the x terms cancelled, against s >= -0.1: gap 0.4.
        assert!((gap - 0.4).abs() < 1e-9, "{gap}");
        // The column's bound is restored: the LP is infeasible again.
        let out = lp
            .solve(&Limits {
                relaxation: true,
                ..Limits::default()
            })
            .unwrap();
        assert_eq!(out.status, Status::Infeasible);
    }
}
