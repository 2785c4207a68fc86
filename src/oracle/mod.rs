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

use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::bounds::{BoundMethod, NeuronBounds};
use crate::milp::encode::Encoding;
use crate::milp::query;
use crate::milp::solver::{Limits, Status};
use crate::network::Network;
use crate::property::Property;
use crate::region::Hyperbox;

mod closest;
pub(crate) mod complete;
mod confirm;
mod deep;
mod exact;
mod inherit;
mod near;
mod nearer;
mod optimise;
mod ordered;
mod property;
mod ruled;
mod settings;
mod slide;
mod value;
mod verdict;

pub(crate) use ordered::ordered_par_map;
pub use settings::{ByMethod, MilpStrategy, OracleSettings, OracleStats, DEFAULT_MARGIN};
pub use verdict::{Extremum, Method, Optimum, Question, Verdict, Witness};

pub use closest::{describe_bracket, Closest, Reached};
pub use confirm::confirm;

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
    /// A soundness question that may take at most `time` (`None`: the oracle's own limits), so
    /// that a search can spend its time on many bounded questions (the apothem's bisection on
    /// deep networks). Past its time the answer is `Unknown`. The default ignores `time`.
    fn sound_within(&self, region: &Hyperbox, class: usize, _time: Option<Duration>) -> Verdict {
        self.decide(&Question::Sound { region, class })
    }
    /// Answers an optimisation question. The default proves nothing.
    fn optimise(&self, _question: &Extremum) -> Optimum {
        Optimum::unknown("this oracle does not optimise", true)
    }
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
    /// From `point`, a point of `region ∩ D` with margin at most `slack` (as
    /// [`Self::search_near`] finds them), a point of the same kind whose coordinate `coord` is
    /// smaller (`lowest`) or larger, found by a local search (LPs over linear regions; see
    /// `slide.rs`). `None` when it finds none; proves nothing either way. The default finds
    /// none.
    fn slide(
        &self,
        _region: &Hyperbox,
        _class: usize,
        _slack: f64,
        _point: &[f64],
        _coord: usize,
        _lowest: bool,
    ) -> Option<Vec<f64>> {
        None
    }
    /// From `point`, a counterexample to `class` in `region ∩ D`, a confirmed counterexample
    /// nearer to `center` (L∞), found by a local search (LPs over linear regions; see
    /// `nearer.rs`). `None` when it finds none; proves nothing either way. The default finds
    /// none.
    fn nearer(
        &self,
        _center: &[f64],
        _region: &Hyperbox,
        _class: usize,
        _point: &[f64],
    ) -> Option<Witness> {
        None
    }
    /// Prepares for a series of questions on boxes inside `region` (the apothem's bisection
    /// below a confirmed counterexample's distance): work done once on `region`, within `time`,
    /// that every question on a box inside it can start from. Proves nothing. The default does
    /// nothing.
    fn prepare(&self, _region: &Hyperbox, _time: Option<Duration>) {}
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
    /// Disjuncts a MILP proved empty, for later questions on smaller boxes.
    /// Shared with sub-oracles ([`Oracle::sound_within`]): their proofs are this oracle's too.
    ruled_out: std::sync::Arc<ruled::RuledOut>,
    /// LP-tightened bounds, for later questions on smaller boxes; shared with sub-oracles too.
    tightened: std::sync::Arc<inherit::Tightened>,
}

/// Result of one class's MILP inside a question.
#[derive(Clone)]
enum ClassResult {
    RuledOut,
    Violated(Witness),
    Unknown(String),
    /// The MILP reached its time limit; the branch and bound's bound on the disjunct's
    /// satisfaction when it had one, and its relaxation's point (the input part of
    /// [`crate::milp::solver::Outcome::relaxed`], in the box) as a start for attacks.
    TimedOut(Option<f64>, Option<Vec<f64>>),
    NearTie(String, Option<Vec<f64>>),
    Interrupted,
}

const POOL_LIMIT: usize = 256;

/// Deep networks: the time a cheap falsification gives the strong attack (its share of it).
const FALSIFY_PGD_TIME: Duration = Duration::from_secs(5);

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
            ruled_out: Default::default(),
            tightened: Default::default(),
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

    pub(crate) fn add_tightening(&self, lps: u64, t: Duration) {
        let mut s = self.stats.lock().unwrap_or_else(|e| e.into_inner());
        s.tightening_lps += lps;
        s.tightening_time_s += t.as_secs_f64();
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
            .or_else(|| self.attack_in(&p, Some(c), None, None))
            .or_else(|| self.strong_attack(&region, c, &[], Some(FALSIFY_PGD_TIME), None))?;
        self.remember(c, &w.x);
        Some(w)
    }

    fn sound(&self, region: &Hyperbox, c: usize, start: Instant) -> Verdict {
        let net = self.net;
        if region.dim() != net.input_size() || c >= net.output_size() {
            return Verdict::Unknown {
                near_tie: None,
                closest: None,
                reached: None,
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
                closest: None,
                reached: None,
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
        let v = self.exists(&within, None, start);
        self.with_property_proof(v, &within)
    }

    /// Attaches a proof that `p` (already within the domain) has no point to a `Holds` when
    /// proofs are on (issue 15).
    fn with_property_proof(&self, v: Verdict, p: &Property) -> Verdict {
        let (Some(hash), Verdict::Holds { method, time, .. }) = (&self.settings.proofs, &v) else {
            return v;
        };
        let limits = Limits {
            time: self.settings.query_timeout,
            deadline: self.settings.deadline,
            ..Limits::default()
        };
        let proof =
            crate::proof::emit::prove_property(self.net, hash, p, self.settings.margin, &limits);
        Verdict::Holds {
            method: *method,
            time: *time,
            proof: Some(std::sync::Arc::new(proof)),
        }
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
            } => {
                let v = self.complete(region, *class, *eta, *anchor, start);
                self.with_complete_proof(v, region, *class, *eta, *anchor)
            }
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

    fn sound_within(&self, region: &Hyperbox, class: usize, time: Option<Duration>) -> Verdict {
        let Some(time) = time else {
            return self.decide(&Question::Sound { region, class });
        };
        // The same settings with an earlier deadline, on a sub-oracle that starts from this
        // one's known counterexamples and hands back what it learns (the memo of proved-out
        // competitors is shared outright).
        let cap = Instant::now() + time;
        let deadline = Some(self.settings.deadline.map_or(cap, |d| d.min(cap)));
        let sub = MilpOracle {
            ruled_out: self.ruled_out.clone(),
            tightened: self.tightened.clone(),
            ..MilpOracle::new(
                self.net,
                self.domain.clone(),
                OracleSettings {
                    deadline,
                    ..self.settings.clone()
                },
            )
        };
        *sub.pool.lock().unwrap_or_else(|e| e.into_inner()) =
            self.pool.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let v = sub.decide(&Question::Sound { region, class });
        *self.pool.lock().unwrap_or_else(|e| e.into_inner()) =
            sub.pool.into_inner().unwrap_or_else(|e| e.into_inner());
        self.stats
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .absorb(&sub.stats.into_inner().unwrap_or_else(|e| e.into_inner()));
        v
    }

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

    fn slide(
        &self,
        region: &Hyperbox,
        class: usize,
        slack: f64,
        point: &[f64],
        coord: usize,
        lowest: bool,
    ) -> Option<Vec<f64>> {
        self.slide_impl(region, class, slack, point, coord, lowest)
    }

    fn nearer(
        &self,
        center: &[f64],
        region: &Hyperbox,
        class: usize,
        point: &[f64],
    ) -> Option<Witness> {
        self.nearer_impl(center, region, class, point)
    }

    fn prepare(&self, region: &Hyperbox, time: Option<Duration>) {
        self.prepare_impl(region, time)
    }

    fn sound_by_bounds(&self, region: &Hyperbox, class: usize) -> bool {
        let net = self.net;
        if region.dim() != net.input_size() || class >= net.output_size() {
            return false;
        }
        let Some(region) = region.intersect(&self.domain) else {
            return true;
        };
        let start = Instant::now();
        let bounds = self.bounds_of(&region);
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
