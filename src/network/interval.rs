//! Interval evaluation of an ONNX graph that the importer cannot fold into affine layers (a
//! product or quotient of two network values, such as `Mul(x, x)`): sound bounds on every
//! output over an input box. It decides nothing by itself; a property whose every disjunct an
//! output bound excludes is proved empty, anything else stays open. Each arithmetic result on
//! a non-degenerate interval is widened by one unit in the last place per operation (sums by
//! the classical summation bound), so the bounds hold over the reals.

use std::collections::HashMap;
use std::path::Path;

use prost::Message;

use super::onnx::{declared_inputs, int_divide, read_model, Folder, IntNames, Site, MAX_INPUTS};
use super::proto::{GraphProto, ModelProto, NodeProto};
use super::tensor::{
    broadcast_map, broadcast_shape, concat, flatten_axis, gather, numel, resolve_shape,
    shape_slice, squeezed_shape, transpose_map, Tensor,
};
use super::ImportError;

/// A decoded graph ready for interval evaluation.
#[derive(Debug, Clone)]
pub struct IntervalGraph {
    graph: GraphProto,
    path: String,
    opset: i64,
    /// Graph inputs (name, shape; symbolic dimensions count 1), in order.
    pub inputs: Vec<(String, Vec<usize>)>,
    /// Graph outputs (names), in order.
    pub outputs: Vec<String>,
}

/// An interval tensor (`lo == hi` for constants).
#[derive(Debug, Clone)]
struct It {
    shape: Vec<usize>,
    lo: Vec<f64>,
    hi: Vec<f64>,
}

impl It {
    fn exact(&self) -> bool {
        self.lo == self.hi
    }
    fn tensor(&self) -> Tensor {
        Tensor {
            shape: self.shape.clone(),
            data: self.lo.clone(),
        }
    }
    fn of(t: Tensor) -> It {
        It {
            shape: t.shape,
            lo: t.data.clone(),
            hi: t.data,
        }
    }
    fn pick(&self, map: &[usize], shape: Vec<usize>) -> It {
        It {
            shape,
            lo: map.iter().map(|&i| self.lo[i]).collect(),
            hi: map.iter().map(|&i| self.hi[i]).collect(),
        }
    }
}

/// `[lo, hi]` widened by one unit in the last place on each side.
fn widen(lo: f64, hi: f64) -> (f64, f64) {
    (lo.next_down(), hi.next_up())
}

/// `a op b` for point operands (`op` one of Add, Sub, Mul, Div): the rounded result as a point
/// when the operation was exact (checked by the error-free transformations: TwoSum for sums,
/// a fused multiply-add for products and quotients), else one ulp either side of it, which
/// holds the exact value of one correctly rounded operation.
fn point_op(op: &str, a: f64, b: f64) -> (f64, f64) {
    let (r, exact) = match op {
        "Add" | "Sub" => {
            let b = if op == "Sub" { -b } else { b };
            let s = a + b;
            let bb = s - a;
            let e = (a - (s - bb)) + (b - bb);
            (s, e == 0.0)
        }
        // The residual tests need a normal result: below it the residual itself can round to
        // zero (a product that underflows to 0 would look exact).
        "Mul" => {
            let p = a * b;
            let normal = p.abs() >= f64::MIN_POSITIVE;
            (
                p,
                a == 0.0 || b == 0.0 || (normal && a.mul_add(b, -p) == 0.0),
            )
        }
        _ => {
            let q = a / b;
            let normal = q.abs() >= f64::MIN_POSITIVE;
            (q, a == 0.0 || (normal && q.mul_add(b, -a) == 0.0))
        }
    };
    if exact && r.is_finite() {
        (r, r)
    } else {
        widen(r, r)
    }
}

fn mul_iv(a: (f64, f64), b: (f64, f64)) -> (f64, f64) {
    let p = [a.0 * b.0, a.0 * b.1, a.1 * b.0, a.1 * b.1];
    let lo = p.iter().cloned().fold(f64::INFINITY, f64::min);
    let hi = p.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    (lo, hi)
}

fn square_iv(a: (f64, f64)) -> (f64, f64) {
    let (l2, h2) = (a.0 * a.0, a.1 * a.1);
    if a.0 >= 0.0 {
        (l2, h2)
    } else if a.1 <= 0.0 {
        (h2, l2)
    } else {
        (0.0, l2.max(h2))
    }
}

/// Reads a model for interval evaluation (`.onnx.gz` too).
pub fn load_interval_graph(path: impl AsRef<Path>) -> Result<IntervalGraph, ImportError> {
    let path = path.as_ref();
    let name = path.display().to_string();
    let bytes = read_model(path)?;
    let model = ModelProto::decode(bytes.as_slice()).map_err(|source| ImportError::Decode {
        path: name.clone(),
        source,
    })?;
    let model_err = |problem: String| ImportError::Model {
        path: name.clone(),
        problem,
    };
    let graph = model
        .graph
        .ok_or_else(|| model_err("no graph in the file".to_string()))?;
    let opset = model
        .opset_import
        .iter()
        .filter(|o| o.domain.is_empty() || o.domain == "ai.onnx")
        .map(|o| o.version)
        .max()
        .unwrap_or(13);
    let inputs = declared_inputs(&name, &graph)?
        .into_iter()
        .map(|(name, shape, _)| (name, shape))
        .collect();
    let outputs = graph.output.iter().map(|o| o.name.clone()).collect();
    Ok(IntervalGraph {
        graph,
        path: name,
        opset,
        inputs,
        outputs,
    })
}

impl IntervalGraph {
    /// Bounds of every output element (all outputs concatenated) over the box `[lo, hi]` of
    /// all inputs concatenated.
    pub fn eval(&self, lo: &[f64], hi: &[f64]) -> Result<(Vec<f64>, Vec<f64>), ImportError> {
        let folder = Folder::scratch(&self.path, self.opset);
        let mut vals: HashMap<String, It> = HashMap::new();
        for t in &self.graph.initializer {
            vals.insert(
                t.name.clone(),
                It::of(folder.tensor(t, "initializer", &t.name)?),
            );
        }
        let mut off = 0;
        for (name, shape) in &self.inputs {
            let n = numel(shape);
            if off + n > lo.len() || lo.len() != hi.len() {
                return Err(ImportError::Model {
                    path: self.path.clone(),
                    problem: "the box does not match the inputs".to_string(),
                });
            }
            vals.insert(
                name.clone(),
                It {
                    shape: shape.clone(),
                    lo: lo[off..off + n].to_vec(),
                    hi: hi[off..off + n].to_vec(),
                },
            );
            off += n;
        }
        let mut ints = IntNames::from_initializers(&self.graph.initializer);
        for node in &self.graph.node {
            let v = self.node(&folder, &vals, &ints, node)?;
            ints.observe(node);
            if let Some(o) = node.output.first() {
                vals.insert(o.clone(), v);
            }
        }
        let (mut olo, mut ohi) = (Vec::new(), Vec::new());
        for o in &self.outputs {
            let v = vals.get(o).ok_or_else(|| ImportError::Model {
                path: self.path.clone(),
                problem: format!("the output '{o}' is not produced by any node"),
            })?;
            olo.extend(&v.lo);
            ohi.extend(&v.hi);
        }
        Ok((olo, ohi))
    }

    fn node(
        &self,
        folder: &Folder,
        vals: &HashMap<String, It>,
        ints: &IntNames,
        node: &NodeProto,
    ) -> Result<It, ImportError> {
        let site = Site::new(node, &self.path);
        let (name, op) = (&site.name, site.op);
        let err = |problem: String| site.err(problem);
        let input = |i: usize| -> Result<&It, ImportError> {
            let key = node
                .input
                .get(i)
                .filter(|s| !s.is_empty())
                .ok_or_else(|| err(format!("missing input #{i}")))?;
            vals.get(key)
                .ok_or_else(|| err(format!("input '{key}' is not produced by any earlier node")))
        };
        let reshaped = |v: &It, shape: Vec<usize>| It {
            shape,
            lo: v.lo.clone(),
            hi: v.hi.clone(),
        };
        Ok(match op {
            "Identity" | "Dropout" => input(0)?.clone(),
            "Constant" => {
                let a = node
                    .attribute
                    .first()
                    .ok_or_else(|| err("no value attribute".to_string()))?;
                It::of(folder.constant_attr(a, name, op)?)
            }
            "Relu" => {
                let v = input(0)?;
                It {
                    shape: v.shape.clone(),
                    lo: v.lo.iter().map(|x| x.max(0.0)).collect(),
                    hi: v.hi.iter().map(|x| x.max(0.0)).collect(),
                }
            }
            "Neg" => {
                let v = input(0)?;
                It {
                    shape: v.shape.clone(),
                    lo: v.hi.iter().map(|x| -x).collect(),
                    hi: v.lo.iter().map(|x| -x).collect(),
                }
            }
            "Div" if ints.both_inputs(node) => {
                // Shape arithmetic on integers: exact, truncated toward zero.
                let (x, y) = (input(0)?, input(1)?);
                if !x.exact() || !y.exact() {
                    return Err(err("integer division of a network value".to_string()));
                }
                It::of(int_divide(&x.tensor(), &y.tensor()).map_err(err)?)
            }
            "Add" | "Sub" | "Mul" | "Div" => {
                let (x, y) = (input(0)?, input(1)?);
                let same = node.input[0] == node.input[1];
                let shape = broadcast_shape(&x.shape, &y.shape).ok_or_else(|| {
                    err(format!(
                        "shapes {:?} and {:?} do not broadcast",
                        x.shape, y.shape
                    ))
                })?;
                if numel(&shape) > MAX_INPUTS * 64 {
                    return Err(err("the result is too large".to_string()));
                }
                let (mx, my) = (
                    broadcast_map(&shape, &x.shape),
                    broadcast_map(&shape, &y.shape),
                );
                let exact = x.exact() && y.exact();
                let (mut lo, mut hi) = (Vec::new(), Vec::new());
                for (&i, &j) in mx.iter().zip(&my) {
                    let (a, b) = ((x.lo[i], x.hi[i]), (y.lo[j], y.hi[j]));
                    if op == "Div" && b.0 <= 0.0 && b.1 >= 0.0 {
                        return Err(err("the divisor's range contains 0".to_string()));
                    }
                    let r = if exact {
                        // Point operands: one correctly rounded operation, kept as a point only
                        // when it was exact (shape arithmetic stays exact); otherwise the true
                        // value lies within one ulp of it.
                        point_op(op, a.0, b.0)
                    } else {
                        let r = match op {
                            "Add" => (a.0 + b.0, a.1 + b.1),
                            "Sub" => (a.0 - b.1, a.1 - b.0),
                            "Mul" if same && i == j => square_iv(a),
                            "Mul" => mul_iv(a, b),
                            // The reciprocal rounded outward first: the product's rounding is
                            // then covered by the final widening.
                            _ => mul_iv(a, widen(1.0 / b.1, 1.0 / b.0)),
                        };
                        widen(r.0, r.1)
                    };
                    lo.push(r.0);
                    hi.push(r.1);
                }
                It { shape, lo, hi }
            }
            "MatMul" | "Gemm" => {
                let (mut a, mut b) = (input(0)?.clone(), input(1)?.clone());
                let t2 = |v: &It| -> Result<It, ImportError> {
                    if v.shape.len() != 2 {
                        return Err(err("a transposed operand must be a matrix".to_string()));
                    }
                    let (map, shape) = transpose_map(&v.shape, &[1, 0]);
                    Ok(v.pick(&map, shape))
                };
                if op == "Gemm" && site.int_attr("transA", 0) != 0 {
                    a = t2(&a)?;
                }
                if op == "Gemm" && site.int_attr("transB", 0) != 0 {
                    b = t2(&b)?;
                }
                let (m, k) = match a.shape.as_slice() {
                    [k] => (1, *k),
                    [m, k] => (*m, *k),
                    _ => {
                        return Err(err(format!(
                            "operand of shape {:?} (only vectors and matrices)",
                            a.shape
                        )))
                    }
                };
                let (k2, n) = match b.shape.as_slice() {
                    [k2] => (*k2, 1),
                    [k2, n] => (*k2, *n),
                    _ => {
                        return Err(err(format!(
                            "operand of shape {:?} (only vectors and matrices)",
                            b.shape
                        )))
                    }
                };
                if k != k2 {
                    return Err(err(format!(
                        "shapes {:?} and {:?} do not multiply",
                        a.shape, b.shape
                    )));
                }
                // k counted as at least 1: an empty inner dimension still leaves m × n outputs.
                if m.saturating_mul(n).saturating_mul(k.max(1)) > 1 << 28 {
                    return Err(err("the product is too large".to_string()));
                }
                let alpha = site.float_attr("alpha", 1.0) as f64;
                let (mut lo, mut hi) = (Vec::with_capacity(m * n), Vec::with_capacity(m * n));
                for r in 0..m {
                    for c in 0..n {
                        let (mut l, mut h, mut abs) = (0.0, 0.0, 0.0);
                        for t in 0..k {
                            let p = mul_iv(
                                (a.lo[r * k + t], a.hi[r * k + t]),
                                (b.lo[t * n + c], b.hi[t * n + c]),
                            );
                            l += p.0;
                            h += p.1;
                            abs += p.0.abs().max(p.1.abs());
                        }
                        let s = (k as f64 + 2.0) * f64::EPSILON * abs;
                        let (l, h) = mul_iv((l - s, h + s), (alpha, alpha));
                        lo.push(l.next_down());
                        hi.push(h.next_up());
                    }
                }
                let shape = match (a.shape.len(), b.shape.len()) {
                    (1, 1) => vec![],
                    (1, _) => vec![n],
                    (_, 1) => vec![m],
                    _ => vec![m, n],
                };
                let mut y = It { shape, lo, hi };
                if op == "Gemm" && node.input.len() > 2 && !node.input[2].is_empty() {
                    let c = input(2)?;
                    let beta = site.float_attr("beta", 1.0) as f64;
                    let shape = broadcast_shape(&y.shape, &c.shape)
                        .ok_or_else(|| err("C does not broadcast".to_string()))?;
                    let (my, mc) = (
                        broadcast_map(&shape, &y.shape),
                        broadcast_map(&shape, &c.shape),
                    );
                    let (mut lo, mut hi) = (Vec::new(), Vec::new());
                    for (&i, &j) in my.iter().zip(&mc) {
                        let cb = mul_iv((c.lo[j], c.hi[j]), (beta, beta));
                        let r = widen(y.lo[i] + cb.0, y.hi[i] + cb.1);
                        lo.push(r.0.next_down());
                        hi.push(r.1.next_up());
                    }
                    y = It { shape, lo, hi };
                }
                y
            }
            "Flatten" => {
                let v = input(0)?;
                let axis = flatten_axis(site.int_attr("axis", 1), v.shape.len())
                    .ok_or_else(|| err("axis out of range".to_string()))?;
                reshaped(v, vec![numel(&v.shape[..axis]), numel(&v.shape[axis..])])
            }
            "Reshape" => {
                let (v, t) = (input(0)?, input(1)?);
                if !t.exact() {
                    return Err(err(
                        "the target shape depends on the network input".to_string()
                    ));
                }
                let s = resolve_shape(&v.shape, &t.lo, site.int_attr("allowzero", 0) != 0)
                    .map_err(err)?;
                reshaped(v, s)
            }
            "Squeeze" | "Unsqueeze" => {
                let v = input(0)?;
                let axes: Vec<i64> = if self.opset >= 13 && node.input.len() > 1 {
                    input(1)?.lo.iter().map(|&x| x as i64).collect()
                } else {
                    site.attr("axes")
                        .map(|a| a.ints.clone())
                        .unwrap_or_default()
                };
                let new = squeezed_shape(&v.shape, &axes, op == "Squeeze")
                    .ok_or_else(|| err("axis out of range".to_string()))?;
                reshaped(v, new)
            }
            "Transpose" => {
                let v = input(0)?;
                let perm = site.perm(v.shape.len())?;
                let (map, shape) = transpose_map(&v.shape, &perm);
                v.pick(&map, shape)
            }
            "Shape" => {
                let v = input(0)?;
                // The same dimensions as the folder takes (opset 15's start/end).
                let end = site.attr("end").map(|a| a.i);
                let dims = shape_slice(&v.shape, site.int_attr("start", 0), end);
                It::of(Tensor {
                    shape: vec![dims.len()],
                    data: dims,
                })
            }
            "Gather" => {
                let (v, idx) = (input(0)?, input(1)?);
                if !idx.exact() {
                    return Err(err("the indices depend on the network input".to_string()));
                }
                let rows = Tensor {
                    shape: v.shape.clone(),
                    data: (0..v.lo.len()).map(|r| r as f64).collect(),
                };
                let picked = gather(&rows, &idx.tensor(), site.int_attr("axis", 0)).map_err(err)?;
                let map: Vec<usize> = picked.data.iter().map(|&r| r as usize).collect();
                v.pick(&map, picked.shape)
            }
            "Concat" => {
                let vs: Vec<&It> = (0..node.input.len()).map(input).collect::<Result<_, _>>()?;
                let mut all = It {
                    shape: vec![0],
                    lo: Vec::new(),
                    hi: Vec::new(),
                };
                let mut parts = Vec::new();
                for v in &vs {
                    let start = all.lo.len();
                    all.lo.extend(&v.lo);
                    all.hi.extend(&v.hi);
                    parts.push(Tensor {
                        shape: v.shape.clone(),
                        data: (start..all.lo.len()).map(|r| r as f64).collect(),
                    });
                }
                let idx = concat(&parts, site.int_attr("axis", 0)).map_err(err)?;
                let map: Vec<usize> = idx.data.iter().map(|&r| r as usize).collect();
                all.pick(&map, idx.shape)
            }
            _ => {
                return Err(ImportError::Unsupported {
                    path: self.path.clone(),
                    node: name.clone(),
                    op: op.to_string(),
                })
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn point_operations_stay_points_only_when_exact() {
        // Shape arithmetic: exact, kept as points.
        assert_eq!(point_op("Mul", 28.0, 28.0), (784.0, 784.0));
        assert_eq!(point_op("Div", 784.0, 28.0), (28.0, 28.0));
        assert_eq!(point_op("Sub", 10.0, 3.0), (7.0, 7.0));
        // Rounded: an interval around the rounded value, one ulp each side.
        let (lo, hi) = point_op("Add", 0.1, 0.2);
        assert!(lo < 0.1 + 0.2 && 0.1 + 0.2 < hi, "{lo} {hi}");
        let (lo, hi) = point_op("Div", 1.0, 3.0);
        assert!(lo < hi && 3.0 * lo < 1.0 + 1e-15 && 3.0 * hi > 1.0 - 1e-15);
        // A product that underflows to zero is not exact.
        let (lo, hi) = point_op("Mul", 1e-200, 1e-200);
        assert!(lo < 0.0 || hi > 0.0, "{lo} {hi}");
        assert_eq!(point_op("Mul", 0.0, 5.0), (0.0, 0.0));
    }

    #[test]
    fn squares_and_products_are_bounded_soundly() {
        assert_eq!(square_iv((-500.0, 500.0)), (0.0, 250000.0));
        assert_eq!(square_iv((-3.0, -2.0)), (4.0, 9.0));
        assert_eq!(mul_iv((-1.0, 2.0), (3.0, 4.0)), (-4.0, 8.0));
        let (l, h) = widen(1.0, 1.0);
        assert!(l < 1.0 && h > 1.0);
    }
}
