//! The parallelepipedal family: boxes are sound, `maximal` boxes cannot grow, compositions never
//! shrink their starting box.

mod common;

use common::*;
use parallelepipedonn::certificate::{Certificate, Status};
use parallelepipedonn::certify::{certify, Algorithm, Params};
use parallelepipedonn::network::margin_of;
use parallelepipedonn::{Hyperbox, MilpOracle, Network, Oracle, OracleSettings, Question};
use rand::{Rng, SeedableRng};

fn settings(margin: f64) -> OracleSettings {
    OracleSettings {
        margin,
        ..OracleSettings::default()
    }
}

fn run(net: &Network, x: &[f64], name: &str, params: &Params, margin: f64) -> Certificate {
    let oracle = MilpOracle::new(net, Hyperbox::unit(net.input_size()), settings(margin));
    let class = net.classify(x).unwrap();
    certify(
        Algorithm::from_name(name).unwrap(),
        &oracle,
        x,
        class,
        params,
        None,
    )
}

/// Re-proved by a fresh oracle; 10^4 samples keep the class.
fn recheck(net: &Network, c: &Certificate) {
    let region = c.region.as_ref().unwrap();
    // With the margin the certificate was proved with.
    let oracle = MilpOracle::new(net, Hyperbox::unit(net.input_size()), settings(c.margin));
    let v = oracle.decide(&Question::Sound {
        region,
        class: c.class,
    });
    assert!(v.holds(), "{}: {v:?}", c.algorithm);
    let mut rng = rand::rngs::StdRng::seed_from_u64(3);
    for _ in 0..10_000 {
        let p: Vec<f64> = (0..region.dim())
            .map(|i| region.lb()[i] + rng.gen::<f64>() * (region.ub()[i] - region.lb()[i]))
            .collect();
        assert!(
            margin_of(&net.forward(&p), c.class).0 > 0.0,
            "{}",
            c.algorithm
        );
    }
}

/// Every face not at its bound, pushed out by `push`, admits a confirmed counterexample.
fn assert_maximal(net: &Network, c: &Certificate, push: f64) {
    let region = c.region.as_ref().unwrap();
    let oracle = MilpOracle::new(
        net,
        Hyperbox::unit(net.input_size()),
        OracleSettings::default(),
    );
    for face in c.faces.as_ref().unwrap() {
        if face.state == "domain" {
            continue;
        }
        assert_eq!(face.state, "blocked", "{face:?}");
        let mut b = region.clone();
        let i = face.coord;
        if face.side == "upper" {
            b.set_ub(i, (region.ub()[i] + push).min(1.0));
        } else {
            b.set_lb(i, (region.lb()[i] - push).max(0.0));
        }
        let v = oracle.decide(&Question::Sound {
            region: &b,
            class: c.class,
        });
        assert!(
            v.witness().is_some(),
            "face {face:?} pushed by {push}: {v:?}"
        );
    }
}

#[test]
fn maximal_box_of_a_half_plane() {
    // Class 0 iff x0 + x1 < 1; x* = (0.2, 0.3). The apothem cube has r* = 0.25; then the upper
    // faces are blocked where they are and the lower face of x1 reaches the domain.
    let net = half_plane_network(1.0);
    let x = [0.2, 0.3];
    let params = Params::default();
    let c = run(&net, &x, "maximal", &params, 1e-7);
    assert_eq!(c.status, Status::Certified, "{:?}", c.notes);
    let b = c.region.as_ref().unwrap();
    assert_eq!(b.lb(), &[0.0, 0.0]);
    assert!(
        (b.ub()[0] - 0.45).abs() < 1e-5 && (b.ub()[1] - 0.55).abs() < 1e-5,
        "{b:?}"
    );
    recheck(&net, &c);
    assert_maximal(&net, &c, 2.0 * params.tolerance);
}

#[test]
fn maximal_box_of_the_band_is_its_cube() {
    let net = band_network();
    let params = Params::default();
    let c = run(&net, &[0.5, 0.5], "maximal", &params, 1e-7);
    assert_eq!(c.status, Status::Certified, "{:?}", c.notes);
    recheck(&net, &c);
    assert_maximal(&net, &c, 2.0 * params.tolerance);
}

#[test]
fn delta_algorithms_and_compositions() {
    let net = half_plane_network(1.0);
    let x = [0.2, 0.3];
    let params = Params {
        delta: 0.05,
        ..Params::default()
    };
    let cube = run(&net, &x, "apothem", &params, 1e-4);
    for name in [
        "bu-l-dfs",
        "bu-d-dfs",
        "bu-bfs",
        "td",
        "td+bu-l-dfs",
        "td+bu-d-dfs",
        "td+bu-bfs",
        "c-bu-d+bu-d-dfs",
        "c-td+bu-d-dfs",
        "apothem+bu-d-dfs",
    ] {
        let c = run(&net, &x, name, &params, 1e-4);
        assert_eq!(c.status, Status::Certified, "{name}: {:?}", c.notes);
        recheck(&net, &c);
        let b = c.region.as_ref().unwrap();
        assert!(b.contains(&x), "{name}");
        // A composition never shrinks the box it starts from.
        if let Some((first, _)) = name.split_once('+') {
            let start = run(&net, &x, first, &params, 1e-4);
            assert!(
                b.contains_box(start.region.as_ref().unwrap()),
                "{name} shrank its start"
            );
        }
        if name == "apothem+bu-d-dfs" {
            assert!(
                c.apothem.unwrap() >= cube.apothem.unwrap() - 1e-12,
                "{name}"
            );
        }
    }
}

/// Random network `900 + seed` and a random input of the unit box that it classifies with a
/// margin above 10⁻³ (`None` when it does not).
fn confident_case(seed: u64) -> Option<(Network, Vec<f64>)> {
    let net = random_network(900 + seed);
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let x: Vec<f64> = (0..net.input_size()).map(|_| rng.gen::<f64>()).collect();
    let class = net.classify(&x)?;
    (margin_of(&net.forward(&x), class).0 > 1e-3).then_some((net, x))
}

#[test]
fn random_networks_maximal_boxes_are_sound() {
    let mut checked = 0;
    for seed in 0..12u64 {
        let Some((net, x)) = confident_case(seed) else {
            continue;
        };
        for name in ["maximal", "bu-d-dfs", "td"] {
            let params = Params {
                delta: 0.1,
                ..Params::default()
            };
            let c = run(&net, &x, name, &params, 1e-4);
            if c.status == Status::Certified {
                recheck(&net, &c);
                checked += 1;
            }
        }
    }
    assert!(checked >= 15, "only {checked} certificates checked");
}

#[test]
fn face_order_is_selectable() {
    use parallelepipedonn::certify::FaceOrder;
    let net = half_plane_network(1.0);
    for order in [
        FaceOrder::UpperFirst,
        FaceOrder::LowerFirst,
        FaceOrder::Interleaved,
    ] {
        let params = Params {
            delta: 0.05,
            face_order: order,
            ..Params::default()
        };
        let c = run(&net, &[0.2, 0.3], "bu-d-dfs", &params, 1e-4);
        assert_eq!(c.status, Status::Certified);
        recheck(&net, &c);
    }
    // Upper-first lets x0's upper face take the room first; lower-first starts elsewhere.
    let up = run(
        &net,
        &[0.2, 0.3],
        "bu-l-dfs",
        &Params {
            delta: 0.05,
            ..Params::default()
        },
        1e-4,
    );
    assert!(up.region.unwrap().ub()[0] > 0.6);
}

/// An oracle that records every box answered `Holds` and, with `blind`, never finds anything
/// in its cheap probes (so that every move waits for a settling question, and only the
/// settling bisection keeps unsound moves out).
struct Recording<'a> {
    inner: &'a MilpOracle<'a>,
    blind: bool,
    proved: std::sync::Mutex<Vec<Hyperbox>>,
    probes: std::sync::atomic::AtomicUsize,
}

impl<'a> Recording<'a> {
    fn new(inner: &'a MilpOracle<'a>, blind: bool) -> Self {
        Recording {
            inner,
            blind,
            proved: std::sync::Mutex::new(Vec::new()),
            probes: std::sync::atomic::AtomicUsize::new(0),
        }
    }

    /// Whether `b` lies inside a box the oracle answered `Holds`.
    fn covered(&self, b: &Hyperbox) -> bool {
        self.proved
            .lock()
            .unwrap()
            .iter()
            .any(|p| p.contains_box(b))
    }
}

impl Oracle for Recording<'_> {
    fn decide(&self, q: &Question) -> parallelepipedonn::Verdict {
        let v = self.inner.decide(q);
        if let (true, Question::Sound { region, .. }) = (v.holds(), q) {
            self.proved.lock().unwrap().push((*region).clone());
        }
        v
    }
    fn network(&self) -> &Network {
        self.inner.network()
    }
    fn domain(&self) -> &Hyperbox {
        self.inner.domain()
    }
    fn margin(&self) -> f64 {
        self.inner.margin()
    }
    fn stats(&self) -> parallelepipedonn::oracle::OracleStats {
        self.inner.stats()
    }
    fn falsify(&self, r: &Hyperbox, c: usize) -> Option<parallelepipedonn::Witness> {
        self.inner.falsify(r, c)
    }
    fn sound_by_bounds(&self, r: &Hyperbox, c: usize) -> bool {
        let holds = self.inner.sound_by_bounds(r, c);
        if holds {
            self.proved.lock().unwrap().push(r.clone());
        }
        holds
    }
    fn optimise(
        &self,
        q: &parallelepipedonn::oracle::Extremum,
    ) -> parallelepipedonn::oracle::Optimum {
        self.inner.optimise(q)
    }
    fn slide(
        &self,
        r: &Hyperbox,
        c: usize,
        slack: f64,
        point: &[f64],
        coord: usize,
        lowest: bool,
    ) -> Option<Vec<f64>> {
        self.inner.slide(r, c, slack, point, coord, lowest)
    }
    fn search_near(
        &self,
        r: &Hyperbox,
        c: usize,
        slack: f64,
        hints: &[Vec<f64>],
    ) -> Option<Vec<f64>> {
        self.probes
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if self.blind {
            None
        } else {
            self.inner.search_near(r, c, slack, hints)
        }
    }
}

/// A face not at its bound, pushed out by `push` (at most to its bound), gives a box that a
/// fresh oracle does not prove.
fn assert_pushed_faces_refused(net: &Network, c: &Certificate, push: f64) {
    let region = c.region.as_ref().unwrap();
    let oracle = MilpOracle::new(net, Hyperbox::unit(net.input_size()), settings(c.margin));
    for face in c.faces.as_ref().unwrap() {
        if face.state == "domain" {
            continue;
        }
        let mut b = region.clone();
        let i = face.coord;
        if face.side == "upper" {
            b.set_ub(i, (region.ub()[i] + push).min(1.0));
        } else {
            b.set_lb(i, (region.lb()[i] - push).max(0.0));
        }
        let v = oracle.decide(&Question::Sound {
            region: &b,
            class: c.class,
        });
        assert!(
            !v.holds(),
            "{}: face {face:?} could move by {push}",
            c.algorithm
        );
    }
}

/// Moves are probed and proved in groups (issue 16). Whatever the probes say, the box printed
/// lies inside a box the oracle answered `Holds`, a fresh oracle proves it again, and each face
/// of `bu-d-dfs` stops within δ of a refused position. With blind probes every move is a
/// pending move, so an unproved group move would show here.
#[test]
fn grouped_face_moves_are_all_proved() {
    let mut checked = 0;
    let mut grouped = 0;
    // (Seed 1 is left out: its margins stay within τ over wide ranges, and its maximal run
    // alone takes seconds of near-tie questions.)
    for seed in [0, 2, 3, 4, 5, 6, 7, 8, 9u64] {
        let net = if seed < 6 {
            random_network(1600 + seed)
        } else {
            // Wider inputs: several settling rounds per run.
            let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
            let layers = random_layers(&mut rng, &[24, 12, 3], false);
            Network::new(layers, vec![24]).unwrap()
        };
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed + 77);
        let x: Vec<f64> = (0..net.input_size()).map(|_| rng.gen::<f64>()).collect();
        let Some(class) = net.classify(&x) else {
            continue;
        };
        if margin_of(&net.forward(&x), class).0 <= 1e-3 {
            continue;
        }
        for blind in [true, false] {
            for name in ["bu-d-dfs", "td+bu-d-dfs", "maximal"] {
                let params = Params {
                    delta: 0.1,
                    ..Params::default()
                };
                let milp = MilpOracle::new(&net, Hyperbox::unit(net.input_size()), settings(1e-4));
                let rec = Recording::new(&milp, blind);
                let c = certify(
                    Algorithm::from_name(name).unwrap(),
                    &rec,
                    &x,
                    class,
                    &params,
                    None,
                );
                if c.status != Status::Certified {
                    continue;
                }
                let region = c.region.as_ref().unwrap();
                assert!(
                    rec.covered(region),
                    "{name} (blind {blind}, seed {seed}): the box printed was never answered Holds"
                );
                recheck(&net, &c);
                if name != "maximal" {
                    assert_pushed_faces_refused(&net, &c, params.delta + 1e-9);
                }
                grouped += rec.probes.load(std::sync::atomic::Ordering::Relaxed);
                checked += 1;
            }
        }
    }
    assert!(checked >= 20, "only {checked} certificates checked");
    assert!(grouped > 0, "no move was probed");
}

/// A `maximal` run stopped early (here by a question budget) reports a face `blocked` only
/// once it was bisected to the tolerance: pushed out by ten tolerances, no such face's box is
/// proved. Faces its first pass blocked by a far-away point are reported `open`.
#[test]
fn stopped_maximal_runs_claim_only_settled_blocks() {
    let (mut stopped, mut open) = (0, 0);
    for seed in 0..6u64 {
        let Some((net, x)) = confident_case(seed) else {
            continue;
        };
        for budget in [3, 4, 6, 8, 16, 32] {
            let params = Params {
                max_iter: Some(budget),
                ..Params::default()
            };
            let c = run(&net, &x, "maximal", &params, 1e-4);
            if c.status == Status::Certified {
                continue;
            }
            // Stopped before any face moved (in the apothem start): nothing to check.
            let (Some(faces), Some(_)) = (c.faces.as_ref(), c.region.as_ref()) else {
                continue;
            };
            stopped += 1;
            open += faces.iter().filter(|f| f.state == "open").count();
            let blocked_only = Certificate {
                faces: Some(
                    faces
                        .iter()
                        .filter(|f| f.state == "blocked")
                        .cloned()
                        .collect(),
                ),
                ..c.clone()
            };
            assert_pushed_faces_refused(&net, &blocked_only, 10.0 * params.tolerance);
        }
    }
    assert!(
        stopped >= 4 && open > 0,
        "{stopped} stopped runs, {open} open faces"
    );
}
