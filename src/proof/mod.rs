//! Proof objects: what a `robust` answer rests on, in a form that the independent checker
//! ([`crate::check`]) verifies without trusting our bounds code, our branch and bound or HiGHS.
//!
//! # Format (version 1)
//!
//! One JSON object (`ppnn check` reads it; numbers are f64 written so that they read back
//! exactly, and every number is taken as the exact rational it denotes):
//!
//! ```text
//! { "format": "ppnn-proof", "version": 1,
//!   "model_sha256": "<hex of the ONNX file's bytes>",
//!   "class": c, "margin": τ,                       // claim: no x in the region has y_j - y_c >= -τ
//!   "region": { "lb": [..], "ub": [..] },          // the box (already intersected with D)
//!   "center": [..] | null,                         // x*, informative (the checker reports radii)
//!   "bounds": { "lower": [[..]..], "upper": [[..]..], "slopes": [[..]..] },
//!   "competitors": [ { "class": j, "by": "bounds" }
//!                  | { "class": j, "by": "branch-and-bound", "leaves": [Leaf, ..] } ] }
//! Leaf = { "fix": [[layer, neuron, phase], ..], "farkas": [["A"|"G"|"L"|"U"|"M", layer, neuron, y], ..] }
//! ```
//!
//! - **bounds**: `lower[k][i]`, `upper[k][i]` claim bounds on the pre-activation of neuron `i` of
//!   layer `k` over the region; `slopes[k][i] ∈ [0, 1]` is the lower line `h >= α z` used for an
//!   unstable ReLU (any α in [0, 1] is valid; the upper line is the triangle's, fixed by `l, u`).
//!   The checker re-derives every bound itself — interval propagation and back-substitution with
//!   these slopes, in outward-rounded arithmetic — and accepts a claim only if it is implied.
//!   The same bounds are the big-M constants of every leaf LP, so they serve both kinds of proof.
//! - **by bounds**: the checker's back-substituted bound of `y_j - y_c` is `< -τ`.
//! - **by branch and bound**: the leaves of a tree of ReLU phase fixings (`phase` 1 = active,
//!   `z >= 0, h = z`; 0 = inactive, `z <= 0, h = 0`). The leaves' fixing sequences must form a
//!   complete binary tree (every split has both sides), so they cover every phase combination.
//!   At each leaf the checker builds the big-M LP relaxation itself (from the network, region,
//!   bounds and fixings; see [`RowKind`]) including the row `M: y_j - y_c >= -τ`, and verifies the
//!   multipliers `y` as a bounded Farkas certificate: with `r = Aᵀy`,
//!   `Σ_cols min(r l, r u) > Σ_rows (y_i > 0 ? y_i U_i : y_i L_i)` proves the leaf empty
//!   (Neumaier–Shcherbina: approximate multipliers of either sign are fine, every column is
//!   bounded). A leaf LP proved by a dual bound `max m <= B < -τ` is the same certificate with
//!   multiplier `-1` on `M`.
//!
//! Versus the VNN-LIB 2.0 draft (Alethe subset, `bounded_farkas`): the leaf check is the same
//! bounded-Farkas rule, but the rows are not spelled out in the proof — the checker derives them
//! from the network, which keeps files small (multipliers only) and stops a proof from proving a
//! different LP than the network's. The tree is implicit in the fixing sequences instead of Alethe
//! `subproof` steps; bounds proofs have no Alethe counterpart.
//!
//! Not in version 1: per-target slopes (α-CROWN optimises one α per neuron *per bounded
//! target*; version 1 has one α per neuron), and bounds tightened under a node's fixings (leaves
//! use the global bounds).

use serde::{Deserialize, Serialize};

pub mod emit;

/// Value of the `format` field.
pub const FORMAT: &str = "ppnn-proof";
/// The format version written and read.
pub const VERSION: u32 = 1;

/// A proof that no point of `region` gives any competitor `j` a margin `y_j - y_c >= -τ`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Proof {
    /// Always [`FORMAT`].
    pub format: String,
    /// [`VERSION`].
    pub version: u32,
    /// SHA-256 of the model file's bytes, lowercase hex.
    pub model_sha256: String,
    /// The class c that wins on the whole region.
    pub class: usize,
    /// The safety margin τ.
    pub margin: f64,
    /// The box.
    pub region: Region,
    /// The input x* the box was built around, if any (informative).
    #[serde(default)]
    pub center: Option<Vec<f64>>,
    /// Claimed neuron bounds and relaxation slopes.
    pub bounds: Bounds,
    /// One entry per competing class.
    pub competitors: Vec<Competitor>,
}

/// An axis-aligned box.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Region {
    /// Lower corner.
    pub lb: Vec<f64>,
    /// Upper corner.
    pub ub: Vec<f64>,
}

/// Claimed pre-activation bounds per layer and the lower-line slope of every ReLU.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bounds {
    /// `lower[k][i]`.
    pub lower: Vec<Vec<f64>>,
    /// `upper[k][i]`.
    pub upper: Vec<Vec<f64>>,
    /// `slopes[k][i]` for ReLU layers (empty for the affine output layer).
    pub slopes: Vec<Vec<f64>>,
}

/// The proof for one competitor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Competitor {
    /// The competing class j.
    pub class: usize,
    /// How.
    #[serde(flatten)]
    pub by: By,
}

/// How one competitor is ruled out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "by", rename_all = "kebab-case")]
pub enum By {
    /// The linear bound of the margin is below -τ.
    Bounds,
    /// Every leaf of a phase-fixing tree is an empty LP.
    BranchAndBound {
        /// The leaves.
        leaves: Vec<Leaf>,
    },
}

/// One leaf of the phase-fixing tree.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Leaf {
    /// Fixings from the root, in branching order: `(layer, neuron, phase)`.
    pub fix: Vec<(usize, usize, u8)>,
    /// Nonzero row multipliers: `(kind, layer, neuron, value)`.
    pub farkas: Vec<(RowKind, usize, usize, f64)>,
}

/// The rows of a leaf LP, named by the neuron they belong to. Columns: input `x` in the region;
/// for each neuron with `u > 0` its pre-activation `z ∈ [l, u]` (the outputs of an affine last
/// layer are such columns); an unstable ReLU (`l < 0 < u`) adds `h ∈ [0, u]` and `a ∈ [0, 1]`
/// (fixed by the leaf's phase); a stably active one has `h = z`; a stably inactive one (`u <= 0`)
/// is the constant 0 and has neither columns nor rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum RowKind {
    /// `z - Σ_i w_i h_prev_i = b` (the neuron's affine map).
    A,
    /// `h - z >= 0`.
    G,
    /// `h - z - l a <= -l`.
    L,
    /// `h - u a <= 0`.
    U,
    /// `y_j - y_c >= -τ` (layer and neuron are 0).
    M,
}

/// A row of the MILP the solver built, named as in a leaf LP (what a multiplier applies to).
pub type RowTag = (RowKind, usize, usize);

/// Errors reading or writing a proof file.
#[derive(Debug, thiserror::Error)]
pub enum ProofFileError {
    /// Not JSON of the expected shape.
    #[error("proof file '{path}' is malformed: {source}")]
    Malformed {
        /// The file.
        path: String,
        /// The parse error.
        source: serde_json::Error,
    },
    /// Another format or version.
    #[error("proof file '{path}' is format '{format}' version {version}; this ppnn reads '{FORMAT}' version {VERSION}")]
    Version {
        /// The file.
        path: String,
        /// Its format field.
        format: String,
        /// Its version field.
        version: u32,
    },
    /// I/O.
    #[error("cannot read proof file '{path}': {source}")]
    Io {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
}

impl Proof {
    /// The JSON text of the proof.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a proof serialises")
    }

    /// Parses a proof; `path` names the source in errors.
    pub fn from_json(text: &str, path: &str) -> Result<Proof, ProofFileError> {
        let p: Proof = serde_json::from_str(text).map_err(|source| ProofFileError::Malformed {
            path: path.to_string(),
            source,
        })?;
        if p.format != FORMAT || p.version != VERSION {
            return Err(ProofFileError::Version {
                path: path.to_string(),
                format: p.format,
                version: p.version,
            });
        }
        Ok(p)
    }

    /// Reads a proof file.
    pub fn read(path: &std::path::Path) -> Result<Proof, ProofFileError> {
        let text = std::fs::read_to_string(path).map_err(|source| ProofFileError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_json(&text, &path.display().to_string())
    }
}

/// SHA-256 of `bytes`, lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_version_check() {
        let p = Proof {
            format: FORMAT.to_string(),
            version: VERSION,
            model_sha256: sha256_hex(b"abc"),
            class: 1,
            margin: 1e-4,
            region: Region {
                lb: vec![0.1, 0.2],
                ub: vec![0.30000000000000004, 0.4],
            },
            center: None,
            bounds: Bounds {
                lower: vec![vec![-0.5]],
                upper: vec![vec![0.25]],
                slopes: vec![vec![1.0]],
            },
            competitors: vec![
                Competitor {
                    class: 0,
                    by: By::Bounds,
                },
                Competitor {
                    class: 2,
                    by: By::BranchAndBound {
                        leaves: vec![Leaf {
                            fix: vec![(0, 0, 1)],
                            farkas: vec![(RowKind::M, 0, 0, -1.0), (RowKind::A, 0, 0, 0.1)],
                        }],
                    },
                },
            ],
        };
        // The SHA-256 of "abc" (FIPS 180-2 test vector).
        assert_eq!(
            p.model_sha256,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let text = p.to_json();
        assert!(text.contains("\"by\":\"branch-and-bound\"") && text.contains("[\"M\",0,0,-1.0]"));
        assert_eq!(Proof::from_json(&text, "t").unwrap(), p);
        let other = text.replace("\"version\":1", "\"version\":2");
        let e = Proof::from_json(&other, "t.json").unwrap_err().to_string();
        assert!(e.contains("version 2") && e.contains("t.json"), "{e}");
        let e = Proof::from_json("[]", "t.json").unwrap_err().to_string();
        assert!(e.contains("malformed"), "{e}");
    }
}
