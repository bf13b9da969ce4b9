"""Plain-text tables for the terminal."""
from __future__ import annotations

from .network import NetworkResult

__all__ = ["network_table", "table"]


def table(headers: list[str], rows: list[list], align: str | None = None) -> str:
    """A fixed-width table; `align` has one 'l' or 'r' per column."""
    cells = [[str(c) for c in r] for r in rows]
    w = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)]
    align = align or "l" + "r" * (len(headers) - 1)
    fmt = lambda r: "  ".join(c.ljust(w[i]) if align[i] == "l" else c.rjust(w[i]) for i, c in enumerate(r))  # noqa: E731
    return "\n".join([fmt(headers), "  ".join("-" * x for x in w)] + [fmt(r) for r in cells])


def _uj(pj: float) -> str:
    return f"{pj / 1e6:,.2f}"


def network_table(cfg, res: NetworkResult, nests: bool = False) -> str:
    """The ``codesign evaluate`` report: per-layer table, totals, energy breakdown."""
    arch = res.arch
    from .arch import tech_of
    unit = "uJ" if tech_of(arch).energy_unit == "pJ" else "M x MAC"   # eyeriss65 is normalized to one MAC
    parts = list(res.energy_parts_pj())
    flex = arch.flexible
    head = (["layer", "op", "x", "MACs", "cycles", "stall", "util", f"energy {unit}"] + parts
            + (["dataflow"] if flex else []) + ["mapping"])
    rows = []
    for r in res.layers:
        c = r.cost
        rows.append([r.layer.name, r.layer.op, r.count, f"{c['macs']:,}", f"{c['latency_cycles']:,}",
                     f"{c['stall_cycles']:,}", f"{c['utilization']:.1%}", _uj(c["energy_pj"])]
                    + [_uj(c[f"energy_{p}_pj"]) for p in parts] + ([r.dataflow] if flex else [])
                    + [r.mapping.oneline()])
    out = [f"{cfg.name}: {cfg.workload.name} ({len(res.layers)} unique layers, "
           f"{sum(r.count for r in res.layers)} in all) on {arch.describe()}", "",
           table(head, rows, "llr" + "r" * (len(head) - 4 - flex) + "l" * (1 + flex)), ""]
    t = res.totals()
    e = res.energy_parts_pj()
    out.append(f"total: {t['macs']:,} MACs, {t['latency_cycles']:,} cycles = {t['latency_s'] * 1e3:.3f} ms "
               f"at {arch.clock_mhz:g} MHz, utilization {t['utilization']:.1%}")
    out.append(f"energy: {_uj(t['energy_pj'])} {unit} (" + ", ".join(
        f"{k} {v / t['energy_pj']:.0%}" for k, v in e.items()) + ")")
    out.append(f"area: {t['area_mm2']:.3f} mm2 (first-order estimate, see README)")
    out.append("figures are first-order estimates from the tech preset; counts per layer instance, totals x count")
    if nests:
        for r in res.layers:
            out += ["", f"{r.layer.name} ({r.layer.describe()}):", str(r.mapping)]
    return "\n".join(out)
