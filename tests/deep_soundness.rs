//! Soundness of the deep-network stages (LP tightening, root cuts, node bounds, the strong
//! attack) against an independent ground truth: on small random networks with three hidden
//! layers, the exact maximum of every competitor's margin over a box is computed by enumerating
//! the feasible ReLU phase patterns (a depth-first walk over the neurons, one small LP per
//! partial pattern to drop empty ones, one LP per complete pattern for the margin). It uses no
//! bounds, no cuts and no branch and bound of ours, only HiGHS LPs over the input variables.
//!
//! Every `robust` verdict, whatever stages are switched on, must agree with the enumeration
//! (true maximum below −τ plus the LP tolerance); every counterexample is re-checked.

use parallelepipedonn::milp::solver::{solve, BabOptions, Limits, Milp, Sense, Status, Workers};
use parallelepipedonn::network::{margin_of, Layer, Network};
use parallelepipedonn::{Hyperbox, MilpOracle, Oracle, OracleSettings, Question, Verdict};
use rand::{Rng, SeedableRng};

fn random_net(rng: &mut rand::rngs::StdRng, widths: &[usize]) -> Network {
    let mut layers = Vec::new();
    for w in widths.windows(2) {
        let scale = 1.5 / (w[0] as f64).sqrt();
        layers.push(Layer {
            n_in: w[0],
            n_out: w[1],
            weights: (0..w[0] * w[1])
                .map(|_| rng.gen_range(-1.0..1.0) * scale * 1.7)
                .collect(),
            bias: (0..w[1]).map(|_| rng.gen_range(-0.3..0.3)).collect(),
            relu: true,
        });
    }
    layers.last_mut().unwrap().relu = false;
    Network::new(layers, vec![widths[0]]).unwrap()
}

/// An affine function of the input: `coef · x + cst`.
#[derive(Clone)]
struct Affine {
    coef: Vec<f64>,
    cst: f64,
}

/// Maximises (or checks feasibility of) over `x ∈ region` with `constraints` (`a · x + c >= 0`).
fn lp_max(region: &Hyperbox, constraints: &[Affine], objective: Option<&Affine>) -> Option<f64> {
    let d = region.dim();
    let mut m = Milp::default();
    for i in 0..d {
        m.add_col(region.lb()[i], region.ub()[i], false);
    }
    for c in constraints {
        m.add_row(
            -c.cst,
            f64::INFINITY,
            c.coef.iter().cloned().enumerate().collect(),
        );
    }
    if let Some(o) = objective {
        m.cost = o.coef.clone();
        m.offset = o.cst;
    }
    let out = solve(
        &m,
        Sense::Maximise,
        &Limits {
            relaxation: true,
            ..Limits::default()
        },
    )
    .unwrap();
    match out.status {
        Status::Optimal => Some(out.objective.unwrap_or(0.0)),
        Status::Infeasible => None,
        other => panic!("reference LP ended {other:?}"),
    }
}

/// The exact maximum of `y_j - y_c` over `region` for every `j`, by enumerating the feasible
/// phase patterns. Returns `(max over j != c, number of linear regions)`.
fn exact_max_margin(net: &Network, region: &Hyperbox, c: usize) -> (f64, usize) {
    let d = region.dim();
    let identity: Vec<Affine> = (0..d)
        .map(|i| Affine {
            coef: (0..d).map(|k| if k == i { 1.0 } else { 0.0 }).collect(),
            cst: 0.0,
        })
        .collect();
    let mut best = f64::NEG_INFINITY;
    let mut regions = 0usize;
    // Depth-first over (layer, neuron): the current layer's inputs as affine maps.
    #[allow(clippy::too_many_arguments)]
    fn walk(
        net: &Network,
        region: &Hyperbox,
        c: usize,
        k: usize,
        inputs: Vec<Affine>,
        done: Vec<Affine>,
        constraints: &mut Vec<Affine>,
        best: &mut f64,
        regions: &mut usize,
    ) {
        let layer = &net.layers()[k];
        let pre = |o: usize| -> Affine {
            let d = region.dim();
            let mut a = Affine {
                coef: vec![0.0; d],
                cst: layer.bias[o],
            };
            for (w, inp) in layer.row(o).iter().zip(&inputs) {
                for (ac, ic) in a.coef.iter_mut().zip(&inp.coef) {
                    *ac += w * ic;
                }
                a.cst += w * inp.cst;
            }
            a
        };
        if !layer.relu {
            *regions += 1;
            for j in 0..layer.n_out {
                if j == c {
                    continue;
                }
                let (yj, yc) = (pre(j), pre(c));
                let diff = Affine {
                    coef: yj.coef.iter().zip(&yc.coef).map(|(a, b)| a - b).collect(),
                    cst: yj.cst - yc.cst,
                };
                if let Some(v) = lp_max(region, constraints, Some(&diff)) {
                    *best = best.max(v);
                }
            }
            return;
        }
        let o = done.len();
        if o == layer.n_out {
            walk(
                net,
                region,
                c,
                k + 1,
                done,
                Vec::new(),
                constraints,
                best,
                regions,
            );
            return;
        }
        let z = pre(o);
        for active in [true, false] {
            let cons = if active {
                z.clone()
            } else {
                Affine {
                    coef: z.coef.iter().map(|v| -v).collect(),
                    cst: -z.cst,
                }
            };
            constraints.push(cons);
            if lp_max(region, constraints, None).is_some() {
                let mut next = done.clone();
                next.push(if active {
                    z.clone()
                } else {
                    Affine {
                        coef: vec![0.0; z.coef.len()],
                        cst: 0.0,
                    }
                });
                walk(
                    net,
                    region,
                    c,
                    k,
                    inputs.clone(),
                    next,
                    constraints,
                    best,
                    regions,
                );
            }
            constraints.pop();
        }
    }
    walk(
        net,
        region,
        c,
        0,
        identity,
        Vec::new(),
        &mut Vec::new(),
        &mut best,
        &mut regions,
    );
    (best, regions)
}

fn deep_settings() -> Vec<(&'static str, OracleSettings)> {
    let all_on = OracleSettings {
        // The quick attack off, so that the exact stages decide most questions.
        attack: None,
        lp_tightening: true,
        ..OracleSettings::default()
    };
    vec![
        ("all stages", all_on.clone()),
        (
            // With a time limit, a first MILP pass runs before tightening (the no-limit run
            // above tightens first).
            "all stages, time-limited",
            OracleSettings {
                query_timeout: Some(std::time::Duration::from_secs(60)),
                ..all_on.clone()
            },
        ),
        (
            "no cuts, no node bounds",
            OracleSettings {
                bab: BabOptions {
                    cuts: false,
                    pair_cuts: false,
                    node_cuts: false,
                    node_bounds: false,
                    dual_branching: false,
                    workers: Workers::One,
                },
                lp_tightening: false,
                pgd: None,
                ..all_on.clone()
            },
        ),
        (
            "cuts and dual branching only",
            OracleSettings {
                bab: BabOptions {
                    cuts: true,
                    pair_cuts: true,
                    node_cuts: true,
                    node_bounds: false,
                    dual_branching: true,
                    workers: Workers::One,
                },
                lp_tightening: false,
                ..all_on.clone()
            },
        ),
        (
            // Two workers on every tree from its first node (normally a helper joins only
            // when a core is free): the shared tree must prove what one worker proves. No
            // cuts and no tightening, so that the trees have more than a root.
            "two workers per tree, node bounds",
            OracleSettings {
                bab: BabOptions {
                    cuts: false,
                    workers: Workers::Two,
                    ..BabOptions::default()
                },
                lp_tightening: false,
                pgd: None,
                ..all_on.clone()
            },
        ),
        (
            "node bounds only",
            OracleSettings {
                bab: BabOptions {
                    cuts: false,
                    pair_cuts: false,
                    node_cuts: false,
                    node_bounds: true,
                    dual_branching: false,
                    workers: Workers::One,
                },
                lp_tightening: true,
                ..all_on
            },
        ),
    ]
}

#[test]
fn every_robust_verdict_agrees_with_phase_enumeration() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(2026);
    let tau = parallelepipedonn::oracle::DEFAULT_MARGIN;
    let (mut robust, mut violated, mut total_regions) = (0usize, 0usize, 0usize);
    let mut by_milp = 0usize;
    let mut tightening_lps = 0u64;
    for case in 0..36 {
        let widths = [2, 8, 10, 8, 3];
        let net = random_net(&mut rng, &widths);
        let x: Vec<f64> = (0..2).map(|_| rng.gen_range(0.2..0.8)).collect();
        let Some(c) = net.classify(&x) else { continue };
        let r = rng.gen_range(0.02..0.3);
        let domain = Hyperbox::unit(2);
        let ball = Hyperbox::ball(&x, r, &domain);
        let (truth, regions) = exact_max_margin(&net, &ball, c);
        total_regions += regions;
        for (name, settings) in deep_settings() {
            let tightens = settings.lp_tightening;
            let oracle = MilpOracle::new(&net, domain.clone(), settings);
            let v = oracle.decide(&Question::Sound {
                region: &ball,
                class: c,
            });
            if v.method() == Some(parallelepipedonn::Method::Milp) {
                by_milp += 1;
            }
            // What the run reports as LP tightening is what ran.
            let lps = oracle.stats().tightening_lps;
            if tightens {
                tightening_lps += lps;
            } else {
                assert_eq!(
                    lps, 0,
                    "case {case} ({name}): tightening reported while off"
                );
            }
            match v {
                Verdict::Holds { .. } => {
                    robust += 1;
                    assert!(
                        truth < -tau + 1e-7,
                        "case {case} ({name}): robust, but the enumeration reaches margin {truth} (radius {r})"
                    );
                }
                Verdict::Violated { witness, .. } => {
                    violated += 1;
                    assert!(
                        ball.contains(&witness.x),
                        "case {case} ({name}): witness outside"
                    );
                    let (m, _) = margin_of(&net.forward(&witness.x), c);
                    assert!(m <= 0.0, "case {case} ({name}): witness keeps the class");
                    assert!(
                        truth >= -1e-7,
                        "case {case} ({name}): counterexample where the enumeration finds none"
                    );
                }
                Verdict::Unknown { reason, .. } => {
                    // Allowed only for near ties, which the enumeration must confirm.
                    assert!(
                        truth > -tau - 1e-6,
                        "case {case} ({name}): unknown ({reason}) on a clear instance (max margin {truth})"
                    );
                }
            }
        }
    }
    assert!(
        robust >= 10 && violated >= 10,
        "too few of each: robust {robust}, violated {violated}"
    );
    assert!(total_regions > 100);
    eprintln!(
        "robust {robust}, violated {violated}, decided by MILP {by_milp}, regions {total_regions}"
    );
    assert!(
        by_milp >= 8,
        "the exact stages were hardly exercised: {by_milp} MILP verdicts"
    );
    assert!(tightening_lps > 0, "no tightening LP was reported");
}

/// The apothem of deep networks: its bisection by time-limited soundness questions and its
/// exact rounds. On random 3-hidden-layer networks, the proved ball (radius r_lo) must have an
/// exact maximum margin below −τ by enumeration, the reported counterexample must be confirmed
/// and lie at the reported distance r_hi, and most runs must close the bracket.
#[test]
fn deep_apothem_bracket_agrees_with_phase_enumeration() {
    use parallelepipedonn::certify::{certify, Algorithm, Params};
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let tau = parallelepipedonn::oracle::DEFAULT_MARGIN;
    let domain = Hyperbox::unit(2);
    let (mut runs, mut closed) = (0usize, 0usize);
    for case in 0..12 {
        let net = random_net(&mut rng, &[2, 8, 10, 8, 3]);
        let x: Vec<f64> = (0..2).map(|_| rng.gen_range(0.2..0.8)).collect();
        let Some(c) = net.classify(&x) else { continue };
        // The default, and two workers on every tree (optimisations share incumbents and
        // cut-offs between them): both must be sound, and agree where both close.
        let mut exact: Vec<f64> = Vec::new();
        for workers in [Workers::WhileCoresFree, Workers::Two] {
            let settings = OracleSettings {
                bab: BabOptions {
                    workers,
                    ..BabOptions::default()
                },
                ..OracleSettings::default()
            };
            let oracle = MilpOracle::new(&net, domain.clone(), settings);
            let params = Params {
                deadline: Some(std::time::Instant::now() + std::time::Duration::from_secs(20)),
                ..Params::default()
            };
            let cert = certify(
                Algorithm::from_name("apothem").unwrap(),
                &oracle,
                &x,
                c,
                &params,
                None,
            );
            let lo = cert.apothem.unwrap_or(0.0);
            runs += 1;
            if lo > 0.0 {
                let ball = Hyperbox::ball(&x, lo, &domain);
                let (truth, _) = exact_max_margin(&net, &ball, c);
                assert!(
                    truth < -tau + 1e-7,
                    "case {case}: radius {lo} proved, but the enumeration reaches margin {truth}"
                );
            }
            if let Some(hi) = cert.apothem_upper {
                assert!(lo <= hi, "case {case}: bracket [{lo}, {hi}] inverted");
                let w = cert
                    .counterexample
                    .as_ref()
                    .expect("a confirmed counterexample behind r_hi");
                let d =
                    w.x.iter()
                        .zip(&x)
                        .map(|(a, b)| (a - b).abs())
                        .fold(0.0, f64::max);
                assert!(
                    (d - hi).abs() <= 1e-12 * (1.0 + hi),
                    "case {case}: r_hi {hi} but the counterexample lies at {d}"
                );
                let (m, _) = margin_of(&net.forward(&w.x), c);
                assert!(m <= 0.0, "case {case}: the counterexample keeps the class");
                if hi - lo < 1e-4 {
                    closed += 1;
                    exact.push(lo);
                }
            }
        }
        if let [a, b] = exact[..] {
            assert!(
                (a - b).abs() < 1e-4,
                "case {case}: exact apothems {a} (default) and {b} (two workers) differ"
            );
        }
    }
    assert!(runs >= 16, "too few runs: {runs}");
    assert!(
        closed * 2 >= runs,
        "only {closed} of {runs} brackets closed"
    );
}

/// The memo of competitors proved out (`ruled.rs`): on one oracle, balls of growing then
/// shrinking radius and shifted boxes, so that later questions fall inside earlier proved
/// boxes (answered from the memo) and outside them (must be solved again). Every verdict must
/// agree with the enumeration, and with the memo off the same questions must get the same
/// answers with more MILP solves. Answering a box that merely *contains* a proved one from the
/// memo would make a larger, violated ball `robust`: the enumeration catches that. The same
/// sequence with LP tightening exercises inherited bounds the same way.
#[test]
fn memo_of_proved_competitors_agrees_with_phase_enumeration() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(616);
    let tau = parallelepipedonn::oracle::DEFAULT_MARGIN;
    let domain = Hyperbox::unit(2);
    let (mut solves_on, mut solves_off, mut robust, mut violated) = (0u64, 0u64, 0usize, 0usize);
    for case in 0..12 {
        let net = random_net(&mut rng, &[2, 8, 10, 8, 3]);
        let x: Vec<f64> = (0..2).map(|_| rng.gen_range(0.3..0.7)).collect();
        let Some(c) = net.classify(&x) else { continue };
        let mut boxes: Vec<Hyperbox> = Vec::new();
        let radii = [0.03, 0.08, 0.15, 0.25, 0.35, 0.5];
        for &r in radii.iter().chain(radii.iter().rev()) {
            boxes.push(Hyperbox::ball(&x, r, &domain));
        }
        for _ in 0..4 {
            let r = rng.gen_range(0.05..0.4);
            let shift: Vec<f64> = x.iter().map(|v| v + rng.gen_range(-0.1..0.1)).collect();
            boxes.push(Hyperbox::ball(&shift, r, &domain));
        }
        let truths: Vec<f64> = boxes
            .iter()
            .map(|b| exact_max_margin(&net, b, c).0)
            .collect();
        let mut kinds: Vec<Vec<u8>> = Vec::new();
        // The third run tightens by LP, and every later question on a box inside a tightened
        // one starts from those bounds (`oracle/inherit.rs`): a bound inherited by a box
        // sticking out of the tightened one would make a violated ball `robust`.
        for (memo, tightening) in [(true, false), (false, false), (true, true)] {
            let settings = OracleSettings {
                attack: None,
                pgd: None,
                memo,
                lp_tightening: tightening,
                ..OracleSettings::default()
            };
            let oracle = MilpOracle::new(&net, domain.clone(), settings);
            let mut kind = Vec::new();
            for (k, (b, &truth)) in boxes.iter().zip(&truths).enumerate() {
                match oracle.decide(&Question::Sound {
                    region: b,
                    class: c,
                }) {
                    Verdict::Holds { .. } => {
                        robust += 1;
                        kind.push(1);
                        assert!(
                            truth < -tau + 1e-7,
                            "case {case}, box {k} (memo {memo}): robust, but the enumeration reaches margin {truth}"
                        );
                    }
                    Verdict::Violated { witness, .. } => {
                        violated += 1;
                        kind.push(2);
                        assert!(b.contains(&witness.x));
                        let (m, _) = margin_of(&net.forward(&witness.x), c);
                        assert!(m <= 0.0, "case {case}, box {k}: witness keeps the class");
                    }
                    Verdict::Unknown { reason, .. } => {
                        kind.push(0);
                        assert!(
                            truth > -tau - 1e-6,
                            "case {case}, box {k} (memo {memo}): unknown ({reason}) on a clear instance ({truth})"
                        );
                    }
                }
            }
            let solves = oracle.stats().milp_solves;
            match (memo, tightening) {
                (true, false) => solves_on += solves,
                (false, _) => solves_off += solves,
                (true, true) => {}
            }
            kinds.push(kind);
        }
        assert_eq!(
            kinds[0], kinds[1],
            "case {case}: the memo changed an answer"
        );
        assert_eq!(
            kinds[0], kinds[2],
            "case {case}: tightening (and inherited bounds) changed an answer"
        );
    }
    eprintln!("memo: {solves_on} MILP solves, without: {solves_off}; robust {robust}, violated {violated}");
    assert!(
        robust >= 20 && violated >= 20,
        "robust {robust}, violated {violated}"
    );
    assert!(
        solves_on < solves_off,
        "the memo saved nothing: {solves_on} solves with it, {solves_off} without"
    );
}

/// An `unknown`'s bracket (`closest.rs`): the closest point the searches found lies in the box
/// and its value (the largest `y_j - y_c` there) is at most the enumerated maximum; the bound
/// reached is at least that maximum, whether it comes from rigorous bounds (a run stopped
/// before its MILPs) or from a branch and bound stopped by its time limit (the LP solver's
/// bound, checked here up to its tolerance).
#[test]
fn an_unknown_bracket_contains_the_enumerated_maximum() {
    use std::time::{Duration, Instant};
    let mut rng = rand::rngs::StdRng::seed_from_u64(77);
    let (mut with_point, mut proved_ends, mut search_ends) = (0usize, 0usize, 0usize);
    for case in 0..30 {
        let net = random_net(&mut rng, &[2, 12, 12, 12, 3]);
        let x: Vec<f64> = (0..2).map(|_| rng.gen_range(0.2..0.8)).collect();
        let Some(c) = net.classify(&x) else { continue };
        let r = rng.gen_range(0.1..0.4);
        let domain = Hyperbox::unit(2);
        let ball = Hyperbox::ball(&x, r, &domain);
        let (truth, _) = exact_max_margin(&net, &ball, c);
        let stopped = [
            // No time for any MILP: the attack's point and the bounds' end.
            OracleSettings {
                deadline: Some(Instant::now()),
                lp_tightening: false,
                ..OracleSettings::default()
            },
            // MILPs stopped early, without the attacks or cuts: the branch and bound's end.
            OracleSettings {
                query_timeout: Some(Duration::from_millis(3)),
                bab: BabOptions {
                    cuts: false,
                    workers: Workers::One,
                    ..BabOptions::default()
                },
                attack: None,
                pgd: None,
                lp_tightening: false,
                ..OracleSettings::default()
            },
        ];
        for (k, settings) in stopped.into_iter().enumerate() {
            let oracle = MilpOracle::new(&net, domain.clone(), settings);
            let v = oracle.decide(&Question::Sound {
                region: &ball,
                class: c,
            });
            let Verdict::Unknown {
                closest, reached, ..
            } = v
            else {
                continue;
            };
            if let Some(p) = closest {
                with_point += 1;
                assert!(ball.contains(&p.x), "case {case}/{k}: point outside");
                let (m, _) = margin_of(&net.forward(&p.x), c);
                assert!((p.value + m).abs() < 1e-12, "case {case}/{k}: value");
                assert!(
                    p.value <= truth + 1e-9,
                    "case {case}/{k}: a point with value {} above the maximum {truth}",
                    p.value
                );
            }
            if let Some(e) = reached {
                let slack = if e.proved {
                    proved_ends += 1;
                    1e-9
                } else {
                    search_ends += 1;
                    1e-6 * (1.0 + truth.abs())
                };
                assert!(
                    e.value >= truth - slack,
                    "case {case}/{k}: bound {} (proved {}) below the maximum {truth}",
                    e.value,
                    e.proved
                );
            }
        }
    }
    eprintln!("points {with_point}, proved ends {proved_ends}, search ends {search_ends}");
    assert!(
        with_point >= 5 && proved_ends >= 5,
        "too few brackets: points {with_point}, proved ends {proved_ends}"
    );
}
