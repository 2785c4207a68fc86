//! The VNN-COMP scripts on the bundled VNN-COMP-style instances: `run_instance.sh` answers them
//! within their time limits, and every `sat` counterexample replays through onnxruntime in
//! float32 (`scripts/vnncomp/replay.py`, the competition's check). Skipped with a notice when
//! Python with onnxruntime is not installed (`.ci/run` installs it through
//! `scripts/install-vnnlib-tools.sh`).

use std::path::{Path, PathBuf};
use std::process::Command;

fn python() -> Option<String> {
    let candidates = [
        std::env::var("PPNN_PYTHON").ok(),
        Some("/var/tmp/ppnn-venv/bin/python".to_string()),
    ];
    for p in candidates.into_iter().flatten() {
        let ok = Command::new(&p)
            .args(["-c", "import onnxruntime, numpy"])
            .output()
            .is_ok_and(|o| o.status.success());
        if ok {
            return Some(p);
        }
    }
    eprintln!(
        "notice: no Python with onnxruntime (set PPNN_PYTHON or run scripts/install-vnnlib-tools.sh); skipping the float32 replays"
    );
    None
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs one instance; returns the results file's text.
fn run_instance(bench: &Path, onnx: &str, vnnlib: &str, timeout: &str, out: &Path) -> String {
    let status = Command::new(root().join("scripts/vnncomp/run_instance.sh"))
        .args([
            "v1",
            "test",
            bench.join(onnx).to_str().unwrap(),
            bench.join(vnnlib).to_str().unwrap(),
            out.to_str().unwrap(),
            timeout,
        ])
        .env("PPNN_VNNLIB", env!("CARGO_BIN_EXE_ppnn-vnnlib"))
        .status()
        .expect("run_instance.sh");
    assert!(status.success());
    std::fs::read_to_string(out).unwrap()
}

#[test]
fn instances_answer_and_every_sat_witness_replays_in_float32() {
    let py = python();
    let dir = tempfile::tempdir().unwrap();
    let mut answers = Vec::new();
    for (bench, filter, timeout) in [
        ("data/vnncomp/acasxu_like", "", "20"),
        // The quick half of the MNIST benchmark (eps 0.03 on the smaller network).
        ("data/vnncomp/mnist_fc_ppnn", "100-100-10_", "20"),
    ] {
        let bench = root().join(bench);
        let csv = std::fs::read_to_string(bench.join("instances.csv")).unwrap();
        for (k, line) in csv.lines().enumerate() {
            let f: Vec<&str> = line.split(',').collect();
            if !f[1].contains(filter) || f[1].contains("eps0.05") {
                continue;
            }
            let out = dir.path().join(format!("{k}.txt"));
            let res = run_instance(&bench, f[0], f[1], timeout, &out);
            let first = res.lines().next().unwrap_or("");
            assert!(
                ["sat", "unsat", "timeout", "unknown"].contains(&first),
                "{line}: {res}"
            );
            answers.push(first.to_string());
            if first == "sat" {
                assert!(res.contains("(X_0 ") && res.contains("(Y_0 "), "{res}");
                if let Some(py) = &py {
                    let o = Command::new(py)
                        .arg(root().join("scripts/vnncomp/replay.py"))
                        .args([bench.join(f[0]), bench.join(f[1]), out.clone()])
                        .output()
                        .unwrap();
                    assert!(
                        o.status.success(),
                        "{line}: {}{}",
                        String::from_utf8_lossy(&o.stdout),
                        String::from_utf8_lossy(&o.stderr)
                    );
                }
            }
        }
    }
    // The small network's properties are decided (3 sat, 3 unsat), nothing is an error.
    assert!(
        answers.iter().filter(|a| *a == "sat").count() >= 3,
        "{answers:?}"
    );
    assert!(
        answers.iter().filter(|a| *a == "unsat").count() >= 3,
        "{answers:?}"
    );
}

#[test]
fn bad_instances_write_error() {
    let dir = tempfile::tempdir().unwrap();
    let q = dir.path().join("bad.vnnlib");
    std::fs::write(&q, "(assert (<= X_0").unwrap();
    let bench = root().join("data/vnncomp/acasxu_like");
    let out = dir.path().join("r.txt");
    let res = run_instance(
        &bench,
        "onnx/acasxu-like-5-16-16-5.onnx",
        q.to_str().unwrap(),
        "5",
        &out,
    );
    assert_eq!(res, "error\n");
}
