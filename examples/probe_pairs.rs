//! Dev probe: how far do multi-neuron (pair) cuts lower a deep question's root bound, after the
//! ideal-formulation cuts the branch and bound already uses? It runs the library's own
//! separator (`milp::pairs::PairCuts`) and checks every cut against real executions.
//!
//! `cargo run --release --example probe_pairs -- MODEL INPUT EPS [J] [TIGHTEN_S] [TOP] [ROUNDS]`
//! (J: the competitor, default the one with the largest margin bound; TIGHTEN_S: seconds of LP
//! tightening first, default 20; TOP: neurons per layer whose pairs are searched, default 24;
//! ROUNDS: pair-cut rounds, default 6).

use std::time::{Duration, Instant};

use parallelepipedonn::bounds::NeuronBounds;
use parallelepipedonn::milp::cuts::most_violated;
use parallelepipedonn::milp::encode::Encoding;
use parallelepipedonn::milp::model::{Limits, ReluCols, Sense, Status};
use parallelepipedonn::milp::pairs::PairCuts;
use parallelepipedonn::milp::solver::Lp;
use parallelepipedonn::milp::tighten::{tighten, Cuts};
use parallelepipedonn::{load_onnx, Hyperbox};

fn main() {
    let a: Vec<String> = std::env::args().collect();
    let net = load_onnx(&a[1]).expect("model");
    let x = parallelepipedonn::io::read_input(&a[2], net.input_size()).expect("input");
    let eps: f64 = a[3].parse().expect("eps");
    let c = net.classify(&x).expect("class");
    let ball = Hyperbox::ball(&x, eps, &Hyperbox::unit(net.input_size()));
    let b0 = NeuronBounds::symbolic(&net, &ball);
    let j: usize = match a.get(4).and_then(|s| s.parse().ok()) {
        Some(j) => j,
        None => (0..net.output_size())
            .filter(|&j| j != c)
            .max_by(|&p, &q| {
                b0.margin_upper(&net, c, p, &ball)
                    .total_cmp(&b0.margin_upper(&net, c, q, &ball))
            })
            .expect("a competitor"),
    };
    let secs: f64 = a.get(5).and_then(|s| s.parse().ok()).unwrap_or(20.0);
    let top: usize = a.get(6).and_then(|s| s.parse().ok()).unwrap_or(24);
    let rounds: usize = a.get(7).and_then(|s| s.parse().ok()).unwrap_or(6);
    let t = Instant::now();
    let b = if secs > 0.0 {
        tighten(
            &net,
            &ball,
            &b0,
            Some(Instant::now() + Duration::from_secs_f64(secs)),
            Cuts::default(),
        )
        .0
    } else {
        b0.clone()
    };
    println!(
        "class {c}, competitor {j}; tightening {:.1} s: unstable {} -> {}; margin upper {:.4} -> {:.4}",
        t.elapsed().as_secs_f64(),
        b0.unstable_count(&net),
        b.unstable_count(&net),
        b0.margin_upper(&net, c, j, &ball),
        b.margin_upper(&net, c, j, &ball)
    );
    let enc = Encoding::new(&net, &ball, &b);
    let expr = enc.margin(c, j);
    let mut milp = enc.milp.clone();
    for &(col, w) in &expr.terms {
        milp.cost[col] += w;
    }
    milp.offset = expr.constant;
    let mut lp = Lp::new(&milp, Sense::Maximise).expect("an LP");
    let lim = Limits {
        relaxation: true,
        ..Limits::default()
    };
    let solve = |lp: &mut Lp| {
        let o = lp.solve(&lim).expect("solve");
        assert_eq!(o.status, Status::Optimal, "{:?}", o.status);
        (o.objective.expect("obj"), o.solution.expect("sol"))
    };
    let (obj, mut sol) = solve(&mut lp);
    println!("triangle LP: {obj:.4}");
    // The root's ideal cuts, to a standstill.
    let t = Instant::now();
    let mut cur = milp.clone();
    for _ in 0..30 {
        let found = most_violated(&cur, &sol, 1e-5, 100);
        if found.is_empty() {
            break;
        }
        lp.add_rows(&found).expect("rows");
        cur.rows.extend(found);
        let (o, s) = solve(&mut lp);
        sol = s;
        println!("  ideal round: {o:.4}");
    }
    println!(
        "ideal cuts: {} rows, {:.1} s",
        cur.rows.len() - milp.rows.len(),
        t.elapsed().as_secs_f64()
    );
    // The library's separator, over the encoding's ReLUs; and where each ReLU's columns are.
    let sites: Vec<(usize, usize, ReluCols)> = enc
        .binaries
        .iter()
        .zip(&milp.relus)
        .map(|(bin, r)| (bin.layer, bin.neuron, *r))
        .collect();
    let pairs = PairCuts::new(&net, &b, &ball, sites.clone());
    let neuron_of: std::collections::HashMap<usize, (usize, usize)> = sites
        .iter()
        .flat_map(|&(k, i, r)| [(r.z, (k, i)), (r.h, (k, i))])
        .collect();
    let is_h: std::collections::HashSet<usize> = sites.iter().map(|s| s.2.h).collect();
    // Real executions to check every cut against: random points and random corners of the box.
    let mut rng = 7u64;
    let mut uniform = move || {
        rng = rng
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (rng >> 11) as f64 / (1u64 << 53) as f64
    };
    let traces: Vec<Vec<Vec<f64>>> = (0..2000)
        .map(|s| {
            let x: Vec<f64> = (0..net.input_size())
                .map(|i| {
                    let (l, u) = (ball.lb()[i], ball.ub()[i]);
                    if s % 2 == 0 {
                        l + (u - l) * uniform()
                    } else if uniform() < 0.5 {
                        l
                    } else {
                        u
                    }
                })
                .collect();
            net.forward_trace(&x)
        })
        .collect();
    let mut worst_excess = f64::NEG_INFINITY;
    for round in 0..rounds {
        let t = Instant::now();
        let cuts = pairs.most_violated(&sol, top, 100, None);
        for cut in &cuts {
            for tr in &traces {
                let value = |c: usize| {
                    let (k, i) = neuron_of[&c];
                    if is_h.contains(&c) {
                        tr[k][i].max(0.0)
                    } else {
                        tr[k][i]
                    }
                };
                let act: f64 = cut.terms.iter().map(|&(c, w)| w * value(c)).sum();
                worst_excess = worst_excess.max(act - cut.ub);
            }
        }
        let found = cuts.len();
        lp.add_rows(&cuts).expect("rows");
        let (o, s) = solve(&mut lp);
        sol = s;
        // Ideal cuts again at the new point.
        let found_ideal = most_violated(&cur, &sol, 1e-5, 100);
        let ni = found_ideal.len();
        lp.add_rows(&found_ideal).expect("rows");
        cur.rows.extend(found_ideal);
        let (o2, s) = solve(&mut lp);
        sol = s;
        println!(
            "pair round {round}: {found} cuts added: {o:.4}; +{ni} ideal: {o2:.4} ({:.1} s)",
            t.elapsed().as_secs_f64()
        );
        println!("  worst excess of a real execution over a pair cut so far: {worst_excess:.3e}");
        if found == 0 {
            break;
        }
    }
}
