//! ONNX import: folds a graph of linear operators and ReLUs into a [`Network`].
//!
//! The graph is evaluated *symbolically*: every tensor is either a constant (initializers,
//! shapes, `Constant` nodes: folded eagerly) or an affine function of the current *basis*, which
//! is the network input until the first ReLU and the output of the latest ReLU after that.
//! Linear operators (Gemm, MatMul, Add, Sub, Mul/Div by constants, reshapes, transposes…) just
//! transform the affine map; a ReLU closes the map into a [`Layer`] and starts a new basis. So any
//! exporter's way of writing an MLP (tf2onnx, PyTorch, Keras, hand-built) ends up in the same
//! canonical form, and an operator we cannot fold is reported with its node name and op type.

use std::path::Path;

use prost::Message;

mod decode;
mod dtype;
mod folder;
mod inputs;
mod ops;
mod shapes;
mod value;

pub(super) use dtype::{int_divide, IntNames};
pub(super) use folder::{Folder, Site, MAX_INPUTS};
pub(super) use inputs::declared_inputs;
use value::{Affine, Value};

use super::proto::ModelProto;
use super::tensor::numel;
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
    let name = path.display().to_string();
    match crate::io::read_bounded(path, MAX_MODEL_BYTES) {
        Ok(Some(bytes)) => Ok(bytes),
        Ok(None) => Err(ImportError::Model {
            path: name,
            problem: format!("the model is larger than {MAX_MODEL_BYTES} bytes"),
        }),
        Err(source) => Err(ImportError::Io { path: name, source }),
    }
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
        classifier,
        ..Folder::scratch(name, opset)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::network::tensor::{
        broadcast_map, broadcast_shape, concat, gather, resolve_shape, transpose_map, Tensor,
    };

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
