//! Proof objects: what a positive answer rests on, in a form that the independent checker
//! ([`crate::check`]) verifies without trusting our bounds code, our branch and bound or HiGHS.
//!
//! # The question a proof answers
//! Every positive answer of ppnn is a set of **refuted conjunctions**: "no point `x` of the box
//! `R` has `row_k(x, y(x)) <= τ` for every row `k`", where a row is a linear function of the
//! inputs and outputs, `row(x, y) = Σ a_i x_i + Σ b_j y_j + constant` ([`Row`]), and τ >= 0 is
//! the safety margin. A proof's **claim** ([`Claim`]) says which questions that takes; the
//! checker derives them from the claim itself and requires every one of them to be covered by a
//! refutation of the proof (a part whose box contains the question's box, refuting a subset of
//! the question's rows — fewer rows are a weaker conjunction, so refuting them is more):
//! - **sound** (`verify`, `certify`, `batch`): class `c` wins by more than τ on the box `R`:
//!   for every `j != c`, `(R, [y_c - y_j <= τ])`.
//! - **complete** (dual certifications): every point of the domain `D` whose outputs have
//!   `y_c - y_j >= -τ` for all `j` (class `c`, near ties included, as the oracle counts them)
//!   lies in the box `B`: for every face of `B` inside `D`, the closed slab beyond it,
//!   `(D ∩ {x_i >= B.ub_i}, [y_j - y_c <= τ for all j != c])` (resp. `x_i <= B.lb_i`). The
//!   slab is closed, which proves a little more than "no class point strictly outside".
//! - **property** (`ppnn-vnnlib --unsat-proofs`): the VNN-LIB query is unsat: for every
//!   disjunct (a box and its constraints), `(box, [constraint_k <= τ])` — each constraint
//!   `value <= 0` or `< 0` relaxed to `value <= τ`, so its refutation proves the query's; the
//!   single-input bounds are the box (rounded outwards) and not rows. The
//!   checker reads the same disjuncts from the query file (`ppnn check --property FILE`) and
//!   requires the proof to cover *them*: a proof cannot prove an easier property than the file's.
//!
//! # Format (version 2)
//!
//! One JSON object (`ppnn check` reads it; numbers are f64 written so that they read back
//! exactly, and every number is taken as the exact rational it denotes):
//!
//! ```text
//! { "format": "ppnn-proof", "version": 2,
//!   "model_sha256": "<hex of the ONNX file's bytes>",
//!   "margin": τ,
//!   "claim": { "kind": "sound", "class": c, "region": Box }
//!          | { "kind": "complete", "class": c, "domain": Box, "region": Box }
//!          | { "kind": "property", "boxes": [Box, ..],
//!              "disjuncts": [ { "box": n, "rows": [Row, ..] }, .. ] },
//!   "center": [..] | null,                          // x*, informative
//!   "parts": [ { "region": Box | "claim" | { "box": n } | { "slab": [i, lo, hi] },
//!                "bounds": { "lower": [[..]..], "upper": [[..]..], "slopes": [[..]..] },
//!                "refuted": [ { "rows": [Row, ..], "by": "bounds" }
//!                           | { "rows": [Row, ..], "by": "branch-and-bound",
//!                               "leaves": [Leaf, ..] } ] } ] }
//! Box  = { "lb": [..], "ub": [..] }
//! Row  = { "x": [[i, a_i], ..], "y": [[j, b_j], ..], "constant": c }   // row(x, y) <= τ
//! Leaf = { "fix": [[layer, neuron, phase], ..],
//!          "farkas": [["A"|"G"|"L"|"U"|"Q", layer | row, neuron | 0, y], ..] }
//! ```
//!
//! - A part's region is a box; or `"claim"`, the region of a sound claim; or `{"box": n}`,
//!   a property claim's box `n`; or (complete claims) `{"slab": [i, lo, hi]}`: the
//!   claim's domain with coordinate `i` restricted to `[lo, hi]` — boxes of 784 coordinates
//!   are not repeated (the 2d slabs of a dual box would repeat the domain 2d times).
//! - **bounds**: `lower[k][i]`, `upper[k][i]` claim bounds on the pre-activation of neuron `i` of
//!   layer `k` over the part's region; `slopes[k][i] ∈ [0, 1]` is the lower line `h >= α z` used
//!   for an unstable ReLU (any α in [0, 1] is valid; the upper line is the triangle's). The
//!   checker re-derives every bound itself — interval propagation and back-substitution with
//!   these slopes, in outward-rounded arithmetic — and accepts a claim only if it is implied.
//!   The same bounds are the big-M constants of every leaf LP.
//! - **by bounds**: some row of the refutation has a rigorous lower bound `> τ` over the region
//!   (one such row empties the conjunction).
//! - **by branch and bound**: the leaves of a tree of ReLU phase fixings (`phase` 1 = active,
//!   `z >= 0, h = z`; 0 = inactive, `z <= 0, h = 0`). The leaves' fixing sequences must form a
//!   complete binary tree (every split has both sides), so they cover every phase combination.
//!   At each leaf the checker builds the big-M LP relaxation itself (from the network, region,
//!   bounds and fixings; see [`RowKind`]) with the rows `Q(k): row_k(x, y) <= τ` of the
//!   refutation, and verifies the multipliers `y` as a bounded Farkas certificate: with
//!   `r = Aᵀy`, `Σ_cols min(r l, r u) > Σ_rows (y_i > 0 ? y_i U_i : y_i L_i)` proves the leaf
//!   empty (Neumaier–Shcherbina: approximate multipliers of either sign are fine, every column
//!   is bounded).
//!
//! Version 1 files (soundness only, one region, `competitors`; see [`v1`]) are read too and
//! upgraded on reading.
//!
//! Versus the VNN-LIB 2.0 draft (Alethe subset, `bounded_farkas`): the leaf check is the same
//! bounded-Farkas rule, but the network's rows are not spelled out in the proof — the checker
//! derives them from the network, which keeps files small (multipliers only) and stops a proof
//! from proving a different LP than the network's. The tree is implicit in the fixing sequences
//! instead of Alethe `subproof` steps; bounds proofs have no Alethe counterpart; the query's
//! disjunction is split into (box, conjunction) questions by ppnn's own VNN-LIB reader, on
//! the checker's side as on the solver's.
//!
//! Not in version 2: per-target slopes (α-CROWN optimises one α per neuron *per bounded
//! target*; one α per neuron per part here), and bounds tightened under a node's fixings
//! (leaves use the part's bounds).

use serde::{Deserialize, Serialize};

pub mod emit;
pub mod v1;

/// Value of the `format` field.
pub const FORMAT: &str = "ppnn-proof";
/// The format version written (version 1 is read too).
pub const VERSION: u32 = 2;

/// A proof of a [`Claim`]: parts whose refutations cover every question the claim asks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Proof {
    /// Always [`FORMAT`].
    pub format: String,
    /// [`VERSION`].
    pub version: u32,
    /// SHA-256 of the model file's bytes, lowercase hex.
    pub model_sha256: String,
    /// The safety margin τ >= 0: every refuted row reads `row(x, y) <= τ`.
    pub margin: f64,
    /// What is proved.
    pub claim: Claim,
    /// The input x* the answer was about, if any (informative).
    #[serde(default)]
    pub center: Option<Vec<f64>>,
    /// The refutations, grouped by region.
    pub parts: Vec<Part>,
}

/// What a proof establishes (see the module docs for the questions each asks).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Claim {
    /// Class `class` wins by more than τ on every point of `region`.
    Sound {
        /// The class.
        class: usize,
        /// The box (already intersected with the domain).
        region: Region,
    },
    /// Every point of `domain` with `y_c - y_j >= -τ` for all `j` lies in `region`.
    Complete {
        /// The class c.
        class: usize,
        /// The domain D.
        domain: Region,
        /// The dual box.
        region: Region,
    },
    /// No point satisfies any disjunct (each constraint relaxed to `<= τ`).
    Property {
        /// The disjuncts' distinct boxes.
        boxes: Vec<Region>,
        /// The disjuncts, as ppnn's VNN-LIB reader normalises the query.
        disjuncts: Vec<Disjunct>,
    },
}

impl Claim {
    /// Every point of `domain` with `y_c - y_j >= -τ` for all `j` lies in `region` (a dual box
    /// as reported: already enlarged by the question's gap η and within the domain).
    pub fn complete(
        domain: &crate::region::Hyperbox,
        region: &crate::region::Hyperbox,
        class: usize,
    ) -> Claim {
        Claim::Complete {
            class,
            domain: Region::of(domain),
            region: Region::of(region),
        }
    }
}

/// One disjunct of a property: a box and the rows that must all hold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Disjunct {
    /// Its box: an index into the claim's `boxes` (every single-input bound of the disjunct,
    /// rounded outwards, as ppnn's reader makes it).
    #[serde(rename = "box")]
    pub region: usize,
    /// Its constraints other than single-input bounds (those are the box).
    pub rows: Vec<Row>,
}

/// A linear function `Σ a_i x_i + Σ b_j y_j + constant` of the inputs and outputs; in a
/// question it stands for the constraint `row(x, y) <= τ`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Row {
    /// Input coefficients `(i, a_i)`.
    #[serde(default)]
    pub x: Vec<(usize, f64)>,
    /// Output coefficients `(j, b_j)`.
    #[serde(default)]
    pub y: Vec<(usize, f64)>,
    /// The constant.
    #[serde(default)]
    pub constant: f64,
}

impl Row {
    /// `y_p - y_q` (the row `y_p - y_q <= τ`).
    pub fn difference(p: usize, q: usize) -> Row {
        Row {
            x: Vec::new(),
            y: vec![(p, 1.0), (q, -1.0)],
            constant: 0.0,
        }
    }

    /// The row with its terms sorted by index and zero coefficients dropped (rows are compared
    /// in this form).
    pub fn canonical(&self) -> Row {
        let sorted = |t: &[(usize, f64)]| {
            let mut t: Vec<(usize, f64)> = t.iter().copied().filter(|p| p.1 != 0.0).collect();
            t.sort_by_key(|p| p.0);
            t
        };
        Row {
            x: sorted(&self.x),
            y: sorted(&self.y),
            constant: self.constant,
        }
    }
}

impl std::fmt::Display for Row {
    /// `y_3 - y_7 + 0.5 x_2 - 1 <= τ`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut s = String::new();
        let terms = self
            .y
            .iter()
            .map(|&(j, b)| (b, format!("y_{j}")))
            .chain(self.x.iter().map(|&(i, a)| (a, format!("x_{i}"))));
        for (v, name) in terms {
            let sign = if v < 0.0 { "-" } else { "+" };
            let mag = v.abs();
            let coef = if mag == 1.0 {
                String::new()
            } else {
                format!("{mag} ")
            };
            if s.is_empty() {
                s = format!("{}{coef}{name}", if v < 0.0 { "-" } else { "" });
            } else {
                s += &format!(" {sign} {coef}{name}");
            }
        }
        if self.constant != 0.0 || s.is_empty() {
            let c = self.constant;
            s += &if s.is_empty() {
                format!("{c}")
            } else {
                format!(" {} {}", if c < 0.0 { "-" } else { "+" }, c.abs())
            };
        }
        write!(f, "{s} <= τ")
    }
}

/// An axis-aligned box.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Region {
    /// Lower corner.
    pub lb: Vec<f64>,
    /// Upper corner.
    pub ub: Vec<f64>,
}

impl Region {
    /// The box of `h`.
    pub fn of(h: &crate::region::Hyperbox) -> Region {
        Region {
            lb: h.lb().to_vec(),
            ub: h.ub().to_vec(),
        }
    }
}

/// Where a part's refutations hold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum PartRegion {
    /// A box.
    Box(Region),
    /// The claim's domain (complete claims) with coordinate `.0` restricted to `[.1, .2]`.
    Slab {
        /// `(i, lo, hi)`.
        slab: (usize, f64, f64),
    },
    /// Box `n` of a property claim.
    PropertyBox {
        /// `n`.
        #[serde(rename = "box")]
        index: usize,
    },
    /// `"claim"`: the region of a sound claim.
    Claim(String),
}

/// Refutations over one region, on one set of neuron bounds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Part {
    /// The region.
    pub region: PartRegion,
    /// Claimed neuron bounds over the region and relaxation slopes.
    pub bounds: Bounds,
    /// The conjunctions refuted on the region.
    pub refuted: Vec<Refutation>,
}

/// A conjunction of rows, each `row <= τ`, with no point in the part's region.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Refutation {
    /// The rows.
    pub rows: Vec<Row>,
    /// How.
    #[serde(flatten)]
    pub by: By,
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

/// How a conjunction is refuted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "by", rename_all = "kebab-case")]
pub enum By {
    /// One row's rigorous lower bound over the region is above τ.
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
    /// Nonzero row multipliers: `(kind, layer, neuron, value)` (`(Q, k, 0, value)` for the
    /// refutation's row `k`).
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
    /// Version 1 only: `y_j - y_c >= -τ` (layer and neuron 0); read as `Q(0)` negated.
    M,
    /// Row `k` of the refutation (`(Q, k, 0)`): `row_k(x, y) <= τ`.
    Q,
}

/// A row of the MILP the solver built, named as in a leaf LP (what a multiplier applies to).
pub type RowTag = (RowKind, usize, usize);

/// The claim that no input satisfies the VNN-LIB property `p`, as a proof states it (and as
/// `ppnn check --property` re-reads it from the query file): each disjunct's box and its
/// constraints other than single-input bounds, which the box expresses (dropping a row from a
/// conjunction only makes its refutation prove more).
pub fn property_claim(p: &crate::property::Property) -> Claim {
    let mut boxes: Vec<Region> = Vec::new();
    let disjuncts = p
        .disjuncts
        .iter()
        .map(|d| {
            let r = Region::of(&d.region);
            let region = match boxes.iter().position(|b| *b == r) {
                Some(n) => n,
                None => {
                    boxes.push(r);
                    boxes.len() - 1
                }
            };
            Disjunct {
                region,
                rows: d
                    .constraints
                    .iter()
                    .filter(|c| !c.is_bound())
                    .map(row_of)
                    .collect(),
            }
        })
        .collect();
    Claim::Property { boxes, disjuncts }
}

pub(crate) fn row_of(c: &crate::property::Constraint) -> Row {
    Row {
        x: c.x.clone(),
        y: c.y.clone(),
        constant: c.constant,
    }
}

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
    #[error("proof file '{path}' is format '{format}' version {version}; this ppnn reads '{FORMAT}' versions 1 and {VERSION}")]
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
        let malformed = |source| ProofFileError::Malformed {
            path: path.to_string(),
            source,
        };
        // The header first, so that another format or version is named as such.
        #[derive(Deserialize)]
        struct Header {
            format: String,
            version: u32,
        }
        let h: Header = serde_json::from_str(text).map_err(malformed)?;
        match (h.format.as_str(), h.version) {
            (FORMAT, VERSION) => serde_json::from_str(text).map_err(malformed),
            (FORMAT, 1) => Ok(serde_json::from_str::<v1::ProofV1>(text)
                .map_err(malformed)?
                .upgrade()),
            _ => Err(ProofFileError::Version {
                path: path.to_string(),
                format: h.format,
                version: h.version,
            }),
        }
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
            margin: 1e-4,
            claim: Claim::Complete {
                class: 1,
                domain: Region {
                    lb: vec![0.0, 0.0],
                    ub: vec![1.0, 1.0],
                },
                region: Region {
                    lb: vec![0.1, 0.0],
                    ub: vec![0.30000000000000004, 1.0],
                },
            },
            center: None,
            parts: vec![Part {
                region: PartRegion::Slab {
                    slab: (0, 0.30000000000000004, 1.0),
                },
                bounds: Bounds {
                    lower: vec![vec![-0.5]],
                    upper: vec![vec![0.25]],
                    slopes: vec![vec![1.0]],
                },
                refuted: vec![
                    Refutation {
                        rows: vec![Row::difference(0, 1)],
                        by: By::Bounds,
                    },
                    Refutation {
                        rows: vec![Row::difference(2, 1)],
                        by: By::BranchAndBound {
                            leaves: vec![Leaf {
                                fix: vec![(0, 0, 1)],
                                farkas: vec![(RowKind::Q, 0, 0, 1.0), (RowKind::A, 0, 0, 0.1)],
                            }],
                        },
                    },
                ],
            }],
        };
        // The SHA-256 of "abc" (FIPS 180-2 test vector).
        assert_eq!(
            p.model_sha256,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let text = p.to_json();
        assert!(text.contains("\"by\":\"branch-and-bound\"") && text.contains("[\"Q\",0,0,1.0]"));
        assert!(text.contains("\"kind\":\"complete\"") && text.contains("\"slab\":[0,"));
        assert_eq!(Proof::from_json(&text, "t").unwrap(), p);
        // The other region forms read back as themselves.
        for r in [
            PartRegion::Claim("claim".to_string()),
            PartRegion::PropertyBox { index: 3 },
        ] {
            let t = serde_json::to_string(&r).unwrap();
            assert_eq!(serde_json::from_str::<PartRegion>(&t).unwrap(), r, "{t}");
        }
        let other = text.replace("\"version\":2", "\"version\":7");
        let e = Proof::from_json(&other, "t.json").unwrap_err().to_string();
        assert!(e.contains("version 7") && e.contains("t.json"), "{e}");
        let e = Proof::from_json("[]", "t.json").unwrap_err().to_string();
        assert!(e.contains("malformed"), "{e}");
    }

    #[test]
    fn rows_read_as_written_and_compare_canonically() {
        let r = Row {
            x: vec![(2, 0.5)],
            y: vec![(7, -1.0), (3, 1.0)],
            constant: -1.0,
        };
        assert_eq!(r.to_string(), "-y_7 + y_3 + 0.5 x_2 - 1 <= τ");
        assert_eq!(Row::difference(3, 7).to_string(), "y_3 - y_7 <= τ");
        let c = r.canonical();
        assert_eq!(c.y, vec![(3, 1.0), (7, -1.0)]);
        assert_eq!(
            Row::difference(7, 3).canonical().y,
            vec![(3, -1.0), (7, 1.0)]
        );
        assert_ne!(
            Row::difference(7, 3).canonical(),
            Row::difference(3, 7).canonical()
        );
    }
}
