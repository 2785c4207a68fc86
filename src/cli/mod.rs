//! The `ppnn` command line: parses arguments, loads files with context, calls the library and
//! prints results. All the logic lives in the library; this module only adds context to errors
//! (anyhow) and chooses exit codes.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};

use crate::certificate::Certificate;
use crate::certify::{Algorithm, Params, Progress};
use crate::io::{format_rows, read_input_file, write_files, InputFile};
use crate::milp::solver::{Engine, Workers};
use crate::network::{load_onnx, margin_of, Network};
use crate::oracle::{MilpOracle, MilpStrategy, Oracle, OracleSettings, Question, Verdict};
use crate::region::Hyperbox;

mod batch;
mod certify;
pub mod check;
mod groundtruth;
mod merge;
mod query;
mod score;
pub mod vnnlib;

use batch::{BatchArgs, SummarizeArgs};
pub use certify::summary;
use certify::CertifyArgs;
use check::CheckArgs;
use groundtruth::GroundtruthArgs;
use merge::MergeArgs;
pub use merge::EXIT_INCOMPLETE;
use query::VerifyArgs;
use score::ScoreArgs;

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
    /// Merge results files (the shards of a job array, or reruns) into one result per
    /// (input, algorithm): a decided result over `unknown`, then the first. Refuses files of
    /// different settings; reports pairs of the matrix that no file holds (exit 3).
    Merge(MergeArgs),
    /// Summarise a results file: tables per algorithm, and plots.
    Summarize(SummarizeArgs),
    /// Make a benchmark suite with a proved answer key (VNN-COMP layout): boxes at factors of
    /// each input's proved radius (unsat) and counterexample distance (sat).
    Groundtruth(GroundtruthArgs),
    /// Grade another verifier's results on a suite: right / wrong / unsolved per factor, the
    /// VNN-COMP score, every wrong answer with its evidence (exit 2 when any).
    Score(ScoreArgs),
    /// Check a proof file independently of the solver: prints `valid` (exit 0) or
    /// `invalid: reason` (exit 1).
    Check(CheckArgs),
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
    /// Switch stages off, to measure each on its own: attack (the quick gradient attack), pgd
    /// (the strong attack of deep networks), lp-tightening (LP bounds, with ideal-formulation
    /// cuts, of deep networks' later layers before each MILP: after a first MILP pass with 10%
    /// of the time limit, within half of what is left), cuts (the root's and those of LP
    /// tightening), pair-cuts (multi-neuron cuts over pairs of one layer's ReLUs, on networks
    /// with two or more ReLU layers), node-cuts (pair cuts at the tree's nodes too, not only at
    /// the root), node-bounds, dual-branching, helpers (a second branch-and-bound worker on a
    /// tree while a core is free),
    /// memo (reuse of competitors a MILP proved out on a box containing the question's), slide
    /// (linear-region LPs that move `maximal`'s refusing points towards their face),
    /// influence-order (`maximal`'s first pass in order of each face's influence on the
    /// margins, least first; off: in --face-order).
    #[arg(long, value_name = "STAGE[,STAGE...]")]
    disable: Option<String>,
    /// Switch stages back on after a --disable (every stage is on by default; lp-tightening
    /// was opt-in before, and `--enable lp-tightening` is still accepted).
    #[arg(long, value_name = "STAGE[,STAGE...]")]
    enable: Option<String>,
}

impl OracleArgs {
    /// Whether `--disable` names `stage`.
    fn disables(&self, stage: &str) -> bool {
        self.disable
            .iter()
            .flat_map(|s| s.split(','))
            .any(|s| s.trim() == stage)
    }
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

/// Lets a closed standard output end the process quietly, as it does for other command-line
/// tools (`ppnn info M | head -1`): Rust ignores SIGPIPE, and printing to a closed pipe would
/// otherwise panic.
pub fn restore_sigpipe() {
    #[cfg(unix)]
    // SAFETY: resets one signal's disposition to the default before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
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
        Command::Info { model } => query::info(&model),
        Command::Predict { model, input, json } => query::predict(&model, &input, json),
        Command::Verify(args) => query::verify(args),
        Command::Certify(args) => certify::certify(args),
        Command::Batch(args) => batch::batch(args),
        Command::Merge(args) => merge::merge(args),
        Command::Summarize(args) => batch::summarize(args),
        Command::Groundtruth(args) => groundtruth::groundtruth(args),
        Command::Score(args) => score::score(args),
        Command::Check(args) => check::check(args),
    }
}

/// The LP-tightening part of a time report (`", LP tightening N LPs in T s"`), empty when no
/// pass ran: on a deep network most of a long run can be tightening, which the MILP time alone
/// does not show.
fn tightening_note(s: &crate::oracle::OracleStats) -> String {
    if s.tightening_lps == 0 && s.tightening_time_s == 0.0 {
        return String::new();
    }
    format!(
        ", LP tightening {} LPs in {:.3} s",
        s.tightening_lps, s.tightening_time_s
    )
}

/// Loads a model with the file named in any error.
pub fn load_model(path: &Path) -> Result<Network> {
    Ok(load_onnx(path)?)
}

/// SHA-256 of a model file, for proof files.
pub fn model_sha256(path: &Path) -> Result<String> {
    let bytes = std::fs::read(path)
        .with_context(|| format!("cannot read model file '{}'", path.display()))?;
    Ok(crate::proof::sha256_hex(&bytes))
}

/// Writes the proof of a `Holds` answer to `path`; an error when none could be produced.
pub fn write_proof(
    path: &Path,
    proof: &std::result::Result<crate::proof::Proof, String>,
) -> Result<()> {
    match proof {
        Ok(p) => write_one(path, p.to_json().into_bytes()),
        Err(why) => bail!("the answer is proved, but no proof file could be written: {why}"),
    }
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
    // τ = 0 would rest every proof on the solver's own feasibility tolerances (1e-9), with no
    // band between a proof and a tie: refused, as the VNN-LIB command does.
    if !(args.margin.is_finite() && args.margin > 0.0) {
        bail!(
            "--margin must be a finite number > 0 (the safety margin of every proof), got {}",
            args.margin
        );
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
    let mut settings = OracleSettings {
        engine,
        margin: args.margin,
        query_timeout: secs("--query-timeout", args.query_timeout)?,
        deadline: timeout.map(|t| start + t),
        strategy,
        ..OracleSettings::default()
    };
    for stage in args.disable.iter().flat_map(|s| s.split(',')) {
        match stage.trim() {
            "attack" => settings.attack = None,
            "pgd" => settings.pgd = None,
            "lp-tightening" => settings.lp_tightening = false,
            "cuts" => settings.bab.cuts = false,
            "pair-cuts" => settings.bab.pair_cuts = false,
            "node-cuts" => settings.bab.node_cuts = false,
            "node-bounds" => settings.bab.node_bounds = false,
            "dual-branching" => settings.bab.dual_branching = false,
            "helpers" => settings.bab.workers = Workers::One,
            "memo" => settings.memo = false,
            "slide" => settings.slide = false,
            // A stage of `maximal` itself, read by `params_from`.
            "influence-order" => {}
            other => bail!(
                "--disable takes stages among attack, pgd, lp-tightening, cuts, pair-cuts, node-cuts, node-bounds, dual-branching, helpers, memo, slide, influence-order; got '{other}'"
            ),
        }
    }
    for stage in args.enable.iter().flat_map(|s| s.split(',')) {
        match stage.trim() {
            "attack" => settings.attack = Some(Default::default()),
            "pgd" => settings.pgd = Some(Default::default()),
            "lp-tightening" => settings.lp_tightening = true,
            "cuts" => settings.bab.cuts = true,
            "pair-cuts" => settings.bab.pair_cuts = true,
            "node-cuts" => settings.bab.node_cuts = true,
            "node-bounds" => settings.bab.node_bounds = true,
            "dual-branching" => settings.bab.dual_branching = true,
            "helpers" => settings.bab.workers = Workers::WhileCoresFree,
            "memo" => settings.memo = true,
            "slide" => settings.slide = true,
            "influence-order" => {}
            other => bail!(
                "--enable takes stages among attack, pgd, lp-tightening, cuts, pair-cuts, node-cuts, node-bounds, dual-branching, helpers, memo, slide, influence-order; got '{other}'"
            ),
        }
    }
    Ok(settings)
}

/// Parallel pairs: `--jobs`, by default the number of cores.
pub(crate) fn jobs_from(jobs: Option<usize>) -> Result<usize> {
    let jobs = jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    if jobs == 0 {
        bail!("--jobs must be at least 1");
    }
    Ok(jobs)
}

/// The class of each input of a run over many: from the `labels.txt` beside them, or left to
/// the prediction (`None`).
pub(crate) fn classes_of(inputs: &[PathBuf], from_labels: bool) -> Result<Vec<Option<usize>>> {
    Ok(if from_labels {
        crate::batch::classes_from_labels(inputs)?
            .into_iter()
            .map(Some)
            .collect()
    } else {
        vec![None; inputs.len()]
    })
}

/// Oracle settings for a run over many pairs: `--timeout` is per pair, so the run's deadline
/// becomes a per-pair time limit (returned) and each pair sets its own deadline.
pub(crate) fn per_pair_settings(
    args: &OracleArgs,
    start: Instant,
) -> Result<(OracleSettings, Option<Duration>)> {
    let mut settings = settings_from(args, start)?;
    let timeout = settings
        .deadline
        .map(|d| d.saturating_duration_since(start));
    settings.deadline = None;
    Ok((settings, timeout))
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

/// Algorithm parameters from the options.
pub fn params_from(
    args: &AlgoArgs,
    oracle: &OracleArgs,
    settings: &OracleSettings,
) -> Result<Params> {
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
    let influence_order = !oracle.disables("influence-order");
    Ok(Params {
        eta: args.eta,
        face_order,
        influence_order,
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
