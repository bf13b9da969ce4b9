"""The ``search:`` section of a sweep config, validated into `SearchSettings`.

Shape (every key optional; defaults shown)::

    search:
      objectives: [latency_cycles, energy_pj, area_mm2]   # any of METRICS, minimized
      constraints:                                        # bounds on metrics; all optional
        area_mm2: {max: 4.0}
        power_mw: {max: 500}
        utilization: {min: 0.3}
        layers:                                           # per-layer bounds
          - {layer: conv1, latency_cycles: {max: 2.0e6}}
      mapping: nested        # nested | pareto | joint
      sampler: nsga2         # nsga2 | tpe | random | grid | local (Pareto local search: codesign.search.local)
      n_trials: 500
      batch: 32              # trials asked, evaluated and stored together (nsga2: one generation)
      seed: 0                # null: not reproducible
      storage: default       # default (a journal file in the results folder) or an RDB URL
      jobs: auto             # processes mapping a batch's new designs (nested mode); auto: all cores;
                             # more than the cores is capped to them (one warning line)

Integer settings are bounded by `codesign.errors.LIMITS` (n_trials <= 10**7,
batch <= 10**5, seed < 2**32).

Every problem is a one-line `ConfigError` naming the key.
"""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import Any

from ..config import Config, ConfigError
from ..errors import UserError, bounded, finite_number

__all__ = ["SearchSettings", "Bound", "parse_search", "METRICS", "LAYER_METRICS", "MAPPINGS", "SAMPLERS",
           "UNITS", "metrics_of"]

#: network-level figures a sweep reports (objectives and constraint targets)
METRICS = ("latency_cycles", "energy_pj", "area_mm2", "edp", "power_mw", "utilization")
#: network figures a sweep may add for its families (Family.extra_metrics), in this order
EXTRA_METRICS = ("throughput_fps", "ii_cycles", "lut_used", "dsp_used", "bram18_used")
#: per-layer figures a constraint may bound
LAYER_METRICS = ("latency_cycles", "energy_pj", "utilization")
#: axis labels for plots and tables
UNITS = {"latency_cycles": "latency (cycles)", "energy_pj": "energy (pJ)", "area_mm2": "area (mm²)",
         "edp": "energy-delay product (pJ·cycles)", "power_mw": "power (mW)", "utilization": "PE utilization",
         "throughput_fps": "throughput (frames/s)", "ii_cycles": "initiation interval (cycles)", "lut_used": "LUTs used",
         "dsp_used": "DSPs used", "bram18_used": "BRAM18s used"}
MAPPINGS = ("nested", "pareto", "joint")
SAMPLERS = ("nsga2", "tpe", "random", "grid", "local")
_KEYS = ("objectives", "constraints", "mapping", "sampler", "n_trials", "batch", "seed", "storage", "jobs")
_DEFAULT_OBJECTIVES = ("latency_cycles", "energy_pj", "area_mm2")


@dataclass(frozen=True)
class Bound:
    """One constraint: ``metric <= limit`` (kind "max") or ``>= limit`` (kind "min"),
    on the network or, with `layer`, on one layer (per instance)."""

    metric: str
    kind: str
    limit: float
    layer: str | None = None

    @property
    def name(self) -> str:
        """The constraint's key in Optuna and its column suffix, e.g. ``area_mm2.max``."""
        return f"{self.layer}/{self.metric}.{self.kind}" if self.layer else f"{self.metric}.{self.kind}"

    def violation(self, value: float) -> float:
        """Relative violation: <= 0 when satisfied, (value - limit) / |limit| otherwise."""
        scale = abs(self.limit) or 1.0
        return (value - self.limit) / scale if self.kind == "max" else (self.limit - value) / scale


@dataclass(frozen=True)
class SearchSettings:
    """A validated ``search:`` section (see module docstring)."""

    objectives: tuple[str, ...] = _DEFAULT_OBJECTIVES
    constraints: tuple[Bound, ...] = ()
    mapping: str = "nested"
    sampler: str = "nsga2"
    n_trials: int = 500
    batch: int = 32
    seed: int | None = 0
    storage: str = "default"
    jobs: int = 1                     # parse_search's default is "auto": os.cpu_count()
    metrics: tuple[str, ...] = METRICS   # the study's metrics (`metrics_of`)

    @property
    def is_rdb(self) -> bool:
        return self.storage != "default"


def metrics_of(cfg: Config) -> tuple[str, ...]:
    """`METRICS` plus the extra metrics of the config's families (`Family.extra_metrics`)."""
    extra = {m for s in cfg.spaces for m in s.impl.extra_metrics}
    return METRICS + tuple(m for m in EXTRA_METRICS if m in extra)


def _int(key: str, v: Any) -> int:
    """An integer setting within its documented bound (`codesign.errors.LIMITS`)."""
    try:
        return bounded(f"search.{key}", v, key)
    except UserError as e:
        raise ConfigError(str(e)) from None


def cores() -> int:
    """Cores this process may run on (its CPU affinity where the OS tells it)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _jobs(v: Any) -> int:
    """search.jobs: ``auto`` is every core; more than the cores is capped to them, in one warning line."""
    n = cores()
    if v == "auto":
        return n
    jobs = _int("jobs", v)
    if jobs > n:
        print(f"warning: search.jobs: {jobs} capped at the {n} cores of this machine", file=sys.stderr)
    return min(jobs, n)


def _bound(key: str, metric: str, spec: Any, layer: str | None = None) -> Bound:
    if not isinstance(spec, dict) or len(spec) != 1 or next(iter(spec)) not in ("max", "min"):
        raise ConfigError(f"{key}: a bound is {{max: number}} or {{min: number}}, got {spec!r}")
    kind, limit = next(iter(spec.items()))
    try:
        limit = finite_number(f"{key}.{kind}", limit, low=-1e300, high=1e300)
    except UserError as e:
        raise ConfigError(str(e)) from None
    return Bound(metric, kind, float(limit), layer)


def _constraints(raw: Any, cfg: Config, metrics: tuple[str, ...]) -> tuple[Bound, ...]:
    if not isinstance(raw, dict):
        raise ConfigError("search.constraints: must map metrics to {max: ...} or {min: ...} (and 'layers': [...])")
    out = []
    for metric, spec in raw.items():
        if metric == "layers":
            out.extend(_layer_bounds(spec, cfg))
            continue
        if metric not in metrics:
            raise ConfigError(f"search.constraints.{metric}: unknown metric; choose from "
                              f"{', '.join(metrics)} or layers")
        out.append(_bound(f"search.constraints.{metric}", metric, spec))
    return tuple(out)


def _layer_bounds(raw: Any, cfg: Config) -> list[Bound]:
    if not isinstance(raw, list):
        raise ConfigError("search.constraints.layers: must be a list of {layer: NAME, <metric>: {max|min: ...}}")
    out = []
    for i, item in enumerate(raw):
        key = f"search.constraints.layers[{i}]"
        if not isinstance(item, dict) or "layer" not in item:
            raise ConfigError(f"{key}: must be a mapping with 'layer' and at least one metric bound")
        name = item["layer"]
        try:
            layer = cfg.workload.layer(name)
        except KeyError:
            raise ConfigError(f"{key}.layer: no layer {name!r} in the workload") from None
        metrics = [k for k in item if k != "layer"]
        if not metrics:
            raise ConfigError(f"{key}: no bound given (e.g. latency_cycles: {{max: 1.0e6}})")
        for m in metrics:
            if m not in LAYER_METRICS:
                raise ConfigError(f"{key}.{m}: unknown layer metric; choose from {', '.join(LAYER_METRICS)}")
            out.append(_bound(f"{key}.{m}", m, item[m], layer.name))
    return out


def _storage(v: Any) -> str:
    if not isinstance(v, str) or not v:
        raise ConfigError(f"search.storage: must be 'default' or an RDB URL, got {v!r}")
    if v == "default":
        return v
    if "://" not in v:
        raise ConfigError(f"search.storage: must be 'default' or an RDB URL such as sqlite:///study.db or "
                          f"postgresql+psycopg2://user@host/db, got {v!r}")
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError
    try:
        make_url(v)
    except ArgumentError:
        raise ConfigError(f"search.storage: not a valid database URL: {v!r}") from None
    return v


def parse_search(cfg: Config) -> SearchSettings:
    """Validate `cfg.search` against the rest of the config (layer names, free hardware)."""
    raw = cfg.search or {}
    for k in raw:
        if k not in _KEYS:
            raise ConfigError(f"search.{k}: unknown key; allowed: {', '.join(_KEYS)}")
    metrics = metrics_of(cfg)
    allowed = tuple(m for m in metrics if m != "utilization")
    objectives = raw.get("objectives", list(_DEFAULT_OBJECTIVES))
    if isinstance(objectives, str):
        objectives = [objectives]
    if not isinstance(objectives, list) or not objectives:
        raise ConfigError(f"search.objectives: must be a non-empty list from {', '.join(allowed)}")
    for i, o in enumerate(objectives):
        if o not in allowed:
            raise ConfigError(f"search.objectives[{i}]: unknown objective {o!r}; choose from "
                              f"{', '.join(allowed)}")
    if len(set(objectives)) != len(objectives):
        raise ConfigError(f"search.objectives: an objective is listed twice in {objectives}")
    mapping = raw.get("mapping", "nested")
    if mapping not in MAPPINGS:
        raise ConfigError(f"search.mapping: must be one of {', '.join(MAPPINGS)}, got {mapping!r}")
    sampler = raw.get("sampler", "nsga2")
    if sampler not in SAMPLERS:
        raise ConfigError(f"search.sampler: must be one of {', '.join(SAMPLERS)}, got {sampler!r}")
    seed = raw.get("seed", 0)
    if seed is not None:
        seed = _int("seed", seed)
    jobs = _jobs(raw.get("jobs", "auto"))
    s = SearchSettings(
        objectives=tuple(objectives),
        constraints=_constraints(raw.get("constraints") or {}, cfg, metrics),
        mapping=mapping, sampler=sampler,
        n_trials=_int("n_trials", raw.get("n_trials", 500)),
        batch=_int("batch", raw.get("batch", 32)),
        seed=seed, storage=_storage(raw.get("storage", "default")), jobs=jobs, metrics=metrics)
    if s.sampler == "nsga2" and s.batch < 2:
        raise ConfigError("search.batch: nsga2 needs a batch of at least 2 (one batch is one generation)")
    free = [k for sp in cfg.spaces for k in sp.free]
    if not free and len(cfg.spaces) == 1 and s.mapping in ("nested", "pareto"):
        raise ConfigError("hardware: nothing to search; give at least one hardware value as a list or a "
                          "{low, high} range (or use search.mapping: joint to search tilings only)")
    if s.sampler in ("grid", "local"):
        what = "enumerates" if s.sampler == "grid" else "walks"
        if len(cfg.spaces) > 1:
            raise ConfigError(f"search.sampler: {s.sampler} {what} one hardware space; use nsga2, tpe or random "
                              "with a list of spaces")
        if s.mapping == "joint":
            raise ConfigError(f"search.sampler: {s.sampler} {what} hardware only; use nsga2, tpe or random with "
                              "mapping: joint")
        for p in cfg.hardware.values():
            if p.kind == "range" and (p.step is None and not p.is_int or p.log):
                raise ConfigError(f"hardware.{p.name}: the {s.sampler} sampler needs a list or a range with step")
    if cfg.pins and s.mapping == "joint":
        raise ConfigError("mapping: pinned layer mappings apply to nested mode; joint mode searches them")
    return s
