//! The general question — is there x in a disjunct's box, satisfying its constraints? — through
//! the cascade. "Class c keeps winning" is [`Property::class_loses`] asked here too: one path.
//!
//! 1. **concrete**: remembered counterexamples (class questions), each box's centre and corners;
//! 2. **bounds**: a disjunct is ruled out when one of its constraints has `value > τ` on the
//!    whole box, bounding each linear output expression as a whole (back-substitution of its
//!    coefficient vector), not output by output; and a disjunct that a MILP already proved
//!    empty on a box containing this one's is dropped (the memo, `ruled.rs`: searches ask many
//!    questions on sub-boxes of refused boxes);
//! 3. **attack**: sign-gradient ascent on the satisfaction of the leading disjunct, then one
//!    short targeted ascent per disjunct;
//! 4. **MILP**: one per open disjunct (`value_k <= τ` for all its constraints), in parallel,
//!    the first confirmed witness stopping the rest — or one disjunctive MILP when every open
//!    disjunct is a single constraint over one box and the strategy asks for it.
//!
//! A witness is only reported after [`confirm`](super::confirm::confirm) (`confirm.rs`): in the box and every constraint holding
//! exactly (zero tolerance, strict ones strictly), in f64 and in f32. For properties whose
//! inputs are float32 ([`Property::f32_inputs`]), the witness is first rounded to float32
//! values inside its box, so that what is printed is exactly what was checked.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use super::confirm::confirm;
use super::{ordered_par_map, ClassResult, Method, MilpOracle, MilpStrategy, Verdict, Witness};
use crate::attack;
use crate::bounds::{BoundMethod, NeuronBounds};
use crate::milp::encode::{Encoding, LinExpr};
use crate::milp::query;
use crate::milp::solver::{Limits, Status};
use crate::network::Network;
use crate::property::{Constraint, Disjunct, Property};
use crate::region::Hyperbox;

/// Lower and upper bounds of one constraint's `value` over the box of `bounds`.
fn value_bounds(
    net: &Network,
    bounds: &NeuronBounds,
    method: BoundMethod,
    region: &Hyperbox,
    c: &Constraint,
) -> (f64, f64) {
    // The input part, over the box (rounding-widened like every bound).
    let (mut xl, mut xu, mut abs) = (0.0, 0.0, 0.0);
    for &(i, a) in &c.x {
        let (l, u) = (region.lb()[i], region.ub()[i]);
        xl += if a >= 0.0 { a * l } else { a * u };
        xu += if a >= 0.0 { a * u } else { a * l };
        abs += a.abs() * l.abs().max(u.abs());
    }
    let widen = (c.x.len() as f64 + 2.0) * f64::EPSILON * (abs + c.constant.abs());
    let (yl, yu) = output_bounds(net, bounds, method, region, &c.y);
    (xl + yl + c.constant - widen, xu + yu + c.constant + widen)
}

/// Bounds of `Σ b_j y_j` over the box. A difference of two outputs uses the classification
/// margin bounds (the same numbers the class questions always used); any other combination is
/// bounded as one linear function (back-substitution) and by the output intervals.
fn output_bounds(
    net: &Network,
    bounds: &NeuronBounds,
    method: BoundMethod,
    region: &Hyperbox,
    y: &[(usize, f64)],
) -> (f64, f64) {
    if y.is_empty() {
        return (0.0, 0.0);
    }
    if let [(a, pa), (b, pb)] = *y {
        // a - b (or b - a): y_a - y_b is the margin "y_j - y_c" with j = a, c = b.
        let diff = |j: usize, c: usize| match method {
            BoundMethod::Interval => (
                -bounds.margin_upper_interval_in(net, j, c, Some(region)),
                bounds.margin_upper_interval_in(net, c, j, Some(region)),
            ),
            BoundMethod::Symbolic => (
                -bounds.margin_upper(net, j, c, region),
                bounds.margin_upper(net, c, j, region),
            ),
        };
        if pa == 1.0 && pb == -1.0 {
            return diff(a, b);
        }
        if pa == -1.0 && pb == 1.0 {
            return diff(b, a);
        }
    }
    // Output intervals (rectified when the output layer has a ReLU).
    let last = net.layers().len() - 1;
    let relu = net.layers()[last].relu;
    let (lo, hi) = (&bounds.lower[last], &bounds.upper[last]);
    let f = |v: f64| if relu { v.max(0.0) } else { v };
    let (mut il, mut iu, mut abs) = (0.0, 0.0, 0.0);
    for &(j, b) in y {
        let (l, u) = (f(lo[j]), f(hi[j]));
        il += if b >= 0.0 { b * l } else { b * u };
        iu += if b >= 0.0 { b * u } else { b * l };
        abs += b.abs() * l.abs().max(u.abs());
    }
    let w = (y.len() as f64 + 2.0) * f64::EPSILON * abs;
    let (mut il, mut iu) = (il - w, iu + w);
    if method == BoundMethod::Symbolic {
        let n = net.output_size();
        let mut up = vec![0.0; n];
        let mut down = vec![0.0; n];
        for &(j, b) in y {
            up[j] += b;
            down[j] -= b;
        }
        iu = iu.min(bounds.output_linear_upper(net, &up, 0.0, region));
        il = il.max(-bounds.output_linear_upper(net, &down, 0.0, region));
    }
    (il, iu)
}

/// An open disjunct after the bounds step: its index, and the bounds of the satisfaction
/// (`-value`) of each of its constraints that the box does not express.
struct Open {
    index: usize,
    sat_bounds: Vec<(f64, f64)>,
}

impl Open {
    /// Upper bound of the disjunct's satisfaction (its least satisfiable constraint).
    fn hi(&self) -> f64 {
        self.sat_bounds
            .iter()
            .map(|b| b.1)
            .fold(f64::INFINITY, f64::min)
    }
}

/// The rows of a disjunct (constraints its box does not express exactly).
fn rows(d: &Disjunct) -> Vec<Constraint> {
    d.rows().cloned().collect()
}

impl MilpOracle<'_> {
    /// Known counterexamples of the class (most recent first), then each distinct box's centre
    /// and two corners.
    pub(super) fn concrete_in(&self, p: &Property, class: Option<usize>) -> Option<Witness> {
        let mut points: Vec<Vec<f64>> = Vec::new();
        if let Some(c) = class {
            let pool = self.pool.lock().unwrap_or_else(|e| e.into_inner());
            if let Some((_, x)) = pool
                .iter()
                .rev()
                .find(|(k, x)| *k == c && p.disjuncts.iter().any(|d| d.region.contains(x)))
            {
                points.push(x.clone());
            }
        }
        let mut seen: Vec<&Hyperbox> = Vec::new();
        for d in &p.disjuncts {
            if seen.contains(&&d.region) {
                continue;
            }
            seen.push(&d.region);
            points.extend([
                d.region.center(),
                d.region.lb().to_vec(),
                d.region.ub().to_vec(),
            ]);
        }
        points
            .into_iter()
            .find_map(|x| confirm(self.net, p, class, &x))
    }

    /// The gradient attack on the disjuncts `open` (all when `None`): one mixed ascent per
    /// distinct box, then one short targeted ascent per disjunct.
    pub(super) fn attack_in(
        &self,
        p: &Property,
        class: Option<usize>,
        open: Option<&[usize]>,
    ) -> Option<Witness> {
        let settings = self.settings.attack.as_ref()?;
        let all: Vec<usize> = (0..p.disjuncts.len()).collect();
        let open = open.unwrap_or(&all);
        let owned: Vec<(usize, Vec<Constraint>)> = open
            .iter()
            .map(|&k| (k, rows(&p.disjuncts[k])))
            .filter(|(_, r)| !r.is_empty())
            .collect();
        let mut groups: Vec<(&Hyperbox, Vec<&[Constraint]>)> = Vec::new();
        for (k, r) in &owned {
            let region = &p.disjuncts[*k].region;
            match groups.iter_mut().find(|(g, _)| *g == region) {
                Some((_, goals)) => goals.push(r),
                None => groups.push((region, vec![r])),
            }
        }
        for (region, goals) in &groups {
            let (x, value) = attack::attack_goals(self.net, region, goals, settings);
            if value >= 0.0 {
                if let Some(w) = confirm(self.net, p, class, &x) {
                    return Some(w);
                }
            }
        }
        // The mixed attack follows whichever disjunct leads and can stall between two; one
        // short targeted ascent per disjunct (a few milliseconds in all, against ~100 ms for
        // the MILPs it can spare) finds what it misses.
        let targeted = attack::AttackSettings {
            restarts: 0,
            ..*settings
        };
        for (region, goals) in &groups {
            if goals.len() < 2 {
                continue;
            }
            for g in goals {
                let (x, value) = attack::attack_goals(self.net, region, &[g], &targeted);
                if value >= 0.0 {
                    if let Some(w) = confirm(self.net, p, class, &x) {
                        return Some(w);
                    }
                }
            }
        }
        None
    }

    /// The cascade on a property whose boxes already lie in D. `class`: the question is
    /// [`Property::class_loses`] for it (witnesses report its margin; the pool remembers them).
    pub(super) fn exists(&self, p: &Property, class: Option<usize>, start: Instant) -> Verdict {
        let net = self.net;
        let tau = self.settings.margin;
        let violated = |witness: Witness, method: Method| {
            if let Some(c) = class {
                self.remember(c, &witness.x);
            }
            Verdict::Violated {
                witness,
                method,
                time: start.elapsed(),
            }
        };
        if p.disjuncts.is_empty() {
            // Nothing of the region lies in D: vacuously empty.
            return Verdict::Holds {
                method: Method::Concrete,
                time: start.elapsed(),
                proof: None,
            };
        }

        // 1. Concrete.
        if let Some(w) = self.concrete_in(p, class) {
            return violated(w, Method::Concrete);
        }

        // 2. Bounds, once per distinct box.
        let mut boxes: Vec<(&Hyperbox, NeuronBounds)> = Vec::new();
        let mut open: Vec<Open> = Vec::new();
        for (index, d) in p.disjuncts.iter().enumerate() {
            let bi = match boxes.iter().position(|(r, _)| *r == &d.region) {
                Some(i) => i,
                None => {
                    boxes.push((
                        &d.region,
                        NeuronBounds::compute(net, &d.region, self.settings.bounds),
                    ));
                    boxes.len() - 1
                }
            };
            let bounds = &boxes[bi].1;
            let sat_bounds: Vec<(f64, f64)> = d
                .rows()
                .map(|c| {
                    let (lo, hi) = value_bounds(net, bounds, self.settings.bounds, &d.region, c);
                    (-hi, -lo)
                })
                .collect();
            // Closed only when every bound proves it (`hi < -τ`): a NaN bound keeps it open.
            if sat_bounds.iter().all(|&(_, hi)| hi >= -tau || hi.is_nan()) {
                open.push(Open { index, sat_bounds });
            }
        }
        if open.is_empty() {
            return Verdict::Holds {
                method: Method::Interval,
                time: start.elapsed(),
                proof: None,
            };
        }
        // Disjuncts a MILP already proved empty on a box containing this one's.
        if self.settings.memo {
            open.retain(|o| {
                let d = &p.disjuncts[o.index];
                !self.ruled_out.covers(&d.constraints, &d.region)
            });
            if open.is_empty() {
                return Verdict::Holds {
                    method: Method::Milp,
                    time: start.elapsed(),
                    proof: None,
                };
            }
        }
        // Most dangerous disjuncts first: they set the pace for the others.
        open.sort_by(|a, b| b.hi().total_cmp(&a.hi()));

        // 3. Attack.
        let idx: Vec<usize> = open.iter().map(|o| o.index).collect();
        if let Some(w) = self.attack_in(p, class, Some(&idx)) {
            return violated(w, Method::Attack);
        }

        // 4. MILP.
        let Some(time_limit) = self.milp_time_limit() else {
            return Verdict::Unknown {
                near_tie: None,
                reason: "the run's time limit was reached".to_string(),
                time: start.elapsed(),
            };
        };
        // Deep networks: the strong attack, then (when enabled) LP-tightened bounds, which may
        // close disjuncts by themselves (see `deep.rs`).
        if let (Some(c), [first, rest @ ..]) = (class, &p.disjuncts[..]) {
            if rest.iter().all(|d| d.region == first.region) {
                if let Some(w) = self.strong_attack(&first.region, c, &[], time_limit) {
                    return violated(w, Method::Attack);
                }
            }
        }
        if self.settings.lp_tightening {
            for (r, b) in boxes.iter_mut() {
                *b = self.tightened(r, std::mem::take(b), time_limit);
            }
            open.retain_mut(|o| {
                let d = &p.disjuncts[o.index];
                let bounds = &boxes
                    .iter()
                    .find(|(b, _)| *b == &d.region)
                    .expect("bounds of every box")
                    .1;
                o.sat_bounds = d
                    .rows()
                    .map(|c| {
                        let (lo, hi) =
                            value_bounds(net, bounds, self.settings.bounds, &d.region, c);
                        (-hi, -lo)
                    })
                    .collect();
                o.sat_bounds
                    .iter()
                    .all(|&(_, hi)| hi >= -tau || hi.is_nan())
            });
            if open.is_empty() {
                return Verdict::Holds {
                    method: Method::Interval,
                    time: start.elapsed(),
                    proof: None,
                };
            }
        }
        let Some(time_limit) = self.milp_time_limit() else {
            return Verdict::Unknown {
                near_tie: None,
                reason: "the run's time limit was reached".to_string(),
                time: start.elapsed(),
            };
        };
        if let Some(o) = open
            .iter()
            .find(|o| p.disjuncts[o.index].rows().next().is_none())
        {
            // Only box bounds, and neither centre nor corners satisfied them exactly: strict
            // bounds around an empty interior, or float32 rounding. No MILP decides that.
            return Verdict::Unknown {
                near_tie: None,
                reason: format!(
                    "disjunct {} is a box whose centre and corners do not satisfy its (strict or float32) bounds exactly",
                    o.index
                ),
                time: start.elapsed(),
            };
        }
        let mut encodings: Vec<(&Hyperbox, Encoding)> = Vec::new();
        for o in &open {
            let r = &p.disjuncts[o.index].region;
            if !encodings.iter().any(|(e, _)| *e == r) {
                let bounds = &boxes
                    .iter()
                    .find(|(b, _)| *b == r)
                    .expect("bounds of every box")
                    .1;
                encodings.push((r, Encoding::new(net, r, bounds)));
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
        let limits = Limits {
            stop: Some(&stop),
            ..self.limits(time_limit)
        };
        let disjunctive = self.settings.strategy == MilpStrategy::Disjunctive
            && encodings.len() == 1
            && open.iter().all(|o| o.sat_bounds.len() == 1);
        let results: Vec<ClassResult> = if disjunctive {
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
                for o in &open {
                    self.memorise(&p.disjuncts[o.index]);
                }
            }
            vec![r]
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
                ordered_par_map(&open, run)
            } else {
                let mut out = Vec::new();
                for o in &open {
                    let r = run(o);
                    let done = matches!(r, ClassResult::Violated(_));
                    out.push(r);
                    if done {
                        break;
                    }
                }
                out
            }
        };
        let mut unknown = Vec::new();
        let mut near_tie: Option<Option<Vec<f64>>> = Some(None);
        for r in results {
            match r {
                ClassResult::Violated(w) => return violated(w, Method::Milp),
                ClassResult::Unknown(why) => {
                    near_tie = None;
                    unknown.push(why)
                }
                ClassResult::NearTie(why, point) => {
                    if let Some(slot) = near_tie.as_mut() {
                        if slot.is_none() {
                            *slot = point;
                        }
                    }
                    unknown.push(why)
                }
                ClassResult::Interrupted => {
                    near_tie = None;
                    unknown.push("interrupted".to_string())
                }
                ClassResult::RuledOut => {}
            }
        }
        if unknown.is_empty() {
            Verdict::Holds {
                method: Method::Milp,
                time: start.elapsed(),
                proof: None,
            }
        } else {
            unknown.sort();
            unknown.dedup();
            Verdict::Unknown {
                reason: unknown.join("; "),
                near_tie: near_tie.flatten(),
                time: start.elapsed(),
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
            Status::TimeLimit => ClassResult::Unknown("MILP time limit reached".to_string()),
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
