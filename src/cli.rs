//! The `ppnn` command line: parses arguments, loads files with context, calls the library and
//! prints results. All the logic lives in the library; this module only adds context to errors
//! (anyhow) and chooses exit codes.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};
use serde_json::json;

use crate::certificate::Certificate;
use crate::certify::{Algorithm, Params, Progress};
use crate::io::{format_rows, read_input_file, write_files, InputFile};
use crate::milp::solver::Engine;
use crate::network::{load_onnx, margin_of, Network};
use crate::oracle::{MilpOracle, MilpStrategy, Oracle, OracleSettings, Question, Verdict};
use crate::region::Hyperbox;

/// Exit code of `verify` when the box is proved robust.
pub const EXIT_ROBUST: i32 = 0;
/// Exit code of `verify` when a counterexample was found.
pub const EXIT_VIOLATED: i32 = 10;
/// Exit code of `verify` when the question stayed open.
pub const EXIT_UNKNOWN: i32 = 20;

#[derive(Parser, Debug)]
#[command(
    name = "ppnn",
    version,
    about = "Exact robustness certifications (boxes) for ReLU classifiers, by MILP"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Show a model's layers, sizes and what the importer folded or dropped.
    Info {
        /// ONNX model file.
        model: PathBuf,
    },
    /// Classify an input.
    Predict {
        /// ONNX model file.
        model: PathBuf,
        /// Input file (numbers separated by whitespace/commas, any rows).
        input: PathBuf,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Decide whether a box around an input is robust (exit 0), violated (10) or unknown (20).
    Verify(VerifyArgs),
    /// Compute a certification (a box around the input on which the class provably holds).
    Certify(CertifyArgs),
    /// Run algorithms over many inputs in parallel, appending one JSON line per (input,
    /// algorithm) to a results file; rerunning resumes.
    Batch(BatchArgs),
    /// Summarise a results file: tables per algorithm, and plots.
    Summarize(SummarizeArgs),
}

#[derive(Args, Debug)]
struct BatchArgs {
    /// ONNX model file.
    model: PathBuf,
    /// Input files, or directories (every .csv inside).
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
    /// Algorithms, comma-separated.
    #[arg(long, value_name = "NAME[,NAME...]", default_value = "apothem")]
    algo: String,
    /// Results file (JSON lines); pairs already in it are skipped.
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
    /// Pairs run in parallel (default: the number of cores).
    #[arg(long, value_name = "N")]
    jobs: Option<usize>,
    /// Check each input against the labels.txt (or predictions.txt) beside it; a mismatch is
    /// recorded as an error line.
    #[arg(long)]
    class_from_labels: bool,
    #[command(flatten)]
    algo_args: AlgoArgs,
    /// Oracle options; --timeout is per (input, algorithm) pair here.
    #[command(flatten)]
    oracle: OracleArgs,
}

#[derive(Args, Debug)]
struct SummarizeArgs {
    /// Results file written by `ppnn batch`.
    results: PathBuf,
    /// Output format.
    #[arg(long, value_name = "md|csv", default_value = "md")]
    format: String,
    /// Write a PNG of the minimum edge lengths per algorithm.
    #[arg(long, value_name = "FILE.png")]
    plot: Option<PathBuf>,
    /// Write a PNG of the time per input per algorithm (log scale).
    #[arg(long, value_name = "FILE.png")]
    time_plot: Option<PathBuf>,
}

/// Options shared by every command that asks the oracle.
#[derive(Args, Debug, Clone)]
pub struct OracleArgs {
    /// Input domain D: one range `LO,HI` for every feature (default 0,1).
    #[arg(long, value_name = "LO,HI", allow_hyphen_values = true)]
    domain: Option<String>,
    /// Per-feature domain lower bounds (file in the input's format); needs --domain-ub.
    #[arg(long, value_name = "FILE", requires = "domain_ub")]
    domain_lb: Option<PathBuf>,
    /// Per-feature domain upper bounds (file in the input's format); needs --domain-lb.
    #[arg(long, value_name = "FILE", requires = "domain_lb")]
    domain_ub: Option<PathBuf>,
    /// Safety margin τ: robust means y_c - y_j > τ everywhere in the box.
    #[arg(long, value_name = "TAU", default_value_t = crate::oracle::DEFAULT_MARGIN, allow_hyphen_values = true)]
    margin: f64,
    /// Time limit in seconds for the whole run (answers become `unknown` when it strikes).
    #[arg(long, value_name = "SECS", allow_hyphen_values = true)]
    timeout: Option<f64>,
    /// Time limit in seconds for each MILP question.
    #[arg(long, value_name = "SECS", allow_hyphen_values = true)]
    query_timeout: Option<f64>,
    /// MILP formulation: one MILP per competing class in parallel, or one disjunctive MILP.
    #[arg(long, value_name = "NAME", default_value = "per-class")]
    strategy: String,
    /// Exact solver: `bab` (our branch and bound over HiGHS LPs) or `highs` (HiGHS's MIP solver).
    #[arg(long, value_name = "NAME", default_value = "bab")]
    engine: String,
}

#[derive(Args, Debug)]
struct VerifyArgs {
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
    #[command(flatten)]
    oracle: OracleArgs,
}

/// Options of the certification algorithms.
#[derive(Args, Debug, Clone)]
pub struct AlgoArgs {
    /// Step δ of the δ-algorithms (the paper's setting is 0.1).
    #[arg(
        long,
        value_name = "D",
        default_value_t = 0.1,
        allow_hyphen_values = true
    )]
    delta: f64,
    /// Stopping tolerance of the exact algorithms (width of the final bracket).
    #[arg(
        long,
        value_name = "T",
        default_value_t = 1e-6,
        allow_hyphen_values = true
    )]
    tolerance: f64,
    /// Distance restriction R: every box lies within L∞ distance R of the input.
    #[arg(
        long,
        value_name = "R",
        default_value_t = 1.0,
        allow_hyphen_values = true
    )]
    radius_limit: f64,
    /// Maximum number of oracle questions.
    #[arg(long, value_name = "N")]
    max_iter: Option<usize>,
    /// Gap η of completeness questions: dual boxes are proved complete beyond η and reported
    /// enlarged by it.
    #[arg(
        long,
        value_name = "ETA",
        default_value_t = 1e-6,
        allow_hyphen_values = true
    )]
    eta: f64,
    /// Face order of the depth-first expansions: upper-first (all upper faces, then all lower
    /// faces), lower-first or interleaved.
    #[arg(long, value_name = "ORDER", default_value = "upper-first")]
    face_order: String,
}

#[derive(Args, Debug)]
struct CertifyArgs {
    /// ONNX model file.
    model: PathBuf,
    /// Input file x*.
    input: PathBuf,
    /// Algorithm (see `--algo help`).
    #[arg(long, value_name = "NAME", default_value = "apothem")]
    algo: String,
    /// The class to certify (default: the class of x*; must equal it).
    #[arg(long, value_name = "C")]
    class: Option<usize>,
    #[command(flatten)]
    algo_args: AlgoArgs,
    #[command(flatten)]
    oracle: OracleArgs,
    /// Write NAME_lb.csv, NAME_ub.csv (in the input's layout) and NAME.json into DIR.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Base name of the output files (default: the input file's stem).
    #[arg(long, value_name = "NAME", requires = "out")]
    name: Option<String>,
    /// With --out: also write PNG pictures of x*, lb and ub (image-shaped inputs).
    #[arg(long, requires = "out")]
    images: bool,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
    /// With --json: add per-face states and the counterexample.
    #[arg(long)]
    verbose: bool,
}

/// Runs the CLI on `std::env::args`; returns the process exit code.
pub fn run() -> i32 {
    let cli = Cli::parse();
    match dispatch(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", error_message(&e));
            1
        }
    }
}

/// The error and its causes, joined by ": ", leaving out a cause whose text the message
/// already quotes (our typed errors name their underlying I/O error themselves).
fn error_message(e: &anyhow::Error) -> String {
    let mut msg = e.to_string();
    for cause in e.chain().skip(1) {
        let c = cause.to_string();
        if !msg.contains(&c) {
            msg.push_str(": ");
            msg.push_str(&c);
        }
    }
    msg
}

fn dispatch(cli: Cli) -> Result<i32> {
    match cli.command {
        Command::Info { model } => info(&model),
        Command::Predict { model, input, json } => predict(&model, &input, json),
        Command::Verify(args) => verify(args),
        Command::Certify(args) => certify(args),
        Command::Batch(args) => batch(args),
        Command::Summarize(args) => summarize(args),
    }
}

/// Loads a model with the file named in any error.
pub fn load_model(path: &Path) -> Result<Network> {
    Ok(load_onnx(path)?)
}

/// Reads an input of the model's size.
pub fn load_input(path: &Path, net: &Network) -> Result<InputFile> {
    let f = read_input_file(path)?;
    if f.values.is_empty() {
        bail!("input file '{}' is empty (no values)", path.display());
    }
    if f.values.len() != net.input_size() {
        bail!(
            "input file '{}' has {} values but the model takes {} (shape {:?})",
            path.display(),
            f.values.len(),
            net.input_size(),
            net.input_shape()
        );
    }
    Ok(f)
}

/// The domain D from the options (default `[0,1]^d`), checked to contain `x`.
pub fn domain_from(args: &OracleArgs, net: &Network, x: &[f64], input: &Path) -> Result<Hyperbox> {
    let d = net.input_size();
    let domain = if let (Some(lbf), Some(ubf)) = (&args.domain_lb, &args.domain_ub) {
        let lb = load_input(lbf, net)?.values;
        let ub = load_input(ubf, net)?.values;
        Hyperbox::new(lb, ub)
            .with_context(|| format!("domain bounds '{}' / '{}'", lbf.display(), ubf.display()))?
    } else if let Some(spec) = &args.domain {
        let parts: Vec<&str> = spec.split(',').map(str::trim).collect();
        let [lo, hi] = parts.as_slice() else {
            bail!("--domain expects LO,HI (e.g. 0,1), got '{spec}'");
        };
        let lo: f64 = lo
            .parse()
            .with_context(|| format!("--domain: '{lo}' is not a number"))?;
        let hi: f64 = hi
            .parse()
            .with_context(|| format!("--domain: '{hi}' is not a number"))?;
        if !lo.is_finite() || !hi.is_finite() {
            bail!("--domain bounds must be finite, got '{spec}'");
        }
        Hyperbox::uniform(d, lo, hi).with_context(|| format!("--domain {spec}"))?
    } else {
        Hyperbox::unit(d)
    };
    if let Some(i) = (0..d).find(|&i| !(domain.lb()[i] <= x[i] && x[i] <= domain.ub()[i])) {
        bail!(
            "input '{}' lies outside the domain: feature {i} is {} but the domain is [{}, {}]",
            input.display(),
            x[i],
            domain.lb()[i],
            domain.ub()[i]
        );
    }
    Ok(domain)
}

/// Oracle settings from the options.
pub fn settings_from(args: &OracleArgs, start: Instant) -> Result<OracleSettings> {
    if !(args.margin.is_finite() && args.margin >= 0.0) {
        bail!("--margin must be a finite number >= 0, got {}", args.margin);
    }
    let secs = |name: &str, v: Option<f64>| -> Result<Option<Duration>> {
        match v {
            None => Ok(None),
            Some(s) if s.is_finite() && s > 0.0 => Ok(Some(Duration::from_secs_f64(s))),
            Some(s) => bail!("{name} must be a positive number of seconds, got {s}"),
        }
    };
    let timeout = secs("--timeout", args.timeout)?;
    let strategy = match args.strategy.as_str() {
        "per-class" => MilpStrategy::PerClass,
        "disjunctive" => MilpStrategy::Disjunctive,
        other => bail!("--strategy must be 'per-class' or 'disjunctive', got '{other}'"),
    };
    let engine = match args.engine.as_str() {
        "bab" => Engine::BranchAndBound,
        "highs" => Engine::Highs,
        other => bail!("--engine must be 'bab' or 'highs', got '{other}'"),
    };
    Ok(OracleSettings {
        engine,
        margin: args.margin,
        query_timeout: secs("--query-timeout", args.query_timeout)?,
        deadline: timeout.map(|t| start + t),
        strategy,
        ..OracleSettings::default()
    })
}

/// The class to certify: the prediction at `x`, which a given `--class` must match.
pub fn resolve_class(
    net: &Network,
    x: &[f64],
    given: Option<usize>,
    input: &Path,
) -> Result<usize> {
    let k = net.output_size();
    if let Some(c) = given {
        if c >= k {
            bail!(
                "--class {c} is out of range: the model has {k} classes (0..{})",
                k - 1
            );
        }
    }
    let logits = net.forward(x);
    let Some(pred) = crate::network::unique_argmax(&logits) else {
        bail!(
            "the network gives no unique class at input '{}' (tied top logits)",
            input.display()
        );
    };
    match given {
        Some(c) if c != pred => bail!(
            "input '{}' is classified {pred}, not {c} (--class must be the predicted class)",
            input.display()
        ),
        _ => Ok(pred),
    }
}

/// Writes one file atomically (temporary name, then rename): no partial output on failure.
pub fn write_one(path: &Path, bytes: Vec<u8>) -> Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .with_context(|| format!("'{}' is not a file path", path.display()))?
        .to_string_lossy()
        .to_string();
    write_files(dir, &[(name, bytes)])?;
    Ok(())
}

fn info(model: &Path) -> Result<i32> {
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

fn predict(model: &Path, input: &Path, json: bool) -> Result<i32> {
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

fn verify(args: VerifyArgs) -> Result<i32> {
    let start = Instant::now();
    let net = load_model(&args.model)?;
    let input = load_input(&args.input, &net)?;
    let x = &input.values;
    let domain = domain_from(&args.oracle, &net, x, &args.input)?;
    let settings = settings_from(&args.oracle, start)?;
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
    let stats = oracle.stats();
    let time_s = start.elapsed().as_secs_f64();
    if args.json {
        let reason = match &verdict {
            Verdict::Unknown { reason, .. } => Some(reason.clone()),
            _ => None,
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
            Verdict::Unknown { reason, .. } => println!("unknown: {reason}"),
        }
        println!(
            "time: {time_s:.3} s (oracle calls {}, MILP solves {}, MILP time {:.3} s)",
            stats.calls, stats.milp_solves, stats.milp_time_s
        );
    }
    Ok(match verdict {
        Verdict::Holds { .. } => EXIT_ROBUST,
        Verdict::Violated { .. } => EXIT_VIOLATED,
        Verdict::Unknown { .. } => EXIT_UNKNOWN,
    })
}

/// Algorithm parameters from the options.
pub fn params_from(args: &AlgoArgs, settings: &OracleSettings) -> Result<Params> {
    if !(args.delta.is_finite() && args.delta > 0.0) {
        bail!("--delta must be a positive number, got {}", args.delta);
    }
    if !(args.tolerance.is_finite() && args.tolerance > 0.0) {
        bail!(
            "--tolerance must be a positive number, got {}",
            args.tolerance
        );
    }
    if !(args.radius_limit.is_finite() && args.radius_limit >= 0.0) {
        bail!(
            "--radius-limit must be a finite number >= 0, got {}",
            args.radius_limit
        );
    }
    if !(args.eta.is_finite() && args.eta > 0.0) {
        bail!("--eta must be a positive number, got {}", args.eta);
    }
    if args.max_iter == Some(0) {
        bail!("--max-iter must be at least 1");
    }
    let face_order = crate::certify::FaceOrder::from_name(&args.face_order).with_context(|| {
        format!(
            "--face-order must be upper-first, lower-first or interleaved, got '{}'",
            args.face_order
        )
    })?;
    Ok(Params {
        eta: args.eta,
        face_order,
        delta: args.delta,
        tolerance: args.tolerance,
        radius_limit: args.radius_limit,
        max_iter: args.max_iter,
        deadline: settings.deadline,
    })
}

/// Parses an algorithm name, listing the valid ones otherwise.
pub fn algorithm_from(name: &str) -> Result<Algorithm> {
    Algorithm::from_name(name).with_context(|| {
        let names: &[&str] = crate::certify::ALGORITHM_NAMES;
        format!(
            "unknown algorithm '{name}'; valid names: {}",
            names.join(", ")
        )
    })
}

/// A spinner on stderr that appears once a run has taken more than a second, when stdout is a
/// terminal.
struct Spinner {
    start: Instant,
    enabled: bool,
    bar: std::sync::Mutex<Option<indicatif::ProgressBar>>,
}

impl Spinner {
    fn new(enabled: bool) -> Self {
        Spinner {
            start: Instant::now(),
            enabled: enabled && std::io::IsTerminal::is_terminal(&std::io::stdout()),
            bar: std::sync::Mutex::new(None),
        }
    }
    fn finish(&self) {
        if let Some(b) = self.bar.lock().unwrap_or_else(|e| e.into_inner()).take() {
            b.finish_and_clear();
        }
    }
}

impl Progress for Spinner {
    fn update(&self, message: &str) {
        if !self.enabled || self.start.elapsed() < Duration::from_secs(1) {
            return;
        }
        let mut bar = self.bar.lock().unwrap_or_else(|e| e.into_inner());
        let b = bar.get_or_insert_with(|| {
            let b = indicatif::ProgressBar::new_spinner();
            b.enable_steady_tick(Duration::from_millis(120));
            b
        });
        b.set_message(message.to_string());
    }
}

/// The human summary of a certificate.
pub fn summary(c: &Certificate) -> String {
    let mut out = String::new();
    let status = serde_json::to_value(c.status)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    out.push_str(&format!(
        "class {}, algorithm {}: {status}\n",
        c.class, c.algorithm
    ));
    if let Some(r) = &c.region {
        match (c.apothem, c.apothem_upper) {
            (Some(a), Some(u)) => out.push_str(&format!(
                "apothem {a:.9} (nearest confirmed counterexample at {u:.9})\n"
            )),
            (Some(a), None) => out.push_str(&format!("apothem {a:.9}\n")),
            (None, _) => out.push_str("apothem: every face lies on the domain's boundary\n"),
        }
        if let Some(cr) = c.cyclic_radius {
            out.push_str(&format!("cyclic radius {cr:.9}\n"));
        }
        out.push_str(&format!(
            "min edge length {:.9}, non-trivial faces {} of {}, log10 volume {:.3}\n",
            r.min_edge(),
            c.nontrivial_faces.unwrap_or(0),
            2 * r.dim(),
            r.log10_volume()
        ));
    }
    if let Some(faces) = &c.faces {
        let count = |st: &str| faces.iter().filter(|f| f.state == st).count();
        out.push_str(&format!(
            "faces: {} at the bound, {} blocked by a counterexample, {} open\n",
            count("domain"),
            count("blocked"),
            count("open")
        ));
    }
    let s = &c.oracle;
    out.push_str(&format!(
        "oracle: {} calls (concrete {}, interval {}, attack {}, milp {}, unknown {}), {} MILP solves in {:.3} s\n",
        s.calls,
        s.by_method.concrete,
        s.by_method.interval,
        s.by_method.attack,
        s.by_method.milp,
        s.unknown,
        s.milp_solves,
        s.milp_time_s
    ));
    out.push_str(&format!(
        "safety margin τ = {:e}; total time {:.3} s\n",
        c.margin, c.time_s
    ));
    for n in &c.notes {
        out.push_str(&format!("note: {n}\n"));
    }
    out
}

fn certify(args: CertifyArgs) -> Result<i32> {
    let start = Instant::now();
    let algorithm = algorithm_from(&args.algo)?;
    let net = load_model(&args.model)?;
    let input = load_input(&args.input, &net)?;
    let x = &input.values;
    let domain = domain_from(&args.oracle, &net, x, &args.input)?;
    let settings = settings_from(&args.oracle, start)?;
    let params = params_from(&args.algo_args, &settings)?;
    let class = resolve_class(&net, x, args.class, &args.input)?;
    let name = match &args.name {
        Some(n) => n.clone(),
        None => args
            .input
            .file_stem()
            .map(|s| s.to_string_lossy().to_string())
            .unwrap_or_else(|| "certificate".to_string()),
    };
    let oracle = MilpOracle::new(&net, domain.clone(), settings);
    let spinner = Spinner::new(!args.json);
    let cert = crate::certify::certify(algorithm, &oracle, x, class, &params, Some(&spinner));
    spinner.finish();
    let model_s = args.model.display().to_string();
    let input_s = args.input.display().to_string();
    let json = cert.to_json(&model_s, &input_s, args.verbose);
    if let Some(dir) = &args.out {
        let mut files = vec![(
            format!("{name}.json"),
            serde_json::to_vec_pretty(&cert.to_json(&model_s, &input_s, true))?,
        )];
        if let Some(r) = &cert.region {
            files.push((
                format!("{name}_lb.csv"),
                format_rows(r.lb(), &input.rows).into_bytes(),
            ));
            files.push((
                format!("{name}_ub.csv"),
                format_rows(r.ub(), &input.rows).into_bytes(),
            ));
            if args.images {
                match crate::io::image_shape(&input.rows) {
                    Some(shape) => {
                        let (lo, hi) = (
                            domain.lb().iter().cloned().fold(f64::INFINITY, f64::min),
                            domain.ub().iter().cloned().fold(f64::NEG_INFINITY, f64::max),
                        );
                        for (suffix, v) in [("x", x.as_slice()), ("lb", r.lb()), ("ub", r.ub())] {
                            let file = format!("{name}_{suffix}.png");
                            files.push((file.clone(), crate::io::png_bytes(v, shape, lo, hi, &file)?));
                        }
                    }
                    None => eprintln!(
                        "warning: input '{}' is not image-shaped (rows of equal length); no pictures written",
                        args.input.display()
                    ),
                }
            }
        }
        write_files(dir, &files)
            .with_context(|| format!("writing results into '{}'", dir.display()))?;
    }
    if args.json {
        println!("{json}");
    } else {
        print!("{}", summary(&cert));
        if let Some(dir) = &args.out {
            println!("results written to {}/{name}*", dir.display());
        }
    }
    Ok(0)
}

fn batch(args: BatchArgs) -> Result<i32> {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    let start = Instant::now();
    let algorithms: Vec<Algorithm> = args
        .algo
        .split(',')
        .map(|n| algorithm_from(n.trim()))
        .collect::<Result<_>>()?;
    let net = load_model(&args.model)?;
    let inputs = crate::batch::collect_inputs(&args.inputs)?;
    let classes: Vec<Option<usize>> = if args.class_from_labels {
        crate::batch::classes_from_labels(&inputs)?
            .into_iter()
            .map(Some)
            .collect()
    } else {
        vec![None; inputs.len()]
    };
    let mut settings = settings_from(&args.oracle, start)?;
    let timeout = settings
        .deadline
        .map(|d| d.saturating_duration_since(start));
    settings.deadline = None;
    let mut params = params_from(&args.algo_args, &settings)?;
    params.deadline = None;
    let domain = match (&args.oracle.domain, &args.oracle.domain_lb) {
        (None, None) => Hyperbox::unit(net.input_size()),
        _ => {
            // Checked against the first readable input like `certify` does.
            let first = inputs
                .iter()
                .find_map(|p| load_input(p, &net).ok().map(|f| (p.clone(), f.values)))
                .with_context(|| "no readable input to check the domain against".to_string())?;
            domain_from(&args.oracle, &net, &first.1, &first.0)?
        }
    };
    let jobs = args
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    if jobs == 0 {
        bail!("--jobs must be at least 1");
    }
    let (done, warnings) = crate::batch::load_done(&args.out)?;
    for w in &warnings {
        eprintln!("warning: {w}");
    }
    let mut pairs = Vec::new();
    for (input, class) in inputs.iter().zip(&classes) {
        for a in &algorithms {
            let key = (input.display().to_string(), a.name());
            if !done.contains(&key) {
                pairs.push(crate::batch::Pair {
                    input: input.clone(),
                    class: *class,
                    algorithm: *a,
                });
            }
        }
    }
    let total = inputs.len() * algorithms.len();
    let skipped = total - pairs.len();
    eprintln!(
        "{} pairs ({} inputs x {} algorithms): {skipped} already in '{}', {} to run on {jobs} job(s)",
        total,
        inputs.len(),
        algorithms.len(),
        args.out.display(),
        pairs.len()
    );
    let appender = crate::batch::Appender::open(&args.out)?;
    let cancel = std::sync::Arc::new(AtomicBool::new(false));
    let presses = std::sync::Arc::new(AtomicUsize::new(0));
    {
        let cancel = cancel.clone();
        let presses = presses.clone();
        // A second Ctrl-C aborts at once (results stay consistent: lines are written whole).
        let _ = ctrlc::set_handler(move || {
            if presses.fetch_add(1, Ordering::SeqCst) == 0 {
                cancel.store(true, Ordering::SeqCst);
                eprintln!("\nstopping after the pairs in flight (Ctrl-C again to abort now)");
            } else {
                std::process::exit(130);
            }
        });
    }
    let bar = indicatif::ProgressBar::new(pairs.len() as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{wide_bar} {pos}/{len} pairs, unknown/errors {msg}, elapsed {elapsed}, eta {eta}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar.set_message("0");
    let progress = crate::batch::Progress::default();
    let cfg = crate::batch::BatchConfig {
        net: &net,
        model: args.model.display().to_string(),
        domain,
        settings,
        params,
        timeout,
        jobs,
    };
    let on_done = || {
        bar.inc(1);
        bar.set_message(progress.unknown.load(Ordering::Relaxed).to_string());
    };
    let recorded = crate::batch::run(&cfg, &pairs, &appender, &progress, &cancel, &on_done)?;
    bar.finish_and_clear();
    eprintln!(
        "{recorded} pairs recorded in '{}' ({} unknown or errors) in {:.1} s",
        args.out.display(),
        progress.unknown.load(Ordering::Relaxed),
        start.elapsed().as_secs_f64()
    );
    if cancel.load(Ordering::Relaxed) && recorded < pairs.len() {
        eprintln!("interrupted: rerun the same command to resume");
        return Ok(130);
    }
    Ok(0)
}

fn summarize(args: SummarizeArgs) -> Result<i32> {
    let text = std::fs::read_to_string(&args.results)
        .with_context(|| format!("cannot read results file '{}'", args.results.display()))?;
    let (records, warnings) = crate::summary::read_records(&text);
    for w in &warnings {
        eprintln!("warning: '{}' {w}", args.results.display());
    }
    if records.is_empty() {
        bail!("'{}' holds no result records", args.results.display());
    }
    let s = crate::summary::summarize(&records);
    match args.format.as_str() {
        "md" => print!("{}", crate::summary::markdown(&s)),
        "csv" => print!("{}", crate::summary::csv(&s)),
        other => bail!("--format must be md or csv, got '{other}'"),
    }
    let series = |f: &dyn Fn(&crate::summary::Record) -> Option<f64>| -> Vec<(String, Vec<f64>)> {
        s.iter()
            .map(|a| {
                let v = records
                    .iter()
                    .filter(|r| r.algorithm == a.algorithm && r.status != "error")
                    .filter_map(f)
                    .collect();
                (a.algorithm.clone(), v)
            })
            .collect()
    };
    let min_edge = |r: &crate::summary::Record| r.min_edge;
    let time = |r: &crate::summary::Record| Some(r.time_s);
    type Value<'a> = &'a dyn Fn(&crate::summary::Record) -> Option<f64>;
    let plots: [(&Option<PathBuf>, &str, &str, bool, Value); 2] = [
        (
            &args.plot,
            "Minimum edge length per algorithm",
            "min edge length",
            false,
            &min_edge,
        ),
        (
            &args.time_plot,
            "Time per input (log scale)",
            "seconds",
            true,
            &time,
        ),
    ];
    for (path, title, y_label, log, value) in plots {
        if let Some(p) = path {
            let png = crate::io::plot::strip_plot(
                title,
                y_label,
                &series(value),
                log,
                &p.display().to_string(),
            )?;
            write_one(p, png)?;
        }
    }
    Ok(0)
}
