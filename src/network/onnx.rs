//! ONNX import: folds a graph of linear operators and ReLUs into a [`Network`].
//!
//! The graph is evaluated *symbolically*: every tensor is either a constant (initializers,
//! shapes, `Constant` nodes: folded eagerly) or an affine function of the current *basis*, which
//! is the network input until the first ReLU and the output of the latest ReLU after that.
//! Linear operators (Gemm, MatMul, Add, Sub, Mul/Div by constants, reshapes, transposes…) just
//! transform the affine map; a ReLU closes the map into a [`Layer`] and starts a new basis. So any
//! exporter's way of writing an MLP (tf2onnx, PyTorch, Keras, hand-built) ends up in the same
//! canonical form, and an operator we cannot fold is reported with its node name and op type.

use std::collections::HashMap;
use std::path::Path;

use prost::Message;

use super::proto::{
    attribute_type, data_type, AttributeProto, GraphProto, ModelProto, NodeProto, TensorProto,
};
use super::tensor::{
    broadcast_map, broadcast_shape, concat, gather, normalize_axis, numel, reduce_groups,
    resolve_shape, slice_map, transpose_map, Tensor,
};
use super::{Layer, Network};

/// Why an ONNX file could not be turned into a network.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The file could not be read.
    #[error("cannot read model file '{path}': {source}")]
    Io {
        /// The file.
        path: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The bytes are not an ONNX protobuf message (or are truncated).
    #[error("'{path}' is not a valid ONNX model (protobuf decoding failed: {source})")]
    Decode {
        /// The file.
        path: String,
        /// The underlying error.
        source: prost::DecodeError,
    },
    /// The model is structurally unusable (no graph, no input, several outputs…).
    #[error("'{path}': {problem}")]
    Model {
        /// The file.
        path: String,
        /// What is wrong.
        problem: String,
    },
    /// An operator type we do not fold.
    #[error("'{path}': unsupported operator '{op}' at node '{node}' (a verifiable network here is affine layers with ReLU between them)")]
    Unsupported {
        /// The file.
        path: String,
        /// Node name (or its first output if unnamed).
        node: String,
        /// ONNX op type.
        op: String,
    },
    /// A supported operator used in a way we cannot fold.
    #[error("'{path}': node '{node}' ({op}): {problem}")]
    Node {
        /// The file.
        path: String,
        /// Node name (or its first output if unnamed).
        node: String,
        /// ONNX op type.
        op: String,
        /// What is wrong.
        problem: String,
    },
}

/// Largest model accepted (also the cap on a `.onnx.gz` file's decompressed size).
const MAX_MODEL_BYTES: u64 = 4 << 30;

/// Reads a model file (`.gz`: decompressed on the fly).
pub(super) fn read_model(path: &Path) -> Result<Vec<u8>, ImportError> {
    use std::io::Read;
    let name = path.display().to_string();
    let io = |source| ImportError::Io {
        path: name.clone(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let mut bytes = Vec::new();
    if name.ends_with(".gz") {
        flate2::read::MultiGzDecoder::new(file)
            .take(MAX_MODEL_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(io)?;
    } else {
        file.take(MAX_MODEL_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(io)?;
    }
    if bytes.len() as u64 > MAX_MODEL_BYTES {
        return Err(ImportError::Model {
            path: name,
            problem: format!("the model is larger than {MAX_MODEL_BYTES} bytes"),
        });
    }
    Ok(bytes)
}

/// Reads an ONNX file (`.onnx.gz` too) and folds it into a classifier [`Network`].
pub fn load_onnx(path: impl AsRef<Path>) -> Result<Network, ImportError> {
    let path = path.as_ref();
    parse_onnx(&read_model(path)?, &path.display().to_string())
}

/// A model folded for general properties: the network over the concatenation of all its
/// inputs (in graph order), computing the concatenation of all its outputs.
#[derive(Debug, Clone)]
pub struct Model {
    /// The folded network.
    pub network: Network,
    /// Graph inputs (name, shape; a symbolic dimension counts 1), in order.
    pub inputs: Vec<(String, Vec<usize>)>,
    /// Graph outputs (name, shape), in order.
    pub outputs: Vec<(String, Vec<usize>)>,
    /// Per output: whether it is a constant of the graph (e.g. a `Shape`), independent of the
    /// inputs — its value is then exact whatever its element type.
    pub constant_outputs: Vec<bool>,
    /// The opset of the default domain.
    pub opset: i64,
}

/// Reads an ONNX file (`.onnx.gz` too) for general properties: several inputs and outputs,
/// any number of outputs, constant outputs; nothing dropped (a Softmax is refused, since a
/// property may constrain its values).
pub fn load_model(path: impl AsRef<Path>) -> Result<Model, ImportError> {
    let path = path.as_ref();
    parse_model(&read_model(path)?, &path.display().to_string())
}

/// As [`load_model`], from bytes; `name` is used in error messages.
pub fn parse_model(bytes: &[u8], name: &str) -> Result<Model, ImportError> {
    fold(bytes, name, false)
}

/// Folds ONNX bytes into a classifier [`Network`]; `name` is used in error messages.
pub fn parse_onnx(bytes: &[u8], name: &str) -> Result<Network, ImportError> {
    Ok(fold(bytes, name, true)?.network)
}

/// The folding shared by both entry points; `classifier`: exactly one input and one output
/// (the logits), a final Softmax dropped, at least two outputs.
fn fold(bytes: &[u8], name: &str, classifier: bool) -> Result<Model, ImportError> {
    let model = ModelProto::decode(bytes).map_err(|source| ImportError::Decode {
        path: name.to_string(),
        source,
    })?;
    let model_err = |problem: String| ImportError::Model {
        path: name.to_string(),
        problem,
    };
    let graph = model
        .graph
        .as_ref()
        .ok_or_else(|| model_err("no graph in the file (is this an ONNX model?)".to_string()))?;
    let opset = model
        .opset_import
        .iter()
        .filter(|o| o.domain.is_empty() || o.domain == "ai.onnx")
        .map(|o| o.version)
        .max()
        .unwrap_or(13);
    let mut folder = Folder {
        path: name,
        values: HashMap::new(),
        layers: Vec::new(),
        basis: 0,
        basis_dim: 0,
        notes: Vec::new(),
        opset,
        classifier,
    };
    let inputs = folder.declare_input(graph)?;
    let input_shape = match inputs.as_slice() {
        [(_, shape)] => shape.clone(),
        many => vec![many.iter().map(|(_, s)| numel(s)).sum()],
    };
    for node in &graph.node {
        folder.node(node)?;
    }
    let names: Vec<_> = graph.output.iter().map(|o| o.name.as_str()).collect();
    if classifier && names.len() != 1 {
        return Err(model_err(format!(
            "the graph has {} outputs ({}); a classifier here has exactly one (the logits)",
            names.len(),
            names.join(", ")
        )));
    }
    if names.is_empty() {
        return Err(model_err("the graph has no outputs".to_string()));
    }
    let mut parts: Vec<Affine> = Vec::new();
    let mut outputs = Vec::new();
    let mut constant_outputs = Vec::new();
    for output in &names {
        constant_outputs.push(matches!(folder.values.get(*output), Some(Value::Const(_))));
        let out = match folder.values.get(*output) {
            Some(Value::Affine(a)) => a.clone(),
            Some(Value::Const(t)) if !classifier => Affine {
                shape: t.shape.clone(),
                basis: folder.basis,
                n: folder.basis_dim,
                a: vec![0.0; t.data.len() * folder.basis_dim],
                b: t.data.clone(),
                after_softmax: None,
            },
            Some(Value::Const(_)) => {
                return Err(model_err(format!(
                    "the output '{output}' does not depend on the input"
                )))
            }
            None => {
                return Err(model_err(format!(
                    "the output '{output}' is not produced by any node"
                )))
            }
        };
        if out.basis != folder.basis {
            return Err(model_err(format!(
                "the output '{output}' bypasses the last ReLU (skip connections are not supported)"
            )));
        }
        outputs.push((output.to_string(), out.shape.clone()));
        parts.push(out);
    }
    let mut out = parts.remove(0);
    for p in parts {
        out.a.extend(p.a);
        out.b.extend(p.b);
    }
    out.shape = vec![out.b.len()];
    if out.b.is_empty() {
        return Err(model_err("the outputs are empty tensors".to_string()));
    }
    let numel = out.rows();
    let is_identity = out.n == numel
        && out.b.iter().all(|&v| v == 0.0)
        && (0..numel).all(|r| (0..out.n).all(|c| out.row(r)[c] == if r == c { 1.0 } else { 0.0 }));
    if !is_identity || folder.layers.is_empty() {
        folder.layers.push(Layer {
            n_in: out.n,
            n_out: numel,
            weights: out.a,
            bias: out.b,
            relu: false,
        });
    }
    let notes = folder.notes;
    let network = if classifier {
        Network::new(folder.layers, input_shape)
    } else {
        Network::from_layers(folder.layers, input_shape)
    }
    .map_err(|e| model_err(format!("folded network is inconsistent: {e}")))?;
    Ok(Model {
        network: network.with_notes(notes),
        inputs,
        outputs,
        constant_outputs,
        opset,
    })
}

/// An affine function of the current basis, laid out as a tensor of `shape`:
/// element `r` (C order) is `a[r*n..(r+1)*n] · basis + b[r]`.
#[derive(Debug, Clone)]
struct Affine {
    shape: Vec<usize>,
    basis: usize,
    n: usize,
    a: Vec<f64>,
    b: Vec<f64>,
    /// Set once an order-preserving output op (Softmax, LogSoftmax) has been dropped: nothing
    /// but the graph output may consume it.
    after_softmax: Option<String>,
}

impl Affine {
    fn rows(&self) -> usize {
        self.b.len()
    }
    fn row(&self, r: usize) -> &[f64] {
        &self.a[r * self.n..(r + 1) * self.n]
    }
    /// Same rows in another order/count: element `i` of the result is element `src[i]`.
    fn gather_rows(&self, src: &[usize], shape: Vec<usize>) -> Affine {
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
    fn reshaped(mut self, shape: Vec<usize>) -> Affine {
        self.shape = shape;
        self
    }
}

#[derive(Debug, Clone)]
enum Value {
    Const(Tensor),
    Affine(Affine),
}

impl Value {
    fn shape(&self) -> &[usize] {
        match self {
            Value::Const(t) => &t.shape,
            Value::Affine(a) => &a.shape,
        }
    }
}

pub(super) struct Folder<'a> {
    path: &'a str,
    values: HashMap<String, Value>,
    layers: Vec<Layer>,
    basis: usize,
    basis_dim: usize,
    notes: Vec<String>,
    opset: i64,
    /// Classifier mode: one input, a final Softmax dropped (order-preserving).
    classifier: bool,
}

/// Most input elements (all inputs together) a model may have: the identity map of the input is
/// held densely while folding, so this bounds memory (a 784-input MNIST model needs 5 MB).
pub(super) const MAX_INPUTS: usize = 1 << 14;

impl<'a> Folder<'a> {
    /// A folder used only to decode tensors and constants (for [`super::interval`]).
    pub(super) fn scratch(path: &'a str, opset: i64) -> Self {
        Folder {
            path,
            values: HashMap::new(),
            layers: Vec::new(),
            basis: 0,
            basis_dim: 0,
            notes: Vec::new(),
            opset,
            classifier: false,
        }
    }

    /// Declares the graph inputs (initializers excluded): the basis is their concatenation, in
    /// graph order. Returns their names and shapes.
    fn declare_input(
        &mut self,
        graph: &GraphProto,
    ) -> Result<Vec<(String, Vec<usize>)>, ImportError> {
        let init: std::collections::HashSet<&str> =
            graph.initializer.iter().map(|t| t.name.as_str()).collect();
        for t in &graph.initializer {
            let tensor = self.tensor(t, "initializer", &t.name)?;
            self.values.insert(t.name.clone(), Value::Const(tensor));
        }
        let inputs: Vec<_> = graph
            .input
            .iter()
            .filter(|i| !init.contains(i.name.as_str()))
            .collect();
        if inputs.is_empty() || (self.classifier && inputs.len() != 1) {
            return Err(ImportError::Model {
                path: self.path.to_string(),
                problem: format!(
                    "the graph has {} inputs; a classifier here has exactly one",
                    inputs.len()
                ),
            });
        }
        let mut shapes = Vec::new();
        for input in &inputs {
            let problem = |p: String| ImportError::Model {
                path: self.path.to_string(),
                problem: format!("input '{}': {p}", input.name),
            };
            let tt = input
                .r#type
                .as_ref()
                .and_then(|t| t.tensor_type.as_ref())
                .ok_or_else(|| problem("not a tensor".to_string()))?;
            if tt.elem_type != data_type::FLOAT && tt.elem_type != data_type::DOUBLE {
                return Err(problem(format!(
                    "element type {} is not float or double",
                    tt.elem_type
                )));
            }
            let shape: Vec<usize> = tt
                .shape
                .as_ref()
                .ok_or_else(|| problem("no declared shape".to_string()))?
                .dim
                .iter()
                .map(|d| match d.dim_value {
                    Some(v) if v > 0 => v as usize,
                    _ => 1, // symbolic (batch) dimension: one sample
                })
                .collect();
            let n = shape
                .iter()
                .try_fold(1usize, |a, &d| a.checked_mul(d))
                .filter(|&n| n > 0 && n <= MAX_INPUTS)
                .ok_or_else(|| {
                    problem(format!(
                        "shape {shape:?} is empty or has more than {MAX_INPUTS} elements"
                    ))
                })?;
            shapes.push((input.name.clone(), shape, n));
        }
        let total: usize = shapes.iter().map(|s| s.2).sum();
        if total > MAX_INPUTS {
            return Err(ImportError::Model {
                path: self.path.to_string(),
                problem: format!("the inputs have more than {MAX_INPUTS} elements in all"),
            });
        }
        self.basis_dim = total;
        let mut offset = 0;
        for (name, shape, n) in &shapes {
            let mut a = vec![0.0; n * total];
            for i in 0..*n {
                a[i * total + offset + i] = 1.0;
            }
            offset += n;
            self.values.insert(
                name.clone(),
                Value::Affine(Affine {
                    shape: shape.clone(),
                    basis: 0,
                    n: total,
                    a,
                    b: vec![0.0; *n],
                    after_softmax: None,
                }),
            );
        }
        Ok(shapes.into_iter().map(|(n, s, _)| (n, s)).collect())
    }

    pub(super) fn tensor(
        &self,
        t: &TensorProto,
        node: &str,
        op: &str,
    ) -> Result<Tensor, ImportError> {
        let err = |problem: String| ImportError::Node {
            path: self.path.to_string(),
            node: node.to_string(),
            op: op.to_string(),
            problem,
        };
        if t.data_location == 1 {
            return Err(err(format!(
                "tensor '{}' stores its data in an external file, which is not supported",
                t.name
            )));
        }
        let shape: Vec<usize> = t
            .dims
            .iter()
            .map(|&d| usize::try_from(d).map_err(|_| err(format!("negative dimension {d}"))))
            .collect::<Result<_, _>>()?;
        let n = numel(&shape);
        let raw = &t.raw_data;
        let data: Vec<f64> = match t.data_type {
            data_type::FLOAT if !raw.is_empty() => raw
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]) as f64)
                .collect(),
            data_type::FLOAT => t.float_data.iter().map(|&v| v as f64).collect(),
            data_type::DOUBLE if !raw.is_empty() => raw
                .chunks_exact(8)
                .map(|c| f64::from_le_bytes(c.try_into().expect("chunk of 8")))
                .collect(),
            data_type::DOUBLE => t.double_data.clone(),
            data_type::INT64 if !raw.is_empty() => raw
                .chunks_exact(8)
                .map(|c| i64::from_le_bytes(c.try_into().expect("chunk of 8")) as f64)
                .collect(),
            data_type::INT64 => t.int64_data.iter().map(|&v| v as f64).collect(),
            data_type::INT32 if !raw.is_empty() => raw
                .chunks_exact(4)
                .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]) as f64)
                .collect(),
            data_type::INT32 => t.int32_data.iter().map(|&v| v as f64).collect(),
            other => {
                return Err(err(format!(
                    "tensor '{}' has data type {other}, not float, double, int32 or int64",
                    t.name
                )))
            }
        };
        if data.len() != n {
            return Err(err(format!(
                "tensor '{}' declares shape {shape:?} ({n} values) but holds {} values",
                t.name,
                data.len()
            )));
        }
        Ok(Tensor { shape, data })
    }

    fn node(&mut self, node: &NodeProto) -> Result<(), ImportError> {
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
                    let scale = if op == "ReduceMean" { 1.0 / count as f64 } else { 1.0 };
                    reduce(&v, &groups, scale, shape)
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
                if numel(&shape) > MAX_INPUTS * 64 {
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
                if numel(&shape) > MAX_INPUTS * 64 {
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
                Value::Affine(a) => Value::Affine(self.close_layer(a)),
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
                let axis = normalize_axis(int_attr("axis", 1), shape.len() + 1)
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
                let shape = v.shape().to_vec();
                let new = if op == "Squeeze" {
                    let axes: Vec<usize> = axes
                        .iter()
                        .map(|&a| normalize_axis(a, shape.len()))
                        .collect::<Option<_>>()
                        .ok_or_else(|| err("axis out of range".to_string()))?;
                    shape
                        .iter()
                        .enumerate()
                        .filter(|(i, &d)| !(d == 1 && (axes.is_empty() || axes.contains(i))))
                        .map(|(_, &d)| d)
                        .collect()
                } else {
                    let rank = shape.len() + axes.len();
                    let mut axes: Vec<usize> = axes
                        .iter()
                        .map(|&a| normalize_axis(a, rank))
                        .collect::<Option<_>>()
                        .ok_or_else(|| err("axis out of range".to_string()))?;
                    axes.sort_unstable();
                    let mut new = shape.clone();
                    for a in axes {
                        new.insert(a, 1);
                    }
                    new
                };
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
                let rank = shape.len() as i64;
                let clamp = |x: i64| {
                    let x = if x < 0 { x + rank } else { x };
                    x.clamp(0, rank) as usize
                };
                let start = clamp(int_attr("start", 0));
                let end = clamp(int_attr("end", rank)).max(start);
                let dims: Vec<f64> = shape[start..end].iter().map(|&d| d as f64).collect();
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
        if let Value::Affine(a) = &result {
            if a.rows() == 0 {
                return Err(err("produces an empty tensor".to_string()));
            }
        }
        let out = node
            .output
            .first()
            .ok_or_else(|| err("no output".to_string()))?;
        self.values.insert(out.clone(), result);
        for (name, v) in split_parts {
            if !name.is_empty() {
                self.values.insert(name, v);
            }
        }
        Ok(())
    }

    /// A ReLU applied to an affine value: emit the layer, start a new basis.
    fn close_layer(&mut self, a: Affine) -> Affine {
        let n_out = a.rows();
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
        Affine {
            shape: a.shape,
            basis: self.basis,
            n: self.basis_dim,
            a: id,
            b: vec![0.0; n_out],
            after_softmax: None,
        }
    }

    pub(super) fn constant_attr(
        &self,
        a: &AttributeProto,
        node: &str,
        op: &str,
    ) -> Result<Tensor, ImportError> {
        match (a.name.as_str(), a.r#type) {
            ("value", _) => {
                let t = a.t.as_ref().ok_or_else(|| ImportError::Node {
                    path: self.path.to_string(),
                    node: node.to_string(),
                    op: op.to_string(),
                    problem: "'value' attribute holds no tensor".to_string(),
                })?;
                self.tensor(t, node, op)
            }
            ("value_float", _) | (_, attribute_type::FLOAT) => Ok(scalar_tensor(a.f as f64)),
            ("value_int", _) | (_, attribute_type::INT) => Ok(scalar_tensor(a.i as f64)),
            ("value_floats", _) | (_, attribute_type::FLOATS) => Ok(Tensor {
                shape: vec![a.floats.len()],
                data: a.floats.iter().map(|&v| v as f64).collect(),
            }),
            ("value_ints", _) | (_, attribute_type::INTS) => Ok(Tensor {
                shape: vec![a.ints.len()],
                data: a.ints.iter().map(|&v| v as f64).collect(),
            }),
            (other, t) => Err(ImportError::Node {
                path: self.path.to_string(),
                node: node.to_string(),
                op: op.to_string(),
                problem: format!("constant attribute '{other}' (type {t}) is not supported"),
            }),
        }
    }
}

/// Elements `map` of `v` (rows of a network value), laid out as `shape`.
fn pick(v: &Value, map: &[usize], shape: Vec<usize>) -> Value {
    match v {
        Value::Const(t) => Value::Const(Tensor {
            shape,
            data: map.iter().map(|&i| t.data[i]).collect(),
        }),
        Value::Affine(a) => Value::Affine(a.gather_rows(map, shape)),
    }
}

/// Sums of the element groups `groups` of `v`, each times `scale`, laid out as `shape`.
fn reduce(v: &Value, groups: &[Vec<usize>], scale: f64, shape: Vec<usize>) -> Value {
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

fn scalar_tensor(v: f64) -> Tensor {
    Tensor {
        shape: vec![],
        data: vec![v],
    }
}

fn scalar(v: f64) -> Value {
    Value::Const(scalar_tensor(v))
}

fn reshape(v: Value, shape: Vec<usize>) -> Value {
    match v {
        Value::Const(mut t) => {
            t.shape = shape;
            Value::Const(t)
        }
        Value::Affine(a) => Value::Affine(a.reshaped(shape)),
    }
}

fn transpose2(v: Value) -> Result<Value, String> {
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
fn binary(op: &str, x: &Value, y: &Value) -> Result<Value, String> {
    let shape = broadcast_shape(x.shape(), y.shape()).ok_or_else(|| {
        format!(
            "shapes {:?} and {:?} do not broadcast",
            x.shape(),
            y.shape()
        )
    })?;
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
fn matmul(x: &Value, y: &Value) -> Result<Value, String> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broadcasting_maps() {
        assert_eq!(broadcast_shape(&[1, 3], &[3]), Some(vec![1, 3]));
        assert_eq!(broadcast_shape(&[2, 1], &[1, 3]), Some(vec![2, 3]));
        assert_eq!(broadcast_shape(&[2], &[3]), None);
        assert_eq!(broadcast_map(&[2, 3], &[3]), vec![0, 1, 2, 0, 1, 2]);
        assert_eq!(broadcast_map(&[2, 3], &[2, 1]), vec![0, 0, 0, 1, 1, 1]);
        assert_eq!(broadcast_map(&[2, 3], &[]), vec![0; 6]);
    }

    #[test]
    fn transposes() {
        // [[0,1,2],[3,4,5]] transposed -> [[0,3],[1,4],[2,5]]
        let (m, s) = transpose_map(&[2, 3], &[1, 0]);
        assert_eq!(s, vec![3, 2]);
        assert_eq!(m, vec![0, 3, 1, 4, 2, 5]);
    }

    #[test]
    fn reshape_targets() {
        assert_eq!(
            resolve_shape(&[1, 28, 28], &[-1.0, 784.0], false),
            Ok(vec![1, 784])
        );
        assert_eq!(
            resolve_shape(&[1, 28, 28], &[0.0, -1.0], false),
            Ok(vec![1, 784])
        );
        assert!(resolve_shape(&[1, 28, 28], &[5.0, -1.0], false).is_err());
    }

    #[test]
    fn gather_and_concat() {
        let t = Tensor {
            shape: vec![4],
            data: vec![1.0, 28.0, 28.0, 3.0],
        };
        let i = Tensor {
            shape: vec![],
            data: vec![0.0],
        };
        let g = gather(&t, &i, 0).unwrap();
        assert_eq!((g.shape.clone(), g.data.clone()), (vec![], vec![1.0]));
        let c = concat(
            &[
                Tensor {
                    shape: vec![1],
                    data: vec![1.0],
                },
                Tensor {
                    shape: vec![1],
                    data: vec![-1.0],
                },
            ],
            0,
        )
        .unwrap();
        assert_eq!(c.data, vec![1.0, -1.0]);
    }

    #[test]
    fn garbage_is_a_decode_or_model_error() {
        let e = parse_onnx(b"\xff\xff\xff\xff\xff", "junk.onnx").unwrap_err();
        assert!(e.to_string().contains("junk.onnx"), "{e}");
        let e = parse_onnx(b"", "empty.onnx").unwrap_err();
        assert!(e.to_string().contains("no graph"), "{e}");
    }
}
