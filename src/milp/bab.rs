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
use std::sync::Arc;
use std::time::Instant;

use crate::bounds::NeuronBounds;

use super::solver::{log_solve, Basis, Limits, Lp, Milp, Outcome, Row, Sense, SolverError, Status};

/// A binary is integral when within this of 0 or 1 (the big-M rows then relax a ReLU by at
/// most this times the neuron's bound range, far below the safety margin).
const INTEGRALITY: f64 = 1e-9;
/// A ReLU holds when `h - max(z, 0)` is within this (relative to |z|).
const RELU_TOLERANCE: f64 = 1e-9;
/// Absolute optimality gap.
const GAP: f64 = 1e-9;
/// Root cut rounds, cuts added per round, and the least violation worth a cut.
const CUT_ROUNDS: usize = 10;
const CUTS_PER_ROUND: usize = 100;
const CUT_MIN_VIOLATION: f64 = 1e-5;
/// The cut loop stops when a round gains less than this share of the first round's gain.
const CUT_TAIL: f64 = 0.1;
/// Share of a time-limited solve that root cut rounds may take before the tree starts.
const CUT_TIME_SHARE: f64 = 0.15;

struct Node {
    /// Binary fixings from the root: `(column, value)`.
    fix: Vec<(usize, u8)>,
    /// The parent's LP bound (internal maximisation sense).
    bound: f64,
    /// The parent's node bounds (deep networks: see [`super::nodes`]).
    neurons: Option<Arc<NeuronBounds>>,
    /// The parent's optimal basis and the parent's number (in solve order): a node whose
    /// parent was not the last LP solved restarts from it rather than from an unrelated
    /// subtree's basis.
    basis: Option<(Arc<Basis>, u64)>,
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
    // Loading a deep network's LP takes a noticeable time: nothing starts after the limit.
    if limits.remaining(start).is_some_and(|t| t.is_zero())
        || limits.stop.is_some_and(|f| f.load(Ordering::Relaxed))
    {
        let status = if limits.stop.is_some_and(|f| f.load(Ordering::Relaxed)) {
            Status::Interrupted
        } else {
            Status::TimeLimit
        };
        return Ok(Outcome {
            status,
            ..Outcome::infeasible()
        });
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
    // The LP's current column bounds, to move it from node to node by differences. Managed
    // columns: the binaries, and with node bounds the ReLUs' pre-activation and output columns.
    let mut cur_lb = milp.col_lb.clone();
    let mut cur_ub = milp.col_ub.clone();
    // Proof mode (a leaf log) solves the plain encoding: its leaves are what the checker
    // rebuilds from the network, so neither cuts nor node bounds may shape them.
    let proof_mode = limits.leaves.is_some();
    let refiner = milp
        .refiner
        .clone()
        .filter(|_| limits.bab.node_bounds && !proof_mode);
    let mut managed: Vec<usize> = ints.clone();
    if refiner.is_some() {
        for r in &milp.relus {
            managed.push(r.z);
            managed.push(r.h);
        }
    }
    // The rows `h <= z - l (1 - a)` and `h <= u a` of each ReLU, as the encoding lays them out
    // (checked, so that a hand-built MILP falls back to the width rule).
    let dual_rows: Option<Vec<Option<(usize, usize)>>> = limits.bab.dual_branching.then(|| {
        milp.relus
            .iter()
            .map(|r| {
                let (rl, ru) = (r.row + 2, r.row + 3);
                let has = |row: usize, cols: &[usize]| {
                    milp.rows.get(row).is_some_and(|x| {
                        cols.iter().all(|c| x.terms.iter().any(|&(tc, _)| tc == *c))
                    })
                };
                (has(rl, &[r.h, r.z, r.a]) && has(ru, &[r.h, r.a])).then_some((rl, ru))
            })
            .collect()
    });
    let mut incumbent: Option<(f64, Vec<f64>)> = None;
    // Largest bound of subtrees dropped by the shared cut-off or left unresolved.
    let mut cut_bound = f64::NEG_INFINITY;
    let mut unresolved = 0usize;
    let mut stack = vec![Node {
        fix: Vec::new(),
        bound: f64::INFINITY,
        neurons: refiner.as_ref().map(|r| r.root()),
        basis: None,
    }];
    // Number of the last node LP solved (0: none yet).
    let mut last_solved = 0u64;
    // Nodes closed by their node bounds alone (no LP).
    let mut closed_by_bounds = 0u64;
    // Root cuts: ideal-formulation inequalities ([`super::cuts`]) in rounds, while they still
    // move the bound; then the cuts that do not bind are dropped (dense rows slow every node's
    // LP). They are globally valid, so every node's LP keeps the rest.
    let mut cuts: Vec<Row> = Vec::new();
    if limits.bab.cuts && !proof_mode && !milp.relus.is_empty() {
        let mut first_gain: Option<f64> = None;
        let mut last = f64::INFINITY;
        // On wide deep networks a cut round costs about a second: the rounds get a share of
        // the solve's time, the rest is for the tree.
        let cut_budget = limits
            .effective_time(start)
            .map(|t| t.mul_f64(CUT_TIME_SHARE));
        for round in 0..CUT_ROUNDS {
            if limits.remaining(start).is_some_and(|t| t.is_zero())
                || cut_budget.is_some_and(|b| start.elapsed() >= b)
            {
                break;
            }
            let out = lp.solve(&Limits {
                relaxation: true,
                time: limits.remaining(start),
                stop: limits.stop,
                ..Limits::default()
            })?;
            let (Status::Optimal, Some(obj), Some(sol)) = (out.status, out.objective, out.solution)
            else {
                break;
            };
            let v = sign * obj;
            if round > 0 {
                let gain = last - v;
                let first = *first_gain.get_or_insert(gain);
                if gain <= CUT_TAIL * first || gain < 1e-6 * (1.0 + v.abs()) {
                    break;
                }
            }
            last = v;
            let found = super::cuts::most_violated(milp, &sol, CUT_MIN_VIOLATION, CUTS_PER_ROUND);
            if found.is_empty() {
                break;
            }
            for row in found {
                lp.add_row(row.lb, row.ub, &row.terms)?;
                cuts.push(row);
            }
        }
        // Keep the binding cuts only (activity within a hair of the right side at the last
        // optimum; the last round's fresh cuts are kept).
        let out = lp.solve(&Limits {
            relaxation: true,
            time: limits.remaining(start),
            stop: limits.stop,
            ..Limits::default()
        })?;
        if out.status == Status::Optimal && !cuts.is_empty() {
            let base = milp.rows.len();
            let act = lp.row_values();
            let drop: Vec<usize> = (0..cuts.len())
                .filter(|&k| {
                    act.get(base + k)
                        .is_some_and(|&a| !super::cuts::binds(&cuts[k], a))
                })
                .collect();
            lp.delete_rows(&drop.iter().map(|k| base + k).collect::<Vec<_>>())?;
            let mut k = 0;
            cuts.retain(|_| {
                let keep = drop.binary_search(&k).is_err();
                k += 1;
                keep
            });
        }
        if std::env::var_os("PPNN_LOG_MILP").is_some() {
            eprintln!(
                "[milp:bab] {} root cuts kept, root bound {last:.6}, {:.3} s",
                cuts.len(),
                start.elapsed().as_secs_f64()
            );
        }
    }
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
        // This node's bounds: the parent's, re-propagated under the newest fixing. An empty
        // node is closed without an LP.
        let neurons: Option<Arc<NeuronBounds>> = match (&refiner, &node.neurons, node.fix.last()) {
            (Some(rf), Some(parent), Some(&(c, v))) => match rf.child(parent, c, v) {
                Some(b) => Some(Arc::new(b)),
                None => {
                    closed_by_bounds += 1;
                    continue;
                }
            },
            (_, parent, _) => parent.clone(),
        };
        // Target bounds of the managed columns: the model's, narrowed by the node bounds and
        // the fixings. An empty range closes the node (no point of it exists).
        let mut range: std::collections::HashMap<usize, (f64, f64)> = Default::default();
        let mut empty = false;
        let mut narrow = |c: usize, lb: f64, ub: f64| {
            let t = range.entry(c).or_insert((milp.col_lb[c], milp.col_ub[c]));
            *t = (t.0.max(lb), t.1.min(ub));
            empty |= t.0 > t.1;
        };
        if let (Some(rf), Some(b)) = (&refiner, &neurons) {
            for (c, lb, ub) in rf.columns(b) {
                narrow(c, lb, ub);
            }
        }
        for &(c, v) in &node.fix {
            narrow(c, v as f64, v as f64);
        }
        if empty {
            closed_by_bounds += 1;
            continue;
        }
        for &c in &managed {
            let (lb, ub) = range
                .get(&c)
                .copied()
                .unwrap_or((milp.col_lb[c], milp.col_ub[c]));
            if cur_lb[c] != lb || cur_ub[c] != ub {
                lp.set_bounds(c, lb, ub)?;
                cur_lb[c] = lb;
                cur_ub[c] = ub;
            }
        }
        nodes += 1;
        if let Some((b, parent)) = &node.basis {
            if *parent != last_solved {
                lp.set_basis(b);
            }
        }
        last_solved = nodes as u64;
        // Node LPs take milliseconds on small networks but can take seconds on deep ones: each
        // gets the time left, so that the solve ends at its limit.
        let lp_limits = Limits {
            relaxation: true,
            time: limits.remaining(start),
            stop: limits.stop,
            ..Limits::default()
        };
        let mut out = lp.solve(&lp_limits)?;
        // A warm start can stall numerically: retry the node from a fresh instance, with the
        // time then left. Not after a time limit or an interruption: that is the solve's own
        // limit, and a retry given the node's time again ran up to that long past it (on
        // 784-256x6-10 with a 120 s limit, runs ended after 126-131 s; now after 120.03 s).
        if !matches!(
            out.status,
            Status::Optimal | Status::Infeasible | Status::TimeLimit | Status::Interrupted
        ) || out.solution.is_none() && out.status == Status::Optimal
        {
            let lp_limits = Limits {
                time: limits.remaining(start),
                ..lp_limits.clone()
            };
            lp = Lp::new(milp, sense)?;
            for cut in &cuts {
                lp.add_row(cut.lb, cut.ub, &cut.terms)?;
            }
            for &c in &managed {
                if cur_lb[c] != milp.col_lb[c] || cur_ub[c] != milp.col_ub[c] {
                    lp.set_bounds(c, cur_lb[c], cur_ub[c])?;
                }
            }
            out = lp.solve(&lp_limits)?;
        }
        match out.status {
            Status::Infeasible => {
                if let Some(log) = limits.leaves {
                    let mut fixed: Vec<Option<u8>> = vec![None; milp.num_cols()];
                    for &(c, v) in &node.fix {
                        fixed[c] = Some(v);
                    }
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
        // Bound-effect scores need the node LP's row duals. They serve proofs: decision
        // questions (a target: any point ends the search, so every node must be pruned) and
        // optimisations once an incumbent exists. An optimisation without one dives by the
        // width rule first (measured: the dual rule's quick 40-node searches found no point
        // where the width rule did, and the exact search then took 15.7 s instead of 1.2 s).
        let duals = dual_rows
            .as_ref()
            .filter(|_| target.is_some() || incumbent.is_some() || limits.max_nodes.is_none())
            .map(|_| lp.row_duals());
        let mut best_effect: Option<(usize, f64)> = None;
        for (k, r) in milp.relus.iter().enumerate() {
            if cur_lb[r.a] == cur_ub[r.a] {
                continue;
            }
            let (h, z) = (sol[r.h], sol[r.z]);
            let gap = h - z.max(0.0);
            if gap > RELU_TOLERANCE * (1.0 + z.abs()) {
                // Widest triangle relaxation first (its height -l u / (u - l) is the most the LP
                // can gain from this ReLU); measured better than the largest violation.
                let (l, u) = (cur_lb[r.z], cur_ub[r.z]);
                let height = -l * u / (u - l);
                if branch.is_none_or(|(_, g)| height > g) {
                    branch = Some((r.a, height));
                }
                // Bound effect (BaBSR-like, with the LP's own duals): the multipliers of the
                // two upper rows price the objective's gain per unit of `h` above its true
                // value; times the relaxation's height, what splitting can take away.
                if let (Some(d), Some(Some((rl, ru)))) = (&duals, dual_rows.as_ref().map(|v| v[k]))
                {
                    let effect = (d[rl].abs() + d[ru].abs()) * height;
                    if effect > 0.0 && best_effect.is_none_or(|(_, e)| effect > e) {
                        best_effect = Some((r.a, effect));
                    }
                }
            }
        }
        if best_effect.is_some() {
            branch = best_effect;
        }
        if branch.is_none() {
            for r in &milp.relus {
                if cur_lb[r.a] != cur_ub[r.a] {
                    sol[r.a] = if sol[r.z] > 0.0 { 1.0 } else { 0.0 };
                }
            }
            for &c in &ints {
                if cur_lb[c] == cur_ub[c] || is_relu[c] {
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
                let basis = lp.basis().map(|b| (Arc::new(b), last_solved));
                // Explore first the side the LP leans to.
                let first: u8 = if sol[c] >= 0.5 { 1 } else { 0 };
                for val in [1 - first, first] {
                    let mut fix = node.fix.clone();
                    fix.push((c, val));
                    stack.push(Node {
                        fix,
                        bound: v,
                        neurons: neurons.clone(),
                        basis: basis.clone(),
                    });
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
    if closed_by_bounds > 0 && std::env::var_os("PPNN_LOG_MILP").is_some() {
        eprintln!("[milp:bab] {closed_by_bounds} nodes closed by node bounds without an LP");
    }
    Ok(out)
}
