//! The answer key of a suite: what each instance's answer is, why, and everything `score`
//! needs to re-check another tool's counterexample (the box centre, the domain, the class).
//!
//! Layout of a suite directory (VNN-COMP's benchmark layout plus the key):
//! - `onnx/MODEL.onnx`, `vnnlib/INSTANCE.vnnlib`, `instances.csv` (`onnx,vnnlib,timeout`):
//!   what a verifier runs;
//! - `answers.csv`, `answers.jsonl`: the key, one row per instance;
//! - `key/suite.json` (model, domain, dialect, margin, factors), `key/centers/INPUT.csv` (each
//!   box's centre, exactly), `key/counterexamples/INSTANCE.counterexample` (for `sat`), `key/proofs/INSTANCE.proof.json`
//!   (for `unsat`: a proof file `ppnn check` verifies),
//!   `key/brackets.jsonl` (the exact apothem runs, resumable).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::GroundTruthError;
use crate::region::Hyperbox;

/// An instance's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Expected {
    /// A point of the box where another class reaches the input's class exists.
    Sat,
    /// Every point of the box keeps the class (with the safety margin).
    Unsat,
}

impl Expected {
    /// `sat` or `unsat`.
    pub fn name(self) -> &'static str {
        match self {
            Expected::Sat => "sat",
            Expected::Unsat => "unsat",
        }
    }
}

/// One row of the key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyEntry {
    /// Instance name (the property file's stem).
    pub instance: String,
    /// The model, relative to the suite.
    pub onnx: String,
    /// The property, relative to the suite.
    pub vnnlib: String,
    /// The answer.
    pub expected: Expected,
    /// The input file the box is centred on (as given to `groundtruth`).
    pub input: String,
    /// The centre, relative to the suite (exact values).
    pub center: String,
    /// The input's class.
    pub class: usize,
    /// The factor: of `r_lo` for `unsat`, of `r_hi` for `sat`.
    pub factor: f64,
    /// The box's L∞ radius (the box is `B∞(center, radius) ∩ D`).
    pub radius: f64,
    /// Proved robust radius of the input.
    pub r_lo: f64,
    /// Distance of the nearest confirmed counterexample (none when not found).
    pub r_hi: Option<f64>,
    /// `unsat`: what proved the box (`interval`, `milp`, or that it lies inside the proved
    /// `r_lo` ball); `sat`: how the counterexample was found.
    pub evidence: String,
    /// `sat`: the counterexample file, relative to the suite.
    pub counterexample: Option<String>,
    /// `unsat`: the proof file (for `ppnn check`), relative to the suite, when one was written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proof: Option<String>,
    /// `sat`: `y_c - max_{j≠c} y_j` at the counterexample, f64 (≤ 0).
    pub margin: Option<f64>,
    /// The same in f32 (≤ 0).
    pub margin_f32: Option<f64>,
    /// Per-instance time limit written to `instances.csv`.
    pub timeout: f64,
}

/// Suite-wide facts of the key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SuiteMeta {
    /// The model as given to `groundtruth`.
    pub model: String,
    /// The copied model, relative to the suite.
    pub onnx: String,
    /// Domain lower bounds.
    pub domain_lb: Vec<f64>,
    /// Domain upper bounds.
    pub domain_ub: Vec<f64>,
    /// VNN-LIB dialect of the properties.
    pub format: String,
    /// Safety margin τ of the proofs.
    pub margin: f64,
    /// The factors asked for.
    pub factors: Vec<f64>,
    /// Whether `sat` instances were filtered by the strong attack.
    pub hidden: bool,
}

/// A suite read back: its meta data and key.
#[derive(Debug, Clone)]
pub struct Suite {
    /// The suite directory.
    pub dir: PathBuf,
    /// Suite-wide facts.
    pub meta: SuiteMeta,
    /// The key, in file order.
    pub entries: Vec<KeyEntry>,
}

impl Suite {
    /// Reads `key/suite.json` and `answers.jsonl` of the suite in `dir`.
    pub fn read(dir: &Path) -> Result<Suite, GroundTruthError> {
        let bad = |file: &Path, problem: String| GroundTruthError::Suite {
            path: file.display().to_string(),
            problem,
        };
        let meta_path = dir.join("key").join("suite.json");
        let text = std::fs::read_to_string(&meta_path).map_err(|e| {
            bad(
                &meta_path,
                format!("cannot be read ({e}); is this a suite made by `ppnn groundtruth`?"),
            )
        })?;
        let meta: SuiteMeta =
            serde_json::from_str(&text).map_err(|e| bad(&meta_path, e.to_string()))?;
        if meta.domain_lb.len() != meta.domain_ub.len() {
            return Err(bad(
                &meta_path,
                "domain bounds differ in length".to_string(),
            ));
        }
        let key_path = dir.join("answers.jsonl");
        let text = std::fs::read_to_string(&key_path)
            .map_err(|e| bad(&key_path, format!("cannot be read ({e})")))?;
        let mut entries = Vec::new();
        for (n, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let e: KeyEntry = serde_json::from_str(line)
                .map_err(|e| bad(&key_path, format!("line {}: {e}", n + 1)))?;
            entries.push(e);
        }
        Ok(Suite {
            dir: dir.to_path_buf(),
            meta,
            entries,
        })
    }

    /// The domain D of the suite.
    pub fn domain(&self) -> Result<Hyperbox, GroundTruthError> {
        Hyperbox::new(self.meta.domain_lb.clone(), self.meta.domain_ub.clone()).map_err(|e| {
            GroundTruthError::Suite {
                path: self.dir.join("key/suite.json").display().to_string(),
                problem: format!("domain: {e}"),
            }
        })
    }
}

/// `answers.csv`: one row per instance (the counterexample column names its file).
pub fn answers_csv(entries: &[KeyEntry]) -> String {
    let mut s = String::from(
        "instance,vnnlib,expected,factor,radius,r_lo,r_hi,class,input,evidence,counterexample,proof\n",
    );
    for e in entries {
        s.push_str(&format!(
            "{},{},{},{},{},{},{},{},{},{},{},{}\n",
            e.instance,
            e.vnnlib,
            e.expected.name(),
            e.factor,
            e.radius,
            e.r_lo,
            e.r_hi.map(|v| v.to_string()).unwrap_or_default(),
            e.class,
            csv_field(&e.input),
            csv_field(&e.evidence),
            e.counterexample.clone().unwrap_or_default(),
            e.proof.clone().unwrap_or_default()
        ));
    }
    s
}

/// `instances.csv` as VNN-COMP reads it: `onnx,vnnlib,timeout`, no header.
pub fn instances_csv(entries: &[KeyEntry]) -> String {
    entries
        .iter()
        .map(|e| format!("{},{},{}\n", e.onnx, e.vnnlib, e.timeout))
        .collect()
}

/// Quotes a CSV field when it needs it.
pub fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}
