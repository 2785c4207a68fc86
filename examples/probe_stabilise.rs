//! Dev probe: after LP tightening, how many of layer K's unstable neurons does a small MILP
//! prove stable? α,β-CROWN's `mnist_fc` configuration spends most of its time refining
//! intermediate bounds by MILP (Gurobi, many workers); this measures what the same idea buys
//! here: for each unstable neuron of layer K (nearly stable first), our branch and bound asks
//! whether its smaller side is reachable at all (`query::satisfy`, margin 1e-4), cold, with a
//! node and time limit. Infeasible means the neuron is stable over the box.
//! With `NODES` = `warm`: root only, warm: one LP for every neuron, the neuron's wrong side
//! imposed as a column bound, then up to 10 rounds of 100 ideal-formulation cuts (kept for the
//! next neurons), re-solved by the dual simplex.
//! `cargo run --release --example probe_stabilise -- MODEL INPUT EPS TIGHTEN_S NODES|warm [K] [SECONDS]`
use parallelepipedonn::bounds::NeuronBounds;
use parallelepipedonn::milp::encode::{Encoding, LinExpr};
use parallelepipedonn::milp::model::Limits;
use parallelepipedonn::milp::query::satisfy;
use parallelepipedonn::milp::tighten::{tighten, Cuts};
use parallelepipedonn::network::Network;
use parallelepipedonn::{load_onnx, Hyperbox};

fn main() {
    let a: Vec<String> = std::env::args().collect();
    let net = load_onnx(&a[1]).expect("model");
    let x = parallelepipedonn::io::read_input(&a[2], net.input_size()).expect("input");
    let eps: f64 = a[3].parse().expect("eps");
    let secs: f64 = a[4].parse().expect("seconds");
    let warm = a[5] == "warm";
    let nodes: u64 = if warm {
        0
    } else {
        a[5].parse().expect("nodes")
    };
    let k: usize = a.get(6).map_or(1, |s| s.parse().expect("k"));
    let per: f64 = a
        .get(7)
        .map_or(5.0, |s| s.parse().expect("seconds per neuron"));
    let ball = Hyperbox::ball(&x, eps, &Hyperbox::unit(net.input_size()));
    let b = NeuronBounds::symbolic(&net, &ball);
    let stop = std::time::Instant::now() + std::time::Duration::from_secs_f64(secs);
    let (tb, st) = tighten(&net, &ball, &b, Some(stop), Cuts::default());
    println!("tighten {:?}", st);
    let mut layers = net.layers()[..=k].to_vec();
    layers.last_mut().unwrap().relu = false;
    let sub = Network::new(layers, net.input_shape().to_vec()).unwrap();
    let sb = NeuronBounds {
        lower: tb.lower[..=k].to_vec(),
        upper: tb.upper[..=k].to_vec(),
    };
    let t = std::time::Instant::now();
    let enc = Encoding::new(&sub, &ball, &sb);
    println!(
        "encode {:.3} s, {} binaries",
        t.elapsed().as_secs_f64(),
        enc.milp.num_integer()
    );
    let mut todo: Vec<usize> = (0..tb.lower[k].len())
        .filter(|&i| tb.unstable(k, i))
        .collect();
    let near = |i: usize| {
        let (l, u) = (tb.lower[k][i], tb.upper[k][i]);
        u.min(-l) / (u - l)
    };
    todo.sort_by(|&x, &y| near(x).total_cmp(&near(y)));
    if warm {
        return warm_root(&enc, &tb, k, &todo, per);
    }
    let (mut proved, mut total) = (0, std::time::Duration::ZERO);
    for &i in &todo {
        let (l, u) = (tb.lower[k][i], tb.upper[k][i]);
        let z = &enc.outputs[i];
        // Prove the smaller side empty.
        let e = if u <= -l {
            z.clone()
        } else {
            LinExpr {
                terms: z.terms.iter().map(|&(c, v)| (c, -v)).collect(),
                constant: -z.constant,
            }
        };
        let t = std::time::Instant::now();
        let limits = Limits {
            max_nodes: Some(nodes),
            time: Some(std::time::Duration::from_secs_f64(per)),
            ..Limits::default()
        };
        let out = satisfy(&enc, &[e], 1e-4, &limits).expect("solve");
        let d = t.elapsed();
        total += d;
        let ok = out.outcome.status == parallelepipedonn::milp::model::Status::Infeasible;
        proved += ok as usize;
        println!(
            "neuron {i} [{l:.3}, {u:.3}] near {:.3}: {:?} {} nodes {:.3} s",
            near(i),
            out.outcome.status,
            out.outcome.nodes,
            d.as_secs_f64()
        );
    }
    println!(
        "proved stable {proved} of {} in {:.1} s",
        todo.len(),
        total.as_secs_f64()
    );
}

fn warm_root(enc: &Encoding, tb: &NeuronBounds, k: usize, todo: &[usize], per: f64) {
    use parallelepipedonn::milp::model::{Sense, Status};
    use parallelepipedonn::milp::solver::Lp;
    let mut milp = enc.milp.clone();
    let mut lp = Lp::new(&milp, Sense::Maximise).expect("lp");
    lp.prefer_dual().expect("dual");
    let limits = Limits {
        relaxation: true,
        time: Some(std::time::Duration::from_secs_f64(per)),
        ..Limits::default()
    };
    let t0 = std::time::Instant::now();
    let first = lp.solve(&limits).expect("solve");
    println!(
        "cold first solve {:?} in {:.3} s",
        first.status,
        t0.elapsed().as_secs_f64()
    );
    let mut proved = 0;
    let mut prev: Option<usize> = None;
    for &i in todo {
        let (l, u) = (tb.lower[k][i], tb.upper[k][i]);
        let z = &enc.outputs[i];
        let &(col, coef) = z.terms.first().expect("output column");
        // Wrong side: z >= -tau (prove inactive) or z <= tau (prove active).
        let inactive = u <= -l;
        let tau = 1e-4;
        // z = coef * col + constant.
        let (zlo, zhi) = if inactive {
            (-tau, f64::INFINITY)
        } else {
            (f64::NEG_INFINITY, tau)
        };
        let (mut clo, mut chi) = ((zlo - z.constant) / coef, (zhi - z.constant) / coef);
        if coef < 0.0 {
            std::mem::swap(&mut clo, &mut chi);
        }
        let (olo, ohi) = (milp.col_lb[col], milp.col_ub[col]);
        if let Some(p) = prev.replace(col) {
            lp.set_cost(p, 0.0).expect("cost");
        }
        lp.set_cost(col, if inactive { coef } else { -coef })
            .expect("cost");
        lp.set_bounds(col, clo.max(olo), chi.min(ohi))
            .expect("bounds");
        let t = std::time::Instant::now();
        let mut status = Status::Other(0);
        let mut rounds = 0;
        for round in 0..=10 {
            let out = lp.solve(&limits).expect("solve");
            status = out.status;
            rounds = round;
            let (Status::Optimal, Some(sol)) = (out.status, out.solution) else {
                break;
            };
            let found = parallelepipedonn::milp::cuts::most_violated(&milp, &sol, 1e-5, 100);
            if found.is_empty() || t.elapsed().as_secs_f64() > per {
                break;
            }
            lp.add_rows(&found).expect("rows");
            milp.rows.extend(found);
        }
        lp.set_bounds(col, olo, ohi).expect("bounds");
        let ok = status == Status::Infeasible;
        proved += ok as usize;
        println!(
            "neuron {i} [{l:.3}, {u:.3}]: {status:?} after {rounds} rounds, {} rows, {:.3} s",
            milp.rows.len(),
            t.elapsed().as_secs_f64()
        );
    }
    println!(
        "warm root: proved stable {proved} of {} in {:.1} s",
        todo.len(),
        t0.elapsed().as_secs_f64()
    );
}
