//! The paper's certification algorithms, each a small function over an `&dyn Oracle`.
//!
//! Algorithms never build a MILP: they ask the oracle questions ("is this box sound?") and
//! optimisation questions, and read verdicts. Every box they return was answered `Holds`; the
//! runner ([`certify`]) turns their result into a [`Certificate`] with its measures.

pub mod apothem;
pub mod dual;
mod faces;
pub mod maximal;

pub use maximal::FaceOrder;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use crate::certificate::{Certificate, Kind, Status};
use crate::network::margin_of;
use crate::oracle::{Oracle, Question, Verdict, Witness};
use crate::region::Hyperbox;

/// Parameters shared by the algorithms.
#[derive(Debug, Clone)]
pub struct Params {
    /// Step δ of the δ-algorithms (the paper uses 0.1).
    pub delta: f64,
    /// Stopping tolerance of the exact algorithms.
    pub tolerance: f64,
    /// Distance restriction R: every box lies in `B∞(x*, R) ∩ D`.
    pub radius_limit: f64,
    /// Maximum number of oracle questions.
    pub max_iter: Option<usize>,
    /// Whole-run deadline.
    pub deadline: Option<Instant>,
    /// Face order of the depth-first expansions.
    pub face_order: FaceOrder,
    /// `maximal`'s first pass (every face tried at its bound) takes the faces in order of
    /// influence, least first, rather than in `face_order` (see `maximal::influence_order`).
    pub influence_order: bool,
    /// Gap η of completeness questions (dual boxes are reported enlarged by it).
    pub eta: f64,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            delta: 0.1,
            tolerance: 1e-6,
            radius_limit: 1.0,
            max_iter: None,
            deadline: None,
            face_order: FaceOrder::default(),
            influence_order: true,
            eta: 1e-6,
        }
    }
}

/// Receives progress messages (e.g. a terminal spinner).
pub trait Progress: Sync {
    /// A new state of the run.
    fn update(&self, message: &str);
}

/// How a certification starts: the box the expansion (if any) grows from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// The input point x* (bottom-up algorithms).
    Point,
    /// `c-bu-d`: bisection on the radius.
    CyclicDichotomic,
    /// `c-bu-l`: radius δ, 2δ, … while sound.
    CyclicLinear,
    /// `c-td`: from R down, guided by counterexamples.
    CyclicTopDown,
    /// `apothem`: the exact optimum radius.
    Apothem,
    /// `td`: top-down box, cutting the coordinate of each counterexample.
    TopDown,
    /// `complete-c-d-bu`: dual, bisection on the radius of a complete ball.
    CompleteCyclicDichotomic,
    /// `complete-bu`: dual, grown from x* around each class point found outside.
    CompleteBottomUp,
    /// `dual`: the exact tightest dual box.
    Dual,
}

/// How faces are then pushed outward.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expand {
    /// `bu-l-dfs`: face by face, steps of δ.
    LinearDfs,
    /// `bu-d-dfs`: face by face, bisection to δ.
    DichotomicDfs,
    /// `bu-bfs`: all faces by δ in rounds.
    Bfs,
    /// Exact per-face expansion (one optimisation per face).
    Exact,
}

/// A certification algorithm: a start, then optionally an expansion (a composition).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Algorithm {
    /// The starting box.
    pub start: Start,
    /// The expansion, if any.
    pub expand: Option<Expand>,
}

const STARTS: &[(&str, Start)] = &[
    ("apothem", Start::Apothem),
    ("exact", Start::Apothem),
    ("c-bu-d", Start::CyclicDichotomic),
    ("cyclic-dichotomic", Start::CyclicDichotomic),
    ("c-bu-l", Start::CyclicLinear),
    ("cyclic-linear", Start::CyclicLinear),
    ("c-td", Start::CyclicTopDown),
    ("cyclic-top-down", Start::CyclicTopDown),
    ("td", Start::TopDown),
    ("top-down", Start::TopDown),
    ("complete-c-d-bu", Start::CompleteCyclicDichotomic),
    ("dual-cyclic-dichotomic", Start::CompleteCyclicDichotomic),
    ("complete-bu", Start::CompleteBottomUp),
    ("dual-bottom-up", Start::CompleteBottomUp),
    ("dual", Start::Dual),
    ("exact-dual", Start::Dual),
];

const EXPANSIONS: &[(&str, Expand)] = &[
    ("bu-l-dfs", Expand::LinearDfs),
    ("bu-d-dfs", Expand::DichotomicDfs),
    ("bu-bfs", Expand::Bfs),
    ("exact-faces", Expand::Exact),
];

/// Every algorithm name on its own (compositions are `START+EXPANSION`, e.g. `td+bu-d-dfs`).
pub const ALGORITHM_NAMES: &[&str] = &[
    "apothem",
    "exact",
    "c-bu-d",
    "cyclic-dichotomic",
    "c-bu-l",
    "cyclic-linear",
    "c-td",
    "cyclic-top-down",
    "td",
    "top-down",
    "bu-l-dfs",
    "bu-d-dfs",
    "bu-bfs",
    "maximal",
    "exact-maximal",
    "complete-c-d-bu",
    "dual-cyclic-dichotomic",
    "complete-bu",
    "dual-bottom-up",
    "dual",
    "exact-dual",
    "START+EXPANSION (e.g. td+bu-d-dfs, c-bu-d+bu-d-dfs, apothem+bu-d-dfs)",
];

impl Algorithm {
    /// Parses a command-line name: a start, an expansion (from the point x*), `maximal`, or
    /// `START+EXPANSION`.
    pub fn from_name(name: &str) -> Option<Algorithm> {
        let start = |n: &str| STARTS.iter().find(|(k, _)| *k == n).map(|(_, s)| *s);
        let expand = |n: &str| EXPANSIONS.iter().find(|(k, _)| *k == n).map(|(_, e)| *e);
        if name == "maximal" || name == "exact-maximal" {
            return Some(Algorithm {
                start: Start::Apothem,
                expand: Some(Expand::Exact),
            });
        }
        if let Some((a, b)) = name.split_once('+') {
            let a = start(a)?;
            if Algorithm::start_is_dual(a) {
                return None;
            }
            return Some(Algorithm {
                start: a,
                expand: Some(expand(b)?),
            });
        }
        if let Some(s) = start(name) {
            return Some(Algorithm {
                start: s,
                expand: None,
            });
        }
        expand(name).map(|e| Algorithm {
            start: Start::Point,
            expand: Some(e),
        })
    }

    /// The canonical name.
    pub fn name(self) -> String {
        let start = STARTS
            .iter()
            .find(|(_, s)| *s == self.start)
            .map(|(k, _)| *k);
        let expand = self
            .expand
            .and_then(|e| EXPANSIONS.iter().find(|(_, x)| *x == e).map(|(k, _)| *k));
        match (self.start, start, expand) {
            (Start::Apothem, _, Some("exact-faces")) => "maximal".to_string(),
            (Start::Point, _, Some(e)) => e.to_string(),
            (_, Some(s), Some(e)) => format!("{s}+{e}"),
            (_, Some(s), None) => s.to_string(),
            _ => "point".to_string(),
        }
    }

    fn start_is_dual(s: Start) -> bool {
        matches!(
            s,
            Start::CompleteCyclicDichotomic | Start::CompleteBottomUp | Start::Dual
        )
    }

    /// Whether the algorithm computes a dual (complete) certification.
    pub fn is_dual(self) -> bool {
        Algorithm::start_is_dual(self.start)
    }

    /// Whether the algorithm uses the step δ.
    pub fn uses_delta(self) -> bool {
        !matches!(self.start, Start::Apothem | Start::Point | Start::Dual)
            || matches!(
                self.expand,
                Some(Expand::LinearDfs | Expand::DichotomicDfs | Expand::Bfs)
            )
    }

    /// Whether the algorithm is exact (its claim has a tolerance, not a δ).
    pub fn is_exact(self) -> bool {
        (self.start == Start::Apothem && matches!(self.expand, None | Some(Expand::Exact)))
            || self.start == Start::Dual
    }
}

/// What a search algorithm hands back: a proved box and what limited it.
#[derive(Debug, Clone)]
pub struct Found {
    /// The box, answered `Holds` by the oracle.
    pub region: Hyperbox,
    /// Set when the run stopped before the algorithm's own end (time or iteration limit,
    /// unknown verdicts that an exact claim cannot survive).
    pub stopped: Option<String>,
    /// The nearest confirmed counterexample and its distance (exact algorithms).
    pub upper: Option<(f64, Witness)>,
    /// Remarks for the certificate.
    pub notes: Vec<String>,
    /// Per-face states (expansions and top-down).
    pub faces: Option<Vec<crate::certificate::Face>>,
    /// A point just outside the box where the margin is about -τ (exact algorithms): faces it
    /// touches cannot move, which an expansion can use without asking.
    pub near: Option<Vec<f64>>,
}

/// The state shared by an algorithm's questions.
pub struct Ctx<'a> {
    /// The oracle.
    pub oracle: &'a dyn Oracle,
    /// x*.
    pub x: &'a [f64],
    /// The class.
    pub class: usize,
    /// Parameters.
    pub params: &'a Params,
    progress: Option<&'a dyn Progress>,
    questions: AtomicUsize,
}

impl<'a> Ctx<'a> {
    /// A context for one run.
    pub fn new(
        oracle: &'a dyn Oracle,
        x: &'a [f64],
        class: usize,
        params: &'a Params,
        progress: Option<&'a dyn Progress>,
    ) -> Self {
        Ctx {
            oracle,
            x,
            class,
            params,
            progress,
            questions: AtomicUsize::new(0),
        }
    }

    /// The domain restricted to the distance restriction: `B∞(x*, R) ∩ D`.
    pub fn restriction(&self) -> Hyperbox {
        Hyperbox::ball(self.x, self.params.radius_limit, self.oracle.domain())
    }

    /// `B∞(x*, min(r, R)) ∩ D`.
    pub fn ball(&self, r: f64) -> Hyperbox {
        Hyperbox::ball(
            self.x,
            r.min(self.params.radius_limit),
            self.oracle.domain(),
        )
    }

    /// Why the run must stop now, if it must (deadline or iteration limit).
    pub fn limit_reached(&self) -> Option<String> {
        if self.params.deadline.is_some_and(|d| Instant::now() >= d) {
            return Some("the run's time limit was reached".to_string());
        }
        match self.params.max_iter {
            Some(m) if self.questions.load(Ordering::Relaxed) >= m => Some(format!(
                "the iteration limit ({m} oracle questions) was reached"
            )),
            _ => None,
        }
    }

    /// Counts a question toward the iteration limit.
    pub fn count_question(&self) {
        self.questions.fetch_add(1, Ordering::Relaxed);
    }

    /// Asks whether `region` is sound (counts toward the iteration limit).
    pub fn sound(&self, region: &Hyperbox) -> Verdict {
        self.questions.fetch_add(1, Ordering::Relaxed);
        self.oracle.decide(&Question::Sound {
            region,
            class: self.class,
        })
    }

    /// Asks whether `region` is sound within `time` at most (counts toward the iteration
    /// limit); past it the answer is `Unknown`.
    pub fn sound_within(&self, region: &Hyperbox, time: Option<std::time::Duration>) -> Verdict {
        self.questions.fetch_add(1, Ordering::Relaxed);
        self.oracle.sound_within(region, self.class, time)
    }

    /// Reports progress.
    pub fn progress(&self, message: &str) {
        if let Some(p) = self.progress {
            let s = self.oracle.stats();
            p.update(&format!("{message} | oracle calls {}", s.calls));
        }
    }

    /// L∞ distance from x*.
    pub fn distance(&self, y: &[f64]) -> f64 {
        self.x
            .iter()
            .zip(y)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max)
    }
}

/// Runs `algorithm` for input `x` of class `class` and builds the certificate.
pub fn certify(
    algorithm: Algorithm,
    oracle: &dyn Oracle,
    x: &[f64],
    class: usize,
    params: &Params,
    progress: Option<&dyn Progress>,
) -> Certificate {
    let start = Instant::now();
    let domain = oracle.domain().clone();
    let tau = oracle.margin();
    let ctx = Ctx::new(oracle, x, class, params, progress);
    let name = algorithm.name();
    let name = name.as_str();

    // x* itself must keep the class with the safety margin, proved like any box.
    let (m, _) = margin_of(&oracle.network().forward(x), class);
    let point = Hyperbox::point(x);
    // (Dual certifications hold whatever the input's margin: they skip this.)
    let at_input = if algorithm.is_dual() {
        Verdict::Holds {
            method: crate::oracle::Method::Concrete,
            time: Default::default(),
            proof: None,
        }
    } else if m > tau {
        ctx.sound(&point)
    } else {
        Verdict::Unknown {
            near_tie: None,
            closest: None,
            reached: None,
            reason: String::new(),
            time: Default::default(),
        }
    };
    if !at_input.holds() {
        let mut c = Certificate::new(
            name,
            Kind::Sound,
            Status::NotRobustAtInput,
            class,
            None,
            x,
            &domain,
            tau,
        );
        c.notes.push(format!(
            "the margin of class {class} at the input is {m:.6e}, not above the safety margin τ = {tau:e}"
        ));
        c.oracle = oracle.stats();
        c.time_s = start.elapsed().as_secs_f64();
        return c;
    }

    let started = match algorithm.start {
        Start::Point => Found {
            region: point.clone(),
            stopped: None,
            upper: None,
            notes: Vec::new(),
            faces: None,
            near: None,
        },
        Start::CyclicDichotomic => apothem::dichotomic(&ctx),
        Start::CyclicLinear => apothem::linear(&ctx),
        Start::CyclicTopDown => apothem::top_down(&ctx),
        Start::Apothem => apothem::exact(&ctx),
        Start::TopDown => maximal::top_down(&ctx),
        Start::CompleteCyclicDichotomic => dual::cyclic_dichotomic(&ctx),
        Start::CompleteBottomUp => dual::bottom_up(&ctx),
        Start::Dual => dual::exact(&ctx),
    };
    let found = match algorithm.expand {
        None => started,
        Some(_) if started.stopped.is_some() => started,
        Some(e) => {
            let from = started.region.clone();
            let order = params.face_order;
            let mut grown = match e {
                Expand::LinearDfs => maximal::linear_dfs(&ctx, from, order),
                Expand::DichotomicDfs => maximal::dichotomic_dfs(&ctx, from, order),
                Expand::Bfs => maximal::bfs(&ctx, from, order),
                Expand::Exact => maximal::exact_faces(&ctx, from, started.near.as_deref()),
            };
            let mut notes = started.notes;
            notes.append(&mut grown.notes);
            grown.notes = notes;
            grown.upper = started.upper;
            grown
        }
    };
    let (kind, proved) = if algorithm.is_dual() {
        (Kind::Complete, Status::Complete)
    } else {
        (Kind::Sound, Status::Certified)
    };
    let status = if found.stopped.is_some() {
        Status::Unknown
    } else {
        proved
    };
    let mut c = Certificate::new(
        name,
        kind,
        status,
        class,
        Some(found.region),
        x,
        &domain,
        tau,
    );
    if algorithm.uses_delta() {
        c.delta = Some(params.delta);
    }
    if algorithm.is_exact() {
        c.tolerance = Some(params.tolerance);
    }
    c.faces = found.faces;
    if algorithm.is_dual() {
        c.eta = Some(params.eta);
    }
    if let Some((d, w)) = found.upper {
        c.apothem_upper = Some(d);
        c.counterexample = Some(w);
    }
    c.notes = found.notes;
    if let Some(why) = found.stopped {
        c.notes.insert(0, format!("stopped early: {why}"));
    }
    c.oracle = oracle.stats();
    c.time_s = start.elapsed().as_secs_f64();
    c
}

/// `v`, or `target` when `v` differs from it by rounding only: a cut at `w_i - δ` where
/// `w_i = x*_i + δ` must give the edge length 0, not 3e-17 (`td`, and `c-td`'s radius).
pub(crate) fn snap_to(v: f64, target: f64) -> f64 {
    if (v - target).abs() <= 4.0 * f64::EPSILON * target.abs().max(1.0) {
        target
    } else {
        v
    }
}
