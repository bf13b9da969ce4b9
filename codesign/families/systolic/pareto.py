"""The exact latency/energy Pareto set of one layer (`pareto_mappings`).

Branch and bound as in `strategies._exhaustive`, with a *front* as the
incumbent: a partial mapping is dropped when some costed mapping is no
worse in latency and energy than its lower bounds and strictly better in
one. The front is seeded by beams for latency and for energy; surviving
complete mappings are costed with `cost.evaluate` front-first (those not
dominated by other survivors' bounds), the front is updated, and the rest
re-checked until none is left. Mappings with equal (latency, energy) are
one point; the tie-break rule picks its mapping.
"""
from __future__ import annotations

import numpy as np

from .bounds import Scorer, cases
from .cost import Costs, evaluate
from .mapping import MappingBatch
from ...objective import Objective
from .space import MappingSpace
from .strategies._base import TOL, Finalists, _cat, _take, tie_key
from .strategies._descend import choices_of, descend
from .strategies._heuristic import Beam

__all__ = ["pareto_front"]


class _Front:
    """Costed mappings and the non-dominated (latency, energy) staircase."""

    def __init__(self, space: MappingSpace):
        self.space = space
        self.batches: list[MappingBatch] = []
        self.costs: list[Costs] = []
        self.L = np.zeros(0)
        self.E = np.zeros(0)
        self.evaluated = 0

    def add(self, batch: MappingBatch, c: Costs) -> None:
        ok = np.flatnonzero(c.feasible)
        self.evaluated += len(batch)
        if not len(ok):
            return
        self.batches.append(MappingBatch(batch.dims, batch.bounds, batch.factors[ok], batch.rank[ok]))
        self.costs.append(_take(c, ok))
        L = np.concatenate([self.L, c.latency_cycles[ok].astype(float)])
        E = np.concatenate([self.E, c.energy_pj[ok]])
        keep = _nondominated(L, E)
        order = np.lexsort((E[keep], L[keep]))
        self.L, self.E = L[keep][order], E[keep][order]

    def beaten(self, L: np.ndarray, E: np.ndarray) -> np.ndarray:
        """Bounds (L, E) strictly dominated by a front point."""
        if not len(self.L):
            return np.zeros(len(L), bool)
        j = np.searchsorted(self.L, L, side="right") - 1
        jj = np.maximum(j, 0)
        Lf, Ef = self.L[jj], self.E[jj]
        Elo = E * (1 - TOL)
        return (j >= 0) & (Ef <= Elo) & ((Lf < L) | (Ef < Elo))

    def points(self, objective: Objective, max_points: int | None):
        batch = MappingBatch(self.batches[0].dims, self.batches[0].bounds,
                             np.concatenate([b.factors for b in self.batches]),
                             np.concatenate([b.rank for b in self.batches]))
        c = _cat(self.costs)
        L, E = c.latency_cycles.astype(float), c.energy_pj
        front = _nondominated(L, E)
        order = tie_key(objective, c, batch)                 # energy, latency, factors... first
        seen, out = set(), []
        for i in order:
            if front[i] and (L[i], E[i]) not in seen:
                seen.add((L[i], E[i]))
                out.append(int(i))
        out.sort(key=lambda i: (L[i], E[i]))
        if max_points is not None:
            out = out[:max_points]
        return batch, c, out


def _nondominated(L: np.ndarray, E: np.ndarray) -> np.ndarray:
    """Rows not strictly dominated by another row (equal rows all kept)."""
    order = np.lexsort((E, L))
    keep = np.zeros(len(L), bool)
    best = np.inf
    i = 0
    while i < len(order):
        j = i
        while j < len(order) and L[order[j]] == L[order[i]]:
            j += 1
        grp = order[i:j]
        emin = E[grp].min()
        if emin < best:
            keep[grp[E[grp] == emin]] = True
            best = emin
        i = j
    return keep


def pareto_front(space: MappingSpace, *, max_points: int | None = None) -> list[tuple]:
    """The Pareto points of `space` as ``(batch, costs, row, evaluated, bounded)``
    tuples, by increasing latency (empty when nothing fits)."""
    scorer = Scorer.of(space.layer, space.arch)
    todo = cases(space)
    front = _Front(space)
    stats = {"bounded": 0}
    lat, en = Objective("latency"), Objective("energy")
    for obj in (lat, en):                                    # seed the front
        fin = Finalists(space, obj)
        Beam(8).run(space, obj, todo, scorer, fin, stats)
        out = fin.outcome(0, 0)
        if out.best >= 0:
            front.add(out.batch, out.costs)
    for case in todo:
        leaves = descend(case, scorer, lat, beaten=lambda o, e: front.beaten(o, e), stats=stats)
        L, E = leaves.obj, leaves.energy
        alive = np.ones(len(L), bool)
        while True:
            alive &= ~front.beaten(L, E)
            rows = np.flatnonzero(alive)
            if not len(rows):
                break
            rows = rows[_nondominated(L[rows], E[rows])]
            alive[rows] = False
            batch = space.batch(choices_of(space, leaves, rows), case.dram_order)
            front.add(batch, evaluate(space.layer, space.arch, batch))
    if not front.batches:
        return []
    batch, c, rows = front.points(Objective("latency"), max_points)
    return [(batch, c, i, front.evaluated, stats["bounded"]) for i in rows]
