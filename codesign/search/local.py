"""Pareto local search on a discrete hardware grid: the ``search.sampler: local`` sampler.

On a small discrete space (the quickstart grid: 1350 designs, 300 trials)
the sampler walks the front. It first proposes a balanced start
(`n_startup` designs, a Latin hypercube over each parameter's values:
every value dealt in turn, shuffled per parameter), then, at every ask, an
unevaluated neighbour of a current feasible non-dominated design (the
member drawn uniformly among those with one): a design one step away in
one parameter (the next or previous value of an ordered numeric list or
range, any other value of an unordered list such as ``dataflow``). When
the front's neighbourhood is exhausted it walks the next non-dominated
rank's neighbours (then the next), and when every evaluated design's
neighbourhood is exhausted it draws an unevaluated design at random. It
never proposes a design that is complete or running while an unevaluated
one remains; it draws from one seeded generator, so a seed and the same
evaluations give the same trials.

The space must be a finite grid (lists, or ranges with a step; one
hardware space, nested or pareto mode): `parse_search` refuses others.
"""
from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.samplers import BaseSampler
from optuna.study import Study
from optuna.trial import FrozenTrial, TrialState

from .pareto import pareto_mask

__all__ = ["ParetoLocalSampler", "grid_values", "N_STARTUP"]

#: designs of the balanced start; 40 is about 3% of the quickstart grid (the
#: brief's "e.g. 40 trials"; bench_search.py quality measures the choice)
N_STARTUP = 40


def grid_values(d: BaseDistribution) -> tuple | None:
    """Every value of a finite distribution in its order, or None if it is not finite
    (a float range without a step, a log range)."""
    if isinstance(d, CategoricalDistribution):
        return tuple(d.choices)
    if isinstance(d, IntDistribution) and not d.log:
        return tuple(range(d.low, d.high + 1, d.step))
    if isinstance(d, FloatDistribution) and d.step is not None and not d.log:
        n = int(np.floor((d.high - d.low) / d.step + 1e-9)) + 1
        return tuple(float(d.low + i * d.step) for i in range(n))
    return None


def _ordered(values: tuple) -> bool:
    """Numeric values (not bools) are ordered: neighbours are the adjacent values by size."""
    return all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)


class ParetoLocalSampler(BaseSampler):
    """Balanced start, then unevaluated grid neighbours of the non-dominated designs (module docstring).

    `dists` are the study's distributions (every one finite: `grid_values`);
    the sampler proposes whole designs (relative sampling over all of them)."""

    def __init__(self, dists: dict[str, BaseDistribution], n_startup: int = N_STARTUP, seed: int | None = None):
        self._dists = dict(dists)
        self._names = list(self._dists)
        self._values = [grid_values(d) for d in self._dists.values()]
        for name, vals in zip(self._names, self._values):
            if not vals:
                raise ValueError(f"{name}: not a finite grid distribution")
        self._index = [{repr(v): i for i, v in enumerate(vals)} for vals in self._values]
        self._steps = [self._neighbour_steps(vals) for vals in self._values]
        self._rng = np.random.RandomState(seed)
        self._start = self._balanced(n_startup)

    @staticmethod
    def _neighbour_steps(vals: tuple) -> list[list[int]]:
        """For each value index, the indices one step away."""
        n = len(vals)
        if _ordered(vals):
            order = sorted(range(n), key=lambda i: vals[i])
            pos = {i: p for p, i in enumerate(order)}
            return [[order[p] for p in (pos[i] - 1, pos[i] + 1) if 0 <= p < n] for i in range(n)]
        return [[j for j in range(n) if j != i] for i in range(n)]

    def _balanced(self, n: int) -> list[tuple[int, ...]]:
        """Up to `n` distinct designs covering each parameter's values about equally."""
        cols = []
        for vals in self._values:
            col = [i % len(vals) for i in range(n)]
            self._rng.shuffle(col)
            cols.append(col)
        return list(dict.fromkeys(zip(*cols)))

    def _key(self, params: dict) -> tuple[int, ...] | None:
        try:
            return tuple(self._index[k][repr(params[name])] for k, name in enumerate(self._names))
        except KeyError:
            return None        # another space's trial, or a value off the grid

    def infer_relative_search_space(self, study: Study, trial: FrozenTrial) -> dict[str, BaseDistribution]:
        """The whole grid: every design is proposed at once."""
        return dict(self._dists)

    def sample_relative(self, study: Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]) -> dict:
        """The next design (module docstring) as params."""
        trials = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.RUNNING))
        seen = {k for t in trials if t.number != trial.number and (k := self._key(t.params)) is not None}
        key = next((k for k in self._start if k not in seen), None)
        if key is None:
            key = self._local(study, trials, seen)
        return {name: self._values[i][key[i]] for i, name in enumerate(self._names)}

    def _local(self, study: Study, trials: Sequence[FrozenTrial], seen: set) -> tuple[int, ...]:
        """An unevaluated neighbour of the best non-dominated rank that has one; else a random design."""
        done = [(k, t) for t in trials if t.state == TrialState.COMPLETE and t.values is not None
                and (k := self._key(t.params)) is not None]
        feasible = [(k, t) for k, t in done if all(v <= 0 for v in t.constraints.values())]
        signs = np.array([1.0 if d.name == "MINIMIZE" else -1.0 for d in study.directions])
        keys = [k for k, _ in feasible]
        vals = np.array([t.values for _, t in feasible], dtype=float).reshape(len(feasible), len(signs)) * signs
        rest = np.ones(len(keys), dtype=bool)
        while rest.any():
            idx = np.flatnonzero(rest)
            front = idx[pareto_mask(vals[idx])]
            rest[front] = False
            key = self._pick(front, keys, seen)
            if key is not None:
                return key
        return self._random(seen)

    def _pick(self, front: np.ndarray, keys: list, seen: set) -> tuple[int, ...] | None:
        """A front member drawn uniformly among those with an unevaluated neighbour, then one of its
        unevaluated neighbours (a walk spread along the front); None if the rank has none."""
        per = [c for i in sorted(front, key=lambda i: keys[i])
               if (c := sorted(set(self._neighbours(keys[i])) - seen))]
        if not per:
            return None
        c = per[self._rng.randint(len(per))]
        return c[self._rng.randint(len(c))]

    def _neighbours(self, key: tuple[int, ...]):
        for p, steps in enumerate(self._steps):
            for j in steps[key[p]]:
                yield key[:p] + (j,) + key[p + 1:]

    def _random(self, seen: set) -> tuple[int, ...]:
        """A random unevaluated design (any design once the grid is exhausted)."""
        sizes = [len(v) for v in self._values]
        total = int(np.prod(sizes))
        if len(seen) < total:
            for _ in range(64):
                key = tuple(int(self._rng.randint(n)) for n in sizes)
                if key not in seen:
                    return key
            free = [k for k in itertools.product(*map(range, sizes)) if k not in seen]
            if free:
                return free[self._rng.randint(len(free))]
        return tuple(int(self._rng.randint(n)) for n in sizes)

    def sample_independent(self, study: Study, trial: FrozenTrial, param_name: str,
                           param_distribution: BaseDistribution):
        """A parameter outside the grid the sampler was built for: a seeded uniform choice of its values."""
        vals = grid_values(param_distribution)
        if vals is None:
            raise ValueError(f"{param_name}: the local sampler needs a finite grid distribution")
        return vals[self._rng.randint(len(vals))]
