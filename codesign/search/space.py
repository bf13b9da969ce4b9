"""The hardware half of the search space: config parameters as Optuna distributions.

A config value given as a list becomes a `CategoricalDistribution` over the
values; a ``{low, high, log, step}`` range becomes an `IntDistribution` (for
integer keys such as ``rows``) or a `FloatDistribution`. Fixed values are
not searched. Parameter names are the config keys, so a trial's
``params["rows"]`` is the ``rows`` of its architecture.
"""
from __future__ import annotations

import math

from optuna.distributions import (BaseDistribution, CategoricalDistribution, FloatDistribution,
                                  IntDistribution)

from ..config import Config, ConfigError, Param

__all__ = ["hardware_distributions", "grid_space", "hardware_values"]


def _distribution(p: Param) -> BaseDistribution:
    if p.kind == "choice":
        for c in p.choices:
            if not (c is None or isinstance(c, (bool, int, float, str))):
                raise ConfigError(f"hardware.{p.name}: a list of choices must hold plain values, got {c!r}")
        return CategoricalDistribution(p.choices)
    if p.is_int:
        return IntDistribution(int(p.low), int(p.high), log=p.log, step=int(p.step or 1))
    return FloatDistribution(float(p.low), float(p.high), log=p.log, step=p.step)


def hardware_distributions(cfg: Config) -> dict[str, BaseDistribution]:
    """One distribution per free hardware parameter, in config order."""
    return {k: _distribution(p) for k, p in cfg.hardware.items() if p.kind != "fixed"}


def grid_space(cfg: Config) -> dict[str, list]:
    """Every value of every free parameter, for the grid sampler (ranges need a step)."""
    out = {}
    for k, p in cfg.hardware.items():
        if p.kind == "choice":
            out[k] = list(p.choices)
        elif p.kind == "range":
            step = p.step or 1
            n = int(math.floor((p.high - p.low) / step + 1e-9)) + 1
            out[k] = [(int if p.is_int else float)(p.low + i * step) for i in range(n)]
    return out


def hardware_values(params: dict) -> dict:
    """The hardware part of a trial's params (joint-mode tiling params hold a '/')."""
    return {k: v for k, v in params.items() if "/" not in k}
