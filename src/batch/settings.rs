//! What identifies a batch run's results: the model's bytes and every option that can change a
//! verdict or a radius. Each result line carries it (`"settings"`), and each results file opens
//! with a header line naming the matrix and shard, so that pieces computed on different machines
//! can be merged only when they answer the same questions.

use std::io::Read;
use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::shard::{Matrix, Shard};
use super::{BatchConfig, BatchError};
use crate::certify::FaceOrder;
use crate::milp::solver::Engine;
use crate::oracle::MilpStrategy;
use crate::region::Hyperbox;

/// The key of a header line: `{"ppnn_batch": {...}}`. Lines with it are not results.
pub const HEADER_KEY: &str = "ppnn_batch";

/// Options that decide a run's answers. Two result lines are comparable only when these are
/// equal. (`--jobs` is not here: it changes how long pairs take, not what they prove.)
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunSettings {
    /// SHA-256 of the model file's bytes.
    pub model_sha256: String,
    /// The domain D: `LO,HI` when every feature has the same range, else `sha256:` of the bounds.
    pub domain: String,
    /// Safety margin τ.
    pub margin: f64,
    /// `bab` or `highs`.
    pub engine: String,
    /// `per-class` or `disjunctive`.
    pub strategy: String,
    /// Per-pair time limit in seconds.
    pub timeout_s: Option<f64>,
    /// Per-MILP time limit in seconds.
    pub query_timeout_s: Option<f64>,
    /// Step δ.
    pub delta: f64,
    /// Tolerance of the exact algorithms.
    pub tolerance: f64,
    /// Distance restriction R.
    pub radius_limit: f64,
    /// Maximum oracle questions.
    pub max_iter: Option<usize>,
    /// Gap η of completeness questions.
    pub eta: f64,
    /// Face order of the depth-first expansions.
    pub face_order: String,
    /// Whether inputs were checked against their labels.
    pub class_from_labels: bool,
}

impl RunSettings {
    /// The settings of `cfg`, whose model file hashes to `model_sha256`.
    pub fn of(cfg: &BatchConfig, model_sha256: &str, class_from_labels: bool) -> RunSettings {
        RunSettings {
            model_sha256: model_sha256.to_string(),
            domain: domain_id(&cfg.domain),
            margin: cfg.settings.margin,
            engine: match cfg.settings.engine {
                Engine::BranchAndBound => "bab",
                Engine::Highs => "highs",
            }
            .to_string(),
            strategy: match cfg.settings.strategy {
                MilpStrategy::PerClass => "per-class",
                MilpStrategy::Disjunctive => "disjunctive",
            }
            .to_string(),
            timeout_s: cfg.timeout.map(|t| t.as_secs_f64()),
            query_timeout_s: cfg.settings.query_timeout.map(|t| t.as_secs_f64()),
            delta: cfg.params.delta,
            tolerance: cfg.params.tolerance,
            radius_limit: cfg.params.radius_limit,
            max_iter: cfg.params.max_iter,
            eta: cfg.params.eta,
            face_order: match cfg.params.face_order {
                FaceOrder::UpperFirst => "upper-first",
                FaceOrder::LowerFirst => "lower-first",
                FaceOrder::Interleaved => "interleaved",
            }
            .to_string(),
            class_from_labels,
        }
    }

    /// As JSON (the form compared and recorded).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }
}

/// The fields in which two recorded settings differ, as `name: A vs B` (empty when equal).
/// Works on the JSON form so that fields written by a newer ppnn are compared too.
pub fn differences(a: &serde_json::Value, b: &serde_json::Value) -> Vec<String> {
    let (Some(a), Some(b)) = (a.as_object(), b.as_object()) else {
        return if a == b {
            Vec::new()
        } else {
            vec![format!("{a} vs {b}")]
        };
    };
    let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter(|k| a.get(*k) != b.get(*k))
        .map(|k| {
            let show =
                |v: Option<&serde_json::Value>| v.map_or("absent".to_string(), |v| v.to_string());
            format!("{k}: {} vs {}", show(a.get(k)), show(b.get(k)))
        })
        .collect()
}

/// The first line of a results file: who wrote it, with which settings, over which matrix, as
/// which shard. A file resumed with another matrix or shard gets a further header.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Header {
    /// The ppnn version that wrote the file.
    pub version: String,
    /// The settings (as recorded; compared as JSON).
    pub settings: serde_json::Value,
    /// The whole matrix of the run (not only this shard's pairs).
    pub matrix: Matrix,
    /// This file's shard as `K/N`, or `None` for a whole run or a merge.
    pub shard: Option<String>,
}

impl Header {
    /// A header for the current ppnn.
    pub fn new(settings: &RunSettings, matrix: Matrix, shard: Option<Shard>) -> Header {
        Header {
            version: env!("CARGO_PKG_VERSION").to_string(),
            settings: settings.to_json(),
            matrix,
            shard: shard.map(|s| s.to_string()),
        }
    }

    /// The header line's JSON.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({ HEADER_KEY: self })
    }

    /// Reads a header line (`None` when `v` is not one).
    pub fn from_json(v: &serde_json::Value) -> Option<Result<Header, String>> {
        let h = v.get(HEADER_KEY)?;
        Some(serde_json::from_value(h.clone()).map_err(|e| e.to_string()))
    }

    /// The shard, when the header names one.
    pub fn shard(&self) -> Option<Shard> {
        self.shard.as_deref().and_then(|s| Shard::parse(s).ok())
    }
}

/// SHA-256 of a file's bytes, in lowercase hex.
pub fn sha256_file(path: &Path) -> Result<String, BatchError> {
    let io = |source| BatchError::Io {
        path: path.display().to_string(),
        source,
    };
    let mut f = std::fs::File::open(path).map_err(io)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f.read(&mut buf).map_err(io)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex(&h.finalize()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `LO,HI` for a uniform domain, else `sha256:` of the bounds' bits.
fn domain_id(d: &Hyperbox) -> String {
    let (lb, ub) = (d.lb(), d.ub());
    if let (Some(&lo), Some(&hi)) = (lb.first(), ub.first()) {
        if lb.iter().all(|&v| v == lo) && ub.iter().all(|&v| v == hi) {
            return format!("{lo},{hi}");
        }
    }
    let mut h = Sha256::new();
    for v in lb.iter().chain(ub) {
        h.update(v.to_bits().to_le_bytes());
    }
    format!("sha256:{}", hex(&h.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn differences_name_the_fields() {
        let a = serde_json::json!({"margin": 0.0001, "delta": 0.1, "model_sha256": "aa"});
        let b = serde_json::json!({"margin": 0.001, "delta": 0.1, "model_sha256": "bb", "new": 1});
        let d = differences(&a, &b);
        assert_eq!(
            d,
            vec![
                "margin: 0.0001 vs 0.001",
                "model_sha256: \"aa\" vs \"bb\"",
                "new: absent vs 1"
            ]
        );
        assert!(differences(&a, &a).is_empty());
    }

    #[test]
    fn domain_ids() {
        assert_eq!(domain_id(&Hyperbox::unit(3)), "0,1");
        let d = Hyperbox::new(vec![0.0, -1.0], vec![1.0, 1.0]).unwrap();
        let e = Hyperbox::new(vec![0.0, -0.5], vec![1.0, 1.0]).unwrap();
        assert!(domain_id(&d).starts_with("sha256:"));
        assert_ne!(domain_id(&d), domain_id(&e));
    }

    #[test]
    fn header_round_trip() {
        let h = Header {
            version: "0".into(),
            settings: serde_json::json!({"margin": 1}),
            matrix: Matrix::new(vec!["a".into()], vec!["c-bu-d".into()]),
            shard: Some("2/3".into()),
        };
        let back = Header::from_json(&h.to_json()).unwrap().unwrap();
        assert_eq!(back, h);
        assert_eq!(back.shard(), Some(Shard { index: 2, count: 3 }));
        assert!(Header::from_json(&serde_json::json!({"input": "x"})).is_none());
    }
}
