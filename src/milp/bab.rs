//! Depth-first branch and bound over the binaries of a MILP, with HiGHS solving each node's LP
//! relaxation in one persistent, warm-started instance per worker. The solve's own thread
//! explores the tree (module `explore`); when a core is free, a helper with its own LP
//! shares the open nodes (module `tree`).
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
use std::time::{Duration, Instant};

use super::explore::{price_rows, Node, Search, Worker, GAP};
use super::model::Workers;
use super::solver::{log_solve, Limits, Lp, Milp, Outcome, Row, Sense, SolverError, Status};
use super::tree::{Slot, State, Tree};

/// Root cut rounds, cuts added per round, and the least violation worth a cut.
const CUT_ROUNDS: usize = 10;
const CUTS_PER_ROUND: usize = 100;
const CUT_MIN_VIOLATION: f64 = 1e-5;
/// The cut loop stops when a round gains less than this share of the first round's gain.
const CUT_TAIL: f64 = 0.1;
/// Pair cuts ([`super::pairs`]): the neurons per layer whose pairs are searched (those the LP
/// point exploits most), and cuts added per round.
const PAIR_TOP: usize = 32;
const PAIR_CUTS_PER_ROUND: usize = 100;
/// Share of a time-limited solve that root cut rounds may take before the tree starts.
const CUT_TIME_SHARE: f64 = 0.15;
/// A solve older than this, with open nodes to share, takes a helper worker when a core is
/// free: younger solves mostly end before a helper's LP would be loaded.
const HELPER_AFTER: Duration = Duration::from_millis(500);

/// Solves `milp` (whose integer columns must be binaries) by branch and bound.
pub fn branch_and_bound(
    milp: &Milp,
    sense: Sense,
    limits: &Limits,
) -> Result<Outcome, SolverError> {
    let start = Instant::now();
    let trace = std::env::var_os("PPNN_LOG_MILP").is_some();
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
    let target = limits.objective_target.map(|t| sign * t);
    let mut is_relu = vec![false; milp.num_cols()];
    for r in &milp.relus {
        is_relu[r.a] = true;
    }
    // Proof mode (a leaf log) solves the plain encoding: its leaves are what the checker
    // rebuilds from the network, so neither cuts nor node bounds may shape them.
    let proof_mode = limits.leaves.is_some();
    let refiner = milp
        .refiner
        .clone()
        .filter(|_| limits.bab.node_bounds && !proof_mode);
    let pairs = milp
        .pairs
        .clone()
        .filter(|_| limits.bab.cuts && limits.bab.pair_cuts && !proof_mode);
    // Columns whose bounds move from node to node: the binaries, and with node bounds the
    // ReLUs' pre-activation and output columns.
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
    // Root cuts: ideal-formulation inequalities ([`super::cuts`]), and on deep networks pair
    // cuts ([`super::pairs`]), in rounds, while they still move the bound; then the cuts that
    // do not bind are dropped (dense rows slow every node's LP). They are globally valid, so
    // every node's LP keeps the rest.
    let mut cuts: Vec<Row> = Vec::new();
    // Which of `cuts` are pair cuts (for the branching, below).
    let mut from_pairs: Vec<bool> = Vec::new();
    // The root LP's last optimum: the relaxation's point when no node LP gets solved.
    let mut root_point: Option<Vec<f64>> = None;
    if limits.bab.cuts && !proof_mode && !milp.relus.is_empty() {
        let mut first_gain: Option<f64> = None;
        let mut last = f64::INFINITY;
        // The cut rounds get a share of the solve's time, the rest is for the tree. The share
        // counts from the first LP's optimum: on 784-256-256-10 that cold solve alone can take
        // the whole share (1.8 s of 1.8 s on 5-1 at ε = 0.03), and then whether any cut was
        // added, and the tree's size, hung on a few milliseconds.
        let cut_budget = limits
            .effective_time(start)
            .map(|t| t.mul_f64(CUT_TIME_SHARE));
        let mut rounds_from: Option<Instant> = None;
        for round in 0..CUT_ROUNDS {
            if limits.remaining(start).is_some_and(|t| t.is_zero())
                || cut_budget
                    .zip(rounds_from)
                    .is_some_and(|(b, t)| t.elapsed() >= b)
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
            let rounds_start = *rounds_from.get_or_insert_with(Instant::now);
            if round > 0 {
                let gain = last - v;
                let first = *first_gain.get_or_insert(gain);
                if gain <= CUT_TAIL * first || gain < 1e-6 * (1.0 + v.abs()) {
                    break;
                }
            }
            last = v;
            let mut found =
                super::cuts::most_violated(milp, &sol, CUT_MIN_VIOLATION, CUTS_PER_ROUND);
            let mut found_pairs = Vec::new();
            if let Some(pc) = &pairs {
                // Separation stops at the cut rounds' budget or the solve's limit.
                let stop_at = [
                    cut_budget.map(|b| rounds_start + b),
                    limits.remaining(start).map(|t| Instant::now() + t),
                ]
                .into_iter()
                .flatten()
                .min();
                found_pairs = pc.most_violated(&sol, PAIR_TOP, PAIR_CUTS_PER_ROUND, stop_at);
            }
            root_point = Some(sol);
            if trace {
                eprintln!(
                    "[milp:bab] round {round}: bound {v:.4}, {} ideal + {} pair cuts, {:.3} s",
                    found.len(),
                    found_pairs.len(),
                    start.elapsed().as_secs_f64()
                );
            }
            if found.is_empty() && found_pairs.is_empty() {
                break;
            }
            from_pairs.extend(std::iter::repeat_n(false, found.len()));
            from_pairs.extend(std::iter::repeat_n(true, found_pairs.len()));
            found.extend(found_pairs);
            lp.add_rows(&found)?;
            cuts.extend(found);
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
            (cuts, from_pairs) = std::mem::take(&mut cuts)
                .into_iter()
                .zip(std::mem::take(&mut from_pairs))
                .enumerate()
                .filter(|(k, _)| drop.binary_search(k).is_err())
                .map(|(_, kept)| kept)
                .unzip();
        }
        if trace {
            eprintln!(
                "[milp:bab] {} root cuts kept, root bound {last:.6}, {:.3} s",
                cuts.len(),
                start.elapsed().as_secs_f64()
            );
        }
    }
    // The pair cuts that bound each ReLU's output from above, with the coefficient of its `h`:
    // the bound-effect branching prices a ReLU's relaxation by the rows that hold its `h` up,
    // and with pair cuts much of that weight moves from the ReLU's own rows to them (without
    // this, on 784-100-100-10 7-1 at ε = 0.03 a tree of 201 nodes grew past 2,000). The ideal
    // cuts are left out, as before pair cuts: their other `h` terms are a later layer's inputs.
    let mut cut_rows: Vec<Vec<(usize, f64)>> = vec![Vec::new(); milp.relus.len()];
    let relu_of_h: std::collections::HashMap<usize, usize> = milp
        .relus
        .iter()
        .enumerate()
        .map(|(k, r)| (r.h, k))
        .collect();
    for (c, cut) in cuts.iter().enumerate().filter(|&(c, _)| from_pairs[c]) {
        price_rows(&mut cut_rows, cut, milp.rows.len() + c, &relu_of_h);
    }
    let search = Search {
        milp,
        sense,
        limits,
        sign,
        target,
        start,
        refiner: refiner.as_deref(),
        managed: &managed,
        dual_rows: dual_rows.as_deref(),
        cut_rows: &cut_rows,
        ints: &ints,
        is_relu: &is_relu,
        cuts: &cuts,
        pairs: pairs.as_deref().filter(|_| limits.bab.node_cuts),
        relu_of_h: &relu_of_h,
    };
    let tree = Tree::new(Node {
        fix: Vec::new(),
        bound: f64::INFINITY,
        neurons: refiner.as_ref().map(|r| r.root()),
        basis: None,
    });
    let closed_by_bounds = explore(&search, &tree, &mut search.worker(lp))?;
    let State {
        incumbent,
        cut_bound,
        unresolved,
        nodes,
        stopped,
        stack,
        deepest,
        ..
    } = tree.into_state();
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
        relaxed: deepest.map(|(_, sol)| sol).or(root_point),
    };
    log_solve("bab", milp, &out);
    if closed_by_bounds > 0 && trace {
        eprintln!("[milp:bab] {closed_by_bounds} nodes closed by node bounds without an LP");
    }
    Ok(out)
}

/// Runs the solve's own worker on `tree`, adding helpers (each with its own LP) while cores are
/// free; returns the nodes closed by node bounds alone. Proof mode and node-limited searches
/// stay on one worker: their leaves and their points must not depend on timing.
fn explore(search: &Search, tree: &Tree<Node>, own: &mut Worker) -> Result<u64, SolverError> {
    let _slot = Slot::own();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let workers = if search.limits.leaves.is_some() || search.limits.max_nodes.is_some() {
        Workers::One
    } else {
        search.limits.bab.workers
    };
    // (at most this many helpers, after this long, taken only when a core is free)
    let (most, after, polite) = match workers {
        Workers::One => (0, Duration::ZERO, true),
        Workers::WhileCoresFree => (cores.saturating_sub(1), HELPER_AFTER, true),
        Workers::Two => (1, Duration::ZERO, false),
    };
    std::thread::scope(|scope| {
        let mut helpers = Vec::new();
        let mut each = || {
            if helpers.len() >= most
                || search.start.elapsed() < after
                || polite && !Slot::free(cores)
                || tree.open() < if polite { 2 } else { 1 }
            {
                return;
            }
            let slot = if polite {
                Slot::helper(cores)
            } else {
                Slot::helper(usize::MAX)
            };
            if let Some(slot) = slot {
                let leave = polite.then_some(cores);
                helpers.push(scope.spawn(move || -> Result<u64, SolverError> {
                    let _slot = slot;
                    let mut w = search.worker(search.fresh_lp()?);
                    search.explore(tree, &mut w, leave, &mut || {})?;
                    Ok(w.closed_by_bounds)
                }));
            }
        };
        let mine = search.explore(tree, own, None, &mut each);
        let mut closed = own.closed_by_bounds;
        let mut first_error = mine.err();
        let started = helpers.len();
        for h in helpers {
            match h.join() {
                Ok(Ok(c)) => closed += c,
                Ok(Err(e)) => {
                    first_error.get_or_insert(e);
                }
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        if started > 0 && std::env::var_os("PPNN_LOG_MILP").is_some() {
            eprintln!("[milp:bab] {started} helper worker(s) joined the tree");
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(closed),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bounds::NeuronBounds;
    use crate::milp::encode::Encoding;
    use crate::milp::query;
    use crate::network::random_net;
    use crate::region::Hyperbox;

    /// Branch and cut keeps the optimum: on random networks with three hidden layers the
    /// maximal margin with root and node pair cuts equals the one without any cut, and no
    /// sampled execution exceeds it.
    #[test]
    fn node_pair_cuts_keep_the_optimum() {
        use crate::milp::model::{BabOptions, Workers};
        let (mut compared, mut branched) = (0, 0);
        for seed in 0..16u64 {
            let net = random_net(200 + seed, &[4, 12, 12, 12, 3]);
            let centre: Vec<f64> = (0..4).map(|i| ((seed + 2 * i) % 9) as f64 / 9.0).collect();
            let region = Hyperbox::ball(&centre, 0.3, &Hyperbox::unit(4));
            let c = net.classify(&centre).unwrap_or(0);
            let j = (c + 1) % 3;
            let bounds = NeuronBounds::symbolic(&net, &region);
            let enc = Encoding::new(&net, &region, &bounds);
            if enc.milp.pairs.is_none() {
                continue;
            }
            let mut milp = enc.milp.clone();
            query::set_objective(&mut milp, &enc.margin(c, j));
            let mut best = Vec::new();
            for cuts in [true, false] {
                let limits = Limits {
                    bab: BabOptions {
                        cuts,
                        pair_cuts: cuts,
                        workers: Workers::One,
                        ..BabOptions::default()
                    },
                    ..Limits::default()
                };
                let out = branch_and_bound(&milp, Sense::Maximise, &limits).unwrap();
                assert_eq!(out.status, Status::Optimal, "seed {seed}");
                // A tree below the root: its nodes separated pair cuts.
                branched += usize::from(cuts && out.nodes > 1);
                best.push(out.objective.unwrap());
            }
            assert!(
                (best[0] - best[1]).abs() <= 1e-6 * (1.0 + best[1].abs()),
                "seed {seed}: {} with cuts, {} without",
                best[0],
                best[1]
            );
            for k in 0..2000usize {
                let x: Vec<f64> = (0..4)
                    .map(|i| {
                        let t = ((k * 7919 + i * 104729 + seed as usize) % 1000) as f64 / 999.0;
                        region.lb()[i] + t * (region.ub()[i] - region.lb()[i])
                    })
                    .collect();
                let y = net.forward(&x);
                assert!(
                    y[j] - y[c] <= best[0] + 1e-7,
                    "seed {seed}: a sample beats the optimum"
                );
            }
            compared += 1;
        }
        assert!(compared >= 8, "only {compared} networks had pair cuts");
        assert!(
            branched >= 4,
            "only {branched} trees with cuts went below the root"
        );
    }

    /// A search stopped by its node limit reports the relaxation's point of its deepest node
    /// (what the oracle's attack starts from): a full column vector, whose input part lies in
    /// the box.
    #[test]
    fn a_stopped_search_reports_its_deepest_relaxation_point() {
        let mut stopped = 0;
        for seed in 0..20u64 {
            let net = random_net(seed, &[5, 16, 16, 16, 3]);
            let centre: Vec<f64> = (0..5).map(|i| ((seed + i) % 7) as f64 / 7.0).collect();
            let region = Hyperbox::ball(&centre, 0.4, &Hyperbox::unit(5));
            let c = net.classify(&centre).unwrap_or(0);
            let j = (c + 1) % 3;
            let bounds = NeuronBounds::symbolic(&net, &region);
            let enc = Encoding::new(&net, &region, &bounds);
            let limits = Limits {
                max_nodes: Some(3),
                ..Limits::default()
            };
            let ans = query::satisfy(&enc, &[enc.margin(c, j)], 1e-4, &limits).unwrap();
            if ans.outcome.status != Status::NodeLimit {
                continue;
            }
            stopped += 1;
            let relaxed = ans.outcome.relaxed.as_ref().expect("a relaxation's point");
            assert_eq!(relaxed.len(), enc.milp.num_cols(), "seed {seed}");
            let x = ans.relaxed_point.expect("its input part");
            assert_eq!(x.len(), 5);
            for (i, v) in x.iter().enumerate() {
                assert!(
                    *v >= region.lb()[i] - 1e-7 && *v <= region.ub()[i] + 1e-7,
                    "seed {seed}: coordinate {i} = {v} outside the box"
                );
            }
        }
        assert!(stopped >= 3, "only {stopped} searches hit their node limit");
    }
}
