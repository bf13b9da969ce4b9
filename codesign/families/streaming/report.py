"""The ``evaluate``/``map`` text and the ``--json`` shape of a streaming pipeline."""
from __future__ import annotations

import math

from ..base import NetworkCost

__all__ = ["pipeline_table", "pipeline_json"]


def _table(headers, rows, align):
    cells = [[str(c) for c in r] for r in rows]
    w = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    fmt = lambda r: "  ".join(c.ljust(w[i]) if align[i] == "l" else c.rjust(w[i]) for i, c in enumerate(r))  # noqa: E731
    return "\n".join([fmt(headers), "  ".join("-" * x for x in w)] + [fmt(r) for r in cells])


def _n(v):
    return "-" if v is None else f"{v:,}"


def pipeline_table(cost: NetworkCost, title: str) -> str:
    """Per engine: PE, SIMD, cycles (the bottleneck marked *), input FIFO depth, resources; totals."""
    f = cost.figures
    arch = cost.arch
    if not cost.feasible:
        return f"{title} on {arch.describe()}\n\ninfeasible: {cost.reason}"
    rows = []
    for lc in cost.layers:
        g = lc.figures
        mark = "*" if g.get("bottleneck") else ""
        rows.append([lc.name, lc.op, _n(g.get("pe")), _n(g.get("simd")), f"{g['cycles']:,}{mark}",
                     _n(g.get("swu_cycles")), _n(g.get("fifo_depth")), f"{g['lut']:,}", f"{g['dsp']:,}",
                     f"{g['bram18']:,}", g.get("weights", "")])
    head = ["engine", "op", "PE", "SIMD", "cycles", "swu", "fifo", "LUT", "DSP", "BRAM18", "weights"]
    clock = arch.clock_mhz * 1e6
    out = [f"{title} on {arch.describe()}", "", _table(head, rows, "llrrrrrrrrl"), "",
           f"II {f['ii_cycles']:,} cycles (* bottleneck: {f['bottleneck']}) = {cost.throughput_fps:,.1f} frames/s "
           f"at {arch.clock_mhz:g} MHz",
           f"latency {cost.latency_cycles:,.0f} cycles for {f['frames']} frame(s) = "
           f"{cost.latency_cycles / clock * 1e3:.3f} ms (first frame {f['fill_cycles']:,} cycles; "
           f"timing {arch.timing})",
           f"resources: {f['lut_used']:,} LUT, {f['dsp_used']:,} DSP, {f['bram18_used']:,} BRAM18 "
           f"(FIFOs {f['fifo_lut']:,} LUT, {f['fifo_bram18']:,} BRAM18)",
           f"energy {cost.energy_pj / 1e6:,.2f} uJ per inference (" + ", ".join(
               f"{k} {v / cost.energy_pj:.0%}" for k, v in cost.energy_parts_pj().items() if cost.energy_pj) + ")",
           f"area {cost.area_mm2:.3f} mm2 (first-order estimate); solver {f['solver_s'] * 1e3:.1f} ms"
           + ("" if f.get("exact", True) else " (not proven optimal: a search limit or the FIFO fallback, see solver.py)")]
    return "\n".join(out)


def pipeline_json(cost: NetworkCost) -> dict:
    """``layers`` (name, op, pe, simd, cycles, fifo_depth, lut, dsp, bram18, swu_cycles for conv)
    and ``total`` (ii_cycles, latency_cycles, throughput_fps, energy_pj, area_mm2, lut, dsp, bram18)."""
    layers = []
    for lc in cost.layers:
        g = lc.figures
        d = {"name": lc.name, "op": lc.op, "pe": g.get("pe"), "simd": g.get("simd"), "cycles": g["cycles"],
             "fifo_depth": g.get("fifo_depth"), "lut": g["lut"], "dsp": g["dsp"], "bram18": g["bram18"]}
        if g.get("swu_cycles") is not None:
            d["swu_cycles"] = g["swu_cycles"]
        layers.append(d)
    f = cost.figures
    num = lambda v: None if v is None or (isinstance(v, float) and not math.isfinite(v)) else v  # noqa: E731
    total = {"ii_cycles": num(f.get("ii_cycles")), "latency_cycles": num(cost.latency_cycles),
             "throughput_fps": num(cost.throughput_fps), "energy_pj": num(cost.energy_pj),
             "area_mm2": num(cost.area_mm2), "lut": num(f.get("lut_used")), "dsp": num(f.get("dsp_used")),
             "bram18": num(f.get("bram18_used"))}
    out = {"layers": layers, "total": total}
    if not cost.feasible:
        out["infeasible"] = cost.reason
    return out
