//! Dev probe: what pair cuts at the nodes (branch and cut) do to one deep question's branch and
//! bound, with the same root bounds: per competitor, status, nodes and time with and without.
//!
//! `cargo run --release --example probe_nodecuts -- MODEL INPUT EPS J|all TIGHTEN_S LIMIT_S`
//! (TIGHTEN_S: seconds of LP tightening first; LIMIT_S: each solve's time limit).

use std::time::{Duration, Instant};

use parallelepipedonn::bounds::NeuronBounds;
use parallelepipedonn::milp::encode::Encoding;
use parallelepipedonn::milp::model::{BabOptions, Limits, Workers};
use parallelepipedonn::milp::query::satisfy;
use parallelepipedonn::milp::tighten::{tighten, Cuts};
use parallelepipedonn::{load_onnx, Hyperbox};

fn main() {
    let a: Vec<String> = std::env::args().collect();
    let net = load_onnx(&a[1]).expect("model");
    let x = parallelepipedonn::io::read_input(&a[2], net.input_size()).expect("input");
    let eps: f64 = a[3].parse().expect("eps");
    let js: Vec<usize> = match a[4].as_str() {
        "all" => (0..net.output_size()).collect(),
        s => vec![s.parse().expect("competitor")],
    };
    let secs: f64 = a[5].parse().expect("tightening seconds");
    let limit: f64 = a[6].parse().expect("time limit");
    let c = net.classify(&x).expect("class");
    let ball = Hyperbox::ball(&x, eps, &Hyperbox::unit(net.input_size()));
    let b0 = NeuronBounds::symbolic(&net, &ball);
    let b = if secs > 0.0 {
        let stop = Some(Instant::now() + Duration::from_secs_f64(secs));
        tighten(&net, &ball, &b0, stop, Cuts::default()).0
    } else {
        b0
    };
    let enc = Encoding::new(&net, &ball, &b);
    for j in js.into_iter().filter(|&j| j != c) {
        for node_cuts in [true, false] {
            let limits = Limits {
                time: Some(Duration::from_secs_f64(limit)),
                bab: BabOptions {
                    node_cuts,
                    workers: Workers::One,
                    ..BabOptions::default()
                },
                ..Limits::default()
            };
            let t = Instant::now();
            // The oracle's question: a point with margin >= -τ.
            let out = satisfy(&enc, &[enc.margin(c, j)], 1e-4, &limits)
                .expect("solve")
                .outcome;
            println!(
                "competitor {j}, node cuts {node_cuts}: {:?}, {} nodes in {:.2} s, bound {:?}",
                out.status,
                out.nodes,
                t.elapsed().as_secs_f64(),
                out.dual_bound
            );
        }
    }
}
