"""Evaluating a batch of trials: one `Outcome` per hardware point (+ tiling).

Nested mode maps every layer with the mapper (`evaluate_network`, memoized
on the architecture; optionally in worker processes). Joint mode decodes the
sampled tilings and costs them with one vectorized `cost.evaluate` call per
(layer, group of architectures sharing dataflow/timing/tech/bits/buffering).
A design that cannot run (an invalid architecture, a layer that fits
nowhere, a tile that overflows the array or a buffer) is an outcome with
``fits > 0``, never an exception.
"""
from __future__ import annotations

import signal
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from multiprocessing import get_context

import numpy as np

from ..config import Config, ConfigError
from ..families.systolic.arch import SystolicArch, area_mm2
from ..families.systolic.cost import INFEASIBLE, evaluate
from ..families.systolic.mapping import LEVELS, TEMPORAL, MappingBatch
from ..families.systolic.network import evaluate_network
from ..families.systolic.mapper import NoMappingError
from ..workload import Workload
from ..families.systolic.tiling import WorkloadTiling

__all__ = ["Outcome", "NestedEvaluator", "JointEvaluator"]

_NAN = float("nan")


@dataclass(frozen=True)
class Outcome:
    """What one trial measured.

    `metrics` holds every name of `settings.METRICS` (NaN where unknown, e.g.
    latency when a layer fits nowhere); `layers` maps each unique layer to
    its per-instance ``latency_cycles``, ``energy_pj``, ``utilization`` and
    ``count``; `mappings` maps it to ``Mapping.to_dict()``. `fits` is 0 when
    every layer runs, else how badly it does not (nested: the number of
    layers without a mapping; joint: the summed log2 overflow of array and
    buffers); `reason` says why in words.
    """

    metrics: dict[str, float]
    layers: dict[str, dict] = field(default_factory=dict)
    mappings: dict[str, dict] = field(default_factory=dict)
    fits: float = 0.0
    reason: str = ""


def _totals(arch: SystolicArch, lat: float, energy: float, macs: float) -> dict[str, float]:
    area = area_mm2(arch)
    return {"latency_cycles": lat, "energy_pj": energy, "area_mm2": area, "edp": lat * energy,
            "power_mw": energy * arch.clock_mhz / lat * 1e-3 if lat > 0 else _NAN,
            "utilization": macs / (lat * arch.pes) if lat > 0 else _NAN}


def _invalid(reason: str, arch: SystolicArch | None = None) -> Outcome:
    m = {k: _NAN for k in ("latency_cycles", "energy_pj", "area_mm2", "edp", "power_mw", "utilization")}
    if arch is not None:
        m["area_mm2"] = area_mm2(arch)
    return Outcome(m, fits=1.0, reason=reason)


def nested_outcome(workload: Workload, arch: SystolicArch, objective: str, pins: dict) -> Outcome:
    """Map every layer of `workload` on `arch` with the mapper and sum up."""
    try:
        res = evaluate_network(workload, arch, objective=objective, pins=pins)
    except NoMappingError as e:
        missing = 0
        for layer, _ in workload:          # count the layers that fit nowhere (memoized per layer)
            try:
                evaluate_network(Workload.from_layers("one", [layer]), arch, objective=objective,
                                 pins={k: v for k, v in pins.items() if k == layer.name})
            except NoMappingError:
                missing += 1
        return Outcome(_invalid("", arch).metrics, fits=float(max(missing, 1)), reason=str(e))
    layers = {r.layer.name: {"latency_cycles": int(r.cost["latency_cycles"]), "energy_pj": float(r.cost["energy_pj"]),
                             "utilization": float(r.cost["utilization"]), "count": r.count, "dataflow": r.dataflow}
              for r in res.layers}
    return Outcome(_totals(arch, float(res.latency_cycles), float(res.energy_pj), float(res.macs)), layers,
                   {r.layer.name: r.mapping.to_dict() for r in res.layers})


_WORKER: dict = {}


def _init_worker(workload: Workload, objective: str | dict, pins: dict) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)      # Ctrl-C is the parent's to handle
    _WORKER.update(workload=workload, objective=objective, pins=pins)


def _work(arch: SystolicArch) -> Outcome:
    return nested_outcome(_WORKER["workload"], arch, _WORKER["objective"], _WORKER["pins"])


#: nested outcomes of this process: (workload id, mapper objective, pins) -> {arch: Outcome}
_MEMO: dict[tuple, dict[SystolicArch, Outcome]] = {}


class NestedEvaluator:
    """Nested mode: the mapper picks each layer's mapping per hardware point.

    Outcomes are memoized per process on the architecture (and workload,
    mapper objective, pins), so a point proposed again costs nothing. With
    ``jobs > 1`` the new points of a batch are spread over worker processes
    once a design is seen to take longer than `POOL_AFTER_S` to map (below
    that, starting processes costs more than it saves).
    """

    POOL_AFTER_S = 0.05

    def __init__(self, cfg: Config, jobs: int = 1):
        self.cfg = cfg
        self.jobs = jobs
        key = (tuple((l.name, l.shape_key(), c) for l, c in cfg.workload), repr(cfg.objective), repr(cfg.pins))
        self.memo = _MEMO.setdefault(key, {})
        self._pool: ProcessPoolExecutor | None = None
        self._slow = False

    def _one(self, arch: SystolicArch) -> Outcome:
        t0 = time.perf_counter()
        o = nested_outcome(self.cfg.workload, arch, self.cfg.objective, self.cfg.pins)
        self._slow = self._slow or time.perf_counter() - t0 > self.POOL_AFTER_S
        return o

    def __call__(self, hw: list[dict], params: list[dict] | None = None) -> list[Outcome]:
        archs: list[SystolicArch | Outcome] = []
        for values in hw:
            try:
                archs.append(self.cfg.arch_from(values))
            except ConfigError as e:
                archs.append(_invalid(str(e)))
        todo = list(dict.fromkeys(a for a in archs if isinstance(a, SystolicArch) and a not in self.memo))
        if todo and self.jobs > 1 and not self._slow:
            self.memo[todo[0]] = self._one(todo[0])
            todo = todo[1:]
        if self.jobs > 1 and self._slow and len(todo) > 1:
            if self._pool is None:
                # fork on Linux: no re-import of the caller's __main__ (scripts need no main guard) and the
                # children start with this process's mapper caches; the sweep runs no threads to fork with
                ctx = get_context("fork" if sys.platform.startswith("linux") else "spawn")
                self._pool = ProcessPoolExecutor(self.jobs, mp_context=ctx, initializer=_init_worker,
                                                 initargs=(self.cfg.workload, self.cfg.objective, self.cfg.pins))
            results = list(self._pool.map(_work, todo, chunksize=max(1, len(todo) // (4 * self.jobs))))
        else:
            results = [self._one(a) for a in todo]
        self.memo.update(zip(todo, results))
        return [self.memo[a] if isinstance(a, SystolicArch) else a for a in archs]

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None


def _group_key(a: SystolicArch) -> tuple:
    return (a.dataflow, a.timing, a.tech, a.op_bits, a.acc_bits, a.double_buffered, a.acc_kib > 0)


def _overflow(used, cap) -> np.ndarray:
    return np.log2(np.maximum(np.asarray(used, dtype=float) / cap, 1.0))


def _mapping_dict(F: np.ndarray, rank: np.ndarray, dims: tuple[str, ...]) -> dict:
    """``Mapping.to_dict()`` of one row of a batch, without building the Mapping."""
    out = {lvl: {d: int(f) for d, f in zip(dims, F[i]) if f > 1} for i, lvl in enumerate(LEVELS)}
    out["order"] = {lvl: [dims[j] for j in np.argsort(rank[t], kind="stable")] for t, lvl in enumerate(TEMPORAL)}
    return out


class JointEvaluator:
    """Joint mode: the trial's own tiling, costed in vectorized batches
    (per layer, one `cost.evaluate` call per group of compatible architectures;
    a flexible array runs each layer in the trial's ``dataflow/<layer>``)."""

    def __init__(self, cfg: Config, tiling: WorkloadTiling):
        self.cfg = cfg
        self.tiling = tiling

    def __call__(self, hw: list[dict], params: list[dict]) -> list[Outcome]:
        out: list[Outcome | None] = [None] * len(hw)
        ok, archs = [], []
        for i, values in enumerate(hw):
            try:
                archs.append(self.cfg.arch_from(values))
                ok.append(i)
            except ConfigError as e:
                out[i] = _invalid(str(e))
        if ok:
            for i, o in zip(ok, self._batch(archs, [params[i] for i in ok])):
                out[i] = o
        return out  # type: ignore[return-value]

    def _batch(self, archs: list[SystolicArch], params: list[dict]) -> list[Outcome]:
        B = len(archs)
        lat, energy, fits = np.zeros(B), np.zeros(B), np.zeros(B)
        reasons = [""] * B
        layers: list[dict] = [{} for _ in range(B)]
        maps: list[dict] = [{} for _ in range(B)]
        for lt, (layer, count) in zip(self.tiling.layers, self.cfg.workload):
            eff = [replace(a, dataflow=p[f"dataflow/{layer.name}"]) if a.flexible else a
                   for a, p in zip(archs, params)]
            groups: dict[tuple, list[int]] = {}
            for i, a in enumerate(eff):
                groups.setdefault(_group_key(a), []).append(i)
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
                    lat[i] += count * c.latency_cycles[j]
                    energy[i] += count * c.energy_pj[j]
                    fits[i] += over[j]
                    if bad[j] and not reasons[i]:
                        reasons[i] = f"layer {layer.name!r}: tile does not fit ({INFEASIBLE[c.infeasible[j]]})"
                    layers[i][layer.name] = {"latency_cycles": int(c.latency_cycles[j]),
                                             "energy_pj": float(c.energy_pj[j]),
                                             "utilization": float(c.utilization[j]), "count": count,
                                             "dataflow": g[j].dataflow}
                    maps[i][layer.name] = _mapping_dict(batch.factors[j], batch.rank[j], batch.dims)
        macs = float(self.cfg.workload.macs)
        return [Outcome(_totals(a, float(lat[i]), float(energy[i]), macs), layers[i], maps[i],
                        float(fits[i]), reasons[i]) for i, a in enumerate(archs)]
