//! What drives an oracle ([`OracleSettings`]: one object for every stage, each switchable)
//! and what it reports ([`OracleStats`]).

use std::time::{Duration, Instant};

use serde::Serialize;

use super::verdict::{Method, Verdict};
use crate::attack::AttackSettings;
use crate::bounds::BoundMethod;
use crate::milp::solver::{BabOptions, Engine};

/// Counts per deciding method.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ByMethod {
    /// Decided by concrete evaluation.
    pub concrete: u64,
    /// Decided by bounds.
    pub interval: u64,
    /// Decided by an attack.
    pub attack: u64,
    /// Decided by MILP.
    pub milp: u64,
}

/// What the oracle did, for the caller to report.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct OracleStats {
    /// Questions asked.
    pub calls: u64,
    /// Questions decided, by method.
    pub by_method: ByMethod,
    /// Questions left unknown.
    pub unknown: u64,
    /// Optimisation questions (exact algorithms).
    pub optimisations: u64,
    /// Cheap falsification attempts (concrete points and attacks only).
    pub falsifications: u64,
    /// Individual MILP (and LP polish) solves.
    pub milp_solves: u64,
    /// Wall-clock seconds inside HiGHS (summed over parallel solves).
    pub milp_time_s: f64,
    /// LPs solved to tighten intermediate bounds (deep networks, `milp::tighten`).
    pub tightening_lps: u64,
    /// Wall-clock seconds of those tightening passes (each runs its LPs on worker threads).
    pub tightening_time_s: f64,
    /// Wall-clock seconds spent answering questions.
    pub time_s: f64,
}

impl OracleStats {
    /// Adds the counts of another oracle's statistics (a sub-oracle with a shorter deadline).
    pub(super) fn absorb(&mut self, o: &OracleStats) {
        self.calls += o.calls;
        self.by_method.concrete += o.by_method.concrete;
        self.by_method.interval += o.by_method.interval;
        self.by_method.attack += o.by_method.attack;
        self.by_method.milp += o.by_method.milp;
        self.unknown += o.unknown;
        self.optimisations += o.optimisations;
        self.falsifications += o.falsifications;
        self.milp_solves += o.milp_solves;
        self.milp_time_s += o.milp_time_s;
        self.tightening_lps += o.tightening_lps;
        self.tightening_time_s += o.tightening_time_s;
        self.time_s += o.time_s;
    }

    pub(super) fn record(&mut self, v: &Verdict) {
        self.calls += 1;
        self.time_s += v.time().as_secs_f64();
        match v.method() {
            Some(Method::Concrete) => self.by_method.concrete += 1,
            Some(Method::Interval) => self.by_method.interval += 1,
            Some(Method::Attack) => self.by_method.attack += 1,
            Some(Method::Milp) => self.by_method.milp += 1,
            None => self.unknown += 1,
        }
    }
}

/// How a soundness question is put to the MILP solver.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MilpStrategy {
    /// One MILP per competing class, solved in parallel; the first confirmed counterexample
    /// stops the others.
    #[default]
    PerClass,
    /// One MILP with a binary choosing the competing class.
    Disjunctive,
}

/// Oracle settings.
#[derive(Debug, Clone)]
pub struct OracleSettings {
    /// Safety margin τ: a box is proved sound only if `y_c - y_j > τ` on all of it.
    pub margin: f64,
    /// Time limit for each MILP question.
    pub query_timeout: Option<Duration>,
    /// Whole-run deadline: after it, every question is `Unknown`.
    pub deadline: Option<Instant>,
    /// MILP formulation.
    pub strategy: MilpStrategy,
    /// Bound computation.
    pub bounds: BoundMethod,
    /// Attack effort (`None` skips the attack step).
    pub attack: Option<AttackSettings>,
    /// Solve per-class MILPs in parallel.
    pub parallel: bool,
    /// The exact solver.
    pub engine: Engine,
    /// Tighten deep networks' intermediate bounds by LP (with ideal-formulation cuts, see
    /// `milp/tighten.rs`) before a MILP; with a time limit, after a first MILP pass with a
    /// tenth of it. On by default: it only ever applies to networks with two or more ReLU
    /// layers, where it decided more of the `mnist_fc`-style instances and lost none (README,
    /// "Tightening with cuts").
    pub lp_tightening: bool,
    /// Stages of our branch and bound (root cuts, node bounds).
    pub bab: BabOptions,
    /// The strong attack run before a MILP on deep networks (`None` skips it).
    pub pgd: Option<crate::attack::PgdSettings>,
    /// The SHA-256 of the model file: when set, every `Holds` of a soundness question carries
    /// a proof for `ppnn check` (written by re-solving the question in proof mode).
    pub proofs: Option<String>,
    /// Remember the disjuncts (competitors) a MILP proved empty on a box, and skip them in
    /// later questions on boxes inside it (see `ruled.rs`).
    pub memo: bool,
    /// Slide near-boundary points along a face's coordinate by linear-region LPs (see
    /// `slide.rs`); off, [`super::Oracle::slide`] finds nothing.
    pub slide: bool,
}

/// Default safety margin τ.
pub const DEFAULT_MARGIN: f64 = 1e-4;

impl Default for OracleSettings {
    fn default() -> Self {
        OracleSettings {
            margin: DEFAULT_MARGIN,
            query_timeout: None,
            deadline: None,
            strategy: MilpStrategy::PerClass,
            bounds: BoundMethod::Symbolic,
            attack: Some(AttackSettings::default()),
            parallel: true,
            engine: Engine::default(),
            lp_tightening: true,
            bab: BabOptions::default(),
            pgd: Some(crate::attack::PgdSettings::default()),
            proofs: None,
            memo: true,
            slide: true,
        }
    }
}
