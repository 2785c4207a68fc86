//! Proof files: every robust answer on the test fixtures carries a proof that the independent
//! checker accepts, and every kind of tampering is caught with a reason that names it.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::*;
use parallelepipedonn::check::{self, Invalid};
use parallelepipedonn::milp::solver::Limits;
use parallelepipedonn::network::onnx::parse_onnx;
use parallelepipedonn::oracle::{MilpStrategy, OracleSettings};
use parallelepipedonn::proof::{
    emit::prove_sound, sha256_hex, By, Claim, Proof, Refutation, Region, Row, RowKind,
};
use parallelepipedonn::{Hyperbox, MilpOracle, Network, Oracle, Question, Verdict};
use rand::{Rng, SeedableRng};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A model's bytes and the network parsed from them.
fn from_bytes(bytes: Vec<u8>) -> (Vec<u8>, Network) {
    let net = parse_onnx(&bytes, "fixture").expect("fixture parses");
    (bytes, net)
}

fn bundled(name: &str) -> (Vec<u8>, Network) {
    from_bytes(std::fs::read(root().join("data/networks").join(name)).unwrap())
}

fn input(set: &str, name: &str) -> Vec<f64> {
    parallelepipedonn::io::read_input(root().join("data/inputs").join(set).join(name), 784).unwrap()
}

/// Asks `question` with proofs on; a `Holds` must carry a proof the checker accepts. Returns
/// whether it held.
fn holds_with_valid_proof(
    bytes: &[u8],
    net: &Network,
    region: &Hyperbox,
    class: usize,
    settings: OracleSettings,
    what: &str,
) -> bool {
    let settings = OracleSettings {
        proofs: Some(sha256_hex(bytes)),
        ..settings
    };
    let oracle = MilpOracle::new(net, Hyperbox::unit(net.input_size()), settings);
    let v = oracle.decide(&Question::Sound { region, class });
    let Verdict::Holds { proof, .. } = v else {
        return false;
    };
    let proof = proof.unwrap_or_else(|| panic!("{what}: Holds without a proof"));
    let proof = proof
        .as_ref()
        .as_ref()
        .unwrap_or_else(|e| panic!("{what}: no proof written: {e}"));
    // Through the file format, as `ppnn check` reads it.
    let proof = Proof::from_json(&proof.to_json(), what).unwrap();
    if let Err(e) = check::check(net, bytes, &proof) {
        panic!("{what}: the proof of a robust answer is rejected: {e}");
    }
    true
}

fn milp_only() -> OracleSettings {
    OracleSettings {
        attack: None,
        ..OracleSettings::default()
    }
}

#[test]
fn robust_answers_on_the_small_fixtures_carry_valid_proofs() {
    let mut held = 0;
    for (name, net) in [
        ("band", band_network()),
        ("half-plane", half_plane_network(0.8)),
        ("two-pieces", two_pieces_network()),
    ] {
        let (bytes, net) = from_bytes(matmul_model(net.layers()));
        let d = Hyperbox::unit(2);
        for (x, r) in [
            ([0.5, 0.5], 0.2499),
            ([0.5, 0.5], 0.1),
            ([0.2, 0.3], 0.1),
            ([0.05, 0.2], 0.04),
            ([0.95, 0.2], 0.04),
            ([0.1, 0.1], 0.0),
        ] {
            let Some(c) = net.classify(&x) else { continue };
            let region = Hyperbox::ball(&x, r, &d);
            for s in [OracleSettings::default(), milp_only()] {
                if holds_with_valid_proof(&bytes, &net, &region, c, s, name) {
                    held += 1;
                }
            }
        }
    }
    assert!(held >= 10, "only {held} robust answers");
}

#[test]
fn robust_answers_on_random_networks_carry_valid_proofs() {
    // The fixtures of the oracle's random cross-check, with the MILP path forced.
    let (mut held, mut by_branching) = (0, 0);
    for seed in 0..250u64 {
        let (bytes, net) = from_bytes(matmul_model(random_network(seed).layers()));
        let d = net.input_size();
        let mut rng = rand::rngs::StdRng::seed_from_u64(1000 + seed);
        let centre: Vec<f64> = (0..d).map(|_| rng.gen::<f64>()).collect();
        let Some(c) = net.classify(&centre) else {
            continue;
        };
        let radius = 0.01 + rng.gen::<f64>() * rng.gen::<f64>() * 0.5;
        let region = Hyperbox::ball(&centre, radius, &Hyperbox::unit(d));
        let what = format!("seed {seed}");
        for strategy in [MilpStrategy::PerClass, MilpStrategy::Disjunctive] {
            let s = OracleSettings {
                strategy,
                ..milp_only()
            };
            if holds_with_valid_proof(&bytes, &net, &region, c, s, &what) {
                held += 1;
            }
        }
        // Proofs that needed branching (the path worth testing), at smaller radii too.
        for scale in [0.25, 0.5, 1.0, 1.5, 2.0, 3.0] {
            let region = Hyperbox::ball(&centre, radius * scale, &Hyperbox::unit(d));
            let sha = sha256_hex(&bytes);
            if let Ok(p) = prove_sound(&net, &sha, &region, c, 1e-4, None, &Limits::default()) {
                if refutations(&p).any(|k| matches!(k.by, By::BranchAndBound { .. })) {
                    by_branching += 1;
                    if let Err(e) = check::check(&net, &bytes, &p) {
                        panic!("{what} × {scale}: {e}");
                    }
                }
            }
        }
    }
    assert!(held > 150, "only {held} robust answers");
    assert!(
        by_branching > 20,
        "only {by_branching} proofs by branch and bound"
    );
}

#[test]
fn robust_answers_on_the_bundled_networks_carry_valid_proofs() {
    let mut held = 0;
    for (net_name, set, inputs) in [
        (
            "mnist-784-32-10.onnx",
            "mnist",
            ["7-1.csv", "0-1.csv", "3-2.csv"],
        ),
        (
            "fmnist-784-64-10.onnx",
            "fmnist",
            ["0-1.csv", "7-1.csv", "9-2.csv"],
        ),
    ] {
        let (bytes, net) = bundled(net_name);
        for name in inputs {
            let x = input(set, name);
            let c = net.classify(&x).unwrap();
            for r in [0.005, 0.01, 0.02] {
                let region = Hyperbox::ball(&x, r, &Hyperbox::unit(784));
                let what = format!("{net_name} {name} r = {r}");
                if holds_with_valid_proof(
                    &bytes,
                    &net,
                    &region,
                    c,
                    OracleSettings::default(),
                    &what,
                ) {
                    held += 1;
                }
            }
        }
    }
    assert!(held >= 8, "only {held} robust answers");
}

/// The proof of the exact apothem of 7-1 on the bundled MNIST network (ball of radius r_lo),
/// which needs branch and bound, and the pieces to tamper with.
struct Apothem {
    bytes: Vec<u8>,
    net: Network,
    x: Vec<f64>,
    r: f64,
    proof: Proof,
}

fn apothem_7_1() -> Apothem {
    let (bytes, net) = bundled("mnist-784-32-10.onnx");
    let x = input("mnist", "7-1.csv");
    let d = Hyperbox::unit(784);
    let oracle = MilpOracle::new(&net, d.clone(), OracleSettings::default());
    let params = parallelepipedonn::certify::Params::default();
    let cert = parallelepipedonn::certify::certify(
        parallelepipedonn::certify::Algorithm::from_name("apothem").unwrap(),
        &oracle,
        &x,
        7,
        &params,
        None,
    );
    let r = cert.apothem.expect("an apothem");
    let region = cert.region.clone().unwrap();
    let proof = prove_sound(
        &net,
        &sha256_hex(&bytes),
        &region,
        7,
        cert.margin,
        Some(&x),
        &Limits::default(),
    )
    .expect("a proof");
    assert!(
        refutations(&proof).any(|k| matches!(k.by, By::BranchAndBound { .. })),
        "the apothem needs branching"
    );
    Apothem {
        bytes,
        net,
        x,
        r,
        proof,
    }
}

fn rejected(a: &Apothem, p: &Proof) -> String {
    match check::check(&a.net, &a.bytes, p) {
        Ok(_) => panic!("a tampered proof is accepted"),
        Err(Invalid(why)) => why,
    }
}

/// Every refutation of every part.
fn refutations(p: &Proof) -> impl Iterator<Item = &Refutation> {
    p.parts.iter().flat_map(|part| &part.refuted)
}

/// The refutations of a one-part proof.
fn refuted_mut(p: &mut Proof) -> &mut Vec<Refutation> {
    assert_eq!(p.parts.len(), 1);
    &mut p.parts[0].refuted
}

/// The region of a sound claim.
fn region_mut(p: &mut Proof) -> &mut Region {
    match &mut p.claim {
        Claim::Sound { region, .. } => region,
        other => panic!("not a sound claim: {other:?}"),
    }
}

fn set_class(p: &mut Proof, c: usize) {
    match &mut p.claim {
        Claim::Sound { class, .. } => *class = c,
        other => panic!("not a sound claim: {other:?}"),
    }
}

fn first_bab_leaves(p: &mut Proof) -> &mut Vec<parallelepipedonn::proof::Leaf> {
    refuted_mut(p)
        .iter_mut()
        .find_map(|k| match &mut k.by {
            By::BranchAndBound { leaves } if leaves.len() >= 2 => Some(leaves),
            _ => None,
        })
        .expect("a competitor with a split tree")
}

#[test]
fn tampering_is_caught_with_a_reason_that_names_it() {
    let a = apothem_7_1();
    let ok = check::check(&a.net, &a.bytes, &a.proof).expect("the genuine proof is valid");
    assert!(ok.claim.starts_with("class 7 wins"), "{}", ok.claim);
    let d = Hyperbox::unit(784);
    let proved = check::proved_radius(&a.proof, &a.x, (d.lb(), d.ub())).unwrap();
    assert!((proved - a.r).abs() < 1e-12, "{proved} vs {}", a.r);

    // A changed weight: the model's hash no longer matches.
    let w = a.net.layers()[0].weights[300] as f32;
    let pos = a
        .bytes
        .windows(4)
        .position(|b| b == w.to_le_bytes())
        .expect("the weight's bytes");
    let mut changed = a.bytes.clone();
    changed[pos..pos + 4].copy_from_slice(&(w + 0.5).to_le_bytes());
    let net2 = parse_onnx(&changed, "changed").unwrap();
    assert_ne!(net2.layers()[0].weights, a.net.layers()[0].weights);
    let why = check::check(&net2, &changed, &a.proof).unwrap_err().0;
    assert!(why.contains("model hash mismatch"), "{why}");
    // ... and a forger who also updates the hash is caught by the bounds.
    let mut forged = a.proof.clone();
    forged.model_sha256 = sha256_hex(&changed);
    let why = check::check(&net2, &changed, &forged).unwrap_err().0;
    assert!(why.contains("neuron bound not implied"), "{why}");

    // A perturbed multiplier: the leaf's Farkas bound fails.
    let mut p = a.proof.clone();
    let leaves = first_bab_leaves(&mut p);
    let leaf = &mut leaves[0];
    let m = leaf
        .farkas
        .iter_mut()
        .max_by(|x, y| x.3.abs().total_cmp(&y.3.abs()))
        .unwrap();
    m.3 *= 0.5;
    let why = rejected(&a, &p);
    assert!(why.contains("leaf 0") && why.contains("Farkas"), "{why}");
    // A multiplier with the wrong sign on a one-sided row.
    let mut p = a.proof.clone();
    let leaf = &mut first_bab_leaves(&mut p)[0];
    let m = leaf.farkas.iter_mut().find(|f| f.0 == RowKind::Q).unwrap();
    m.3 = -m.3;
    let why = rejected(&a, &p);
    assert!(why.contains("wrong sign") && why.contains("Q("), "{why}");

    // A removed leaf: the tree no longer covers every phase combination.
    let mut p = a.proof.clone();
    first_bab_leaves(&mut p).pop();
    let why = rejected(&a, &p);
    assert!(why.contains("does not cover phase"), "{why}");

    // A radius enlarged by 1e-3 past the proved one: the claimed bounds no longer follow.
    let mut p = a.proof.clone();
    let region = region_mut(&mut p);
    for i in 0..784 {
        region.lb[i] = (a.x[i] - a.r - 1e-3).max(0.0).min(region.lb[i]);
        region.ub[i] = (a.x[i] + a.r + 1e-3).min(1.0).max(region.ub[i]);
    }
    let why = rejected(&a, &p);
    assert!(why.contains("neuron bound not implied"), "{why}");
    // The genuine proof does not cover a radius 1e-3 larger either.
    let why = check::require_ball(&a.proof, &a.x, a.r + 1e-3, (d.lb(), d.ub()))
        .unwrap_err()
        .0;
    assert!(
        why.contains("does not contain the L∞ ball of radius"),
        "{why}"
    );
    check::require_ball(&a.proof, &a.x, a.r, (d.lb(), d.ub())).unwrap();

    // A wrong class: swapped with a competitor, the bounds cannot rule the true class out.
    let mut p = a.proof.clone();
    set_class(&mut p, 3);
    for k in refuted_mut(&mut p) {
        let j = k.rows[0].y.iter().find(|t| t.0 != 7).unwrap().0;
        k.rows = vec![Row::difference(3, if j == 3 { 7 } else { j })];
        k.by = By::Bounds;
    }
    let why = rejected(&a, &p);
    assert!(why.contains("class 3 vs"), "{why}");
    // ... or left as it is: the questions of class 3 are not answered.
    let mut p = a.proof.clone();
    set_class(&mut p, 3);
    let why = rejected(&a, &p);
    assert!(why.contains("class 3 vs 0 is not covered"), "{why}");
    // A missing competitor.
    let mut p = a.proof.clone();
    refuted_mut(&mut p).pop();
    let why = rejected(&a, &p);
    assert!(why.contains("is not covered"), "{why}");
    // A competitor claimed by bounds that needs branching.
    let mut p = a.proof.clone();
    for k in refuted_mut(&mut p) {
        k.by = By::Bounds;
    }
    let why = rejected(&a, &p);
    assert!(why.contains("not below -τ"), "{why}");
    // A larger τ than proved.
    let mut p = a.proof.clone();
    p.margin = 0.5;
    assert!(check::check(&a.net, &a.bytes, &p).is_err());
    // A slope outside [0, 1].
    let mut p = a.proof.clone();
    p.parts[0].bounds.slopes[0][0] = 1.5;
    let why = rejected(&a, &p);
    assert!(why.contains("slope"), "{why}");
}

#[test]
fn a_hand_made_proof_of_a_box_with_a_counterexample_is_rejected() {
    let (bytes, net) = bundled("mnist-784-32-10.onnx");
    let x = input("mnist", "7-1.csv");
    let d = Hyperbox::unit(784);
    // The ball of radius 0.03 holds a counterexample (the apothem is about 0.0157).
    let region = Hyperbox::ball(&x, 0.03, &d);
    let oracle = MilpOracle::new(&net, d.clone(), OracleSettings::default());
    let v = oracle.decide(&Question::Sound {
        region: &region,
        class: 7,
    });
    let w = v.witness().expect("a counterexample").clone();
    assert!(region.contains(&w.x));
    // The honest bounds, every competitor "by bounds".
    let genuine = apothem_7_1().proof;
    let slopes = genuine.parts[0].bounds.slopes.clone();
    let (lower, upper) = check::bounds::derive(&net, region.lb(), region.ub(), &slopes);
    let mut p = genuine.clone();
    *region_mut(&mut p) = Region::of(&region);
    p.parts[0].bounds.lower = lower.clone();
    p.parts[0].bounds.upper = upper.clone();
    for k in refuted_mut(&mut p) {
        k.by = By::Bounds;
    }
    let why = check::check(&net, &bytes, &p).unwrap_err().0;
    assert!(
        why.contains(&format!("class 7 vs {}", w.competitor)) || why.contains("not below -τ"),
        "{why}"
    );
    // The genuine leaves reused on the larger box.
    let mut p2 = genuine.clone();
    *region_mut(&mut p2) = Region::of(&region);
    p2.parts[0].bounds.lower = lower.clone();
    p2.parts[0].bounds.upper = upper.clone();
    let why = check::check(&net, &bytes, &p2).unwrap_err().0;
    assert!(why.contains("class 7 vs"), "{why}");
    // Bounds tightened to the values at x* (a lie that would make the margin bound pass).
    let mut p3 = p.clone();
    let tr = net.forward_trace(&x);
    let layers = net.layers().len();
    p3.parts[0].bounds.lower = tr[..layers].to_vec();
    p3.parts[0].bounds.upper = tr[..layers].to_vec();
    let why = check::check(&net, &bytes, &p3).unwrap_err().0;
    assert!(why.contains("neuron bound not implied: layer 0"), "{why}");
    // Every such proof is about a box whose counterexample the network confirms.
    let logits = net.forward(&w.x);
    assert!(logits[w.competitor] >= logits[7]);
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

#[test]
fn cli_verify_and_certify_write_proofs_that_check() {
    let dir = tempfile::tempdir().unwrap();
    let model = root().join("data/networks/mnist-784-32-10.onnx");
    let inp = root().join("data/inputs/mnist/7-1.csv");
    let proof = dir.path().join("verify.json");
    let o = ppnn(&[
        "verify",
        s(&model),
        s(&inp),
        "--radius",
        "0.012",
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
        "0.012",
    ]);
    assert_eq!(String::from_utf8_lossy(&o.stdout), "valid\n");
    assert_eq!(o.status.code(), Some(0));
    let o = ppnn(&[
        "check",
        s(&model),
        s(&proof),
        "--input",
        s(&inp),
        "--radius",
        "0.013",
    ]);
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(
        out.starts_with("invalid: ") && out.contains("radius 0.013"),
        "{out}"
    );
    assert_eq!(o.status.code(), Some(1));
    // Another model: the hash.
    let other = root().join("data/networks/mnist-784-64-10.onnx");
    let other = if other.exists() {
        other
    } else {
        root().join("data/networks/mnist-784-100-10.onnx")
    };
    let o = ppnn(&["check", s(&other), s(&proof)]);
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(out.starts_with("invalid: model hash mismatch"), "{out}");
    assert_eq!(o.status.code(), Some(1));
    // Another input: its class.
    let inp3 = root().join("data/inputs/mnist/3-1.csv");
    let o = ppnn(&["check", s(&model), s(&proof), "--input", s(&inp3)]);
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(out.starts_with("invalid: wrong class"), "{out}");
    // A malformed proof file.
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, "{\"format\": \"ppnn-proof\"").unwrap();
    let o = ppnn(&["check", s(&model), s(&bad)]);
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(
        out.starts_with("invalid: proof file") && out.contains("malformed"),
        "{out}"
    );
    assert_eq!(o.status.code(), Some(1));
    // certify: the proof of the apothem ball.
    let cproof = dir.path().join("certify.json");
    let o = ppnn(&[
        "certify",
        s(&model),
        s(&inp),
        "--json",
        "--proof",
        s(&cproof),
    ]);
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    let cert: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let r = cert["apothem"].as_f64().unwrap();
    let o = ppnn(&[
        "check",
        s(&model),
        s(&cproof),
        "--input",
        s(&inp),
        "--verbose",
    ]);
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(out.starts_with("valid\n"), "{out}");
    assert!(out.contains("L∞ radius around the input"), "{out}");
    let o = ppnn(&[
        "check",
        s(&model),
        s(&cproof),
        "--input",
        s(&inp),
        "--radius",
        &format!("{}", r + 1e-3),
    ]);
    assert_eq!(o.status.code(), Some(1));
    // No proof for a violated box: no file.
    let vproof = dir.path().join("violated.json");
    let o = ppnn(&[
        "verify",
        s(&model),
        s(&inp),
        "--radius",
        "0.05",
        "--proof",
        s(&vproof),
    ]);
    assert_eq!(o.status.code(), Some(10));
    assert!(!vproof.exists());
    // batch --proofs: one proof per certified pair, named in its result line.
    let results = dir.path().join("results.jsonl");
    let pdir = dir.path().join("proofs");
    let inp9 = root().join("data/inputs/mnist/9-4.csv");
    let o = ppnn(&[
        "batch",
        s(&model),
        s(&inp),
        s(&inp9),
        "--algo",
        "apothem,c-bu-d",
        "--out",
        s(&results),
        "--proofs",
        s(&pdir),
        "--jobs",
        "1",
    ]);
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    let lines = std::fs::read_to_string(&results).unwrap();
    let mut checked = 0;
    for line in lines.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        if v.get("ppnn_batch").is_some() {
            continue; // the results file's header (settings and matrix)
        }
        assert_eq!(v["status"], "certified", "{line}");
        let path = v["proof"]
            .as_str()
            .unwrap_or_else(|| panic!("no proof: {line}"));
        let o = ppnn(&["check", s(&model), path]);
        assert_eq!(String::from_utf8_lossy(&o.stdout), "valid\n", "{path}");
        checked += 1;
    }
    assert_eq!(checked, 4);
}
