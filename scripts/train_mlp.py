#!/usr/bin/env python3
"""Train a ReLU MLP with scikit-learn and export it to ONNX.

    python3 scripts/train_mlp.py --dataset mnist --hidden 32 --epochs 30 --seed 0 \
        --out data/networks/mnist-784-32-10.onnx

--hidden takes one size per hidden layer (`--hidden 256 256` or `--hidden 256,256`).
Training: MLPClassifier(activation="relu", solver="adam") on the full 60k training
set, inputs pixel/255; exactly --epochs passes over the data (no early stop), BLAS
limited to one thread, so a run is deterministic for a given seed and library set
(requirements-data.txt).

Export (written with the onnx helpers): input `input` float [N,784], then per layer
MatMul -> Add (-> Relu except after the last), output `logits` float [N,10]; float32
initializers, opset 13, IR version 8. The file is checked with onnx.checker, then
read back and its float32 test accuracy reported.
"""
import os
import time

_T_START = time.perf_counter()

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
             "BLIS_NUM_THREADS", "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import ppnn_data  # noqa: E402


def parse_hidden(values):
    sizes = []
    for v in values:
        sizes.extend(int(s) for s in v.split(",") if s)
    if not sizes or any(s <= 0 for s in sizes):
        raise SystemExit("--hidden needs positive layer sizes")
    return sizes


def build_onnx(layers, name, doc, metadata):
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    nodes, inits = [], []
    cur = "input"
    n = len(layers)
    for i, (w, b) in enumerate(layers, start=1):
        w = np.ascontiguousarray(w, dtype=np.float32)
        b = np.ascontiguousarray(b, dtype=np.float32)
        wn, bn = f"layer{i}.weight", f"layer{i}.bias"
        inits.append(numpy_helper.from_array(w, wn))
        inits.append(numpy_helper.from_array(b, bn))
        mm, add = f"layer{i}.matmul", f"layer{i}.add"
        last = i == n
        nodes.append(helper.make_node("MatMul", [cur, wn], [mm], name=mm))
        out = "logits" if last else add
        nodes.append(helper.make_node("Add", [mm, bn], [out], name=add))
        cur = out
        if not last:
            relu = f"layer{i}.relu"
            nodes.append(helper.make_node("Relu", [cur], [relu], name=relu))
            cur = relu
    n_in = layers[0][0].shape[0]
    n_out = layers[-1][0].shape[1]
    graph = helper.make_graph(
        nodes, name,
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", n_in])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", n_out])],
        initializer=inits,
    )
    model = helper.make_model(
        graph,
        producer_name="parallelepipedonn scripts/train_mlp.py",
        producer_version="1",
        doc_string=doc,
        opset_imports=[helper.make_opsetid("", 13)],
    )
    model.ir_version = 8
    helper.set_model_props(model, metadata)
    onnx.checker.check_model(model, full_check=True)
    return model


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dataset", choices=sorted(ppnn_data.DATASETS), required=True)
    ap.add_argument("--hidden", nargs="+", required=True,
                    help="hidden layer sizes, e.g. 100 100 or 100,100")
    ap.add_argument("--epochs", type=int, required=True, help="MLPClassifier max_iter")
    ap.add_argument("--seed", type=int, default=0, help="MLPClassifier random_state")
    ap.add_argument("--alpha", type=float, default=1e-4, help="L2 penalty")
    ap.add_argument("--batch-size", type=int, default=200)
    ap.add_argument("--lr", type=float, default=1e-3, help="adam learning_rate_init")
    ap.add_argument("--datasets", help="datasets dir (default $PPNN_DATASETS or datasets/)")
    ap.add_argument("--out", required=True, help="output .onnx file")
    args = ap.parse_args()

    import onnx
    import sklearn
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    hidden = parse_hidden(args.hidden)
    xtr, ytr = ppnn_data.load_split(args.dataset, "train", args.datasets)
    xte, yte = ppnn_data.load_split(args.dataset, "t10k", args.datasets)
    # pixel/255 computed in float64, then stored as float32 for training speed.
    xtr = (xtr.astype(np.float64) / 255.0).astype(np.float32)
    xte64 = xte.astype(np.float64) / 255.0
    print(f"[train_mlp] {args.dataset}: train {xtr.shape}, test {xte.shape}; "
          f"hidden {hidden}, epochs {args.epochs}, seed {args.seed}", flush=True)

    clf = MLPClassifier(
        hidden_layer_sizes=tuple(hidden),
        activation="relu",
        solver="adam",
        alpha=args.alpha,
        batch_size=args.batch_size,
        learning_rate_init=args.lr,
        max_iter=args.epochs,
        n_iter_no_change=args.epochs + 1,  # never stop early: exactly --epochs epochs
        shuffle=True,
        random_state=args.seed,
        verbose=False,
    )
    t0 = time.perf_counter()
    with threadpool_limits(limits=1), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(xtr, ytr)
    train_s = time.perf_counter() - t0
    if list(clf.classes_) != list(range(10)):
        raise SystemExit(f"unexpected classes {clf.classes_}")

    layers = [(w.astype(np.float32), b.astype(np.float32))
              for w, b in zip(clf.coefs_, clf.intercepts_)]
    arch = "-".join(str(s) for s in [784, *hidden, 10])
    name = Path(args.out).stem
    with threadpool_limits(limits=1):
        skl_acc = float((clf.predict(xte64.astype(np.float32)) == yte).mean())

    cmd = "python3 scripts/train_mlp.py " + " ".join(sys.argv[1:])
    meta = {
        "dataset": args.dataset,
        "architecture": arch,
        "seed": str(args.seed),
        "epochs": str(args.epochs),
        "command": cmd,
        "sklearn": sklearn.__version__,
    }
    model = build_onnx(
        layers, name,
        f"{args.dataset} MLP {arch} (ReLU), scikit-learn MLPClassifier adam, "
        f"{args.epochs} epochs, seed {args.seed}; input pixel/255 in [0,1]",
        meta,
    )
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(out))

    # Independent check: read the file back and evaluate it in float32.
    back = ppnn_data.load_onnx_mlp(out)
    with threadpool_limits(limits=1):
        pred = ppnn_data.forward(back, xte64, np.float32).argmax(axis=1)
    acc = float((pred == yte).mean())
    summary = {
        "network": name, "dataset": args.dataset, "architecture": arch,
        "seed": args.seed, "epochs": args.epochs, "n_iter": clf.n_iter_,
        "final_loss": round(float(clf.loss_), 6),
        "test_accuracy_onnx_float32": acc, "test_accuracy_sklearn": skl_acc,
        "train_seconds": round(train_s, 1),
        "wall_seconds": round(time.perf_counter() - _T_START, 1), "bytes": out.stat().st_size,
        "command": cmd,
    }
    print(f"[train_mlp] {name}: test accuracy {acc * 100:.2f}% "
          f"(float32 ONNX weights), training {train_s:.1f} s, wrote {out}")
    print("[train_mlp] summary " + json.dumps(summary), flush=True)


if __name__ == "__main__":
    main()
