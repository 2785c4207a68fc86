//! The solver's vocabulary, free of any solver: the program ([`Milp`], [`Row`], [`ReluCols`]),
//! how to solve it ([`Sense`], [`Engine`], [`Limits`], [`BabOptions`]) and what came out
//! ([`Status`], [`Outcome`], [`SolverError`]). [`super::solver`] turns these into HiGHS calls.

use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

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
    /// The ReLUs behind binary columns, for branch and bound: it branches on the ReLU whose
    /// relaxation the LP exploits most, and accepts a node whose LP solution satisfies every
    /// ReLU exactly even when some binaries are fractional.
    pub relus: Vec<ReluCols>,
    /// Node bounds for deep networks: our branch and bound re-propagates each node's ReLU
    /// fixings through the network and tightens the node's LP (HiGHS's MIP ignores it).
    pub refiner: Option<std::sync::Arc<super::nodes::PhaseRefiner>>,
    /// Multi-neuron (pair) cuts for deep networks, separated at our branch and bound's root.
    pub pairs: Option<std::sync::Arc<super::pairs::PairCuts>>,
}

/// The columns of one encoded ReLU `h = max(z, 0)` with phase binary `a`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReluCols {
    /// The binary.
    pub a: usize,
    /// The output.
    pub h: usize,
    /// The pre-activation.
    pub z: usize,
    /// The network layer of the neuron.
    pub layer: usize,
    /// The row defining the pre-activation: `z − Σ w_i v_i ∈ [b − s, b + s]` (`s`: the
    /// rounding slack of the encoding). Cut separation reads `w`, `v` and `b + s` from it.
    pub row: usize,
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

/// Which exact solver answers MILPs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Engine {
    /// Our depth-first branch and bound over the binaries, with HiGHS solving the LP
    /// relaxations (warm-started). Fast on verification MILPs, which have few binaries.
    #[default]
    BranchAndBound,
    /// HiGHS's own MIP solver (presolve, cuts, heuristics, branch and bound).
    Highs,
}

/// How a solve may stop early.
#[derive(Debug, Clone, Default)]
pub struct Limits<'a> {
    /// The solver.
    pub engine: Engine,
    /// Absolute deadline (the run's time limit), on top of `time`.
    pub deadline: Option<Instant>,
    /// Shared cut-off (f64 bits): nodes that cannot beat it are pruned, and better incumbents
    /// are published into it (branch and bound only). Lets parallel solves of the same
    /// optimisation prune each other.
    pub cutoff: Option<&'a std::sync::atomic::AtomicU64>,
    /// Wall-clock limit for this solve.
    pub time: Option<Duration>,
    /// Stop as soon as a solution strictly better than this is found.
    pub objective_target: Option<f64>,
    /// Stop when this flag becomes true (checked by HiGHS's interrupt callback).
    pub stop: Option<&'a AtomicBool>,
    /// Solve the LP relaxation only (integrality dropped).
    pub relaxation: bool,
    /// Branch and bound only: stop after this many nodes (the best point found is kept).
    pub max_nodes: Option<u64>,
    /// Branch and bound only: which of its stages run.
    pub bab: BabOptions,
    /// Branch and bound only, for proofs: record every closed leaf's fixings and Farkas
    /// multipliers here (see [`super::leaflog::LeafLog`]). Proof mode solves over the plain
    /// encoding (no cuts, no node bounds), whose leaves the checker rebuilds.
    pub leaves: Option<&'a super::leaflog::LeafLog>,
}

/// The stages of our branch and bound that can be switched off (to measure each on its own).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BabOptions {
    /// Root cuts from the ReLUs' ideal formulation ([`super::cuts`]).
    pub cuts: bool,
    /// Root cuts from the convex hull of pairs of ReLUs of one layer ([`super::pairs`]), on
    /// networks with two or more ReLU layers.
    pub pair_cuts: bool,
    /// With pair cuts: separate them at every node too (branch and cut), not only at the root.
    pub node_cuts: bool,
    /// Node bounds re-propagated under each node's fixings ([`super::nodes`]).
    pub node_bounds: bool,
    /// Branch on the ReLU whose relaxation the node LP's duals say is worth the most to its
    /// bound; off: the widest triangle relaxation the LP exploits.
    pub dual_branching: bool,
    /// How many workers explore one tree.
    pub workers: Workers,
}

/// How many workers explore one branch-and-bound tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Workers {
    /// The solve's own thread only.
    One,
    /// A helper joins while a core is free (no other solve's worker on it), once the solve is
    /// half a second old; it leaves when another solve needs the core.
    #[default]
    WhileCoresFree,
    /// A helper joins at once and stays, whatever the other solves (tests, measurements).
    Two,
}

impl Default for BabOptions {
    fn default() -> Self {
        BabOptions {
            cuts: true,
            pair_cuts: true,
            node_cuts: true,
            node_bounds: true,
            dual_branching: true,
            workers: Workers::WhileCoresFree,
        }
    }
}

impl Limits<'_> {
    /// The time left for this solve, `start` being when it began; `None` when unlimited.
    pub fn remaining(&self, start: Instant) -> Option<Duration> {
        self.effective_time(start)
            .map(|t| t.saturating_sub(start.elapsed()))
    }

    /// The time this solve may take from `start`: the smaller of `time` and what is left
    /// before `deadline`.
    pub fn effective_time(&self, start: Instant) -> Option<Duration> {
        let left = self.deadline.map(|d| d.saturating_duration_since(start));
        match (self.time, left) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

/// What HiGHS reported, in our words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Proved optimal (within the MIP gap tolerances set by `solve`).
    Optimal,
    /// Proved infeasible.
    Infeasible,
    /// Stopped on reaching the objective target (a solution is available).
    TargetReached,
    /// Stopped by the time limit.
    TimeLimit,
    /// Stopped by the node limit (branch and bound).
    NodeLimit,
    /// Stopped by the caller's stop flag.
    Interrupted,
    /// Branch and bound only: no solution better than the shared cut-off exists; the dual bound
    /// is still proved.
    CutOff,
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
    /// Branch and bound only: the LP solution (column values) of the most deeply fixed node it
    /// solved, or when it solved none, the root LP's last optimum of its cut rounds. Not a
    /// solution of the MILP: a point of the relaxation near the real points the search was
    /// heading for, from which an attack may start.
    pub relaxed: Option<Vec<f64>>,
}

impl Outcome {
    /// An infeasibility decided without calling the solver.
    pub fn infeasible() -> Self {
        Outcome {
            status: Status::Infeasible,
            solution: None,
            objective: None,
            dual_bound: None,
            time: Duration::ZERO,
            nodes: 0,
            relaxed: None,
        }
    }
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
