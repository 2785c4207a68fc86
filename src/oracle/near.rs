//! Cheap searches for points near the decision boundary (issue 16): the probes of the
//! face-expanding algorithms.
//!
//! A box that contains a point where some competitor comes within the safety margin τ of the
//! class (`max_j y_j - y_c >= -τ`) can never be answered `Holds`, so a search that finds one
//! may refuse a move without asking a proof; a search that finds none proves nothing, and the
//! move waits for a soundness question. These searches are stronger than the cascade's attack
//! (they start from the caller's hints and the last counterexamples, and run a projected
//! gradient ascent) because a miss here costs a proof question later, while the cascade's
//! attack only saves a MILP.

use crate::attack;
use crate::bounds::NeuronBounds;
use crate::network::{dot, margin_of, Layer, Network};
use crate::region::Hyperbox;

use super::{MilpOracle, Witness};

/// Pooled counterexamples tried as starts (most recent first).
const POOL_STARTS: usize = 4;

/// Sweeps over the released coordinates of one flip ascent.
const SWEEPS: usize = 4;

impl MilpOracle<'_> {
    /// See [`super::Oracle::search_near`].
    pub(super) fn search_near_impl(
        &self,
        region: &Hyperbox,
        c: usize,
        slack: f64,
        hints: &[Vec<f64>],
    ) -> Option<Vec<f64>> {
        let net = self.net;
        if region.dim() != net.input_size() || c >= net.output_size() || !slack.is_finite() {
            return None;
        }
        let region = region.intersect(&self.domain)?;
        let near = |x: &[f64]| margin_of(&net.forward(x), c).0 <= slack;
        let found = |x: Vec<f64>| {
            if Witness::confirm(net, &x, c).is_some() {
                self.remember(c, &x);
            }
            Some(x)
        };
        // 1. The hints and the last counterexamples, clamped into the box.
        let mut starts: Vec<Vec<f64>> = hints.iter().map(|h| region.clamp(h)).collect();
        {
            let pool = self.pool.lock().unwrap_or_else(|e| e.into_inner());
            starts.extend(
                pool.iter()
                    .rev()
                    .filter(|(k, _)| *k == c)
                    .take(POOL_STARTS)
                    .map(|(_, x)| region.clamp(x)),
            );
        }
        if let Some(x) = starts.iter().find(|x| near(x)) {
            return found(x.clone());
        }
        // 2. The cascade's short attack.
        if let Some(s) = &self.settings.attack {
            let (x, _) = attack::attack(net, &region, c, &[], s);
            if near(&x) {
                return found(x);
            }
        }
        // 3. Per competitor: the vertex that maximises a relaxation of its margin, improved by
        // flipping one released coordinate at a time. Gradients miss what only an inactive
        // neuron could give (its gradient is zero); the relaxation and the flips see it.
        let bounds = NeuronBounds::interval(net, &region);
        for j in (0..net.output_size()).filter(|&j| j != c) {
            if bounds.margin_upper_interval_in(net, c, j, Some(&region)) < -slack {
                continue;
            }
            let dir = relaxed_direction(net, &bounds, c, j);
            let mut x: Vec<f64> = (0..region.dim())
                .map(|i| {
                    if dir[i] > 0.0 {
                        region.ub()[i]
                    } else {
                        region.lb()[i]
                    }
                })
                .collect();
            flip_ascent(net, &region, c, j, &mut x, slack);
            if near(&x) {
                return found(x);
            }
        }
        // 4. The same flips from the hints and pooled points, for the competitor leading there.
        for mut x in starts {
            let (_, j) = margin_of(&net.forward(&x), c);
            flip_ascent(net, &region, c, j, &mut x, slack);
            if near(&x) {
                return found(x);
            }
        }
        // 5. One hidden layer: convex-concave ascents (see `concave_ascent`), then flips.
        for j in (0..net.output_size()).filter(|&j| j != c) {
            if bounds.margin_upper_interval_in(net, c, j, Some(&region)) < -slack {
                continue;
            }
            if let Some(mut x) = concave_ascent(net, &bounds, &region, c, j) {
                flip_ascent(net, &region, c, j, &mut x, slack);
                if near(&x) {
                    return found(x);
                }
            }
        }
        // (A projected gradient ascent here found little more and cost ~100 ms per probe
        // that finds nothing, the common case of a move that stands.)
        None
    }
}

/// Input coefficients of a linear over-approximation of `y_j - y_c` over the box of `bounds`:
/// back-propagation in which each unstable ReLU takes the slope of its triangle relaxation's
/// upper line for positive coefficients, and 0 or 1 (the larger side) for negative ones.
fn relaxed_direction(net: &Network, bounds: &NeuronBounds, c: usize, j: usize) -> Vec<f64> {
    let mut lam = vec![0.0; net.output_size()];
    lam[j] += 1.0;
    lam[c] -= 1.0;
    for (k, layer) in net.layers().iter().enumerate().rev() {
        if layer.relu {
            for (i, l) in lam.iter_mut().enumerate() {
                let (lo, hi) = (bounds.lower[k][i], bounds.upper[k][i]);
                *l *= if lo >= 0.0 {
                    1.0
                } else if hi <= 0.0 {
                    0.0
                } else if *l > 0.0 {
                    hi / (hi - lo)
                } else if hi > -lo {
                    1.0
                } else {
                    0.0
                };
            }
        }
        let mut prev = vec![0.0; layer.n_in];
        for (o, &l) in lam.iter().enumerate() {
            if l != 0.0 {
                for (p, &w) in prev.iter_mut().zip(layer.row(o)) {
                    *p += l * w;
                }
            }
        }
        lam = prev;
    }
    lam
}

/// Greedy ascent of `y_j - y_c` over the vertices of `region`: each released coordinate in
/// turn moves to the other end of its interval when that raises the value (sweeps until none
/// does, at most [`SWEEPS`]; the first layer updated incrementally). Stops once the value reaches `-slack`.
fn flip_ascent(net: &Network, region: &Hyperbox, c: usize, j: usize, x: &mut [f64], slack: f64) {
    let layers = net.layers();
    let Some((first, rest)) = layers.split_first() else {
        return;
    };
    // Scratch buffers, so that the thousands of candidate flips allocate nothing.
    let mut bufs = (Vec::new(), Vec::new());
    let mut value_from = |z: &[f64]| -> f64 { tail_value(first.relu, rest, z, c, j, &mut bufs) };
    let mut z = first.affine(x);
    let mut best = value_from(&z);
    let released: Vec<usize> = (0..region.dim())
        .filter(|&i| region.ub()[i] > region.lb()[i])
        .collect();
    let mut cand = z.clone();
    for _ in 0..SWEEPS {
        let mut improved = false;
        for &i in &released {
            if best >= -slack {
                return;
            }
            let to = if x[i] == region.ub()[i] {
                region.lb()[i]
            } else {
                region.ub()[i]
            };
            let delta = to - x[i];
            for (o, v) in cand.iter_mut().enumerate() {
                *v = z[o] + delta * first.weights[o * first.n_in + i];
            }
            let v = value_from(&cand);
            if v > best {
                best = v;
                x[i] = to;
                z.copy_from_slice(&cand);
                improved = true;
            }
        }
        if !improved {
            return;
        }
    }
}

/// `y_j - y_c` from the first layer's pre-activations `z`: the rest of the network, with only
/// rows `j` and `c` of the last layer (the flips evaluate thousands of candidates, and the
/// other outputs do not enter the value). `bufs` are scratch space.
fn tail_value(
    first_relu: bool,
    rest: &[Layer],
    z: &[f64],
    c: usize,
    j: usize,
    bufs: &mut (Vec<f64>, Vec<f64>),
) -> f64 {
    let act = |v: f64, relu: bool| if relu { v.max(0.0) } else { v };
    let Some((last, middle)) = rest.split_last() else {
        return act(z[j], first_relu) - act(z[c], first_relu);
    };
    let (h, next) = bufs;
    h.clear();
    h.extend(z.iter().map(|&v| act(v, first_relu)));
    // In `Network::forward`'s own order, so the value is the network's to the last bit.
    let value =
        |layer: &Layer, o: usize, h: &[f64]| act(layer.bias[o] + dot(layer.row(o), h), layer.relu);
    for layer in middle {
        next.clear();
        next.extend((0..layer.n_out).map(|o| value(layer, o, h)));
        std::mem::swap(h, next);
    }
    value(last, j, h) - value(last, c, h)
}

/// `Σ a_i b_i` with four running sums, which the compiler can keep in vector registers
/// ([`crate::network::dot`] adds in order, as `Network::forward` must). For the searches
/// only: their points are re-checked by [`Network::forward`], so the summation order does not
/// reach a verdict.
fn dot4(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0.0f64; 4];
    let mut ca = a.chunks_exact(4);
    let mut cb = b.chunks_exact(4);
    for (x, y) in (&mut ca).zip(&mut cb) {
        for l in 0..4 {
            acc[l] += x[l] * y[l];
        }
    }
    let tail: f64 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| x * y)
        .sum();
    (acc[0] + acc[1]) + (acc[2] + acc[3]) + tail
}

/// Steps of one concave ascent, and rounds of the convex-concave procedure.
const ASCENT_STEPS: usize = 20;
const CCP_ROUNDS: usize = 2;

/// For a network with one hidden ReLU layer, `y_j - y_c = Σ_k v_k relu(a_k(x)) + const` is a
/// difference of convex functions. With a set S of the neurons with `v_k > 0` assumed active,
/// `g_S(x) = Σ_{k∈S} v_k a_k(x) + Σ_{v_k<0} v_k relu(a_k(x))` is concave and never above the
/// margin (`relu(a) >= a`), and the margin's maximum over the box is the largest maximum of
/// `g_S`: a concave maximisation has no local optima for an ascent to stall in. Starts with
/// every neuron that can be active in S (optimistic: it sees the neurons that gradients at an
/// inactive point miss), then S = the neurons active at the point found (the convex-concave
/// procedure). Returns the best point, or `None` for other networks.
fn concave_ascent(
    net: &Network,
    bounds: &NeuronBounds,
    region: &Hyperbox,
    c: usize,
    j: usize,
) -> Option<Vec<f64>> {
    let [hidden, out] = net.layers() else {
        return None;
    };
    if !hidden.relu || out.relu {
        return None;
    }
    let d = region.dim();
    let (lb, ub) = (region.lb(), region.ub());
    let width: Vec<f64> = (0..d).map(|i| ub[i] - lb[i]).collect();
    let v: Vec<f64> = (0..hidden.n_out)
        .map(|k| out.row(j)[k] - out.row(c)[k])
        .collect();
    let live = |k: usize| bounds.upper[0][k] > 0.0;
    let concave: Vec<usize> = (0..hidden.n_out)
        .filter(|&k| v[k] < 0.0 && live(k))
        .collect();
    let mut assumed: Vec<usize> = (0..hidden.n_out)
        .filter(|&k| v[k] > 0.0 && live(k))
        .collect();
    // Every pre-activation at x, computed once per step: the gradient, the value and the next
    // active set all read them.
    let pre_all = |x: &[f64]| -> Vec<f64> {
        (0..hidden.n_out)
            .map(|k| hidden.bias[k] + dot4(hidden.row(k), x))
            .collect()
    };
    let offset = out.bias[j] - out.bias[c];
    let value = |z: &[f64]| {
        let h = |k: usize| if hidden.relu { z[k].max(0.0) } else { z[k] };
        offset + (0..hidden.n_out).map(|k| v[k] * h(k)).sum::<f64>()
    };
    let mut best: Option<(f64, Vec<f64>)> = None;
    for _ in 0..CCP_ROUNDS {
        // The linear part's gradient (fixed), and the maximising vertex as a start.
        let mut lin = vec![0.0; d];
        for &k in &assumed {
            for (g, &w) in lin.iter_mut().zip(hidden.row(k)) {
                *g += v[k] * w;
            }
        }
        let mut x: Vec<f64> = (0..d)
            .map(|i| if lin[i] > 0.0 { ub[i] } else { lb[i] })
            .collect();
        let mut z = pre_all(&x);
        for step in 0..ASCENT_STEPS {
            let mut g = lin.clone();
            for &k in &concave {
                if z[k] > 0.0 {
                    for (gi, &w) in g.iter_mut().zip(hidden.row(k)) {
                        *gi += v[k] * w;
                    }
                }
            }
            let eta = 0.5 / (1.0 + step as f64);
            for i in 0..d {
                if g[i] != 0.0 {
                    x[i] = (x[i] + eta * width[i] * g[i].signum()).clamp(lb[i], ub[i]);
                }
            }
            z = pre_all(&x);
            let f = value(&z);
            if best.as_ref().is_none_or(|(b, _)| f > *b) {
                best = Some((f, x.clone()));
            }
        }
        let next: Vec<usize> = (0..hidden.n_out)
            .filter(|&k| v[k] > 0.0 && z[k] > 0.0)
            .collect();
        if next == assumed {
            break;
        }
        assumed = next;
    }
    best.map(|(_, x)| x)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oracle::{Oracle, OracleSettings};

    /// Two inputs in [0, 1]; h = relu(x0 + x1 - 1.2); y0 = 0, y1 = 10 h - 1: class 0 wins
    /// unless x0 + x1 > 1.3. At the centre (and at x* = 0) the neuron is inactive, so every
    /// gradient is zero there; the relaxation's vertex sees the neuron.
    fn dead_neuron() -> Network {
        Network::new(
            vec![
                Layer {
                    n_in: 2,
                    n_out: 1,
                    weights: vec![1.0, 1.0],
                    bias: vec![-1.2],
                    relu: true,
                },
                Layer {
                    n_in: 1,
                    n_out: 2,
                    weights: vec![0.0, 10.0],
                    bias: vec![0.0, -1.0],
                    relu: false,
                },
            ],
            vec![2],
        )
        .unwrap()
    }

    #[test]
    fn a_probe_finds_what_only_an_inactive_neuron_gives() {
        let net = dead_neuron();
        let settings = OracleSettings {
            attack: None,
            ..OracleSettings::default()
        };
        let oracle = MilpOracle::new(&net, Hyperbox::unit(2), settings);
        let tau = oracle.margin();
        let whole = Hyperbox::unit(2);
        let p = oracle
            .search_near(&whole, 0, tau, &[])
            .expect("a point beyond x0 + x1 = 1.3");
        assert!(whole.contains(&p));
        assert!(margin_of(&net.forward(&p), 0).0 <= tau, "{p:?}");
        // A box where class 0 wins everywhere: nothing to find.
        let safe = Hyperbox::new(vec![0.0, 0.0], vec![0.6, 0.6]).unwrap();
        assert_eq!(oracle.search_near(&safe, 0, tau, &[]), None);
        assert_eq!(oracle.stats().falsifications, 2);
    }

    #[test]
    fn the_concave_ascent_reaches_the_margin_maximum_of_one_hidden_layer() {
        let net = dead_neuron();
        let region = Hyperbox::new(vec![0.5, 0.5], vec![1.0, 0.9]).unwrap();
        let bounds = NeuronBounds::interval(&net, &region);
        let x = concave_ascent(&net, &bounds, &region, 0, 1).expect("one hidden layer");
        // The maximum of y1 - y0 over the box: 10 (1.9 - 1.2) - 1 = 6 at the upper corner.
        let y = net.forward(&x);
        assert!((y[1] - y[0] - 6.0).abs() < 1e-9, "{x:?}");
    }

    #[test]
    fn the_fast_evaluations_agree_with_the_network() {
        // Two hidden layers, so that `tail_value` runs a middle layer and the last one.
        let layer = |n_in: usize, n_out: usize, relu: bool, seed: f64| Layer {
            n_in,
            n_out,
            weights: (0..n_in * n_out)
                .map(|k| ((k as f64 + seed) * 0.731).sin())
                .collect(),
            bias: (0..n_out)
                .map(|k| ((k as f64 - seed) * 0.377).cos() * 0.1)
                .collect(),
            relu,
        };
        let net = Network::new(
            vec![
                layer(7, 5, true, 1.0),
                layer(5, 4, true, 2.0),
                layer(4, 3, false, 3.0),
            ],
            vec![7],
        )
        .unwrap();
        let first = &net.layers()[0];
        let mut bufs = (Vec::new(), Vec::new());
        for t in 0..20 {
            let x: Vec<f64> = (0..7)
                .map(|i| ((t * 7 + i) as f64 * 0.913).sin().abs())
                .collect();
            let z = first.affine(&x);
            let y = net.forward(&x);
            for (c, j) in [(0, 1), (2, 0), (1, 2)] {
                let v = tail_value(first.relu, &net.layers()[1..], &z, c, j, &mut bufs);
                assert!((v - (y[j] - y[c])).abs() < 1e-12, "{v} vs {}", y[j] - y[c]);
            }
        }
        let a: Vec<f64> = (0..11).map(|k| k as f64 * 0.5 - 2.0).collect();
        let b: Vec<f64> = (0..11).map(|k| 1.0 / (1.0 + k as f64)).collect();
        let naive: f64 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
        assert!((dot4(&a, &b) - naive).abs() < 1e-12);
    }
}
