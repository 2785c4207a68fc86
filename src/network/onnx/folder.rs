//! The folder: walks the graph's nodes in order and folds each operator into the values of
//! [`super::value`], closing a [`Layer`] at every ReLU.

use std::collections::HashMap;

use crate::network::proto::{data_type, NodeProto};
use crate::network::tensor::{
    broadcast_map, broadcast_shape, concat, extent, flatten_axis, gather, normalize_axis, numel,
    reduce_groups, resolve_shape, shape_slice, slice_map, squeezed_shape, transpose_map, Tensor,
    MAX_VALUES,
};
use crate::network::Layer;

use super::dtype::{int_divide, IntNames};
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

impl<'a> Folder<'a> {
    pub(super) fn node(&mut self, node: &NodeProto) -> Result<(), ImportError> {
        let name = if node.name.is_empty() {
            node.output.first().cloned().unwrap_or_default()
        } else {
            node.name.clone()
        };
        let op = node.op_type.as_str();
        let err = |problem: String| ImportError::Node {
            path: self.path.to_string(),
            node: name.clone(),
            op: op.to_string(),
            problem,
        };
        if !(node.domain.is_empty() || node.domain == "ai.onnx") {
            return Err(ImportError::Unsupported {
                path: self.path.to_string(),
                node: name,
                op: format!("{}::{}", node.domain, op),
            });
        }
        let input = |i: usize| -> Result<&Value, ImportError> {
            let key = node
                .input
                .get(i)
                .filter(|s| !s.is_empty())
                .ok_or_else(|| err(format!("missing input #{i}")))?;
            self.values
                .get(key)
                .ok_or_else(|| err(format!("input '{key}' is not produced by any earlier node")))
        };
        let attr = |n: &str| node.attribute.iter().find(|a| a.name == n);
        let int_attr = |n: &str, default: i64| attr(n).map(|a| a.i).unwrap_or(default);
        let float_attr = |n: &str, default: f32| attr(n).map(|a| a.f).unwrap_or(default);

        // Every consumed affine value must be in the current basis and before any dropped softmax.
        for i in 0..node.input.len() {
            if node.input[i].is_empty() {
                continue;
            }
            if let Ok(Value::Affine(a)) = input(i) {
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

        let ints = |v: &Value| -> Result<Vec<i64>, ImportError> {
            match v {
                Value::Const(t) => Ok(t.data.iter().map(|&x| x as i64).collect()),
                Value::Affine(_) => Err(err(
                    "an index operand depends on the network input".to_string()
                )),
            }
        };
        let opt_input = |i: usize| node.input.get(i).filter(|s| !s.is_empty()).is_some();
        let mut split_parts: Vec<(String, Value)> = Vec::new();
        let result: Value = match op {
                "Split" => {
                let v = input(0)?.clone();
                let rank = v.shape().len();
                let axis = normalize_axis(int_attr("axis", 0), rank)
                    .ok_or_else(|| err("axis out of range".to_string()))?;
                let d = v.shape()[axis];
                let n_out = node.output.len().max(1);
                let sizes: Vec<usize> = if opt_input(1) {
                    ints(input(1)?)?.iter().map(|&x| x.max(0) as usize).collect()
                } else if let Some(a) = attr("split") {
                    a.ints.iter().map(|&x| x.max(0) as usize).collect()
                } else {
                    // Equal parts, the last one smaller (opset 18's num_outputs rule).
                    let part = d.div_ceil(n_out);
                    (0..n_out).map(|k| part.min(d.saturating_sub(k * part))).collect()
                };
                if sizes.len() != n_out || sizes.iter().sum::<usize>() != d {
                    return Err(err(format!(
                        "split sizes {sizes:?} do not cut a dimension of {d} into {n_out} outputs"
                    )));
                }
                let mut start = 0;
                for (out, &len) in node.output.iter().zip(&sizes) {
                    let s = [start as i64];
                    let e = [(start + len) as i64];
                    let ax = [axis as i64];
                    let (map, shape) = slice_map(v.shape(), &s, &e, Some(&ax), None).map_err(err)?;
                    start += len;
                    split_parts.push((out.clone(), pick(&v, &map, shape)));
                }
                split_parts
                    .first()
                    .map(|p| p.1.clone())
                    .ok_or_else(|| err("no output".to_string()))?
            }
            "Slice" => {
                let v = input(0)?.clone();
                let (starts, ends, axes, steps) = if self.opset >= 10 {
                    (
                        ints(input(1)?)?,
                        ints(input(2)?)?,
                        if opt_input(3) { Some(ints(input(3)?)?) } else { None },
                        if opt_input(4) { Some(ints(input(4)?)?) } else { None },
                    )
                } else {
                    let get = |n: &str| attr(n).map(|a| a.ints.clone());
                    (
                        get("starts").unwrap_or_default(),
                        get("ends").unwrap_or_default(),
                        get("axes"),
                        None,
                    )
                };
                let (map, shape) =
                    slice_map(v.shape(), &starts, &ends, axes.as_deref(), steps.as_deref())
                        .map_err(err)?;
                pick(&v, &map, shape)
            }
            "ReduceSum" | "ReduceMean" => {
                let v = input(0)?.clone();
                let rank = v.shape().len();
                let axes_in = (op == "ReduceSum" && self.opset >= 13)
                    || (op == "ReduceMean" && self.opset >= 18);
                let raw: Vec<i64> = if axes_in {
                    if opt_input(1) {
                        ints(input(1)?)?
                    } else {
                        Vec::new()
                    }
                } else {
                    attr("axes").map(|a| a.ints.clone()).unwrap_or_default()
                };
                if raw.is_empty() && int_attr("noop_with_empty_axes", 0) != 0 {
                    v
                } else {
                    let axes: Vec<usize> = raw
                        .iter()
                        .map(|&a| normalize_axis(a, rank))
                        .collect::<Option<_>>()
                        .ok_or_else(|| err("axis out of range".to_string()))?;
                    let (groups, shape) =
                        reduce_groups(v.shape(), &axes, int_attr("keepdims", 1) != 0);
                    let count = groups.first().map_or(1, Vec::len).max(1);
                    // ONNX's mean of integers is an integer (the sum divided, truncating).
                    let int_mean = op == "ReduceMean"
                        && node.input.first().is_some_and(|n| self.ints.contains(n));
                    let scale = if op == "ReduceMean" && !int_mean {
                        1.0 / count as f64
                    } else {
                        1.0
                    };
                    match (reduce(&v, &groups, scale, shape), int_mean) {
                        (Value::Const(sum), true) => Value::Const(
                            int_divide(&sum, &scalar_tensor(count as f64)).map_err(err)?,
                        ),
                        (Value::Affine(_), true) => {
                            return Err(err("integer mean of a network value".to_string()))
                        }
                        (r, false) => r,
                    }
                }
            }
            "Expand" => {
                let v = input(0)?.clone();
                let target: Vec<usize> = ints(input(1)?)?
                    .iter()
                    .map(|&x| x.max(0) as usize)
                    .collect();
                let shape = broadcast_shape(v.shape(), &target)
                    .ok_or_else(|| err(format!("cannot expand {:?} to {target:?}", v.shape())))?;
                let width = match &v {
                    Value::Affine(a) => a.n.max(1),
                    Value::Const(_) => 1,
                };
                if extent(&shape).saturating_mul(width) > MAX_VALUES {
                    return Err(err("the expanded tensor is too large".to_string()));
                }
                let map = broadcast_map(&shape, v.shape());
                pick(&v, &map, shape)
            }
            "ConstantOfShape" => {
                let shape: Vec<usize> = ints(input(0)?)?
                    .iter()
                    .map(|&x| x.max(0) as usize)
                    .collect();
                if extent(&shape) > MAX_INPUTS * 64 {
                    return Err(err("the tensor is too large".to_string()));
                }
                let value = match attr("value") {
                    Some(a) => self
                        .constant_attr(a, &name, op)?
                        .data
                        .first()
                        .copied()
                        .unwrap_or(0.0),
                    None => 0.0,
                };
                Value::Const(Tensor {
                    data: vec![value; numel(&shape)],
                    shape,
                })
            }
            "BatchNormalization" => {
                // Inference mode: y = scale (x - mean) / sqrt(var + epsilon) + B, per channel
                // (axis 1): an affine map with per-channel constants.
                let x = input(0)?.clone();
                let rank = x.shape().len();
                if rank < 2 {
                    return Err(err("the input needs a channel axis (rank >= 2)".to_string()));
                }
                let c = x.shape()[1];
                let eps = attr("epsilon").map(|a| a.f as f64).unwrap_or(1e-5);
                let mut consts = Vec::new();
                for i in 1..5 {
                    let Value::Const(t) = input(i)? else {
                        return Err(err("parameters depend on the network input".to_string()));
                    };
                    if t.data.len() != c {
                        return Err(err(format!("parameter {i} has {} values for {c} channels", t.data.len())));
                    }
                    consts.push(t.data.clone());
                }
                let (scale, bias, mean, var) = (&consts[0], &consts[1], &consts[2], &consts[3]);
                let mut shape = vec![c];
                shape.extend(std::iter::repeat_n(1, rank - 2));
                let mut mul = Vec::with_capacity(c);
                let mut add = Vec::with_capacity(c);
                for k in 0..c {
                    let denom = (var[k] + eps).sqrt();
                    if denom.is_nan() || denom <= 0.0 || denom.is_infinite() {
                        return Err(err(format!("channel {k}: variance + epsilon is not positive")));
                    }
                    let m = scale[k] / denom;
                    mul.push(m);
                    add.push(bias[k] - m * mean[k]);
                }
                let y = binary(
                    "Mul",
                    &x,
                    &Value::Const(Tensor { shape: shape.clone(), data: mul }),
                )
                .map_err(err)?;
                binary("Add", &y, &Value::Const(Tensor { shape, data: add })).map_err(err)?
            }
            "Identity" | "Dropout" => input(0)?.clone(),
            "Cast" => {
                let to = int_attr("to", data_type::FLOAT as i64) as i32;
                match input(0)? {
                    Value::Affine(a) if to == data_type::FLOAT || to == data_type::DOUBLE => {
                        Value::Affine(a.clone())
                    }
                    Value::Affine(_) => {
                        return Err(err(format!(
                        "cast of a network value to type {to} (only float/double keep it linear)"
                    )))
                    }
                    Value::Const(t) => {
                        let mut t = t.clone();
                        if to == data_type::INT32 || to == data_type::INT64 {
                            t.data.iter_mut().for_each(|v| *v = v.trunc());
                        }
                        Value::Const(t)
                    }
                }
            }
            "Constant" => {
                let a = node
                    .attribute
                    .first()
                    .ok_or_else(|| err("no value attribute".to_string()))?;
                Value::Const(self.constant_attr(a, &name, op)?)
            }
            "Relu" => match input(0)?.clone() {
                Value::Const(mut t) => {
                    t.data.iter_mut().for_each(|v| *v = v.max(0.0));
                    Value::Const(t)
                }
                Value::Affine(a) => Value::Affine(self.close_layer(a).map_err(err)?),
            },
            "Softmax" | "LogSoftmax" if !self.classifier => {
                return Err(err(
                    "not linear, and a property may constrain its values (only a classifier's final Softmax is dropped)".to_string(),
                ))
            }
            "Softmax" | "LogSoftmax" => {
                let Value::Affine(mut a) = input(0)?.clone() else {
                    return Err(err("applied to a constant".to_string()));
                };
                let rank = a.shape.len();
                let default_axis = if self.opset >= 13 { -1 } else { 1 };
                let axis = normalize_axis(int_attr("axis", default_axis), rank)
                    .ok_or_else(|| err("axis out of range".to_string()))?;
                // Order-preserving only when it normalises over all the class scores at once:
                // opset >= 13 normalises along one axis, older opsets over all axes >= axis.
                let over_all = if self.opset >= 13 {
                    a.shape
                        .iter()
                        .enumerate()
                        .all(|(i, &d)| i == axis || d == 1)
                } else {
                    numel(&a.shape[..axis]) == 1
                };
                if !over_all {
                    return Err(err(format!(
                        "normalises over axis {axis} of shape {:?}, not over all outputs",
                        a.shape
                    )));
                }
                self.notes.push(format!(
                    "dropped {op} '{name}' (order-preserving: the arg-max is unchanged)"
                ));
                a.after_softmax = Some(name.clone());
                Value::Affine(a)
            }
            "Flatten" => {
                let v = input(0)?.clone();
                let shape = v.shape().to_vec();
                let axis = flatten_axis(int_attr("axis", 1), shape.len())
                    .ok_or_else(|| err("axis out of range".to_string()))?;
                let new = vec![numel(&shape[..axis]), numel(&shape[axis..])];
                reshape(v, new)
            }
            "Reshape" => {
                let v = input(0)?.clone();
                let Value::Const(target) = input(1)? else {
                    return Err(err(
                        "the target shape depends on the network input".to_string()
                    ));
                };
                let allow_zero = int_attr("allowzero", 0) != 0;
                let new = resolve_shape(v.shape(), &target.data, allow_zero).map_err(err)?;
                reshape(v, new)
            }
            "Squeeze" | "Unsqueeze" => {
                let v = input(0)?.clone();
                let axes: Vec<i64> = if self.opset >= 13 && node.input.len() > 1 {
                    match input(1)? {
                        Value::Const(t) => t.data.iter().map(|&x| x as i64).collect(),
                        _ => return Err(err("axes depend on the network input".to_string())),
                    }
                } else {
                    attr("axes").map(|a| a.ints.clone()).unwrap_or_default()
                };
                let new = squeezed_shape(v.shape(), &axes, op == "Squeeze")
                    .ok_or_else(|| err("axis out of range".to_string()))?;
                reshape(v, new)
            }
            "Transpose" => {
                let v = input(0)?.clone();
                let rank = v.shape().len();
                let perm: Vec<usize> = match attr("perm") {
                    Some(a) => a.ints.iter().map(|&p| p as usize).collect(),
                    None => (0..rank).rev().collect(),
                };
                let mut sorted = perm.clone();
                sorted.sort_unstable();
                if sorted != (0..rank).collect::<Vec<_>>() {
                    return Err(err(format!(
                        "perm {perm:?} is not a permutation of 0..{rank}"
                    )));
                }
                let (map, shape) = transpose_map(v.shape(), &perm);
                match v {
                    Value::Const(t) => Value::Const(Tensor {
                        shape,
                        data: map.iter().map(|&i| t.data[i]).collect(),
                    }),
                    Value::Affine(a) => Value::Affine(a.gather_rows(&map, shape)),
                }
            }
            "Shape" => {
                let shape = input(0)?.shape().to_vec();
                let end = attr("end").map(|a| a.i);
                let dims = shape_slice(&shape, int_attr("start", 0), end);
                Value::Const(Tensor {
                    shape: vec![dims.len()],
                    data: dims,
                })
            }
            "Gather" => match (input(0)?, input(1)?) {
                (Value::Const(data), Value::Const(idx)) => {
                    Value::Const(gather(data, idx, int_attr("axis", 0)).map_err(err)?)
                }
                (Value::Affine(a), Value::Const(idx)) => {
                    // Gather the row numbers, then the rows.
                    let rows = Tensor {
                        shape: a.shape.clone(),
                        data: (0..a.rows()).map(|r| r as f64).collect(),
                    };
                    let picked = gather(&rows, idx, int_attr("axis", 0)).map_err(err)?;
                    let map: Vec<usize> = picked.data.iter().map(|&r| r as usize).collect();
                    Value::Affine(a.gather_rows(&map, picked.shape))
                }
                _ => {
                    return Err(err(
                        "the indices depend on the network input".to_string()
                    ))
                }
            },
            "Concat" => {
                let values: Vec<&Value> = (0..node.input.len())
                    .map(input)
                    .collect::<Result<_, _>>()?;
                if values.iter().all(|v| matches!(v, Value::Const(_))) {
                    let parts: Vec<Tensor> = values
                        .iter()
                        .map(|v| match v {
                            Value::Const(t) => t.clone(),
                            Value::Affine(_) => unreachable!("all constant"),
                        })
                        .collect();
                    Value::Const(concat(&parts, int_attr("axis", 0)).map_err(err)?)
                } else {
                    // Stack every part's rows (constants as rows without weights), concatenate
                    // their row numbers, then gather.
                    let (n, basis) = (self.basis_dim, self.basis);
                    let mut stacked = Affine {
                        shape: vec![0],
                        basis,
                        n,
                        a: Vec::new(),
                        b: Vec::new(),
                        after_softmax: None,
                    };
                    let mut index_parts = Vec::new();
                    for v in &values {
                        let start = stacked.b.len();
                        match v {
                            Value::Const(t) => {
                                stacked.a.extend(std::iter::repeat_n(0.0, t.data.len() * n));
                                stacked.b.extend(&t.data);
                            }
                            Value::Affine(a) => {
                                stacked.a.extend(&a.a);
                                stacked.b.extend(&a.b);
                            }
                        }
                        index_parts.push(Tensor {
                            shape: v.shape().to_vec(),
                            data: (start..stacked.b.len()).map(|r| r as f64).collect(),
                        });
                    }
                    let idx = concat(&index_parts, int_attr("axis", 0)).map_err(err)?;
                    let map: Vec<usize> = idx.data.iter().map(|&r| r as usize).collect();
                    Value::Affine(stacked.gather_rows(&map, idx.shape))
                }
            }
            "Div" if self.ints.both_inputs(node) => match (input(0)?, input(1)?) {
                (Value::Const(a), Value::Const(b)) => Value::Const(int_divide(a, b).map_err(err)?),
                _ => return Err(err("integer division of a network value".to_string())),
            },
            "Add" | "Sub" | "Mul" | "Div" => binary(op, input(0)?, input(1)?).map_err(err)?,
            "Neg" => binary("Mul", input(0)?, &scalar(-1.0)).map_err(err)?,
            "MatMul" => matmul(input(0)?, input(1)?).map_err(err)?,
            "Gemm" => {
                let mut a = input(0)?.clone();
                let mut b = input(1)?.clone();
                if int_attr("transA", 0) != 0 {
                    a = transpose2(a).map_err(err)?;
                }
                if int_attr("transB", 0) != 0 {
                    b = transpose2(b).map_err(err)?;
                }
                let alpha = float_attr("alpha", 1.0) as f64;
                let beta = float_attr("beta", 1.0) as f64;
                let mut y = matmul(&a, &b).map_err(err)?;
                if alpha != 1.0 {
                    y = binary("Mul", &y, &scalar(alpha)).map_err(err)?;
                }
                if node.input.len() > 2 && !node.input[2].is_empty() {
                    let mut c = input(2)?.clone();
                    if beta != 1.0 {
                        c = binary("Mul", &c, &scalar(beta)).map_err(err)?;
                    }
                    y = binary("Add", &y, &c).map_err(err)?;
                }
                y
            }
            _ => {
                return Err(ImportError::Unsupported {
                    path: self.path.to_string(),
                    node: name,
                    op: op.to_string(),
                })
            }
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
    fn close_layer(&mut self, a: Affine) -> Result<Affine, String> {
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
