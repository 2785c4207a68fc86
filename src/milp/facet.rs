//! The most violated facet of the convex hull of a few points in `R^4`, for the pair cuts
//! ([`super::pairs`]).
//!
//! Why not HiGHS: separation solves this LP for every candidate pair at every cut round — on
//! 784-100-100-10 about a thousand per round of LP tightening — and a HiGHS instance per LP
//! (create, pass the model, presolve, run) cost about 0.2 ms, 60 % of LP tightening's time
//! (`perf`, `examples/probe_tighten`). The LP has five rows and a few dozen columns: a dense
//! simplex on a 5 × 5 basis answers in microseconds.
//!
//! The LP, for points `v_1..v_m` and the point `p` to separate:
//! `max α·p − β  s.t.  α·v_t ≤ β (all t),  −1 ≤ α ≤ 1` — the face of the hull with the largest
//! violation at `p` under the normalisation `‖α‖_∞ ≤ 1`. It is solved through its dual, the
//! L1 distance from `p` to the hull,
//! `min Σ_k (μ⁺_k + μ⁻_k)  s.t.  Σ_t λ_t = 1,  Σ_t λ_t v_t + μ⁺ − μ⁻ = p,  λ, μ ≥ 0`,
//! which has an obvious feasible basis (one point, and the residual `p − v_t` in the μ's). The
//! optimal simplex multipliers are `(−β, α)`.
//!
//! Soundness does not rest on this solver: the caller recomputes the right side `max_t α·v_t`
//! (with a margin) for whatever `α` comes back, so a wrong answer could only weaken a cut.

/// Reduced costs and pivots below this count as zero.
const TOL: f64 = 1e-10;
/// Simplex iterations before giving up with the current multipliers (Bland's rule never
/// cycles; this only bounds the work on numerically awkward inputs).
const MAX_ITER: usize = 200;

/// Solves `B x = r` for the 5 × 5 matrix `b` (columns `b[j]`) by Gaussian elimination with
/// partial pivoting; `None` when `B` is numerically singular.
fn solve5(b: &[[f64; 5]; 5], r: [f64; 5], transpose: bool) -> Option<[f64; 5]> {
    // m[i][j]: row i, column j of B (or of Bᵀ).
    let mut m = [[0.0; 6]; 5];
    for i in 0..5 {
        for j in 0..5 {
            m[i][j] = if transpose { b[i][j] } else { b[j][i] };
        }
        m[i][5] = r[i];
    }
    for c in 0..5 {
        let piv = (c..5).max_by(|&x, &y| m[x][c].abs().total_cmp(&m[y][c].abs()))?;
        if m[piv][c].abs() < 1e-12 {
            return None;
        }
        m.swap(c, piv);
        for i in c + 1..5 {
            let f = m[i][c] / m[c][c];
            if f != 0.0 {
                for j in c..6 {
                    m[i][j] -= f * m[c][j];
                }
            }
        }
    }
    let mut x = [0.0; 5];
    for i in (0..5).rev() {
        let s: f64 = (i + 1..5).map(|j| m[i][j] * x[j]).sum();
        x[i] = (m[i][5] - s) / m[i][i];
    }
    Some(x)
}

/// Column `j` of the dual LP's constraint matrix: `j < m` is point `j` (`(1, v_j)`), then
/// `μ⁺_k` (`e_{k+1}`) for `j = m + 2k` and `μ⁻_k` (`−e_{k+1}`) for `j = m + 2k + 1`.
fn column(v: &[[f64; 4]], j: usize) -> [f64; 5] {
    let m = v.len();
    if j < m {
        let x = v[j];
        [1.0, x[0], x[1], x[2], x[3]]
    } else {
        let k = (j - m) / 2;
        let mut c = [0.0; 5];
        c[k + 1] = if (j - m).is_multiple_of(2) { 1.0 } else { -1.0 };
        c
    }
}

/// The multipliers `α ∈ [−1, 1]^4` of the hull's face most violated at `p` (see the module
/// doc); `None` when `v` is empty or the simplex met a singular basis. The caller computes the
/// right side itself.
pub(super) fn most_violated_face(v: &[[f64; 4]], p: [f64; 4]) -> Option<[f64; 4]> {
    let m = v.len();
    if m == 0 {
        return None;
    }
    let cost = |j: usize| if j < m { 0.0 } else { 1.0 };
    // Start from the point nearest to p in L1, with the residual in the μ's.
    let l1 = |x: &[f64; 4]| x.iter().zip(&p).map(|(a, b)| (a - b).abs()).sum::<f64>();
    let start = (0..m).min_by(|&a, &b| l1(&v[a]).total_cmp(&l1(&v[b])))?;
    let mut basis = [start, 0, 0, 0, 0];
    for k in 0..4 {
        basis[k + 1] = m + 2 * k + usize::from(p[k] < v[start][k]);
    }
    let mut y = [0.0; 5];
    for _ in 0..MAX_ITER {
        let mut bm = [[0.0; 5]; 5];
        for (i, &j) in basis.iter().enumerate() {
            bm[i] = column(v, j);
        }
        let rhs = [1.0, p[0], p[1], p[2], p[3]];
        let x_b = solve5(&bm, rhs, false)?;
        // Multipliers: Bᵀ y = c_B.
        y = solve5(&bm, basis.map(cost), true)?;
        // Bland's rule: the first column with a negative reduced cost enters.
        let entering = (0..m + 8).find(|&j| {
            !basis.contains(&j) && {
                let a = column(v, j);
                cost(j) - (0..5).map(|i| y[i] * a[i]).sum::<f64>() < -TOL
            }
        });
        let Some(e) = entering else {
            break;
        };
        let u = solve5(&bm, column(v, e), false)?;
        // Ratio test, ties to the smallest variable index (Bland).
        let mut leave: Option<(f64, usize)> = None;
        for i in 0..5 {
            if u[i] > TOL {
                let r = x_b[i].max(0.0) / u[i];
                let better = match leave {
                    None => true,
                    Some((lr, li)) => r < lr - TOL || (r <= lr + TOL && basis[i] < basis[li]),
                };
                if better {
                    leave = Some((r, i));
                }
            }
        }
        // Unbounded cannot happen (the objective is at least 0); stop with what we have.
        let Some((_, i)) = leave else {
            break;
        };
        basis[i] = e;
    }
    Some([y[1], y[2], y[3], y[4]].map(|a| a.clamp(-1.0, 1.0)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::milp::model::{Limits, Milp, Sense, Status};

    /// The same LP through HiGHS: its optimal value.
    fn highs_value(v: &[[f64; 4]], p: [f64; 4]) -> f64 {
        let mut m = Milp::default();
        let cols: Vec<usize> = (0..4).map(|_| m.add_col(-1.0, 1.0, false)).collect();
        let beta = m.add_col(f64::NEG_INFINITY, f64::INFINITY, false);
        for (&c, &pc) in cols.iter().zip(&p) {
            m.cost[c] = pc;
        }
        m.cost[beta] = -1.0;
        for x in v {
            let mut t: Vec<(usize, f64)> = cols.iter().zip(x).map(|(&c, &a)| (c, a)).collect();
            t.push((beta, -1.0));
            m.add_row(f64::NEG_INFINITY, 0.0, t);
        }
        let limits = Limits {
            relaxation: true,
            ..Limits::default()
        };
        let out = crate::milp::solver::solve_highs_quietly(&m, Sense::Maximise, &limits)
            .expect("HiGHS answers");
        assert_eq!(out.status, Status::Optimal);
        out.objective.expect("an objective")
    }

    /// On random point sets (some degenerate: repeated points, points in a plane), the face
    /// found is as violated as HiGHS's optimum of the same LP, and within the normalisation.
    #[test]
    fn the_face_matches_highs_optimum() {
        let mut uniform = crate::network::uniform_stream(11u64);
        let mut separated = 0;
        for case in 0..300 {
            let m = 3 + case % 20;
            let mut v: Vec<[f64; 4]> = (0..m)
                .map(|_| [0; 4].map(|_| 4.0 * uniform() - 2.0))
                .collect();
            if case % 3 == 0 {
                // Degenerate: the last coordinate a function of the others, and repeats.
                for x in &mut v {
                    x[3] = x[0].max(0.0);
                }
                let first = v[0];
                v.push(first);
            }
            let p = [0; 4].map(|_| 5.0 * uniform() - 2.5);
            let alpha = most_violated_face(&v, p).expect("an answer");
            assert!(alpha.iter().all(|a| a.abs() <= 1.0));
            let rhs = v
                .iter()
                .map(|x| (0..4).map(|k| alpha[k] * x[k]).sum::<f64>())
                .fold(f64::NEG_INFINITY, f64::max);
            let ours = (0..4).map(|k| alpha[k] * p[k]).sum::<f64>() - rhs;
            let best = highs_value(&v, p);
            assert!(
                (ours - best).abs() <= 1e-7 * (1.0 + best.abs()),
                "case {case}: violation {ours}, HiGHS {best}"
            );
            separated += usize::from(best > 1e-6);
        }
        assert!(
            separated > 100,
            "only {separated} points outside their hull"
        );
    }
}
