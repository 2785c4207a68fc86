//! `ppnn groundtruth` and `ppnn score` end to end on the bundled 784-32-10 network: the key's
//! answers hold (unsat boxes inside the proved radius, sat boxes with a counterexample a
//! forward pass confirms), grading of hand-made result sets, and bad inputs.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use parallelepipedonn::groundtruth::key::{Expected, KeyEntry, Suite};
use parallelepipedonn::groundtruth::vnnlib::{assignment, parse_assignment};
use parallelepipedonn::network::margin_of;
use parallelepipedonn::{load_onnx, Hyperbox, Network};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn ppnn(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ppnn"))
        .args(args)
        .current_dir(root())
        .output()
        .expect("run ppnn")
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).to_string(),
        String::from_utf8_lossy(&o.stderr).to_string(),
    )
}

const MODEL: &str = "data/networks/mnist-784-32-10.onnx";

/// One suite for every test of this file (made once: it costs a few exact brackets).
fn suite_dir() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("suite");
        let o = ppnn(&[
            "groundtruth",
            MODEL,
            "data/inputs/mnist/7-1.csv",
            "data/inputs/mnist/2-3.csv",
            "--out",
            out.to_str().unwrap(),
            "--jobs",
            "2",
        ]);
        let (stdout, stderr) = text(&o);
        assert_eq!(o.status.code(), Some(0), "{stdout}\n{stderr}");
        assert!(stdout.contains("12 instances (6 unsat, 6 sat)"), "{stdout}");
        dir
    })
    .path()
    .join("suite")
    .leak()
}

fn suite() -> (Suite, Network, Hyperbox) {
    let s = Suite::read(suite_dir()).unwrap();
    let net = load_onnx(suite_dir().join(&s.meta.onnx)).unwrap();
    let domain = s.domain().unwrap();
    (s, net, domain)
}

fn center(s: &Suite, e: &KeyEntry, net: &Network) -> Vec<f64> {
    parallelepipedonn::io::read_input(s.dir.join(&e.center), net.input_size()).unwrap()
}

#[test]
fn the_key_holds_on_both_sides_of_the_boundary() {
    let (s, net, domain) = suite();
    assert_eq!(s.entries.len(), 12);
    let dir = suite_dir();
    let instances = std::fs::read_to_string(dir.join("instances.csv")).unwrap();
    assert_eq!(instances.lines().count(), 12);
    for e in &s.entries {
        assert!(
            instances.contains(&format!("{},{},", e.onnx, e.vnnlib)),
            "{}",
            e.instance
        );
        assert!(dir.join(&e.vnnlib).is_file());
        let x = center(&s, e, &net);
        assert_eq!(net.classify(&x), Some(e.class));
        let r_hi = e.r_hi.expect("a counterexample distance");
        assert!(0.0 < e.r_lo && e.r_lo <= r_hi, "{e:?}");
        let region = Hyperbox::ball(&x, e.radius, &domain);
        // The property file states the key's box (spot checks of its bound lines).
        let prop = std::fs::read_to_string(dir.join(&e.vnnlib)).unwrap();
        for i in [0, 300, 783] {
            assert!(prop.contains(&format!(
                "(assert (<= X_{i} {}))",
                parallelepipedonn::groundtruth::vnnlib::real(region.ub()[i])
            )));
        }
        assert!(prop.contains(&format!(
            "(and (>= Y_{} Y_{}))",
            (e.class + 1) % 10,
            e.class
        )));
        match e.expected {
            Expected::Unsat => {
                assert!(e.radius < e.r_lo, "{e:?}");
                assert!(e.factor < 1.0 && e.counterexample.is_none());
                assert!(
                    ["interval", "milp", "inside the proved r_lo ball"]
                        .contains(&e.evidence.as_str()),
                    "{}",
                    e.evidence
                );
            }
            Expected::Sat => {
                assert!(e.radius > r_hi, "{e:?}");
                let file = e.counterexample.as_ref().expect("a counterexample file");
                let a =
                    parse_assignment(&std::fs::read_to_string(dir.join(file)).unwrap()).unwrap();
                let w: Vec<f64> = a.x.into_iter().map(Option::unwrap).collect();
                assert_eq!(w.len(), 784);
                assert!(region.contains(&w), "{}", e.instance);
                let (m64, _) = margin_of(&net.forward(&w), e.class);
                let (m32, _) = margin_of(&net.forward_f32(&w), e.class);
                assert!(m64 <= 0.0 && m32 <= 0.0, "{}: {m64} {m32}", e.instance);
                assert_eq!(a.y.len(), 10);
            }
        }
    }
    let answers = std::fs::read_to_string(dir.join("answers.csv")).unwrap();
    assert_eq!(answers.lines().count(), 13);
}

/// Writes a result directory: every instance answered as the key says (sat with the key's
/// counterexample), then `edit` changes it.
fn results(name: &str, edit: impl Fn(&Suite, &Path)) -> PathBuf {
    let (s, _, _) = suite();
    let dir = suite_dir().parent().unwrap().join(name);
    std::fs::create_dir_all(&dir).unwrap();
    for e in &s.entries {
        let body = match &e.counterexample {
            Some(f) => format!("sat\n{}", std::fs::read_to_string(s.dir.join(f)).unwrap()),
            None => "unsat\n".to_string(),
        };
        std::fs::write(dir.join(format!("{}.counterexample", e.instance)), body).unwrap();
    }
    edit(&s, &dir);
    dir
}

fn score(results: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "score",
        suite_dir().to_str().unwrap(),
        results.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    ppnn(&args)
}

fn first(s: &Suite, expected: Expected) -> &KeyEntry {
    s.entries.iter().find(|e| e.expected == expected).unwrap()
}

#[test]
fn all_right_answers_score_full_marks() {
    let dir = results("right", |_, _| {});
    let json = dir.join("graded.jsonl");
    let plot = dir.join("score.png");
    let o = score(
        &dir,
        &[
            "--json",
            json.to_str().unwrap(),
            "--plot",
            plot.to_str().unwrap(),
        ],
    );
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}\n{err}");
    assert!(
        out.contains("VNN-COMP score: 120 (12 right x 10, 0 wrong x -150)"),
        "{out}"
    );
    assert!(out.contains("no wrong answers"));
    assert!(
        out.contains("| 0.99 | unsat | 2 | 2 | 0 | 0 (0) |"),
        "{out}"
    );
    assert_eq!(std::fs::read_to_string(json).unwrap().lines().count(), 12);
    assert_eq!(&std::fs::read(plot).unwrap()[1..4], b"PNG");
}

#[test]
fn flipped_answers_are_wrong_with_evidence() {
    let dir = results("flipped", |s, dir| {
        let u = first(s, Expected::Unsat);
        std::fs::write(dir.join(format!("{}.counterexample", u.instance)), "sat\n").unwrap();
        let t = first(s, Expected::Sat);
        std::fs::write(
            dir.join(format!("{}.counterexample", t.instance)),
            "unsat\n",
        )
        .unwrap();
    });
    let o = score(&dir, &[]);
    let (out, _) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{out}");
    assert!(out.contains("2 wrong answer(s)"), "{out}");
    assert!(
        out.contains("expected unsat, answered sat: sat, but the box"),
        "{out}"
    );
    assert!(out.contains("is proved robust"), "{out}");
    assert!(
        out.contains("expected sat, answered unsat: unsat, but the key's counterexample"),
        "{out}"
    );
    assert!(
        out.contains("VNN-COMP score: -200 (10 right x 10, 2 wrong x -150)"),
        "{out}"
    );
}

#[test]
fn bogus_counterexamples_are_wrong() {
    let dir = results("bogus", |s, dir| {
        let net = load_onnx(s.dir.join(&s.meta.onnx)).unwrap();
        let sats: Vec<&KeyEntry> = s
            .entries
            .iter()
            .filter(|e| e.expected == Expected::Sat)
            .collect();
        // The box centre: class c still wins there.
        let x = center(s, sats[0], &net);
        let y = net.forward(&x);
        std::fs::write(
            dir.join(format!("{}.counterexample", sats[0].instance)),
            format!("sat\n{}", assignment(&x, &y)),
        )
        .unwrap();
        // A point far outside the box.
        let far: Vec<f64> = x.iter().map(|v| if *v > 0.5 { 0.0 } else { 1.0 }).collect();
        std::fs::write(
            dir.join(format!("{}.counterexample", sats[1].instance)),
            format!("sat\n{}", assignment(&far, &net.forward(&far))),
        )
        .unwrap();
        // Unreadable.
        std::fs::write(
            dir.join(format!("{}.counterexample", sats[2].instance)),
            "sat\n((X_0 x))",
        )
        .unwrap();
    });
    let o = score(&dir, &[]);
    let (out, _) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{out}");
    assert!(out.contains("3 wrong answer(s)"), "{out}");
    assert!(
        out.contains("does not satisfy the property: in f32 class"),
        "{out}"
    );
    assert!(out.contains("outside the box"), "{out}");
    assert!(out.contains("unreadable counterexample"), "{out}");
}

#[test]
fn missing_results_are_unsolved_not_wrong() {
    let dir = results("missing", |s, dir| {
        let e = first(s, Expected::Sat);
        std::fs::remove_file(dir.join(format!("{}.counterexample", e.instance))).unwrap();
        let u = first(s, Expected::Unsat);
        std::fs::write(
            dir.join(format!("{}.counterexample", u.instance)),
            "timeout\n",
        )
        .unwrap();
    });
    let o = score(&dir, &[]);
    let (out, _) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(out.contains("| all | | 12 | 10 | 0 | 2 (1) |"), "{out}");
    assert!(out.contains("VNN-COMP score: 100"), "{out}");
}

#[test]
fn vnncomp_csv_results_are_read() {
    let (s, _, _) = suite();
    let dir = suite_dir().parent().unwrap().join("csv");
    std::fs::create_dir_all(&dir).unwrap();
    let mut csv = String::from("benchmark,onnx,vnnlib,prepare_time,result,run_time\n");
    for e in &s.entries {
        let answer = match e.expected {
            Expected::Sat => "unsat", // every sat instance answered wrongly
            Expected::Unsat => "holds",
        };
        csv.push_str(&format!(
            "gt,{},./{}.gz,0.1,{answer},1.5\n",
            e.onnx, e.vnnlib
        ));
    }
    std::fs::write(dir.join("results.csv"), csv).unwrap();
    let o = score(&dir.join("results.csv"), &[]);
    let (out, _) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{out}");
    assert!(out.contains("6 wrong answer(s)"), "{out}");
    assert!(
        out.contains("| 0.5 | unsat | 2 | 2 | 0 | 0 (0) | 0 | 1.500 |"),
        "{out}"
    );
}

fn assert_bad(o: &Output, needles: &[&str]) {
    let (out, err) = text(o);
    assert_eq!(o.status.code(), Some(1), "stdout: {out}\nstderr: {err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(err.starts_with("error:"), "{err}");
    for n in needles {
        assert!(err.contains(n), "expected '{n}' in: {err}");
    }
    assert!(out.is_empty(), "no partial output: {out}");
}

#[test]
fn bad_inputs_give_clear_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("s");
    let out_s = out.to_str().unwrap();
    let x = "data/inputs/mnist/7-1.csv";
    let gt = |extra: &[&str]| {
        let mut a = vec!["groundtruth", MODEL, x, "--out", out_s];
        a.extend_from_slice(extra);
        ppnn(&a)
    };
    assert_bad(
        &gt(&["--factors", "0.5,1"]),
        &["--factors", "1 is ambiguous"],
    );
    assert_bad(&gt(&["--factors", "0.5,abc"]), &["--factors", "'abc'"]);
    assert_bad(
        &gt(&["--factors", "-2"]),
        &["--factors", "-2 is not a positive number"],
    );
    assert_bad(&gt(&["--factors", "0.5,0.5"]), &["repeated"]);
    assert_bad(&gt(&["--format", "3.0"]), &["--format", "3.0"]);
    assert_bad(&gt(&["--instance-timeout", "0"]), &["--instance-timeout"]);
    assert_bad(
        &gt(&["--inputs-from", "no/list.txt"]),
        &["--inputs-from", "no/list.txt"],
    );
    assert_bad(
        &ppnn(&["groundtruth", "no/such.onnx", x, "--out", out_s]),
        &["no/such.onnx"],
    );
    assert_bad(
        &ppnn(&["groundtruth", MODEL, "no/such.csv", "--out", out_s]),
        &["no/such.csv"],
    );
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("precious.txt"), "keep me").unwrap();
    assert_bad(&gt(&[]), &["is not a suite made by ppnn groundtruth"]);
    assert_eq!(
        std::fs::read_to_string(out.join("precious.txt")).unwrap(),
        "keep me"
    );

    // score
    assert_bad(
        &ppnn(&["score", out_s, out_s]),
        &["suite.json", "is this a suite made by `ppnn groundtruth`"],
    );
    let suite = suite_dir().to_str().unwrap();
    assert_bad(
        &ppnn(&["score", suite, "no/such/results.csv"]),
        &["no/such/results.csv"],
    );
    let bad_csv = tmp.path().join("results.csv");
    std::fs::write(&bad_csv, "a,b,c\n").unwrap();
    assert_bad(
        &ppnn(&["score", suite, bad_csv.to_str().unwrap()]),
        &["results.csv", "line 1: expected 6 columns"],
    );
    assert_bad(
        &ppnn(&[
            "score",
            suite,
            tmp.path().to_str().unwrap(),
            "--format",
            "xml",
        ]),
        &["--format must be vnncomp-csv or dir"],
    );
}

#[test]
fn hidden_filter_typed_dialect_and_resume() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("s");
    let list = tmp.path().join("inputs.txt");
    let input = root().join("data/inputs/mnist/7-1.csv");
    std::fs::write(&list, format!("# one input\n{}\n", input.display())).unwrap();
    let args = [
        "groundtruth",
        MODEL,
        "--inputs-from",
        list.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--factors",
        "0.9,1.01,2",
        "--format",
        "2.0",
        "--hidden",
        "--attack-restarts",
        "5",
    ];
    let o = ppnn(&args);
    let (stdout, stderr) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains("VNN-LIB 2.0"), "{stdout}");
    let s = Suite::read(&out).unwrap();
    let sat = s
        .entries
        .iter()
        .filter(|e| e.expected == Expected::Sat)
        .count();
    // Every sat instance is either kept (the attack failed) or counted as broken.
    assert!(
        stdout.contains(&format!(
            "{} sat instances broken by the strong attack",
            2 - sat
        )),
        "{stdout}"
    );
    let u = first(&s, Expected::Unsat);
    let prop = std::fs::read_to_string(out.join(&u.vnnlib)).unwrap();
    assert!(prop.contains("(vnnlib-version <2.0>)"));
    assert!(prop.contains("(declare-input X float32 [1, 784])"));
    assert!(prop.contains("(assert (>= X[0,783] "));
    assert!(prop.contains("(>= Y[0,0] Y[0,7])"));
    // A second run reuses the bracket.
    let o = ppnn(&args);
    let (_, stderr) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("1 brackets already in"), "{stderr}");
}

#[test]
fn summarize_draws_the_robustness_distribution() {
    let dir = results("curve", |_, _| {});
    let graded = dir.join("graded.jsonl");
    assert_eq!(
        score(&dir, &["--json", graded.to_str().unwrap()])
            .status
            .code(),
        Some(0)
    );
    let brackets = suite_dir().join("key/brackets.jsonl");
    let png = dir.join("curve.png");
    let csv = dir.join("curve.csv");
    let o = ppnn(&[
        "summarize",
        brackets.to_str().unwrap(),
        "--curve",
        png.to_str().unwrap(),
        "--curve-csv",
        csv.to_str().unwrap(),
        "--compare",
        graded.to_str().unwrap(),
    ]);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}\n{err}");
    assert_eq!(&std::fs::read(&png).unwrap()[1..4], b"PNG");
    let text = std::fs::read_to_string(&csv).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("eps,proved,not_refuted,graded"));
    let rows: Vec<Vec<f64>> = lines
        .map(|l| l.split(',').map(|v| v.parse().unwrap()).collect())
        .collect();
    assert_eq!(rows[0], vec![0.0, 1.0, 1.0, 1.0]);
    for r in &rows {
        // A sound verifier's certified fraction never exceeds the proved one here (its
        // radii are 0.99 r_lo), and proved never exceeds not refuted.
        assert!(r[3] <= r[1] && r[1] <= r[2], "{r:?}");
    }
    assert_eq!(rows.last().unwrap()[2], 0.0);
    assert_bad(
        &ppnn(&[
            "summarize",
            brackets.to_str().unwrap(),
            "--compare",
            "x.csv",
        ]),
        &["--compare needs --curve"],
    );
}

#[test]
fn near_tie_counterexamples_and_the_output_tolerance() {
    // A point of the sat box where the class still wins, by less than 1e-4 in f32: between
    // the centre (class wins) and the key's counterexample (it does not), by bisection.
    let dir = results("near-tie", |s, dir| {
        let net = load_onnx(s.dir.join(&s.meta.onnx)).unwrap();
        let e = first(s, Expected::Sat);
        let x = center(s, e, &net);
        let text = std::fs::read_to_string(s.dir.join(e.counterexample.as_ref().unwrap())).unwrap();
        let w: Vec<f64> = parse_assignment(&text)
            .unwrap()
            .x
            .into_iter()
            .map(Option::unwrap)
            .collect();
        let at = |t: f64| -> Vec<f64> { x.iter().zip(&w).map(|(a, b)| a + t * (b - a)).collect() };
        let m32 = |p: &[f64]| margin_of(&net.forward_f32(p), e.class).0;
        let (mut lo, mut hi) = (0.0, 1.0);
        for _ in 0..80 {
            let mid = 0.5 * (lo + hi);
            if m32(&at(mid)) > 0.0 {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        let p = at(lo);
        assert!(m32(&p) > 0.0 && m32(&p) <= 1e-4, "{}", m32(&p));
        std::fs::write(
            dir.join(format!("{}.counterexample", e.instance)),
            format!("sat\n{}", assignment(&p, &net.forward(&p))),
        )
        .unwrap();
    });
    let strict = score(&dir, &[]);
    let (out, _) = text(&strict);
    assert_eq!(strict.status.code(), Some(2), "{out}");
    assert!(
        out.contains("1 wrong answer(s)") && out.contains("still wins by"),
        "{out}"
    );
    let tolerant = score(&dir, &["--output-tolerance", "1e-4"]);
    let (out, _) = text(&tolerant);
    assert_eq!(tolerant.status.code(), Some(0), "{out}");
    assert!(out.contains("no wrong answers"), "{out}");
    assert_bad(
        &score(&dir, &["--output-tolerance", "-1"]),
        &["--output-tolerance"],
    );
}

/// The suite speaks the project's own VNN-LIB: every property file parses with the reader of
/// `property/`, and `ppnn-vnnlib verify` (the standard CLI, a code path independent of how the
/// suite was made) answers every instance as the key says, its `sat` assignments in the box.
#[test]
fn the_projects_own_vnnlib_solver_reproduces_the_key() {
    let (s, net, _) = suite();
    let dir = suite_dir();
    let scratch = tempfile::tempdir().unwrap();
    let mut proofs = 0;
    for e in &s.entries {
        let q = parallelepipedonn::property::read_vnnlib(dir.join(&e.vnnlib))
            .unwrap_or_else(|err| panic!("{}: {err}", e.vnnlib));
        assert_eq!(q.input_size(), net.input_size(), "{}", e.instance);
        let proof = scratch.path().join(format!("{}.proof.json", e.instance));
        let o = Command::new(env!("CARGO_BIN_EXE_ppnn-vnnlib"))
            .arg("verify")
            .arg(dir.join(&e.vnnlib))
            .arg("--network")
            .arg(format!("N={}", dir.join(&e.onnx).display()))
            .arg("--timeout")
            .arg("120")
            .arg("--unsat-proofs")
            .arg(&proof)
            .output()
            .expect("run ppnn-vnnlib");
        let (stdout, stderr) = text(&o);
        let first = stdout.lines().next().unwrap_or("");
        let want = match e.expected {
            Expected::Sat => "sat",
            Expected::Unsat => "unsat",
        };
        assert_eq!(first, want, "{}: {stdout}\n{stderr}", e.instance);
        // `--unsat-proofs`: an unsat answer leaves a proof the independent checker accepts.
        assert_eq!(
            proof.exists(),
            e.expected == Expected::Unsat,
            "{}",
            e.instance
        );
        if proof.exists() {
            let o = ppnn(&[
                "check",
                dir.join(&e.onnx).to_str().unwrap(),
                proof.to_str().unwrap(),
                "--property",
                dir.join(&e.vnnlib).to_str().unwrap(),
            ]);
            assert_eq!(text(&o).0, "valid\n", "{}: {}", e.instance, text(&o).1);
            proofs += 1;
        }
    }
    assert_eq!(proofs, 6);
}

/// Every `unsat` instance ships a proof file that the independent checker accepts.
#[test]
fn unsat_instances_carry_proofs_that_check() {
    let (s, _, _) = suite();
    let dir = suite_dir();
    let mut checked = 0;
    for e in s.entries.iter().filter(|e| e.expected == Expected::Unsat) {
        let proof = e
            .proof
            .as_ref()
            .unwrap_or_else(|| panic!("{}: no proof file", e.instance));
        let o = ppnn(&[
            "check",
            dir.join(&e.onnx).to_str().unwrap(),
            dir.join(proof).to_str().unwrap(),
        ]);
        let (stdout, stderr) = text(&o);
        assert_eq!(stdout, "valid\n", "{}: {stderr}", e.instance);
        // ... and it answers the instance's own query.
        let o = ppnn(&[
            "check",
            dir.join(&e.onnx).to_str().unwrap(),
            dir.join(proof).to_str().unwrap(),
            "--property",
            dir.join(&e.vnnlib).to_str().unwrap(),
        ]);
        let (stdout, stderr) = text(&o);
        assert_eq!(stdout, "valid\n", "{} --property: {stderr}", e.instance);
        checked += 1;
    }
    assert_eq!(checked, 6);
    let answers = std::fs::read_to_string(dir.join("answers.csv")).unwrap();
    assert!(answers.lines().next().unwrap().ends_with(",proof"));
}
