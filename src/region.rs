//! Axis-aligned boxes and the measures of a certification around an input x*.
//!
//! The type is called [`Hyperbox`] rather than `Box` so that it never shadows `std::boxed::Box`.
//! The input domain D is a hyperbox too ([`Hyperbox::unit`] is the default `[0,1]^d`).

use serde::{Deserialize, Serialize};

/// An axis-aligned box `[lb, ub]` (closed; `lb_i <= ub_i` for every coordinate).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hyperbox {
    lb: Vec<f64>,
    ub: Vec<f64>,
}

/// Why a box could not be built.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BoxError {
    /// `lb` and `ub` have different lengths.
    #[error("lower bound has {lb} coordinates but upper bound has {ub}")]
    LengthMismatch {
        /// Length of lb.
        lb: usize,
        /// Length of ub.
        ub: usize,
    },
    /// A bound is NaN.
    #[error("coordinate {index}: bound is NaN")]
    NaN {
        /// The coordinate.
        index: usize,
    },
    /// `lb_i > ub_i`.
    #[error("coordinate {index}: lower bound {lb} exceeds upper bound {ub}")]
    Inverted {
        /// The coordinate.
        index: usize,
        /// Its lower bound.
        lb: f64,
        /// Its upper bound.
        ub: f64,
    },
}

impl Hyperbox {
    /// Builds `[lb, ub]`, checking lengths, NaN and `lb <= ub`.
    pub fn new(lb: Vec<f64>, ub: Vec<f64>) -> Result<Self, BoxError> {
        if lb.len() != ub.len() {
            return Err(BoxError::LengthMismatch {
                lb: lb.len(),
                ub: ub.len(),
            });
        }
        for (index, (&l, &u)) in lb.iter().zip(&ub).enumerate() {
            if l.is_nan() || u.is_nan() {
                return Err(BoxError::NaN { index });
            }
            if l > u {
                return Err(BoxError::Inverted {
                    index,
                    lb: l,
                    ub: u,
                });
            }
        }
        Ok(Hyperbox { lb, ub })
    }

    /// The same range `[lo, hi]` in every one of `dim` coordinates.
    pub fn uniform(dim: usize, lo: f64, hi: f64) -> Result<Self, BoxError> {
        Self::new(vec![lo; dim], vec![hi; dim])
    }

    /// The unit cube `[0,1]^dim`, the default domain of image classifiers.
    pub fn unit(dim: usize) -> Self {
        Hyperbox {
            lb: vec![0.0; dim],
            ub: vec![1.0; dim],
        }
    }

    /// The single point `{x}`.
    pub fn point(x: &[f64]) -> Self {
        Hyperbox {
            lb: x.to_vec(),
            ub: x.to_vec(),
        }
    }

    /// The L∞ ball of radius `r` around `center`, intersected with `domain`.
    pub fn ball(center: &[f64], r: f64, domain: &Hyperbox) -> Self {
        let lb = center
            .iter()
            .zip(&domain.lb)
            .map(|(&c, &d)| (c - r).max(d))
            .collect();
        let ub = center
            .iter()
            .zip(&domain.ub)
            .map(|(&c, &d)| (c + r).min(d))
            .collect();
        Hyperbox { lb, ub }
    }

    /// Lower bounds.
    pub fn lb(&self) -> &[f64] {
        &self.lb
    }

    /// Upper bounds.
    pub fn ub(&self) -> &[f64] {
        &self.ub
    }

    /// Number of coordinates.
    pub fn dim(&self) -> usize {
        self.lb.len()
    }

    /// Whether `x` lies in the box (closed).
    pub fn contains(&self, x: &[f64]) -> bool {
        x.len() == self.dim()
            && x.iter()
                .zip(self.lb.iter().zip(&self.ub))
                .all(|(&v, (&l, &u))| l <= v && v <= u)
    }

    /// Whether `other` lies inside this box.
    pub fn contains_box(&self, other: &Hyperbox) -> bool {
        self.dim() == other.dim()
            && (0..self.dim()).all(|i| self.lb[i] <= other.lb[i] && other.ub[i] <= self.ub[i])
    }

    /// The intersection, or `None` when it is empty.
    pub fn intersect(&self, other: &Hyperbox) -> Option<Hyperbox> {
        if self.dim() != other.dim() {
            return None;
        }
        let lb: Vec<f64> = self
            .lb
            .iter()
            .zip(&other.lb)
            .map(|(a, b)| a.max(*b))
            .collect();
        let ub: Vec<f64> = self
            .ub
            .iter()
            .zip(&other.ub)
            .map(|(a, b)| a.min(*b))
            .collect();
        lb.iter()
            .zip(&ub)
            .all(|(l, u)| l <= u)
            .then_some(Hyperbox { lb, ub })
    }

    /// Clamps `x` into the box, coordinate by coordinate.
    pub fn clamp(&self, x: &[f64]) -> Vec<f64> {
        x.iter()
            .zip(self.lb.iter().zip(&self.ub))
            .map(|(&v, (&l, &u))| v.clamp(l, u))
            .collect()
    }

    /// The centre of the box.
    pub fn center(&self) -> Vec<f64> {
        self.lb
            .iter()
            .zip(&self.ub)
            .map(|(l, u)| 0.5 * (l + u))
            .collect()
    }

    /// Sets coordinate `i` to `[lo, hi]` (the caller keeps `lo <= hi`).
    pub fn set(&mut self, i: usize, lo: f64, hi: f64) {
        debug_assert!(lo <= hi);
        self.lb[i] = lo;
        self.ub[i] = hi;
    }

    /// Sets the lower face of coordinate `i`.
    pub fn set_lb(&mut self, i: usize, lo: f64) {
        debug_assert!(lo <= self.ub[i]);
        self.lb[i] = lo;
    }

    /// Sets the upper face of coordinate `i`.
    pub fn set_ub(&mut self, i: usize, hi: f64) {
        debug_assert!(self.lb[i] <= hi);
        self.ub[i] = hi;
    }

    /// Apothem around `x`: the smallest slack `x_i - lb_i` or `ub_i - x_i` over the faces that do
    /// not lie on the domain's boundary (a face on D's boundary does not limit robustness, there
    /// is nothing beyond it). `None` when every face lies on D's boundary (the box is all of D).
    pub fn apothem(&self, x: &[f64], domain: &Hyperbox) -> Option<f64> {
        let mut best: Option<f64> = None;
        for i in 0..self.dim() {
            if self.lb[i] > domain.lb[i] {
                let s = x[i] - self.lb[i];
                best = Some(best.map_or(s, |b: f64| b.min(s)));
            }
            if self.ub[i] < domain.ub[i] {
                let s = self.ub[i] - x[i];
                best = Some(best.map_or(s, |b: f64| b.min(s)));
            }
        }
        best
    }

    /// The shortest edge, `min_i (ub_i - lb_i)`.
    pub fn min_edge(&self) -> f64 {
        self.lb
            .iter()
            .zip(&self.ub)
            .map(|(l, u)| u - l)
            .fold(f64::INFINITY, f64::min)
    }

    /// Base-10 logarithm of the volume (`-inf` when an edge has length 0).
    pub fn log10_volume(&self) -> f64 {
        self.lb
            .iter()
            .zip(&self.ub)
            .map(|(l, u)| (u - l).log10())
            .sum()
    }

    /// Number of faces that moved away from `x` (`lb_i < x_i` or `ub_i > x_i`).
    pub fn nontrivial_faces(&self, x: &[f64]) -> usize {
        (0..self.dim())
            .map(|i| usize::from(self.lb[i] < x[i]) + usize::from(self.ub[i] > x[i]))
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn construction_checks() {
        assert!(Hyperbox::new(vec![0.0], vec![1.0]).is_ok());
        assert_eq!(
            Hyperbox::new(vec![1.0], vec![0.0]),
            Err(BoxError::Inverted {
                index: 0,
                lb: 1.0,
                ub: 0.0
            })
        );
        assert_eq!(
            Hyperbox::new(vec![0.0, 0.0], vec![1.0]),
            Err(BoxError::LengthMismatch { lb: 2, ub: 1 })
        );
        assert_eq!(
            Hyperbox::new(vec![f64::NAN], vec![1.0]),
            Err(BoxError::NaN { index: 0 })
        );
    }

    #[test]
    fn contains_and_intersect() {
        let a = Hyperbox::new(vec![0.0, 0.0], vec![1.0, 1.0]).unwrap();
        let b = Hyperbox::new(vec![0.5, -1.0], vec![2.0, 0.5]).unwrap();
        assert!(a.contains(&[1.0, 0.0]));
        assert!(!a.contains(&[1.0, 1.5]));
        let c = a.intersect(&b).unwrap();
        assert_eq!(c.lb(), &[0.5, 0.0]);
        assert_eq!(c.ub(), &[1.0, 0.5]);
        let far = Hyperbox::new(vec![2.0, 2.0], vec![3.0, 3.0]).unwrap();
        assert!(a.intersect(&far).is_none());
        assert!(a.contains_box(&c));
        assert!(!c.contains_box(&a));
    }

    #[test]
    fn measures_ignore_domain_faces() {
        let d = Hyperbox::unit(3);
        let x = [0.0, 0.5, 0.9];
        let b = Hyperbox::ball(&x, 0.2, &d);
        assert_eq!(b.lb(), &[0.0, 0.3, 0.7]);
        assert!((b.ub()[2] - 1.0).abs() < 1e-15);
        // Faces on D's boundary: lb_0 = 0 and ub_2 = 1. Remaining slacks: 0.2 (x3), 0.2, 0.2.
        assert!((b.apothem(&x, &d).unwrap() - 0.2).abs() < 1e-12);
        assert!((b.min_edge() - 0.2).abs() < 1e-12);
        assert_eq!(b.nontrivial_faces(&x), 5);
        let v = b.log10_volume();
        assert!((v - (0.2f64 * 0.4 * 0.3).log10()).abs() < 1e-9);
        assert_eq!(d.apothem(&x, &d), None);
        assert_eq!(Hyperbox::point(&x).log10_volume(), f64::NEG_INFINITY);
        assert_eq!(Hyperbox::point(&x).nontrivial_faces(&x), 0);
    }
}
