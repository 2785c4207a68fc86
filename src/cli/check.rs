//! `check`: the independent proof checker's command line (see [`crate::check`]).

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;

use super::*;
use crate::proof::{Claim, Proof, ProofFileError};

#[derive(Args, Debug)]
pub(super) struct CheckArgs {
    /// ONNX model file (its SHA-256 must match the proof's).
    model: PathBuf,
    /// Proof file written by `--proof` / `--proofs`.
    proof: PathBuf,
    /// The VNN-LIB query file a proof of `unsat` answers (required for such proofs): the
    /// checker reads it itself and requires the proof to refute every one of its disjuncts.
    #[arg(long, visible_alias = "query", value_name = "FILE")]
    property: Option<PathBuf>,
    /// Input x*: the proof must be for the class the model gives it, and its box (a sound box or
    /// a dual box) must contain it.
    #[arg(long, value_name = "FILE")]
    input: Option<PathBuf>,
    /// With --input: the box must contain the L∞ ball of this radius around x* (∩ the domain),
    /// as `ppnn verify --radius` builds it.
    #[arg(long, value_name = "R", requires = "input", allow_hyphen_values = true)]
    radius: Option<f64>,
    /// The domain D for --radius, and the domain a completeness proof must cover: `LO,HI` for
    /// every feature (default 0,1).
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
    let domain = domain_box(&args, &net)?;
    let class_region = match &proof.claim {
        Claim::Sound { class, region } | Claim::Complete { class, region, .. } => {
            Some((*class, region))
        }
        Claim::Property { .. } => None,
    };
    if let Some(x) = &x {
        let Some((class, r)) = class_region else {
            bail!(
                "--input does not apply to a proof of a VNN-LIB property (its claim has no class)"
            );
        };
        let got = resolve_class(
            &net,
            x,
            None,
            args.input.as_deref().unwrap_or(Path::new("")),
        )?;
        if got != class {
            return Ok(invalid(&format!(
                "wrong class: the proof is for class {class} but the model classifies the input as {got}"
            )));
        }
        if !(r.lb.len() == x.len() && (0..x.len()).all(|i| r.lb[i] <= x[i] && x[i] <= r.ub[i])) {
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
    if let Claim::Complete { domain: d, .. } = &proof.claim {
        // "Every class point of D lies in the box" must speak of (at least) the domain asked.
        let covers = d.lb.len() == domain.dim()
            && (0..domain.dim()).all(|i| d.lb[i] <= domain.lb()[i] && domain.ub()[i] <= d.ub[i]);
        if !covers {
            return Ok(invalid(
                "the proof's domain does not contain the domain asked (default [0, 1] per feature; see --domain)",
            ));
        }
    }
    if let Some(path) = &args.property {
        if let Some(why) = property_gap(&net, &proof, path)? {
            return Ok(invalid(&why));
        }
    } else if matches!(proof.claim, Claim::Property { .. }) {
        bail!(
            "'{}' proves a VNN-LIB property: pass its query file with --property FILE (the checker reads the property from the file, not from the proof)",
            args.proof.display()
        );
    }
    match crate::check::check(&net, &bytes, &proof) {
        Ok(ok) => {
            println!("valid");
            if args.verbose {
                println!(
                    "{}; {} questions, {} parts: {} refuted by bounds, {} by branch and bound ({} leaves); checked in {:.3} s",
                    ok.claim,
                    ok.questions,
                    ok.parts,
                    ok.by_bounds,
                    ok.by_branching,
                    ok.leaves,
                    start.elapsed().as_secs_f64()
                );
                if let (Some(x), Claim::Sound { .. }) = (&x, &proof.claim) {
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

/// Why `proof` does not answer the VNN-LIB query in `path` (read with ppnn's reader), if it
/// does not: some disjunct of the file is not refuted by the proof.
fn property_gap(net: &Network, proof: &Proof, path: &Path) -> Result<Option<String>> {
    let query = crate::property::read_vnnlib(path)?;
    let p = query.property(net.input_size(), net.output_size())?;
    let questions =
        crate::check::claim::questions(&crate::proof::property_claim(&p), net.output_size());
    Ok(crate::check::require_questions(net, proof, &questions)
        .err()
        .map(|e| {
            format!(
                "the proof does not answer the property file '{}': {e}",
                path.display()
            )
        }))
}

/// `ppnn-vnnlib check --query Q --proof P --network N=MODEL` (the VNN-LIB 2.0 draft's checker
/// command line): `Ok(Ok(()))` for a valid proof of the query's `unsat`, `Ok(Err(reason))` for
/// an invalid one, `Err` when a file cannot be read.
pub fn check_query(
    model: &Path,
    proof: &Path,
    query: &Path,
) -> Result<std::result::Result<(), String>> {
    let bytes = std::fs::read(model)
        .with_context(|| format!("cannot read model file '{}'", model.display()))?;
    let net = crate::network::onnx::parse_onnx(&bytes, &model.display().to_string())?;
    let proof = match Proof::read(proof) {
        Ok(p) => p,
        Err(e @ ProofFileError::Io { .. }) => return Err(e.into()),
        Err(e) => return Ok(Err(e.to_string())),
    };
    if let Some(why) = property_gap(&net, &proof, query)? {
        return Ok(Err(why));
    }
    Ok(crate::check::check(&net, &bytes, &proof)
        .map(|_| ())
        .map_err(|e| e.0))
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
