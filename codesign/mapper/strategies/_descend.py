"""Level-by-level expansion of block choices with bounds (shared by the
exhaustive and the beam strategies).

A frontier row is a partial assignment: one choice per block assigned so
far, and the product of their term factors. Expanding a block multiplies
every row by every choice (numpy broadcasting, in chunks); each new row is
bounded by its products times the per-term minimum over the blocks still
unassigned (`codesign.mapper._bounds`), and rows that do not fit or whose
bound is beaten are dropped (or, for a beam, only the best rows are kept).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from .._bounds import Case, Scorer
from ..objective import Objective
from ..space import MappingSpace

__all__ = ["Leaves", "descend", "choices_of", "root_bound"]

#: rows x terms per chunk of broadcasting (keeps the working set small)
_CHUNK = 1 << 19


@dataclass(frozen=True)
class Leaves:
    """Complete assignments of one case: `idx` (N, blocks) choice rows,
    `obj`/`energy` their (lower-bound) values, sorted best first."""

    case: Case
    idx: np.ndarray
    obj: np.ndarray
    energy: np.ndarray


def _bound(scorer: Scorer, objective: Objective, P: np.ndarray):
    lat, energy, fits = scorer(P)
    lat = np.ceil(lat * (1 - 1e-12))          # the true latency is an integer >= the raw bound
    return objective(lat, energy), energy, fits


def _suffix_mins(case: Case) -> list[np.ndarray]:
    out = [np.ones_like(case.P0)]
    for b in reversed(case.blocks):
        out.append(out[-1] * b.V.min(axis=0))
    return out[::-1]


def root_bound(case: Case, scorer: Scorer, objective: Objective) -> tuple[float, float]:
    """(objective, energy) bound of the case before any choice."""
    o, e, _ = _bound(scorer, objective, (case.P0 * _suffix_mins(case)[0])[None])
    return float(o[0]), float(e[0])


def descend(case: Case, scorer: Scorer, objective: Objective, *,
            beaten: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None,
            beam: int | None = None, stats: dict | None = None) -> Leaves:
    """Expand all blocks of `case`; keep rows that fit and are not `beaten`
    (a function of bound objective and energy), or the best `beam` rows per
    level. Counts scored rows in ``stats["bounded"]``."""
    mins = _suffix_mins(case)
    P = case.P0[None].copy()
    idx = np.zeros((1, 0), dtype=np.int32)
    obj, energy, fits = _bound(scorer, objective, P)
    if not fits[0]:
        return Leaves(case, np.zeros((0, len(case.blocks)), np.int32), np.zeros(0), np.zeros(0))
    for lvl, blk in enumerate(case.blocks):
        n = len(blk.V)
        step = max(1, _CHUNK // (n * P.shape[1]))
        keepP, keepI, keepO, keepE = [], [], [], []
        for s in range(0, len(P), step):
            Pn = (P[s:s + step, None, :] * blk.V[None, :, :]).reshape(-1, P.shape[1])
            o, e, fits = _bound(scorer, objective, Pn * mins[lvl + 1])
            if stats is not None:
                stats["bounded"] = stats.get("bounded", 0) + len(Pn)
            m = fits if beaten is None else fits & ~beaten(o, e)
            if not m.any():
                continue
            rows = np.flatnonzero(m)
            keepP.append(Pn[rows])
            base = np.repeat(idx[s:s + step], n, axis=0)[rows]
            keepI.append(np.concatenate([base, (rows % n)[:, None].astype(np.int32)], axis=1))
            keepO.append(o[rows])
            keepE.append(e[rows])
        if not keepP:
            return Leaves(case, np.zeros((0, len(case.blocks)), np.int32), np.zeros(0), np.zeros(0))
        P, idx = np.concatenate(keepP), np.concatenate(keepI)
        obj, energy = np.concatenate(keepO), np.concatenate(keepE)
        if beam is not None and len(P) > beam:
            top = np.lexsort((energy, obj))[:beam]
            P, idx, obj, energy = P[top], idx[top], obj[top], energy[top]
    order = np.lexsort((energy, obj))
    return Leaves(case, idx[order], obj[order], energy[order])


def choices_of(space: MappingSpace, leaves: Leaves, rows: np.ndarray) -> np.ndarray:
    """Candidate index per dim (N, D) of the given leaf rows."""
    out = np.zeros((len(rows), len(space.dims)), dtype=np.int64)
    for k, blk in enumerate(leaves.case.blocks):
        out[:, list(blk.dims)] = blk.choice[leaves.idx[rows, k]]
    return out
