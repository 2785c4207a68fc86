//! Sliding a near-boundary point along one coordinate (issue 16): the exact face expansion of
//! `maximal` bisects each face between where it stands and the coordinate of the last point
//! that refused a move. A probe or a MILP returns *some* such point, often far beyond where the
//! face will stop, and every halving of that bracket used to cost a refused settling question
//! (a MILP). Here the point is moved, within the refused box, to the smallest (or largest)
//! coordinate its neighbourhood allows: with the activation pattern fixed the network is
//! affine, so "a point of this linear region with margin at most τ whose coordinate `i` is
//! least" is one LP; a neuron the optimum leaves at zero lets the next LP cross into the
//! region beyond it. A local search: what it returns is only a better point, never a proof,
//! and it is re-checked by forward passes before it is used.

use crate::bounds::NeuronBounds;
use crate::milp::encode::Encoding;
use crate::milp::query;
use crate::milp::solver::{Limits, Lp, Sense, Status};
use crate::network::{margin_of, Network};
use crate::region::Hyperbox;

use super::MilpOracle;

/// LPs per slide: each crosses into the regions beyond the neurons the last optimum left at
/// zero.
const ROUNDS: usize = 6;

/// A pre-activation this close to zero (relative to the layer's scale) counts as on the
/// boundary between its two phases.
const ON_BOUNDARY: f64 = 1e-7;

impl MilpOracle<'_> {
    /// See [`super::Oracle::slide`].
    pub(super) fn slide_impl(
        &self,
        region: &Hyperbox,
        c: usize,
        slack: f64,
        point: &[f64],
        coord: usize,
        lowest: bool,
    ) -> Option<Vec<f64>> {
        let net = self.net;
        if !self.settings.slide
            || region.dim() != net.input_size()
            || c >= net.output_size()
            || coord >= region.dim()
            || !slack.is_finite()
        {
            return None;
        }
        let region = region.intersect(&self.domain)?;
        let near = |x: &[f64]| margin_of(&net.forward(x), c).0 <= slack;
        let start = region.clamp(point);
        let (m, j) = margin_of(&net.forward(&start), c);
        if m > slack {
            return None;
        }
        let bounds = NeuronBounds::interval(net, &region);
        let enc = Encoding::new(net, &region, &bounds);
        let margin = enc.margin(c, j);
        let sense = if lowest {
            Sense::Minimise
        } else {
            Sense::Maximise
        };
        let better = |a: f64, b: f64| if lowest { a < b } else { a > b };
        let limits = Limits {
            relaxation: true,
            deadline: self.settings.deadline,
            ..Limits::default()
        };
        // A coordinate the box fixes cannot move.
        enc.input[coord]?;
        // One LP for every round: only the binaries' bounds change, so each re-solve starts
        // from the last basis.
        let milp = query::extreme_coordinate_model(&enc, coord, &[margin], -slack);
        let mut lp = Lp::new(&milp, sense).ok()?;
        lp.without_presolve().ok()?;
        let mut best = start.clone();
        // Phases of the last LP's pattern (per binary), to flip those left on the boundary.
        let mut phases: Vec<bool> = pattern(net, &enc, &start, None);
        for _ in 0..ROUNDS {
            let Some((x, time)) = solve_in_pattern(&mut lp, &enc, &phases, &region, &limits) else {
                break;
            };
            // The LP's optimum is within its tolerances; back off towards the current best
            // point (the same region: the margin is affine on the segment) until it checks.
            let Some(x) = [1.0, 0.999, 0.99, 0.9, 0.5].iter().find_map(|&t| {
                let y: Vec<f64> = best
                    .iter()
                    .zip(&x)
                    .map(|(&a, &b)| a + t * (b - a))
                    .collect();
                let y = region.clamp(&y);
                near(&y).then_some(y)
            }) else {
                break;
            };
            if std::env::var_os("PPNN_LOG_SLIDE").is_some() {
                eprintln!(
                    "slide: coord {coord} {:.6} -> {:.6} in {:.1} ms ({} binaries)",
                    best[coord],
                    x[coord],
                    time.as_secs_f64() * 1e3,
                    enc.binaries.len()
                );
            }
            if !better(x[coord], best[coord]) {
                break;
            }
            phases = pattern(net, &enc, &x, Some(&phases));
            best = x;
        }
        better(best[coord], start[coord]).then_some(best)
    }
}

/// One LP of a local search: the binaries of `enc` fixed to `phases` (so the network is affine
/// on the LP's feasible set), `lp` re-solved from its last basis. The optimum's input point,
/// clamped into `region`, and the solve time; `None` when the LP did not end optimal.
pub(super) fn solve_in_pattern(
    lp: &mut Lp,
    enc: &Encoding,
    phases: &[bool],
    region: &Hyperbox,
    limits: &Limits,
) -> Option<(Vec<f64>, std::time::Duration)> {
    for (b, &on) in enc.binaries.iter().zip(phases) {
        let v = if on { 1.0 } else { 0.0 };
        lp.set_bounds(b.col, v, v).ok()?;
    }
    let out = lp.solve(limits).ok()?;
    if out.status != Status::Optimal {
        return None;
    }
    let x = region.clamp(&enc.input_point(out.solution.as_deref()?));
    Some((x, out.time))
}

/// The phase of every binary of `enc` at `x`; a neuron on the boundary between its phases
/// takes the phase it did not have in `previous` (so that the next LP explores the other side).
pub(super) fn pattern(
    net: &Network,
    enc: &Encoding,
    x: &[f64],
    previous: Option<&[bool]>,
) -> Vec<bool> {
    let trace = net.forward_trace(x);
    let scale: Vec<f64> = trace
        .iter()
        .map(|layer| layer.iter().fold(1.0_f64, |m, v| m.max(v.abs())))
        .collect();
    enc.binaries
        .iter()
        .enumerate()
        .map(|(k, b)| {
            let z = trace[b.layer][b.neuron];
            let scale = scale[b.layer];
            match previous {
                Some(p) if z.abs() <= ON_BOUNDARY * scale => !p[k],
                _ => z > 0.0,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::network::Layer;
    use crate::oracle::{Oracle, OracleSettings};

    /// Two inputs in [0, 1]; h0 = relu(x0 + x1 - 1.2), h1 = relu(x1 - 0.8); y0 = 0,
    /// y1 = 10 h0 + 10 h1 - 1. At (1, 1) class 1 wins by 9. With both neurons active the least
    /// x0 of a point where class 1 comes within τ is 0.2, where h0's pre-activation reaches
    /// zero; beyond it (h0 off) h1 alone keeps class 1 ahead at x1 = 1 down to x0 = 0.
    fn two_regions() -> Network {
        Network::new(
            vec![
                Layer {
                    n_in: 2,
                    n_out: 2,
                    weights: vec![1.0, 1.0, 0.0, 1.0],
                    bias: vec![-1.2, -0.8],
                    relu: true,
                },
                Layer {
                    n_in: 2,
                    n_out: 2,
                    weights: vec![0.0, 0.0, 10.0, 10.0],
                    bias: vec![0.0, -1.0],
                    relu: false,
                },
            ],
            vec![2],
        )
        .unwrap()
    }

    #[test]
    fn a_slide_crosses_into_the_region_beyond_a_neuron_it_stops_at() {
        let net = two_regions();
        let oracle = MilpOracle::new(&net, Hyperbox::unit(2), OracleSettings::default());
        let tau = oracle.margin();
        let whole = Hyperbox::unit(2);
        let q = oracle
            .slide(&whole, 0, tau, &[1.0, 1.0], 0, true)
            .expect("a point with smaller x0");
        assert!(whole.contains(&q), "{q:?}");
        assert!(margin_of(&net.forward(&q), 0).0 <= tau, "{q:?}");
        assert!(
            q[0] < 1e-6,
            "stopped at {q:?} (0.2 is the first region's end)"
        );
        // Upwards along x1 from a point where x1 is already as large as the box allows.
        assert_eq!(oracle.slide(&whole, 0, tau, &[1.0, 1.0], 1, false), None);
        // A start that is not near the boundary: nothing to slide.
        assert_eq!(oracle.slide(&whole, 0, tau, &[0.0, 0.0], 0, true), None);
    }

    #[test]
    fn a_slide_stays_inside_the_box_it_is_given() {
        let net = two_regions();
        let oracle = MilpOracle::new(&net, Hyperbox::unit(2), OracleSettings::default());
        let tau = oracle.margin();
        // x1 <= 0.85: h1 gives at most 0.5, so class 1 needs h0 too: 10 x0 + 20 x1 - 21 >= -τ,
        // least x0 = 0.4 - τ/10 at x1 = 0.85.
        let b = Hyperbox::new(vec![0.0, 0.0], vec![1.0, 0.85]).unwrap();
        let q = oracle
            .slide(&b, 0, tau, &[1.0, 0.85], 0, true)
            .expect("a point with smaller x0");
        assert!(b.contains(&q), "{q:?}");
        assert!(margin_of(&net.forward(&q), 0).0 <= tau, "{q:?}");
        assert!(
            q[0] >= 0.4 - tau / 10.0 - 1e-6 && q[0] < 0.4 + 1e-6,
            "{q:?}"
        );
    }
}
