//! The independent proof checker behind `ppnn check`.
//!
//! It trusts the ONNX importer and the network type ([`crate::network`]) and the proof format
//! ([`crate::proof`]); nothing else of ppnn — no bounds code, no MILP code, no HiGHS. Every
//! number of a proof is an exact rational (an f64), and every derived quantity is computed in
//! outward-rounded arithmetic ([`round`]), so a `valid` answer does not depend on floating-point
//! luck, and approximate solver multipliers are fine as long as they prove the claim.
//!
//! What `valid` means: for the model whose bytes hash to `model_sha256`, every point `x` of the
//! region satisfies `y_j(x) - y_c(x) < -τ` for every class `j != c` (in exact real arithmetic on
//! the model's weights). Steps: the model hash; the shapes; every claimed neuron bound, layer by
//! layer ([`bounds`]); then per competitor either the back-substituted margin bound, or the
//! branch-and-bound tree's coverage and each leaf's Farkas certificate ([`leaf`]).

// Acceptance tests are written `!(a <= b)` on purpose: a NaN anywhere must reject.
#![allow(clippy::neg_cmp_op_on_partial_ord)]

pub mod bounds;
pub mod leaf;
pub mod round;

use rayon::prelude::*;

use crate::network::Network;
use crate::proof::{sha256_hex, By, Proof};
use bounds::LayerBounds;

/// Why a proof was rejected.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct Invalid(pub String);

fn invalid<T>(msg: String) -> Result<T, Invalid> {
    Err(Invalid(msg))
}

/// What a valid proof established.
#[derive(Debug, Clone, PartialEq)]
pub struct Checked {
    /// The class that wins on the whole region.
    pub class: usize,
    /// τ.
    pub margin: f64,
    /// Competitors ruled out by bounds.
    pub by_bounds: usize,
    /// Competitors ruled out by branch and bound.
    pub by_branching: usize,
    /// Leaves checked in all.
    pub leaves: usize,
}

/// Checks `proof` against the model `net` loaded from `model_bytes`.
pub fn check(net: &Network, model_bytes: &[u8], proof: &Proof) -> Result<Checked, Invalid> {
    let hash = sha256_hex(model_bytes);
    if hash != proof.model_sha256.to_ascii_lowercase() {
        return invalid(format!(
            "model hash mismatch: the proof is for a model with SHA-256 {}, this model's is {hash}",
            proof.model_sha256
        ));
    }
    check_shapes(net, proof)?;
    let (lb, ub) = (&proof.region.lb, &proof.region.ub);
    let b = &proof.bounds;
    let layers = net.layers();
    let col_abs = bounds::weight_column_sums(net);
    // Every claimed bound, from the region and the bounds of the layers before it.
    for k in 0..layers.len() {
        let (dl, du) = LayerBounds {
            lb,
            ub,
            lower: &b.lower[..k],
            upper: &b.upper[..k],
            slopes: &b.slopes,
            col_abs: &col_abs,
        }
        .layer(net, k);
        for i in 0..layers[k].n_out {
            let (cl, cu) = (b.lower[k][i], b.upper[k][i]);
            if !(cl <= dl[i]) {
                return invalid(format!(
                    "neuron bound not implied: layer {k} neuron {i} claims lower bound {cl:e}, the region and earlier bounds give only {:e}",
                    dl[i]
                ));
            }
            if !(cu >= du[i]) {
                return invalid(format!(
                    "neuron bound not implied: layer {k} neuron {i} claims upper bound {cu:e}, the region and earlier bounds give only {:e}",
                    du[i]
                ));
            }
        }
    }
    let all = LayerBounds {
        lb,
        ub,
        lower: &b.lower,
        upper: &b.upper,
        slopes: &b.slopes,
        col_abs: &col_abs,
    };
    let c = proof.class;
    let tau = proof.margin;
    let k_out = net.output_size();
    let mut listed = vec![false; k_out];
    for comp in &proof.competitors {
        let j = comp.class;
        if j >= k_out {
            return invalid(format!(
                "competitor class {j} does not exist (the model has {k_out} classes)"
            ));
        }
        if j == c {
            return invalid(format!(
                "class {c} is both the proved class and a competitor"
            ));
        }
        if std::mem::replace(&mut listed[j], true) {
            return invalid(format!("competitor class {j} is listed twice"));
        }
    }
    if let Some(j) = (0..k_out).find(|&j| j != c && !listed[j]) {
        return invalid(format!(
            "competitor class {j} is not ruled out (the proof has no entry for it)"
        ));
    }
    let cols = leaf::Columns::new(net, lb, ub, &b.lower, &b.upper);
    let mut out = Checked {
        class: c,
        margin: tau,
        by_bounds: 0,
        by_branching: 0,
        leaves: 0,
    };
    for comp in &proof.competitors {
        let j = comp.class;
        match &comp.by {
            By::Bounds => {
                let m = all.margin_upper(net, c, j);
                if !(m < -tau) {
                    return invalid(format!(
                        "class {c} vs {j}: the bound of y_{j} - y_{c} over the region is {m:e}, not below -τ = {:e}",
                        -tau
                    ));
                }
                out.by_bounds += 1;
            }
            By::BranchAndBound { leaves } => {
                // (Bounds the tree's depth before walking it.)
                if let Some(n) = leaves.iter().position(|l| l.fix.len() > cols.phases()) {
                    return invalid(format!(
                        "class {c} vs {j}, leaf {n}: more fixings than the {} unstable ReLUs",
                        cols.phases()
                    ));
                }
                leaf::check_tree(leaves).map_err(|e| Invalid(format!("class {c} vs {j}: {e}")))?;
                let t = leaf::Target { c, j, tau };
                leaves
                    .par_iter()
                    .enumerate()
                    .try_for_each(|(n, l)| {
                        leaf::check_leaf(net, &cols, &b.lower, &b.upper, l, &t).map_err(|e| (n, e))
                    })
                    .map_err(|(n, e)| Invalid(format!("class {c} vs {j}, leaf {n}: {e}")))?;
                out.by_branching += 1;
                out.leaves += leaves.len();
            }
        }
    }
    Ok(out)
}

fn check_shapes(net: &Network, proof: &Proof) -> Result<(), Invalid> {
    let d = net.input_size();
    let (lb, ub) = (&proof.region.lb, &proof.region.ub);
    if lb.len() != d || ub.len() != d {
        return invalid(format!(
            "the region has {} / {} coordinates but the model takes {d} inputs",
            lb.len(),
            ub.len()
        ));
    }
    if let Some(i) = (0..d).find(|&i| !(lb[i] <= ub[i] && lb[i].is_finite() && ub[i].is_finite())) {
        return invalid(format!(
            "region coordinate {i} is not a finite interval: [{}, {}]",
            lb[i], ub[i]
        ));
    }
    let k_out = net.output_size();
    if proof.class >= k_out {
        return invalid(format!(
            "class {} does not exist (the model has {k_out} classes)",
            proof.class
        ));
    }
    if !(proof.margin.is_finite() && proof.margin >= 0.0) {
        return invalid(format!(
            "the safety margin τ = {} is not a finite number >= 0",
            proof.margin
        ));
    }
    let b = &proof.bounds;
    let layers = net.layers();
    if b.lower.len() != layers.len()
        || b.upper.len() != layers.len()
        || b.slopes.len() != layers.len()
    {
        return invalid(format!(
            "the bounds cover {} / {} / {} layers but the model has {}",
            b.lower.len(),
            b.upper.len(),
            b.slopes.len(),
            layers.len()
        ));
    }
    for (k, layer) in layers.iter().enumerate() {
        let n = layer.n_out;
        let slopes = if layer.relu { n } else { 0 };
        if b.lower[k].len() != n || b.upper[k].len() != n || b.slopes[k].len() != slopes {
            return invalid(format!(
                "layer {k}: bounds for {} / {} neurons and {} slopes; the layer has {n} neurons{}",
                b.lower[k].len(),
                b.upper[k].len(),
                b.slopes[k].len(),
                if layer.relu {
                    " and a ReLU"
                } else {
                    " and no ReLU (no slopes)"
                }
            ));
        }
        if let Some(i) = (0..n).find(|&i| !(b.lower[k][i].is_finite() && b.upper[k][i].is_finite()))
        {
            return invalid(format!("layer {k} neuron {i}: a non-finite bound"));
        }
        if let Some(i) = (0..slopes).find(|&i| !(0.0..=1.0).contains(&b.slopes[k][i])) {
            return invalid(format!(
                "layer {k} neuron {i}: slope {} is not in [0, 1]",
                b.slopes[k][i]
            ));
        }
    }
    Ok(())
}

/// Checks that the proof's region contains the box that `ppnn verify --radius r` builds around
/// `x`: `[max(x - r, D.lb), min(x + r, D.ub)]`, computed as ppnn computes it (in f64).
pub fn require_ball(
    proof: &Proof,
    x: &[f64],
    r: f64,
    domain: (&[f64], &[f64]),
) -> Result<(), Invalid> {
    let (lb, ub) = (&proof.region.lb, &proof.region.ub);
    if x.len() != lb.len() {
        return invalid(format!(
            "the input has {} values, the proof's region {}",
            x.len(),
            lb.len()
        ));
    }
    for i in 0..x.len() {
        let want_lo = (x[i] - r).max(domain.0[i]);
        let want_hi = (x[i] + r).min(domain.1[i]);
        if !(lb[i] <= want_lo && want_hi <= ub[i]) {
            return invalid(format!(
                "the proof's region does not contain the L∞ ball of radius {r} around the input: feature {i} needs [{want_lo}, {want_hi}], the region has [{}, {}]",
                lb[i], ub[i]
            ));
        }
    }
    Ok(())
}

/// The largest `r` (rounded down) such that the region contains the exact L∞ ball of radius `r`
/// around `x` intersected with the domain; `None` when `x` is outside the region or every face
/// lies on the domain's boundary.
pub fn proved_radius(proof: &Proof, x: &[f64], domain: (&[f64], &[f64])) -> Option<f64> {
    let (lb, ub) = (&proof.region.lb, &proof.region.ub);
    let mut r = f64::INFINITY;
    for i in 0..x.len().min(lb.len()) {
        if !(lb[i] <= x[i] && x[i] <= ub[i]) {
            return None;
        }
        if lb[i] > domain.0[i] {
            r = r.min(round::dn(x[i] - lb[i]));
        }
        if ub[i] < domain.1[i] {
            r = r.min(round::dn(ub[i] - x[i]));
        }
    }
    r.is_finite().then_some(r.max(0.0))
}
