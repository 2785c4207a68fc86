//! Dual (complete) certifications: the exact box matches analytic regions, the δ-algorithms
//! contain it, every complete box survives sampling, and sound boxes lie inside dual ones.

mod common;

use common::*;
use parallelepipedonn::certificate::{Certificate, Kind, Status};
use parallelepipedonn::certify::{certify, Algorithm, Params};
use parallelepipedonn::network::margin_of;
use parallelepipedonn::{Hyperbox, MilpOracle, Network, OracleSettings};
use rand::{Rng, SeedableRng};

const TAU: f64 = parallelepipedonn::oracle::DEFAULT_MARGIN;

fn run(net: &Network, x: &[f64], name: &str) -> Certificate {
    let oracle = MilpOracle::new(
        net,
        Hyperbox::unit(net.input_size()),
        OracleSettings::default(),
    );
    let class = net.classify(x).unwrap();
    let params = Params {
        delta: 0.05,
        ..Params::default()
    };
    certify(
        Algorithm::from_name(name).unwrap(),
        &oracle,
        x,
        class,
        &params,
        None,
    )
}

/// Sampling D finds no point of the class (margin > -τ... any point where the class wins)
/// outside the box.
fn recheck_complete(net: &Network, c: &Certificate) {
    assert_eq!(c.kind, Kind::Complete);
    let b = c.region.as_ref().unwrap();
    let mut rng = rand::rngs::StdRng::seed_from_u64(11);
    for _ in 0..20_000 {
        let p: Vec<f64> = (0..b.dim()).map(|_| rng.gen::<f64>()).collect();
        if margin_of(&net.forward(&p), c.class).0 >= 0.0 {
            assert!(
                b.contains(&p),
                "{}: class point {p:?} outside {b:?}",
                c.algorithm
            );
        }
    }
}

#[test]
fn exact_dual_of_a_half_plane() {
    // Class 0 iff x0 + x1 < 0.6: the class region's bounding box is [0, 0.6]^2 (plus τ for near
    // ties and η for the slab gap).
    let net = half_plane_network(0.6);
    let x = [0.1, 0.2];
    let c = run(&net, &x, "dual");
    assert_eq!(c.status, Status::Complete, "{:?}", c.notes);
    let b = c.region.as_ref().unwrap();
    for i in 0..2 {
        assert_eq!(b.lb()[i], 0.0);
        assert!((b.ub()[i] - 0.6).abs() <= TAU + 1e-5, "{b:?}");
    }
    recheck_complete(&net, &c);
    for name in ["complete-c-d-bu", "complete-bu"] {
        let d = run(&net, &x, name);
        assert_eq!(d.status, Status::Complete, "{name}: {:?}", d.notes);
        assert!(
            d.region.as_ref().unwrap().contains_box(b),
            "{name} misses the exact box"
        );
        recheck_complete(&net, &d);
    }
}

#[test]
fn exact_dual_of_two_pieces() {
    // Class 0 lives on x0 < 0.15 or x0 > 0.85, x1 below about 0.515: the box spans both pieces.
    let net = two_pieces_network();
    let x = [0.05, 0.2];
    assert_eq!(net.classify(&x), Some(0));
    let c = run(&net, &x, "dual");
    assert_eq!(c.status, Status::Complete, "{:?}", c.notes);
    let b = c.region.as_ref().unwrap();
    assert_eq!((b.lb()[0], b.ub()[0]), (0.0, 1.0));
    assert_eq!(b.lb()[1], 0.0);
    // At x0 = 0 (or 1): 0.15 - 10 (x1 - 0.5) >= -τ  <=>  x1 <= 0.515 + τ/10.
    assert!((b.ub()[1] - 0.515).abs() <= TAU + 1e-5, "{b:?}");
    recheck_complete(&net, &c);
    for name in ["complete-c-d-bu", "complete-bu"] {
        let d = run(&net, &x, name);
        assert_eq!(d.status, Status::Complete, "{name}");
        assert!(d.region.as_ref().unwrap().contains_box(b), "{name}");
        recheck_complete(&net, &d);
    }
}

#[test]
fn sound_boxes_lie_inside_the_exact_dual() {
    let net = two_pieces_network();
    let x = [0.05, 0.2];
    let dual = run(&net, &x, "dual");
    let b = dual.region.unwrap();
    for name in ["apothem", "maximal", "bu-d-dfs", "td", "c-bu-d"] {
        let c = run(&net, &x, name);
        assert!(b.contains_box(c.region.as_ref().unwrap()), "{name}");
    }
}

#[test]
fn random_networks_dual_boxes_are_complete() {
    for seed in 0..10u64 {
        let net = random_network(1300 + seed);
        if net.input_size() > 4 {
            continue;
        }
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let x: Vec<f64> = (0..net.input_size()).map(|_| rng.gen::<f64>()).collect();
        if net.classify(&x).is_none() {
            continue;
        }
        let exact = run(&net, &x, "dual");
        if exact.status != Status::Complete {
            continue;
        }
        recheck_complete(&net, &exact);
        let cb = run(&net, &x, "complete-c-d-bu");
        if cb.status == Status::Complete {
            recheck_complete(&net, &cb);
            assert!(cb
                .region
                .unwrap()
                .contains_box(exact.region.as_ref().unwrap()));
        }
    }
}
