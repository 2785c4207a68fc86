//! The network over a box as a MILP: the exact big-M encoding of every ReLU.
//!
//! For a neuron with pre-activation bounds `l <= z <= u` (from [`crate::bounds`]):
//! - `u <= 0` (stably inactive): the output is the constant 0, no variable;
//! - `l >= 0` (stably active): `h = z`, a continuous variable and an equality;
//! - otherwise `h >= 0, h >= z, h <= z - l(1 - a), h <= u a` with one binary `a`.
//!
//! The encoding is exact for every x in the box (Tjeng, Xiao & Tedrake 2019); its speed depends on
//! how tight the bounds are. Questions (`query`) add an objective and a few rows on top.

use super::nodes::PhaseRefiner;
use super::pairs::PairCuts;
use super::solver::{Basis, Milp, ReluCols};
use crate::bounds::NeuronBounds;
use crate::network::Network;
use crate::proof::{RowKind, RowTag};
use crate::region::Hyperbox;

/// A linear expression over MILP columns.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LinExpr {
    /// Sparse coefficients `(column, value)`, each column once.
    pub terms: Vec<(usize, f64)>,
    /// Constant term.
    pub constant: f64,
}

impl LinExpr {
    /// `self - other`, merging columns.
    pub fn minus(&self, other: &LinExpr) -> LinExpr {
        let mut terms = self.terms.clone();
        for &(c, v) in &other.terms {
            match terms.iter_mut().find(|(tc, _)| *tc == c) {
                Some(t) => t.1 -= v,
                None => terms.push((c, -v)),
            }
        }
        terms.retain(|&(_, v)| v != 0.0);
        LinExpr {
            terms,
            constant: self.constant - other.constant,
        }
    }

    /// Value at a solution.
    pub fn eval(&self, solution: &[f64]) -> f64 {
        self.constant
            + self
                .terms
                .iter()
                .map(|&(c, v)| v * solution[c])
                .sum::<f64>()
    }
}

/// Coefficients at or below this magnitude are dropped from rows (HiGHS ignores |a| <= 1e-9);
/// the rows are widened by their largest possible contribution instead.
const TINY: f64 = 1e-9;

/// A neuron's output in the MILP.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Node {
    /// Stably inactive: the constant 0.
    Zero,
    /// An input coordinate fixed by the box.
    Const(f64),
    /// A column.
    Var(usize),
}

/// A binary variable and the neuron it switches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Binary {
    /// Layer index.
    pub layer: usize,
    /// Neuron index within the layer.
    pub neuron: usize,
    /// MILP column.
    pub col: usize,
}

/// The MILP of a network over a box, ready for a question to be added.
#[derive(Debug, Clone)]
pub struct Encoding {
    /// The model (no objective yet).
    pub milp: Milp,
    /// Column of each input coordinate; `None` when the box fixes the coordinate (its value is
    /// then folded into the first layer's constants: a smaller LP for thin boxes).
    pub input: Vec<Option<usize>>,
    /// The box the network was encoded over.
    pub region: Hyperbox,
    /// Each network output as a linear expression.
    pub outputs: Vec<LinExpr>,
    /// The binaries, one per unstable ReLU.
    pub binaries: Vec<Binary>,
    /// What each row of `milp` is, named as in a proof's leaf LP (for proof files).
    pub row_tags: Vec<RowTag>,
}

impl Encoding {
    /// Encodes `net` over `region` using `bounds` (which must be valid over `region`).
    pub fn new(net: &Network, region: &Hyperbox, bounds: &NeuronBounds) -> Self {
        let mut milp = Milp::default();
        let input: Vec<Option<usize>> = (0..region.dim())
            .map(|i| {
                let (l, u) = (region.lb()[i], region.ub()[i]);
                (l < u).then(|| milp.add_col(l, u, false))
            })
            .collect();
        let mut prev: Vec<Node> = input
            .iter()
            .enumerate()
            .map(|(i, c)| match c {
                Some(c) => Node::Var(*c),
                None => Node::Const(region.lb()[i]),
            })
            .collect();
        let mut prev_lo = region.lb().to_vec();
        let mut prev_hi = region.ub().to_vec();
        let mut binaries = Vec::new();
        let mut row_tags = Vec::new();
        let layers = net.layers();
        let mut outputs = Vec::new();
        for (k, layer) in layers.iter().enumerate() {
            // The affine map over the previous layer's columns. Coefficients too small for the
            // solver (it silently drops |a| <= 1e-9) are dropped here instead, and their largest
            // possible contribution `slack` widens the row, so the MILP still contains every
            // true execution.
            let (lo_prev, hi_prev) = (prev_lo.clone(), prev_hi.clone());
            let affine = |o: usize| -> (LinExpr, f64) {
                let mut slack = 0.0;
                let mut terms = Vec::new();
                let mut constant = layer.bias[o];
                let mut abs_const = constant.abs();
                for (i, (&w, n)) in layer.row(o).iter().zip(&prev).enumerate() {
                    match n {
                        Node::Var(c) if w.abs() > TINY => terms.push((*c, w)),
                        Node::Var(_) if w != 0.0 => {
                            slack += w.abs() * lo_prev[i].abs().max(hi_prev[i].abs())
                        }
                        Node::Const(v) => {
                            constant += w * v;
                            abs_const += (w * v).abs();
                        }
                        _ => {}
                    }
                }
                // Rounding of the folded constants, widened like everything else.
                slack += (layer.n_in as f64 + 2.0) * f64::EPSILON * abs_const;
                (LinExpr { terms, constant }, slack * (1.0 + 1e-12))
            };
            if !layer.relu {
                // Only the last layer may be purely affine (the importer guarantees it). The
                // outputs are explicit columns so that questions add sparse rows.
                outputs = (0..layer.n_out)
                    .map(|o| {
                        let (z, slack) = affine(o);
                        let (l, u) = (bounds.lower[k][o], bounds.upper[k][o]);
                        let y = milp.add_col(l, u, false);
                        let mut terms: Vec<(usize, f64)> =
                            z.terms.iter().map(|&(c, w)| (c, -w)).collect();
                        terms.push((y, 1.0));
                        milp.add_row(z.constant - slack, z.constant + slack, terms);
                        row_tags.push((RowKind::A, k, o));
                        LinExpr {
                            terms: vec![(y, 1.0)],
                            constant: 0.0,
                        }
                    })
                    .collect();
                break;
            }
            let mut next = Vec::with_capacity(layer.n_out);
            let (mut next_lo, mut next_hi) = (Vec::new(), Vec::new());
            for o in 0..layer.n_out {
                let (l, u) = (bounds.lower[k][o], bounds.upper[k][o]);
                next_lo.push(l.max(0.0));
                next_hi.push(u.max(0.0));
                if u <= 0.0 {
                    next.push(Node::Zero);
                    continue;
                }
                // The pre-activation as its own column: one dense row per neuron, and the
                // ReLU rows stay sparse (cut separation on dense rows is what makes MILPs slow).
                let (z, slack) = affine(o);
                let zc = milp.add_col(l, u, false);
                let mut terms: Vec<(usize, f64)> = z.terms.iter().map(|&(c, w)| (c, -w)).collect();
                terms.push((zc, 1.0));
                let def_row = milp.rows.len();
                milp.add_row(z.constant - slack, z.constant + slack, terms);
                row_tags.push((RowKind::A, k, o));
                if l >= 0.0 {
                    // Stably active: h = z.
                    next.push(Node::Var(zc));
                } else {
                    let h = milp.add_col(0.0, u, false);
                    let a = milp.add_col(0.0, 1.0, true);
                    // h >= z
                    milp.add_row(0.0, f64::INFINITY, vec![(h, 1.0), (zc, -1.0)]);
                    // h <= z - l (1 - a)  <=>  h - z - l a <= -l
                    milp.add_row(f64::NEG_INFINITY, -l, vec![(h, 1.0), (zc, -1.0), (a, -l)]);
                    // h <= u a
                    milp.add_row(f64::NEG_INFINITY, 0.0, vec![(h, 1.0), (a, -u)]);
                    row_tags.extend([(RowKind::G, k, o), (RowKind::L, k, o), (RowKind::U, k, o)]);
                    binaries.push(Binary {
                        layer: k,
                        neuron: o,
                        col: a,
                    });
                    milp.relus.push(ReluCols {
                        a,
                        h,
                        z: zc,
                        layer: k,
                        row: def_row,
                    });
                    next.push(Node::Var(h));
                }
            }
            prev_lo = next_lo;
            prev_hi = next_hi;
            prev = next;
            if k + 1 == layers.len() {
                // ReLU on the output layer: the outputs are the rectified neurons.
                outputs = prev
                    .iter()
                    .map(|n| match n {
                        Node::Zero | Node::Const(_) => LinExpr::default(),
                        Node::Var(c) => LinExpr {
                            terms: vec![(*c, 1.0)],
                            constant: 0.0,
                        },
                    })
                    .collect();
            }
        }
        // Node bounds need a later ReLU layer to tighten under earlier fixings. With two ReLU
        // layers only the last one can, from one neuron's exact relaxation at a time: on the
        // 784-100-100-10 and 784-256-256-10 boxes they closed no node (same node counts in
        // every solve) and took up to half of the time, so they start at three.
        if net.relu_layers() >= 3 && !binaries.is_empty() {
            let sites: Vec<(usize, usize, ReluCols)> = binaries
                .iter()
                .zip(&milp.relus)
                .map(|(b, r)| (b.layer, b.neuron, *r))
                .collect();
            milp.refiner = Some(std::sync::Arc::new(PhaseRefiner::new(net, bounds, sites)));
        }
        // Pair cuts need two ReLUs of one layer that the relaxation can exploit jointly; on
        // one-hidden-layer networks the MILPs are fast as they are, so they start at two.
        if net.relu_layers() >= 2 && binaries.len() >= 2 {
            let sites: Vec<(usize, usize, ReluCols)> = binaries
                .iter()
                .zip(&milp.relus)
                .map(|(b, r)| (b.layer, b.neuron, *r))
                .collect();
            milp.pairs = Some(std::sync::Arc::new(PairCuts::new(
                net, bounds, region, sites,
            )));
        }
        Encoding {
            milp,
            input,
            region: region.clone(),
            outputs,
            binaries,
            row_tags,
        }
    }

    /// `y_j - y_c` as a linear expression.
    pub fn margin(&self, c: usize, j: usize) -> LinExpr {
        self.outputs[j].minus(&self.outputs[c])
    }

    /// The input point of a solution.
    pub fn input_point(&self, solution: &[f64]) -> Vec<f64> {
        self.input
            .iter()
            .enumerate()
            .map(|(i, c)| match c {
                Some(c) => solution[*c],
                None => self.region.lb()[i],
            })
            .collect()
    }

    /// A basis of the LP relaxation whose basic solution is the execution of the box's lower
    /// corner (up to the rows' rounding slack): every input column at its lower bound, every
    /// neuron's affine row at its lower end with its pre-activation column basic, and each
    /// unstable ReLU at the corner's phase (active: `a` at 1, `h` basic, the row `h >= z`
    /// tight; inactive: `a` and `h` at 0, its three rows basic). Every other column (stably
    /// active pre-activations, outputs) is basic. The basis matrix is triangular layer by layer,
    /// hence regular, and the solution is feasible because the bounds are valid over the box.
    ///
    /// Why: the first solve of a cold LP over a 784-wide first layer spends seconds in phase 1
    /// looking for any feasible point, and a forward pass gives one for free. `None` when rows
    /// were added after encoding (the statuses would not line up).
    pub fn corner_basis(&self, net: &Network) -> Option<Basis> {
        use super::lp::BasisStatus as Status;
        if self.row_tags.len() != self.milp.rows.len() {
            return None;
        }
        let x = self.region.lb().to_vec();
        let trace = net.forward_trace(&x);
        let active = |k: usize, o: usize| {
            trace
                .get(k)
                .and_then(|t| t.get(o))
                .is_some_and(|&v| v > 0.0)
        };
        let mut cols = vec![Status::Basic; self.milp.num_cols()];
        for c in self.input.iter().flatten() {
            cols[*c] = Status::Lower;
        }
        for r in &self.milp.relus {
            let (k, o) = (r.layer, self.neuron_of(r.row)?);
            if active(k, o) {
                cols[r.a] = Status::Upper;
            } else {
                cols[r.a] = Status::Lower;
                cols[r.h] = Status::Lower;
            }
        }
        let rows = self
            .row_tags
            .iter()
            .map(|&(kind, k, o)| match kind {
                RowKind::A => Status::Lower,
                RowKind::G if active(k, o) => Status::Lower,
                _ => Status::Basic,
            })
            .collect::<Vec<_>>();
        Some(Basis::new(&cols, &rows))
    }

    /// The neuron whose affine row is `row`.
    fn neuron_of(&self, row: usize) -> Option<usize> {
        match self.row_tags.get(row) {
            Some(&(RowKind::A, _, o)) => Some(o),
            _ => None,
        }
    }

    /// Fixes every binary to the activation pattern of `x` (active iff its pre-activation is
    /// positive), turning the MILP into the LP of `x`'s linear region. Used to polish witnesses.
    pub fn fix_pattern(&mut self, net: &Network, x: &[f64]) {
        let trace = net.forward_trace(x);
        for b in &self.binaries {
            let v = if trace[b.layer][b.neuron] > 0.0 {
                1.0
            } else {
                0.0
            };
            self.milp.col_lb[b.col] = v;
            self.milp.col_ub[b.col] = v;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::milp::solver::{Limits, Lp, Sense, Status};
    use crate::network::random_net;

    /// The corner basis is a feasible basis of the relaxation: with no objective, HiGHS accepts
    /// it and ends where it started (no pivot), over random deep networks and boxes, with and
    /// without an affine output layer.
    #[test]
    fn the_corner_basis_is_feasible_and_needs_no_pivot() {
        let mut checked = 0;
        for seed in 0..12u64 {
            let net = random_net(seed, &[6, 20, 20, 20, 3]);
            let centre: Vec<f64> = (0..6)
                .map(|i| ((seed + i) % 5) as f64 * 0.3 - 0.6)
                .collect();
            let region = Hyperbox::ball(&centre, 0.3, &Hyperbox::uniform(6, -1.0, 1.0).unwrap());
            let bounds = NeuronBounds::symbolic(&net, &region);
            let enc = Encoding::new(&net, &region, &bounds);
            if enc.binaries.is_empty() {
                continue;
            }
            let basis = enc.corner_basis(&net).expect("a basis");
            let mut lp = Lp::new(&enc.milp, Sense::Maximise).unwrap();
            lp.prefer_primal().unwrap();
            assert!(lp.set_basis(&basis), "seed {seed}: HiGHS refused the basis");
            let out = lp
                .solve(&Limits {
                    relaxation: true,
                    ..Limits::default()
                })
                .unwrap();
            assert_eq!(out.status, Status::Optimal, "seed {seed}");
            assert_eq!(
                lp.basis().as_ref(),
                Some(&basis),
                "seed {seed}: HiGHS had to pivot"
            );
            checked += 1;
        }
        assert!(checked >= 6, "only {checked} networks had unstable ReLUs");
    }
}
