"""Every design of a grid space with its layers' exact fronts, cached (bench_search.py).

One pass of `Family.layer_fronts` per design (in worker processes) gives
both modes' outcomes: pareto mode's from the fronts' Minkowski sum and
nested mode's from each layer's best front point under the objective (the
mapper's optimum lies on the layer's front; tests/test_fronts.py checks the
two agree with `Family.map_network`). The pickle maps each architecture to
(fronts, seconds) and is written as the pass goes, so an interrupted run
resumes.
"""
from __future__ import annotations

import itertools
import os
import pickle
import sys
import time
from multiprocessing import get_context

from codesign.config import ConfigError
from codesign.search.fronts import layer_fronts
from codesign.search.space import grid_space

_CFG: list = []


def _init(cfg) -> None:
    _CFG[:] = [cfg]


def _one(arch):
    t0 = time.perf_counter()
    fr = layer_fronts(_CFG[0], arch)
    return arch, fr, time.perf_counter() - t0


def grid_archs(cfg) -> tuple[list, int]:
    """The architectures of every point of the config's grid (invalid ones left out), and the point count."""
    space = grid_space(cfg)
    hs = cfg.spaces[0]
    archs = []
    n = 0
    for v in itertools.product(*space.values()):
        n += 1
        try:
            archs.append(hs.arch_from(dict(zip(space, v))))
        except ConfigError:
            pass
    return archs, n


def all_fronts(cfg, jobs: int, cache: str | None) -> tuple[dict, int, float]:
    """{arch: (fronts, seconds)} for every point of the grid, the point count, and the seconds this run took."""
    archs, n = grid_archs(cfg)
    memo: dict = {}
    if cache and os.path.exists(cache):
        with open(cache, "rb") as f:
            memo = pickle.load(f)
    todo = [a for a in archs if a not in memo]
    t0 = time.perf_counter()
    if todo:
        with get_context("fork").Pool(jobs, initializer=_init, initargs=(cfg,)) as pool:
            for k, (arch, fr, dt) in enumerate(pool.imap_unordered(_one, todo, chunksize=4), 1):
                memo[arch] = (fr, dt)
                if cache and (k % 50 == 0 or k == len(todo)):
                    with open(cache + ".tmp", "wb") as f:
                        pickle.dump(memo, f)
                    os.replace(cache + ".tmp", cache)
                    print(f"    ... {len(memo)}/{len(archs)} designs mapped ({time.perf_counter() - t0:.0f} s)",
                          file=sys.stderr, flush=True)
    return {a: memo[a] for a in archs}, n, time.perf_counter() - t0
