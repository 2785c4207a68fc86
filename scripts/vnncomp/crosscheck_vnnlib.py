#!/usr/bin/env python3
"""Dev check (not CI): ppnn's reading of every vnnlib-satisfactory query against the PyPI
`vnnlib` parser's (parse_query_file, to_dnf, to_linear_expr; not its compat.transform, which is
wrong when input and output disjunctions combine). Both are put in one normal form — a set of
disjuncts, each a set of constraints `Σ coeff·var + c (<= | <) 0` over flat element indices —
and compared. Queries either parser refuses are listed, not compared.

    PY=$(scripts/install-vnnlib-tools.sh --dev | tail -1)
    cargo build --release --example dump_property
    $PY scripts/vnncomp/crosscheck_vnnlib.py [QUERY.vnnlib ...]   # default: the whole suite
"""
import glob
import itertools
import json
import os
import subprocess
import sys
import tempfile

import vnnlib

ROOT = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", ".."))
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
DUMP = os.path.join(TARGET, "release", "examples", "dump_property")


def canon(terms, const, strict):
    t = tuple(sorted((k, round(v, 12)) for k, v in terms.items() if v != 0))
    return (t, round(const, 12), strict)


def ppnn(path):
    out = json.loads(subprocess.run([DUMP, path], capture_output=True, text=True).stdout)
    if "error" in out:
        return None, out["error"]
    dis = set()
    for d in out["disjuncts"]:
        cs = frozenset(
            canon({**{("x", i): a for i, a in c["x"]}, **{("y", j): b for j, b in c["y"]}},
                  c["constant"], c["strict"]) for c in d["constraints"])
        dis.add(cs)
    return dis, None


def reference(path):
    q = vnnlib.parse_query_file(path)
    layout = {}
    off = {"input": 0, "output": 0}
    for n in q.networks:
        for kind, defs in (("input", n.inputs), ("output", n.outputs)):
            for d in defs:
                shape = [int(s) for s in d.shape]
                layout[d.name] = ("x" if kind == "input" else "y", off[kind], shape)
                size = 1
                for s in shape:
                    size *= s
                off[kind] += size

    def lin(e, sign, acc):
        le = e.to_linear_expr()
        for t in le.terms:
            kind, o, shape = layout[t.var.name]
            idx = list(t.var.indices)
            flat = 0
            if len(idx) == 1 and len(shape) != 1:
                flat = idx[0]
            else:
                for i, s in zip(idx, shape):
                    flat = flat * s + i
            key = (kind, o + flat)
            acc[key] = acc.get(key, 0.0) + sign * t.coeff
        return sign * le.constant

    def literals(c):
        name = type(c).__name__
        a, b = {}, {}
        ca, cb = lin(c.lhs, 1.0, a), lin(c.rhs, 1.0, b)
        diff = dict(a)
        for k, v in b.items():
            diff[k] = diff.get(k, 0.0) - v
        neg = {k: -v for k, v in diff.items()}
        d0 = ca - cb
        if name == "LessEqual":
            return [[canon(diff, d0, False)]]
        if name == "LessThan":
            return [[canon(diff, d0, True)]]
        if name == "GreaterEqual":
            return [[canon(neg, -d0, False)]]
        if name == "GreaterThan":
            return [[canon(neg, -d0, True)]]
        if name == "Equal":
            return [[canon(diff, d0, False), canon(neg, -d0, False)]]
        if name == "NotEqual":
            return [[canon(diff, d0, True)], [canon(neg, -d0, True)]]
        raise ValueError(name)

    per_assert = []
    for a in q.assertions:
        dis = []
        for conj in a.expr.to_dnf():
            parts = [literals(c) for c in conj]
            for combo in itertools.product(*parts):
                dis.append([l for group in combo for l in group])
        per_assert.append(dis)
    out = set()
    for combo in itertools.product(*per_assert):
        out.add(frozenset(l for conj in combo for l in conj))
    return out


def main():
    files = sys.argv[1:]
    tmp = None
    if not files:
        tmp = tempfile.mkdtemp()
        os.chdir(tmp)
        from vnntest.core.generator import generate_all_tests
        generate_all_tests()
        files = sorted(glob.glob(os.path.join(tmp, ".vnnlib-satisfactory", "tests", "*", "*.vnnlib")))
    same = differ = skipped = 0
    for f in files:
        mine, err = ppnn(f)
        try:
            ref = reference(f)
        except Exception as e:  # noqa: BLE001 - the reference refuses: list it
            print(f"skip {os.path.basename(f)}: vnnlib refuses ({str(e).splitlines()[0][:80]})")
            skipped += 1
            continue
        if mine is None:
            print(f"skip {os.path.basename(f)}: ppnn refuses ({err[:100]})")
            skipped += 1
            continue
        # ppnn drops constant comparisons and empty disjuncts; compare what both keep.
        ref = {d for d in ref if all(c[0] for c in d)}
        if mine == ref:
            same += 1
        else:
            differ += 1
            print(f"DIFFER {f}:\n  ppnn:   {sorted(map(sorted, mine))[:3]}\n  vnnlib: {sorted(map(sorted, ref))[:3]}")
    print(f"crosscheck: {same} identical, {differ} different, {skipped} refused by one side")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
