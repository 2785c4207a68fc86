//! Cheap falsification: projected gradient steps on a property's satisfaction margin (for a
//! class question, the classification margin).
//!
//! An attack never proves anything; it finds counterexamples fast so that the oracle can skip the
//! MILP for boxes that are clearly not sound. Every point it returns is still validated by the
//! oracle with concrete forward passes.

use rand::{Rng, SeedableRng};

use crate::network::Network;
use crate::property::Constraint;
use crate::region::Hyperbox;

/// Attack effort.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AttackSettings {
    /// Random restarts besides the box centre (0 disables random starts).
    pub restarts: usize,
    /// Gradient steps per start.
    pub steps: usize,
    /// Seed of the restarts (attacks are deterministic).
    pub seed: u64,
}

impl Default for AttackSettings {
    fn default() -> Self {
        AttackSettings {
            restarts: 2,
            steps: 12,
            seed: 0x5eed,
        }
    }
}

/// Gradient of `y_j - y_c` with respect to the input at `x` (the network is piecewise linear:
/// this is exact inside `x`'s linear region).
pub fn margin_gradient(net: &Network, x: &[f64], c: usize, j: usize) -> Vec<f64> {
    let mut g = vec![0.0; net.output_size()];
    g[j] = 1.0;
    g[c] -= 1.0;
    backpropagate(net, x, g)
}

/// Gradient of `Σ_j coeff_j y_j` with respect to the input at `x`.
pub fn output_gradient(net: &Network, x: &[f64], coeff: &[(usize, f64)]) -> Vec<f64> {
    let mut g = vec![0.0; net.output_size()];
    for &(j, b) in coeff {
        g[j] += b;
    }
    backpropagate(net, x, g)
}

/// Gradient of a constraint's *satisfaction* `-value(x, y)` at `x`: the direction in which the
/// constraint becomes more satisfied.
pub fn satisfaction_gradient(net: &Network, x: &[f64], c: &Constraint) -> Vec<f64> {
    let neg: Vec<(usize, f64)> = c.y.iter().map(|&(j, b)| (j, -b)).collect();
    let mut g = output_gradient(net, x, &neg);
    for &(i, a) in &c.x {
        g[i] -= a;
    }
    g
}

/// `g · ∂y/∂x` at `x`, for `g` over the outputs.
fn backpropagate(net: &Network, x: &[f64], mut g: Vec<f64>) -> Vec<f64> {
    let trace = net.forward_trace(x);
    let layers = net.layers();
    for (k, layer) in layers.iter().enumerate().rev() {
        if layer.relu {
            for (gi, &z) in g.iter_mut().zip(&trace[k]) {
                if z <= 0.0 {
                    *gi = 0.0;
                }
            }
        }
        let mut prev = vec![0.0; layer.n_in];
        for (o, &go) in g.iter().enumerate() {
            if go != 0.0 {
                for (p, &w) in prev.iter_mut().zip(layer.row(o)) {
                    *p += go * w;
                }
            }
        }
        g = prev;
    }
    g
}

/// How well `x` satisfies the best of `goals` (each a conjunction of constraints): the largest
/// over goals of the smallest satisfaction `-value` of its constraints, and the goal and the
/// constraint that decide it.
fn score(net: &Network, x: &[f64], goals: &[&[Constraint]]) -> (f64, usize, usize) {
    let y = net.forward(x);
    let mut best = (f64::NEG_INFINITY, 0, 0);
    for (g, rows) in goals.iter().enumerate() {
        let mut worst = (f64::INFINITY, 0);
        for (k, c) in rows.iter().enumerate() {
            let s = -c.value(x, &y);
            if s < worst.0 {
                worst = (s, k);
            }
        }
        if worst.0 > best.0 {
            best = (worst.0, g, worst.1);
        }
    }
    best
}

/// Searches `region` for a point where class `c` does not strictly win, for the competitor
/// classes `js` (all others when empty). Returns the best point found (largest `y_j - y_c`) and
/// that value; the caller validates it. The class question as goals for [`attack_goals`].
pub fn attack(
    net: &Network,
    region: &Hyperbox,
    c: usize,
    js: &[usize],
    settings: &AttackSettings,
) -> (Vec<f64>, f64) {
    let all: Vec<usize>;
    let js = if js.is_empty() {
        all = (0..net.output_size()).filter(|&j| j != c).collect();
        &all[..]
    } else {
        js
    };
    let rows: Vec<[Constraint; 1]> = js
        .iter()
        .map(|&j| {
            [Constraint {
                x: Vec::new(),
                y: vec![(c, 1.0), (j, -1.0)],
                constant: 0.0,
                strict: false,
            }]
        })
        .collect();
    let goals: Vec<&[Constraint]> = rows.iter().map(|r| &r[..]).collect();
    attack_goals(net, region, &goals, settings)
}

/// Searches `region` for a point satisfying one of `goals` (each a non-empty conjunction of
/// constraints `value <= 0`): projected sign-gradient ascent on the satisfaction of the goal
/// that currently leads (its least satisfied constraint), from the centre and random restarts.
/// Returns the best point and its score (`>= 0`: every constraint of some goal holds in f64
/// up to strictness); the caller validates it.
pub fn attack_goals(
    net: &Network,
    region: &Hyperbox,
    goals: &[&[Constraint]],
    settings: &AttackSettings,
) -> (Vec<f64>, f64) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(settings.seed);
    let d = region.dim();
    let width: Vec<f64> = (0..d).map(|i| region.ub()[i] - region.lb()[i]).collect();
    let mut best_x = region.center();
    let mut best = score(net, &best_x, goals);
    let starts = 1 + settings.restarts;
    for s in 0..starts {
        let mut x: Vec<f64> = if s == 0 {
            region.center()
        } else {
            (0..d)
                .map(|i| region.lb()[i] + width[i] * rng.gen::<f64>())
                .collect()
        };
        let mut cur = score(net, &x, goals);
        for step in 0..settings.steps {
            // Step size shrinks from the whole width (a jump to the linearised optimum, a vertex)
            // to small refinements.
            let eta = match step {
                0 => 1.0,
                _ => 0.5f64.powi((step as i32 + 1) / 2),
            };
            let g = satisfaction_gradient(net, &x, &goals[cur.1][cur.2]);
            let cand: Vec<f64> = (0..d)
                .map(|i| {
                    let v = x[i] + eta * width[i] * g[i].signum();
                    v.clamp(region.lb()[i], region.ub()[i])
                })
                .collect();
            let sc = score(net, &cand, goals);
            if sc.0 >= cur.0 {
                x = cand;
                cur = sc;
            }
            if cur.0 > best.0 {
                best = cur;
                best_x = x.clone();
            }
            if best.0 > 0.0 {
                return (best_x, best.0);
            }
        }
    }
    (best_x, best.0)
}

/// From a point `x` just inside class `c`'s region (margin slightly positive), steps along the
/// sign of the gradient of the strongest competitor until `c` no longer wins, staying in
/// `domain`. Each step of size `s` moves every coordinate by at most `s`, so the result is
/// within `‖x - x*‖∞ + s` of any centre x*. Returns the first point where `c` loses (f64 check
/// only; the caller confirms), or `None`.
pub fn cross_boundary(net: &Network, x: &[f64], c: usize, domain: &Hyperbox) -> Option<Vec<f64>> {
    let y = net.forward(x);
    let (m, j) = crate::network::margin_of(&y, c);
    let g = margin_gradient(net, x, c, j);
    // Rate at which y_j - y_c grows per unit step (only coordinates free to move count).
    let rate: f64 = (0..x.len())
        .filter(|&i| (g[i] > 0.0 && x[i] < domain.ub()[i]) || (g[i] < 0.0 && x[i] > domain.lb()[i]))
        .map(|i| g[i].abs())
        .sum();
    if rate <= 0.0 {
        return None;
    }
    let base = (m.max(0.0) + 1e-9 * (1.0 + y[c].abs())) / rate;
    for factor in [1.0, 1.5, 2.0, 4.0, 8.0, 16.0, 64.0, 256.0] {
        let s = base * factor;
        let cand: Vec<f64> = (0..x.len())
            .map(|i| (x[i] + s * g[i].signum()).clamp(domain.lb()[i], domain.ub()[i]))
            .collect();
        let (mc, _) = crate::network::margin_of(&net.forward(&cand), c);
        let (mc32, _) = crate::network::margin_of(&net.forward_f32(&cand), c);
        if mc <= 0.0 && mc32 <= 0.0 {
            return Some(cand);
        }
    }
    None
}

/// Searches `region` for a point of class `c`: gradient steps that increase
/// `y_c - max_{j != c} y_j`, from each start (clamped into the region) and the region's centre.
/// Returns the best point and its margin; the caller validates it.
pub fn attack_member(
    net: &Network,
    region: &Hyperbox,
    c: usize,
    starts: &[Vec<f64>],
    settings: &AttackSettings,
) -> (Vec<f64>, f64) {
    let d = region.dim();
    let width: Vec<f64> = (0..d).map(|i| region.ub()[i] - region.lb()[i]).collect();
    let margin = |x: &[f64]| crate::network::margin_of(&net.forward(x), c);
    let mut best_x = region.center();
    let mut best = margin(&best_x);
    let points: Vec<Vec<f64>> = starts
        .iter()
        .map(|s| region.clamp(s))
        .chain(std::iter::once(region.center()))
        .collect();
    for mut x in points {
        let mut cur = margin(&x);
        for step in 0..settings.steps {
            if cur.0 > best.0 {
                best = cur;
                best_x = x.clone();
            }
            if best.0 > 0.0 {
                return (best_x, best.0);
            }
            let eta = 0.5f64.powi((step as i32 + 1) / 2);
            // Ascend y_c - y_j for the strongest competitor j: the gradient of y_j - y_c, negated.
            let g = margin_gradient(net, &x, c, cur.1);
            let cand: Vec<f64> = (0..d)
                .map(|i| {
                    (x[i] - eta * width[i] * g[i].signum()).clamp(region.lb()[i], region.ub()[i])
                })
                .collect();
            let sc = margin(&cand);
            if sc.0 >= cur.0 {
                x = cand;
                cur = sc;
            }
        }
        if cur.0 > best.0 {
            best = cur;
            best_x = x;
        }
    }
    (best_x, best.0)
}

/// Effort of the projected-gradient attack ([`pgd`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PgdSettings {
    /// Starts per competitor: the box centre, then random points and random vertices.
    pub starts: usize,
    /// Gradient steps per start.
    pub steps: usize,
    /// Seed (attacks are deterministic).
    pub seed: u64,
}

impl Default for PgdSettings {
    fn default() -> Self {
        PgdSettings {
            starts: 4,
            steps: 40,
            seed: 0x9d9,
        }
    }
}

/// Projected gradient ascent (L∞, signed steps) on each competitor's margin `y_j - y_c` in
/// turn, most dangerous first, from several starts per competitor: the centre, random points,
/// random vertices and the caller's `hints` (e.g. a relaxation's optimum); the step shrinks
/// linearly from a third of the box's width to a hundredth, and the iterate always moves (the
/// best point is kept), which escapes the plateaus where a monotone ascent stalls. Deep networks
/// need this: their counterexamples sit in narrow regions that one short ascent misses.
///
/// Returns the best point found (largest `y_j - y_c` over `js`) and its value, stopping at the
/// first positive value or at `stop_at`. The caller validates the point.
pub fn pgd(
    net: &Network,
    region: &Hyperbox,
    c: usize,
    js: &[usize],
    hints: &[Vec<f64>],
    settings: &PgdSettings,
    stop_at: Option<std::time::Instant>,
) -> (Vec<f64>, f64) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(settings.seed);
    let d = region.dim();
    let (lb, ub) = (region.lb(), region.ub());
    let width: Vec<f64> = (0..d).map(|i| ub[i] - lb[i]).collect();
    let all: Vec<usize> = (0..net.output_size()).filter(|&j| j != c).collect();
    let js = if js.is_empty() { &all[..] } else { js };
    let mut best_x = region.center();
    let mut best = f64::NEG_INFINITY;
    let late = || stop_at.is_some_and(|t| std::time::Instant::now() >= t);
    for &j in js {
        for s in 0..settings.starts + hints.len() {
            if late() {
                return (best_x, best);
            }
            let mut x: Vec<f64> = if s < hints.len() {
                region.clamp(&hints[s])
            } else {
                match s - hints.len() {
                    0 => region.center(),
                    k if k % 2 == 1 => (0..d)
                        .map(|i| lb[i] + width[i] * rng.gen::<f64>())
                        .collect(),
                    _ => (0..d)
                        .map(|i| if rng.gen::<bool>() { lb[i] } else { ub[i] })
                        .collect(),
                }
            };
            for step in 0..settings.steps {
                let y = net.forward(&x);
                let v = y[j] - y[c];
                if v > best {
                    best = v;
                    best_x = x.clone();
                }
                if best > 0.0 {
                    return (best_x, best);
                }
                let frac = step as f64 / settings.steps.max(1) as f64;
                let eta = (1.0 - frac) / 3.0 + frac / 100.0;
                let g = margin_gradient(net, &x, c, j);
                for i in 0..d {
                    if g[i] != 0.0 {
                        x[i] = (x[i] + eta * width[i] * g[i].signum()).clamp(lb[i], ub[i]);
                    }
                }
            }
            let y = net.forward(&x);
            if y[j] - y[c] > best {
                best = y[j] - y[c];
                best_x = x;
            }
            if best > 0.0 {
                return (best_x, best);
            }
        }
    }
    (best_x, best)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::network::Layer;

    /// One input x in [0, 1]; y0 = 0.5, y1 = 0.4 + 0.09 x (never wins), y2 = 0.6 - 0.5 x (wins
    /// below x = 0.2). At the centre class 1 leads the competitors, so an attack on both
    /// follows it to x = 1 and misses class 2's win at x = 0: why the oracle also runs one
    /// targeted ascent per competitor.
    #[test]
    fn a_targeted_ascent_finds_what_the_leading_competitor_hides() {
        let net = Network::new(
            vec![
                Layer {
                    n_in: 1,
                    n_out: 2,
                    weights: vec![1.0, -1.0],
                    bias: vec![0.0, 1.0],
                    relu: true,
                },
                Layer {
                    n_in: 2,
                    n_out: 3,
                    weights: vec![0.0, 0.0, 0.09, 0.0, 0.0, 0.5],
                    bias: vec![0.5, 0.4, 0.1],
                    relu: false,
                },
            ],
            vec![1],
        )
        .unwrap();
        let region = Hyperbox::new(vec![0.0], vec![1.0]).unwrap();
        let settings = AttackSettings {
            restarts: 0,
            ..AttackSettings::default()
        };
        let (_, mixed) = attack(&net, &region, 0, &[1, 2], &settings);
        assert!(mixed < 0.0, "the mixed attack should stall, got {mixed}");
        let (x, targeted) = attack(&net, &region, 0, &[2], &settings);
        assert!(
            targeted > 0.0 && x[0] < 0.2,
            "targeted: {targeted} at {x:?}"
        );
    }

    #[test]
    fn gradient_matches_finite_differences() {
        let net = Network::new(
            vec![
                Layer {
                    n_in: 3,
                    n_out: 4,
                    weights: vec![
                        0.3, -0.2, 0.5, -0.7, 0.1, 0.4, 0.2, 0.9, -0.3, -0.5, 0.6, 0.1,
                    ],
                    bias: vec![0.1, 0.2, -0.1, 0.05],
                    relu: true,
                },
                Layer {
                    n_in: 4,
                    n_out: 3,
                    weights: vec![
                        1.0, -0.5, 0.3, 0.2, -0.4, 0.8, 0.1, -0.9, 0.6, 0.6, -0.2, 0.3,
                    ],
                    bias: vec![0.0, 0.1, -0.1],
                    relu: false,
                },
            ],
            vec![3],
        )
        .unwrap();
        let x = [0.4, 0.35, 0.6];
        let g = margin_gradient(&net, &x, 0, 2);
        let f = |x: &[f64]| {
            let y = net.forward(x);
            y[2] - y[0]
        };
        for i in 0..3 {
            let mut xp = x;
            xp[i] += 1e-7;
            let fd = (f(&xp) - f(&x)) / 1e-7;
            assert!((fd - g[i]).abs() < 1e-5, "coordinate {i}: {fd} vs {}", g[i]);
        }
    }

    #[test]
    fn finds_the_misclassified_corner() {
        // Class 0 iff x0 < 0.5 (y0 = 0.5 - x0, y1 = 0): the attack on [0, 1] finds x0 > 0.5.
        let net = Network::new(
            vec![Layer {
                n_in: 1,
                n_out: 2,
                weights: vec![-1.0, 0.0],
                bias: vec![0.5, 0.0],
                relu: false,
            }],
            vec![1],
        )
        .unwrap();
        let (x, v) = attack(&net, &Hyperbox::unit(1), 0, &[], &AttackSettings::default());
        assert!(v > 0.0 && x[0] > 0.5);
    }
}
