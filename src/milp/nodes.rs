//! Node bounds for the branch and bound: the link between the MILP's binaries and the
//! network's neurons, so that each node's ReLU fixings re-propagate through the network
//! ([`NeuronBounds::under_phases`]) and tighten the node's LP.
//!
//! At a node the refined bounds do three things: a contradiction closes the node without an
//! LP; a neuron whose refined bounds have one sign gets its binary fixed (an implied split: the
//! big-M rows then encode it exactly); the pre-activation and output columns of the others get
//! the tighter bounds. Everything stays valid for every point of the node (see `under_phases`).

use std::sync::Arc;

use super::solver::ReluCols;
use crate::bounds::{NeuronBounds, Phase};
use crate::network::Network;

/// One encoded unstable ReLU: where it sits in the network and its columns.
#[derive(Debug, Clone, Copy)]
struct Site {
    layer: usize,
    neuron: usize,
    cols: ReluCols,
}

/// Re-propagates bounds under a node's fixings (attached to a [`super::solver::Milp`] by the
/// encoding; only our branch and bound reads it).
#[derive(Debug)]
pub struct PhaseRefiner {
    net: Network,
    root: Arc<NeuronBounds>,
    sites: Vec<Site>,
    /// Site index of each binary column.
    by_binary: std::collections::HashMap<usize, usize>,
}

/// Column bounds to impose at a node: `(column, lb, ub)`.
pub type ColumnBounds = Vec<(usize, f64, f64)>;

impl PhaseRefiner {
    /// A refiner for an encoding of `net` with `root` bounds (valid over the encoded box);
    /// `relus` lists the encoded ReLUs as `(layer, neuron, columns)`.
    pub fn new(
        net: &Network,
        root: &NeuronBounds,
        relus: impl IntoIterator<Item = (usize, usize, ReluCols)>,
    ) -> Self {
        let sites: Vec<Site> = relus
            .into_iter()
            .map(|(layer, neuron, cols)| Site {
                layer,
                neuron,
                cols,
            })
            .collect();
        let by_binary = sites
            .iter()
            .enumerate()
            .map(|(s, x)| (x.cols.a, s))
            .collect();
        PhaseRefiner {
            net: net.clone(),
            root: Arc::new(root.clone()),
            sites,
            by_binary,
        }
    }

    /// The root bounds.
    pub fn root(&self) -> Arc<NeuronBounds> {
        self.root.clone()
    }

    /// The bounds of a child: `parent`'s bounds with binary `col` fixed to `value`. `None` when
    /// the child is empty. A column that is not a ReLU binary changes nothing.
    pub fn child(&self, parent: &NeuronBounds, col: usize, value: u8) -> Option<NeuronBounds> {
        let Some(&s) = self.by_binary.get(&col) else {
            return Some(parent.clone());
        };
        let site = self.sites[s];
        let phase: Phase = (site.layer, site.neuron, value == 1);
        parent.under_phases(&self.net, &[phase])
    }

    /// The column bounds that `bounds` (a node's) imply: pre-activation and output ranges of
    /// every encoded ReLU, and the binaries of those whose sign is settled.
    pub fn columns(&self, bounds: &NeuronBounds) -> ColumnBounds {
        let mut out = Vec::with_capacity(3 * self.sites.len());
        for s in &self.sites {
            let (l, u) = (
                bounds.lower[s.layer][s.neuron],
                bounds.upper[s.layer][s.neuron],
            );
            out.push((s.cols.z, l, u));
            out.push((s.cols.h, 0.0, u.max(0.0)));
            if l >= 0.0 {
                out.push((s.cols.a, 1.0, 1.0));
            } else if u <= 0.0 {
                out.push((s.cols.a, 0.0, 0.0));
            } else {
                out.push((s.cols.a, 0.0, 1.0));
            }
        }
        out
    }
}
