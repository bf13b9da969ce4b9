"""SCALE-Sim 3.0.0 (PyPI scalesim) on the shared cases; prints one JSON line per case.

Run in its own environment (benchmarks/peers/setup.sh scalesim):
``benchmarks/peers/.envs/scalesim/bin/python benchmarks/peers/run_scalesim.py [--case NAME]``

SCALE-Sim has no mapper: it simulates one fixed schedule (here os on the
16x16 array), so `evaluations` is 1 per layer and `seconds` is the CPU time
of its simulation. Every layer goes in as its im2col GEMM (M, N, K) in
SCALE-Sim's GEMM mode (its conv output size differs from PyTorch's when the
stride does not divide H - R; shared/reference/README.md), batched matmuls
as B separate GEMMs. It has three SRAMs, not one shared buffer: the 256 KiB
are split 96 (ifmap) + 96 (filter) + 64 (ofmap) KiB. Bandwidth mode CALC
(no stalls). SCALE-Sim reports cycles and access counts, no energy:
`energy_pj` is its counts times the shared table (MACs x MAC + SRAM reads
and writes x buffer + DRAM reads and writes x DRAM; no register term).
"""
import contextlib
import csv
import io
import json
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cases  # noqa: E402

from scalesim.scale_sim import scalesim  # noqa: E402

SRAM_KIB = dict(ifmap=96, filter=96, ofmap=64)
assert sum(SRAM_KIB.values()) == cases.GLB_KIB

CONFIG = f"""[general]
run_name = peers

[architecture_presets]
ArrayHeight: {cases.ROWS}
ArrayWidth: {cases.COLS}
IfmapSramSzkB: {SRAM_KIB['ifmap']}
FilterSramSzkB: {SRAM_KIB['filter']}
OfmapSramSzkB: {SRAM_KIB['ofmap']}
IfmapOffset: 0
FilterOffset: 10000000
OfmapOffset: 20000000
Bandwidth: {cases.DRAM_BW_BYTES}
Dataflow: os
MemoryBanks: 1
ReadRequestBuffer: 512
WriteRequestBuffer: 512

[layout]
IfmapCustomLayout: False
IfmapSRAMBankBandwidth: 10
IfmapSRAMBankNum: 10
IfmapSRAMBankPort: 2
FilterCustomLayout: False
FilterSRAMBankBandwidth: 10
FilterSRAMBankNum: 10
FilterSRAMBankPort: 2

[sparsity]
SparsitySupport: false

[run_presets]
InterfaceBandwidth: CALC
UseRamulatorTrace: False
"""


def read_csv(path):
    with open(path) as f:
        return [{k.strip(): v.strip() for k, v in r.items() if k} for r in csv.DictReader(f)]


def run_layer(spec, folder):
    """(CPU seconds, cycles, energy_pj, report row) of SCALE-Sim's run of one layer's GEMM view."""
    m, n, k = cases.gemm_view(spec)
    heads = spec.get("B", 1) if spec["op"] == "gemm" else 1
    m //= heads
    paths = {name: os.path.join(folder, f"{spec['name']}.{name}") for name in ("cfg", "csv", "layout.csv")}
    with open(paths["cfg"], "w") as f:
        f.write(CONFIG)
    with open(paths["csv"], "w") as f:
        f.write(f"Layer, M, N, K,\n{spec['name']}, {m}, {n}, {k},\n")
    with open(paths["layout.csv"], "w") as f:
        f.write("Layer,\n")
    top = os.path.join(folder, spec["name"])
    t0 = time.process_time()
    with contextlib.redirect_stdout(io.StringIO()):
        sim = scalesim(save_disk_space=True, verbose=False, config=paths["cfg"], topology=paths["csv"],
                       layout=paths["layout.csv"], input_type_gemm=True)
        sim.run_scale(top_path=top)
    dt = time.process_time() - t0
    run = os.path.join(top, "peers")
    comp = read_csv(os.path.join(run, "COMPUTE_REPORT.csv"))[0]
    acc = read_csv(os.path.join(run, "DETAILED_ACCESS_REPORT.csv"))[0]
    e = cases.ENERGY_PJ
    sram = sum(float(v) for key, v in acc.items() if key.startswith("SRAM") and ("Reads" in key or "Writes" in key))
    dram = sum(float(v) for key, v in acc.items() if key.startswith("DRAM") and ("Reads" in key or "Writes" in key))
    cycles = int(float(comp["Total Cycles"]))
    energy = m * n * k * e["mac"] + sram * e["glb"] + dram * e["dram"]
    return dt * heads, cycles * heads, energy * heads, dict(compute=comp, accesses=acc, times=heads)


def main(argv=None):
    import argparse
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--case", action="append", choices=sorted(cases.CASES))
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        for case in args.case or list(cases.CASES):
            out = dict(tool="scalesim", version="3.0.0", case=case, seconds=0.0, evaluations=0, cycles=0,
                       energy_pj=0.0, layers=[], subset=False)
            for spec in cases.CASES[case]:
                dt, cyc, energy, report = run_layer(spec, folder)
                out["seconds"] += dt
                out["evaluations"] += 1
                out["cycles"] += spec["count"] * cyc
                out["energy_pj"] += spec["count"] * energy
                out["layers"].append(dict(name=spec["name"], count=spec["count"], seconds=dt, cycles=cyc,
                                          energy_pj=energy, mapping="os: M on rows, N on cols, K streamed",
                                          report=report))
            print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
