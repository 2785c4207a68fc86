//! The independent proof checker behind `ppnn check`.
//!
//! It trusts the ONNX importer and the network type ([`crate::network`]) and the proof format
//! ([`crate::proof`]); nothing else of ppnn — no bounds code, no MILP code, no HiGHS. Every
//! number of a proof is an exact rational (an f64), and every derived quantity is computed in
//! outward-rounded arithmetic ([`round`]), so a `valid` answer does not depend on floating-point
//! luck, and approximate solver multipliers are fine as long as they prove the claim.
//!
//! What `valid` means: for the model whose bytes hash to `model_sha256`, the proof's claim
//! holds in exact real arithmetic on the model's weights (see [`crate::proof`] for each kind of
//! claim). Steps: the model hash; the claim's shape; the questions the claim asks, derived here
//! ([`claim`]), each covered by some refutation; then every part: its claimed neuron bounds,
//! layer by layer ([`bounds`]), and each refutation — a row bounded above τ, or a
//! branch-and-bound tree's coverage and each leaf's Farkas certificate ([`leaf`]).
//! Facts outside the proof (the input x*, a radius, the domain, a VNN-LIB file) are compared
//! with the claim by the command line, through [`require_ball`], [`require_questions`] and the
//! claim's fields.

// Acceptance tests are written `!(a <= b)` on purpose: a NaN anywhere must reject.
#![allow(clippy::neg_cmp_op_on_partial_ord)]

pub mod bounds;
pub mod claim;
pub mod leaf;
pub mod round;

use rayon::prelude::*;

use crate::network::Network;
use crate::proof::{sha256_hex, By, Claim, Part, Proof, Region, Row};
use bounds::LayerBounds;
use claim::{Question, Reg};

/// Why a proof was rejected.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct Invalid(pub String);

fn invalid<T>(msg: String) -> Result<T, Invalid> {
    Err(Invalid(msg))
}

/// What a valid proof established.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Checked {
    /// The claim, in words.
    pub claim: String,
    /// τ.
    pub margin: f64,
    /// Questions the claim asks (all covered).
    pub questions: usize,
    /// Parts checked.
    pub parts: usize,
    /// Refutations by bounds.
    pub by_bounds: usize,
    /// Refutations by branch and bound.
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
    check_claim(net, proof)?;
    let d = net.input_size();
    let regions: Vec<Reg> = proof
        .parts
        .iter()
        .enumerate()
        .map(|(n, p)| claim::resolve(&p.region, &proof.claim, d).map_err(|e| (n, e)))
        .collect::<Result<_, _>>()
        .map_err(|(n, e)| Invalid(format!("part {n}: {e}")))?;
    let questions = claim::questions(&proof.claim, net.output_size());
    claim::cover(proof, &regions, &questions).map_err(Invalid)?;
    let col_abs = bounds::weight_column_sums(net);
    let tau = proof.margin;
    let stats = proof
        .parts
        .par_iter()
        .zip(&regions)
        .enumerate()
        .map(|(n, (p, r))| {
            check_part(net, &col_abs, p, r, tau, &proof.claim).map_err(|e| {
                // (A sound box has one part: its messages name the competitor alone.)
                Invalid(match (&proof.claim, proof.parts.len()) {
                    (Claim::Sound { .. }, 1) => e,
                    _ => format!("part {n}: {e}"),
                })
            })
        })
        .collect::<Result<Vec<Checked>, Invalid>>()?;
    let mut out = Checked {
        claim: describe(&proof.claim, tau),
        margin: tau,
        questions: questions.len(),
        parts: proof.parts.len(),
        ..Checked::default()
    };
    for s in stats {
        out.by_bounds += s.by_bounds;
        out.by_branching += s.by_branching;
        out.leaves += s.leaves;
    }
    Ok(out)
}

/// Checks that the refutations of a (valid) `proof` also cover `questions` — those of a VNN-LIB
/// file read by the caller, so that a proof cannot answer an easier property than the file's.
pub fn require_questions(
    net: &Network,
    proof: &Proof,
    questions: &[Question],
) -> Result<(), Invalid> {
    let regions: Vec<Reg> = proof
        .parts
        .iter()
        .map(|p| claim::resolve(&p.region, &proof.claim, net.input_size()))
        .collect::<Result<_, _>>()
        .map_err(Invalid)?;
    claim::cover(proof, &regions, questions).map_err(Invalid)
}

/// The claim in words.
pub fn describe(c: &Claim, tau: f64) -> String {
    match c {
        Claim::Sound { class, .. } => {
            format!("class {class} wins by more than τ = {tau:e} on the region")
        }
        Claim::Complete { class, .. } => format!(
            "every point of the domain where class {class} is within τ = {tau:e} of the top lies in the box"
        ),
        Claim::Property { disjuncts, .. } => format!(
            "no input satisfies any of the property's {} disjuncts (each constraint relaxed by τ = {tau:e})",
            disjuncts.len()
        ),
    }
}

fn check_box(r: &Region, d: usize, what: &str) -> Result<(), Invalid> {
    if r.lb.len() != d || r.ub.len() != d {
        return invalid(format!(
            "{what} has {} / {} coordinates but the model takes {d} inputs",
            r.lb.len(),
            r.ub.len()
        ));
    }
    if let Some(i) =
        (0..d).find(|&i| !(r.lb[i] <= r.ub[i] && r.lb[i].is_finite() && r.ub[i].is_finite()))
    {
        return invalid(format!(
            "{what}: coordinate {i} is not a finite interval: [{}, {}]",
            r.lb[i], r.ub[i]
        ));
    }
    Ok(())
}

fn check_rows(rows: &[Row], d: usize, k_out: usize, what: &str) -> Result<(), String> {
    for row in rows {
        let bad_x = row.x.iter().any(|&(i, a)| i >= d || !a.is_finite());
        let bad_y = row.y.iter().any(|&(j, b)| j >= k_out || !b.is_finite());
        if bad_x || bad_y || !row.constant.is_finite() {
            return Err(format!(
                "{what}: the row {row} names an input or output the model does not have, or a non-finite number"
            ));
        }
        let c = row.canonical();
        if c.x.windows(2).any(|w| w[0].0 == w[1].0) || c.y.windows(2).any(|w| w[0].0 == w[1].0) {
            return Err(format!("{what}: the row {row} names a variable twice"));
        }
    }
    Ok(())
}

fn check_claim(net: &Network, proof: &Proof) -> Result<(), Invalid> {
    let (d, k_out) = (net.input_size(), net.output_size());
    if !(proof.margin.is_finite() && proof.margin >= 0.0) {
        return invalid(format!(
            "the safety margin τ = {} is not a finite number >= 0",
            proof.margin
        ));
    }
    let class_ok = |c: usize| {
        if c >= k_out {
            invalid(format!(
                "class {c} does not exist (the model has {k_out} classes)"
            ))
        } else {
            Ok(())
        }
    };
    match &proof.claim {
        Claim::Sound { class, region } => {
            class_ok(*class)?;
            check_box(region, d, "the region")
        }
        Claim::Complete {
            class,
            domain,
            region,
        } => {
            class_ok(*class)?;
            check_box(domain, d, "the domain")?;
            check_box(region, d, "the box")
        }
        Claim::Property { boxes, disjuncts } => {
            for (n, b) in boxes.iter().enumerate() {
                check_box(b, d, &format!("box {n}"))?;
            }
            for (n, dj) in disjuncts.iter().enumerate() {
                if dj.region >= boxes.len() {
                    return invalid(format!(
                        "disjunct {n} names box {}, which the claim does not have",
                        dj.region
                    ));
                }
                check_rows(&dj.rows, d, k_out, &format!("disjunct {n}")).map_err(Invalid)?;
            }
            Ok(())
        }
    }
}

fn check_bounds_shape(net: &Network, b: &crate::proof::Bounds) -> Result<(), String> {
    let layers = net.layers();
    if b.lower.len() != layers.len()
        || b.upper.len() != layers.len()
        || b.slopes.len() != layers.len()
    {
        return Err(format!(
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
            return Err(format!(
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
            return Err(format!("layer {k} neuron {i}: a non-finite bound"));
        }
        if let Some(i) = (0..slopes).find(|&i| !(0.0..=1.0).contains(&b.slopes[k][i])) {
            return Err(format!(
                "layer {k} neuron {i}: slope {} is not in [0, 1]",
                b.slopes[k][i]
            ));
        }
    }
    Ok(())
}

/// What a refutation is about, for messages: "class c vs j" for a soundness row.
fn name_of(claim: &Claim, rows: &[Row], n: usize) -> String {
    if let (Claim::Sound { class, .. }, [row]) = (claim, rows) {
        let c = row.canonical();
        if c.x.is_empty() && c.constant == 0.0 {
            if let [(a, pa), (b, pb)] = c.y[..] {
                let j = if a == *class { b } else { a };
                if ((pa, pb) == (1.0, -1.0) && a == *class)
                    || ((pa, pb) == (-1.0, 1.0) && b == *class)
                {
                    return format!("class {class} vs {j}");
                }
            }
        }
    }
    match rows {
        [row] => format!("refutation {n} ({row})"),
        _ => format!("refutation {n} ({} rows)", rows.len()),
    }
}

/// Checks one part: its region and bounds, then every refutation.
fn check_part(
    net: &Network,
    col_abs: &[Vec<f64>],
    part: &Part,
    region: &Reg,
    tau: f64,
    claim: &Claim,
) -> Result<Checked, String> {
    let d = net.input_size();
    check_box(
        &Region {
            lb: region.lb.clone(),
            ub: region.ub.clone(),
        },
        d,
        "the region",
    )
    .map_err(|e| e.0)?;
    let b = &part.bounds;
    check_bounds_shape(net, b)?;
    let (lb, ub) = (&region.lb, &region.ub);
    let layers = net.layers();
    // Every claimed bound, from the region and the bounds of the layers before it.
    for k in 0..layers.len() {
        let (dl, du) = LayerBounds {
            lb,
            ub,
            lower: &b.lower[..k],
            upper: &b.upper[..k],
            slopes: &b.slopes,
            col_abs,
        }
        .layer(net, k);
        for i in 0..layers[k].n_out {
            let (cl, cu) = (b.lower[k][i], b.upper[k][i]);
            if !(cl <= dl[i]) {
                return Err(format!(
                    "neuron bound not implied: layer {k} neuron {i} claims lower bound {cl:e}, the region and earlier bounds give only {:e}",
                    dl[i]
                ));
            }
            if !(cu >= du[i]) {
                return Err(format!(
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
        col_abs,
    };
    let cols = leaf::Columns::new(net, lb, ub, &b.lower, &b.upper);
    let mut out = Checked::default();
    for (n, r) in part.refuted.iter().enumerate() {
        let name = name_of(claim, &r.rows, n);
        check_rows(&r.rows, d, net.output_size(), &name)?;
        match &r.by {
            By::Bounds => {
                let best = r
                    .rows
                    .iter()
                    .map(|row| all.row_lower(net, row))
                    .fold(f64::NEG_INFINITY, f64::max);
                if !(best > tau) {
                    return Err(match &r.rows[..] {
                        [row] => format!(
                            "{name}: the lower bound of the row over the region is {best:e}, not above τ = {tau:e} ({} is not below -τ)",
                            negated(row)
                        ),
                        _ => format!(
                            "{name}: the best lower bound of its rows over the region is {best:e}, not above τ = {tau:e}"
                        ),
                    });
                }
                out.by_bounds += 1;
            }
            By::BranchAndBound { leaves } => {
                // (Bounds the tree's depth before walking it.)
                if let Some(n) = leaves.iter().position(|l| l.fix.len() > cols.phases()) {
                    return Err(format!(
                        "{name}, leaf {n}: more fixings than the {} unstable ReLUs",
                        cols.phases()
                    ));
                }
                leaf::check_tree(leaves).map_err(|e| format!("{name}: {e}"))?;
                let t = leaf::Target { rows: &r.rows, tau };
                leaves
                    .par_iter()
                    .enumerate()
                    .try_for_each(|(n, l)| {
                        leaf::check_leaf(net, &cols, &b.lower, &b.upper, l, &t).map_err(|e| (n, e))
                    })
                    .map_err(|(n, e)| format!("{name}, leaf {n}: {e}"))?;
                out.by_branching += 1;
                out.leaves += leaves.len();
            }
        }
    }
    Ok(out)
}

/// `-row` in words (`y_j - y_c` for the soundness row `y_c - y_j`), for messages.
fn negated(row: &Row) -> String {
    let neg = Row {
        x: row.x.iter().map(|&(i, a)| (i, -a)).collect(),
        y: row.y.iter().map(|&(j, b)| (j, -b)).collect(),
        constant: -row.constant,
    };
    neg.to_string().trim_end_matches(" <= τ").to_string()
}

/// The region of a soundness claim.
fn sound_region(proof: &Proof) -> Result<&Region, Invalid> {
    match &proof.claim {
        Claim::Sound { region, .. } => Ok(region),
        _ => invalid("the proof is not of a sound box (no radius to check)".to_string()),
    }
}

/// Checks that the proof's sound region contains the box that `ppnn verify --radius r` builds
/// around `x`: `[max(x - r, D.lb), min(x + r, D.ub)]`, computed as ppnn computes it (in f64).
pub fn require_ball(
    proof: &Proof,
    x: &[f64],
    r: f64,
    domain: (&[f64], &[f64]),
) -> Result<(), Invalid> {
    let region = sound_region(proof)?;
    let (lb, ub) = (&region.lb, &region.ub);
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

/// The largest `r` (rounded down) such that the sound region contains the exact L∞ ball of
/// radius `r` around `x` intersected with the domain; `None` when the proof is not of a sound
/// box, `x` is outside the region or every face lies on the domain's boundary.
pub fn proved_radius(proof: &Proof, x: &[f64], domain: (&[f64], &[f64])) -> Option<f64> {
    let region = sound_region(proof).ok()?;
    let (lb, ub) = (&region.lb, &region.ub);
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
