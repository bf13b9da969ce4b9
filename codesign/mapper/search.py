"""Per-layer mapping search: the best mapping of a layer on an architecture.

This module holds the search entry point `best_mapping`. Until the
exhaustive mapper lands it builds one sound mapping per dataflow greedily
(`default_mapping`) and shrinks its glb tile until it fits.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass

from ..hw_models.systolic import ROLES_ON, SystolicArch
from ..workload import Layer
from .cost import INFEASIBLE, evaluate_mapping
from .mapping import Mapping, MappingError

__all__ = ["MapResult", "best_mapping", "default_mapping", "OBJECTIVES", "NoMappingError"]

OBJECTIVES = ("latency", "energy", "edp")


class NoMappingError(MappingError):
    """No mapping of a layer fits an architecture (message names layer and buffer)."""


@dataclass(frozen=True)
class MapResult:
    """The chosen mapping of one layer, its cost row and search statistics."""

    mapping: Mapping
    cost: dict
    considered: int
    evaluated: int
    seconds: float


def _spread(dims: list[tuple[str, int]], capacity: int) -> dict[str, int]:
    """Unroll the largest dims onto `capacity` PEs, greedily."""
    out, left = {}, capacity
    for d, b in sorted(dims, key=lambda x: (-x[1], x[0])):
        if left < 2:
            break
        f = min(b, left)
        if f > 1:
            out[d] = f
            left //= f
    return out


def default_mapping(layer: Layer, arch: SystolicArch) -> Mapping:
    """A sound mapping for the dataflow: fill rows and cols with the
    dataflow's dims, stream its streamed dims whole, keep the rest in the
    glb level, and move glb loops out to DRAM until the tiles fit."""
    r_role, c_role, t_role = ROLES_ON[arch.dataflow]
    dims = list(layer.dims)
    rows = _spread([(d, b) for d, b in dims if layer.role(d) == r_role], arch.rows)
    cols = _spread([(d, b) for d, b in dims if layer.role(d) == c_role], arch.cols)
    pe = {d: b for d, b in dims if layer.role(d) == t_role and b > 1}
    glb = {d: math.ceil(b / (rows.get(d, 1) * cols.get(d, 1) * pe.get(d, 1))) for d, b in dims}
    dram: dict[str, int] = {}
    for _ in range(200):
        m = Mapping.build(layer, glb=glb, rows=rows, cols=cols, pe=pe, dram=None)
        c = evaluate_mapping(layer, arch, m)
        if c["infeasible"] == "ok":
            return m
        movable = [d for d in glb if glb[d] > 1]
        if c["infeasible"] in ("glb", "acc") and movable:
            d = max(movable, key=lambda d: (glb[d], d))
            glb[d] = max(f for f in range(1, glb[d]) if glb[d] % f == 0)   # glb must divide the tile count
            continue
        if c["infeasible"] in ("glb", "acc") and any(v > 1 for v in pe.values()):
            d = max(pe, key=lambda d: (pe[d], d))
            pe[d] = math.ceil(pe[d] / 2)
            glb[d] = 1
            continue
        break
    raise NoMappingError(_why(layer, arch, c))


def _why(layer: Layer, arch: SystolicArch, c: dict) -> str:
    what = c["infeasible"]
    if what == "glb":
        return (f"layer {layer.name!r}: no mapping fits the glb ({arch.glb_kib:g} KiB"
                f"{', half usable: double-buffered' if arch.double_buffered else ''})")
    if what == "acc":
        return (f"layer {layer.name!r}: no mapping fits the accumulator ({arch.acc_kib:g} KiB"
                f"{', half usable: double-buffered' if arch.double_buffered else ''})")
    return f"layer {layer.name!r}: no feasible mapping ({what})"


def best_mapping(layer: Layer, arch: SystolicArch, objective: str = "edp",
                 pin: dict | None = None) -> MapResult:
    """The best mapping found for `layer` on `arch` under `objective`.

    `pin` (the YAML ``mapping:`` shape) fixes factors and loop orders.
    Raises `NoMappingError` naming the layer and the buffer when nothing fits.
    """
    if objective not in OBJECTIVES:
        raise ValueError(f"objective: must be one of {', '.join(OBJECTIVES)}, got {objective!r}")
    t0 = time.perf_counter()
    if pin:
        m = Mapping.build(layer, **{k: v for k, v in pin.items()})
        c = evaluate_mapping(layer, arch, m)
        if c["infeasible"] != "ok":
            raise NoMappingError(f"layer {layer.name!r}: the pinned mapping does not fit: "
                                 + _why(layer, arch, c).split(": ", 1)[1])
    else:
        m = default_mapping(layer, arch)
        c = evaluate_mapping(layer, arch, m)
    return MapResult(m, c, 1, 1, time.perf_counter() - t0)
