"""What ``evaluate`` and ``map`` print for a systolic design (text and JSON)."""
from __future__ import annotations

from ...report import table
from ..base import LayerCost, NetworkCost
from .arch import tech_of
from .cost import flat_row

__all__ = ["network_table", "network_json", "map_text", "map_json", "energy_unit"]


def energy_unit(arch, big: bool = True) -> str:
    """``uJ``/``pJ``, or multiples of one MAC for a table normalized to the MAC (eyeriss65)."""
    if tech_of(arch).energy_unit == "pJ":
        return "uJ" if big else "pJ"
    return "M x MAC" if big else "x MAC"


def _uj(pj: float) -> str:
    return f"{pj / 1e6:,.2f}"


def _totals(cost: NetworkCost) -> dict:
    arch = cost.arch
    lat = cost.latency_cycles
    out = {"macs": cost.macs, "latency_cycles": lat, "latency_s": lat / (arch.clock_mhz * 1e6),
           "energy_pj": cost.energy_pj, "area_mm2": cost.area_mm2, "utilization": cost.utilization}
    if "dram_bytes" in cost.figures:
        out["dram_bytes"] = cost.figures["dram_bytes"]
    return out


def _onchip(cost: NetworkCost) -> dict | None:
    """Both ways, when activations are kept on chip: layer by layer and kept, and the kept edges."""
    f = cost.figures
    if "onchip" not in f:
        return None
    edges = [{"producer": e.producer, "consumer": e.consumer, "activation_bytes": e.activation_bytes,
              "dram_bytes_saved": e.dram_bytes_saved, "energy_pj_saved": e.energy_pj_saved}
             for e in f["onchip"].edges]
    return {"layer_by_layer": {k: f[f"{k}_layer_by_layer"] for k in ("latency_cycles", "energy_pj", "dram_bytes")},
            "kept": {"latency_cycles": cost.latency_cycles, "energy_pj": cost.energy_pj,
                     "dram_bytes": f["dram_bytes"]}, "edges": edges}


def _onchip_line(cost: NetworkCost, unit: str) -> list[str]:
    both = _onchip(cost)
    if both is None:
        return []
    lbl, kept = both["layer_by_layer"], both["kept"]
    return [f"activations kept on chip: {len(both['edges'])} edge(s); DRAM {lbl['dram_bytes']:,.0f} -> "
            f"{kept['dram_bytes']:,.0f} B, {lbl['latency_cycles']:,} -> {kept['latency_cycles']:,} cycles, "
            f"energy {_uj(lbl['energy_pj'])} -> {_uj(kept['energy_pj'])} {unit} (layer by layer -> kept)"]


def network_table(cost: NetworkCost, *, title: str, nests: bool = False) -> str:
    """The ``codesign evaluate`` report: per-layer table, totals, energy breakdown."""
    arch = cost.arch
    unit = energy_unit(arch)
    parts = list(cost.layers[0].energy_parts_pj) if cost.layers else []
    flex = arch.flexible
    head = (["layer", "op", "x", "MACs", "cycles", "stall", "util", f"energy {unit}"] + parts
            + (["dataflow"] if flex else []) + ["mapping"])
    rows = []
    for lc in cost.layers:
        f = lc.figures
        rows.append([lc.name, lc.op, lc.count, f"{lc.macs:,}", f"{lc.latency_cycles:,}", f"{f['stall_cycles']:,}",
                     f"{f['utilization']:.1%}", _uj(lc.energy_pj)] + [_uj(lc.energy_parts_pj[p]) for p in parts]
                    + ([f["dataflow"]] if flex else []) + [lc.plan.oneline()])
    out = [f"{title} ({len(cost.layers)} unique layers, {sum(lc.count for lc in cost.layers)} in all) on "
           f"{arch.describe()}", "",
           table(head, rows, "llr" + "r" * (len(head) - 4 - flex) + "l" * (1 + flex)), ""]
    t = _totals(cost)
    e = cost.energy_parts_pj()
    out.append(f"total: {t['macs']:,} MACs, {t['latency_cycles']:,} cycles = {t['latency_s'] * 1e3:.3f} ms "
               f"at {arch.clock_mhz:g} MHz, utilization {t['utilization']:.1%}")
    out.append(f"energy: {_uj(t['energy_pj'])} {unit} (" + ", ".join(
        f"{k} {v / t['energy_pj']:.0%}" for k, v in e.items()) + ")")
    out.append(f"area: {t['area_mm2']:.3f} mm2 (first-order estimate, see README)")
    out += _onchip_line(cost, unit)
    out.append(_certificate(cost))
    out.append("figures are first-order estimates from the tech preset; counts per layer instance, totals x count")
    if nests:
        for lc in cost.layers:
            out += ["", f"{lc.name} ({lc.layer.describe()}):", str(lc.plan)]
    return "\n".join(out)


def _certificate(cost: NetworkCost) -> str:
    """What the mapper searched for these layers and whether each answer is the proven optimum."""
    st = [lc.search for lc in cost.layers if lc.search is not None]
    exact = sum(s.exact for s in st)
    return (f"mapper: {sum(s.considered for s in st):,} mappings in the spaces, {sum(s.evaluated for s in st):,} "
            f"costed, {sum(s.bounded for s in st):,} bounded, {sum(s.seconds for s in st):.2f} s; "
            + ("every layer's mapping is the proven optimum of its space" if exact == len(st)
               else f"{len(st) - exact} of {len(st)} layers not proven optimal (beam)"))


def network_json(cost: NetworkCost) -> dict:
    """The ``layers`` and ``total`` of ``codesign evaluate --json``."""
    layers = []
    for lc in cost.layers:
        f = lc.figures
        layers.append({"name": lc.name, "op": lc.op, "count": lc.count, "dataflow": f["dataflow"], "macs": lc.macs,
                       "compute_cycles": f["compute_cycles"], "stall_cycles": f["stall_cycles"],
                       "latency_cycles": lc.latency_cycles, "energy_pj": lc.energy_pj,
                       "energy_parts_pj": dict(lc.energy_parts_pj), "utilization": f["utilization"],
                       "mapping_efficiency": f["mapping_efficiency"], "mapping": lc.plan.to_dict(),
                       "mapping_str": lc.plan.oneline()})
    out = {"layers": layers, "total": _totals(cost)}
    if (both := _onchip(cost)) is not None:
        out["activations_on_chip"] = both
    return out


def _row(lc: LayerCost) -> dict:
    """The flat cost row of a layer (`cost.flat_row`, as ``Costs.row`` gives it)."""
    f = lc.figures
    return flat_row(lc.macs, {**f, "latency_cycles": lc.latency_cycles, "energy_pj": lc.energy_pj},
                    lc.energy_parts_pj, f["accesses"], f["infeasible"])


def _layer_text(lc: LayerCost, unit: str) -> str:
    f, s = lc.figures, lc.search
    parts = ", ".join(f"{k} {v:.3g}" for k, v in lc.energy_parts_pj.items())
    return "\n".join([
        f"layer {lc.name}: {lc.layer.describe()}" + (f" (x{lc.count})" if lc.count > 1 else ""),
        str(lc.plan),
        f"latency {lc.latency_cycles:,} cycles (compute {f['compute_cycles']:,}, stall {f['stall_cycles']:,}); "
        f"energy {lc.energy_pj:.4g} {unit} ({parts})",
        f"utilization {f['utilization']:.3f}, mapping efficiency {f['mapping_efficiency']:.3f}, "
        f"DRAM {f['dram_bytes']:,.0f} B, glb tile {f['glb_bytes_used']:,.0f} B, acc tile {f['acc_bytes_used']:,.0f} B",
        f"search ({s.strategy}{'' if s.exact else ', not proven optimal'}): {s.considered:,} mappings "
        f"considered, {s.evaluated:,} costed by the cost model, {s.bounded:,} bounded, {s.seconds:.3f} s",
    ])


def map_text(cost: NetworkCost, *, title: str) -> str:
    """The ``codesign map`` text: each layer's loop nest, cost and search statistics."""
    unit = energy_unit(cost.arch, big=False)
    out = [title]
    for lc in cost.layers:
        out += ["", _layer_text(lc, unit)]
    if len(cost.layers) > 1:
        lat = sum(lc.latency_cycles * lc.count for lc in cost.layers)
        en = sum(lc.energy_pj * lc.count for lc in cost.layers)
        secs = sum(lc.search.seconds for lc in cost.layers)
        out.append(f"\ntotal: latency {lat:,} cycles, energy {en:.4g} {unit}; mapped {len(cost.layers)} layers "
                   f"in {secs:.2f} s")
    return "\n".join(out)


def map_json(cost: NetworkCost, objective) -> list[dict]:
    """The ``layers`` of ``codesign map --json``."""
    out = []
    for lc in cost.layers:
        s = lc.search
        out.append({"name": lc.name, "op": lc.op, "count": lc.count, "objective": str(objective),
                    "mapping": lc.plan.to_dict(), "mapping_str": lc.plan.oneline(), "nest": str(lc.plan),
                    "cost": _row(lc), "considered": s.considered, "evaluated": s.evaluated, "bounded": s.bounded,
                    "seconds": s.seconds, "strategy": s.strategy, "exact": s.exact})
    return out
