//! The VNN-LIB reader: both dialects, auto-detected, into a [`Query`]; and the query's
//! normalisation into the general [`Property`] (disjunctive normal form, boxes, constraints).
//!
//! - **1.0** (VNN-COMP 2021–2025): `(declare-const X_i Real)` / `Y_j`, where `i`, `j` are flat
//!   indices in C order of the ONNX input/output tensor; `(assert …)` any number of times.
//! - **2.0**: `(vnnlib-version <2.0>)` first, then `(declare-network N (declare-input X float32
//!   [1,2]) … (declare-output Y float32 [2]))` and assertions over `X[0,1]`-style elements.
//!
//! Both share the formula language: `and`, `or`, comparisons `<= >= < > = == !=` (chains such
//! as `(<= a b c)` conjoin), and arithmetic `+ - * /` as far as it is linear. A product of two
//! variables is refused (theory POLY), never approximated. Numbers may be written in any float
//! syntax (`1e-3`, `-0.5`, `.5`, `+2.`); they are parsed to the nearest f64 (correctly rounded)
//! and must be finite.

use std::collections::HashMap;

use super::sexpr::{self, Pos, Sexpr};
use super::{
    Atom, Dialect, Formula, Kind, LinearExpr, NetworkDecl, PropertyError, Query, Rel, Variable,
};

mod formula;

use formula::{is_identifier, show};

/// Largest element count of one declared variable (and of all of them together).
const MAX_ELEMENTS: usize = 1 << 28;

/// A VNN-LIB 1.0 flat index (the `i` of `X_i`): ASCII digits, no leading zero (except `0`
/// itself), below [`MAX_ELEMENTS`]. Declarations and uses read indices with this one rule, so
/// `X_01` or `X_+1` is an unknown name rather than a silent alias of `X_1`.
fn flat_index(s: &str) -> Option<usize> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) || (s.len() > 1 && s.starts_with('0'))
    {
        return None;
    }
    s.parse().ok().filter(|&i| i < MAX_ELEMENTS)
}

/// Largest decompressed size of a `.gz` property (a decompression bomb is an error).
const MAX_TEXT: u64 = 1 << 30;

/// Reads a VNN-LIB file (`.gz`: decompressed on the fly), either dialect.
pub fn read_vnnlib(path: impl AsRef<std::path::Path>) -> Result<Query, PropertyError> {
    let path = path.as_ref();
    let name = path.display().to_string();
    let bytes = match crate::io::read_bounded(path, MAX_TEXT) {
        Ok(Some(bytes)) => bytes,
        Ok(None) => {
            return Err(PropertyError::Unsupported {
                path: name,
                message: format!("the property is larger than {MAX_TEXT} bytes"),
            })
        }
        Err(source) => return Err(PropertyError::Io { path: name, source }),
    };
    let text = String::from_utf8(bytes).map_err(|e| {
        let before = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        let line = 1 + before.iter().filter(|&&b| b == b'\n').count();
        let col = 1 + before.iter().rev().take_while(|&&b| b != b'\n').count();
        PropertyError::Syntax {
            path: name.clone(),
            line,
            col,
            message: "the file is not UTF-8 text".to_string(),
        }
    })?;
    parse_vnnlib(&text, &name)
}

/// Parses VNN-LIB text; `path` names it in messages.
pub fn parse_vnnlib(text: &str, path: &str) -> Result<Query, PropertyError> {
    let forms = sexpr::parse(text).map_err(|e| PropertyError::Syntax {
        path: path.to_string(),
        line: e.pos.line,
        col: e.pos.col,
        message: e.message,
    })?;
    let mut r = Reader {
        path,
        dialect: Dialect::V1,
        networks: Vec::new(),
        variables: Vec::new(),
        by_name: HashMap::new(),
        assertions: Vec::new(),
        v1_inputs: HashMap::new(),
        v1_outputs: HashMap::new(),
    };
    let is_v2 = forms.first().is_some_and(|f| match f {
        Sexpr::List(items, _) => items.first().and_then(Sexpr::atom) == Some("vnnlib-version"),
        _ => false,
    });
    if is_v2 {
        r.dialect = Dialect::V2;
    }
    for (k, form) in forms.iter().enumerate() {
        r.top(form, k == 0)?;
    }
    if r.dialect == Dialect::V1 {
        r.finish_v1()?;
    }
    if r.variables.is_empty() {
        return Err(PropertyError::Unsupported {
            path: path.to_string(),
            message: "the query declares no variables".to_string(),
        });
    }
    Ok(Query {
        dialect: r.dialect,
        networks: r.networks,
        variables: r.variables,
        assertions: r.assertions,
        path: path.to_string(),
    })
}

struct Reader<'a> {
    path: &'a str,
    dialect: Dialect,
    networks: Vec<NetworkDecl>,
    variables: Vec<Variable>,
    by_name: HashMap<String, usize>,
    assertions: Vec<Formula>,
    /// VNN-LIB 1.0's declared X_i and Y_j: index → where declared (a map, so that declaring
    /// and resolving each of the 10^5 variables of a large property is not a scan).
    v1_inputs: HashMap<usize, Pos>,
    v1_outputs: HashMap<usize, Pos>,
}

/// A linear term under construction.
type Lin = LinearExpr;

impl Reader<'_> {
    fn err(&self, pos: Pos, message: impl Into<String>) -> PropertyError {
        PropertyError::Syntax {
            path: self.path.to_string(),
            line: pos.line,
            col: pos.col,
            message: message.into(),
        }
    }

    fn unsupported(&self, pos: Pos, message: impl Into<String>) -> PropertyError {
        PropertyError::Unsupported {
            path: self.path.to_string(),
            message: format!("line {}, column {}: {}", pos.line, pos.col, message.into()),
        }
    }

    fn list<'s>(&self, e: &'s Sexpr, what: &str) -> Result<(&'s str, &'s [Sexpr]), PropertyError> {
        match e {
            Sexpr::List(items, p) => match items.first() {
                Some(Sexpr::Atom(head, _)) => Ok((head, &items[1..])),
                _ => Err(self.err(
                    *p,
                    format!("expected {what}: a list starting with a keyword"),
                )),
            },
            other => Err(self.err(
                other.pos(),
                format!("expected {what}, found '{}'", show(other)),
            )),
        }
    }

    fn top(&mut self, form: &Sexpr, first: bool) -> Result<(), PropertyError> {
        let (head, args) = self.list(form, "a top-level command such as (assert …)")?;
        let pos = form.pos();
        match (head, self.dialect) {
            ("vnnlib-version", _) => {
                if !first {
                    return Err(self.err(pos, "(vnnlib-version …) must be the first command"));
                }
                match args {
                    [v] if matches!(v.atom(), Some("<2.0>") | Some("2.0")) => Ok(()),
                    _ => Err(self.err(pos, "expected (vnnlib-version <2.0>): version 2.0 is the only one with this header")),
                }
            }
            ("declare-const", Dialect::V1) => self.declare_const(args, pos),
            ("declare-network", Dialect::V2) => self.declare_network(args, pos),
            ("assert", _) => {
                let [f] = args else {
                    return Err(self.err(pos, "expected (assert FORMULA) with exactly one formula"));
                };
                let f = self.formula(f)?;
                self.assertions.push(f);
                Ok(())
            }
            // SMT-LIB housekeeping found in VNN-COMP files: no meaning here.
            ("check-sat" | "get-model" | "set-logic" | "set-info" | "set-option" | "exit", _) => {
                Ok(())
            }
            ("declare-const", Dialect::V2) => Err(self.err(
                pos,
                "declare-const is VNN-LIB 1.0; a 2.0 query declares variables inside (declare-network …)",
            )),
            ("declare-network", Dialect::V1) => Err(self.err(
                pos,
                "declare-network is VNN-LIB 2.0: the file must start with (vnnlib-version <2.0>)",
            )),
            (other, _) => Err(self.err(
                pos,
                format!("unknown command '{other}' (expected declare-const, declare-network or assert)"),
            )),
        }
    }

    fn declare_const(&mut self, args: &[Sexpr], pos: Pos) -> Result<(), PropertyError> {
        let [name, _ty] = args else {
            return Err(self.err(pos, "expected (declare-const NAME Real)"));
        };
        let name_s = name
            .atom()
            .ok_or_else(|| self.err(name.pos(), "expected a variable name"))?;
        let (list, idx) = if let Some(i) = name_s.strip_prefix("X_") {
            (&mut self.v1_inputs, i)
        } else if let Some(i) = name_s.strip_prefix("Y_") {
            (&mut self.v1_outputs, i)
        } else {
            return Err(self.err(
                name.pos(),
                format!("VNN-LIB 1.0 variables are X_i (inputs) or Y_j (outputs), not '{name_s}'"),
            ));
        };
        let i: usize = flat_index(idx).ok_or_else(|| PropertyError::Syntax {
            path: self.path.to_string(),
            line: name.pos().line,
            col: name.pos().col,
            message: format!("'{name_s}': expected a flat index after the underscore"),
        })?;
        if list.insert(i, name.pos()).is_some() {
            return Err(self.err(name.pos(), format!("'{name_s}' is declared twice")));
        }
        Ok(())
    }

    /// VNN-LIB 1.0: the declared X_i / Y_j must be 0..n without gaps; they become one input
    /// `X` and one output `Y`. (As in SMT-LIB, a variable is declared before its first use.)
    fn finish_v1(&mut self) -> Result<(), PropertyError> {
        for (kind, name) in [(Kind::Input, "X"), (Kind::Output, "Y")] {
            let list = if kind == Kind::Input {
                &self.v1_inputs
            } else {
                &self.v1_outputs
            };
            let n = list.len();
            if let Some((&i, &p)) = list
                .iter()
                .filter(|&(&i, _)| i >= n)
                .min_by_key(|&(&i, _)| i)
            {
                return Err(self.err(
                    p,
                    format!("{name}_{i} is declared but {name}_0 … {name}_{} are not all declared (indices must be 0..{n} without gaps)", n),
                ));
            }
            if n == 0 {
                return Err(PropertyError::Unsupported {
                    path: self.path.to_string(),
                    message: format!("no {name}_i variables are declared"),
                });
            }
        }
        self.networks.push(NetworkDecl {
            name: "N".to_string(),
            equal_to: None,
            isomorphic_to: None,
        });
        let ni = self.v1_inputs.len();
        let no = self.v1_outputs.len();
        self.variables = vec![
            Variable {
                name: "X".to_string(),
                kind: Kind::Input,
                element_type: "Real".to_string(),
                shape: vec![ni],
                network: "N".to_string(),
                onnx_name: None,
                offset: 0,
            },
            Variable {
                name: "Y".to_string(),
                kind: Kind::Output,
                element_type: "Real".to_string(),
                shape: vec![no],
                network: "N".to_string(),
                onnx_name: None,
                offset: 0,
            },
        ];
        Ok(())
    }

    fn declare_network(&mut self, args: &[Sexpr], pos: Pos) -> Result<(), PropertyError> {
        let Some((name, rest)) = args.split_first() else {
            return Err(self.err(
                pos,
                "expected (declare-network NAME (declare-input …) … (declare-output …))",
            ));
        };
        let net = name
            .atom()
            .ok_or_else(|| self.err(name.pos(), "expected a network name"))?
            .to_string();
        if self.networks.iter().any(|n| n.name == net) {
            return Err(self.err(name.pos(), format!("network '{net}' is declared twice")));
        }
        let mut decl = NetworkDecl {
            name: net.clone(),
            equal_to: None,
            isomorphic_to: None,
        };
        let (mut n_in, mut n_out) = (0usize, 0usize);
        let mut off_in: usize = self
            .variables
            .iter()
            .filter(|v| v.kind == Kind::Input)
            .map(Variable::numel)
            .sum();
        let mut off_out: usize = self
            .variables
            .iter()
            .filter(|v| v.kind == Kind::Output)
            .map(Variable::numel)
            .sum();
        let mut stage = 0; // 0 inputs, 1 hidden, 2 outputs: the grammar's order
        for item in rest {
            let (head, a) = self.list(item, "(declare-input …), (declare-hidden …), (declare-output …), (equal-to …) or (isomorphic-to …)")?;
            let p = item.pos();
            let kind = match head {
                "declare-input" => Kind::Input,
                "declare-hidden" => Kind::Hidden,
                "declare-output" => Kind::Output,
                "equal-to" | "isomorphic-to" => {
                    let [other] = a else {
                        return Err(self.err(p, format!("expected ({head} NETWORK)")));
                    };
                    let other = other
                        .atom()
                        .ok_or_else(|| self.err(other.pos(), "expected a network name"))?
                        .to_string();
                    if !self.networks.iter().any(|n| n.name == other) {
                        return Err(self.err(p, format!("({head} {other}): no network '{other}' is declared before")));
                    }
                    if head == "equal-to" {
                        decl.equal_to = Some(other);
                    } else {
                        decl.isomorphic_to = Some(other);
                    }
                    continue;
                }
                other => {
                    return Err(self.err(
                        p,
                        format!("unknown network element '{other}' (expected declare-input, declare-hidden, declare-output, equal-to or isomorphic-to)"),
                    ))
                }
            };
            let s = match kind {
                Kind::Input => 0,
                Kind::Hidden => 1,
                Kind::Output => 2,
            };
            if s < stage {
                return Err(self.err(
                    p,
                    "declarations must come in the order inputs, hidden nodes, outputs",
                ));
            }
            stage = s;
            let (vname, ty, shape, onnx) = match (kind, a) {
                (Kind::Hidden, [n, t, s, Sexpr::Str(o, _)]) => (n, t, s, Some(o.clone())),
                (Kind::Hidden, _) => {
                    return Err(self.err(
                        p,
                        "expected (declare-hidden NAME TYPE [SHAPE] \"onnx-node-name\")",
                    ))
                }
                (_, [n, t, s]) => (n, t, s, None),
                _ => return Err(self.err(p, format!("expected ({head} NAME TYPE [SHAPE])"))),
            };
            let vname_s = vname.atom().filter(|s| is_identifier(s)).ok_or_else(|| {
                self.err(
                    vname.pos(),
                    "expected a variable name (letters, digits, '_')",
                )
            })?;
            if self.by_name.contains_key(vname_s) {
                return Err(self.err(
                    vname.pos(),
                    format!("variable '{vname_s}' is declared twice"),
                ));
            }
            let ty_s = ty.atom().filter(|s| is_identifier(s)).ok_or_else(|| {
                self.err(ty.pos(), "expected an element type such as float32 or real")
            })?;
            let shape_v = self.shape(shape)?;
            let numel = shape_v
                .iter()
                .try_fold(1usize, |a, &d| a.checked_mul(d))
                .filter(|&n| n <= MAX_ELEMENTS)
                .ok_or_else(|| {
                    self.unsupported(
                        shape.pos(),
                        format!("'{vname_s}' declares more than {MAX_ELEMENTS} elements"),
                    )
                })?;
            let offset = match kind {
                Kind::Input => {
                    let o = off_in;
                    off_in += numel;
                    n_in += numel;
                    o
                }
                Kind::Output => {
                    let o = off_out;
                    off_out += numel;
                    n_out += numel;
                    o
                }
                Kind::Hidden => 0,
            };
            if off_in > MAX_ELEMENTS || off_out > MAX_ELEMENTS {
                return Err(self.unsupported(
                    p,
                    format!("the query declares more than {MAX_ELEMENTS} elements"),
                ));
            }
            self.by_name
                .insert(vname_s.to_string(), self.variables.len());
            self.variables.push(Variable {
                name: vname_s.to_string(),
                kind,
                element_type: ty_s.to_string(),
                shape: shape_v,
                network: net.clone(),
                onnx_name: onnx,
                offset,
            });
        }
        if decl.equal_to.is_none() && (n_in == 0 || n_out == 0) {
            return Err(self.err(
                pos,
                format!("network '{net}' needs at least one declare-input and one declare-output"),
            ));
        }
        self.networks.push(decl);
        Ok(())
    }

    fn shape(&self, e: &Sexpr) -> Result<Vec<usize>, PropertyError> {
        let bad = || self.err(e.pos(), "expected a shape such as [2] or [1,28,28]");
        let s = e.atom().ok_or_else(bad)?;
        let inner = s
            .strip_prefix('[')
            .and_then(|s| s.strip_suffix(']'))
            .ok_or_else(bad)?;
        if inner.trim().is_empty() {
            return Ok(Vec::new());
        }
        inner
            .split(',')
            .map(|d| {
                let d = d.trim();
                d.parse::<usize>()
                    .ok()
                    .filter(|&v| v > 0 && d.bytes().all(|b| b.is_ascii_digit()))
                    .ok_or_else(|| {
                        self.err(
                            e.pos(),
                            format!("shape {s}: '{d}' is not a positive dimension"),
                        )
                    })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests;
