//! The values an ONNX graph is folded into: constants, and affine functions of the current
//! basis; with the operators that act on them whatever their kind (element picks, reductions,
//! reshapes, transposes, broadcast arithmetic, matrix products).

use crate::network::tensor::{
    broadcast_map, broadcast_shape, extent, transpose_map, Tensor, MAX_VALUES,
};

/// An affine function of the current basis, laid out as a tensor of `shape`:
/// element `r` (C order) is `a[r*n..(r+1)*n] · basis + b[r]`.
#[derive(Debug, Clone)]
pub(super) struct Affine {
    pub(super) shape: Vec<usize>,
    pub(super) basis: usize,
    pub(super) n: usize,
    pub(super) a: Vec<f64>,
    pub(super) b: Vec<f64>,
    /// Set once an order-preserving output op (Softmax, LogSoftmax) has been dropped: nothing
    /// but the graph output may consume it.
    pub(super) after_softmax: Option<String>,
}

impl Affine {
    pub(super) fn rows(&self) -> usize {
        self.b.len()
    }
    pub(super) fn row(&self, r: usize) -> &[f64] {
        &self.a[r * self.n..(r + 1) * self.n]
    }
    /// Same rows in another order/count: element `i` of the result is element `src[i]`.
    pub(super) fn gather_rows(&self, src: &[usize], shape: Vec<usize>) -> Affine {
        let mut a = Vec::with_capacity(src.len() * self.n);
        for &s in src {
            a.extend_from_slice(self.row(s));
        }
        Affine {
            shape,
            basis: self.basis,
            n: self.n,
            a,
            b: src.iter().map(|&s| self.b[s]).collect(),
            after_softmax: None,
        }
    }
    pub(super) fn reshaped(mut self, shape: Vec<usize>) -> Affine {
        self.shape = shape;
        self
    }
}

#[derive(Debug, Clone)]
pub(super) enum Value {
    Const(Tensor),
    Affine(Affine),
}

impl Value {
    /// How many f64 the value holds (an affine value: rows × basis size, plus its offsets).
    pub(super) fn size(&self) -> usize {
        match self {
            Value::Const(t) => t.data.len(),
            Value::Affine(a) => a.a.len() + a.b.len(),
        }
    }

    pub(super) fn shape(&self) -> &[usize] {
        match self {
            Value::Const(t) => &t.shape,
            Value::Affine(a) => &a.shape,
        }
    }
}

/// Elements `map` of `v` (rows of a network value), laid out as `shape`.
pub(super) fn pick(v: &Value, map: &[usize], shape: Vec<usize>) -> Value {
    match v {
        Value::Const(t) => Value::Const(Tensor {
            shape,
            data: map.iter().map(|&i| t.data[i]).collect(),
        }),
        Value::Affine(a) => Value::Affine(a.gather_rows(map, shape)),
    }
}

/// Sums of the element groups `groups` of `v`, each times `scale`, laid out as `shape`.
pub(super) fn reduce(v: &Value, groups: &[Vec<usize>], scale: f64, shape: Vec<usize>) -> Value {
    match v {
        Value::Const(t) => Value::Const(Tensor {
            shape,
            data: groups
                .iter()
                .map(|g| g.iter().map(|&i| t.data[i]).sum::<f64>() * scale)
                .collect(),
        }),
        Value::Affine(a) => {
            let mut out = Affine {
                shape,
                basis: a.basis,
                n: a.n,
                a: vec![0.0; groups.len() * a.n],
                b: vec![0.0; groups.len()],
                after_softmax: None,
            };
            for (r, g) in groups.iter().enumerate() {
                for &i in g {
                    for (o, &w) in out.a[r * a.n..(r + 1) * a.n].iter_mut().zip(a.row(i)) {
                        *o += w;
                    }
                    out.b[r] += a.b[i];
                }
                out.a[r * a.n..(r + 1) * a.n]
                    .iter_mut()
                    .for_each(|w| *w *= scale);
                out.b[r] *= scale;
            }
            Value::Affine(out)
        }
    }
}

pub(super) fn scalar_tensor(v: f64) -> Tensor {
    Tensor {
        shape: vec![],
        data: vec![v],
    }
}

pub(super) fn scalar(v: f64) -> Value {
    Value::Const(scalar_tensor(v))
}

pub(super) fn reshape(v: Value, shape: Vec<usize>) -> Value {
    match v {
        Value::Const(mut t) => {
            t.shape = shape;
            Value::Const(t)
        }
        Value::Affine(a) => Value::Affine(a.reshaped(shape)),
    }
}

pub(super) fn transpose2(v: Value) -> Result<Value, String> {
    let shape = v.shape().to_vec();
    if shape.len() != 2 {
        return Err(format!("expected a matrix, got shape {shape:?}"));
    }
    let (map, new) = transpose_map(&shape, &[1, 0]);
    Ok(match v {
        Value::Const(t) => Value::Const(Tensor {
            shape: new,
            data: map.iter().map(|&i| t.data[i]).collect(),
        }),
        Value::Affine(a) => Value::Affine(a.gather_rows(&map, new)),
    })
}

/// Element-wise Add/Sub/Mul/Div with numpy broadcasting, where at most one side depends
/// linearly on the input (Mul and Div need the other side constant).
pub(super) fn binary(op: &str, x: &Value, y: &Value) -> Result<Value, String> {
    let shape = broadcast_shape(x.shape(), y.shape()).ok_or_else(|| {
        format!(
            "shapes {:?} and {:?} do not broadcast",
            x.shape(),
            y.shape()
        )
    })?;
    let width = match (x, y) {
        (Value::Affine(a), _) | (_, Value::Affine(a)) => a.n.max(1),
        _ => 1,
    };
    if extent(&shape).saturating_mul(width) > MAX_VALUES {
        return Err(format!(
            "broadcasting {:?} with {:?} gives more than {MAX_VALUES} values",
            x.shape(),
            y.shape()
        ));
    }
    let f = |a: f64, b: f64| match op {
        "Add" => a + b,
        "Sub" => a - b,
        "Mul" => a * b,
        _ => a / b,
    };
    let mx = broadcast_map(&shape, x.shape());
    let my = broadcast_map(&shape, y.shape());
    match (x, y) {
        (Value::Const(a), Value::Const(b)) => Ok(Value::Const(Tensor {
            data: mx
                .iter()
                .zip(&my)
                .map(|(&i, &j)| f(a.data[i], b.data[j]))
                .collect(),
            shape,
        })),
        (Value::Affine(a), Value::Const(c)) | (Value::Const(c), Value::Affine(a)) => {
            let affine_left = matches!(x, Value::Affine(_));
            let (ma, mc) = if affine_left { (&mx, &my) } else { (&my, &mx) };
            let mut out = a.gather_rows(ma, shape);
            for (r, &ci) in mc.iter().enumerate() {
                let cv = c.data[ci];
                let row = &mut out.a[r * out.n..(r + 1) * out.n];
                match (op, affine_left) {
                    ("Add", _) => out.b[r] += cv,
                    ("Sub", true) => out.b[r] -= cv,
                    ("Sub", false) => {
                        row.iter_mut().for_each(|v| *v = -*v);
                        out.b[r] = cv - out.b[r];
                    }
                    ("Mul", _) => {
                        row.iter_mut().for_each(|v| *v *= cv);
                        out.b[r] *= cv;
                    }
                    ("Div", true) => {
                        if cv == 0.0 || !cv.is_finite() {
                            return Err(format!("division by the constant {cv}"));
                        }
                        row.iter_mut().for_each(|v| *v /= cv);
                        out.b[r] /= cv;
                    }
                    _ => return Err("division by a network value is not linear".to_string()),
                }
            }
            Ok(Value::Affine(out))
        }
        (Value::Affine(a), Value::Affine(b)) => {
            if op != "Add" && op != "Sub" {
                return Err(format!("{op} of two network values is not linear"));
            }
            let mut out = a.gather_rows(&mx, shape);
            let sign = if op == "Add" { 1.0 } else { -1.0 };
            for (r, &j) in my.iter().enumerate() {
                let src = b.row(j);
                let row = &mut out.a[r * out.n..(r + 1) * out.n];
                row.iter_mut().zip(src).for_each(|(v, s)| *v += sign * s);
                out.b[r] += sign * b.b[j];
            }
            Ok(Value::Affine(out))
        }
    }
}

/// Matrix product where exactly one side is a constant matrix (or vector).
pub(super) fn matmul(x: &Value, y: &Value) -> Result<Value, String> {
    match (x, y) {
        (Value::Affine(a), Value::Const(w)) => {
            // a: [..., m, k] (or [k]); w: [k, n] (or [k]).
            let (wk, wn, vec_w) = match w.shape.as_slice() {
                [k, n] => (*k, *n, false),
                [k] => (*k, 1, true),
                s => return Err(format!("constant operand of shape {s:?} is not a matrix")),
            };
            let vec_a = a.shape.len() == 1;
            let k = *a.shape.last().ok_or("scalar operand")?;
            if k == 0 {
                return Err(format!(
                    "cannot multiply an empty tensor of shape {:?}",
                    a.shape
                ));
            }
            if k != wk {
                return Err(format!(
                    "cannot multiply shapes {:?} and {:?}",
                    a.shape, w.shape
                ));
            }
            let lead = a.rows() / k;
            let mut shape: Vec<usize> = a.shape[..a.shape.len() - 1].to_vec();
            if !vec_w {
                shape.push(wn);
            }
            if vec_a && vec_w {
                shape = vec![];
            }
            let n = a.n;
            let mut out_a = vec![0.0; lead * wn * n];
            let mut out_b = vec![0.0; lead * wn];
            for l in 0..lead {
                for t in 0..k {
                    let r = l * k + t;
                    let row = a.row(r);
                    let nz: Vec<(usize, f64)> = row
                        .iter()
                        .enumerate()
                        .filter(|(_, &v)| v != 0.0)
                        .map(|(i, &v)| (i, v))
                        .collect();
                    for j in 0..wn {
                        let c = w.data[t * wn + j];
                        if c == 0.0 {
                            continue;
                        }
                        let o = l * wn + j;
                        let dst = &mut out_a[o * n..(o + 1) * n];
                        for &(i, v) in &nz {
                            dst[i] += c * v;
                        }
                        out_b[o] += c * a.b[r];
                    }
                }
            }
            Ok(Value::Affine(Affine {
                shape,
                basis: a.basis,
                n,
                a: out_a,
                b: out_b,
                after_softmax: None,
            }))
        }
        (Value::Const(w), Value::Affine(a)) => {
            // w: [m, k]; a: [k, p] (or [k]).
            let [m, wk] = w.shape.as_slice() else {
                return Err(format!(
                    "constant operand of shape {:?} is not a matrix",
                    w.shape
                ));
            };
            let (k, p, vec_a) = match a.shape.as_slice() {
                [k, p] => (*k, *p, false),
                [k] => (*k, 1, true),
                s => return Err(format!("network operand of shape {s:?} is not a matrix")),
            };
            if k != *wk {
                return Err(format!(
                    "cannot multiply shapes {:?} and {:?}",
                    w.shape, a.shape
                ));
            }
            let n = a.n;
            let mut out_a = vec![0.0; m * p * n];
            let mut out_b = vec![0.0; m * p];
            for i in 0..*m {
                for t in 0..k {
                    let c = w.data[i * k + t];
                    if c == 0.0 {
                        continue;
                    }
                    for j in 0..p {
                        let r = t * p + j;
                        let o = i * p + j;
                        let src = a.row(r);
                        let dst = &mut out_a[o * n..(o + 1) * n];
                        dst.iter_mut().zip(src).for_each(|(d, s)| *d += c * s);
                        out_b[o] += c * a.b[r];
                    }
                }
            }
            Ok(Value::Affine(Affine {
                shape: if vec_a { vec![*m] } else { vec![*m, p] },
                basis: a.basis,
                n,
                a: out_a,
                b: out_b,
                after_softmax: None,
            }))
        }
        (Value::Const(_), Value::Const(_)) => {
            Err("product of two constants is not supported".to_string())
        }
        (Value::Affine(_), Value::Affine(_)) => {
            Err("product of two network values is not linear".to_string())
        }
    }
}
