//! A persistent LP: one HiGHS instance kept across solves, its bounds, costs and rows changed
//! in between, so that each re-solve starts from the last basis.
//!
//! Why apart from [`super::solver`]'s one-shot solves: branch and bound, LP tightening, slides
//! and the proof checker's leaf LPs all re-solve one model hundreds of times, and what they need
//! (bound and cost changes, bases, duals, dual rays, cuts) is a different contract from "solve
//! this MILP once and tell me exactly how it ended". Both share the loading and outcome
//! reading of [`super::solver`].

use highs_sys as sys;

use super::model::{Limits, Milp, Outcome, Row, Sense, SolverError};
use super::solver::{load, run, set_option, Handle, OptionValue};

/// A simplex basis of an [`Lp`]: HiGHS's status of every column and row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Basis {
    cols: Vec<sys::HighsInt>,
    rows: Vec<sys::HighsInt>,
}

/// Where a column or row sits in a basis that [`Basis::new`] builds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BasisStatus {
    /// Nonbasic at its lower bound.
    Lower,
    /// Basic.
    Basic,
    /// Nonbasic at its upper bound.
    Upper,
}

impl Basis {
    /// A basis from the status of every column and row (a row's bound is its activity's).
    pub fn new(cols: &[BasisStatus], rows: &[BasisStatus]) -> Self {
        let code = |s: &BasisStatus| match s {
            BasisStatus::Lower => 0,
            BasisStatus::Basic => 1,
            BasisStatus::Upper => 2,
        };
        Basis {
            cols: cols.iter().map(code).collect(),
            rows: rows.iter().map(code).collect(),
        }
    }
}

/// A persistent LP (HiGHS simplex) whose column bounds can be changed between solves; HiGHS
/// keeps the basis, so a re-solve after a few bound changes takes a few iterations.
pub struct Lp {
    h: Handle,
    ncol: usize,
    nrow: usize,
}

impl Lp {
    /// Loads the LP relaxation of `milp`.
    pub fn new(milp: &Milp, sense: Sense) -> Result<Self, SolverError> {
        Ok(Lp {
            h: load(milp, sense, true)?,
            ncol: milp.num_cols(),
            nrow: milp.rows.len(),
        })
    }

    /// Switches this LP to the primal simplex. Right when only the objective changes between
    /// solves (LP tightening): the last basis stays primal feasible, so each re-solve starts
    /// where the previous one ended, while the dual simplex (HiGHS's default, right when bounds
    /// change, as in branch and bound) restarts from a dual-infeasible basis and can stall for
    /// 10^5 iterations on the dense first layer of a 784-wide network.
    pub fn prefer_primal(&mut self) -> Result<(), SolverError> {
        set_option(&self.h, "simplex_strategy", OptionValue::Int(4))
    }

    /// Switches this LP back to the dual simplex: right after cuts were added (the last basis
    /// stays dual feasible, while the cut rows make it primal infeasible).
    pub fn prefer_dual(&mut self) -> Result<(), SolverError> {
        set_option(&self.h, "simplex_strategy", OptionValue::Int(1))
    }

    /// Turns HiGHS's presolve off: right for a small LP solved a few times in a row, where
    /// presolve's passes over the dense 784-wide first layer cost twice the simplex itself.
    pub fn without_presolve(&mut self) -> Result<(), SolverError> {
        set_option(&self.h, "presolve", OptionValue::Str("off".to_string()))
    }

    /// Changes the bounds of one column.
    pub fn set_bounds(&mut self, col: usize, lb: f64, ub: f64) -> Result<(), SolverError> {
        let c = sys::HighsInt::try_from(col).map_err(|_| SolverError::TooLarge)?;
        // SAFETY: valid handle; HiGHS checks the index.
        let s = unsafe { sys::Highs_changeColBounds(self.h.0, c, lb, ub) };
        if s == sys::STATUS_ERROR {
            return Err(SolverError::Rejected("Highs_changeColBounds"));
        }
        Ok(())
    }

    /// Solves the LP with its current bounds.
    pub fn solve(&mut self, limits: &Limits) -> Result<Outcome, SolverError> {
        run(&self.h, self.ncol, self.nrow, false, limits)
    }

    /// Proof hook: after a solve that ended infeasible, HiGHS's dual ray (one multiplier per
    /// row, a Farkas certificate up to sign and rounding), if HiGHS can give one.
    pub fn dual_ray(&mut self) -> Option<Vec<f64>> {
        let mut has: sys::HighsInt = 0;
        let mut ray = vec![0.0; self.nrow];
        // SAFETY: valid handle; the buffer holds one value per row as HiGHS expects.
        let s = unsafe { sys::Highs_getDualRay(self.h.0, &mut has, ray.as_mut_ptr()) };
        (s != sys::STATUS_ERROR && has != 0 && ray.iter().all(|v| v.is_finite())).then_some(ray)
    }

    /// Appends the rows `rows` (cuts; the basis is kept, their slacks basic) in one call:
    /// HiGHS rebuilds its column-wise matrix on every addition, so adding a round's cuts one
    /// by one cost as many copies of the whole matrix (with dense cuts, 5 % of LP
    /// tightening's time).
    pub fn add_rows(&mut self, rows: &[Row]) -> Result<(), SolverError> {
        if rows.is_empty() {
            return Ok(());
        }
        let to_int = |n: usize| sys::HighsInt::try_from(n).map_err(|_| SolverError::TooLarge);
        let mut starts = Vec::with_capacity(rows.len());
        let (mut idx, mut val) = (Vec::new(), Vec::new());
        for row in rows {
            starts.push(to_int(idx.len())?);
            for &(c, v) in &row.terms {
                idx.push(to_int(c)?);
                val.push(v);
            }
        }
        let lower: Vec<f64> = rows.iter().map(|r| r.lb).collect();
        let upper: Vec<f64> = rows.iter().map(|r| r.ub).collect();
        // SAFETY: valid handle; arrays of the stated lengths outlive the call.
        let s = unsafe {
            sys::Highs_addRows(
                self.h.0,
                to_int(rows.len())?,
                lower.as_ptr(),
                upper.as_ptr(),
                to_int(idx.len())?,
                starts.as_ptr(),
                idx.as_ptr(),
                val.as_ptr(),
            )
        };
        if s == sys::STATUS_ERROR {
            return Err(SolverError::Rejected("Highs_addRows"));
        }
        self.nrow += rows.len();
        Ok(())
    }

    /// The row activities `A x` of the last solve.
    pub fn row_values(&self) -> Vec<f64> {
        self.solution().2
    }

    /// The last solve's column values and duals, row activities and duals.
    fn solution(&self) -> (Vec<f64>, Vec<f64>, Vec<f64>, Vec<f64>) {
        let mut col = vec![0.0; self.ncol];
        let mut col_dual = vec![0.0; self.ncol];
        let mut row = vec![0.0; self.nrow];
        let mut row_dual = vec![0.0; self.nrow];
        // SAFETY: buffers sized ncol / nrow as HiGHS expects.
        unsafe {
            sys::Highs_getSolution(
                self.h.0,
                col.as_mut_ptr(),
                col_dual.as_mut_ptr(),
                row.as_mut_ptr(),
                row_dual.as_mut_ptr(),
            );
        }
        (col, col_dual, row, row_dual)
    }

    /// Deletes the rows whose indices are listed (ascending).
    pub fn delete_rows(&mut self, rows: &[usize]) -> Result<(), SolverError> {
        if rows.is_empty() {
            return Ok(());
        }
        let to_int = |n: usize| sys::HighsInt::try_from(n).map_err(|_| SolverError::TooLarge);
        let idx: Vec<sys::HighsInt> = rows.iter().map(|&r| to_int(r)).collect::<Result<_, _>>()?;
        // SAFETY: valid handle; the index array outlives the call.
        let s = unsafe { sys::Highs_deleteRowsBySet(self.h.0, to_int(rows.len())?, idx.as_ptr()) };
        if s == sys::STATUS_ERROR {
            return Err(SolverError::Rejected("Highs_deleteRowsBySet"));
        }
        self.nrow -= rows.len();
        Ok(())
    }

    /// The current simplex basis (column and row statuses), to restart a later solve from it.
    pub fn basis(&self) -> Option<Basis> {
        let mut cols: Vec<sys::HighsInt> = vec![0; self.ncol];
        let mut rows: Vec<sys::HighsInt> = vec![0; self.nrow];
        // SAFETY: valid handle; buffers sized ncol / nrow as HiGHS expects.
        let s = unsafe { sys::Highs_getBasis(self.h.0, cols.as_mut_ptr(), rows.as_mut_ptr()) };
        (s != sys::STATUS_ERROR).then_some(Basis { cols, rows })
    }

    /// Restarts from `basis` (taken from this LP with the same rows); `false` when HiGHS
    /// refuses it (the next solve then starts from the current basis).
    pub fn set_basis(&mut self, basis: &Basis) -> bool {
        if basis.cols.len() != self.ncol || basis.rows.len() != self.nrow {
            return false;
        }
        // SAFETY: valid handle; the arrays hold ncol / nrow statuses and outlive the call.
        let s = unsafe { sys::Highs_setBasis(self.h.0, basis.cols.as_ptr(), basis.rows.as_ptr()) };
        s != sys::STATUS_ERROR
    }

    /// Changes the objective coefficient of one column (the basis is kept: a re-solve after an
    /// objective change starts from the previous optimum).
    pub fn set_cost(&mut self, col: usize, cost: f64) -> Result<(), SolverError> {
        let c = sys::HighsInt::try_from(col).map_err(|_| SolverError::TooLarge)?;
        // SAFETY: valid handle; HiGHS checks the index.
        let s = unsafe { sys::Highs_changeColCost(self.h.0, c, cost) };
        if s == sys::STATUS_ERROR {
            return Err(SolverError::Rejected("Highs_changeColCost"));
        }
        Ok(())
    }

    /// The row duals of the last solve. They are only a *suggestion*: callers turn them into a
    /// bound with [`super::safe`], which is valid for any multipliers whatever their accuracy.
    pub fn row_duals(&self) -> Vec<f64> {
        self.solution().3
    }

    /// Proof hook: changes the bounds of one row.
    pub fn set_row_bounds(&mut self, row: usize, lb: f64, ub: f64) -> Result<(), SolverError> {
        let r = sys::HighsInt::try_from(row).map_err(|_| SolverError::TooLarge)?;
        // SAFETY: valid handle; HiGHS checks the index.
        let s = unsafe { sys::Highs_changeRowBounds(self.h.0, r, lb, ub) };
        if s == sys::STATUS_ERROR {
            return Err(SolverError::Rejected("Highs_changeRowBounds"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::milp::model::Status;

    /// HiGHS's own clock of `lp`'s last solve, in seconds: the clock its `time_limit` is
    /// compared with.
    fn run_time(lp: &Lp) -> f64 {
        // SAFETY: valid handle.
        unsafe { sys::Highs_getRunTime(lp.h.0) }
    }

    #[test]
    fn each_solve_of_a_persistent_lp_has_its_own_clock() {
        // A dense LP whose cold solve takes some milliseconds; warm re-solves take ~nothing.
        // HiGHS accumulates its run clock over an instance's runs (and compares `time_limit`
        // with it): without zeroing, a later solve of a persistent LP reports the time of all
        // solves so far, and stops at once when that exceeds the time it was given.
        let mut m = Milp::default();
        let n = 300;
        let cols: Vec<usize> = (0..n).map(|_| m.add_col(0.0, 1.0, false)).collect();
        let mut seed = 7u64;
        let mut next = || {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((seed >> 33) as f64) / (1u64 << 31) as f64
        };
        for &c in &cols {
            m.cost[c] = next();
        }
        for _ in 0..n {
            let terms = cols.iter().map(|&c| (c, next() - 0.3)).collect();
            m.add_row(f64::NEG_INFINITY, 1.0, terms);
        }
        let mut lp = Lp::new(&m, Sense::Maximise).unwrap();
        let t = std::time::Instant::now();
        assert_eq!(
            lp.solve(&Limits::default()).unwrap().status,
            Status::Optimal
        );
        let cold = t.elapsed().as_secs_f64();
        for _ in 0..3 {
            let t = std::time::Instant::now();
            let out = lp.solve(&Limits::default()).unwrap();
            let warm = t.elapsed().as_secs_f64();
            assert_eq!(out.status, Status::Optimal);
            assert!(
                run_time(&lp) <= warm + 1e-3,
                "HiGHS's clock says {:.4} s for a re-solve of {warm:.4} s (cold solve {cold:.4} s)",
                run_time(&lp)
            );
        }
    }
}
