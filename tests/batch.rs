//! `ppnn batch` and `ppnn summarize`: one valid line per pair, resumable after a kill, torn
//! lines tolerated, summaries with the expected numbers.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn ppnn() -> Command {
    Command::new(env!("CARGO_BIN_EXE_ppnn"))
}

fn lines(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).expect("every line is valid JSON"))
        .collect()
}

fn inputs(n: usize) -> Vec<String> {
    [
        "0-1", "1-1", "2-1", "3-1", "4-1", "5-1", "6-1", "7-1", "8-1", "9-1",
    ][..n]
        .iter()
        .map(|s| {
            root()
                .join(format!("data/inputs/mnist/{s}.csv"))
                .display()
                .to_string()
        })
        .collect()
}

fn batch_args(out: &Path, inputs: &[String], algos: &str) -> Vec<String> {
    let mut a = vec![
        "batch".to_string(),
        root()
            .join("data/networks/mnist-784-32-10.onnx")
            .display()
            .to_string(),
    ];
    a.extend(inputs.iter().cloned());
    a.extend([
        "--algo".to_string(),
        algos.to_string(),
        "--out".to_string(),
        out.display().to_string(),
        "--class-from-labels".to_string(),
    ]);
    a
}

#[test]
fn batch_records_each_pair_once_and_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("r.jsonl");
    let ins = inputs(3);
    let o = ppnn()
        .args(batch_args(&out, &ins, "c-bu-d,complete-c-d-bu"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let l = lines(&out);
    assert_eq!(l.len(), 6);
    for v in &l {
        assert!(
            matches!(v["status"].as_str(), Some("certified" | "complete")),
            "{v}"
        );
    }
    // A second run adds nothing.
    let o = ppnn()
        .args(batch_args(&out, &ins, "c-bu-d,complete-c-d-bu"))
        .output()
        .unwrap();
    assert!(o.status.success());
    assert_eq!(lines(&out).len(), 6);
    // A torn last line is tolerated: dropped, and its pair (if any) runs again.
    let mut text = std::fs::read_to_string(&out).unwrap();
    let last = text.trim_end().rsplit('\n').next().unwrap().to_string();
    text.truncate(text.len() - last.len() - 1);
    text.push_str(&last[..last.len() / 2]);
    std::fs::write(&out, text).unwrap();
    let o = ppnn()
        .args(batch_args(&out, &ins, "c-bu-d,complete-c-d-bu"))
        .output()
        .unwrap();
    assert!(o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("torn"));
    let l = lines(&out);
    assert_eq!(l.len(), 6);
    let mut keys: Vec<(String, String)> = l
        .iter()
        .map(|v| (v["input"].to_string(), v["algorithm"].to_string()))
        .collect();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), 6);
}

#[test]
fn killed_batch_resumes_and_completes() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("r.jsonl");
    let ins = inputs(10);
    let mut args = batch_args(&out, &ins, "apothem");
    args.extend(["--jobs".to_string(), "1".to_string()]);
    let mut child = ppnn().args(&args).stderr(Stdio::null()).spawn().unwrap();
    // Kill it (SIGKILL) once at least one pair is recorded. This waits for that condition (or
    // for the run to end by itself), never for a clock: on a loaded machine the first pair may
    // take long, and a slow machine must not fail the test.
    let finished_alone = loop {
        let n = std::fs::read_to_string(&out).map_or(0, |t| t.lines().count());
        if n >= 1 {
            break false;
        }
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "the batch ended with {status} before recording a pair");
            break true;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    if !finished_alone {
        child.kill().unwrap();
        child.wait().unwrap();
    }
    let before = lines(&out).len();
    assert!(before >= 1);
    let o = ppnn().args(&args).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let l = lines(&out);
    assert_eq!(l.len(), 10, "every pair exactly once");
    let mut names: Vec<&str> = l.iter().map(|v| v["input"].as_str().unwrap()).collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), 10);
}

#[test]
fn mismatched_label_is_an_error_line() {
    let dir = tempfile::tempdir().unwrap();
    let inputs = dir.path().join("in");
    std::fs::create_dir(&inputs).unwrap();
    let src = root().join("data/inputs/mnist/7-1.csv");
    std::fs::copy(&src, inputs.join("a.csv")).unwrap();
    std::fs::write(inputs.join("a-empty.csv"), "").unwrap();
    std::fs::write(inputs.join("labels.txt"), "7\n3\n").unwrap();
    let out = dir.path().join("r.jsonl");
    let o = ppnn()
        .args(batch_args(&out, &[inputs.display().to_string()], "c-bu-d"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let l = lines(&out);
    assert_eq!(l.len(), 2);
    let empty = l
        .iter()
        .find(|v| v["input"].as_str().unwrap().ends_with("a-empty.csv"))
        .unwrap();
    assert_eq!(empty["status"], "error");
    // a.csv sorts after a-empty.csv: label 3, classified 7.
    let a = l
        .iter()
        .find(|v| v["input"].as_str().unwrap().ends_with("/a.csv"))
        .unwrap();
    assert_eq!(a["status"], "error");
    assert!(a["error"]
        .as_str()
        .unwrap()
        .contains("labelled 3 but classified 7"));
}

#[test]
fn summarize_fixed_results() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("r.jsonl");
    let line = |alg: &str, status: &str, t: f64, calls: u64, edge: f64| {
        format!(
            r#"{{"algorithm":"{alg}","input":"x","status":"{status}","time_s":{t},"min_edge":{edge},"apothem":{edge},"log10_volume":-10.0,"oracle":{{"calls":{calls},"by_method":{{"concrete":1,"interval":1,"attack":0,"milp":{m}}},"time_s":{ot},"milp_time_s":0.5}}}}"#,
            m = calls - 2,
            ot = t / 2.0
        )
    };
    let text = [
        line("a", "certified", 1.0, 4, 0.1),
        line("a", "certified", 3.0, 6, 0.3),
        line("b", "unknown", 2.0, 10, 0.0),
    ]
    .join("\n")
        + "\n{\"algorithm\":\"a\",\"sta";
    std::fs::write(&f, text).unwrap();
    let o = ppnn()
        .args(["summarize", f.to_str().unwrap(), "--format", "csv"])
        .output()
        .unwrap();
    assert!(o.status.success());
    let out = String::from_utf8_lossy(&o.stdout);
    let rows: Vec<Vec<&str>> = out.lines().map(|l| l.split(',').collect()).collect();
    let header = &rows[0];
    let col = |row: &Vec<&str>, name: &str| -> String {
        row[header.iter().position(|h| *h == name).unwrap()].to_string()
    };
    let a = &rows[1];
    assert_eq!(col(a, "algorithm"), "a");
    assert_eq!(col(a, "runs"), "2");
    assert_eq!(col(a, "time_avg"), "2");
    assert_eq!(col(a, "time_std"), "1");
    assert_eq!(col(a, "calls_avg"), "5");
    assert_eq!(col(a, "oracle_share"), "0.5");
    assert_eq!(col(a, "min_edge_avg"), "0.2");
    assert_eq!(col(a, "nontrivial"), "2");
    assert_eq!(col(a, "milp_avg"), "3");
    let b = &rows[2];
    assert_eq!(col(b, "unknown"), "1");
    assert_eq!(col(b, "nontrivial"), "0");
    assert!(String::from_utf8_lossy(&o.stderr).contains("torn"));
    // Markdown and plots.
    let png = dir.path().join("edges.png");
    let tpng = dir.path().join("times.png");
    let o = ppnn()
        .args([
            "summarize",
            f.to_str().unwrap(),
            "--plot",
            png.to_str().unwrap(),
            "--time-plot",
            tpng.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(o.status.success());
    assert!(String::from_utf8_lossy(&o.stdout).contains("### CPU time"));
    assert_eq!(&std::fs::read(&png).unwrap()[1..4], b"PNG");
    assert_eq!(&std::fs::read(&tpng).unwrap()[1..4], b"PNG");
}
