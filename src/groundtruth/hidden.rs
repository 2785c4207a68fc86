//! The `--hidden` filter: a strong projected-gradient attack, so that a suite can keep only
//! the `sat` instances whose counterexample exists (the key holds one) but that an attack
//! alone does not find.
//!
//! Built on [`crate::attack`]'s public steps: the untargeted attack that follows the leading
//! competitor, and one targeted ascent per competitor (the leading one can hide the class
//! that actually wins somewhere), each from the box centre and many random starts, with far
//! more steps than the oracle's cheap falsifier spends. Every hit is confirmed in f64 and f32.

use crate::attack::{attack, AttackSettings};
use crate::network::Network;
use crate::oracle::Witness;
use crate::region::Hyperbox;

/// Effort of the strong attack.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StrongAttack {
    /// Random restarts per target (besides the box centre).
    pub restarts: usize,
    /// Gradient steps per start.
    pub steps: usize,
    /// Seed (the attack is deterministic).
    pub seed: u64,
}

impl Default for StrongAttack {
    fn default() -> Self {
        StrongAttack {
            restarts: 50,
            steps: 40,
            seed: 0x61d_5eed,
        }
    }
}

/// A confirmed counterexample in `region` to "classified `class`" that the attack finds, or
/// `None` when it finds none.
pub fn strong_attack(
    net: &Network,
    region: &Hyperbox,
    class: usize,
    effort: &StrongAttack,
) -> Option<Witness> {
    let targets: Vec<Vec<usize>> = std::iter::once(Vec::new())
        .chain(
            (0..net.output_size())
                .filter(|&j| j != class)
                .map(|j| vec![j]),
        )
        .collect();
    for (k, js) in targets.iter().enumerate() {
        let settings = AttackSettings {
            restarts: effort.restarts,
            steps: effort.steps,
            seed: effort.seed.wrapping_add(k as u64),
        };
        let (x, value) = attack(net, region, class, js, &settings);
        if value >= 0.0 {
            if let Some(w) = Witness::confirm(net, &x, class) {
                return Some(w);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::network::Layer;

    #[test]
    fn finds_an_easy_counterexample_and_none_where_there_is_none() {
        // Class 0 iff x0 < 0.5.
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
        let effort = StrongAttack::default();
        let w = strong_attack(&net, &Hyperbox::unit(1), 0, &effort).unwrap();
        assert!(w.x[0] >= 0.5);
        let safe = Hyperbox::new(vec![0.0], vec![0.4]).unwrap();
        assert!(strong_attack(&net, &safe, 0, &effort).is_none());
    }
}
