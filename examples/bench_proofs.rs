//! Benchmark of proof files: for each input, the solve time of the question, the time to write
//! its proof, the proof's size and the independent checker's time.
//!
//! ```text
//! cargo run --release --example bench_proofs -- MODEL INPUT_DIR|random:N:SEED MODE [key=value...]
//!   MODE: apothem (the exact apothem certification; the proof is of the ball of radius r_lo)
//!         eps=E[,E...] (VNN-COMP style: the L∞ ball of radius E around each input, one question)
//!         dual=ALGO (a dual certification, e.g. dual=dual or dual=complete-c-d-bu; the proof is
//!         of the dual box's completeness)
//! cargo run --release --example bench_proofs -- vnnlib BENCH_DIR [timeout=SECS]
//!   every instance of BENCH_DIR/instances.csv (VNN-COMP layout): the query's solve time and,
//!   for `unsat`, its property proof (every disjunct refuted), checked against the query file
//!
//!   keys: max-inputs, query-timeout, timeout (per apothem/dual run), margin,
//!         domain-radius=R (the domain D is the L∞ ball of radius R around each input within
//!         [0, 1]^d instead of [0, 1]^d: on the bundled networks the dual box of [0, 1]^d is
//!         the whole domain, whose proof is empty)
//! ```
//!
//! Inputs run one at a time. Proof writing re-solves the question in proof mode (bounds with
//! the checker's rules, our branch and bound recording every leaf), so it is listed apart.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use parallelepipedonn::certify::{certify, Algorithm, Params};
use parallelepipedonn::milp::solver::Limits;
use parallelepipedonn::proof::emit::{prove, prove_sound};
use parallelepipedonn::proof::{sha256_hex, Claim, Proof};
use parallelepipedonn::{check, Hyperbox, MilpOracle, Oracle, OracleSettings, Question, Verdict};

struct Row {
    solve: f64,
    prove: f64,
    bytes: usize,
    check: f64,
    leaves: usize,
    branched: usize,
}

fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("vnnlib") && args.len() >= 3 {
        return vnnlib(&args[2], &args[3..]);
    }
    if args.len() < 4 {
        eprintln!("usage: bench_proofs MODEL INPUT_DIR apothem|eps=E[,E...] [key=value...]");
        std::process::exit(2);
    }
    let bytes = std::fs::read(&args[1])?;
    let sha = sha256_hex(&bytes);
    let net = parallelepipedonn::network::onnx::parse_onnx(&bytes, &args[1])?;
    let mut settings = OracleSettings::default();
    let params = Params::default();
    let mut max_inputs = usize::MAX;
    let mut timeout: Option<f64> = None;
    let mut domain_radius: Option<f64> = None;
    for kv in &args[4..] {
        let (k, v) = kv.split_once('=').ok_or("options are key=value")?;
        match k {
            "max-inputs" => max_inputs = v.parse()?,
            "margin" => settings.margin = v.parse()?,
            "query-timeout" => settings.query_timeout = Some(Duration::from_secs_f64(v.parse()?)),
            "timeout" => timeout = Some(v.parse()?),
            "domain-radius" => domain_radius = Some(v.parse()?),
            _ => return Err(format!("unknown option {k}").into()),
        }
    }
    enum Mode {
        Apothem,
        Eps(f64),
        Dual(String),
    }
    let modes: Vec<Mode> = match args[3].as_str() {
        "apothem" => vec![Mode::Apothem],
        m if m.starts_with("dual=") => vec![Mode::Dual(m["dual=".len()..].to_string())],
        m => m
            .strip_prefix("eps=")
            .ok_or("MODE is apothem, eps=E[,E...] or dual=ALGO")?
            .split(',')
            .map(|e| e.parse::<f64>().map(Mode::Eps))
            .collect::<Result<_, _>>()?,
    };
    // Inputs: the CSV files of a directory, or `random:N:SEED` (N points uniform in [0, 1]^d).
    let inputs: Vec<(String, Vec<f64>)> = match args[2].strip_prefix("random:") {
        Some(spec) => {
            use rand::{Rng, SeedableRng};
            let (n, seed) = spec.split_once(':').ok_or("random:N:SEED")?;
            let mut rng = rand::rngs::StdRng::seed_from_u64(seed.parse()?);
            (0..n.parse::<usize>()?)
                .map(|k| {
                    let x = (0..net.input_size()).map(|_| rng.gen::<f64>()).collect();
                    (format!("random-{k}"), x)
                })
                .collect()
        }
        None => {
            let mut files: Vec<PathBuf> = std::fs::read_dir(&args[2])?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|e| e == "csv"))
                .collect();
            files.sort();
            files
                .iter()
                .map(|f| {
                    let name = f
                        .file_stem()
                        .unwrap_or_default()
                        .to_string_lossy()
                        .to_string();
                    Ok((
                        name,
                        parallelepipedonn::io::read_input(f, net.input_size())?,
                    ))
                })
                .collect::<Result<_, Box<dyn std::error::Error>>>()?
        }
    };
    let inputs = &inputs[..inputs.len().min(max_inputs)];
    let unit = Hyperbox::unit(net.input_size());
    let limits = Limits {
        time: settings.query_timeout,
        ..Limits::default()
    };
    for mode in modes {
        let label = match &mode {
            Mode::Apothem => "apothem".to_string(),
            Mode::Eps(e) => format!("ε = {e}"),
            Mode::Dual(a) => format!("{a} (completeness)"),
        };
        println!("# {label} on {} ({} inputs)", args[1], inputs.len());
        println!("| input | result | solve s | proof s | size KB | check s | refutations by B&B | leaves |");
        println!("|---|---|---|---|---|---|---|---|");
        let mut rows: Vec<Row> = Vec::new();
        let (mut no_proof, mut not_robust) = (0, 0);
        for (name, x) in inputs {
            let (name, x) = (name.clone(), x.clone());
            let Some(c) = net.classify(&x) else { continue };
            let domain = match domain_radius {
                Some(r) => Hyperbox::ball(&x, r, &unit),
                None => unit.clone(),
            };
            let deadline = timeout.map(|t| Instant::now() + Duration::from_secs_f64(t));
            let oracle = MilpOracle::new(
                &net,
                domain.clone(),
                OracleSettings {
                    deadline: deadline.filter(|_| !matches!(mode, Mode::Eps(_))),
                    ..settings.clone()
                },
            );
            let t0 = Instant::now();
            let (region, result) = match &mode {
                Mode::Apothem | Mode::Dual(_) => {
                    let mut p = params.clone();
                    p.deadline = deadline;
                    let algo = match &mode {
                        Mode::Dual(a) => a.as_str(),
                        _ => "apothem",
                    };
                    let algorithm = Algorithm::from_name(algo).ok_or("unknown algorithm")?;
                    let cert = certify(algorithm, &oracle, &x, c, &p, None);
                    if let Mode::Dual(_) = mode {
                        let r = format!("{:?}", cert.status);
                        (cert.region.clone(), r)
                    } else {
                        let r = cert
                            .apothem
                            .map_or("-".to_string(), |a| format!("r = {a:.6}"));
                        (cert.region.clone().filter(|_| cert.apothem.is_some()), r)
                    }
                }
                Mode::Eps(e) => {
                    let b = Hyperbox::ball(&x, *e, &domain);
                    let v = oracle.decide(&Question::Sound {
                        region: &b,
                        class: c,
                    });
                    let r = v.name().to_string();
                    (matches!(v, Verdict::Holds { .. }).then_some(b), r)
                }
            };
            let solve = t0.elapsed().as_secs_f64();
            let Some(region) = region else {
                not_robust += 1;
                println!("| {name} | {result} | {solve:.3} | – | – | – | – | – |");
                continue;
            };
            let t1 = Instant::now();
            let proof = match &mode {
                Mode::Dual(_) => prove(
                    &net,
                    &sha,
                    settings.margin,
                    Claim::complete(&domain, &region, c),
                    Some(&x),
                    &limits,
                ),
                _ => prove_sound(&net, &sha, &region, c, settings.margin, Some(&x), &limits),
            };
            let prove = t1.elapsed().as_secs_f64();
            let proof = match proof {
                Ok(p) => p,
                Err(why) => {
                    no_proof += 1;
                    println!("| {name} | {result} | {solve:.3} | {prove:.3} | no proof: {why} | – | – | – |");
                    continue;
                }
            };
            let text = proof.to_json();
            let t2 = Instant::now();
            let parsed = Proof::from_json(&text, &name)?;
            let verdict = check::check(&net, &bytes, &parsed);
            let check_s = t2.elapsed().as_secs_f64();
            let ok = match verdict {
                Ok(ok) => ok,
                Err(e) => return Err(format!("{name}: the checker rejects the proof: {e}").into()),
            };
            let (leaves, branched) = (ok.leaves, ok.by_branching);
            println!(
                "| {name} | {result} | {solve:.3} | {prove:.3} | {:.1} | {check_s:.3} | {branched} | {leaves} |",
                text.len() as f64 / 1024.0
            );
            rows.push(Row {
                solve,
                prove,
                bytes: text.len(),
                check: check_s,
                leaves,
                branched,
            });
        }
        let col = |f: &dyn Fn(&Row) -> f64| -> (f64, f64) {
            let v: Vec<f64> = rows.iter().map(f).collect();
            (
                median(v.clone()),
                v.iter().cloned().fold(f64::NAN, f64::max),
            )
        };
        let (s_med, s_max) = col(&|r| r.solve);
        let (p_med, p_max) = col(&|r| r.prove);
        let (b_med, b_max) = col(&|r| r.bytes as f64 / 1024.0);
        let (c_med, c_max) = col(&|r| r.check);
        let (l_med, l_max) = col(&|r| r.leaves as f64);
        let faster = rows.iter().filter(|r| r.check < r.solve).count();
        println!();
        println!(
            "summary {label}: {} proofs checked valid ({} needed branching), {no_proof} without proof, {not_robust} not robust/unknown",
            rows.len(),
            rows.iter().filter(|r| r.branched > 0).count()
        );
        println!("| solve s (median / max) | proof s | size KB | check s | leaves | check faster than solve |");
        println!("|---|---|---|---|---|---|");
        println!(
            "| {s_med:.3} / {s_max:.3} | {p_med:.3} / {p_max:.3} | {b_med:.1} / {b_max:.1} | {c_med:.3} / {c_max:.3} | {l_med} / {l_max} | {faster} of {} |",
            rows.len()
        );
        println!();
    }
    Ok(())
}

/// `vnnlib BENCH_DIR`: per instance, the solve, the property proof and its check.
fn vnnlib(dir: &str, opts: &[String]) -> Result<(), Box<dyn std::error::Error>> {
    use parallelepipedonn::property::{read_vnnlib, solve};
    let mut timeout = 60.0;
    for kv in opts {
        match kv.split_once('=') {
            Some(("timeout", v)) => timeout = v.parse()?,
            _ => return Err(format!("unknown option {kv}").into()),
        }
    }
    let dir = PathBuf::from(dir);
    let csv = std::fs::read_to_string(dir.join("instances.csv"))?;
    println!("# VNN-LIB instances of {}", dir.display());
    println!("| instance | answer | solve s | proof s | size KB | check s | disjuncts | refutations by B&B | leaves |");
    println!("|---|---|---|---|---|---|---|---|---|");
    for line in csv.lines().filter(|l| !l.trim().is_empty()) {
        let cols: Vec<&str> = line.split(',').collect();
        let (onnx, query) = (dir.join(cols[0]), dir.join(cols[1]));
        let bytes = std::fs::read(&onnx)?;
        let model = parallelepipedonn::network::onnx::parse_model(&bytes, cols[0])?;
        let net = &model.network;
        let q = read_vnnlib(&query)?;
        let settings = OracleSettings {
            deadline: Some(Instant::now() + Duration::from_secs_f64(timeout)),
            ..OracleSettings::default()
        };
        let t0 = Instant::now();
        let decision = solve::decide(&q, &model, settings)?;
        let solve_s = t0.elapsed().as_secs_f64();
        let name = cols[1];
        if decision.answer != solve::Answer::Unsat {
            println!(
                "| {name} | {} | {solve_s:.3} | – | – | – | – | – | – |",
                decision.answer.word()
            );
            continue;
        }
        let p = q.property(net.input_size(), net.output_size())?;
        let t1 = Instant::now();
        let proof = parallelepipedonn::proof::emit::prove_property(
            net,
            &sha256_hex(&bytes),
            &p,
            parallelepipedonn::oracle::DEFAULT_MARGIN,
            &Limits::default(),
        );
        let prove_s = t1.elapsed().as_secs_f64();
        let proof = match proof {
            Ok(p) => p,
            Err(why) => {
                println!("| {name} | unsat | {solve_s:.3} | {prove_s:.3} | no proof: {why} | – | – | – | – |");
                continue;
            }
        };
        let text = proof.to_json();
        // The check as `ppnn check --property` does it: the query re-read from its file.
        let t2 = Instant::now();
        let parsed = Proof::from_json(&text, name)?;
        let ok = check::check(net, &bytes, &parsed)
            .map_err(|e| format!("{name}: the checker rejects the proof: {e}"))?;
        let file = read_vnnlib(&query)?.property(net.input_size(), net.output_size())?;
        let claim = parallelepipedonn::proof::property_claim(&file);
        let qs = check::claim::questions(&claim, net.output_size());
        check::require_questions(net, &parsed, &qs)
            .map_err(|e| format!("{name}: the proof does not answer its file: {e}"))?;
        let check_s = t2.elapsed().as_secs_f64();
        println!(
            "| {name} | unsat | {solve_s:.3} | {prove_s:.3} | {:.1} | {check_s:.3} | {} | {} | {} |",
            text.len() as f64 / 1024.0,
            p.disjuncts.len(),
            ok.by_branching,
            ok.leaves
        );
    }
    Ok(())
}
