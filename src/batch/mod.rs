//! Many inputs × many algorithms: parallel, resumable runs that append one JSON line per
//! finished (input, algorithm) pair.
//!
//! Durability: each line is written whole, flushed and synced before the next pair is
//! reported, so a run killed at any moment (even `kill -9`) loses at most the pairs in flight;
//! a torn last line (a write cut short) is detected on the next run, reported and cut off.
//!
//! Clusters: a matrix splits into deterministic shards ([`shard`]), one results file each, and
//! the files merge back into one result per pair ([`fn@merge`]). Every line records the settings
//! that decide its answer and every file opens with a header naming its matrix ([`settings`]),
//! so that neither a resume nor a merge mixes answers to different questions.

pub mod merge;
mod results;
pub mod settings;
pub mod shard;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rayon::prelude::*;

use crate::certificate::Certificate;
use crate::certify::{certify, Algorithm, Params};
use crate::network::{unique_argmax, Network};
use crate::oracle::{MilpOracle, OracleSettings};
use crate::region::Hyperbox;

pub use merge::{merge, read_results, Merged, ResultsFile};
pub use results::{load_done, open_results, Appender, DonePairs, Resumed};
pub use settings::{sha256_file, Header, RunSettings};
pub use shard::{Matrix, Shard, ShardError};

/// Errors of batch bookkeeping (inputs, the results file).
#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    /// A path could not be read.
    #[error("cannot read '{path}': {source}")]
    Io {
        /// The path.
        path: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// An input path is neither a file nor a directory with `.csv` files.
    #[error("'{0}' holds no .csv inputs")]
    NoInputs(String),
    /// A labels file is malformed or does not match the inputs.
    #[error("labels file '{path}': {problem}")]
    Labels {
        /// The labels file.
        path: String,
        /// What is wrong.
        problem: String,
    },
    /// Two results files (or lines) were computed with different settings.
    #[error("results of different settings cannot be merged: {first} and {other} differ in {differences}")]
    SettingsMismatch {
        /// Where the first settings were recorded.
        first: String,
        /// Where the differing ones were.
        other: String,
        /// The differing fields, `name: A vs B`.
        differences: String,
    },
    /// A results file to resume holds results of other settings.
    #[error("'{path}' {at} holds results of other settings ({differences}; recorded vs now): pass the same options to resume it, or another --out")]
    ResumeMismatch {
        /// The results file.
        path: String,
        /// The line.
        at: String,
        /// The differing fields, `name: recorded vs now`.
        differences: String,
    },
    /// A file given as results holds neither a header nor a result line.
    #[error("'{0}' holds no ppnn batch results (no header, no result line)")]
    NotResults(String),
    /// A bad shard specification.
    #[error(transparent)]
    Shard(#[from] ShardError),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> BatchError + '_ {
    move |source| BatchError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// Input files: each path is a file, or a directory whose `.csv` files are taken in name order.
pub fn collect_inputs(paths: &[PathBuf]) -> Result<Vec<PathBuf>, BatchError> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut files: Vec<PathBuf> = std::fs::read_dir(p)
                .map_err(io(p))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| f.is_file() && f.extension().is_some_and(|e| e == "csv"))
                .collect();
            files.sort();
            if files.is_empty() {
                return Err(BatchError::NoInputs(p.display().to_string()));
            }
            out.extend(files);
        } else if p.exists() {
            out.push(p.clone());
        } else {
            return Err(BatchError::Io {
                path: p.display().to_string(),
                source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"),
            });
        }
    }
    Ok(out)
}

/// The class of each input from a `labels.txt` (or `predictions.txt`) beside it: one class per
/// line for the directory's `.csv` files in name order.
pub fn classes_from_labels(inputs: &[PathBuf]) -> Result<Vec<usize>, BatchError> {
    let mut out = Vec::with_capacity(inputs.len());
    for input in inputs {
        let dir = input.parent().unwrap_or(Path::new("."));
        let labels = ["labels.txt", "predictions.txt"]
            .iter()
            .map(|n| dir.join(n))
            .find(|p| p.exists())
            .ok_or_else(|| BatchError::Labels {
                path: dir.join("labels.txt").display().to_string(),
                problem: "not found (nor predictions.txt)".to_string(),
            })?;
        let text = std::fs::read_to_string(&labels).map_err(io(&labels))?;
        let values: Vec<usize> = text
            .split_whitespace()
            .map(|t| t.parse())
            .collect::<Result<_, _>>()
            .map_err(|_| BatchError::Labels {
                path: labels.display().to_string(),
                problem: "expected one class number per line".to_string(),
            })?;
        let mut siblings: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(io(dir))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|f| f.extension().is_some_and(|e| e == "csv"))
            .collect();
        siblings.sort();
        if siblings.len() != values.len() {
            return Err(BatchError::Labels {
                path: labels.display().to_string(),
                problem: format!("{} labels for {} .csv files", values.len(), siblings.len()),
            });
        }
        let name = input.file_name();
        let k = siblings
            .iter()
            .position(|s| s.file_name() == name)
            .ok_or_else(|| BatchError::Labels {
                path: labels.display().to_string(),
                problem: format!("no entry for '{}'", input.display()),
            })?;
        out.push(values[k]);
    }
    Ok(out)
}

/// One (input, algorithm) pair to run.
#[derive(Debug, Clone)]
pub struct Pair {
    /// The input file.
    pub input: PathBuf,
    /// The expected class (from labels), if given.
    pub class: Option<usize>,
    /// The algorithm.
    pub algorithm: Algorithm,
}

/// The pairs one run takes: the whole matrix of inputs × algorithms, or one shard of it.
pub struct Plan {
    /// The whole matrix (inputs and algorithms by name, duplicates dropped).
    pub matrix: Matrix,
    /// The shard, if any.
    pub shard: Option<Shard>,
    /// This run's pairs, as indices into the matrix, in its order.
    pub pairs: Vec<(usize, usize)>,
    inputs: Vec<(PathBuf, Option<usize>)>,
    algorithms: Vec<Algorithm>,
}

impl Plan {
    /// The plan of `shard` (or of every pair) of `inputs` (with their expected classes, same
    /// length) × `algorithms`. Inputs are named by their path as displayed.
    pub fn new(
        inputs: &[PathBuf],
        classes: &[Option<usize>],
        algorithms: &[Algorithm],
        shard: Option<Shard>,
    ) -> Plan {
        let matrix = Matrix::new(
            inputs.iter().map(|p| p.display().to_string()).collect(),
            algorithms.iter().map(|a| a.name()).collect(),
        );
        let pick = |names: &[String], name: &str| names.iter().position(|n| n == name);
        let names: Vec<String> = inputs.iter().map(|p| p.display().to_string()).collect();
        let inputs = matrix
            .inputs
            .iter()
            .filter_map(|n| pick(&names, n))
            .map(|k| (inputs[k].clone(), classes.get(k).copied().flatten()))
            .collect();
        let alg_names: Vec<String> = algorithms.iter().map(|a| a.name()).collect();
        let algorithms = matrix
            .algorithms
            .iter()
            .filter_map(|n| pick(&alg_names, n))
            .map(|k| algorithms[k])
            .collect();
        let pairs = match shard {
            Some(s) => matrix.shard_pairs(s),
            None => matrix.pairs(),
        };
        Plan {
            matrix,
            shard,
            pairs,
            inputs,
            algorithms,
        }
    }

    /// This run's pairs as `(input, algorithm)` names.
    pub fn names(&self) -> impl Iterator<Item = (&str, &str)> + '_ {
        self.pairs.iter().map(|&(i, a)| {
            (
                self.matrix.inputs[i].as_str(),
                self.matrix.algorithms[a].as_str(),
            )
        })
    }

    /// This run's pairs not yet in `done`.
    pub fn pending(&self, done: &DonePairs) -> Vec<Pair> {
        self.pairs
            .iter()
            .filter(|&&(i, a)| {
                !done.contains(&(
                    self.matrix.inputs[i].clone(),
                    self.matrix.algorithms[a].clone(),
                ))
            })
            .map(|&(i, a)| Pair {
                input: self.inputs[i].0.clone(),
                class: self.inputs[i].1,
                algorithm: self.algorithms[a],
            })
            .collect()
    }
}

/// What a batch needs besides the pairs.
pub struct BatchConfig<'a> {
    /// The network.
    pub net: &'a Network,
    /// The model path as recorded in the results.
    pub model: String,
    /// The domain D.
    pub domain: Hyperbox,
    /// Oracle settings (the deadline is set per pair from `timeout`).
    pub settings: OracleSettings,
    /// Algorithm parameters (idem).
    pub params: Params,
    /// Per-pair time limit.
    pub timeout: Option<Duration>,
    /// Parallel pairs.
    pub jobs: usize,
    /// `batch --proofs DIR`: the directory and the model's SHA-256; each certified pair's box
    /// gets a proof file `INPUT.ALGORITHM.proof.json` there.
    pub proofs: Option<(PathBuf, String)>,
}

/// Counters a progress display can read.
#[derive(Default)]
pub struct Progress {
    /// Pairs finished (recorded) in this run.
    pub done: AtomicUsize,
    /// Of which ended `unknown` or in an error.
    pub unknown: AtomicUsize,
}

/// The result line of one pair.
fn run_pair(cfg: &BatchConfig, pair: &Pair) -> serde_json::Value {
    let input_s = pair.input.display().to_string();
    let name = pair.algorithm.name();
    let error = |msg: String| {
        serde_json::json!({
            "model": cfg.model,
            "input": input_s,
            "algorithm": name,
            "status": "error",
            "error": msg,
        })
    };
    let x = match crate::io::read_input(&pair.input, cfg.net.input_size()) {
        Ok(x) => x,
        Err(e) => return error(e.to_string()),
    };
    if !cfg.domain.contains(&x) {
        return error(format!("input '{input_s}' lies outside the domain"));
    }
    let Some(pred) = unique_argmax(&cfg.net.forward(&x)) else {
        return error(format!("the network gives no unique class at '{input_s}'"));
    };
    if let Some(c) = pair.class {
        if c != pred {
            return error(format!(
                "input '{input_s}' is labelled {c} but classified {pred}"
            ));
        }
    }
    let start = Instant::now();
    let mut settings = cfg.settings.clone();
    let mut params = cfg.params.clone();
    if let Some(t) = cfg.timeout {
        settings.deadline = Some(start + t);
        params.deadline = Some(start + t);
    }
    // Pairs run in parallel: each oracle solves its MILPs one at a time.
    settings.parallel = cfg.jobs <= 1;
    let oracle = MilpOracle::new(cfg.net, cfg.domain.clone(), settings);
    let cert: Certificate = certify(pair.algorithm, &oracle, &x, pred, &params, None);
    let mut line = cert.to_json(&cfg.model, &input_s, false);
    if let Some((dir, sha)) = &cfg.proofs {
        let (key, value) = match write_pair_proof(cfg, pair, &cert, &x, dir, sha) {
            Ok(Some(path)) => ("proof", path),
            Ok(None) => return line,
            Err(why) => ("proof_error", why),
        };
        if let Some(obj) = line.as_object_mut() {
            obj.insert(key.to_string(), serde_json::Value::String(value));
        }
    }
    line
}

/// Writes the proof of a certified sound box or of a dual box's completeness (`None` when
/// there is nothing to prove).
fn write_pair_proof(
    cfg: &BatchConfig,
    pair: &Pair,
    cert: &Certificate,
    x: &[f64],
    dir: &Path,
    sha: &str,
) -> Result<Option<String>, String> {
    use crate::certificate::{Kind, Status};
    let limits = crate::milp::solver::Limits {
        time: cfg.timeout,
        ..Default::default()
    };
    let proof = match (&cert.region, cert.kind, cert.status) {
        (Some(r), Kind::Sound, Status::Certified | Status::Unknown) => {
            let region = r
                .intersect(&cfg.domain)
                .ok_or("the box does not meet the domain")?;
            crate::proof::emit::prove_sound(
                cfg.net,
                sha,
                &region,
                cert.class,
                cert.margin,
                Some(x),
                &limits,
            )?
        }
        (Some(r), Kind::Complete, Status::Complete | Status::Unknown) => crate::proof::emit::prove(
            cfg.net,
            sha,
            cert.margin,
            crate::proof::Claim::complete(&cfg.domain, r, cert.class),
            Some(x),
            &limits,
        )?,
        _ => return Ok(None),
    };
    let stem = pair
        .input
        .file_stem()
        .map_or("input".to_string(), |s| s.to_string_lossy().to_string());
    let name = format!("{stem}.{}.proof.json", pair.algorithm.name());
    crate::io::write_files(dir, &[(name.clone(), proof.to_json().into_bytes())])
        .map_err(|e| e.to_string())?;
    Ok(Some(dir.join(name).display().to_string()))
}

/// Runs `pairs`, appending each finished one; stops taking new pairs once `cancel` is set.
/// Returns the number of pairs recorded.
pub fn run(
    cfg: &BatchConfig,
    pairs: &[Pair],
    out: &Appender,
    progress: &Progress,
    cancel: &AtomicBool,
    on_done: &(dyn Fn() + Sync),
) -> Result<usize, BatchError> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(cfg.jobs.max(1))
        .build()
        .map_err(|e| BatchError::Io {
            path: "thread pool".to_string(),
            source: std::io::Error::other(e.to_string()),
        })?;
    let first_error: Mutex<Option<BatchError>> = Mutex::new(None);
    pool.install(|| {
        pairs.par_iter().with_max_len(1).for_each(|pair| {
            if cancel.load(Ordering::Relaxed) {
                return;
            }
            let line = run_pair(cfg, pair);
            if let Err(e) = out.append(&line) {
                cancel.store(true, Ordering::Relaxed);
                first_error
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .get_or_insert(e);
                return;
            }
            progress.done.fetch_add(1, Ordering::Relaxed);
            if matches!(line["status"].as_str(), Some("unknown" | "error")) {
                progress.unknown.fetch_add(1, Ordering::Relaxed);
            }
            on_done();
        })
    });
    if let Some(e) = first_error.into_inner().unwrap_or_else(|e| e.into_inner()) {
        return Err(e);
    }
    Ok(progress.done.load(Ordering::Relaxed))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Aliases and repeated inputs are one pair; resumed pairs are left out; classes follow
    /// their inputs.
    #[test]
    fn plan_dedups_and_skips_done_pairs() {
        let alg = |n| Algorithm::from_name(n).unwrap();
        let inputs = [
            PathBuf::from("b.csv"),
            PathBuf::from("a.csv"),
            PathBuf::from("b.csv"),
        ];
        let plan = Plan::new(
            &inputs,
            &[Some(3), Some(5), Some(3)],
            &[alg("apothem"), alg("exact"), alg("c-bu-d")],
            None,
        );
        assert_eq!(plan.matrix.len(), 4);
        let names: Vec<(&str, &str)> = plan.names().collect();
        assert_eq!(
            names,
            [
                ("b.csv", "apothem"),
                ("b.csv", "c-bu-d"),
                ("a.csv", "apothem"),
                ("a.csv", "c-bu-d")
            ]
        );
        let done: DonePairs = [("a.csv".to_string(), "apothem".to_string())].into();
        let pending = plan.pending(&done);
        assert_eq!(pending.len(), 3);
        let a = pending
            .iter()
            .find(|p| p.input == Path::new("a.csv"))
            .unwrap();
        assert_eq!(
            (a.class, a.algorithm.name()),
            (Some(5), "c-bu-d".to_string())
        );
        // The shards of the plan cover it.
        let n: usize = (1..=3)
            .map(|k| {
                Plan::new(
                    &inputs,
                    &[None; 3],
                    &[alg("apothem"), alg("c-bu-d")],
                    Some(Shard { index: k, count: 3 }),
                )
                .pairs
                .len()
            })
            .sum();
        assert_eq!(n, 4);
    }
}
