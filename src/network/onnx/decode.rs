//! Decoding what an ONNX file stores as data: initializer tensors (raw little-endian bytes or
//! typed fields) and `Constant` attributes, into [`Tensor`]s of f64.
//!
//! Why apart from the folding of operators: both the folder and the interval evaluator of
//! [`crate::network::interval`] read constants, and every way a stored tensor can be malformed
//! (external data, an unsupported type, a shape that disagrees with its data) is one message
//! naming the file, the node and the problem, checked here once.

use std::collections::HashMap;

use crate::network::proto::{attribute_type, data_type, AttributeProto, TensorProto};
use crate::network::tensor::{extent, numel, Tensor, MAX_VALUES};

use super::dtype::IntNames;
use super::folder::Folder;
use super::value::scalar_tensor;
use super::ImportError;

impl<'a> Folder<'a> {
    /// A folder used only to decode tensors and constants (for [`super::interval`]).
    pub(in crate::network) fn scratch(path: &'a str, opset: i64) -> Self {
        Folder {
            path,
            values: HashMap::new(),
            layers: Vec::new(),
            basis: 0,
            basis_dim: 0,
            notes: Vec::new(),
            opset,
            classifier: false,
            ints: IntNames::default(),
        }
    }

    pub(in crate::network) fn tensor(
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
        if extent(&shape) > MAX_VALUES {
            return Err(err(format!(
                "tensor '{}' declares shape {shape:?}, more than {MAX_VALUES} positions",
                t.name
            )));
        }
        let raw = &t.raw_data;
        let width = match t.data_type {
            data_type::DOUBLE | data_type::INT64 => 8,
            _ => 4,
        };
        if !raw.is_empty() && raw.len() != n.saturating_mul(width) {
            return Err(err(format!(
                "tensor '{}' declares shape {shape:?} ({n} values of {width} bytes) but holds {} bytes",
                t.name,
                raw.len()
            )));
        }
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

    pub(in crate::network) fn constant_attr(
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
