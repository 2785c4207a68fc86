//! `ppnn batch --shard` and `ppnn merge` end to end: shards of a matrix merge into what one
//! machine computes; the Slurm array variables pick the same shard as `--shard`; results of
//! other settings are refused by both resume and merge; files of an older ppnn stay readable.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `ppnn` outside any Slurm array (a test run inside one must not shard these runs).
fn ppnn() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_ppnn"));
    for v in [
        "SLURM_ARRAY_TASK_ID",
        "SLURM_ARRAY_TASK_MIN",
        "SLURM_ARRAY_TASK_MAX",
        "SLURM_ARRAY_TASK_COUNT",
        "SLURM_ARRAY_TASK_STEP",
    ] {
        c.env_remove(v);
    }
    c
}

fn ok(o: Output) -> Output {
    assert!(
        o.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

/// (headers, result lines) of a JSON-lines file.
fn read(path: &Path) -> (Vec<Value>, Vec<Value>) {
    let all: Vec<Value> = std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).expect("valid JSON"))
        .collect();
    all.into_iter().partition(|v| v.get("ppnn_batch").is_some())
}

fn key(v: &Value) -> (String, String) {
    (
        v["input"].as_str().unwrap().to_string(),
        v["algorithm"].as_str().unwrap().to_string(),
    )
}

fn inputs() -> Vec<String> {
    ["0-1", "1-1", "2-1", "3-1", "4-1"]
        .iter()
        .map(|s| {
            root()
                .join(format!("data/inputs/mnist/{s}.csv"))
                .display()
                .to_string()
        })
        .collect()
}

fn batch(out: &Path, extra: &[&str]) -> Command {
    let mut c = ppnn();
    c.arg("batch")
        .arg(root().join("data/networks/mnist-784-32-10.onnx"))
        .args(inputs())
        .args(["--algo", "c-bu-d,c-td", "--jobs", "1", "--out"])
        .arg(out)
        .args(extra);
    c
}

#[test]
fn shards_merge_into_the_single_machine_results() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("r.jsonl");
    // The plans of the 3 shards partition the 10 pairs.
    let mut planned = Vec::new();
    for k in 1..=3 {
        let o = ok(batch(&out, &["--shard", &format!("{k}/3"), "--dry-run"])
            .output()
            .unwrap());
        let plan = String::from_utf8_lossy(&o.stdout).to_string();
        let n = plan.lines().count();
        assert!((3..=4).contains(&n), "shard {k}: {plan}");
        planned.extend(plan.lines().map(str::to_string));
    }
    assert!(!out.exists() && std::fs::read_dir(dir.path()).unwrap().count() == 0);
    planned.sort();
    planned.dedup();
    assert_eq!(planned.len(), 10);

    // Shard 2 from the Slurm variables of a 0-based array (task 1 of 0..2) is `--shard 2/3`.
    let o = ok(batch(&out, &[])
        .env("SLURM_ARRAY_TASK_ID", "1")
        .env("SLURM_ARRAY_TASK_MIN", "0")
        .env("SLURM_ARRAY_TASK_COUNT", "3")
        .output()
        .unwrap());
    assert!(stderr(&o).contains("shard 2/3"), "{}", stderr(&o));
    assert!(!out.exists());
    for k in [1, 3] {
        ok(batch(&out, &["--shard", &format!("{k}/3")])
            .output()
            .unwrap());
    }
    let shards: Vec<PathBuf> = (1..=3)
        .map(|k| dir.path().join(format!("r.{k}-of-3.jsonl")))
        .collect();
    for (k, s) in shards.iter().enumerate() {
        let (headers, lines) = read(s);
        assert_eq!(headers.len(), 1);
        assert_eq!(headers[0]["ppnn_batch"]["shard"], format!("{}/3", k + 1));
        assert!(lines.iter().all(|v| v["settings"]["model_sha256"]
            .as_str()
            .is_some_and(|h| h.len() == 64)));
    }

    let merged = dir.path().join("merged.jsonl");
    let o = ok(ppnn()
        .arg("merge")
        .arg(&merged)
        .args(&shards)
        .output()
        .unwrap());
    assert!(stderr(&o).contains("0 of the matrix's 10 pairs missing"));
    let single = dir.path().join("single.jsonl");
    ok(batch(&single, &[]).output().unwrap());
    let (_, m) = read(&merged);
    let (_, s) = read(&single);
    assert_eq!(m.len(), 10);
    for v in &s {
        let w = m.iter().find(|w| key(w) == key(v)).unwrap();
        for f in ["status", "apothem", "cyclic_radius", "min_edge", "settings"] {
            assert_eq!(v[f], w[f], "{:?} {f}", key(v));
        }
    }
    // `--shards N` finds the same files beside OUT; the merged file is itself mergeable.
    let again = dir.path().join("r.jsonl");
    ok(ppnn()
        .arg("merge")
        .arg(&again)
        .args(["--shards", "3"])
        .output()
        .unwrap());
    assert_eq!(read(&again).1, m);
    let twice = dir.path().join("twice.jsonl");
    ok(ppnn()
        .arg("merge")
        .arg(&twice)
        .arg(&merged)
        .arg(&single)
        .output()
        .unwrap());
    assert_eq!(read(&twice).1.len(), 10);

    // A missing shard: OUT is still written, the missing pairs named, exit 3.
    let part = dir.path().join("part.jsonl");
    let o = ppnn()
        .arg("merge")
        .arg(&part)
        .args(&shards[..2])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let n3 = read(&shards[2]).1.len();
    assert!(stderr(&o).contains(&format!("{n3} of the matrix's 10 pairs missing")));
    assert!(stderr(&o).contains("shards 3 of 3 were not given"));
    assert_eq!(read(&part).1.len(), 10 - n3);
}

#[test]
fn other_settings_are_refused_by_resume_and_merge() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.jsonl");
    let b = dir.path().join("b.jsonl");
    ok(batch(&a, &["--shard", "1/4"]).output().unwrap());
    let a = dir.path().join("a.1-of-4.jsonl");
    let before = std::fs::read(&a).unwrap();
    // Resuming with another margin: refused, nothing appended.
    let o = batch(
        &dir.path().join("a.jsonl"),
        &["--shard", "1/4", "--margin", "0.001"],
    )
    .output()
    .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let e = stderr(&o);
    assert!(
        e.contains("a.1-of-4.jsonl") && e.contains("margin: 0.0001 vs 0.001"),
        "{e}"
    );
    assert_eq!(std::fs::read(&a).unwrap(), before);
    // Merging with results of another δ: refused, naming both files and the field.
    ok(batch(&b, &["--shard", "2/4", "--delta", "0.05"])
        .output()
        .unwrap());
    let b = dir.path().join("b.2-of-4.jsonl");
    let out = dir.path().join("m.jsonl");
    let o = ppnn()
        .arg("merge")
        .arg(&out)
        .arg(&a)
        .arg(&b)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let e = stderr(&o);
    assert!(e.contains("different settings"), "{e}");
    assert!(
        e.contains("a.1-of-4.jsonl") && e.contains("b.2-of-4.jsonl"),
        "{e}"
    );
    assert!(e.contains("delta: 0.1 vs 0.05"), "{e}");
    assert!(!out.exists(), "no partial output");
    // Merging onto an input, and bad shard specifications.
    let o = ppnn().arg("merge").arg(&a).arg(&a).output().unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("both the output and an input"));
    for bad in ["0/3", "4/3", "x", "1/0"] {
        let o = batch(&dir.path().join("c.jsonl"), &["--shard", bad])
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(1), "{bad}");
        assert!(stderr(&o).contains("--shard expects K/N"), "{}", stderr(&o));
    }
    let o = batch(&dir.path().join("c.jsonl"), &[])
        .env("SLURM_ARRAY_TASK_ID", "5")
        .env("SLURM_ARRAY_TASK_MIN", "5")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("pass --shard K/N"), "{}", stderr(&o));
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
}

/// A results file written before lines carried settings (no header, no `settings`): batch
/// resumes it, summarize reads it, merge accepts it with a warning.
#[test]
fn files_of_an_older_ppnn_stay_readable() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("old.jsonl");
    ok(batch(&out, &[]).output().unwrap());
    let (_, lines) = read(&out);
    let old: String = lines
        .iter()
        .take(4)
        .map(|v| {
            let mut v = v.clone();
            v.as_object_mut().unwrap().remove("settings");
            v.to_string() + "\n"
        })
        .collect();
    std::fs::write(&out, &old).unwrap();
    let o = ok(batch(&out, &[]).output().unwrap());
    assert!(stderr(&o).contains("4 already in"), "{}", stderr(&o));
    assert!(stderr(&o).contains("older ppnn"), "{}", stderr(&o));
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(text.starts_with(&old), "old lines kept as they were");
    let (headers, lines) = read(&out);
    assert_eq!((headers.len(), lines.len()), (1, 10));
    let o = ok(ppnn()
        .args(["summarize", out.to_str().unwrap(), "--format", "csv"])
        .output()
        .unwrap());
    assert!(stderr(&o).is_empty(), "{}", stderr(&o));
    assert_eq!(String::from_utf8_lossy(&o.stdout).lines().count(), 3);
    let m = dir.path().join("m.jsonl");
    let o = ok(ppnn().arg("merge").arg(&m).arg(&out).output().unwrap());
    assert!(stderr(&o).contains("without recorded settings"));
    assert_eq!(read(&m).1.len(), 10);
}

/// `scripts/slurm/submit.sh --dry-run`: N from the matrix, the time limit from the largest
/// shard, the chained merge; options the tasks own are refused. (The real submission is
/// `tests/slurm.rs`.)
#[test]
fn submit_script_plans_the_array() {
    let dir = tempfile::tempdir().unwrap();
    let submit = |extra: &[&str], batch_extra: &[&str]| -> Output {
        let mut c = Command::new(root().join("scripts/slurm/submit.sh"));
        c.env_remove("SLURM_ARRAY_TASK_ID")
            .args(["--dry-run", "--ppnn", env!("CARGO_BIN_EXE_ppnn")])
            .args(extra)
            .arg("--")
            .arg(root().join("data/networks/mnist-784-32-10.onnx"))
            .args(inputs())
            .args(["--algo", "c-bu-d,c-td", "--out"])
            .arg(dir.path().join("res/r.jsonl"))
            .args(batch_extra);
        c.output().unwrap()
    };
    // 10 pairs, 2 per task: 5 tasks of 2 pairs on 2 CPUs, one round of 60 s: 60 × 1.25 / 60 + 5
    // = 6.25, so 7 minutes.
    let o = ok(submit(
        &["--cpus-per-task", "2", "--pairs-per-task", "2"],
        &["--timeout", "60"],
    ));
    let cmds = String::from_utf8_lossy(&o.stdout).to_string();
    let lines: Vec<&str> = cmds.lines().collect();
    assert_eq!(lines.len(), 2, "{cmds}");
    for want in [
        "--array=1-5",
        "--cpus-per-task=2",
        "--time=7",
        "batch-array.sbatch 5 ",
    ] {
        assert!(lines[0].contains(want), "{want}: {}", lines[0]);
    }
    for want in ["--dependency=afterany:ARRAY_JOB_ID", "merge.sbatch 5 "] {
        assert!(lines[1].contains(want), "{want}: {}", lines[1]);
    }
    assert!(
        stderr(&o).contains("10 pairs in 5 task(s)"),
        "{}",
        stderr(&o)
    );
    assert!(
        !dir.path().join("res").exists(),
        "a dry run creates nothing"
    );
    // Resubmitting task 3 keeps N = 5.
    let o = ok(submit(
        &[
            "--cpus-per-task",
            "2",
            "--pairs-per-task",
            "2",
            "--only",
            "3",
            "--no-merge",
        ],
        &[],
    ));
    let cmds = String::from_utf8_lossy(&o.stdout).to_string();
    assert_eq!(cmds.lines().count(), 1, "{cmds}");
    assert!(
        cmds.contains("--array=3 ") && cmds.contains("batch-array.sbatch 5 "),
        "{cmds}"
    );
    assert!(
        !cmds.contains("--time="),
        "no time limit without --timeout: {cmds}"
    );
    // Options each task sets itself are refused; a bad model is reported by ppnn.
    let o = submit(&[], &["--jobs", "4"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("do not pass --jobs"), "{}", stderr(&o));
    let o = submit(&[], &["--shard", "1/2"]);
    assert_eq!(o.status.code(), Some(2));
    let o = submit(&["--cpus-per-task", "0"], &[]);
    assert_eq!(o.status.code(), Some(2));
    let o = submit(&[], &["--margin", "-1"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("--margin must be"), "{}", stderr(&o));
}
