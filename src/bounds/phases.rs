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

use super::NeuronBounds;
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

    /// As [`Self::refresh_after`], but each later layer is back-substituted only down to the
    /// post-activations of layer `k` (bounded by their interval there) instead of to the input
    /// box: a fixing at layer `k` changes nothing below it, and stopping there makes a node's
    /// bounds cost a few layers' products instead of the whole depth (784-wide first layers
    /// included). Looser than going to the input, but intersected with the parent's bounds.
    fn refresh_from_layer(&mut self, net: &Network, k: usize, phases: &[Phase]) -> bool {
        let layers = net.layers();
        for m in k + 1..layers.len() {
            let layer = &layers[m];
            if !layer.relu {
                break;
            }
            let rows: Vec<usize> = (0..layer.n_out).filter(|&i| self.unstable(m, i)).collect();
            for upper in [true, false] {
                if rows.is_empty() {
                    break;
                }
                let lam: Vec<Vec<f64>> = rows.iter().map(|&i| layer.row(i).to_vec()).collect();
                let cst: Vec<f64> = rows.iter().map(|&i| layer.bias[i]).collect();
                let v = self.backward_to(net, m - 1, k, lam, cst, upper);
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

    /// Bounds of `lam[r] · h_top + cst[r]` (`h_top`: post-activations of layer `top`) by
    /// substitution down to the post-activations of layer `stop <= top`, then intervals there.
    fn backward_to(
        &self,
        net: &Network,
        top: usize,
        stop: usize,
        mut lam: Vec<Vec<f64>>,
        mut cst: Vec<f64>,
        upper: bool,
    ) -> Vec<f64> {
        let mut abs: Vec<f64> = cst.iter().map(|c| c.abs()).collect();
        let mut terms = 0usize;
        let mut k = top;
        while k > stop {
            let layer = &net.layers()[k];
            for (r, row) in lam.iter_mut().enumerate() {
                if layer.relu {
                    let c = self.relax_row(k, row, upper);
                    cst[r] += c;
                    abs[r] += c.abs();
                }
                let mut next = vec![0.0; layer.n_in];
                for (o, &l) in row.iter().enumerate() {
                    if l == 0.0 {
                        continue;
                    }
                    cst[r] += l * layer.bias[o];
                    abs[r] += (l * layer.bias[o]).abs();
                    for (n, &w) in next.iter_mut().zip(layer.row(o)) {
                        *n += l * w;
                    }
                }
                *row = next;
            }
            terms += layer.n_out + 1;
            k -= 1;
        }
        // Intervals of the post-activations of layer `stop` (a ReLU layer).
        let lo: Vec<f64> = self.lower[stop].iter().map(|v| v.max(0.0)).collect();
        let hi: Vec<f64> = self.upper[stop].iter().map(|v| v.max(0.0)).collect();
        lam.iter()
            .zip(&cst)
            .zip(&abs)
            .map(|((row, &c), &a)| {
                let (l, u) = super::affine_interval(row, c, &lo, &hi);
                let extra = super::slack(terms, a + row.iter().map(|v| v.abs()).sum::<f64>());
                if upper {
                    u + extra
                } else {
                    l - extra
                }
            })
            .collect()
    }

    /// Recomputes, by back-substitution over the current bounds, every ReLU layer after `k`
    /// (rows of still-unstable neurons only), intersecting with the current bounds and applying
    /// `phases` as it goes. False when a contradiction shows the set empty.
    pub(crate) fn refresh_after(
        &mut self,
        net: &Network,
        region: &Hyperbox,
        k: usize,
        phases: &[Phase],
    ) -> bool {
        let layers = net.layers();
        for m in k + 1..layers.len() {
            let layer = &layers[m];
            if !layer.relu {
                // The affine output layer: its bounds only serve as the outputs' column bounds,
                // and the questions bound the outputs themselves.
                break;
            }
            let rows: Vec<usize> = (0..layer.n_out).filter(|&i| self.unstable(m, i)).collect();
            if !rows.is_empty() {
                let n_in = layer.n_in;
                let mut w = Vec::with_capacity(rows.len() * n_in);
                let mut bias = Vec::with_capacity(rows.len());
                for &i in &rows {
                    w.extend_from_slice(layer.row(i));
                    bias.push(layer.bias[i]);
                }
                let ub = self.backward(net, m, w.clone(), bias.clone(), rows.len(), true, region);
                let lb = self.backward(net, m, w, bias, rows.len(), false, region);
                for (r, &i) in rows.iter().enumerate() {
                    let lo = self.lower[m][i].max(lb[r]);
                    let hi = self.upper[m][i].min(ub[r]);
                    if lo > hi {
                        return false;
                    }
                    self.lower[m][i] = lo;
                    self.upper[m][i] = hi;
                }
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
    use crate::network::Layer;

    /// A random 3-hidden-layer network (`widths`), weights in [-1, 1].
    pub(crate) fn random_net(seed: u64, widths: &[usize]) -> Network {
        let mut s = seed;
        let mut next = move || {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
        };
        let mut layers = Vec::new();
        for w in widths.windows(2) {
            layers.push(Layer {
                n_in: w[0],
                n_out: w[1],
                weights: (0..w[0] * w[1]).map(|_| next()).collect(),
                bias: (0..w[1]).map(|_| 0.3 * next()).collect(),
                relu: true,
            });
        }
        layers.last_mut().unwrap().relu = false;
        Network::new(layers, vec![widths[0]]).unwrap()
    }

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
            let mut rng = seed.wrapping_add(99);
            let mut uniform = move || {
                rng = rng
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                (rng >> 11) as f64 / (1u64 << 53) as f64
            };
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
