"""ONNX import time on the nine light ONNX-zoo models shipped in the onnx wheel.

Target (issue 11): under 2 s for DenseNet-121's 1,746 nodes. Prints per
model the ONNX nodes, MAC layers, GMACs and the best of 3 import times
(load + shape inference + conversion), split into the onnx part and ours,
and the time `codesign import -o` takes to write the graph as YAML.

    .venv/bin/python benchmarks/bench_onnx.py
"""
from __future__ import annotations

import time
from pathlib import Path

import onnx

from codesign.workload.onnx_import import import_model
from codesign.workload.onnx_load import load_graph
from codesign.workload.onnx_yaml import layers_yaml

LIGHT = Path(onnx.__file__).parent / "backend" / "test" / "data" / "light"
TARGET_S = 2.0


def best_of(fn, n: int = 3) -> float:
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    print(f"{'model':<14} {'nodes':>6} {'layers':>6} {'GMACs':>8} {'load+infer s':>13} {'total s':>8} {'yaml s':>7}")
    for path in sorted(LIGHT.glob("light_*.onnx")):
        res = import_model(path)
        load = best_of(lambda: load_graph(path))
        total = best_of(lambda: import_model(path))
        write = best_of(lambda: layers_yaml(res))
        name = path.stem[len("light_"):]
        flag = "" if name != "densenet121" else f"   target < {TARGET_S} s: {'met' if total < TARGET_S else 'MISSED'}"
        print(f"{name:<14} {res.onnx_nodes:>6} {len(res.layers):>6} {res.macs / 1e9:>8.3f} {load:>13.3f} "
              f"{total:>8.3f} {write:>7.3f}{flag}")


if __name__ == "__main__":
    main()
