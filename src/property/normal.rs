//! A query's normal form: the assertions' disjunctive normal form, each disjunct a box (its
//! single-input bounds, rounded outward) and its constraints — the general [`Property`].

use super::{
    Atom, Constraint, Dialect, Disjunct, Formula, Kind, Property, PropertyError, Query, Rel,
};
use crate::region::Hyperbox;

/// Most disjuncts a property may expand to (inputs' and outputs' disjunctions multiplied out).
/// Each is one MILP; a formula that would expand further is refused with this number.
pub const MAX_DISJUNCTS: usize = 10_000;
/// Most literals all disjuncts together may hold once multiplied out: a conjunction of a wide
/// `or` with many other conjuncts copies those conjuncts into every disjunct, and this bounds
/// the memory that takes (about 400 MB) with one clear message instead of an abort.
const MAX_LITERALS: usize = 1 << 24;

/// One literal of the normal form: `sign * expr (< or <=) 0`.
#[derive(Clone, Copy)]
struct Literal<'q> {
    atom: &'q Atom,
    sign: f64,
    strict: bool,
}

/// Disjunctive normal form, refusing more than [`MAX_DISJUNCTS`] disjuncts.
fn dnf<'q>(f: &'q Formula, path: &str) -> Result<Vec<Vec<Literal<'q>>>, PropertyError> {
    let too_many = || {
        PropertyError::Unsupported {
        path: path.to_string(),
        message: format!(
            "the property expands to more than {MAX_DISJUNCTS} disjuncts (one MILP each) or more than {MAX_LITERALS} literals in all; split it into several queries"
        ),
    }
    };
    Ok(match f {
        Formula::Atom(a) => match a.rel {
            Rel::Le | Rel::Lt => vec![vec![Literal {
                atom: a,
                sign: 1.0,
                strict: a.rel == Rel::Lt,
            }]],
            Rel::Eq => vec![vec![
                Literal {
                    atom: a,
                    sign: 1.0,
                    strict: false,
                },
                Literal {
                    atom: a,
                    sign: -1.0,
                    strict: false,
                },
            ]],
            Rel::Ne => vec![
                vec![Literal {
                    atom: a,
                    sign: 1.0,
                    strict: true,
                }],
                vec![Literal {
                    atom: a,
                    sign: -1.0,
                    strict: true,
                }],
            ],
        },
        Formula::Or(items) => {
            let mut out = Vec::new();
            for it in items {
                out.extend(dnf(it, path)?);
                if out.len() > MAX_DISJUNCTS {
                    return Err(too_many());
                }
            }
            out
        }
        Formula::And(items) => {
            let mut out: Vec<Vec<Literal>> = vec![Vec::new()];
            for it in items {
                let d = dnf(it, path)?;
                if out.len().saturating_mul(d.len()) > MAX_DISJUNCTS {
                    return Err(too_many());
                }
                if let [only] = d.as_slice() {
                    // One disjunct (the common case: one assert per bound): extend in place.
                    // Copying every list here made N asserts cost N²/2 literal copies.
                    for a in &mut out {
                        a.extend_from_slice(only);
                    }
                } else {
                    let mut next = Vec::with_capacity(out.len() * d.len());
                    for a in &out {
                        for b in &d {
                            let mut c = a.clone();
                            c.extend_from_slice(b);
                            next.push(c);
                        }
                    }
                    out = next;
                }
                if out.iter().map(Vec::len).sum::<usize>() > MAX_LITERALS {
                    return Err(too_many());
                }
            }
            out
        }
    })
}

/// Outward rounding of a quotient bound: `-c / a` widened by one unit in the last place unless
/// the division is exact by construction (`|a| = 1`).
fn bound_of(c: f64, a: f64, upper: bool) -> f64 {
    let q = -c / a;
    if a.abs() == 1.0 {
        q
    } else if upper {
        q.next_up()
    } else {
        q.next_down()
    }
}

pub(super) fn to_property(q: &Query, n_in: usize, n_out: usize) -> Result<Property, PropertyError> {
    let path = &q.path;
    let unsupported = |message: String| PropertyError::Unsupported {
        path: path.clone(),
        message,
    };
    if q.networks.len() > 1 {
        return Err(unsupported(format!(
            "the query declares {} networks; ppnn supports one network per query (theory SNET)",
            q.networks.len()
        )));
    }
    if q.input_size() != n_in || q.output_size() != n_out {
        return Err(unsupported(format!(
            "the query declares {} input and {} output elements but the network has {n_in} inputs and {n_out} outputs",
            q.input_size(),
            q.output_size()
        )));
    }
    let conj = Formula::And(q.assertions.clone());
    let disjuncts = dnf(&conj, path)?;
    let mut out = Vec::with_capacity(disjuncts.len());
    'next: for lits in disjuncts {
        let mut lb = vec![f64::NEG_INFINITY; n_in];
        let mut ub = vec![f64::INFINITY; n_in];
        let mut constraints = Vec::with_capacity(lits.len());
        for l in lits {
            let mut x: Vec<(usize, f64)> = Vec::new();
            let mut y: Vec<(usize, f64)> = Vec::new();
            for &(v, i, c) in &l.atom.expr.terms {
                let var = &q.variables[v];
                let (list, k) = match var.kind {
                    Kind::Input => (&mut x, var.offset + i),
                    Kind::Output => (&mut y, var.offset + i),
                    Kind::Hidden => {
                        return Err(unsupported(format!(
                            "line {}: the hidden node '{}' is constrained; hidden-node theory H is not supported (only NH)",
                            l.atom.line, var.name
                        )))
                    }
                };
                match list.iter_mut().find(|(j, _)| *j == k) {
                    Some(t) => t.1 += l.sign * c,
                    None => list.push((k, l.sign * c)),
                }
            }
            x.retain(|t| t.1 != 0.0);
            y.retain(|t| t.1 != 0.0);
            if x.iter().chain(&y).any(|t| !t.1.is_finite()) || !l.atom.expr.constant.is_finite() {
                return Err(unsupported(format!(
                    "line {}: a coefficient overflows double precision",
                    l.atom.line
                )));
            }
            let c = Constraint {
                x,
                y,
                constant: l.sign * l.atom.expr.constant,
                strict: l.strict,
            };
            if c.x.is_empty() && c.y.is_empty() {
                // A constant comparison: true drops out, false drops the disjunct.
                if c.holds(&[], &[]) {
                    continue;
                }
                continue 'next;
            }
            if c.is_bound() {
                let (i, a) = c.x[0];
                if a > 0.0 {
                    ub[i] = ub[i].min(bound_of(c.constant, a, true));
                } else {
                    lb[i] = lb[i].max(bound_of(c.constant, a, false));
                }
            }
            constraints.push(c);
        }
        if (0..n_in).any(|i| lb[i] > ub[i]) {
            continue; // empty disjunct
        }
        if let Some(i) = (0..n_in).find(|&i| !lb[i].is_finite() || !ub[i].is_finite()) {
            let name = q
                .of_kind(Kind::Input)
                .find(|v| i >= v.offset && i < v.offset + v.numel())
                .map(|v| match q.dialect {
                    Dialect::V1 => format!("X_{i}"),
                    Dialect::V2 => format!("{}[{}] (flat index)", v.name, i - v.offset),
                })
                .unwrap_or_else(|| format!("input {i}"));
            return Err(unsupported(format!(
                "input {name} has no {} bound in disjunct {}: ppnn needs every input bounded (an exact MILP needs finite big-M constants)",
                if lb[i].is_finite() { "upper" } else { "lower" },
                out.len() + 1
            )));
        }
        let region = Hyperbox::new(lb, ub).map_err(|e| unsupported(e.to_string()))?;
        out.push(Disjunct {
            region,
            constraints,
        });
    }
    // VNN-COMP replays witnesses in float32; a 2.0 query opts out by declaring its inputs
    // `real` (or float64).
    let f32_inputs = q.dialect == Dialect::V1
        || q.of_kind(Kind::Input)
            .any(|v| !matches!(v.element_type.as_str(), "real" | "float64"));
    Ok(Property {
        n_in,
        n_out,
        disjuncts: out,
        f32_inputs,
    })
}
