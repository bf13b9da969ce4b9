"""Mapping evaluations per second of the vectorized cost model, one core.

Layer: ResNet-50 layer2 3x3 conv (C=K=128, 28x28, 3x3, pad 1), on a 16x16
os array with a 256 KiB glb; batches of random valid mappings. Prints the
median over repeats. Run: ``.venv/bin/python benchmarks/bench_cost_model.py``
"""
import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import statistics  # noqa: E402
import time  # noqa: E402

from codesign.families.systolic.arch import SystolicArch  # noqa: E402
from codesign.families.systolic.cost import evaluate  # noqa: E402
from codesign.families.systolic.space import random_batch  # noqa: E402
from codesign.workload.zoo import zoo  # noqa: E402


def main(repeats: int = 7) -> None:
    layer = zoo("resnet50").layer("layer2.1.conv2")
    print(f"layer: {layer.name}: {layer.describe()}  ({layer.macs:,} MACs)")
    for df in ("os", "ws"):
        arch = SystolicArch(rows=16, cols=16, dataflow=df, glb_kib=256)
        for n in (10_000, 100_000, 1_000_000):
            batch = random_batch(layer, arch, n, seed=1)
            evaluate(layer, arch, batch)                      # warm-up
            times = []
            for _ in range(repeats if n < 1_000_000 else 3):
                t0 = time.perf_counter()
                c = evaluate(layer, arch, batch)
                times.append(time.perf_counter() - t0)
            med = statistics.median(times)
            print(f"{df}  batch {n:>9,}: median {med * 1e3:8.1f} ms  -> {n / med / 1e6:5.2f} M evaluations/s"
                  f"  ({c.feasible.mean():.0%} feasible)")


if __name__ == "__main__":
    main()
