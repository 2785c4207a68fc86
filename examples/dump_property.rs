//! Prints a VNN-LIB query as ppnn understands it, as JSON: the declared variables and the
//! disjuncts of the general question (box and constraints `Σ a x + Σ b y + c <= 0`, `< 0` when
//! strict). Used by `scripts/vnncomp/crosscheck_vnnlib.py` to compare ppnn's reading with the
//! PyPI `vnnlib` parser's.
//!
//! ```sh
//! cargo run --release --example dump_property -- QUERY.vnnlib
//! ```

use parallelepipedonn::property::{read_vnnlib, Kind};
use serde_json::json;

fn main() {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: dump_property QUERY.vnnlib");
        std::process::exit(2);
    };
    let q = match read_vnnlib(&path) {
        Ok(q) => q,
        Err(e) => {
            println!("{}", json!({ "error": e.to_string() }));
            return;
        }
    };
    let vars: Vec<_> = q
        .variables
        .iter()
        .map(|v| {
            json!({
                "name": v.name,
                "kind": match v.kind { Kind::Input => "input", Kind::Hidden => "hidden", Kind::Output => "output" },
                "type": v.element_type,
                "shape": v.shape,
                "offset": v.offset,
            })
        })
        .collect();
    let p = match q.property(q.input_size(), q.output_size()) {
        Ok(p) => p,
        Err(e) => {
            println!("{}", json!({ "variables": vars, "error": e.to_string() }));
            return;
        }
    };
    let disjuncts: Vec<_> = p
        .disjuncts
        .iter()
        .map(|d| {
            let cs: Vec<_> = d
                .constraints
                .iter()
                .map(|c| json!({ "x": c.x, "y": c.y, "constant": c.constant, "strict": c.strict }))
                .collect();
            json!({ "lb": d.region.lb(), "ub": d.region.ub(), "constraints": cs })
        })
        .collect();
    println!(
        "{}",
        json!({ "variables": vars, "n_in": p.n_in, "n_out": p.n_out, "disjuncts": disjuncts })
    );
}
