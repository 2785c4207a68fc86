//! The parallelepipedal family: boxes whose faces move outward one by one.
//!
//! Bottom-up algorithms start from a proved box (the point x*, or the result of a cyclic
//! algorithm in a composition) and push each face towards its bound — the domain D intersected
//! with the distance restriction `B∞(x*, R)` — while the box stays sound: by steps of δ
//! (`bu-l-dfs`), by bisection down to δ (`bu-d-dfs`), in rounds over all faces (`bu-bfs`), or
//! exactly, one optimisation per face (`maximal`). The top-down algorithm (`td`) starts from the
//! whole restriction and cuts the coordinate of each counterexample.

use std::collections::{HashMap, HashSet};

use super::faces::Grow;
use super::{snap_to, Ctx, Found};
use crate::oracle::{Verdict, Witness};
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
/// Moves are probed and proved in groups (see `certify/faces.rs`): the box is the one the
/// face-by-face bisection reaches with the same refusals, for far fewer proofs.
pub fn dichotomic_dfs(ctx: &Ctx, start: Hyperbox, order: FaceOrder) -> Found {
    let mut g = Grow::new(ctx, start);
    let faces = order.faces(g.region.dim());
    let stopped = expand(&mut g, &faces, ctx.params.delta, false, None, "bu-d-dfs");
    g.finish(stopped.map(|(why, _)| why))
}

/// Bisection of every face of `faces`, in order, between its position and its bound, until
/// the bracket is at most `step` wide: moves are probed, pending moves settled in groups, and
/// a refused settlement sends the run back to the refused face (its bracket now ends at the
/// refused position). With `near`, a face that the point blocks where it stands (see
/// [`blocked_by_near`]) is not moved. Returns why the run stopped early, if it did, and the
/// index in `faces` of the first face not yet done (every face before it is).
fn expand(
    g: &mut Grow,
    faces: &[(usize, bool)],
    step: f64,
    jump: bool,
    near: Option<&[f64]>,
    name: &str,
) -> Option<(String, usize)> {
    let ctx = g.ctx;
    g.slide = jump;
    // Refused positions learnt from settling: valid for every later (larger) box.
    let mut known: HashMap<(usize, bool), Learnt> = HashMap::new();
    // Jumps tried per face (across redos: a face whose jumps keep being refused bisects).
    let mut jumps: HashMap<(usize, bool), usize> = HashMap::new();
    let mut k = 0;
    let mut reported = 0;
    while k < faces.len() {
        if let Some(why) = ctx.limit_reached() {
            return Some((why, k));
        }
        let (i, upper) = faces[k];
        let learnt = known.remove(&(i, upper));
        let stands = g.tpos(i, upper) == g.bound(i, upper);
        if !stands {
            match near.and_then(|p| learnt.is_none().then(|| blocked_by_near(g, p, i, upper))) {
                Some(Some(d)) => g.block_at(i, upper, d),
                _ => bisect_face(
                    g,
                    i,
                    upper,
                    step,
                    jump,
                    jumps.entry((i, upper)).or_default(),
                    learnt,
                ),
            }
        }
        k += 1;
        if g.ripe() || k == faces.len() {
            if let Some(r) = g.settle() {
                let pos = g.pos(r.coord, r.upper);
                let hi = cut_towards(pos, r.at, r.point.as_ref().map(|p| p[r.coord]));
                let back = faces
                    .iter()
                    .position(|&f| f == (r.coord, r.upper))
                    .unwrap_or(k);
                known.insert((r.coord, r.upper), (hi, r.point));
                k = back.min(k);
            }
        }
        if k >= reported + 32 {
            reported = k;
            ctx.progress(&format!("{name}: face {k} of {}", faces.len()));
        }
    }
    None
}

/// A refused position of a face and the point that refused it (if the oracle gave one).
type Learnt = (f64, Option<Vec<f64>>);

/// Positions tried just before a refused one, per face and run, before plain bisection.
const MAX_JUMPS: usize = 8;

/// Bisection of face `(i, upper)` of the pending box between its position and `learnt` (a
/// refused position and its point) or, without it, its bound; probes only (see
/// [`Grow::probe`]), to a bracket at most `step` wide. The face then records its blocker.
fn bisect_face(
    g: &mut Grow,
    i: usize,
    upper: bool,
    step: f64,
    jump: bool,
    jumps: &mut usize,
    learnt: Option<Learnt>,
) {
    let bound = g.bound(i, upper);
    let mut lo = g.tpos(i, upper);
    let (mut hi, mut blocker) = match learnt {
        Some(l) => l,
        None => match g.probe(i, upper, bound) {
            None => return,
            Some(p) => (cut_towards(lo, bound, Some(p[i])), Some(p)),
        },
    };
    while (hi - lo).abs() > step {
        if g.ctx.limit_reached().is_some() {
            return;
        }
        // Exact runs (`jump`): a refused position comes from a point on the boundary (pulled
        // back along the coordinate), so the face most likely stops just before it: try there
        // first, then bisect. δ-runs bisect, as the algorithm is defined.
        let mid = if jump && *jumps < MAX_JUMPS {
            *jumps += 1;
            if upper {
                (hi - 0.5 * step).max(lo)
            } else {
                (hi + 0.5 * step).min(lo)
            }
        } else {
            0.5 * (lo + hi)
        };
        if mid == lo || mid == hi {
            break;
        }
        match g.probe(i, upper, mid) {
            None => lo = mid,
            Some(p) => {
                hi = cut_towards(lo, mid, Some(p[i]));
                blocker = Some(p);
            }
        }
    }
    g.block(i, upper, blocker.as_deref());
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
/// region: the box is maximal. For each face (in the run's face order):
/// 1. if the near point of the starting cube touches the face, with the margin growing outward,
///    the face is blocked where it is (checked by a forward pass, no solver);
/// 2. otherwise a bisection between its position and its bound, to the tolerance, whose moves
///    are probed by cheap searches and proved in groups (see `certify/faces.rs`): each refused
///    position comes with a point of margin at most τ in the box that the move would reach.
///
/// Since boxes only grow, a blocked face stays blocked: maximality does not depend on the order.
/// Every move stands only once a soundness question on a box containing it was answered `Holds`,
/// so the box stands whenever the run stops.
pub fn exact_faces(ctx: &Ctx, start: Hyperbox, near: Option<&[f64]>) -> Found {
    let mut g = Grow::new(ctx, start);
    let d = g.region.dim();
    let faces = ctx.params.face_order.faces(d);
    // First every face that can reach its bound (groups of such moves settle at once, and
    // their boxes are far from the boundary), then the exact positions of the others.
    // On a stop, the faces from `unfinished` on (in face order) have not been through the
    // second pass: the first blocks a face by a probe's point, possibly far beyond it, so such
    // a face is reported `open`, not `blocked` (its bracket is still wider than the tolerance).
    let first = if ctx.params.influence_order {
        influence_order(&g, &faces)
    } else {
        faces.clone()
    };
    let (stopped, unfinished) = match expand(
        &mut g,
        &first,
        f64::INFINITY,
        false,
        near,
        "maximal: bounds",
    ) {
        Some((why, _)) => (Some(why), Some(0)),
        None => match expand(&mut g, &faces, ctx.params.tolerance, true, near, "maximal") {
            Some((why, k)) => (Some(why), Some(k)),
            None => (None, None),
        },
    };
    let mut f = g.finish(stopped);
    if let (Some(k), Some(fs)) = (unfinished, f.faces.as_mut()) {
        let rest: HashSet<(usize, bool)> = faces[k..].iter().copied().collect();
        for face in fs.iter_mut() {
            if face.state == "blocked" && rest.contains(&(face.coord, face.side == "upper")) {
                face.state = "open";
            }
        }
    }
    let open = f
        .faces
        .as_ref()
        .map_or(0, |fs| fs.iter().filter(|x| x.state == "open").count());
    if open > 0 {
        f.notes.push(format!(
            "{open} face(s) are open: the run stopped before bisecting them to the tolerance, or no confirmed counterexample was found just beyond them (a point within the safety margin τ of the boundary, or a refusal without a point, stopped them)"
        ));
    }
    f
}

/// `faces` sorted by how much moving each to its bound could lower the class margin (its
/// travel times [`influence`] of its coordinate), least first. Why: the first pass settles
/// pending moves in groups, and one move that breaks soundness refuses its whole group (a
/// bisection of MILPs finds it). Taken in face order, harmless and harmful moves alternate;
/// least influential first, long runs of moves settle at once and the harmful ones come last,
/// where cheap probes refuse most of them without a solver.
fn influence_order(g: &Grow, faces: &[(usize, bool)]) -> Vec<(usize, bool)> {
    let sens = influence(g.ctx.oracle.network(), g.ctx.class);
    let score = |&(i, upper): &(usize, bool)| {
        sens.get(i).copied().unwrap_or(0.0) * (g.bound(i, upper) - g.pos(i, upper)).abs()
    };
    let mut out = faces.to_vec();
    // Stable: equal scores keep the face order.
    out.sort_by(|a, b| score(a).total_cmp(&score(b)));
    out
}

/// Per input coordinate, a bound on how fast any competitor's margin `y_j - y_c` can change
/// with it anywhere: the largest over `j` of `|w_c - w_j|` of the output layer carried back
/// through the absolute weights of every hidden layer.
fn influence(net: &crate::network::Network, c: usize) -> Vec<f64> {
    let layers = net.layers();
    let mut sens = vec![0.0f64; net.input_size()];
    let Some((last, hidden)) = layers.split_last() else {
        return sens;
    };
    if c >= last.n_out {
        return sens;
    }
    for j in (0..last.n_out).filter(|&j| j != c) {
        let mut u: Vec<f64> = last
            .row(c)
            .iter()
            .zip(last.row(j))
            .map(|(a, b)| (a - b).abs())
            .collect();
        for l in hidden.iter().rev() {
            let mut v = vec![0.0; l.n_in];
            for (o, &uo) in u.iter().enumerate() {
                for (vi, w) in v.iter_mut().zip(l.row(o)) {
                    *vi += uo * w.abs();
                }
            }
            u = v;
        }
        for (s, x) in sens.iter_mut().zip(&u) {
            *s = s.max(*x);
        }
    }
    sens
}

/// Whether `near` (a point with margin about -τ just outside the box) blocks face `(i, upper)`
/// of the pending box where it stands: the point lies on that face (after clamping into the
/// box) and a step of at most the tolerance outward along the coordinate reaches margin <= τ,
/// checked by a forward pass. `Some(distance of the blocking counterexample, when one is
/// confirmed)` when it does.
fn blocked_by_near(g: &Grow, near: &[f64], i: usize, upper: bool) -> Option<Option<f64>> {
    let ctx = g.ctx;
    let net = ctx.oracle.network();
    let tau = ctx.oracle.margin();
    let pending = g.tmoved(i, upper, g.tpos(i, upper));
    let p = pending.clamp(near);
    let pos = g.tpos(i, upper);
    if (p[i] - pos).abs() > 1e-12 * (1.0 + pos.abs()) {
        return None;
    }
    let (m, j) = crate::network::margin_of(&net.forward(&p), ctx.class);
    let grad = crate::attack::margin_gradient(net, &p, ctx.class, j);
    let outward = if upper { grad[i] } else { -grad[i] };
    if outward <= 0.0 {
        return None;
    }
    // margin_of is y_c - max y_j; the competitor margin is -m. Needed: -m >= -τ.
    let deficit = (m - tau).max(0.0);
    let step = 1.01 * deficit / outward + 1e-15;
    if step > ctx.params.tolerance {
        return None;
    }
    let mut q = p.clone();
    q[i] += if upper { step } else { -step };
    let (mq, _) = crate::network::margin_of(&net.forward(&q), ctx.class);
    if mq > tau {
        return None;
    }
    // Blocked here. The counterexample: push the near point across the boundary.
    let released = g.tmoved(i, upper, g.bound(i, upper));
    Some(
        crate::attack::cross_boundary(net, &q, ctx.class, &released)
            .and_then(|x| Witness::confirm(net, &x, ctx.class))
            .map(|w| ctx.distance(&w.x)),
    )
}

#[cfg(test)]
mod tests {
    use super::{cut_towards, influence};
    use crate::certify::snap_to;
    use crate::network::{Layer, Network};

    #[test]
    fn influence_bounds_each_margins_slope_through_absolute_weights() {
        // Inputs x0, x1, x2; h0 = relu(2 x0 - x1), h1 = relu(-3 x0); x2 feeds nothing.
        // y0 = h0 + h1, y1 = -h0, y2 = 0.
        let net = Network::new(
            vec![
                Layer {
                    n_in: 3,
                    n_out: 2,
                    weights: vec![2.0, -1.0, 0.0, -3.0, 0.0, 0.0],
                    bias: vec![0.0, 0.0],
                    relu: true,
                },
                Layer {
                    n_in: 2,
                    n_out: 3,
                    weights: vec![1.0, 1.0, -1.0, 0.0, 0.0, 0.0],
                    bias: vec![0.0; 3],
                    relu: false,
                },
            ],
            vec![3],
        )
        .unwrap();
        // Class 0 against 1: |w0 - w1| = (2, 1); against 2: (1, 1). Back through |W|:
        // x0: max(2·2 + 1·3, 1·2 + 1·3) = 7; x1: max(2·1, 1·1) = 2; x2: 0.
        assert_eq!(influence(&net, 0), vec![7.0, 2.0, 0.0]);
        // A class the network does not have: no influence rather than a panic.
        assert_eq!(influence(&net, 5), vec![0.0; 3]);
    }

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
