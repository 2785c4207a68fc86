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
    #[arg(required = true)]
    files: Vec<PathBuf>,
}

pub(super) fn merge(args: MergeArgs) -> Result<i32> {
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
