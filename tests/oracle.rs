//! The oracle's verdicts against known answers, random sampling and the reference network.

mod common;

use common::*;
use parallelepipedonn::bounds::BoundMethod;
use parallelepipedonn::network::margin_of;
use parallelepipedonn::oracle::MilpStrategy;
use parallelepipedonn::{Hyperbox, Method, MilpOracle, Oracle, OracleSettings, Question, Verdict};
use rand::{Rng, SeedableRng};

/// Settings that skip the attack, so that the MILP path is exercised.
fn milp_only(strategy: MilpStrategy) -> OracleSettings {
    OracleSettings {
        attack: None,
        strategy,
        ..OracleSettings::default()
    }
}

fn all_settings() -> Vec<(&'static str, OracleSettings)> {
    vec![
        ("default", OracleSettings::default()),
        ("per-class", milp_only(MilpStrategy::PerClass)),
        ("disjunctive", milp_only(MilpStrategy::Disjunctive)),
        (
            "interval-bounds",
            OracleSettings {
                bounds: BoundMethod::Interval,
                ..milp_only(MilpStrategy::PerClass)
            },
        ),
        (
            "highs-engine",
            OracleSettings {
                engine: parallelepipedonn::milp::solver::Engine::Highs,
                ..milp_only(MilpStrategy::PerClass)
            },
        ),
        (
            "highs-disjunctive",
            OracleSettings {
                engine: parallelepipedonn::milp::solver::Engine::Highs,
                ..milp_only(MilpStrategy::Disjunctive)
            },
        ),
        (
            "sequential",
            OracleSettings {
                parallel: false,
                ..milp_only(MilpStrategy::PerClass)
            },
        ),
    ]
}

#[test]
fn band_network_threshold() {
    // Class 0 iff |x0 - x1| < 0.5; around (0.5, 0.5) the ball of radius r reaches
    // |x0 - x1| = 2r, so the threshold is r* = 0.25 (margin 0.5 - 2r).
    let net = band_network();
    let x = [0.5, 0.5];
    let d = Hyperbox::unit(2);
    for (name, s) in all_settings() {
        let oracle = MilpOracle::new(&net, d.clone(), s);
        let below = Hyperbox::ball(&x, 0.2499, &d);
        let v = oracle.decide(&Question::Sound {
            region: &below,
            class: 0,
        });
        assert!(v.holds(), "{name}: {v:?}");
        let above = Hyperbox::ball(&x, 0.2501, &d);
        let v = oracle.decide(&Question::Sound {
            region: &above,
            class: 0,
        });
        let w = v.witness().unwrap_or_else(|| panic!("{name}: {v:?}"));
        assert!(above.contains(&w.x));
        assert!(w.margin <= 0.0 && w.margin_f32 <= 0.0);
        assert!(net.classify(&w.x) != Some(0));
    }
}

#[test]
fn ties_count_against_the_class() {
    // At radius exactly 0.25 the corner (0.75, 0.25) has y0 = y1 = 0: a tie, not class 0.
    let net = band_network();
    let d = Hyperbox::unit(2);
    let oracle = MilpOracle::new(&net, d.clone(), OracleSettings::default());
    let b = Hyperbox::ball(&[0.5, 0.5], 0.25, &d);
    let v = oracle.decide(&Question::Sound {
        region: &b,
        class: 0,
    });
    let w = v.witness().expect("a tie is a counterexample");
    assert_eq!(w.margin, 0.0);
}

#[test]
fn safety_margin_refuses_near_ties() {
    // Radius 0.24996: the true margin is 0.5 - 0.49992 = 8e-5 > 0 but below τ = 1e-4: the box
    // is sound, yet not provable with the safety margin, and there is no counterexample.
    let net = band_network();
    let d = Hyperbox::unit(2);
    let oracle = MilpOracle::new(&net, d.clone(), milp_only(MilpStrategy::PerClass));
    let b = Hyperbox::ball(&[0.5, 0.5], 0.24996, &d);
    let v = oracle.decide(&Question::Sound {
        region: &b,
        class: 0,
    });
    assert!(matches!(v, Verdict::Unknown { .. }), "{v:?}");
    // With a smaller margin it is proved.
    let oracle = MilpOracle::new(
        &net,
        d,
        OracleSettings {
            margin: 1e-6,
            ..milp_only(MilpStrategy::PerClass)
        },
    );
    assert!(oracle
        .decide(&Question::Sound {
            region: &b,
            class: 0
        })
        .holds());
}

#[test]
fn passed_deadline_is_unknown_not_robust() {
    let net = band_network();
    let d = Hyperbox::unit(2);
    let oracle = MilpOracle::new(
        &net,
        d.clone(),
        OracleSettings {
            deadline: Some(std::time::Instant::now()),
            bounds: BoundMethod::Interval,
            ..milp_only(MilpStrategy::PerClass)
        },
    );
    // Needs a MILP (bounds are too loose at this radius): unknown after the deadline.
    let b = Hyperbox::ball(&[0.5, 0.5], 0.2499, &d);
    let v = oracle.decide(&Question::Sound {
        region: &b,
        class: 0,
    });
    assert!(matches!(v, Verdict::Unknown { .. }), "{v:?}");
    assert_eq!(oracle.stats().unknown, 1);
}

#[test]
fn cheap_methods_decide_easy_questions() {
    let net = band_network();
    let d = Hyperbox::unit(2);
    let oracle = MilpOracle::new(&net, d.clone(), OracleSettings::default());
    let small = Hyperbox::ball(&[0.5, 0.5], 0.05, &d);
    let v = oracle.decide(&Question::Sound {
        region: &small,
        class: 0,
    });
    assert_eq!(v.method(), Some(Method::Interval));
    let big = Hyperbox::ball(&[0.5, 0.5], 0.5, &d);
    let v = oracle.decide(&Question::Sound {
        region: &big,
        class: 0,
    });
    // Centre and the corners lb, ub are on the diagonal (class 0): the attack finds (1, 0).
    assert_eq!(v.method(), Some(Method::Attack));
    // Asked again, the remembered counterexample decides without search.
    let v = oracle.decide(&Question::Sound {
        region: &big,
        class: 0,
    });
    assert_eq!(v.method(), Some(Method::Concrete));
    let s = oracle.stats();
    assert_eq!(s.calls, 3);
    assert_eq!(s.by_method.interval, 1);
    assert_eq!(s.by_method.attack, 1);
    assert_eq!(s.by_method.concrete, 1);
    assert_eq!(s.milp_solves, 0);
}

#[test]
fn random_networks_cross_check() {
    let tau = parallelepipedonn::oracle::DEFAULT_MARGIN;
    let mut decided = 0;
    let mut violated = 0;
    for seed in 0..250u64 {
        let net = random_network(seed);
        let d = net.input_size();
        let mut rng = rand::rngs::StdRng::seed_from_u64(1000 + seed);
        let centre: Vec<f64> = (0..d).map(|_| rng.gen::<f64>()).collect();
        let Some(c) = net.classify(&centre) else {
            continue;
        };
        let radius = 0.01 + rng.gen::<f64>() * rng.gen::<f64>() * 0.5;
        let domain = Hyperbox::unit(d);
        let region = Hyperbox::ball(&centre, radius, &domain);
        let mut verdicts = Vec::new();
        for (name, s) in all_settings() {
            let oracle = MilpOracle::new(&net, domain.clone(), s);
            let v = oracle.decide(&Question::Sound {
                region: &region,
                class: c,
            });
            match &v {
                Verdict::Holds { .. } => {
                    // 10^4 samples and every corner keep class c with margin > τ.
                    let mut pts: Vec<Vec<f64>> = (0..10_000)
                        .map(|_| {
                            (0..d)
                                .map(|i| {
                                    region.lb()[i]
                                        + rng.gen::<f64>() * (region.ub()[i] - region.lb()[i])
                                })
                                .collect()
                        })
                        .collect();
                    for mask in 0..(1u32 << d) {
                        pts.push(
                            (0..d)
                                .map(|i| {
                                    if mask >> i & 1 == 1 {
                                        region.ub()[i]
                                    } else {
                                        region.lb()[i]
                                    }
                                })
                                .collect(),
                        );
                    }
                    for p in &pts {
                        let (m, _) = margin_of(&net.forward(p), c);
                        assert!(
                            m > tau - 1e-7,
                            "seed {seed} ({name}): Holds but margin {m} at {p:?}"
                        );
                    }
                }
                Verdict::Violated { witness, .. } => {
                    assert!(region.contains(&witness.x), "seed {seed} ({name})");
                    let (m, _) = margin_of(&net.forward(&witness.x), c);
                    let (m32, _) = margin_of(&net.forward_f32(&witness.x), c);
                    assert!(m <= 0.0 && m32 <= 0.0, "seed {seed} ({name})");
                }
                Verdict::Unknown { .. } => {}
            }
            verdicts.push((name, v));
        }
        for (na, a) in &verdicts {
            for (nb, b) in &verdicts {
                assert!(
                    !(a.holds() && b.witness().is_some()),
                    "seed {seed}: {na} says {} but {nb} says {}",
                    a.name(),
                    b.name()
                );
            }
        }
        if verdicts
            .iter()
            .all(|(_, v)| !matches!(v, Verdict::Unknown { .. }))
        {
            decided += 1;
        }
        if verdicts[0].1.witness().is_some() {
            violated += 1;
        }
    }
    // The sample must exercise both outcomes.
    assert!(decided > 150, "only {decided} decided");
    assert!(
        violated > 20 && violated < decided - 20,
        "{violated} violated of {decided}"
    );
}

#[test]
fn reference_network_7_1_threshold() {
    let Some(dir) = reference_dir() else { return };
    let net = parallelepipedonn::load_onnx(dir.join("mnist_nn-32.onnx")).unwrap();
    let x = parallelepipedonn::io::read_input(dir.join("mnist-inputs/7-1.csv"), 784).unwrap();
    let d = Hyperbox::unit(784);
    for (name, s) in all_settings() {
        let oracle = MilpOracle::new(&net, d.clone(), s);
        let v = oracle.decide(&Question::Sound {
            region: &Hyperbox::ball(&x, 0.0145, &d),
            class: 7,
        });
        assert!(v.holds(), "{name}: 0.0145 {v:?}");
        let v = oracle.decide(&Question::Sound {
            region: &Hyperbox::ball(&x, 0.0146, &d),
            class: 7,
        });
        assert!(v.witness().is_some(), "{name}: 0.0146 {v:?}");
    }
}
