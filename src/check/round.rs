//! Outward rounding: every operation is done in f64 round-to-nearest and then moved one ulp
//! outwards, so the result encloses the exact real value (the rounding error of one operation is
//! at most half an ulp). Overflow goes to ±∞ or ±MAX on the safe side; NaN is caught by callers
//! (every comparison that accepts a proof is written so that NaN rejects it).

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
    pub fn add(self, other: Iv) -> Iv {
        Iv {
            lo: dn(self.lo + other.lo),
            hi: up(self.hi + other.hi),
        }
    }

    /// `self * w` for an exact f64 `w`.
    pub fn scale(self, w: f64) -> Iv {
        if w >= 0.0 {
            Iv {
                lo: dn(self.lo * w),
                hi: up(self.hi * w),
            }
        } else {
            Iv {
                lo: dn(self.hi * w),
                hi: up(self.lo * w),
            }
        }
    }

    /// `-self` (exact).
    pub fn neg(self) -> Iv {
        Iv {
            lo: -self.hi,
            hi: -self.lo,
        }
    }

    /// An upper bound of `max { a x : a ∈ self, x ∈ [l, u] }`.
    pub fn max_times(self, l: f64, u: f64) -> f64 {
        up(self.lo * l)
            .max(up(self.lo * u))
            .max(up(self.hi * l))
            .max(up(self.hi * u))
    }

    /// A lower bound of `min { a x : a ∈ self, x ∈ [l, u] }`.
    pub fn min_times(self, l: f64, u: f64) -> f64 {
        dn(self.lo * l)
            .min(dn(self.lo * u))
            .min(dn(self.hi * l))
            .min(dn(self.hi * u))
    }
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
    up(a + b)
}

/// A lower bound of the exact `a + b`.
#[inline]
pub fn add_dn(a: f64, b: f64) -> f64 {
    dn(a + b)
}

/// An upper bound of the exact `a * b`.
#[inline]
pub fn mul_up(a: f64, b: f64) -> f64 {
    up(a * b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enclosures_contain_the_exact_values() {
        // 0.1 + 0.2 is not 0.3 in f64; the enclosure contains the exact sum of the two doubles.
        let s = Iv::point(0.1).add(Iv::point(0.2));
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
}
