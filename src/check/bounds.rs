//! Neuron bounds re-derived by the checker: interval propagation and back-substitution through
//! the ReLU relaxations whose lower slopes the proof names, all in outward-rounded arithmetic.
//!
//! The derivation of layer `k` reads only the region and the bounds of layers `< k` (the
//! proof's claims, each already checked), so a claim is accepted exactly when it is implied by
//! what came before. The solver's proof writer calls [`fn@derive`] too, so the claims it writes are
//! the very numbers the checker derives; the MILP leaves are encoded over those same bounds.

use rayon::prelude::*;

use super::round::{add_up, column_abs_sums, dn, mul_up, transposed_product, up, Iv};
use crate::network::Network;
use crate::proof::Row;

/// Bounds of every layer's pre-activations, as the checker uses them.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerBounds<'a> {
    /// Region lower corner.
    pub lb: &'a [f64],
    /// Region upper corner.
    pub ub: &'a [f64],
    /// `lower[k][i]` for the layers known so far.
    pub lower: &'a [Vec<f64>],
    /// `upper[k][i]`.
    pub upper: &'a [Vec<f64>],
    /// Lower-line slope of every ReLU, `slopes[k][i] ∈ [0, 1]`.
    pub slopes: &'a [Vec<f64>],
    /// [`column_abs_sums`] of every layer's weights ([`weight_column_sums`]).
    pub col_abs: &'a [Vec<f64>],
}

/// The column sums of `|W|` of every layer, which the back-substitution's error bounds need.
pub fn weight_column_sums(net: &Network) -> Vec<Vec<f64>> {
    net.layers()
        .iter()
        .map(|l| column_abs_sums(&l.weights, l.n_out, l.n_in))
        .collect()
}

impl LayerBounds<'_> {
    /// The interval of the *inputs* of layer `k` (post-activations of layer `k - 1`, or the region).
    fn inputs_of(&self, net: &Network, k: usize) -> (Vec<f64>, Vec<f64>) {
        if k == 0 {
            return (self.lb.to_vec(), self.ub.to_vec());
        }
        let p = k - 1;
        if net.layers()[p].relu {
            (
                self.lower[p].iter().map(|v| v.max(0.0)).collect(),
                self.upper[p].iter().map(|v| v.max(0.0)).collect(),
            )
        } else {
            (self.lower[p].clone(), self.upper[p].clone())
        }
    }

    /// Replaces coefficients `lam` over the post-activations of ReLU layer `k` by coefficients
    /// over its pre-activations, for an upper bound; returns the new upper bound of the constant.
    fn relax(&self, k: usize, lam: &mut [Iv], mut c: f64) -> f64 {
        let (lo, hi, alpha) = (&self.lower[k], &self.upper[k], &self.slopes[k]);
        for (i, l) in lam.iter_mut().enumerate() {
            if l.is_zero() {
                continue;
            }
            let (a, b) = (lo[i], hi[i]);
            if a >= 0.0 {
                continue; // active: h = z
            }
            if b <= 0.0 {
                *l = Iv::ZERO; // inactive: h = 0
                continue;
            }
            if l.lo >= 0.0 {
                // h <= s (z - a) for any s >= u / (u - l).
                let s = up(b / dn(b - a));
                c = add_up(c, mul_up(l.hi, up(s * -a)));
                *l = l.scale(s);
            } else if l.hi <= 0.0 {
                // h >= α z for α in [0, 1].
                *l = l.scale(alpha[i]);
            } else {
                // A coefficient of unknown sign: h in [0, u].
                c = add_up(c, mul_up(l.hi, b));
                *l = Iv::ZERO;
            }
        }
        c
    }

    /// An upper bound of `lam · h_top + c` over the region, where `h_top` are the
    /// post-activations of layer `top`, by substituting back to the input box.
    pub fn upper_of_form(&self, net: &Network, top: usize, lam: Vec<Iv>, c: f64) -> f64 {
        self.upper_of_form_x(net, top, lam, c, &[])
    }

    /// [`Self::upper_of_form`] of `lam · h_top + Σ a_i x_i + c`, with input terms `(i, a_i)`.
    fn upper_of_form_x(
        &self,
        net: &Network,
        top: usize,
        mut lam: Vec<Iv>,
        mut c: f64,
        x_terms: &[(usize, f64)],
    ) -> f64 {
        let layers = net.layers();
        for k in (0..=top).rev() {
            let layer = &layers[k];
            if layer.relu {
                c = self.relax(k, &mut lam, c);
            }
            for (o, &l) in lam.iter().enumerate() {
                if !l.is_zero() {
                    let b = layer.bias[o];
                    c = add_up(c, l.max_times(b, b));
                }
            }
            let next = transposed_product(
                &layer.weights,
                layer.n_out,
                layer.n_in,
                &self.col_abs[k],
                &lam,
            );
            lam = next;
        }
        for &(i, a) in x_terms {
            lam[i] = lam[i].plus(Iv::point(a));
        }
        for (i, l) in lam.iter().enumerate() {
            c = add_up(c, l.max_times(self.lb[i], self.ub[i]));
        }
        c
    }

    /// A lower bound of `row(x, y)` over the region (`lower`/`upper` must cover every layer):
    /// minus the best upper bound of `-row` by back-substitution, by the output intervals and,
    /// for a difference of two outputs, by [`Self::margin_upper`].
    pub fn row_lower(&self, net: &Network, row: &Row) -> f64 {
        let layers = net.layers();
        let last = layers.len() - 1;
        let mut lam = vec![Iv::ZERO; layers[last].n_out];
        for &(j, b) in &row.y {
            lam[j] = lam[j].plus(Iv::point(-b));
        }
        let neg_x: Vec<(usize, f64)> = row.x.iter().map(|&(i, a)| (i, -a)).collect();
        let mut best = self.upper_of_form_x(net, last, lam, -row.constant, &neg_x);
        // Intervals: the outputs (rectified by a last ReLU) and the region.
        let rect = |v: f64| if layers[last].relu { v.max(0.0) } else { v };
        let mut iv = -row.constant;
        for &(j, b) in &row.y {
            let (l, u) = (rect(self.lower[last][j]), rect(self.upper[last][j]));
            iv = add_up(iv, Iv::point(-b).max_times(l, u));
        }
        for &(i, a) in &row.x {
            iv = add_up(iv, Iv::point(-a).max_times(self.lb[i], self.ub[i]));
        }
        best = best.min(iv);
        // s (y_p - y_q) + constant: -row = s (y_q - y_p) - constant.
        if let ([], [(p, s), (q, t)]) = (&row.x[..], &row.y[..]) {
            let (p, q, s) = if *s > 0.0 && *s == -t {
                (*p, *q, *s)
            } else if *t > 0.0 && *t == -s {
                (*q, *p, *t)
            } else {
                (0, 0, 0.0)
            };
            if s > 0.0 && p != q {
                let m = self.margin_upper(net, p, q);
                let mut v = if s == 1.0 { m } else { mul_up(s, m) };
                if row.constant != 0.0 {
                    v = add_up(v, -row.constant);
                }
                best = best.min(v);
            }
        }
        -best
    }

    /// Bounds of the pre-activations of layer `k`: intervals over the inputs of the layer,
    /// intersected (for `k >= 1`) with back-substitution in both directions.
    pub fn layer(&self, net: &Network, k: usize) -> (Vec<f64>, Vec<f64>) {
        let layer = &net.layers()[k];
        let (pl, pu) = self.inputs_of(net, k);
        (0..layer.n_out)
            .into_par_iter()
            .map(|o| {
                let mut acc = Iv::point(layer.bias[o]);
                for ((&w, &a), &b) in layer.row(o).iter().zip(&pl).zip(&pu) {
                    if w != 0.0 {
                        acc = acc.plus(Iv { lo: a, hi: b }.scale(w));
                    }
                }
                let (mut lo, mut hi) = (acc.lo, acc.hi);
                if k >= 1 {
                    let row = |sign: f64| -> Vec<Iv> {
                        layer.row(o).iter().map(|&w| Iv::point(sign * w)).collect()
                    };
                    let u = self.upper_of_form(net, k - 1, row(1.0), layer.bias[o]);
                    let l = -self.upper_of_form(net, k - 1, row(-1.0), -layer.bias[o]);
                    hi = hi.min(u);
                    lo = lo.max(l);
                }
                (lo, hi)
            })
            .unzip()
    }

    /// An upper bound of `y_j - y_c` over the region (`lower`/`upper` must cover every layer):
    /// the best of back-substitution, the interval of the difference of the output rows, and the
    /// difference of the output bounds.
    pub fn margin_upper(&self, net: &Network, c: usize, j: usize) -> f64 {
        let last = net.layers().len() - 1;
        let layer = &net.layers()[last];
        let mut lam = vec![Iv::ZERO; layer.n_out];
        lam[j] = Iv::point(1.0);
        lam[c] = Iv::point(-1.0);
        let by_form = self.upper_of_form(net, last, lam, 0.0);
        let (lo, hi) = (&self.lower[last], &self.upper[last]);
        if layer.relu {
            return by_form.min(up(hi[j].max(0.0) - lo[c].max(0.0)));
        }
        let subtracted = up(hi[j] - lo[c]);
        let (pl, pu) = self.inputs_of(net, last);
        let mut rows = up(layer.bias[j] - layer.bias[c]);
        for (i, (&wj, &wc)) in layer.row(j).iter().zip(layer.row(c)).enumerate() {
            let d = Iv {
                lo: dn(wj - wc),
                hi: up(wj - wc),
            };
            rows = add_up(rows, d.max_times(pl[i], pu[i]));
        }
        by_form.min(subtracted).min(rows)
    }
}

/// Derives the bounds of every layer from the region and the slopes (what the proof writer
/// claims): `(lower, upper)`.
pub fn derive(
    net: &Network,
    lb: &[f64],
    ub: &[f64],
    slopes: &[Vec<f64>],
) -> (Vec<Vec<f64>>, Vec<Vec<f64>>) {
    let mut lower: Vec<Vec<f64>> = Vec::new();
    let mut upper: Vec<Vec<f64>> = Vec::new();
    let col_abs = weight_column_sums(net);
    for k in 0..net.layers().len() {
        let (l, u) = LayerBounds {
            lb,
            ub,
            lower: &lower,
            upper: &upper,
            slopes,
            col_abs: &col_abs,
        }
        .layer(net, k);
        lower.push(l);
        upper.push(u);
    }
    (lower, upper)
}
