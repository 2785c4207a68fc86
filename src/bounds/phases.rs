//! Bounds that improve down a branch-and-bound tree: re-propagation under ReLU phase fixings.
//!
//! A node of the tree fixes some ReLUs to a phase (active: `z >= 0`, inactive: `z <= 0`). On the
//! node's part of the box, a fixed neuron is linear (`h = z` or `h = 0`), so every later layer's
//! back-substitution loses that neuron's relaxation error: deeper layers tighten, neurons become
//! stable, and whole subtrees close before any LP is solved (the β-CROWN observation, without
//! its Lagrangian split multipliers).
//!
//! Soundness: the bounds returned hold for every x of the box that satisfies the fixings. A
//! fixed neuron's bound is clamped to its phase (active: `lower := max(lower, 0)`; inactive:
//! `upper := min(upper, 0)`), which the relaxation then reads as "linear". A contradiction (a
//! neuron fixed active whose upper bound is negative, or any `lower > upper`) proves the node's
//! part of the box empty: no point of it is lost by dropping the node.

use super::{Floor, NeuronBounds};
use crate::network::Network;
use crate::region::Hyperbox;

/// A ReLU phase fixing: `(layer, neuron, active)`.
pub type Phase = (usize, usize, bool);

impl NeuronBounds {
    /// These bounds (valid over some box) re-propagated under extra `phases`: `None` when the
    /// fixings leave no point of the box (the node is empty). Only layers after the first fixed
    /// one are recomputed (down to the fixed layer, see `refresh_from_layer`), and only their
    /// neurons that are still unstable; the result is intersected with `self`, so it is never
    /// looser.
    pub fn under_phases(&self, net: &Network, phases: &[Phase]) -> Option<NeuronBounds> {
        let mut b = self.clone();
        let Some(first) = phases.iter().map(|p| p.0).min() else {
            return Some(b);
        };
        if !b.clamp(phases, first) {
            return None;
        }
        if b.refresh_from_layer(net, first, phases) {
            Some(b)
        } else {
            None
        }
    }

    /// Recomputes, by back-substitution over the current bounds, every ReLU layer after `k`
    /// (rows of still-unstable neurons only) down to the input `region`, intersecting with the
    /// current bounds and applying `phases` as it goes. False when a contradiction shows the set
    /// empty.
    pub(crate) fn refresh_after(
        &mut self,
        net: &Network,
        region: &Hyperbox,
        k: usize,
        phases: &[Phase],
    ) -> bool {
        self.refresh(net, k, Floor::Input(region), phases)
    }

    /// As [`Self::refresh_after`], but each later layer is back-substituted only down to the
    /// post-activations of layer `k` (bounded by their interval there) instead of to the input
    /// box: a fixing at layer `k` changes nothing below it, and stopping there makes a node's
    /// bounds cost a few layers' products instead of the whole depth (784-wide first layers
    /// included). Looser than going to the input, but intersected with the parent's bounds.
    fn refresh_from_layer(&mut self, net: &Network, k: usize, phases: &[Phase]) -> bool {
        self.refresh(net, k, Floor::Layer(k), phases)
    }

    fn refresh(&mut self, net: &Network, k: usize, floor: Floor, phases: &[Phase]) -> bool {
        let layers = net.layers();
        for m in k + 1..layers.len() {
            let layer = &layers[m];
            if !layer.relu {
                // The affine output layer: its bounds only serve as the outputs' column bounds,
                // and the questions bound the outputs themselves.
                break;
            }
            let rows: Vec<usize> = (0..layer.n_out).filter(|&i| self.unstable(m, i)).collect();
            for upper in [true, false] {
                if rows.is_empty() {
                    break;
                }
                let lam: Vec<Vec<f64>> = rows.iter().map(|&i| layer.row(i).to_vec()).collect();
                let cst: Vec<f64> = rows.iter().map(|&i| layer.bias[i]).collect();
                let v = self.substitute(net, m - 1, floor, lam, cst, upper);
                for (r, &i) in rows.iter().enumerate() {
                    if upper {
                        self.upper[m][i] = self.upper[m][i].min(v[r]);
                    } else {
                        self.lower[m][i] = self.lower[m][i].max(v[r]);
                    }
                }
            }
            if rows.iter().any(|&i| self.lower[m][i] > self.upper[m][i]) {
                return false;
            }
            if !self.clamp(phases, m) {
                return false;
            }
        }
        true
    }

    /// Clamps the neurons of layer `k` fixed by `phases`; false on a contradiction.
    fn clamp(&mut self, phases: &[Phase], k: usize) -> bool {
        for &(l, i, active) in phases {
            if l != k {
                continue;
            }
            if active {
                if self.upper[k][i] < 0.0 {
                    return false;
                }
                self.lower[k][i] = self.lower[k][i].max(0.0);
            } else {
                if self.lower[k][i] > 0.0 {
                    return false;
                }
                self.upper[k][i] = self.upper[k][i].min(0.0);
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::network::random_net;

    #[test]
    fn phase_bounds_contain_every_sample_of_the_node() {
        let widths = [4, 12, 12, 12, 3];
        for seed in 0..20u64 {
            let net = random_net(seed, &widths);
            let region = Hyperbox::uniform(4, -1.0, 1.0).unwrap();
            let root = NeuronBounds::symbolic(&net, &region);
            // Fix the first two unstable neurons of the first hidden layer to the phases of a
            // sample point, then check every sample of the node against the node's bounds.
            let unstable: Vec<(usize, usize)> = (0..net.layers().len() - 1)
                .flat_map(|k| (0..widths[k + 1]).map(move |i| (k, i)))
                .filter(|&(k, i)| root.unstable(k, i))
                .take(3)
                .collect();
            let mut uniform = crate::network::uniform_stream(seed.wrapping_add(99));
            let anchor: Vec<f64> = (0..4).map(|_| -1.0 + 2.0 * uniform()).collect();
            let tr = net.forward_trace(&anchor);
            let phases: Vec<Phase> = unstable
                .iter()
                .map(|&(k, i)| (k, i, tr[k][i] >= 0.0))
                .collect();
            let node = root
                .under_phases(&net, &phases)
                .expect("the anchor lies in the node");
            for k in 0..net.layers().len() {
                for i in 0..node.lower[k].len() {
                    assert!(node.lower[k][i] >= root.lower[k][i]);
                    assert!(node.upper[k][i] <= root.upper[k][i]);
                }
            }
            let mut inside = 0;
            for _ in 0..3000 {
                let x: Vec<f64> = (0..4).map(|_| -1.0 + 2.0 * uniform()).collect();
                let tr = net.forward_trace(&x);
                if !phases.iter().all(|&(k, i, a)| (tr[k][i] >= 0.0) == a) {
                    continue;
                }
                inside += 1;
                for k in 0..net.layers().len() - 1 {
                    for i in 0..tr[k].len() {
                        assert!(
                            node.lower[k][i] <= tr[k][i] && tr[k][i] <= node.upper[k][i],
                            "seed {seed}: layer {k} neuron {i}: {} not in [{}, {}]",
                            tr[k][i],
                            node.lower[k][i],
                            node.upper[k][i]
                        );
                    }
                }
            }
            assert!(inside > 0);
        }
    }

    #[test]
    fn contradictory_fixings_empty_the_node() {
        let net = random_net(3, &[2, 6, 6, 2]);
        let region = Hyperbox::uniform(2, -1.0, 1.0).unwrap();
        let mut root = NeuronBounds::symbolic(&net, &region);
        // A neuron proved negative cannot be fixed active.
        root.upper[0][0] = -0.5;
        root.lower[0][0] = root.lower[0][0].min(-1.0);
        assert!(root.under_phases(&net, &[(0, 0, true)]).is_none());
        assert!(root.under_phases(&net, &[(0, 0, false)]).is_some());
    }
}
