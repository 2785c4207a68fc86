//! Writing proofs for the solver's positive answers.
//!
//! A claim ([`Claim`]) asks questions "no point of a box satisfies every row of a conjunction";
//! the writer takes them from the checker's own derivation ([`crate::check::claim::questions`]),
//! so the parts it writes are exactly the ones the checker looks for. Per region (a part): the
//! solver's linear bounds name their lower slopes; the claimed neuron bounds are derived from
//! those slopes by the checker's own rules ([`crate::check::bounds`]), so that they are exactly
//! what the checker re-derives; a conjunction one of whose rows the checker's bound puts above
//! τ is refuted by bounds, the others by our branch and bound over an encoding built on the
//! same bounds, recording every closed leaf's fixings and HiGHS's dual ray ([`LeafLog`]).
//! Producing a proof re-solves the question (in proof mode, always with our branch and bound:
//! HiGHS's MIP solver gives no certificates), so it costs about one more solve.

use rayon::prelude::*;

use super::{
    property_claim, row_of, Bounds, By, Claim, Leaf, Part, PartRegion, Proof, Refutation, Region,
    Row, RowKind, FORMAT, VERSION,
};
use crate::bounds::NeuronBounds;
use crate::check::bounds::{derive, weight_column_sums, LayerBounds};
use crate::check::claim::{questions, Reg};
use crate::milp::encode::{Encoding, LinExpr};
use crate::milp::leaflog::LeafLog;
use crate::milp::query;
use crate::milp::solver::{Engine, Limits, Status};
use crate::network::Network;
use crate::property::{Constraint, Property};
use crate::region::Hyperbox;

/// A proof, or why none could be written (the answer itself may still be proved).
pub type Emitted = std::sync::Arc<Result<Proof, String>>;

/// Proves that every point of `region` (already intersected with the domain) keeps class
/// `class` with margin above `tau`. `limits` bound the time.
pub fn prove_sound(
    net: &Network,
    model_sha256: &str,
    region: &Hyperbox,
    class: usize,
    tau: f64,
    center: Option<&[f64]>,
    limits: &Limits,
) -> Result<Proof, String> {
    if region.dim() != net.input_size() || class >= net.output_size() {
        return Err("the question does not fit the model".to_string());
    }
    let claim = Claim::Sound {
        class,
        region: Region::of(region),
    };
    prove_claim(net, model_sha256, tau, claim, center, None, limits)
}

/// Proves `claim` (a sound box, or a dual box's completeness: see [`Claim::complete`]); for a
/// VNN-LIB property use [`prove_property`], which refutes only the rows its boxes do not imply.
pub fn prove(
    net: &Network,
    model_sha256: &str,
    tau: f64,
    claim: Claim,
    center: Option<&[f64]>,
    limits: &Limits,
) -> Result<Proof, String> {
    let (d, k) = (net.input_size(), net.output_size());
    let fits = |r: &Region| r.lb.len() == d && r.ub.len() == d;
    let ok = match &claim {
        Claim::Sound { class, region } => *class < k && fits(region),
        Claim::Complete {
            class,
            domain,
            region,
        } => *class < k && fits(domain) && fits(region),
        Claim::Property { boxes, .. } => boxes.iter().all(fits),
    };
    if !ok {
        return Err("the question does not fit the model".to_string());
    }
    prove_claim(net, model_sha256, tau, claim, center, None, limits)
}

/// Proves that no input satisfies `p` (every disjunct's constraints relaxed to `<= τ`): one
/// refutation per disjunct, of the constraints its box does not already imply (as the oracle
/// asks them), on one part per distinct box.
pub fn prove_property(
    net: &Network,
    model_sha256: &str,
    p: &Property,
    tau: f64,
    limits: &Limits,
) -> Result<Proof, String> {
    if p.n_in != net.input_size() || p.n_out != net.output_size() {
        return Err("the property does not fit the model".to_string());
    }
    let needed: Vec<Vec<Row>> = p
        .disjuncts
        .iter()
        .map(|d| d.rows().filter(|c| !c.is_bound()).map(row_of).collect())
        .collect();
    let claim = property_claim(p);
    prove_claim(net, model_sha256, tau, claim, None, Some(needed), limits)
}

/// Proves every question of `claim`; `rows[n]` (when given) are the rows to refute for question
/// `n` (a subset of its rows), by default all of them.
fn prove_claim(
    net: &Network,
    model_sha256: &str,
    tau: f64,
    claim: Claim,
    center: Option<&[f64]>,
    rows: Option<Vec<Vec<Row>>>,
    limits: &Limits,
) -> Result<Proof, String> {
    if !(tau.is_finite() && tau >= 0.0) {
        return Err(format!("the safety margin τ = {tau} is not >= 0"));
    }
    let qs = questions(&claim, net.output_size());
    // Group the questions by region: one part (one set of bounds) per region.
    let mut groups: Vec<(Reg, PartRegion, Vec<Vec<Row>>)> = Vec::new();
    let mut index: std::collections::HashMap<Vec<u64>, usize> = Default::default();
    for (n, q) in qs.into_iter().enumerate() {
        let r = match &rows {
            Some(rows) => rows.get(n).cloned().unwrap_or(q.rows),
            None => q.rows,
        };
        match index.get(&q.region.key()) {
            Some(&g) => groups[g].2.push(r),
            None => {
                index.insert(q.region.key(), groups.len());
                groups.push((q.region, q.refer, vec![r]));
            }
        }
    }
    let parts = groups
        .par_iter()
        .map(|(reg, refer, conj)| {
            let region = Hyperbox::new(reg.lb.clone(), reg.ub.clone())
                .map_err(|e| format!("a question's region: {e}"))?;
            let (bounds, refuted) = prove_part(net, &region, conj, tau, limits)?;
            Ok(Part {
                region: refer.clone(),
                bounds,
                refuted,
            })
        })
        .collect::<Result<Vec<Part>, String>>()?;
    Ok(Proof {
        format: FORMAT.to_string(),
        version: VERSION,
        model_sha256: model_sha256.to_string(),
        margin: tau,
        claim,
        center: center.map(<[f64]>::to_vec),
        parts,
    })
}

/// The bounds of `region` and a refutation of each conjunction on it.
fn prove_part(
    net: &Network,
    region: &Hyperbox,
    conjunctions: &[Vec<Row>],
    tau: f64,
    limits: &Limits,
) -> Result<(Bounds, Vec<Refutation>), String> {
    let solver = NeuronBounds::symbolic(net, region);
    let slopes = solver.lower_slopes(net);
    let (lower, upper) = derive(net, region.lb(), region.ub(), &slopes);
    let col_abs = weight_column_sums(net);
    let lb = LayerBounds {
        lb: region.lb(),
        ub: region.ub(),
        lower: &lower,
        upper: &upper,
        slopes: &slopes,
        col_abs: &col_abs,
    };
    // A row the checker's bound puts above τ refutes its conjunction alone.
    let by_bounds: Vec<Option<Row>> = conjunctions
        .iter()
        .map(|rows| rows.iter().find(|r| lb.row_lower(net, r) > tau).cloned())
        .collect();
    let mut enc: Option<Encoding> = None;
    if by_bounds.iter().any(Option::is_none) {
        let nb = NeuronBounds {
            lower: lower.clone(),
            upper: upper.clone(),
        };
        enc = Some(Encoding::new(net, region, &nb));
    }
    let refuted = conjunctions
        .par_iter()
        .zip(&by_bounds)
        .map(|(rows, row)| match (row, &enc) {
            (Some(row), _) => Ok(Refutation {
                rows: vec![row.clone()],
                by: By::Bounds,
            }),
            (None, Some(enc)) => {
                branch_and_bound(enc, rows, tau, limits).map(|leaves| Refutation {
                    rows: rows.clone(),
                    by: By::BranchAndBound { leaves },
                })
            }
            (None, None) => unreachable!("an encoding when some conjunction needs one"),
        })
        .collect::<Result<Vec<_>, String>>()?;
    Ok((
        Bounds {
            lower,
            upper,
            slopes,
        },
        refuted,
    ))
}

/// The leaves of a branch-and-bound proof that no point of `enc` has every `row <= τ`.
fn branch_and_bound(
    enc: &Encoding,
    rows: &[Row],
    tau: f64,
    limits: &Limits,
) -> Result<Vec<Leaf>, String> {
    let what = match rows {
        [r] => format!("{r}"),
        _ => format!("a conjunction of {} rows", rows.len()),
    };
    if rows.is_empty() {
        return Err("an empty conjunction cannot be refuted".to_string());
    }
    // Satisfactions `-row >= -τ`: one row is added as such right after the encoding's rows;
    // several as `s <= -row_k` with a column `s >= -τ` ([`query::member`]).
    let exprs: Vec<LinExpr> = rows
        .iter()
        .map(|r| {
            query::satisfaction(
                enc,
                &Constraint {
                    x: r.x.clone(),
                    y: r.y.clone(),
                    constant: r.constant,
                    strict: false,
                },
            )
        })
        .collect();
    let first = enc.milp.rows.len();
    let log = if rows.len() == 1 {
        LeafLog::with_objective_row(first)
    } else {
        LeafLog::with_objective_column(enc.milp.num_cols())
    };
    let limits = Limits {
        engine: Engine::BranchAndBound,
        leaves: Some(&log),
        ..limits.clone()
    };
    let ans = query::satisfy(enc, &exprs, tau, &limits)
        .map_err(|e| format!("{what}: solver error: {e}"))?;
    let state = log.take();
    if ans.outcome.status != Status::Infeasible {
        return Err(format!(
            "{what}: the proof search ended {:?}, not infeasible",
            ans.outcome.status
        ));
    }
    if let Some(gap) = state.gaps.first() {
        return Err(format!("{what}: {gap}"));
    }
    let neuron_of: std::collections::HashMap<usize, (usize, usize)> = enc
        .binaries
        .iter()
        .map(|b| (b.col, (b.layer, b.neuron)))
        .collect();
    let tags = &enc.row_tags;
    let single = rows.len() == 1;
    state
        .leaves
        .into_iter()
        .map(|rec| {
            let fix = rec
                .fix
                .iter()
                .map(|&(col, v)| {
                    let (k, i) = neuron_of
                        .get(&col)
                        .ok_or("a fixing of a column that is not a ReLU phase")?;
                    Ok((*k, *i, v))
                })
                .collect::<Result<Vec<_>, &str>>()?;
            let mut farkas = Vec::new();
            for (row, &y) in rec.multipliers.iter().enumerate() {
                if y == 0.0 {
                    continue;
                }
                let entry = match tags.get(row) {
                    Some(&(kind, k, i)) => (kind, k, i, y),
                    // `-row >= -τ` is `row <= τ` negated.
                    None if single && row == first => (RowKind::Q, 0, 0, -y),
                    // `s + row_k <= ...`, `s >= -τ`: the same multiplier (see `check::leaf`).
                    None if !single && row - first < rows.len() => (RowKind::Q, row - first, 0, y),
                    None => {
                        return Err(
                            "a multiplier on a row the proof format does not know".to_string()
                        )
                    }
                };
                farkas.push(entry);
            }
            Ok(Leaf { fix, farkas })
        })
        .collect()
}
