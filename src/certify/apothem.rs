//! The cyclic family: certifications that are L∞ balls `B∞(x*, r) ∩ D ∩ B∞(x*, R)`.
//!
//! The δ-algorithms of the paper (`c-bu-d`, `c-bu-l`, `c-td`) search the radius with yes/no
//! questions; `exact` brackets the optimum between a proved radius and the distance of a
//! confirmed counterexample, closing the bracket with two optimisation questions.

use super::{snap_to, Ctx, Found};
use crate::oracle::{Extremum, Verdict, Witness};
use crate::region::Hyperbox;

/// Bisection steps and relative width of the bounds-only radius search of `exact`.
const BOUNDS_BISECTION_STEPS: usize = 24;
const BOUNDS_BISECTION_WIDTH: f64 = 1e-3;

/// Deep networks' bisection of `exact`: it stops when the probed bracket is narrower than this
/// share of its upper end or after this many unknown answers; each question gets this share
/// of the run's time left.
const DEEP_BISECTION_WIDTH: f64 = 1e-3;
const DEEP_BISECTION_UNKNOWNS: usize = 3;
const DEEP_BISECTION_SHARE: f64 = 0.25;
/// Share of the run's time left for the oracle's preparation on the confirmed end's ball
/// before the bisection (LP tightening: what one question's own pass would get).
const PREPARE_SHARE: f64 = 0.125;

/// After the coarse shrinking of `exact`'s attacks, at most this many further steps, each to
/// this share of the upper end.
const SHRINK_STEPS: usize = 40;
const SHRINK_FACTOR: f64 = 0.98;

/// Bookkeeping shared by the searches: the largest proved radius and unknown verdicts.
struct Best {
    radius: f64,
    region: Hyperbox,
    /// Questions left open by limits or solver trouble: the algorithm's claim no longer holds.
    unknown: usize,
    /// Questions left open only by a near tie (within the safety margin τ of the boundary).
    near_ties: usize,
}

impl Best {
    fn new(ctx: &Ctx) -> Self {
        Best {
            radius: 0.0,
            region: ctx.ball(0.0),
            unknown: 0,
            near_ties: 0,
        }
    }

    /// Asks about the ball of radius `r`; records it when proved.
    fn ask(&mut self, ctx: &Ctx, r: f64) -> Verdict {
        let ball = ctx.ball(r);
        let v = ctx.sound(&ball);
        match &v {
            Verdict::Holds { .. } if r >= self.radius => {
                self.radius = r;
                self.region = ball;
            }
            Verdict::Unknown {
                near_tie: Some(_), ..
            } => self.near_ties += 1,
            Verdict::Unknown { .. } => self.unknown += 1,
            _ => {}
        }
        v
    }

    fn found(self, stopped: Option<String>) -> Found {
        let stopped = stopped.or_else(|| {
            (self.unknown > 0).then(|| {
                format!(
                    "{} oracle question(s) stayed unknown and were treated as not sound",
                    self.unknown
                )
            })
        });
        let notes = if self.near_ties > 0 {
            vec![format!(
                "{} oracle question(s) were near ties (margin within τ of the boundary) and were treated as not sound",
                self.near_ties
            )]
        } else {
            Vec::new()
        };
        Found {
            region: self.region,
            stopped,
            upper: None,
            notes,
            faces: None,
            near: None,
        }
    }
}

/// `share` of the run's time left; `None` without a deadline.
fn time_left(ctx: &Ctx, share: f64) -> Option<std::time::Duration> {
    ctx.params
        .deadline
        .map(|d| d.saturating_duration_since(std::time::Instant::now()))
        .map(|left| left.mul_f64(share))
}

/// `c-bu-d`: bisection on the radius in `[0, R]` until the interval is narrower than δ. The
/// certified radius is the last one proved sound.
pub fn dichotomic(ctx: &Ctx) -> Found {
    let mut best = Best::new(ctx);
    let big_r = ctx.params.radius_limit;
    if let Some(why) = ctx.limit_reached() {
        return best.found(Some(why));
    }
    if best.ask(ctx, big_r).holds() {
        return best.found(None);
    }
    let (mut lo, mut hi) = (0.0, big_r);
    while hi - lo > ctx.params.delta {
        if let Some(why) = ctx.limit_reached() {
            return best.found(Some(why));
        }
        let mid = 0.5 * (lo + hi);
        if best.ask(ctx, mid).holds() {
            lo = mid;
        } else {
            hi = mid;
        }
        ctx.progress(&format!("c-bu-d: radius in [{lo:.6}, {hi:.6}]"));
    }
    best.found(None)
}

/// `c-bu-l`: radii δ, 2δ, … (capped at R) while sound.
pub fn linear(ctx: &Ctx) -> Found {
    let mut best = Best::new(ctx);
    let big_r = ctx.params.radius_limit;
    let mut k = 1u64;
    loop {
        if let Some(why) = ctx.limit_reached() {
            return best.found(Some(why));
        }
        let r = (k as f64 * ctx.params.delta).min(big_r);
        if r <= best.radius || !best.ask(ctx, r).holds() {
            break;
        }
        ctx.progress(&format!("c-bu-l: radius {r:.6} sound"));
        k += 1;
    }
    best.found(None)
}

/// `c-td`: start at R; on a counterexample w, continue at `‖w - x*‖∞ - δ`; stop when sound.
pub fn top_down(ctx: &Ctx) -> Found {
    let mut best = Best::new(ctx);
    let mut r = ctx.params.radius_limit;
    while r > 0.0 {
        if let Some(why) = ctx.limit_reached() {
            return best.found(Some(why));
        }
        match best.ask(ctx, r) {
            Verdict::Holds { .. } => break,
            Verdict::Violated { witness, .. } => {
                r = snap_to(ctx.distance(&witness.x) - ctx.params.delta, 0.0)
            }
            Verdict::Unknown { .. } => r -= ctx.params.delta,
        }
        ctx.progress(&format!("c-td: next radius {r:.6}"));
    }
    best.found(None)
}

/// The exact optimum radius: the largest r whose ball is proved sound, bracketed by the distance
/// of the nearest confirmed counterexample.
///
/// 1. Attacks on shrinking balls give a counterexample at distance `hi` (the upper end).
/// 2. A quick optimisation ("nearest point with `y_j - y_c >= -τ`", node-limited branch and
///    bound) over `B(x*, hi)` proposes `t1`, usually the optimum. Its point, pushed across the
///    decision boundary, becomes a counterexample just beyond `t1` (the new `hi`).
/// 3. The ball just inside `t1` is asked as an ordinary soundness question. `Holds` closes the
///    bracket. A near tie or a counterexample inside it comes with a closer point: `t1` drops and
///    step 3 repeats; after a few rounds an exact optimisation settles it.
///
/// The gap `hi - lo` left is the width of the band where the margin lies between `-τ` and 0:
/// no sound proof with safety margin τ can enter it.
pub fn exact(ctx: &Ctx) -> Found {
    let tau = ctx.oracle.margin();
    let big_r = ctx.params.radius_limit;
    let net = ctx.oracle.network();
    let mut best = Best::new(ctx);
    let mut upper: Option<(f64, Witness)> = None;
    let mut notes = Vec::new();
    let mut near: Option<Vec<f64>> = None;
    let finish = |best: Best,
                  upper: Option<(f64, Witness)>,
                  notes: Vec<String>,
                  why: Option<String>,
                  near: Option<Vec<f64>>| {
        let mut f = best.found(why);
        f.upper = upper;
        f.notes = notes;
        f.near = near;
        f
    };
    // Every counterexample is first moved as near x* as its linear regions allow (LPs).
    let take = |w: Witness, upper: &mut Option<(f64, Witness)>| {
        let w = ctx
            .oracle
            .nearer(ctx.x, &ctx.ball(ctx.distance(&w.x)), ctx.class, &w.x)
            .unwrap_or(w);
        let d = ctx.distance(&w.x);
        if upper.as_ref().is_none_or(|(u, _)| d < *u) {
            *upper = Some((d, w));
        }
    };
    // A point with margin about -τ: push it across the boundary into a counterexample.
    let push = |p: &[f64], upper: &mut Option<(f64, Witness)>| {
        if let Some(q) = crate::attack::cross_boundary(net, p, ctx.class, &ctx.restriction()) {
            if let Some(w) = Witness::confirm(net, &q, ctx.class) {
                take(w, upper);
            }
        }
    };

    // 0. Anytime: the largest radius that bounds alone prove, by bisection (milliseconds),
    //    before any MILP; every later step only improves it.
    let bounds_radius = |hi: f64| -> f64 {
        let (mut lo, mut hi) = (0.0, hi);
        for _ in 0..BOUNDS_BISECTION_STEPS {
            if ctx.limit_reached().is_some() || hi - lo <= BOUNDS_BISECTION_WIDTH * hi {
                break;
            }
            let mid = 0.5 * (lo + hi);
            if ctx.oracle.sound_by_bounds(&ctx.ball(mid), ctx.class) {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        lo
    };
    let raise = |best: &mut Best, r: f64| {
        if r > best.radius {
            best.radius = r;
            best.region = ctx.ball(r);
        }
    };

    // 1. A counterexample, cheaply, then on shrinking balls.
    if let Some(w) = ctx.oracle.falsify(&ctx.ball(big_r), ctx.class) {
        take(w, &mut upper);
    } else {
        match best.ask(ctx, big_r) {
            Verdict::Holds { .. } => return finish(best, None, notes, None, None),
            Verdict::Violated { witness, .. } => take(witness, &mut upper),
            Verdict::Unknown { reason, .. } => {
                // No counterexample and no proof of the restriction: still report the radius
                // that bounds prove.
                let r = bounds_radius(big_r);
                raise(&mut best, r);
                best.unknown = 0;
                return finish(
                    best,
                    None,
                    notes,
                    Some(format!(
                        "no counterexample found and the restriction is not proved ({reason})"
                    )),
                    None,
                );
            }
        }
    }
    {
        let r = bounds_radius(upper.as_ref().map_or(big_r, |u| u.0));
        raise(&mut best, r);
        ctx.progress(&format!("apothem: radius {r:.6} proved by bounds"));
    }
    for factor in [0.5, 0.5, 0.5, 0.7, 0.7, 0.8, 0.8, 0.9, 0.9, 0.95, 0.95] {
        let hi = upper.as_ref().map_or(big_r, |u| u.0);
        match ctx.oracle.falsify(&ctx.ball(hi * factor), ctx.class) {
            Some(w) => take(w, &mut upper),
            None if factor >= 0.9 => break,
            None => {}
        }
    }
    // Then in small steps while the attack keeps finding counterexamples: on deep networks
    // its starts include the last counterexample, clamped into the smaller ball, so each step
    // begins next to the boundary it just crossed.
    for _ in 0..SHRINK_STEPS {
        let Some(hi) = upper.as_ref().map(|u| u.0) else {
            break;
        };
        if ctx.limit_reached().is_some() {
            break;
        }
        match ctx.oracle.falsify(&ctx.ball(hi * SHRINK_FACTOR), ctx.class) {
            Some(w) => take(w, &mut upper),
            None => break,
        }
    }
    let hi_of = |upper: &Option<(f64, Witness)>| upper.as_ref().map_or(big_r, |u| u.0);
    ctx.progress(&format!("apothem: bracket [0, {:.6}]", hi_of(&upper)));

    // 1b. Deep networks: the nearest-violation MILP is much harder than a soundness question
    //     (its distance objective has no useful relaxation), so the bracket is first narrowed
    //     by bisection with soundness questions of bounded time: each `Holds` raises the
    //     proved end, each counterexample lowers the confirmed one, and an unknown answer
    //     moves the probe down without concluding anything.
    if net.relu_layers() >= 2 {
        let mut probe_hi = hi_of(&upper);
        let mut unknowns = 0;
        // Every question below lies inside the ball of the confirmed end: the oracle's work on
        // that ball (LP-tightened bounds) is done once, and the questions start from it.
        if probe_hi > best.radius {
            ctx.oracle
                .prepare(&ctx.ball(probe_hi), time_left(ctx, PREPARE_SHARE));
        }
        while probe_hi - best.radius > DEEP_BISECTION_WIDTH * probe_hi
            && unknowns < DEEP_BISECTION_UNKNOWNS
        {
            if ctx.limit_reached().is_some() {
                break;
            }
            let cap = time_left(ctx, DEEP_BISECTION_SHARE);
            let mid = 0.5 * (best.radius + probe_hi);
            let ball = ctx.ball(mid);
            match ctx.sound_within(&ball, cap) {
                Verdict::Holds { .. } => raise(&mut best, mid),
                Verdict::Violated { witness, .. } => {
                    take(witness, &mut upper);
                    probe_hi = probe_hi.min(hi_of(&upper)).min(mid);
                }
                Verdict::Unknown {
                    near_tie: Some(p), ..
                } => {
                    push(&p, &mut upper);
                    probe_hi = probe_hi.min(hi_of(&upper)).min(mid);
                }
                Verdict::Unknown { .. } => {
                    unknowns += 1;
                    probe_hi = mid;
                }
            }
            ctx.progress(&format!(
                "apothem: bisection [{:.6}, {:.6}], confirmed {:.6}",
                best.radius,
                probe_hi,
                hi_of(&upper)
            ));
        }
    }

    // 2.-3. Propose t1, prove the ball just inside it.
    let mut stopped: Option<String> = None;
    let mut proved = false;
    let mut exact_search = false;
    for round in 0..6 {
        if let Some(why) = ctx.limit_reached() {
            return finish(best, upper, notes, Some(why), near.clone());
        }
        let hi = hi_of(&upper);
        // The quick search first; from the fourth round (t1 keeps dropping) the exact one.
        exact_search |= round >= 3;
        let search = ctx.ball(hi);
        let opt = ctx.oracle.optimise(&Extremum::NearestViolation {
            center: ctx.x,
            region: &search,
            class: ctx.class,
            threshold: -tau,
            max_nodes: if exact_search { None } else { Some(40) },
        });
        let mut t1 = match &opt.best {
            Some((d, p)) => {
                push(p, &mut upper);
                near = Some(p.clone());
                d.min(hi)
            }
            None if opt.exact => hi,
            None => {
                if exact_search {
                    stopped = opt.reason.clone();
                    break;
                }
                exact_search = true;
                continue;
            }
        };
        if exact_search && opt.exact {
            // Nothing with margin >= -τ lies closer than the proved bound.
            t1 = t1.min(opt.bound.max(best.radius));
        }
        ctx.progress(&format!(
            "apothem: bracket [{:.6}, {:.6}], proving {:.6}",
            best.radius,
            hi_of(&upper),
            t1
        ));
        // Just inside t1: right at it the margin is -τ to within solver tolerances, so the
        // proof may need a slightly larger gap.
        let mut closer = false;
        for gap in [1e-9, 1e-8, 1e-7, 1e-6, 1e-5] {
            if let Some(why) = ctx.limit_reached() {
                return finish(best, upper, notes, Some(why), near.clone());
            }
            let r = t1 * (1.0 - gap);
            if r <= best.radius {
                proved = true;
                break;
            }
            match best.ask(ctx, r) {
                Verdict::Holds { .. } => {
                    proved = true;
                    break;
                }
                Verdict::Violated { witness, .. } => {
                    take(witness, &mut upper);
                    closer = true;
                    break;
                }
                Verdict::Unknown {
                    near_tie: Some(p), ..
                } if ctx.distance(&p) < t1 * (1.0 - 1e-6) => {
                    // A clearly closer point within τ of the boundary: t1 was not optimal.
                    push(&p, &mut upper);
                    near = Some(p.clone());
                    closer = true;
                    break;
                }
                Verdict::Unknown { .. } => {}
            }
        }
        if proved {
            break;
        }
        if !closer {
            // The proof fails right under t1 for numerical reasons: search exactly.
            exact_search = true;
        }
    }
    // The loop's open questions are accounted for by the bracket; only its outcome matters.
    best.unknown = 0;
    best.near_ties = 0;
    if !proved && stopped.is_none() {
        stopped =
            Some("the bracket could not be closed (see the oracle's unknown answers)".to_string());
    }
    let hi = hi_of(&upper);
    if let Some(why) = ctx.limit_reached() {
        stopped.get_or_insert(why);
    }
    if stopped.is_none() && hi - best.radius > ctx.params.tolerance {
        notes.push(format!(
            "the bracket [{:.9}, {hi:.9}] is wider than the tolerance {:e}: between its ends the margin lies within the safety margin τ = {tau:e}, where no proof with that margin exists (a smaller --margin narrows it)",
            best.radius, ctx.params.tolerance
        ));
    }
    finish(best, upper, notes, stopped, near)
}
