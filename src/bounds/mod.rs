//! Bounds on every neuron of a network over a box: interval propagation and linear
//! (back-substitution) bounds.
//!
//! Bounds serve twice: they prove easy questions without any solver, and they are the big-M
//! constants of the MILP encoding (a neuron whose bounds have one sign needs no binary). Tighter
//! bounds mean fewer binaries and a tighter relaxation, which is most of a MILP's speed.
//!
//! Rounding: every bound is widened by a rigorous bound on its floating-point summation error,
//! so that the computed interval contains the real one. Bounds know nothing of MILPs.

use crate::network::Network;
use crate::region::Hyperbox;

mod phases;

/// Where a back-substitution stops: at the input box, or at the post-activations of a ReLU
/// layer (bounded by that layer's rectified bounds).
#[derive(Debug, Clone, Copy)]
enum Floor<'a> {
    Input(&'a Hyperbox),
    Layer(usize),
}

pub use phases::Phase;

/// Pre-activation bounds of every neuron of every layer over some box.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct NeuronBounds {
    /// `lower[k][i]`: lower bound of neuron `i` of layer `k` before its activation.
    pub lower: Vec<Vec<f64>>,
    /// `upper[k][i]`: upper bound of neuron `i` of layer `k` before its activation.
    pub upper: Vec<Vec<f64>>,
}

/// How bounds are computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BoundMethod {
    /// Interval arithmetic only: the cheapest.
    Interval,
    /// Linear back-substitution (DeepPoly/CROWN style), intersected with intervals.
    #[default]
    Symbolic,
}

/// Widening that covers the rounding error of a sum of `n` terms whose absolute values add up to
/// `abs_sum` (the classical γ_n bound for recursive summation), plus a tiny absolute term.
fn slack(n: usize, abs_sum: f64) -> f64 {
    (n as f64 + 2.0) * f64::EPSILON * abs_sum + 1e-300
}

/// Bounds of `w · x + b` over `x ∈ [lo, hi]`.
fn affine_interval(w: &[f64], b: f64, lo: &[f64], hi: &[f64]) -> (f64, f64) {
    let (mut l, mut u, mut abs) = (b, b, b.abs());
    for ((&wi, &a), &c) in w.iter().zip(lo).zip(hi) {
        if wi >= 0.0 {
            l += wi * a;
            u += wi * c;
        } else {
            l += wi * c;
            u += wi * a;
        }
        abs += wi.abs() * a.abs().max(c.abs());
    }
    let s = slack(w.len(), abs);
    (l - s, u + s)
}

impl NeuronBounds {
    /// Interval bound propagation over `region`.
    pub fn interval(net: &Network, region: &Hyperbox) -> Self {
        let mut lower = Vec::new();
        let mut upper = Vec::new();
        let mut lo = region.lb().to_vec();
        let mut hi = region.ub().to_vec();
        for layer in net.layers() {
            let (l, u): (Vec<f64>, Vec<f64>) = (0..layer.n_out)
                .map(|o| affine_interval(layer.row(o), layer.bias[o], &lo, &hi))
                .unzip();
            if layer.relu {
                lo = l.iter().map(|v| v.max(0.0)).collect();
                hi = u.iter().map(|v| v.max(0.0)).collect();
            } else {
                lo = l.clone();
                hi = u.clone();
            }
            lower.push(l);
            upper.push(u);
        }
        NeuronBounds { lower, upper }
    }

    /// Bounds by the chosen method.
    pub fn compute(net: &Network, region: &Hyperbox, method: BoundMethod) -> Self {
        match method {
            BoundMethod::Interval => Self::interval(net, region),
            BoundMethod::Symbolic => Self::symbolic(net, region),
        }
    }

    /// Linear bounds by back-substitution through ReLU relaxations (the triangle relaxation's
    /// upper line and an adaptive lower line), layer by layer, intersected with intervals.
    pub fn symbolic(net: &Network, region: &Hyperbox) -> Self {
        let ibp = Self::interval(net, region);
        let mut out = NeuronBounds {
            lower: Vec::new(),
            upper: Vec::new(),
        };
        for (k, layer) in net.layers().iter().enumerate() {
            if k == 0 {
                // A single affine map: intervals are exact (up to rounding).
                out.lower.push(ibp.lower[0].clone());
                out.upper.push(ibp.upper[0].clone());
                continue;
            }
            let rows = layer.n_out;
            let ub = out.backward(
                net,
                k,
                layer.weights.clone(),
                layer.bias.clone(),
                rows,
                true,
                region,
            );
            let lb = out.backward(
                net,
                k,
                layer.weights.clone(),
                layer.bias.clone(),
                rows,
                false,
                region,
            );
            let lower = lb
                .iter()
                .zip(&ibp.lower[k])
                .map(|(a, b)| a.max(*b))
                .collect();
            let upper = ub
                .iter()
                .zip(&ibp.upper[k])
                .map(|(a, b)| a.min(*b))
                .collect();
            out.lower.push(lower);
            out.upper.push(upper);
        }
        out
    }

    /// The lower-line slope `α` (`h >= α z`) that the linear bounds use for every neuron of every
    /// ReLU layer (empty for an affine layer): proofs name them so that the checker can redo the
    /// back-substitution. Must follow `relax_row`'s choice.
    pub fn lower_slopes(&self, net: &Network) -> Vec<Vec<f64>> {
        net.layers()
            .iter()
            .enumerate()
            .map(|(k, layer)| {
                if !layer.relu {
                    return Vec::new();
                }
                (0..layer.n_out)
                    .map(|i| {
                        let (a, b) = (self.lower[k][i], self.upper[k][i]);
                        if b > -a {
                            1.0
                        } else {
                            0.0
                        }
                    })
                    .collect()
            })
            .collect()
    }

    /// Whether neuron `i` of layer `k` is a ReLU whose sign is not fixed by the bounds.
    pub fn unstable(&self, k: usize, i: usize) -> bool {
        self.lower[k][i] < 0.0 && self.upper[k][i] > 0.0
    }

    /// Number of unstable ReLU neurons (binaries a MILP needs).
    pub fn unstable_count(&self, net: &Network) -> usize {
        net.layers()
            .iter()
            .enumerate()
            .filter(|(_, l)| l.relu)
            .map(|(k, l)| (0..l.n_out).filter(|&i| self.unstable(k, i)).count())
            .sum()
    }

    /// Upper bound of `y_j - y_c` over the box these bounds were computed on, from the interval
    /// bounds of the output layer (for a ReLU output, of the rectified outputs).
    pub fn margin_upper_interval(&self, net: &Network, c: usize, j: usize) -> f64 {
        self.margin_upper_interval_in(net, c, j, None)
    }

    /// As [`Self::margin_upper_interval`]; with the input box (needed when the network has a
    /// single layer), an affine output layer's difference of rows `w_j - w_c` is bounded over
    /// the previous layer's interval, which is tighter than subtracting the two intervals.
    pub fn margin_upper_interval_in(
        &self,
        net: &Network,
        c: usize,
        j: usize,
        region: Option<&Hyperbox>,
    ) -> f64 {
        let last = net.layers().len() - 1;
        let layer = &net.layers()[last];
        let (l, u) = (&self.lower[last], &self.upper[last]);
        if layer.relu {
            return u[j].max(0.0) - l[c].max(0.0);
        }
        let subtracted = u[j] - l[c];
        // The inputs of the last layer: rectified bounds of the layer before, or the box.
        let (lo, hi): (Vec<f64>, Vec<f64>) = if last == 0 {
            match region {
                Some(r) => (r.lb().to_vec(), r.ub().to_vec()),
                None => return subtracted,
            }
        } else {
            let k = last - 1;
            let f = |v: &f64| if net.layers()[k].relu { v.max(0.0) } else { *v };
            (
                self.lower[k].iter().map(f).collect(),
                self.upper[k].iter().map(f).collect(),
            )
        };
        let diff: Vec<f64> = layer
            .row(j)
            .iter()
            .zip(layer.row(c))
            .map(|(a, b)| a - b)
            .collect();
        let (_, up) = affine_interval(&diff, layer.bias[j] - layer.bias[c], &lo, &hi);
        up.min(subtracted)
    }

    /// Upper bound of `sum_o coeff[o] * y_o + constant` over `region`, where `y` are the network
    /// outputs, by back-substitution with these bounds. Used for logit differences: bounding
    /// `y_j - y_c` as one linear function is much tighter than subtracting two intervals.
    pub fn output_linear_upper(
        &self,
        net: &Network,
        coeff: &[f64],
        constant: f64,
        region: &Hyperbox,
    ) -> f64 {
        let last = net.layers().len() - 1;
        let layer = &net.layers()[last];
        // Coefficients over the last layer's pre-activations (relaxing its ReLU if any).
        let mut lam = coeff.to_vec();
        let mut cst = constant;
        if layer.relu {
            cst += self.relax_row(last, &mut lam, true);
        }
        // Push through the last affine map.
        let n_in = layer.n_in;
        let mut w = vec![0.0; n_in];
        for (o, &l) in lam.iter().enumerate() {
            if l != 0.0 {
                cst += l * layer.bias[o];
                for (wi, &r) in w.iter_mut().zip(layer.row(o)) {
                    *wi += l * r;
                }
            }
        }
        if last == 0 {
            let (_, u) = affine_interval(&w, cst, region.lb(), region.ub());
            return u;
        }
        let mut ub = self.backward_from_post(net, last - 1, vec![w], vec![cst], true, region);
        ub.pop().expect("one row")
    }

    /// Upper bound of `sum_o coeff[o] * z_o` over `region`, where `z` are the pre-activations of
    /// layer `k`, by back-substitution through the layers before it with these bounds. Used for
    /// joint bounds of neurons of one layer (`z_i + z_j`, `z_i - z_j`: the octagon of a pair,
    /// [`crate::milp::pairs`]), which bound a pair much better than the two intervals do.
    pub fn pre_activation_linear_upper(
        &self,
        net: &Network,
        k: usize,
        coeff: &[f64],
        region: &Hyperbox,
    ) -> f64 {
        let layer = &net.layers()[k];
        let mag: Vec<f64> = if k == 0 {
            region
                .lb()
                .iter()
                .zip(region.ub())
                .map(|(l, u)| l.abs().max(u.abs()).max(1.0))
                .collect()
        } else {
            (0..layer.n_in)
                .map(|i| self.upper[k - 1][i].max(0.0).max(1.0))
                .collect()
        };
        // Push through layer `k`'s affine map, sizing the rounding of every product.
        let (mut w, mut cst, mut abs) = (vec![0.0; layer.n_in], 0.0, 0.0);
        for (o, &l) in coeff.iter().enumerate() {
            if l == 0.0 {
                continue;
            }
            cst += l * layer.bias[o];
            abs += (l * layer.bias[o]).abs();
            for ((wi, &r), m) in w.iter_mut().zip(layer.row(o)).zip(&mag) {
                *wi += l * r;
                abs += (l * r).abs() * m;
            }
        }
        let push = slack(coeff.len() + layer.n_in, abs);
        if k == 0 {
            let (_, u) = affine_interval(&w, cst, region.lb(), region.ub());
            return u + push;
        }
        let mut ub = self.backward_from_post(net, k - 1, vec![w], vec![cst], true, region);
        ub.pop().expect("one row") + push
    }

    /// Upper bound of `y_j - y_c` (the best of interval and linear bounds).
    pub fn margin_upper(&self, net: &Network, c: usize, j: usize, region: &Hyperbox) -> f64 {
        let mut coeff = vec![0.0; net.output_size()];
        coeff[j] = 1.0;
        coeff[c] = -1.0;
        self.output_linear_upper(net, &coeff, 0.0, region)
            .min(self.margin_upper_interval_in(net, c, j, Some(region)))
    }

    /// Lower bound of `y_c - y_j`, i.e. `-upper(y_j - y_c)`.
    pub fn margin_lower(&self, net: &Network, c: usize, j: usize, region: &Hyperbox) -> f64 {
        -self.margin_upper(net, c, j, region)
    }

    /// Relaxes the ReLU of layer `k` for coefficient row `lam` over its *post*-activations,
    /// replacing it in place by coefficients over the *pre*-activations; returns the constant
    /// term. `upper`: the bound being built is an upper bound (else lower).
    fn relax_row(&self, k: usize, lam: &mut [f64], upper: bool) -> f64 {
        let (lo, hi) = (&self.lower[k], &self.upper[k]);
        let mut cst = 0.0;
        for (i, l) in lam.iter_mut().enumerate() {
            if *l == 0.0 {
                continue;
            }
            let (a, b) = (lo[i], hi[i]);
            if a >= 0.0 {
                continue; // active: h = z
            }
            if b <= 0.0 {
                *l = 0.0; // inactive: h = 0
                continue;
            }
            // Unstable: s z - s a >= h >= alpha z.
            let s = b / (b - a);
            let use_upper_line = (*l > 0.0) == upper;
            if use_upper_line {
                cst += -*l * s * a;
                *l *= s;
            } else {
                let alpha = if b > -a { 1.0 } else { 0.0 };
                *l *= alpha;
            }
        }
        cst
    }

    /// Bounds of the pre-activations of layer `k` given as `rows` linear forms over its inputs:
    /// `weights` (rows × n_in of layer k) and `bias`.
    #[allow(clippy::too_many_arguments)]
    fn backward(
        &self,
        net: &Network,
        k: usize,
        weights: Vec<f64>,
        bias: Vec<f64>,
        rows: usize,
        upper: bool,
        region: &Hyperbox,
    ) -> Vec<f64> {
        let n_in = net.layers()[k].n_in;
        let lam: Vec<Vec<f64>> = (0..rows)
            .map(|r| weights[r * n_in..(r + 1) * n_in].to_vec())
            .collect();
        self.backward_from_post(net, k - 1, lam, bias, upper, region)
    }

    /// Bounds of linear forms `lam[r] · h_k + cst[r]` where `h_k` are the post-activations of
    /// layer `k`, by substituting back to the input box.
    fn backward_from_post(
        &self,
        net: &Network,
        k: usize,
        lam: Vec<Vec<f64>>,
        cst: Vec<f64>,
        upper: bool,
        region: &Hyperbox,
    ) -> Vec<f64> {
        self.substitute(net, k, Floor::Input(region), lam, cst, upper)
    }

    /// Bounds of `lam[r] · h_top + cst[r]` (`h_top`: post-activations of layer `top`) by
    /// substituting through the layers down to `floor`, then bounding over the floor's box.
    fn substitute(
        &self,
        net: &Network,
        top: usize,
        floor: Floor,
        mut lam: Vec<Vec<f64>>,
        mut cst: Vec<f64>,
        upper: bool,
    ) -> Vec<f64> {
        // Running sum of |terms| per row, to size the rounding slack.
        let mut abs: Vec<f64> = cst.iter().map(|c| c.abs()).collect();
        let mut terms = 0usize;
        let bottom: isize = match floor {
            Floor::Input(_) => 0,
            Floor::Layer(s) => s as isize + 1,
        };
        let mut k = top as isize;
        while k >= bottom {
            let layer = &net.layers()[k as usize];
            for (r, row) in lam.iter_mut().enumerate() {
                if layer.relu {
                    let c = self.relax_row(k as usize, row, upper);
                    cst[r] += c;
                    abs[r] += c.abs();
                }
                // h_{k-1} coefficients: row · W_k ; constant row · b_k.
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
        // The floor's box: the input region, or the rectified bounds of layer `s`.
        let (lo, hi): (Vec<f64>, Vec<f64>) = match floor {
            Floor::Input(region) => (region.lb().to_vec(), region.ub().to_vec()),
            Floor::Layer(s) => (
                self.lower[s].iter().map(|v| v.max(0.0)).collect(),
                self.upper[s].iter().map(|v| v.max(0.0)).collect(),
            ),
        };
        // Each coefficient's rounding error is multiplied by its variable's value: scale by
        // the floor box's magnitudes (at least 1, so the slack never shrinks below the
        // magnitude-free one; inputs far from [0, 1], as in ACAS Xu's, need the scale).
        let mag: Vec<f64> = lo
            .iter()
            .zip(&hi)
            .map(|(l, h)| l.abs().max(h.abs()).max(1.0))
            .collect();
        lam.iter()
            .zip(&cst)
            .zip(&abs)
            .map(|((row, &c), &a)| {
                let (l, u) = affine_interval(row, c, &lo, &hi);
                // Extra slack for the products accumulated during back-substitution.
                let weighted: f64 = row.iter().zip(&mag).map(|(v, m)| v.abs() * m).sum();
                let extra = slack(terms, a + weighted);
                if upper {
                    u + extra
                } else {
                    l - extra
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::network::Layer;

    /// y = relu(x0 - x1), relu(x0 + x1); out0 = h0 - h1, out1 = h1 - h0 + 0.1.
    fn net() -> Network {
        Network::new(
            vec![
                Layer {
                    n_in: 2,
                    n_out: 2,
                    weights: vec![1.0, -1.0, 1.0, 1.0],
                    bias: vec![0.0, 0.0],
                    relu: true,
                },
                Layer {
                    n_in: 2,
                    n_out: 2,
                    weights: vec![1.0, -1.0, -1.0, 1.0],
                    bias: vec![0.0, 0.1],
                    relu: false,
                },
            ],
            vec![2],
        )
        .unwrap()
    }

    #[test]
    fn interval_bounds_contain_samples_and_symbolic_is_tighter() {
        let n = net();
        let b = Hyperbox::new(vec![-1.0, -0.5], vec![1.0, 0.5]).unwrap();
        let ibp = NeuronBounds::interval(&n, &b);
        let sym = NeuronBounds::symbolic(&n, &b);
        assert!((ibp.upper[0][0] - 1.5).abs() < 1e-12);
        assert!((ibp.lower[0][0] + 1.5).abs() < 1e-12);
        for k in 0..2 {
            for i in 0..2 {
                assert!(sym.lower[k][i] >= ibp.lower[k][i] - 1e-12);
                assert!(sym.upper[k][i] <= ibp.upper[k][i] + 1e-12);
            }
        }
        // Every sample lies inside both.
        let mut next = crate::network::uniform_stream(12345);
        for _ in 0..2000 {
            let x = [-1.0 + 2.0 * next(), -0.5 + next()];
            let tr = n.forward_trace(&x);
            for k in 0..2 {
                for i in 0..2 {
                    assert!(sym.lower[k][i] <= tr[k][i] && tr[k][i] <= sym.upper[k][i]);
                }
            }
            let y = &tr[2];
            assert!(y[1] - y[0] <= sym.margin_upper(&n, 0, 1, &b) + 1e-12);
            assert!(y[0] - y[1] <= sym.margin_upper(&n, 1, 0, &b) + 1e-12);
        }
        // The linear bound on the difference beats the interval difference.
        assert!(sym.margin_upper(&n, 0, 1, &b) <= ibp.margin_upper_interval(&n, 0, 1) + 1e-12);
    }

    #[test]
    fn difference_of_rows_beats_subtracting_intervals() {
        // y0 = x0 + x1, y1 = x0 + x1 + 0.1: y1 - y0 = 0.1 exactly; intervals give 2.1.
        let n = Network::new(
            vec![Layer {
                n_in: 2,
                n_out: 2,
                weights: vec![1.0, 1.0, 1.0, 1.0],
                bias: vec![0.0, 0.1],
                relu: false,
            }],
            vec![2],
        )
        .unwrap();
        let b = Hyperbox::unit(2);
        let ibp = NeuronBounds::interval(&n, &b);
        let rows = ibp.margin_upper_interval_in(&n, 0, 1, Some(&b));
        assert!((rows - 0.1).abs() < 1e-9, "{rows}");
        assert!((ibp.margin_upper_interval(&n, 0, 1) - 2.1).abs() < 1e-9);
    }

    /// Joint bounds of two neurons of one layer (`z_i ± z_j`) contain every sampled value, and
    /// on the first layer are exact up to rounding.
    #[test]
    fn pre_activation_linear_bounds_contain_samples() {
        use crate::network::random_net;
        let mut uniform = crate::network::uniform_stream(3u64);
        for seed in 0..10u64 {
            let net = random_net(seed, &[4, 8, 8, 2]);
            let region = Hyperbox::uniform(4, -1.0, 1.0).unwrap();
            let b = NeuronBounds::symbolic(&net, &region);
            let samples: Vec<Vec<Vec<f64>>> = (0..2000)
                .map(|_| {
                    let x: Vec<f64> = (0..4).map(|_| -1.0 + 2.0 * uniform()).collect();
                    net.forward_trace(&x)
                })
                .collect();
            for k in 0..2 {
                for (i, j) in [(0, 1), (2, 5), (3, 7)] {
                    for (ci, cj) in [(1.0, 1.0), (1.0, -1.0), (-1.0, 1.0), (-1.0, -1.0)] {
                        let mut w = vec![0.0; 8];
                        w[i] = ci;
                        w[j] = cj;
                        let up = b.pre_activation_linear_upper(&net, k, &w, &region);
                        let seen = samples
                            .iter()
                            .map(|t| ci * t[k][i] + cj * t[k][j])
                            .fold(f64::NEG_INFINITY, f64::max);
                        assert!(seen <= up, "seed {seed}, layer {k}: {seen} > {up}");
                        if k == 0 {
                            // A linear function over the box [-1, 1]^4: its exact maximum.
                            let layer = &net.layers()[0];
                            let exact = ci * layer.bias[i]
                                + cj * layer.bias[j]
                                + (0..4)
                                    .map(|m| (ci * layer.row(i)[m] + cj * layer.row(j)[m]).abs())
                                    .sum::<f64>();
                            assert!((up - exact).abs() <= 1e-9, "{up} vs exact {exact}");
                        }
                    }
                }
            }
        }
    }
}
