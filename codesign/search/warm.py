"""Joint mode's starting population: the mapper's plans, encoded.

Random tilings of a whole network rarely fit (every layer's tiles must fit
the array and the buffers), so a joint study starts from the nested
answer: the first batch is random hardware points (seeded), each planned
by its family's mapper there and encoded into the joint params
(`Family.encode`). The sampler then moves plans and hardware together.
"""
from __future__ import annotations

import optuna

from ..config import Config
from .settings import SearchSettings
from .space import SearchSpace

__all__ = ["warm_start"]


def warm_start(cfg: Config, settings: SearchSettings, space: SearchSpace, n: int) -> list[dict]:
    """Params of up to `n` distinct joint trials built from the mappers' plans
    (hardware points where some layer fits nowhere are left out)."""
    sampler = optuna.samplers.RandomSampler(seed=settings.seed)
    pick = optuna.create_study(sampler=sampler)
    out, seen = [], set()
    for i in range(n):
        s = space.spaces[i % len(space.spaces)]
        js = space.joint.get(s.family)
        if js is None:
            continue
        dists = space.hardware(s)
        hw = pick.ask(dists).params if dists else {}
        key = (s.family, repr(sorted(hw.items())))
        if key in seen:
            continue
        seen.add(key)
        choice = space.choice({**hw, "family": s.family})
        arch = s.arch_from(choice.hardware)
        cost = s.impl.map_network(cfg.network, arch, cfg.objective, cfg.pins)
        if not cost.feasible:
            continue
        pre = space.prefix(s)
        params = {**hw, **({"family": s.family} if space.multi else {})}
        params.update({pre + k: v for k, v in s.impl.encode(js, cost).items()})
        out.append(params)
    return out
