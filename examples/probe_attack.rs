//! Dev probe: how strong must an attack be? Runs the PGD attack with growing effort on one box
//! and prints what it finds. `cargo run --release --example probe_attack -- MODEL INPUT EPS`
use parallelepipedonn::attack::{pgd, PgdSettings};
use parallelepipedonn::{load_onnx, Hyperbox};

fn main() {
    let a: Vec<String> = std::env::args().collect();
    let net = load_onnx(&a[1]).expect("model");
    let x = parallelepipedonn::io::read_input(&a[2], net.input_size()).expect("input");
    let eps: f64 = a[3].parse().expect("eps");
    let c = net.classify(&x).expect("class");
    let ball = Hyperbox::ball(&x, eps, &Hyperbox::unit(net.input_size()));
    for (starts, steps) in [(1, 20), (4, 40), (10, 100), (30, 200)] {
        let t = std::time::Instant::now();
        let s = PgdSettings {
            starts,
            steps,
            seed: 1,
        };
        let (p, v) = pgd(&net, &ball, c, &[], &[], &s, None);
        let y = net.forward(&p);
        println!(
            "starts {starts} steps {steps}: best y_j - y_c = {v:.4} ({:.3} s) class {:?}",
            t.elapsed().as_secs_f64(),
            net.classify(&p)
        );
        let _ = y;
        if v > 0.0 {
            break;
        }
    }
}
