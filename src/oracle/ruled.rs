//! A memo of disjuncts that a MILP proved empty, so that a later question on a smaller box does
//! not prove them again.
//!
//! Searches ask nested questions all the time: a refused settling question is followed by a
//! bisection over sub-boxes of the refused box (maximal family), a ball that could not be proved
//! by a slightly smaller ball (apothem), a refused box by a shrunk one (top-down searches). When
//! a question is refused because one competitor has a counterexample, the MILPs of the other
//! competitors usually proved them out already; without this memo every sub-box question proves
//! them again.
//!
//! Soundness: an entry says "no point of box `B` satisfies every constraint of this list with
//! margin τ" (the MILP ruled the disjunct out). For a box `B' ⊆ B` and the same constraint list,
//! every point of `B'` is a point of `B`, so the same holds — whatever constraints `B'` happens
//! to imply (an implied constraint holds with value `<= 0` everywhere in `B'`). Entries are only
//! added for `RuledOut` results of the oracle's own τ, and only a box contained in an entry's
//! box is answered from it; nothing is ever concluded for a larger box.

use std::sync::Mutex;

use crate::property::Constraint;
use crate::region::Hyperbox;

/// Most entries kept (oldest dropped first): each costs two vectors of the input dimension, and
/// a lookup scans them.
const LIMIT: usize = 512;

/// One memo entry: a disjunct's constraints and a box where no point satisfies them.
type Entry = (Vec<Constraint>, Hyperbox);

/// Whether some entry has these `constraints` and a box containing `region`.
fn covered(entries: &[Entry], constraints: &[Constraint], region: &Hyperbox) -> bool {
    entries
        .iter()
        .any(|(c, b)| c.as_slice() == constraints && b.contains_box(region))
}

/// Disjuncts proved empty: `(constraints, box)`.
#[derive(Debug, Default)]
pub(crate) struct RuledOut {
    entries: Mutex<Vec<Entry>>,
}

impl RuledOut {
    /// Whether a disjunct with these `constraints` was proved empty on a box containing
    /// `region`.
    pub(crate) fn covers(&self, constraints: &[Constraint], region: &Hyperbox) -> bool {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        covered(&entries, constraints, region)
    }

    /// Records that no point of `region` satisfies `constraints` (with the oracle's margin).
    /// An entry made redundant by it (same constraints, smaller box) is dropped.
    pub(crate) fn record(&self, constraints: &[Constraint], region: &Hyperbox) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if covered(&entries, constraints, region) {
            return;
        }
        entries.retain(|(c, b)| !(c.as_slice() == constraints && region.contains_box(b)));
        if entries.len() >= LIMIT {
            entries.remove(0);
        }
        entries.push((constraints.to_vec(), region.clone()));
    }

    /// Number of entries.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.entries.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(j: usize) -> Vec<Constraint> {
        vec![Constraint {
            x: Vec::new(),
            y: vec![(0, 1.0), (j, -1.0)],
            constant: 0.0,
            strict: false,
        }]
    }

    fn bx(lo: f64, hi: f64) -> Hyperbox {
        Hyperbox::new(vec![lo, lo], vec![hi, hi]).unwrap()
    }

    #[test]
    fn only_sub_boxes_with_the_same_constraints_are_covered() {
        let memo = RuledOut::default();
        memo.record(&row(1), &bx(0.2, 0.8));
        assert!(memo.covers(&row(1), &bx(0.3, 0.7)));
        assert!(memo.covers(&row(1), &bx(0.2, 0.8)));
        // A larger box, or one sticking out on one side, is not covered.
        assert!(!memo.covers(&row(1), &bx(0.1, 0.8)));
        assert!(!memo.covers(&row(1), &bx(0.3, 0.9)));
        // Another competitor is another question.
        assert!(!memo.covers(&row(2), &bx(0.3, 0.7)));
    }

    #[test]
    fn a_larger_box_replaces_the_entries_it_contains() {
        let memo = RuledOut::default();
        memo.record(&row(1), &bx(0.3, 0.7));
        memo.record(&row(1), &bx(0.4, 0.6));
        assert_eq!(memo.len(), 1);
        memo.record(&row(1), &bx(0.2, 0.8));
        assert_eq!(memo.len(), 1);
        assert!(memo.covers(&row(1), &bx(0.25, 0.75)));
        memo.record(&row(2), &bx(0.2, 0.8));
        assert_eq!(memo.len(), 2);
    }
}
