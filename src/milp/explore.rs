//! One worker of the branch and bound ([`super::bab`]): takes nodes from the shared tree
//! ([`super::tree`]), solves each node's LP in its own warm-started HiGHS instance (on deep
//! networks with one round of pair cuts at the node's point: branch and cut), prunes or
//! branches, and hands the children back.
//!
//! Soundness (as in [`super::bab`]): a node is discarded only when its LP is infeasible, its
//! node bounds are contradictory, or its LP bound cannot beat the incumbent or the shared
//! cut-off; an LP that does not end `Optimal` or `Infeasible` leaves its subtree unresolved.
//! The cuts a node adds hold for every real execution in the box, so the worker's LP keeps
//! them for all its later nodes.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use crate::bounds::NeuronBounds;

use super::lp::{Basis, Lp};
use super::model::{Limits, Milp, Row, Sense, SolverError, Status};
use super::nodes::PhaseRefiner;
use super::pairs::PairCuts;
use super::tree::{Slot, Tree};

/// A binary is integral when within this of 0 or 1 (the big-M rows then relax a ReLU by at
/// most this times the neuron's bound range, far below the safety margin).
const INTEGRALITY: f64 = 1e-9;
/// A ReLU holds when `h - max(z, 0)` is within this (relative to |z|).
const RELU_TOLERANCE: f64 = 1e-9;
/// Absolute optimality gap.
pub(super) const GAP: f64 = 1e-9;
/// Pair cuts at the nodes ([`super::pairs`]): rounds per node, the neurons per layer whose
/// pairs are searched, cuts per round, and the most a worker's LP takes in all.
const NODE_CUT_ROUNDS: usize = 1;
const NODE_PAIR_TOP: usize = 16;
const NODE_PAIR_CUTS: usize = 30;
const NODE_CUTS_MAX: usize = 3000;

/// An open node.
pub(super) struct Node {
    /// Binary fixings from the root: `(column, value)`.
    pub fix: Vec<(usize, u8)>,
    /// The parent's LP bound (internal maximisation sense).
    pub bound: f64,
    /// The parent's node bounds (deep networks: see [`super::nodes`]).
    pub neurons: Option<Arc<NeuronBounds>>,
    /// The parent's optimal basis and the number of the parent's LP solve: a worker whose
    /// last LP was not the parent's restarts from it rather than from an unrelated subtree's
    /// basis.
    pub basis: Option<(Arc<Basis>, u64)>,
}

/// What every worker of one solve reads.
pub(super) struct Search<'a> {
    pub milp: &'a Milp,
    pub sense: Sense,
    pub limits: &'a Limits<'a>,
    /// Internal sense: maximise `sign * objective`.
    pub sign: f64,
    /// The objective target in the internal sense.
    pub target: Option<f64>,
    pub start: Instant,
    pub refiner: Option<&'a PhaseRefiner>,
    /// Columns whose bounds change from node to node: the binaries, and with node bounds the
    /// ReLUs' pre-activation and output columns.
    pub managed: &'a [usize],
    /// The rows `h <= z - l (1 - a)` and `h <= u a` of each ReLU (bound-effect branching).
    pub dual_rows: Option<&'a [Option<(usize, usize)>]>,
    /// For each ReLU, the root pair cuts (LP row, coefficient of its `h`) that hold its `h`
    /// up: their multipliers price its relaxation too ([`price_rows`]).
    pub cut_rows: &'a [Vec<(usize, f64)>],
    pub ints: &'a [usize],
    pub is_relu: &'a [bool],
    /// The root cuts every worker's LP carries.
    pub cuts: &'a [Row],
    /// Pair cuts separated at the nodes too (deep networks; not in proof mode).
    pub pairs: Option<&'a PairCuts>,
    /// The ReLU (index in `milp.relus`) of each output column `h`.
    pub relu_of_h: &'a std::collections::HashMap<usize, usize>,
}

/// One worker's own LP and its state.
pub(super) struct Worker {
    pub lp: Lp,
    /// The LP's current column bounds, to move it from node to node by differences.
    pub cur_lb: Vec<f64>,
    pub cur_ub: Vec<f64>,
    /// Number of the last node LP this worker solved (0: none, or its basis is not a node's).
    pub last_solved: u64,
    /// Nodes closed by their node bounds alone (no LP).
    pub closed_by_bounds: u64,
    /// Pair cuts this worker's LP took at nodes (after the root cuts).
    pub node_cuts: usize,
    /// [`Search::cut_rows`] with this worker's node cuts added.
    pub cut_rows: Vec<Vec<(usize, f64)>>,
}

/// Records the pair cut `cut`, row `row` of the LP, under each ReLU whose `h` it holds up
/// (positive coefficient), for the bound-effect branching.
pub(super) fn price_rows(
    rows: &mut [Vec<(usize, f64)>],
    cut: &Row,
    row: usize,
    relu_of_h: &std::collections::HashMap<usize, usize>,
) {
    for &(col, coef) in &cut.terms {
        if let (Some(&k), true) = (relu_of_h.get(&col), coef > 0.0) {
            rows[k].push((row, coef));
        }
    }
}

impl Search<'_> {
    /// A fresh LP for a worker: the relaxation with the root cuts, at the model's bounds.
    pub fn fresh_lp(&self) -> Result<Lp, SolverError> {
        let mut lp = Lp::new(self.milp, self.sense)?;
        lp.add_rows(self.cuts)?;
        Ok(lp)
    }

    /// A worker on `lp`, which holds the relaxation with the root cuts at the model's bounds
    /// (the solve's own LP after its cut rounds, or [`Search::fresh_lp`]).
    pub fn worker(&self, lp: Lp) -> Worker {
        Worker {
            lp,
            cur_lb: self.milp.col_lb.clone(),
            cur_ub: self.milp.col_ub.clone(),
            last_solved: 0,
            closed_by_bounds: 0,
            node_cuts: 0,
            cut_rows: self.cut_rows.to_vec(),
        }
    }

    /// The shared cut-off in the internal sense (`-inf` when none).
    fn cutoff(&self) -> f64 {
        self.limits
            .cutoff
            .map(|c| self.sign * f64::from_bits(c.load(Ordering::Relaxed)))
            .filter(|v| !v.is_nan())
            .unwrap_or(f64::NEG_INFINITY)
    }

    /// Publishes an incumbent value into the shared cut-off.
    fn publish(&self, v: f64) {
        let Some(c) = self.limits.cutoff else { return };
        let mut cur = c.load(Ordering::Relaxed);
        loop {
            let cv = self.sign * f64::from_bits(cur);
            if !cv.is_nan() && cv >= v {
                break;
            }
            match c.compare_exchange(
                cur,
                (self.sign * v).to_bits(),
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => break,
                Err(now) => cur = now,
            }
        }
    }

    /// Explores nodes until the tree is exhausted or stopped; `each` runs before every node
    /// (the solve's own worker starts helpers there). A helper (`cores` given) also leaves,
    /// between nodes, when more workers than `cores` run in the process: another solve has
    /// started and needs the core. An error stops the whole search.
    pub fn explore(
        &self,
        tree: &Tree<Node>,
        w: &mut Worker,
        cores: Option<usize>,
        each: &mut dyn FnMut(),
    ) -> Result<(), SolverError> {
        while cores.is_none_or(|n| !Slot::crowded(n)) {
            let Some(node) = tree.next() else { break };
            each();
            if let Err(e) = self.node(tree, w, node) {
                tree.stop(None, Status::Other(-1));
                return Err(e);
            }
        }
        Ok(())
    }

    /// Explores one node and ends it in `tree` (on `Ok`; on `Err` the caller does).
    fn node(&self, tree: &Tree<Node>, w: &mut Worker, node: Node) -> Result<(), SolverError> {
        let (milp, limits) = (self.milp, self.limits);
        if limits.stop.is_some_and(|f| f.load(Ordering::Relaxed)) {
            tree.stop(Some(node), Status::Interrupted);
            return Ok(());
        }
        let (own, has_incumbent, solved) = {
            let s = tree.lock();
            let own = s.incumbent.as_ref().map_or(f64::NEG_INFINITY, |i| i.0);
            (own, s.incumbent.is_some(), s.nodes)
        };
        if limits.max_nodes.is_some_and(|m| solved as u64 >= m) {
            tree.stop(Some(node), Status::NodeLimit);
            return Ok(());
        }
        if limits
            .effective_time(self.start)
            .is_some_and(|t| self.start.elapsed() >= t)
        {
            tree.stop(Some(node), Status::TimeLimit);
            return Ok(());
        }
        if node.bound <= own + GAP {
            if let Some(log) = limits.leaves {
                log.gap("a node pruned by the incumbent");
            }
            tree.done([]);
            return Ok(());
        }
        let cut = self.cutoff();
        if node.bound <= cut + GAP {
            if let Some(log) = limits.leaves {
                log.gap("a node pruned by the shared cut-off");
            }
            tree.raise_cut_bound(node.bound);
            tree.done([]);
            return Ok(());
        }
        // This node's bounds: the parent's, re-propagated under the newest fixing. An empty
        // node is closed without an LP.
        let neurons: Option<Arc<NeuronBounds>> =
            match (self.refiner, &node.neurons, node.fix.last()) {
                (Some(rf), Some(parent), Some(&(c, v))) => match rf.child(parent, c, v) {
                    Some(b) => Some(Arc::new(b)),
                    None => {
                        w.closed_by_bounds += 1;
                        tree.done([]);
                        return Ok(());
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
        if let (Some(rf), Some(b)) = (self.refiner, &neurons) {
            for (c, lb, ub) in rf.columns(b) {
                narrow(c, lb, ub);
            }
        }
        for &(c, v) in &node.fix {
            narrow(c, v as f64, v as f64);
        }
        if empty {
            w.closed_by_bounds += 1;
            tree.done([]);
            return Ok(());
        }
        for &c in self.managed {
            let (lb, ub) = range
                .get(&c)
                .copied()
                .unwrap_or((milp.col_lb[c], milp.col_ub[c]));
            if w.cur_lb[c] != lb || w.cur_ub[c] != ub {
                w.lp.set_bounds(c, lb, ub)?;
                w.cur_lb[c] = lb;
                w.cur_ub[c] = ub;
            }
        }
        let id = {
            let mut s = tree.lock();
            s.nodes += 1;
            s.nodes as u64
        };
        if let Some((b, parent)) = &node.basis {
            if *parent != w.last_solved {
                w.lp.set_basis(b);
            }
        }
        w.last_solved = id;
        // Branch and cut: a node whose LP survives may add pair cuts at its point (globally
        // valid, kept in this worker's LP for every later node) and solve once more.
        let mut rounds = 0;
        let (v, sol) = loop {
            // Node LPs take milliseconds on small networks but can take seconds on deep ones:
            // each gets the time left, so that the solve ends at its limit.
            let lp_limits = Limits {
                relaxation: true,
                time: limits.remaining(self.start),
                stop: limits.stop,
                ..Limits::default()
            };
            let mut out = w.lp.solve(&lp_limits)?;
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
                    time: limits.remaining(self.start),
                    ..lp_limits.clone()
                };
                w.lp = self.fresh_lp()?;
                w.node_cuts = 0;
                w.cut_rows = self.cut_rows.to_vec();
                for &c in self.managed {
                    if w.cur_lb[c] != milp.col_lb[c] || w.cur_ub[c] != milp.col_ub[c] {
                        w.lp.set_bounds(c, w.cur_lb[c], w.cur_ub[c])?;
                    }
                }
                out = w.lp.solve(&lp_limits)?;
            }
            match out.status {
                Status::Infeasible => {
                    if let Some(log) = limits.leaves {
                        let mut fixed: Vec<Option<u8>> = vec![None; milp.num_cols()];
                        for &(c, v) in &node.fix {
                            fixed[c] = Some(v);
                        }
                        log.close(&mut w.lp, milp, &fixed, node.fix.clone());
                    }
                    tree.done([]);
                    return Ok(());
                }
                Status::Optimal => {}
                Status::TimeLimit | Status::Interrupted => {
                    tree.stop(Some(node), out.status);
                    return Ok(());
                }
                other => {
                    // Numerical trouble: the subtree stays unresolved.
                    if std::env::var_os("PPNN_LOG_LP").is_some() {
                        eprintln!("[bab] node LP ended {other:?}");
                    }
                    tree.unresolved(node.bound);
                    tree.done([]);
                    return Ok(());
                }
            }
            let (Some(obj), Some(sol)) = (out.objective, out.solution) else {
                if std::env::var_os("PPNN_LOG_LP").is_some() {
                    eprintln!("[bab] optimal node LP without a solution");
                }
                tree.unresolved(node.bound);
                tree.done([]);
                return Ok(());
            };
            let v = self.sign * obj;
            if v <= own + GAP {
                if let Some(log) = limits.leaves {
                    log.gap("a node LP pruned by the incumbent");
                }
                tree.done([]);
                return Ok(());
            }
            if v <= cut + GAP {
                if let Some(log) = limits.leaves {
                    log.gap("a node LP pruned by the shared cut-off");
                }
                tree.raise_cut_bound(v);
                tree.done([]);
                return Ok(());
            }
            if let Some(pc) = self.pairs.filter(|_| {
                rounds < NODE_CUT_ROUNDS && w.node_cuts < NODE_CUTS_MAX && !node.fix.is_empty()
            }) {
                let stop_at = limits.remaining(self.start).map(|t| Instant::now() + t);
                let found = pc.most_violated(&sol, NODE_PAIR_TOP, NODE_PAIR_CUTS, stop_at);
                if !found.is_empty() {
                    // Their rows, for the bound-effect branching (as the root's pair cuts).
                    let base = milp.rows.len() + self.cuts.len() + w.node_cuts;
                    for (i, cut) in found.iter().enumerate() {
                        price_rows(&mut w.cut_rows, cut, base + i, self.relu_of_h);
                    }
                    w.lp.add_rows(&found)?;
                    w.node_cuts += found.len();
                    rounds += 1;
                    continue;
                }
            }
            break (v, sol);
        };
        {
            let mut s = tree.lock();
            if s.deepest.as_ref().is_none_or(|(d, _)| node.fix.len() >= *d) {
                s.deepest = Some((node.fix.len(), sol.clone()));
            }
        }
        let mut sol = sol;
        match self.branch(w, &mut sol, has_incumbent) {
            None => {
                self.publish(v);
                let mut s = tree.lock();
                if s.incumbent.as_ref().is_none_or(|i| v > i.0) {
                    s.incumbent = Some((v, sol));
                }
                drop(s);
                if self.target.is_some_and(|t| v > t) {
                    tree.stop(None, Status::TargetReached);
                } else {
                    tree.done([]);
                }
            }
            Some(c) => {
                let basis = w.lp.basis().map(|b| (Arc::new(b), id));
                // Explore first the side the LP leans to (pushed last, taken first).
                let first: u8 = if sol[c] >= 0.5 { 1 } else { 0 };
                tree.done([1 - first, first].map(|val| {
                    let mut fix = node.fix.clone();
                    fix.push((c, val));
                    Node {
                        fix,
                        bound: v,
                        neurons: neurons.clone(),
                        basis: basis.clone(),
                    }
                }));
            }
        }
        Ok(())
    }

    /// The binary to split at a node whose LP solution is `sol`; `None` when the solution is
    /// a real point (every ReLU holds; its binaries are then rounded to the phases in `sol`).
    fn branch(&self, w: &mut Worker, sol: &mut [f64], has_incumbent: bool) -> Option<usize> {
        let (milp, limits) = (self.milp, self.limits);
        // Branch on a ReLU whose relaxation the LP exploits (h above max(z, 0)); a node
        // where every ReLU holds exactly is a real solution even if its binaries are fractional
        // (rounding them to the phases keeps every row satisfied). Other binaries: most
        // fractional.
        let mut branch: Option<(usize, f64)> = None;
        // Bound-effect scores need the node LP's row duals. They serve proofs: decision
        // questions (a target: any point ends the search, so every node must be pruned) and
        // optimisations once an incumbent exists. An optimisation without one dives by the
        // width rule first (measured: the dual rule's quick 40-node searches found no point
        // where the width rule did, and the exact search then took 15.7 s instead of 1.2 s).
        let duals = self
            .dual_rows
            .filter(|_| self.target.is_some() || has_incumbent || limits.max_nodes.is_none())
            .map(|_| w.lp.row_duals());
        let mut best_effect: Option<(usize, f64)> = None;
        for (k, r) in milp.relus.iter().enumerate() {
            if w.cur_lb[r.a] == w.cur_ub[r.a] {
                continue;
            }
            let (h, z) = (sol[r.h], sol[r.z]);
            let gap = h - z.max(0.0);
            if gap > RELU_TOLERANCE * (1.0 + z.abs()) {
                // Widest triangle relaxation first (its height -l u / (u - l) is the most the LP
                // can gain from this ReLU); measured better than the largest violation.
                let (l, u) = (w.cur_lb[r.z], w.cur_ub[r.z]);
                let height = -l * u / (u - l);
                if branch.is_none_or(|(_, g)| height > g) {
                    branch = Some((r.a, height));
                }
                // Bound effect (BaBSR-like, with the LP's own duals): the multipliers of the
                // two upper rows price the objective's gain per unit of `h` above its true
                // value; times the relaxation's height, what splitting can take away.
                if let (Some(d), Some(Some((rl, ru)))) = (&duals, self.dual_rows.map(|v| v[k])) {
                    let on_cuts: f64 = w.cut_rows[k]
                        .iter()
                        .map(|&(row, coef)| d.get(row).map_or(0.0, |y| y.abs() * coef))
                        .sum();
                    let effect = (d[rl].abs() + d[ru].abs() + on_cuts) * height;
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
                if w.cur_lb[r.a] != w.cur_ub[r.a] {
                    sol[r.a] = if sol[r.z] > 0.0 { 1.0 } else { 0.0 };
                }
            }
            for &c in self.ints {
                if w.cur_lb[c] == w.cur_ub[c] || self.is_relu[c] {
                    continue;
                }
                let a = sol[c];
                let frac = a.min(1.0 - a);
                if frac > INTEGRALITY && branch.is_none_or(|(_, f)| frac > f) {
                    branch = Some((c, frac));
                }
            }
        }
        branch.map(|(c, _)| c)
    }
}
