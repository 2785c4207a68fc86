//! Which values of a graph hold integers. Folded constants keep every element as an f64, which
//! is exact for the shapes and indices a classifier computes with, but ONNX's `Div` on integer
//! tensors truncates toward zero (`7 / 2 = 3`): an exporter's `Div(Gather(Shape(x), 1), 2)`
//! sizing a `Reshape` must give 3, not 3.5. The element type is not stored in the tensors; it
//! is read off the graph instead, by value name, from where ONNX declares it (initializers,
//! `Constant`, `Cast`, `Shape`) and carried through the operators whose output has their
//! input's type.

use std::collections::HashSet;

use crate::network::proto::{AttributeProto, NodeProto, TensorProto};
use crate::network::tensor::{broadcast_map, broadcast_shape, extent, Tensor, MAX_VALUES};

/// ONNX's integer and boolean element types (`TensorProto.DataType`: UINT8 … INT64, BOOL,
/// UINT32, UINT64).
fn is_int_type(t: i32) -> bool {
    matches!(t, 2..=7 | 9 | 12 | 13)
}

/// The names of the integer-valued tensors seen so far.
#[derive(Debug, Default, Clone)]
pub(in crate::network) struct IntNames(HashSet<String>);

impl IntNames {
    pub(in crate::network) fn from_initializers(inits: &[TensorProto]) -> Self {
        IntNames(
            inits
                .iter()
                .filter(|t| is_int_type(t.data_type))
                .map(|t| t.name.clone())
                .collect(),
        )
    }

    pub(in crate::network) fn contains(&self, name: &str) -> bool {
        self.0.contains(name)
    }

    /// Both operands of a binary node are integers (ONNX requires one type for both; a model
    /// that mixes them keeps float arithmetic).
    pub(in crate::network) fn both_inputs(&self, node: &NodeProto) -> bool {
        node.input.len() >= 2 && node.input[..2].iter().all(|n| self.contains(n))
    }

    /// Records the element type of `node`'s outputs (call it once the node is evaluated).
    pub(in crate::network) fn observe(&mut self, node: &NodeProto) {
        let attr = |n: &str| node.attribute.iter().find(|a| a.name == n);
        let input_int = |i: usize| node.input.get(i).is_some_and(|n| self.contains(n));
        let int = match node.op_type.as_str() {
            "Shape" | "Size" | "ArgMax" | "ArgMin" | "NonZero" => true,
            "Cast" => attr("to").is_some_and(|a| is_int_type(a.i as i32)),
            "Constant" => node.attribute.first().is_some_and(constant_is_int),
            "ConstantOfShape" => attr("value")
                .and_then(|a| a.t.as_ref())
                .is_some_and(|t| is_int_type(t.data_type)),
            "Where" => input_int(1),
            // Every other operator here (arithmetic, reshapes, picks, concatenation, products)
            // has its first input's element type.
            _ => input_int(0),
        };
        for o in node.output.iter().filter(|o| !o.is_empty()) {
            if int {
                self.0.insert(o.clone());
            } else {
                self.0.remove(o);
            }
        }
    }
}

fn constant_is_int(a: &AttributeProto) -> bool {
    match a.name.as_str() {
        "value" => a.t.as_ref().is_some_and(|t| is_int_type(t.data_type)),
        "value_int" | "value_ints" => true,
        _ => false,
    }
}

/// ONNX integer division: truncation toward zero. `None` when the divisor is 0 or an operand is
/// not an integer within ±2^53 (so exactly an i64 here).
pub(in crate::network) fn int_div(a: f64, b: f64) -> Option<f64> {
    const EXACT: f64 = 9_007_199_254_740_992.0;
    let int = |v: f64| v.fract() == 0.0 && v.abs() <= EXACT;
    if !int(a) || !int(b) || b == 0.0 {
        return None;
    }
    Some(((a as i64) / (b as i64)) as f64)
}

/// ONNX `Div` of two integer tensors, with broadcasting: every quotient truncated toward zero.
pub(in crate::network) fn int_divide(x: &Tensor, y: &Tensor) -> Result<Tensor, String> {
    let shape = broadcast_shape(&x.shape, &y.shape)
        .ok_or_else(|| format!("shapes {:?} and {:?} do not broadcast", x.shape, y.shape))?;
    if extent(&shape) > MAX_VALUES {
        return Err(format!("the quotient has more than {MAX_VALUES} values"));
    }
    let (mx, my) = (
        broadcast_map(&shape, &x.shape),
        broadcast_map(&shape, &y.shape),
    );
    let data = mx
        .iter()
        .zip(&my)
        .map(|(&i, &j)| {
            let (a, b) = (x.data[i], y.data[j]);
            int_div(a, b).ok_or_else(|| format!("integer division {a} / {b} is not defined"))
        })
        .collect::<Result<_, _>>()?;
    Ok(Tensor { shape, data })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::network::proto::data_type;

    fn node(op: &str, inputs: &[&str], output: &str, attrs: Vec<AttributeProto>) -> NodeProto {
        NodeProto {
            op_type: op.to_string(),
            input: inputs.iter().map(|s| s.to_string()).collect(),
            output: vec![output.to_string()],
            attribute: attrs,
            ..NodeProto::default()
        }
    }

    #[test]
    fn integer_division_truncates_toward_zero() {
        assert_eq!(int_div(7.0, 2.0), Some(3.0));
        assert_eq!(int_div(-7.0, 2.0), Some(-3.0));
        assert_eq!(int_div(7.0, -2.0), Some(-3.0));
        assert_eq!(int_div(784.0, 28.0), Some(28.0));
        assert_eq!(int_div(1.0, 0.0), None);
        assert_eq!(int_div(1.5, 1.0), None);
    }

    #[test]
    fn types_come_from_declarations_and_flow_through_operators() {
        let init = TensorProto {
            name: "w".to_string(),
            data_type: data_type::FLOAT,
            ..TensorProto::default()
        };
        let two = TensorProto {
            name: "two".to_string(),
            data_type: data_type::INT64,
            ..TensorProto::default()
        };
        let mut ints = IntNames::from_initializers(&[init, two]);
        assert!(ints.contains("two") && !ints.contains("w"));
        ints.observe(&node("Shape", &["x"], "s", vec![]));
        ints.observe(&node("Gather", &["s", "i"], "d", vec![]));
        let div = node("Div", &["d", "two"], "h", vec![]);
        assert!(ints.both_inputs(&div));
        ints.observe(&div);
        assert!(ints.contains("h"));
        // Float data stays float; a cast decides by its target.
        ints.observe(&node("MatMul", &["x", "w"], "y", vec![]));
        assert!(!ints.contains("y") && !ints.both_inputs(&node("Div", &["y", "two"], "z", vec![])));
        let to = |t: i32| AttributeProto {
            name: "to".to_string(),
            i: t as i64,
            ..AttributeProto::default()
        };
        ints.observe(&node("Cast", &["h"], "hf", vec![to(data_type::FLOAT)]));
        ints.observe(&node("Cast", &["y"], "yi", vec![to(data_type::INT32)]));
        assert!(!ints.contains("hf") && ints.contains("yi"));
        let value_ints = AttributeProto {
            name: "value_ints".to_string(),
            ints: vec![1, 2],
            ..AttributeProto::default()
        };
        ints.observe(&node("Constant", &[], "c", vec![value_ints]));
        assert!(ints.contains("c"));
    }
}
