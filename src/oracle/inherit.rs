//! A memo of LP-tightened bounds, so that a later question on a smaller box starts from them.
//!
//! LP tightening (`milp/tighten.rs`) spends seconds to tens of seconds on one box. Searches then
//! ask nested questions: the apothem's bisection on deep networks asks a smaller ball after an
//! undecided or refuted one, a maximal search sub-boxes of a refused box. Without this memo each
//! of those starts again from back-substituted bounds, much looser than the tightened bounds of
//! the box around it, and spends its own budget winning back what was already known.
//!
//! Soundness: an entry's bounds hold for every point of its box; a box contained in it is a
//! subset, so they hold there too. A question's own bounds are intersected with every entry whose
//! box contains its box (layer by layer, so each neuron keeps the tighter of two valid bounds),
//! and the later layers are then re-propagated by back-substitution over the intersection
//! (`NeuronBounds::refresh_after`, which only ever intersects further). Nothing is concluded for
//! a box larger than an entry's.

use std::sync::Mutex;

use crate::bounds::NeuronBounds;
use crate::network::Network;
use crate::region::Hyperbox;

/// Most entries kept (oldest dropped first): each holds a box (two input-sized vectors) and one
/// pair of bounds per neuron.
const LIMIT: usize = 16;

/// Tightened bounds, each with the box where it holds.
#[derive(Debug, Default)]
pub(crate) struct Tightened {
    entries: Mutex<Vec<(Hyperbox, NeuronBounds)>>,
}

impl Tightened {
    /// Remembers `bounds`, valid over `region` (a previous entry for the same box is replaced).
    pub(crate) fn record(&self, region: &Hyperbox, bounds: &NeuronBounds) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.retain(|(b, _)| b != region);
        if entries.len() >= LIMIT {
            entries.remove(0);
        }
        entries.push((region.clone(), bounds.clone()));
    }

    /// Whether some remembered box contains `region` and is nearly it: each side of `region`
    /// at least `share` of the remembered box's side. A tightening pass on such a box would
    /// mostly win back what the inherited bounds already hold.
    pub(crate) fn covers(&self, region: &Hyperbox, share: f64) -> bool {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.iter().any(|(b, _)| {
            b.contains_box(region)
                && (0..region.dim())
                    .all(|i| region.ub()[i] - region.lb()[i] >= share * (b.ub()[i] - b.lb()[i]))
        })
    }

    /// `bounds` (valid over `region`) intersected with every remembered entry whose box contains
    /// `region`, the later layers re-propagated over the result; `bounds` unchanged when no
    /// entry applies or nothing tightens. The second value says whether any entry applied.
    pub(crate) fn refine(
        &self,
        net: &Network,
        region: &Hyperbox,
        mut bounds: NeuronBounds,
    ) -> (NeuronBounds, bool) {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let mut changed = false;
        let mut applied = false;
        for (b, e) in entries.iter() {
            if !b.contains_box(region) || !same_shape(e, &bounds) {
                continue;
            }
            applied = true;
            changed |= intersect(&mut bounds, e);
        }
        drop(entries);
        if !changed {
            return (bounds, applied);
        }
        let before = bounds.clone();
        if bounds.refresh_after(net, region, 0, &[]) {
            (bounds, true)
        } else {
            // A contradiction between valid bounds of a non-empty box is rounding noise: keep
            // the intersection, which is valid, without the re-propagation.
            (before, true)
        }
    }
}

fn same_shape(a: &NeuronBounds, b: &NeuronBounds) -> bool {
    a.lower.len() == b.lower.len()
        && a.lower
            .iter()
            .zip(&b.lower)
            .all(|(x, y)| x.len() == y.len())
        && a.upper
            .iter()
            .zip(&b.upper)
            .all(|(x, y)| x.len() == y.len())
}

/// `bounds := bounds ∩ other`, neuron by neuron; whether any bound moved. A NaN on either side
/// is kept out (`f64::max`/`min` return the other operand).
fn intersect(bounds: &mut NeuronBounds, other: &NeuronBounds) -> bool {
    let mut changed = false;
    for (mine, theirs) in bounds.lower.iter_mut().zip(&other.lower) {
        for (m, t) in mine.iter_mut().zip(theirs) {
            if *t > *m {
                *m = *t;
                changed = true;
            }
        }
    }
    for (mine, theirs) in bounds.upper.iter_mut().zip(&other.upper) {
        for (m, t) in mine.iter_mut().zip(theirs) {
            if *t < *m {
                *m = *t;
                changed = true;
            }
        }
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::milp::tighten::{tighten, Cuts};
    use crate::network::random_net;
    use rand::{Rng, SeedableRng};

    /// Bounds tightened on an outer box, inherited by an inner box: never looser than the inner
    /// box's own, containing every sampled pre-activation of the inner box, and tighter somewhere
    /// (else the test proves nothing); an entry never applies to a box sticking out of its box.
    #[test]
    fn inherited_bounds_are_tighter_and_contain_every_sample() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let mut unit = move || rng.gen::<f64>();
        let mut gained = 0usize;
        for seed in 0..10u64 {
            let net = random_net(seed, &[5, 16, 16, 16, 4]);
            let domain = Hyperbox::uniform(5, -1.0, 1.0).unwrap();
            let centre: Vec<f64> = (0..5)
                .map(|i| ((seed + i) % 5) as f64 * 0.3 - 0.6)
                .collect();
            let outer = Hyperbox::ball(&centre, 0.4, &domain);
            let inner = Hyperbox::ball(&centre, 0.3, &domain);
            let beside = Hyperbox::ball(
                &centre.iter().map(|v| v + 0.2).collect::<Vec<_>>(),
                0.3,
                &domain,
            );
            let (tight, _) = tighten(
                &net,
                &outer,
                &NeuronBounds::symbolic(&net, &outer),
                None,
                Cuts::default(),
            );
            let memo = Tightened::default();
            memo.record(&outer, &tight);
            let own = NeuronBounds::symbolic(&net, &inner);
            let (refined, applied) = memo.refine(&net, &inner, own.clone());
            assert!(applied);
            if !outer.contains_box(&beside) {
                let (same, applied) = memo.refine(&net, &beside, own.clone());
                assert!(
                    !applied && same == own,
                    "an entry applied to a box it does not contain"
                );
            }
            for k in 0..own.lower.len() {
                for i in 0..own.lower[k].len() {
                    assert!(refined.lower[k][i] >= own.lower[k][i]);
                    assert!(refined.upper[k][i] <= own.upper[k][i]);
                    if refined.upper[k][i] < own.upper[k][i] - 1e-9
                        || refined.lower[k][i] > own.lower[k][i] + 1e-9
                    {
                        gained += 1;
                    }
                }
            }
            for n in 0..2000 {
                let x: Vec<f64> = (0..5)
                    .map(|i| {
                        let (l, u) = (inner.lb()[i], inner.ub()[i]);
                        // Corners too: extreme values live there.
                        let t = if n % 3 == 0 { unit().round() } else { unit() };
                        l + t * (u - l)
                    })
                    .collect();
                let tr = net.forward_trace(&x);
                for k in 0..net.layers().len() - 1 {
                    for (i, &v) in tr[k].iter().enumerate() {
                        assert!(
                            refined.lower[k][i] <= v && v <= refined.upper[k][i],
                            "seed {seed}: neuron ({k}, {i}) = {v} outside [{}, {}]",
                            refined.lower[k][i],
                            refined.upper[k][i]
                        );
                    }
                }
            }
        }
        assert!(
            gained > 0,
            "the outer box's tightened bounds never helped: vacuous"
        );
    }

    /// `covers` answers only for a box inside a remembered one whose every side is at least
    /// the share of the remembered side (clipped sides included), and never without an entry.
    #[test]
    fn covers_only_nearly_equal_boxes_inside_an_entry() {
        let net = random_net(1, &[3, 6, 6, 2]);
        let domain = Hyperbox::uniform(3, 0.0, 1.0).unwrap();
        // The first coordinate sits on the domain's edge: its side is r, not 2r.
        let centre = [0.0, 0.5, 0.5];
        let outer = Hyperbox::ball(&centre, 0.1, &domain);
        let memo = Tightened::default();
        assert!(!memo.covers(&outer, 0.95));
        memo.record(&outer, &NeuronBounds::symbolic(&net, &outer));
        assert!(memo.covers(&outer, 0.95));
        assert!(memo.covers(&Hyperbox::ball(&centre, 0.096, &domain), 0.95));
        assert!(!memo.covers(&Hyperbox::ball(&centre, 0.09, &domain), 0.95));
        assert!(memo.covers(&Hyperbox::ball(&centre, 0.09, &domain), 0.85));
        // Nearly as large but not inside: no.
        assert!(!memo.covers(&Hyperbox::ball(&[0.0, 0.51, 0.5], 0.099, &domain), 0.9));
        assert!(!memo.covers(&Hyperbox::ball(&centre, 0.11, &domain), 0.5));
    }
}
