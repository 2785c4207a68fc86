//! Making a suite: from each input's exact apothem bracket `[r_lo, r_hi]` (computed by
//! [`crate::batch`]), boxes at factors of `r_lo` (answer `unsat`) and of `r_hi` (answer `sat`),
//! never inside the band `(r_lo, r_hi)` where the answer is not known.
//!
//! Nothing enters the key on the bracket's word alone:
//! - an `unsat` box must lie inside the ball the bracket run proved (checked coordinate by
//!   coordinate), and is asked again, so the key names the method that proves the box itself;
//! - a `sat` box carries a counterexample inside it, confirmed by forward passes in f64 and
//!   f32, written to its file and confirmed again as read back.
//!
//! An instance that fails any of this is left out, with a note saying why.

use std::path::Path;
use std::time::{Duration, Instant};

use super::hidden::{strong_attack, StrongAttack};
use super::key::{Expected, KeyEntry};
use super::vnnlib::{assignment, parse_assignment, property, Dialect};
use super::GroundTruthError;
use crate::network::Network;
use crate::oracle::{MilpOracle, Oracle, OracleSettings, Question, Verdict, Witness};
use crate::region::Hyperbox;

/// The default factors: three of `r_lo` (unsat) and three of `r_hi` (sat).
pub const DEFAULT_FACTORS: [f64; 6] = [0.5, 0.9, 0.99, 1.01, 1.1, 2.0];

/// Checks factors: finite, positive, not 1 (below 1 scales `r_lo`, above 1 scales `r_hi`),
/// no repeats. Returns them sorted.
pub fn check_factors(factors: &[f64]) -> Result<Vec<f64>, GroundTruthError> {
    let bad = |problem: String| GroundTruthError::Option {
        option: "--factors".to_string(),
        problem,
    };
    if factors.is_empty() {
        return Err(bad("no factors given".to_string()));
    }
    let mut out = factors.to_vec();
    for &f in &out {
        if !(f.is_finite() && f > 0.0) {
            return Err(bad(format!("{f} is not a positive number")));
        }
        if f == 1.0 {
            return Err(bad(
                "1 is ambiguous: factors below 1 scale the proved radius r_lo (unsat), factors \
                 above 1 the counterexample distance r_hi (sat); use e.g. 0.999 or 1.001"
                    .to_string(),
            ));
        }
    }
    out.sort_by(f64::total_cmp);
    if out.windows(2).any(|w| w[0] == w[1]) {
        return Err(bad("a factor is repeated".to_string()));
    }
    Ok(out)
}

/// What the exact apothem run established about one input.
#[derive(Debug, Clone)]
pub struct Bracket {
    /// The input file as recorded.
    pub input: String,
    /// The class.
    pub class: usize,
    /// The proved box (a ball `B∞(x, r_lo) ∩ D`), when there is one.
    pub proved: Option<Hyperbox>,
    /// Its apothem: the proved robust radius.
    pub r_lo: Option<f64>,
    /// Distance of the nearest confirmed counterexample.
    pub r_hi: Option<f64>,
    /// The run's status (`certified`, `unknown`, `not-robust-at-input`, `error`).
    pub status: String,
}

impl Bracket {
    /// Reads a result line of `ppnn batch --algo apothem`; `None` when it is not one.
    pub fn from_json(v: &serde_json::Value) -> Option<Bracket> {
        let algorithm = v["algorithm"].as_str()?;
        if algorithm != "apothem" && algorithm != "exact" {
            return None;
        }
        let nums =
            |k: &str| -> Option<Vec<f64>> { v[k].as_array()?.iter().map(|e| e.as_f64()).collect() };
        let proved = match (nums("lb"), nums("ub")) {
            (Some(lb), Some(ub)) => Hyperbox::new(lb, ub).ok(),
            _ => None,
        };
        Some(Bracket {
            input: v["input"].as_str()?.to_string(),
            class: v["class"].as_u64().map_or(usize::MAX, |c| c as usize),
            proved,
            r_lo: v["apothem"].as_f64().filter(|r| r.is_finite() && *r > 0.0),
            r_hi: v["apothem_upper"]
                .as_f64()
                .filter(|r| r.is_finite() && *r > 0.0),
            status: v["status"].as_str().unwrap_or("error").to_string(),
        })
    }
}

/// How to make the instances of one input.
#[derive(Debug, Clone)]
pub struct Maker<'a> {
    /// The network.
    pub net: &'a Network,
    /// The domain D.
    pub domain: Hyperbox,
    /// Oracle settings (the deadline is set per input from `timeout`).
    pub settings: OracleSettings,
    /// Time limit per input for the questions of this step.
    pub timeout: Option<Duration>,
    /// Sorted factors (see [`check_factors`]).
    pub factors: Vec<f64>,
    /// VNN-LIB dialect.
    pub dialect: Dialect,
    /// `Some`: keep only `sat` instances this attack does not break.
    pub hidden: Option<StrongAttack>,
    /// Time limit written to `instances.csv`.
    pub instance_timeout: f64,
    /// The copied model, relative to the suite.
    pub onnx: String,
    /// The model's SHA-256: `unsat` instances get a proof file (see [`crate::proof`]).
    pub model_sha256: Option<String>,
}

/// One instance, ready to be written.
#[derive(Debug, Clone)]
pub struct Made {
    /// Its key row.
    pub entry: KeyEntry,
    /// The property text.
    pub property: String,
    /// `sat`: the counterexample file's text.
    pub counterexample: Option<String>,
    /// `unsat`: the proof file's text.
    pub proof: Option<String>,
}

/// The instances of one input, and notes on those left out.
#[derive(Debug, Clone, Default)]
pub struct InputResult {
    /// The instances.
    pub made: Vec<Made>,
    /// Why instances were left out.
    pub notes: Vec<String>,
    /// `sat` instances the strong attack broke (left out under `--hidden`).
    pub broken_by_attack: usize,
}

impl Maker<'_> {
    /// The instances of input `x` (named `stem` in instance names) with its bracket.
    pub fn make(&self, stem: &str, center_file: &str, x: &[f64], b: &Bracket) -> InputResult {
        let mut out = InputResult::default();
        let input = &b.input;
        if b.class >= self.net.output_size() {
            out.notes.push(format!(
                "{input}: no class recorded ({}); skipped",
                b.status
            ));
            return out;
        }
        if b.status == "not-robust-at-input" || b.status == "error" {
            out.notes.push(format!(
                "{input}: bracket run ended '{}'; skipped",
                b.status
            ));
            return out;
        }
        let start = Instant::now();
        let mut settings = self.settings.clone();
        if let Some(t) = self.timeout {
            settings.deadline = Some(start + t);
        }
        let oracle = MilpOracle::new(self.net, self.domain.clone(), settings);
        let c = b.class;
        let mut witness: Option<(Witness, String)> = None;
        for &f in &self.factors {
            let name = format!("{stem}_f{f}");
            let (radius, expected) = if f < 1.0 {
                let Some(r_lo) = b.r_lo else {
                    out.notes.push(format!(
                        "{name}: no proved radius r_lo for {input}; unsat instances skipped"
                    ));
                    continue;
                };
                (f * r_lo, Expected::Unsat)
            } else {
                let Some(r_hi) = b.r_hi else {
                    out.notes.push(format!(
                        "{name}: no counterexample distance r_hi for {input}; sat instances skipped"
                    ));
                    continue;
                };
                (f * r_hi, Expected::Sat)
            };
            let region = Hyperbox::ball(x, radius, &self.domain);
            let mut entry = KeyEntry {
                instance: name.clone(),
                onnx: self.onnx.clone(),
                vnnlib: format!("vnnlib/{name}.vnnlib"),
                expected,
                input: input.clone(),
                center: center_file.to_string(),
                class: c,
                factor: f,
                radius,
                r_lo: b.r_lo.unwrap_or(0.0),
                r_hi: b.r_hi,
                evidence: String::new(),
                counterexample: None,
                proof: None,
                margin: None,
                margin_f32: None,
                timeout: self.instance_timeout,
            };
            let mut counterexample = None;
            let mut proof_text = None;
            match expected {
                Expected::Unsat => {
                    let inside = b.proved.as_ref().is_some_and(|p| p.contains_box(&region));
                    if !inside {
                        out.notes.push(format!(
                            "{name}: the box is not inside the proved ball of radius r_lo; skipped"
                        ));
                        continue;
                    }
                    entry.evidence = match oracle.decide(&Question::Sound {
                        region: &region,
                        class: c,
                    }) {
                        Verdict::Holds { method, .. } => method.to_string(),
                        Verdict::Violated { witness, .. } => {
                            // Contradicts the bracket's proof: never put such a box in a key.
                            out.notes.push(format!(
                                "{name}: INCONSISTENT: a counterexample (margin {}) lies inside \
                                 the proved ball; skipped — please report this",
                                witness.margin
                            ));
                            continue;
                        }
                        Verdict::Unknown { .. } => "inside the proved r_lo ball".to_string(),
                    };
                    // A proof file anyone can check (`ppnn check MODEL FILE`); a box it cannot
                    // be written for keeps its instance, with the reason noted.
                    if let Some(hash) = &self.model_sha256 {
                        let limits = crate::milp::solver::Limits {
                            deadline: self.timeout.map(|t| start + t),
                            ..Default::default()
                        };
                        let tau = self.settings.margin;
                        match crate::proof::emit::prove_sound(
                            self.net,
                            hash,
                            &region,
                            c,
                            tau,
                            Some(x),
                            &limits,
                        ) {
                            Ok(p) => {
                                entry.proof = Some(format!("key/proofs/{name}.proof.json"));
                                proof_text = Some(p.to_json());
                            }
                            Err(why) => out.notes.push(format!("{name}: no proof file: {why}")),
                        }
                    }
                }
                Expected::Sat => {
                    // A counterexample of a smaller sat box lies in this one too.
                    let reuse = witness
                        .as_ref()
                        .filter(|(w, _)| region.contains(&w.x))
                        .cloned();
                    let found = reuse.or_else(|| {
                        match oracle.decide(&Question::Sound {
                            region: &region,
                            class: c,
                        }) {
                            Verdict::Violated {
                                witness, method, ..
                            } => Some((witness, method.to_string())),
                            _ => None,
                        }
                    });
                    let Some((w, how)) = found else {
                        out.notes.push(format!(
                            "{name}: no confirmed counterexample found in the box in time; skipped"
                        ));
                        continue;
                    };
                    witness = Some((w.clone(), how.clone()));
                    let text = assignment(&w.x, &w.logits);
                    // Read back what a tool would read, and confirm again.
                    let back: Option<Vec<f64>> = parse_assignment(&text)
                        .ok()
                        .and_then(|a| a.x.into_iter().collect());
                    let confirmed = back
                        .as_deref()
                        .filter(|xb| region.contains(xb))
                        .and_then(|xb| Witness::confirm(self.net, xb, c));
                    let Some(w) = confirmed else {
                        out.notes.push(format!(
                            "{name}: the counterexample did not confirm as written; skipped"
                        ));
                        continue;
                    };
                    if let Some(effort) = &self.hidden {
                        if strong_attack(self.net, &region, c, effort).is_some() {
                            out.broken_by_attack += 1;
                            continue;
                        }
                    }
                    entry.evidence = format!("counterexample found by {how}");
                    entry.counterexample =
                        Some(format!("key/counterexamples/{name}.counterexample"));
                    entry.margin = Some(w.margin);
                    entry.margin_f32 = Some(w.margin_f32);
                    counterexample = Some(text);
                }
            }
            let comment = format!(
                "{name}: class {c} of '{input}', L-infinity box of radius {radius} within the domain\n\
                 made by ppnn groundtruth; sat iff some other class reaches class {c} in the box"
            );
            out.made.push(Made {
                property: property(
                    self.dialect,
                    &region,
                    c,
                    self.net.output_size(),
                    self.net.input_shape(),
                    &comment,
                ),
                entry,
                counterexample,
                proof: proof_text,
            });
        }
        out
    }
}

/// Refuses an output directory that exists, is not empty and is not a suite (so that a typo
/// does not scatter files into, or clear files of, an unrelated directory); creates its
/// sub-directories.
pub fn prepare_dir(dir: &Path) -> Result<(), GroundTruthError> {
    let io = |e: std::io::Error| GroundTruthError::Io {
        path: dir.display().to_string(),
        source: e,
    };
    if dir.exists() {
        if !dir.is_dir() {
            return Err(GroundTruthError::Option {
                option: "--out".to_string(),
                problem: format!("'{}' exists and is not a directory", dir.display()),
            });
        }
        let empty = std::fs::read_dir(dir).map_err(io)?.next().is_none();
        let is_suite = dir.join("key").join("suite.json").exists()
            || dir.join("key").join("brackets.jsonl").exists();
        if !empty && !is_suite {
            return Err(GroundTruthError::Option {
                option: "--out".to_string(),
                problem: format!(
                    "'{}' exists, is not empty and is not a suite made by ppnn groundtruth",
                    dir.display()
                ),
            });
        }
    }
    for sub in [
        "onnx",
        "vnnlib",
        "key/counterexamples",
        "key/centers",
        "key/proofs",
    ] {
        std::fs::create_dir_all(dir.join(sub)).map_err(io)?;
    }
    Ok(())
}

/// Empties the instance directories of a suite (`vnnlib/`, `key/counterexamples/`,
/// `key/centers/`) and removes its key and instance list before they are written anew: a
/// previous run's instances with other factors or inputs must not linger, and a run that stops
/// half way must not leave a key that names missing files (the key is written last).
pub fn clear_instances(dir: &Path) -> Result<(), GroundTruthError> {
    for file in ["instances.csv", "answers.csv", "answers.jsonl"] {
        let p = dir.join(file);
        if p.exists() {
            std::fs::remove_file(&p).map_err(|e| GroundTruthError::Io {
                path: p.display().to_string(),
                source: e,
            })?;
        }
    }
    for sub in ["vnnlib", "key/counterexamples", "key/centers", "key/proofs"] {
        let p = dir.join(sub);
        let io = |e: std::io::Error| GroundTruthError::Io {
            path: p.display().to_string(),
            source: e,
        };
        if p.is_dir() {
            std::fs::remove_dir_all(&p).map_err(io)?;
        }
        std::fs::create_dir_all(&p).map_err(io)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn factors_are_checked_and_sorted() {
        assert_eq!(
            check_factors(&[2.0, 0.5, 1.01]).unwrap(),
            vec![0.5, 1.01, 2.0]
        );
        assert_eq!(
            check_factors(&DEFAULT_FACTORS).unwrap(),
            DEFAULT_FACTORS.to_vec()
        );
        for bad in [&[][..], &[1.0], &[0.0], &[-0.5], &[f64::NAN], &[0.5, 0.5]] {
            assert!(check_factors(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn brackets_read_from_batch_lines() {
        let v = serde_json::json!({
            "algorithm": "apothem", "input": "x.csv", "class": 3, "status": "certified",
            "apothem": 0.25, "apothem_upper": 0.2500004, "lb": [0.0, 0.25], "ub": [0.5, 0.75],
        });
        let b = Bracket::from_json(&v).unwrap();
        assert_eq!((b.class, b.r_lo, b.r_hi), (3, Some(0.25), Some(0.2500004)));
        assert_eq!(b.proved.unwrap().ub(), &[0.5, 0.75]);
        let none = serde_json::json!({
            "algorithm": "apothem", "input": "y.csv", "class": 1,
            "status": "not-robust-at-input", "apothem": null, "lb": null,
        });
        let b = Bracket::from_json(&none).unwrap();
        assert!(b.proved.is_none() && b.r_lo.is_none() && b.r_hi.is_none());
        let other = serde_json::json!({"algorithm": "c-bu-d", "input": "x.csv"});
        assert!(Bracket::from_json(&other).is_none());
    }
}
