"""Per-layer mapping search: the best mapping of a layer on an architecture.

`best_mapping` searches the `MappingSpace` of a layer (tile factors, loop
orders, spatial unrolling; see `codesign.families.systolic.space`) with a strategy
(`codesign.families.systolic.strategies`; default `Exhaustive`, the optimum) and
returns the winner with its cost row. `pareto_mappings` returns the
latency/energy Pareto set.

Tie-break rule (deterministic): lowest objective, then lowest energy, then
lowest latency, then the lexicographically smallest factor tuple (levels
dram, glb, rows, cols, pe; dims in layer order), then loop ranks, among
the mappings the strategy costed.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

import numpy as np

from .arch import DATAFLOWS, SystolicArch
from ...workload import Layer
from .cost import INFEASIBLE, evaluate
from .flat import flat_layer, flattened
from .pins import flat_pin
from .mapping import Mapping, MappingBatch, MappingError
from .schedules import scalesim_mapping
from ...objective import OBJECTIVES, Objective
from .space import MappingSpace
from .strategies import Exhaustive, MapperStrategy
from .strategies import get as get_strategy

__all__ = ["MapResult", "best_mapping", "best_dataflow", "pareto_mappings", "OBJECTIVES",
           "NoMappingError", "clear_caches"]


class NoMappingError(MappingError):
    """No mapping of a layer fits an architecture (message names layer and buffer)."""


@dataclass(frozen=True)
class MapResult:
    """The chosen mapping of one layer, its cost row and search statistics.

    `considered`: mappings in the searched space (tile combinations x loop
    orders searched); `evaluated`: mappings costed by `cost.evaluate`;
    `bounded`: partial or complete mappings scored by the bound model;
    `exact`: the mapping is the optimum of the space (False for the beam).
    """

    mapping: Mapping
    cost: dict
    considered: int
    evaluated: int
    seconds: float
    strategy: str = "exhaustive"
    bounded: int = 0
    exact: bool = True
    dataflow: str | None = None     # the dataflow the mapping runs (a flexible array's choice)
    parts_pj: dict = field(default_factory=dict, compare=False)   # energy per part (typed, not parsed)
    accesses: dict = field(default_factory=dict, compare=False)   # access counts by memory_tensor_kind


def best_mapping(layer: Layer, arch: SystolicArch, objective="edp", pin: dict | str | None = None, *,
                 strategy: MapperStrategy | str | None = None, flatten: bool = False) -> MapResult:
    """The best mapping of `layer` on `arch` under `objective` ("latency",
    "energy", "edp" or ``{"latency": w1, "energy": w2}``).

    `pin` (the ``Mapping.to_dict()`` shape) fixes the given factors and loop
    orders; the rest is searched. `strategy` defaults to `Exhaustive` (the
    optimum of the space). Raises `NoMappingError` naming the layer and the
    buffer when nothing fits, `MappingError` for a pin that cannot be
    honoured, ValueError for a bad objective.

    With `flatten`, a conv's output pixels may also be tiled as one im2col
    dim (`flat`): both spaces are searched and the better mapping wins
    (ties: the unflattened one). A pin ``{"flat": True, ...}`` searches the
    flattened space only; the pin ``"scalesim"`` costs SCALE-Sim's schedule
    (`schedules.scalesim_mapping`) without a search.
    """
    if arch.flexible:
        df, res = best_dataflow(layer, arch, objective, pin, dataflows=arch.dataflows, strategy=strategy)
        return replace(res, dataflow=df)
    t0 = time.perf_counter()
    obj = Objective.parse(objective)
    if pin == "scalesim":
        return _fixed(layer, arch, scalesim_mapping(layer, arch), t0)
    strat = _strategy(strategy)
    pin = dict(pin or {})
    kind = flat_pin(layer, pin.pop("flat", False), f"mapping.{layer.name}")
    spaces = [layer]
    if kind:
        spaces = [flattened(layer, kind)]
    elif flatten and flat_layer(layer) is not None:
        spaces = [layer, flat_layer(layer)]
    best = None
    for lay in spaces:
        space = MappingSpace(lay, arch, pin or None)
        out = strat.search(space, obj)
        if out.best < 0:
            continue
        c = out.costs
        key = (float(obj(c.latency_cycles[out.best], c.energy_pj[out.best])), float(c.energy_pj[out.best]))
        if best is None or key < best[0]:
            best = (key, space, out)
    if best is None:
        raise NoMappingError(_why(layer, arch, MappingSpace(spaces[0], arch, pin or None)))
    _, space, out = best
    mapping = space.mapping(out.batch, out.best)
    return MapResult(mapping, out.costs.row(out.best), out.considered, out.evaluated,
                     time.perf_counter() - t0, strat.name, out.bounded, out.exact, arch.dataflow,
                     out.costs.parts_pj(out.best), out.costs.access_counts(out.best))


def _fixed(layer: Layer, arch: SystolicArch, mapping: Mapping, t0: float) -> MapResult:
    """A fixed mapping costed as a one-mapping space."""
    lay = flattened(layer, mapping.flat) if mapping.flat else layer
    c = evaluate(lay, arch, MappingBatch.from_mappings([mapping]))
    if not c.feasible[0]:
        raise NoMappingError(f"layer {layer.name!r}: SCALE-Sim's schedule does not fit "
                             f"({INFEASIBLE[int(c.infeasible[0])]})")
    return MapResult(mapping, c.row(0), 1, 1, time.perf_counter() - t0, "fixed", 0, True, arch.dataflow,
                     c.parts_pj(0), c.access_counts(0))


def best_dataflow(layer: Layer, arch: SystolicArch, objective="edp", pin: dict | None = None, *,
                  dataflows: tuple[str, ...] = DATAFLOWS,
                  strategy: MapperStrategy | str | None = None) -> tuple[str, MapResult]:
    """The dataflow a ``flexible`` array would pick for `layer`, and its best
    mapping: `best_mapping` on `arch` with each of `dataflows` (its own
    dataflow ignored), the winner by objective, then energy, then latency,
    then the order of `dataflows`. Dataflows a pin rules out are skipped.
    Raises `NoMappingError` when no dataflow fits (the first one's message).
    """
    obj = Objective.parse(objective)
    best, first_error = None, None
    for df in dataflows:
        try:
            r = best_mapping(layer, replace(arch, dataflow=df, dataflows=(df,)), obj, pin, strategy=strategy)
        except MappingError as e:
            first_error = first_error or e
            continue
        key = (float(obj(r.cost["latency_cycles"], r.cost["energy_pj"])), r.cost["energy_pj"],
               r.cost["latency_cycles"])
        if best is None or key < best[0]:
            best = (key, df, r)
    if best is None:
        raise first_error
    return best[1], best[2]


def pareto_mappings(layer: Layer, arch: SystolicArch, pin: dict | None = None, *,
                    max_points: int | None = None) -> list[MapResult]:
    """The latency/energy Pareto set of `layer` on `arch`: one mapping per
    non-dominated (latency_cycles, energy_pj) point, by increasing latency.

    Exact (a weighted sum would miss the non-convex part of the front): the
    exhaustive branch and bound with the front as incumbent
    (`codesign.families.systolic.pareto`). `max_points` keeps the lowest-latency
    points only. Raises `NoMappingError` when nothing fits.
    """
    from .pareto import pareto_front
    t0 = time.perf_counter()
    space = MappingSpace(layer, arch, pin or None)
    points = pareto_front(space, max_points=max_points)
    if not points:
        raise NoMappingError(_why(layer, arch, space))
    dt = time.perf_counter() - t0
    return [MapResult(space.mapping(b, i), c.row(i), space.size, n, dt, "pareto", nb, parts_pj=c.parts_pj(i),
                      accesses=c.access_counts(i))
            for b, c, i, n, nb in points]


def clear_caches() -> None:
    """Forget what the mapper keeps across designs: the neighbour seeds
    (`strategies._seeds`) and the block tables (`bounds._TABLES`). Results do not
    depend on them, only the time to reach them."""
    from . import bounds
    from .strategies import _seeds
    _seeds.clear_caches()
    bounds.clear_caches()


def _strategy(strategy) -> MapperStrategy:
    if strategy is None:
        return Exhaustive()
    if isinstance(strategy, str):
        return get_strategy(strategy)
    if isinstance(strategy, MapperStrategy):
        return strategy
    raise ValueError(f"strategy: must be a MapperStrategy or a name, got {strategy!r}")


def _why(layer: Layer, arch: SystolicArch, space: MappingSpace) -> str:
    """Why nothing fits: the reason of the smallest-tile mapping of the space."""
    choice = np.array([[int(np.lexsort((d.a, d.t))[0]) for d in space.dims]])
    what = INFEASIBLE[int(evaluate(layer, arch, space.batch(choice)).infeasible[0])]
    pinned = " with the pinned factors" if space.pin else ""
    half = ", half usable: double-buffered" if arch.double_buffered else ""
    if what == "glb":
        return f"layer {layer.name!r}: no mapping{pinned} fits the glb ({arch.glb_kib:g} KiB{half})"
    if what == "acc":
        return f"layer {layer.name!r}: no mapping{pinned} fits the accumulator ({arch.acc_kib:g} KiB{half})"
    if what == "pe_reg":
        return f"layer {layer.name!r}: no mapping{pinned} fits the PE registers ({arch.pe_reg_words} words)"
    if what in ("rows", "cols"):
        return f"layer {layer.name!r}: the pinned {what} factors exceed the array ({arch.rows}x{arch.cols})"
    return f"layer {layer.name!r}: no feasible mapping{pinned} ({what})"
