"""Joint mode's starting population: the mapper's tilings, encoded.

Random tilings of a whole network rarely fit (every layer's tiles must fit
the array and the buffers), so a joint study starts from the nested
answer: the first batch is random hardware points (seeded), each layer
tiled as the mapper tiles it there, encoded into the joint params
(`LayerTiling.encode`). The sampler then moves tilings and hardware
together from there.
"""
from __future__ import annotations

import optuna
from optuna.distributions import BaseDistribution

from ..config import Config
from ..families.systolic.mapping import Mapping
from .evaluate import NestedEvaluator
from .settings import SearchSettings
from ..families.systolic.tiling import WorkloadTiling

__all__ = ["warm_start"]


def warm_start(cfg: Config, settings: SearchSettings, tiling: WorkloadTiling,
               hw_dists: dict[str, BaseDistribution], n: int) -> list[dict]:
    """Params of up to `n` distinct joint trials built from the mapper's tilings
    (hardware points where some layer fits nowhere are left out)."""
    sampler = optuna.samplers.RandomSampler(seed=settings.seed)
    pick = optuna.create_study(sampler=sampler)
    hw = [pick.ask(hw_dists).params for _ in range(n if hw_dists else 1)]
    hw = list({repr(sorted(h.items())): h for h in hw}.values())
    evaluator = NestedEvaluator(cfg, settings.jobs)
    try:
        outcomes = evaluator(hw)
    finally:
        evaluator.close()
    out = []
    for h, o in zip(hw, outcomes):
        if o.fits > 0:
            continue
        params = dict(h)
        for lt in tiling.layers:
            name = lt.layer.name
            m = Mapping.build(lt.layer, **o.mappings[name])
            params.update(lt.encode(m, o.layers[name].get("dataflow") or h.get("dataflow", "os")))
        out.append(params)
    return out
