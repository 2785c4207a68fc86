//! The oracle's vocabulary: the questions it is asked ([`Question`], [`Extremum`]) and its
//! answers ([`Verdict`], [`Optimum`]), with the re-checked counterexamples they carry
//! ([`Witness`]).

use std::time::Duration;

use serde::Serialize;

use super::closest::{Closest, Reached};
use crate::network::{margin_of, Network};
use crate::property::Property;
use crate::region::Hyperbox;

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
        /// With [`crate::oracle::OracleSettings::proofs`] (soundness, completeness and property questions): the proof file's content
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
        /// The point of the box nearest to a violation that the searches met, when they met
        /// one: the property's largest value over the box is at least its value (`closest.rs`).
        closest: Option<Closest>,
        /// How far down the proof attempt had brought the upper end of that largest value.
        reached: Option<Reached>,
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
