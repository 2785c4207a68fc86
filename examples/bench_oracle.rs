//! Benchmark of the oracle cascade: per-question time by deciding method at several radii, the
//! share of questions decided without a MILP, and per-class vs disjunctive MILP formulations.
//!
//! ```text
//! cargo run --release --example bench_oracle -- MODEL INPUT_DIR [N_INPUTS] [RADII]
//! cargo run --release --example bench_oracle -- ../shared/reference/mnist_nn-32.onnx \
//!     ../shared/reference/mnist-inputs 10 0.005,0.01,0.02,0.05,0.1
//! ```

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

use parallelepipedonn::oracle::MilpStrategy;
use parallelepipedonn::{load_onnx, Hyperbox, MilpOracle, Oracle, OracleSettings, Question};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        eprintln!("usage: bench_oracle MODEL INPUT_DIR [N_INPUTS] [RADII]");
        std::process::exit(2);
    }
    let net = load_onnx(&args[1])?;
    let n: usize = args.get(3).map(|s| s.parse()).transpose()?.unwrap_or(10);
    let radii: Vec<f64> = args
        .get(4)
        .map(|s| s.split(',').map(|r| r.parse()).collect::<Result<_, _>>())
        .transpose()?
        .unwrap_or_else(|| vec![0.005, 0.01, 0.02, 0.05, 0.1]);
    // Inputs: the first input of each class (D-1.csv), then D-2, … up to N.
    let mut files: Vec<PathBuf> = std::fs::read_dir(&args[2])?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "csv"))
        .collect();
    files.sort_by_key(|p| {
        let s = p
            .file_stem()
            .unwrap_or_default()
            .to_string_lossy()
            .to_string();
        let (c, k) = s.split_once('-').unwrap_or((&s, "0"));
        (k.to_string(), c.to_string())
    });
    let mut inputs = Vec::new();
    for f in files {
        if inputs.len() == n {
            break;
        }
        if let Ok(x) = parallelepipedonn::io::read_input(&f, net.input_size()) {
            if let Some(c) = net.classify(&x) {
                inputs.push((f, x, c));
            }
        }
    }
    let d = Hyperbox::unit(net.input_size());
    println!(
        "network {} ({} inputs), {} inputs, radii {:?}",
        args[1],
        net.input_size(),
        inputs.len(),
        radii
    );
    println!();
    println!("## Cascade (default settings): questions and time per question by deciding method");
    println!();
    println!("| radius | robust | violated | unknown | concrete | interval | attack | milp | no-MILP share | mean ms (milp) | max ms | total s |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|");
    let mut overall: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for &r in &radii {
        let mut verdicts = [0usize; 3];
        let mut times: BTreeMap<String, Vec<f64>> = BTreeMap::new();
        let t0 = Instant::now();
        for (_, x, c) in &inputs {
            let oracle = MilpOracle::new(&net, d.clone(), OracleSettings::default());
            let b = Hyperbox::ball(x, r, &d);
            let v = oracle.decide(&Question::Sound {
                region: &b,
                class: *c,
            });
            verdicts[match v.name() {
                "robust" => 0,
                "violated" => 1,
                _ => 2,
            }] += 1;
            let m = v.method().map_or("unknown".to_string(), |m| m.to_string());
            times
                .entry(m.clone())
                .or_default()
                .push(v.time().as_secs_f64() * 1e3);
            overall
                .entry(m)
                .or_default()
                .push(v.time().as_secs_f64() * 1e3);
        }
        let count = |k: &str| times.get(k).map_or(0, |v| v.len());
        let total = inputs.len();
        let no_milp = total - count("milp") - count("unknown");
        let milp_mean = times
            .get("milp")
            .map_or(0.0, |v| v.iter().sum::<f64>() / v.len() as f64);
        let max = times.values().flatten().fold(0.0f64, |a, &b| a.max(b));
        println!(
            "| {r} | {} | {} | {} | {} | {} | {} | {} | {:.0}% | {:.1} | {:.1} | {:.2} |",
            verdicts[0],
            verdicts[1],
            verdicts[2],
            count("concrete"),
            count("interval"),
            count("attack"),
            count("milp"),
            100.0 * no_milp as f64 / total as f64,
            milp_mean,
            max,
            t0.elapsed().as_secs_f64()
        );
    }
    println!();
    println!("Time per question by method over all radii (ms): ");
    println!();
    println!("| method | questions | median | mean | max |");
    println!("|---|---|---|---|---|");
    for (m, mut v) in overall {
        v.sort_by(f64::total_cmp);
        println!(
            "| {m} | {} | {:.2} | {:.2} | {:.2} |",
            v.len(),
            v[v.len() / 2],
            v.iter().sum::<f64>() / v.len() as f64,
            v[v.len() - 1]
        );
    }
    println!();
    println!("## MILP formulations (attack off, so more questions reach the MILP)");
    println!();
    println!(
        "| strategy | questions | robust | violated | unknown | MILP solves | total s | MILP s |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    let mut answers: Vec<Vec<&'static str>> = Vec::new();
    for (name, strategy) in [
        ("per-class (parallel)", MilpStrategy::PerClass),
        ("disjunctive", MilpStrategy::Disjunctive),
    ] {
        let settings = OracleSettings {
            attack: None,
            strategy,
            ..OracleSettings::default()
        };
        let mut verdicts = [0usize; 3];
        let mut solves = 0;
        let mut milp_s = 0.0;
        let mut names = Vec::new();
        let t0 = Instant::now();
        for &r in &radii {
            for (_, x, c) in &inputs {
                let oracle = MilpOracle::new(&net, d.clone(), settings.clone());
                let b = Hyperbox::ball(x, r, &d);
                let v = oracle.decide(&Question::Sound {
                    region: &b,
                    class: *c,
                });
                names.push(v.name());
                verdicts[match v.name() {
                    "robust" => 0,
                    "violated" => 1,
                    _ => 2,
                }] += 1;
                let s = oracle.stats();
                solves += s.milp_solves;
                milp_s += s.milp_time_s;
            }
        }
        println!(
            "| {name} | {} | {} | {} | {} | {solves} | {:.2} | {:.2} |",
            names.len(),
            verdicts[0],
            verdicts[1],
            verdicts[2],
            t0.elapsed().as_secs_f64(),
            milp_s
        );
        answers.push(names);
    }
    let disagree = answers[0]
        .iter()
        .zip(&answers[1])
        .filter(|(a, b)| a != b && **a != "unknown" && **b != "unknown")
        .count();
    println!();
    println!("decided answers that differ between formulations: {disagree}");
    Ok(())
}
