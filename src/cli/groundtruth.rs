//! `groundtruth` (a benchmark suite with a proved answer key) and `score` (grading another
//! verifier's results on it).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::Args;
use rayon::prelude::*;

use super::*;
use crate::groundtruth::hidden::StrongAttack;
use crate::groundtruth::key::{answers_csv, instances_csv, KeyEntry, Suite, SuiteMeta};
use crate::groundtruth::score;
use crate::groundtruth::suite::{check_factors, clear_instances, prepare_dir, Bracket, Maker};
use crate::groundtruth::vnnlib::{real, Dialect};

/// Exit code of `score` when a wrong answer was found.
pub const EXIT_WRONG: i32 = 2;

#[derive(Args, Debug)]
pub(super) struct GroundtruthArgs {
    /// ONNX model file.
    model: PathBuf,
    /// Input files, or directories (every .csv inside).
    #[arg(required_unless_present = "inputs_from")]
    inputs: Vec<PathBuf>,
    /// A list of input files, one path per line (relative paths from the list's directory;
    /// `#` starts a comment), in addition to INPUTS.
    #[arg(long, value_name = "FILE")]
    inputs_from: Option<PathBuf>,
    /// The suite directory (created; a previous suite there is brought up to date, its exact
    /// brackets reused).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Radius factors: below 1 they scale the proved radius r_lo (answer unsat), above 1 the
    /// distance r_hi of the nearest counterexample (answer sat).
    #[arg(
        long,
        value_name = "F[,F...]",
        default_value = "0.5,0.9,0.99,1.01,1.1,2",
        allow_hyphen_values = true
    )]
    factors: String,
    /// VNN-LIB dialect of the property files: 1.0 (flat X_i, as VNN-COMP uses) or 2.0 (typed).
    #[arg(long, value_name = "1.0|2.0", default_value = "1.0")]
    format: String,
    /// Keep only sat instances on which a strong projected-gradient attack finds no
    /// counterexample (unsat instances are all kept).
    #[arg(long)]
    hidden: bool,
    /// Random restarts per target of the --hidden attack.
    #[arg(long, value_name = "N", default_value_t = StrongAttack::default().restarts)]
    attack_restarts: usize,
    /// Gradient steps per start of the --hidden attack.
    #[arg(long, value_name = "N", default_value_t = StrongAttack::default().steps)]
    attack_steps: usize,
    /// Time limit per instance written to instances.csv (seconds).
    #[arg(
        long,
        value_name = "SECS",
        default_value_t = 60.0,
        allow_hyphen_values = true
    )]
    instance_timeout: f64,
    /// Inputs run in parallel (default: the number of cores).
    #[arg(long, value_name = "N")]
    jobs: Option<usize>,
    /// Check each input against the labels.txt (or predictions.txt) beside it.
    #[arg(long)]
    class_from_labels: bool,
    /// Width of the exact bracket [r_lo, r_hi] to aim for.
    #[arg(long, value_name = "T", default_value_t = 1e-6)]
    tolerance: f64,
    /// Oracle options; --timeout is per input (each of the two steps).
    #[command(flatten)]
    oracle: OracleArgs,
}

#[derive(Args, Debug)]
pub(super) struct ScoreArgs {
    /// A suite directory made by `ppnn groundtruth`.
    suite: PathBuf,
    /// The tool's results: a VNN-COMP results.csv, or a directory of per-instance result files.
    results: PathBuf,
    /// `vnncomp-csv` or `dir` (default: `dir` for a directory, `vnncomp-csv` otherwise).
    #[arg(long, value_name = "vnncomp-csv|dir")]
    format: Option<String>,
    /// Write a PNG of right / wrong / unsolved answers per factor.
    #[arg(long, value_name = "FILE.png")]
    plot: Option<PathBuf>,
    /// Accept a sat counterexample at which the input's class still wins in f32 by at most
    /// this much (VNN-COMP's checker uses 1e-4; default 0: another class must really reach it).
    #[arg(
        long,
        value_name = "T",
        default_value_t = 0.0,
        allow_hyphen_values = true
    )]
    output_tolerance: f64,
    /// Write every graded instance as a JSON line (for `summarize --compare`).
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
}

fn jobs_from(jobs: Option<usize>) -> Result<usize> {
    let jobs = jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    if jobs == 0 {
        bail!("--jobs must be at least 1");
    }
    Ok(jobs)
}

fn bar(len: usize, what: &str) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(len as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template(&format!(
            "{{wide_bar}} {{pos}}/{{len}} {what}, elapsed {{elapsed}}, eta {{eta}}"
        ))
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar
}

pub(super) fn groundtruth(args: GroundtruthArgs) -> Result<i32> {
    let start = Instant::now();
    let factors: Vec<f64> = args
        .factors
        .split(',')
        .map(|f| {
            f.trim()
                .parse::<f64>()
                .with_context(|| format!("--factors: '{}' is not a number", f.trim()))
        })
        .collect::<Result<_>>()?;
    let factors = check_factors(&factors)?;
    let dialect = Dialect::from_name(&args.format)
        .with_context(|| format!("--format must be 1.0 or 2.0, got '{}'", args.format))?;
    if !(args.instance_timeout.is_finite() && args.instance_timeout > 0.0) {
        bail!(
            "--instance-timeout must be a positive number of seconds, got {}",
            args.instance_timeout
        );
    }
    if !(args.tolerance.is_finite() && args.tolerance > 0.0) {
        bail!(
            "--tolerance must be a positive number, got {}",
            args.tolerance
        );
    }
    if args.hidden && (args.attack_steps == 0) {
        bail!("--attack-steps must be at least 1");
    }
    let jobs = jobs_from(args.jobs)?;
    let net = load_model(&args.model)?;
    let mut paths = args.inputs.clone();
    if let Some(list) = &args.inputs_from {
        let text = std::fs::read_to_string(list)
            .with_context(|| format!("cannot read --inputs-from '{}'", list.display()))?;
        let base = list.parent().unwrap_or(Path::new("."));
        paths.extend(
            text.lines()
                .map(|l| l.split('#').next().unwrap_or("").trim())
                .filter(|l| !l.is_empty())
                .map(|l| base.join(l)),
        );
        if paths.is_empty() {
            bail!("--inputs-from '{}' lists no inputs", list.display());
        }
    }
    let inputs = crate::batch::collect_inputs(&paths)?;
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
    let domain = match (&args.oracle.domain, &args.oracle.domain_lb) {
        (None, None) => Hyperbox::unit(net.input_size()),
        _ => {
            let first = &inputs[0];
            let x = load_input(first, &net)?.values;
            domain_from(&args.oracle, &net, &x, first)?
        }
    };
    prepare_dir(&args.out)?;
    let model_name = args
        .model
        .file_name()
        .with_context(|| format!("'{}' is not a file path", args.model.display()))?
        .to_string_lossy()
        .to_string();
    let onnx = format!("onnx/{model_name}");
    std::fs::copy(&args.model, args.out.join(&onnx)).with_context(|| {
        format!(
            "cannot copy '{}' to '{}'",
            args.model.display(),
            args.out.join(&onnx).display()
        )
    })?;

    // Step 1: the exact bracket of every input, by `batch` (parallel, resumable).
    let brackets_path = args.out.join("key").join("brackets.jsonl");
    let (done, warnings) = crate::batch::load_done(&brackets_path)?;
    for w in &warnings {
        eprintln!("warning: {w}");
    }
    let algorithm = algorithm_from("apothem")?;
    let pairs: Vec<crate::batch::Pair> = inputs
        .iter()
        .zip(&classes)
        .filter(|(i, _)| !done.contains(&(i.display().to_string(), algorithm.name())))
        .map(|(i, c)| crate::batch::Pair {
            input: i.clone(),
            class: *c,
            algorithm,
        })
        .collect();
    eprintln!(
        "{} inputs: {} brackets already in '{}', {} to compute on {jobs} job(s)",
        inputs.len(),
        inputs.len() - pairs.len(),
        brackets_path.display(),
        pairs.len()
    );
    let cancel = std::sync::Arc::new(AtomicBool::new(false));
    {
        let cancel = cancel.clone();
        let presses = AtomicUsize::new(0);
        let _ = ctrlc::set_handler(move || {
            if presses.fetch_add(1, Ordering::SeqCst) == 0 {
                cancel.store(true, Ordering::SeqCst);
                eprintln!("\nstopping after the inputs in flight (Ctrl-C again to abort now)");
            } else {
                std::process::exit(130);
            }
        });
    }
    let params = crate::certify::Params {
        tolerance: args.tolerance,
        ..crate::certify::Params::default()
    };
    let cfg = crate::batch::BatchConfig {
        net: &net,
        model: args.model.display().to_string(),
        domain: domain.clone(),
        settings: settings.clone(),
        params,
        timeout,
        jobs,
    };
    let appender = crate::batch::Appender::open(&brackets_path)?;
    let progress = crate::batch::Progress::default();
    let b1 = bar(pairs.len(), "exact brackets");
    let on_done = || b1.inc(1);
    let recorded = crate::batch::run(&cfg, &pairs, &appender, &progress, &cancel, &on_done)?;
    b1.finish_and_clear();
    if cancel.load(Ordering::Relaxed) && recorded < pairs.len() {
        eprintln!("interrupted: rerun the same command to resume");
        return Ok(130);
    }

    // Step 2: the instances of every input, checked, in parallel.
    let text = std::fs::read_to_string(&brackets_path)
        .with_context(|| format!("cannot read '{}'", brackets_path.display()))?;
    let mut brackets: HashMap<String, Bracket> = HashMap::new();
    for line in text.lines() {
        if let Some(b) = serde_json::from_str(line)
            .ok()
            .as_ref()
            .and_then(Bracket::from_json)
        {
            brackets.insert(b.input.clone(), b);
        }
    }
    let maker = Maker {
        net: &net,
        domain: domain.clone(),
        settings: OracleSettings {
            parallel: jobs <= 1,
            ..settings.clone()
        },
        timeout,
        factors: factors.clone(),
        dialect,
        hidden: args.hidden.then_some(StrongAttack {
            restarts: args.attack_restarts,
            steps: args.attack_steps,
            ..StrongAttack::default()
        }),
        instance_timeout: args.instance_timeout,
        onnx: onnx.clone(),
    };
    clear_instances(&args.out)?;
    let width = inputs.len().to_string().len().max(3);
    let b2 = bar(inputs.len(), "inputs made into instances");
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(jobs)
        .build()
        .context("cannot start the worker threads")?;
    let results: Vec<Result<crate::groundtruth::suite::InputResult>> = pool.install(|| {
        inputs
            .par_iter()
            .enumerate()
            .with_max_len(1)
            .map(|(k, input)| {
                if cancel.load(Ordering::Relaxed) {
                    return Ok(Default::default());
                }
                let key = input.display().to_string();
                let stem = format!(
                    "{k:0width$}_{}",
                    input
                        .file_stem()
                        .map_or("input".into(), |s| s.to_string_lossy())
                );
                let r = match brackets.get(&key) {
                    None => Ok(crate::groundtruth::suite::InputResult {
                        notes: vec![format!("{key}: no bracket recorded; skipped")],
                        ..Default::default()
                    }),
                    Some(b) => {
                        let x = crate::io::read_input(input, net.input_size())?;
                        let center = format!("key/centers/{stem}.csv");
                        let line: Vec<String> = x.iter().map(|v| real(*v)).collect();
                        std::fs::write(args.out.join(&center), line.join(",") + "\n")
                            .with_context(|| format!("cannot write '{center}'"))?;
                        let made = maker.make(&stem, &center, &x, b);
                        for m in &made.made {
                            let p = args.out.join(&m.entry.vnnlib);
                            std::fs::write(&p, &m.property)
                                .with_context(|| format!("cannot write '{}'", p.display()))?;
                            if let (Some(f), Some(t)) = (&m.entry.counterexample, &m.counterexample)
                            {
                                let p = args.out.join(f);
                                std::fs::write(&p, t)
                                    .with_context(|| format!("cannot write '{}'", p.display()))?;
                            }
                        }
                        Ok(made)
                    }
                };
                b2.inc(1);
                r
            })
            .collect()
    });
    b2.finish_and_clear();
    if cancel.load(Ordering::Relaxed) {
        eprintln!(
            "interrupted while writing the instances: the key was not written; rerun the same \
             command (the brackets are kept)"
        );
        return Ok(130);
    }
    let mut entries: Vec<KeyEntry> = Vec::new();
    let mut notes = Vec::new();
    let mut broken = 0;
    for r in results {
        let r = r?;
        entries.extend(r.made.into_iter().map(|m| m.entry));
        notes.extend(r.notes);
        broken += r.broken_by_attack;
    }
    let meta = SuiteMeta {
        model: args.model.display().to_string(),
        onnx,
        domain_lb: domain.lb().to_vec(),
        domain_ub: domain.ub().to_vec(),
        format: dialect.name().to_string(),
        margin: settings.margin,
        factors,
        hidden: args.hidden,
    };
    let jsonl: String = entries
        .iter()
        .map(|e| serde_json::to_string(e).map(|s| s + "\n"))
        .collect::<std::result::Result<_, _>>()?;
    write_one(
        &args.out.join("key").join("suite.json"),
        serde_json::to_vec_pretty(&meta)?,
    )?;
    crate::io::write_files(
        &args.out,
        &[
            (
                "instances.csv".to_string(),
                instances_csv(&entries).into_bytes(),
            ),
            (
                "answers.csv".to_string(),
                answers_csv(&entries).into_bytes(),
            ),
            ("answers.jsonl".to_string(), jsonl.into_bytes()),
        ],
    )?;
    for n in &notes {
        eprintln!("note: {n}");
    }
    let unsat = entries
        .iter()
        .filter(|e| e.expected == crate::groundtruth::key::Expected::Unsat)
        .count();
    println!(
        "suite '{}': {} instances ({unsat} unsat, {} sat) from {} inputs, VNN-LIB {}{}; {} left out (see notes); {:.1} s",
        args.out.display(),
        entries.len(),
        entries.len() - unsat,
        inputs.len(),
        dialect.name(),
        if args.hidden {
            format!(", {broken} sat instances broken by the strong attack and dropped")
        } else {
            String::new()
        },
        notes.len(),
        start.elapsed().as_secs_f64()
    );
    Ok(0)
}

pub(super) fn score(args: ScoreArgs) -> Result<i32> {
    if !(args.output_tolerance.is_finite() && args.output_tolerance >= 0.0) {
        bail!(
            "--output-tolerance must be a finite number >= 0, got {}",
            args.output_tolerance
        );
    }
    let suite = Suite::read(&args.suite)?;
    let model = suite.dir.join(&suite.meta.onnx);
    let net = load_model(&model)?;
    if suite.meta.domain_lb.len() != net.input_size() {
        bail!(
            "suite '{}': the domain has {} features but the model '{}' takes {}",
            args.suite.display(),
            suite.meta.domain_lb.len(),
            model.display(),
            net.input_size()
        );
    }
    let format = match args.format.as_deref() {
        Some(f) => f.to_string(),
        None if args.results.is_dir() => "dir".to_string(),
        None => "vnncomp-csv".to_string(),
    };
    let answers = match format.as_str() {
        "vnncomp-csv" => score::read_vnncomp_csv(&args.results)?,
        "dir" => score::read_result_dir(&args.results, &suite)?,
        other => bail!("--format must be vnncomp-csv or dir, got '{other}'"),
    };
    let known: std::collections::HashSet<&str> =
        suite.entries.iter().map(|e| e.instance.as_str()).collect();
    let mut strangers: Vec<&String> = answers
        .keys()
        .filter(|k| !known.contains(k.as_str()))
        .collect();
    strangers.sort();
    if let Some(first) = strangers.first() {
        eprintln!(
            "warning: {} result(s) name instances not in the suite (first: '{first}'); ignored",
            strangers.len()
        );
    }
    let graded = score::grade(&suite, &net, &answers, args.output_tolerance)?;
    print!("{}", score::report(&graded));
    if let Some(p) = &args.json {
        let text: String = graded
            .iter()
            .map(|g| serde_json::to_string(g).map(|s| s + "\n"))
            .collect::<std::result::Result<_, _>>()?;
        write_one(p, text.into_bytes())?;
    }
    if let Some(p) = &args.plot {
        let rows = score::by_factor(&graded);
        let bars: Vec<(String, [usize; 3])> = rows
            .iter()
            .map(|r| {
                (
                    format!("{} {}", r.factor, r.expected),
                    [r.right, r.wrong, r.unsolved],
                )
            })
            .collect();
        let png = crate::io::chart::stacked_bars(
            &format!("{} on {}", args.results.display(), args.suite.display()),
            &["right", "wrong", "unsolved"],
            &bars,
            &p.display().to_string(),
        )?;
        write_one(p, png)?;
    }
    Ok(if graded.iter().any(|g| g.grade == score::Grade::Wrong) {
        EXIT_WRONG
    } else {
        0
    })
}

/// `summarize`'s robustness-distribution options.
#[derive(Args, Debug)]
pub(super) struct CurveArgs {
    /// Write a PNG of the exact robustness distribution: per ε, the fraction of inputs proved
    /// robust (r_lo ≥ ε) and not refuted (r_hi > ε), from the `apothem` lines.
    #[arg(long, value_name = "FILE.png")]
    curve: Option<PathBuf>,
    /// Write the same distribution as CSV (`eps,proved,not_refuted,OTHER...`).
    #[arg(long, value_name = "FILE.csv")]
    curve_csv: Option<PathBuf>,
    /// Another verifier's certified radii on the same axes: a CSV `input,radius`, or the
    /// `--json` output of `ppnn score` (repeatable).
    #[arg(long, value_name = "FILE")]
    compare: Vec<PathBuf>,
}

/// Draws / writes the robustness distribution when asked.
/// `format` is summarize's table format, checked here too so that no file is written when the
/// command fails.
pub(super) fn curve(
    args: &CurveArgs,
    results_text: &str,
    results: &Path,
    format: &str,
) -> Result<()> {
    if !matches!(format, "md" | "csv") {
        bail!("--format must be md or csv, got '{format}'");
    }
    if args.curve.is_none() && args.curve_csv.is_none() {
        if !args.compare.is_empty() {
            bail!("--compare needs --curve or --curve-csv");
        }
        return Ok(());
    }
    let brackets = crate::summary::radius_brackets(results_text);
    if brackets.is_empty() {
        bail!(
            "'{}' holds no apothem results: the robustness curve needs `--algo apothem` runs",
            results.display()
        );
    }
    let mut names = Vec::new();
    let mut others = Vec::new();
    for p in &args.compare {
        let text = std::fs::read_to_string(p)
            .with_context(|| format!("cannot read --compare file '{}'", p.display()))?;
        let radii = crate::summary::claimed_radii(&text)
            .map_err(|e| anyhow::anyhow!("--compare file '{}': {e}", p.display()))?;
        names.push(
            p.file_stem()
                .map_or("other".into(), |s| s.to_string_lossy().to_string()),
        );
        others.push(radii);
    }
    let points = crate::summary::robustness_curve(&brackets, &others);
    if let Some(p) = &args.curve_csv {
        let mut s = String::from("eps,proved,not_refuted");
        for n in &names {
            s.push(',');
            s.push_str(&crate::groundtruth::key::csv_field(n));
        }
        s.push('\n');
        for (e, a, b, o) in &points {
            s.push_str(&format!("{e},{a},{b}"));
            for v in o {
                s.push_str(&format!(",{v}"));
            }
            s.push('\n');
        }
        write_one(p, s.into_bytes())?;
    }
    if let Some(p) = &args.curve {
        let mut series = vec![
            (
                "proved robust (r_lo >= eps)".to_string(),
                points.iter().map(|q| (q.0, q.1)).collect::<Vec<_>>(),
            ),
            (
                "not refuted (r_hi > eps)".to_string(),
                points.iter().map(|q| (q.0, q.2)).collect(),
            ),
        ];
        for (k, n) in names.iter().enumerate() {
            series.push((
                format!("{n} certifies"),
                points.iter().map(|q| (q.0, q.3[k])).collect(),
            ));
        }
        let png = crate::io::chart::curves(
            &format!("robustness distribution of {} inputs", brackets.len()),
            "eps (L-infinity radius)",
            "fraction of inputs",
            &series,
            &p.display().to_string(),
        )?;
        write_one(p, png)?;
    }
    Ok(())
}
