"""Streaming family figures: (a) folding solver time per network, (b) ours vs FINN's greedy
SetFolding at equal budgets, (c) sweeps' trials/s (mixed families nested; streaming joint), (d) joint
mode's costing alone: a batch of foldings at once (`cost_batch`) against one folding at a time.

Run: .venv/bin/python benchmarks/bench_folding.py [--skip-sweeps]
Budgets: CNV and TFC on a ZCU104 (XCZU7EV: 230,400 LUT, 1,728 DSP, 624 RAMB18; Xilinx DS891);
MobileNet-v1 and ResNet-18 on an Alveo U250 (1,728,000 LUT, 12,288 DSP, 2,688 RAMB36 =
5,376 RAMB18; Xilinx DS962). Both foldings are costed by the same model (rtl timing); the
greedy's budget check covers its engines (FINN sizes FIFOs later), our totals include the FIFOs.
"""
from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

import yaml

import numpy as np

from codesign.families.streaming import FAMILY, StreamingArch, cost_batch, cost_choice, prepare
from codesign.families.streaming.greedy import greedy_for_budget
from codesign.workload.zoo import zoo

ROOT = Path(__file__).resolve().parent.parent
ZCU104 = {"lut": 230400, "dsp": 1728, "bram18": 624}
U250 = {"lut": 1728000, "dsp": 12288, "bram18": 5376}
POINTS = [("cnv", ZCU104), ("tfc", ZCU104), ("mobilenet_v1", U250), ("resnet18", U250)]
CASES = [("cnv", ZCU104), ("cnv (U250)", U250), ("mobilenet_v1", U250), ("resnet18", U250)]


def _median_s(fn, repeat=3) -> float:
    out = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return statistics.median(out)


def solver_time() -> None:
    print("(a) folding solver per network, one point (map_network: solve + FIFO check + costing; engines "
          "and options prepared once, not timed), median of 3, timing rtl and finn")
    print(f"    {'network':14s} {'budget':7s} {'timing':6s} {'seconds':>8s} {'II cycles':>12s} {'exact':>6s}")
    for name, budget in POINTS:
        for timing in ("rtl", "finn"):
            net, arch = zoo(name), StreamingArch(timing=timing, **budget)
            prepare(net, arch)
            dt = _median_s(lambda: FAMILY.map_network(net, arch))
            c = FAMILY.map_network(net, arch)
            print(f"    {name:14s} {'ZCU104' if budget is ZCU104 else 'U250':7s} {timing:6s} {dt:8.3f} "
                  f"{c.figures['ii_cycles']:>12,} {str(c.figures['exact']):>6s}")


def versus_greedy() -> None:
    print("(b) ours vs FINN's greedy SetFolding at equal budgets (rtl timing)")
    print(f"    {'network':14s} {'II ours':>12s} {'II greedy':>12s} {'LUT ours':>10s} {'LUT greedy':>10s} "
          f"{'DSP ours':>8s} {'DSP greedy':>10s} {'BRAM ours':>9s} {'BRAM greedy':>11s}")
    for name, budget in CASES:
        net = zoo(name.split()[0])
        arch = StreamingArch(**budget)
        ours = FAMILY.map_network(net, arch)
        pipe, opts = prepare(net, arch)
        g = greedy_for_budget(opts, arch)
        greedy = cost_choice(net, arch, g) if g is not None else None
        f, h = ours.figures, (greedy.figures if greedy else {})
        fmt = lambda d, k: f"{d[k]:,}" if k in d and d[k] == d[k] else "-"  # noqa: E731
        print(f"    {name:14s} {fmt(f, 'ii_cycles'):>12s} {fmt(h, 'ii_cycles'):>12s} {fmt(f, 'lut_used'):>10s} "
              f"{fmt(h, 'lut_used'):>10s} {fmt(f, 'dsp_used'):>8s} {fmt(h, 'dsp_used'):>10s} "
              f"{fmt(f, 'bram18_used'):>9s} {fmt(h, 'bram18_used'):>11s}"
              + ("" if ours.feasible else f"  (ours: {ours.reason})"))


def _sweep_rate(raw: dict, path: Path, repeat: int = 3) -> tuple[float, int]:
    from codesign.config import parse_config
    from codesign.search import evaluate
    from codesign.search.settings import parse_search
    from codesign.search.sweep import run_sweep
    from codesign.families import streaming
    rates = []
    for _ in range(repeat):
        evaluate._MEMO.clear()
        streaming._CACHE.clear()
        cfg = parse_config(raw, str(path))
        with tempfile.TemporaryDirectory() as tmp:
            rep = run_sweep(cfg, parse_search(cfg), Path(tmp), progress=False)
        rates.append(raw["search"]["n_trials"] / rep.seconds)
    return statistics.median(rates), raw["search"]["n_trials"]


def sweeps() -> None:
    path = ROOT / "configs" / "systolic_vs_streaming.yaml"
    raw = yaml.safe_load(path.read_text())
    raw["search"].update(mapping="nested", n_trials=120)
    rate, n = _sweep_rate(raw, path)
    print(f"(c) mixed-family sweep (configs/systolic_vs_streaming.yaml, nested, {n} trials, fresh caches): "
          f"{rate:.1f} trials/s (median of 3)")
    path = ROOT / "configs" / "streaming_cnv.yaml"
    raw = yaml.safe_load(path.read_text())
    raw.pop("mapping", None)
    raw["search"] = {"objectives": ["latency_cycles", "energy_pj"], "mapping": "joint", "sampler": "nsga2",
                     "n_trials": 240, "batch": 48, "seed": 0}
    rate, n = _sweep_rate(raw, path)
    print(f"    streaming joint-mode sweep (configs/streaming_cnv.yaml's hardware, Optuna samples PE/SIMD per "
          f"engine, {n} trials): {rate:.1f} trials/s (median of 3)")


def joint_costing(batch: int = 48, repeat: int = 5) -> None:
    """Trials/s of joint mode's costing on CNV (ZCU104 budget): `batch` random foldings costed together
    against the same foldings costed one at a time (median of `repeat`)."""
    net, arch = zoo("cnv"), StreamingArch(**ZCU104)
    pipe, opts = prepare(net, arch)
    rng = np.random.default_rng(0)
    idx = {k: rng.choice(np.nonzero(~o.dram)[0], batch) for k, o in opts.items()}
    cost_batch(net, arch, {k: v[:2] for k, v in idx.items()})
    together = _median_s(lambda: cost_batch(net, arch, idx), repeat)
    alone = _median_s(lambda: [cost_choice(net, arch, {k: int(v[r]) for k, v in idx.items()})
                               for r in range(batch)], repeat)
    print(f"(d) joint-mode costing, CNV, {batch} random foldings (median of {repeat}): batch {batch / together:.0f} "
          f"trials/s, one at a time {batch / alone:.0f} trials/s, speed-up {alone / together:.1f}x")


def main():
    solver_time()
    versus_greedy()
    joint_costing()
    if "--skip-sweeps" not in sys.argv:
        sweeps()


if __name__ == "__main__":
    main()
