"""Whole networks on the systolic array: map every unique layer, add up the costs.

The array runs one layer after another, so a network's latency and energy
are sums over its unique layers times their instance counts, and its
throughput is one inference per latency. With ``keep_activations`` (and a
`Network`, whose edges say which layer feeds which), the activations that
fit stay in the glb between consecutive layers (`onchip`): the totals are
the layer-by-layer sums minus what that saves, and both are reported.
"""
from __future__ import annotations

from dataclasses import dataclass

from ...objective import Objective
from ...workload import Layer, Network, Workload
from ..base import LayerCost, NetworkCost, SearchStats
from .arch import SystolicArch, area_mm2
from .mapper import MapResult, NoMappingError, best_mapping
from .cost import SCALARS
from .mapping import Mapping
from .onchip import OnChip, kept_edges

__all__ = ["LayerResult", "NetworkResult", "evaluate_network", "network_cost", "layer_cost"]


@dataclass(frozen=True)
class LayerResult:
    """One unique layer of a network: its mapping and cost (per instance)."""

    layer: Layer
    count: int
    result: MapResult

    @property
    def mapping(self) -> Mapping:
        return self.result.mapping

    @property
    def cost(self) -> dict:
        return self.result.cost

    @property
    def dataflow(self) -> str:
        return self.result.dataflow


@dataclass(frozen=True)
class NetworkResult:
    """All layers of a workload on one architecture, and the totals."""

    arch: SystolicArch
    layers: tuple[LayerResult, ...]
    area_mm2: float
    onchip: OnChip = OnChip()

    def total(self, key: str) -> float:
        """Sum over layers of a per-instance cost figure times the layer's count (layer by layer)."""
        return sum(r.cost[key] * r.count for r in self.layers)

    @property
    def macs(self) -> int:
        return self.total("macs")

    @property
    def latency_cycles(self) -> int:
        """Network latency, activations kept on chip where `onchip` says."""
        return self.total("latency_cycles") - self.onchip.latency_cycles_saved

    @property
    def energy_pj(self) -> float:
        return self.total("energy_pj") - self.onchip.energy_pj_saved

    @property
    def dram_bytes(self) -> float:
        return self.total("dram_bytes") - self.onchip.dram_bytes_saved


_CACHE: dict[tuple, MapResult] = {}


def evaluate_network(workload: Workload | Network, arch: SystolicArch, *, objective: str | dict = "edp",
                     pins: dict[str, dict] | None = None, strategy=None) -> NetworkResult:
    """Map every unique layer of `workload` on `arch` and return per-layer and
    total figures. Mappings are memoized on (layer shape, architecture,
    objective, pin, strategy). Raises `NoMappingError` for a layer that fits
    nowhere. A `Network` with ``arch.keep_activations`` also gets its kept edges."""
    net = workload if isinstance(workload, Network) else None
    if net is not None:
        workload = net.unique()
    out = []
    obj = Objective.parse(objective)
    for layer, count in workload:
        pin = (pins or {}).get(layer.name)
        key = (layer.shape_key(), arch, obj, repr(pin), repr(strategy))
        res = _CACHE.get(key)
        if res is None:
            res = best_mapping(layer, arch, obj, pin, strategy=strategy)
            if len(_CACHE) > 100_000:
                _CACHE.clear()
            _CACHE[key] = res
        out.append(LayerResult(layer, count, res))
    onchip = OnChip()
    if net is not None and arch.keep_activations:
        onchip = kept_edges(net, arch, {r.layer.shape_key(): r for r in out})
    return NetworkResult(arch, tuple(out), area_mm2(arch), onchip)


def layer_cost(r: LayerResult) -> LayerCost:
    """The family-neutral record of one mapped layer."""
    res = r.result
    figures = {k: res.cost[k] for k in _FIGURES}
    figures.update(dataflow=res.dataflow, accesses=dict(res.accesses), infeasible=res.cost["infeasible"])
    return LayerCost(r.layer.name, r.layer.op, r.count, int(res.cost["macs"]), int(res.cost["latency_cycles"]),
                     float(res.cost["energy_pj"]), dict(res.parts_pj), res.mapping, r.layer, figures,
                     SearchStats(res.considered, res.evaluated, res.bounded, res.seconds, res.strategy, res.exact))


_FIGURES = tuple(k for k in SCALARS if k not in ("latency_cycles", "energy_pj"))


def network_cost(res: NetworkResult) -> NetworkCost:
    """The `NetworkCost` of a mapped network: sums over layers (the array runs them in turn)."""
    arch = res.arch
    lat = res.latency_cycles
    figures = {"compute_cycles": res.total("compute_cycles"), "dram_bytes": res.dram_bytes}
    if arch.keep_activations:
        figures.update(latency_cycles_layer_by_layer=res.total("latency_cycles"),
                       energy_pj_layer_by_layer=res.total("energy_pj"),
                       dram_bytes_layer_by_layer=res.total("dram_bytes"),
                       activations_kept=len(res.onchip.edges), onchip=res.onchip)
    return NetworkCost("systolic", arch, tuple(layer_cost(r) for r in res.layers), lat, res.energy_pj,
                       res.area_mm2, res.macs, arch.clock_mhz * 1e6 / lat if lat > 0 else 0.0,
                       res.macs / (lat * arch.pes) if lat > 0 else float("nan"), figures)


def infeasible_cost(workload: Workload, arch: SystolicArch, objective, pins: dict, reason: str) -> NetworkCost:
    """A design where some layer fits nowhere: ``fits`` = the number of such layers."""
    missing = 0
    for layer, _ in workload:          # memoized per layer
        try:
            evaluate_network(Workload.from_layers("one", [layer]), arch, objective=objective,
                             pins={k: v for k, v in pins.items() if k == layer.name})
        except NoMappingError:
            missing += 1
    nan = float("nan")
    return NetworkCost("systolic", arch, (), nan, nan, area_mm2(arch), workload.macs, nan, nan,
                       fits=float(max(missing, 1)), reason=reason)
