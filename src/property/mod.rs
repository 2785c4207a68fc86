//! Properties: the general question the oracle answers, and the VNN-LIB reader that states it.
//!
//! A [`Property`] asks: **is there an input x in the region — a union of boxes, each with
//! optional linear constraints — whose outputs y satisfy a disjunction of conjunctions of linear
//! constraints over (x, y)?** In VNN-LIB terms that is "is the query satisfiable?" (`sat` means
//! a counterexample to the safety property the file encodes). It is kept as a list of
//! [`Disjunct`]s, each a box and the constraints that must all hold together; the input part of
//! a disjunction (ACAS Xu property 6) and the output part are multiplied out into one list, so
//! each disjunct is one MILP.
//!
//! "Class c keeps winning on a box" is one constructor of it ([`Property::class_loses`]): its
//! negation, "some `j != c` reaches `y_j >= y_c`", is one disjunct per competitor.
//!
//! # Strict and non-strict constraints, and the safety margin τ
//! Every constraint is `value(x, y) <= 0` or, strict, `value(x, y) < 0`. Proofs (`unsat`) relax
//! *both* to `value <= τ` (a superset: an empty superset proves the property empty whatever the
//! solver's tolerances). Witnesses (`sat`) are checked exactly, with zero tolerance: a strict
//! `<` must hold strictly in f64 *and* in f32. Between the two lies the band `0 < value <= τ`
//! (or `value = 0` for strict constraints) where the answer is `unknown` rather than a guess.

use crate::region::Hyperbox;

mod normal;
mod sexpr;
pub mod solve;
mod vnnlib;

pub use normal::MAX_DISJUNCTS;
pub use sexpr::MAX_DEPTH;
pub use vnnlib::{parse_vnnlib, read_vnnlib};

/// Why a property could not be read or used.
#[derive(Debug, thiserror::Error)]
pub enum PropertyError {
    /// The file could not be read (or decompressed).
    #[error("cannot read property file '{path}': {source}")]
    Io {
        /// The file.
        path: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The text is not a VNN-LIB query: where and what was expected.
    #[error("{path}:{line}:{col}: {message}")]
    Syntax {
        /// The file.
        path: String,
        /// Line, from 1.
        line: usize,
        /// Column, from 1.
        col: usize,
        /// What is wrong, and what was expected.
        message: String,
    },
    /// The query is well formed but cannot be decided exactly here (a non-linear term, an
    /// unsupported theory, an unbounded input) or does not fit the network.
    #[error("'{path}': {message}")]
    Unsupported {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
}

/// The dialect a file was written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// VNN-LIB 1.0 (VNN-COMP 2021–2025): `declare-const X_i Real`.
    V1,
    /// VNN-LIB 2.0: `vnnlib-version <2.0>`, `declare-network`.
    V2,
}

/// What a declared variable is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A network input.
    Input,
    /// A hidden node (theory `H`: refused when used).
    Hidden,
    /// A network output.
    Output,
}

/// A declared tensor variable.
#[derive(Debug, Clone, PartialEq)]
pub struct Variable {
    /// Its name (`X`, `Y1`; for VNN-LIB 1.0 the synthetic `X` and `Y`).
    pub name: String,
    /// Input, hidden or output.
    pub kind: Kind,
    /// Declared element type (`float32`, `real`; `Real` for 1.0).
    pub element_type: String,
    /// Declared shape (`[]` for a scalar).
    pub shape: Vec<usize>,
    /// The network declaring it.
    pub network: String,
    /// For hidden nodes: the ONNX tensor name.
    pub onnx_name: Option<String>,
    /// Offset of its first element among all inputs (resp. all outputs), in declaration order.
    pub offset: usize,
}

impl Variable {
    /// Number of elements.
    pub fn numel(&self) -> usize {
        self.shape.iter().product()
    }
}

/// A declared network.
#[derive(Debug, Clone, PartialEq)]
pub struct NetworkDecl {
    /// Its name.
    pub name: String,
    /// `(equal-to N)`.
    pub equal_to: Option<String>,
    /// `(isomorphic-to N)`.
    pub isomorphic_to: Option<String>,
}

/// A linear constraint `Σ a_i x_i + Σ b_j y_j + constant <= 0` (`< 0` when strict), over the
/// flattened inputs x and outputs y.
#[derive(Debug, Clone, PartialEq)]
pub struct Constraint {
    /// Input coefficients `(i, a_i)`, each index once, no zeros.
    pub x: Vec<(usize, f64)>,
    /// Output coefficients `(j, b_j)`, each index once, no zeros.
    pub y: Vec<(usize, f64)>,
    /// The constant.
    pub constant: f64,
    /// `< 0` instead of `<= 0`.
    pub strict: bool,
}

impl Constraint {
    /// `value(x, y)`, summed in f64.
    pub fn value(&self, x: &[f64], y: &[f64]) -> f64 {
        self.x.iter().map(|&(i, a)| a * x[i]).sum::<f64>()
            + self.y.iter().map(|&(j, b)| b * y[j]).sum::<f64>()
            + self.constant
    }

    /// Whether it holds exactly at `(x, y)`.
    pub fn holds(&self, x: &[f64], y: &[f64]) -> bool {
        let v = self.value(x, y);
        if self.strict {
            v < 0.0
        } else {
            v <= 0.0
        }
    }

    /// Whether it involves only one input and no output (a box bound).
    pub fn is_bound(&self) -> bool {
        self.y.is_empty() && self.x.len() == 1
    }

    /// Whether it involves no output.
    pub fn is_input_only(&self) -> bool {
        self.y.is_empty()
    }
}

/// One disjunct: a box and the constraints that must all hold.
#[derive(Debug, Clone, PartialEq)]
pub struct Disjunct {
    /// The closed box of the disjunct's bounds (every single-input bound, strict ones closed).
    pub region: Hyperbox,
    /// Every constraint of the disjunct, box bounds included (witnesses are checked against all).
    pub constraints: Vec<Constraint>,
}

impl Disjunct {
    /// The constraints the box does not already imply: every constraint over outputs or
    /// several inputs, and a bound on one input unless it holds on the whole (closed) box —
    /// strict bounds at the box's faces stay, as rows relaxed by τ like any other.
    pub fn rows(&self) -> impl Iterator<Item = &Constraint> {
        self.constraints.iter().filter(|c| !self.implies(c))
    }

    /// Whether every point of the box satisfies `c` (only decided for single-input bounds).
    fn implies(&self, c: &Constraint) -> bool {
        if !c.is_bound() {
            return false;
        }
        let (i, a) = c.x[0];
        let worst = if a > 0.0 {
            self.region.ub()[i]
        } else {
            self.region.lb()[i]
        };
        let v = a * worst + c.constant;
        if c.strict {
            v < 0.0
        } else {
            v <= 0.0
        }
    }

    /// Whether `x` (with outputs `y`) satisfies the disjunct exactly: in the box and every
    /// constraint.
    pub fn holds(&self, x: &[f64], y: &[f64]) -> bool {
        self.region.contains(x) && self.constraints.iter().all(|c| c.holds(x, y))
    }

    /// How well `(x, y)` satisfies the constraints: `-max_k value_k` (`>= 0` when every
    /// non-strict constraint holds). Box bounds are not counted.
    pub fn slack(&self, x: &[f64], y: &[f64]) -> f64 {
        self.rows()
            .map(|c| -c.value(x, y))
            .fold(f64::INFINITY, f64::min)
    }
}

/// The general question: is there `x` in some disjunct's box, satisfying its constraints?
#[derive(Debug, Clone, PartialEq)]
pub struct Property {
    /// Number of (flattened) inputs.
    pub n_in: usize,
    /// Number of (flattened) outputs.
    pub n_out: usize,
    /// The disjuncts (empty: nothing can satisfy the property).
    pub disjuncts: Vec<Disjunct>,
    /// Witnesses must be float32 inputs: they are rounded to float32 values inside their box
    /// before the exact re-check (VNN-LIB float32 queries, replayed by onnxruntime in float32).
    pub f32_inputs: bool,
}

impl Property {
    /// The negation of "class `class` strictly wins on `region`": is there `x` in `region`
    /// with `y_j - y_class >= 0` for some `j != class`? One disjunct per competitor, each the
    /// constraint `y_class - y_j <= 0`.
    pub fn class_loses(region: &Hyperbox, n_out: usize, class: usize) -> Property {
        Property {
            n_in: region.dim(),
            n_out,
            disjuncts: (0..n_out)
                .filter(|&j| j != class)
                .map(|j| Disjunct {
                    region: region.clone(),
                    constraints: vec![Constraint {
                        x: Vec::new(),
                        y: vec![(class, 1.0), (j, -1.0)],
                        constant: 0.0,
                        strict: false,
                    }],
                })
                .collect(),
            f32_inputs: false,
        }
    }

    /// When this property is "class `c` does not strictly win on one box" (one disjunct per
    /// competitor `j != c`, each `b (y_c - y_j) <= 0` or `< 0` with `b > 0`, no input terms, the
    /// same box), that box and `c`: the shape that robustness proof files express.
    pub fn robustness_shape(&self) -> Option<(&Hyperbox, usize)> {
        let first = self.disjuncts.first()?;
        let mut class: Option<usize> = None;
        let mut competitors = Vec::new();
        for d in &self.disjuncts {
            // The constraints the box does not express: exactly one, over the outputs.
            let rows: Vec<&Constraint> = d.rows().collect();
            let [con] = rows[..] else {
                return None;
            };
            if d.region != first.region || !con.x.is_empty() || con.constant != 0.0 {
                return None;
            }
            let [(a, wa), (b, wb)] = con.y[..] else {
                return None;
            };
            let (c, j) = match (wa > 0.0, wb > 0.0) {
                (true, false) if wa == -wb => (a, b),
                (false, true) if wb == -wa => (b, a),
                _ => return None,
            };
            if class.is_some_and(|k| k != c) {
                return None;
            }
            class = Some(c);
            competitors.push(j);
        }
        let c = class?;
        competitors.sort_unstable();
        competitors.dedup();
        let all: Vec<usize> = (0..self.n_out).filter(|&j| j != c).collect();
        (competitors == all).then_some((&first.region, c))
    }

    /// The index of a disjunct that `(x, y)` satisfies exactly, if any.
    pub fn satisfied_by(&self, x: &[f64], y: &[f64]) -> Option<usize> {
        self.disjuncts.iter().position(|d| d.holds(x, y))
    }

    /// The smallest box holding every disjunct's box (`None` without disjuncts).
    pub fn hull(&self) -> Option<Hyperbox> {
        let first = self.disjuncts.first()?;
        let mut lb = first.region.lb().to_vec();
        let mut ub = first.region.ub().to_vec();
        for d in &self.disjuncts[1..] {
            for i in 0..lb.len() {
                lb[i] = lb[i].min(d.region.lb()[i]);
                ub[i] = ub[i].max(d.region.ub()[i]);
            }
        }
        Hyperbox::new(lb, ub).ok()
    }
}

/// A linear expression over declared variables: `(variable, flat index, coefficient)` terms
/// and a constant.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LinearExpr {
    /// Terms `(variable index, flat element index, coefficient)`.
    pub terms: Vec<(usize, usize, f64)>,
    /// The constant.
    pub constant: f64,
}

/// A comparison between two linear expressions, normalised to `expr REL 0`.
#[derive(Debug, Clone, PartialEq)]
pub struct Atom {
    /// `lhs - rhs`.
    pub expr: LinearExpr,
    /// The relation to 0.
    pub rel: Rel,
    /// Where it was written (line, column), for messages.
    pub line: usize,
    /// Column.
    pub col: usize,
    /// The comparison as written, number lexemes kept exactly (`(<= X_0 1e-3)`; whitespace
    /// normalised). The coefficients above are those lexemes correctly rounded to f64.
    pub text: String,
}

/// A relation to 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rel {
    /// `<= 0`.
    Le,
    /// `< 0`.
    Lt,
    /// `== 0`.
    Eq,
    /// `!= 0`.
    Ne,
}

/// A formula over atoms.
#[derive(Debug, Clone, PartialEq)]
pub enum Formula {
    /// An atom.
    Atom(Atom),
    /// All of them (empty: true).
    And(Vec<Formula>),
    /// One of them (empty: false).
    Or(Vec<Formula>),
}

/// A parsed VNN-LIB query.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    /// The dialect.
    pub dialect: Dialect,
    /// Declared networks (one synthetic `N` for 1.0).
    pub networks: Vec<NetworkDecl>,
    /// Declared variables, in the standard's order (per network: inputs, hidden, outputs).
    pub variables: Vec<Variable>,
    /// The assertions (conjoined).
    pub assertions: Vec<Formula>,
    /// The file, for messages.
    pub path: String,
}

impl Query {
    /// Total number of input elements.
    pub fn input_size(&self) -> usize {
        self.of_kind(Kind::Input).map(|v| v.numel()).sum()
    }

    /// Total number of output elements.
    pub fn output_size(&self) -> usize {
        self.of_kind(Kind::Output).map(|v| v.numel()).sum()
    }

    /// The variables of one kind, in order.
    pub fn of_kind(&self, kind: Kind) -> impl Iterator<Item = &Variable> {
        self.variables.iter().filter(move |v| v.kind == kind)
    }

    /// The general question this query asks, for a network with `n_in` inputs and `n_out`
    /// outputs (flattened, all inputs then all outputs in declaration order).
    pub fn property(&self, n_in: usize, n_out: usize) -> Result<Property, PropertyError> {
        normal::to_property(self, n_in, n_out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn class_loses_has_one_disjunct_per_competitor() {
        let b = Hyperbox::unit(2);
        let p = Property::class_loses(&b, 3, 1);
        assert_eq!(p.disjuncts.len(), 2);
        // y = (0, 1, 1): class 1 ties with 2, which counts against it.
        assert_eq!(p.satisfied_by(&[0.5, 0.5], &[0.0, 1.0, 1.0]), Some(1));
        assert_eq!(p.satisfied_by(&[0.5, 0.5], &[0.0, 2.0, 1.0]), None);
        assert_eq!(p.satisfied_by(&[1.5, 0.5], &[0.0, 1.0, 1.0]), None);
    }

    #[test]
    fn strict_constraints_hold_strictly() {
        let c = Constraint {
            x: vec![(0, 1.0)],
            y: vec![],
            constant: -0.5,
            strict: true,
        };
        assert!(!c.holds(&[0.5], &[]));
        assert!(c.holds(&[0.25], &[]));
        let c = Constraint { strict: false, ..c };
        assert!(c.holds(&[0.5], &[]));
    }
}

#[cfg(test)]
mod shape_tests {
    use super::*;

    #[test]
    fn robustness_shape_is_recognised_and_nothing_else() {
        let b = Hyperbox::unit(2);
        let p = Property::class_loses(&b, 3, 1);
        let (r, c) = p.robustness_shape().expect("the class question");
        assert_eq!((r, c), (&b, 1));
        // A competitor missing: not the whole question.
        let mut q = p.clone();
        q.disjuncts.pop();
        assert!(q.robustness_shape().is_none());
        // An input term or a non-zero constant: another property.
        let mut q = p.clone();
        q.disjuncts[0].constraints[0].x.push((0, 1.0));
        assert!(q.robustness_shape().is_none());
        let mut q = p.clone();
        q.disjuncts[0].constraints[0].constant = 0.5;
        assert!(q.robustness_shape().is_none());
        // Boxes that differ between disjuncts.
        let mut q = p;
        q.disjuncts[0].region = Hyperbox::uniform(2, 0.0, 0.5).unwrap();
        assert!(q.robustness_shape().is_none());
    }
}
