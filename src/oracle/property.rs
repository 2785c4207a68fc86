//! The general question — is there x in a disjunct's box, satisfying its constraints? — through
//! the cascade. "Class c keeps winning" is [`Property::class_loses`] asked here too: one path.
//!
//! 1. **concrete**: remembered counterexamples (class questions), each box's centre and corners;
//! 2. **bounds** (`value.rs`): a disjunct is ruled out when one of its constraints has `value > τ` on the
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

use std::time::{Duration, Instant};

use super::closest::{Reached, Tracker};
use super::confirm::confirm;
use super::value::value_bounds;
use super::{ClassResult, Method, MilpOracle, Verdict, Witness};
use crate::attack;
use crate::bounds::NeuronBounds;
use crate::property::{Constraint, Disjunct, Property};
use crate::region::Hyperbox;

/// Deep networks with LP tightening: the share of a question's time its first, untightened
/// MILP pass may take, and at most `PROBE_MAX`. The pass is for the disjuncts that settle
/// quickly; with a long limit an uncapped tenth was pure loss: on 784-256×4-10 0-1 at
/// ε = 0.03 with 1200 s, 120 s that settled nothing before tightening made every MILP easy.
const PROBE_SHARE: f64 = 0.1;
const PROBE_MAX: Duration = Duration::from_secs(15);

/// An open disjunct after the bounds step: its index, and the bounds of the satisfaction
/// (`-value`) of each of its constraints that the box does not express.
pub(super) struct Open {
    pub(super) index: usize,
    pub(super) sat_bounds: Vec<(f64, f64)>,
    /// The bound an earlier MILP pass's branch and bound reached on this disjunct before its
    /// time ran out (the solver's, not rounded outward): the bracket's upper end when the last
    /// pass does not reach it.
    pub(super) searched: Option<f64>,
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

/// Why a question whose MILPs reached their time limit is undecided: how many disjuncts stayed
/// open and, when the branch and bound had one, the largest bound on their satisfaction (for
/// "does the class lose?", the largest `y_j - y_c` not yet excluded). MIPVerify reports the
/// same (its objective bound): it tells a user how far from a proof the run ended, and so
/// whether more time is worth trying. The bound is the solver's, not rounded outward, so it is
/// stated as what the search had reached, not as a proved fact.
fn timed_out_reason(bounds: &[Option<f64>], tau: f64, class: bool) -> String {
    let n = bounds.len();
    // A class question has one disjunct per competitor j, whose satisfaction is y_j - y_c.
    let (one, many, value) = if class {
        ("competitor", "competitors", "y_j - y_c")
    } else {
        ("disjunct", "disjuncts", "the satisfaction")
    };
    let what = if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    };
    // When some searches had no bound yet (not started, or stopped in their root LP), the
    // largest bound speaks only for the others: say so.
    let with = bounds.iter().flatten().count();
    let on = if with < n {
        format!(" on the {with} of {n} that had one")
    } else {
        String::new()
    };
    match bounds.iter().flatten().copied().reduce(f64::max) {
        Some(b) => format!(
            "MILP time limit reached with {what} open (the branch and bound's bound on {value} had come down to {b:.4}{on}; a proof needs it below -τ, τ = {tau:e})"
        ),
        None => format!("MILP time limit reached with {what} open"),
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
        mut closest: Option<&mut Tracker>,
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
            if let Some(t) = closest.as_deref_mut() {
                t.offer(&x);
            }
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
                if let Some(t) = closest.as_deref_mut() {
                    t.offer(&x);
                }
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
                    boxes.push((&d.region, self.bounds_of(&d.region)));
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
                open.push(Open {
                    index,
                    sat_bounds,
                    searched: None,
                });
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

        // 3. Attack. From here on, the points the searches reach are kept for an `unknown`'s
        // bracket (`closest.rs`).
        let mut closest = Tracker::new(net, p);
        let idx: Vec<usize> = open.iter().map(|o| o.index).collect();
        if let Some(w) = self.attack_in(p, class, Some(&idx), Some(&mut closest)) {
            return violated(w, Method::Attack);
        }

        // 4. MILP (the run's deadline may pass before any step of it).
        let out_of_time = |closest: Tracker, open: &[Open]| {
            undecided(TIME_LIMIT.to_string(), None, closest, open_end(open), start)
        };
        let Some(time_limit) = self.milp_time_limit() else {
            return out_of_time(closest, &open);
        };
        // Deep networks: the strong attack, then (when enabled) LP-tightened bounds, which may
        // close disjuncts by themselves (see `deep.rs`).
        if let (Some(c), [first, rest @ ..]) = (class, &p.disjuncts[..]) {
            if rest.iter().all(|d| d.region == first.region) {
                if let Some(w) =
                    self.strong_attack(&first.region, c, &[], time_limit, Some(&mut closest))
                {
                    return violated(w, Method::Attack);
                }
            }
        }
        // Deep networks with LP tightening: first a MILP pass with a short limit, which settles
        // the easy disjuncts before tightening spends its budget (tens of seconds on 256-wide
        // layers) on a box whose MILPs take less.
        if let (true, true, Some(t)) = (self.settings.lp_tightening, self.deep(), time_limit) {
            let probe = t.mul_f64(PROBE_SHARE).min(PROBE_MAX);
            let until = Some(Instant::now() + probe);
            let results = self.milp_pass(p, class, &open, &boxes, Some(probe), until);
            let mut settled = vec![false; open.len()];
            // The relaxations' points of the MILPs that ran out of time, and their disjuncts.
            let mut points: Vec<(usize, Vec<f64>)> = Vec::new();
            for (i, r) in results.into_iter().enumerate() {
                match r {
                    ClassResult::Violated(w) => return violated(w, Method::Milp),
                    ClassResult::RuledOut => settled[i] = true,
                    ClassResult::TimedOut(bound, point) => {
                        open[i].searched = bound;
                        points.extend(point.map(|x| (open[i].index, x)));
                    }
                    _ => {}
                }
            }
            // Those points as starts of the strong attack, before tightening takes its time.
            if let (Some(c), [first, rest @ ..]) = (class, &p.disjuncts[..]) {
                if !points.is_empty() && rest.iter().all(|d| d.region == first.region) {
                    let starts: Vec<(Vec<usize>, Vec<f64>)> = points
                        .into_iter()
                        .map(|(k, x)| (competitors(&p.disjuncts[k], c), x))
                        .collect();
                    if let Some(w) = self.relaxation_attack(
                        &first.region,
                        c,
                        &starts,
                        time_limit,
                        Some(&mut closest),
                    ) {
                        return violated(w, Method::Attack);
                    }
                }
            }
            let mut i = 0;
            open.retain(|_| {
                i += 1;
                !settled[i - 1]
            });
            if open.is_empty() {
                return Verdict::Holds {
                    method: Method::Milp,
                    time: start.elapsed(),
                    proof: None,
                };
            }
        }
        if self.settings.lp_tightening {
            let Some(time_limit) = self.milp_time_limit() else {
                return out_of_time(closest, &open);
            };
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
            return out_of_time(closest, &open);
        };
        if let Some(o) = open
            .iter()
            .find(|o| p.disjuncts[o.index].rows().next().is_none())
        {
            // Only box bounds, and neither centre nor corners satisfied them exactly: strict
            // bounds around an empty interior, or float32 rounding. No MILP decides that.
            let reason = format!(
                "disjunct {} is a box whose centre and corners do not satisfy its (strict or float32) bounds exactly",
                o.index
            );
            return undecided(reason, None, closest, open_end(&open), start);
        }
        let results = self.milp_pass(p, class, &open, &boxes, time_limit, None);
        let mut unknown = Vec::new();
        let mut timed_out = Vec::new();
        let mut near_tie: Option<Option<Vec<f64>>> = Some(None);
        // The upper end: each disjunct left open, with its branch and bound's bound if any.
        let mut ends: Vec<(f64, Option<f64>)> = Vec::new();
        for (o, r) in open.iter().zip(results) {
            // The lower of this pass's bound and an earlier pass's: both bound the same
            // disjunct's satisfaction over the same box.
            let search = match &r {
                ClassResult::TimedOut(Some(b), _) => Some(o.searched.map_or(*b, |s| s.min(*b))),
                _ => o.searched,
            };
            if !matches!(r, ClassResult::RuledOut) {
                ends.push((o.hi(), search));
            }
            match r {
                ClassResult::Violated(w) => return violated(w, Method::Milp),
                ClassResult::Unknown(why) => {
                    near_tie = None;
                    unknown.push(why)
                }
                ClassResult::TimedOut(bound, _) => {
                    near_tie = None;
                    timed_out.push(bound)
                }
                ClassResult::NearTie(why, point) => {
                    if let Some(x) = &point {
                        closest.offer(x);
                    }
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
        if !timed_out.is_empty() {
            unknown.push(timed_out_reason(&timed_out, tau, class.is_some()));
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
            let reason = unknown.join("; ");
            undecided(
                reason,
                near_tie.flatten(),
                closest,
                Reached::over(&ends),
                start,
            )
        }
    }
}

/// Why a question the run's time limit stopped before its MILPs is undecided.
const TIME_LIMIT: &str = "the run's time limit was reached";

/// An undecided verdict with how far the question got.
fn undecided(
    reason: String,
    near_tie: Option<Vec<f64>>,
    closest: Tracker,
    reached: Option<Reached>,
    start: Instant,
) -> Verdict {
    Verdict::Unknown {
        reason,
        near_tie,
        closest: closest.into_closest(),
        reached,
        time: start.elapsed(),
    }
}

/// The competitors of class `c` a disjunct is about: the outputs its rows name besides `c`.
fn competitors(d: &Disjunct, c: usize) -> Vec<usize> {
    let mut js: Vec<usize> = d
        .rows()
        .flat_map(|r| r.y.iter().map(|&(j, _)| j))
        .filter(|&j| j != c)
        .collect();
    js.sort_unstable();
    js.dedup();
    js
}

/// The upper end of the disjuncts still open, before the last MILP pass: each one's rigorous
/// bound, or the bound an earlier pass's search reached on it when lower.
fn open_end(open: &[Open]) -> Option<Reached> {
    let ends: Vec<(f64, Option<f64>)> = open.iter().map(|o| (o.hi(), o.searched)).collect();
    Reached::over(&ends)
}

#[cfg(test)]
mod tests {
    use super::{open_end, timed_out_reason, Open};

    /// Before the last MILP pass, an open disjunct's end is its rigorous bound, or the lower
    /// bound an earlier pass's search reached on it (then not a proved end).
    #[test]
    fn an_earlier_search_lowers_the_open_end() {
        let open = |hi: f64, searched: Option<f64>| Open {
            index: 0,
            sat_bounds: vec![(-10.0, hi), (-10.0, hi + 1.0)],
            searched,
        };
        let r = open_end(&[open(5.0, Some(2.0)), open(3.0, None)]).expect("an end");
        assert_eq!(r.value, 3.0);
        assert!(!r.proved, "a rigorous bound of 5 exceeds it");
        let r = open_end(&[open(5.0, Some(2.0))]).expect("an end");
        assert_eq!(r.value, 2.0);
        assert!(!r.proved);
        let r = open_end(&[open(5.0, None), open(3.0, None)]).expect("an end");
        assert_eq!((r.value, r.proved), (5.0, true));
        // A search bound above the rigorous one changes nothing.
        let r = open_end(&[open(4.0, Some(6.0))]).expect("an end");
        assert_eq!((r.value, r.proved), (4.0, true));
    }

    /// The reason names how many disjuncts (competitors, for a class question) stayed open
    /// and the largest bound among those that have one; without any bound, only the count.
    #[test]
    fn a_timed_out_reason_states_the_open_disjuncts_and_their_largest_bound() {
        let r = timed_out_reason(&[Some(6.11459), None, Some(-0.5)], 1e-4, false);
        assert!(
            r.starts_with("MILP time limit reached with 3 disjuncts open"),
            "{r}"
        );
        assert!(r.contains("6.1146") && r.contains("1e-4"), "{r}");
        assert!(r.contains("6.1146 on the 2 of 3 that had one"), "{r}");
        assert_eq!(
            timed_out_reason(&[None], 1e-4, false),
            "MILP time limit reached with 1 disjunct open"
        );
        let r = timed_out_reason(&[Some(0.25)], 2.5e-5, true);
        assert!(
            r.starts_with("MILP time limit reached with 1 competitor open"),
            "{r}"
        );
        assert!(r.contains("y_j - y_c had come down to 0.2500"), "{r}");
        // τ as given, not rounded to one digit.
        assert!(r.contains("τ = 2.5e-5"), "{r}");
    }
}
