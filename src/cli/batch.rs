//! `batch` and `summarize`: resumable runs over many inputs, and their tables and plots.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::Args;

use super::*;
use crate::batch::{RunSettings, Shard};

#[derive(Args, Debug)]
pub(super) struct BatchArgs {
    /// ONNX model file.
    model: PathBuf,
    /// Input files, or directories (every .csv inside).
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
    /// Algorithms, comma-separated.
    #[arg(long, value_name = "NAME[,NAME...]", default_value = "apothem")]
    algo: String,
    /// Results file (JSON lines); pairs already in it are skipped. With a shard, the results go
    /// to `STEM.K-of-N.jsonl` beside it.
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
    /// Run only the K-th of N deterministic, balanced slices of the (input, algorithm) pairs
    /// (1 <= K <= N). Without it, a Slurm array task takes its slice from SLURM_ARRAY_TASK_ID,
    /// SLURM_ARRAY_TASK_MIN and SLURM_ARRAY_TASK_COUNT (or _MAX).
    #[arg(long, value_name = "K/N")]
    shard: Option<String>,
    /// Print the pairs this run would take (one `INPUT<TAB>ALGORITHM` per line) and stop:
    /// nothing is run or written.
    #[arg(long)]
    dry_run: bool,
    /// Pairs run in parallel (default: the number of cores).
    #[arg(long, value_name = "N")]
    jobs: Option<usize>,
    /// Check each input against the labels.txt (or predictions.txt) beside it; a mismatch is
    /// recorded as an error line.
    #[arg(long)]
    class_from_labels: bool,
    #[command(flatten)]
    algo_args: AlgoArgs,
    /// Write a proof of every certified sound box into DIR (`INPUT.ALGORITHM.proof.json`), for
    /// `ppnn check`; the result line names it (`proof`, or `proof_error`).
    #[arg(long, value_name = "DIR")]
    proofs: Option<PathBuf>,
    /// Oracle options; --timeout is per (input, algorithm) pair here.
    #[command(flatten)]
    oracle: OracleArgs,
}

#[derive(Args, Debug)]
pub(super) struct SummarizeArgs {
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
    /// Robustness distribution of the apothem runs (`--curve`, `--curve-csv`, `--compare`).
    #[command(flatten)]
    curve: super::score::CurveArgs,
}

pub(super) fn batch(args: BatchArgs) -> Result<i32> {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    let start = Instant::now();
    let algorithms: Vec<Algorithm> = args
        .algo
        .split(',')
        .map(|n| algorithm_from(n.trim()))
        .collect::<Result<_>>()?;
    let net = load_model(&args.model)?;
    let inputs = crate::batch::collect_inputs(&args.inputs)?;
    let classes = classes_of(&inputs, args.class_from_labels)?;
    let (settings, timeout) = per_pair_settings(&args.oracle, start)?;
    let mut params = params_from(&args.algo_args, &args.oracle, &settings)?;
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
    let jobs = jobs_from(args.jobs)?;
    let shard = match &args.shard {
        Some(spec) => Some(Shard::parse(spec)?),
        None => {
            let s = Shard::from_env(|k| std::env::var(k).ok())?;
            if let Some(s) = s {
                eprintln!("shard {s} from the Slurm array variables (SLURM_ARRAY_TASK_*)");
            }
            s
        }
    };
    let out = match shard {
        Some(s) => s.results_path(&args.out),
        None => args.out.clone(),
    };
    let plan = crate::batch::Plan::new(&inputs, &classes, &algorithms, shard);
    let matrix = &plan.matrix;
    if args.dry_run {
        for (input, algorithm) in plan.names() {
            println!("{input}\t{algorithm}");
        }
        eprintln!(
            "{} of {} pairs{} (dry run: nothing run or written; results would go to '{}')",
            plan.pairs.len(),
            matrix.len(),
            shard.map_or(String::new(), |s| format!(" in shard {s}")),
            out.display()
        );
        return Ok(0);
    }
    let model_sha256 = crate::batch::sha256_file(&args.model)?;
    let cfg = crate::batch::BatchConfig {
        net: &net,
        model: args.model.display().to_string(),
        domain,
        settings,
        params,
        timeout,
        jobs,
        proofs: match &args.proofs {
            Some(dir) => {
                std::fs::create_dir_all(dir).with_context(|| {
                    format!("cannot create proofs directory '{}'", dir.display())
                })?;
                Some((dir.clone(), model_sha256.clone()))
            }
            None => None,
        },
    };
    let run_settings = RunSettings::of(&cfg, &model_sha256, args.class_from_labels);
    let resumed = crate::batch::open_results(&out, &run_settings, matrix, shard)?;
    for w in &resumed.warnings {
        eprintln!("warning: {w}");
    }
    let pairs = plan.pending(&resumed.done);
    let total = plan.pairs.len();
    let skipped = total - pairs.len();
    eprintln!(
        "{} pairs ({} inputs x {} algorithms{}): {skipped} already in '{}', {} to run on {jobs} job(s)",
        total,
        matrix.inputs.len(),
        matrix.algorithms.len(),
        shard.map_or(String::new(), |s| format!(", shard {s} of {} pairs", matrix.len())),
        out.display(),
        pairs.len()
    );
    let appender = resumed.appender;
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
    let on_done = || {
        bar.inc(1);
        bar.set_message(progress.unknown.load(Ordering::Relaxed).to_string());
    };
    let recorded = crate::batch::run(&cfg, &pairs, &appender, &progress, &cancel, &on_done)?;
    bar.finish_and_clear();
    eprintln!(
        "{recorded} pairs recorded in '{}' ({} unknown or errors) in {:.1} s",
        out.display(),
        progress.unknown.load(Ordering::Relaxed),
        start.elapsed().as_secs_f64()
    );
    if cancel.load(Ordering::Relaxed) && recorded < pairs.len() {
        eprintln!("interrupted: rerun the same command to resume");
        return Ok(130);
    }
    Ok(0)
}

pub(super) fn summarize(args: SummarizeArgs) -> Result<i32> {
    let text = std::fs::read_to_string(&args.results)
        .with_context(|| format!("cannot read results file '{}'", args.results.display()))?;
    let (records, warnings) = crate::summary::read_records(&text);
    for w in &warnings {
        eprintln!("warning: '{}' {w}", args.results.display());
    }
    if records.is_empty() {
        bail!("'{}' holds no result records", args.results.display());
    }
    // Before any table is printed: a bad curve option leaves no partial output.
    super::score::curve(&args.curve, &text, &args.results, &args.format)?;
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
