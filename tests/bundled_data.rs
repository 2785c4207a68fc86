//! The bundled networks and inputs: every network loads and matches the logits its training
//! script computed independently (numpy, from the ONNX file); `ppnn predict` returns the label
//! of every bundled input.

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

const NETWORKS: [&str; 8] = [
    "mnist-784-32-10",
    "fmnist-784-64-10",
    "mnist-784-100-10",
    "mnist-784-100-100-10",
    "mnist-784-256-256-10",
    "fmnist-784-256-256-10",
    "mnist-784-256x4-10",
    "mnist-784-256x6-10",
];

#[test]
fn networks_match_expected_logits() {
    for name in NETWORKS {
        let dir = root().join("data/networks");
        let net = parallelepipedonn::load_onnx(dir.join(format!("{name}.onnx")))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(net.input_size(), 784, "{name}");
        assert_eq!(net.output_size(), 10, "{name}");
        let hidden: Vec<usize> = net.layers()[..net.layers().len() - 1]
            .iter()
            .map(|l| l.n_out)
            .collect();
        // "784-100-100-10", or "784-256x4-10" for four layers of 256.
        let arch: Vec<usize> = name
            .split('-')
            .skip(2)
            .flat_map(|s| match s.split_once('x') {
                Some((w, n)) => vec![w.parse().unwrap(); n.parse().unwrap()],
                None => vec![s.parse().unwrap()],
            })
            .collect();
        assert_eq!(hidden, arch[..arch.len() - 1], "{name}");
        let text = std::fs::read_to_string(dir.join(format!("{name}.expected.json"))).unwrap();
        let expected: serde_json::Value = serde_json::from_str(&text).unwrap();
        let inputs = expected["inputs"].as_array().unwrap();
        assert!(inputs.len() >= 3);
        for case in inputs {
            let file = root().join(case["file"].as_str().unwrap());
            let x = parallelepipedonn::io::read_input(&file, 784).unwrap();
            let y = net.forward(&x);
            for (a, b) in y.iter().zip(case["logits"].as_array().unwrap()) {
                let b = b.as_f64().unwrap();
                assert!(
                    (a - b).abs() <= 1e-9 * (1.0 + b.abs()),
                    "{name} {file:?}: {a} vs {b}"
                );
            }
            let y32 = net.forward_f32(&x);
            for (a, b) in y32.iter().zip(&y) {
                assert!((*a as f64 - b).abs() < 1e-4, "{name}: f32 {a} vs f64 {b}");
            }
        }
    }
}

fn inputs_of(dataset: &str) -> Vec<(PathBuf, usize)> {
    let dir = root().join("data/inputs").join(dataset);
    let labels = std::fs::read_to_string(dir.join("labels.txt")).unwrap();
    let labels: Vec<usize> = labels
        .split_whitespace()
        .map(|t| t.parse().unwrap())
        .collect();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "csv"))
        .collect();
    files.sort();
    assert_eq!(files.len(), 50, "{dataset}");
    assert_eq!(labels.len(), 50, "{dataset}");
    files.into_iter().zip(labels).collect()
}

fn ppnn_predict(model: &Path, input: &Path) -> usize {
    let o = Command::new(env!("CARGO_BIN_EXE_ppnn"))
        .args(["predict", "--json"])
        .arg(model)
        .arg(input)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    v["class"].as_u64().unwrap() as usize
}

#[test]
fn predict_returns_every_bundled_label() {
    for (dataset, net) in [("mnist", "mnist-784-32-10"), ("fmnist", "fmnist-784-64-10")] {
        let model = root().join("data/networks").join(format!("{net}.onnx"));
        for (file, label) in inputs_of(dataset) {
            let name = file.file_name().unwrap().to_string_lossy().to_string();
            assert_eq!(
                name.split('-').next().unwrap().parse::<usize>().unwrap(),
                label,
                "{name}: file name and labels.txt disagree"
            );
            assert_eq!(ppnn_predict(&model, &file), label, "{dataset}/{name}");
        }
    }
}
