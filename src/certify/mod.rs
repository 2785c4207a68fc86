//! The paper's certification algorithms, each a small function over an `&dyn Oracle`.
//!
//! Algorithms never build a MILP: they ask the oracle questions ("is this box sound?") and
//! optimisation questions, and read verdicts. Every box they return was answered `Holds`; the
//! runner ([`certify`]) turns their result into a [`Certificate`] with its measures.

pub mod apothem;

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
}

impl Default for Params {
    fn default() -> Self {
        Params {
            delta: 0.1,
            tolerance: 1e-6,
            radius_limit: 1.0,
            max_iter: None,
            deadline: None,
        }
    }
}

/// Receives progress messages (e.g. a terminal spinner).
pub trait Progress: Sync {
    /// A new state of the run.
    fn update(&self, message: &str);
}

/// The certification algorithms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    /// `c-bu-d`: bisection on the radius.
    CyclicDichotomic,
    /// `c-bu-l`: radius δ, 2δ, … while sound.
    CyclicLinear,
    /// `c-td`: from R down, guided by counterexamples.
    CyclicTopDown,
    /// `apothem`: the exact optimum radius.
    Apothem,
}

/// Names accepted on the command line, with the algorithm and its canonical name.
pub const ALGORITHMS: &[(&str, Algorithm, &str)] = &[
    ("apothem", Algorithm::Apothem, "apothem"),
    ("exact", Algorithm::Apothem, "apothem"),
    ("c-bu-d", Algorithm::CyclicDichotomic, "c-bu-d"),
    ("cyclic-dichotomic", Algorithm::CyclicDichotomic, "c-bu-d"),
    ("c-bu-l", Algorithm::CyclicLinear, "c-bu-l"),
    ("cyclic-linear", Algorithm::CyclicLinear, "c-bu-l"),
    ("c-td", Algorithm::CyclicTopDown, "c-td"),
    ("cyclic-top-down", Algorithm::CyclicTopDown, "c-td"),
];

impl Algorithm {
    /// Parses a command-line name.
    pub fn from_name(name: &str) -> Option<Algorithm> {
        ALGORITHMS
            .iter()
            .find(|(n, _, _)| *n == name)
            .map(|(_, a, _)| *a)
    }

    /// The canonical name.
    pub fn name(self) -> &'static str {
        ALGORITHMS
            .iter()
            .find(|(_, a, _)| *a == self)
            .map(|(_, _, n)| *n)
            .unwrap_or("?")
    }

    /// Whether the algorithm uses the step δ.
    pub fn uses_delta(self) -> bool {
        !matches!(self, Algorithm::Apothem)
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

    /// Asks whether `region` is sound (counts toward the iteration limit).
    pub fn sound(&self, region: &Hyperbox) -> Verdict {
        self.questions.fetch_add(1, Ordering::Relaxed);
        self.oracle.decide(&Question::Sound {
            region,
            class: self.class,
        })
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

    // x* itself must keep the class with the safety margin, proved like any box.
    let (m, _) = margin_of(&oracle.network().forward(x), class);
    let point = Hyperbox::point(x);
    let at_input = if m > tau {
        ctx.sound(&point)
    } else {
        Verdict::Unknown {
            near_tie: None,
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

    let found = match algorithm {
        Algorithm::CyclicDichotomic => apothem::dichotomic(&ctx),
        Algorithm::CyclicLinear => apothem::linear(&ctx),
        Algorithm::CyclicTopDown => apothem::top_down(&ctx),
        Algorithm::Apothem => apothem::exact(&ctx),
    };
    let status = if found.stopped.is_some() {
        Status::Unknown
    } else {
        Status::Certified
    };
    let mut c = Certificate::new(
        name,
        Kind::Sound,
        status,
        class,
        Some(found.region),
        x,
        &domain,
        tau,
    );
    if algorithm.uses_delta() {
        c.delta = Some(params.delta);
    } else {
        c.tolerance = Some(params.tolerance);
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
