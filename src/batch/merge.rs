//! Merging results files (the shards of a job array, or reruns) into one result per pair.
//!
//! Rules: files of different settings are refused (their answers are not comparable); a pair
//! present more than once keeps a decided line (`certified`, `complete`, `not-robust-at-input`)
//! over an undecided one (`unknown`, `error`), then the first in the order the files were given;
//! pairs of the matrix that no file holds are reported as missing. Files written before lines
//! carried their settings are accepted with a warning (their settings cannot be checked).

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::settings::{differences, Header};
use super::shard::Matrix;
use super::BatchError;

/// One results file, read without modifying it.
#[derive(Debug, Clone)]
pub struct ResultsFile {
    /// The path.
    pub path: PathBuf,
    /// Its header lines, in order.
    pub headers: Vec<Header>,
    /// Its result lines with their (1-based) line numbers.
    pub records: Vec<(usize, Value)>,
    /// Torn or malformed lines, skipped.
    pub warnings: Vec<String>,
}

/// Reads a results file: headers, result lines, warnings for skipped lines (a torn last line is
/// an interrupted write: skipped; another malformed line is skipped with its number).
pub fn read_results(path: &Path) -> Result<ResultsFile, BatchError> {
    let text = std::fs::read_to_string(path).map_err(|source| BatchError::Io {
        path: path.display().to_string(),
        source,
    })?;
    let mut out = ResultsFile {
        path: path.to_path_buf(),
        headers: Vec::new(),
        records: Vec::new(),
        warnings: Vec::new(),
    };
    let lines: Vec<&str> = text.split('\n').collect();
    for (n, line) in lines.iter().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let where_ = format!("'{}' line {}", path.display(), n + 1);
        match serde_json::from_str::<Value>(line) {
            Ok(v) => match Header::from_json(&v) {
                Some(Ok(h)) => out.headers.push(h),
                Some(Err(e)) => out
                    .warnings
                    .push(format!("{where_}: bad header ({e}), skipped")),
                None if v["input"].is_string() && v["algorithm"].is_string() => {
                    out.records.push((n + 1, v))
                }
                None => out
                    .warnings
                    .push(format!("{where_}: not a result line, skipped")),
            },
            Err(_) if n + 1 == lines.len() => out.warnings.push(format!(
                "{where_}: torn last line (an interrupted write), skipped"
            )),
            Err(e) => out
                .warnings
                .push(format!("{where_}: malformed ({e}), skipped")),
        }
    }
    Ok(out)
}

/// Whether a result line's status is a definite answer.
pub fn is_decided(v: &Value) -> bool {
    matches!(
        v["status"].as_str(),
        Some("certified" | "complete" | "not-robust-at-input")
    )
}

/// The settings of files, checked to agree: the first recorded settings, or `None` when no file
/// records any. A disagreement is [`BatchError::SettingsMismatch`], naming both places and the
/// fields that differ.
pub fn common_settings(files: &[ResultsFile]) -> Result<Option<(Value, String)>, BatchError> {
    let mut first: Option<(Value, String)> = None;
    for f in files {
        let headers = f
            .headers
            .iter()
            .map(|h| (&h.settings, "header".to_string()));
        let lines = f
            .records
            .iter()
            .filter_map(|(n, v)| v.get("settings").map(|s| (s, format!("line {n}"))));
        for (s, at) in headers.chain(lines) {
            let here = format!("'{}' {at}", f.path.display());
            match &first {
                None => first = Some((s.clone(), here)),
                Some((s0, there)) => {
                    let diff = differences(s0, s);
                    if !diff.is_empty() {
                        return Err(BatchError::SettingsMismatch {
                            first: there.clone(),
                            other: here,
                            differences: diff.join(", "),
                        });
                    }
                }
            }
        }
    }
    Ok(first)
}

/// The outcome of a merge.
#[derive(Debug, Clone)]
pub struct Merged {
    /// The header of the merged file (settings, the matrix, no shard).
    pub header: Option<Header>,
    /// One line per pair: the matrix's pairs in its order, then pairs outside the matrix.
    pub lines: Vec<Value>,
    /// Pairs of the matrix that no file holds.
    pub missing: Vec<(String, String)>,
    /// Lines dropped because their pair was already chosen.
    pub duplicates: usize,
    /// Lines outside the recorded matrix (kept).
    pub outside: usize,
    /// Things the user should know (legacy files, disagreeing duplicates, absent shards).
    pub warnings: Vec<String>,
}

/// Merges files (see the module's rules). Errors only when settings differ.
pub fn merge(files: &[ResultsFile]) -> Result<Merged, BatchError> {
    // Every batch file opens with a header: a file with neither it nor results is not one.
    if let Some(f) = files
        .iter()
        .find(|f| f.headers.is_empty() && f.records.is_empty())
    {
        return Err(BatchError::NotResults(f.path.display().to_string()));
    }
    let settings = common_settings(files)?;
    let mut warnings = Vec::new();
    for f in files {
        warnings.extend(f.warnings.iter().cloned());
        if f.records.iter().any(|(_, v)| v.get("settings").is_none()) {
            warnings.push(format!(
                "'{}' has lines without recorded settings (an older ppnn): their settings are not checked",
                f.path.display()
            ));
        }
    }
    let mut versions: Vec<&str> = files
        .iter()
        .flat_map(|f| f.headers.iter().map(|h| h.version.as_str()))
        .collect();
    versions.sort();
    versions.dedup();
    if versions.len() > 1 {
        warnings.push(format!(
            "the files were written by ppnn versions {} (same settings)",
            versions.join(", ")
        ));
    }
    // The matrix: the union of each file's last header; without headers, what the lines show.
    let mut matrix: Option<Matrix> = None;
    let mut shards_seen = Vec::new();
    let mut shard_count = None;
    for f in files {
        if let Some(h) = f.headers.last() {
            if let Some(m) = &matrix {
                if *m != h.matrix && m.union(&h.matrix) != *m {
                    warnings.push(format!(
                        "'{}' was run over another matrix; missing pairs are counted against the union",
                        f.path.display()
                    ));
                }
            }
            matrix = Some(match matrix {
                Some(m) => m.union(&h.matrix),
                None => h.matrix.clone(),
            });
            if let Some(s) = h.shard() {
                shards_seen.push(s.index);
                shard_count = Some(s.count);
            }
        }
    }
    if let Some(n) = shard_count {
        let absent: Vec<String> = (1..=n)
            .filter(|k| !shards_seen.contains(k))
            .map(|k| k.to_string())
            .collect();
        if !absent.is_empty() {
            warnings.push(format!(
                "shards {} of {n} were not given",
                absent.join(", ")
            ));
        }
    }
    let matrix_known = matrix.is_some();
    let matrix = matrix.unwrap_or_else(|| {
        let key = |k: &str| -> Vec<String> {
            files
                .iter()
                .flat_map(|f| f.records.iter())
                .filter_map(|(_, v)| v[k].as_str().map(str::to_string))
                .collect()
        };
        Matrix::new(key("input"), key("algorithm"))
    });
    if !matrix_known && !files.iter().all(|f| f.records.is_empty()) {
        warnings.push(
            "no file records its matrix (an older ppnn): missing pairs are counted against the inputs × algorithms seen"
                .to_string(),
        );
    }

    // Choose one line per pair.
    let mut chosen: std::collections::HashMap<(String, String), usize> = Default::default();
    let mut order: Vec<(String, String)> = Vec::new();
    let mut all: Vec<&Value> = Vec::new();
    let mut duplicates = 0;
    for f in files {
        for (_, v) in &f.records {
            let key = (
                v["input"].as_str().unwrap_or_default().to_string(),
                v["algorithm"].as_str().unwrap_or_default().to_string(),
            );
            all.push(v);
            let idx = all.len() - 1;
            match chosen.get(&key) {
                None => {
                    chosen.insert(key.clone(), idx);
                    order.push(key);
                }
                Some(&prev) => {
                    duplicates += 1;
                    let (p, q) = (all[prev], v);
                    if is_decided(p) && is_decided(q) && p["status"] != q["status"] {
                        warnings.push(format!(
                            "({}, {}) is {} in one file and {} in another; the first is kept",
                            key.0, key.1, p["status"], q["status"]
                        ));
                    }
                    if !is_decided(p) && is_decided(q) {
                        chosen.insert(key, idx);
                    }
                }
            }
        }
    }
    let mut lines = Vec::with_capacity(chosen.len());
    let mut missing = Vec::new();
    let mut in_matrix = std::collections::HashSet::new();
    for (i, a) in matrix.pairs() {
        let key = (matrix.inputs[i].clone(), matrix.algorithms[a].clone());
        match chosen.get(&key) {
            Some(&idx) => lines.push(all[idx].clone()),
            None => missing.push(key.clone()),
        }
        in_matrix.insert(key);
    }
    let mut outside = 0;
    for key in order.iter().filter(|k| !in_matrix.contains(*k)) {
        lines.push(all[chosen[key]].clone());
        outside += 1;
    }
    if outside > 0 && matrix_known {
        warnings.push(format!(
            "{outside} line(s) lie outside the recorded matrix; kept after the matrix's pairs"
        ));
    }
    let header = settings.map(|(s, _)| Header {
        version: env!("CARGO_PKG_VERSION").to_string(),
        settings: s,
        matrix: matrix.clone(),
        shard: None,
    });
    Ok(Merged {
        header,
        lines,
        missing,
        duplicates,
        outside,
        warnings,
    })
}

impl Merged {
    /// The merged file's text: the header (when settings are known), then one line per pair.
    pub fn to_jsonl(&self) -> String {
        let mut s = String::new();
        for v in self
            .header
            .iter()
            .map(Header::to_json)
            .chain(self.lines.iter().cloned())
        {
            s.push_str(&v.to_string());
            s.push('\n');
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(input: &str, alg: &str, status: &str, settings: Option<Value>) -> Value {
        let mut v = serde_json::json!({"input": input, "algorithm": alg, "status": status});
        if let Some(s) = settings {
            v["settings"] = s;
        }
        v
    }

    fn file(name: &str, headers: Vec<Header>, lines: Vec<Value>) -> ResultsFile {
        ResultsFile {
            path: PathBuf::from(name),
            headers,
            records: lines
                .into_iter()
                .enumerate()
                .map(|(n, v)| (n + 2, v))
                .collect(),
            warnings: Vec::new(),
        }
    }

    fn header(settings: &Value, inputs: &[&str], algs: &[&str], shard: &str) -> Header {
        Header {
            version: "t".into(),
            settings: settings.clone(),
            matrix: Matrix::new(
                inputs.iter().map(|s| s.to_string()).collect(),
                algs.iter().map(|s| s.to_string()).collect(),
            ),
            shard: Some(shard.into()),
        }
    }

    #[test]
    fn decided_over_unknown_then_first() {
        let s = serde_json::json!({"margin": 0.0001});
        let h = |k| header(&s, &["a", "b"], &["x", "y"], k);
        let f1 = file(
            "1",
            vec![h("1/2")],
            vec![
                line("a", "x", "unknown", Some(s.clone())),
                line("a", "y", "certified", Some(s.clone())),
            ],
        );
        let mut first = line("b", "x", "error", Some(s.clone()));
        first["tag"] = "first".into();
        let f2 = file(
            "2",
            vec![h("2/2")],
            vec![
                line("a", "x", "certified", Some(s.clone())),
                line("a", "y", "unknown", Some(s.clone())),
                first,
                line("b", "x", "unknown", Some(s.clone())),
            ],
        );
        let m = merge(&[f1, f2]).unwrap();
        assert_eq!(m.duplicates, 3);
        let status: Vec<(&str, &str, &str)> = m
            .lines
            .iter()
            .map(|v| {
                (
                    v["input"].as_str().unwrap(),
                    v["algorithm"].as_str().unwrap(),
                    v["status"].as_str().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            status,
            vec![
                ("a", "x", "certified"),
                ("a", "y", "certified"),
                ("b", "x", "error")
            ]
        );
        assert_eq!(m.lines[2]["tag"], "first");
        assert_eq!(m.missing, vec![("b".to_string(), "y".to_string())]);
        assert!(m.warnings.is_empty(), "{:?}", m.warnings);
        let text = m.to_jsonl();
        assert_eq!(text.lines().count(), 4);
        assert!(text.starts_with("{\"ppnn_batch\""));
    }

    #[test]
    fn mismatched_settings_are_refused() {
        let s = serde_json::json!({"margin": 0.0001, "model_sha256": "aa"});
        let t = serde_json::json!({"margin": 0.0001, "model_sha256": "bb"});
        let f1 = file(
            "one.jsonl",
            vec![],
            vec![line("a", "x", "certified", Some(s.clone()))],
        );
        let f2 = file(
            "two.jsonl",
            vec![],
            vec![line("b", "x", "certified", Some(t.clone()))],
        );
        let e = merge(&[f1.clone(), f2]).unwrap_err().to_string();
        assert!(e.contains("'one.jsonl' line 2"), "{e}");
        assert!(e.contains("'two.jsonl' line 2"), "{e}");
        assert!(e.contains("model_sha256: \"aa\" vs \"bb\""), "{e}");
        // A header disagreeing with the lines of another file, too.
        let f3 = file(
            "three.jsonl",
            vec![header(&t, &["a"], &["x"], "1/1")],
            vec![],
        );
        assert!(merge(&[f1, f3]).is_err());
    }

    #[test]
    fn legacy_files_merge_with_a_warning() {
        let f1 = file("old.jsonl", vec![], vec![line("a", "x", "certified", None)]);
        let f2 = file("old2.jsonl", vec![], vec![line("b", "y", "unknown", None)]);
        let m = merge(&[f1, f2]).unwrap();
        assert!(m.header.is_none());
        assert_eq!(m.lines.len(), 2);
        // Against the inputs × algorithms seen.
        assert_eq!(m.missing.len(), 2);
        assert!(m.warnings.iter().any(|w| w.contains("older ppnn")));
    }

    #[test]
    fn a_file_without_results_is_refused() {
        let f = file("notes.txt", vec![], vec![]);
        let e = merge(&[f]).unwrap_err().to_string();
        assert!(e.contains("'notes.txt' holds no ppnn batch results"), "{e}");
    }

    #[test]
    fn absent_shards_are_named() {
        let s = serde_json::json!({});
        let f = file(
            "r.1-of-3",
            vec![header(&s, &["a", "b", "c"], &["x"], "1/3")],
            vec![],
        );
        let m = merge(&[f]).unwrap();
        assert_eq!(m.missing.len(), 3);
        assert!(
            m.warnings
                .iter()
                .any(|w| w == "shards 2, 3 of 3 were not given"),
            "{:?}",
            m.warnings
        );
    }
}
