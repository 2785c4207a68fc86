//! The cyclic family: exact apothem against analytic optima, δ-algorithms within δ below it,
//! every certificate re-checked independently, and the reference network's 7-1.

mod common;

use common::*;
use parallelepipedonn::certificate::Status;
use parallelepipedonn::certify::{certify, Algorithm, Params};
use parallelepipedonn::network::margin_of;
use parallelepipedonn::{Hyperbox, MilpOracle, Network, Oracle, OracleSettings, Question};
use rand::{Rng, SeedableRng};

const TAU: f64 = parallelepipedonn::oracle::DEFAULT_MARGIN;

fn algo(name: &str) -> Algorithm {
    Algorithm::from_name(name).unwrap()
}

fn run(
    net: &Network,
    x: &[f64],
    algo: Algorithm,
    params: &Params,
) -> parallelepipedonn::certificate::Certificate {
    let oracle = MilpOracle::new(
        net,
        Hyperbox::unit(net.input_size()),
        OracleSettings::default(),
    );
    let class = net.classify(x).expect("a class at the input");
    certify(algo, &oracle, x, class, params, None)
}

/// The certificate's box is re-proved by a fresh oracle and survives random sampling.
fn recheck(net: &Network, c: &parallelepipedonn::certificate::Certificate, seed: u64) {
    let region = c.region.as_ref().expect("a box");
    let oracle = MilpOracle::new(
        net,
        Hyperbox::unit(net.input_size()),
        OracleSettings::default(),
    );
    let v = oracle.decide(&Question::Sound {
        region,
        class: c.class,
    });
    assert!(
        v.holds(),
        "{}: independent re-check says {v:?}",
        c.algorithm
    );
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    for _ in 0..10_000 {
        let p: Vec<f64> = (0..region.dim())
            .map(|i| region.lb()[i] + rng.gen::<f64>() * (region.ub()[i] - region.lb()[i]))
            .collect();
        let (m, _) = margin_of(&net.forward(&p), c.class);
        assert!(m > 0.0, "{}: misclassified sample {p:?}", c.algorithm);
    }
}

/// Analytic optima on the band network (class 0 iff |x0 - x1| < 0.5).
#[test]
fn band_network_optima() {
    let net = band_network();
    // (x*, r*): centre (0.5,0.5) reaches |x0-x1| = 2r; (0.3,0.6) starts at 0.3 and reaches
    // 0.3 + 2r; (0.1,0.2) is clipped by the domain at x0 = 0 and reaches 0.5 at r = 0.3.
    for (x, r_star) in [([0.5, 0.5], 0.25), ([0.3, 0.6], 0.1), ([0.1, 0.2], 0.3)] {
        let params = Params {
            delta: 0.01,
            ..Params::default()
        };
        let exact = run(&net, &x, algo("apothem"), &params);
        assert_eq!(exact.status, Status::Certified, "{x:?}: {:?}", exact.notes);
        let a = exact.apothem.unwrap();
        let u = exact.apothem_upper.unwrap();
        // Proved with margin τ: the margin falls by 2 per unit of radius, so the proof stops
        // τ/2 short of r* (τ where the domain clips one side and the margin falls by 1); the
        // counterexample lies at r* (a tie counts against the class).
        assert!(
            a <= r_star && a >= r_star - 1.001 * TAU,
            "{x:?}: apothem {a} vs {r_star}"
        );
        assert!(u >= r_star - 1e-9 && u <= r_star + 1e-6, "{x:?}: upper {u}");
        recheck(&net, &exact, 1);
        for algo in [algo("c-bu-d"), algo("c-bu-l"), algo("c-td")] {
            let c = run(&net, &x, algo, &params);
            assert_eq!(
                c.status,
                Status::Certified,
                "{algo:?} at {x:?}: {:?}",
                c.notes
            );
            let r = c.apothem.unwrap();
            assert!(
                r <= a + 1e-9 && r >= r_star - params.delta - TAU,
                "{algo:?} at {x:?}: {r} not within δ below {r_star}"
            );
            recheck(&net, &c, 2);
        }
    }
}

#[test]
fn not_robust_at_input_gives_no_certificate() {
    let net = band_network();
    // |x0 - x1| = 0.49995: class 0 with margin 5e-5 < τ.
    let x = [0.74995, 0.25];
    let c = run(&net, &x, algo("apothem"), &Params::default());
    assert_eq!(c.status, Status::NotRobustAtInput);
    assert!(c.region.is_none());
}

#[test]
fn exact_dominates_delta_algorithms_on_random_networks() {
    let mut checked = 0;
    for seed in 0..40u64 {
        let net = random_network(500 + seed);
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let x: Vec<f64> = (0..net.input_size()).map(|_| rng.gen::<f64>()).collect();
        let Some(class) = net.classify(&x) else {
            continue;
        };
        if margin_of(&net.forward(&x), class).0 <= TAU {
            continue;
        }
        let params = Params {
            delta: 0.05,
            ..Params::default()
        };
        let exact = run(&net, &x, algo("apothem"), &params);
        if exact.status != Status::Certified {
            continue;
        }
        let a = exact.apothem.unwrap_or(f64::INFINITY);
        recheck(&net, &exact, seed);
        for algo in [algo("c-bu-d"), algo("c-bu-l"), algo("c-td")] {
            let c = run(&net, &x, algo, &params);
            let r = c.apothem.unwrap_or(f64::INFINITY);
            assert!(r <= a + 1e-7, "seed {seed} {algo:?}: {r} > exact {a}");
            if let Some(u) = exact.apothem_upper {
                assert!(
                    r < u,
                    "seed {seed} {algo:?}: {r} beyond a counterexample at {u}"
                );
            }
        }
        checked += 1;
    }
    assert!(checked >= 20, "only {checked} inputs checked");
}

#[test]
fn whole_run_timeout_is_unknown_with_a_proved_box() {
    let net = band_network();
    let oracle = MilpOracle::new(&net, Hyperbox::unit(2), OracleSettings::default());
    let params = Params {
        deadline: Some(std::time::Instant::now()),
        ..Params::default()
    };
    let c = certify(algo("c-bu-d"), &oracle, &[0.5, 0.5], 0, &params, None);
    assert_eq!(c.status, Status::Unknown);
    let region = c.region.expect("the proved point box");
    assert!(region.contains(&[0.5, 0.5]));
    assert!(c.notes[0].contains("time limit"), "{:?}", c.notes);
}

#[test]
fn reference_7_1_apothem() {
    let Some(dir) = reference_dir() else { return };
    let net = parallelepipedonn::load_onnx(dir.join("mnist_nn-32.onnx")).unwrap();
    let x = parallelepipedonn::io::read_input(dir.join("mnist-inputs/7-1.csv"), 784).unwrap();
    let c = run(&net, &x, algo("apothem"), &Params::default());
    assert_eq!(c.status, Status::Certified);
    let a = c.apothem.unwrap();
    assert!((a - 0.014552).abs() < 1e-4, "apothem {a}");
    assert!(c.apothem_upper.unwrap() >= a);
    recheck(&net, &c, 7);
    // The paper's c-bu-d with δ = 0.1 cannot resolve radii below 0.0625: it proves 0.
    let d = run(&net, &x, algo("c-bu-d"), &Params::default());
    assert_eq!(d.status, Status::Certified);
    assert!(d.apothem.unwrap() <= a);
}
