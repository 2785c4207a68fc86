//! Rigorous LP bounds from approximate duals (Neumaier & Shcherbina, "Safe bounds in linear and
//! mixed-integer linear programming", 2004).
//!
//! A solver's reported optimum is not a proof: it is computed in floating point with
//! tolerances, and a bound taken from it can cut off real behaviour (MIPVerify's LP tightening
//! once reported 0.999 for a true 1.0 this way). What *is* a proof is weak duality with the
//! multipliers written out: for any `y`, over `L <= Ax <= U`, `l <= x <= u`,
//!
//! `cᵀx = yᵀ(Ax) + (c − Aᵀy)ᵀx <= Σ_r max(y_r L_r, y_r U_r) + Σ_j max(r_j l_j, r_j u_j)`
//!
//! with `r = c − Aᵀy`. Every column of our encodings is bounded, so the bound is finite for any
//! `y`; the solver's duals only make it tight. The sums are evaluated in floating point and then
//! widened by a rigorous bound on their rounding error, so the result is an upper bound of the
//! real LP optimum, hence of every real point's objective.

use super::solver::Milp;

/// γ_n-style widening of a floating-point sum of `n` terms with absolute values summing to
/// `abs` (plus a tiny absolute term for underflow).
fn widen(n: usize, abs: f64) -> f64 {
    (n as f64 + 2.0) * f64::EPSILON * abs * 1.01 + 1e-300
}

/// An upper bound, valid in real arithmetic, of `max Σ_j cost[j] x_j` over the LP relaxation of
/// `milp` (its rows and column bounds; integrality ignored), from row multipliers `duals`
/// (one per row, any values: the bound is valid whatever they are). `None` when a column with a
/// non-zero reduced cost is unbounded on the side that matters, or a value is not finite.
pub fn upper_bound(milp: &Milp, cost: &[(usize, f64)], duals: &[f64]) -> Option<f64> {
    let ncol = milp.num_cols();
    // Multipliers pointing at an infinite row side contribute nothing valid: drop them.
    let y: Vec<f64> = milp
        .rows
        .iter()
        .zip(duals)
        .map(|(r, &y)| {
            if !y.is_finite() || (y > 0.0 && !r.ub.is_finite()) || (y < 0.0 && !r.lb.is_finite()) {
                0.0
            } else {
                y
            }
        })
        .collect();
    // r = c − Aᵀy, with |c| + Σ|A y| per column to bound its rounding error.
    let mut red = vec![0.0; ncol];
    let mut abs = vec![0.0; ncol];
    let mut count = vec![1usize; ncol];
    for &(j, c) in cost {
        red[j] += c;
        abs[j] += c.abs();
    }
    for (r, &yr) in milp.rows.iter().zip(&y) {
        if yr == 0.0 {
            continue;
        }
        for &(j, a) in &r.terms {
            let t = a * yr;
            red[j] -= t;
            abs[j] += t.abs();
            count[j] += 1;
        }
    }
    let mut total = 0.0;
    let mut total_abs = 0.0;
    let mut terms = 0usize;
    for (r, &yr) in milp.rows.iter().zip(&y) {
        if yr == 0.0 {
            continue;
        }
        let t = if yr > 0.0 { yr * r.ub } else { yr * r.lb };
        total += t;
        total_abs += t.abs();
        terms += 1;
    }
    for j in 0..ncol {
        let e = widen(count[j], abs[j]);
        let (lo, hi) = (red[j] - e, red[j] + e);
        let (l, u) = (milp.col_lb[j], milp.col_ub[j]);
        if lo == 0.0 && hi == 0.0 {
            continue;
        }
        // max of r·x over r in [lo, hi], x in [l, u]: at a corner; an infinite bound matters
        // only where the reduced cost can push towards it.
        let mut best = f64::NEG_INFINITY;
        for rr in [lo, hi] {
            for x in [l, u] {
                let v = if rr == 0.0 { 0.0 } else { rr * x };
                if v.is_nan() {
                    return None;
                }
                best = best.max(v);
            }
        }
        if !best.is_finite() {
            return None;
        }
        total += best;
        total_abs += best.abs();
        terms += 1;
    }
    let bound = total + widen(terms, total_abs);
    bound.is_finite().then_some(bound)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// max x + y, x + y <= 1.5, x - y in [-0.25, 0.25], x, y in [0, 1].
    fn lp() -> Milp {
        let mut m = Milp::default();
        let x = m.add_col(0.0, 1.0, false);
        let y = m.add_col(0.0, 1.0, false);
        m.add_row(f64::NEG_INFINITY, 1.5, vec![(x, 1.0), (y, 1.0)]);
        m.add_row(-0.25, 0.25, vec![(x, 1.0), (y, -1.0)]);
        m
    }

    #[test]
    fn exact_duals_give_the_optimum_and_any_duals_a_valid_bound() {
        let m = lp();
        let cost = [(0, 1.0), (1, 1.0)];
        // The optimal dual: y = (1, 0) gives 1.5.
        let b = upper_bound(&m, &cost, &[1.0, 0.0]).unwrap();
        assert!((b - 1.5).abs() < 1e-12 && b >= 1.5);
        // Zero duals: the column bounds alone, 2.
        let b0 = upper_bound(&m, &cost, &[0.0, 0.0]).unwrap();
        assert!((b0 - 2.0).abs() < 1e-12);
        // A wrong-sign multiplier on an infinite side is dropped, not trusted.
        let bn = upper_bound(&m, &cost, &[-3.0, 0.0]).unwrap();
        assert!(bn >= 1.5);
        // Random multipliers: always at least the true optimum.
        let mut s = 7u64;
        for _ in 0..1000 {
            let mut r = || {
                s = s.wrapping_mul(6364136223846793005).wrapping_add(1);
                ((s >> 11) as f64 / (1u64 << 53) as f64) * 4.0 - 2.0
            };
            let d = [r(), r()];
            assert!(upper_bound(&m, &cost, &d).unwrap() >= 1.5);
        }
    }

    #[test]
    fn unbounded_columns_refuse() {
        // A column unbounded where its reduced cost (known only up to rounding) may push.
        let mut m = Milp::default();
        let x = m.add_col(0.0, f64::INFINITY, false);
        m.add_row(f64::NEG_INFINITY, 1.0, vec![(x, 1.0)]);
        assert!(upper_bound(&m, &[(x, 1.0)], &[0.0]).is_none());
    }
}
