//! The general question through the oracle, cross-checked on random networks and properties:
//! every `Violated` witness satisfies the property exactly (f64 and f32), no `Holds` is
//! contradicted by any of thousands of sampled points, and the class question asked as a
//! property ([`Property::class_loses`]) gets the answer `Sound` gets.

mod common;

use common::*;
use parallelepipedonn::property::{Constraint, Disjunct, Property};
use parallelepipedonn::{Hyperbox, MilpOracle, Network, Oracle, OracleSettings, Question, Verdict};
use rand::{Rng, SeedableRng};

fn random_box(rng: &mut impl Rng, d: usize) -> Hyperbox {
    let (mut lb, mut ub) = (Vec::new(), Vec::new());
    for _ in 0..d {
        let c: f64 = rng.gen();
        let r: f64 = rng.gen::<f64>() * 0.3;
        lb.push((c - r).max(0.0) as f32 as f64);
        ub.push((c + r).min(1.0) as f32 as f64);
    }
    Hyperbox::new(lb, ub).unwrap()
}

/// A random property whose thresholds sit inside the sampled output range, so that both
/// answers occur.
fn random_property(rng: &mut impl Rng, net: &Network) -> Property {
    let (d, m) = (net.input_size(), net.output_size());
    let disjuncts = (0..rng.gen_range(1..=3))
        .map(|_| {
            let region = random_box(rng, d);
            let constraints = (0..rng.gen_range(1..=2))
                .map(|_| {
                    let mut y: Vec<(usize, f64)> = Vec::new();
                    for j in 0..m {
                        let c = (rng.gen_range(-2.0..2.0f64) * 2.0).round() / 2.0;
                        if rng.gen_bool(0.6) && c != 0.0 {
                            y.push((j, c));
                        }
                    }
                    let x: Vec<(usize, f64)> = if rng.gen_bool(0.3) {
                        vec![(rng.gen_range(0..d), rng.gen_range(-1.0..1.0))]
                    } else {
                        Vec::new()
                    };
                    let mut c = Constraint {
                        x,
                        y,
                        constant: 0.0,
                        strict: rng.gen_bool(0.3),
                    };
                    // Threshold near the middle of the sampled values.
                    let vals: Vec<f64> = (0..50)
                        .map(|_| {
                            let p: Vec<f64> = (0..d)
                                .map(|i| rng.gen_range(region.lb()[i]..=region.ub()[i]))
                                .collect();
                            c.value(&p, &net.forward(&p))
                        })
                        .collect();
                    let lo = vals.iter().cloned().fold(f64::INFINITY, f64::min);
                    let hi = vals.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                    c.constant = -(lo + (hi - lo) * rng.gen_range(-0.5..0.2));
                    c
                })
                .filter(|c: &Constraint| !c.x.is_empty() || !c.y.is_empty())
                .collect();
            Disjunct {
                region,
                constraints,
            }
        })
        .collect();
    Property {
        n_in: d,
        n_out: m,
        disjuncts,
        f32_inputs: rng.gen_bool(0.5),
    }
}

#[test]
fn random_properties_are_answered_soundly() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(13);
    let (mut sat, mut unsat, mut unknown) = (0, 0, 0);
    for seed in 0..120 {
        let net = random_network(seed);
        let p = random_property(&mut rng, &net);
        let oracle = MilpOracle::new(
            &net,
            Hyperbox::unit(net.input_size()),
            OracleSettings::default(),
        );
        match oracle.decide(&Question::Exists { property: &p }) {
            Verdict::Violated { witness, .. } => {
                sat += 1;
                let y = net.forward(&witness.x);
                let y32: Vec<f64> = net
                    .forward_f32(&witness.x)
                    .iter()
                    .map(|&v| v as f64)
                    .collect();
                assert!(p.satisfied_by(&witness.x, &y).is_some(), "seed {seed}");
                assert!(p.satisfied_by(&witness.x, &y32).is_some(), "seed {seed}");
                if p.f32_inputs {
                    assert!(
                        witness.x.iter().all(|&v| (v as f32) as f64 == v),
                        "seed {seed}"
                    );
                }
            }
            Verdict::Holds { .. } => {
                unsat += 1;
                for d in &p.disjuncts {
                    for _ in 0..3000 {
                        let x: Vec<f64> = (0..net.input_size())
                            .map(|i| rng.gen_range(d.region.lb()[i]..=d.region.ub()[i]))
                            .collect();
                        assert!(
                            !d.holds(&x, &net.forward(&x)),
                            "seed {seed}: Holds, but {x:?} satisfies {d:?}"
                        );
                    }
                }
            }
            Verdict::Unknown { reason, .. } => {
                eprintln!("seed {seed}: unknown: {reason}");
                unknown += 1
            }
        }
    }
    eprintln!("random properties: {sat} sat, {unsat} unsat, {unknown} unknown");
    assert!(sat >= 10 && unsat >= 10, "{sat} sat, {unsat} unsat");
    assert!(unknown <= 10, "{unknown} unknown");
}

#[test]
fn the_class_question_as_a_property_answers_like_sound() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    for seed in 100..140 {
        let net = random_network(seed);
        let domain = Hyperbox::unit(net.input_size());
        let oracle = MilpOracle::new(&net, domain.clone(), OracleSettings::default());
        let region = random_box(&mut rng, net.input_size());
        let Some(class) = net.classify(&region.center()) else {
            continue;
        };
        let a = oracle.decide(&Question::Sound {
            region: &region,
            class,
        });
        let p = Property::class_loses(&region, net.output_size(), class);
        let b = oracle.decide(&Question::Exists { property: &p });
        assert_eq!(a.name(), b.name(), "seed {seed}");
    }
}

#[test]
fn disjuncts_outside_the_domain_are_empty() {
    let net = band_network();
    let oracle = MilpOracle::new(&net, Hyperbox::unit(2), OracleSettings::default());
    let far = Hyperbox::new(vec![2.0, 2.0], vec![3.0, 3.0]).unwrap();
    let p = Property::class_loses(&far, 2, 0);
    assert!(oracle.decide(&Question::Exists { property: &p }).holds());
    // A malformed property (wrong sizes) is unknown, never proved.
    let bad = Property::class_loses(&Hyperbox::unit(3), 2, 0);
    assert!(matches!(
        oracle.decide(&Question::Exists { property: &bad }),
        Verdict::Unknown { .. }
    ));
}
