"""The search space: the config's hardware space(s) as Optuna distributions.

A hardware value given as a list becomes a `CategoricalDistribution`; a
``{low, high, log, step}`` range an `IntDistribution` (integer parameters
such as ``rows``) or a `FloatDistribution`. Fixed values are not searched.
Joint mode adds the family's tiling parameters (`Family.joint_space`).

One space: parameter names are the config keys (a trial's ``params["rows"]``
is its architecture's ``rows``). Several spaces (``hardware:`` a list, one
per family): the trial first picks ``family``, then that family's
parameters, named ``<family>.<key>`` (conditional parameters; two families'
``clock_mhz`` never mix). `Choice` maps a trial's params back to a family,
its hardware values and its joint params.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from optuna.distributions import (BaseDistribution, CategoricalDistribution, FloatDistribution,
                                  IntDistribution)

from ..config import Config, ConfigError, HardwareSpace, Param
from ..families.base import JointParam, JointSpace

__all__ = ["SearchSpace", "Choice", "grid_space"]


def _distribution(p: Param, where: str) -> BaseDistribution:
    if p.kind == "choice":
        for c in p.choices:
            if not (c is None or isinstance(c, (bool, int, float, str))):
                raise ConfigError(f"{where}.{p.name}: a list of choices must hold plain values, got {c!r}")
        return CategoricalDistribution(p.choices)
    if p.is_int:
        return IntDistribution(int(p.low), int(p.high), log=p.log, step=int(p.step or 1))
    return FloatDistribution(float(p.low), float(p.high), log=p.log, step=p.step)


def _joint_distribution(p: JointParam) -> BaseDistribution:
    return IntDistribution(p.low, p.high) if p.kind == "int" else CategoricalDistribution(p.choices)


@dataclass(frozen=True)
class Choice:
    """One trial's design: its space, hardware values and joint params (unprefixed)."""

    space: HardwareSpace
    hardware: dict
    joint: dict


class SearchSpace:
    """Distributions of every space (module docstring) and their decoding."""

    def __init__(self, cfg: Config, joint: bool):
        self.cfg = cfg
        self.spaces = cfg.spaces
        self.multi = len(self.spaces) > 1
        self.joint: dict[str, JointSpace | None] = {}
        for s in self.spaces:
            js = None
            if joint:
                choices = {k: (p.value,) if p.kind == "fixed" else p.choices for k, p in s.params.items()}
                js = s.impl.joint_space(cfg.network, choices)
                if js is None and not self.multi:
                    raise ConfigError(f"search.mapping: family {s.family} has no joint mode; use nested")
            self.joint[s.family] = js

    def prefix(self, space: HardwareSpace) -> str:
        return f"{space.family}." if self.multi else ""

    def hardware(self, space: HardwareSpace) -> dict[str, BaseDistribution]:
        """The free hardware parameters of one space, by (prefixed) name."""
        pre = self.prefix(space)
        return {pre + k: _distribution(p, space.where) for k, p in space.params.items() if p.kind != "fixed"}

    def of(self, space: HardwareSpace) -> dict[str, BaseDistribution]:
        """Hardware and joint parameters of one space."""
        out = self.hardware(space)
        js = self.joint.get(space.family)
        if js is not None:
            out.update({self.prefix(space) + p.name: _joint_distribution(p) for p in js.params})
        return out

    @property
    def family_distribution(self) -> CategoricalDistribution:
        return CategoricalDistribution(tuple(s.family for s in self.spaces))

    def flat(self) -> dict[str, BaseDistribution]:
        """Every distribution (the study's fingerprint; the static space of one space)."""
        out = {"family": self.family_distribution} if self.multi else {}
        for s in self.spaces:
            out.update(self.of(s))
        return out

    def choice(self, params: dict) -> Choice:
        """Which space a trial's params describe, and its values without prefixes."""
        space = next(s for s in self.spaces if s.family == params["family"]) if self.multi else self.spaces[0]
        pre = self.prefix(space)
        own = {k[len(pre):]: v for k, v in params.items() if k.startswith(pre)}
        return Choice(space, {k: v for k, v in own.items() if "/" not in k},
                      {k: v for k, v in own.items() if "/" in k})


def grid_space(cfg: Config) -> dict[str, list]:
    """Every value of every free parameter, for the grid sampler (one space; ranges need a step)."""
    out = {}
    for k, p in cfg.hardware.items():
        if p.kind == "choice":
            out[k] = list(p.choices)
        elif p.kind == "range":
            step = p.step or 1
            n = int(math.floor((p.high - p.low) / step + 1e-9)) + 1
            out[k] = [(int if p.is_int else float)(p.low + i * step) for i in range(n)]
    return out
