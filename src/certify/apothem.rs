//! The cyclic family: certifications that are L∞ balls `B∞(x*, r) ∩ D ∩ B∞(x*, R)`.
//!
//! The δ-algorithms of the paper (`c-bu-d`, `c-bu-l`, `c-td`) search the radius with yes/no
//! questions; `exact` brackets the optimum between a proved radius and the distance of a
//! confirmed counterexample, closing the bracket with two optimisation questions.

use super::{Ctx, Found};
use crate::oracle::{Extremum, Verdict, Witness};
use crate::region::Hyperbox;

/// Threshold on `y_j - y_c` for the counterexample search of [`exact`]: a solution with this
/// margin re-checks as a counterexample in f64 and f32 despite solver tolerances.
const KAPPA: f64 = 1e-5;

/// Bookkeeping shared by the searches: the largest proved radius and unknown verdicts.
struct Best {
    radius: f64,
    region: Hyperbox,
    unknown: usize,
}

impl Best {
    fn new(ctx: &Ctx) -> Self {
        Best {
            radius: 0.0,
            region: ctx.ball(0.0),
            unknown: 0,
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
        Found {
            region: self.region,
            stopped,
            upper: None,
            notes: Vec::new(),
        }
    }
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
            Verdict::Violated { witness, .. } => r = ctx.distance(&witness.x) - ctx.params.delta,
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
/// 2. An optimisation ("nearest point with `y_j - y_c >= -τ`") over `B(x*, hi)` gives a proved
///    lower bound `L`; the ball just inside `L` is then proved sound by an ordinary question.
/// 3. The same optimisation with threshold `+κ` gives the nearest counterexample, which is
///    re-checked and becomes the new `hi`.
///
/// The gap `hi - lo` left is the width of the band where the margin lies between `-τ` and 0:
/// no sound proof with safety margin τ can enter it.
pub fn exact(ctx: &Ctx) -> Found {
    let tau = ctx.oracle.margin();
    let big_r = ctx.params.radius_limit;
    let mut best = Best::new(ctx);
    let mut upper: Option<(f64, Witness)> = None;
    let mut notes = Vec::new();
    let finish =
        |best: Best, upper: Option<(f64, Witness)>, notes: Vec<String>, why: Option<String>| {
            let mut f = best.found(why);
            f.upper = upper;
            f.notes = notes;
            f
        };

    // 1. A counterexample, cheaply, then on shrinking balls.
    let take = |w: Witness, upper: &mut Option<(f64, Witness)>| {
        let d = ctx.distance(&w.x);
        if upper.as_ref().is_none_or(|(u, _)| d < *u) {
            *upper = Some((d, w));
        }
    };
    if let Some(w) = ctx.oracle.falsify(&ctx.ball(big_r), ctx.class) {
        take(w, &mut upper);
    } else {
        match best.ask(ctx, big_r) {
            Verdict::Holds { .. } => return finish(best, None, notes, None),
            Verdict::Violated { witness, .. } => take(witness, &mut upper),
            Verdict::Unknown { reason, .. } => {
                return finish(
                    best,
                    None,
                    notes,
                    Some(format!(
                        "no counterexample found and the restriction is not proved ({reason})"
                    )),
                );
            }
        }
    }
    for factor in [0.5, 0.5, 0.5, 0.7, 0.7, 0.8, 0.8, 0.9, 0.9, 0.95, 0.95] {
        let hi = upper.as_ref().map_or(big_r, |u| u.0);
        match ctx.oracle.falsify(&ctx.ball(hi * factor), ctx.class) {
            Some(w) => take(w, &mut upper),
            None if factor >= 0.9 => break,
            None => {}
        }
    }
    let hi = upper.as_ref().map_or(big_r, |u| u.0);
    ctx.progress(&format!("apothem: bracket [0, {hi:.6}]"));
    if let Some(why) = ctx.limit_reached() {
        return finish(best, upper, notes, Some(why));
    }

    // 2. Proved lower bound: nearest point with margin >= -τ.
    let search = ctx.ball(hi);
    let lower = ctx.oracle.optimise(&Extremum::NearestViolation {
        center: ctx.x,
        region: &search,
        class: ctx.class,
        threshold: -tau,
    });
    let mut stopped = lower
        .reason
        .clone()
        .filter(|_| !lower.exact)
        .map(|r| format!("the lower-bound optimisation did not finish ({r})"));
    let bound = lower.bound.min(hi);
    if bound.is_finite() && bound > 0.0 {
        // Just inside the bound. Right at it the margin is -τ to within solver tolerances, so
        // the proof may not go through: back off by growing relative gaps.
        for gap in [1e-9, 1e-8, 1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 0.5] {
            if let Some(why) = ctx.limit_reached() {
                return finish(best, upper, notes, Some(why));
            }
            let r = bound * (1.0 - gap);
            if r <= best.radius {
                break;
            }
            match best.ask(ctx, r) {
                Verdict::Holds { .. } => break,
                Verdict::Violated { witness, .. } => take(witness, &mut upper),
                Verdict::Unknown { .. } => {}
            }
        }
        best.unknown = 0; // the back-off handles unknowns; only the final bracket matters
    }
    ctx.progress(&format!(
        "apothem: bracket [{:.6}, {:.6}]",
        best.radius,
        upper.as_ref().map_or(hi, |u| u.0)
    ));

    // 3. The nearest counterexample: first by pushing the optimum of step 2 (margin -τ) across
    //    the boundary, which costs a few forward passes; else by optimisation (margin >= κ).
    let mut pushed = false;
    if let Some((_, p)) = &lower.best {
        let net = ctx.oracle.network();
        if let Some(q) = crate::attack::cross_boundary(net, p, ctx.class, &ctx.restriction()) {
            if let Some(w) = Witness::confirm(net, &q, ctx.class) {
                take(w, &mut upper);
                pushed = true;
            }
        }
    }
    let hi = upper.as_ref().map_or(hi, |u| u.0);
    if !pushed && hi - best.radius > ctx.params.tolerance && ctx.limit_reached().is_none() {
        let search = ctx.ball(hi);
        let near = ctx.oracle.optimise(&Extremum::NearestViolation {
            center: ctx.x,
            region: &search,
            class: ctx.class,
            threshold: KAPPA,
        });
        if let Some((_, p)) = &near.best {
            if let Some(w) = Witness::confirm(ctx.oracle.network(), p, ctx.class) {
                take(w, &mut upper);
            }
        }
    }
    let hi = upper.as_ref().map_or(hi, |u| u.0);
    if let Some(why) = ctx.limit_reached() {
        stopped.get_or_insert(why);
    }
    if stopped.is_none() && hi - best.radius > ctx.params.tolerance {
        notes.push(format!(
            "the bracket [{:.9}, {hi:.9}] is wider than the tolerance {:e}: between its ends the margin lies within the safety margin τ = {tau:e}, where no proof with that margin exists (a smaller --margin narrows it)",
            best.radius, ctx.params.tolerance
        ));
    }
    finish(best, upper, notes, stopped)
}
