//! Deciding a VNN-LIB query on a model, and writing its answer: the standard CLI's assignment
//! block and the VNN-COMP results file. The command lines only parse arguments around this.

use std::time::Instant;

use super::{Dialect, Kind, PropertyError, Query};
use crate::network::Model;
use crate::oracle::{MilpOracle, Oracle, OracleSettings, OracleStats, Question, Verdict, Witness};

/// The answer to a query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// A witness satisfies the query (re-checked exactly, f64 and f32).
    Sat,
    /// Proved: no input satisfies the query.
    Unsat,
    /// Neither (a near tie within τ, solver trouble).
    Unknown,
    /// The time limit struck first.
    TimedOut,
}

impl Answer {
    /// The standard CLI's result word.
    pub fn word(self) -> &'static str {
        match self {
            Answer::Sat => "sat",
            Answer::Unsat => "unsat",
            Answer::Unknown => "unknown",
            Answer::TimedOut => "timed-out",
        }
    }

    /// The VNN-COMP results file's first line.
    pub fn vnncomp_word(self) -> &'static str {
        match self {
            Answer::TimedOut => "timeout",
            other => other.word(),
        }
    }
}

/// A decided query.
#[derive(Debug, Clone)]
pub struct Decision {
    /// The answer.
    pub answer: Answer,
    /// The witness of `Sat`.
    pub witness: Option<Witness>,
    /// Why `Unknown` (or how it was decided).
    pub detail: String,
    /// What the oracle did.
    pub stats: OracleStats,
    /// Whether the witness's inputs are float32 values (then the reported outputs are the f32
    /// evaluation).
    pub f32_values: bool,
}

/// Checks that `query` speaks about `model` (inputs and outputs in order, element counts), and
/// refuses what ppnn does not decide (hidden nodes, several networks).
pub fn check_mapping(query: &Query, model: &Model) -> Result<(), PropertyError> {
    let unsupported = |message: String| PropertyError::Unsupported {
        path: query.path.clone(),
        message,
    };
    if query.networks.len() > 1 {
        return Err(unsupported(format!(
            "the query declares {} networks; ppnn supports one network per query (theory SNET)",
            query.networks.len()
        )));
    }
    if let Some(h) = query.of_kind(Kind::Hidden).next() {
        return Err(unsupported(format!(
            "the query declares the hidden node '{}'; hidden-node theory H is not supported (only NH)",
            h.name
        )));
    }
    if query.dialect == Dialect::V2 {
        for (kind, what, onnx) in [
            (Kind::Input, "input", &model.inputs),
            (Kind::Output, "output", &model.outputs),
        ] {
            let declared: Vec<_> = query.of_kind(kind).collect();
            if declared.len() != onnx.len() {
                return Err(unsupported(format!(
                    "the query declares {} {what}(s) but the model has {} ({})",
                    declared.len(),
                    onnx.len(),
                    onnx.iter()
                        .map(|o| o.0.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
            for (v, (name, shape)) in declared.iter().zip(onnx) {
                let n: usize = shape.iter().product();
                if v.numel() != n {
                    return Err(unsupported(format!(
                        "{what} '{}' is declared with shape {:?} ({} elements) but the model's {what} '{name}' has shape {shape:?} ({n} elements)",
                        v.name,
                        v.shape,
                        v.numel()
                    )));
                }
            }
        }
    }
    let (n_in, n_out) = (model.network.input_size(), model.network.output_size());
    if query.input_size() != n_in || query.output_size() != n_out {
        return Err(unsupported(format!(
            "the query declares {} input and {} output elements but the model has {n_in} inputs and {n_out} outputs",
            query.input_size(),
            query.output_size()
        )));
    }
    Ok(())
}

/// Decides `query` on `model`. `settings.deadline` bounds the run: past it the answer is
/// `TimedOut`, never a guess.
pub fn decide(
    query: &Query,
    model: &Model,
    settings: OracleSettings,
) -> Result<Decision, PropertyError> {
    check_mapping(query, model)?;
    let net = &model.network;
    let property = query.property(net.input_size(), net.output_size())?;
    let Some(hull) = property.hull() else {
        return Ok(Decision {
            answer: Answer::Unsat,
            witness: None,
            detail: "every disjunct of the input region is empty".to_string(),
            stats: OracleStats::default(),
            f32_values: property.f32_inputs,
        });
    };
    let deadline = settings.deadline;
    let oracle = MilpOracle::new(net, hull, settings);
    let verdict = oracle.decide(&Question::Exists {
        property: &property,
    });
    let stats = oracle.stats();
    let late = deadline.is_some_and(|d| Instant::now() >= d);
    let f32_values = property.f32_inputs;
    Ok(match verdict {
        Verdict::Holds { method, .. } => Decision {
            answer: Answer::Unsat,
            witness: None,
            detail: format!("proved by {method}"),
            stats,
            f32_values,
        },
        Verdict::Violated {
            witness, method, ..
        } => Decision {
            answer: Answer::Sat,
            detail: format!("witness found by {method}"),
            witness: Some(witness),
            stats,
            f32_values,
        },
        Verdict::Unknown {
            reason,
            closest,
            reached,
            ..
        } => Decision {
            answer: if late {
                Answer::TimedOut
            } else {
                Answer::Unknown
            },
            witness: None,
            detail: match crate::oracle::describe_bracket(closest.as_ref(), reached) {
                Some(bracket) => format!("{reason}; {bracket}"),
                None => reason,
            },
            stats,
            f32_values,
        },
    })
}

/// The output values to report for a witness: the f32 evaluation when inputs are float32
/// (what a float32 runtime computes), else the f64 one.
fn output_values(w: &Witness, f32_values: bool) -> Vec<f64> {
    if f32_values {
        w.logits_f32.iter().map(|&v| v as f64).collect()
    } else {
        w.logits.clone()
    }
}

/// The standard CLI's assignment block (section 5.3.1): per declared variable, in declaration
/// order, `NAME TYPE [d0,d1]` then one value per line (row-major). Values are printed in the
/// shortest form that reads back to the same double (float32 values exactly).
pub fn assignment(query: &Query, w: &Witness, f32_values: bool) -> String {
    let ys = output_values(w, f32_values);
    let mut out = String::new();
    for v in &query.variables {
        let dims: Vec<String> = v.shape.iter().map(|d| d.to_string()).collect();
        out += &format!("{} {} [{}]\n", v.name, v.element_type, dims.join(","));
        let src = match v.kind {
            Kind::Input => &w.x,
            Kind::Output => &ys,
            Kind::Hidden => continue,
        };
        for k in 0..v.numel() {
            out += &format!("{}\n", src[v.offset + k]);
        }
    }
    out
}

/// The VNN-COMP counterexample: `((X_0 v)` … `(Y_0 v))`, flat indices over all inputs, then all
/// outputs.
pub fn vnncomp_counterexample(w: &Witness, f32_values: bool) -> String {
    let ys = output_values(w, f32_values);
    let mut lines: Vec<String> =
        w.x.iter()
            .enumerate()
            .map(|(i, v)| format!("(X_{i} {v})"))
            .collect();
    lines.extend(ys.iter().enumerate().map(|(j, v)| format!("(Y_{j} {v})")));
    format!("({})\n", lines.join("\n "))
}

/// Decides `query` on a graph the importer cannot fold (a product or quotient of network
/// values) by interval arithmetic only: `Unsat` when output bounds exclude every disjunct;
/// `Sat` for a query over real inputs when a box's centre or corner satisfies it for every value
/// its (degenerate) output interval allows; otherwise `Unknown`. Never a guess.
pub fn decide_by_intervals(
    query: &Query,
    graph: &crate::network::interval::IntervalGraph,
) -> Result<Decision, PropertyError> {
    let unsupported = |message: String| PropertyError::Unsupported {
        path: query.path.clone(),
        message,
    };
    if query.networks.len() > 1 || query.of_kind(Kind::Hidden).next().is_some() {
        return Err(unsupported(
            "several networks and hidden nodes are not supported".to_string(),
        ));
    }
    let n_in: usize = graph
        .inputs
        .iter()
        .map(|(_, s)| s.iter().product::<usize>())
        .sum();
    if query.dialect == Dialect::V2 {
        let declared: Vec<_> = query.of_kind(Kind::Input).collect();
        if declared.len() != graph.inputs.len()
            || declared
                .iter()
                .zip(&graph.inputs)
                .any(|(v, (_, s))| v.numel() != s.iter().product::<usize>())
        {
            return Err(unsupported(
                "the declared inputs do not match the model's inputs".to_string(),
            ));
        }
    }
    let n_out = query.output_size();
    let property = query.property(n_in, n_out)?;
    let bound = |c: &super::Constraint, x: (&[f64], &[f64]), y: (&[f64], &[f64])| {
        // (lower, upper) of value over the boxes, widened for rounding.
        let (mut l, mut u, mut abs) = (c.constant, c.constant, c.constant.abs());
        for (terms, (lo, hi)) in [(&c.x, x), (&c.y, y)] {
            for &(i, a) in terms.iter() {
                let (p, q) = (a * lo[i], a * hi[i]);
                l += p.min(q);
                u += p.max(q);
                abs += p.abs().max(q.abs());
            }
        }
        let s = (c.x.len() + c.y.len() + 2) as f64 * f64::EPSILON * abs;
        (l - s, u + s)
    };
    let eval = |lo: &[f64], hi: &[f64]| -> Result<(Vec<f64>, Vec<f64>), PropertyError> {
        let (ylo, yhi) = graph.eval(lo, hi).map_err(|e| unsupported(e.to_string()))?;
        if ylo.len() != n_out {
            return Err(unsupported(format!(
                "the query declares {n_out} output elements but the model computes {}",
                ylo.len()
            )));
        }
        Ok((ylo, yhi))
    };
    let decision = |answer, detail: String, witness| Decision {
        answer,
        witness,
        detail,
        stats: OracleStats::default(),
        f32_values: property.f32_inputs,
    };
    let mut open = Vec::new();
    for d in &property.disjuncts {
        let (lo, hi) = (d.region.lb(), d.region.ub());
        let (ylo, yhi) = eval(lo, hi)?;
        let excluded = d.constraints.iter().any(|c| {
            let (l, _) = bound(c, (lo, hi), (&ylo, &yhi));
            l > 0.0 || (c.strict && l >= 0.0)
        });
        if !excluded {
            open.push(d);
        }
    }
    if open.is_empty() {
        return Ok(decision(
            Answer::Unsat,
            "proved by interval arithmetic on the (non-affine) graph".to_string(),
            None,
        ));
    }
    if !property.f32_inputs {
        for d in &open {
            for x in [
                d.region.center(),
                d.region.lb().to_vec(),
                d.region.ub().to_vec(),
            ] {
                let (ylo, yhi) = eval(&x, &x)?;
                let holds = d.constraints.iter().all(|c| {
                    let (_, u) = bound(c, (&x, &x), (&ylo, &yhi));
                    u < 0.0 || (!c.strict && u <= 0.0)
                });
                if holds {
                    let y: Vec<f64> = ylo.iter().zip(&yhi).map(|(a, b)| 0.5 * (a + b)).collect();
                    let w = Witness {
                        logits_f32: y.iter().map(|&v| v as f32).collect(),
                        logits: y,
                        x,
                        margin: 0.0,
                        margin_f32: 0.0,
                        competitor: 0,
                    };
                    return Ok(decision(
                        Answer::Sat,
                        "a point satisfies the query for every value of its output intervals"
                            .to_string(),
                        Some(w),
                    ));
                }
            }
        }
    }
    Ok(decision(
        Answer::Unknown,
        "the model is not affine/ReLU; interval arithmetic does not decide this query".to_string(),
        None,
    ))
}
