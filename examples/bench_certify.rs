//! Benchmark of certification algorithms over a directory of inputs: per-input time, oracle
//! calls by method and the certificate's measures (apothem, minimum edge length, non-trivial
//! faces, log10 volume), then median and maximum per algorithm.
//!
//! ```text
//! cargo run --release --example bench_certify -- MODEL INPUT_DIR ALGO[,ALGO...] [key=value...]
//!   keys: delta, margin, radius-limit, max-inputs, query-timeout, timeout
//! cargo run --release --example bench_certify -- data/networks/mnist-784-32-10.onnx \
//!     data/inputs/mnist apothem,c-bu-d delta=0.1
//! ```
//!
//! Inputs run one at a time (the oracle itself solves competing classes in parallel).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use parallelepipedonn::certify::{certify, Algorithm, Params};
use parallelepipedonn::{load_onnx, Hyperbox, MilpOracle, OracleSettings};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 4 {
        eprintln!("usage: bench_certify MODEL INPUT_DIR ALGO[,ALGO...] [key=value...]");
        std::process::exit(2);
    }
    let net = load_onnx(&args[1])?;
    let algos: Vec<(String, Algorithm)> = args[3]
        .split(',')
        .map(|n| {
            Algorithm::from_name(n)
                .map(|a| (n.to_string(), a))
                .ok_or_else(|| format!("unknown algorithm {n}"))
        })
        .collect::<Result<_, _>>()?;
    let mut params = Params::default();
    let mut settings = OracleSettings::default();
    let mut max_inputs = usize::MAX;
    let mut timeout: Option<f64> = None;
    for kv in &args[4..] {
        let (k, v) = kv.split_once('=').ok_or("options are key=value")?;
        match k {
            "delta" => params.delta = v.parse()?,
            "margin" => settings.margin = v.parse()?,
            "radius-limit" => params.radius_limit = v.parse()?,
            "max-inputs" => max_inputs = v.parse()?,
            "query-timeout" => settings.query_timeout = Some(Duration::from_secs_f64(v.parse()?)),
            "timeout" => timeout = Some(v.parse()?),
            _ => return Err(format!("unknown option {k}").into()),
        }
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(&args[2])?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "csv"))
        .collect();
    files.sort();
    let domain = Hyperbox::unit(net.input_size());
    println!(
        "# {} on {} ({} inputs max)",
        args[3],
        args[1],
        max_inputs.min(files.len())
    );
    println!();
    println!("| input | algorithm | status | apothem | min edge | time s | calls | concrete | interval | attack | milp | unknown | MILP s | non-trivial faces | log10 volume |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    let mut times: Vec<Vec<f64>> = vec![Vec::new(); algos.len()];
    let mut done = 0;
    for f in &files {
        if done == max_inputs {
            break;
        }
        let Ok(x) = parallelepipedonn::io::read_input(f, net.input_size()) else {
            continue;
        };
        let Some(class) = net.classify(&x) else {
            continue;
        };
        done += 1;
        for (k, (name, algo)) in algos.iter().enumerate() {
            let start = Instant::now();
            let mut s = settings.clone();
            let mut p = params.clone();
            if let Some(t) = timeout {
                let d = start + Duration::from_secs_f64(t);
                s.deadline = Some(d);
                p.deadline = Some(d);
            }
            let oracle = MilpOracle::new(&net, domain.clone(), s);
            let c = certify(*algo, &oracle, &x, class, &p, None);
            let t = start.elapsed().as_secs_f64();
            times[k].push(t);
            let o = &c.oracle;
            let status = serde_json::to_value(c.status)?;
            println!(
                "| {} | {name} | {} | {} | {} | {t:.3} | {} | {} | {} | {} | {} | {} | {:.3} | {} | {} |",
                f.file_name().unwrap_or_default().to_string_lossy(),
                status.as_str().unwrap_or("?"),
                c.apothem.map_or("-".to_string(), |a| format!("{a:.6}")),
                c.min_edge.map_or("-".to_string(), |a| format!("{a:.6}")),
                o.calls,
                o.by_method.concrete,
                o.by_method.interval,
                o.by_method.attack,
                o.by_method.milp,
                o.unknown,
                o.milp_time_s,
                c.nontrivial_faces.map_or("-".to_string(), |n| n.to_string()),
                c.log10_volume.map_or("-".to_string(), |v| format!("{v:.1}"))
            );
        }
    }
    println!();
    println!("| algorithm | inputs | median s | mean s | max s |");
    println!("|---|---|---|---|---|");
    for ((name, _), mut t) in algos.iter().zip(times) {
        if t.is_empty() {
            continue;
        }
        t.sort_by(f64::total_cmp);
        println!(
            "| {name} | {} | {:.3} | {:.3} | {:.3} |",
            t.len(),
            t[t.len() / 2],
            t.iter().sum::<f64>() / t.len() as f64,
            t[t.len() - 1]
        );
    }
    Ok(())
}
