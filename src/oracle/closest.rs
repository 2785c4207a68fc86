//! How far an undecided question got: the point of its box nearest to a violation that the
//! searches met ([`Closest`]), and how far down the proof attempt had brought the other end
//! ([`Reached`]).
//!
//! Why: `unknown` alone tells a user neither whether more time is worth spending nor, for a
//! referee of other verifiers, how near the box lies to its decision boundary. A bracket does.
//! A question asks whether some point of a disjunct's box satisfies its constraints; call the
//! property's *value* at `x` the largest, over the disjuncts whose box holds `x`, of its least
//! satisfied constraint's satisfaction (`-value`, so `>= 0` means violated; for "does class c
//! lose?", the largest `y_j - y_c`). The largest value over the boxes then lies between the
//! value at the closest point found (a real point, evaluated like a witness in f64 and f32)
//! and the bound reached. On the deep networks' undecided boxes the two ends are far apart (an
//! attack's −0.75 against a branch and bound's +19.6 on 784-256-256-10): the width of that
//! bracket is the relaxation's gap, measured on each instance.

use serde::Serialize;

use crate::network::Network;
use crate::property::Property;

/// The point of the box nearest to a violation that the cascade's searches met.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Closest {
    /// The point (inside a disjunct's box).
    pub x: Vec<f64>,
    /// f64 outputs at `x`.
    pub logits: Vec<f64>,
    /// f32 outputs at `x`.
    pub logits_f32: Vec<f32>,
    /// The property's value at `x` in f64 (negative: not violated there).
    pub value: f64,
    /// The same from the f32 outputs.
    pub value_f32: f64,
    /// The disjunct that attains `value` (for "does class c lose?", the one of the competitor
    /// `argmax_{j != c} y_j`).
    pub disjunct: usize,
}

/// An upper end of the property's largest value over its boxes when the question stopped.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Reached {
    /// The bound.
    pub value: f64,
    /// `true`: from rigorous bounds (outward-rounded bound propagation, LP-tightened or not);
    /// `false`: a branch and bound's bound, as the LP solver reported it (not rounded outward),
    /// so a statement of how far the search had got rather than a proved fact.
    pub proved: bool,
}

impl Reached {
    /// The upper end over several open disjuncts, each given by its rigorous bound and, when a
    /// branch and bound stopped with one, that search's bound: the largest over them of the
    /// smaller of the two. It is proved only when no disjunct's rigorous bound exceeds it (a
    /// search's bound below a rigorous one is not proved, and a larger proved end of another
    /// disjunct does not make it so). `None` for no disjunct, or when a rigorous bound is not
    /// a number.
    pub(super) fn over(ends: &[(f64, Option<f64>)]) -> Option<Reached> {
        if ends.is_empty() || ends.iter().any(|e| e.0.is_nan()) {
            return None;
        }
        let value = ends
            .iter()
            .map(|&(hi, search)| search.filter(|b| !b.is_nan()).map_or(hi, |b| b.min(hi)))
            .fold(f64::NEG_INFINITY, f64::max);
        let proved = ends.iter().all(|e| e.0 <= value);
        Some(Reached { value, proved })
    }
}

impl Reached {
    /// Where the bound comes from, for a reader.
    pub fn source(&self) -> &'static str {
        if self.proved {
            "proved by bounds"
        } else {
            "the branch and bound's bound, as the LP solver reported it"
        }
    }
}

/// The bracket of an `unknown` in the property's terms (its largest satisfaction over the
/// boxes, `>= 0` meaning violated), for a reader; `None` when neither end is known.
pub fn describe_bracket(closest: Option<&Closest>, reached: Option<Reached>) -> Option<String> {
    let low = closest.map(|c| {
        format!(
            "at least {:.6} (disjunct {} at a point the searches found; f32: {:.6})",
            c.value, c.disjunct, c.value_f32
        )
    });
    let high = reached.map(|r| format!("at most {:.6} ({})", r.value, r.source()));
    let ends: Vec<String> = low.into_iter().chain(high).collect();
    (!ends.is_empty()).then(|| {
        format!(
            "the property's largest satisfaction over the box is {}",
            ends.join(" and ")
        )
    })
}

/// Keeps the closest point offered during one question.
pub(super) struct Tracker<'a> {
    net: &'a Network,
    p: &'a Property,
    best: Option<Closest>,
}

impl<'a> Tracker<'a> {
    pub(super) fn new(net: &'a Network, p: &'a Property) -> Self {
        Tracker { net, p, best: None }
    }

    /// Evaluates `x` (any point; one outside every box, or with non-finite coordinates or
    /// value, is ignored) and keeps it if its f64 value is the largest so far.
    pub(super) fn offer(&mut self, x: &[f64]) {
        if x.iter().any(|v| !v.is_finite()) {
            return;
        }
        let logits = self.net.forward(x);
        let Some((value, disjunct)) = self.value(x, &logits) else {
            return;
        };
        if self.best.as_ref().is_some_and(|b| b.value >= value) {
            return;
        }
        let logits_f32 = self.net.forward_f32(x);
        let y32: Vec<f64> = logits_f32.iter().map(|&v| v as f64).collect();
        let Some((value_f32, _)) = self.value(x, &y32) else {
            return;
        };
        self.best = Some(Closest {
            x: x.to_vec(),
            logits,
            logits_f32,
            value,
            value_f32,
            disjunct,
        });
    }

    /// The closest point offered.
    pub(super) fn into_closest(self) -> Option<Closest> {
        self.best
    }

    /// The property's value at `(x, y)` and the disjunct attaining it; `None` when no
    /// disjunct's box holds `x` or the value is not finite (a disjunct of box bounds only,
    /// whose value is +∞ on its box, is a witness's business, not this bracket's).
    fn value(&self, x: &[f64], y: &[f64]) -> Option<(f64, usize)> {
        self.p
            .disjuncts
            .iter()
            .enumerate()
            .filter(|(_, d)| d.region.contains(x))
            .map(|(k, d)| (d.slack(x, y), k))
            .filter(|(v, _)| v.is_finite())
            .max_by(|a, b| a.0.total_cmp(&b.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::region::Hyperbox;

    /// y = (x, 1 - x), and "class 0 loses" on [0.6, 1], where its value at x is
    /// y_1 - y_0 = 1 - 2x.
    fn setup() -> (Network, Property) {
        let net = Network::new(
            vec![crate::network::Layer {
                n_in: 1,
                n_out: 2,
                weights: vec![1.0, -1.0],
                bias: vec![0.0, 1.0],
                relu: false,
            }],
            vec![1],
        )
        .expect("a valid network");
        let region = Hyperbox::new(vec![0.6], vec![1.0]).expect("a valid box");
        let p = Property::class_loses(&region, 2, 0);
        (net, p)
    }

    #[test]
    fn keeps_the_point_with_the_largest_value_inside_the_box() {
        let (n, p) = setup();
        let mut t = Tracker::new(&n, &p);
        t.offer(&[0.9]);
        t.offer(&[0.7]);
        t.offer(&[0.8]);
        // Outside the box and non-finite points are ignored.
        t.offer(&[0.2]);
        t.offer(&[f64::NAN]);
        let c = t.into_closest().expect("a point");
        assert_eq!(c.x, vec![0.7]);
        assert!((c.value - (1.0 - 1.4)).abs() < 1e-12, "{}", c.value);
        assert!((c.value_f32 - c.value).abs() < 1e-6);
        assert_eq!(c.disjunct, 0);
    }

    #[test]
    fn nothing_offered_inside_means_no_point() {
        let (n, p) = setup();
        let mut t = Tracker::new(&n, &p);
        t.offer(&[0.1]);
        assert!(t.into_closest().is_none());
    }

    #[test]
    fn the_description_names_both_ends_and_the_kind_of_bound() {
        let (n, p) = setup();
        let mut t = Tracker::new(&n, &p);
        t.offer(&[0.75]);
        let c = t.into_closest();
        let r = Reached {
            value: 0.125,
            proved: false,
        };
        let d = describe_bracket(c.as_ref(), Some(r)).expect("a description");
        assert!(d.contains("at least -0.500000 (disjunct 0"), "{d}");
        assert!(
            d.contains("at most 0.125000 (the branch and bound's bound"),
            "{d}"
        );
        let d = describe_bracket(None, Some(Reached { proved: true, ..r })).expect("a description");
        assert!(d.contains("at most 0.125000 (proved by bounds)") && !d.contains("least"));
        assert!(describe_bracket(None, None).is_none());
    }

    #[test]
    fn an_upper_end_is_proved_only_when_no_rigorous_bound_exceeds_it() {
        // A search's bound below its disjunct's rigorous bound is the end, not proved.
        let r = Reached::over(&[(10.0, Some(2.0))]).expect("an end");
        assert_eq!((r.value, r.proved), (2.0, false));
        // Another disjunct's larger rigorous end: proved, and the search's 3 is below it.
        let r = Reached::over(&[(10.0, None), (4.0, Some(3.0))]).expect("an end");
        assert_eq!((r.value, r.proved), (10.0, true));
        // A larger proved end elsewhere does not prove a disjunct whose own rigorous bound
        // (20) lies above it while its search reached 5.
        let r = Reached::over(&[(20.0, Some(5.0)), (10.0, None)]).expect("an end");
        assert_eq!((r.value, r.proved), (10.0, false));
        // A search's bound above the rigorous one changes nothing.
        let r = Reached::over(&[(1.0, Some(7.0))]).expect("an end");
        assert_eq!((r.value, r.proved), (1.0, true));
        assert!(Reached::over(&[]).is_none());
        assert!(Reached::over(&[(f64::NAN, None), (1.0, None)]).is_none());
    }
}
