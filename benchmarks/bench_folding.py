"""Folding solver time per network, and ours vs FINN's greedy SetFolding at equal budgets.

Run: .venv/bin/python benchmarks/bench_folding.py
Budgets: CNV on a ZCU104 (XCZU7EV: 230,400 LUT, 1,728 DSP, 624 RAMB18; Xilinx DS891);
MobileNet-v1 and ResNet-18 on an Alveo U250 (1,728,000 LUT, 12,288 DSP, 2,688 RAMB36 =
5,376 RAMB18; Xilinx DS962). Both foldings are costed by the same model (rtl timing); the
greedy's budget check covers its engines (FINN sizes FIFOs later), our totals include the FIFOs.
"""
from __future__ import annotations

import time

from codesign.families.streaming import FAMILY, StreamingArch, cost_choice, prepare
from codesign.families.streaming.greedy import greedy_for_budget
from codesign.workload.zoo import zoo

ZCU104 = {"lut": 230400, "dsp": 1728, "bram18": 624}
U250 = {"lut": 1728000, "dsp": 12288, "bram18": 5376}
CASES = [("cnv", {}, ZCU104), ("cnv (U250)", {}, U250), ("mobilenet_v1", {}, U250), ("resnet18", {}, U250)]


def main():
    print(f"{'network':14s} {'solver s':>9s} {'II ours':>12s} {'II greedy':>12s} {'LUT ours':>10s} {'LUT greedy':>10s} "
          f"{'DSP ours':>8s} {'DSP greedy':>10s} {'BRAM ours':>9s} {'BRAM greedy':>11s}")
    for name, kw, budget in CASES:
        net = zoo(name.split()[0])
        arch = StreamingArch(**budget, **kw)
        prepare(net, arch)                         # build the engines and options once (not timed)
        t = time.perf_counter()
        ours = FAMILY.map_network(net, arch)
        dt = time.perf_counter() - t
        pipe, opts = prepare(net, arch)
        g = greedy_for_budget(opts, arch)
        greedy = cost_choice(net, arch, g) if g is not None else None
        f, h = ours.figures, (greedy.figures if greedy else {})
        fmt = lambda d, k: f"{d[k]:,}" if k in d and d[k] == d[k] else "-"  # noqa: E731
        print(f"{name:14s} {dt:9.3f} {fmt(f, 'ii_cycles'):>12s} {fmt(h, 'ii_cycles'):>12s} {fmt(f, 'lut'):>10s} "
              f"{fmt(h, 'lut'):>10s} {fmt(f, 'dsp'):>8s} {fmt(h, 'dsp'):>10s} {fmt(f, 'bram18'):>9s} {fmt(h, 'bram18'):>11s}"
              + ("" if ours.feasible else f"  (ours: {ours.reason})"))


if __name__ == "__main__":
    main()
