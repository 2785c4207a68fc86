//! A small, safe door to HiGHS (through `highs-sys`).
//!
//! Why not the `highs` or `good_lp` crates: a verifier must read the solver's *exact* outcome.
//! `highs` 1.12 panics when HiGHS reports a model status it does not know (e.g. "solution
//! limit reached", status 16, which is how an early stop on the first counterexample ends), and
//! neither exposes the MIP dual bound, the primal-solution status or an interrupt callback. This
//! module owns those few calls and turns every outcome into a typed [`Outcome`]; nothing here
//! decides what an outcome *means* for robustness (that is `query`'s job).

use std::ffi::{c_char, c_int, c_void, CString};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use highs_sys as sys;

/// A mixed-integer linear program, built row by row.
#[derive(Debug, Clone, Default)]
pub struct Milp {
    /// Objective coefficient of each column.
    pub cost: Vec<f64>,
    /// Column lower bounds.
    pub col_lb: Vec<f64>,
    /// Column upper bounds.
    pub col_ub: Vec<f64>,
    /// Whether each column is integer.
    pub integer: Vec<bool>,
    /// Rows: `lb <= sum coef * col <= ub`.
    pub rows: Vec<Row>,
    /// Constant added to the objective.
    pub offset: f64,
}

/// One linear constraint.
#[derive(Debug, Clone)]
pub struct Row {
    /// Lower bound (may be `-inf`).
    pub lb: f64,
    /// Upper bound (may be `+inf`).
    pub ub: f64,
    /// Sparse coefficients `(column, value)`.
    pub terms: Vec<(usize, f64)>,
}

impl Milp {
    /// Adds a column and returns its index.
    pub fn add_col(&mut self, lb: f64, ub: f64, integer: bool) -> usize {
        self.cost.push(0.0);
        self.col_lb.push(lb);
        self.col_ub.push(ub);
        self.integer.push(integer);
        self.cost.len() - 1
    }

    /// Adds a row `lb <= terms <= ub`.
    pub fn add_row(&mut self, lb: f64, ub: f64, terms: Vec<(usize, f64)>) {
        self.rows.push(Row { lb, ub, terms });
    }

    /// Number of columns.
    pub fn num_cols(&self) -> usize {
        self.cost.len()
    }

    /// Number of integer columns.
    pub fn num_integer(&self) -> usize {
        self.integer.iter().filter(|&&b| b).count()
    }
}

/// Objective sense.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sense {
    /// Minimise the objective.
    Minimise,
    /// Maximise the objective.
    Maximise,
}

/// How a solve may stop early.
#[derive(Debug, Clone, Default)]
pub struct Limits<'a> {
    /// Wall-clock limit for this solve.
    pub time: Option<Duration>,
    /// Stop as soon as a solution strictly better than this is found.
    pub objective_target: Option<f64>,
    /// Stop when this flag becomes true (checked by HiGHS's interrupt callback).
    pub stop: Option<&'a AtomicBool>,
    /// Solve the LP relaxation only (integrality dropped).
    pub relaxation: bool,
}

/// What HiGHS reported, in our words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Proved optimal (within the MIP gap tolerances set by [`solve`]).
    Optimal,
    /// Proved infeasible.
    Infeasible,
    /// Stopped on reaching the objective target (a solution is available).
    TargetReached,
    /// Stopped by the time limit.
    TimeLimit,
    /// Stopped by the caller's stop flag.
    Interrupted,
    /// Unbounded (a modelling error for our bounded problems).
    Unbounded,
    /// Anything else HiGHS may say (numerical trouble, errors): never a proof.
    Other(i32),
}

/// The outcome of one solve.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Final status.
    pub status: Status,
    /// Best primal solution found, if any (column values).
    pub solution: Option<Vec<f64>>,
    /// Objective of that solution.
    pub objective: Option<f64>,
    /// Proven bound on the optimum (for maximisation an upper bound, for minimisation a lower
    /// bound), when HiGHS reports one.
    pub dual_bound: Option<f64>,
    /// Wall-clock time spent in HiGHS.
    pub time: Duration,
    /// Branch-and-bound nodes explored.
    pub nodes: i64,
}

/// Errors from the solver library itself (not from the model's mathematics).
#[derive(Debug, thiserror::Error)]
pub enum SolverError {
    /// HiGHS refused the model or an option.
    #[error("HiGHS rejected the call {0}")]
    Rejected(&'static str),
    /// The model is too large for HiGHS's integer type.
    #[error("model too large for HiGHS")]
    TooLarge,
}

/// Tolerances used for every solve, tighter than HiGHS's defaults: margins are checked against
/// an explicit safety margin τ, and these keep the solver's own slack far below τ.
pub const PRIMAL_FEASIBILITY_TOLERANCE: f64 = 1e-9;
/// Integrality tolerance of binaries (a "binary" at 1e-9 relaxes a ReLU by at most 1e-9·M).
pub const INTEGRALITY_TOLERANCE: f64 = 1e-9;

struct Handle(*mut c_void);

impl Drop for Handle {
    fn drop(&mut self) {
        // SAFETY: the pointer came from Highs_create and is destroyed exactly once.
        unsafe { sys::Highs_destroy(self.0) }
    }
}

struct CallbackState<'a> {
    stop: Option<&'a AtomicBool>,
    deadline: Option<Instant>,
}

/// HiGHS callback: requests an interrupt when the caller's flag is raised or the deadline passed.
unsafe extern "C" fn interrupt_callback(
    kind: c_int,
    _message: *const c_char,
    _data_out: *const sys::HighsCallbackDataOut,
    data_in: *mut sys::HighsCallbackDataIn,
    user: *mut c_void,
) {
    // Interrupt callbacks: simplex (1), IPM (2), MIP (6).
    if !(kind == 1 || kind == 2 || kind == 6) || data_in.is_null() || user.is_null() {
        return;
    }
    // SAFETY: `user` points to the CallbackState that outlives the Highs_run call.
    let state = unsafe { &*(user as *const CallbackState) };
    let stop = state.stop.is_some_and(|f| f.load(Ordering::Relaxed))
        || state.deadline.is_some_and(|d| Instant::now() >= d);
    if stop {
        // SAFETY: HiGHS passes a valid, writable data_in for interrupt callbacks.
        unsafe { (*data_in).user_interrupt = 1 };
    }
}

fn set_option(h: &Handle, name: &str, value: OptionValue) -> Result<(), SolverError> {
    let c = CString::new(name).map_err(|_| SolverError::Rejected("option name"))?;
    // SAFETY: valid handle and NUL-terminated option name.
    let status = unsafe {
        match value {
            OptionValue::Bool(b) => sys::Highs_setBoolOptionValue(h.0, c.as_ptr(), b as _),
            OptionValue::Int(i) => sys::Highs_setIntOptionValue(h.0, c.as_ptr(), i as _),
            OptionValue::Double(d) => sys::Highs_setDoubleOptionValue(h.0, c.as_ptr(), d),
        }
    };
    if status == sys::STATUS_ERROR {
        return Err(SolverError::Rejected("set option"));
    }
    Ok(())
}

enum OptionValue {
    Bool(bool),
    Int(i32),
    Double(f64),
}

/// Solves `milp` with HiGHS (single-threaded; parallelism comes from solving independent
/// questions at once). Never panics on a solver outcome; errors only when HiGHS rejects the call.
pub fn solve(milp: &Milp, sense: Sense, limits: &Limits) -> Result<Outcome, SolverError> {
    let start = Instant::now();
    let ncol = milp.num_cols();
    let nrow = milp.rows.len();
    // Row-wise to column-wise (CSC).
    let mut count = vec![0usize; ncol + 1];
    for r in &milp.rows {
        for &(c, _) in &r.terms {
            count[c + 1] += 1;
        }
    }
    for c in 0..ncol {
        count[c + 1] += count[c];
    }
    let nnz = count[ncol];
    let mut index = vec![0 as sys::HighsInt; nnz];
    let mut value = vec![0.0; nnz];
    let mut fill = count.clone();
    for (ri, r) in milp.rows.iter().enumerate() {
        for &(c, v) in &r.terms {
            index[fill[c]] = ri as sys::HighsInt;
            value[fill[c]] = v;
            fill[c] += 1;
        }
    }
    let to_int = |n: usize| sys::HighsInt::try_from(n).map_err(|_| SolverError::TooLarge);
    let start_idx: Vec<sys::HighsInt> = count[..ncol]
        .iter()
        .map(|&s| to_int(s))
        .collect::<Result<_, _>>()?;
    let row_lb: Vec<f64> = milp.rows.iter().map(|r| r.lb).collect();
    let row_ub: Vec<f64> = milp.rows.iter().map(|r| r.ub).collect();
    let integrality: Vec<sys::HighsInt> = milp
        .integer
        .iter()
        .map(|&b| if b && !limits.relaxation { 1 } else { 0 })
        .collect();

    // SAFETY: Highs_create returns a fresh instance owned by `h`.
    let h = Handle(unsafe { sys::Highs_create() });
    set_option(&h, "output_flag", OptionValue::Bool(false))?;
    set_option(&h, "threads", OptionValue::Int(1))?;
    set_option(
        &h,
        "primal_feasibility_tolerance",
        OptionValue::Double(PRIMAL_FEASIBILITY_TOLERANCE),
    )?;
    set_option(
        &h,
        "mip_feasibility_tolerance",
        OptionValue::Double(INTEGRALITY_TOLERANCE),
    )?;
    set_option(&h, "mip_rel_gap", OptionValue::Double(0.0))?;
    set_option(&h, "mip_abs_gap", OptionValue::Double(1e-9))?;
    if let Some(t) = limits.time {
        set_option(&h, "time_limit", OptionValue::Double(t.as_secs_f64()))?;
    }
    if let Some(target) = limits.objective_target {
        set_option(&h, "objective_target", OptionValue::Double(target))?;
    }
    let sense_code = match sense {
        Sense::Minimise => sys::OBJECTIVE_SENSE_MINIMIZE,
        Sense::Maximise => sys::OBJECTIVE_SENSE_MAXIMIZE,
    };
    // SAFETY: all arrays have the lengths HiGHS expects (ncol, nrow, nnz) and outlive the call.
    let status = unsafe {
        sys::Highs_passMip(
            h.0,
            to_int(ncol)?,
            to_int(nrow)?,
            to_int(nnz)?,
            sys::MATRIX_FORMAT_COLUMN_WISE,
            sense_code,
            milp.offset,
            milp.cost.as_ptr(),
            milp.col_lb.as_ptr(),
            milp.col_ub.as_ptr(),
            row_lb.as_ptr(),
            row_ub.as_ptr(),
            start_idx.as_ptr(),
            index.as_ptr(),
            value.as_ptr(),
            integrality.as_ptr(),
        )
    };
    if status == sys::STATUS_ERROR {
        return Err(SolverError::Rejected("Highs_passMip"));
    }
    let state = CallbackState {
        stop: limits.stop,
        deadline: limits.time.map(|t| start + t),
    };
    // SAFETY: `state` lives until after Highs_run returns; the callback only reads it.
    unsafe {
        sys::Highs_setCallback(
            h.0,
            Some(interrupt_callback),
            &state as *const CallbackState as *mut c_void,
        );
        for kind in [1, 2, 6] {
            sys::Highs_startCallback(h.0, kind);
        }
    }
    // SAFETY: valid handle with a model passed.
    let run = unsafe { sys::Highs_run(h.0) };
    let time = start.elapsed();
    // SAFETY: valid handle.
    let model_status = unsafe { sys::Highs_getModelStatus(h.0) };
    let status = if run == sys::STATUS_ERROR {
        Status::Other(model_status as i32)
    } else {
        match model_status {
            sys::MODEL_STATUS_OPTIMAL => Status::Optimal,
            sys::MODEL_STATUS_INFEASIBLE => Status::Infeasible,
            sys::MODEL_STATUS_OBJECTIVE_TARGET => Status::TargetReached,
            sys::MODEL_STATUS_REACHED_TIME_LIMIT => Status::TimeLimit,
            sys::MODEL_STATUS_REACHED_INTERRUPT | sys::MODEL_STATUS_HIGHS_INTERRUPT => {
                if limits.stop.is_some_and(|f| f.load(Ordering::Relaxed)) {
                    Status::Interrupted
                } else {
                    Status::TimeLimit
                }
            }
            sys::MODEL_STATUS_UNBOUNDED | sys::MODEL_STATUS_UNBOUNDED_OR_INFEASIBLE => {
                Status::Unbounded
            }
            other => Status::Other(other),
        }
    };
    let info_int = |name: &str| -> Option<i64> {
        let c = CString::new(name).ok()?;
        let mut v: sys::HighsInt = 0;
        // SAFETY: valid handle, NUL-terminated name, valid out pointer.
        let s = unsafe { sys::Highs_getIntInfoValue(h.0, c.as_ptr(), &mut v) };
        (s != sys::STATUS_ERROR).then_some(v as i64)
    };
    let info_double = |name: &str| -> Option<f64> {
        let c = CString::new(name).ok()?;
        let mut v = 0.0;
        // SAFETY: as above.
        let s = unsafe { sys::Highs_getDoubleInfoValue(h.0, c.as_ptr(), &mut v) };
        (s != sys::STATUS_ERROR).then_some(v)
    };
    // primal_solution_status 2 = feasible solution available.
    let has_solution = info_int("primal_solution_status") == Some(2);
    let solution = has_solution.then(|| {
        let mut col = vec![0.0; ncol];
        let mut col_dual = vec![0.0; ncol];
        let mut row = vec![0.0; nrow];
        let mut row_dual = vec![0.0; nrow];
        // SAFETY: buffers sized ncol / nrow as HiGHS expects.
        unsafe {
            sys::Highs_getSolution(
                h.0,
                col.as_mut_ptr(),
                col_dual.as_mut_ptr(),
                row.as_mut_ptr(),
                row_dual.as_mut_ptr(),
            );
        }
        col
    });
    // SAFETY: valid handle.
    let objective = has_solution.then(|| unsafe { sys::Highs_getObjectiveValue(h.0) });
    let is_mip = !limits.relaxation && milp.integer.iter().any(|&b| b);
    let dual_bound = if is_mip {
        info_double("mip_dual_bound").filter(|v| v.is_finite())
    } else if status == Status::Optimal {
        objective
    } else {
        None
    };
    let nodes = if is_mip {
        // mip_node_count is an int64 info value.
        let c = CString::new("mip_node_count").expect("static name");
        let mut v: i64 = 0;
        // SAFETY: valid handle, name and out pointer.
        let s = unsafe { sys::Highs_getInt64InfoValue(h.0, c.as_ptr(), &mut v) };
        if s == sys::STATUS_ERROR {
            0
        } else {
            v
        }
    } else {
        0
    };
    Ok(Outcome {
        status,
        solution,
        objective,
        dual_bound,
        time,
        nodes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_mip_and_statuses() {
        // max x + 2y, x + y <= 3.5, x - y >= 1, y integer in [0, 10], x in [0, 10]
        let mut m = Milp::default();
        let x = m.add_col(0.0, 10.0, false);
        let y = m.add_col(0.0, 10.0, true);
        m.cost[x] = 1.0;
        m.cost[y] = 2.0;
        m.add_row(f64::NEG_INFINITY, 3.5, vec![(x, 1.0), (y, 1.0)]);
        m.add_row(1.0, f64::INFINITY, vec![(x, 1.0), (y, -1.0)]);
        let out = solve(&m, Sense::Maximise, &Limits::default()).unwrap();
        assert_eq!(out.status, Status::Optimal);
        let s = out.solution.unwrap();
        assert!((s[x] - 2.5).abs() < 1e-9 && (s[y] - 1.0).abs() < 1e-9);
        assert!((out.objective.unwrap() - 4.5).abs() < 1e-9);

        // Infeasible: add x >= 20 via a row.
        let mut bad = m.clone();
        bad.add_row(20.0, f64::INFINITY, vec![(x, 1.0)]);
        let out = solve(&bad, Sense::Maximise, &Limits::default()).unwrap();
        assert_eq!(out.status, Status::Infeasible);
        assert!(out.solution.is_none());

        // A raised stop flag interrupts (or the tiny model finishes first: never "Infeasible").
        let flag = AtomicBool::new(true);
        let out = solve(
            &m,
            Sense::Maximise,
            &Limits {
                stop: Some(&flag),
                ..Limits::default()
            },
        )
        .unwrap();
        assert!(matches!(out.status, Status::Interrupted | Status::Optimal));
    }
}
