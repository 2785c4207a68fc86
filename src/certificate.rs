//! Certificates: what a certification run found, proved and measured.
//!
//! A certificate says `certified` only when its box was answered `Holds` by a sound method
//! (bounds or an infeasible MILP with the safety margin); otherwise `unknown`. A dual certificate
//! says `complete` only when the completeness question was answered `Holds`.

use serde::Serialize;

use crate::oracle::{OracleStats, Witness};
use crate::region::Hyperbox;

/// What the box guarantees.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// Every point of the box (within D) keeps the class.
    Sound,
    /// Every point of D with the class lies in the box.
    Complete,
}

/// The outcome of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// A sound box was proved (and, for optimal/maximal algorithms, the optimality claim holds
    /// to the stated tolerance).
    Certified,
    /// A complete (dual) box was proved.
    Complete,
    /// The run ended before its claim was established (time limit, iteration limit, solver
    /// trouble); the box, if any, is still proved, but not optimal/maximal as claimed.
    Unknown,
    /// The input itself does not keep the class with the safety margin: no certificate.
    NotRobustAtInput,
}

/// Per-face information of a box (maximal algorithms).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Face {
    /// Coordinate.
    pub coord: usize,
    /// `"lower"` or `"upper"`.
    pub side: &'static str,
    /// Position of the face.
    pub value: f64,
    /// `"domain"` (at D's or the radius restriction's bound), `"blocked"` (a confirmed
    /// counterexample lies just beyond), or `"open"` (stopped without proof of maximality).
    pub state: &'static str,
    /// L∞ distance from x* of the blocking counterexample, when blocked.
    pub blocking_distance: Option<f64>,
}

/// The result of a certification run.
#[derive(Debug, Clone, Serialize)]
pub struct Certificate {
    /// Algorithm name (as given on the command line).
    pub algorithm: String,
    /// Sound or complete.
    pub kind: Kind,
    /// Outcome.
    pub status: Status,
    /// The class certified.
    pub class: usize,
    /// The box (absent when the input is not robust).
    pub region: Option<Hyperbox>,
    /// Apothem of the box around x* (faces on D's boundary excluded).
    pub apothem: Option<f64>,
    /// Exact algorithms: the L∞ distance of the nearest confirmed counterexample (the optimum
    /// lies in `[apothem, apothem_upper]`).
    pub apothem_upper: Option<f64>,
    /// Dual certifications: `max_i max(x*_i - lb_i, ub_i - x*_i)`.
    pub cyclic_radius: Option<f64>,
    /// Shortest edge.
    pub min_edge: Option<f64>,
    /// log10 of the volume.
    pub log10_volume: Option<f64>,
    /// Faces that moved away from x*.
    pub nontrivial_faces: Option<usize>,
    /// Safety margin τ of the proofs.
    pub margin: f64,
    /// Step δ of the δ-algorithms.
    pub delta: Option<f64>,
    /// Stopping tolerance of the exact algorithms.
    pub tolerance: Option<f64>,
    /// Gap η of completeness questions (dual certifications).
    pub eta: Option<f64>,
    /// Oracle statistics.
    pub oracle: OracleStats,
    /// Wall-clock seconds.
    pub time_s: f64,
    /// Per-face states (maximal algorithms).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub faces: Option<Vec<Face>>,
    /// The nearest confirmed counterexample (exact algorithms).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub counterexample: Option<Witness>,
    /// Remarks (why a status is unknown, what limited a bracket…).
    pub notes: Vec<String>,
}

impl Certificate {
    /// A certificate for `region` around `x`, with the measures computed.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        algorithm: &str,
        kind: Kind,
        status: Status,
        class: usize,
        region: Option<Hyperbox>,
        x: &[f64],
        domain: &Hyperbox,
        margin: f64,
    ) -> Self {
        // `None` also when every face lies on D's boundary (the box is all of D).
        let apothem = region.as_ref().and_then(|r| r.apothem(x, domain));
        let cyclic_radius = (kind == Kind::Complete)
            .then(|| {
                region.as_ref().map(|r| {
                    (0..r.dim())
                        .map(|i| (x[i] - r.lb()[i]).max(r.ub()[i] - x[i]))
                        .fold(0.0, f64::max)
                })
            })
            .flatten();
        Certificate {
            algorithm: algorithm.to_string(),
            kind,
            status,
            class,
            apothem,
            apothem_upper: None,
            cyclic_radius,
            min_edge: region.as_ref().map(|r| r.min_edge()),
            log10_volume: region.as_ref().map(|r| r.log10_volume()),
            nontrivial_faces: region.as_ref().map(|r| r.nontrivial_faces(x)),
            region,
            margin,
            delta: None,
            tolerance: None,
            eta: None,
            oracle: OracleStats::default(),
            time_s: 0.0,
            faces: None,
            counterexample: None,
            notes: Vec::new(),
        }
    }

    /// Whether the status claims a proof (`certified` or `complete`).
    pub fn is_proved(&self) -> bool {
        matches!(self.status, Status::Certified | Status::Complete)
    }
}

impl Certificate {
    /// The JSON object printed by `ppnn certify --json` and stored per line by `ppnn batch`.
    /// `verbose` adds the per-face states and the counterexample.
    pub fn to_json(&self, model: &str, input: &str, verbose: bool) -> serde_json::Value {
        let (lb, ub) = match &self.region {
            Some(r) => (serde_json::json!(r.lb()), serde_json::json!(r.ub())),
            None => (serde_json::Value::Null, serde_json::Value::Null),
        };
        let mut v = serde_json::json!({
            "model": model,
            "input": input,
            "class": self.class,
            "algorithm": self.algorithm,
            "kind": self.kind,
            "status": self.status,
            "lb": lb,
            "ub": ub,
            "apothem": self.apothem,
            "apothem_upper": self.apothem_upper,
            "cyclic_radius": self.cyclic_radius,
            "min_edge": self.min_edge,
            "log10_volume": self.log10_volume,
            "nontrivial_faces": self.nontrivial_faces,
            "margin": self.margin,
            "delta": self.delta,
            "tolerance": self.tolerance,
            "eta": self.eta,
            "oracle": self.oracle,
            "time_s": self.time_s,
            "notes": self.notes,
        });
        if let Some(faces) = &self.faces {
            let count = |s: &str| faces.iter().filter(|f| f.state == s).count();
            v["faces_summary"] = serde_json::json!({
                "domain": count("domain"),
                "blocked": count("blocked"),
                "open": count("open"),
            });
            if verbose {
                v["faces"] = serde_json::json!(faces);
            }
        }
        if verbose {
            v["counterexample"] = serde_json::json!(self.counterexample);
        } else if let Some(w) = &self.counterexample {
            v["counterexample_class"] = serde_json::json!(w.competitor);
        }
        v
    }
}
