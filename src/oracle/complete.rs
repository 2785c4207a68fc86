//! Completeness questions and class-extent optimisations (dual certifications).
//!
//! A box is complete for class c when no point of D outside it is of class c. Outside the box
//! means in one of the 2d slabs `x_i >= ub_i + η` or `x_i <= lb_i - η` (within D); each slab is
//! its own question, decided in parallel by the same cascade as soundness: known class points,
//! bounds (some `y_c - y_j` stays below `-τ` on the slab), an attack towards the class, and
//! finally one MILP (`y_c - y_j >= -τ` for every `j`). Near ties count as the class, so that a
//! "complete" answer errs on the side of larger boxes.

use std::time::Instant;

use super::{ordered_par_map, Method, MilpOracle, Optimum, Verdict, Witness};
use crate::attack;
use crate::bounds::{BoundMethod, NeuronBounds};
use crate::milp::encode::{Encoding, LinExpr};
use crate::milp::query;
use crate::milp::solver::{Sense, Status};
use crate::region::Hyperbox;

/// The outcome of one slab.
enum Slab {
    Empty(Method),
    Member(Witness, Method),
    Unknown(String),
    /// Not examined: another slab already holds a class point.
    Skipped,
}

/// The box a `Holds` answer to the completeness question `(region, η)` establishes: `region`
/// enlarged by η on every side, within `domain` — the slabs the question rules out are exactly
/// the closed slabs of `domain` beyond this box's faces (what a completeness proof claims).
pub fn complete_box(region: &Hyperbox, eta: f64, domain: &Hyperbox) -> Hyperbox {
    let lb = (0..region.dim())
        .map(|i| (region.lb()[i] - eta).max(domain.lb()[i]))
        .collect();
    let ub = (0..region.dim())
        .map(|i| (region.ub()[i] + eta).min(domain.ub()[i]))
        .collect();
    Hyperbox::new(lb, ub).unwrap_or_else(|_| domain.clone())
}

impl MilpOracle<'_> {
    /// Attaches a proof of the box [`complete_box`] to a `Holds` when proofs are on.
    pub(super) fn with_complete_proof(
        &self,
        v: Verdict,
        region: &Hyperbox,
        c: usize,
        eta: f64,
        anchor: Option<&[f64]>,
    ) -> Verdict {
        let (Some(hash), Verdict::Holds { method, time, .. }) = (&self.settings.proofs, &v) else {
            return v;
        };
        let limits = crate::milp::solver::Limits {
            time: self.settings.query_timeout,
            deadline: self.settings.deadline,
            ..crate::milp::solver::Limits::default()
        };
        let proof = if region.dim() == self.domain.dim() {
            let b = complete_box(region, eta, &self.domain);
            crate::proof::emit::prove(
                self.net,
                hash,
                self.settings.margin,
                crate::proof::Claim::complete(&self.domain, &b, c),
                anchor,
                &limits,
            )
        } else {
            Err("the box does not fit the domain".to_string())
        };
        Verdict::Holds {
            method: *method,
            time: *time,
            proof: Some(std::sync::Arc::new(proof)),
        }
    }

    /// Upper bounds of `y_c - y_j` over `region`, for every `j != c`.
    fn class_margin_uppers(&self, bounds: &NeuronBounds, region: &Hyperbox, c: usize) -> Vec<f64> {
        let net = self.net;
        (0..net.output_size())
            .filter(|&j| j != c)
            .map(|j| match self.settings.bounds {
                BoundMethod::Interval => bounds.margin_upper_interval_in(net, j, c, Some(region)),
                BoundMethod::Symbolic => bounds.margin_upper(net, j, c, region),
            })
            .collect()
    }

    /// `y_c - y_j` for every `j != c`, as MILP expressions.
    fn class_conditions(enc: &Encoding, c: usize, k: usize) -> Vec<LinExpr> {
        (0..k)
            .filter(|&j| j != c)
            .map(|j| enc.margin(j, c))
            .collect()
    }

    fn remember_member(&self, c: usize, x: &[f64]) {
        let mut m = self.members.lock().unwrap_or_else(|e| e.into_inner());
        if m.len() >= 256 {
            m.remove(0);
        }
        m.push((c, x.to_vec()));
    }

    pub(super) fn complete(
        &self,
        region: &Hyperbox,
        c: usize,
        eta: f64,
        anchor: Option<&[f64]>,
        start: Instant,
    ) -> Verdict {
        let d = &self.domain;
        if region.dim() != self.net.input_size() || c >= self.net.output_size() {
            return Verdict::Unknown {
                reason: "malformed question".to_string(),
                near_tie: None,
                closest: None,
                reached: None,
                time: start.elapsed(),
            };
        }
        let mut slabs = Vec::new();
        for i in 0..region.dim() {
            let up = region.ub()[i] + eta;
            if up <= d.ub()[i] {
                let mut s = d.clone();
                s.set(i, up.max(d.lb()[i]), d.ub()[i]);
                slabs.push(s);
            }
            let lo = region.lb()[i] - eta;
            if lo >= d.lb()[i] {
                let mut s = d.clone();
                s.set(i, d.lb()[i], lo.min(d.ub()[i]));
                slabs.push(s);
            }
        }
        if slabs.is_empty() {
            return Verdict::Holds {
                method: Method::Concrete,
                time: start.elapsed(),
                proof: None,
            };
        }
        // The first class point found outside settles the question: the other slabs stop.
        let found = std::sync::atomic::AtomicBool::new(false);
        let results = ordered_par_map(&slabs, |s| {
            if found.load(std::sync::atomic::Ordering::Relaxed) {
                return Slab::Skipped;
            }
            let r = self.slab(s, c, anchor);
            if matches!(r, Slab::Member(..)) {
                found.store(true, std::sync::atomic::Ordering::Relaxed);
            }
            r
        });
        let mut unknown = Vec::new();
        let mut method = Method::Concrete;
        for r in results {
            match r {
                Slab::Member(w, m) => {
                    return Verdict::Violated {
                        witness: w,
                        method: m,
                        time: start.elapsed(),
                    }
                }
                Slab::Empty(m) => method = method.max(m),
                Slab::Unknown(why) => unknown.push(why),
                Slab::Skipped => unknown.push("skipped".to_string()),
            }
        }
        if unknown.is_empty() {
            Verdict::Holds {
                method,
                time: start.elapsed(),
                proof: None,
            }
        } else {
            unknown.sort();
            unknown.dedup();
            Verdict::Unknown {
                reason: unknown.join("; "),
                near_tie: None,
                closest: None,
                reached: None,
                time: start.elapsed(),
            }
        }
    }

    /// Is there a point of class c in the slab?
    fn slab(&self, slab: &Hyperbox, c: usize, anchor: Option<&[f64]>) -> Slab {
        let net = self.net;
        let tau = self.settings.margin;
        // 1. Known class points and the anchor, projected into the slab; the slab's centre.
        let known: Vec<Vec<f64>> = {
            let m = self.members.lock().unwrap_or_else(|e| e.into_inner());
            m.iter()
                .rev()
                .filter(|(k, _)| *k == c)
                .take(8)
                .map(|(_, x)| x.clone())
                .collect()
        };
        let candidates: Vec<Vec<f64>> = anchor
            .map(|a| a.to_vec())
            .into_iter()
            .chain(known)
            .map(|x| slab.clamp(&x))
            .chain([slab.center()])
            .collect();
        for x in &candidates {
            if let Some(w) = Witness::confirm_member(net, x, c, tau) {
                self.remember_member(c, &w.x);
                return Slab::Member(w, Method::Concrete);
            }
        }
        // 2. Bounds: some competitor stays ahead by more than τ everywhere in the slab.
        let bounds = NeuronBounds::compute(net, slab, self.settings.bounds);
        if self
            .class_margin_uppers(&bounds, slab, c)
            .iter()
            .any(|&u| u < -tau)
        {
            return Slab::Empty(Method::Interval);
        }
        // 3. Attack towards the class.
        if let Some(settings) = &self.settings.attack {
            let (x, m) = attack::attack_member(net, slab, c, &candidates, settings);
            if m >= -tau {
                if let Some(w) = Witness::confirm_member(net, &x, c, tau) {
                    self.remember_member(c, &w.x);
                    return Slab::Member(w, Method::Attack);
                }
            }
        }
        // 4. MILP: maximise s with s <= y_c - y_j for all j, s >= -τ.
        let Some(time_limit) = self.milp_time_limit() else {
            return Slab::Unknown("the run's time limit was reached".to_string());
        };
        let enc = Encoding::new(net, slab, &bounds);
        let conds = Self::class_conditions(&enc, c, net.output_size());
        let limits = self.limits(time_limit);
        let ans = match query::member(&enc, &conds, -tau, &limits) {
            Ok(a) => a,
            Err(e) => return Slab::Unknown(format!("solver error: {e}")),
        };
        self.add_milp_time(1, ans.outcome.time);
        match ans.outcome.status {
            Status::Infeasible => return Slab::Empty(Method::Milp),
            Status::TimeLimit => return Slab::Unknown("MILP time limit reached".to_string()),
            _ => {}
        }
        if let Some(p) = &ans.point {
            let x = slab.clamp(p);
            if let Some(w) = Witness::confirm_member(net, &x, c, tau) {
                self.remember_member(c, &w.x);
                return Slab::Member(w, Method::Milp);
            }
            // Solver tolerance put it just below -τ: a few steps towards the class.
            let (y, m) = attack::attack_member(
                net,
                slab,
                c,
                std::slice::from_ref(&x),
                &crate::attack::AttackSettings::default(),
            );
            if m >= -tau {
                if let Some(w) = Witness::confirm_member(net, &y, c, tau) {
                    self.remember_member(c, &w.x);
                    return Slab::Member(w, Method::Milp);
                }
            }
            return Slab::Unknown(format!(
                "near tie: a point of the slab has y_c - y_j = {:.3e} for its strongest competitor, within solver tolerance of -τ",
                crate::network::margin_of(&net.forward(&x), c).0
            ));
        }
        Slab::Unknown(format!("solver ended with status {:?}", ans.outcome.status))
    }

    pub(super) fn class_extent(
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
                        f64::NEG_INFINITY
                    } else {
                        f64::INFINITY
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
        if self
            .class_margin_uppers(&bounds, &region, c)
            .iter()
            .any(|&u| u < threshold)
        {
            return none(Method::Interval);
        }
        let Some(time_limit) = self.milp_time_limit() else {
            return (
                Optimum {
                    reason: Some("the run's time limit was reached".to_string()),
                    time: start.elapsed(),
                    ..Optimum::unknown("", !upper)
                },
                Method::Milp,
            );
        };
        let enc = Encoding::new(net, &region, &bounds);
        let conds = Self::class_conditions(&enc, c, net.output_size());
        let limits = self.limits(time_limit);
        let sense = if upper {
            Sense::Maximise
        } else {
            Sense::Minimise
        };
        let ans = match query::extreme_coordinate(&enc, coord, sense, &conds, threshold, &limits) {
            Ok(a) => a,
            Err(e) => {
                return (
                    Optimum {
                        reason: Some(format!("solver error: {e}")),
                        time: start.elapsed(),
                        ..Optimum::unknown("", !upper)
                    },
                    Method::Milp,
                )
            }
        };
        self.add_milp_time(1, ans.outcome.time);
        let o = &ans.outcome;
        let (bound, exact, reason) = match o.status {
            Status::Infeasible => (
                if upper {
                    f64::NEG_INFINITY
                } else {
                    f64::INFINITY
                },
                true,
                None,
            ),
            Status::Optimal => (
                o.dual_bound.or(o.objective).unwrap_or(if upper {
                    f64::INFINITY
                } else {
                    f64::NEG_INFINITY
                }),
                true,
                None,
            ),
            s => (
                o.dual_bound.unwrap_or(if upper {
                    f64::INFINITY
                } else {
                    f64::NEG_INFINITY
                }),
                false,
                Some(format!("solver ended with status {s:?}")),
            ),
        };
        let best = ans.point.map(|p| {
            let x = region.clamp(&p);
            (x[coord], x)
        });
        (
            Optimum {
                bound,
                best,
                exact,
                reason,
                time: start.elapsed(),
            },
            Method::Milp,
        )
    }
}
