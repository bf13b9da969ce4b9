"""Verilator simulation speed of the systolic RTL, and ResNet-18 verified at full size.

    .venv/bin/python benchmarks/bench_verilator.py [--sizes 4 16 32] [--dataflow os] [--k 4096] [--fresh]
                                                  [--no-resnet] [--soc]

Per square array size S: a GEMM (4S x 4S x K) with rows S, cols S, pe K
(16 folds in one glb tile), run through the C++ testbench
(`rtl/verilator_sim.py`). Columns: the build seconds (Verilog + Verilator +
C++ compile; ``cached`` when the build cache had it), the compute cycles
(start to done), every simulated clock (host loads and reads included),
the testbench's wall and CPU seconds and clocks per wall / CPU second (CPU
is steadier on a shared machine). Then `codesign verify
configs/fixed_16x16_os.yaml --sim verilator` as a function call: every
ResNet-18 layer at full size on a 16x16 os array, with the time to map,
build, prepare operands and simulate. ``--fresh`` builds into an empty
cache directory (cold build times). ``--soc`` does the same on the SoC
(`rtl/soc_verilator.py`: array + DMA + registers, DRAM at 16 bytes/cycle in
the testbench): cycles are CYCLES (start to irq, DRAM stalls included),
clocks add the host's AXI4-Lite writes; then ``verify --soc --sim
verilator`` of ResNet-18. Numbers depend on the machine; the README quotes
one run.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from codesign.families.systolic.arch import SystolicArch
from codesign.families.systolic.mapping import Mapping
from codesign.families.systolic.rtl.plan import ROLE_DIMS
from codesign.families.systolic.rtl.sim import Case
from codesign.families.systolic.rtl.verilator import unavailable
from codesign.families.systolic.rtl.verilator_sim import simulate_verilator
from codesign.workload import gemm

ROOT = Path(__file__).resolve().parents[1]


def bench_size(size: int, dataflow: str, k: int, soc: bool = False) -> dict:
    """Build (or fetch) one design (the bare array, or the SoC) and run one GEMM on it; returns the figures."""
    arch = SystolicArch(rows=size, cols=size, dataflow=dataflow, dram_bw_bytes=16, timing="soc" if soc else "rtl")
    layer = gemm(4 * size, 4 * size, k) if dataflow == "os" else gemm(k, 4 * size, 4 * size)
    row, col, time_dim = ROLE_DIMS[dataflow]
    mapping = Mapping.build(layer, rows={row: size}, cols={col: size}, pe={time_dim: layer.bounds[time_dim]})
    rng = np.random.default_rng(0)
    b = layer.bounds
    case = Case(layer, mapping, rng.integers(-128, 128, (b["M"], b["K"])), rng.integers(-128, 128, (b["K"], b["N"])))
    if soc:
        from codesign.families.systolic.rtl.soc_verilator import simulate_soc_verilator
        (run,), built = simulate_soc_verilator(arch, [case])
    else:
        (run,), built = simulate_verilator(arch, [case])
    res = run.result
    return {"size": size, "build_s": built.seconds, "cached": built.cached, "cycles": res.cycles,
            "clocks": run.clocks, "wall_s": run.seconds, "cpu_s": run.cpu_seconds,
            "exact": res.bit_exact and res.cycle_exact}


def bench_resnet(soc: bool = False) -> dict:
    """`codesign verify configs/fixed_16x16_os.yaml --sim verilator [--soc]`, timed in its parts."""
    from codesign.config import load_config
    t0 = time.perf_counter()
    cfg = load_config(ROOT / "configs" / "fixed_16x16_os.yaml")
    cost = cfg.family.map_network(cfg.network, cfg.arch, cfg.objective, cfg.pins)
    design = cfg.family.generate(cfg.arch, cost)
    map_s = time.perf_counter() - t0
    report = design.verify(sim="verilator", soc=soc)
    total = time.perf_counter() - t0
    return {"layers": len(report.rows), "passed": len(report.rows) - report.failed, "map_s": map_s,
            "total_s": total, "sim_s": report.seconds, "header": report.header,
            "rtl_cycles": sum(r.rtl_cycles for r in report.rows)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[4, 16, 32])
    ap.add_argument("--dataflow", default="os", choices=["os", "ws", "is"])
    ap.add_argument("--k", type=int, default=4096, help="streamed length per fold")
    ap.add_argument("--fresh", action="store_true", help="build into an empty cache (cold build times)")
    ap.add_argument("--no-resnet", action="store_true", help="skip verifying ResNet-18")
    ap.add_argument("--soc", action="store_true", help="the SoC (DMA, DRAM at 16 B/cycle) instead of the bare array")
    args = ap.parse_args()
    why = unavailable()
    if why:
        print(f"bench_verilator: {why}", file=sys.stderr)
        return 2
    if args.fresh:
        os.environ["CODESIGN_VERILATOR_CACHE"] = tempfile.mkdtemp(prefix="codesign-vl-bench-")
    print(f"{'array':>7} {'build s':>12} {'cycles':>9} {'clocks':>9} {'wall s':>7} {'cpu s':>7} "
          f"{'clocks/s':>10} {'clocks/cpu-s':>12} exact")
    for size in args.sizes:
        r = bench_size(size, args.dataflow, args.k, args.soc)
        build = f"{r['build_s']:.1f}" + (" cached" if r["cached"] else "")
        print(f"{size:>3}x{size:<3} {build:>12} {r['cycles']:>9} {r['clocks']:>9} {r['wall_s']:>7.2f} "
              f"{r['cpu_s']:>7.2f} {r['clocks'] / r['wall_s']:>10,.0f} {r['clocks'] / r['cpu_s']:>12,.0f} "
              f"{'yes' if r['exact'] else 'NO'}")
    if not args.no_resnet:
        r = bench_resnet(args.soc)
        print(f"\nResNet-18 at full size on 16x16 os{' (SoC)' if args.soc else ''}: {r['passed']}/{r['layers']} layers PASS, "
              f"{r['rtl_cycles']:,} RTL cycles; {r['total_s']:.1f} s in all (mapping {r['map_s']:.1f} s, "
              f"simulation incl. operands and golden {r['sim_s']:.1f} s)")
        print(f"  {r['header']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
