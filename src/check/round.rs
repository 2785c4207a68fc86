//! Outward rounding: every operation is done in f64 round-to-nearest and then moved one ulp
//! outwards, so the result encloses the exact real value (the rounding error of one operation is
//! at most half an ulp). Overflow goes to ±∞ or ±MAX on the safe side; NaN is caught by callers
//! (every comparison that accepts a proof is written so that NaN rejects it).
//!
//! Exact zeros stay zero: a sum that rounds to 0 is exactly 0 (float sums are multiples of the
//! smallest subnormal), and a product with a zero factor is 0. This keeps subnormal numbers —
//! a hundred times slower on x86 — out of the inner loops.

/// A closed interval `[lo, hi]` of reals.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Iv {
    /// Lower end.
    pub lo: f64,
    /// Upper end.
    pub hi: f64,
}

impl Iv {
    /// The point interval `[v, v]` (f64 values are exact rationals).
    pub fn point(v: f64) -> Iv {
        Iv { lo: v, hi: v }
    }

    /// `[0, 0]`.
    pub const ZERO: Iv = Iv { lo: 0.0, hi: 0.0 };

    /// Whether the interval is `[0, 0]`.
    pub fn is_zero(self) -> bool {
        self.lo == 0.0 && self.hi == 0.0
    }

    /// `self + other`.
    pub fn plus(self, other: Iv) -> Iv {
        Iv {
            lo: add_dn(self.lo, other.lo),
            hi: add_up(self.hi, other.hi),
        }
    }

    /// `self * w` for an exact f64 `w`.
    pub fn scale(self, w: f64) -> Iv {
        if w >= 0.0 {
            Iv {
                lo: mul_dn(self.lo, w),
                hi: mul_up(self.hi, w),
            }
        } else {
            Iv {
                lo: mul_dn(self.hi, w),
                hi: mul_up(self.lo, w),
            }
        }
    }

    /// An upper bound of `max { a x : a ∈ self, x ∈ [l, u] }`.
    pub fn max_times(self, l: f64, u: f64) -> f64 {
        mul_up(self.lo, l)
            .max(mul_up(self.lo, u))
            .max(mul_up(self.hi, l))
            .max(mul_up(self.hi, u))
    }

    /// A lower bound of `min { a x : a ∈ self, x ∈ [l, u] }`.
    pub fn min_times(self, l: f64, u: f64) -> f64 {
        mul_dn(self.lo, l)
            .min(mul_dn(self.lo, u))
            .min(mul_dn(self.hi, l))
            .min(mul_dn(self.hi, u))
    }
}

/// `Wᵀ λ` for the affine layer `W` (row-major, `n_out` rows of `n_in`) and interval
/// coefficients `λ` (one per row): an enclosure of `Σ_o W[o][j] λ_o` for every column `j`.
/// `col_abs[j]` must be the computed `fl(Σ_o |W[o][j]|)` ([`column_abs_sums`]).
///
/// For speed (this is the checker's inner loop) the sum runs in plain round-to-nearest over the
/// midpoints `m` of `λ`, and the radii `r` and the rounding errors are bounded once per column
/// (Higham, *Accuracy and Stability of Numerical Algorithms*, §3.1): with `u = 2^-53`, `n`
/// terms, `γ' = 4(n+2)u = (n+2)·2^-51`, `R = max r`, `M = max |m|`, `C = Σ|W[.][j]|`,
/// - `|Σ W δ| <= R C` for the offsets `|δ| <= r` of the exact `λ` from `m`,
/// - the computed `S = fl(Σ W m)` is within `γ_n Σ|W||m| <= γ' M C` of the exact sum,
/// - the exact `C` is at most `fl(C)(1 + γ')`, and every product that underflows errs by at
///   most `η = 2^-1074`.
///
/// So the exact sum lies in `S ± ρ` with `ρ = (R + γ' M) fl(C) (1 + γ') + (n+1)η`, computed
/// rounding upwards. The bound is loose by a factor (max over typical coefficients) that only
/// scales terms of relative size 1e-13, far below any margin τ. (Requires `n u <= 1/4`.)
pub fn transposed_product(
    weights: &[f64],
    n_out: usize,
    n_in: usize,
    col_abs: &[f64],
    lam: &[Iv],
) -> Vec<Iv> {
    let mut s = vec![0.0f64; n_in];
    let (mut big_r, mut big_m) = (0.0f64, 0.0f64);
    for (o, l) in lam.iter().enumerate().take(n_out) {
        if l.is_zero() {
            continue;
        }
        let m = 0.5 * l.lo + 0.5 * l.hi;
        let r = add_up(l.hi, -m).max(add_up(m, -l.lo));
        big_r = big_r.max(r);
        big_m = big_m.max(m.abs());
        let row = &weights[o * n_in..(o + 1) * n_in];
        for (sj, &w) in s.iter_mut().zip(row) {
            *sj += w * m;
        }
    }
    let gp = (n_out as f64 + 2.0) * 2f64.powi(-51);
    let one_gp = add_up(1.0, gp);
    let eta = mul_up(n_out as f64 + 1.0, f64::from_bits(1));
    let per_c = add_up(big_r, mul_up(gp, big_m));
    (0..n_in)
        .map(|j| {
            let rad = add_up(mul_up(mul_up(per_c, col_abs[j]), one_gp), eta);
            Iv {
                lo: add_dn(s[j], -rad),
                hi: add_up(s[j], rad),
            }
        })
        .collect()
}

/// `fl(Σ_o |W[o][j]|)` for every column `j` of a row-major `n_out × n_in` matrix.
pub fn column_abs_sums(weights: &[f64], n_out: usize, n_in: usize) -> Vec<f64> {
    let mut c = vec![0.0f64; n_in];
    for o in 0..n_out {
        for (cj, &w) in c.iter_mut().zip(&weights[o * n_in..(o + 1) * n_in]) {
            *cj += w.abs();
        }
    }
    c
}

/// One ulp down (towards -∞).
#[inline]
pub fn dn(v: f64) -> f64 {
    v.next_down()
}

/// One ulp up (towards +∞).
#[inline]
pub fn up(v: f64) -> f64 {
    v.next_up()
}

/// An upper bound of the exact `a + b`.
#[inline]
pub fn add_up(a: f64, b: f64) -> f64 {
    let s = a + b;
    if s == 0.0 {
        0.0
    } else {
        up(s)
    }
}

/// A lower bound of the exact `a + b`.
#[inline]
pub fn add_dn(a: f64, b: f64) -> f64 {
    let s = a + b;
    if s == 0.0 {
        0.0
    } else {
        dn(s)
    }
}

/// An upper bound of the exact `a * b`.
#[inline]
pub fn mul_up(a: f64, b: f64) -> f64 {
    if a == 0.0 || b == 0.0 {
        0.0
    } else {
        up(a * b)
    }
}

/// A lower bound of the exact `a * b`.
#[inline]
pub fn mul_dn(a: f64, b: f64) -> f64 {
    if a == 0.0 || b == 0.0 {
        0.0
    } else {
        dn(a * b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enclosures_contain_the_exact_values() {
        // 0.1 + 0.2 is not 0.3 in f64; the enclosure contains the exact sum of the two doubles.
        let s = Iv::point(0.1).plus(Iv::point(0.2));
        assert!(s.lo < s.hi);
        assert!(s.lo <= 0.30000000000000004 && 0.30000000000000004 <= s.hi);
        let p = Iv::point(3.0).scale(-1.0 / 3.0);
        assert!(p.lo <= -1.0 + 1e-15 && p.hi >= -1.0 - 1e-15 && p.lo < p.hi);
        assert!(Iv { lo: -1.0, hi: 2.0 }.max_times(-3.0, 1.0) >= 3.0);
        assert!(Iv { lo: -1.0, hi: 2.0 }.min_times(-3.0, 1.0) <= -6.0);
        // Overflow stays on the safe side.
        assert!(up(f64::MAX * 2.0) == f64::INFINITY);
        assert!(dn(f64::MAX * 2.0) == f64::MAX);
    }

    #[test]
    fn transposed_product_encloses_the_exact_sums() {
        // Rows [1e16, 1, -1e16] and three rows of 0.1; λ = (1, 1, 1, [-1, 3]).
        let w = [
            1e16, 1.0, -1e16, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1,
        ];
        let lam = [
            Iv::point(1.0),
            Iv::point(1.0),
            Iv::point(1.0),
            Iv { lo: -1.0, hi: 3.0 },
        ];
        let out = transposed_product(&w, 4, 3, &column_abs_sums(&w, 4, 3), &lam);
        // Column 0: 1e16 + 0.1 + 0.1 + 0.1 λ3 ∈ [1e16 + 0.1, 1e16 + 0.5]: beyond f64's
        // resolution at 1e16 (ulp 2), so the enclosure must reach the next float.
        assert!(out[0].lo <= 1e16 && out[0].hi >= 1e16 + 2.0);
        // Column 1: 1 + 0.2 + 0.1 λ3 ∈ [1.1, 1.5] (the radius bound R·C is loose for one
        // wide coefficient among points; the checker's coefficients are all ulp-wide).
        assert!(out[1].lo <= 1.1 && out[1].hi >= 1.5 && out[1].hi - out[1].lo < 5.3);
        // Column 2: -1e16 + 0.2 + 0.1 λ3.
        assert!(out[2].lo <= -1e16 && out[2].hi >= -1e16 + 2.0);
        // Against exact integer arithmetic on random small integers scaled by 2^-10.
        let mut seed = 7u64;
        let mut next = || {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((seed >> 33) % 2001) as i64 - 1000
        };
        let (n_out, n_in) = (50, 20);
        let wi: Vec<i64> = (0..n_out * n_in).map(|_| next()).collect();
        let li: Vec<i64> = (0..n_out).map(|_| next()).collect();
        let wf: Vec<f64> = wi.iter().map(|&v| v as f64 / 1024.0).collect();
        let lf: Vec<Iv> = li.iter().map(|&v| Iv::point(v as f64 / 3.0)).collect();
        let out = transposed_product(&wf, n_out, n_in, &column_abs_sums(&wf, n_out, n_in), &lf);
        for j in 0..n_in {
            // Exact value: Σ w l with w = wi/1024, l ∈ [fl(li/3)] – compare with a wide margin
            // on the rational li/3 by bracketing.
            let exact: f64 = (0..n_out)
                .map(|o| wi[o * n_in + j] as f64 * li[o] as f64)
                .sum::<f64>()
                / 3072.0;
            assert!(out[j].lo <= exact + 1e-9 && exact - 1e-9 <= out[j].hi);
            assert!(out[j].hi - out[j].lo < 1e-9);
        }
    }
}
