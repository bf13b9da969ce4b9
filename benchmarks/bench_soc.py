"""The SoC's schedule (``soc`` timing) beside the analytic ``rtl`` overlap, and its cost-model speed.

(a) ResNet-18 layers on a 16x16 os array, 256 KiB glb, at 16 and 4 bytes/cycle: compute cycles, the
    ``rtl`` latency of the mapper's best mapping (objective latency), the ``soc`` latency of that
    mapping, and the ``soc`` latency of the best ``soc`` mapping;
(b) cost-model evaluations/s in ``rtl`` and ``soc`` timing (one core, 100,000 random mappings of
    ResNet-50 ``layer2.1.conv2``, median of 3).

Run: ``.venv/bin/python benchmarks/bench_soc.py``
"""
import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import statistics  # noqa: E402
import time  # noqa: E402
from dataclasses import replace  # noqa: E402

from codesign.families.systolic.arch import SystolicArch  # noqa: E402
from codesign.families.systolic.cost import evaluate, evaluate_mapping  # noqa: E402
from codesign.families.systolic.mapper import best_mapping  # noqa: E402
from codesign.families.systolic.space import random_batch  # noqa: E402
from codesign.objective import Objective  # noqa: E402
from codesign.workload.zoo import zoo  # noqa: E402


def compare() -> None:
    print("(a) latency cycles: rtl overlap vs the SoC's schedule")
    w = zoo("resnet18").unique()
    obj = Objective.parse("latency")
    for bw in (16.0, 4.0):
        arch = SystolicArch(rows=16, cols=16, glb_kib=256, dram_bw_bytes=bw)
        soc = replace(arch, timing="soc")
        for name in ("layer1.0.conv1", "layer4.0.conv2", "fc"):
            layer = w.layer(name)
            m = best_mapping(layer, arch, obj).mapping
            a, b = evaluate_mapping(layer, arch, m), evaluate_mapping(layer, soc, m)
            c = evaluate_mapping(layer, soc, best_mapping(layer, soc, obj).mapping)
            print(f"  {bw:g} B/cycle {name:15s} compute {a['compute_cycles']:>9,}  rtl {a['latency_cycles']:>9,}  "
                  f"soc (same mapping) {b['latency_cycles']:>9,}  soc (its best) {c['latency_cycles']:>9,}  "
                  f"= {c['latency_cycles'] / a['latency_cycles']:.2f} x rtl")


def speed() -> None:
    print("(b) cost model evaluations/s, 100,000 mappings")
    layer = zoo("resnet50").layer("layer2.1.conv2")
    for timing in ("rtl", "soc"):
        arch = SystolicArch(rows=16, cols=16, glb_kib=256, timing=timing)
        batch = random_batch(layer, arch, 100_000, seed=1)
        evaluate(layer, arch, batch)
        times = []
        for _ in range(3):
            t0 = time.perf_counter()
            evaluate(layer, arch, batch)
            times.append(time.perf_counter() - t0)
        print(f"  {timing}: {len(batch) / statistics.median(times) / 1e6:.2f} M/s")


if __name__ == "__main__":
    compare()
    speed()
