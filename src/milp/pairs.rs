//! Multi-neuron cuts: the convex hull of two ReLUs of one layer over their *octagon*, the
//! `k = 2` case of PRIMA's multi-neuron relaxation (Müller, Makarchuk, Singh, Püschel & Vechev,
//! POPL 2022), separated at the root LP like the ideal-formulation cuts ([`super::cuts`]).
//!
//! Why: every single-neuron relaxation (the triangle, and the ideal formulation over the box of
//! a neuron's inputs) relaxes each ReLU on its own, and on the deep 256-wide networks the root
//! bound stays far above the truth however many such cuts are added (README, "Tightening with
//! cuts"). Two neurons of one layer vary jointly: `z_i + z_j` and `z_i - z_j` have ranges much
//! narrower than the sum of the two intervals, and the hull of `{(z_i, z_j, relu z_i, relu z_j)}`
//! over that octagon cuts LP points that both single relaxations accept. On 784-256-256-10 4-1
//! at ε = 0.03 (competitor 9, after LP tightening) pair cuts lowered the root bound from 8.83
//! (ideal cuts to a standstill) to 5.8 (`examples/probe_pairs.rs`).
//!
//! The hull is the convex hull of the images of the octagon's pieces in the four sign quadrants
//! (on each piece both ReLUs are linear, so a piece's image is the polygon of its mapped
//! vertices). The most violated facet at the LP point is found by a small LP over those vertices
//! ([`super::facet`]).
//! Each cut has four nonzeros, so unlike the dense ideal cuts it costs the node LPs little.
//!
//! Soundness: the octagon's sides are rigorous (back-substitution with outward rounding,
//! [`NeuronBounds::pre_activation_linear_upper`]). Each clip of the polygon is loosened by a
//! margin far above its rounding error, so the computed pieces contain the real ones (a
//! loosened quadrant only adds points, which weakens a cut, never invalidates it), and the
//! cut's right side is the largest value at the computed vertices plus a margin for their
//! rounding. Only root bounds are used, so each cut holds for every real execution in the box
//! and at every node.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use super::model::{ReluCols, Row};
use crate::bounds::NeuronBounds;
use crate::network::Network;
use crate::region::Hyperbox;

/// Violation below which a pair cut is not worth its row.
const MIN_VIOLATION: f64 = 1e-5;
/// Relative margin by which each clip is loosened and each right side widened: far above the
/// rounding of a few operations on the pair's values (about 1e-15 relative).
const MARGIN: f64 = 1e-9;

type Point = (f64, f64);

/// One encoded unstable ReLU.
#[derive(Debug, Clone, Copy)]
struct Site {
    layer: usize,
    neuron: usize,
    cols: ReluCols,
}

/// The joint bounds of a pair: `(s_lo, s_hi)` of `z_i + z_j`, `(d_lo, d_hi)` of `z_i - z_j`.
#[derive(Debug, Clone, Copy)]
struct Octagon {
    sum: Point,
    diff: Point,
}

/// Separates pair cuts for one encoding (attached to its [`Milp`](super::model::Milp); only
/// our branch and bound reads it).
#[derive(Debug)]
pub struct PairCuts {
    net: Network,
    bounds: NeuronBounds,
    region: Hyperbox,
    sites: Vec<Site>,
    /// Octagons computed so far, by site pair: the bounds are the root's, so they never change.
    octagons: Mutex<HashMap<(usize, usize), Octagon>>,
}

impl PairCuts {
    /// A separator for an encoding of `net` over `region` with `bounds`; `relus` lists the
    /// encoded ReLUs as `(layer, neuron, columns)`.
    pub fn new(
        net: &Network,
        bounds: &NeuronBounds,
        region: &Hyperbox,
        relus: impl IntoIterator<Item = (usize, usize, ReluCols)>,
    ) -> Self {
        PairCuts {
            net: net.clone(),
            bounds: bounds.clone(),
            region: region.clone(),
            sites: relus
                .into_iter()
                .map(|(layer, neuron, cols)| Site {
                    layer,
                    neuron,
                    cols,
                })
                .collect(),
            octagons: Mutex::new(HashMap::new()),
        }
    }

    /// The `max` most violated pair cuts at the LP point `sol`, over the pairs among the `top`
    /// neurons of each layer whose LP point lies farthest above their ReLU (the ones the LP
    /// exploits). Stops early, with what it has, at `stop_at`.
    pub fn most_violated(
        &self,
        sol: &[f64],
        top: usize,
        max: usize,
        stop_at: Option<Instant>,
    ) -> Vec<Row> {
        let mut layers: HashMap<usize, Vec<(f64, usize)>> = HashMap::new();
        for (s, site) in self.sites.iter().enumerate() {
            let (z, h) = (sol[site.cols.z], sol[site.cols.h]);
            let gap = h - z.max(0.0);
            if gap > MIN_VIOLATION {
                layers.entry(site.layer).or_default().push((gap, s));
            }
        }
        let mut found: Vec<(Row, f64)> = Vec::new();
        let mut keys: Vec<usize> = layers.keys().copied().collect();
        keys.sort_unstable();
        'layers: for k in keys {
            let mut cand = layers.remove(&k).unwrap_or_default();
            cand.sort_by(|a, b| b.0.total_cmp(&a.0));
            cand.truncate(top);
            let mut sites: Vec<usize> = cand.iter().map(|c| c.1).collect();
            sites.sort_unstable();
            for (p, &a) in sites.iter().enumerate() {
                if stop_at.is_some_and(|t| Instant::now() >= t) {
                    break 'layers;
                }
                for &b in &sites[p + 1..] {
                    if let Some(cut) = self.separate(a, b, sol) {
                        found.push(cut);
                    }
                }
            }
        }
        found.sort_by(|a, b| b.1.total_cmp(&a.1));
        found.truncate(max);
        found.into_iter().map(|(row, _)| row).collect()
    }

    /// The octagon of sites `a < b` (same layer), computed once (outside the lock, so that
    /// the workers of a tightening pass do not wait on each other's back-substitutions).
    fn octagon(&self, a: usize, b: usize) -> Octagon {
        let memo = || self.octagons.lock().unwrap_or_else(|e| e.into_inner());
        let cached = memo().get(&(a, b)).copied();
        if let Some(o) = cached {
            return o;
        }
        let (sa, sb) = (self.sites[a], self.sites[b]);
        let k = sa.layer;
        let n = self.net.layers()[k].n_out;
        let up = |ca: f64, cb: f64| {
            let mut w = vec![0.0; n];
            w[sa.neuron] = ca;
            w[sb.neuron] = cb;
            self.bounds
                .pre_activation_linear_upper(&self.net, k, &w, &self.region)
        };
        let o = Octagon {
            sum: (-up(-1.0, -1.0), up(1.0, 1.0)),
            diff: (-up(-1.0, 1.0), up(1.0, -1.0)),
        };
        memo().insert((a, b), o);
        o
    }

    /// The most violated facet of the pair's hull at `sol`, as a row, with its violation.
    fn separate(&self, a: usize, b: usize, sol: &[f64]) -> Option<(Row, f64)> {
        let (sa, sb) = (self.sites[a], self.sites[b]);
        let (k, i, j) = (sa.layer, sa.neuron, sb.neuron);
        let lo = (self.bounds.lower[k][i], self.bounds.lower[k][j]);
        let hi = (self.bounds.upper[k][i], self.bounds.upper[k][j]);
        let oct = self.octagon(a, b);
        let v = hull_vertices(lo, hi, oct);
        if v.is_empty() {
            return None;
        }
        let cols = [sa.cols.z, sb.cols.z, sa.cols.h, sb.cols.h];
        let p = cols.map(|c| sol[c]);
        let (alpha, rhs) = facet(&v, p)?;
        let viol = dot(&alpha, &p) - rhs;
        (viol > MIN_VIOLATION).then(|| {
            let terms = cols
                .iter()
                .zip(alpha)
                .filter(|(_, w)| *w != 0.0)
                .map(|(&c, w)| (c, w))
                .collect();
            (
                Row {
                    lb: f64::NEG_INFINITY,
                    ub: rhs,
                    terms,
                },
                viol,
            )
        })
    }
}

fn dot(a: &[f64; 4], b: &[f64; 4]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Clips the convex polygon `poly` to the half-plane `c · p <= d`.
fn clip(poly: &[Point], c: Point, d: f64) -> Vec<Point> {
    let mut out = Vec::with_capacity(poly.len() + 1);
    for (n, &p) in poly.iter().enumerate() {
        let q = poly[(n + 1) % poly.len()];
        let fp = c.0 * p.0 + c.1 * p.1 - d;
        let fq = c.0 * q.0 + c.1 * q.1 - d;
        if fp <= 0.0 {
            out.push(p);
        }
        if (fp < 0.0 && fq > 0.0) || (fp > 0.0 && fq < 0.0) {
            let t = fp / (fp - fq);
            out.push((p.0 + t * (q.0 - p.0), p.1 + t * (q.1 - p.1)));
        }
    }
    out
}

/// Vertices, in `(z_i, z_j, h_i, h_j)`, of polygons whose convex hull contains the pair's set
/// `{(z, relu z) : lo <= z <= hi, z in the octagon}`: the octagon's piece in each sign quadrant,
/// every clip loosened by `MARGIN` times the pair's magnitude (so that rounding never loses a
/// real point), mapped by the ReLUs' linear form on that quadrant. Empty when the set is.
fn hull_vertices(lo: Point, hi: Point, oct: Octagon) -> Vec<[f64; 4]> {
    let mag = [
        lo.0, lo.1, hi.0, hi.1, oct.sum.0, oct.sum.1, oct.diff.0, oct.diff.1,
    ]
    .iter()
    .fold(1.0f64, |m, v| m.max(v.abs()));
    let eta = MARGIN * mag;
    let (l0, l1, u0, u1) = (lo.0 - eta, lo.1 - eta, hi.0 + eta, hi.1 + eta);
    let mut poly = vec![(l0, l1), (u0, l1), (u0, u1), (l0, u1)];
    for (c, d) in [
        ((1.0, 1.0), oct.sum.1),
        ((-1.0, -1.0), -oct.sum.0),
        ((1.0, -1.0), oct.diff.1),
        ((-1.0, 1.0), -oct.diff.0),
    ] {
        poly = clip(&poly, c, d + eta);
        if poly.is_empty() {
            return Vec::new();
        }
    }
    let mut out = Vec::new();
    for (si, sj) in [(1.0, 1.0), (1.0, -1.0), (-1.0, 1.0), (-1.0, -1.0)] {
        // The quadrant `si z_i >= 0`, `sj z_j >= 0`, loosened; on it `relu z = z` (sign +)
        // or `0` (sign -), which for the loosened sliver adds points off the real set only.
        let piece = clip(&clip(&poly, (-si, 0.0), eta), (0.0, -sj), eta);
        for (x, y) in piece {
            let h = |v: f64, s: f64| if s > 0.0 { v } else { 0.0 };
            out.push([x, y, h(x, si), h(y, sj)]);
        }
    }
    out
}

/// The facet of the hull of `v` most violated at `p`: coefficients `α ∈ [-1, 1]^4` and the
/// right side `max_v α · v`, widened for rounding. `None` when the LP fails.
fn facet(v: &[[f64; 4]], p: [f64; 4]) -> Option<([f64; 4], f64)> {
    let s = super::facet::most_violated_face(v, p)?;
    // Small coefficients are noise of the LP: dropping them keeps rows clean, and the right
    // side below is computed for the coefficients actually used.
    let alpha = [0, 1, 2, 3].map(|k| {
        let a = s[k];
        if a.abs() < 1e-9 {
            0.0
        } else {
            a
        }
    });
    if alpha.iter().all(|&a| a == 0.0) {
        return None;
    }
    let mut rhs = f64::NEG_INFINITY;
    let mut mag: f64 = 1.0;
    for x in v {
        rhs = rhs.max(dot(&alpha, x));
        mag = x.iter().fold(mag, |m, c| m.max(c.abs()));
    }
    let norm: f64 = alpha.iter().map(|a| a.abs()).sum();
    Some((alpha, rhs + MARGIN * mag * norm))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::milp::encode::Encoding;
    use crate::network::random_net;

    /// On random deep networks, every pair cut separated at LP-like points holds at every
    /// sampled real execution, and some cuts are found (the test is not vacuous).
    #[test]
    fn pair_cuts_never_cut_real_executions() {
        let mut uniform = crate::network::uniform_stream(5u64);
        let mut total = 0;
        for seed in 0..8u64 {
            let net = random_net(seed, &[5, 12, 12, 3]);
            let region = Hyperbox::uniform(5, -1.0, 1.0).expect("a box");
            let bounds = NeuronBounds::symbolic(&net, &region);
            let enc = Encoding::new(&net, &region, &bounds);
            let milp = &enc.milp;
            let sites: Vec<(usize, usize, ReluCols)> = enc
                .binaries
                .iter()
                .zip(&milp.relus)
                .map(|(b, r)| (b.layer, b.neuron, *r))
                .collect();
            let pc = PairCuts::new(&net, &bounds, &region, sites.clone());
            // LP-like points: each column uniform in its bounds, and each ReLU's output
            // pushed to the top of its triangle, where single relaxations leave it.
            for _ in 0..10 {
                let mut sol: Vec<f64> = (0..milp.num_cols())
                    .map(|c| {
                        let (l, u) = (milp.col_lb[c].max(-10.0), milp.col_ub[c].min(10.0));
                        l + (u - l) * uniform()
                    })
                    .collect();
                for &(k, i, r) in &sites {
                    let (l, u) = (bounds.lower[k][i], bounds.upper[k][i]);
                    let z = sol[r.z].clamp(l, u);
                    sol[r.z] = z;
                    sol[r.h] = u * (z - l) / (u - l);
                }
                let cuts = pc.most_violated(&sol, 12, 1000, None);
                total += cuts.len();
                for _ in 0..300 {
                    let x: Vec<f64> = (0..5).map(|_| -1.0 + 2.0 * uniform()).collect();
                    let tr = net.forward_trace(&x);
                    let mut real = vec![0.0; milp.num_cols()];
                    for &(k, i, r) in &sites {
                        real[r.z] = tr[k][i];
                        real[r.h] = tr[k][i].max(0.0);
                    }
                    for cut in &cuts {
                        let act: f64 = cut.terms.iter().map(|&(c, w)| w * real[c]).sum();
                        assert!(
                            act <= cut.ub,
                            "seed {seed}: a real execution violates a pair cut by {}",
                            act - cut.ub
                        );
                    }
                }
            }
        }
        assert!(total > 50, "only {total} pair cuts found");
    }

    /// A point both single-neuron relaxations accept but the pair's hull excludes is cut off,
    /// and the cut holds at every real point of the pair's set.
    #[test]
    fn a_pair_cut_separates_a_point_the_single_relaxations_accept() {
        // z_i, z_j in [-1, 1], and |z_i + z_j| <= 1, |z_i - z_j| <= 1 (a diamond). The point
        // z = (0, 0), h = (0.5, 0.5) lies in both triangles (h <= (z + 1) / 2), but h_i = 0.5 at
        // a mean z_i = 0 needs z_i = ±1 throughout, which the diamond allows only at z_j = 0,
        // so h_j would be 0: the point is outside the hull.
        let oct = Octagon {
            sum: (-1.0, 1.0),
            diff: (-1.0, 1.0),
        };
        let v = hull_vertices((-1.0, -1.0), (1.0, 1.0), oct);
        assert!(!v.is_empty());
        let p = [0.0, 0.0, 0.5, 0.5];
        let (alpha, rhs) = facet(&v, p).expect("an LP answer");
        assert!(dot(&alpha, &p) > rhs + 1e-3, "the point is cut off");
        for a in 0..=40 {
            for b in 0..=40 {
                let (x, y) = (-1.0 + a as f64 / 20.0, -1.0 + b as f64 / 20.0);
                if (x + y).abs() > 1.0 || (x - y).abs() > 1.0 {
                    continue;
                }
                let q = [x, y, x.max(0.0), y.max(0.0)];
                assert!(dot(&alpha, &q) <= rhs, "({x}, {y}) violates the cut");
            }
        }
    }
}
