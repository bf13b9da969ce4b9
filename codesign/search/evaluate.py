"""Evaluating a batch of trials: one `Outcome` per design, through the families.

Nested mode calls the family's mapper per hardware point
(`Family.map_network`, memoized on the architecture; optionally in worker
processes). Joint mode hands each family its trials' params
(`Family.cost`, vectorized over the batch). A design that cannot run (an
invalid architecture, a layer that fits nowhere, a tile that overflows the
array or a buffer) is an outcome with ``fits > 0``, never an exception.
"""
from __future__ import annotations

import os
import signal
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context

from ..config import Config, ConfigError
from ..families import get_family
from ..families.base import NetworkCost
from ..procs import cancel_pool, die_with_parent
from .space import Choice, SearchSpace

__all__ = ["Outcome", "NestedEvaluator", "JointEvaluator", "outcome_of", "LAYER_FIGURES"]

_NAN = float("nan")
#: per-layer figures a trial records (those its family reports)
LAYER_FIGURES = ("utilization", "dataflow", "pe", "simd", "cycles", "fifo_depth", "lut", "dsp", "bram18")


@dataclass(frozen=True)
class Outcome:
    """What one trial measured.

    `metrics` holds every metric of the study (NaN where unknown, e.g.
    latency when a layer fits nowhere); `layers` maps each layer to its
    per-instance ``latency_cycles``, ``energy_pj``, ``count`` and the
    family's figures (`LAYER_FIGURES`); `mappings` maps it to its plan's
    ``to_dict()``. `fits` is 0 when every layer runs, else how badly the
    design does not; `reason` says why in words.
    """

    metrics: dict[str, float]
    layers: dict[str, dict] = field(default_factory=dict)
    mappings: dict[str, dict] = field(default_factory=dict)
    fits: float = 0.0
    reason: str = ""
    front: dict = field(default_factory=dict)     # pareto mode: the network's front (`fronts.front_record`)


def outcome_of(cost: NetworkCost, metrics: tuple[str, ...]) -> Outcome:
    """The `Outcome` of a costed design (the edge from typed results to the trial's record)."""
    m = cost.metrics(cost.arch.clock_mhz)
    values = {k: float(m.get(k, _NAN)) for k in metrics}
    if cost.feasible or cost.layers:        # joint mode keeps what an overflowing tiling measured
        return Outcome(values, _layer_records(cost), {lc.name: lc.plan.to_dict() for lc in cost.layers if lc.plan is not None},
                       cost.fits, cost.reason)
    values = {k: (values[k] if k == "area_mm2" else _NAN) for k in metrics}
    return Outcome(values, fits=cost.fits, reason=cost.reason)


def _layer_records(cost: NetworkCost) -> dict[str, dict]:
    out = {}
    for lc in cost.layers:
        rec = {"latency_cycles": int(lc.latency_cycles), "energy_pj": float(lc.energy_pj), "count": lc.count}
        rec.update({k: lc.figures[k] for k in LAYER_FIGURES if k in lc.figures})
        if lc.search is not None:        # the mapper's certificate: what it searched and whether it proved it
            s = lc.search
            rec.update(considered=s.considered, evaluated=s.evaluated, seconds=s.seconds, exact=s.exact)
        out[lc.name] = rec
    return out


def _invalid(reason: str, metrics: tuple[str, ...]) -> Outcome:
    return Outcome({k: _NAN for k in metrics}, fits=1.0, reason=reason)


_WORKER: dict = {}


def _init_worker(cfg: Config, metrics: tuple[str, ...], parent: int, fn=None) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)      # Ctrl-C is the parent's to handle
    die_with_parent(parent)                           # a killed sweep leaves no mapper behind
    _WORKER.update(cfg=cfg, metrics=metrics, fn=fn or _map)


def _map(cfg: Config, arch, metrics: tuple[str, ...]) -> Outcome:
    cost = get_family(arch.family).map_network(cfg.network, arch, cfg.objective, cfg.pins,
                                               constraints=cfg.search.get("constraints"))
    return outcome_of(cost, metrics)


def _work(arch) -> Outcome:
    return _WORKER["fn"](_WORKER["cfg"], arch, _WORKER["metrics"])


#: nested outcomes of this process: (network, mapper objective, pins) -> {arch: Outcome}
_MEMO: dict[tuple, dict] = {}


class NestedEvaluator:
    """Nested mode: the family's mapper plans every layer per hardware point.

    Outcomes are memoized per process on the architecture (and network,
    mapper objective, pins), so a point proposed again costs nothing. With
    ``jobs > 1`` the new points of a batch are spread over worker processes
    once a design is seen to take longer than `POOL_AFTER_S` to map (below
    that, starting processes costs more than it saves).
    """

    POOL_AFTER_S = 0.05
    #: the outcome of one architecture (a module-level function: it runs in the worker processes too)
    map_one = staticmethod(_map)
    mode = "nested"

    def __init__(self, cfg: Config, space: SearchSpace, metrics: tuple[str, ...], jobs: int = 1):
        self.cfg, self.space, self.metrics, self.jobs = cfg, space, metrics, jobs
        key = (self.mode, tuple((l.name, l.shape_key(), c) for l, c in cfg.workload), repr(cfg.network.edges),
               repr(cfg.objective), repr(cfg.pins), metrics, repr(cfg.search.get("constraints")))
        self.memo = _MEMO.setdefault(key, {})
        self._pool: ProcessPoolExecutor | None = None
        self._slow = False

    def _one(self, arch) -> Outcome:
        t0 = time.perf_counter()
        o = self.map_one(self.cfg, arch, self.metrics)
        self._slow = self._slow or time.perf_counter() - t0 > self.POOL_AFTER_S
        return o

    def archs(self, choices: list[Choice]) -> list:
        out = []
        for c in choices:
            try:
                out.append(c.space.arch_from(c.hardware))
            except ConfigError as e:
                out.append(_invalid(str(e), self.metrics))
        return out

    def __call__(self, choices: list[Choice]) -> list[Outcome]:
        archs = self.archs(choices)
        todo = list(dict.fromkeys(a for a in archs if not isinstance(a, Outcome) and a not in self.memo))
        if todo and self.jobs > 1 and not self._slow:
            self.memo[todo[0]] = self._one(todo[0])
            todo = todo[1:]
        if self.jobs > 1 and self._slow and len(todo) > 1:
            if self._pool is None:
                # fork on Linux: no re-import of the caller's __main__ (scripts need no main guard) and the
                # children start with this process's mapper caches; the sweep runs no threads to fork with
                ctx = get_context("fork" if sys.platform.startswith("linux") else "spawn")
                self._pool = ProcessPoolExecutor(self.jobs, mp_context=ctx, initializer=_init_worker,
                                                 initargs=(self.cfg, self.metrics, os.getpid(), self.map_one))
            results = list(self._pool.map(_work, todo, chunksize=max(1, len(todo) // (4 * self.jobs))))
        else:
            results = [self._one(a) for a in todo]
        self.memo.update(zip(todo, results))
        return [a if isinstance(a, Outcome) else self.memo[a] for a in archs]

    def close(self, *, cancel: bool = False) -> None:
        """Stop the mapper pool. With `cancel` (Ctrl-C, SIGTERM) in-flight work is
        dropped: queued designs are cancelled and the workers killed at once
        instead of finishing their chunk (which takes seconds on a large
        network); the batch was not stored, so nothing completed is lost."""
        pool, self._pool = self._pool, None
        if pool is None:
            return
        if not cancel:
            pool.shutdown(cancel_futures=True)
            return
        cancel_pool(pool)          # never left hung on a result a killed worker was sending


class JointEvaluator:
    """Joint mode: each trial's own plan, costed by its family in one batch per family."""

    def __init__(self, cfg: Config, space: SearchSpace, metrics: tuple[str, ...]):
        self.cfg, self.space, self.metrics = cfg, space, metrics

    def __call__(self, choices: list[Choice]) -> list[Outcome]:
        out: list[Outcome | None] = [None] * len(choices)
        groups: dict[str, list[tuple[int, object]]] = {}
        for i, c in enumerate(choices):
            try:
                groups.setdefault(c.space.family, []).append((i, c.space.arch_from(c.hardware)))
            except ConfigError as e:
                out[i] = _invalid(str(e), self.metrics)
        for fam, items in groups.items():
            family, js = get_family(fam), self.space.joint[fam]
            idx = [i for i, _ in items]
            if js is None:          # a family without joint mode: nested per point
                costs = [family.map_network(self.cfg.network, a, self.cfg.objective, self.cfg.pins) for _, a in items]
            else:
                costs = family.cost(self.cfg.network, [a for _, a in items], [choices[i].joint for i in idx], js)
            for i, c in zip(idx, costs):
                out[i] = outcome_of(c, self.metrics)
        return out  # type: ignore[return-value]

