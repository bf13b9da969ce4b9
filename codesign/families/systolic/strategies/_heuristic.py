"""Beam search: the heuristic for spaces too large to search exhaustively.

Blocks of dims are assigned one at a time (as in `Exhaustive`); after each
block only the `width` partial assignments with the best lower bound on
(objective, energy) are kept (ties: first found). At the end the best
`finalists` complete assignments of every case are costed with
`cost.evaluate`. Its cost grows linearly with the number of blocks, not
with the size of the space; benchmarks/bench_mapper.py measures its gap to
the exhaustive optimum.
"""
from __future__ import annotations

from dataclasses import replace

from ..bounds import Scorer, cases
from ....objective import Objective
from ..space import MappingSpace
from ._base import Finalists, MapperStrategy, Outcome
from ._descend import cost_leaves, descend

__all__ = ["Beam"]


class Beam(MapperStrategy):
    """Keep the `width` best partial mappings per block (module docstring)."""

    name = "beam"

    def __init__(self, width: int = 64, finalists: int = 8):
        if width < 1 or finalists < 1:
            raise ValueError("beam width and finalists must be >= 1")
        self.width, self.finalists = width, finalists

    def search(self, space: MappingSpace, objective: Objective) -> Outcome:
        fin = Finalists(space, objective)
        stats = {"bounded": 0}
        self.run(space, objective, cases(space), Scorer.of(space.layer, space.arch), fin, stats)
        return replace(fin.outcome(space.size, stats["bounded"]), exact=False)

    def run(self, space, objective, todo, scorer, fin: Finalists, stats: dict) -> None:
        """Beam over each case; cost the best leaves into `fin`."""
        for case in todo:
            leaves = descend(case, scorer, objective, beam=self.width, stats=stats)
            cost_leaves(space, leaves, fin, limit=self.finalists)

    def __repr__(self) -> str:
        return f"Beam(width={self.width}, finalists={self.finalists})"
