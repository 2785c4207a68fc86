//! `check`: the independent proof checker's command line (see [`crate::check`]).

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;

use super::*;
use crate::proof::{Proof, ProofFileError};

#[derive(Args, Debug)]
pub(super) struct CheckArgs {
    /// ONNX model file (its SHA-256 must match the proof's).
    model: PathBuf,
    /// Proof file written by `--proof` / `--proofs`.
    proof: PathBuf,
    /// Input x*: the proof must be for the class the model gives it, and the box must contain it.
    #[arg(long, value_name = "FILE")]
    input: Option<PathBuf>,
    /// With --input: the box must contain the L∞ ball of this radius around x* (∩ the domain),
    /// as `ppnn verify --radius` builds it.
    #[arg(long, value_name = "R", requires = "input", allow_hyphen_values = true)]
    radius: Option<f64>,
    /// The domain D for --radius: `LO,HI` for every feature (default 0,1).
    #[arg(long, value_name = "LO,HI", allow_hyphen_values = true)]
    domain: Option<String>,
    /// After the verdict line, print what the proof established.
    #[arg(long)]
    verbose: bool,
}

/// Prints `valid` (exit 0) or `invalid: reason` (exit 1).
pub(super) fn check(args: CheckArgs) -> Result<i32> {
    let start = std::time::Instant::now();
    let bytes = std::fs::read(&args.model)
        .with_context(|| format!("cannot read model file '{}'", args.model.display()))?;
    // The network is parsed from the very bytes that were hashed.
    let net = crate::network::onnx::parse_onnx(&bytes, &args.model.display().to_string())?;
    let proof = match Proof::read(&args.proof) {
        Ok(p) => p,
        Err(e @ ProofFileError::Io { .. }) => return Err(e.into()),
        Err(e) => return Ok(invalid(&e.to_string())),
    };
    let x = match &args.input {
        Some(path) => Some(load_input(path, &net)?.values),
        None => None,
    };
    if let Some(x) = &x {
        let domain = domain_box(&args, &net)?;
        let class = resolve_class(
            &net,
            x,
            None,
            args.input.as_deref().unwrap_or(Path::new("")),
        )?;
        if class != proof.class {
            return Ok(invalid(&format!(
                "wrong class: the proof is for class {} but the model classifies the input as {class}",
                proof.class
            )));
        }
        if !(proof.region.lb.len() == x.len()
            && (0..x.len()).all(|i| proof.region.lb[i] <= x[i] && x[i] <= proof.region.ub[i]))
        {
            return Ok(invalid("the proof's region does not contain the input"));
        }
        if let Some(r) = args.radius {
            if !(r.is_finite() && r >= 0.0) {
                bail!("--radius must be a finite number >= 0, got {r}");
            }
            if let Err(e) = crate::check::require_ball(&proof, x, r, (domain.lb(), domain.ub())) {
                return Ok(invalid(&e.0));
            }
        }
    }
    match crate::check::check(&net, &bytes, &proof) {
        Ok(ok) => {
            println!("valid");
            if args.verbose {
                println!(
                    "class {} wins by more than τ = {:e} on the region; {} competitors by bounds, {} by branch and bound ({} leaves); checked in {:.3} s",
                    ok.class,
                    ok.margin,
                    ok.by_bounds,
                    ok.by_branching,
                    ok.leaves,
                    start.elapsed().as_secs_f64()
                );
                if let Some(x) = &x {
                    let domain = domain_box(&args, &net)?;
                    match crate::check::proved_radius(&proof, x, (domain.lb(), domain.ub())) {
                        Some(r) => println!("L∞ radius around the input: {r:e}"),
                        None => println!("every face of the region lies on the domain's boundary"),
                    }
                }
            }
            Ok(0)
        }
        Err(e) => Ok(invalid(&e.0)),
    }
}

fn invalid(reason: &str) -> i32 {
    println!("invalid: {reason}");
    1
}

fn domain_box(args: &CheckArgs, net: &Network) -> Result<Hyperbox> {
    let d = net.input_size();
    let Some(spec) = &args.domain else {
        return Ok(Hyperbox::unit(d));
    };
    let parts: Vec<f64> = spec
        .split(',')
        .map(|p| p.trim().parse::<f64>())
        .collect::<std::result::Result<_, _>>()
        .with_context(|| format!("--domain expects LO,HI (e.g. 0,1), got '{spec}'"))?;
    match parts.as_slice() {
        [lo, hi] if lo.is_finite() && hi.is_finite() => {
            Ok(Hyperbox::uniform(d, *lo, *hi).with_context(|| format!("--domain {spec}"))?)
        }
        _ => bail!("--domain expects two finite numbers LO,HI, got '{spec}'"),
    }
}
