"""RTL simulation and export speed: pysim cycles per second, Verilog export seconds;
and the pipelined folds' utilization measured on the RTL.

    .venv/bin/python benchmarks/bench_rtl.py [--sizes 4 8 16] [--dataflow os] [--k 512]
    .venv/bin/python benchmarks/bench_rtl.py --utilization [--sizes 16] [--t 16 32 64 128 256]

Utilization: per square array size S, dataflow os and ws and streamed
length t, a GEMM with 4S x 4S on the array's roles (16 folds of S x S
PEs, t vectors each, one glb tile), simulated on the RTL (bit exact
checked); utilization = MACs / (RTL cycles x PEs), beside the model's
``rtl`` cycles (equal) and the schedule before pipelining (every fold
``t + r + c - 1`` cycles, 3 per tile).

Per square array size S: a GEMM (2S x 2S x K) with one fold per glb tile
(rows S, cols S, pe K), so most simulated cycles stream through a full
mesh. Columns: the design's build seconds (elaborate + Simulator set-up),
the first run (includes pysim's lazy compilation), a second, warm run and
its simulated cycles per wall-clock second and per CPU second of this
process (steadier on a busy machine); host loading goes through the memory
backdoor (in the time, not in the cycles). Last, the seconds to write the
Verilog (Amaranth + Yosys) of the same array, memories sized for the layer.
Numbers depend on the machine; the README quotes one run.
"""
from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np
from amaranth.sim import Simulator

from codesign.families.systolic.arch import SystolicArch
from codesign.families.systolic.mapping import Mapping
from codesign.families.systolic.rtl import RtlParams, Top
from codesign.families.systolic.rtl.export import export_verilog
from codesign.families.systolic.rtl.plan import ROLE_DIMS, make_plan, model_cycles
from codesign.families.systolic.rtl.sim import Case, _Host, golden
from codesign.workload import gemm


def bench(size: int, dataflow: str, k: int) -> dict:
    """Build, simulate and export one design; returns the timings."""
    arch = SystolicArch(rows=size, cols=size, dataflow=dataflow)
    layer = gemm(2 * size, 2 * size, k)
    row, col, time_dim = ROLE_DIMS[dataflow]
    mapping = Mapping.build(layer, rows={row: size}, cols={col: size}, pe={time_dim: layer.bounds[time_dim]})
    rng = np.random.default_rng(0)
    a = rng.integers(-128, 128, (2 * size, k))
    b = rng.integers(-128, 128, (k, 2 * size))
    plan = make_plan(arch, layer, mapping)
    params = RtlParams.for_plans(arch, [plan])

    t0 = time.perf_counter()
    top = Top(params)
    sim = Simulator(top)
    sim.add_clock(1e-6)
    build_s = time.perf_counter() - t0
    out = {}

    async def tb(ctx):
        for key in ("first_s", "run_s"):        # the first run includes pysim's lazy compilation
            host = _Host(top, arch, Case(layer, mapping, a, b), plan, backdoor=True)
            t1, c1 = time.perf_counter(), time.process_time()
            cycles, _ = await host.run(ctx)
            out[key], out["cpu_s"] = time.perf_counter() - t1, time.process_time() - c1
            out["cycles"] = sum(cycles)
            out["exact"] = bool(np.array_equal(host.out, golden(a, b, arch.acc_bits)))

    sim.add_testbench(tb)
    sim.run()
    with tempfile.TemporaryDirectory() as d:
        t2 = time.perf_counter()
        export_verilog(arch, d, mapping=mapping, layer=layer)
        export_s = time.perf_counter() - t2
    return {"size": size, "build_s": build_s, "export_s": export_s, **out}


def run_rtl(arch: SystolicArch, layer, mapping, a, b) -> tuple[int, bool]:
    """(RTL busy cycles, bit exact) of one layer, loaded through the memory backdoor."""
    plan = make_plan(arch, layer, mapping)
    top = Top(RtlParams.for_plans(arch, [plan]))
    sim = Simulator(top)
    sim.add_clock(1e-6)
    out = {}

    async def tb(ctx):
        host = _Host(top, arch, Case(layer, mapping, a, b), plan, backdoor=True)
        cycles, _ = await host.run(ctx)
        out["cycles"], out["exact"] = sum(cycles), bool(np.array_equal(host.out, golden(a, b, arch.acc_bits)))

    sim.add_testbench(tb)
    sim.run()
    return out["cycles"], out["exact"]


def utilization(size: int, dataflow: str, t: int) -> dict:
    """RTL-measured utilization of 16 back-to-back folds streaming `t` vectors each."""
    arch = SystolicArch(rows=size, cols=size, dataflow=dataflow)
    row, col, time_dim = ROLE_DIMS[dataflow]
    layer = gemm(**{row: 4 * size, col: 4 * size, time_dim: t})
    mapping = Mapping.build(layer, rows={row: size}, cols={col: size}, pe={time_dim: t}, glb={row: 4, col: 4})
    rng = np.random.default_rng(0)
    M, N, K = (layer.bounds[d] for d in "MNK")
    a, b = rng.integers(-128, 128, (M, K)), rng.integers(-128, 128, (K, N))
    cycles, exact = run_rtl(arch, layer, mapping, a, b)
    folds = 16
    before = 3 + folds * (t + 2 * size - 1)
    pes = size * size
    return {"cycles": cycles, "model": model_cycles(arch, layer, mapping), "exact": exact,
            "util": layer.macs / (cycles * pes), "before": layer.macs / (before * pes)}


def main_utilization(sizes, ts) -> None:
    print(f"{'array':>7} {'dataflow':>8} {'t':>5} {'RTL cycles':>10} {'model':>7} {'utilization':>11} "
          f"{'before':>7}  result")
    for s in sizes:
        for df in ("os", "ws"):
            for t in ts:
                r = utilization(s, df, t)
                print(f"{s:>3}x{s:<3} {df:>8} {t:>5} {r['cycles']:>10} {r['model']:>7} {r['util']:>10.1%} "
                      f"{r['before']:>7.1%}  {'bit exact' if r['exact'] else 'WRONG'}"
                      f"{'' if r['model'] == r['cycles'] else ' MODEL MISMATCH'}")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[4, 8, 16])
    ap.add_argument("--dataflow", default="os", choices=("os", "ws", "is"))
    ap.add_argument("--k", type=int, default=512, help="reduction length (os) / streamed length")
    ap.add_argument("--utilization", action="store_true", help="pipelined folds' utilization instead of speed")
    ap.add_argument("--t", type=int, nargs="+", default=[16, 32, 64, 128, 256], help="streamed lengths")
    args = ap.parse_args(argv)
    if args.utilization:
        main_utilization(args.sizes if args.sizes != [4, 8, 16] else [16], args.t)
        return
    print(f"{'array':>7} {'dataflow':>8} {'cycles':>7} {'build s':>8} {'1st run s':>9} {'run s':>7} "
          f"{'cycles/s':>9} {'cyc/cpu-s':>9} {'verilog s':>9}  result")
    for s in args.sizes:
        r = bench(s, args.dataflow, args.k)
        print(f"{s:>3}x{s:<3} {args.dataflow:>8} {r['cycles']:>7} {r['build_s']:>8.2f} {r['first_s']:>9.2f} "
              f"{r['run_s']:>7.2f} "
              f"{r['cycles'] / r['run_s']:>9.0f} {r['cycles'] / r['cpu_s']:>9.0f} {r['export_s']:>9.2f}  "
              f"{'bit exact' if r['exact'] else 'WRONG'}")


if __name__ == "__main__":
    main()
