//! The `ppnn` binary end to end: good runs, exit codes, and every kind of bad input.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::*;

fn ppnn(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ppnn"))
        .args(args)
        .output()
        .expect("run ppnn")
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).to_string(),
        String::from_utf8_lossy(&o.stderr).to_string(),
    )
}

struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let net = band_network();
        write_temp(dir.path(), "band.onnx", &matmul_model(net.layers()));
        write_temp(dir.path(), "x.csv", b"0.5, 0.5\n");
        Fixture { dir }
    }
    fn p(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }
    fn write(&self, name: &str, bytes: &[u8]) -> String {
        write_temp(self.dir.path(), name, bytes)
            .display()
            .to_string()
    }
}

/// A bad input: exit code 1, a message naming `needle`, and no panic.
fn assert_bad(o: &Output, needles: &[&str]) {
    let (out, err) = text(o);
    assert_eq!(o.status.code(), Some(1), "stdout: {out}\nstderr: {err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(err.starts_with("error:"), "{err}");
    for n in needles {
        assert!(err.contains(n), "expected '{n}' in: {err}");
    }
}

#[test]
fn verify_robust_violated_and_json() {
    let f = Fixture::new();
    let o = ppnn(&[
        "verify",
        &f.p("band.onnx"),
        &f.p("x.csv"),
        "--radius",
        "0.2",
    ]);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}{err}");
    assert!(out.starts_with("robust"), "{out}");

    let wpath = f.p("w.csv");
    let o = ppnn(&[
        "verify",
        &f.p("band.onnx"),
        &f.p("x.csv"),
        "--radius",
        "0.3",
        "--witness-out",
        &wpath,
        "--json",
    ]);
    assert_eq!(o.status.code(), Some(10));
    let (out, _) = text(&o);
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["verdict"], "violated");
    assert_eq!(v["class"], 0);
    assert!(v["margin"].as_f64().unwrap() > 0.0);
    assert!(v["time_s"].as_f64().is_some());
    assert!(v["oracle"]["calls"].as_u64() == Some(1));
    let w: Vec<f64> = v["witness"]["x"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect();
    assert!((w[0] - w[1]).abs() >= 0.5);
    let written = parallelepipedonn::io::read_input(&wpath, 2).unwrap();
    assert_eq!(written, w);

    // Box from files; unknown with a huge margin (exit 20).
    let lb = f.write("lb.csv", b"0.4 0.4");
    let ub = f.write("ub.csv", b"0.6 0.6");
    let o = ppnn(&[
        "verify",
        &f.p("band.onnx"),
        &f.p("x.csv"),
        "--lb",
        &lb,
        "--ub",
        &ub,
        "--json",
    ]);
    assert_eq!(o.status.code(), Some(0));
    let o = ppnn(&[
        "verify",
        &f.p("band.onnx"),
        &f.p("x.csv"),
        "--lb",
        &lb,
        "--ub",
        &ub,
        "--margin",
        "0.35",
    ]);
    // The margin is at least 0.5 - 0.2 = 0.3 on the box: class 0 everywhere, but not by 0.35.
    assert_eq!(o.status.code(), Some(20), "{:?}", text(&o));
}

#[test]
fn predict_and_info() {
    let f = Fixture::new();
    let o = ppnn(&["predict", &f.p("band.onnx"), &f.p("x.csv"), "--json"]);
    assert_eq!(o.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_str(text(&o).0.trim()).unwrap();
    assert_eq!(v["class"], 0);
    assert_eq!(v["logits"].as_array().unwrap().len(), 2);
    let o = ppnn(&["info", &f.p("band.onnx")]);
    let (out, _) = text(&o);
    assert_eq!(o.status.code(), Some(0));
    assert!(
        out.contains("2 features") && out.contains("2 classes"),
        "{out}"
    );
    assert!(
        out.contains("ReLU neurons (each may need one binary variable): 2"),
        "{out}"
    );
}

#[test]
fn bad_model_files() {
    let f = Fixture::new();
    let x = f.p("x.csv");
    let missing = f.p("nope.onnx");
    assert_bad(
        &ppnn(&["predict", &missing, &x]),
        &["nope.onnx", "cannot read"],
    );
    let junk = f.write("junk.onnx", b"this is not an onnx model at all\n");
    assert_bad(&ppnn(&["predict", &junk, &x]), &["junk.onnx"]);
    let bytes = std::fs::read(f.p("band.onnx")).unwrap();
    let cut = f.write("cut.onnx", &bytes[..bytes.len() / 2]);
    assert_bad(&ppnn(&["info", &cut]), &["cut.onnx"]);

    // Unsupported operator.
    let mut m =
        <parallelepipedonn::network::proto::ModelProto as prost::Message>::decode(bytes.as_slice())
            .unwrap();
    for n in m.graph.as_mut().unwrap().node.iter_mut() {
        if n.op_type == "Relu" {
            n.op_type = "Tanh".to_string();
        }
    }
    let tanh = f.write("tanh.onnx", &prost::Message::encode_to_vec(&m));
    assert_bad(
        &ppnn(&["verify", &tanh, &x, "--radius", "0.1"]),
        &["tanh.onnx", "Tanh", "unsupported operator"],
    );

    // Integer shape arithmetic that divides by zero: one error naming the file and the node.
    let zero = f.write("zero.onnx", &int_div_by_zero_model());
    let o = ppnn(&["verify", &zero, &x, "--radius", "0.1"]);
    assert_bad(&o, &["zero.onnx", "Div_q", "integer division"]);
    assert!(o.stdout.is_empty(), "partial output: {}", text(&o).0);

    // Gzipped models: read directly; a file that is not gzip, or a truncated archive, is an
    // error naming it.
    let gz = {
        use std::io::Write;
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(&bytes).unwrap();
        e.finish().unwrap()
    };
    let good = f.write("band.onnx.gz", &gz);
    let o = ppnn(&["predict", &good, &x]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o).1);
    let fake = f.write("fake.onnx.gz", &bytes);
    assert_bad(&ppnn(&["info", &fake]), &["fake.onnx.gz", "cannot read"]);
    let cut = f.write("cut.onnx.gz", &gz[..gz.len() / 2]);
    assert_bad(&ppnn(&["info", &cut]), &["cut.onnx.gz"]);
}

#[test]
fn bad_inputs_and_options() {
    let f = Fixture::new();
    let model = f.p("band.onnx");
    let x = f.p("x.csv");
    let short = f.write("short.csv", b"0.5 0.5 0.5");
    assert_bad(
        &ppnn(&["verify", &model, &short, "--radius", "0.1"]),
        &["short.csv", "3 values", "takes 2"],
    );
    let nan = f.write("nan.csv", b"0.5 NaN");
    assert_bad(
        &ppnn(&["predict", &model, &nan]),
        &["nan.csv", "not finite"],
    );
    let inf = f.write("inf.csv", b"0.5\ninf");
    assert_bad(&ppnn(&["predict", &model, &inf]), &["inf.csv", "line 2"]);
    let text_in = f.write("words.csv", b"0.5 half");
    assert_bad(
        &ppnn(&["predict", &model, &text_in]),
        &["words.csv", "'half'"],
    );
    let empty = f.write("empty.csv", b"");
    assert_bad(&ppnn(&["predict", &model, &empty]), &["empty.csv", "empty"]);
    let missing = f.p("missing.csv");
    let o = ppnn(&["predict", &model, &missing]);
    assert_bad(&o, &["missing.csv"]);
    // The OS error is named once, not once by our message and again as its cause.
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.matches("os error").count(), 1, "{err}");

    let lb = f.write("lb.csv", b"0.6 0.4");
    let ub = f.write("ub.csv", b"0.5 0.6");
    assert_bad(
        &ppnn(&["verify", &model, &x, "--lb", &lb, "--ub", &ub]),
        &["lower bound", "exceeds"],
    );
    assert_bad(
        &ppnn(&["verify", &model, &x, "--radius", "-0.1"]),
        &["--radius"],
    );
    assert_bad(
        &ppnn(&["verify", &model, &x, "--radius", "0.1", "--class", "2"]),
        &["--class 2", "2 classes"],
    );
    assert_bad(
        &ppnn(&["verify", &model, &x, "--radius", "0.1", "--class", "1"]),
        &["classified 0, not 1"],
    );
    let outside = f.write("outside.csv", b"1.5 0.5");
    assert_bad(
        &ppnn(&["verify", &model, &outside, "--radius", "0.1"]),
        &["outside.csv", "outside the domain"],
    );
    assert_bad(
        &ppnn(&["verify", &model, &x, "--radius", "0.1", "--domain", "1,0"]),
        &["--domain"],
    );
    assert_bad(
        &ppnn(&["verify", &model, &x, "--radius", "0.1", "--margin", "-1"]),
        &["--margin"],
    );
    // τ = 0 would leave every proof to the solver's tolerances.
    assert_bad(
        &ppnn(&["verify", &model, &x, "--radius", "0.1", "--margin", "0"]),
        &["--margin", "> 0"],
    );
    // No witness file is left behind by a failed run.
    let w = f.p("never.csv");
    let o = ppnn(&[
        "verify",
        &model,
        &short,
        "--radius",
        "0.3",
        "--witness-out",
        &w,
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(!Path::new(&w).exists());
}

#[test]
fn reference_network_cli() {
    let Some(dir) = reference_dir() else { return };
    let model = dir.join("mnist_nn-32.onnx").display().to_string();
    let x = dir.join("mnist-inputs/7-1.csv").display().to_string();
    let o = ppnn(&["verify", &model, &x, "--radius", "0.0145"]);
    assert_eq!(o.status.code(), Some(0), "{:?}", text(&o));
    let o = ppnn(&["verify", &model, &x, "--radius", "0.0146"]);
    assert_eq!(o.status.code(), Some(10), "{:?}", text(&o));
    // A MILP stopped by its time limit is unknown (exit 20), never robust.
    let o = ppnn(&[
        "verify",
        &model,
        &x,
        "--radius",
        "0.0145",
        "--query-timeout",
        "0.000001",
    ]);
    assert_eq!(o.status.code(), Some(20), "{:?}", text(&o));
    assert!(text(&o).0.contains("time limit"), "{:?}", text(&o));
    let empty = dir.join("mnist-inputs/9-5.csv").display().to_string();
    assert_bad(&ppnn(&["predict", &model, &empty]), &["9-5.csv", "empty"]);
}

#[test]
fn certify_json_and_output_files() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let model = root.join("data/networks/mnist-784-32-10.onnx");
    let input = root.join("data/inputs/mnist/7-1.csv");
    let out = tempfile::tempdir().unwrap();
    let o = ppnn(&[
        "certify",
        model.to_str().unwrap(),
        input.to_str().unwrap(),
        "--json",
        "--out",
        out.path().to_str().unwrap(),
        "--images",
    ]);
    let (stdout, stderr) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{stderr}");
    let v: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    for key in [
        "model",
        "input",
        "class",
        "algorithm",
        "status",
        "lb",
        "ub",
        "apothem",
        "apothem_upper",
        "min_edge",
        "log10_volume",
        "nontrivial_faces",
        "margin",
        "delta",
        "oracle",
        "time_s",
    ] {
        assert!(v.get(key).is_some(), "missing {key} in {v}");
    }
    assert_eq!(v["status"], "certified");
    assert_eq!(v["algorithm"], "apothem");
    assert_eq!(v["class"], 7);
    for key in ["concrete", "interval", "attack", "milp"] {
        assert!(v["oracle"]["by_method"][key].as_u64().is_some(), "{key}");
    }
    assert!(v["oracle"]["milp_time_s"].as_f64().is_some());
    let a = v["apothem"].as_f64().unwrap();
    assert!(a > 0.0 && a <= v["apothem_upper"].as_f64().unwrap());
    // lb/ub in the input's 28 x 28 layout, the box of the JSON.
    let lb_text = std::fs::read_to_string(out.path().join("7-1_lb.csv")).unwrap();
    assert_eq!(lb_text.lines().count(), 28);
    assert!(lb_text.lines().all(|l| l.split_whitespace().count() == 28));
    let lb = parallelepipedonn::io::read_input(out.path().join("7-1_lb.csv"), 784).unwrap();
    let ub = parallelepipedonn::io::read_input(out.path().join("7-1_ub.csv"), 784).unwrap();
    let json_lb: Vec<f64> = v["lb"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect();
    assert_eq!(lb, json_lb);
    assert!(lb.iter().zip(&ub).all(|(l, u)| l <= u));
    assert!(out.path().join("7-1.json").exists());
    for pic in ["7-1_x.png", "7-1_lb.png", "7-1_ub.png"] {
        let bytes = std::fs::read(out.path().join(pic)).unwrap();
        assert_eq!(&bytes[1..4], b"PNG", "{pic}");
    }
    // The saved box verifies as robust.
    let o = ppnn(&[
        "verify",
        model.to_str().unwrap(),
        input.to_str().unwrap(),
        "--lb",
        out.path().join("7-1_lb.csv").to_str().unwrap(),
        "--ub",
        out.path().join("7-1_ub.csv").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{:?}", text(&o));

    // Human summary for a δ-algorithm.
    let o = ppnn(&[
        "certify",
        model.to_str().unwrap(),
        input.to_str().unwrap(),
        "--algo",
        "c-bu-d",
        "--delta",
        "0.01",
    ]);
    let (stdout, _) = text(&o);
    assert_eq!(o.status.code(), Some(0));
    assert!(stdout.contains("algorithm c-bu-d: certified"), "{stdout}");
    assert!(stdout.contains("min edge length"), "{stdout}");
}

#[test]
fn certify_bad_options() {
    let f = Fixture::new();
    let model = f.p("band.onnx");
    let x = f.p("x.csv");
    assert_bad(
        &ppnn(&["certify", &model, &x, "--algo", "magic"]),
        &["unknown algorithm 'magic'", "c-bu-d"],
    );
    assert_bad(
        &ppnn(&["certify", &model, &x, "--delta", "0"]),
        &["--delta"],
    );
    assert_bad(
        &ppnn(&["certify", &model, &x, "--radius-limit", "-1"]),
        &["--radius-limit"],
    );
    assert_bad(
        &ppnn(&["certify", &model, &x, "--timeout", "-3"]),
        &["--timeout"],
    );
    assert_bad(
        &ppnn(&["certify", &model, &x, "--disable", "influence-orders"]),
        &[
            "--disable",
            "influence-order",
            "pair-cuts",
            "influence-orders",
        ],
    );
    // The switch itself is accepted, by `maximal` as by every other algorithm.
    for algo in ["maximal", "c-bu-d"] {
        let o = ppnn(&[
            "certify",
            &model,
            &x,
            "--algo",
            algo,
            "--disable",
            "slide,influence-order,pair-cuts",
        ]);
        let (stdout, stderr) = text(&o);
        assert_eq!(o.status.code(), Some(0), "{algo}: {stderr}");
        assert!(stdout.contains("certified"), "{algo}: {stdout}");
    }
    // A failed run writes nothing.
    let out = f.p("results");
    let o = ppnn(&["certify", &model, &f.p("missing.csv"), "--out", &out]);
    assert_eq!(o.status.code(), Some(1));
    assert!(!Path::new(&out).exists());
}

/// A reader that stops early (`ppnn info MODEL | head -1`) ends ppnn quietly, without a panic.
#[test]
fn closed_stdout_is_not_a_panic() {
    let model =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("data/networks/mnist-784-32-10.onnx");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_ppnn"))
        .arg("info")
        .arg(&model)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
}

/// An `unknown` box carries its bracket: the least margin is at most the margin at the closest
/// point found (a point of the box) and at least minus the bound reached; text and JSON agree.
#[test]
fn unknown_verify_reports_its_margin_bracket() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let model = root.join("data/networks/mnist-784-32-10.onnx");
    let input = root.join("data/inputs/mnist/7-1.csv");
    let (model, input) = (model.to_str().unwrap(), input.to_str().unwrap());
    // Robust at 0.0145, but no MILP gets the time to prove it.
    let args = [
        "verify",
        model,
        input,
        "--radius",
        "0.0145",
        "--query-timeout",
        "0.000001",
    ];
    let o = ppnn(&args);
    assert_eq!(o.status.code(), Some(20), "{:?}", text(&o));
    let (out, _) = text(&o);
    let line = out
        .lines()
        .find(|l| l.starts_with("least margin y_c - y_j over the box: at most "))
        .unwrap_or_else(|| panic!("no bracket line in: {out}"));
    assert!(line.contains("at least -"), "{line}");
    let o = ppnn(&[&args[..], &["--json"]].concat());
    let v: serde_json::Value = serde_json::from_str(text(&o).0.trim()).unwrap();
    assert_eq!(v["verdict"], "unknown");
    let closest = v["closest"]["value"].as_f64().expect("a closest point");
    let reached = v["reached"]["value"].as_f64().expect("a bound reached");
    // The box is robust: the closest point keeps the class, and the bound lies above it.
    assert!(closest < 0.0 && reached >= closest, "{closest} {reached}");
    let x: Vec<f64> = std::fs::read_to_string(input)
        .unwrap()
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|t| !t.is_empty())
        .map(|t| t.parse().unwrap())
        .collect();
    let p: Vec<f64> = v["closest"]["x"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_f64().unwrap())
        .collect();
    assert_eq!(p.len(), x.len());
    assert!(x
        .iter()
        .zip(&p)
        .all(|(a, b)| (a - b).abs() <= 0.0145 + 1e-12));
}

/// `PPNN_LOG_PROGRESS=1` puts `certify`'s progress messages, timed, on stderr (where a batch
/// job or a pipe has no spinner), and leaves stdout's JSON alone.
#[test]
fn certify_logs_its_progress_on_request() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let model = root.join("data/networks/mnist-784-32-10.onnx");
    let input = root.join("data/inputs/mnist/7-1.csv");
    let run = |log: bool| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_ppnn"));
        c.args([
            "certify",
            model.to_str().unwrap(),
            input.to_str().unwrap(),
            "--json",
        ]);
        if log {
            c.env("PPNN_LOG_PROGRESS", "1");
        } else {
            c.env_remove("PPNN_LOG_PROGRESS");
        }
        c.output().expect("run ppnn")
    };
    let o = run(true);
    let (stdout, stderr) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{stderr}");
    assert!(serde_json::from_str::<serde_json::Value>(stdout.trim()).is_ok());
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("[progress "))
        .collect();
    assert!(
        lines.iter().any(|l| l.contains("apothem:")),
        "no progress lines in: {stderr}"
    );
    let (_, quiet) = text(&run(false));
    assert!(!quiet.contains("[progress "), "{quiet}");
}
