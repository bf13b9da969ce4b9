"""Exhaustive search with sound pruning: branch and bound over blocks of dims.

1. The incumbent: the best of the layer's optima on the last designs
   mapped, re-costed here (`_seeds`; an objective bound only), or else a
   narrow beam (`Beam`) over the 3 cases of best root bound, costed with
   `cost.evaluate`.
2. For every case (dram-order class x stationary-reuse case, see
   `codesign.families.systolic.bounds`), best root bound first, all blocks are
   expanded (a case whose root bound is beaten is skipped); a partial assignment is dropped when it does not fit (array,
   glb, acc, with the smallest possible rest) or when its lower bound on
   (objective, energy) is beaten by the incumbent.
3. The surviving complete assignments, best bound first, are costed with
   `cost.evaluate` in batches; after each batch the incumbent tightens and
   the rest is re-checked. With unpinned orders the bounds of complete
   assignments are the cost model's values, so this costs the optimum and
   its ties only; with pinned orders more are costed.

Sound because every dropped mapping has a bound >= an actual mapping's
cost, and every pruning rule of `MappingSpace` and `_bounds` is a
dominance (see their docstrings); objective values within a relative 1e-9
count as equal. The winner follows the tie-break rule of
`codesign.families.systolic.strategies._base.tie_key`.

A safety valve for pathological spaces: past `budget` bounded rows the
remaining cases are searched by a beam instead and the outcome says
``exact=False`` (never seen on the model zoo, where the search scores
10^3..10^6 rows per layer).
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from ..bounds import Scorer, cases
from ....objective import Objective
from ..space import MappingSpace
from ._base import Finalists, MapperStrategy, Outcome
from ._descend import BudgetExceeded, cost_leaves, descend, root_bound
from ._heuristic import Beam
from . import _seeds

__all__ = ["Exhaustive"]

class Exhaustive(MapperStrategy):
    """The optimum of the space (module docstring). `seed_beam`: width of
    the beam that finds the first incumbent, run on the `beam_cases` cases
    of best root bound when no neighbour seed fits (`_seeds`); `budget`:
    bounded rows before falling back to a beam (None: no limit); `seeds`:
    use and keep neighbour seeds."""

    name = "exhaustive"

    def __init__(self, seed_beam: int = 8, budget: int | None = 50_000_000, *, beam_cases: int = 3,
                 seeds: bool = True):
        self.seed_beam, self.budget, self.beam_cases, self.seeds = seed_beam, budget, beam_cases, seeds

    def search(self, space: MappingSpace, objective: Objective) -> Outcome:
        seed = _seeds.incumbent(space, objective) if self.seeds else None
        out = self._search(space, objective, seed)
        if out is None:         # the seed beat every mapping of the space (a pin it breaks): unseeded
            out = self._search(space, objective, None)
        if self.seeds and out.best >= 0 and out.exact:
            _seeds.remember(space, objective, out.batch, out.best)
        return out

    def _search(self, space: MappingSpace, objective: Objective, seed: float | None) -> Outcome | None:
        scorer = Scorer.of(space.layer, space.arch)
        todo = cases(space)
        roots = [root_bound(c, scorer, objective) for c in todo]
        order = sorted(range(len(todo)), key=roots.__getitem__)
        todo, roots = [todo[i] for i in order], [roots[i] for i in order]
        fin = Finalists(space, objective)
        stats = {"bounded": 0}
        if seed is None:
            Beam(self.seed_beam).run(space, objective, todo[:self.beam_cases], scorer, fin, stats)
        else:
            fin.bound_by(seed)
        budget = None if self.budget is None else stats["bounded"] + self.budget
        exact = True
        for i, case in enumerate(todo):
            if fin.beaten(np.array([roots[i][0]]), np.array([roots[i][1]]))[0]:
                continue                       # nothing in this case can beat or tie the incumbent
            try:
                leaves = descend(case, scorer, objective, beaten=fin.beaten, stats=stats,
                                 budget=budget if exact else None)
            except BudgetExceeded:
                exact = False
                Beam(64).run(space, objective, todo[i:], scorer, fin, stats)
                break
            cost_leaves(space, leaves, fin)
        if seed is not None and fin.empty:
            return None
        out = fin.outcome(space.size, stats["bounded"])
        return out if exact else replace(out, exact=False)

    def __repr__(self) -> str:
        return (f"Exhaustive(seed_beam={self.seed_beam}, budget={self.budget}, beam_cases={self.beam_cases}, "
                f"seeds={self.seeds})")
