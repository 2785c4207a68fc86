//! Depth-first branch and bound over the binaries of a MILP, with HiGHS solving each node's LP
//! relaxation in one persistent, warm-started instance.
//!
//! Why our own: verification MILPs have few binaries (one per unstable ReLU) and dense rows
//! (the first layer sees every pixel). HiGHS's MIP solver spends most of its time on root cut
//! separation and heuristics over those dense rows — around a second per MILP on a 784-32-10
//! network — while the relaxation LP itself takes milliseconds and a handful of branchings
//! settle the question. Branch and bound also lets parallel solves of one optimisation share a
//! cut-off (`Limits::cutoff`), so each competing class prunes with the best distance found by
//! any of them.
//!
//! Soundness: a node is discarded only when its LP is infeasible or its LP bound cannot beat
//! the incumbent (or the shared cut-off); a subtree is never dropped for any other reason. An LP
//! that does not end `Optimal` or `Infeasible` leaves its subtree unresolved, and the result is
//! then not exact.

use std::sync::atomic::Ordering;
use std::time::Instant;

use super::solver::{log_solve, Limits, Lp, Milp, Outcome, Sense, SolverError, Status};

/// A binary is integral when within this of 0 or 1 (the big-M rows then relax a ReLU by at
/// most this times the neuron's bound range, far below the safety margin).
const INTEGRALITY: f64 = 1e-9;
/// A ReLU holds when `h - max(z, 0)` is within this (relative to |z|).
const RELU_TOLERANCE: f64 = 1e-9;
/// Absolute optimality gap.
const GAP: f64 = 1e-9;

struct Node {
    /// Binary fixings from the root: `(column, value)`.
    fix: Vec<(usize, u8)>,
    /// The parent's LP bound (internal maximisation sense).
    bound: f64,
}

/// Solves `milp` (whose integer columns must be binaries) by branch and bound.
pub fn branch_and_bound(
    milp: &Milp,
    sense: Sense,
    limits: &Limits,
) -> Result<Outcome, SolverError> {
    let start = Instant::now();
    let ints: Vec<usize> = (0..milp.num_cols()).filter(|&c| milp.integer[c]).collect();
    if ints
        .iter()
        .any(|&c| milp.col_lb[c] < 0.0 || milp.col_ub[c] > 1.0)
    {
        // Not a binary program: leave it to HiGHS.
        if let Some(log) = limits.leaves {
            log.gap("not a binary program (solved by HiGHS's MIP solver)");
        }
        return super::solver::solve_highs(milp, sense, limits);
    }
    let mut lp = Lp::new(milp, sense)?;
    if limits.relaxation || ints.is_empty() {
        let out = lp.solve(&Limits {
            objective_target: None,
            ..limits.clone()
        })?;
        if let (Some(log), Status::Infeasible) = (limits.leaves, out.status) {
            log.close(&mut lp, milp, &vec![None; milp.num_cols()], Vec::new());
        }
        log_solve("lp", milp, &out);
        return Ok(out);
    }
    // Internal sense: maximise `sign * objective`.
    let sign = match sense {
        Sense::Maximise => 1.0,
        Sense::Minimise => -1.0,
    };
    let cutoff = || -> f64 {
        limits
            .cutoff
            .map(|c| sign * f64::from_bits(c.load(Ordering::Relaxed)))
            .filter(|v| !v.is_nan())
            .unwrap_or(f64::NEG_INFINITY)
    };
    let publish = |v: f64| {
        if let Some(c) = limits.cutoff {
            let mut cur = c.load(Ordering::Relaxed);
            loop {
                let cv = sign * f64::from_bits(cur);
                if !cv.is_nan() && cv >= v {
                    break;
                }
                match c.compare_exchange(
                    cur,
                    (sign * v).to_bits(),
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => break,
                    Err(now) => cur = now,
                }
            }
        }
    };
    let target = limits.objective_target.map(|t| sign * t);
    let mut is_relu = vec![false; milp.num_cols()];
    for r in &milp.relus {
        is_relu[r.a] = true;
    }
    // Column bounds as loaded, to undo fixings.
    let mut fixed: Vec<Option<u8>> = vec![None; milp.num_cols()];
    let mut incumbent: Option<(f64, Vec<f64>)> = None;
    // Largest bound of subtrees dropped by the shared cut-off or left unresolved.
    let mut cut_bound = f64::NEG_INFINITY;
    let mut unresolved = 0usize;
    let mut stack = vec![Node {
        fix: Vec::new(),
        bound: f64::INFINITY,
    }];
    let mut nodes = 0i64;
    let mut stopped: Option<Status> = None;
    while let Some(node) = stack.pop() {
        if limits.stop.is_some_and(|f| f.load(Ordering::Relaxed)) {
            stack.push(node);
            stopped = Some(Status::Interrupted);
            break;
        }
        if limits.max_nodes.is_some_and(|m| nodes as u64 >= m) {
            stack.push(node);
            stopped = Some(Status::NodeLimit);
            break;
        }
        if limits
            .effective_time(start)
            .is_some_and(|t| start.elapsed() >= t)
        {
            stack.push(node);
            stopped = Some(Status::TimeLimit);
            break;
        }
        let own = incumbent.as_ref().map_or(f64::NEG_INFINITY, |i| i.0);
        if node.bound <= own + GAP {
            if let Some(log) = limits.leaves {
                log.gap("a node pruned by the incumbent");
            }
            continue;
        }
        let cut = cutoff();
        if node.bound <= cut + GAP {
            if let Some(log) = limits.leaves {
                log.gap("a node pruned by the shared cut-off");
            }
            cut_bound = cut_bound.max(node.bound);
            continue;
        }
        // Move the LP to this node's fixings.
        let mut target_fix = std::collections::HashMap::with_capacity(node.fix.len());
        for &(c, v) in &node.fix {
            target_fix.insert(c, v);
        }
        for &c in &ints {
            let t = target_fix.get(&c).copied();
            if fixed[c] != t {
                let (lb, ub) = match t {
                    Some(v) => (v as f64, v as f64),
                    None => (milp.col_lb[c], milp.col_ub[c]),
                };
                lp.set_bounds(c, lb, ub)?;
                fixed[c] = t;
            }
        }
        nodes += 1;
        // Node LPs take milliseconds: limits are checked between nodes, not inside them.
        let lp_limits = Limits {
            relaxation: true,
            ..Limits::default()
        };
        let mut out = lp.solve(&lp_limits)?;
        if !matches!(out.status, Status::Optimal | Status::Infeasible)
            || out.solution.is_none() && out.status == Status::Optimal
        {
            // A warm start can stall numerically: retry the node from a fresh instance.
            lp = Lp::new(milp, sense)?;
            for &c in &ints {
                if let Some(v) = fixed[c] {
                    lp.set_bounds(c, v as f64, v as f64)?;
                }
            }
            out = lp.solve(&lp_limits)?;
        }
        match out.status {
            Status::Infeasible => {
                if let Some(log) = limits.leaves {
                    log.close(&mut lp, milp, &fixed, node.fix.clone());
                }
                continue;
            }
            Status::Optimal => {}
            Status::TimeLimit | Status::Interrupted => {
                stack.push(node);
                stopped = Some(out.status);
                break;
            }
            other => {
                // Numerical trouble: the subtree stays unresolved.
                if std::env::var_os("PPNN_LOG_LP").is_some() {
                    eprintln!("[bab] node LP ended {other:?}");
                }
                unresolved += 1;
                cut_bound = cut_bound.max(node.bound);
                continue;
            }
        }
        let (Some(obj), Some(sol)) = (out.objective, out.solution) else {
            if std::env::var_os("PPNN_LOG_LP").is_some() {
                eprintln!("[bab] optimal node LP without a solution");
            }
            unresolved += 1;
            cut_bound = cut_bound.max(node.bound);
            continue;
        };
        let v = sign * obj;
        if v <= own + GAP {
            if let Some(log) = limits.leaves {
                log.gap("a node LP pruned by the incumbent");
            }
            continue;
        }
        if v <= cut + GAP {
            if let Some(log) = limits.leaves {
                log.gap("a node LP pruned by the shared cut-off");
            }
            cut_bound = cut_bound.max(v);
            continue;
        }
        // Branch on a ReLU whose relaxation the LP exploits (h above max(z, 0)); a node
        // where every ReLU holds exactly is a real solution even if its binaries are fractional
        // (rounding them to the phases keeps every row satisfied). Other binaries: most
        // fractional.
        let mut branch: Option<(usize, f64)> = None;
        let mut sol = sol;
        for r in &milp.relus {
            if fixed[r.a].is_some() {
                continue;
            }
            let (h, z) = (sol[r.h], sol[r.z]);
            let gap = h - z.max(0.0);
            if gap > RELU_TOLERANCE * (1.0 + z.abs()) {
                // Widest triangle relaxation first (its height -l u / (u - l) is the most the LP
                // can gain from this ReLU); measured better than the largest violation.
                let (l, u) = (milp.col_lb[r.z], milp.col_ub[r.z]);
                let score = -l * u / (u - l);
                if branch.is_none_or(|(_, g)| score > g) {
                    branch = Some((r.a, score));
                }
            }
        }
        if branch.is_none() {
            for r in &milp.relus {
                if fixed[r.a].is_none() {
                    sol[r.a] = if sol[r.z] > 0.0 { 1.0 } else { 0.0 };
                }
            }
            for &c in &ints {
                if fixed[c].is_some() || is_relu[c] {
                    continue;
                }
                let a = sol[c];
                let frac = a.min(1.0 - a);
                if frac > INTEGRALITY && branch.is_none_or(|(_, f)| frac > f) {
                    branch = Some((c, frac));
                }
            }
        }
        match branch {
            None => {
                publish(v);
                incumbent = Some((v, sol));
                if target.is_some_and(|t| v > t) {
                    stopped = Some(Status::TargetReached);
                    break;
                }
            }
            Some((c, _)) => {
                // Explore first the side the LP leans to.
                let first: u8 = if sol[c] >= 0.5 { 1 } else { 0 };
                for val in [1 - first, first] {
                    let mut fix = node.fix.clone();
                    fix.push((c, val));
                    stack.push(Node { fix, bound: v });
                }
            }
        }
    }
    let own = incumbent.as_ref().map_or(f64::NEG_INFINITY, |i| i.0);
    let open = stack
        .iter()
        .map(|n| n.bound)
        .fold(f64::NEG_INFINITY, f64::max);
    let bound_internal = own.max(cut_bound).max(if stopped.is_some() {
        open
    } else {
        f64::NEG_INFINITY
    });
    let status = match stopped {
        Some(s) => s,
        None if unresolved > 0 => Status::Other(-1),
        None if incumbent.is_some() && cut_bound <= own + GAP => Status::Optimal,
        None if incumbent.is_none() && cut_bound == f64::NEG_INFINITY => Status::Infeasible,
        None => Status::CutOff,
    };
    let out = Outcome {
        status,
        objective: incumbent.as_ref().map(|i| sign * i.0),
        solution: incumbent.map(|i| i.1),
        dual_bound: bound_internal.is_finite().then_some(sign * bound_internal),
        time: start.elapsed(),
        nodes,
    };
    log_solve("bab", milp, &out);
    Ok(out)
}
