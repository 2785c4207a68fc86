//! The operators that rearrange or index values without computing new ones: `Split`,
//! `Slice`, `Expand`, `ConstantOfShape`, `Flatten`, `Reshape`, `(Un)Squeeze`, `Transpose`,
//! `Shape`, `Gather`, `Concat`. Each maps a value's elements (rows of an affine value) to new
//! positions, so none of them can change a network's function, only its layout.

use crate::network::tensor::{
    broadcast_map, broadcast_shape, concat, extent, flatten_axis, gather, normalize_axis, numel,
    resolve_shape, shape_slice, slice_map, squeezed_shape, transpose_map, Tensor, MAX_VALUES,
};

use super::folder::{Folder, Site, MAX_INPUTS};
use super::value::*;
use super::ImportError;

impl Folder<'_> {
    /// The node at `s` if its operator is one of this module's (`None` otherwise); a `Split`'s
    /// outputs all go to `split_parts` (its first is also the result).
    pub(super) fn shape_op(
        &self,
        s: &Site,
        split_parts: &mut Vec<(String, Value)>,
    ) -> Result<Option<Value>, ImportError> {
        let (op, name) = (s.op, &s.name);
        let result: Value = match op {
            "Split" => {
                let v = self.input(s, 0)?.clone();
                let rank = v.shape().len();
                let axis = normalize_axis(s.int_attr("axis", 0), rank)
                    .ok_or_else(|| s.err("axis out of range".to_string()))?;
                let d = v.shape()[axis];
                let n_out = s.node.output.len().max(1);
                let sizes: Vec<usize> = if s.opt_input(1) {
                    s.ints(self.input(s, 1)?)?
                        .iter()
                        .map(|&x| x.max(0) as usize)
                        .collect()
                } else if let Some(a) = s.attr("split") {
                    a.ints.iter().map(|&x| x.max(0) as usize).collect()
                } else {
                    // Equal parts, the last one smaller (opset 18's num_outputs rule).
                    let part = d.div_ceil(n_out);
                    (0..n_out)
                        .map(|k| part.min(d.saturating_sub(k * part)))
                        .collect()
                };
                if sizes.len() != n_out || sizes.iter().sum::<usize>() != d {
                    return Err(s.err(format!(
                        "split sizes {sizes:?} do not cut a dimension of {d} into {n_out} outputs"
                    )));
                }
                let mut start = 0;
                for (out, &len) in s.node.output.iter().zip(&sizes) {
                    let from = [start as i64];
                    let to = [(start + len) as i64];
                    let ax = [axis as i64];
                    let (map, shape) =
                        slice_map(v.shape(), &from, &to, Some(&ax), None).map_err(|e| s.err(e))?;
                    start += len;
                    split_parts.push((out.clone(), pick(&v, &map, shape)));
                }
                split_parts
                    .first()
                    .map(|p| p.1.clone())
                    .ok_or_else(|| s.err("no output".to_string()))?
            }
            "Slice" => {
                let v = self.input(s, 0)?.clone();
                let (starts, ends, axes, steps) = if self.opset >= 10 {
                    (
                        s.ints(self.input(s, 1)?)?,
                        s.ints(self.input(s, 2)?)?,
                        if s.opt_input(3) {
                            Some(s.ints(self.input(s, 3)?)?)
                        } else {
                            None
                        },
                        if s.opt_input(4) {
                            Some(s.ints(self.input(s, 4)?)?)
                        } else {
                            None
                        },
                    )
                } else {
                    let get = |n: &str| s.attr(n).map(|a| a.ints.clone());
                    (
                        get("starts").unwrap_or_default(),
                        get("ends").unwrap_or_default(),
                        get("axes"),
                        None,
                    )
                };
                let (map, shape) =
                    slice_map(v.shape(), &starts, &ends, axes.as_deref(), steps.as_deref())
                        .map_err(|e| s.err(e))?;
                pick(&v, &map, shape)
            }
            "Expand" => {
                let v = self.input(s, 0)?.clone();
                let target: Vec<usize> = s
                    .ints(self.input(s, 1)?)?
                    .iter()
                    .map(|&x| x.max(0) as usize)
                    .collect();
                let shape = broadcast_shape(v.shape(), &target)
                    .ok_or_else(|| s.err(format!("cannot expand {:?} to {target:?}", v.shape())))?;
                let width = match &v {
                    Value::Affine(a) => a.n.max(1),
                    Value::Const(_) => 1,
                };
                if extent(&shape).saturating_mul(width) > MAX_VALUES {
                    return Err(s.err("the expanded tensor is too large".to_string()));
                }
                let map = broadcast_map(&shape, v.shape());
                pick(&v, &map, shape)
            }
            "ConstantOfShape" => {
                let shape: Vec<usize> = s
                    .ints(self.input(s, 0)?)?
                    .iter()
                    .map(|&x| x.max(0) as usize)
                    .collect();
                if extent(&shape) > MAX_INPUTS * 64 {
                    return Err(s.err("the tensor is too large".to_string()));
                }
                let value = match s.attr("value") {
                    Some(a) => self
                        .constant_attr(a, name, op)?
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
            "Flatten" => {
                let v = self.input(s, 0)?.clone();
                let shape = v.shape().to_vec();
                let axis = flatten_axis(s.int_attr("axis", 1), shape.len())
                    .ok_or_else(|| s.err("axis out of range".to_string()))?;
                let new = vec![numel(&shape[..axis]), numel(&shape[axis..])];
                reshape(v, new)
            }
            "Reshape" => {
                let v = self.input(s, 0)?.clone();
                let Value::Const(target) = self.input(s, 1)? else {
                    return Err(s.err("the target shape depends on the network input".to_string()));
                };
                let allow_zero = s.int_attr("allowzero", 0) != 0;
                let new =
                    resolve_shape(v.shape(), &target.data, allow_zero).map_err(|e| s.err(e))?;
                reshape(v, new)
            }
            "Squeeze" | "Unsqueeze" => {
                let v = self.input(s, 0)?.clone();
                let axes: Vec<i64> = if self.opset >= 13 && s.node.input.len() > 1 {
                    match self.input(s, 1)? {
                        Value::Const(t) => t.data.iter().map(|&x| x as i64).collect(),
                        _ => return Err(s.err("axes depend on the network input".to_string())),
                    }
                } else {
                    s.attr("axes").map(|a| a.ints.clone()).unwrap_or_default()
                };
                let new = squeezed_shape(v.shape(), &axes, op == "Squeeze")
                    .ok_or_else(|| s.err("axis out of range".to_string()))?;
                reshape(v, new)
            }
            "Transpose" => {
                let v = self.input(s, 0)?.clone();
                let perm = s.perm(v.shape().len())?;
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
                let shape = self.input(s, 0)?.shape().to_vec();
                let end = s.attr("end").map(|a| a.i);
                let dims = shape_slice(&shape, s.int_attr("start", 0), end);
                Value::Const(Tensor {
                    shape: vec![dims.len()],
                    data: dims,
                })
            }
            "Gather" => match (self.input(s, 0)?, self.input(s, 1)?) {
                (Value::Const(data), Value::Const(idx)) => {
                    Value::Const(gather(data, idx, s.int_attr("axis", 0)).map_err(|e| s.err(e))?)
                }
                (Value::Affine(a), Value::Const(idx)) => {
                    // Gather the row numbers, then the rows.
                    let rows = Tensor {
                        shape: a.shape.clone(),
                        data: (0..a.rows()).map(|r| r as f64).collect(),
                    };
                    let picked = gather(&rows, idx, s.int_attr("axis", 0)).map_err(|e| s.err(e))?;
                    let map: Vec<usize> = picked.data.iter().map(|&r| r as usize).collect();
                    Value::Affine(a.gather_rows(&map, picked.shape))
                }
                _ => return Err(s.err("the indices depend on the network input".to_string())),
            },
            "Concat" => {
                let values: Vec<&Value> = (0..s.node.input.len())
                    .map(|i| self.input(s, i))
                    .collect::<Result<_, _>>()?;
                if values.iter().all(|v| matches!(v, Value::Const(_))) {
                    let parts: Vec<Tensor> = values
                        .iter()
                        .map(|v| match v {
                            Value::Const(t) => t.clone(),
                            Value::Affine(_) => unreachable!("all constant"),
                        })
                        .collect();
                    Value::Const(concat(&parts, s.int_attr("axis", 0)).map_err(|e| s.err(e))?)
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
                    let idx = concat(&index_parts, s.int_attr("axis", 0)).map_err(|e| s.err(e))?;
                    let map: Vec<usize> = idx.data.iter().map(|&r| r as usize).collect();
                    Value::Affine(stacked.gather_rows(&map, idx.shape))
                }
            }
            _ => return Ok(None),
        };
        Ok(Some(result))
    }
}
