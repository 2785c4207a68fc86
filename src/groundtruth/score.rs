//! `score`: grading another verifier's answers on a suite against its key.
//!
//! - **wrong**: `unsat` on a `sat` instance (the key holds a confirmed counterexample); `sat`
//!   on an `unsat` instance (the key holds a proof); a `sat` whose counterexample lies outside
//!   the box by more than [`BOX_TOLERANCE`] or does not satisfy the property when run through
//!   the network in f32 (some other class must reach the input's class);
//! - **right**: the key's answer (a `sat` without a counterexample is right but counted as
//!   unchecked);
//! - **unsolved**: timeout, unknown, error, or no result for the instance.
//!
//! The VNN-COMP score counts +10 per right and −150 per wrong answer.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::key::{Expected, Suite};
use super::vnnlib::parse_assignment;
use super::GroundTruthError;
use crate::network::{margin_of, Network};
use crate::region::Hyperbox;

/// How far outside the box a tool's counterexample may lie (VNN-COMP's tolerance).
pub const BOX_TOLERANCE: f64 = 1e-4;

/// Points for a right answer.
pub const SCORE_RIGHT: i64 = 10;
/// Points for a wrong answer.
pub const SCORE_WRONG: i64 = -150;

/// What a tool answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Not robust.
    Sat,
    /// Robust.
    Unsat,
    /// Ran out of time.
    Timeout,
    /// Gave up.
    Unknown,
    /// Failed, or wrote something unreadable.
    Error,
    /// No result for the instance.
    Missing,
}

impl Status {
    /// Reads a result word as VNN-COMP tools write it (`violated`/`holds` are older names).
    pub fn parse(word: &str) -> Option<Status> {
        match word.trim().to_ascii_lowercase().as_str() {
            "sat" | "violated" => Some(Status::Sat),
            "unsat" | "holds" => Some(Status::Unsat),
            "timeout" | "timed-out" | "timed_out" | "run_instance_timeout" => Some(Status::Timeout),
            "unknown" => Some(Status::Unknown),
            "error" => Some(Status::Error),
            _ => None,
        }
    }

    /// The word.
    pub fn name(self) -> &'static str {
        match self {
            Status::Sat => "sat",
            Status::Unsat => "unsat",
            Status::Timeout => "timeout",
            Status::Unknown => "unknown",
            Status::Error => "error",
            Status::Missing => "missing",
        }
    }
}

/// A tool's answer on one instance.
#[derive(Debug, Clone)]
pub struct Answer {
    /// The answer.
    pub status: Status,
    /// The counterexample text, when given.
    pub counterexample: Option<String>,
    /// Seconds, when the results say.
    pub time: Option<f64>,
    /// Where it was read (file, or file and line).
    pub source: String,
    /// A problem with the result itself (an unreadable status word…).
    pub problem: Option<String>,
}

/// The grade of an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Grade {
    /// Agrees with the key (and its counterexample checks).
    Right,
    /// Contradicts the key, or its counterexample does not check.
    Wrong,
    /// No decision.
    Unsolved,
}

/// One graded instance.
#[derive(Debug, Clone, Serialize)]
pub struct Graded {
    /// Instance name.
    pub instance: String,
    /// The input file of the box's centre.
    pub input: String,
    /// The factor.
    pub factor: f64,
    /// The box radius.
    pub radius: f64,
    /// The key's answer.
    pub expected: Expected,
    /// The tool's answer.
    pub answer: Status,
    /// The grade.
    pub grade: Grade,
    /// A right `sat` whose counterexample was not given (so not checked).
    pub unchecked: bool,
    /// Why (for wrong answers: the evidence).
    pub reason: String,
    /// The tool's time.
    pub time: Option<f64>,
}

fn bad_results(path: &Path, problem: String) -> GroundTruthError {
    GroundTruthError::Results {
        path: path.display().to_string(),
        problem,
    }
}

/// An instance name from a property path as tools write it: its file name without
/// `.vnnlib` (or `.vnnlib.gz`).
pub fn instance_of(vnnlib: &str) -> String {
    let name = vnnlib.rsplit(['/', '\\']).next().unwrap_or(vnnlib);
    let name = name.strip_suffix(".gz").unwrap_or(name);
    name.strip_suffix(".vnnlib").unwrap_or(name).to_string()
}

/// Splits a result file into its status word and the counterexample after it.
fn split_result(text: &str) -> (String, Option<String>) {
    let mut lines = text.lines().skip_while(|l| l.trim().is_empty());
    let first = lines.next().unwrap_or("").trim().to_string();
    let rest: String = lines.collect::<Vec<_>>().join("\n");
    let rest = (!rest.trim().is_empty()).then_some(rest);
    (first, rest)
}

/// Reads a VNN-COMP `results.csv` (`benchmark,onnx,vnnlib,prepare_time,result,run_time`,
/// header optional). Counterexamples are looked for beside it as `INSTANCE.counterexample`
/// or `counterexamples/INSTANCE.counterexample`.
pub fn read_vnncomp_csv(path: &Path) -> Result<HashMap<String, Answer>, GroundTruthError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| bad_results(path, format!("cannot be read ({e})")))?;
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut out = HashMap::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let cols: Vec<&str> = line.split(',').map(str::trim).collect();
        if cols.len() < 6 {
            return Err(bad_results(
                path,
                format!(
                    "line {}: expected 6 columns (benchmark,onnx,vnnlib,prepare_time,result,run_time), got {}",
                    n + 1,
                    cols.len()
                ),
            ));
        }
        if n == 0 && cols[4].eq_ignore_ascii_case("result") {
            continue;
        }
        let instance = instance_of(cols[2]);
        let source = format!("{} line {}", path.display(), n + 1);
        let (status, problem) = match Status::parse(cols[4]) {
            Some(s) => (s, None),
            None => (
                Status::Error,
                Some(format!("unrecognised result '{}'", cols[4])),
            ),
        };
        let counterexample = [
            dir.join(format!("{instance}.counterexample")),
            dir.join("counterexamples")
                .join(format!("{instance}.counterexample")),
        ]
        .iter()
        .find_map(|p| std::fs::read_to_string(p).ok())
        .map(|t| {
            let (first, rest) = split_result(&t);
            if Status::parse(&first).is_some() {
                rest.unwrap_or_default()
            } else {
                t
            }
        });
        out.insert(
            instance,
            Answer {
                status,
                counterexample,
                time: cols[5].parse().ok(),
                source,
                problem,
            },
        );
    }
    Ok(out)
}

/// Reads a directory of per-instance result files, named after the instance with any of the
/// extensions `.counterexample`, `.result`, `.out`, `.txt` or none: first line the status,
/// then the counterexample.
pub fn read_result_dir(
    dir: &Path,
    suite: &Suite,
) -> Result<HashMap<String, Answer>, GroundTruthError> {
    if !dir.is_dir() {
        return Err(bad_results(dir, "is not a directory".to_string()));
    }
    let mut out = HashMap::new();
    for e in &suite.entries {
        let candidates: Vec<PathBuf> = ["counterexample", "result", "out", "txt"]
            .iter()
            .map(|ext| dir.join(format!("{}.{ext}", e.instance)))
            .chain(std::iter::once(dir.join(&e.instance)))
            .collect();
        let Some(p) = candidates.into_iter().find(|p| p.is_file()) else {
            continue;
        };
        let text = std::fs::read_to_string(&p)
            .map_err(|err| bad_results(&p, format!("cannot be read ({err})")))?;
        let (first, rest) = split_result(&text);
        let (status, problem) = match Status::parse(&first) {
            Some(s) => (s, None),
            None => (
                Status::Error,
                Some(format!("first line '{first}' is not a result word")),
            ),
        };
        out.insert(
            e.instance.clone(),
            Answer {
                status,
                counterexample: rest,
                time: None,
                source: p.display().to_string(),
                problem,
            },
        );
    }
    Ok(out)
}

/// Checks a counterexample: within the box to [`BOX_TOLERANCE`], and some other class
/// reaching the class in f32 up to `out_tol` (`y_c - max_{j≠c} y_j ≤ out_tol`). Returns the f32
/// margin and how far outside the box the point lies, or what is wrong.
fn check_counterexample(
    net: &Network,
    region: &Hyperbox,
    class: usize,
    text: &str,
    out_tol: f64,
) -> Result<(f64, f64), String> {
    let a = parse_assignment(text).map_err(|e| format!("unreadable counterexample: {e}"))?;
    let d = net.input_size();
    if a.x.len() < d {
        return Err(format!(
            "the counterexample assigns {} of {d} inputs",
            a.x.iter().flatten().count()
        ));
    }
    if a.x.len() > d {
        return Err(format!(
            "the counterexample assigns X_{} but the model has {d} inputs",
            a.x.len() - 1
        ));
    }
    let Some(x): Option<Vec<f64>> = a.x.iter().copied().collect() else {
        let i = a.x.iter().position(|v| v.is_none()).unwrap_or(0);
        return Err(format!("the counterexample does not assign X_{i}"));
    };
    let mut outside = 0.0f64;
    let mut worst = 0;
    for i in 0..d {
        let o = (region.lb()[i] - x[i]).max(x[i] - region.ub()[i]);
        if o > outside {
            outside = o;
            worst = i;
        }
    }
    if outside > BOX_TOLERANCE {
        return Err(format!(
            "X_{worst} = {} lies {outside:.3e} outside the box [{}, {}] (tolerance {BOX_TOLERANCE:e})",
            x[worst],
            region.lb()[worst],
            region.ub()[worst]
        ));
    }
    let (m32, j) = margin_of(&net.forward_f32(&x), class);
    if m32 > out_tol {
        return Err(format!(
            "the counterexample does not satisfy the property: in f32 class {class} still wins by {m32:.4e} over class {j}{}",
            if out_tol > 0.0 { format!(" (output tolerance {out_tol:e})") } else { String::new() }
        ));
    }
    Ok((m32, outside))
}

/// Grades `answers` against the suite's key. `out_tol` is the output tolerance of
/// counterexample checks: 0 asks that another class really reach the class in f32;
/// VNN-COMP's checker accepts points where it falls short by up to 1e-4.
pub fn grade(
    suite: &Suite,
    net: &Network,
    answers: &HashMap<String, Answer>,
    out_tol: f64,
) -> Result<Vec<Graded>, GroundTruthError> {
    let domain = suite.domain()?;
    let mut centers: HashMap<String, Vec<f64>> = HashMap::new();
    let mut out = Vec::with_capacity(suite.entries.len());
    for e in &suite.entries {
        if !centers.contains_key(&e.center) {
            let p = suite.dir.join(&e.center);
            let x = crate::io::read_input(&p, net.input_size()).map_err(|err| {
                GroundTruthError::Suite {
                    path: p.display().to_string(),
                    problem: err.to_string(),
                }
            })?;
            centers.insert(e.center.clone(), x);
        }
        let x = &centers[&e.center];
        let region = Hyperbox::ball(x, e.radius, &domain);
        let a = answers.get(&e.instance);
        let status = a.map_or(Status::Missing, |a| a.status);
        let mut unchecked = false;
        let (grade, reason) = match (status, e.expected) {
            (Status::Missing, _) => (Grade::Unsolved, "missing result file".to_string()),
            (Status::Timeout | Status::Unknown, _) => (Grade::Unsolved, status.name().to_string()),
            (Status::Error, _) => (
                Grade::Unsolved,
                a.and_then(|a| a.problem.clone())
                    .unwrap_or_else(|| "error".to_string()),
            ),
            (Status::Unsat, Expected::Unsat) | (Status::Sat, Expected::Sat)
                if a.and_then(|a| a.counterexample.as_ref()).is_none() =>
            {
                unchecked = status == Status::Sat;
                (
                    Grade::Right,
                    if unchecked {
                        "sat without a counterexample (not checked)".to_string()
                    } else {
                        String::new()
                    },
                )
            }
            (Status::Unsat, Expected::Unsat) => (Grade::Right, String::new()),
            (Status::Sat, Expected::Sat) => {
                let text = a.and_then(|a| a.counterexample.as_deref()).unwrap_or("");
                match check_counterexample(net, &region, e.class, text, out_tol) {
                    Ok((m32, _)) if m32 > 0.0 => (
                        Grade::Right,
                        format!("counterexample accepted within the output tolerance: in f32 class {} still wins by {m32:.4e}", e.class),
                    ),
                    Ok(_) => (Grade::Right, String::new()),
                    Err(why) => (Grade::Wrong, why),
                }
            }
            (Status::Unsat, Expected::Sat) => (
                Grade::Wrong,
                format!(
                    "unsat, but the key's counterexample {} lies in the box (margin {:.4e} in f64, {:.4e} in f32: class {} does not win)",
                    e.counterexample.as_deref().unwrap_or("?"),
                    e.margin.unwrap_or(f64::NAN),
                    e.margin_f32.unwrap_or(f64::NAN),
                    e.class
                ),
            ),
            (Status::Sat, Expected::Unsat) => {
                let mut why = format!(
                    "sat, but the box (radius {} = {} x r_lo {}) is proved robust ({})",
                    e.radius, e.factor, e.r_lo, e.evidence
                );
                if let Some(text) = a.and_then(|a| a.counterexample.as_deref()) {
                    match check_counterexample(net, &region, e.class, text, 0.0) {
                        Err(w) => why.push_str(&format!("; the tool's counterexample: {w}")),
                        Ok((m32, outside)) if outside > 0.0 => why.push_str(&format!(
                            "; the tool's counterexample (margin {m32:.4e} in f32) lies {outside:.3e} outside the box, within the tolerance"
                        )),
                        Ok((m32, _)) => why.push_str(&format!(
                            "; THE TOOL'S COUNTEREXAMPLE LIES IN THE BOX WITH f32 MARGIN {m32:.4e}: \
                             the key contradicts it (a float32 tie or a ppnn bug) — please report"
                        )),
                    }
                }
                (Grade::Wrong, why)
            }
        };
        out.push(Graded {
            instance: e.instance.clone(),
            input: e.input.clone(),
            factor: e.factor,
            radius: e.radius,
            expected: e.expected,
            answer: status,
            grade,
            unchecked,
            reason,
            time: a.and_then(|a| a.time),
        });
    }
    Ok(out)
}

/// Counts per factor.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct FactorRow {
    /// The factor.
    pub factor: f64,
    /// `sat` or `unsat`.
    pub expected: String,
    /// Instances.
    pub instances: usize,
    /// Right answers.
    pub right: usize,
    /// Wrong answers.
    pub wrong: usize,
    /// Unsolved (including missing).
    pub unsolved: usize,
    /// Of the unsolved, missing.
    pub missing: usize,
    /// Right `sat` answers without a counterexample.
    pub unchecked: usize,
    /// Mean time of the decided answers, when known.
    pub mean_time: Option<f64>,
}

/// The table by factor, in factor order.
pub fn by_factor(graded: &[Graded]) -> Vec<FactorRow> {
    let mut factors: Vec<f64> = graded.iter().map(|g| g.factor).collect();
    factors.sort_by(f64::total_cmp);
    factors.dedup();
    factors
        .into_iter()
        .map(|f| {
            let rows: Vec<&Graded> = graded.iter().filter(|g| g.factor == f).collect();
            let count = |gr: Grade| rows.iter().filter(|g| g.grade == gr).count();
            let times: Vec<f64> = rows
                .iter()
                .filter(|g| g.grade != Grade::Unsolved)
                .filter_map(|g| g.time)
                .collect();
            FactorRow {
                factor: f,
                expected: rows.first().map_or("", |g| g.expected.name()).to_string(),
                instances: rows.len(),
                right: count(Grade::Right),
                wrong: count(Grade::Wrong),
                unsolved: count(Grade::Unsolved),
                missing: rows.iter().filter(|g| g.answer == Status::Missing).count(),
                unchecked: rows.iter().filter(|g| g.unchecked).count(),
                mean_time: (!times.is_empty())
                    .then(|| times.iter().sum::<f64>() / times.len() as f64),
            }
        })
        .collect()
}

/// The VNN-COMP score: +10 per right, −150 per wrong answer.
pub fn vnncomp_score(graded: &[Graded]) -> i64 {
    graded
        .iter()
        .map(|g| match g.grade {
            Grade::Right => SCORE_RIGHT,
            Grade::Wrong => SCORE_WRONG,
            Grade::Unsolved => 0,
        })
        .sum()
}

/// The report: the table by factor (markdown), totals, the score, every wrong answer.
pub fn report(graded: &[Graded]) -> String {
    let rows = by_factor(graded);
    let mut s = String::from(
        "| factor | answer | instances | right | wrong | unsolved (missing) | sat unchecked | mean time (s) |\n\
         |---:|---|---:|---:|---:|---:|---:|---:|\n",
    );
    for r in &rows {
        s.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} ({}) | {} | {} |\n",
            r.factor,
            r.expected,
            r.instances,
            r.right,
            r.wrong,
            r.unsolved,
            r.missing,
            r.unchecked,
            r.mean_time.map_or("-".to_string(), |t| format!("{t:.3}"))
        ));
    }
    let total = |f: fn(&FactorRow) -> usize| rows.iter().map(f).sum::<usize>();
    s.push_str(&format!(
        "| all | | {} | {} | {} | {} ({}) | {} | |\n\n",
        total(|r| r.instances),
        total(|r| r.right),
        total(|r| r.wrong),
        total(|r| r.unsolved),
        total(|r| r.missing),
        total(|r| r.unchecked),
    ));
    s.push_str(&format!(
        "VNN-COMP score: {} ({} right x {SCORE_RIGHT}, {} wrong x {SCORE_WRONG})\n",
        vnncomp_score(graded),
        total(|r| r.right),
        total(|r| r.wrong)
    ));
    let wrong: Vec<&Graded> = graded.iter().filter(|g| g.grade == Grade::Wrong).collect();
    if wrong.is_empty() {
        s.push_str("no wrong answers\n");
    } else {
        s.push_str(&format!("\n{} wrong answer(s):\n", wrong.len()));
        for g in wrong {
            s.push_str(&format!(
                "- {} (input {}, factor {}, radius {}): expected {}, answered {}: {}\n",
                g.instance,
                g.input,
                g.factor,
                g.radius,
                g.expected.name(),
                g.answer.name(),
                g.reason
            ));
        }
    }
    s
}
