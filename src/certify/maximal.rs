//! The parallelepipedal family: boxes whose faces move outward one by one.
//!
//! Bottom-up algorithms start from a proved box (the point x*, or the result of a cyclic
//! algorithm in a composition) and push each face towards its bound — the domain D intersected
//! with the distance restriction `B∞(x*, R)` — while the box stays sound: by steps of δ
//! (`bu-l-dfs`), by bisection down to δ (`bu-d-dfs`), in rounds over all faces (`bu-bfs`), or
//! exactly, one optimisation per face (`maximal`). The top-down algorithm (`td`) starts from the
//! whole restriction and cuts the coordinate of each counterexample.

use super::{snap_to, Ctx, Found};
use crate::certificate::Face;
use crate::oracle::{Extremum, Verdict, Witness};
use crate::region::Hyperbox;

/// The order in which depth-first algorithms visit faces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FaceOrder {
    /// All upper faces (coordinate order), then all lower faces — the default.
    #[default]
    UpperFirst,
    /// All lower faces, then all upper faces.
    LowerFirst,
    /// Upper then lower face of coordinate 0, then of coordinate 1, …
    Interleaved,
}

impl FaceOrder {
    /// Parses `upper-first`, `lower-first` or `interleaved`.
    pub fn from_name(s: &str) -> Option<Self> {
        match s {
            "upper-first" => Some(FaceOrder::UpperFirst),
            "lower-first" => Some(FaceOrder::LowerFirst),
            "interleaved" => Some(FaceOrder::Interleaved),
            _ => None,
        }
    }

    fn faces(self, d: usize) -> Vec<(usize, bool)> {
        let up: Vec<(usize, bool)> = (0..d).map(|i| (i, true)).collect();
        let lo: Vec<(usize, bool)> = (0..d).map(|i| (i, false)).collect();
        match self {
            FaceOrder::UpperFirst => up.into_iter().chain(lo).collect(),
            FaceOrder::LowerFirst => lo.into_iter().chain(up).collect(),
            FaceOrder::Interleaved => (0..d).flat_map(|i| [(i, true), (i, false)]).collect(),
        }
    }
}

/// Per-face bookkeeping: where a face stopped and why.
#[derive(Debug, Clone, Copy, Default)]
struct FaceState {
    /// Distance of the counterexample that stopped the face, if one did.
    blocked: Option<f64>,
}

/// A box being grown, with its faces' states.
struct Grow<'c, 'a> {
    ctx: &'c Ctx<'a>,
    region: Hyperbox,
    limit: Hyperbox,
    upper: Vec<FaceState>,
    lower: Vec<FaceState>,
    unknown: usize,
    near_ties: usize,
    /// Coordinate `i` of the counterexample that refused the last move of face `i`.
    last_cut: Option<f64>,
}

impl<'c, 'a> Grow<'c, 'a> {
    fn new(ctx: &'c Ctx<'a>, start: Hyperbox) -> Self {
        let d = start.dim();
        let limit = ctx.restriction();
        Grow {
            ctx,
            region: start,
            limit,
            upper: vec![FaceState::default(); d],
            lower: vec![FaceState::default(); d],
            unknown: 0,
            near_ties: 0,
            last_cut: None,
        }
    }

    fn pos(&self, i: usize, upper: bool) -> f64 {
        if upper {
            self.region.ub()[i]
        } else {
            self.region.lb()[i]
        }
    }

    fn bound(&self, i: usize, upper: bool) -> f64 {
        if upper {
            self.limit.ub()[i]
        } else {
            self.limit.lb()[i]
        }
    }

    /// The box with face `(i, upper)` moved to `v`.
    fn moved(&self, i: usize, upper: bool, v: f64) -> Hyperbox {
        let mut b = self.region.clone();
        if upper {
            b.set_ub(i, v.max(b.lb()[i]));
        } else {
            b.set_lb(i, v.min(b.ub()[i]));
        }
        b
    }

    fn state(&mut self, i: usize, upper: bool) -> &mut FaceState {
        if upper {
            &mut self.upper[i]
        } else {
            &mut self.lower[i]
        }
    }

    /// Asks whether the face can move to `v`; moves it when sound. Records the blocking
    /// counterexample otherwise.
    fn try_move(&mut self, i: usize, upper: bool, v: f64) -> bool {
        let cand = self.moved(i, upper, v);
        self.last_cut = None;
        match self.ctx.sound(&cand) {
            Verdict::Holds { .. } => {
                self.region = cand;
                self.state(i, upper).blocked = None;
                true
            }
            Verdict::Violated { witness, .. } => {
                let d = self.ctx.distance(&witness.x);
                self.last_cut = Some(witness.x[i]);
                self.state(i, upper).blocked = Some(d);
                false
            }
            Verdict::Unknown { near_tie, .. } => {
                if near_tie.is_some() {
                    self.near_ties += 1;
                } else {
                    self.unknown += 1;
                }
                false
            }
        }
    }

    fn faces_report(&self) -> Vec<Face> {
        let mut out = Vec::new();
        for (upper, states) in [(true, &self.upper), (false, &self.lower)] {
            for (i, st) in states.iter().enumerate() {
                let value = self.pos(i, upper);
                let at_bound = value == self.bound(i, upper);
                out.push(Face {
                    coord: i,
                    side: if upper { "upper" } else { "lower" },
                    value,
                    state: if at_bound {
                        "domain"
                    } else if st.blocked.is_some() {
                        "blocked"
                    } else {
                        "open"
                    },
                    blocking_distance: if at_bound { None } else { st.blocked },
                });
            }
        }
        out
    }

    fn finish(self, stopped: Option<String>) -> Found {
        let stopped = stopped.or_else(|| {
            (self.unknown > 0).then(|| {
                format!(
                    "{} oracle question(s) stayed unknown and were treated as not sound",
                    self.unknown
                )
            })
        });
        let mut notes = Vec::new();
        if self.near_ties > 0 {
            notes.push(format!(
                "{} oracle question(s) were near ties (margin within τ of the boundary) and were treated as not sound",
                self.near_ties
            ));
        }
        let faces = self.faces_report();
        Found {
            region: self.region,
            stopped,
            upper: None,
            notes,
            faces: Some(faces),
            near: None,
        }
    }
}

/// `bu-l-dfs`: faces in order; each moves out by δ while the box stays sound.
pub fn linear_dfs(ctx: &Ctx, start: Hyperbox, order: FaceOrder) -> Found {
    let mut g = Grow::new(ctx, start);
    for (n, (i, upper)) in order.faces(g.region.dim()).into_iter().enumerate() {
        loop {
            if let Some(why) = ctx.limit_reached() {
                return g.finish(Some(why));
            }
            let (pos, bound) = (g.pos(i, upper), g.bound(i, upper));
            if pos == bound {
                break;
            }
            let step = if upper {
                (pos + ctx.params.delta).min(bound)
            } else {
                (pos - ctx.params.delta).max(bound)
            };
            if !g.try_move(i, upper, step) {
                break;
            }
        }
        if n % 32 == 0 {
            ctx.progress(&format!("bu-l-dfs: face {n}"));
        }
    }
    g.finish(None)
}

/// `bu-d-dfs`: faces in order; each by bisection between its position and its bound, to δ.
pub fn dichotomic_dfs(ctx: &Ctx, start: Hyperbox, order: FaceOrder) -> Found {
    let mut g = Grow::new(ctx, start);
    for (n, (i, upper)) in order.faces(g.region.dim()).into_iter().enumerate() {
        if let Some(why) = ctx.limit_reached() {
            return g.finish(Some(why));
        }
        let (mut lo, mut hi) = (g.pos(i, upper), g.bound(i, upper));
        if lo == hi || g.try_move(i, upper, hi) {
            continue;
        }
        // Invariant: the face is proved at `lo`; the box with the face at `hi` holds a
        // counterexample. A refused move's witness w lies in the moved box, so the face can
        // not pass w_i either: the bracket shrinks to it, often saving several questions.
        hi = cut_towards(lo, hi, g.last_cut);
        while (hi - lo).abs() > ctx.params.delta {
            if let Some(why) = ctx.limit_reached() {
                return g.finish(Some(why));
            }
            let mid = 0.5 * (lo + hi);
            let blocked = g.state(i, upper).blocked;
            if g.try_move(i, upper, mid) {
                lo = mid;
                // Keep the witness of the farther failure as the face's blocker.
                g.state(i, upper).blocked = blocked;
            } else {
                hi = cut_towards(lo, mid, g.last_cut);
            }
        }
        if n % 32 == 0 {
            ctx.progress(&format!("bu-d-dfs: face {n}"));
        }
    }
    g.finish(None)
}

/// `bu-bfs`: all faces advance by δ in rounds; a face whose step breaks soundness stops.
pub fn bfs(ctx: &Ctx, start: Hyperbox, order: FaceOrder) -> Found {
    let mut g = Grow::new(ctx, start);
    let mut active: Vec<(usize, bool)> = order
        .faces(g.region.dim())
        .into_iter()
        .filter(|&(i, u)| g.pos(i, u) != g.bound(i, u))
        .collect();
    let mut round = 0;
    while !active.is_empty() {
        let mut next = Vec::new();
        for &(i, upper) in &active {
            if let Some(why) = ctx.limit_reached() {
                return g.finish(Some(why));
            }
            let (pos, bound) = (g.pos(i, upper), g.bound(i, upper));
            let step = if upper {
                (pos + ctx.params.delta).min(bound)
            } else {
                (pos - ctx.params.delta).max(bound)
            };
            if g.try_move(i, upper, step) && step != bound {
                next.push((i, upper));
            }
        }
        active = next;
        round += 1;
        ctx.progress(&format!(
            "bu-bfs: round {round}, {} faces moving",
            active.len()
        ));
    }
    g.finish(None)
}

/// `td`: start from the whole restriction `B∞(x*, R) ∩ D`; on a counterexample w, cut the
/// coordinate where `|w_i - x*_i|` is largest to `w_i ∓ δ` (not past x*); until sound.
pub fn top_down(ctx: &Ctx) -> Found {
    let x = ctx.x;
    let mut g = Grow::new(ctx, ctx.restriction());
    loop {
        if let Some(why) = ctx.limit_reached() {
            // Nothing bigger than the input point is proved.
            g.region = Hyperbox::point(x);
            return g.finish(Some(why));
        }
        let w = match ctx.sound(&g.region) {
            Verdict::Holds { .. } => return g.finish(None),
            Verdict::Violated { witness, .. } => witness.x,
            Verdict::Unknown {
                near_tie: Some(p), ..
            } => {
                g.near_ties += 1;
                p
            }
            Verdict::Unknown { reason, .. } => {
                g.region = Hyperbox::point(x);
                return g.finish(Some(format!(
                    "a question stayed unknown with no point to cut at ({reason})"
                )));
            }
        };
        let d = ctx.distance(&w);
        let Some(i) =
            (0..x.len()).max_by(|&a, &b| (w[a] - x[a]).abs().total_cmp(&(w[b] - x[b]).abs()))
        else {
            return g.finish(None);
        };
        if w[i] > x[i] {
            let v = snap_to(w[i] - ctx.params.delta, x[i]).max(x[i]);
            g.region.set_ub(i, v);
            g.upper[i].blocked = Some(d);
        } else if w[i] < x[i] {
            let v = snap_to(w[i] + ctx.params.delta, x[i]).min(x[i]);
            g.region.set_lb(i, v);
            g.lower[i].blocked = Some(d);
        } else {
            // The counterexample is x* itself: impossible for a proved input; stop safely.
            g.region = Hyperbox::point(x);
            return g.finish(Some("a counterexample at the input itself".to_string()));
        }
    }
}

/// The unproved end of a bisection bracket `[lo, hi]` (in either order) after a refused move
/// to `hi` whose counterexample has coordinate `cut`: `cut` when it lies strictly between.
fn cut_towards(lo: f64, hi: f64, cut: Option<f64>) -> f64 {
    match cut {
        Some(c) if (lo < c && c < hi) || (hi < c && c < lo) => c,
        _ => hi,
    }
}

/// Exact per-face expansion: every face ends at its bound or blocked, to the tolerance, by a
/// point where some competitor reaches `y_j - y_c >= -τ` (pushed across the boundary, the
/// face's blocking counterexample). No face can then move outward without leaving the proved
/// region: the box is maximal. For each face (upper faces first):
/// 1. if the near point of the starting cube touches the face, with the margin growing outward,
///    the face is blocked where it is (checked by a forward pass, no solver);
/// 2. otherwise one optimisation releases the face to its bound and finds the nearest
///    violation along its coordinate; the face moves to just before it. Bounds settle the faces
///    that can reach their bound without a MILP.
///
/// Since boxes only grow, a blocked face stays blocked: maximality does not depend on the order.
/// Every move is proved by an ordinary soundness question on the moved box, so the box stands
/// whenever the run stops.
pub fn exact_faces(ctx: &Ctx, start: Hyperbox, near: Option<&[f64]>) -> Found {
    let mut g = Grow::new(ctx, start);
    let d = g.region.dim();
    let order = ctx.params.face_order;
    let mut inexact = 0usize;
    let mut by_near = 0usize;
    for (n, (i, upper)) in order.faces(d).into_iter().enumerate() {
        if let Some(why) = ctx.limit_reached() {
            // Every move so far was proved by its own question: the box stands.
            return g.finish(Some(why));
        }
        if g.pos(i, upper) == g.bound(i, upper) {
            continue;
        }
        if near.is_some_and(|p| blocked_by_near(&mut g, p, i, upper)) {
            by_near += 1;
            continue;
        }
        // Can the face go all the way? One ordinary question (an attack usually refutes it).
        let bound = g.bound(i, upper);
        if g.try_move(i, upper, bound) {
            continue;
        }
        if !optimise_face(&mut g, i, upper) {
            inexact += 1;
        }
        if n % 16 == 0 {
            ctx.progress(&format!("maximal: face {n} of {}", 2 * d));
        }
    }
    let stopped = (inexact > 0).then(|| {
        format!("{inexact} face optimisation(s) did not finish; those faces may not be maximal")
    });
    let mut f = g.finish(stopped);
    if by_near > 0 {
        f.notes.push(format!(
            "{by_near} face(s) blocked where they stood by the apothem's nearest point (no solver call)"
        ));
    }
    f
}

/// Whether `near` (a point with margin about -τ just outside the box) blocks face `(i, upper)`
/// where it stands: the point lies on that face (after clamping into the box) and a step of at
/// most the tolerance outward along the coordinate reaches margin >= -τ, checked by a forward
/// pass. Records the blocking counterexample when it finds one.
fn blocked_by_near(g: &mut Grow, near: &[f64], i: usize, upper: bool) -> bool {
    let ctx = g.ctx;
    let net = ctx.oracle.network();
    let tau = ctx.oracle.margin();
    let p = g.region.clamp(near);
    let pos = g.pos(i, upper);
    if (p[i] - pos).abs() > 1e-12 * (1.0 + pos.abs()) {
        return false;
    }
    let (m, j) = crate::network::margin_of(&net.forward(&p), ctx.class);
    let grad = crate::attack::margin_gradient(net, &p, ctx.class, j);
    let outward = if upper { grad[i] } else { -grad[i] };
    if outward <= 0.0 {
        return false;
    }
    // margin_of is y_c - max y_j; the competitor margin is -m. Needed: -m >= -τ.
    let deficit = (m - tau).max(0.0);
    let step = 1.01 * deficit / outward + 1e-15;
    if step > ctx.params.tolerance {
        return false;
    }
    let mut q = p.clone();
    q[i] += if upper { step } else { -step };
    let (mq, _) = crate::network::margin_of(&net.forward(&q), ctx.class);
    if mq > tau {
        return false;
    }
    // Blocked here. The counterexample: push the near point across the boundary.
    let released = g.moved(i, upper, g.bound(i, upper));
    if let Some(w) = crate::attack::cross_boundary(net, &q, ctx.class, &released)
        .and_then(|x| Witness::confirm(net, &x, ctx.class))
    {
        g.state(i, upper).blocked = Some(ctx.distance(&w.x));
    }
    true
}

/// One optimisation for face `(i, upper)`: the nearest point along the coordinate where some
/// competitor reaches margin >= -τ; the face moves to just before it. Returns whether the
/// optimisation was exact.
fn optimise_face(g: &mut Grow, i: usize, upper: bool) -> bool {
    let ctx = g.ctx;
    let net = ctx.oracle.network();
    let tau = ctx.oracle.margin();
    let (pos, bound) = (g.pos(i, upper), g.bound(i, upper));
    // Only the slab beyond the face: the box itself is proved, and points on its boundary
    // within solver tolerance of -τ would otherwise be found instead of the face's own blocker.
    let mut released = g.moved(i, upper, bound);
    if upper {
        released.set(i, pos, bound);
    } else {
        released.set(i, bound, pos);
    }
    let opt = ctx.oracle.optimise(&Extremum::FaceExtent {
        region: &released,
        class: ctx.class,
        coord: i,
        upper,
        threshold: -tau,
    });
    // `opt.bound` is proved: no point with margin >= -τ lies before it. The face stops a
    // quarter of the tolerance short of it, so that the final proof has room against solver
    // tolerances while the face stays maximal to the tolerance.
    let m = opt.bound;
    let gap = 0.25 * ctx.params.tolerance;
    let target = if upper {
        if m >= bound {
            bound
        } else {
            m - gap
        }
    } else if m <= bound {
        bound
    } else {
        m + gap
    };
    // The move is proved by an ordinary question on the moved box; right at the optimum the
    // margin is -τ to within solver tolerances, so the face may need to back off a little.
    let blocked = g.state(i, upper).blocked;
    for k in 0..4 {
        let back = gap * 4f64.powi(k);
        let t = if target == bound {
            bound
        } else if upper {
            target - back + gap
        } else {
            target + back - gap
        };
        let moves_out = if upper { t > pos } else { t < pos };
        if !(moves_out && t.is_finite()) || g.try_move(i, upper, t) {
            break;
        }
    }
    g.state(i, upper).blocked = blocked;
    if let Some((_, p)) = &opt.best {
        // The nearest point has margin about -τ: push it into a counterexample.
        let w = Witness::confirm(net, p, ctx.class).or_else(|| {
            crate::attack::cross_boundary(net, p, ctx.class, &released)
                .and_then(|q| Witness::confirm(net, &q, ctx.class))
        });
        if let Some(w) = w {
            g.state(i, upper).blocked = Some(ctx.distance(&w.x));
        }
    }
    opt.exact
}

#[cfg(test)]
mod tests {
    use super::cut_towards;
    use crate::certify::snap_to;

    #[test]
    fn a_refusing_witness_inside_the_bracket_becomes_its_unproved_end() {
        assert_eq!(cut_towards(0.2, 1.0, Some(0.4)), 0.4);
        assert_eq!(cut_towards(0.8, 0.0, Some(0.5)), 0.5);
        // Outside the bracket or on its proved end: ignored.
        assert_eq!(cut_towards(0.2, 1.0, Some(0.2)), 1.0);
        assert_eq!(cut_towards(0.2, 1.0, Some(1.5)), 1.0);
        assert_eq!(cut_towards(0.2, 1.0, None), 1.0);
    }

    #[test]
    fn cuts_that_differ_from_the_input_by_rounding_land_on_it() {
        let (x, delta) = (0.3, 0.1);
        let w = x + delta;
        assert_ne!(w - delta, x, "the rounding this guards against");
        assert_eq!(snap_to(w - delta, x), x);
        assert_eq!(snap_to(0.35, x), 0.35);
        assert_eq!(snap_to(0.0, 0.0), 0.0);
    }
}
