//! Dev probe: would a multi-neuron relaxation lower a deep question's root bound? Pairwise
//! (k = 2) convex-hull cuts, PRIMA-style, separated at the root LP after the ideal-formulation
//! cuts the branch and bound already uses.
//!
//! `cargo run --release --example probe_pairs -- MODEL INPUT EPS [J] [TIGHTEN_S] [TOP] [ROUNDS]`
//!
//! For two unstable neurons `i, j` of one layer, the set `{(z_i, z_j, relu z_i, relu z_j)}` over
//! the octagon `l <= z <= u`, `s_lo <= z_i + z_j <= s_hi`, `d_lo <= z_i - z_j <= d_hi` (the
//! octagon's sides by back-substitution of `e_i ± e_j`) has a convex hull that the two
//! single-neuron relaxations do not reach: it is the hull of the images of the octagon's pieces
//! in the four sign quadrants, whose vertices this probe enumerates; a violated facet is found
//! by a small LP over those vertices. A probe, not a product: the vertices are computed in
//! floating point and the cut's right side gets a small absolute slack instead of a rigorous
//! widening.

use std::time::{Duration, Instant};

use parallelepipedonn::bounds::NeuronBounds;
use parallelepipedonn::milp::cuts::most_violated;
use parallelepipedonn::milp::encode::Encoding;
use parallelepipedonn::milp::model::{Limits, Milp, Sense, Status};
use parallelepipedonn::milp::solver::{solve_highs, Lp};
use parallelepipedonn::milp::tighten::{tighten, Cuts};
use parallelepipedonn::network::Network;
use parallelepipedonn::{load_onnx, Hyperbox};

type P2 = (f64, f64);

/// Clips a convex polygon by `a·p <= b`.
fn clip(poly: &[P2], a: P2, b: f64) -> Vec<P2> {
    let mut out = Vec::new();
    let n = poly.len();
    for k in 0..n {
        let p = poly[k];
        let q = poly[(k + 1) % n];
        let fp = a.0 * p.0 + a.1 * p.1 - b;
        let fq = a.0 * q.0 + a.1 * q.1 - b;
        if fp <= 0.0 {
            out.push(p);
        }
        if (fp < 0.0 && fq > 0.0) || (fp > 0.0 && fq < 0.0) {
            let t = fp / (fp - fq);
            out.push((p.0 + t * (q.0 - p.0), p.1 + t * (q.1 - p.1)));
        }
    }
    out
}

/// Vertices of the pair's hull in `(z_i, z_j, h_i, h_j)`.
fn vertices(l: P2, u: P2, s: P2, d: P2) -> Vec<[f64; 4]> {
    let mut poly = vec![(l.0, l.1), (u.0, l.1), (u.0, u.1), (l.0, u.1)];
    poly = clip(&poly, (1.0, 1.0), s.1);
    poly = clip(&poly, (-1.0, -1.0), -s.0);
    poly = clip(&poly, (1.0, -1.0), d.1);
    poly = clip(&poly, (-1.0, 1.0), -d.0);
    let mut out = Vec::new();
    for (sx, sy) in [(1.0, 1.0), (1.0, -1.0), (-1.0, 1.0), (-1.0, -1.0)] {
        // The quadrant sx·z_i >= 0, sy·z_j >= 0.
        let mut q = clip(&poly, (-sx, 0.0), 0.0);
        q = clip(&q, (0.0, -sy), 0.0);
        for (a, b) in q {
            out.push([a, b, a.max(0.0), b.max(0.0)]);
        }
    }
    out
}

/// The most violated facet of the hull of `v` at `p`: `(α, β, violation)`.
fn separate(v: &[[f64; 4]], p: [f64; 4]) -> Option<([f64; 4], f64, f64)> {
    let mut m = Milp::default();
    let cols: Vec<usize> = (0..4).map(|_| m.add_col(-1.0, 1.0, false)).collect();
    let beta = m.add_col(f64::NEG_INFINITY, f64::INFINITY, false);
    for (k, &c) in cols.iter().enumerate() {
        m.cost[c] = p[k];
    }
    m.cost[beta] = -1.0;
    for x in v {
        let mut t: Vec<(usize, f64)> = cols.iter().zip(x).map(|(&c, &a)| (c, a)).collect();
        t.push((beta, -1.0));
        m.add_row(f64::NEG_INFINITY, 0.0, t);
    }
    let lim = Limits {
        relaxation: true,
        ..Limits::default()
    };
    let out = solve_highs(&m, Sense::Maximise, &lim).ok()?;
    if out.status != Status::Optimal {
        return None;
    }
    let s = out.solution?;
    let a = [s[cols[0]], s[cols[1]], s[cols[2]], s[cols[3]]];
    let b = v
        .iter()
        .map(|x| a.iter().zip(x).map(|(p, q)| p * q).sum::<f64>())
        .fold(f64::NEG_INFINITY, f64::max)
        + 1e-9;
    let viol = a.iter().zip(&p).map(|(x, y)| x * y).sum::<f64>() - b;
    (viol > 1e-5).then_some((a, b, viol))
}

fn prefix(net: &Network, k: usize) -> Network {
    let mut layers: Vec<_> = net.layers()[..=k].to_vec();
    if let Some(l) = layers.last_mut() {
        l.relu = false;
    }
    Network::new(layers, net.input_shape().to_vec()).expect("a prefix")
}

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
        for r in found {
            lp.add_row(r.lb, r.ub, &r.terms).expect("row");
            cur.rows.push(r);
        }
        let (o, s) = solve(&mut lp);
        sol = s;
        println!("  ideal round: {o:.4}");
    }
    println!(
        "ideal cuts: {} rows, {:.1} s",
        cur.rows.len() - milp.rows.len(),
        t.elapsed().as_secs_f64()
    );
    // Neuron of each binary.
    let site: std::collections::HashMap<usize, (usize, usize)> = enc
        .binaries
        .iter()
        .map(|bin| (bin.col, (bin.layer, bin.neuron)))
        .collect();
    let relus: Vec<(usize, usize, usize, usize)> = milp
        .relus
        .iter()
        .filter_map(|r| site.get(&r.a).map(|&(k, i)| (k, i, r.z, r.h)))
        .collect();
    let mut octagons: std::collections::HashMap<(usize, usize, usize), (P2, P2)> =
        Default::default();
    let prefixes: Vec<Network> = (0..net.layers().len() - 1)
        .map(|k| prefix(&net, k))
        .collect();
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
        let mut cuts: Vec<([f64; 4], f64, f64, [usize; 4])> = Vec::new();
        let mut pairs = 0;
        for k in 0..net.layers().len() - 1 {
            let mut cand: Vec<(f64, usize, usize, usize)> = relus
                .iter()
                .filter(|r| r.0 == k)
                .map(|&(_, i, z, h)| (sol[h] - sol[z].max(0.0), i, z, h))
                .filter(|g| g.0 > 1e-6)
                .collect();
            cand.sort_by(|p, q| q.0.total_cmp(&p.0));
            cand.truncate(top);
            let pre = &prefixes[k];
            let sub = NeuronBounds {
                lower: b.lower[..=k].to_vec(),
                upper: b.upper[..=k].to_vec(),
            };
            let n = net.layers()[k].n_out;
            for p in 0..cand.len() {
                for q in p + 1..cand.len() {
                    let (i, jj) = (cand[p].1.min(cand[q].1), cand[p].1.max(cand[q].1));
                    let (zi, hi, zj, hj) = if cand[p].1 == i {
                        (cand[p].2, cand[p].3, cand[q].2, cand[q].3)
                    } else {
                        (cand[q].2, cand[q].3, cand[p].2, cand[p].3)
                    };
                    let (s, d) = *octagons.entry((k, i, jj)).or_insert_with(|| {
                        let up = |ci: f64, cj: f64| {
                            let mut w = vec![0.0; n];
                            w[i] = ci;
                            w[jj] = cj;
                            sub.output_linear_upper(pre, &w, 0.0, &ball)
                        };
                        (
                            (-up(-1.0, -1.0), up(1.0, 1.0)),
                            (-up(-1.0, 1.0), up(1.0, -1.0)),
                        )
                    });
                    let l = (b.lower[k][i], b.lower[k][jj]);
                    let u = (b.upper[k][i], b.upper[k][jj]);
                    let v = vertices(l, u, s, d);
                    if v.is_empty() {
                        continue;
                    }
                    pairs += 1;
                    let pt = [sol[zi], sol[zj], sol[hi], sol[hj]];
                    if let Some((al, be, viol)) = separate(&v, pt) {
                        for tr in &traces {
                            let (a, bb) = (tr[k][i], tr[k][jj]);
                            let e =
                                al[0] * a + al[1] * bb + al[2] * a.max(0.0) + al[3] * bb.max(0.0)
                                    - be;
                            worst_excess = worst_excess.max(e);
                        }
                        cuts.push((al, be, viol, [zi, zj, hi, hj]));
                    }
                }
            }
        }
        cuts.sort_by(|p, q| q.2.total_cmp(&p.2));
        let found = cuts.len();
        cuts.truncate(100);
        for (al, be, _, cols) in &cuts {
            let terms: Vec<(usize, f64)> = cols
                .iter()
                .zip(al)
                .filter(|(_, &w)| w != 0.0)
                .map(|(&c, &w)| (c, w))
                .collect();
            lp.add_row(f64::NEG_INFINITY, *be, &terms).expect("row");
        }
        let (o, s) = solve(&mut lp);
        sol = s;
        // Ideal cuts again at the new point.
        let found_ideal = most_violated(&cur, &sol, 1e-5, 100);
        let ni = found_ideal.len();
        for r in found_ideal {
            lp.add_row(r.lb, r.ub, &r.terms).expect("row");
            cur.rows.push(r);
        }
        let (o2, s) = solve(&mut lp);
        sol = s;
        println!(
            "pair round {round}: {pairs} pairs, {found} violated, {} added: {o:.4}; +{ni} ideal: {o2:.4} ({:.1} s)",
            cuts.len(),
            t.elapsed().as_secs_f64()
        );
        println!("  worst excess of a real execution over a pair cut so far: {worst_excess:.3e}");
        if found == 0 {
            break;
        }
    }
}
