//! `ppnn-vnnlib`, the VNN-LIB 2.0 standard command line, end to end: names, capabilities,
//! answers and assignments, time limits, and every kind of bad input.

mod common;

use std::process::{Command, Output};

use common::*;

fn solver(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ppnn-vnnlib"))
        .args(args)
        .output()
        .expect("run ppnn-vnnlib")
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).to_string(),
        String::from_utf8_lossy(&o.stderr).to_string(),
    )
}

/// A bad input: exit code 1, nothing on stdout, a message naming every needle, no panic.
fn assert_bad(o: &Output, needles: &[&str]) {
    let (out, err) = text(o);
    assert_eq!(o.status.code(), Some(1), "stdout: {out}\nstderr: {err}");
    assert!(out.is_empty(), "stdout must stay empty on errors: {out}");
    assert!(!err.contains("panicked"), "{err}");
    for n in needles {
        assert!(err.contains(n), "expected '{n}' in: {err}");
    }
}

const V2_HEAD: &str = "(vnnlib-version <2.0>)
(declare-network N (declare-input X float32 [1,2]) (declare-output Y float32 [1,2]))
";

/// The band network (class 0 iff |x0 - x1| < 0.5) as ONNX, and a directory for queries.
struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        write_temp(
            dir.path(),
            "band.onnx",
            &matmul_model(band_network().layers()),
        );
        Fixture { dir }
    }
    fn p(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }
    fn query(&self, name: &str, text: &str) -> String {
        write_temp(self.dir.path(), name, text.as_bytes())
            .display()
            .to_string()
    }
    fn net(&self) -> String {
        format!("N={}", self.p("band.onnx"))
    }
}

#[test]
fn name_version_and_every_capability() {
    let o = solver(&["--name"]);
    assert_eq!(text(&o).0, "ppnn\n");
    let o = solver(&["--version"]);
    assert_eq!(text(&o).0, format!("{}\n", env!("CARGO_PKG_VERSION")));
    for cap in parallelepipedonn::cli::vnnlib::CAPABILITIES {
        let o = solver(&["supports", cap]);
        let (out, err) = text(&o);
        assert_eq!(o.status.code(), Some(0), "{cap}: {err}");
        assert!(
            out.ends_with('\n') && !out.trim().is_empty(),
            "{cap}: {out:?}"
        );
    }
    let ops = text(&solver(&["supports", "--onnx-operators"])).0;
    for op in [
        "Add", "Sub", "Gemm", "MatMul", "Relu", "Flatten", "Constant", "Mul", "Neg",
    ] {
        assert!(ops.lines().any(|l| l == op), "{op} missing from {ops}");
    }
    assert_eq!(
        text(&solver(&["supports", "--hidden-node-theories"])).0,
        "NH\n"
    );
    assert_eq!(
        text(&solver(&["supports", "--arithmetic-complexity-theories"])).0,
        "BND\nOUTC\nLIN\n"
    );
    assert_bad(
        &solver(&["supports", "--flying"]),
        &["unknown capability '--flying'"],
    );
    assert_bad(&solver(&["supports"]), &["exactly one capability"]);
    assert_bad(&solver(&[]), &["usage"]);
}

#[test]
fn sat_prints_the_assignment_in_declaration_order() {
    let f = Fixture::new();
    // Outside the band (x0 - x1 >= 0.75) class 1 wins: y1 >= y0 is reachable.
    let q = f.query(
        "sat.vnnlib",
        &format!(
            "{V2_HEAD}(assert (<= 0 X[0,0] 1)) (assert (<= 0 X[0,1] 1))\n(assert (>= (- X[0,0] X[0,1]) 0.75))\n(assert (>= Y[0,1] Y[0,0]))"
        ),
    );
    let o = solver(&["verify", &q, "--network", &f.net(), "--timeout", "5.0"]);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "sat", "{out}");
    assert_eq!(lines[1], "X float32 [1,2]");
    assert_eq!(lines[4], "Y float32 [1,2]");
    assert_eq!(lines.len(), 7, "{out}");
    let v: Vec<f64> = [2, 3, 5, 6]
        .iter()
        .map(|&i| lines[i].parse().unwrap())
        .collect();
    assert!(v[0] - v[1] >= 0.75 && v[3] >= v[2], "{out}");
    // Every value is a float32 number.
    assert!(v.iter().all(|&a| (a as f32) as f64 == a));

    // --serialise-assignments moves the block into a file.
    let dir = f.p("assign");
    let o = solver(&[
        "verify",
        &q,
        "--network",
        &f.net(),
        "--serialise-assignments",
        &dir,
    ]);
    assert_eq!(text(&o).0, "sat\n");
    let block = std::fs::read_to_string(format!("{dir}/sat.vnnlib.assignment")).unwrap();
    assert!(block.starts_with("X float32 [1,2]\n"), "{block}");
}

#[test]
fn unsat_linear_input_constraints_and_strict_comparisons() {
    let f = Fixture::new();
    // Inside the band class 0 wins by 0.5 - |x0 - x1| > 0.
    let q = f.query(
        "unsat.vnnlib",
        &format!("{V2_HEAD}(assert (<= 0 X[0,0] 1)) (assert (<= 0 X[0,1] 1))\n(assert (<= (- X[0,0] X[0,1]) 0.25)) (assert (>= (- X[0,0] X[0,1]) -0.25))\n(assert (> Y[0,1] Y[0,0]))"),
    );
    let o = solver(&["verify", &q, "--network", &f.net()]);
    assert_eq!(text(&o).0, "unsat\n", "{}", text(&o).1);
    // A VNN-LIB 1.0 query, gzipped, any network name.
    let v1 = "(declare-const X_0 Real)(declare-const X_1 Real)(declare-const Y_0 Real)(declare-const Y_1 Real)\n(assert (>= X_0 0.9))(assert (<= X_0 1))(assert (>= X_1 0))(assert (<= X_1 0.1))\n(assert (or (and (<= Y_0 Y_1))))";
    let gz = f.p("q.vnnlib.gz");
    {
        use std::io::Write;
        let mut e = flate2::write::GzEncoder::new(
            std::fs::File::create(&gz).unwrap(),
            flate2::Compression::default(),
        );
        e.write_all(v1.as_bytes()).unwrap();
        e.finish().unwrap();
    }
    let o = solver(&[
        "verify",
        &gz,
        "--network",
        &format!("anything={}", f.p("band.onnx")),
    ]);
    let (out, err) = text(&o);
    assert!(out.starts_with("sat\nX Real [2]\n"), "{out}{err}");
}

#[test]
fn a_hard_query_answers_timed_out_before_the_limit() {
    let root = env!("CARGO_MANIFEST_DIR");
    let q = format!(
        "{root}/data/vnncomp/mnist_fc_ppnn/vnnlib/mnist-784-256-256-10_0-1_eps0.05.vnnlib.gz"
    );
    let net = format!("N={root}/data/networks/mnist-784-256-256-10.onnx");
    let o = solver(&["verify", &q, "--network", &net, "--timeout", "1.5"]);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");
    // Either decided quickly or, as expected on this instance, out of time: never a guess.
    assert!(
        ["timed-out\n", "sat\n", "unsat\n"]
            .iter()
            .any(|w| out.starts_with(w)),
        "{out}{err}"
    );
}

/// Bad inputs of the standard CLI: one clear message, exit 1, nothing on stdout.
#[test]
fn bad_queries_models_and_options() {
    let f = Fixture::new();
    let ok = f.query(
        "ok.vnnlib",
        &format!(
            "{V2_HEAD}(assert (<= 0 X[0,0] 1)) (assert (<= 0 X[0,1] 1)) (assert (>= Y[0,0] 0))"
        ),
    );
    let net = f.net();
    let cases: Vec<(Vec<String>, Vec<&str>)> = vec![
        (vec!["verify".into(), ok.clone()], vec!["network 'N'", "no --network N=FILE"]),
        (
            vec!["verify".into(), ok.clone(), "--network".into(), format!("M={}", f.p("band.onnx"))],
            vec!["maps 'M'", "does not declare"],
        ),
        (
            vec!["verify".into(), ok.clone(), "--network".into(), net.clone(), "--network".into(), net.clone()],
            vec!["more than once"],
        ),
        (vec!["verify".into(), ok.clone(), "--network".into(), "N".into()], vec!["NAME=FILE"]),
        (
            vec!["verify".into(), ok.clone(), "--network".into(), net.clone(), "--timeout".into(), "-1".into()],
            vec!["--timeout"],
        ),
        (
            vec!["verify".into(), ok.clone(), "--network".into(), net.clone(), "--timeout".into(), "soon".into()],
            vec!["--timeout", "soon"],
        ),
        (
            vec!["verify".into(), ok.clone(), "--network".into(), net.clone(), "--strict-types".into()],
            vec!["float32", "--strict-types"],
        ),
        (
            vec!["verify".into(), ok.clone(), "--network".into(), format!("N={}", f.p("missing.onnx"))],
            vec!["missing.onnx"],
        ),
        (
            vec!["verify".into(), f.p("nope.vnnlib"), "--network".into(), net.clone()],
            vec!["nope.vnnlib"],
        ),
        (
            vec![
                "verify".into(),
                f.query("syntax.vnnlib", &format!("{V2_HEAD}(assert (<= X[0,0] 1)")),
                "--network".into(),
                net.clone(),
            ],
            vec!["syntax.vnnlib:3:1:", "never closed"],
        ),
        (
            vec![
                "verify".into(),
                f.query("poly.vnnlib", &format!("{V2_HEAD}(assert (<= 0 X[0,0] 1)) (assert (<= 0 X[0,1] 1)) (assert (>= (* X[0,0] X[0,1]) 1))")),
                "--network".into(),
                net.clone(),
            ],
            vec!["poly.vnnlib", "POLY"],
        ),
        (
            vec![
                "verify".into(),
                f.query("unbounded.vnnlib", &format!("{V2_HEAD}(assert (<= 0 X[0,0] 1)) (assert (>= Y[0,0] 0))")),
                "--network".into(),
                net.clone(),
            ],
            vec!["unbounded.vnnlib", "no lower bound"],
        ),
        (
            vec![
                "verify".into(),
                f.query("shape.vnnlib", "(vnnlib-version <2.0>)\n(declare-network N (declare-input X float32 [3]) (declare-output Y float32 [2]))\n(assert (<= 0 X[0] 1))"),
                "--network".into(),
                net.clone(),
            ],
            vec!["shape [3]", "[1, 2]"],
        ),
        (
            vec![
                "verify".into(),
                f.query("int.vnnlib", "(vnnlib-version <2.0>)\n(declare-network N (declare-input X int8 [1,2]) (declare-output Y float32 [1,2]))\n(assert (<= 0 X[0,0] 1))"),
                "--network".into(),
                net.clone(),
            ],
            vec!["int8"],
        ),
        (
            vec![
                "verify".into(),
                f.query("hidden.vnnlib", "(vnnlib-version <2.0>)\n(declare-network N (declare-input X float32 [1,2]) (declare-hidden H float32 [2] \"h\") (declare-output Y float32 [1,2]))\n(assert (<= 0 X[0,0] 1))"),
                "--network".into(),
                net.clone(),
            ],
            vec!["hidden", "theory H"],
        ),
    ];
    for (args, needles) in cases {
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        assert_bad(&solver(&a), &needles);
    }
}

/// A graph that is not affine (y = x·x) is decided by interval arithmetic where that suffices,
/// and `unknown` otherwise — never approximated.
#[test]
fn non_affine_graphs_fall_back_to_interval_arithmetic() {
    let f = Fixture::new();
    let sq = write_temp(
        f.dir.path(),
        "square.onnx",
        &model(
            &[Some(1)],
            vec![node("Mul", &["input", "input"], "y")],
            vec![],
            "y",
            13,
        ),
    );
    let net = format!("N={}", sq.display());
    let head = "(vnnlib-version <2.0>)\n(declare-network N (declare-input X real [1]) (declare-output Y real [1]))\n(assert (>= X[0] -500)) (assert (<= X[0] 500))\n";
    let run = |name: &str, body: &str| {
        let q = f.query(name, &format!("{head}{body}"));
        text(&solver(&["verify", &q, "--network", &net]))
    };
    let (out, err) = run("neg.vnnlib", "(assert (<= Y[0] -1.0))");
    assert_eq!(out, "unsat\n", "{err}");
    assert!(err.contains("interval arithmetic"), "{err}");
    let (out, _) = run("pos.vnnlib", "(assert (>= Y[0] 0.0))");
    assert!(out.starts_with("sat\nX real [1]\n"), "{out}");
    let (out, _) = run(
        "mid.vnnlib",
        "(assert (>= Y[0] 10.0)) (assert (<= Y[0] 11.0))",
    );
    assert_eq!(out, "unknown\n");
}
