//! The folder: walks the graph's nodes in order and folds each operator into the values of
//! [`super::value`], closing a [`Layer`] at every ReLU. This file holds the walk (the checks
//! every node passes, storing its outputs); the operators themselves are in `shapes.rs`
//! (rearranging and indexing) and `ops.rs` (arithmetic, layers, `Relu`, `Softmax`).

use std::collections::HashMap;

use crate::network::proto::{AttributeProto, NodeProto};
use crate::network::tensor::MAX_VALUES;
use crate::network::Layer;

use super::dtype::IntNames;
use super::value::*;
use super::ImportError;

pub(in crate::network) struct Folder<'a> {
    pub(super) path: &'a str,
    pub(super) values: HashMap<String, Value>,
    pub(super) layers: Vec<Layer>,
    pub(super) basis: usize,
    pub(super) basis_dim: usize,
    pub(super) notes: Vec<String>,
    pub(super) opset: i64,
    /// Which values hold integers (integer `Div` truncates).
    pub(super) ints: IntNames,
    /// Classifier mode: one input, a final Softmax dropped (order-preserving).
    pub(super) classifier: bool,
}

/// Most input elements (all inputs together) a model may have: the identity map of the input is
/// held densely while folding, so this bounds memory (a 784-input MNIST model needs 5 MB).
pub(in crate::network) const MAX_INPUTS: usize = 1 << 14;

/// One node being folded: its name (its first output's when unnamed), its operator, and the
/// lookups of attributes and constant operands that every operator uses. The operators live
/// in `shapes.rs` (rearranging and indexing) and `ops.rs` (arithmetic and layers).
pub(in crate::network) struct Site<'n> {
    pub(super) node: &'n NodeProto,
    pub(in crate::network) name: String,
    pub(in crate::network) op: &'n str,
    path: &'n str,
}

impl<'n> Site<'n> {
    /// The node in the file at `path` (for messages).
    pub(in crate::network) fn new(node: &'n NodeProto, path: &'n str) -> Self {
        let name = if node.name.is_empty() {
            node.output.first().cloned().unwrap_or_default()
        } else {
            node.name.clone()
        };
        Site {
            node,
            name,
            op: node.op_type.as_str(),
            path,
        }
    }

    /// An error about this node.
    pub(in crate::network) fn err(&self, problem: String) -> ImportError {
        ImportError::Node {
            path: self.path.to_string(),
            node: self.name.clone(),
            op: self.op.to_string(),
            problem,
        }
    }

    pub(in crate::network) fn attr(&self, n: &str) -> Option<&AttributeProto> {
        self.node.attribute.iter().find(|a| a.name == n)
    }

    pub(in crate::network) fn int_attr(&self, n: &str, default: i64) -> i64 {
        self.attr(n).map(|a| a.i).unwrap_or(default)
    }

    pub(in crate::network) fn float_attr(&self, n: &str, default: f32) -> f32 {
        self.attr(n).map(|a| a.f).unwrap_or(default)
    }

    /// A `Transpose`'s permutation of `rank` axes: its `perm` attribute (by default the axes
    /// reversed), refused unless it is a permutation of `0..rank`. Both the folder and the
    /// interval evaluator read it here, so they accept the same models.
    pub(in crate::network) fn perm(&self, rank: usize) -> Result<Vec<usize>, ImportError> {
        let perm: Vec<usize> = match self.attr("perm") {
            Some(a) => a.ints.iter().map(|&p| p as usize).collect(),
            None => (0..rank).rev().collect(),
        };
        let mut sorted = perm.clone();
        sorted.sort_unstable();
        if sorted != (0..rank).collect::<Vec<_>>() {
            return Err(self.err(format!("perm {perm:?} is not a permutation of 0..{rank}")));
        }
        Ok(perm)
    }

    /// Whether optional input `i` is given.
    pub(super) fn opt_input(&self, i: usize) -> bool {
        self.node.input.get(i).filter(|s| !s.is_empty()).is_some()
    }

    /// An index operand's integers: it must not depend on the network input.
    pub(super) fn ints(&self, v: &Value) -> Result<Vec<i64>, ImportError> {
        match v {
            Value::Const(t) => Ok(t.data.iter().map(|&x| x as i64).collect()),
            Value::Affine(_) => {
                Err(self.err("an index operand depends on the network input".to_string()))
            }
        }
    }
}

impl<'a> Folder<'a> {
    /// Input `i` of the node at `s`: produced by an earlier node (or an initializer).
    pub(super) fn input(&self, s: &Site, i: usize) -> Result<&Value, ImportError> {
        let key = s
            .node
            .input
            .get(i)
            .filter(|k| !k.is_empty())
            .ok_or_else(|| s.err(format!("missing input #{i}")))?;
        self.values
            .get(key)
            .ok_or_else(|| s.err(format!("input '{key}' is not produced by any earlier node")))
    }

    pub(super) fn node(&mut self, node: &NodeProto) -> Result<(), ImportError> {
        let s = Site::new(node, self.path);
        let op = s.op;
        if !(node.domain.is_empty() || node.domain == "ai.onnx") {
            return Err(ImportError::Unsupported {
                path: self.path.to_string(),
                node: s.name,
                op: format!("{}::{}", node.domain, op),
            });
        }
        let err = |problem: String| s.err(problem);

        // Every consumed affine value must be in the current basis and before any dropped softmax.
        for i in 0..node.input.len() {
            if node.input[i].is_empty() {
                continue;
            }
            if let Ok(Value::Affine(a)) = self.input(&s, i) {
                if a.basis != self.basis {
                    return Err(err(format!(
                        "input '{}' is computed before an earlier ReLU (skip connections and branches are not supported)",
                        node.input[i]
                    )));
                }
                if let Some(sm) = &a.after_softmax {
                    if op != "Identity" {
                        return Err(err(format!(
                            "consumes the output of '{sm}'; Softmax/LogSoftmax are only supported as the last operation"
                        )));
                    }
                }
            }
        }

        let mut split_parts: Vec<(String, Value)> = Vec::new();
        let result = match self.shape_op(&s, &mut split_parts)? {
            Some(v) => v,
            None => self.value_op(&s)?,
        };
        // Every output, a Split's included: an empty affine value has no rows to divide by
        // later (a MatMul's row count over its inner dimension).
        let empty = |v: &Value| matches!(v, Value::Affine(a) if a.rows() == 0);
        if empty(&result) || split_parts.iter().any(|(_, v)| empty(v)) {
            return Err(err("produces an empty tensor".to_string()));
        }
        // Bounds what the next node can allocate from this one (a chain of Concats of a value
        // with itself doubles it at every node).
        if result.size() > MAX_VALUES || split_parts.iter().any(|(_, v)| v.size() > MAX_VALUES) {
            return Err(err(format!("produces more than {MAX_VALUES} values")));
        }
        let out = node
            .output
            .first()
            .ok_or_else(|| err("no output".to_string()))?;
        self.values.insert(out.clone(), result);
        self.ints.observe(node);
        for (name, v) in split_parts {
            if !name.is_empty() {
                self.values.insert(name, v);
            }
        }
        Ok(())
    }

    /// A ReLU applied to an affine value: emit the layer, start a new basis. The new basis is
    /// held as a dense identity (`n_out²` values), hence the cap on a layer's width.
    pub(super) fn close_layer(&mut self, a: Affine) -> Result<Affine, String> {
        let n_out = a.rows();
        if n_out.saturating_mul(n_out) > MAX_VALUES {
            return Err(format!(
                "a ReLU over {n_out} values: layers of more than {} neurons are not supported",
                1usize << (MAX_VALUES.trailing_zeros() / 2)
            ));
        }
        self.layers.push(Layer {
            n_in: a.n,
            n_out,
            weights: a.a,
            bias: a.b,
            relu: true,
        });
        self.basis += 1;
        self.basis_dim = n_out;
        let mut id = vec![0.0; n_out * n_out];
        for i in 0..n_out {
            id[i * n_out + i] = 1.0;
        }
        Ok(Affine {
            shape: a.shape,
            basis: self.basis,
            n: self.basis_dim,
            a: id,
            b: vec![0.0; n_out],
            after_softmax: None,
        })
    }
}
