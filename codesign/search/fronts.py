"""Pareto mode: hardware from Optuna, every layer's exact latency/energy front from the mapper.

Why this formulation searches tiling with the hardware: nested mode fixes
each layer's mapping by a per-layer objective (edp by default), so a
design's network-level trade-offs between latency and energy are lost
(the sum of per-layer EDP optima is not the network's EDP optimum, and a
latency-first mapping of one layer with an energy-first one of another is
never looked at). Joint mode asks Optuna to sample tile factors it cannot
learn well (a whole network's tiles must all fit). Here, per hardware
point, the family's mapper gives each unique layer's *exact* Pareto set of
(latency, energy) mappings (`Family.layer_fronts`); the network runs its
layers in turn, so its latency and energy are sums and its front is the
Minkowski sum of the layers' fronts (counts included), pruned to the
non-dominated points as the layers are added (`minkowski`). One trial, one
hardware point, a whole front of network mappings, each provably
non-dominated among all mappings of that hardware.

What the study sees: the trial's objectives are the front point that
minimizes the config's ``objective`` (edp by default) at network level
(never worse than nested mode's design on that objective); the whole front
is kept in the trial's ``codesign`` user attribute under ``front``
(`front_record`: the points' latency and energy, the per-layer front
index of each, and every layer's front with its mappings), and
`front_rows` expands trials into one row per front point.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from ..config import Config
from ..families import get_family
from ..objective import Objective, staircase
from .evaluate import NestedEvaluator, Outcome, _map, outcome_of

__all__ = ["ParetoEvaluator", "minkowski", "pareto_outcome", "outcome_from_fronts", "front_rows"]


def minkowski(fronts) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The network front of per-layer fronts (sequences of `LayerCost`, per
    instance; a layer counts ``count`` times): (latency, energy, choice),
    choice[i, j] the index in layer j's front of point i; by increasing latency."""
    L, E = np.zeros(1), np.zeros(1)
    C = np.zeros((1, 0), dtype=np.int32)
    for f in fronts:
        l = np.array([lc.latency_cycles * lc.count for lc in f], dtype=float)
        e = np.array([lc.energy_pj * lc.count for lc in f], dtype=float)
        L2, E2 = (L[:, None] + l).ravel(), (E[:, None] + e).ravel()
        C2 = np.concatenate([np.repeat(C, len(f), axis=0),
                             np.tile(np.arange(len(f), dtype=np.int32), len(L))[:, None]], axis=1)
        keep = staircase(L2, E2)
        L, E, C = L2[keep], E2[keep], C2[keep]
    return L, E, C


#: network front points a trial keeps (a ResNet-18 front has ~1000; `thin`)
FRONT_POINTS = 48


def thin(L: np.ndarray, keep: int, n: int = FRONT_POINTS) -> np.ndarray:
    """At most about `n` indices of a front sorted by latency, spread evenly in
    log latency, with both ends and `keep` (the told point)."""
    if len(L) <= n:
        return np.arange(len(L))
    grid = np.exp(np.linspace(np.log(L[0]), np.log(L[-1]), n))
    return np.unique(np.concatenate([np.searchsorted(L, grid).clip(0, len(L) - 1), [0, len(L) - 1, keep]]))


def front_record(fronts, L: np.ndarray, E: np.ndarray, C: np.ndarray) -> dict:
    """The network front as JSON: points and, per layer, its front's figures and mappings."""
    return {"size": len(L), "latency_cycles": L.tolist(), "energy_pj": E.tolist(), "choice": C.tolist(),
            "layers": {f[0].name: [{"latency_cycles": int(lc.latency_cycles), "energy_pj": float(lc.energy_pj),
                                    "dataflow": lc.figures.get("dataflow"),
                                    "mapping": lc.plan.to_dict() if lc.plan is not None else None} for lc in f]
                       for f in fronts}}


def outcome_from_fronts(cfg: Config, arch, fronts, metrics: tuple[str, ...], *, per_layer: bool = False) -> Outcome:
    """The outcome of `arch` from its layers' fronts: the network front point
    best under ``cfg.objective``, with the front attached. With `per_layer`,
    nested mode's outcome instead (each layer's best point under the
    objective, ties by energy then latency: the mapper's optimum, as its
    optimum lies on the layer's front)."""
    if fronts is None or any(not f for f in fronts):     # no pareto mode, or a layer fits nowhere
        return _map(cfg, arch, metrics)
    obj = Objective.parse(cfg.objective)
    family = get_family(arch.family)
    if per_layer:
        pick = [min(f, key=lambda lc: (float(obj(lc.latency_cycles, lc.energy_pj)), lc.energy_pj,
                                       lc.latency_cycles)) for f in fronts]
        return outcome_of(family.combine(cfg.network, arch, tuple(pick)), metrics)
    L, E, C = minkowski(fronts)
    i = int(np.argmin(obj(L, E)))
    cost = family.combine(cfg.network, arch, tuple(f[j] for f, j in zip(fronts, C[i])))
    k = thin(L, i)
    return replace(outcome_of(cost, metrics), front=front_record(fronts, L[k], E[k], C[k]))


def layer_fronts(cfg: Config, arch):
    """Every unique layer's front on `arch` (None: the family has no pareto mode)."""
    return get_family(arch.family).layer_fronts(cfg.network, arch, cfg.pins)


def pareto_outcome(cfg: Config, arch, metrics: tuple[str, ...]) -> Outcome:
    """Pareto mode's outcome of one architecture (runs in the worker processes too)."""
    return outcome_from_fronts(cfg, arch, layer_fronts(cfg, arch), metrics)


class ParetoEvaluator(NestedEvaluator):
    """Pareto mode (module docstring); memo and worker processes as `NestedEvaluator`."""

    map_one = staticmethod(pareto_outcome)
    mode = "pareto"


def front_rows(trials):
    """One row per network front point of each feasible pareto-mode trial
    (Optuna `FrozenTrial`s): ``trial``, ``point`` (index in its front),
    ``latency_cycles``, ``energy_pj``, ``area_mm2``, ``edp`` and ``choice``
    (per layer, the index in that layer's front), as a DataFrame."""
    import pandas as pd
    from .results import ATTR
    rows = []
    for t in trials:
        a = t.user_attrs.get(ATTR, {})
        f, m = a.get("front"), a.get("metrics", {})
        if not f:
            continue
        for k, (lat, e, c) in enumerate(zip(f["latency_cycles"], f["energy_pj"], f["choice"])):
            rows.append({"trial": t.number, "point": k, "latency_cycles": lat, "energy_pj": e,
                         "area_mm2": m.get("area_mm2"), "edp": lat * e, "choice": c})
    return pd.DataFrame(rows, columns=["trial", "point", "latency_cycles", "energy_pj", "area_mm2", "edp", "choice"])
