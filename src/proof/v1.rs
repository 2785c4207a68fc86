//! Format version 1 (soundness proofs only), read for files written by earlier ppnn and
//! upgraded to version 2 on reading: the checker has one code path.
//!
//! ```text
//! { "format": "ppnn-proof", "version": 1, "model_sha256": "..", "class": c, "margin": τ,
//!   "region": { "lb": [..], "ub": [..] }, "center": [..] | null,
//!   "bounds": { "lower": [[..]..], "upper": [[..]..], "slopes": [[..]..] },
//!   "competitors": [ { "class": j, "by": "bounds" }
//!                  | { "class": j, "by": "branch-and-bound", "leaves": [Leaf, ..] } ] }
//! ```
//!
//! A competitor `j` is the question "no point of the region has `y_j - y_c >= -τ`", i.e. version
//! 2's refutation of the one row `y_c - y_j <= τ` ([`Row::difference`]`(c, j)`). Its leaves
//! carry the multiplier of that row as `M` on the `>=` form; version 2's `Q` row is the same
//! hyperplane negated, so the multiplier is negated too (the certificate is unchanged).

use serde::Deserialize;

use super::{Bounds, By, Claim, Leaf, Part, PartRegion, Proof, Refutation, Region, Row, RowKind};

/// A version 1 proof.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ProofV1 {
    format: String,
    model_sha256: String,
    class: usize,
    margin: f64,
    region: Region,
    #[serde(default)]
    center: Option<Vec<f64>>,
    bounds: Bounds,
    competitors: Vec<CompetitorV1>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
struct CompetitorV1 {
    class: usize,
    #[serde(flatten)]
    by: By,
}

impl ProofV1 {
    /// The same proof in version 2: one part (the region), one refutation per competitor.
    pub fn upgrade(self) -> Proof {
        let c = self.class;
        let refuted = self
            .competitors
            .into_iter()
            .map(|k| Refutation {
                rows: vec![Row::difference(c, k.class)],
                by: match k.by {
                    By::Bounds => By::Bounds,
                    By::BranchAndBound { leaves } => By::BranchAndBound {
                        leaves: leaves.into_iter().map(upgrade_leaf).collect(),
                    },
                },
            })
            .collect();
        Proof {
            format: self.format,
            version: super::VERSION,
            model_sha256: self.model_sha256,
            margin: self.margin,
            claim: Claim::Sound {
                class: c,
                region: self.region,
            },
            center: self.center,
            parts: vec![Part {
                region: PartRegion::Claim("claim".to_string()),
                bounds: self.bounds,
                refuted,
            }],
        }
    }
}

fn upgrade_leaf(l: Leaf) -> Leaf {
    Leaf {
        fix: l.fix,
        farkas: l
            .farkas
            .into_iter()
            .map(|(kind, k, i, y)| match (kind, k, i) {
                // M(0, 0): `y_j - y_c >= -τ`; Q(0): `y_c - y_j <= τ`.
                (RowKind::M, 0, 0) => (RowKind::Q, 0, 0, -y),
                _ => (kind, k, i, y),
            })
            .collect(),
    }
}
