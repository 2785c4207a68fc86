//! Tighter intermediate bounds at the root, by LP (MIPVerify's `lp` tightening), with a budget.
//!
//! In a deep network the back-substituted bounds of later layers are loose, so the big-M
//! constants are loose, so every LP of the branch and bound is loose and the tree explodes. The
//! LP relaxation of the layers before a neuron bounds it much better: for each unstable neuron
//! of layer `k`, maximise and minimise its pre-activation over the triangle relaxation of layers
//! `0..k` (built from the bounds tightened so far), layer by layer, then re-propagate the later
//! layers by back-substitution over the tighter bounds.
//!
//! Soundness: every new bound is derived from the LP's duals by [`super::safe::upper_bound`]
//! (weak duality with outward rounding), never from the solver's reported objective, and only
//! ever intersected with the old one. Stopping at any time (budget, deadline) leaves valid
//! bounds.

use std::time::Instant;

use super::encode::Encoding;
use super::safe;
use super::solver::{Limits, Lp, Sense, Status};
use crate::bounds::NeuronBounds;
use crate::network::Network;
use crate::region::Hyperbox;

/// Each LP may take at most the time left divided by this (the first of a layer: by 2), and at
/// least `PER_LP_MIN`.
const PER_LP_SHARE: f64 = 8.0;
const PER_LP_MIN: std::time::Duration = std::time::Duration::from_millis(200);

/// What one tightening pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Tightening {
    /// LPs solved.
    pub lps: usize,
    /// Unstable ReLUs before and after.
    pub unstable_before: usize,
    /// See `unstable_before`.
    pub unstable_after: usize,
    /// Whether the budget or deadline cut the pass short.
    pub truncated: bool,
}

/// The network's first `k + 1` layers, the last one without its ReLU: its outputs are the
/// pre-activations of layer `k`.
fn prefix(net: &Network, k: usize) -> Option<Network> {
    let mut layers: Vec<_> = net.layers()[..=k].to_vec();
    layers.last_mut()?.relu = false;
    Network::new(layers, net.input_shape().to_vec()).ok()
}

/// Tightens the bounds of every unstable ReLU of the hidden layers after the first, until
/// `stop_at` (if any). Returns the new bounds (never looser than `bounds`, valid over `region`)
/// and what was done.
pub fn tighten(
    net: &Network,
    region: &Hyperbox,
    bounds: &NeuronBounds,
    stop_at: Option<Instant>,
) -> (NeuronBounds, Tightening) {
    let mut b = bounds.clone();
    let mut stats = Tightening {
        unstable_before: b.unstable_count(net),
        ..Tightening::default()
    };
    let out_of_time = || stop_at.is_some_and(|t| Instant::now() >= t);
    let layers = net.layers();
    'layers: for k in 1..layers.len() {
        if !layers[k].relu {
            break;
        }
        let todo: Vec<usize> = (0..layers[k].n_out).filter(|&i| b.unstable(k, i)).collect();
        if todo.is_empty() {
            continue;
        }
        let Some(sub) = prefix(net, k) else { break };
        let mut sub_bounds = NeuronBounds {
            lower: b.lower[..=k].to_vec(),
            upper: b.upper[..=k].to_vec(),
        };
        let enc = Encoding::new(&sub, region, &sub_bounds);
        let Ok(mut lp) = Lp::new(&enc.milp, Sense::Maximise) else {
            break;
        };
        if lp.prefer_primal().is_err() {
            break;
        }
        let mut current: Option<usize> = None;
        let mut good: Option<super::solver::Basis> = None;
        for &i in &todo {
            // Each output is a single column y_i (with its row y_i = W_k h + b_k).
            let Some(&(col, coef)) = enc.outputs[i].terms.first() else {
                continue;
            };
            for upper in [true, false] {
                if out_of_time() {
                    stats.truncated = true;
                    break 'layers;
                }
                if !upper && sub_bounds.upper[k][i] <= 0.0 {
                    break; // already stably inactive: the lower bound does not matter
                }
                let sign = if upper { coef } else { -coef };
                if let Some(prev) = current.replace(col) {
                    if prev != col && lp.set_cost(prev, 0.0).is_err() {
                        break 'layers;
                    }
                }
                if lp.set_cost(col, sign).is_err() {
                    break 'layers;
                }
                // One stalled LP must not eat the pass: each gets at most a share of the time
                // left (the first, cold solve of a layer half of it); one that runs out leaves
                // its neuron's bound as it was.
                let now = Instant::now();
                let parts = if good.is_none() { 2.0 } else { PER_LP_SHARE };
                let deadline = stop_at.map(|t| {
                    let share = t.saturating_duration_since(now).div_f64(parts);
                    (now + share.max(PER_LP_MIN)).min(t)
                });
                let limits = Limits {
                    deadline,
                    relaxation: true,
                    ..Limits::default()
                };
                let Ok(out) = lp.solve(&limits) else {
                    break 'layers;
                };
                if std::env::var_os("PPNN_LOG_LP").is_some() {
                    let side = if upper { "upper" } else { "lower" };
                    eprintln!(
                        "[tighten] layer {k} neuron {i} {side}: {:?} in {:.3} s",
                        out.status,
                        now.elapsed().as_secs_f64()
                    );
                }
                stats.lps += 1;
                if out.status != Status::Optimal {
                    if out_of_time() || out.status == Status::Interrupted {
                        stats.truncated = true;
                        break 'layers;
                    }
                    // A stalled solve leaves a basis far from any optimum: the next one
                    // restarts from the last optimal basis instead.
                    if let Some(b) = &good {
                        lp.set_basis(b);
                    }
                    continue;
                }
                good = lp.basis();
                let duals = lp.row_duals();
                let sb = safe::upper_bound(&enc.milp, &[(col, sign)], &duals);
                let Some(v) = sb else {
                    continue;
                };
                // v bounds sign·coef⁻¹… the output column carries the pre-activation itself
                // (coefficient 1 in `outputs`), so v bounds ±z directly.
                let v = v / coef.abs();
                if upper {
                    sub_bounds.upper[k][i] = sub_bounds.upper[k][i].min(v);
                } else {
                    sub_bounds.lower[k][i] = sub_bounds.lower[k][i].max(-v);
                }
            }
        }
        b.lower[k] = sub_bounds.lower[k].clone();
        b.upper[k] = sub_bounds.upper[k].clone();
        // Later layers: back-substitution over the tighter bounds.
        if !b.refresh_after(net, region, k, &[]) {
            // The box is empty of executions: cannot happen for a non-empty box; keep the
            // bounds as they were rather than trust a contradiction born of rounding.
            b = bounds.clone();
            break;
        }
    }
    stats.unstable_after = b.unstable_count(net);
    (b, stats)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::network::random_net;

    #[test]
    fn tightened_bounds_are_tighter_and_contain_every_sample() {
        let mut gained = 0.0;
        for seed in 0..12u64 {
            let net = random_net(seed, &[5, 16, 16, 16, 4]);
            let region = Hyperbox::uniform(5, -1.0, 1.0).unwrap();
            let root = NeuronBounds::symbolic(&net, &region);
            let (t, stats) = tighten(&net, &region, &root, None);
            assert!(!stats.truncated);
            assert!(stats.unstable_after <= stats.unstable_before);
            let width = |b: &NeuronBounds| -> f64 {
                (0..b.lower.len() - 1)
                    .flat_map(|k| (0..b.lower[k].len()).map(move |i| (k, i)))
                    .map(|(k, i)| b.upper[k][i] - b.lower[k][i])
                    .sum()
            };
            gained += width(&root) - width(&t);
            for k in 0..net.layers().len() {
                for i in 0..t.lower[k].len() {
                    assert!(t.lower[k][i] >= root.lower[k][i]);
                    assert!(t.upper[k][i] <= root.upper[k][i]);
                }
            }
            let mut s = seed ^ 0xabcdef;
            for _ in 0..4000 {
                let x: Vec<f64> = (0..5)
                    .map(|_| {
                        s = s
                            .wrapping_mul(6364136223846793005)
                            .wrapping_add(1442695040888963407);
                        ((s >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
                    })
                    .collect();
                // Corners too: extreme values live there.
                let x: Vec<f64> = if s % 3 == 0 {
                    x.iter().map(|v| v.signum()).collect()
                } else {
                    x
                };
                let tr = net.forward_trace(&x);
                for k in 0..net.layers().len() - 1 {
                    for i in 0..tr[k].len() {
                        assert!(
                            t.lower[k][i] <= tr[k][i] && tr[k][i] <= t.upper[k][i],
                            "seed {seed} layer {k} neuron {i}"
                        );
                    }
                }
            }
        }
        assert!(gained > 1.0, "LP tightening narrowed no bound: {gained}");
    }
}
