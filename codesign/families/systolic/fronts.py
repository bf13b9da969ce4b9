"""Pareto mode on the systolic array: every unique layer's exact latency/energy front.

The array runs one layer after another, so a network's latency and energy
are sums over layers: the network's front is the Minkowski sum of its
layers' fronts (`codesign.search.fronts` combines them). Each layer's
front is `mapper.pareto_mappings` (exact branch and bound); a flexible
array's is the non-dominated union of its dataflows' fronts. Fronts are
memoized on (layer shape, architecture, pin).
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from ...objective import staircase
from ...workload import Workload
from ..base import LayerCost, NetworkCost
from .arch import SystolicArch, area_mm2
from .mapper import NoMappingError, pareto_mappings
from .network import LayerResult, layer_cost

__all__ = ["layer_fronts", "layer_front", "combine"]

_CACHE: dict[tuple, tuple[LayerCost, ...]] = {}


def _nondominated(costs: list[LayerCost]) -> tuple[LayerCost, ...]:
    """Points no other point beats in both latency and energy (one per (latency, energy)), by latency."""
    keep = staircase(np.array([c.latency_cycles for c in costs], dtype=float),
                     np.array([c.energy_pj for c in costs], dtype=float))
    return tuple(costs[i] for i in keep)


def layer_front(layer, count: int, arch: SystolicArch, pin: dict | None = None) -> tuple[LayerCost, ...]:
    """The latency/energy Pareto set of one layer on `arch` as `LayerCost`s (empty: nothing fits)."""
    key = (layer.shape_key(), layer.name, count, arch, repr(pin))
    hit = _CACHE.get(key)
    if hit is not None:
        return hit
    points = []
    for df in (arch.dataflows if arch.flexible else (arch.dataflow,)):
        a = replace(arch, dataflow=df, dataflows=(df,)) if arch.flexible else arch
        try:
            res = pareto_mappings(layer, a, pin)
        except NoMappingError:
            continue
        points += [layer_cost(LayerResult(layer, count, replace(r, dataflow=df))) for r in res]
    out = _nondominated(points)
    if len(_CACHE) > 100_000:
        _CACHE.clear()
    _CACHE[key] = out
    return out


def layer_fronts(workload: Workload, arch: SystolicArch, pins: dict) -> list[tuple[LayerCost, ...]]:
    """Per unique layer of `workload`, its front on `arch` (`layer_front`)."""
    return [layer_front(layer, count, arch, pins.get(layer.name)) for layer, count in workload]


def combine(arch: SystolicArch, layers: tuple[LayerCost, ...]) -> NetworkCost:
    """The network running `layers` (one front point each) in turn: sums, as `network.network_cost`."""
    lat = sum(lc.latency_cycles * lc.count for lc in layers)
    macs = sum(lc.macs * lc.count for lc in layers)
    return NetworkCost("systolic", arch, tuple(layers), lat, sum(lc.energy_pj * lc.count for lc in layers),
                       area_mm2(arch), macs, arch.clock_mhz * 1e6 / lat if lat > 0 else 0.0,
                       macs / (lat * arch.pes) if lat > 0 else float("nan"),
                       {"compute_cycles": sum(lc.figures["compute_cycles"] * lc.count for lc in layers)})
