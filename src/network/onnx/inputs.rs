//! The graph's inputs: declared once, before any node, as the first basis of the fold (the
//! identity map of their concatenation), with the initializers as constants. Kept apart from
//! the per-node folding because it is the one place that reads the graph's declarations
//! (element types, symbolic dimensions, size limits) rather than its operators. The interval
//! evaluator (`network/interval.rs`) reads the declarations through the same
//! [`declared_inputs`], so a model's inputs are accepted or refused alike on both paths.

use crate::network::proto::{data_type, GraphProto};

use super::dtype::IntNames;
use super::folder::{Folder, MAX_INPUTS};
use super::value::{Affine, Value};
use super::ImportError;

impl Folder<'_> {
    /// Declares the graph inputs (initializers excluded): the basis is their concatenation, in
    /// graph order. Returns their names and shapes.
    pub(super) fn declare_input(
        &mut self,
        graph: &GraphProto,
    ) -> Result<Vec<(String, Vec<usize>)>, ImportError> {
        self.ints = IntNames::from_initializers(&graph.initializer);
        for t in &graph.initializer {
            let tensor = self.tensor(t, "initializer", &t.name)?;
            self.values.insert(t.name.clone(), Value::Const(tensor));
        }
        let shapes = declared_inputs(self.path, graph)?;
        if shapes.is_empty() || (self.classifier && shapes.len() != 1) {
            return Err(ImportError::Model {
                path: self.path.to_string(),
                problem: format!(
                    "the graph has {} inputs; a classifier here has exactly one",
                    shapes.len()
                ),
            });
        }
        let total: usize = shapes.iter().map(|s| s.2).sum();
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
}

/// The graph's inputs (initializers excluded), in graph order, as `(name, shape, elements)`:
/// float or double tensors with a declared shape, whose symbolic (batch) dimensions count 1,
/// each and all together within `MAX_INPUTS` elements. Shared by the folder and the interval
/// evaluator (`network/interval.rs`), so that both accept the same declarations.
pub(in crate::network) fn declared_inputs(
    path: &str,
    graph: &GraphProto,
) -> Result<Vec<(String, Vec<usize>, usize)>, ImportError> {
    let init: std::collections::HashSet<&str> =
        graph.initializer.iter().map(|t| t.name.as_str()).collect();
    let mut shapes = Vec::new();
    for input in graph
        .input
        .iter()
        .filter(|i| !init.contains(i.name.as_str()))
    {
        let problem = |p: String| ImportError::Model {
            path: path.to_string(),
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
            path: path.to_string(),
            problem: format!("the inputs have more than {MAX_INPUTS} elements in all"),
        });
    }
    Ok(shapes)
}
