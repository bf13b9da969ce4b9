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


def spread(space: SearchSpace, n: int, seed: int | None) -> list[dict]:
    """`n` hardware points that cover every categorical value about equally
    (a Latin hypercube over the choice lists: each parameter's values are
    dealt in turn, shuffled per parameter), for a first batch that sees
    every value of every parameter. Ranges are drawn uniformly (log ranges
    in log space). One space only; [] for several."""
    import random
    if space.multi:
        return []
    rng = random.Random(seed)
    cols = {}
    for name, d in space.hardware(space.spaces[0]).items():
        if isinstance(d, optuna.distributions.CategoricalDistribution):
            vals = [d.choices[i % len(d.choices)] for i in range(n)]
            rng.shuffle(vals)
        else:
            pick = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=rng.randrange(2**31)))
            vals = [pick.ask({name: d}).params[name] for _ in range(n)]
        cols[name] = vals
    out = [{k: v[i] for k, v in cols.items()} for i in range(n)]
    return list({repr(sorted(p.items())): p for p in out}.values())
