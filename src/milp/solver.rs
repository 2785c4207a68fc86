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
use std::time::Instant;

use highs_sys as sys;

pub use super::lp::{Basis, Lp};
pub use super::model::{
    BabOptions, Engine, Limits, Milp, Outcome, ReluCols, Row, Sense, SolverError, Status, Workers,
};

/// Tolerances used for every solve, tighter than HiGHS's defaults: margins are checked against
/// an explicit safety margin τ, and these keep the solver's own slack far below τ.
pub const PRIMAL_FEASIBILITY_TOLERANCE: f64 = 1e-9;
/// Integrality tolerance of binaries (a "binary" at 1e-9 relaxes a ReLU by at most 1e-9·M).
pub const INTEGRALITY_TOLERANCE: f64 = 1e-9;

pub(super) struct Handle(pub(super) *mut c_void);

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

pub(super) fn set_option(h: &Handle, name: &str, value: OptionValue) -> Result<(), SolverError> {
    let c = CString::new(name).map_err(|_| SolverError::Rejected("option name"))?;
    // SAFETY: valid handle and NUL-terminated option name.
    let status = unsafe {
        match value {
            OptionValue::Bool(b) => sys::Highs_setBoolOptionValue(h.0, c.as_ptr(), b as _),
            OptionValue::Int(i) => sys::Highs_setIntOptionValue(h.0, c.as_ptr(), i as _),
            OptionValue::Double(d) => sys::Highs_setDoubleOptionValue(h.0, c.as_ptr(), d),
            OptionValue::Str(v) => {
                let cv = CString::new(v).map_err(|_| SolverError::Rejected("option value"))?;
                sys::Highs_setStringOptionValue(h.0, c.as_ptr(), cv.as_ptr())
            }
        }
    };
    if status == sys::STATUS_ERROR {
        return Err(SolverError::Rejected("set option"));
    }
    Ok(())
}

#[derive(Debug, Clone)]
pub(super) enum OptionValue {
    Bool(bool),
    Int(i32),
    Double(f64),
    Str(String),
}

/// HiGHS options from `PPNN_HIGHS_OPTIONS` (`name=value,name=value`), for experiments and
/// tuning; values are read as bool, integer, float or string, in that order.
fn extra_options() -> &'static [(String, OptionValue)] {
    static OPTS: std::sync::OnceLock<Vec<(String, OptionValue)>> = std::sync::OnceLock::new();
    OPTS.get_or_init(|| {
        let Ok(spec) = std::env::var("PPNN_HIGHS_OPTIONS") else {
            return Vec::new();
        };
        spec.split(',')
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| {
                let v = v.trim();
                let val = match v {
                    "true" => OptionValue::Bool(true),
                    "false" => OptionValue::Bool(false),
                    _ => v
                        .parse::<i32>()
                        .map(OptionValue::Int)
                        .or_else(|_| v.parse::<f64>().map(OptionValue::Double))
                        .unwrap_or_else(|_| OptionValue::Str(v.to_string())),
                };
                (k.trim().to_string(), val)
            })
            .collect()
    })
}

/// Creates a HiGHS instance holding `milp` (integrality dropped when `relaxation`), with our
/// base options set.
pub(super) fn load(milp: &Milp, sense: Sense, relaxation: bool) -> Result<Handle, SolverError> {
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
        .map(|&b| if b && !relaxation { 1 } else { 0 })
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
    // Root heuristics (sub-MIPs, feasibility jump…) cost seconds on these dense models and
    // rarely help: the oracle runs its own attack first.
    for name in [
        "mip_heuristic_run_rins",
        "mip_heuristic_run_rens",
        "mip_heuristic_run_feasibility_jump",
        "mip_heuristic_run_root_reduced_cost",
        "mip_heuristic_run_zi_round",
        "mip_heuristic_run_shifting",
        "mip_allow_restart",
    ] {
        set_option(&h, name, OptionValue::Bool(false))?;
    }
    set_option(&h, "mip_heuristic_effort", OptionValue::Double(0.0))?;
    for (k, v) in extra_options() {
        set_option(&h, k, v.clone())?;
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
    Ok(h)
}

/// Runs a loaded instance and reads its outcome.
pub(super) fn run(
    h: &Handle,
    ncol: usize,
    nrow: usize,
    is_mip: bool,
    limits: &Limits,
) -> Result<Outcome, SolverError> {
    let start = Instant::now();
    // HiGHS (before 2.0) compares `time_limit` with the run time accumulated over every
    // `Highs_run` of an instance, not with this run's: a persistent LP (branch and bound, LP
    // tightening) would see its later solves stop at once, as soon as the time spent so far
    // exceeds the time left. Its documented work-around: zero the clocks before each run.
    // SAFETY: valid handle.
    unsafe { sys::Highs_zeroAllClocks(h.0) };
    let time = limits.effective_time(start);
    match time {
        Some(t) => set_option(h, "time_limit", OptionValue::Double(t.as_secs_f64()))?,
        None => set_option(h, "time_limit", OptionValue::Double(f64::INFINITY))?,
    }
    if let Some(target) = limits.objective_target {
        set_option(h, "objective_target", OptionValue::Double(target))?;
    }
    let state = CallbackState {
        stop: limits.stop,
        deadline: time.map(|t| start + t),
    };
    // Interrupt callbacks only when something can interrupt (they cost time on every call).
    let hooked = limits.stop.is_some() || time.is_some();
    if hooked {
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
    }
    // SAFETY: valid handle with a model passed.
    let run = unsafe { sys::Highs_run(h.0) };
    if hooked {
        // The callback state dies with this frame: unhook it.
        // SAFETY: valid handle.
        unsafe {
            for kind in [1, 2, 6] {
                sys::Highs_stopCallback(h.0, kind);
            }
        }
    }
    let time = start.elapsed();
    // SAFETY: valid handle.
    let model_status = unsafe { sys::Highs_getModelStatus(h.0) };
    let status = if run == sys::STATUS_ERROR {
        Status::Other(model_status)
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
    let dual_bound = if is_mip {
        info_double("mip_dual_bound").filter(|v| v.is_finite())
    } else if status == Status::Optimal {
        objective
    } else {
        None
    };
    let nodes = if is_mip {
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
        relaxed: None,
    })
}

/// Solves `milp` with HiGHS's own MIP solver (single-threaded; parallelism comes from solving
/// independent questions at once). Never panics on a solver outcome.
pub fn solve_highs(milp: &Milp, sense: Sense, limits: &Limits) -> Result<Outcome, SolverError> {
    let out = solve_highs_quietly(milp, sense, limits)?;
    log_solve("highs", milp, &out);
    Ok(out)
}

/// As [`solve_highs`], without the `PPNN_LOG_MILP` line: for the many tiny LPs of a
/// separation (`pairs`), whose lines would drown the log.
pub(super) fn solve_highs_quietly(
    milp: &Milp,
    sense: Sense,
    limits: &Limits,
) -> Result<Outcome, SolverError> {
    let h = load(milp, sense, limits.relaxation)?;
    let is_mip = !limits.relaxation && milp.integer.iter().any(|&b| b);
    run(&h, milp.num_cols(), milp.rows.len(), is_mip, limits)
}

/// Solves `milp` with the engine chosen in `limits`.
pub fn solve(milp: &Milp, sense: Sense, limits: &Limits) -> Result<Outcome, SolverError> {
    match limits.engine {
        Engine::Highs => solve_highs(milp, sense, limits),
        Engine::BranchAndBound => super::bab::branch_and_bound(milp, sense, limits),
    }
}

pub(crate) fn log_solve(engine: &str, milp: &Milp, out: &Outcome) {
    if log_enabled() {
        eprintln!(
            "[milp:{engine}] {} cols ({} integer), {} rows: {:?} obj {:?} bound {:?}, {} nodes, {:.3} s",
            milp.num_cols(),
            milp.num_integer(),
            milp.rows.len(),
            out.status,
            out.objective,
            out.dual_bound,
            out.nodes,
            out.time.as_secs_f64()
        );
    }
}

/// Whether `PPNN_LOG_MILP` is set: then every solve prints one line on stderr (size, status,
/// bounds, nodes, time), for diagnosing slow questions.
fn log_enabled() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ON.get_or_init(|| std::env::var_os("PPNN_LOG_MILP").is_some_and(|v| !v.is_empty()))
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
