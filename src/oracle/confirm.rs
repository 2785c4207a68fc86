//! Re-checking a property's witness before it is reported: in its box, every constraint of a
//! disjunct holding exactly (zero tolerance, strict ones strictly), in f64 and in f32 (ONNX
//! computes in f32, so a point that only satisfies the property in f64 is not a counterexample
//! anyone else could reproduce). For float32 inputs the point is first rounded to float32 values
//! inside its box, so that what is printed is exactly what was checked.
//!
//! Why apart from the cascade in `property.rs`: every stage that produces a point (memory,
//! attacks, MILPs, the witness searches of the standard CLI) ends here, and the rule is the
//! same whatever found the point.

use super::Witness;
use crate::network::{margin_of, Network};
use crate::property::Property;
use crate::region::Hyperbox;

/// Re-checks `x` against `p`: a witness when some disjunct holds exactly at `x` in f64 and
/// some disjunct holds in f32 (the network evaluated in f32). With `class`, the witness reports
/// the classification margin and competitor; otherwise `margin` is minus the satisfied
/// disjunct's satisfaction (`<= 0`) and `competitor` that disjunct's index.
pub fn confirm(net: &Network, p: &Property, class: Option<usize>, x: &[f64]) -> Option<Witness> {
    if x.iter().any(|v| !v.is_finite()) {
        return None;
    }
    if p.f32_inputs {
        let d = p
            .disjuncts
            .iter()
            .find(|d| d.region.contains(x))
            .unwrap_or(p.disjuncts.first()?);
        return f32_candidates(x, &d.region)
            .into_iter()
            .find_map(|c| confirm_exact(net, p, class, &c));
    }
    confirm_exact(net, p, class, x)
}

fn confirm_exact(net: &Network, p: &Property, class: Option<usize>, x: &[f64]) -> Option<Witness> {
    let logits = net.forward(x);
    let logits_f32 = net.forward_f32(x);
    let y32: Vec<f64> = logits_f32.iter().map(|&v| v as f64).collect();
    let d64 = p.satisfied_by(x, &logits)?;
    let d32 = p.satisfied_by(x, &y32)?;
    let (margin, margin_f32, competitor) = match class {
        Some(c) => {
            let (m, j) = margin_of(&logits, c);
            (m, margin_of(&logits_f32, c).0, j)
        }
        None => (
            -p.disjuncts[d64].slack(x, &logits).min(f64::MAX),
            -p.disjuncts[d32].slack(x, &y32).min(f64::MAX),
            d64,
        ),
    };
    Some(Witness {
        x: x.to_vec(),
        logits,
        logits_f32,
        margin,
        margin_f32,
        competitor,
    })
}

/// `x` as float32 values inside `region`: rounded to nearest, then moved inward by one float32
/// step where rounding left the box; then the same after snapping coordinates that lie within
/// a hair of a bound onto it, then points a little towards the centre (strict constraints on
/// the boundary). Empty when some coordinate's interval holds no float32 value.
fn f32_candidates(x: &[f64], region: &Hyperbox) -> Vec<Vec<f64>> {
    let round = |x: &[f64]| -> Option<Vec<f64>> {
        x.iter()
            .enumerate()
            .map(|(i, &v)| {
                let (lo, hi) = (region.lb()[i], region.ub()[i]);
                let mut r = v.clamp(lo, hi) as f32;
                if (r as f64) < lo {
                    r = r.next_up();
                }
                if (r as f64) > hi {
                    r = r.next_down();
                }
                ((r as f64) >= lo && (r as f64) <= hi).then_some(r as f64)
            })
            .collect()
    };
    let centre = region.center();
    let snapped: Vec<f64> = x
        .iter()
        .enumerate()
        .map(|(i, &v)| {
            let (lo, hi) = (region.lb()[i], region.ub()[i]);
            let tol = 1e-7 * (hi - lo) + 1e-9;
            if (v - lo).abs() <= tol {
                lo
            } else if (v - hi).abs() <= tol {
                hi
            } else {
                v
            }
        })
        .collect();
    let mut out: Vec<Vec<f64>> = Vec::new();
    let mut push = |c: Option<Vec<f64>>| {
        if let Some(c) = c {
            if !out.contains(&c) {
                out.push(c);
            }
        }
    };
    push(round(x));
    push(round(&snapped));
    for t in [1e-6, 1e-4, 1e-2] {
        let y: Vec<f64> = x
            .iter()
            .zip(&centre)
            .map(|(&a, &c)| a + t * (c - a))
            .collect();
        push(round(&y));
    }
    out
}
