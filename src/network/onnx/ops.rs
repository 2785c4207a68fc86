//! The operators that compute: arithmetic (`Add`, `Sub`, `Mul`, `Div`, `Neg`), the linear
//! layers (`MatMul`, `Gemm`, `BatchNormalization`), reductions, casts and constants, and the
//! two that end something: `Relu` closes a layer, a classifier's final `Softmax` is dropped.

use crate::network::proto::data_type;
use crate::network::tensor::{normalize_axis, numel, reduce_groups, Tensor};

use super::dtype::int_divide;
use super::folder::{Folder, Site};
use super::value::*;
use super::ImportError;

impl Folder<'_> {
    /// The node at `s`, whose operator is not a shape operator (`shapes.rs`).
    pub(super) fn value_op(&mut self, s: &Site) -> Result<Value, ImportError> {
        let (op, name) = (s.op, &s.name);
        let result: Value = match op {
            "ReduceSum" | "ReduceMean" => {
                let v = self.input(s, 0)?.clone();
                let rank = v.shape().len();
                let axes_in = (op == "ReduceSum" && self.opset >= 13)
                    || (op == "ReduceMean" && self.opset >= 18);
                let raw: Vec<i64> = if axes_in {
                    if s.opt_input(1) {
                        s.ints(self.input(s, 1)?)?
                    } else {
                        Vec::new()
                    }
                } else {
                    s.attr("axes").map(|a| a.ints.clone()).unwrap_or_default()
                };
                if raw.is_empty() && s.int_attr("noop_with_empty_axes", 0) != 0 {
                    v
                } else {
                    let axes: Vec<usize> = raw
                        .iter()
                        .map(|&a| normalize_axis(a, rank))
                        .collect::<Option<_>>()
                        .ok_or_else(|| s.err("axis out of range".to_string()))?;
                    let (groups, shape) =
                        reduce_groups(v.shape(), &axes, s.int_attr("keepdims", 1) != 0);
                    let count = groups.first().map_or(1, Vec::len).max(1);
                    // ONNX's mean of integers is an integer (the sum divided, truncating).
                    let int_mean = op == "ReduceMean"
                        && s.node.input.first().is_some_and(|n| self.ints.contains(n));
                    let scale = if op == "ReduceMean" && !int_mean {
                        1.0 / count as f64
                    } else {
                        1.0
                    };
                    match (reduce(&v, &groups, scale, shape), int_mean) {
                        (Value::Const(sum), true) => Value::Const(
                            int_divide(&sum, &scalar_tensor(count as f64)).map_err(|e| s.err(e))?,
                        ),
                        (Value::Affine(_), true) => {
                            return Err(s.err("integer mean of a network value".to_string()))
                        }
                        (r, false) => r,
                    }
                }
            }
            "BatchNormalization" => {
                // Inference mode: y = scale (x - mean) / sqrt(var + epsilon) + B, per channel
                // (axis 1): an affine map with per-channel constants.
                let x = self.input(s, 0)?.clone();
                let rank = x.shape().len();
                if rank < 2 {
                    return Err(s.err("the input needs a channel axis (rank >= 2)".to_string()));
                }
                let c = x.shape()[1];
                let eps = s.attr("epsilon").map(|a| a.f as f64).unwrap_or(1e-5);
                let mut consts = Vec::new();
                for i in 1..5 {
                    let Value::Const(t) = self.input(s, i)? else {
                        return Err(s.err("parameters depend on the network input".to_string()));
                    };
                    if t.data.len() != c {
                        return Err(s.err(format!("parameter {i} has {} values for {c} channels", t.data.len())));
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
                        return Err(s.err(format!("channel {k}: variance + epsilon is not positive")));
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
                .map_err(|e| s.err(e))?;
                binary("Add", &y, &Value::Const(Tensor { shape, data: add })).map_err(|e| s.err(e))?
            }
            "Identity" | "Dropout" => self.input(s, 0)?.clone(),
            "Cast" => {
                let to = s.int_attr("to", data_type::FLOAT as i64) as i32;
                match self.input(s, 0)? {
                    Value::Affine(a) if to == data_type::FLOAT || to == data_type::DOUBLE => {
                        Value::Affine(a.clone())
                    }
                    Value::Affine(_) => {
                        return Err(s.err(format!(
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
                let a = s
                    .node
                    .attribute
                    .first()
                    .ok_or_else(|| s.err("no value attribute".to_string()))?;
                Value::Const(self.constant_attr(a, name, op)?)
            }
            "Relu" => match self.input(s, 0)?.clone() {
                Value::Const(mut t) => {
                    t.data.iter_mut().for_each(|v| *v = v.max(0.0));
                    Value::Const(t)
                }
                Value::Affine(a) => Value::Affine(self.close_layer(a).map_err(|e| s.err(e))?),
            },
            "Softmax" | "LogSoftmax" if !self.classifier => {
                return Err(s.err(
                    "not linear, and a property may constrain its values (only a classifier's final Softmax is dropped)".to_string(),
                ))
            }
            "Softmax" | "LogSoftmax" => {
                let Value::Affine(mut a) = self.input(s, 0)?.clone() else {
                    return Err(s.err("applied to a constant".to_string()));
                };
                let rank = a.shape.len();
                let default_axis = if self.opset >= 13 { -1 } else { 1 };
                let axis = normalize_axis(s.int_attr("axis", default_axis), rank)
                    .ok_or_else(|| s.err("axis out of range".to_string()))?;
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
                    return Err(s.err(format!(
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
            "Div" if self.ints.both_inputs(s.node) => match (self.input(s, 0)?, self.input(s, 1)?) {
                (Value::Const(a), Value::Const(b)) => Value::Const(int_divide(a, b).map_err(|e| s.err(e))?),
                _ => return Err(s.err("integer division of a network value".to_string())),
            },
            "Add" | "Sub" | "Mul" | "Div" => binary(op, self.input(s, 0)?, self.input(s, 1)?).map_err(|e| s.err(e))?,
            "Neg" => binary("Mul", self.input(s, 0)?, &scalar(-1.0)).map_err(|e| s.err(e))?,
            "MatMul" => matmul(self.input(s, 0)?, self.input(s, 1)?).map_err(|e| s.err(e))?,
            "Gemm" => {
                let mut a = self.input(s, 0)?.clone();
                let mut b = self.input(s, 1)?.clone();
                if s.int_attr("transA", 0) != 0 {
                    a = transpose2(a).map_err(|e| s.err(e))?;
                }
                if s.int_attr("transB", 0) != 0 {
                    b = transpose2(b).map_err(|e| s.err(e))?;
                }
                let alpha = s.float_attr("alpha", 1.0) as f64;
                let beta = s.float_attr("beta", 1.0) as f64;
                let mut y = matmul(&a, &b).map_err(|e| s.err(e))?;
                if alpha != 1.0 {
                    y = binary("Mul", &y, &scalar(alpha)).map_err(|e| s.err(e))?;
                }
                if s.node.input.len() > 2 && !s.node.input[2].is_empty() {
                    let mut c = self.input(s, 2)?.clone();
                    if beta != 1.0 {
                        c = binary("Mul", &c, &scalar(beta)).map_err(|e| s.err(e))?;
                    }
                    y = binary("Add", &y, &c).map_err(|e| s.err(e))?;
                }
                y
            }
            _ => {
                return Err(ImportError::Unsupported {
                    path: self.path.to_string(),
                    node: name.clone(),
                    op: op.to_string(),
                })
            }
        };
        Ok(result)
    }
}
