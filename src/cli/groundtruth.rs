//! `groundtruth`: a benchmark suite with a proved answer key.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::Args;
use rayon::prelude::*;

use super::*;
use crate::groundtruth::hidden::StrongAttack;
use crate::groundtruth::key::{answers_csv, instances_csv, KeyEntry, SuiteMeta};
use crate::groundtruth::suite::{check_factors, clear_instances, prepare_dir, Bracket, Maker};
use crate::groundtruth::vnnlib::{real, Dialect};

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

/// `--factors`: comma-separated numbers, checked.
fn parse_factors(spec: &str) -> Result<Vec<f64>> {
    let factors: Vec<f64> = spec
        .split(',')
        .map(|f| {
            f.trim()
                .parse::<f64>()
                .with_context(|| format!("--factors: '{}' is not a number", f.trim()))
        })
        .collect::<Result<_>>()?;
    Ok(check_factors(&factors)?)
}

/// The INPUTS, then the paths listed in `--inputs-from` (relative to the list's directory).
fn input_paths(inputs: &[PathBuf], list: Option<&Path>) -> Result<Vec<PathBuf>> {
    let mut paths = inputs.to_vec();
    if let Some(list) = list {
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
    Ok(paths)
}

pub(super) fn groundtruth(args: GroundtruthArgs) -> Result<i32> {
    let start = Instant::now();
    let factors = parse_factors(&args.factors)?;
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
    let paths = input_paths(&args.inputs, args.inputs_from.as_deref())?;
    let inputs = crate::batch::collect_inputs(&paths)?;
    let classes = classes_of(&inputs, args.class_from_labels)?;
    let (settings, timeout) = per_pair_settings(&args.oracle, start)?;
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
        proofs: None,
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
        model_sha256: Some(crate::batch::sha256_file(&args.model)?),
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
                            if let (Some(f), Some(t)) = (&m.entry.proof, &m.proof) {
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
