//! Bounds of a constraint's value over a box: the cascade's **bounds** step
//! ([`super::property`]), which rules a disjunct out when one of its constraints is positive on
//! the whole box.
//!
//! Why apart: bounding a constraint is bound arithmetic, not the cascade's control. An output
//! combination is bounded as one linear function (back-substitution of its coefficient vector),
//! not output by output: for the margin `y_j - y_c` that is the difference between proving a
//! class question at once and sending it to a MILP. Every bound is widened for rounding like
//! those of [`crate::bounds`], so a disjunct is never ruled out by a rounding error.

use crate::bounds::{BoundMethod, NeuronBounds};
use crate::network::Network;
use crate::property::Constraint;
use crate::region::Hyperbox;

/// Lower and upper bounds of one constraint's `value` over the box of `bounds`.
pub(super) fn value_bounds(
    net: &Network,
    bounds: &NeuronBounds,
    method: BoundMethod,
    region: &Hyperbox,
    c: &Constraint,
) -> (f64, f64) {
    // The input part, over the box (rounding-widened like every bound).
    let (mut xl, mut xu, mut abs) = (0.0, 0.0, 0.0);
    for &(i, a) in &c.x {
        let (l, u) = (region.lb()[i], region.ub()[i]);
        xl += if a >= 0.0 { a * l } else { a * u };
        xu += if a >= 0.0 { a * u } else { a * l };
        abs += a.abs() * l.abs().max(u.abs());
    }
    let widen = (c.x.len() as f64 + 2.0) * f64::EPSILON * (abs + c.constant.abs());
    let (yl, yu) = output_bounds(net, bounds, method, region, &c.y);
    (xl + yl + c.constant - widen, xu + yu + c.constant + widen)
}

/// Bounds of `Σ b_j y_j` over the box. A difference of two outputs uses the classification
/// margin bounds (the same numbers the class questions always used); any other combination is
/// bounded as one linear function (back-substitution) and by the output intervals.
fn output_bounds(
    net: &Network,
    bounds: &NeuronBounds,
    method: BoundMethod,
    region: &Hyperbox,
    y: &[(usize, f64)],
) -> (f64, f64) {
    if y.is_empty() {
        return (0.0, 0.0);
    }
    if let [(a, pa), (b, pb)] = *y {
        // a - b (or b - a): y_a - y_b is the margin "y_j - y_c" with j = a, c = b.
        let diff = |j: usize, c: usize| match method {
            BoundMethod::Interval => (
                -bounds.margin_upper_interval_in(net, j, c, Some(region)),
                bounds.margin_upper_interval_in(net, c, j, Some(region)),
            ),
            BoundMethod::Symbolic => (
                -bounds.margin_upper(net, j, c, region),
                bounds.margin_upper(net, c, j, region),
            ),
        };
        if pa == 1.0 && pb == -1.0 {
            return diff(a, b);
        }
        if pa == -1.0 && pb == 1.0 {
            return diff(b, a);
        }
    }
    // Output intervals (rectified when the output layer has a ReLU).
    let last = net.layers().len() - 1;
    let relu = net.layers()[last].relu;
    let (lo, hi) = (&bounds.lower[last], &bounds.upper[last]);
    let f = |v: f64| if relu { v.max(0.0) } else { v };
    let (mut il, mut iu, mut abs) = (0.0, 0.0, 0.0);
    for &(j, b) in y {
        let (l, u) = (f(lo[j]), f(hi[j]));
        il += if b >= 0.0 { b * l } else { b * u };
        iu += if b >= 0.0 { b * u } else { b * l };
        abs += b.abs() * l.abs().max(u.abs());
    }
    let w = (y.len() as f64 + 2.0) * f64::EPSILON * abs;
    let (mut il, mut iu) = (il - w, iu + w);
    if method == BoundMethod::Symbolic {
        let n = net.output_size();
        let mut up = vec![0.0; n];
        let mut down = vec![0.0; n];
        for &(j, b) in y {
            up[j] += b;
            down[j] -= b;
        }
        iu = iu.min(bounds.output_linear_upper(net, &up, 0.0, region));
        il = il.max(-bounds.output_linear_upper(net, &down, 0.0, region));
    }
    (il, iu)
}

#[cfg(test)]
mod tests {
    use super::value_bounds;
    use crate::bounds::{BoundMethod, NeuronBounds};
    use crate::network::random_net;
    use crate::property::Constraint;
    use crate::region::Hyperbox;

    /// The bounds of a margin, of a general output combination and of a constraint with input
    /// terms contain the constraint's value at every sampled point of the box, with both
    /// methods; the symbolic bounds are never looser than the interval ones.
    #[test]
    fn value_bounds_contain_every_sampled_value() {
        let constraints = [
            Constraint {
                x: vec![],
                y: vec![(1, 1.0), (0, -1.0)],
                constant: 0.0,
                strict: false,
            },
            Constraint {
                x: vec![],
                y: vec![(0, 0.5), (1, -2.0), (2, 1.5)],
                constant: 0.25,
                strict: false,
            },
            Constraint {
                x: vec![(0, 1.0), (2, -3.0)],
                y: vec![(2, -1.0), (1, 1.0)],
                constant: -0.5,
                strict: true,
            },
        ];
        let mut uniform = crate::network::uniform_stream(17u64);
        for seed in 0..10u64 {
            let net = random_net(seed, &[4, 10, 10, 3]);
            let region = Hyperbox::new(vec![-0.5, 0.0, -1.0, 0.2], vec![0.5, 0.3, 1.0, 0.9])
                .expect("a valid box");
            for c in &constraints {
                let mut each = Vec::new();
                for method in [BoundMethod::Interval, BoundMethod::Symbolic] {
                    let bounds = NeuronBounds::compute(&net, &region, method);
                    let (lo, hi) = value_bounds(&net, &bounds, method, &region, c);
                    assert!(lo <= hi, "seed {seed}: [{lo}, {hi}]");
                    for _ in 0..500 {
                        let x: Vec<f64> = (0..4)
                            .map(|i| {
                                let (l, u) = (region.lb()[i], region.ub()[i]);
                                l + (u - l) * uniform()
                            })
                            .collect();
                        let v = c.value(&x, &net.forward(&x));
                        assert!(
                            lo <= v && v <= hi,
                            "seed {seed}, {method:?}: {v} not in [{lo}, {hi}]"
                        );
                    }
                    each.push((lo, hi));
                }
                assert!(each[1].0 >= each[0].0 - 1e-9 && each[1].1 <= each[0].1 + 1e-9);
            }
        }
    }
}
