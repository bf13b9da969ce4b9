"""Mapper figures (not timed tests): prints medians over repeats, one core.

(a) evaluations/second of the cost model on the mapper's own batches
    (`MappingSpace.batch` chunks of a ResNet-50 layer), and scoring rate of
    the bound model inside the exhaustive search;
(b) time to the optimum for every unique ResNet-50 layer on a 16x16 os
    array with a 256 KiB glb (default SystolicArch otherwise), and for the
    whole network through `evaluate_network` (memoized per layer shape);
(c) gap of the beam heuristic to the exhaustive optimum, all ResNet-50
    layers x dataflows os/ws/is x objectives edp/latency/energy;
(d) the Timeloop case: gemm 256^3 on a 16x16 array with Timeloop's energy
    table, best energy vs Timeloop's random mapper (42.47 uJ) and its
    hand-written output-stationary mapping (41.05 uJ).

Run: ``.venv/bin/python benchmarks/bench_mapper.py [--quick]``
"""
import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from codesign.families.systolic.arch import SystolicArch  # noqa: E402
from codesign.families.systolic import network  # noqa: E402
from codesign.families.systolic.cost import evaluate  # noqa: E402
from codesign.objective import Objective  # noqa: E402
from codesign.families.systolic.mapper import best_mapping  # noqa: E402
from codesign.families.systolic.space import MappingSpace  # noqa: E402
from codesign.families.systolic.strategies import Beam, Exhaustive  # noqa: E402
from codesign.workload import gemm  # noqa: E402
from codesign.workload.zoo import zoo  # noqa: E402

TIMELOOP_TECH = dict(mac_pj=0.2, reg_pj=0.1, glb_pj=4.0, acc_pj=4.0, dram_pj=128.0, forward_pj=0.0)


def timed(fn, repeats):
    out, times = None, []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return out, statistics.median(times)


def bench_eval_rate(repeats: int) -> None:
    print("(a) cost model evaluations/s on mapper batches (median of %d)" % repeats)
    w = zoo("resnet50").unique()
    arch = SystolicArch(rows=16, cols=16, glb_kib=256)
    for name in ("layer2.1.conv2", "layer3.0.conv3", "fc"):
        layer = w.layer(name)
        sp = MappingSpace(layer, arch)
        sizes = [len(d) for d in sp.dims]
        n = 1 << 17
        lin = np.random.default_rng(0).integers(0, int(np.prod(sizes)), n)
        batch = sp.batch(np.stack(np.unravel_index(lin, sizes), axis=1), lin % len(sp.dram_orders))
        evaluate(layer, arch, batch)
        _, dt = timed(lambda: evaluate(layer, arch, batch), repeats)
        print(f"    {name:16s} {len(layer.dims)} dims, batch {n:,}: {n / dt / 1e6:5.2f} M evaluations/s")
    for name in ("layer2.1.conv2", "layer3.0.conv3"):
        layer = w.layer(name)
        r, dt = timed(lambda: best_mapping(layer, arch), repeats)
        print(f"    exhaustive search of {name}: {dt * 1e3:.0f} ms for {r.considered:,} mappings "
              f"({r.considered / dt / 1e9:.1f} G mappings/s effective): {r.bounded:,} bounded "
              f"({r.bounded / dt / 1e6:.2f} M/s), {r.evaluated} costed by the cost model")


def bench_resnet(repeats: int) -> None:
    arch = SystolicArch(rows=16, cols=16, dataflow="os", glb_kib=256)
    w = zoo("resnet50").unique()
    print(f"\n(b) time to the optimum, ResNet-50 ({len(w)} unique layers) on {arch.describe()}, objective edp, "
          f"median of {repeats}")
    print(f"    {'layer':20s} {'ms':>7s} {'considered':>14s} {'bounded':>10s} {'costed':>7s}  mapping")
    total = 0.0
    worst = (0.0, "")
    for layer, _ in w:
        r, dt = timed(lambda: best_mapping(layer, arch, "edp"), repeats)
        total += dt
        worst = max(worst, (dt, layer.name))
        print(f"    {layer.name:20s} {dt * 1e3:7.1f} {r.considered:14,} {r.bounded:10,} {r.evaluated:7,}  "
              f"{r.mapping.oneline()}")
    print(f"    sum over layers: {total:.3f} s; slowest layer {worst[1]} {worst[0] * 1e3:.0f} ms")

    def whole():
        network._CACHE.clear()
        return network.evaluate_network(w, arch, objective="edp")
    res, dt = timed(whole, repeats)
    print(f"    whole network (evaluate_network, cold memo): {dt:.3f} s; "
          f"latency {res.latency_cycles:,} cycles, energy {res.energy_pj / 1e6:,.1f} uJ")
    _, dt = timed(lambda: network.evaluate_network(w, arch, objective="edp"), repeats)
    print(f"    again with the memo warm: {dt * 1e3:.1f} ms")


def bench_gap(quick: bool) -> None:
    print("\n(c) beam heuristic vs exhaustive (gap = beam / optimum - 1)")
    w = zoo("resnet50").unique()
    layers = [l for l, _ in w][:: 3 if quick else 1]
    for width in (8, 64):
        gaps, t_ex, t_bm, hits = [], 0.0, 0.0, 0
        for df in ("os", "ws", "is"):
            arch = SystolicArch(rows=16, cols=16, dataflow=df, glb_kib=256)
            for obj in ("edp", "latency", "energy"):
                o = Objective.parse(obj)
                for layer in layers:
                    sp = MappingSpace(layer, arch)
                    t0 = time.perf_counter()
                    ex = Exhaustive().search(sp, o)
                    t1 = time.perf_counter()
                    bm = Beam(width).search(sp, o)
                    t2 = time.perf_counter()
                    t_ex += t1 - t0
                    t_bm += t2 - t1
                    v = lambda r: float(o(r.costs.latency_cycles[r.best], r.costs.energy_pj[r.best]))  # noqa: E731
                    g = v(bm) / v(ex) - 1
                    gaps.append(g)
                    hits += g <= 1e-12
        gaps = np.array(gaps)
        print(f"    Beam(width={width:2d}): {len(gaps)} searches, optimum found in {hits} "
              f"({hits / len(gaps):.0%}), mean gap {gaps.mean():.2%}, max gap {gaps.max():.2%}; "
              f"time {t_bm:.2f} s vs exhaustive {t_ex:.2f} s")


def bench_timeloop(repeats: int) -> None:
    print("\n(d) Timeloop case: gemm 256x256x256 (8-bit outputs), 16x16, 256 KiB glb, 64-word RF, "
          "DRAM 8 B/cycle, no double buffering, ideal timing, Timeloop's energy table; objective energy")
    layer = gemm(256, 256, 256, out_bits=8, name="gemm256")
    for df in ("os", "ws", "is"):
        arch = SystolicArch(rows=16, cols=16, dataflow=df, pe_reg_words=64, glb_kib=256, acc_kib=0,
                            dram_bw_bytes=8, double_buffered=False, timing="ideal", tech=TIMELOOP_TECH)
        r, dt = timed(lambda: best_mapping(layer, arch, "energy"), repeats)
        print(f"    {df}: {r.cost['energy_pj'] / 1e6:.2f} uJ, {r.cost['latency_cycles']:,} cycles, "
              f"{dt * 1e3:.0f} ms ({r.considered:,} considered, {r.evaluated} costed)  {r.mapping.oneline()}")
    print("    Timeloop v3.0.3: random mapper best 42.47 uJ; hand-written output-stationary mapping 41.05 uJ")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer repeats and layers")
    args = ap.parse_args()
    repeats = 3 if args.quick else 5
    bench_eval_rate(repeats)
    bench_resnet(repeats)
    bench_gap(args.quick)
    bench_timeloop(repeats)


if __name__ == "__main__":
    main()
