//! `info`, `predict` and `verify`: questions about one model and one input.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::Args;
use serde_json::json;

use super::*;

#[derive(Args, Debug)]
pub(super) struct VerifyArgs {
    /// ONNX model file.
    model: PathBuf,
    /// Input file x*.
    input: PathBuf,
    /// Check the L∞ ball of this radius around x* (intersected with the domain).
    #[arg(long, value_name = "R", conflicts_with_all = ["lb", "ub"], allow_hyphen_values = true)]
    radius: Option<f64>,
    /// Lower corner of the box (file in the input's format).
    #[arg(long, value_name = "FILE", requires = "ub")]
    lb: Option<PathBuf>,
    /// Upper corner of the box (file in the input's format).
    #[arg(long, value_name = "FILE", requires = "lb")]
    ub: Option<PathBuf>,
    /// The class every point must keep (default: the class of x*; must equal it).
    #[arg(long, value_name = "C")]
    class: Option<usize>,
    /// Write the counterexample (if any) to this file, in the input's layout.
    #[arg(long, value_name = "FILE")]
    witness_out: Option<PathBuf>,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
    /// When robust, write a proof for `ppnn check` to this file.
    #[arg(long, value_name = "FILE")]
    proof: Option<PathBuf>,
    #[command(flatten)]
    oracle: OracleArgs,
}

pub(super) fn info(model: &Path) -> Result<i32> {
    let net = load_model(model)?;
    println!("model: {}", model.display());
    println!(
        "input: {} features (shape {:?}), output: {} classes",
        net.input_size(),
        net.input_shape(),
        net.output_size()
    );
    println!("layers (affine, then activation):");
    for (k, l) in net.layers().iter().enumerate() {
        println!(
            "  {k}: {} -> {}{}",
            l.n_in,
            l.n_out,
            if l.relu { ", ReLU" } else { "" }
        );
    }
    println!(
        "ReLU neurons (each may need one binary variable): {}",
        net.relu_count()
    );
    if net.notes().is_empty() {
        println!("importer: nothing dropped");
    } else {
        for n in net.notes() {
            println!("importer: {n}");
        }
    }
    Ok(0)
}

pub(super) fn predict(model: &Path, input: &Path, json: bool) -> Result<i32> {
    let net = load_model(model)?;
    let x = load_input(input, &net)?.values;
    let logits = net.forward(&x);
    let class = crate::network::unique_argmax(&logits);
    if json {
        println!("{}", json!({"class": class, "logits": logits}));
    } else {
        match class {
            Some(c) => {
                let (m, j) = margin_of(&logits, c);
                println!("class {c} (margin {m:.6} over class {j})");
            }
            None => println!("no unique class (tied top logits)"),
        }
        let l: Vec<String> = logits.iter().map(|v| format!("{v:.6}")).collect();
        println!("logits: [{}]", l.join(", "));
    }
    Ok(0)
}

pub(super) fn verify(args: VerifyArgs) -> Result<i32> {
    let start = Instant::now();
    let net = load_model(&args.model)?;
    let input = load_input(&args.input, &net)?;
    let x = &input.values;
    let domain = domain_from(&args.oracle, &net, x, &args.input)?;
    let mut settings = settings_from(&args.oracle, start)?;
    if args.proof.is_some() {
        settings.proofs = Some(model_sha256(&args.model)?);
    }
    let class = resolve_class(&net, x, args.class, &args.input)?;
    let region = match (args.radius, &args.lb, &args.ub) {
        (Some(r), _, _) => {
            if !(r.is_finite() && r >= 0.0) {
                bail!("--radius must be a finite number >= 0, got {r}");
            }
            Hyperbox::ball(x, r, &domain)
        }
        (None, Some(lbf), Some(ubf)) => {
            let lb = load_input(lbf, &net)?.values;
            let ub = load_input(ubf, &net)?.values;
            Hyperbox::new(lb, ub)
                .with_context(|| format!("box '{}' / '{}'", lbf.display(), ubf.display()))?
        }
        _ => bail!("give either --radius R or both --lb FILE and --ub FILE"),
    };
    let oracle = MilpOracle::new(&net, domain, settings);
    let verdict = oracle.decide(&Question::Sound {
        region: &region,
        class,
    });
    if let (Some(path), Some(w)) = (&args.witness_out, verdict.witness()) {
        write_one(path, format_rows(&w.x, &input.rows).into_bytes())?;
    }
    let proof_result = match (&args.proof, &verdict) {
        (Some(path), Verdict::Holds { proof: Some(p), .. }) => {
            let p = p.as_ref().clone().map(|mut p| {
                p.center = Some(x.clone());
                p
            });
            Some(write_proof(path, &p))
        }
        _ => None,
    };
    let stats = oracle.stats();
    let time_s = start.elapsed().as_secs_f64();
    if args.json {
        let (reason, closest, reached) = match &verdict {
            Verdict::Unknown {
                reason,
                closest,
                reached,
                ..
            } => (Some(reason.clone()), closest.as_ref(), *reached),
            _ => (None, None, None),
        };
        println!(
            "{}",
            json!({
                "model": args.model.display().to_string(),
                "input": args.input.display().to_string(),
                "verdict": verdict.name(),
                "method": verdict.method(),
                "class": class,
                "margin": oracle.margin(),
                "radius": args.radius,
                "time_s": time_s,
                "witness": verdict.witness(),
                "reason": reason,
                "closest": closest,
                "reached": reached,
                "oracle": stats,
            })
        );
    } else {
        match &verdict {
            Verdict::Holds { method, .. } => println!(
                "robust: every point of the box is classified {class} (proved by {method}, safety margin τ = {:e})",
                oracle.margin()
            ),
            Verdict::Violated {
                witness, method, ..
            } => {
                println!(
                    "violated: counterexample found by {method}, classified {} (margin of class {class}: {:.6e} in f64, {:.6e} in f32)",
                    witness.competitor, witness.margin, witness.margin_f32
                );
                if let Some(p) = &args.witness_out {
                    println!("witness written to {}", p.display());
                }
            }
            Verdict::Unknown {
                reason,
                closest,
                reached,
                ..
            } => {
                println!("unknown: {reason}");
                if let Some(b) = margin_bracket(class, closest.as_ref(), *reached) {
                    println!("{b}");
                }
            }
        }
        println!(
            "time: {time_s:.3} s (oracle calls {}, MILP solves {}, MILP time {:.3} s{})",
            stats.calls,
            stats.milp_solves,
            stats.milp_time_s,
            super::tightening_note(&stats)
        );
    }
    if let Some(r) = proof_result {
        r?;
        if !args.json {
            if let Some(p) = &args.proof {
                println!("proof written to {}", p.display());
            }
        }
    }
    Ok(match verdict {
        Verdict::Holds { .. } => EXIT_ROBUST,
        Verdict::Violated { .. } => EXIT_VIOLATED,
        Verdict::Unknown { .. } => EXIT_UNKNOWN,
    })
}

/// An `unknown` box's bracket in margins: its least margin `y_c - y_j` is at most the margin
/// at the closest point the searches found and at least minus the bound reached on `y_j - y_c`.
fn margin_bracket(
    class: usize,
    closest: Option<&crate::oracle::Closest>,
    reached: Option<crate::oracle::Reached>,
) -> Option<String> {
    let high = closest.map(|c| {
        let (m, j) = crate::network::margin_of(&c.logits, class);
        let (m32, _) = crate::network::margin_of(&c.logits_f32, class);
        format!("at most {m:.6} (at a point the attacks found, against class {j}; f32: {m32:.6})")
    });
    let low = reached.map(|r| format!("at least {:.6} ({})", -r.value, r.source()));
    let ends: Vec<String> = high.into_iter().chain(low).collect();
    (!ends.is_empty()).then(|| format!("least margin y_c - y_j over the box: {}", ends.join(", ")))
}
