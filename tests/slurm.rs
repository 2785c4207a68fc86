//! The whole cluster path on a real single-node Slurm started for the test
//! (`scripts/slurm/local-cluster.sh`): a 3-task array over 6 pairs submitted by
//! `scripts/slurm/submit.sh`, one task killed mid-run and resubmitted (and the resubmitted task
//! requeued mid-run, as a preemption does), the chained merge + summarize jobs, and the result
//! compared with a single-machine `batch` of the same pairs.
//!
//! It needs root and the Debian packages of `scripts/slurm/install-slurm.sh`, and starts daemons
//! on fixed ports, so it runs only when `PPNN_SLURM_TEST=1` (as `.ci/run` does); otherwise it
//! prints a notice and passes.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn ppnn() -> &'static str {
    env!("CARGO_BIN_EXE_ppnn")
}

/// Runs a command, panicking with its output unless it exits 0.
fn run(cmd: &mut Command) -> String {
    let o = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        o.status.success(),
        "{cmd:?} failed ({}):\n{}\n{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).to_string()
}

/// Stops the test cluster however the test ends.
struct Cluster {
    dir: PathBuf,
}

impl Cluster {
    fn start(dir: &Path) -> Cluster {
        let c = Cluster {
            dir: dir.to_path_buf(),
        };
        // Two free ports (slurmctld, slurmd): daemons of an earlier, killed run may hold some.
        let free = |p: u16| std::net::TcpListener::bind(("127.0.0.1", p)).is_ok();
        let port = (0..200)
            .map(|i| 16817 + 2 * i)
            .find(|&p| free(p) && free(p + 1))
            .expect("two free ports from 16817");
        run(Command::new(root().join("scripts/slurm/local-cluster.sh"))
            .env("PPNN_SLURM_PORT", port.to_string())
            .args(["start", dir.to_str().unwrap(), "3"]));
        c
    }

    fn cmd(&self, program: &str) -> Command {
        let mut c = Command::new(program);
        c.env("SLURM_CONF", self.dir.join("slurm.conf"));
        c.env_remove("SLURM_ARRAY_TASK_ID");
        c
    }

    /// Waits until the job (all its tasks) has left the queue. The limit only keeps a broken
    /// cluster from hanging CI; it is not a speed requirement.
    fn wait_gone(&self, job: &str) {
        let start = Instant::now();
        loop {
            let q = run(self.cmd("squeue").args(["-h", "-j", job]));
            if q.trim().is_empty() {
                return;
            }
            assert!(
                start.elapsed() < Duration::from_secs(1200),
                "job {job} still queued after 20 minutes:\n{q}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn state(&self, job: &str) -> String {
        let s = run(self.cmd("scontrol").args(["show", "job", job]));
        s.split_whitespace()
            .find_map(|w| w.strip_prefix("JobState="))
            .unwrap_or("?")
            .to_string()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = Command::new(root().join("scripts/slurm/local-cluster.sh"))
            .args(["stop", self.dir.to_str().unwrap()])
            .status();
    }
}

/// Result lines (headers left out) of a JSON-lines file.
fn results(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("valid JSON line"))
        .filter(|v| v.get("ppnn_batch").is_none())
        .collect()
}

fn key(v: &Value) -> (String, String) {
    (
        v["input"].as_str().unwrap().to_string(),
        v["algorithm"].as_str().unwrap().to_string(),
    )
}

/// The job ids `submit.sh` prints: `array job J` and `merge job M (...)`.
fn job_ids(out: &str) -> (String, String) {
    let id = |prefix: &str| {
        out.lines()
            .find_map(|l| l.strip_prefix(prefix))
            .and_then(|r| r.split_whitespace().next())
            .unwrap_or_else(|| panic!("no '{prefix}' in:\n{out}"))
            .to_string()
    };
    (id("array job "), id("merge job "))
}

#[test]
fn slurm_array_kill_resubmit_merge_matches_single_machine() {
    if std::env::var("PPNN_SLURM_TEST").as_deref() != Ok("1") {
        eprintln!("notice: the local Slurm test runs only with PPNN_SLURM_TEST=1 (root, scripts/slurm/install-slurm.sh); skipped");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    // Three inputs; the exact apothem of mnist 0-1 takes seconds, the other pairs a fraction of
    // one. Named so that some shard runs a fast pair first and the slow one second: that task
    // is killed between the two.
    let inputs = t.join("in");
    std::fs::create_dir(&inputs).unwrap();
    for (name, src) in [("a", "1-1"), ("b", "2-1"), ("c", "0-1")] {
        std::fs::copy(
            root().join(format!("data/inputs/mnist/{src}.csv")),
            inputs.join(format!("{name}.csv")),
        )
        .unwrap();
    }
    let model = root().join("data/networks/mnist-784-32-10.onnx");
    let out = t.join("res/r.jsonl");
    let batch_args: Vec<String> = vec![
        model.display().to_string(),
        inputs.display().to_string(),
        "--algo".into(),
        "c-bu-d,apothem".into(),
        "--out".into(),
        out.display().to_string(),
        "--timeout".into(),
        "600".into(),
    ];

    // The shard to kill: its first pair fast, its second the slow apothem of c.csv.
    let slow = inputs.join("c.csv").display().to_string();
    let victim = (1..=3)
        .find(|k| {
            let plan = run(Command::new(ppnn())
                .env_remove("SLURM_ARRAY_TASK_ID")
                .arg("batch")
                .args(&batch_args)
                .args(["--shard", &format!("{k}/3"), "--dry-run"]));
            let lines: Vec<&str> = plan.lines().collect();
            lines.len() == 2
                && !lines[0].starts_with(&slow)
                && lines[1] == format!("{slow}\tapothem")
        })
        .expect("a shard with the slow pair second");

    let cluster = Cluster::start(&t.join("slurm"));
    let submit = |extra: &[&str]| -> (String, String) {
        let mut c = cluster.cmd(root().join("scripts/slurm/submit.sh").to_str().unwrap());
        c.args([
            "--cpus-per-task",
            "1",
            "--pairs-per-task",
            "2",
            "--ppnn",
            ppnn(),
        ])
        .args(extra)
        .arg("--")
        .args(&batch_args);
        job_ids(&run(&mut c))
    };
    let (array, merge1) = submit(&[]);

    // Kill the victim task once its first pair is recorded, while it runs the second.
    let shard_file = out.with_file_name(format!("r.{victim}-of-3.jsonl"));
    let task = format!("{array}_{victim}");
    let start = Instant::now();
    loop {
        if shard_file.exists() && !results(&shard_file).is_empty() {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(1200),
            "task {task} recorded nothing in 20 minutes"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let running = run(cluster.cmd("squeue").args(["-h", "-j", &task, "-o", "%T"]));
    assert_eq!(
        running.trim(),
        "RUNNING",
        "task {task} ended before the kill"
    );
    run(cluster.cmd("scancel").arg(&task));
    cluster.wait_gone(&array);
    assert_eq!(cluster.state(&task), "CANCELLED");
    let snapshot = std::fs::read(&shard_file).unwrap();
    let killed = results(&shard_file);
    assert_eq!(killed.len(), 1, "one pair finished before the kill");
    assert_eq!(killed[0]["algorithm"], "c-bu-d");

    // The first merge ran after the array (afterany) and reports the pair the kill lost.
    cluster.wait_gone(&merge1);
    let log1 = std::fs::read_to_string(t.join(format!("res/r-slurm-merge-{merge1}.log"))).unwrap();
    assert!(log1.contains("1 of the matrix's 6 pairs missing"), "{log1}");
    assert!(
        log1.contains(&format!("missing: {slow}\tapothem")),
        "{log1}"
    );
    assert_eq!(results(&out).len(), 5);

    // Resubmit the killed task alone: it resumes, and its finished pair is kept as it was.
    let (again, merge2) = submit(&["--only", &victim.to_string()]);
    let task2 = format!("{again}_{victim}");
    let log_path = t.join(format!("res/r-slurm-{again}_{victim}.log"));
    // While it runs the slow pair, preempt it (requeue, as a preemption does): it restarts and
    // resumes again. Slurm delays a requeued job by two minutes; the test lifts that delay.
    let start = Instant::now();
    while !std::fs::read_to_string(&log_path).is_ok_and(|l| l.contains("1 already in")) {
        assert!(
            start.elapsed() < Duration::from_secs(1200),
            "task {task2} did not start in 20 minutes"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(
        results(&shard_file).len(),
        1,
        "the slow pair is still running"
    );
    run(cluster.cmd("scontrol").args(["requeue", &task2]));
    let start = Instant::now();
    loop {
        let info = run(cluster.cmd("scontrol").args(["show", "job", &task2]));
        // Right after the requeue the task is still ending (COMPLETING, REQUEUED): wait for
        // its second start.
        if info.contains("Restarts=1")
            && (info.contains("JobState=RUNNING") || info.contains("JobState=COMPLETED"))
        {
            break;
        }
        if info.contains("JobState=PENDING") && info.contains("Reason=BeginTime") {
            let _ = cluster
                .cmd("scontrol")
                .args(["update", &format!("jobid={task2}"), "StartTime=now"])
                .output();
        }
        assert!(
            start.elapsed() < Duration::from_secs(600),
            "task {task2} did not restart after its requeue:\n{info}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    cluster.wait_gone(&again);
    cluster.wait_gone(&merge2);
    assert_eq!(cluster.state(&task2), "COMPLETED");
    let info = run(cluster.cmd("scontrol").args(["show", "job", &task2]));
    assert!(info.contains("Restarts=1"), "{info}");
    let after = std::fs::read(&shard_file).unwrap();
    assert!(after.starts_with(&snapshot), "the shard file was rewritten");
    let resumed = results(&shard_file);
    assert_eq!(resumed.len(), 2);
    assert_eq!(resumed[0], killed[0]);
    assert_eq!(key(&resumed[1]), (slow.clone(), "apothem".to_string()));
    let log = std::fs::read_to_string(&log_path).unwrap();
    assert_eq!(log.matches("1 already in").count(), 2, "{log}");
    assert_eq!(cluster.state(&merge2), "COMPLETED");
    let summary = std::fs::read_to_string(t.join("res/r-summary.md")).unwrap();
    assert!(summary.contains("| apothem | 3 |"), "{summary}");

    // The same pairs on one machine: same verdicts and radii.
    let single = t.join("single.jsonl");
    let mut c = Command::new(ppnn());
    c.env_remove("SLURM_ARRAY_TASK_ID").arg("batch");
    for a in &batch_args {
        c.arg(if *a == out.display().to_string() {
            single.display().to_string()
        } else {
            a.clone()
        });
    }
    run(c.args(["--jobs", "1"]));
    let merged = results(&out);
    let alone = results(&single);
    assert_eq!(merged.len(), 6);
    assert_eq!(alone.len(), 6);
    let tolerance = 1e-6;
    for m in &merged {
        let s = alone.iter().find(|s| key(s) == key(m)).expect("same pairs");
        assert_eq!(m["status"], s["status"], "{:?}", key(m));
        assert!(matches!(m["status"].as_str(), Some("certified")), "{m}");
        for field in ["apothem", "apothem_upper", "cyclic_radius", "min_edge"] {
            match (m[field].as_f64(), s[field].as_f64()) {
                (Some(a), Some(b)) => assert!(
                    (a - b).abs() <= tolerance,
                    "{:?} {field}: {a} on Slurm, {b} on one machine",
                    key(m)
                ),
                (a, b) => assert_eq!(a, b, "{:?} {field}", key(m)),
            }
        }
        assert_eq!(m["settings"], s["settings"]);
    }
    // And summarize gives the same minimum-edge table (rows by algorithm; numbers to the
    // tolerance).
    let table = |f: &Path| -> Vec<Vec<String>> {
        let csv =
            run(Command::new(ppnn()).args(["summarize", f.to_str().unwrap(), "--format", "csv"]));
        let rows: Vec<Vec<String>> = csv
            .lines()
            .map(|l| l.split(',').map(str::to_string).collect())
            .collect();
        let header = rows[0].clone();
        let keep: Vec<usize> = header
            .iter()
            .enumerate()
            .filter(|(_, h)| {
                h.starts_with("min_edge")
                    || ["algorithm", "runs", "unknown", "errors", "nontrivial"]
                        .contains(&h.as_str())
            })
            .map(|(i, _)| i)
            .collect();
        assert!(keep.len() >= 8, "{header:?}");
        let mut t: Vec<Vec<String>> = rows
            .iter()
            .map(|r| keep.iter().map(|&i| r[i].clone()).collect())
            .collect();
        t.sort();
        t
    };
    let (a, b) = (table(&out), table(&single));
    assert_eq!(a.len(), b.len());
    for (ra, rb) in a.iter().zip(&b) {
        for (x, y) in ra.iter().zip(rb) {
            match (x.parse::<f64>(), y.parse::<f64>()) {
                (Ok(x), Ok(y)) => assert!((x - y).abs() <= tolerance, "{ra:?} vs {rb:?}"),
                _ => assert_eq!(x, y, "{ra:?} vs {rb:?}"),
            }
        }
    }
}
