//! `score` (grading another verifier's results on a suite) and `summarize`'s robustness
//! distribution (`--curve`).

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::Args;

use super::*;
use crate::groundtruth::key::Suite;
use crate::groundtruth::score;

/// Exit code of `score` when a wrong answer was found.
pub const EXIT_WRONG: i32 = 2;

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
