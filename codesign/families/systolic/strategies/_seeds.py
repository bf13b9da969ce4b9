"""Incumbent seeds from neighbouring designs: the optimum mappings the exact
mapper found for a layer on the last `KEEP` architectures, re-costed on the
new architecture to give branch and bound its first upper bound.

A co-design sweep maps the same layers on thousands of nearby designs; the
optimum of one is usually near-optimal on the next, so with its cost as the
incumbent most of the tree is pruned from the first level on, and the seed
beam (`Exhaustive.seed_beam`) is not needed.

Soundness: a seed is only an upper bound on the objective (``Finalists.bound_by``:
the objective, never the energy, and never a finalist), so the search still
costs and chooses among the space's own mappings by the tie-break rule: the
winner is the one found without seeds. A seed that does not fit the new
architecture is ignored (`cost.evaluate` marks it infeasible). Seeds are kept
per (layer shape, dataflow, pin, objective); a seed that beats every mapping
of the space (a pin it does not honour) leaves no finalist, and the
search runs again unseeded (`Exhaustive.search`).

The store is per process (a sweep's worker processes each keep their own);
`clear_caches` empties it.
"""
from __future__ import annotations

from collections import deque

import numpy as np

from ..cost import evaluate
from ..mapping import MappingBatch
from ....objective import Objective
from ..space import MappingSpace

__all__ = ["KEEP", "incumbent", "remember", "clear_caches"]

#: optimum mappings kept per layer key (the last designs mapped; a sweep's
#: neighbours: the previous session measured 8 as enough, more costs re-costing time)
KEEP = 8
_STORE: dict[tuple, deque] = {}


def _key(space: MappingSpace, objective: Objective) -> tuple:
    return (space.layer.shape_key(), space.arch.dataflow, repr(space.pin), objective)


def incumbent(space: MappingSpace, objective: Objective) -> float | None:
    """The best objective of the stored seeds of this layer on `space.arch`
    (None: no seed, or none fits)."""
    rows = _STORE.get(_key(space, objective))
    if not rows:
        return None
    b0 = rows[0][0]
    batch = MappingBatch(b0.dims, b0.bounds, np.stack([b.factors[i] for b, i in rows]),
                         np.stack([b.rank[i] for b, i in rows]))
    c = evaluate(space.layer, space.arch, batch)
    obj = objective(c.latency_cycles, c.energy_pj)[c.feasible]
    return float(obj.min()) if len(obj) else None


def remember(space: MappingSpace, objective: Objective, batch: MappingBatch, i: int) -> None:
    """Keep row `i` of `batch` (the optimum on `space.arch`) as a seed of its layer."""
    rows = _STORE.setdefault(_key(space, objective), deque(maxlen=KEEP))
    one = MappingBatch(batch.dims, batch.bounds, batch.factors[i:i + 1].copy(), batch.rank[i:i + 1].copy())
    if any(np.array_equal(b.factors[j], one.factors[0]) and np.array_equal(b.rank[j], one.rank[0])
           for b, j in rows):
        return
    rows.append((one, 0))


def clear_caches() -> None:
    """Forget every seed (memory; a fresh benchmark)."""
    _STORE.clear()
