//! Dual (complete) certifications: boxes that hold every point of D classified c* — an upper
//! bound on any sound certification, telling how far a sound box could possibly reach.
//!
//! Every box returned here was answered `Holds` by the completeness question with gap η; the
//! box reported is enlarged by η (within D), so that the claim "no point of class c* outside
//! the box" holds exactly.

use rayon::prelude::*;

use super::{Ctx, Found};
use crate::oracle::{Extremum, Question, Verdict, Witness};
use crate::region::Hyperbox;

/// The box enlarged by `eta` on every side, within `domain` (what the completeness question
/// proves, and what a proof of it claims).
fn enlarged(b: &Hyperbox, eta: f64, domain: &Hyperbox) -> Hyperbox {
    crate::oracle::complete::complete_box(b, eta, domain)
}

/// Asks whether `region` is complete for the class.
fn complete(ctx: &Ctx, region: &Hyperbox) -> Verdict {
    ctx.count_question();
    ctx.oracle.decide(&Question::Complete {
        region,
        class: ctx.class,
        eta: ctx.params.eta,
        anchor: Some(ctx.x),
    })
}

fn found(ctx: &Ctx, region: &Hyperbox, stopped: Option<String>, notes: Vec<String>) -> Found {
    Found {
        region: enlarged(region, ctx.params.eta, ctx.oracle.domain()),
        stopped,
        upper: None,
        notes,
        faces: None,
        near: None,
    }
}

/// `complete-c-d-bu`: the smallest radius R (to δ) such that every class point of D lies in
/// `B∞(x*, R) ∩ D`, by bisection.
pub fn cyclic_dichotomic(ctx: &Ctx) -> Found {
    let d = ctx.oracle.domain();
    let ball = |r: f64| Hyperbox::ball(ctx.x, r, d);
    // The ball that covers D is complete without a question.
    let r_max = (0..d.dim())
        .map(|i| (ctx.x[i] - d.lb()[i]).max(d.ub()[i] - ctx.x[i]))
        .fold(0.0, f64::max);
    let (mut lo, mut hi) = (0.0, r_max);
    let mut unknown = 0;
    while hi - lo > ctx.params.delta {
        if let Some(why) = ctx.limit_reached() {
            return found(ctx, &ball(hi), Some(why), Vec::new());
        }
        let mid = 0.5 * (lo + hi);
        match complete(ctx, &ball(mid)) {
            Verdict::Holds { .. } => hi = mid,
            Verdict::Violated { .. } => lo = mid,
            Verdict::Unknown { .. } => {
                unknown += 1;
                lo = mid;
            }
        }
        ctx.progress(&format!("complete-c-d-bu: radius in [{lo:.6}, {hi:.6}]"));
    }
    let stopped = (unknown > 0).then(|| {
        format!(
            "{unknown} completeness question(s) stayed unknown and were treated as not complete"
        )
    });
    found(ctx, &ball(hi), stopped, Vec::new())
}

/// `complete-bu`: start from {x*}; while a class point w lies outside, grow the box to include
/// `[w - δ, w + δ] ∩ D`.
pub fn bottom_up(ctx: &Ctx) -> Found {
    let d = ctx.oracle.domain();
    let mut b = Hyperbox::point(ctx.x);
    let mut steps = 0usize;
    loop {
        if let Some(why) = ctx.limit_reached() {
            // Only D itself is known complete.
            return found(ctx, d, Some(why), Vec::new());
        }
        match complete(ctx, &b) {
            Verdict::Holds { .. } => return found(ctx, &b, None, Vec::new()),
            Verdict::Violated { witness, .. } => {
                let w = &witness.x;
                let lb = (0..b.dim())
                    .map(|i| b.lb()[i].min((w[i] - ctx.params.delta).max(d.lb()[i])))
                    .collect();
                let ub = (0..b.dim())
                    .map(|i| b.ub()[i].max((w[i] + ctx.params.delta).min(d.ub()[i])))
                    .collect();
                b = Hyperbox::new(lb, ub).unwrap_or_else(|_| d.clone());
            }
            Verdict::Unknown { reason, .. } => {
                return found(
                    ctx,
                    d,
                    Some(format!("a completeness question stayed unknown ({reason})")),
                    Vec::new(),
                )
            }
        }
        steps += 1;
        if steps.is_multiple_of(8) {
            ctx.progress(&format!("complete-bu: {steps} growth steps"));
        }
    }
}

/// The exact tightest dual box: for every coordinate, the smallest and largest value of `x_i`
/// over the class region `{x ∈ D : y_c - y_j >= -τ for all j}`; 2d optimisations in parallel.
/// A cheap witness — x* with `x_i` moved to D's bound and still of the class — settles most
/// ends without a MILP. The box is then proved complete by one completeness question.
pub fn exact(ctx: &Ctx) -> Found {
    let d = ctx.oracle.domain().clone();
    let net = ctx.oracle.network();
    let tau = ctx.oracle.margin();
    let dim = d.dim();
    let tasks: Vec<(usize, bool)> = (0..dim).flat_map(|i| [(i, true), (i, false)]).collect();
    let done = std::sync::atomic::AtomicUsize::new(0);
    let results: Vec<(f64, bool, bool)> = tasks
        .par_iter()
        .map(|&(i, upper)| {
            let end = if upper { d.ub()[i] } else { d.lb()[i] };
            let mut y = ctx.x.to_vec();
            y[i] = end;
            if Witness::confirm_member(net, &y, ctx.class, tau).is_some() {
                return (end, true, false);
            }
            if ctx.limit_reached().is_some() {
                return (end, false, true);
            }
            let opt = ctx.oracle.optimise(&Extremum::ClassExtent {
                region: &d,
                class: ctx.class,
                coord: i,
                upper,
                threshold: -tau,
            });
            let n = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            if n.is_multiple_of(8) {
                ctx.progress(&format!("dual: {} coordinate optimisations done", n + 1));
            }
            // x* is a class point: the proved bound is never inside it.
            let b = if upper {
                opt.bound.max(ctx.x[i]).min(end)
            } else {
                opt.bound.min(ctx.x[i]).max(end)
            };
            let b = if b.is_finite() { b } else { end };
            (b, opt.exact, !opt.exact)
        })
        .collect();
    let mut lb = vec![0.0; dim];
    let mut ub = vec![0.0; dim];
    let mut milp_ends = 0;
    let mut inexact = 0;
    for (&(i, upper), &(b, cheap, failed)) in tasks.iter().zip(&results) {
        if upper {
            ub[i] = b;
        } else {
            lb[i] = b;
        }
        if !cheap {
            milp_ends += 1;
        }
        if failed {
            inexact += 1;
        }
    }
    let mut notes = vec![format!(
        "{} of {} box ends settled by a class point at the domain's bound, {milp_ends} by optimisation",
        2 * dim - milp_ends,
        2 * dim
    )];
    let Ok(b) = Hyperbox::new(lb, ub) else {
        return found(
            ctx,
            &d,
            Some("the optimisations gave an empty box".to_string()),
            notes,
        );
    };
    if inexact > 0 {
        // Unfinished ends stay at D's bound (safe for completeness) but are not tight.
        notes.push(format!(
            "{inexact} coordinate optimisation(s) did not finish: those ends are left at the domain's bound"
        ));
    }
    // The proof: one completeness question, with the gap η.
    match complete(ctx, &b) {
        Verdict::Holds { .. } => {
            let stopped = (inexact > 0).then(|| "the box is complete but not tightest".to_string());
            found(ctx, &b, stopped, notes)
        }
        Verdict::Violated { witness, .. } => found(
            ctx,
            &d,
            Some(format!(
                "the optimised box missed a class point at distance {:.6} (solver tolerance); returning D",
                ctx.distance(&witness.x)
            )),
            notes,
        ),
        Verdict::Unknown { reason, .. } => found(
            ctx,
            &d,
            Some(format!("the optimised box could not be proved complete ({reason})")),
            notes,
        ),
    }
}
