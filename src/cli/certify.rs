//! `certify`: one certification of one input, printed or written as files.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::Args;

use super::*;

#[derive(Args, Debug)]
pub(super) struct CertifyArgs {
    /// ONNX model file.
    model: PathBuf,
    /// Input file x*.
    input: PathBuf,
    /// Algorithm (see `--algo help`).
    #[arg(long, value_name = "NAME", default_value = "apothem")]
    algo: String,
    /// The class to certify (default: the class of x*; must equal it).
    #[arg(long, value_name = "C")]
    class: Option<usize>,
    #[command(flatten)]
    algo_args: AlgoArgs,
    #[command(flatten)]
    oracle: OracleArgs,
    /// Write NAME_lb.csv, NAME_ub.csv (in the input's layout) and NAME.json into DIR.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Base name of the output files (default: the input file's stem).
    #[arg(long, value_name = "NAME", requires = "out")]
    name: Option<String>,
    /// With --out: also write PNG pictures of x*, lb and ub (image-shaped inputs).
    #[arg(long, requires = "out")]
    images: bool,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
    /// With --json: add per-face states and the counterexample.
    #[arg(long)]
    verbose: bool,
    /// Write a proof of the final box (for `apothem`: of the ball of radius r_lo) for
    /// `ppnn check` to this file.
    #[arg(long, value_name = "FILE")]
    proof: Option<PathBuf>,
}

/// A spinner on stderr that appears once a run has taken more than a second, when stdout is a
/// terminal.
struct Spinner {
    start: Instant,
    enabled: bool,
    bar: std::sync::Mutex<Option<indicatif::ProgressBar>>,
}

impl Spinner {
    fn new(enabled: bool) -> Self {
        Spinner {
            start: Instant::now(),
            enabled: enabled && std::io::IsTerminal::is_terminal(&std::io::stdout()),
            bar: std::sync::Mutex::new(None),
        }
    }
    fn finish(&self) {
        if let Some(b) = self.bar.lock().unwrap_or_else(|e| e.into_inner()).take() {
            b.finish_and_clear();
        }
    }
}

impl Progress for Spinner {
    fn update(&self, message: &str) {
        // Diagnostics: every step of the search, timed, where no terminal shows the spinner.
        if std::env::var_os("PPNN_LOG_PROGRESS").is_some() {
            eprintln!(
                "[progress {:.3} s] {message}",
                self.start.elapsed().as_secs_f64()
            );
        }
        if !self.enabled || self.start.elapsed() < Duration::from_secs(1) {
            return;
        }
        let mut bar = self.bar.lock().unwrap_or_else(|e| e.into_inner());
        let b = bar.get_or_insert_with(|| {
            let b = indicatif::ProgressBar::new_spinner();
            b.enable_steady_tick(Duration::from_millis(120));
            b
        });
        b.set_message(message.to_string());
    }
}

/// The human summary of a certificate.
pub fn summary(c: &Certificate) -> String {
    let mut out = String::new();
    let status = serde_json::to_value(c.status)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    out.push_str(&format!(
        "class {}, algorithm {}: {status}\n",
        c.class, c.algorithm
    ));
    if let Some(r) = &c.region {
        match (c.apothem, c.apothem_upper) {
            (Some(a), Some(u)) => out.push_str(&format!(
                "apothem {a:.9} (nearest confirmed counterexample at {u:.9})\n"
            )),
            (Some(a), None) => out.push_str(&format!("apothem {a:.9}\n")),
            (None, _) => out.push_str("apothem: every face lies on the domain's boundary\n"),
        }
        if let Some(cr) = c.cyclic_radius {
            out.push_str(&format!("cyclic radius {cr:.9}\n"));
        }
        out.push_str(&format!(
            "min edge length {:.9}, non-trivial faces {} of {}, log10 volume {:.3}\n",
            r.min_edge(),
            c.nontrivial_faces.unwrap_or(0),
            2 * r.dim(),
            r.log10_volume()
        ));
    }
    if let Some(faces) = &c.faces {
        let count = |st: &str| faces.iter().filter(|f| f.state == st).count();
        out.push_str(&format!(
            "faces: {} at the bound, {} blocked by a counterexample, {} open\n",
            count("domain"),
            count("blocked"),
            count("open")
        ));
    }
    let s = &c.oracle;
    out.push_str(&format!(
        "oracle: {} calls (concrete {}, interval {}, attack {}, milp {}, unknown {}), {} MILP solves in {:.3} s{}\n",
        s.calls,
        s.by_method.concrete,
        s.by_method.interval,
        s.by_method.attack,
        s.by_method.milp,
        s.unknown,
        s.milp_solves,
        s.milp_time_s,
        super::tightening_note(s)
    ));
    out.push_str(&format!(
        "safety margin τ = {:e}; total time {:.3} s\n",
        c.margin, c.time_s
    ));
    for n in &c.notes {
        out.push_str(&format!("note: {n}\n"));
    }
    out
}

pub(super) fn certify(args: CertifyArgs) -> Result<i32> {
    let start = Instant::now();
    let algorithm = algorithm_from(&args.algo)?;
    let net = load_model(&args.model)?;
    let input = load_input(&args.input, &net)?;
    let x = &input.values;
    let domain = domain_from(&args.oracle, &net, x, &args.input)?;
    let settings = settings_from(&args.oracle, start)?;
    let params = params_from(&args.algo_args, &args.oracle, &settings)?;
    let class = resolve_class(&net, x, args.class, &args.input)?;
    let name = match &args.name {
        Some(n) => n.clone(),
        None => args
            .input
            .file_stem()
            .map(|s| s.to_string_lossy().to_string())
            .unwrap_or_else(|| "certificate".to_string()),
    };
    let oracle = MilpOracle::new(&net, domain.clone(), settings);
    let spinner = Spinner::new(!args.json);
    let cert = crate::certify::certify(algorithm, &oracle, x, class, &params, Some(&spinner));
    spinner.finish();
    let model_s = args.model.display().to_string();
    let input_s = args.input.display().to_string();
    let json = cert.to_json(&model_s, &input_s, args.verbose);
    if let Some(dir) = &args.out {
        let mut files = vec![(
            format!("{name}.json"),
            serde_json::to_vec_pretty(&cert.to_json(&model_s, &input_s, true))?,
        )];
        if let Some(r) = &cert.region {
            files.push((
                format!("{name}_lb.csv"),
                format_rows(r.lb(), &input.rows).into_bytes(),
            ));
            files.push((
                format!("{name}_ub.csv"),
                format_rows(r.ub(), &input.rows).into_bytes(),
            ));
            if args.images {
                match crate::io::image_shape(&input.rows) {
                    Some(shape) => {
                        let (lo, hi) = (
                            domain.lb().iter().cloned().fold(f64::INFINITY, f64::min),
                            domain.ub().iter().cloned().fold(f64::NEG_INFINITY, f64::max),
                        );
                        for (suffix, v) in [("x", x.as_slice()), ("lb", r.lb()), ("ub", r.ub())] {
                            let file = format!("{name}_{suffix}.png");
                            files.push((file.clone(), crate::io::png_bytes(v, shape, lo, hi, &file)?));
                        }
                    }
                    None => eprintln!(
                        "warning: input '{}' is not image-shaped (rows of equal length); no pictures written",
                        args.input.display()
                    ),
                }
            }
        }
        write_files(dir, &files)
            .with_context(|| format!("writing results into '{}'", dir.display()))?;
    }
    if args.json {
        println!("{json}");
    } else {
        print!("{}", summary(&cert));
        if let Some(dir) = &args.out {
            println!("results written to {}/{name}*", dir.display());
        }
    }
    if let Some(path) = &args.proof {
        let proof = prove_certificate(&args.model, &net, &cert, &domain, x, oracle.settings())?;
        write_proof(path, &proof)?;
        if !args.json {
            println!("proof written to {}", path.display());
        }
    }
    Ok(0)
}

/// The proof of a certificate's final box: a sound box, or a dual box's completeness.
pub fn prove_certificate(
    model: &std::path::Path,
    net: &Network,
    cert: &Certificate,
    domain: &Hyperbox,
    x: &[f64],
    settings: &OracleSettings,
) -> Result<std::result::Result<crate::proof::Proof, String>> {
    use crate::certificate::{Kind, Status};
    let Some(region) = cert
        .region
        .as_ref()
        .filter(|_| cert.status != Status::NotRobustAtInput)
    else {
        bail!("no box was certified, so there is nothing to prove");
    };
    let limits = crate::milp::solver::Limits {
        time: settings.query_timeout,
        ..Default::default()
    };
    let sha = model_sha256(model)?;
    if cert.kind == Kind::Complete {
        return Ok(crate::proof::emit::prove(
            net,
            &sha,
            cert.margin,
            crate::proof::Claim::complete(domain, region, cert.class),
            Some(x),
            &limits,
        ));
    }
    let Some(region) = region.intersect(domain) else {
        bail!("the certified box does not meet the domain");
    };
    Ok(crate::proof::emit::prove_sound(
        net,
        &sha,
        &region,
        cert.class,
        cert.margin,
        Some(x),
        &limits,
    ))
}
