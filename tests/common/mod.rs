//! Helpers shared by the integration tests: ONNX fixtures written with the library's own prost
//! messages, small networks with known decision regions, random networks.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use parallelepipedonn::network::proto::*;
use parallelepipedonn::{Layer, Network};
use prost::Message;
use rand::{Rng, SeedableRng};

/// The authors' reference material, when the checkout sits beside `../shared`.
pub fn reference_dir() -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/reference");
    if p.join("mnist_nn-32.onnx").exists() {
        Some(p)
    } else {
        eprintln!("notice: ../shared/reference not found; skipping the reference-network checks");
        None
    }
}

pub fn float_tensor(name: &str, dims: &[i64], data: &[f32]) -> TensorProto {
    TensorProto {
        dims: dims.to_vec(),
        data_type: data_type::FLOAT,
        name: name.to_string(),
        raw_data: data.iter().flat_map(|v| v.to_le_bytes()).collect(),
        ..Default::default()
    }
}

pub fn int_tensor(name: &str, dims: &[i64], data: &[i64]) -> TensorProto {
    TensorProto {
        dims: dims.to_vec(),
        data_type: data_type::INT64,
        name: name.to_string(),
        int64_data: data.to_vec(),
        ..Default::default()
    }
}

pub fn node(op: &str, inputs: &[&str], output: &str) -> NodeProto {
    NodeProto {
        input: inputs.iter().map(|s| s.to_string()).collect(),
        output: vec![output.to_string()],
        name: format!("{op}_{output}"),
        op_type: op.to_string(),
        ..Default::default()
    }
}

pub fn with_int(mut n: NodeProto, name: &str, v: i64) -> NodeProto {
    n.attribute.push(AttributeProto {
        name: name.to_string(),
        i: v,
        r#type: attribute_type::INT,
        ..Default::default()
    });
    n
}

pub fn with_ints(mut n: NodeProto, name: &str, v: &[i64]) -> NodeProto {
    n.attribute.push(AttributeProto {
        name: name.to_string(),
        ints: v.to_vec(),
        r#type: attribute_type::INTS,
        ..Default::default()
    });
    n
}

pub fn with_tensor(mut n: NodeProto, name: &str, t: TensorProto) -> NodeProto {
    n.attribute.push(AttributeProto {
        name: name.to_string(),
        t: Some(t),
        r#type: attribute_type::TENSOR,
        ..Default::default()
    });
    n
}

fn value_info(name: &str, dims: &[Option<i64>]) -> ValueInfoProto {
    ValueInfoProto {
        name: name.to_string(),
        r#type: Some(TypeProto {
            tensor_type: Some(TensorTypeProto {
                elem_type: data_type::FLOAT,
                shape: Some(TensorShapeProto {
                    dim: dims
                        .iter()
                        .map(|d| match d {
                            Some(v) => Dimension {
                                dim_value: Some(*v),
                                dim_param: None,
                            },
                            None => Dimension {
                                dim_value: None,
                                dim_param: Some("N".to_string()),
                            },
                        })
                        .collect(),
                }),
            }),
        }),
    }
}

/// A model with one input `input` of `input_dims` (None = symbolic batch) and output `output`.
pub fn model(
    input_dims: &[Option<i64>],
    nodes: Vec<NodeProto>,
    initializers: Vec<TensorProto>,
    output: &str,
    opset: i64,
) -> Vec<u8> {
    let m = ModelProto {
        ir_version: 8,
        producer_name: "ppnn-tests".to_string(),
        graph: Some(GraphProto {
            node: nodes,
            name: "g".to_string(),
            initializer: initializers,
            input: vec![value_info("input", input_dims)],
            output: vec![value_info(output, &[None, Some(0)])],
            value_info: vec![],
        }),
        opset_import: vec![OperatorSetIdProto {
            domain: String::new(),
            version: opset,
        }],
        ..Default::default()
    };
    m.encode_to_vec()
}

/// Random dense layers (weights in f32 so the ONNX round trip is exact).
pub fn random_layers(rng: &mut impl Rng, sizes: &[usize], output_relu: bool) -> Vec<Layer> {
    let mut layers = Vec::new();
    for (k, w) in sizes.windows(2).enumerate() {
        let (n_in, n_out) = (w[0], w[1]);
        let scale = 1.0 / (n_in as f64).sqrt();
        let last = k + 2 == sizes.len();
        layers.push(Layer {
            n_in,
            n_out,
            weights: (0..n_in * n_out)
                .map(|_| ((rng.gen::<f64>() * 2.0 - 1.0) * 2.0 * scale) as f32 as f64)
                .collect(),
            bias: (0..n_out)
                .map(|_| ((rng.gen::<f64>() * 2.0 - 1.0) * 0.5) as f32 as f64)
                .collect(),
            relu: !last || output_relu,
        });
    }
    layers
}

pub fn random_network(seed: u64) -> Network {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let d = rng.gen_range(2..=6);
    let depth = rng.gen_range(1..=3);
    let mut sizes = vec![d];
    for _ in 0..depth {
        sizes.push(rng.gen_range(2..=16));
    }
    sizes.push(rng.gen_range(2..=4));
    let output_relu = rng.gen_bool(0.15);
    let layers = random_layers(&mut rng, &sizes, output_relu);
    Network::new(layers, vec![d]).unwrap()
}

/// Two inputs; class 0 iff |x0 - x1| < 0.5:
/// h0 = relu(x0 - x1), h1 = relu(x1 - x0); y0 = 0.5 - h0 - h1, y1 = 0.
pub fn band_network() -> Network {
    Network::new(
        vec![
            Layer {
                n_in: 2,
                n_out: 2,
                weights: vec![1.0, -1.0, -1.0, 1.0],
                bias: vec![0.0, 0.0],
                relu: true,
            },
            Layer {
                n_in: 2,
                n_out: 2,
                weights: vec![-1.0, -1.0, 0.0, 0.0],
                bias: vec![0.5, 0.0],
                relu: false,
            },
        ],
        vec![2],
    )
    .unwrap()
}

/// The MatMul → Add → Relu → MatMul → Add encoding of `layers` (the tf2onnx/our-training style),
/// with input shape `[N, d]`.
pub fn matmul_model(layers: &[Layer]) -> Vec<u8> {
    let mut nodes = Vec::new();
    let mut inits = Vec::new();
    let mut cur = "input".to_string();
    for (k, l) in layers.iter().enumerate() {
        // MatMul wants W^T: [n_in, n_out].
        let mut wt = vec![0f32; l.n_in * l.n_out];
        for o in 0..l.n_out {
            for i in 0..l.n_in {
                wt[i * l.n_out + o] = l.weights[o * l.n_in + i] as f32;
            }
        }
        let b: Vec<f32> = l.bias.iter().map(|&v| v as f32).collect();
        inits.push(float_tensor(
            &format!("W{k}"),
            &[l.n_in as i64, l.n_out as i64],
            &wt,
        ));
        inits.push(float_tensor(&format!("B{k}"), &[l.n_out as i64], &b));
        let mm = format!("mm{k}");
        let add = format!("add{k}");
        nodes.push(node("MatMul", &[&cur, &format!("W{k}")], &mm));
        nodes.push(node("Add", &[&mm, &format!("B{k}")], &add));
        cur = add;
        if l.relu {
            let r = format!("relu{k}");
            nodes.push(node("Relu", &[&cur], &r));
            cur = r;
        }
    }
    nodes.push(node("Identity", &[&cur], "logits"));
    model(
        &[None, Some(layers[0].n_in as i64)],
        nodes,
        inits,
        "logits",
        13,
    )
}

pub fn write_temp(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

/// One affine layer: class 0 iff x0 + x1 < s (y0 = s - x0 - x1, y1 = 0).
pub fn half_plane_network(s: f64) -> Network {
    Network::new(
        vec![Layer {
            n_in: 2,
            n_out: 2,
            weights: vec![-1.0, -1.0, 0.0, 0.0],
            bias: vec![s, 0.0],
            relu: false,
        }],
        vec![2],
    )
    .unwrap()
}

/// Class 0 on two disconnected pieces: x0 < 0.15 or x0 > 0.85, with x1 < 0.515 (at x0 = 0).
/// y0 - y1 = relu(0.2 - x0) + relu(x0 - 0.8) - 0.05 - 10 relu(x1 - 0.5).
pub fn two_pieces_network() -> Network {
    Network::new(
        vec![
            Layer {
                n_in: 2,
                n_out: 3,
                weights: vec![-1.0, 0.0, 1.0, 0.0, 0.0, 1.0],
                bias: vec![0.2, -0.8, -0.5],
                relu: true,
            },
            Layer {
                n_in: 3,
                n_out: 2,
                weights: vec![1.0, 1.0, -10.0, 0.0, 0.0, 0.0],
                bias: vec![-0.05, 0.0],
                relu: false,
            },
        ],
        vec![2],
    )
    .unwrap()
}

/// Integer shape arithmetic as exporters write it: `even = (input.shape[axis] + 1) / 2 * 2`,
/// with ONNX's truncating integer division (the nodes and their int64 initializers).
pub fn rounded_even_dim(axis: i64) -> (Vec<NodeProto>, Vec<TensorProto>) {
    let nodes = vec![
        node("Shape", &["input"], "shape"),
        node("Gather", &["shape", "axis_idx"], "d"),
        node("Add", &["d", "one"], "d1"),
        node("Div", &["d1", "two"], "half"),
        node("Mul", &["half", "two"], "even"),
    ];
    let inits = vec![
        int_tensor("axis_idx", &[1], &[axis]),
        int_tensor("one", &[], &[1]),
        int_tensor("two", &[], &[2]),
    ];
    (nodes, inits)
}

/// A 4-input model whose shape arithmetic divides by an integer zero (at node `Div_q`).
pub fn int_div_by_zero_model() -> Vec<u8> {
    let nodes = vec![
        node("Shape", &["input"], "shape"),
        node("Div", &["shape", "zero"], "q"),
        node("Reshape", &["input", "q"], "r"),
        node("MatMul", &["r", "w0"], "logits"),
    ];
    let inits = vec![
        int_tensor("zero", &[], &[0]),
        float_tensor("w0", &[4, 3], &[0.5; 12]),
    ];
    model(&[None, Some(4)], nodes, inits, "logits", 13)
}
