//! The open nodes of one branch and bound, shared by the workers that explore it, and the
//! process-wide count of such workers.
//!
//! Why: the oracle solves one MILP per competitor, in parallel, one core each. The hard
//! questions end with a single competitor left open for most of their time (on
//! 784-256×4-10, eight competitors close in seconds and the last takes a minute), and the other
//! core then sits idle. A solve adds a helper worker, with its own LP, when a core is free;
//! the workers take nodes from one stack, so the tree is the same one, explored faster.
//!
//! Each worker pushes a node's children and at once takes the top one back, so it follows its
//! own dive (its LP's basis is the parent's) unless it runs out of nodes; a node that another
//! worker's LP solved restarts from the basis it carries.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};

use super::model::Status;

/// Branch-and-bound workers running in this process, over all solves (and the workers of LP
/// tightening passes, which use cores the same way).
static WORKERS: AtomicUsize = AtomicUsize::new(0);

/// A worker's place in [`WORKERS`], given back when dropped.
pub(super) struct Slot(());

impl Slot {
    /// The place of a solve's own worker (always granted: a solve runs on the thread that
    /// called it).
    pub fn own() -> Slot {
        WORKERS.fetch_add(1, Ordering::SeqCst);
        Slot(())
    }

    /// A helper's place, only while fewer than `cores` workers run.
    pub fn helper(cores: usize) -> Option<Slot> {
        let mut cur = WORKERS.load(Ordering::SeqCst);
        loop {
            if cur >= cores {
                return None;
            }
            match WORKERS.compare_exchange(cur, cur + 1, Ordering::SeqCst, Ordering::SeqCst) {
                Ok(_) => return Some(Slot(())),
                Err(now) => cur = now,
            }
        }
    }

    /// Whether more than `cores` workers run (a helper should then leave).
    pub fn crowded(cores: usize) -> bool {
        WORKERS.load(Ordering::Relaxed) > cores
    }

    /// Whether a helper could start now (a hint: [`Slot::helper`] decides).
    pub fn free(cores: usize) -> bool {
        WORKERS.load(Ordering::Relaxed) < cores
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        WORKERS.fetch_sub(1, Ordering::SeqCst);
    }
}

/// What the workers share: the open nodes and the search's results so far.
pub(super) struct State<N> {
    /// Open nodes, the newest last.
    pub stack: Vec<N>,
    /// Workers holding a node taken from the stack.
    busy: usize,
    /// Why the search stopped early, if it did (the first reason wins).
    pub stopped: Option<Status>,
    /// Best point found: internal objective and column values.
    pub incumbent: Option<(f64, Vec<f64>)>,
    /// Largest bound of subtrees dropped by the shared cut-off or left unresolved.
    pub cut_bound: f64,
    /// Subtrees left unresolved (numerical trouble).
    pub unresolved: usize,
    /// Node LPs solved, by every worker; also each solve's number.
    pub nodes: i64,
    /// The LP solution of the most deeply fixed node solved so far, with its number of
    /// fixings (the latest of equally deep ones).
    pub deepest: Option<(usize, Vec<f64>)>,
}

/// The shared tree.
pub(super) struct Tree<N> {
    state: Mutex<State<N>>,
    wake: Condvar,
}

impl<N> Tree<N> {
    /// A tree holding only `root`.
    pub fn new(root: N) -> Self {
        Tree {
            state: Mutex::new(State {
                stack: vec![root],
                busy: 0,
                stopped: None,
                incumbent: None,
                cut_bound: f64::NEG_INFINITY,
                unresolved: 0,
                nodes: 0,
                deepest: None,
            }),
            wake: Condvar::new(),
        }
    }

    /// The shared state (a poisoned lock is taken over: every update leaves it consistent).
    pub fn lock(&self) -> MutexGuard<'_, State<N>> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The next node to explore; `None` when the search has stopped or the tree is exhausted
    /// (no open node, and no worker holding one that could still have children). The caller
    /// must end every node it gets with [`Tree::done`] or [`Tree::stop`].
    pub fn next(&self) -> Option<N> {
        let mut s = self.lock();
        loop {
            if s.stopped.is_some() {
                return None;
            }
            if let Some(node) = s.stack.pop() {
                s.busy += 1;
                return Some(node);
            }
            if s.busy == 0 {
                return None;
            }
            s = self.wake.wait(s).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// Ends a node: its children (if any) join the open nodes.
    pub fn done(&self, children: impl IntoIterator<Item = N>) {
        let mut s = self.lock();
        s.stack.extend(children);
        s.busy -= 1;
        drop(s);
        self.wake.notify_all();
    }

    /// Ends a node and stops the search: `node`, if given, stays open (its bound counts in the
    /// result).
    pub fn stop(&self, node: Option<N>, status: Status) {
        let mut s = self.lock();
        s.stack.extend(node);
        s.stopped.get_or_insert(status);
        s.busy -= 1;
        drop(s);
        self.wake.notify_all();
    }

    /// A subtree was dropped by the shared cut-off at this bound.
    pub fn raise_cut_bound(&self, bound: f64) {
        let mut s = self.lock();
        s.cut_bound = s.cut_bound.max(bound);
    }

    /// A subtree with this bound was left unresolved (its LP did not end cleanly).
    pub fn unresolved(&self, bound: f64) {
        let mut s = self.lock();
        s.unresolved += 1;
        s.cut_bound = s.cut_bound.max(bound);
    }

    /// Open nodes now.
    pub fn open(&self) -> usize {
        self.lock().stack.len()
    }

    /// The final state, once every worker has returned.
    pub fn into_state(self) -> State<N> {
        self.state.into_inner().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tree_ends_when_no_worker_holds_a_node() {
        let tree = Tree::new(0u32);
        let root = tree.next();
        assert_eq!(root, Some(0));
        tree.done([1, 2]);
        assert_eq!(tree.next(), Some(2));
        assert_eq!(tree.next(), Some(1));
        tree.done([]);
        tree.done([]);
        assert_eq!(tree.next(), None);
    }

    #[test]
    fn a_stopped_tree_keeps_the_open_node() {
        let tree = Tree::new(0u32);
        let n = tree.next();
        tree.stop(n, Status::TimeLimit);
        assert_eq!(tree.next(), None);
        let s = tree.into_state();
        assert_eq!(s.stack, vec![0]);
        assert_eq!(s.stopped, Some(Status::TimeLimit));
    }

    #[test]
    fn two_workers_share_one_tree() {
        // A complete binary tree of depth 10, explored by two threads: every node once.
        let tree = Tree::new(0u32);
        let seen = AtomicUsize::new(0);
        std::thread::scope(|s| {
            for _ in 0..2 {
                s.spawn(|| {
                    while let Some(depth) = tree.next() {
                        seen.fetch_add(1, Ordering::Relaxed);
                        if depth < 10 {
                            tree.done([depth + 1, depth + 1]);
                        } else {
                            tree.done([]);
                        }
                    }
                });
            }
        });
        assert_eq!(seen.into_inner(), (1 << 11) - 1);
    }

    #[test]
    fn helper_slots_stop_at_the_core_count() {
        assert!(Slot::helper(0).is_none());
        let helper = Slot::helper(usize::MAX);
        assert!(helper.is_some());
    }
}
