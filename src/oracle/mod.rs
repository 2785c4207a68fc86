//! The oracle: the only door to the solver.
//!
//! Search algorithms ask questions ("is every point of this box classified c?") and read
//! [`Verdict`]s. Every decision question is an instance of the general one,
//! [`Question::Exists`] over a [`Property`] (is there an input in a union of boxes whose outputs
//! satisfy a disjunction of conjunctions of linear constraints?); "class c wins on the box" is
//! [`Property::class_loses`]. The [`MilpOracle`] answers with a cascade (`property.rs`),
//! cheapest first, each step counted:
//! 1. **concrete**: known counterexamples, the box centre and corners;
//! 2. **interval**: neuron bounds prove some constraint of every disjunct (for a class,
//!    `y_j - y_c < -τ` for every competitor `j`);
//! 3. **attack**: projected gradient steps find a witness;
//! 4. **MILP**: the exact encoding, one MILP per remaining disjunct (competitor), in parallel.
//!
//! Soundness rules enforced here, whatever a solver says:
//! - `Holds` only from bounds or from MILPs that were *proved infeasible* with the safety margin
//!   τ (the question asked is "is there a point with `y_j - y_c >= -τ`?");
//! - `Violated` only with a witness re-checked by concrete forward passes in f64 **and** f32
//!   (class c does not strictly win in either); a solver point that does not confirm is polished
//!   (gradient steps, then the LP of its linear region) or the answer is `Unknown`;
//! - time limits, interruptions and solver errors are `Unknown`, never `Holds`.

use std::sync::atomic::Ordering;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rayon::prelude::*;
use serde::Serialize;

use crate::attack::AttackSettings;
use crate::bounds::{BoundMethod, NeuronBounds};
use crate::milp::encode::Encoding;
use crate::milp::query;
use crate::milp::solver::{BabOptions, Engine, Limits, Status};
use crate::network::{margin_of, Network};
use crate::property::Property;
use crate::region::Hyperbox;

mod complete;
mod deep;
mod near;
mod property;

pub use property::confirm;

/// A question about a box.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum Question<'a> {
    /// Soundness: is every x in `region ∩ D` classified `class` (with margin above τ)?
    Sound {
        /// The box.
        region: &'a Hyperbox,
        /// The class every point must keep.
        class: usize,
    },
    /// Completeness: does every x in D with `y_c - y_j >= -τ` for all `j` (class c, near ties
    /// included, so that "complete" errs on the safe side) lie inside `region`? D outside the
    /// box is decided as 2d slabs `x_i >= ub_i + η` / `x_i <= lb_i - η`, in parallel.
    Complete {
        /// The box.
        region: &'a Hyperbox,
        /// The class.
        class: usize,
        /// The gap η between the box and its slabs: points within η outside the box are not
        /// examined (callers enlarge their boxes by η; it is stated in the output).
        eta: f64,
        /// A known point of the class (x*), projected into each slab as a first candidate.
        anchor: Option<&'a [f64]>,
    },
    /// The general question: is there x in the property's region (within D) whose outputs
    /// satisfy it? `Holds` means proved empty (VNN-LIB `unsat`), `Violated` carries a witness
    /// re-checked exactly (`sat`). `Sound` is this question for [`Property::class_loses`].
    Exists {
        /// The property.
        property: &'a Property,
    },
}

/// Which step of the cascade decided a question.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    /// Concrete evaluation (known counterexamples, centre, corners).
    Concrete,
    /// Neuron bounds (interval / linear relaxation).
    Interval,
    /// Gradient attack.
    Attack,
    /// Exact MILP.
    Milp,
}

impl std::fmt::Display for Method {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Method::Concrete => "concrete",
            Method::Interval => "interval",
            Method::Attack => "attack",
            Method::Milp => "milp",
        })
    }
}

/// A counterexample, re-checked by concrete forward passes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Witness {
    /// The point.
    pub x: Vec<f64>,
    /// f64 logits at `x`.
    pub logits: Vec<f64>,
    /// f32 logits at `x`.
    pub logits_f32: Vec<f32>,
    /// `y_c - max_{j != c} y_j` in f64 (`<= 0` for a soundness counterexample).
    pub margin: f64,
    /// The same in f32.
    pub margin_f32: f64,
    /// The competitor class with the largest logit (f64).
    pub competitor: usize,
}

impl Witness {
    /// Re-checks `x` as a point of class `c` for a completeness question: `y_c - y_j >= -τ`
    /// for every `j` in f64 (near ties count as the class). `None` when it does not confirm.
    pub fn confirm_member(net: &Network, x: &[f64], c: usize, tau: f64) -> Option<Witness> {
        if x.iter().any(|v| !v.is_finite()) {
            return None;
        }
        let logits = net.forward(x);
        let logits_f32 = net.forward_f32(x);
        let (margin, competitor) = margin_of(&logits, c);
        let (margin_f32, _) = margin_of(&logits_f32, c);
        (margin >= -tau).then(|| Witness {
            x: x.to_vec(),
            logits,
            logits_f32,
            margin,
            margin_f32,
            competitor,
        })
    }

    /// Re-checks `x` as a counterexample to "classified `c`": `c` must not strictly win, neither
    /// in f64 nor in f32. `None` when it does not confirm.
    pub fn confirm(net: &Network, x: &[f64], c: usize) -> Option<Witness> {
        if x.iter().any(|v| !v.is_finite()) {
            return None;
        }
        let logits = net.forward(x);
        let logits_f32 = net.forward_f32(x);
        let (margin, competitor) = margin_of(&logits, c);
        let (margin_f32, _) = margin_of(&logits_f32, c);
        (margin <= 0.0 && margin_f32 <= 0.0).then(|| Witness {
            x: x.to_vec(),
            logits,
            logits_f32,
            margin,
            margin_f32,
            competitor,
        })
    }
}

/// The answer to a question, with its evidence.
#[derive(Debug, Clone)]
pub enum Verdict {
    /// Proved.
    Holds {
        /// The step that proved it.
        method: Method,
        /// Time spent on the question.
        time: Duration,
        /// With [`OracleSettings::proofs`], for soundness questions: the proof file's content
        /// (or why none could be written).
        proof: Option<crate::proof::emit::Emitted>,
    },
    /// Refuted by a confirmed counterexample.
    Violated {
        /// The counterexample.
        witness: Witness,
        /// The step that found it.
        method: Method,
        /// Time spent on the question.
        time: Duration,
    },
    /// Neither proved nor refuted (time limit, solver trouble, a tie within the safety margin).
    Unknown {
        /// Why.
        reason: String,
        /// When the only obstacle is a near tie — the box's largest competitor margin lies within
        /// the safety margin τ (the box touches the decision boundary to within τ), not a limit
        /// or solver trouble — a point of the box where it does.
        near_tie: Option<Vec<f64>>,
        /// Time spent on the question.
        time: Duration,
    },
}

impl Verdict {
    /// `true` for `Holds`.
    pub fn holds(&self) -> bool {
        matches!(self, Verdict::Holds { .. })
    }

    /// The witness of a `Violated` verdict.
    pub fn witness(&self) -> Option<&Witness> {
        match self {
            Verdict::Violated { witness, .. } => Some(witness),
            _ => None,
        }
    }

    /// Short name: `robust`, `violated` or `unknown`.
    pub fn name(&self) -> &'static str {
        match self {
            Verdict::Holds { .. } => "robust",
            Verdict::Violated { .. } => "violated",
            Verdict::Unknown { .. } => "unknown",
        }
    }

    /// The deciding method, if decided.
    pub fn method(&self) -> Option<Method> {
        match self {
            Verdict::Holds { method, .. } | Verdict::Violated { method, .. } => Some(*method),
            Verdict::Unknown { .. } => None,
        }
    }

    /// Time spent.
    pub fn time(&self) -> Duration {
        match self {
            Verdict::Holds { time, .. }
            | Verdict::Violated { time, .. }
            | Verdict::Unknown { time, .. } => *time,
        }
    }
}

/// An optimisation question: the oracle reports a proved bound on the optimum and the best point
/// it found. Used by the exact algorithms (one optimisation instead of many yes/no questions).
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum Extremum<'a> {
    /// Minimise `‖x - center‖∞` over `x ∈ region ∩ D` with `y_j - y_class >= threshold` for some
    /// `j != class`. With `threshold = -τ` its optimum bounds the radii provable sound; with a
    /// small positive threshold its solutions are counterexamples.
    NearestViolation {
        /// x*.
        center: &'a [f64],
        /// The box searched (its bounds are the MILP's big-M bounds: keep it small).
        region: &'a Hyperbox,
        /// The class.
        class: usize,
        /// Margin threshold on `y_j - y_class`.
        threshold: f64,
        /// `Some(n)`: a quick, inexact search (branch and bound limited to `n` nodes per
        /// competitor) that proposes a good point; `None`: the exact optimum.
        max_nodes: Option<u64>,
    },
    /// The nearest violation along one coordinate: minimise (`upper: true`) or maximise
    /// (`upper: false`) `x_coord` over `x ∈ region ∩ D` with `y_j - y_class >= threshold` for
    /// some `j != class`. Used to push one face of a sound box outward exactly: the box released
    /// on that face is `region`.
    FaceExtent {
        /// The box with the face released to its bound.
        region: &'a Hyperbox,
        /// The class.
        class: usize,
        /// The coordinate of the face.
        coord: usize,
        /// Upper face (minimise the coordinate) or lower face (maximise it).
        upper: bool,
        /// Margin threshold on `y_j - y_class`.
        threshold: f64,
    },
    /// The extent of a class region along one coordinate: maximise (`upper: true`) or minimise
    /// `x_coord` over `x ∈ region ∩ D` with `y_class - y_j >= threshold` for every `j` (the
    /// exact dual box, coordinate by coordinate).
    ClassExtent {
        /// Where to look (D, or D within a distance restriction).
        region: &'a Hyperbox,
        /// The class.
        class: usize,
        /// The coordinate.
        coord: usize,
        /// Maximise (upper end) or minimise (lower end).
        upper: bool,
        /// Threshold on every `y_class - y_j` (`-τ`: near ties count as the class).
        threshold: f64,
    },
}

/// The answer to an [`Extremum`] question.
#[derive(Debug, Clone)]
pub struct Optimum {
    /// Proved bound on the optimum: a lower bound when minimising, an upper bound when
    /// maximising; `+inf` (resp. `-inf`) when proved infeasible.
    pub bound: f64,
    /// The best feasible point found (not validated) and its objective value.
    pub best: Option<(f64, Vec<f64>)>,
    /// Whether the optimum is known (best equals bound within the solver gap, or infeasible).
    pub exact: bool,
    /// Why it is not exact.
    pub reason: Option<String>,
    /// Time spent.
    pub time: Duration,
}

impl Optimum {
    /// An answer that proves nothing (e.g. from an oracle that cannot optimise).
    pub fn unknown(reason: &str, minimise: bool) -> Self {
        Optimum {
            bound: if minimise {
                f64::NEG_INFINITY
            } else {
                f64::INFINITY
            },
            best: None,
            exact: false,
            reason: Some(reason.to_string()),
            time: Duration::ZERO,
        }
    }
}

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
    /// Wall-clock seconds spent answering questions.
    pub time_s: f64,
}

impl OracleStats {
    fn record(&mut self, v: &Verdict) {
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
    /// Tighten deep networks' intermediate bounds by LP before a MILP. Off by default: on the
    /// bundled 784-100-100-10 and 784-256-256-10 networks it stabilised almost no neuron (the
    /// first layer's relaxation, not the LP over it, is what is loose) and took a third of the
    /// question's time.
    pub lp_tightening: bool,
    /// Stages of our branch and bound (root cuts, node bounds).
    pub bab: BabOptions,
    /// The strong attack run before a MILP on deep networks (`None` skips it).
    pub pgd: Option<crate::attack::PgdSettings>,
    /// The SHA-256 of the model file: when set, every `Holds` of a soundness question carries
    /// a proof for `ppnn check` (written by re-solving the question in proof mode).
    pub proofs: Option<String>,
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
            lp_tightening: false,
            bab: BabOptions::default(),
            pgd: Some(crate::attack::PgdSettings::default()),
            proofs: None,
        }
    }
}

/// Anything that answers box questions. Search algorithms are written against this trait only.
pub trait Oracle: Sync {
    /// Answers a question.
    fn decide(&self, question: &Question) -> Verdict;
    /// The network questions are about.
    fn network(&self) -> &Network;
    /// The input domain D.
    fn domain(&self) -> &Hyperbox;
    /// The safety margin τ used for proofs.
    fn margin(&self) -> f64;
    /// Statistics so far.
    fn stats(&self) -> OracleStats;
    /// Cheap falsification only (known counterexamples, concrete points, attack): a confirmed
    /// counterexample in `region ∩ D`, or `None` (which proves nothing).
    fn falsify(&self, _region: &Hyperbox, _class: usize) -> Option<Witness> {
        None
    }
    /// Soundness by bounds alone (no attack, no solver): `true` proves `region ∩ D` sound with
    /// margin τ; `false` proves nothing. Lets a search find a positive proved radius within
    /// milliseconds, before any MILP is tried (anytime answers). The default proves nothing.
    fn sound_by_bounds(&self, _region: &Hyperbox, _class: usize) -> bool {
        false
    }
    /// Answers an optimisation question. The default proves nothing.
    fn optimise(&self, _question: &Extremum) -> Optimum {
        Optimum::unknown("this oracle does not optimise", true)
    }
    // --- issue 16 (maximal certifications): probes of the face-expanding algorithms ---
    /// A cheap search (concrete points, gradient ascents from `hints` and recent
    /// counterexamples; no solver) for a point of `region ∩ D` where some competitor comes
    /// within `slack` of `class`: `y_class - max_j y_j <= slack` in f64. With `slack = τ` such a
    /// point shows that no soundness question on the box can be answered `Holds`; `None` proves
    /// nothing. Counted as a falsification. The default finds nothing.
    fn search_near(
        &self,
        _region: &Hyperbox,
        _class: usize,
        _slack: f64,
        _hints: &[Vec<f64>],
    ) -> Option<Vec<f64>> {
        None
    }
    // --- end issue 16 ---
}

/// The cascade oracle backed by HiGHS.
pub struct MilpOracle<'a> {
    net: &'a Network,
    domain: Hyperbox,
    settings: OracleSettings,
    stats: Mutex<OracleStats>,
    /// Confirmed counterexamples, with the class they refute: a box containing one is not sound.
    pool: Mutex<Vec<(usize, Vec<f64>)>>,
    /// Confirmed points of a class (completeness witnesses): a slab containing one is not empty.
    members: Mutex<Vec<(usize, Vec<f64>)>>,
}

/// One round of a nearest-violation optimisation.
struct Round {
    bound: f64,
    best: Option<(f64, Vec<f64>)>,
    reasons: Vec<String>,
}

/// Result of one class's MILP inside a question.
enum ClassResult {
    RuledOut,
    Violated(Witness),
    Unknown(String),
    NearTie(String, Option<Vec<f64>>),
    Interrupted,
}

const POOL_LIMIT: usize = 256;

/// Deep networks: the time a cheap falsification gives the strong attack (its share of it).
const FALSIFY_PGD_TIME: Duration = Duration::from_secs(5);

/// Maps `f` over `items` on the rayon pool, starting them in order (most promising first), so
/// that early results (a counterexample, a cut-off) reach the later ones. Plain `par_iter`
/// splits the list in halves instead.
pub(crate) fn ordered_par_map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let next = std::sync::atomic::AtomicUsize::new(0);
    let out: Vec<Mutex<Option<R>>> = items.iter().map(|_| Mutex::new(None)).collect();
    let workers = rayon::current_num_threads().clamp(1, items.len().max(1));
    (0..workers).into_par_iter().for_each(|_| loop {
        let i = next.fetch_add(1, Ordering::Relaxed);
        if i >= items.len() {
            break;
        }
        let r = f(&items[i]);
        *out[i].lock().unwrap_or_else(|e| e.into_inner()) = Some(r);
    });
    out.into_iter()
        .filter_map(|m| m.into_inner().unwrap_or_else(|e| e.into_inner()))
        .collect()
}

impl<'a> MilpOracle<'a> {
    /// An oracle for `net` over `domain`.
    pub fn new(net: &'a Network, domain: Hyperbox, settings: OracleSettings) -> Self {
        MilpOracle {
            net,
            domain,
            settings,
            stats: Mutex::new(OracleStats::default()),
            pool: Mutex::new(Vec::new()),
            members: Mutex::new(Vec::new()),
        }
    }

    /// The settings.
    pub fn settings(&self) -> &OracleSettings {
        &self.settings
    }

    pub(crate) fn remember(&self, class: usize, x: &[f64]) {
        let mut pool = self.pool.lock().unwrap_or_else(|e| e.into_inner());
        if pool.len() >= POOL_LIMIT {
            pool.remove(0);
        }
        pool.push((class, x.to_vec()));
    }

    pub(crate) fn add_milp_time(&self, solves: u64, t: Duration) {
        let mut s = self.stats.lock().unwrap_or_else(|e| e.into_inner());
        s.milp_solves += solves;
        s.milp_time_s += t.as_secs_f64();
    }

    /// The limits of a solve this oracle starts: its engine and branch-and-bound stages, the
    /// solve's `time` and the run's deadline (callers add a stop flag or a cut-off).
    pub(crate) fn limits(&self, time: Option<Duration>) -> Limits<'static> {
        Limits {
            engine: self.settings.engine,
            bab: self.settings.bab,
            time,
            deadline: self.settings.deadline,
            ..Limits::default()
        }
    }

    /// Time left for one MILP, or `None` when the run's deadline has passed.
    pub(crate) fn milp_time_limit(&self) -> Option<Option<Duration>> {
        let now = Instant::now();
        match (self.settings.deadline, self.settings.query_timeout) {
            (Some(d), _) if d <= now => None,
            (Some(d), Some(q)) => Some(Some(q.min(d - now))),
            (Some(d), None) => Some(Some(d - now)),
            (None, q) => Some(q),
        }
    }

    /// For every competitor `j`: `(j, lower, upper)` bounds of `y_j - y_c` over `region`.
    fn margin_bounds(
        &self,
        bounds: &NeuronBounds,
        region: &Hyperbox,
        c: usize,
    ) -> Vec<(usize, f64, f64)> {
        let net = self.net;
        (0..net.output_size())
            .filter(|&j| j != c)
            .map(|j| {
                let (hi, lo) = match self.settings.bounds {
                    BoundMethod::Interval => (
                        bounds.margin_upper_interval_in(net, c, j, Some(region)),
                        -bounds.margin_upper_interval_in(net, j, c, Some(region)),
                    ),
                    BoundMethod::Symbolic => (
                        bounds.margin_upper(net, c, j, region),
                        -bounds.margin_upper(net, j, c, region),
                    ),
                };
                (j, lo, hi)
            })
            .collect()
    }

    /// Attaches a proof to a `Holds` when proofs are on (issue 15's hook).
    fn with_proof(&self, v: Verdict, region: &Hyperbox, c: usize) -> Verdict {
        let (Some(hash), Verdict::Holds { method, time, .. }) = (&self.settings.proofs, &v) else {
            return v;
        };
        let proof = match region.intersect(&self.domain) {
            None => Err("the box does not meet the domain (vacuous)".to_string()),
            Some(r) => {
                let limits = Limits {
                    time: self.settings.query_timeout,
                    deadline: self.settings.deadline,
                    ..Limits::default()
                };
                crate::proof::emit::prove_sound(
                    self.net,
                    hash,
                    &r,
                    c,
                    self.settings.margin,
                    None,
                    &limits,
                )
            }
        };
        Verdict::Holds {
            method: *method,
            time: *time,
            proof: Some(std::sync::Arc::new(proof)),
        }
    }

    fn falsify_impl(&self, region: &Hyperbox, c: usize) -> Option<Witness> {
        let region = region.intersect(&self.domain)?;
        let p = Property::class_loses(&region, self.net.output_size(), c);
        let w = self
            .concrete_in(&p, Some(c))
            .or_else(|| self.attack_in(&p, Some(c), None))
            .or_else(|| self.strong_attack(&region, c, &[], Some(FALSIFY_PGD_TIME)))?;
        self.remember(c, &w.x);
        Some(w)
    }

    /// Minimises `‖x - center‖∞` over the points of `region ∩ D` where some competitor reaches
    /// `y_j - y_c >= threshold`: one MILP per competitor not excluded by bounds, in parallel,
    /// sharing a cut-off. Two rounds: a node-limited one finds a good point at distance `t1`
    /// quickly; the exact one then works in the smaller box `B∞(center, t1)`, where bounds are
    /// tighter and far fewer ReLUs are unstable.
    fn nearest_violation(
        &self,
        center: &[f64],
        region: &Hyperbox,
        c: usize,
        threshold: f64,
        max_nodes: Option<u64>,
        start: Instant,
    ) -> (Optimum, Method) {
        let finished = |bound: f64, best, method| {
            (
                Optimum {
                    bound,
                    best,
                    exact: true,
                    reason: None,
                    time: start.elapsed(),
                },
                method,
            )
        };
        let Some(region) = region.intersect(&self.domain) else {
            return finished(f64::INFINITY, None, Method::Concrete);
        };
        let cutoff = std::sync::atomic::AtomicU64::new(f64::INFINITY.to_bits());
        let quick = self.nearest_round(
            center,
            &region,
            c,
            threshold,
            &cutoff,
            max_nodes.or(Some(40)),
        );
        let Some(quick) = quick else {
            // Bounds exclude every competitor.
            return finished(f64::INFINITY, None, Method::Interval);
        };
        if max_nodes.is_some() {
            // Only the proposal is wanted.
            let exact = quick.reasons.is_empty();
            return (
                Optimum {
                    bound: if exact { quick.bound } else { 0.0 },
                    best: quick.best,
                    exact,
                    reason: (!exact).then(|| "quick search (node-limited)".to_string()),
                    time: start.elapsed(),
                },
                Method::Milp,
            );
        }
        let mut region2 = region.clone();
        if let Some((t1, _)) = &quick.best {
            let r = t1 * (1.0 + 1e-9) + 1e-12;
            region2 = Hyperbox::ball(center, r, &region);
        }
        let exact = self
            .nearest_round(center, &region2, c, threshold, &cutoff, None)
            .unwrap_or(Round {
                bound: f64::INFINITY,
                best: None,
                reasons: Vec::new(),
            });
        // The quick round's point bounds the optimum from above; the exact round proves every
        // competitor's distance is at least `exact.bound` or not below that point.
        let mut best = exact.best;
        if let Some((t1, p)) = quick.best {
            if best.as_ref().is_none_or(|(v, _)| t1 < *v) {
                best = Some((t1, p));
            }
        }
        let bound = exact
            .bound
            .min(best.as_ref().map_or(f64::INFINITY, |b| b.0));
        let mut reasons = exact.reasons;
        let ok = reasons.is_empty();
        reasons.sort();
        reasons.dedup();
        (
            Optimum {
                bound,
                best,
                exact: ok,
                reason: (!ok).then(|| reasons.join("; ")),
                time: start.elapsed(),
            },
            Method::Milp,
        )
    }

    /// Optimises one coordinate over the violating points of `region ∩ D` (see
    /// [`Extremum::FaceExtent`]): one MILP per competitor not excluded by bounds, in parallel,
    /// sharing a cut-off seeded by any known counterexample in the box.
    fn face_extent(
        &self,
        region: &Hyperbox,
        c: usize,
        coord: usize,
        upper: bool,
        threshold: f64,
        start: Instant,
    ) -> (Optimum, Method) {
        let none = |method| {
            (
                Optimum {
                    bound: if upper {
                        f64::INFINITY
                    } else {
                        f64::NEG_INFINITY
                    },
                    best: None,
                    exact: true,
                    reason: None,
                    time: start.elapsed(),
                },
                method,
            )
        };
        let Some(region) = region.intersect(&self.domain) else {
            return none(Method::Concrete);
        };
        let net = self.net;
        let bounds = NeuronBounds::compute(net, &region, self.settings.bounds);
        let mut open: Vec<(usize, f64, f64)> = self
            .margin_bounds(&bounds, &region, c)
            .into_iter()
            .filter(|&(_, _, hi)| hi >= threshold)
            .collect();
        if open.is_empty() {
            return none(Method::Interval);
        }
        open.sort_by(|a, b| b.2.total_cmp(&a.2));
        let Some(time_limit) = self.milp_time_limit() else {
            return (
                Optimum {
                    reason: Some("the run's time limit was reached".to_string()),
                    time: start.elapsed(),
                    ..Optimum::unknown("", upper)
                },
                Method::Milp,
            );
        };
        // A known counterexample in the box bounds the optimum already.
        let sign = if upper { 1.0 } else { -1.0 };
        let seed = {
            let pool = self.pool.lock().unwrap_or_else(|e| e.into_inner());
            pool.iter()
                .filter(|(k, x)| *k == c && region.contains(x))
                .map(|(_, x)| x[coord])
                .fold(f64::INFINITY, |a, v| a.min(sign * v))
        };
        let cutoff = std::sync::atomic::AtomicU64::new((sign * seed).to_bits());
        let enc = Encoding::new(net, &region, &bounds);
        let limits = Limits {
            cutoff: Some(&cutoff),
            ..self.limits(time_limit)
        };
        let sense = if upper {
            crate::milp::solver::Sense::Minimise
        } else {
            crate::milp::solver::Sense::Maximise
        };
        let js: Vec<usize> = open.iter().map(|o| o.0).collect();
        let run = |&j: &usize| {
            query::extreme_coordinate(&enc, coord, sense, &[enc.margin(c, j)], threshold, &limits)
        };
        let answers: Vec<_> = if self.settings.parallel {
            ordered_par_map(&js, run)
        } else {
            js.iter().map(run).collect()
        };
        // Internally everything is a minimisation of sign * x_coord.
        let mut bound = f64::INFINITY;
        let mut best: Option<(f64, Vec<f64>)> = None;
        let mut reasons = Vec::new();
        for a in answers {
            let a = match a {
                Ok(a) => a,
                Err(e) => {
                    reasons.push(format!("solver error: {e}"));
                    bound = f64::NEG_INFINITY;
                    continue;
                }
            };
            self.add_milp_time(1, a.outcome.time);
            let dual = a.outcome.dual_bound.map(|v| sign * v);
            let obj = a.outcome.objective.map(|v| sign * v);
            let lower = match a.outcome.status {
                Status::Infeasible => f64::INFINITY,
                Status::CutOff => dual.unwrap_or(f64::NEG_INFINITY),
                Status::Optimal => dual
                    .or(obj)
                    .unwrap_or(f64::NEG_INFINITY)
                    .min(obj.unwrap_or(f64::INFINITY)),
                other => {
                    reasons.push(match other {
                        Status::TimeLimit => "MILP time limit reached".to_string(),
                        s => format!("solver ended with status {s:?}"),
                    });
                    dual.unwrap_or(f64::NEG_INFINITY)
                }
            };
            bound = bound.min(lower);
            if let Some(p) = a.point {
                let x = region.clamp(&p);
                let v = sign * x[coord];
                if best.as_ref().is_none_or(|(b, _)| v < *b) {
                    best = Some((v, x));
                }
            }
        }
        // The pooled counterexample, if it is the best known point.
        if seed.is_finite() && best.as_ref().is_none_or(|(b, _)| seed < *b) {
            let pool = self.pool.lock().unwrap_or_else(|e| e.into_inner());
            if let Some((_, x)) = pool
                .iter()
                .find(|(k, x)| *k == c && region.contains(x) && sign * x[coord] == seed)
            {
                best = Some((seed, x.clone()));
            }
        }
        bound = bound.min(seed);
        let exact = reasons.is_empty();
        reasons.sort();
        reasons.dedup();
        (
            Optimum {
                bound: sign * bound,
                best: best.map(|(v, x)| (sign * v, x)),
                exact,
                reason: (!exact).then(|| reasons.join("; ")),
                time: start.elapsed(),
            },
            Method::Milp,
        )
    }

    /// One round of [`Self::nearest_violation`] over `region` (already inside D). `None` when
    /// bounds exclude every competitor.
    fn nearest_round(
        &self,
        center: &[f64],
        region: &Hyperbox,
        c: usize,
        threshold: f64,
        cutoff: &std::sync::atomic::AtomicU64,
        max_nodes: Option<u64>,
    ) -> Option<Round> {
        let net = self.net;
        let bounds = NeuronBounds::compute(net, region, self.settings.bounds);
        let mut open: Vec<(usize, f64, f64)> = self
            .margin_bounds(&bounds, region, c)
            .into_iter()
            .filter(|&(_, _, hi)| hi >= threshold)
            .collect();
        if open.is_empty() {
            return None;
        }
        // Most dangerous competitors first: they set the cut-off for the others.
        open.sort_by(|a, b| b.2.total_cmp(&a.2));
        let open: Vec<usize> = open.into_iter().map(|o| o.0).collect();
        let Some(time_limit) = self.milp_time_limit() else {
            return Some(Round {
                bound: f64::NEG_INFINITY,
                best: None,
                reasons: vec!["the run's time limit was reached".to_string()],
            });
        };
        let t_max = (0..region.dim())
            .map(|i| (center[i] - region.lb()[i]).max(region.ub()[i] - center[i]))
            .fold(0.0, f64::max);
        let enc = Encoding::new(net, region, &bounds);
        let limits = Limits {
            cutoff: Some(cutoff),
            max_nodes,
            ..self.limits(time_limit)
        };
        let run = |&j: &usize| query::min_radius(&enc, center, c, j, threshold, t_max, &limits);
        let answers: Vec<_> = if self.settings.parallel {
            ordered_par_map(&open, run)
        } else {
            open.iter().map(run).collect()
        };
        let mut round = Round {
            bound: f64::INFINITY,
            best: None,
            reasons: Vec::new(),
        };
        for a in answers {
            let a = match a {
                Ok(a) => a,
                Err(e) => {
                    round.reasons.push(format!("solver error: {e}"));
                    round.bound = f64::NEG_INFINITY;
                    continue;
                }
            };
            self.add_milp_time(1, a.outcome.time);
            let lower = match a.outcome.status {
                Status::Infeasible => f64::INFINITY,
                Status::CutOff => a.outcome.dual_bound.unwrap_or(f64::NEG_INFINITY),
                Status::Optimal => a
                    .outcome
                    .dual_bound
                    .or(a.outcome.objective)
                    .unwrap_or(f64::NEG_INFINITY)
                    .min(a.outcome.objective.unwrap_or(f64::INFINITY)),
                other => {
                    round.reasons.push(match other {
                        Status::TimeLimit => "MILP time limit reached".to_string(),
                        Status::NodeLimit => "node limit reached".to_string(),
                        s => format!("solver ended with status {s:?}"),
                    });
                    a.outcome.dual_bound.unwrap_or(f64::NEG_INFINITY)
                }
            };
            round.bound = round.bound.min(lower.max(0.0));
            if let Some(p) = a.point {
                let x = region.clamp(&p);
                let d = x
                    .iter()
                    .zip(center)
                    .map(|(a, b)| (a - b).abs())
                    .fold(0.0, f64::max);
                if round.best.as_ref().is_none_or(|(v, _)| d < *v) {
                    round.best = Some((d, x));
                }
            }
        }
        Some(round)
    }

    fn sound(&self, region: &Hyperbox, c: usize, start: Instant) -> Verdict {
        let net = self.net;
        if region.dim() != net.input_size() || c >= net.output_size() {
            return Verdict::Unknown {
                near_tie: None,
                reason: format!(
                    "malformed question: box of dimension {} for a network with {} inputs, class {c} of {}",
                    region.dim(),
                    net.input_size(),
                    net.output_size()
                ),
                time: start.elapsed(),
            };
        }
        let p = match region.intersect(&self.domain) {
            Some(r) => Property::class_loses(&r, net.output_size(), c),
            // Nothing of the box lies in D: vacuously sound.
            None => Property {
                disjuncts: Vec::new(),
                ..Property::class_loses(region, net.output_size(), c)
            },
        };
        self.exists(&p, Some(c), start)
    }

    fn exists_in_domain(&self, p: &Property, start: Instant) -> Verdict {
        let net = self.net;
        if p.n_in != net.input_size() || p.n_out != net.output_size() {
            return Verdict::Unknown {
                near_tie: None,
                reason: format!(
                    "malformed question: a property over {} inputs and {} outputs for a network with {} and {}",
                    p.n_in,
                    p.n_out,
                    net.input_size(),
                    net.output_size()
                ),
                time: start.elapsed(),
            };
        }
        let within = Property {
            disjuncts: p
                .disjuncts
                .iter()
                .filter_map(|d| {
                    Some(crate::property::Disjunct {
                        region: d.region.intersect(&self.domain)?,
                        constraints: d.constraints.clone(),
                    })
                })
                .collect(),
            ..p.clone()
        };
        self.exists(&within, None, start)
    }
}

impl Oracle for MilpOracle<'_> {
    fn decide(&self, question: &Question) -> Verdict {
        let start = Instant::now();
        let v = match question {
            Question::Sound { region, class } => {
                let v = self.sound(region, *class, start);
                self.with_proof(v, region, *class)
            }
            Question::Complete {
                region,
                class,
                eta,
                anchor,
            } => self.complete(region, *class, *eta, *anchor, start),
            Question::Exists { property } => self.exists_in_domain(property, start),
        };
        self.stats
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .record(&v);
        v
    }

    fn network(&self) -> &Network {
        self.net
    }

    fn domain(&self) -> &Hyperbox {
        &self.domain
    }

    fn margin(&self) -> f64 {
        self.settings.margin
    }

    fn stats(&self) -> OracleStats {
        self.stats.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn falsify(&self, region: &Hyperbox, class: usize) -> Option<Witness> {
        let w = self.falsify_impl(region, class);
        self.stats
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .falsifications += 1;
        w
    }

    // --- issue 16 ---
    fn search_near(
        &self,
        region: &Hyperbox,
        class: usize,
        slack: f64,
        hints: &[Vec<f64>],
    ) -> Option<Vec<f64>> {
        let p = self.search_near_impl(region, class, slack, hints);
        self.stats
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .falsifications += 1;
        p
    }
    // --- end issue 16 ---

    fn sound_by_bounds(&self, region: &Hyperbox, class: usize) -> bool {
        let net = self.net;
        if region.dim() != net.input_size() || class >= net.output_size() {
            return false;
        }
        let Some(region) = region.intersect(&self.domain) else {
            return true;
        };
        let start = Instant::now();
        let bounds = NeuronBounds::compute(net, &region, self.settings.bounds);
        let tau = self.settings.margin;
        let holds = self
            .margin_bounds(&bounds, &region, class)
            .iter()
            .all(|&(_, _, hi)| hi < -tau);
        if holds {
            let mut s = self.stats.lock().unwrap_or_else(|e| e.into_inner());
            s.calls += 1;
            s.by_method.interval += 1;
            s.time_s += start.elapsed().as_secs_f64();
        }
        holds
    }

    fn optimise(&self, question: &Extremum) -> Optimum {
        let start = Instant::now();
        let quick = matches!(
            question,
            Extremum::NearestViolation {
                max_nodes: Some(_),
                ..
            }
        );
        let (o, method) = match *question {
            Extremum::NearestViolation {
                center,
                region,
                class,
                threshold,
                max_nodes,
            } => self.nearest_violation(center, region, class, threshold, max_nodes, start),
            Extremum::FaceExtent {
                region,
                class,
                coord,
                upper,
                threshold,
            } => self.face_extent(region, class, coord, upper, threshold, start),
            Extremum::ClassExtent {
                region,
                class,
                coord,
                upper,
                threshold,
            } => self.class_extent(region, class, coord, upper, threshold, start),
        };
        let mut s = self.stats.lock().unwrap_or_else(|e| e.into_inner());
        s.optimisations += 1;
        s.calls += 1;
        s.time_s += o.time.as_secs_f64();
        match method {
            // A quick proposal is inexact by design; it is counted by its method.
            _ if !o.exact && !quick => s.unknown += 1,
            Method::Concrete => s.by_method.concrete += 1,
            Method::Interval => s.by_method.interval += 1,
            Method::Attack => s.by_method.attack += 1,
            Method::Milp => s.by_method.milp += 1,
        }
        o
    }
}
