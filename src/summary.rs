//! Summaries of batch results (JSON lines, one certificate per line) in the shapes of the paper's
//! tables: CPU time, oracle calls, minimum edge length, plus apothem and log10 volume.

use serde_json::Value;

/// One result line, reduced to what the tables need.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// Algorithm name.
    pub algorithm: String,
    /// Input file.
    pub input: String,
    /// `certified`, `complete`, `unknown`, `not-robust-at-input` or `error`.
    pub status: String,
    /// Wall-clock seconds.
    pub time_s: f64,
    /// Oracle calls.
    pub calls: f64,
    /// Calls decided by concrete, interval, attack, MILP.
    pub by_method: [f64; 4],
    /// Seconds spent in the oracle.
    pub oracle_time_s: f64,
    /// Seconds inside the MILP solver (summed over parallel solves).
    pub milp_time_s: f64,
    /// Minimum edge length.
    pub min_edge: Option<f64>,
    /// Apothem.
    pub apothem: Option<f64>,
    /// log10 volume (finite only).
    pub log10_volume: Option<f64>,
}

impl Record {
    /// Reads a result line; `None` when it lacks the algorithm or status.
    pub fn from_json(v: &Value) -> Option<Record> {
        let f = |v: &Value| v.as_f64();
        let oracle = &v["oracle"];
        let by = &oracle["by_method"];
        Some(Record {
            algorithm: v["algorithm"].as_str()?.to_string(),
            input: v["input"].as_str().unwrap_or_default().to_string(),
            status: v["status"].as_str()?.to_string(),
            time_s: f(&v["time_s"]).unwrap_or(0.0),
            calls: f(&oracle["calls"]).unwrap_or(0.0),
            by_method: [
                f(&by["concrete"]).unwrap_or(0.0),
                f(&by["interval"]).unwrap_or(0.0),
                f(&by["attack"]).unwrap_or(0.0),
                f(&by["milp"]).unwrap_or(0.0),
            ],
            oracle_time_s: f(&oracle["time_s"]).unwrap_or(0.0),
            milp_time_s: f(&oracle["milp_time_s"]).unwrap_or(0.0),
            min_edge: f(&v["min_edge"]),
            apothem: f(&v["apothem"]),
            log10_volume: f(&v["log10_volume"]).filter(|x| x.is_finite()),
        })
    }
}

/// Reads JSON lines; returns the records and warnings (torn or malformed lines are skipped).
pub fn read_records(text: &str) -> (Vec<Record>, Vec<String>) {
    let mut out = Vec::new();
    let mut warnings = Vec::new();
    let lines: Vec<&str> = text.split('\n').collect();
    for (n, line) in lines.iter().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let last = n + 1 == lines.len();
        match serde_json::from_str::<Value>(line) {
            // Header lines of batch files name the run; they are not results.
            Ok(v) if v.get(crate::batch::settings::HEADER_KEY).is_some() => {}
            Ok(v) => match Record::from_json(&v) {
                Some(r) => out.push(r),
                None => warnings.push(format!("line {}: not a result record, skipped", n + 1)),
            },
            Err(_) if last => warnings.push(format!(
                "line {}: torn last line (an interrupted write), skipped",
                n + 1
            )),
            Err(e) => warnings.push(format!("line {}: malformed ({e}), skipped", n + 1)),
        }
    }
    (out, warnings)
}

/// min, mean, max, population standard deviation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stats {
    /// Minimum.
    pub min: f64,
    /// Mean.
    pub mean: f64,
    /// Maximum.
    pub max: f64,
    /// Standard deviation.
    pub std: f64,
    /// Number of values.
    pub n: usize,
}

impl Stats {
    /// Statistics of `xs` (`None` when empty).
    pub fn of(xs: &[f64]) -> Option<Stats> {
        if xs.is_empty() {
            return None;
        }
        let n = xs.len() as f64;
        let mean = xs.iter().sum::<f64>() / n;
        let var = xs.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n;
        Some(Stats {
            min: xs.iter().cloned().fold(f64::INFINITY, f64::min),
            mean,
            max: xs.iter().cloned().fold(f64::NEG_INFINITY, f64::max),
            std: var.sqrt(),
            n: xs.len(),
        })
    }
}

/// The summary of one algorithm.
#[derive(Debug, Clone, PartialEq)]
pub struct AlgorithmSummary {
    /// Algorithm name.
    pub algorithm: String,
    /// Result lines (errors included).
    pub runs: usize,
    /// Runs whose status is `unknown` (time-outs, limits).
    pub unknown: usize,
    /// Runs that ended in an error (unreadable input, class mismatch).
    pub errors: usize,
    /// Runs where the input was not robust.
    pub not_robust: usize,
    /// Time per run (s), over non-error runs.
    pub time: Option<Stats>,
    /// Oracle calls per run.
    pub calls: Option<Stats>,
    /// Mean oracle time per call (s).
    pub time_per_call: Option<f64>,
    /// Share of the run time spent in the oracle.
    pub oracle_share: Option<f64>,
    /// Mean calls decided by concrete, interval, attack, MILP.
    pub by_method: [f64; 4],
    /// Minimum edge length over runs with a box.
    pub min_edge: Option<Stats>,
    /// Runs whose box has a positive minimum edge.
    pub nontrivial: usize,
    /// Apothem.
    pub apothem: Option<Stats>,
    /// log10 volume (finite ones).
    pub log10_volume: Option<Stats>,
}

/// Summaries per algorithm, in order of first appearance.
pub fn summarize(records: &[Record]) -> Vec<AlgorithmSummary> {
    let mut names: Vec<&str> = Vec::new();
    for r in records {
        if !names.contains(&r.algorithm.as_str()) {
            names.push(&r.algorithm);
        }
    }
    names
        .into_iter()
        .map(|name| {
            let all: Vec<&Record> = records.iter().filter(|r| r.algorithm == name).collect();
            let ok: Vec<&Record> = all
                .iter()
                .cloned()
                .filter(|r| r.status != "error")
                .collect();
            let col = |f: &dyn Fn(&Record) -> Option<f64>| -> Vec<f64> {
                ok.iter().filter_map(|r| f(r)).collect()
            };
            let total_calls: f64 = ok.iter().map(|r| r.calls).sum();
            let total_oracle: f64 = ok.iter().map(|r| r.oracle_time_s).sum();
            let total_time: f64 = ok.iter().map(|r| r.time_s).sum();
            let mut by = [0.0; 4];
            for r in &ok {
                for k in 0..4 {
                    by[k] += r.by_method[k];
                }
            }
            if !ok.is_empty() {
                by.iter_mut().for_each(|b| *b /= ok.len() as f64);
            }
            let edges = col(&|r| r.min_edge);
            AlgorithmSummary {
                algorithm: name.to_string(),
                runs: all.len(),
                unknown: ok.iter().filter(|r| r.status == "unknown").count(),
                errors: all.len() - ok.len(),
                not_robust: ok
                    .iter()
                    .filter(|r| r.status == "not-robust-at-input")
                    .count(),
                time: Stats::of(&col(&|r| Some(r.time_s))),
                calls: Stats::of(&col(&|r| Some(r.calls))),
                time_per_call: (total_calls > 0.0).then(|| total_oracle / total_calls),
                oracle_share: (total_time > 0.0).then(|| total_oracle / total_time),
                by_method: by,
                nontrivial: edges.iter().filter(|&&e| e > 0.0).count(),
                min_edge: Stats::of(&edges),
                apothem: Stats::of(&col(&|r| r.apothem)),
                log10_volume: Stats::of(&col(&|r| r.log10_volume)),
            }
        })
        .collect()
}

fn cell(x: Option<f64>, digits: usize) -> String {
    match x {
        Some(v) => format!("{v:.digits$}"),
        None => "-".to_string(),
    }
}

/// The `min | mean | max | std` cells of `x`, each with its number of digits.
fn stats_cells(x: Option<Stats>, digits: [usize; 4]) -> String {
    let parts = [
        x.map(|s| s.min),
        x.map(|s| s.mean),
        x.map(|s| s.max),
        x.map(|s| s.std),
    ];
    parts
        .iter()
        .zip(digits)
        .map(|(&v, d)| cell(v, d))
        .collect::<Vec<_>>()
        .join(" | ")
}

/// Markdown tables in the paper's shapes.
pub fn markdown(s: &[AlgorithmSummary]) -> String {
    let mut out = String::new();
    out.push_str("### CPU time (s)\n\n| algorithm | runs | min | avg | max | std | unknown | errors |\n|---|---|---|---|---|---|---|---|\n");
    for a in s {
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} |\n",
            a.algorithm,
            a.runs,
            stats_cells(a.time, [3; 4]),
            a.unknown,
            a.errors
        ));
    }
    out.push_str("\n### Oracle calls\n\n| algorithm | min | avg | max | std | avg time/call (s) | time in verifier | concrete | interval | attack | milp |\n|---|---|---|---|---|---|---|---|---|---|---|\n");
    for a in s {
        out.push_str(&format!(
            "| {} | {} | {} | {} | {:.1} | {:.1} | {:.1} | {:.1} |\n",
            a.algorithm,
            stats_cells(a.calls, [0, 1, 0, 1]),
            cell(a.time_per_call, 4),
            a.oracle_share
                .map_or("-".to_string(), |x| format!("{:.0}%", 100.0 * x)),
            a.by_method[0],
            a.by_method[1],
            a.by_method[2],
            a.by_method[3]
        ));
    }
    out.push_str("\n### Minimum edge length, apothem, log10 volume\n\n| algorithm | min edge min | avg | max | std | non-trivial | apothem avg | apothem max | log10 volume avg |\n|---|---|---|---|---|---|---|---|---|\n");
    for a in s {
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} |\n",
            a.algorithm,
            stats_cells(a.min_edge, [4; 4]),
            a.nontrivial,
            cell(a.apothem.map(|x| x.mean), 5),
            cell(a.apothem.map(|x| x.max), 5),
            cell(a.log10_volume.map(|x| x.mean), 1)
        ));
    }
    out
}

/// One CSV row per algorithm.
pub fn csv(s: &[AlgorithmSummary]) -> String {
    let mut out = String::from("algorithm,runs,unknown,errors,not_robust,time_min,time_avg,time_max,time_std,calls_min,calls_avg,calls_max,calls_std,time_per_call,oracle_share,concrete_avg,interval_avg,attack_avg,milp_avg,min_edge_min,min_edge_avg,min_edge_max,min_edge_std,nontrivial,apothem_avg,apothem_max,log10_volume_avg\n");
    let o = |x: Option<f64>| x.map_or(String::new(), |v| format!("{v}"));
    for a in s {
        let st = |x: Option<Stats>| {
            vec![
                o(x.map(|s| s.min)),
                o(x.map(|s| s.mean)),
                o(x.map(|s| s.max)),
                o(x.map(|s| s.std)),
            ]
        };
        let mut row = vec![
            a.algorithm.clone(),
            a.runs.to_string(),
            a.unknown.to_string(),
            a.errors.to_string(),
            a.not_robust.to_string(),
        ];
        row.extend(st(a.time));
        row.extend(st(a.calls));
        row.push(o(a.time_per_call));
        row.push(o(a.oracle_share));
        row.extend(a.by_method.iter().map(|b| b.to_string()));
        row.extend(st(a.min_edge));
        row.push(a.nontrivial.to_string());
        row.push(o(a.apothem.map(|x| x.mean)));
        row.push(o(a.apothem.map(|x| x.max)));
        row.push(o(a.log10_volume.map(|x| x.mean)));
        out.push_str(&row.join(","));
        out.push('\n');
    }
    out
}

/// One input's exact radius bracket from a batch of `apothem` runs: robust proved up to
/// `r_lo`, refuted from `r_hi` on (`None`: no counterexample found).
#[derive(Debug, Clone, PartialEq)]
pub struct RadiusBracket {
    /// The input file.
    pub input: String,
    /// Proved robust radius (`None` when the input itself is not robust).
    pub r_lo: Option<f64>,
    /// Distance of the nearest confirmed counterexample.
    pub r_hi: Option<f64>,
}

/// The brackets of the `apothem` (or `exact`) lines of a batch results file; an input that
/// is not robust at itself has no `r_lo` and `r_hi = 0`; error lines are left out. A later line of
/// an input replaces an earlier one.
pub fn radius_brackets(text: &str) -> Vec<RadiusBracket> {
    let mut out: Vec<RadiusBracket> = Vec::new();
    for line in text.lines() {
        let Ok(v) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        if !matches!(v["algorithm"].as_str(), Some("apothem" | "exact")) {
            continue;
        }
        let Some(input) = v["input"].as_str() else {
            continue;
        };
        let b = match v["status"].as_str() {
            Some("not-robust-at-input") => RadiusBracket {
                input: input.to_string(),
                r_lo: None,
                r_hi: Some(0.0),
            },
            Some("certified" | "unknown") => RadiusBracket {
                input: input.to_string(),
                r_lo: Some(v["apothem"].as_f64().unwrap_or(0.0)),
                r_hi: v["apothem_upper"].as_f64(),
            },
            _ => continue,
        };
        out.retain(|o| o.input != b.input);
        out.push(b);
    }
    out
}

/// Another verifier's certified radius per input, from a CSV `input,radius` (header
/// optional) or from `ppnn score --json` lines (the largest radius it answered `unsat`, right
/// or wrong: the curve shows what it claims).
pub fn claimed_radii(text: &str) -> Result<Vec<(String, f64)>, String> {
    let mut out: Vec<(String, f64)> = Vec::new();
    let mut put = |input: &str, r: f64| match out.iter_mut().find(|(i, _)| i == input) {
        Some(e) => e.1 = e.1.max(r),
        None => out.push((input.to_string(), r)),
    };
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        if line.starts_with('{') {
            let v: Value =
                serde_json::from_str(line).map_err(|e| format!("line {}: {e}", n + 1))?;
            let (Some(input), Some(radius)) = (v["input"].as_str(), v["radius"].as_f64()) else {
                return Err(format!("line {}: no input or radius", n + 1));
            };
            if v["answer"].as_str() == Some("unsat") {
                put(input, radius);
            } else {
                put(input, 0.0);
            }
            continue;
        }
        let Some((input, r)) = line.rsplit_once(',') else {
            return Err(format!("line {}: expected 'input,radius'", n + 1));
        };
        match r.trim().parse::<f64>() {
            Ok(r) if r.is_finite() && r >= 0.0 => put(input.trim(), r),
            Ok(r) => return Err(format!("line {}: radius {r} is not a number >= 0", n + 1)),
            Err(_) if n == 0 => continue, // a header
            Err(_) => return Err(format!("line {}: '{}' is not a number", n + 1, r.trim())),
        }
    }
    Ok(out)
}

/// The exact robustness distribution at the breakpoints ε of all curves: per ε, the fraction
/// of inputs proved robust (`r_lo ≥ ε`), the fraction not refuted (`r_hi > ε`, or no
/// counterexample), and for each other verifier the fraction it certifies (claimed radius ≥
/// ε; inputs it does not mention count as 0).
pub fn robustness_curve(
    brackets: &[RadiusBracket],
    others: &[Vec<(String, f64)>],
) -> Vec<(f64, f64, f64, Vec<f64>)> {
    let n = brackets.len().max(1) as f64;
    let mut eps: Vec<f64> = vec![0.0];
    for b in brackets {
        eps.extend(b.r_lo);
        eps.extend(b.r_hi);
    }
    for o in others {
        eps.extend(o.iter().map(|(_, r)| *r));
    }
    eps.retain(|e| e.is_finite());
    eps.sort_by(f64::total_cmp);
    eps.dedup();
    let top = eps.last().copied().unwrap_or(0.0);
    eps.push(if top > 0.0 { top * 1.05 } else { 1.0 });
    eps.iter()
        .map(|&e| {
            let proved = brackets
                .iter()
                .filter(|b| b.r_lo.is_some_and(|r| r >= e))
                .count() as f64
                / n;
            let open = brackets
                .iter()
                .filter(|b| b.r_hi.is_none_or(|r| r > e))
                .count() as f64
                / n;
            let other = others
                .iter()
                .map(|o| {
                    brackets
                        .iter()
                        .filter(|b| {
                            o.iter()
                                .find(|(i, _)| *i == b.input)
                                .is_some_and(|(_, r)| *r >= e && *r > 0.0)
                        })
                        .count() as f64
                        / n
                })
                .collect();
            (e, proved, open, other)
        })
        .collect()
}

#[cfg(test)]
mod curve_tests {
    use super::*;

    #[test]
    fn the_curve_brackets_the_distribution() {
        let text = concat!(
            "{\"algorithm\":\"apothem\",\"input\":\"a\",\"status\":\"certified\",\"apothem\":0.1,\"apothem_upper\":0.2}\n",
            "{\"algorithm\":\"apothem\",\"input\":\"b\",\"status\":\"certified\",\"apothem\":0.3,\"apothem_upper\":0.31}\n",
            "{\"algorithm\":\"apothem\",\"input\":\"c\",\"status\":\"not-robust-at-input\"}\n",
            "{\"algorithm\":\"c-bu-d\",\"input\":\"a\",\"status\":\"certified\",\"apothem\":0.5}\n",
        );
        let b = radius_brackets(text);
        assert_eq!(b.len(), 3);
        let other = claimed_radii("input,radius\na,0.05\nb,0.3\n").unwrap();
        let c = robustness_curve(&b, &[other]);
        let at = |e: f64| c.iter().find(|p| p.0 == e).unwrap().clone();
        // ε = 0.2: b proved; a and b not refuted (a's counterexample is at 0.2: refuted).
        let p = at(0.2);
        assert_eq!((p.1, p.2), (1.0 / 3.0, 1.0 / 3.0));
        let p = at(0.1);
        assert_eq!((p.1, p.2, p.3[0]), (2.0 / 3.0, 2.0 / 3.0, 1.0 / 3.0));
        let p = at(0.05);
        assert_eq!(p.3[0], 2.0 / 3.0);
        assert!(c.iter().all(|p| p.1 <= p.2 && p.3[0] <= p.2));
        let graded = "{\"input\":\"a\",\"radius\":0.07,\"answer\":\"unsat\"}\n{\"input\":\"a\",\"radius\":0.3,\"answer\":\"sat\"}\n";
        assert_eq!(
            claimed_radii(graded).unwrap(),
            vec![("a".to_string(), 0.07)]
        );
        assert!(claimed_radii("a,b\nc,d\n").unwrap_err().contains("line 2"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_and_torn_lines() {
        let s = Stats::of(&[1.0, 2.0, 3.0]).unwrap();
        assert_eq!((s.min, s.mean, s.max), (1.0, 2.0, 3.0));
        assert!((s.std - (2.0f64 / 3.0).sqrt()).abs() < 1e-12);
        let text = "{\"algorithm\":\"a\",\"status\":\"certified\",\"time_s\":1}\n{\"algorithm\":\"a\",\"sta";
        let (r, w) = read_records(text);
        assert_eq!(r.len(), 1);
        assert!(w[0].contains("torn"));
    }
}
