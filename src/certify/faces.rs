//! A box being grown face by face, and the machinery that lets it grow with few proofs.
//!
//! The bottom-up algorithms ask one soundness question per face move, and most of their time
//! went to those questions: refusals the cascade's short attack misses (a MILP then finds the
//! counterexample) and proofs (a MILP per competitor). Here a move is first **probed**: the
//! oracle's cheap near-boundary search ([`crate::oracle::Oracle::search_near`], no solver) looks
//! for a point of the moved box whose class margin is at most τ. Found, the move is refused: no
//! question could prove that box, and the point is the face's blocker. Not found, the move is
//! **pending**. Pending moves are then proved together by one soundness question on the box with
//! all of them (**settling**). When it holds, they all stand. When it is refused, a bisection
//! over the sequence of pending moves, guided by the refusing point (the first move whose box
//! contains it), finds the first move that does not hold: the moves before it stand (each of
//! their boxes was answered `Holds`, or lies inside one that was), that move is refused, and the
//! caller redoes the faces from it. So the box reported is always one the oracle answered
//! `Holds`, and a face is blocked only by a point that its own move would have let in.

use super::Ctx;
use crate::certificate::Face;
use crate::oracle::{Verdict, Witness};
use crate::region::Hyperbox;

/// Pending moves proved by the first settling question; doubled after a proof, quartered after
/// a refusal.
const FIRST_CHUNK: usize = 32;
const MAX_CHUNK: usize = 1024;
/// Recent refusing points kept as starts of the next probes.
const HINTS: usize = 3;

/// Per-face bookkeeping: where a face stopped and why.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct FaceState {
    /// Distance of the counterexample that stopped the face, if one did.
    pub(super) blocked: Option<f64>,
}

/// One step of the pending sequence.
#[derive(Debug, Clone, Copy)]
enum Step {
    /// Face `(coord, upper)` moves to `to`.
    Move { coord: usize, upper: bool, to: f64 },
    /// Face `(coord, upper)` is blocked (by a confirmed counterexample at `distance` when
    /// known) relative to the box of the steps before it.
    Block {
        coord: usize,
        upper: bool,
        distance: Option<f64>,
    },
}

/// A pending move that settling refused.
#[derive(Debug, Clone)]
pub(super) struct Refusal {
    /// The face.
    pub(super) coord: usize,
    /// Its side.
    pub(super) upper: bool,
    /// The refused position.
    pub(super) at: f64,
    /// A point of the refused box with margin at most τ (a counterexample or a near tie), when
    /// the oracle gave one.
    pub(super) point: Option<Vec<f64>>,
}

/// A box being grown, with its faces' states.
pub(super) struct Grow<'c, 'a> {
    pub(super) ctx: &'c Ctx<'a>,
    /// The box as proved so far (every question on it answered `Holds`).
    pub(super) region: Hyperbox,
    pub(super) limit: Hyperbox,
    pub(super) upper: Vec<FaceState>,
    pub(super) lower: Vec<FaceState>,
    pub(super) unknown: usize,
    pub(super) near_ties: usize,
    /// Coordinate `i` of the counterexample that refused the last move of face `i`.
    pub(super) last_cut: Option<f64>,
    /// `region` with the pending moves applied.
    tentative: Hyperbox,
    pending: Vec<Step>,
    /// Pending moves that trigger a settling question.
    chunk: usize,
    /// Recent refusing points: starts for the next probes.
    hints: Vec<Vec<f64>>,
    /// Probes asked, settling questions asked, and those refused.
    probes: usize,
    settles: usize,
    refused_settles: usize,
    /// Moves that stood, and the questions that proved them (settling and bisection).
    moved: usize,
    proofs: usize,
    /// Exact runs: refusing points are slid along their face's coordinate, towards the face,
    /// by the oracle's local LP search ([`crate::oracle::Oracle::slide`]) before they bound a
    /// bisection. δ-runs keep the bisection their algorithm defines.
    pub(super) slide: bool,
    /// Points slid and those the slide moved.
    slides: usize,
    slid: usize,
    /// Slides already done, by face, start point and box (bit patterns; the moving face's own
    /// position left out: a slide moves away from it, so it does not change the result). The
    /// probes keep returning the same points (their hints) while a face is bisected.
    settled_points: std::collections::HashSet<(usize, bool, u64)>,
}

impl<'c, 'a> Grow<'c, 'a> {
    pub(super) fn new(ctx: &'c Ctx<'a>, start: Hyperbox) -> Self {
        let d = start.dim();
        let limit = ctx.restriction();
        Grow {
            ctx,
            tentative: start.clone(),
            region: start,
            limit,
            upper: vec![FaceState::default(); d],
            lower: vec![FaceState::default(); d],
            unknown: 0,
            near_ties: 0,
            last_cut: None,
            pending: Vec::new(),
            chunk: FIRST_CHUNK,
            hints: Vec::new(),
            probes: 0,
            settles: 0,
            refused_settles: 0,
            moved: 0,
            proofs: 0,
            slide: false,
            slides: 0,
            slid: 0,
            settled_points: std::collections::HashSet::new(),
        }
    }

    /// Position of a face of the proved box.
    pub(super) fn pos(&self, i: usize, upper: bool) -> f64 {
        face_of(&self.region, i, upper)
    }

    /// Position of a face of the pending box.
    pub(super) fn tpos(&self, i: usize, upper: bool) -> f64 {
        face_of(&self.tentative, i, upper)
    }

    pub(super) fn bound(&self, i: usize, upper: bool) -> f64 {
        face_of(&self.limit, i, upper)
    }

    /// The proved box with face `(i, upper)` moved to `v`.
    pub(super) fn moved(&self, i: usize, upper: bool, v: f64) -> Hyperbox {
        moved(&self.region, i, upper, v)
    }

    /// The pending box with face `(i, upper)` moved to `v`.
    pub(super) fn tmoved(&self, i: usize, upper: bool, v: f64) -> Hyperbox {
        moved(&self.tentative, i, upper, v)
    }

    pub(super) fn state(&mut self, i: usize, upper: bool) -> &mut FaceState {
        if upper {
            &mut self.upper[i]
        } else {
            &mut self.lower[i]
        }
    }

    /// Asks whether the face can move to `v`; moves it when sound. Records the blocking
    /// counterexample otherwise. (One soundness question; no pending moves may be open.)
    pub(super) fn try_move(&mut self, i: usize, upper: bool, v: f64) -> bool {
        debug_assert!(self.pending.is_empty());
        let cand = self.moved(i, upper, v);
        self.last_cut = None;
        match self.ctx.sound(&cand) {
            Verdict::Holds { .. } => {
                self.region = cand;
                self.tentative = self.region.clone();
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

    /// Probes moving face `(i, upper)` of the pending box to `v`: a point of the moved box with
    /// margin at most τ refuses it (returned, pulled back along coordinate `i` as far towards
    /// the face as it stays that close to the boundary); otherwise the move becomes pending.
    pub(super) fn probe(&mut self, i: usize, upper: bool, v: f64) -> Option<Vec<f64>> {
        let ctx = self.ctx;
        let cand = self.tmoved(i, upper, v);
        self.probes += 1;
        match ctx
            .oracle
            .search_near(&cand, ctx.class, ctx.oracle.margin(), &self.hints)
        {
            Some(p) => {
                let p = self.slid(&cand, p, i, upper);
                let p = self.pull_back(p, i, self.tpos(i, upper));
                if self.hints.len() >= HINTS {
                    self.hints.remove(0);
                }
                self.hints.push(p.clone());
                Some(p)
            }
            None => {
                self.tentative = cand;
                self.pending.push(Step::Move {
                    coord: i,
                    upper,
                    to: v,
                });
                None
            }
        }
    }

    /// `p` (a point of `b` with margin at most τ), slid towards face `(i, upper)` when this run
    /// slides its refusing points and the oracle finds a point of `b` closer to the face.
    fn slid(&mut self, b: &Hyperbox, p: Vec<f64>, i: usize, upper: bool) -> Vec<f64> {
        if !self.slide {
            return p;
        }
        let ctx = self.ctx;
        let key = |q: &[f64]| {
            let (mut lb, mut ub) = (b.lb().to_vec(), b.ub().to_vec());
            if upper {
                ub[i] = 0.0;
            } else {
                lb[i] = 0.0;
            }
            (i, upper, bits(&[q, &lb, &ub]))
        };
        if !self.settled_points.insert(key(&p)) {
            return p;
        }
        self.slides += 1;
        match ctx
            .oracle
            .slide(b, ctx.class, ctx.oracle.margin(), &p, i, upper)
        {
            Some(q) => {
                self.slid += 1;
                self.settled_points.insert(key(&q));
                q
            }
            None => p,
        }
    }

    /// `p` with coordinate `i` moved from `p_i` towards `face` as far as its margin stays at
    /// most τ (a bisection on forward passes). The result lies in every box that `p` lies in
    /// whose face `i` reaches its new coordinate.
    fn pull_back(&self, mut p: Vec<f64>, i: usize, face: f64) -> Vec<f64> {
        let net = self.ctx.oracle.network();
        let tau = self.ctx.oracle.margin();
        let near = |q: &[f64]| crate::network::margin_of(&net.forward(q), self.ctx.class).0 <= tau;
        let (mut far, mut close) = (p[i], face);
        for _ in 0..40 {
            let mid = 0.5 * (far + close);
            if mid == far || mid == close {
                break;
            }
            p[i] = mid;
            if near(&p) {
                far = mid;
            } else {
                close = mid;
            }
        }
        p[i] = far;
        p
    }

    /// Records that face `(i, upper)` stops where it is in the pending box, blocked by
    /// `point` (a point with margin at most τ just beyond it) when one is known. The block
    /// stands once the moves before it do.
    pub(super) fn block(&mut self, i: usize, upper: bool, point: Option<&[f64]>) {
        let distance = point.and_then(|p| self.blocker_distance(p, i, upper));
        self.block_at(i, upper, distance);
    }

    /// Like [`Self::block`] with the blocking counterexample's distance already known.
    pub(super) fn block_at(&mut self, i: usize, upper: bool, distance: Option<f64>) {
        let step = Step::Block {
            coord: i,
            upper,
            distance,
        };
        if self.pending.is_empty() {
            self.apply(step);
        } else {
            self.pending.push(step);
        }
    }

    /// Distance from x* of a confirmed counterexample at `p` or just across the boundary from
    /// it (within the box with the face released).
    fn blocker_distance(&self, p: &[f64], i: usize, upper: bool) -> Option<f64> {
        let ctx = self.ctx;
        let net = ctx.oracle.network();
        let released = self.tmoved(i, upper, self.bound(i, upper));
        let w = Witness::confirm(net, p, ctx.class).or_else(|| {
            crate::attack::cross_boundary(net, p, ctx.class, &released)
                .and_then(|q| Witness::confirm(net, &q, ctx.class))
        })?;
        Some(ctx.distance(&w.x))
    }

    /// Number of pending moves.
    pub(super) fn pending_moves(&self) -> usize {
        self.pending
            .iter()
            .filter(|s| matches!(s, Step::Move { .. }))
            .count()
    }

    /// Whether enough moves are pending to settle them.
    pub(super) fn ripe(&self) -> bool {
        self.pending_moves() >= self.chunk
    }

    fn apply(&mut self, step: Step) {
        match step {
            Step::Move { coord, upper, to } => {
                self.region = moved(&self.region, coord, upper, to);
                self.state(coord, upper).blocked = None;
                self.moved += 1;
            }
            Step::Block {
                coord,
                upper,
                distance,
            } => self.state(coord, upper).blocked = distance,
        }
    }

    /// The proved box with the first `t` pending steps applied.
    fn prefix_box(&self, t: usize) -> Hyperbox {
        let mut b = self.region.clone();
        for s in &self.pending[..t] {
            if let Step::Move { coord, upper, to } = *s {
                b = moved(&b, coord, upper, to);
            }
        }
        b
    }

    /// Commits the first `t` pending steps (their box was answered `Holds`) and drops the rest.
    fn commit(&mut self, t: usize) {
        let steps: Vec<Step> = self.pending.drain(..).take(t).collect();
        for s in steps {
            self.apply(s);
        }
        self.tentative = self.region.clone();
    }

    /// Asks whether `b` is sound; `Ok` when it holds, else the refusing point if any.
    fn ask(&mut self, b: &Hyperbox) -> Result<(), Option<Vec<f64>>> {
        match self.ctx.sound(b) {
            Verdict::Holds { .. } => {
                self.proofs += 1;
                Ok(())
            }
            Verdict::Violated { witness, .. } => Err(Some(witness.x)),
            Verdict::Unknown { near_tie, .. } => {
                if near_tie.is_some() {
                    self.near_ties += 1;
                } else if self.ctx.limit_reached().is_none() {
                    self.unknown += 1;
                }
                Err(near_tie)
            }
        }
    }

    /// Proves the pending moves: one question on the pending box; when refused, a bisection
    /// over the pending sequence finds its first refused move (see the module doc). Returns
    /// that move, or `None` when every pending move now stands.
    pub(super) fn settle(&mut self) -> Option<Refusal> {
        if self.pending_moves() == 0 {
            self.commit(self.pending.len());
            return None;
        }
        self.settles += 1;
        let all = self.pending.len();
        let tentative = self.tentative.clone();
        let mut point = match self.ask(&tentative) {
            Ok(()) => {
                self.commit(all);
                self.chunk = (2 * self.chunk).min(MAX_CHUNK);
                return None;
            }
            Err(p) => p,
        };
        self.refused_settles += 1;
        self.chunk = (self.chunk / 4).max(1);
        if let Some(p) = &point {
            if self.hints.len() >= HINTS {
                self.hints.remove(0);
            }
            self.hints.push(p.clone());
        }
        // Invariant: the box of the first `lo` steps holds, that of the first `hi` does not.
        let (mut lo, mut hi) = (0usize, all);
        loop {
            if let Some(p) = &point {
                // The first prefix whose box contains the refusing point (built step by step).
                let mut b = self.prefix_box(lo);
                for t in lo + 1..hi {
                    if let Step::Move { coord, upper, to } = self.pending[t - 1] {
                        b = moved(&b, coord, upper, to);
                    }
                    if b.contains(p) {
                        hi = t;
                        break;
                    }
                }
            }
            if hi - lo <= 1 || self.ctx.limit_reached().is_some() {
                break;
            }
            let mid = lo + (hi - lo) / 2;
            let b = self.prefix_box(mid);
            // A probe from the refusing point first: it often refuses the smaller box too.
            let hints: Vec<Vec<f64>> = point.iter().cloned().collect();
            let ctx = self.ctx;
            if let Some(p) = ctx
                .oracle
                .search_near(&b, ctx.class, ctx.oracle.margin(), &hints)
            {
                self.probes += 1;
                hi = mid;
                point = Some(p);
                continue;
            }
            match self.ask(&b) {
                Ok(()) => lo = mid,
                Err(p) => {
                    hi = mid;
                    point = p;
                }
            }
        }
        // Steps up to `lo` stand; step `hi - 1` (a move: a block changes no box) is refused
        // when `hi = lo + 1`. At the time limit, nothing past `lo` is claimed.
        let refused = self.pending[hi - 1];
        let refused_box = self.prefix_box(hi);
        self.commit(lo);
        if hi != lo + 1 {
            return None;
        }
        match refused {
            Step::Move { coord, upper, to } => {
                let point = point.map(|p| {
                    let p = self.slid(&refused_box, p, coord, upper);
                    self.pull_back(p, coord, self.pos(coord, upper))
                });
                Some(Refusal {
                    coord,
                    upper,
                    at: to,
                    point,
                })
            }
            Step::Block { .. } => None,
        }
    }

    /// Drops the pending steps (the run stops: only the proved box is reported).
    pub(super) fn abandon(&mut self) {
        self.commit(0);
    }

    pub(super) fn faces_report(&self) -> Vec<Face> {
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

    pub(super) fn finish(mut self, stopped: Option<String>) -> super::Found {
        self.abandon();
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
        if self.probes > 0 {
            notes.push(format!(
                "{} face moves probed by cheap searches (no solver); {} moves stand, proved by {} soundness questions ({} settling questions over pending moves, {} of them refused)",
                self.probes, self.moved, self.proofs, self.settles, self.refused_settles
            ));
        }
        if self.slides > 0 {
            notes.push(format!(
                "{} refusing points slid towards their face by linear-region LPs, {} of them moved",
                self.slides, self.slid
            ));
        }
        let faces = self.faces_report();
        super::Found {
            region: self.region,
            stopped,
            upper: None,
            notes,
            faces: Some(faces),
            near: None,
        }
    }
}

/// A hash of the exact bit patterns of `parts` (a collision only skips a slide).
fn bits(parts: &[&[f64]]) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for v in parts.iter().flat_map(|p| p.iter()) {
        v.to_bits().hash(&mut h);
    }
    h.finish()
}

fn face_of(b: &Hyperbox, i: usize, upper: bool) -> f64 {
    if upper {
        b.ub()[i]
    } else {
        b.lb()[i]
    }
}

/// `b` with face `(i, upper)` moved to `v` (never past the opposite face).
fn moved(b: &Hyperbox, i: usize, upper: bool, v: f64) -> Hyperbox {
    let mut b = b.clone();
    if upper {
        b.set_ub(i, v.max(b.lb()[i]));
    } else {
        b.set_lb(i, v.min(b.ub()[i]));
    }
    b
}
