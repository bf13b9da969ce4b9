"""Brute force: every mapping of the space costed with `cost.evaluate`.

No bounds and no dominance beyond the space's own (canonical loop orders):
the reference the other strategies are tested against, and a fine choice
for small spaces. Mappings are enumerated in numpy chunks (mixed-radix
indices over the per-dim candidates), never one Python object each.
"""
from __future__ import annotations

import numpy as np

from ....objective import Objective
from ..space import MappingSpace
from ._base import Finalists, MapperStrategy, Outcome

__all__ = ["BruteForce"]


class BruteForce(MapperStrategy):
    """Cost all of `MappingSpace` (refuses spaces above `limit` mappings)."""

    name = "brute"

    def __init__(self, limit: int = 20_000_000, chunk: int = 1 << 16):
        self.limit, self.chunk = limit, chunk

    def search(self, space: MappingSpace, objective: Objective) -> Outcome:
        if space.size > self.limit:
            raise ValueError(f"brute force: the space holds {space.size:,} mappings (limit {self.limit:,})")
        fin = Finalists(space, objective)
        sizes = [len(d) for d in space.dims]
        combos = int(np.prod(sizes))
        for o in range(len(space.dram_orders)):
            for s in range(0, combos, self.chunk):
                lin = np.arange(s, min(s + self.chunk, combos))
                choice = np.stack(np.unravel_index(lin, sizes), axis=1)
                fin.add(choice, np.full(len(lin), o))
        return fin.outcome(space.size, 0)
