//! The model: a sequence of affine layers with ReLU between them.
//!
//! Everything the verifier reasons about is reduced to this one shape on import (see
//! [`onnx`]): whatever the exporter wrote (Gemm, MatMul + Add, normalisation, reshapes), the
//! network is `x -> W_k(...relu(W_1 x + b_1)...) + b_k`, optionally with a ReLU on the output
//! layer too. The network knows nothing of boxes or solvers.

pub mod interval;
pub mod onnx;
pub mod proto;
mod tensor;

pub use onnx::{load_model, load_onnx, parse_model, ImportError, Model};

/// One affine layer `z = W x + b`, followed by a ReLU when `relu` is set.
#[derive(Debug, Clone, PartialEq)]
pub struct Layer {
    /// Number of inputs of the layer.
    pub n_in: usize,
    /// Number of outputs (neurons) of the layer.
    pub n_out: usize,
    /// Row-major weights: `weights[o * n_in + i]` is the weight from input `i` to neuron `o`.
    pub weights: Vec<f64>,
    /// Biases, one per neuron.
    pub bias: Vec<f64>,
    /// Whether a ReLU follows the affine map.
    pub relu: bool,
}

impl Layer {
    /// The weight row of neuron `o`.
    pub fn row(&self, o: usize) -> &[f64] {
        &self.weights[o * self.n_in..(o + 1) * self.n_in]
    }

    /// The affine map in f64 (no activation).
    pub fn affine(&self, x: &[f64]) -> Vec<f64> {
        (0..self.n_out)
            .map(|o| dot(self.row(o), x) + self.bias[o])
            .collect()
    }
}

/// A feed-forward ReLU classifier.
#[derive(Debug, Clone)]
pub struct Network {
    layers: Vec<Layer>,
    /// f32 copies of the weights and biases, so that the f32 forward pass does not convert on
    /// every call. The model files store f32; the f64 weights are their exact widening.
    layers_f32: Vec<(Vec<f32>, Vec<f32>)>,
    input_shape: Vec<usize>,
    notes: Vec<String>,
}

/// Errors raised when a network is built from inconsistent parts.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum NetworkError {
    /// A network needs at least one layer.
    #[error("the network has no layers")]
    Empty,
    /// Layer sizes do not chain, or weight/bias lengths are wrong.
    #[error("layer {index}: {problem}")]
    BadLayer {
        /// Index of the offending layer.
        index: usize,
        /// What is wrong.
        problem: String,
    },
    /// A classifier needs at least two classes.
    #[error("the network has {0} output(s); a classifier needs at least 2")]
    TooFewClasses(usize),
}

impl Network {
    /// Builds a network from its layers; `input_shape` is the shape of one input sample (its
    /// product must be the first layer's input size).
    pub fn new(layers: Vec<Layer>, input_shape: Vec<usize>) -> Result<Self, NetworkError> {
        let net = Self::from_layers(layers, input_shape)?;
        if net.output_size() < 2 {
            return Err(NetworkError::TooFewClasses(net.output_size()));
        }
        Ok(net)
    }

    /// As [`Network::new`] for a network with any number of outputs (at least one): the
    /// general properties of [`crate::property`] need not be about classes.
    pub fn from_layers(layers: Vec<Layer>, input_shape: Vec<usize>) -> Result<Self, NetworkError> {
        let first = layers.first().ok_or(NetworkError::Empty)?;
        let numel: usize = input_shape.iter().product();
        if numel != first.n_in {
            return Err(NetworkError::BadLayer {
                index: 0,
                problem: format!(
                    "input shape {input_shape:?} has {numel} elements but the layer takes {}",
                    first.n_in
                ),
            });
        }
        for (index, layer) in layers.iter().enumerate() {
            let problem = if layer.weights.len() != layer.n_in * layer.n_out {
                Some(format!(
                    "{} weights for a {}x{} layer",
                    layer.weights.len(),
                    layer.n_out,
                    layer.n_in
                ))
            } else if layer.bias.len() != layer.n_out {
                Some(format!(
                    "{} biases for {} neurons",
                    layer.bias.len(),
                    layer.n_out
                ))
            } else if index > 0 && layers[index - 1].n_out != layer.n_in {
                Some(format!(
                    "takes {} inputs but the previous layer has {} outputs",
                    layer.n_in,
                    layers[index - 1].n_out
                ))
            } else if layer
                .weights
                .iter()
                .chain(layer.bias.iter())
                .any(|v| !v.is_finite())
            {
                Some("non-finite weight or bias".to_string())
            } else {
                None
            };
            if let Some(problem) = problem {
                return Err(NetworkError::BadLayer { index, problem });
            }
        }
        let layers_f32 = layers
            .iter()
            .map(|l| {
                (
                    l.weights.iter().map(|&w| w as f32).collect(),
                    l.bias.iter().map(|&b| b as f32).collect(),
                )
            })
            .collect();
        Ok(Network {
            layers,
            layers_f32,
            input_shape,
            notes: Vec::new(),
        })
    }

    /// Attaches import notes (what was folded or dropped), shown by `ppnn info`.
    pub fn with_notes(mut self, notes: Vec<String>) -> Self {
        self.notes = notes;
        self
    }

    /// What the importer folded or dropped.
    pub fn notes(&self) -> &[String] {
        &self.notes
    }

    /// The layers, first to last.
    pub fn layers(&self) -> &[Layer] {
        &self.layers
    }

    /// Layers followed by a ReLU: the depth that decides which deep-network stages run.
    pub fn relu_layers(&self) -> usize {
        self.layers.iter().filter(|l| l.relu).count()
    }

    /// Shape of one input sample, as the model declares it (dynamic dimensions set to 1).
    pub fn input_shape(&self) -> &[usize] {
        &self.input_shape
    }

    /// Number of input features (the flattened input).
    pub fn input_size(&self) -> usize {
        self.layers[0].n_in
    }

    /// Number of outputs (classes).
    pub fn output_size(&self) -> usize {
        self.layers[self.layers.len() - 1].n_out
    }

    /// Total number of ReLU neurons (each may need a binary variable in a MILP).
    pub fn relu_count(&self) -> usize {
        self.layers.iter().filter(|l| l.relu).map(|l| l.n_out).sum()
    }

    /// Forward pass in f64. Returns the outputs (logits).
    pub fn forward(&self, x: &[f64]) -> Vec<f64> {
        self.forward_trace(x)
            .pop()
            .expect("a network has at least one layer")
    }

    /// Forward pass in f64 returning, for each layer, its pre-activation values.
    /// The last entry is the output after the last layer's activation (the logits).
    pub fn forward_trace(&self, x: &[f64]) -> Vec<Vec<f64>> {
        debug_assert_eq!(x.len(), self.input_size());
        let mut trace = Vec::with_capacity(self.layers.len() + 1);
        let mut h = x.to_vec();
        for layer in &self.layers {
            let z = layer.affine(&h);
            h = if layer.relu {
                z.iter().map(|&v| v.max(0.0)).collect()
            } else {
                z.clone()
            };
            trace.push(z);
        }
        trace.push(h);
        trace
    }

    /// Forward pass in f32, as a runtime that stores the model's f32 weights would compute it.
    /// Counterexamples are confirmed in both precisions before they are reported.
    pub fn forward_f32(&self, x: &[f64]) -> Vec<f32> {
        let mut h: Vec<f32> = x.iter().map(|&v| v as f32).collect();
        for (layer, (w, b)) in self.layers.iter().zip(&self.layers_f32) {
            let mut z: Vec<f32> = (0..layer.n_out)
                .map(|o| {
                    let row = &w[o * layer.n_in..(o + 1) * layer.n_in];
                    row.iter().zip(&h).map(|(a, b)| a * b).sum::<f32>() + b[o]
                })
                .collect();
            if layer.relu {
                z.iter_mut().for_each(|v| *v = v.max(0.0));
            }
            h = z;
        }
        h
    }

    /// The unique arg-max of the f64 logits; `None` on a tie for the maximum.
    pub fn classify(&self, x: &[f64]) -> Option<usize> {
        unique_argmax(&self.forward(x))
    }
}

/// Index of the strictly largest value, or `None` when the maximum is shared (or NaN is present).
pub fn unique_argmax<T: PartialOrd + Copy>(values: &[T]) -> Option<usize> {
    let mut best: Option<usize> = None;
    let mut tie = false;
    for (i, &v) in values.iter().enumerate() {
        match best {
            None => best = Some(i),
            Some(b) => match v.partial_cmp(&values[b]) {
                Some(std::cmp::Ordering::Greater) => {
                    best = Some(i);
                    tie = false;
                }
                Some(std::cmp::Ordering::Equal) => tie = true,
                Some(std::cmp::Ordering::Less) => {}
                None => return None,
            },
        }
    }
    if tie {
        None
    } else {
        best
    }
}

/// The classification margin of `class`: `y_class - max_{j != class} y_j`, and the best
/// competitor `j`. Positive means the class wins strictly.
pub fn margin_of<T: Into<f64> + Copy>(logits: &[T], class: usize) -> (f64, usize) {
    let mut best = f64::NEG_INFINITY;
    let mut arg = if class == 0 { 1 } else { 0 };
    for (j, &v) in logits.iter().enumerate() {
        let v: f64 = v.into();
        if j != class && v > best {
            best = v;
            arg = j;
        }
    }
    (logits[class].into() - best, arg)
}

pub(crate) fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// A deterministic stream of numbers uniform in [0, 1) (a 64-bit linear congruential
/// generator): the unit tests' sampler, so that each test's samples are the same on every run.
#[cfg(test)]
pub(crate) fn uniform_stream(seed: u64) -> impl FnMut() -> f64 {
    let mut s = seed;
    move || {
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (s >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Random networks for the unit tests of bounds and encodings.
#[cfg(test)]
pub(crate) fn random_net(seed: u64, widths: &[usize]) -> Network {
    let mut uniform = uniform_stream(seed);
    let mut next = move || uniform() * 2.0 - 1.0;
    let mut layers = Vec::new();
    for w in widths.windows(2) {
        layers.push(Layer {
            n_in: w[0],
            n_out: w[1],
            weights: (0..w[0] * w[1]).map(|_| next()).collect(),
            bias: (0..w[1]).map(|_| 0.3 * next()).collect(),
            relu: true,
        });
    }
    if let Some(last) = layers.last_mut() {
        last.relu = false;
    }
    Network::new(layers, vec![widths[0]]).expect("a valid random network")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny() -> Network {
        Network::new(
            vec![
                Layer {
                    n_in: 2,
                    n_out: 2,
                    weights: vec![1.0, -1.0, 0.5, 0.5],
                    bias: vec![0.0, -0.25],
                    relu: true,
                },
                Layer {
                    n_in: 2,
                    n_out: 2,
                    weights: vec![1.0, 0.0, 0.0, 1.0],
                    bias: vec![0.0, 0.0],
                    relu: false,
                },
            ],
            vec![2],
        )
        .unwrap()
    }

    #[test]
    fn forward_matches_hand_computation() {
        let n = tiny();
        assert_eq!(n.forward(&[1.0, 0.0]), vec![1.0, 0.25]);
        assert_eq!(n.classify(&[1.0, 0.0]), Some(0));
        assert_eq!(n.forward_f32(&[1.0, 0.0]), vec![1.0f32, 0.25]);
        // x = (0.5, 0.5): z0 = 0, z1 = 0.25.
        assert_eq!(n.classify(&[0.5, 0.5]), Some(1));
    }

    #[test]
    fn ties_have_no_class() {
        assert_eq!(unique_argmax(&[1.0, 2.0, 2.0]), None);
        assert_eq!(unique_argmax(&[3.0, 2.0, 2.0]), Some(0));
        assert_eq!(unique_argmax(&[f64::NAN, 2.0]), None);
        let n = tiny();
        // x = (0, 0): both outputs are 0, a tie.
        assert_eq!(n.classify(&[0.0, 0.0]), None);
    }

    #[test]
    fn margins() {
        assert_eq!(margin_of(&[1.0, 3.0, 2.0], 1), (1.0, 2));
        assert_eq!(margin_of(&[1.0, 3.0, 2.0], 0), (-2.0, 1));
    }

    #[test]
    fn rejects_inconsistent_layers() {
        let bad = Network::new(
            vec![Layer {
                n_in: 2,
                n_out: 2,
                weights: vec![1.0],
                bias: vec![0.0, 0.0],
                relu: false,
            }],
            vec![2],
        );
        assert!(matches!(bad, Err(NetworkError::BadLayer { index: 0, .. })));
        assert!(matches!(
            Network::new(vec![], vec![2]),
            Err(NetworkError::Empty)
        ));
    }
}
