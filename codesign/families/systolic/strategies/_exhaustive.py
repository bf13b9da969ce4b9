"""Exhaustive search with sound pruning: branch and bound over blocks of dims.

1. A narrow beam (`Beam`) finds a good mapping; `cost.evaluate` costs it:
   the incumbent.
2. For every case (dram-order class x stationary-reuse case, see
   `codesign.families.systolic.bounds`), best root bound first, all blocks are
   expanded; a partial assignment is dropped when it does not fit (array,
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


from ..bounds import Scorer, cases
from ....objective import Objective
from ..space import MappingSpace
from ._base import Finalists, MapperStrategy, Outcome
from ._descend import BudgetExceeded, cost_leaves, descend, root_bound
from ._heuristic import Beam

__all__ = ["Exhaustive"]

class Exhaustive(MapperStrategy):
    """The optimum of the space (module docstring). `seed_beam`: width of
    the beam that finds the first incumbent; `budget`: bounded rows before
    falling back to a beam (None: no limit)."""

    name = "exhaustive"

    def __init__(self, seed_beam: int = 8, budget: int | None = 50_000_000):
        self.seed_beam, self.budget = seed_beam, budget

    def search(self, space: MappingSpace, objective: Objective) -> Outcome:
        scorer = Scorer.of(space.layer, space.arch)
        todo = cases(space)
        fin = Finalists(space, objective)
        stats = {"bounded": 0}
        Beam(self.seed_beam).run(space, objective, todo, scorer, fin, stats)
        todo.sort(key=lambda c: root_bound(c, scorer, objective))
        budget = None if self.budget is None else stats["bounded"] + self.budget
        exact = True
        for i, case in enumerate(todo):
            try:
                leaves = descend(case, scorer, objective, beaten=fin.beaten, stats=stats,
                                 budget=budget if exact else None)
            except BudgetExceeded:
                exact = False
                Beam(64).run(space, objective, todo[i:], scorer, fin, stats)
                break
            cost_leaves(space, leaves, fin)
        out = fin.outcome(space.size, stats["bounded"])
        return out if exact else replace(out, exact=False)

    def __repr__(self) -> str:
        return f"Exhaustive(seed_beam={self.seed_beam}, budget={self.budget})"
