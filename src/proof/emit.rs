//! Writing proofs for the solver's `Holds` answers.
//!
//! A proof is produced for one question "no point of `region` gives a competitor `j` a margin
//! `y_j - y_c >= -τ`": the solver's linear bounds name their lower slopes; the claimed neuron
//! bounds are derived from those slopes by the checker's own rules ([`crate::check::bounds`]),
//! so that they are exactly what the checker re-derives; competitors whose bound is below `-τ`
//! are proved by bounds, the others by our branch and bound over an encoding built on the same
//! bounds, recording every closed leaf's fixings and HiGHS's dual ray ([`LeafLog`]).
//! Producing a proof re-solves the question (in proof mode), so it costs about one more solve.

use rayon::prelude::*;

use super::{Bounds, By, Competitor, Leaf, Proof, Region, RowKind, FORMAT, VERSION};
use crate::bounds::NeuronBounds;
use crate::check::bounds::{derive, weight_column_sums, LayerBounds};
use crate::milp::encode::Encoding;
use crate::milp::leaflog::LeafLog;
use crate::milp::query;
use crate::milp::solver::{Engine, Limits, Status};
use crate::network::Network;
use crate::region::Hyperbox;

/// A proof, or why none could be written (the answer itself may still be proved).
pub type Emitted = std::sync::Arc<Result<Proof, String>>;

/// Proves that every point of `region` (already intersected with the domain) keeps class
/// `class` with margin above `tau`. `limits` bound the time (the engine is always our branch
/// and bound: HiGHS's MIP solver gives no certificates).
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
    let js: Vec<usize> = (0..net.output_size()).filter(|&j| j != class).collect();
    let closed: Vec<bool> = js
        .iter()
        .map(|&j| lb.margin_upper(net, class, j) < -tau)
        .collect();
    let mut competitors: Vec<Competitor> = Vec::new();
    if closed.iter().all(|&c| c) {
        competitors = js
            .iter()
            .map(|&j| Competitor {
                class: j,
                by: By::Bounds,
            })
            .collect();
    } else {
        let nb = NeuronBounds {
            lower: lower.clone(),
            upper: upper.clone(),
        };
        let enc = Encoding::new(net, region, &nb);
        let results: Vec<Result<Competitor, String>> = js
            .par_iter()
            .zip(&closed)
            .map(|(&j, &closed)| {
                if closed {
                    return Ok(Competitor {
                        class: j,
                        by: By::Bounds,
                    });
                }
                branch_and_bound(&enc, class, j, tau, limits).map(|leaves| Competitor {
                    class: j,
                    by: By::BranchAndBound { leaves },
                })
            })
            .collect();
        for r in results {
            competitors.push(r?);
        }
    }
    Ok(Proof {
        format: FORMAT.to_string(),
        version: VERSION,
        model_sha256: model_sha256.to_string(),
        class,
        margin: tau,
        region: Region {
            lb: region.lb().to_vec(),
            ub: region.ub().to_vec(),
        },
        center: center.map(<[f64]>::to_vec),
        bounds: Bounds {
            lower,
            upper,
            slopes,
        },
        competitors,
    })
}

/// The leaves of a branch-and-bound proof that `y_j - y_c >= -τ` has no point in `enc`.
fn branch_and_bound(
    enc: &Encoding,
    c: usize,
    j: usize,
    tau: f64,
    limits: &Limits,
) -> Result<Vec<Leaf>, String> {
    // The question's row `y_j - y_c >= -τ` comes right after the encoding's rows.
    let log = LeafLog::with_objective_row(enc.milp.rows.len());
    let limits = Limits {
        engine: Engine::BranchAndBound,
        leaves: Some(&log),
        ..limits.clone()
    };
    let ans = query::satisfy(enc, &[enc.margin(c, j)], tau, &limits)
        .map_err(|e| format!("class {c} vs {j}: solver error: {e}"))?;
    let state = log.take();
    if ans.outcome.status != Status::Infeasible {
        return Err(format!(
            "class {c} vs {j}: the proof search ended {:?}, not infeasible",
            ans.outcome.status
        ));
    }
    if let Some(gap) = state.gaps.first() {
        return Err(format!("class {c} vs {j}: {gap}"));
    }
    let neuron_of: std::collections::HashMap<usize, (usize, usize)> = enc
        .binaries
        .iter()
        .map(|b| (b.col, (b.layer, b.neuron)))
        .collect();
    let tags = &enc.row_tags;
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
                let (kind, k, i) = match tags.get(row) {
                    Some(&t) => t,
                    None if row == tags.len() => (RowKind::M, 0, 0),
                    None => {
                        return Err(
                            "a multiplier on a row the proof format does not know".to_string()
                        )
                    }
                };
                farkas.push((kind, k, i, y));
            }
            Ok(Leaf { fix, farkas })
        })
        .collect()
}
