//! Parallel questions in a chosen order: the MILPs of one question (one per competitor or slab)
//! run on the rayon pool, most promising first, so that what the first ones learn (a
//! counterexample that stops the rest, a cut-off shared between optimisations) reaches the
//! later ones before they start.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use rayon::prelude::*;

/// Maps `f` over `items` on the rayon pool, starting them in order (most promising first), so
/// that early results (a counterexample, a cut-off) reach the later ones. Plain `par_iter`
/// splits the list in halves instead.
pub(crate) fn ordered_par_map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let next = AtomicUsize::new(0);
    let out: Vec<Mutex<Option<R>>> = items.iter().map(|_| Mutex::new(None)).collect();
    let workers = rayon::current_num_threads().clamp(1, items.len().max(1));
    (0..workers).into_par_iter().for_each(|_| loop {
        let i = next.fetch_add(1, Ordering::Relaxed);
        if i >= items.len() {
            break;
        }
        let r = f(&items[i]);
        *out[i].lock().unwrap_or_else(|e| e.into_inner()) = Some(r);
    });
    out.into_iter()
        .filter_map(|m| m.into_inner().unwrap_or_else(|e| e.into_inner()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Results come back in the items' order, one per item, whatever thread ran each; items are
    /// taken in order (the first one to finish is some worker's first item, so among the first
    /// `workers`, not wherever a split of the list would put it).
    #[test]
    fn results_keep_the_items_order_and_items_start_in_order() {
        let items: Vec<u64> = (0..200).collect();
        let started = Mutex::new(Vec::new());
        let out = ordered_par_map(&items, |&i| {
            started.lock().unwrap().push(i);
            i * i
        });
        assert_eq!(out, items.iter().map(|i| i * i).collect::<Vec<_>>());
        let started = started.into_inner().unwrap();
        assert_eq!(started.len(), items.len());
        assert!((started[0] as usize) < rayon::current_num_threads());
        assert!(ordered_par_map(&[] as &[u64], |&i| i).is_empty());
    }
}
