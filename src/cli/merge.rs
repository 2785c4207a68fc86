//! `merge`: the results files of a job array's shards (or of reruns) into one result per pair.

use std::path::PathBuf;

use anyhow::{bail, Result};
use clap::Args;

use super::write_one;

/// Exit code of `merge` when the merged file lacks pairs of the matrix (it is still written).
pub const EXIT_INCOMPLETE: i32 = 3;

/// How many missing pairs are listed by name.
const MISSING_SHOWN: usize = 20;

#[derive(Args, Debug)]
pub(super) struct MergeArgs {
    /// The merged results file to write (replaced atomically).
    out: PathBuf,
    /// Results files of `ppnn batch` (shards `STEM.K-of-N.jsonl`, or whole runs).
    #[arg(required_unless_present = "shards")]
    files: Vec<PathBuf>,
    /// Also take the shards `STEM.K-of-N.jsonl` beside OUT, K = 1..N (a shard whose task never
    /// started is reported, and its pairs count as missing).
    #[arg(long, value_name = "N")]
    shards: Option<usize>,
}

pub(super) fn merge(mut args: MergeArgs) -> Result<i32> {
    if let Some(n) = args.shards {
        if n == 0 {
            bail!("--shards must be at least 1");
        }
        let mut found = 0;
        for k in 1..=n {
            let f = crate::batch::Shard { index: k, count: n }.results_path(&args.out);
            if f.exists() {
                args.files.push(f);
                found += 1;
            } else {
                eprintln!(
                    "warning: shard {k}/{n}: '{}' not found (its task never started?)",
                    f.display()
                );
            }
        }
        if found == 0 && args.files.is_empty() {
            bail!(
                "no shard results beside '{}' ({} for K = 1..{n})",
                args.out.display(),
                crate::batch::Shard { index: 1, count: n }
                    .results_path(&args.out)
                    .display()
                    .to_string()
                    .replace(".1-of-", ".K-of-")
            );
        }
    }
    let out_canon = std::fs::canonicalize(&args.out).ok();
    for f in &args.files {
        if out_canon.is_some() && std::fs::canonicalize(f).ok() == out_canon {
            bail!(
                "'{}' is both the output and an input of merge: write the merge to another file",
                f.display()
            );
        }
    }
    let files = args
        .files
        .iter()
        .map(|f| crate::batch::read_results(f))
        .collect::<Result<Vec<_>, _>>()?;
    let merged = crate::batch::merge(&files)?;
    for w in &merged.warnings {
        eprintln!("warning: {w}");
    }
    write_one(&args.out, merged.to_jsonl().into_bytes())?;
    let undecided = merged
        .lines
        .iter()
        .filter(|v| !crate::batch::merge::is_decided(v))
        .count();
    let matrix = merged.lines.len() - merged.outside + merged.missing.len();
    eprintln!(
        "merged {} file(s) into '{}': {} pairs ({undecided} unknown or errors), {} duplicate line(s) dropped; {} of the matrix's {matrix} pairs missing",
        files.len(),
        args.out.display(),
        merged.lines.len(),
        merged.duplicates,
        merged.missing.len(),
    );
    if merged.missing.is_empty() {
        return Ok(0);
    }
    for (input, algorithm) in merged.missing.iter().take(MISSING_SHOWN) {
        eprintln!("missing: {input}\t{algorithm}");
    }
    if merged.missing.len() > MISSING_SHOWN {
        eprintln!(
            "missing: ... and {} more",
            merged.missing.len() - MISSING_SHOWN
        );
    }
    Ok(EXIT_INCOMPLETE)
}
