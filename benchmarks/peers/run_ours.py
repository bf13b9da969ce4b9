"""codesign's mapper on the shared cases; prints one JSON line per case.

Run with the project's venv and the checkout on PYTHONPATH:
``PYTHONPATH=. .venv/bin/python benchmarks/peers/run_ours.py [--case NAME] [--schedule scalesim]``

Default: the exhaustive mapper, objective energy, `ideal` timing (one MAC
per PE per cycle, DRAM limited separately: the throughput bound ZigZag and
AccelForge also report). ``--schedule scalesim``: SCALE-Sim's os schedule
on the im2col GEMM view of every layer, in `scalesim` timing (SCALE-Sim
3.0.0's Total Cycles), costed once (no search).
"""
import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from dataclasses import replace  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cases  # noqa: E402

from codesign.families.systolic.arch import SystolicArch  # noqa: E402
from codesign.families.systolic.cost import evaluate_mapping  # noqa: E402
from codesign.families.systolic.mapper import best_mapping  # noqa: E402
from codesign.families.systolic.mapping import Mapping  # noqa: E402
from codesign.workload import gemm  # noqa: E402
from codesign.workload.zoo import zoo  # noqa: E402

TECH = dict(mac_pj=cases.ENERGY_PJ["mac"], reg_pj=cases.ENERGY_PJ["reg"], glb_pj=cases.ENERGY_PJ["glb"],
            acc_pj=cases.ENERGY_PJ["glb"], dram_pj=cases.ENERGY_PJ["dram"], forward_pj=0.0)
ZOO = {"resnet18": ("resnet18", {}), "resnet50.layer2.1.conv2": ("resnet50", {}),
       "bert_base.layer": ("bert_base", {"layers": 1})}


def arch(timing="ideal", dataflow="os"):
    """The shared 16x16 array: one 256 KiB buffer for all tensors (acc_kib 0), one-word PE registers."""
    return SystolicArch(rows=cases.ROWS, cols=cases.COLS, dataflow=dataflow, glb_kib=cases.GLB_KIB, acc_kib=0,
                        pe_reg_words=1, dram_bw_bytes=cases.DRAM_BW_BYTES, double_buffered=False,
                        timing=timing, tech=TECH)


def int8_outputs(layer):
    """The layer with 8-bit outputs: every tool here stores 8-bit values (tests/test_timeloop.py's
    convention, out_bits=8), so buffer capacity and DRAM bytes count the same words."""
    return replace(layer, tensors=tuple(replace(t, bits=cases.OP_BITS) if t.name == "outputs" else t
                                        for t in layer.tensors))


def layers(case):
    """codesign Layers of a case (8-bit outputs), checked against cases.py's shapes (gemm view)."""
    if case not in ZOO:
        spec = cases.CASES[case][0]
        return [(gemm(spec["M"], spec["N"], spec["K"], name=spec["name"], out_bits=cases.OP_BITS), spec)]
    model, kw = ZOO[case]
    net = zoo(model, **kw).unique()
    out = []
    for spec in cases.CASES[case]:
        layer = net.layer(spec["name"])
        g = layer.gemm_view()
        if (g["G"] * g["M"], g["N"], g["K"]) != cases.gemm_view(spec):
            raise SystemExit(f"cases.py {case} {spec['name']}: shape differs from codesign's zoo {g}")
        out.append((int8_outputs(layer), spec))
    return out


def scalesim_mapping(layer):
    """SCALE-Sim's os schedule on a layer's im2col GEMM view: M on rows, N on cols, K streamed whole."""
    g = layer.gemm_view()     # groups or heads (G) run as G separate GEMMs, as SCALE-Sim would run them
    view = gemm(g["M"], g["N"], g["K"], name=layer.name, out_bits=cases.OP_BITS)
    M, N, K = (view.bounds[d] for d in "MNK")
    return view, g["G"], Mapping.build(view, rows={"M": cases.ROWS}, cols={"N": cases.COLS}, pe={"K": K},
                                       glb={"M": math.ceil(M / cases.ROWS), "N": math.ceil(N / cases.COLS)})


def run_case(case, schedule=None):
    """Totals of a case (count-weighted cycles and energy) and its per-layer mappings."""
    a = arch("scalesim" if schedule == "scalesim" else "ideal")
    tot = dict(tool="codesign" if schedule is None else "codesign-scalesim-schedule", case=case,
               seconds=0.0, evaluations=0, considered=0, cycles=0, energy_pj=0.0, layers=[])
    for layer, spec in layers(case):
        t0 = time.process_time()
        if schedule == "scalesim":
            view, times, mapping = scalesim_mapping(layer)
            cost, n, considered = evaluate_mapping(view, a, mapping), 1, 1
            cost = {k: cost[k] * times for k in ("latency_cycles", "energy_pj")}
        else:
            r = best_mapping(layer, a, objective=cases.OBJECTIVE)
            mapping, cost, n, considered = r.mapping, r.cost, r.evaluated + r.bounded, r.considered
        dt = time.process_time() - t0
        tot["seconds"] += dt
        tot["evaluations"] += n
        tot["considered"] += considered
        tot["cycles"] += spec["count"] * int(cost["latency_cycles"])
        tot["energy_pj"] += spec["count"] * float(cost["energy_pj"])
        tot["layers"].append(dict(name=spec["name"], count=spec["count"], seconds=dt,
                                  cycles=int(cost["latency_cycles"]), energy_pj=float(cost["energy_pj"]),
                                  mapping=mapping.to_dict()))
    return tot


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--case", action="append", choices=sorted(cases.CASES), help="default: every case")
    ap.add_argument("--schedule", choices=("scalesim",), help="cost SCALE-Sim's schedule instead of searching")
    args = ap.parse_args(argv)
    for case in args.case or list(cases.CASES):
        print(json.dumps(run_case(case, args.schedule)), flush=True)


if __name__ == "__main__":
    main()
