"""Whole networks: map every unique layer and add up the costs."""
from __future__ import annotations

from dataclasses import dataclass

from .arch import SystolicArch, area_mm2
from ...workload import Layer, Network, Workload
from .mapping import Mapping
from ...objective import Objective
from .mapper import MapResult, best_mapping

__all__ = ["LayerResult", "NetworkResult", "evaluate_network"]


@dataclass(frozen=True)
class LayerResult:
    """One unique layer of a network: its mapping and cost (per instance)."""

    layer: Layer
    count: int
    mapping: Mapping
    cost: dict
    considered: int
    evaluated: int
    dataflow: str


@dataclass(frozen=True)
class NetworkResult:
    """All layers of a workload on one architecture, and the totals."""

    arch: SystolicArch
    layers: tuple[LayerResult, ...]
    area_mm2: float

    def total(self, key: str) -> float:
        """Sum over layers of a per-instance cost figure times the layer's count."""
        return sum(r.cost[key] * r.count for r in self.layers)

    @property
    def macs(self) -> int:
        return self.total("macs")

    @property
    def latency_cycles(self) -> int:
        return self.total("latency_cycles")

    @property
    def compute_cycles(self) -> int:
        return self.total("compute_cycles")

    @property
    def energy_pj(self) -> float:
        return self.total("energy_pj")

    @property
    def latency_s(self) -> float:
        return self.latency_cycles / (self.arch.clock_mhz * 1e6)

    @property
    def utilization(self) -> float:
        return self.macs / (self.latency_cycles * self.arch.pes)

    def energy_parts_pj(self) -> dict[str, float]:
        keys = [k for k in self.layers[0].cost if k.startswith("energy_") and k != "energy_pj"]
        return {k[len("energy_"):-len("_pj")]: self.total(k) for k in keys}

    def totals(self) -> dict:
        """The ``total`` object of ``codesign evaluate --json``."""
        return {"macs": self.macs, "latency_cycles": self.latency_cycles, "latency_s": self.latency_s,
                "energy_pj": self.energy_pj, "area_mm2": self.area_mm2, "utilization": self.utilization}


_CACHE: dict[tuple, MapResult] = {}


def evaluate_network(workload: Workload, arch: SystolicArch, *, objective: str | dict = "edp",
                     pins: dict[str, dict] | None = None) -> NetworkResult:
    """Map every unique layer of `workload` on `arch` and return per-layer and
    total figures. Mappings are memoized on (layer shape, architecture,
    objective, pin). Raises `NoMappingError` for a layer that fits nowhere."""
    if isinstance(workload, Network):
        workload = workload.unique()
    out = []
    obj = Objective.parse(objective)
    for layer, count in workload:
        pin = (pins or {}).get(layer.name)
        key = (layer.shape_key(), arch, obj, repr(pin))
        res = _CACHE.get(key)
        if res is None:
            res = best_mapping(layer, arch, obj, pin)
            if len(_CACHE) > 100_000:
                _CACHE.clear()
            _CACHE[key] = res
        out.append(LayerResult(layer, count, res.mapping, res.cost, res.considered, res.evaluated,
                               res.dataflow or arch.dataflow))
    return NetworkResult(arch, tuple(out), area_mm2(arch))
