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
        write_temp(self.dir.path(), name, bytes).display().to_string()
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
    let o = ppnn(&["verify", &f.p("band.onnx"), &f.p("x.csv"), "--radius", "0.2"]);
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
        "verify", &f.p("band.onnx"), &f.p("x.csv"), "--lb", &lb, "--ub", &ub, "--json",
    ]);
    assert_eq!(o.status.code(), Some(0));
    let o = ppnn(&[
        "verify", &f.p("band.onnx"), &f.p("x.csv"), "--lb", &lb, "--ub", &ub, "--margin", "0.35",
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
    assert!(out.contains("2 features") && out.contains("2 classes"), "{out}");
    assert!(out.contains("ReLU neurons (each may need one binary variable): 2"), "{out}");
}

#[test]
fn bad_model_files() {
    let f = Fixture::new();
    let x = f.p("x.csv");
    let missing = f.p("nope.onnx");
    assert_bad(&ppnn(&["predict", &missing, &x]), &["nope.onnx", "cannot read"]);
    let junk = f.write("junk.onnx", b"this is not an onnx model at all\n");
    assert_bad(&ppnn(&["predict", &junk, &x]), &["junk.onnx"]);
    let bytes = std::fs::read(f.p("band.onnx")).unwrap();
    let cut = f.write("cut.onnx", &bytes[..bytes.len() / 2]);
    assert_bad(&ppnn(&["info", &cut]), &["cut.onnx"]);

    // Unsupported operator.
    let mut m = <parallelepipedonn::network::proto::ModelProto as prost::Message>::decode(
        bytes.as_slice(),
    )
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
    assert_bad(&ppnn(&["predict", &model, &nan]), &["nan.csv", "not finite"]);
    let inf = f.write("inf.csv", b"0.5\ninf");
    assert_bad(&ppnn(&["predict", &model, &inf]), &["inf.csv", "line 2"]);
    let text_in = f.write("words.csv", b"0.5 half");
    assert_bad(&ppnn(&["predict", &model, &text_in]), &["words.csv", "'half'"]);
    let empty = f.write("empty.csv", b"");
    assert_bad(&ppnn(&["predict", &model, &empty]), &["empty.csv", "empty"]);
    let missing = f.p("missing.csv");
    assert_bad(&ppnn(&["predict", &model, &missing]), &["missing.csv"]);

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
    // No witness file is left behind by a failed run.
    let w = f.p("never.csv");
    let o = ppnn(&[
        "verify", &model, &short, "--radius", "0.3", "--witness-out", &w,
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
    let o = ppnn(&["verify", &model, &x, "--radius", "0.0145", "--query-timeout", "0.000001"]);
    assert_eq!(o.status.code(), Some(20), "{:?}", text(&o));
    assert!(text(&o).0.contains("time limit"), "{:?}", text(&o));
    let empty = dir.join("mnist-inputs/9-5.csv").display().to_string();
    assert_bad(&ppnn(&["predict", &model, &empty]), &["9-5.csv", "empty"]);
}
