//! A counterexample nearer to x* (issue 12, the exact apothem's confirmed end on deep
//! networks): attacks on shrinking balls return *some* counterexample in each ball, and on a
//! deep network they stop finding one well before the true nearest distance, while the
//! nearest-violation MILP is out of reach (its distance objective has no useful relaxation).
//! With the activation pattern of a counterexample fixed the network is affine, so "the point
//! of this linear region nearest to x* (L∞) where the competitor still wins" is one LP; a
//! neuron the optimum leaves at zero lets the next LP cross into the region beyond it, as the
//! slides of `slide.rs` do. A local search: it returns a confirmed counterexample (re-checked
//! in f64 and f32), never a proof, and only ever lowers the confirmed end.

use crate::bounds::NeuronBounds;
use crate::milp::encode::Encoding;
use crate::milp::query;
use crate::milp::solver::{Limits, Lp, Sense};
use crate::network::margin_of;
use crate::region::Hyperbox;

use super::slide::{pattern, solve_in_pattern};
use super::{MilpOracle, Witness};

/// LPs per search: each crosses into the regions beyond the neurons the last optimum left at
/// zero.
const ROUNDS: usize = 8;

/// Time for all the LPs of one search.
const SEARCH_TIME: std::time::Duration = std::time::Duration::from_secs(2);

/// How far past the tie (relative to the logits' scale) the LP asks the competitor to win.
const PAST_TIE: f64 = 1e-7;

impl MilpOracle<'_> {
    /// See [`super::Oracle::nearer`].
    pub(super) fn nearer_impl(
        &self,
        center: &[f64],
        region: &Hyperbox,
        c: usize,
        point: &[f64],
    ) -> Option<Witness> {
        let net = self.net;
        if region.dim() != net.input_size()
            || center.len() != region.dim()
            || point.len() != region.dim()
            || c >= net.output_size()
        {
            return None;
        }
        let region = region.intersect(&self.domain)?;
        let dist = |x: &[f64]| {
            x.iter()
                .zip(center)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f64::max)
        };
        let start = Witness::confirm(net, &region.clamp(point), c)?;
        let (_, j) = margin_of(&start.logits, c);
        let bounds = NeuronBounds::interval(net, &region);
        let enc = Encoding::new(net, &region, &bounds);
        // A little past the tie, so that the LP's optimum (within its tolerances) confirms.
        let scale = start.logits.iter().fold(1.0_f64, |m, v| m.max(v.abs()));
        let past = PAST_TIE * scale;
        let milp = query::min_radius_model(&enc, center, c, j, past, dist(&start.x))?;
        let mut lp = Lp::new(&milp, Sense::Minimise).ok()?;
        lp.without_presolve().ok()?;
        // A bounded search: on a 256-wide deep network one cold LP takes a second or more.
        let budget = std::time::Instant::now() + SEARCH_TIME;
        let limits = Limits {
            relaxation: true,
            deadline: Some(self.settings.deadline.map_or(budget, |d| d.min(budget))),
            ..Limits::default()
        };
        let mut best = start.clone();
        let mut phases = pattern(net, &enc, &best.x, None);
        for _ in 0..ROUNDS {
            let Some((x, time)) = solve_in_pattern(&mut lp, &enc, &phases, &region, &limits) else {
                break;
            };
            // The optimum sits on the tie, within the LP's tolerances: back off towards the
            // current counterexample (same region, so the margin is affine on the segment)
            // until it confirms in f64 and f32.
            let Some(w) = [1.0, 0.9999, 0.999, 0.99, 0.9, 0.5].iter().find_map(|&t| {
                let y: Vec<f64> = best
                    .x
                    .iter()
                    .zip(&x)
                    .map(|(&a, &b)| a + t * (b - a))
                    .collect();
                Witness::confirm(net, &region.clamp(&y), c)
            }) else {
                break;
            };
            if std::env::var_os("PPNN_LOG_SLIDE").is_some() {
                eprintln!(
                    "nearer: {:.6} -> LP {:.6} -> confirmed {:.6} in {:.1} ms ({} binaries)",
                    dist(&best.x),
                    dist(&x),
                    dist(&w.x),
                    time.as_secs_f64() * 1e3,
                    enc.binaries.len()
                );
            }
            if dist(&w.x) >= dist(&best.x) {
                break;
            }
            phases = pattern(net, &enc, &w.x, Some(&phases));
            best = w;
        }
        if dist(&best.x) >= dist(&start.x) {
            return None;
        }
        self.remember(c, &best.x);
        Some(best)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::network::{Layer, Network};
    use crate::oracle::{Oracle, OracleSettings};

    /// Two inputs in [0, 1]; h0 = relu(x0 - 0.5), h1 = relu(x1 - 0.7); y0 = 0.1,
    /// y1 = h0 + h1: class 0 at (0.3, 0.3), class 1 where h0 + h1 >= 0.1. Within the region
    /// where both neurons are on, the nearest such point is at L∞ distance 0.4 (x1 >= 0.7);
    /// with h1 off, x0 = 0.6 suffices: distance 0.3, the true nearest. From (1, 1) the search
    /// must leave the first region at h1's boundary.
    fn two_regions() -> Network {
        Network::new(
            vec![
                Layer {
                    n_in: 2,
                    n_out: 2,
                    weights: vec![1.0, 0.0, 0.0, 1.0],
                    bias: vec![-0.5, -0.7],
                    relu: true,
                },
                Layer {
                    n_in: 2,
                    n_out: 2,
                    weights: vec![0.0, 0.0, 1.0, 1.0],
                    bias: vec![0.1, 0.0],
                    relu: false,
                },
            ],
            vec![2],
        )
        .unwrap()
    }

    #[test]
    fn a_counterexample_moves_to_the_nearest_point_across_regions() {
        let net = two_regions();
        let oracle = MilpOracle::new(&net, Hyperbox::unit(2), OracleSettings::default());
        let center = [0.3, 0.3];
        let whole = Hyperbox::unit(2);
        let w = oracle
            .nearer(&center, &whole, 0, &[1.0, 1.0])
            .expect("a nearer counterexample");
        let d = (w.x[0] - 0.3).abs().max((w.x[1] - 0.3).abs());
        assert!(w.margin <= 0.0 && w.margin_f32 <= 0.0, "{w:?}");
        assert!((d - 0.3).abs() < 1e-4, "distance {d} at {:?}", w.x);
        // A point that is not a counterexample: nothing to start from.
        assert!(oracle.nearer(&center, &whole, 0, &[0.0, 0.0]).is_none());
    }
}
