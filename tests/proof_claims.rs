//! Proofs of the claims beyond sound boxes (format version 2): dual boxes' completeness and
//! VNN-LIB properties; `--engine highs` answers; version 1 files. Each kind checks `valid` on
//! fixtures, and each kind of tampering is caught with a reason that names it.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::*;
use parallelepipedonn::certificate::Kind;
use parallelepipedonn::certify::{certify, Algorithm, Params};
use parallelepipedonn::check::{self, Invalid};
use parallelepipedonn::milp::solver::{Engine, Limits};
use parallelepipedonn::network::margin_of;
use parallelepipedonn::network::onnx::parse_onnx;
use parallelepipedonn::oracle::OracleSettings;
use parallelepipedonn::proof::emit::{prove, prove_property};
use parallelepipedonn::proof::{sha256_hex, By, Claim, PartRegion, Proof, Refutation, RowKind};
use parallelepipedonn::{Hyperbox, MilpOracle, Network, Oracle, Question, Verdict};
use rand::{Rng, SeedableRng};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn from_bytes(bytes: Vec<u8>) -> (Vec<u8>, Network) {
    let net = parse_onnx(&bytes, "fixture").expect("fixture parses");
    (bytes, net)
}

const TAU: f64 = parallelepipedonn::oracle::DEFAULT_MARGIN;

/// A dual certification of `x` and its proof, through the file format.
fn dual_proof(bytes: &[u8], net: &Network, x: &[f64], algo: &str) -> (Hyperbox, Proof) {
    let d = Hyperbox::unit(net.input_size());
    let oracle = MilpOracle::new(net, d.clone(), OracleSettings::default());
    let class = net.classify(x).unwrap();
    let params = Params {
        delta: 0.05,
        ..Params::default()
    };
    let cert = certify(
        Algorithm::from_name(algo).unwrap(),
        &oracle,
        x,
        class,
        &params,
        None,
    );
    assert_eq!(cert.kind, Kind::Complete);
    let b = cert.region.clone().unwrap();
    let p = prove(
        net,
        &sha256_hex(bytes),
        cert.margin,
        Claim::complete(&d, &b, class),
        Some(x),
        &Limits::default(),
    )
    .unwrap_or_else(|e| panic!("{algo}: no proof of the dual box {b:?}: {e}"));
    (b, Proof::from_json(&p.to_json(), algo).unwrap())
}

fn refutations(p: &Proof) -> impl Iterator<Item = &Refutation> {
    p.parts.iter().flat_map(|part| &part.refuted)
}

#[test]
fn dual_boxes_carry_valid_proofs() {
    let mut proved = 0;
    let mut with_parts = 0;
    let mut by_branching = 0;
    for (name, net, xs) in [
        ("half-plane", half_plane_network(0.6), vec![[0.1, 0.2]]),
        ("band", band_network(), vec![[0.5, 0.5], [0.2, 0.3]]),
        (
            "two-pieces",
            two_pieces_network(),
            vec![[0.05, 0.2], [0.95, 0.2]],
        ),
    ] {
        let (bytes, net) = from_bytes(matmul_model(net.layers()));
        for x in xs {
            for algo in ["dual", "complete-c-d-bu", "complete-bu"] {
                let (_, p) = dual_proof(&bytes, &net, &x, algo);
                let ok = check::check(&net, &bytes, &p)
                    .unwrap_or_else(|e| panic!("{name} {x:?} {algo}: {e}"));
                proved += 1;
                with_parts += usize::from(ok.parts > 0);
                by_branching += ok.by_branching;
            }
        }
    }
    for seed in 0..60u64 {
        let (bytes, net) = from_bytes(matmul_model(random_network(seed).layers()));
        let mut rng = rand::rngs::StdRng::seed_from_u64(500 + seed);
        let x: Vec<f64> = (0..net.input_size()).map(|_| rng.gen::<f64>()).collect();
        if net.classify(&x).is_none() {
            continue;
        }
        for algo in ["dual", "complete-c-d-bu"] {
            let (_, p) = dual_proof(&bytes, &net, &x, algo);
            let ok = check::check(&net, &bytes, &p)
                .unwrap_or_else(|e| panic!("seed {seed} {algo}: {e}"));
            proved += 1;
            with_parts += usize::from(ok.parts > 0);
            by_branching += ok.by_branching;
        }
    }
    assert!(proved >= 60, "only {proved} dual proofs");
    assert!(with_parts >= 15, "only {with_parts} proofs with slabs");
    assert!(
        by_branching >= 5,
        "only {by_branching} slabs by branch and bound"
    );
}

#[test]
fn the_oracle_attaches_completeness_proofs() {
    let (bytes, net) = from_bytes(matmul_model(two_pieces_network().layers()));
    let d = Hyperbox::unit(2);
    let settings = OracleSettings {
        proofs: Some(sha256_hex(&bytes)),
        ..OracleSettings::default()
    };
    let oracle = MilpOracle::new(&net, d.clone(), settings);
    // Class 0 lies within x0 < 0.15 or x0 > 0.85, x1 < 0.515: [0, 1] × [0, 0.6] is complete.
    let region = Hyperbox::new(vec![0.0, 0.0], vec![1.0, 0.6]).unwrap();
    let v = oracle.decide(&Question::Complete {
        region: &region,
        class: 0,
        eta: 1e-3,
        anchor: None,
    });
    let Verdict::Holds { proof, .. } = v else {
        panic!("not complete: {v:?}")
    };
    let proof = proof.expect("a proof attached");
    let proof = proof.as_ref().as_ref().expect("a proof written");
    check::check(&net, &bytes, proof).expect("valid");
    match &proof.claim {
        Claim::Complete { region, .. } => assert_eq!(region.ub[1], 0.6 + 1e-3),
        other => panic!("{other:?}"),
    }
}

fn rejected(net: &Network, bytes: &[u8], p: &Proof) -> String {
    match check::check(net, bytes, p) {
        Ok(_) => panic!("a tampered proof is accepted"),
        Err(Invalid(why)) => why,
    }
}

fn claim_box(p: &mut Proof) -> &mut parallelepipedonn::proof::Region {
    match &mut p.claim {
        Claim::Complete { region, .. } => region,
        other => panic!("not a completeness claim: {other:?}"),
    }
}

#[test]
fn tampered_completeness_proofs_are_rejected() {
    // A random network whose dual box has a slab that needs branching.
    let (bytes, net) = from_bytes(matmul_model(random_network(52).layers()));
    let mut rng = rand::rngs::StdRng::seed_from_u64(552);
    let x: Vec<f64> = (0..net.input_size()).map(|_| rng.gen::<f64>()).collect();
    let (_, p) = dual_proof(&bytes, &net, &x, "dual");
    check::check(&net, &bytes, &p).expect("the genuine proof is valid");
    let (n, ri) = p
        .parts
        .iter()
        .enumerate()
        .find_map(|(n, part)| {
            part.refuted
                .iter()
                .position(|r| matches!(r.by, By::BranchAndBound { .. }))
                .map(|ri| (n, ri))
        })
        .expect("a slab proved by branching");
    let PartRegion::Slab { slab: (i, lo, hi) } = p.parts[n].region else {
        panic!("a slab part")
    };
    let mut q = p.clone();
    let upper = claim_box(&mut q).ub[i] == lo;
    let face = if upper {
        format!("slab x_{i} >=")
    } else {
        format!("slab x_{i} <=")
    };

    // A removed part: its slab is not covered.
    let mut q = p.clone();
    q.parts.remove(n);
    let why = rejected(&net, &bytes, &q);
    assert!(why.contains(&face) && why.contains("not covered"), "{why}");
    // A face moved inward by 1e-3: the slab it asks for is larger than the one proved.
    let mut q = p.clone();
    if upper {
        claim_box(&mut q).ub[i] -= 1e-3;
    } else {
        claim_box(&mut q).lb[i] += 1e-3;
    }
    let why = rejected(&net, &bytes, &q);
    assert!(why.contains(&face) && why.contains("not covered"), "{why}");
    // ... and the part moved with it: its bounds or its refutation fail on the larger slab.
    let mut q = p.clone();
    let moved = if upper { lo - 1e-3 } else { hi + 1e-3 };
    if upper {
        claim_box(&mut q).ub[i] = moved;
        q.parts[n].region = PartRegion::Slab {
            slab: (i, moved, hi),
        };
    } else {
        claim_box(&mut q).lb[i] = moved;
        q.parts[n].region = PartRegion::Slab {
            slab: (i, lo, moved),
        };
    }
    let why = rejected(&net, &bytes, &q);
    assert!(why.starts_with(&format!("part {n}: ")), "{why}");
    // A perturbed multiplier in the branch-and-bound refutation.
    let mut q = p.clone();
    let By::BranchAndBound { leaves } = &mut q.parts[n].refuted[ri].by else {
        unreachable!()
    };
    for leaf in leaves.iter_mut() {
        for f in leaf.farkas.iter_mut().filter(|f| f.0 == RowKind::Q) {
            f.3 *= 0.25;
        }
    }
    let why = rejected(&net, &bytes, &q);
    assert!(why.contains("leaf ") && why.contains("Farkas"), "{why}");
    // A removed row of the conjunction: its multipliers name a row the leaf LP lacks.
    let mut q = p.clone();
    q.parts[n].refuted[ri].rows.pop();
    let why = rejected(&net, &bytes, &q);
    assert!(why.contains(&format!("part {n}")), "{why}");
    // A wrong class.
    let mut q = p.clone();
    if let Claim::Complete { class, .. } = &mut q.claim {
        *class = (*class + 1) % net.output_size();
    }
    let why = rejected(&net, &bytes, &q);
    assert!(why.contains("not covered"), "{why}");
}

#[test]
fn a_hand_made_completeness_proof_of_a_box_missing_a_class_point_is_rejected() {
    let (bytes, net) = from_bytes(matmul_model(two_pieces_network().layers()));
    let x = [0.05, 0.2];
    let (_, genuine) = dual_proof(&bytes, &net, &x, "dual");
    // A class point of the other piece: x0 = 0.95.
    let w = [0.95, 0.2];
    assert_eq!(net.classify(&w), Some(0));
    assert!(margin_of(&net.forward(&w), 0).0 > TAU);
    // The box [0, 0.5] × [0, 1] misses it; its slab x0 >= 0.5 "refuted" by bounds, then by the
    // genuine leaves, then by every leaf list of the genuine proof — all rejected.
    let d = Hyperbox::unit(2);
    let slopes = genuine.parts[0].bounds.slopes.clone();
    let (lower, upper) = check::bounds::derive(&net, &[0.5, 0.0], &[1.0, 1.0], &slopes);
    let mut p = genuine.clone();
    *claim_box(&mut p) = parallelepipedonn::proof::Region {
        lb: vec![0.0, 0.0],
        ub: vec![0.5, 1.0],
    };
    let rows: Vec<_> = (0..2)
        .filter(|&j| j != 0)
        .map(|j| parallelepipedonn::proof::Row::difference(j, 0))
        .collect();
    let mut part = genuine.parts[0].clone();
    part.region = PartRegion::Slab {
        slab: (0, 0.5, 1.0),
    };
    part.bounds.lower = lower;
    part.bounds.upper = upper;
    part.refuted = vec![Refutation {
        rows: rows.clone(),
        by: By::Bounds,
    }];
    p.parts = vec![part.clone()];
    let why = rejected(&net, &bytes, &p);
    assert!(why.contains("not above τ"), "{why}");
    for r in refutations(&genuine) {
        if let By::BranchAndBound { .. } = r.by {
            let mut q = p.clone();
            q.parts[0].refuted = vec![Refutation {
                rows: rows.clone(),
                by: r.by.clone(),
            }];
            let why = rejected(&net, &bytes, &q);
            assert!(why.contains("refutation 0"), "{why}");
        }
    }
    // The slab really holds the class point.
    assert!(w[0] >= 0.5 && d.contains(&w));
}

fn ppnn(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ppnn"))
        .args(args)
        .output()
        .expect("run ppnn")
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).to_string()
}

#[test]
fn cli_dual_certify_and_batch_write_proofs_that_check() {
    let dir = tempfile::tempdir().unwrap();
    let model = write_temp(
        dir.path(),
        "two-pieces.onnx",
        &matmul_model(two_pieces_network().layers()),
    );
    let inp = dir.path().join("x.csv");
    std::fs::write(&inp, "0.05 0.2\n").unwrap();
    let proof = dir.path().join("dual.json");
    let o = ppnn(&[
        "certify",
        s(&model),
        s(&inp),
        "--algo",
        "dual",
        "--proof",
        s(&proof),
    ]);
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    let o = ppnn(&[
        "check",
        s(&model),
        s(&proof),
        "--input",
        s(&inp),
        "--verbose",
    ]);
    let out = stdout(&o);
    assert!(
        out.starts_with("valid\n") && out.contains("lies in the box"),
        "{out}"
    );
    // A domain the proof's does not contain.
    let o = ppnn(&["check", s(&model), s(&proof), "--domain", "-1,1"]);
    assert!(
        stdout(&o).starts_with("invalid: the proof's domain"),
        "{o:?}"
    );
    assert_eq!(o.status.code(), Some(1));
    // batch --proofs: the dual pair gets a proof too.
    let results = dir.path().join("r.jsonl");
    let pdir = dir.path().join("proofs");
    let o = ppnn(&[
        "batch",
        s(&model),
        s(&inp),
        "--algo",
        "dual,complete-c-d-bu",
        "--out",
        s(&results),
        "--proofs",
        s(&pdir),
        "--jobs",
        "1",
    ]);
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    let mut checked = 0;
    for line in std::fs::read_to_string(&results).unwrap().lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        if v.get("ppnn_batch").is_some() {
            continue;
        }
        let path = v["proof"].as_str().unwrap_or_else(|| panic!("{line}"));
        let o = ppnn(&["check", s(&model), path]);
        assert_eq!(stdout(&o), "valid\n", "{path}");
        checked += 1;
    }
    assert_eq!(checked, 2);
}

#[test]
fn engine_highs_answers_get_proofs_too() {
    // Proof mode re-solves with our branch and bound whatever engine answered.
    let model = root().join("data/networks/mnist-784-32-10.onnx");
    let inp = root().join("data/inputs/mnist/7-1.csv");
    let dir = tempfile::tempdir().unwrap();
    let proof = dir.path().join("p.json");
    let o = ppnn(&[
        "verify",
        s(&model),
        s(&inp),
        "--radius",
        "0.015",
        "--engine",
        "highs",
        "--proof",
        s(&proof),
    ]);
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    let o = ppnn(&[
        "check",
        s(&model),
        s(&proof),
        "--input",
        s(&inp),
        "--radius",
        "0.015",
    ]);
    assert_eq!(stdout(&o), "valid\n", "{o:?}");
    // The library path: an oracle on HiGHS's MIP solver with proofs on.
    let bytes = std::fs::read(&model).unwrap();
    let (bytes, net) = from_bytes(bytes);
    let x = parallelepipedonn::io::read_input(&inp, 784).unwrap();
    let settings = OracleSettings {
        engine: Engine::Highs,
        attack: None,
        proofs: Some(sha256_hex(&bytes)),
        ..OracleSettings::default()
    };
    let oracle = MilpOracle::new(&net, Hyperbox::unit(784), settings);
    let region = Hyperbox::ball(&x, 0.015, &Hyperbox::unit(784));
    let v = oracle.decide(&Question::Sound {
        region: &region,
        class: 7,
    });
    let Verdict::Holds { proof, .. } = v else {
        panic!("{v:?}")
    };
    let proof = proof.unwrap();
    let proof = proof.as_ref().as_ref().unwrap();
    let ok = check::check(&net, &bytes, proof).unwrap();
    assert!(ok.by_branching >= 1, "{ok:?}");
}

#[test]
fn version_1_files_still_check() {
    let model = root().join("data/networks/mnist-784-32-10.onnx");
    let inp = root().join("data/inputs/mnist/7-1.csv");
    let v1 = root().join("tests/data/proof-v1-mnist-784-32-10-7-1.json");
    let text = std::fs::read_to_string(&v1).unwrap();
    assert!(text.contains("\"version\":1") && text.contains("\"competitors\""));
    let p = Proof::from_json(&text, "v1").unwrap();
    assert_eq!(p.version, parallelepipedonn::proof::VERSION);
    let bytes = std::fs::read(&model).unwrap();
    let (bytes, net) = from_bytes(bytes);
    let ok = check::check(&net, &bytes, &p).unwrap();
    assert!(ok.by_branching >= 1 && ok.leaves >= 2, "{ok:?}");
    let o = ppnn(&["check", s(&model), s(&v1), "--input", s(&inp)]);
    assert_eq!(stdout(&o), "valid\n", "{o:?}");
    // Its M multipliers became Q ones: flipping one back is caught.
    let mut q = p.clone();
    let leaf = q.parts[0]
        .refuted
        .iter_mut()
        .find_map(|r| match &mut r.by {
            By::BranchAndBound { leaves } => Some(&mut leaves[0]),
            _ => None,
        })
        .unwrap();
    let f = leaf.farkas.iter_mut().find(|f| f.0 == RowKind::Q).unwrap();
    f.3 = -f.3;
    let why = check::check(&net, &bytes, &q).unwrap_err().0;
    assert!(why.contains("wrong sign"), "{why}");
    // Another version is refused by name.
    let e = Proof::from_json(&text.replace("\"version\":1", "\"version\":3"), "f.json")
        .unwrap_err()
        .to_string();
    assert!(e.contains("version 3") && e.contains("f.json"), "{e}");
}

/// A function of a sampled point `(x, y)`, when defined there.
type Sample<'a> = dyn Fn(&[f64], &[f64]) -> Option<f64> + 'a;

/// A VNN-LIB 1.0 query over `n_in` inputs in `[lo, hi]` and the given output assertion.
fn vnnlib(n_in: usize, n_out: usize, lo: &[f64], hi: &[f64], output: &str) -> String {
    let mut t = String::new();
    for i in 0..n_in {
        t += &format!("(declare-const X_{i} Real)\n");
    }
    for j in 0..n_out {
        t += &format!("(declare-const Y_{j} Real)\n");
    }
    for i in 0..n_in {
        t += &format!(
            "(assert (>= X_{i} {}))\n(assert (<= X_{i} {}))\n",
            lo[i], hi[i]
        );
    }
    t += &format!("(assert {output})\n");
    t
}

fn property_of(text: &str, net: &Network) -> parallelepipedonn::property::Property {
    parallelepipedonn::property::parse_vnnlib(text, "q.vnnlib")
        .unwrap()
        .property(net.input_size(), net.output_size())
        .unwrap()
}

#[test]
fn general_property_proofs_check_and_tampering_is_caught() {
    // Random networks, general output constraints: a weighted sum above a threshold, a
    // conjunction, a disjunction of conjunctions, an input term, over two boxes.
    let mut proved = 0;
    let mut by_branching = 0;
    let mut perturbed = 0;
    for seed in 0..40u64 {
        let (bytes, net) = from_bytes(matmul_model(random_network(seed).layers()));
        let (d, k) = (net.input_size(), net.output_size());
        let mut rng = rand::rngs::StdRng::seed_from_u64(900 + seed);
        let c: Vec<f64> = (0..d).map(|_| rng.gen::<f64>()).collect();
        let r = 0.05 + 0.2 * rng.gen::<f64>();
        let lo: Vec<f64> = c.iter().map(|v| v - r).collect();
        let hi: Vec<f64> = c.iter().map(|v| v + r).collect();
        // Thresholds just above what 300 sampled points reach: mostly unsat, rarely by bounds.
        let pts: Vec<(Vec<f64>, Vec<f64>)> = (0..300)
            .map(|_| {
                let x: Vec<f64> = (0..d)
                    .map(|i| lo[i] + (hi[i] - lo[i]) * rng.gen::<f64>())
                    .collect();
                let y = net.forward(&x);
                (x, y)
            })
            .collect();
        let max_of = |f: &Sample<'_>| {
            pts.iter()
                .filter_map(|(x, y)| f(x, y))
                .fold(f64::NEG_INFINITY, f64::max)
                .max(-1e3)
                + 0.02
        };
        let t0 = max_of(&|_, y| Some(y[0]));
        let mut y0s: Vec<f64> = pts.iter().map(|p| p.1[0]).collect();
        y0s.sort_by(f64::total_cmp);
        let u = y0s[150];
        let v = max_of(&|_, y| (y[0] >= u).then_some(y[1]));
        let w = max_of(&|_, y| (y[1] >= y[0]).then_some(y[0] + 0.5 * y[1]));
        let t4 = max_of(&|x, y| Some(y[0] + x[0]));
        let tk = max_of(&|_, y| Some(y[k - 1]));
        let outputs = [
            format!("(>= Y_0 {t0})"),
            format!("(and (>= Y_0 {u}) (>= Y_1 {v}))"),
            format!("(or (and (>= (+ Y_0 (* 0.5 Y_1)) {w}) (>= Y_1 Y_0)) (>= Y_0 {t0}))"),
            format!("(>= (+ Y_0 X_0) {t4})"),
            format!("(>= Y_{} {tk})", k - 1),
        ];
        for out in &outputs {
            let text = vnnlib(d, k, &lo, &hi, out);
            let p = property_of(&text, &net);
            let Ok(proof) = prove_property(&net, &sha256_hex(&bytes), &p, TAU, &Limits::default())
            else {
                continue; // sat, or within τ
            };
            let proof = Proof::from_json(&proof.to_json(), "p").unwrap();
            let ok = check::check(&net, &bytes, &proof)
                .unwrap_or_else(|e| panic!("seed {seed} {out}: {e}"));
            // The file's own disjuncts are covered.
            let claim = parallelepipedonn::proof::property_claim(&p);
            let qs = check::claim::questions(&claim, k);
            check::require_questions(&net, &proof, &qs).unwrap();
            proved += 1;
            by_branching += ok.by_branching;
            // Leaf multipliers perturbed: only those on the question's rows kept (a leaf LP
            // without its network rows is not empty, unless the rows contradict one another).
            let mut q = proof.clone();
            let mut touched = false;
            for r in q.parts.iter_mut().flat_map(|p| p.refuted.iter_mut()) {
                if let By::BranchAndBound { leaves } = &mut r.by {
                    leaves[0].farkas.retain(|f| f.0 == RowKind::Q);
                    touched = true;
                }
            }
            if touched {
                if let Err(Invalid(why)) = check::check(&net, &bytes, &q) {
                    assert!(why.contains("leaf 0") && why.contains("Farkas"), "{why}");
                    perturbed += 1;
                }
            }
            // A removed disjunct's refutation.
            if let Some(part) = proof.parts.iter().position(|p| !p.refuted.is_empty()) {
                let mut q = proof.clone();
                q.parts[part].refuted.pop();
                let why = check::check(&net, &bytes, &q).unwrap_err().0;
                assert!(
                    why.contains("disjunct") && why.contains("not covered"),
                    "{why}"
                );
            }
            // An easier property claimed: a threshold raised in the claim is not the file's.
            let mut q = proof.clone();
            if let Claim::Property { disjuncts, .. } = &mut q.claim {
                for dj in disjuncts.iter_mut() {
                    for row in dj.rows.iter_mut().filter(|r| !r.y.is_empty()) {
                        row.constant -= 1.0;
                    }
                }
            }
            let ok_own = check::check(&net, &bytes, &q);
            assert!(ok_own.is_err(), "a claim changed without its refutations");
            assert!(check::require_questions(&net, &proof, &qs).is_ok());
        }
    }
    assert!(proved >= 40, "only {proved} property proofs");
    assert!(perturbed >= 5, "only {perturbed} perturbed leaves");
    assert!(
        by_branching >= 5,
        "only {by_branching} refutations by branching"
    );
}

#[test]
fn cli_vnnlib_unsat_proofs_check_against_the_query_file() {
    let dir = tempfile::tempdir().unwrap();
    let net = two_pieces_network();
    let model = write_temp(dir.path(), "m.onnx", &matmul_model(net.layers()));
    // Unsat: on x1 in [0.6, 1], class 1 wins by 10 (x1 - 0.5) - ...: y0 - y1 >= 0 is impossible;
    // a disjunction with a second (also impossible) disjunct over the same box.
    let q = write_temp(
        dir.path(),
        "q.vnnlib",
        vnnlib(
            2,
            2,
            &[0.0, 0.6],
            &[1.0, 1.0],
            "(or (>= Y_0 Y_1) (and (>= Y_0 -0.5) (<= Y_1 -0.1)))",
        )
        .as_bytes(),
    );
    let proof = dir.path().join("q.proof.json");
    let o = Command::new(env!("CARGO_BIN_EXE_ppnn-vnnlib"))
        .args(["verify", s(&q), "--network", &format!("N={}", s(&model))])
        .args(["--unsat-proofs", s(&proof)])
        .output()
        .unwrap();
    assert_eq!(stdout(&o), "unsat\n", "{o:?}");
    let o = ppnn(&[
        "check",
        s(&model),
        s(&proof),
        "--property",
        s(&q),
        "--verbose",
    ]);
    let out = stdout(&o);
    assert!(
        out.starts_with("valid\n") && out.contains("2 disjuncts"),
        "{out}"
    );
    // Without the query file: an error naming the option, not a verdict.
    let o = ppnn(&["check", s(&model), s(&proof)]);
    assert_ne!(o.status.code(), Some(0), "{o:?}");
    assert!(stdout(&o).is_empty(), "{o:?}");
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("--property"),
        "{o:?}"
    );
    // A wrong property file: a wider box.
    let wide = write_temp(
        dir.path(),
        "wide.vnnlib",
        vnnlib(
            2,
            2,
            &[0.0, 0.4],
            &[1.0, 1.0],
            "(or (>= Y_0 Y_1) (and (>= Y_0 -0.5) (<= Y_1 -0.1)))",
        )
        .as_bytes(),
    );
    let o = ppnn(&["check", s(&model), s(&proof), "--property", s(&wide)]);
    let out = stdout(&o);
    assert!(
        out.starts_with("invalid: the proof does not answer the property file")
            && out.contains("wide.vnnlib")
            && out.contains("disjunct 0 is not covered"),
        "{out}"
    );
    assert_eq!(o.status.code(), Some(1));
    // The VNN-LIB 2.0 draft's checker command line.
    let vcheck = |query: &Path| {
        Command::new(env!("CARGO_BIN_EXE_ppnn-vnnlib"))
            .args(["check", "--query", s(query), "--proof", s(&proof)])
            .args(["--network", &format!("N={}", s(&model))])
            .output()
            .unwrap()
    };
    let o = vcheck(&q);
    assert_eq!(stdout(&o), "valid\n", "{o:?}");
    assert_eq!(o.status.code(), Some(0));
    let o = vcheck(&wide);
    assert_eq!(stdout(&o), "invalid\n", "{o:?}");
    assert!(String::from_utf8_lossy(&o.stderr).contains("disjunct 0 is not covered"));
    assert_eq!(o.status.code(), Some(1));
    // A wrong property file: another constraint.
    let other = write_temp(
        dir.path(),
        "other.vnnlib",
        vnnlib(2, 2, &[0.0, 0.6], &[1.0, 1.0], "(>= Y_0 (- Y_1 1.0))").as_bytes(),
    );
    let o = ppnn(&["check", s(&model), s(&proof), "--property", s(&other)]);
    assert!(stdout(&o).contains("not covered"), "{o:?}");
}

#[test]
fn the_oracle_attaches_property_proofs() {
    let (bytes, net) = from_bytes(matmul_model(two_pieces_network().layers()));
    let text = vnnlib(
        2,
        2,
        &[0.0, 0.6],
        &[1.0, 1.0],
        "(or (>= Y_0 Y_1) (and (>= Y_0 -0.5) (<= Y_1 -0.1)))",
    );
    let p = property_of(&text, &net);
    let settings = OracleSettings {
        proofs: Some(sha256_hex(&bytes)),
        ..OracleSettings::default()
    };
    let oracle = MilpOracle::new(&net, Hyperbox::unit(2), settings);
    let v = oracle.decide(&Question::Exists { property: &p });
    let Verdict::Holds { proof, .. } = v else {
        panic!("{v:?}")
    };
    let proof = proof.expect("a proof attached");
    let proof = proof.as_ref().as_ref().expect("a proof written");
    let ok = check::check(&net, &bytes, proof).expect("valid");
    assert_eq!(ok.questions, 2);
    let qs = check::claim::questions(&parallelepipedonn::proof::property_claim(&p), 2);
    check::require_questions(&net, proof, &qs).unwrap();
}
