//! `ppnn-vnnlib`: the VNN-LIB 2.0 standard solver command line (chapter 5 of the standard).
//!
//! ```text
//! ppnn-vnnlib --name | --version
//! ppnn-vnnlib verify QUERY.vnnlib --network NAME=MODEL.onnx … [--timeout SECS]
//!             [--serialise-assignments DIR]
//! ppnn-vnnlib supports --CAPABILITY
//! ```
//!
//! stdout carries exactly the answer (`sat` | `unsat` | `unknown` | `timed-out`, then after
//! `sat` the assignment) or the capability; everything else goes to stderr. The decision logic
//! is [`crate::property::solve`].

use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::Parser;

use crate::network::load_model;
use crate::oracle::{OracleSettings, DEFAULT_MARGIN};
use crate::property::solve;
use crate::property::{read_vnnlib, Dialect, Kind};

/// The name `--name` prints.
pub const NAME: &str = "ppnn";

/// ONNX operators the importer folds exactly (one per line of `supports --onnx-operators`).
/// `Div` (by a constant only) and `Cast` (float to float only) are left out: the standard's
/// tests of them divide by a network value and cast to booleans, which are not affine.
pub const OPERATORS: &[&str] = &[
    "Add",
    "BatchNormalization",
    "Concat",
    "Constant",
    "ConstantOfShape",
    "Dropout",
    "Expand",
    "Flatten",
    "Gather",
    "Gemm",
    "Identity",
    "MatMul",
    "Mul",
    "Neg",
    "ReduceMean",
    "ReduceSum",
    "Relu",
    "Reshape",
    "Shape",
    "Slice",
    "Split",
    "Squeeze",
    "Sub",
    "Transpose",
    "Unsqueeze",
];

/// The answer to `supports CAPABILITY`, or `None` for an unknown capability.
pub fn capability(flag: &str) -> Option<String> {
    let lines = |v: &[&str]| v.iter().map(|s| format!("{s}\n")).collect::<String>();
    Some(match flag {
        "--onnx-opset-versions" => lines(&["13", "21"]),
        "--onnx-element-types" => lines(&["float32", "float64"]),
        "--onnx-operators" => lines(OPERATORS),
        "--vnnlib-versions" => lines(&["1.0", "2.0"]),
        "--hidden-node-theories" => lines(&["NH"]),
        "--multiple-input-output-theories" | "--multiple-inputs-output-theories" => {
            lines(&["SIO", "MIO"])
        }
        "--multiple-network-theories" => lines(&["SNET"]),
        "--multiple-node-comparison-theories" => lines(&["SNC", "MNC"]),
        "--arithmetic-complexity-theories" => lines(&["BND", "OUTC", "LIN"]),
        "--optimised-disjunctive-reasoning" => "false\n".to_string(),
        "--serialise-assignments" => "false\n".to_string(),
        _ => return None,
    })
}

/// The eleven capabilities, in the standard's order.
pub const CAPABILITIES: &[&str] = &[
    "--onnx-opset-versions",
    "--onnx-element-types",
    "--onnx-operators",
    "--vnnlib-versions",
    "--hidden-node-theories",
    "--multiple-input-output-theories",
    "--multiple-network-theories",
    "--multiple-node-comparison-theories",
    "--arithmetic-complexity-theories",
    "--optimised-disjunctive-reasoning",
    "--serialise-assignments",
];

#[derive(Parser, Debug)]
#[command(
    name = "ppnn-vnnlib verify",
    no_binary_name = true,
    about = "Decide a VNN-LIB query exactly (MILP over HiGHS).",
    after_help = "Element types: the analysis is exact over the reals with the safety margin τ. Queries declaring float32 (as VNN-COMP and the standard's test suite do) are accepted by default; a sat witness is then a float32 input re-checked in f32 and f64. --strict-types refuses every type but 'real', as the standard prescribes for a real-valued analysis.\n\nStrict < and > are decided like <= and >= for proofs (relaxed by τ), and exactly for witnesses; a point within τ of the boundary that does not re-check is 'unknown'."
)]
struct VerifyArgs {
    /// The query (.vnnlib or .vnnlib.gz, VNN-LIB 1.0 or 2.0).
    query: PathBuf,
    /// NAME=MODEL.onnx for each declared network (a 1.0 query takes one, any name).
    #[arg(long = "network", value_name = "NAME=FILE")]
    networks: Vec<String>,
    /// Seconds (decimals allowed); the answer is `timed-out` a little before.
    #[arg(long, value_name = "SECS", allow_hyphen_values = true)]
    timeout: Option<String>,
    /// Write the assignment into DIR (as `QUERY.assignment`) instead of stdout.
    #[arg(long, visible_alias = "assignments", value_name = "DIR")]
    serialise_assignments: Option<PathBuf>,
    /// Refuse element types other than `real`.
    #[arg(long)]
    strict_types: bool,
    /// Safety margin τ of the proofs.
    #[arg(long, value_name = "TAU", default_value_t = DEFAULT_MARGIN)]
    margin: f64,
    /// Also write a VNN-COMP results file (first line sat/unsat/timeout/unknown/error, then the
    /// counterexample).
    #[arg(long, value_name = "FILE")]
    vnncomp_results: Option<PathBuf>,
    /// After `unsat`, write a proof file that `ppnn check MODEL FILE --property QUERY` verifies
    /// independently (every disjunct of the query refuted).
    #[arg(long, value_name = "FILE")]
    unsat_proofs: Option<PathBuf>,
}

#[derive(Parser, Debug)]
#[command(
    name = "ppnn-vnnlib check",
    no_binary_name = true,
    about = "Check a proof of `unsat` written by `verify --unsat-proofs` (the VNN-LIB 2.0 draft's checker command line): prints `valid` or `invalid` (the reason on stderr)."
)]
struct CheckArgs {
    /// The query the proof answers (read by the checker itself).
    #[arg(long, value_name = "FILE")]
    query: PathBuf,
    /// The proof file.
    #[arg(long, value_name = "FILE")]
    proof: PathBuf,
    /// NAME=MODEL.onnx: the network (one).
    #[arg(long = "network", value_name = "NAME=FILE")]
    networks: Vec<String>,
}

/// `check`: one line `valid` (exit 0) or `invalid` (exit 1; the reason on stderr). This checker
/// has no proof holes and no time limit, so the draft's `holey` and `timed-out` never occur.
fn check(args: CheckArgs) -> Result<i32> {
    let [network] = &args.networks[..] else {
        bail!(
            "check takes exactly one --network NAME=MODEL, got {}",
            args.networks.len()
        );
    };
    let model = match network.split_once('=') {
        Some((_, path)) => PathBuf::from(path),
        None => bail!("--network expects NAME=MODEL, got '{network}'"),
    };
    match super::check::check_query(&model, &args.proof, &args.query)? {
        Ok(()) => {
            println!("valid");
            Ok(0)
        }
        Err(why) => {
            println!("invalid");
            eprintln!("{}: {why}", args.proof.display());
            Ok(1)
        }
    }
}

/// Refuses element types the analysis does not decide (all but real, float32, float64; with
/// `--strict-types` all but real). `constant_outputs`: outputs the graph computes as constants,
/// exact in any type.
fn check_types(
    args: &VerifyArgs,
    query: &crate::property::Query,
    constant_outputs: &[bool],
) -> Result<()> {
    let outputs: Vec<_> = query
        .of_kind(Kind::Output)
        .map(|v| v.name.clone())
        .collect();
    for v in &query.variables {
        // An output the graph computes as a constant (a Shape) is exact in any element type.
        let constant = v.kind == Kind::Output
            && query.dialect == Dialect::V2
            && outputs
                .iter()
                .position(|n| *n == v.name)
                .is_some_and(|k| constant_outputs.get(k) == Some(&true));
        let ok = constant
            || if args.strict_types {
                v.element_type == "real" || query.dialect == Dialect::V1
            } else {
                matches!(
                    v.element_type.as_str(),
                    "real" | "Real" | "float32" | "float64"
                )
            };
        if !ok {
            bail!(
                "{}: {} '{}' is declared {}; {}",
                args.query.display(),
                match v.kind {
                    Kind::Input => "input",
                    Kind::Hidden => "hidden node",
                    Kind::Output => "output",
                },
                v.name,
                v.element_type,
                if args.strict_types {
                    "--strict-types accepts only real (the analysis is over the reals)"
                } else {
                    "ppnn decides real, float32 and float64 queries (exactly over the reals, witnesses re-checked in float32)"
                }
            );
        }
    }

    Ok(())
}

/// Runs the standard CLI on `std::env::args`; returns the exit code.
pub fn run() -> i32 {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match dispatch(&args) {
        Ok(code) => code,
        Err(e) => {
            let mut msg = e.to_string();
            for cause in e.chain().skip(1) {
                let c = cause.to_string();
                if !msg.contains(&c) {
                    msg.push_str(": ");
                    msg.push_str(&c);
                }
            }
            eprintln!("error: {msg}");
            1
        }
    }
}

const USAGE: &str = "usage: ppnn-vnnlib (--name | --version | verify QUERY --network NAME=MODEL [--timeout SECS] [--serialise-assignments DIR] [--unsat-proofs FILE] | check --query QUERY --proof FILE --network NAME=MODEL | supports --CAPABILITY)";

fn dispatch(args: &[String]) -> Result<i32> {
    let out = |s: &str| -> Result<i32> {
        let mut o = std::io::stdout().lock();
        o.write_all(s.as_bytes())?;
        o.flush()?;
        Ok(0)
    };
    match args.first().map(String::as_str) {
        Some("--name") if args.len() == 1 => out(&format!("{NAME}\n")),
        Some("--version") if args.len() == 1 => out(&format!("{}\n", env!("CARGO_PKG_VERSION"))),
        Some("-h" | "--help") => {
            eprintln!("{USAGE}\ncapabilities: {}", CAPABILITIES.join(" "));
            Ok(0)
        }
        Some("supports") => {
            let [flag] = &args[1..] else {
                bail!(
                    "supports takes exactly one capability, one of: {}",
                    CAPABILITIES.join(" ")
                );
            };
            match capability(flag) {
                Some(s) => out(&s),
                None => bail!(
                    "unknown capability '{flag}'; the capabilities are: {}",
                    CAPABILITIES.join(" ")
                ),
            }
        }
        Some("check") => {
            let c = match CheckArgs::try_parse_from(&args[1..]) {
                Ok(c) => c,
                Err(e) if !e.use_stderr() => {
                    eprint!("{e}");
                    return Ok(0);
                }
                Err(e) => bail!("{}", e.to_string().trim_end().trim_start_matches("error: ")),
            };
            check(c)
        }
        Some("verify") => {
            let v = match VerifyArgs::try_parse_from(&args[1..]) {
                Ok(v) => v,
                Err(e) if !e.use_stderr() => {
                    eprint!("{e}");
                    return Ok(0);
                }
                Err(e) => bail!("{}", e.to_string().trim_end().trim_start_matches("error: ")),
            };
            verify(v)
        }
        _ => bail!("{USAGE}"),
    }
}

fn parse_timeout(s: &str) -> Result<f64> {
    let t: f64 = s
        .trim()
        .parse()
        .ok()
        .filter(|t: &f64| t.is_finite() && *t >= 0.0 && *t <= 1e9)
        .with_context(|| {
            format!("--timeout must be a number of seconds between 0 and 1e9, not '{s}'")
        })?;
    Ok(t)
}

fn verify(args: VerifyArgs) -> Result<i32> {
    let start = Instant::now();
    if !(args.margin.is_finite() && args.margin > 0.0 && args.margin < 1.0) {
        bail!("--margin must be in (0, 1), not {}", args.margin);
    }
    let timeout = args.timeout.as_deref().map(parse_timeout).transpose()?;
    // Answer a little before the caller's limit: 10% of it, between 0.2 s and 2 s.
    let deadline = timeout.map(|t| {
        let reserve = (0.1 * t).clamp(0.2, 2.0).min(t);
        start + Duration::from_secs_f64(t - reserve)
    });
    // A watchdog answers `timed-out` even if loading or a solve overruns the deadline.
    let printed = Arc::new(AtomicBool::new(false));
    if let (Some(d), Some(t)) = (deadline, timeout) {
        let printed = printed.clone();
        let results = args.vnncomp_results.clone();
        let hard = d + Duration::from_secs_f64(
            ((start + Duration::from_secs_f64(t)) - d).as_secs_f64() / 2.0,
        );
        std::thread::spawn(move || {
            let now = Instant::now();
            if hard > now {
                std::thread::sleep(hard - now);
            }
            if !printed.swap(true, Ordering::SeqCst) {
                let _ = writeln!(std::io::stdout().lock(), "timed-out");
                if let Some(r) = results {
                    let _ = std::fs::write(r, "timeout\n");
                }
                std::process::exit(0);
            }
        });
    }
    let query = read_vnnlib(&args.query)?;
    // The network mapping (section 5.3.2).
    let mut pairs: Vec<(String, PathBuf)> = Vec::new();
    for n in &args.networks {
        let Some((name, path)) = n.split_once('=') else {
            bail!("--network expects NAME=FILE, not '{n}'");
        };
        if pairs.iter().any(|(p, _)| p == name) {
            bail!("--network maps '{name}' more than once");
        }
        pairs.push((name.to_string(), PathBuf::from(path)));
    }
    let needed: Vec<&str> = query
        .networks
        .iter()
        .filter(|n| n.equal_to.is_none())
        .map(|n| n.name.as_str())
        .collect();
    let model_path = match query.dialect {
        Dialect::V1 => match pairs.as_slice() {
            [(_, p)] => p.clone(),
            _ => bail!(
                "a VNN-LIB 1.0 query is about one network: give exactly one --network NAME=FILE ({} given)",
                pairs.len()
            ),
        },
        Dialect::V2 => {
            for (name, _) in &pairs {
                if !needed.contains(&name.as_str()) {
                    bail!(
                        "--network maps '{name}', which {} does not declare (it declares: {})",
                        args.query.display(),
                        needed.join(", ")
                    );
                }
            }
            for n in &needed {
                if !pairs.iter().any(|(p, _)| p == n) {
                    bail!("network '{n}' of {} has no --network {n}=FILE", args.query.display());
                }
            }
            match pairs.as_slice() {
                [(_, p)] => p.clone(),
                _ => bail!(
                    "{}: ppnn supports one network per query (theory SNET); {} are declared",
                    args.query.display(),
                    query.networks.len()
                ),
            }
        }
    };
    let model = match load_model(&model_path) {
        Ok(m) => m,
        Err(e @ crate::network::ImportError::Node { .. }) => {
            // Not affine (a product of network values…): interval arithmetic may still
            // decide the query; otherwise the importer's message stands.
            let Ok(graph) = crate::network::interval::load_interval_graph(&model_path) else {
                return Err(e.into());
            };
            check_types(&args, &query, &[])?;
            eprintln!("note: {e}; deciding by interval arithmetic only");
            let decision = solve::decide_by_intervals(&query, &graph)?;
            if let (Some(file), solve::Answer::Unsat) = (&args.unsat_proofs, decision.answer) {
                eprintln!(
                    "note: no proof written to {}: proofs need an affine/ReLU network (this answer is by interval arithmetic on the graph)",
                    file.display()
                );
            }
            return finish(&args, &query, decision, start, &printed);
        }
        Err(e) => return Err(e.into()),
    };
    solve::check_mapping(&query, &model)?;
    check_types(&args, &query, &model.constant_outputs)?;

    let settings = OracleSettings {
        margin: args.margin,
        deadline,
        ..OracleSettings::default()
    };
    let decision = solve::decide(&query, &model, settings)?;
    if let (Some(file), solve::Answer::Unsat) = (&args.unsat_proofs, decision.answer) {
        write_unsat_proof(&args, &query, &model, &model_path, file, deadline)?;
    }
    finish(&args, &query, decision, start, &printed)
}

/// `--unsat-proofs FILE` after an `unsat`: the proof file of the property the query states
/// (every disjunct refuted; `ppnn check MODEL FILE --property QUERY` re-reads the query), or a
/// note on stderr saying why none can be written (the answer stands either way).
fn write_unsat_proof(
    args: &VerifyArgs,
    query: &crate::property::Query,
    model: &crate::network::onnx::Model,
    model_path: &std::path::Path,
    file: &std::path::Path,
    deadline: Option<Instant>,
) -> Result<()> {
    let net = &model.network;
    let property = query.property(net.input_size(), net.output_size())?;
    let hash = super::model_sha256(model_path)?;
    let limits = crate::milp::solver::Limits {
        deadline,
        ..Default::default()
    };
    match crate::proof::emit::prove_property(net, &hash, &property, args.margin, &limits) {
        Ok(p) => std::fs::write(file, p.to_json())
            .with_context(|| format!("cannot write the proof file {}", file.display())),
        Err(why) => {
            eprintln!("note: no proof written to {}: {why}", file.display());
            Ok(())
        }
    }
}

/// Prints the answer (and writes the assignment and the VNN-COMP results file).
fn finish(
    args: &VerifyArgs,
    query: &crate::property::Query,
    decision: solve::Decision,
    start: Instant,
    printed: &AtomicBool,
) -> Result<i32> {
    eprintln!(
        "{}: {} ({}); {} MILP solves{}, {:.3} s",
        args.query.display(),
        decision.answer.word(),
        decision.detail,
        decision.stats.milp_solves,
        super::tightening_note(&decision.stats),
        start.elapsed().as_secs_f64()
    );
    let mut text = format!("{}\n", decision.answer.word());
    let mut vnncomp = format!("{}\n", decision.answer.vnncomp_word());
    if let Some(w) = &decision.witness {
        let block = solve::assignment(query, w, decision.f32_values);
        match &args.serialise_assignments {
            Some(dir) => {
                let stem = args
                    .query
                    .file_name()
                    .map(|s| s.to_string_lossy().to_string())
                    .unwrap_or_else(|| "query".to_string());
                let path = dir.join(format!("{stem}.assignment"));
                std::fs::create_dir_all(dir)
                    .and_then(|_| std::fs::write(&path, &block))
                    .with_context(|| {
                        format!("cannot write the assignment to {}", path.display())
                    })?;
            }
            None => text += &block,
        }
        vnncomp += &solve::vnncomp_counterexample(w, decision.f32_values);
    }
    if printed.swap(true, Ordering::SeqCst) {
        // The watchdog answered already; it is exiting.
        std::thread::sleep(Duration::from_secs(5));
        return Ok(0);
    }
    if let Some(r) = &args.vnncomp_results {
        std::fs::write(r, &vnncomp)
            .with_context(|| format!("cannot write the results file {}", r.display()))?;
    }
    let mut o = std::io::stdout().lock();
    o.write_all(text.as_bytes())?;
    o.flush()?;
    Ok(0)
}
