"""Joint mode on the systolic array: each trial's own tiling, costed in batches.

Per unique layer, the trials' tilings are decoded (`tiling.LayerTiling.decode`)
and costed with one vectorized `cost.evaluate` call per group of compatible
architectures (same dataflow, timing, tech, bit widths, buffering and
accumulator presence); a flexible array runs each layer in the trial's
``dataflow/<layer>``. A tile that overflows the array or a buffer is not
repaired: the trial's ``fits`` is the summed log2 overflow (a graded
constraint for the sampler) and its ``reason`` names the layer.
"""
from __future__ import annotations

import numpy as np

from ...workload import Workload
from ..base import LayerCost, NetworkCost
from .arch import SystolicArch, area_mm2
from .cost import INFEASIBLE, evaluate
from .mapping import LEVELS, TEMPORAL, Mapping, MappingBatch
from .tiling import WorkloadTiling

__all__ = ["joint_costs", "encode"]


def _group_key(a: SystolicArch) -> tuple:
    return (a.dataflow, a.timing, a.tech, a.op_bits, a.acc_bits, a.out_bits, a.double_buffered, a.halo_reuse,
            a.acc_kib > 0)


def _overflow(used, cap) -> np.ndarray:
    return np.log2(np.maximum(np.asarray(used, dtype=float) / cap, 1.0))


class _Mapped:
    """A batch row's decoded mapping (``to_dict``/``oneline`` without building a `Mapping`)."""

    def __init__(self, F: np.ndarray, rank: np.ndarray, dims: tuple[str, ...]):
        self._d = {lvl: {d: int(f) for d, f in zip(dims, F[i]) if f > 1} for i, lvl in enumerate(LEVELS)}
        self._d["order"] = {lvl: [dims[j] for j in np.argsort(rank[t], kind="stable")]
                            for t, lvl in enumerate(TEMPORAL)}

    def to_dict(self) -> dict:
        return self._d


def _layer_batch(layer, count, lt, archs, params):
    """Cost one layer for every trial; returns per-trial LayerCost, overflow and reason."""
    eff = [a.running(p[f"dataflow/{layer.name}"]) if a.flexible else a for a, p in zip(archs, params)]
    groups: dict[tuple, list[int]] = {}
    for i, a in enumerate(eff):
        groups.setdefault(_group_key(a), []).append(i)
    out: list = [None] * len(archs)
    for idx in groups.values():
        g = [eff[i] for i in idx]
        inner, rank = lt.decode([params[i] for i in idx], [a.dataflow for a in g])
        batch = MappingBatch.from_arrays(layer, inner, rank)
        c = evaluate(layer, g, batch)
        div = 2 if g[0].double_buffered else 1
        over = (_overflow(inner[:, 1].prod(axis=1), np.array([a.rows for a in g]))
                + _overflow(inner[:, 2].prod(axis=1), np.array([a.cols for a in g]))
                + _overflow(c.glb_bytes_used, np.array([a.glb_bytes for a in g]) / div)
                + _overflow(c.acc_bytes_used, np.array([max(a.acc_bytes, 1.0) for a in g]) / div))
        bad = c.infeasible != 0
        over = np.where(bad & (over == 0), 1.0, over)     # any other reason still counts
        for j, i in enumerate(idx):
            why = f"layer {layer.name!r}: tile does not fit ({INFEASIBLE[c.infeasible[j]]})" if bad[j] else ""
            lc = LayerCost(layer.name, layer.op, count, layer.macs, int(c.latency_cycles[j]), float(c.energy_pj[j]),
                           c.parts_pj(j), _Mapped(batch.factors[j], batch.rank[j], batch.dims), layer,
                           {"utilization": float(c.utilization[j]), "dataflow": g[j].dataflow})
            out[i] = (lc, float(over[j]), why)
    return out


def joint_costs(workload: Workload, tiling: WorkloadTiling, archs: list[SystolicArch],
                params: list[dict]) -> list[NetworkCost]:
    """The `NetworkCost` of each trial (architecture + its tiling params)."""
    per = [_layer_batch(layer, count, lt, archs, params) for lt, (layer, count) in zip(tiling.layers, workload)]
    macs = workload.macs
    out = []
    for i, a in enumerate(archs):
        rows = [p[i] for p in per]
        lat = float(sum(lc.latency_cycles * lc.count for lc, _, _ in rows))
        energy = float(sum(lc.energy_pj * lc.count for lc, _, _ in rows))
        reason = next((why for _, _, why in rows if why), "")
        out.append(NetworkCost("systolic", a, tuple(lc for lc, _, _ in rows), lat, energy, area_mm2(a), macs,
                               a.clock_mhz * 1e6 / lat if lat > 0 else 0.0,
                               macs / (lat * a.pes) if lat > 0 else float("nan"),
                               fits=float(sum(o for _, o, _ in rows)), reason=reason))
    return out


def encode(tiling: WorkloadTiling, cost: NetworkCost) -> dict:
    """Joint params closest to the mappings of `cost` (the mapper's), for the warm start."""
    params: dict = {}
    by_name = {lc.name: lc for lc in cost.layers}
    for lt in tiling.layers:
        lc = by_name[lt.layer.name]
        m = lc.plan if isinstance(lc.plan, Mapping) else Mapping.build(lt.layer, **lc.plan.to_dict())
        params.update(lt.encode(m, lc.figures.get("dataflow") or cost.arch.dataflow))
    return params
