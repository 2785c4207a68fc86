//! The exact stage of the cascade: MILPs over the disjuncts that concrete points, bounds and
//! attacks left open (one per disjunct, in parallel, or one disjunctive MILP), and what their
//! outcomes mean. A point a MILP returns is a counterexample only once it re-checks exactly
//! (f64 and f32); one that does not is polished (gradient steps, then the LP of its linear
//! region) or reported as a near tie, never as `Violated`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::confirm::confirm;
use super::property::Open;
use super::{ordered_par_map, ClassResult, MilpOracle, MilpStrategy, Witness};
use crate::attack;
use crate::bounds::NeuronBounds;
use crate::milp::encode::{Encoding, LinExpr};
use crate::milp::query;
use crate::milp::solver::{Limits, Status};
use crate::property::{Disjunct, Property};
use crate::region::Hyperbox;

impl MilpOracle<'_> {
    /// One MILP pass over the `open` disjuncts of `p` (their boxes' bounds in `boxes`), each
    /// MILP limited to `time_limit` and the whole pass to `until` (besides the run's deadline):
    /// one result per open disjunct, in order (the disjunctive MILP's one result repeated for
    /// each). A sequential pass stops at the first violation.
    pub(super) fn milp_pass(
        &self,
        p: &Property,
        class: Option<usize>,
        open: &[Open],
        boxes: &[(&Hyperbox, NeuronBounds)],
        time_limit: Option<Duration>,
        until: Option<Instant>,
    ) -> Vec<ClassResult> {
        let mut encodings: Vec<(&Hyperbox, Encoding)> = Vec::new();
        for o in open {
            let r = &p.disjuncts[o.index].region;
            if !encodings.iter().any(|(e, _)| *e == r) {
                let bounds = &boxes
                    .iter()
                    .find(|(b, _)| *b == r)
                    .expect("bounds of every box")
                    .1;
                encodings.push((r, Encoding::new(self.net, r, bounds)));
            }
        }
        let enc_of = |k: usize| -> &Encoding {
            let r = &p.disjuncts[k].region;
            &encodings
                .iter()
                .find(|(e, _)| *e == r)
                .expect("an encoding of every open box")
                .1
        };
        let stop = AtomicBool::new(false);
        let tau = self.settings.margin;
        let limits = Limits {
            stop: Some(&stop),
            ..self.limits(time_limit)
        };
        let limits = Limits {
            deadline: match (limits.deadline, until) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            },
            ..limits
        };
        let disjunctive = self.settings.strategy == MilpStrategy::Disjunctive
            && encodings.len() == 1
            && open.iter().all(|o| o.sat_bounds.len() == 1);
        if disjunctive {
            let enc = &encodings[0].1;
            let exprs: Vec<LinExpr> = open
                .iter()
                .map(|o| {
                    let c = p.disjuncts[o.index].rows().next().expect("one row");
                    query::satisfaction(enc, c)
                })
                .collect();
            let b: Vec<(f64, f64)> = open.iter().map(|o| o.sat_bounds[0]).collect();
            let r = query::any_of(enc, &exprs, &b, tau, &limits);
            let r = self.interpret(enc, p, class, None, r);
            if matches!(r, ClassResult::RuledOut) {
                for o in open {
                    self.memorise(&p.disjuncts[o.index]);
                }
            }
            vec![r; open.len()]
        } else {
            let run = |o: &Open| {
                let enc = enc_of(o.index);
                let exprs: Vec<LinExpr> = p.disjuncts[o.index]
                    .rows()
                    .map(|c| query::satisfaction(enc, c))
                    .collect();
                let r = query::satisfy(enc, &exprs, tau, &limits);
                let r = self.interpret(enc, p, class, Some(o.index), r);
                match r {
                    ClassResult::Violated(_) => stop.store(true, Ordering::Relaxed),
                    ClassResult::RuledOut => self.memorise(&p.disjuncts[o.index]),
                    _ => {}
                }
                r
            };
            if self.settings.parallel {
                ordered_par_map(open, run)
            } else {
                let mut out = Vec::new();
                for o in open {
                    let r = run(o);
                    let done = matches!(r, ClassResult::Violated(_));
                    out.push(r);
                    if done {
                        break;
                    }
                }
                out
            }
        }
    }

    /// Records that a MILP proved `d` empty (when the memo is on).
    fn memorise(&self, d: &Disjunct) {
        if self.settings.memo {
            self.ruled_out.record(&d.constraints, &d.region);
        }
    }

    /// Turns a MILP's outcome for disjunct `k` (`None`: the disjunctive MILP) into a result,
    /// confirming or polishing its point.
    fn interpret(
        &self,
        enc: &Encoding,
        p: &Property,
        class: Option<usize>,
        k: Option<usize>,
        r: Result<query::Answer, crate::milp::solver::SolverError>,
    ) -> ClassResult {
        let ans = match r {
            Ok(a) => a,
            Err(e) => return ClassResult::Unknown(format!("solver error: {e}")),
        };
        self.add_milp_time(1, ans.outcome.time);
        let status = ans.outcome.status;
        if status == Status::Infeasible {
            return ClassResult::RuledOut;
        }
        let region = &enc.region;
        if let Some(pt) = &ans.point {
            let x = region.clamp(pt);
            // The disjunct to polish towards: the given one, or the best satisfied at x.
            let k = k.unwrap_or_else(|| {
                let y = self.net.forward(&x);
                (0..p.disjuncts.len())
                    .filter(|&i| &p.disjuncts[i].region == region)
                    .max_by(|&a, &b| {
                        p.disjuncts[a]
                            .slack(&x, &y)
                            .total_cmp(&p.disjuncts[b].slack(&x, &y))
                    })
                    .unwrap_or(0)
            });
            if let Some(w) = self.confirm_or_polish(enc, p, class, k, &x) {
                return ClassResult::Violated(w);
            }
        }
        match status {
            Status::Interrupted => ClassResult::Interrupted,
            Status::TimeLimit => {
                ClassResult::TimedOut(
                    ans.outcome.dual_bound.filter(|b| b.is_finite()),
                    ans.relaxed_point.as_ref().map(|pt| region.clamp(pt)),
                )
            }
            Status::Optimal | Status::TargetReached => ClassResult::NearTie(
                match class {
                    Some(_) => format!(
                        "near tie: the largest y_j - y_c on the box is {:.3e}, within the safety margin τ = {:.1e} but not a confirmed counterexample",
                        ans.outcome.objective.unwrap_or(f64::NAN),
                        self.settings.margin
                    ),
                    None => format!(
                        "near tie: the best satisfaction of the property on the box is {:.3e}, within the safety margin τ = {:.1e} of the boundary but no point re-checks exactly (f64 and f32)",
                        ans.outcome.objective.unwrap_or(f64::NAN),
                        self.settings.margin
                    ),
                },
                ans.point.as_ref().map(|pt| region.clamp(pt)),
            ),
            other => ClassResult::Unknown(format!("solver ended with status {other:?}")),
        }
    }

    /// Confirms `x` as a witness, or tries to make it one: gradient steps on disjunct `k`'s
    /// least satisfied constraint, then the LP of `x`'s linear region maximising its
    /// satisfaction.
    fn confirm_or_polish(
        &self,
        enc: &Encoding,
        p: &Property,
        class: Option<usize>,
        k: usize,
        x: &[f64],
    ) -> Option<Witness> {
        if let Some(w) = confirm(self.net, p, class, x) {
            return Some(w);
        }
        let d = &p.disjuncts[k];
        let region = &enc.region;
        let y = self.net.forward(x);
        if let Some(worst) = d
            .rows()
            .min_by(|a, b| b.value(x, &y).total_cmp(&a.value(x, &y)))
        {
            let g = attack::satisfaction_gradient(self.net, x, worst);
            for scale in [1e-9, 1e-7, 1e-5] {
                let z: Vec<f64> = x
                    .iter()
                    .zip(&g)
                    .map(|(&v, &gi)| v + scale * gi.signum())
                    .collect();
                if let Some(w) = confirm(self.net, p, class, &region.clamp(&z)) {
                    return Some(w);
                }
            }
        }
        // The LP of the linear region.
        let mut fixed = enc.clone();
        fixed.fix_pattern(self.net, x);
        let exprs: Vec<LinExpr> = d.rows().map(|c| query::satisfaction(&fixed, c)).collect();
        if exprs.is_empty() {
            return None;
        }
        let ans = query::polish(&fixed, &exprs, &Limits::default()).ok()?;
        self.add_milp_time(1, ans.outcome.time);
        let z = region.clamp(&ans.point?);
        confirm(self.net, p, class, &z)
    }
}
