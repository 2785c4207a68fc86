//! Benchmark of certification algorithms over a directory of inputs: per-input time, oracle
//! calls by method and the certificate's measures (apothem, minimum edge length, non-trivial
//! faces, log10 volume), then median and maximum per algorithm.
//!
//! ```text
//! cargo run --release --example bench_certify -- MODEL INPUT_DIR ALGO[,ALGO...] [key=value...]
//!   keys: delta, tolerance (of the exact algorithms), margin, radius-limit, max-inputs,
//!   query-timeout, timeout, profile, slide (0: `maximal` without sliding), influence (0:
//!   `maximal`'s first pass in face order)
//! cargo run --release --example bench_certify -- data/networks/mnist-784-32-10.onnx \
//!     data/inputs/mnist apothem,c-bu-d delta=0.1
//! ```
//!
//! Inputs run one at a time (the oracle itself solves competing classes in parallel).
//! With `profile=1`, a line per input and algorithm splits the questions by outcome and
//! deciding method (count and seconds), to see where the time goes.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use std::collections::BTreeMap;
use std::sync::Mutex;

use parallelepipedonn::certify::{certify, Algorithm, Params};
use parallelepipedonn::oracle::{Extremum, Optimum, OracleStats, Verdict, Witness};
use parallelepipedonn::{
    load_onnx, Hyperbox, MilpOracle, Network, Oracle, OracleSettings, Question,
};

/// An oracle that times every question by outcome and method (`profile=1`).
struct Profiled<'a> {
    inner: &'a dyn Oracle,
    spent: Mutex<BTreeMap<String, (u64, f64)>>,
}

impl Profiled<'_> {
    fn add(&self, key: String, t: f64) {
        let mut m = self.spent.lock().unwrap_or_else(|e| e.into_inner());
        let e = m.entry(key).or_default();
        e.0 += 1;
        e.1 += t;
    }

    fn line(&self) -> String {
        let m = self.spent.lock().unwrap_or_else(|e| e.into_inner());
        m.iter()
            .map(|(k, (n, t))| format!("{k} {n} / {t:.1} s"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl Oracle for Profiled<'_> {
    fn decide(&self, q: &Question) -> Verdict {
        let start = Instant::now();
        let v = self.inner.decide(q);
        let m = v.method().map_or("-".to_string(), |m| m.to_string());
        self.add(format!("{}/{m}", v.name()), start.elapsed().as_secs_f64());
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
    fn stats(&self) -> OracleStats {
        self.inner.stats()
    }
    fn falsify(&self, region: &Hyperbox, class: usize) -> Option<Witness> {
        let start = Instant::now();
        let w = self.inner.falsify(region, class);
        self.add("falsify".to_string(), start.elapsed().as_secs_f64());
        w
    }
    fn sound_by_bounds(&self, region: &Hyperbox, class: usize) -> bool {
        self.inner.sound_by_bounds(region, class)
    }
    fn sound_within(&self, region: &Hyperbox, class: usize, time: Option<Duration>) -> Verdict {
        let start = Instant::now();
        let v = self.inner.sound_within(region, class, time);
        let m = v.method().map_or("-".to_string(), |m| m.to_string());
        self.add(format!("{}/{m}", v.name()), start.elapsed().as_secs_f64());
        v
    }
    fn search_near(
        &self,
        region: &Hyperbox,
        class: usize,
        slack: f64,
        hints: &[Vec<f64>],
    ) -> Option<Vec<f64>> {
        let start = Instant::now();
        let p = self.inner.search_near(region, class, slack, hints);
        let key = if p.is_some() {
            "probe/near"
        } else {
            "probe/none"
        };
        self.add(key.to_string(), start.elapsed().as_secs_f64());
        p
    }
    fn slide(
        &self,
        region: &Hyperbox,
        class: usize,
        slack: f64,
        point: &[f64],
        coord: usize,
        lowest: bool,
    ) -> Option<Vec<f64>> {
        let start = Instant::now();
        let p = self.inner.slide(region, class, slack, point, coord, lowest);
        let key = if p.is_some() {
            "slide/moved"
        } else {
            "slide/none"
        };
        self.add(key.to_string(), start.elapsed().as_secs_f64());
        p
    }
    fn nearer(
        &self,
        center: &[f64],
        region: &Hyperbox,
        class: usize,
        point: &[f64],
    ) -> Option<Witness> {
        let start = Instant::now();
        let w = self.inner.nearer(center, region, class, point);
        let key = if w.is_some() {
            "nearer/moved"
        } else {
            "nearer/none"
        };
        self.add(key.to_string(), start.elapsed().as_secs_f64());
        w
    }
    fn optimise(&self, q: &Extremum) -> Optimum {
        let start = Instant::now();
        let o = self.inner.optimise(q);
        self.add("optimise".to_string(), start.elapsed().as_secs_f64());
        o
    }
}

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
    let mut profile = false;
    for kv in &args[4..] {
        let (k, v) = kv.split_once('=').ok_or("options are key=value")?;
        match k {
            "delta" => params.delta = v.parse()?,
            "tolerance" => params.tolerance = v.parse()?,
            "slide" => settings.slide = v != "0",
            "influence" => params.influence_order = v != "0",
            "margin" => settings.margin = v.parse()?,
            "radius-limit" => params.radius_limit = v.parse()?,
            "max-inputs" => max_inputs = v.parse()?,
            "query-timeout" => settings.query_timeout = Some(Duration::from_secs_f64(v.parse()?)),
            "timeout" => timeout = Some(v.parse()?),
            "profile" => profile = v == "1",
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
            let milp = MilpOracle::new(&net, domain.clone(), s);
            let oracle = Profiled {
                inner: &milp,
                spent: Mutex::new(BTreeMap::new()),
            };
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
            if profile {
                let open = c
                    .faces
                    .as_ref()
                    .map_or(0, |f| f.iter().filter(|f| f.state == "open").count());
                println!(
                    "<!-- profile: {}; open faces {open}; notes: {} -->",
                    oracle.line(),
                    c.notes.join(" / ")
                );
            }
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
