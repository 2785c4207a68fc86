//! Dev probe: LP tightening's cost and effect on one box.
//! `cargo run --release --example probe_tighten -- MODEL INPUT EPS [SECONDS] [nocuts]
//! [rounds=N] [per_round=N] [idle=N] [pair_top=N]` (SECONDS `-`: no limit; the `key=N` options
//! set the cut settings, `tighten::Cuts`, default `rounds=3 per_round=20 idle=6 pair_top=16`;
//! `pair_top=0`: no pair cuts).
use parallelepipedonn::bounds::NeuronBounds;
use parallelepipedonn::milp::tighten::{tighten, Cuts};
use parallelepipedonn::{load_onnx, Hyperbox};

fn main() {
    let a: Vec<String> = std::env::args().collect();
    let net = load_onnx(&a[1]).expect("model");
    let x = parallelepipedonn::io::read_input(&a[2], net.input_size()).expect("input");
    let eps: f64 = a[3].parse().expect("eps");
    let c = net.classify(&x).expect("class");
    let ball = Hyperbox::ball(&x, eps, &Hyperbox::unit(net.input_size()));
    let t = std::time::Instant::now();
    let b = NeuronBounds::symbolic(&net, &ball);
    println!(
        "symbolic: {:.3} s, unstable {}",
        t.elapsed().as_secs_f64(),
        b.unstable_count(&net)
    );
    let worst = |b: &NeuronBounds| {
        (0..net.output_size())
            .filter(|&j| j != c)
            .map(|j| b.margin_upper(&net, c, j, &ball))
            .fold(f64::NEG_INFINITY, f64::max)
    };
    println!("worst margin upper {:.4}", worst(&b));
    let t = std::time::Instant::now();
    let stop_at = a
        .get(4)
        .and_then(|s| s.parse::<f64>().ok())
        .map(|s| std::time::Instant::now() + std::time::Duration::from_secs_f64(s));
    let mut cuts = Cuts::default();
    for arg in a.iter().skip(5) {
        let value = |k: &str| arg.strip_prefix(k).map(|v| v.parse().expect("a count"));
        if arg == "nocuts" {
            cuts = Cuts::none();
        } else if let Some(n) = value("rounds=") {
            cuts.rounds = n;
        } else if let Some(n) = value("per_round=") {
            cuts.per_round = n;
        } else if let Some(n) = value("idle=") {
            cuts.idle = n;
        } else if let Some(n) = value("pair_top=") {
            cuts.pair_top = n;
        } else {
            panic!("unknown option {arg}");
        }
    }
    println!("{cuts:?}");
    let (tb, st) = tighten(&net, &ball, &b, stop_at, cuts);
    println!("tighten: {:.3} s, {:?}", t.elapsed().as_secs_f64(), st);
    println!("worst margin upper {:.4}", worst(&tb));
    for k in 0..net.layers().len() - 1 {
        let u = (0..tb.lower[k].len())
            .filter(|&i| tb.unstable(k, i))
            .count();
        let u0 = (0..b.lower[k].len()).filter(|&i| b.unstable(k, i)).count();
        println!("layer {k}: unstable {u0} -> {u}");
    }
}
