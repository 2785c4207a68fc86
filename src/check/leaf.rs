//! Branch-and-bound proofs: the tree of phase fixings covers every phase combination, and every
//! leaf's LP — rebuilt here from the network, the region, the checked bounds and the fixings —
//! is empty, shown by a bounded Farkas certificate in outward-rounded arithmetic.

use super::round::{add_dn, add_up, mul_up, Iv};
use crate::network::Network;
use crate::proof::{Leaf, Row, RowKind};

/// The columns of a leaf LP (see [`RowKind`] for the rows).
pub struct Columns {
    /// Column bounds.
    lo: Vec<f64>,
    hi: Vec<f64>,
    /// `z[k][i]`: pre-activation column of a neuron with `u > 0` (every neuron of an affine layer).
    z: Vec<Vec<Option<usize>>>,
    /// `h[k][i]`: post-activation column (`z` itself when stably active or affine).
    h: Vec<Vec<Option<usize>>>,
    /// `a[k][i]`: phase column of an unstable ReLU.
    a: Vec<Vec<Option<usize>>>,
}

impl Columns {
    /// The columns of `net` over the region `[lb, ub]` with the (checked) neuron bounds.
    pub fn new(
        net: &Network,
        lb: &[f64],
        ub: &[f64],
        lower: &[Vec<f64>],
        upper: &[Vec<f64>],
    ) -> Self {
        let mut cols = Columns {
            lo: lb.to_vec(),
            hi: ub.to_vec(),
            z: Vec::new(),
            h: Vec::new(),
            a: Vec::new(),
        };
        let add = |cols: &mut Columns, l: f64, u: f64| {
            cols.lo.push(l);
            cols.hi.push(u);
            cols.lo.len() - 1
        };
        for (k, layer) in net.layers().iter().enumerate() {
            let (mut zk, mut hk, mut ak) = (Vec::new(), Vec::new(), Vec::new());
            for i in 0..layer.n_out {
                let (l, u) = (lower[k][i], upper[k][i]);
                if layer.relu && u <= 0.0 {
                    zk.push(None);
                    hk.push(None);
                    ak.push(None);
                    continue;
                }
                let z = add(&mut cols, l, u);
                zk.push(Some(z));
                if !layer.relu || l >= 0.0 {
                    hk.push(Some(z));
                    ak.push(None);
                } else {
                    hk.push(Some(add(&mut cols, 0.0, u)));
                    ak.push(Some(add(&mut cols, 0.0, 1.0)));
                }
            }
            cols.z.push(zk);
            cols.h.push(hk);
            cols.a.push(ak);
        }
        cols
    }

    /// Number of unstable ReLUs (no leaf can fix more).
    pub fn phases(&self) -> usize {
        self.a.iter().flatten().filter(|a| a.is_some()).count()
    }

    /// The phase column of neuron `(k, i)`, if it is an unstable ReLU.
    fn phase(&self, k: usize, i: usize) -> Option<usize> {
        *self.a.get(k)?.get(i)?
    }
}

/// The question a leaf must rule out: every row `row_k(x, y) <= τ`.
pub struct Target<'a> {
    /// The refutation's rows.
    pub rows: &'a [Row],
    /// τ.
    pub tau: f64,
}

/// Checks one leaf: its fixings name unstable ReLUs once each, and its multipliers prove its LP
/// (with the refutation's rows `Q(k)`) empty.
pub fn check_leaf(
    net: &Network,
    cols: &Columns,
    lower: &[Vec<f64>],
    upper: &[Vec<f64>],
    leaf: &Leaf,
    t: &Target<'_>,
) -> Result<(), String> {
    let (mut lo, mut hi) = (cols.lo.clone(), cols.hi.clone());
    let mut seen = std::collections::HashSet::new();
    for &(k, i, phase) in &leaf.fix {
        let a = cols.phase(k, i).ok_or(format!(
            "fixing of neuron ({k}, {i}), which is not an unstable ReLU"
        ))?;
        if phase > 1 {
            return Err(format!("phase {phase} of neuron ({k}, {i}) is not 0 or 1"));
        }
        if !seen.insert((k, i)) {
            return Err(format!("neuron ({k}, {i}) is fixed twice"));
        }
        lo[a] = phase as f64;
        hi[a] = phase as f64;
    }
    let layers = net.layers();
    let last = layers.len() - 1;
    let mut r = vec![Iv::ZERO; lo.len()];
    // Upper bound of Σ_rows y_i * (the row's bound on the side y_i pushes against).
    let mut beta = 0.0f64;
    let missing = |kind: RowKind, k: usize, i: usize| {
        format!("a multiplier on row {kind:?}({k}, {i}), which this leaf's LP does not have")
    };
    let wrong_sign = |kind: RowKind, k: usize, i: usize| {
        format!("the multiplier on row {kind:?}({k}, {i}) has the wrong sign for its one-sided row")
    };
    let addc = |r: &mut Vec<Iv>, col: usize, y: f64, coef: f64| {
        r[col] = r[col].plus(Iv::point(y).scale(coef));
    };
    for &(kind, k, i, y) in &leaf.farkas {
        if !y.is_finite() {
            return Err(format!("a non-finite multiplier on row {kind:?}({k}, {i})"));
        }
        if y == 0.0 {
            continue;
        }
        if kind == RowKind::Q {
            // row_k(x, y) <= τ, i.e. Σ a x + Σ b y <= τ - constant.
            let row = match t.rows.get(k) {
                Some(row) if i == 0 => row,
                _ => return Err(missing(kind, k, i)),
            };
            if y < 0.0 {
                return Err(wrong_sign(kind, k, i));
            }
            for &(o, b) in &row.y {
                if let Some(col) = cols.h[last][o] {
                    addc(&mut r, col, y, b);
                }
            }
            for &(p, a) in &row.x {
                addc(&mut r, p, y, a);
            }
            let rhs = if row.constant == 0.0 {
                t.tau
            } else {
                add_up(t.tau, -row.constant)
            };
            beta = add_up(beta, mul_up(y, rhs));
            continue;
        }
        if kind == RowKind::M {
            return Err(missing(kind, k, i));
        }
        let z = cols
            .z
            .get(k)
            .and_then(|v| v.get(i))
            .copied()
            .flatten()
            .ok_or_else(|| missing(kind, k, i))?;
        if kind == RowKind::A {
            let layer = &layers[k];
            addc(&mut r, z, y, 1.0);
            for (p, &w) in layer.row(i).iter().enumerate() {
                if w == 0.0 {
                    continue;
                }
                let prev = if k == 0 { Some(p) } else { cols.h[k - 1][p] };
                if let Some(col) = prev {
                    addc(&mut r, col, y, -w);
                }
            }
            beta = add_up(beta, mul_up(y, layer.bias[i]));
            continue;
        }
        let (h, a) = match (cols.h[k][i], cols.a[k][i]) {
            (Some(h), Some(a)) => (h, a),
            _ => return Err(missing(kind, k, i)),
        };
        let (l, u) = (lower[k][i], upper[k][i]);
        match kind {
            RowKind::G => {
                // h - z >= 0
                if y > 0.0 {
                    return Err(wrong_sign(kind, k, i));
                }
                addc(&mut r, h, y, 1.0);
                addc(&mut r, z, y, -1.0);
            }
            RowKind::L => {
                // h - z - l a <= -l
                if y < 0.0 {
                    return Err(wrong_sign(kind, k, i));
                }
                addc(&mut r, h, y, 1.0);
                addc(&mut r, z, y, -1.0);
                addc(&mut r, a, y, -l);
                beta = add_up(beta, mul_up(y, -l));
            }
            RowKind::U => {
                // h - u a <= 0
                if y < 0.0 {
                    return Err(wrong_sign(kind, k, i));
                }
                addc(&mut r, h, y, 1.0);
                addc(&mut r, a, y, -u);
            }
            RowKind::A | RowKind::M | RowKind::Q => unreachable!("handled above"),
        }
    }
    // Every point of the leaf satisfies yᵀAx = rᵀx >= alpha and yᵀAx <= beta.
    let mut alpha = 0.0f64;
    for (col, rc) in r.iter().enumerate() {
        if !rc.is_zero() {
            alpha = add_dn(alpha, rc.min_times(lo[col], hi[col]));
        }
    }
    if alpha > beta {
        Ok(())
    } else {
        Err(format!(
            "its Farkas certificate fails: Σ min(r·x) = {alpha:.9e} is not above Σ y·b = {beta:.9e}"
        ))
    }
}

/// Checks that the leaves' fixing sequences form a complete binary tree: at every node all
/// leaves below split on the same neuron, and both phases have leaves.
pub fn check_tree(leaves: &[Leaf]) -> Result<(), String> {
    if leaves.is_empty() {
        return Err("the tree has no leaves".to_string());
    }
    cover(leaves, (0..leaves.len()).collect(), 0)
}

fn cover(leaves: &[Leaf], idx: Vec<usize>, depth: usize) -> Result<(), String> {
    if idx.len() == 1 && leaves[idx[0]].fix.len() == depth {
        return Ok(());
    }
    if let Some(&i) = idx.iter().find(|&&i| leaves[i].fix.len() == depth) {
        return Err(format!(
            "leaf {i} lies inside the subtree of other leaves (its fixings are their prefix)"
        ));
    }
    let (k, n, _) = leaves[idx[0]].fix[depth];
    let mut sides: [Vec<usize>; 2] = [Vec::new(), Vec::new()];
    for &i in &idx {
        let (k2, n2, p) = leaves[i].fix[depth];
        if (k2, n2) != (k, n) {
            return Err(format!(
                "leaves {} and {i} split on different neurons at depth {depth}",
                idx[0]
            ));
        }
        if p > 1 {
            return Err(format!("leaf {i}: phase {p} is not 0 or 1"));
        }
        sides[p as usize].push(i);
    }
    for (p, side) in sides.iter().enumerate() {
        if side.is_empty() {
            return Err(format!(
                "the tree does not cover phase {p} of neuron ({k}, {n}) at depth {depth} (a missing leaf)"
            ));
        }
    }
    let [zero, one] = sides;
    cover(leaves, zero, depth + 1)?;
    cover(leaves, one, depth + 1)
}
