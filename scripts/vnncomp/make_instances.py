#!/usr/bin/env python3
"""Makes the VNN-COMP-style benchmarks under data/vnncomp/ (deterministic; rerun to remake).

mnist_fc_ppnn: the competition's `mnist_fc` recipe on the bundled 784-100-100-10 and
    784-256-256-10 networks: an L∞ ball of radius eps in {0.03, 0.05} around the first bundled
    test image of classes 0-4 (clipped to [0, 1]); the query asks for a point of the ball that
    the network does not classify as its label (some other logit reaches the label's).
acasxu_like: a small 5-16-16-5 ReLU network with seeded random weights (this script, --net)
    and six ACAS-Xu-shaped properties: input boxes, a disjunction of input boxes (like ACAS Xu
    property 6), "output 0 is minimal" conjunctions, a disjunction of conjunctions, a linear
    output constraint and a strict comparison.

Everything is VNN-LIB 1.0 (X_i, Y_j), gzipped, with an instances.csv of
`onnx,vnnlib,timeout` rows relative to the benchmark directory. The MNIST images are CC BY-SA
3.0 (Y. LeCun and C. Cortes); the generated files inherit that for mnist_fc_ppnn.

    python3 scripts/vnncomp/make_instances.py            # the VNN-LIB files (stdlib only)
    PY=$(scripts/install-vnnlib-tools.sh | tail -1)
    $PY scripts/vnncomp/make_instances.py --net          # also the small network (onnx, numpy)
"""
import gzip
import os
import sys

ROOT = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(ROOT, "data", "vnncomp")
TIMEOUT = 60


def write_gz(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    # mtime=0: byte-identical output on every run.
    with open(path, "wb") as raw:
        with gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") as f:
            f.write(text.encode())


def declare(n_in, n_out):
    s = "".join(f"(declare-const X_{i} Real)\n" for i in range(n_in))
    return s + "".join(f"(declare-const Y_{j} Real)\n" for j in range(n_out))


def fmt(v):
    return repr(float(v))


def mnist():
    bench = os.path.join(OUT, "mnist_fc_ppnn")
    rows = []
    for net in ["mnist-784-100-100-10", "mnist-784-256-256-10"]:
        for label in range(5):
            src = os.path.join(ROOT, "data", "inputs", "mnist", f"{label}-1.csv")
            with open(src) as f:
                x = [float(v) for v in f.read().replace(",", " ").split()]
            assert len(x) == 784
            for eps in ["0.03", "0.05"]:
                e = float(eps)
                text = f"; mnist_fc_ppnn: {net}, data/inputs/mnist/{label}-1.csv (label {label}), eps {eps}\n"
                text += declare(784, 10)
                for i, v in enumerate(x):
                    text += f"(assert (>= X_{i} {fmt(max(0.0, v - e))}))\n"
                    text += f"(assert (<= X_{i} {fmt(min(1.0, v + e))}))\n"
                others = [j for j in range(10) if j != label]
                text += "(assert (or\n" + "".join(
                    f"    (and (>= Y_{j} Y_{label}))\n" for j in others
                ) + "))\n"
                name = f"vnnlib/{net}_{label}-1_eps{eps}.vnnlib.gz"
                write_gz(os.path.join(bench, name), text)
                rows.append(f"../../networks/{net}.onnx,{name},{TIMEOUT}")
    with open(os.path.join(bench, "instances.csv"), "w") as f:
        f.write("\n".join(rows) + "\n")


ACAS_PROPS = {
    # Output 0 is minimal somewhere in a box (ACAS Xu properties 3/4 shape).
    "prop_1": ("(assert (<= X_0 0.2))(assert (>= X_0 -0.2))\n"
               + "".join(f"(assert (<= X_{i} 1.0))(assert (>= X_{i} -1.0))\n" for i in range(1, 5))
               + "".join(f"(assert (<= Y_0 Y_{j}))\n" for j in range(1, 5))),
    # A disjunction of two input boxes (ACAS Xu property 6 shape), output 0 not minimal.
    "prop_2": ("(assert (or (and (>= X_0 -0.9) (<= X_0 -0.5) (>= X_1 -0.2) (<= X_1 0.2))\n"
               "            (and (>= X_0 0.5) (<= X_0 0.9) (>= X_1 -0.2) (<= X_1 0.2))))\n"
               + "".join(f"(assert (<= X_{i} 0.1))(assert (>= X_{i} -0.1))\n" for i in range(2, 5))
               + "(assert (or " + " ".join(f"(and (<= Y_{j} Y_0))" for j in range(1, 5)) + "))\n"),
    # A linear output constraint on a small box.
    "prop_3": ("".join(f"(assert (<= X_{i} 0.05))(assert (>= X_{i} -0.05))\n" for i in range(5))
               + "(assert (>= (+ Y_0 (* -2.0 Y_1) (* 0.5 Y_4)) 3.0))\n"),
    # A strict comparison and a bound in one conjunction, inside an or.
    "prop_4": ("".join(f"(assert (<= X_{i} 1.0))(assert (>= X_{i} -1.0))\n" for i in range(5))
               + "(assert (or (and (> Y_2 Y_3) (>= Y_2 1.5)) (and (< Y_4 -1.0) (<= Y_4 Y_0))))\n"),
    # Unreachable output level over the whole domain (an unsat-leaning query).
    "prop_5": ("".join(f"(assert (<= X_{i} 1.0))(assert (>= X_{i} -1.0))\n" for i in range(5))
               + "(assert (>= Y_1 25.0))\n"),
    # Several asserts with a conjunct written before an (or ...) (the nnv PR #319 form).
    "prop_6": ("".join(f"(assert (<= X_{i} 0.5))(assert (>= X_{i} -0.5))\n" for i in range(5))
               + "(assert (and (>= Y_0 -5.0) (or (>= Y_3 Y_1) (>= Y_3 Y_2))))\n"),
}


def acas():
    bench = os.path.join(OUT, "acasxu_like")
    rows = []
    for name, body in ACAS_PROPS.items():
        text = f"; acasxu_like {name}\n" + declare(5, 5) + body
        path = f"vnnlib/{name}.vnnlib.gz"
        write_gz(os.path.join(bench, path), text)
        rows.append(f"onnx/acasxu-like-5-16-16-5.onnx,{path},{TIMEOUT}")
    with open(os.path.join(bench, "instances.csv"), "w") as f:
        f.write("\n".join(rows) + "\n")


def acas_net():
    import numpy as np
    import onnx
    from onnx import helper, numpy_helper, TensorProto

    rng = np.random.default_rng(2026)
    sizes = [5, 16, 16, 5]
    nodes, inits = [], []
    prev = "X"
    for k in range(3):
        w = rng.normal(0, 1 / np.sqrt(sizes[k]), size=(sizes[k], sizes[k + 1])).astype(np.float32)
        b = rng.normal(0, 0.1, size=(sizes[k + 1],)).astype(np.float32)
        inits += [numpy_helper.from_array(w, f"W{k}"), numpy_helper.from_array(b, f"B{k}")]
        nodes.append(helper.make_node("MatMul", [prev, f"W{k}"], [f"M{k}"]))
        nodes.append(helper.make_node("Add", [f"M{k}", f"B{k}"], [f"Z{k}"]))
        prev = f"Z{k}"
        if k < 2:
            nodes.append(helper.make_node("Relu", [prev], [f"H{k}"]))
            prev = f"H{k}"
    nodes.append(helper.make_node("Identity", [prev], ["Y"]))
    graph = helper.make_graph(
        nodes, "acasxu_like",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, [1, 5])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [1, 5])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)],
                              producer_name="ppnn make_instances.py")
    model.ir_version = 8
    onnx.checker.check_model(model)
    path = os.path.join(OUT, "acasxu_like", "onnx", "acasxu-like-5-16-16-5.onnx")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    onnx.save(model, path)


if __name__ == "__main__":
    if "--net" in sys.argv:
        acas_net()
    mnist()
    acas()
