"""Level-by-level expansion of block choices with bounds (shared by the
exhaustive and the beam strategies).

A frontier row is a partial assignment: one choice per block assigned so
far, and the product of their term factors. Expanding a block multiplies
every row by every choice (numpy broadcasting, in chunks); each new row is
bounded by its products times a lower bound on the factors of the blocks
still unassigned (`_Rest`), and rows that do not fit or whose bound is
beaten are dropped (or, for a beam, only the best rows are kept).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..bounds import COLS, FP, ROWS, Case, Scorer
from ....objective import Objective
from ..space import MappingSpace
from ._base import Finalists

__all__ = ["Leaves", "BudgetExceeded", "descend", "choices_of", "root_bound", "cost_leaves"]

#: rows x terms per chunk of broadcasting (keeps the working set small)
_CHUNK = 1 << 19


class BudgetExceeded(RuntimeError):
    """`descend` scored more rows than its budget allowed."""


@dataclass(frozen=True)
class Leaves:
    """Complete assignments of one case: `idx` (N, blocks) choice rows,
    `obj`/`energy` their (lower-bound) values, sorted best first."""

    case: Case
    idx: np.ndarray
    obj: np.ndarray
    energy: np.ndarray


def _bound(scorer: Scorer, objective: Objective, P: np.ndarray, partial: bool):
    lat, energy, fits = scorer(P, partial)
    lat = np.ceil(lat * (1 - 1e-12))          # the true latency is an integer >= the raw bound
    return objective(lat, energy), energy, fits


class _Rest:
    """Lower bounds on the factors of the blocks not yet assigned.

    Plain bound: per term, the minimum over each block's choices. Budget
    bound: the array side and the buffers a partial assignment leaves
    restrict the choices a block can still take (its own factor on rows,
    cols or a tensor's footprint must fit what is left when every other
    unassigned block takes its smallest), so per resource the minimum runs
    over the choices within that budget (prefix minima over the choices
    sorted by the resource); per term the bound is the largest of these.
    """

    RES = (ROWS, COLS, FP, FP + 1, FP + 2)

    def __init__(self, case: Case, scorer: Scorer):
        self.case, self.sc = case, scorer
        self.mins = [b.V.min(axis=0) for b in case.blocks]
        suffix = [np.ones_like(case.P0)]
        for m in reversed(self.mins):
            suffix.append(suffix[-1] * m)
        self.suffix = suffix[::-1]                  # suffix[i]: product of the mins of blocks i..
        self.tables = []
        for b in case.blocks:
            per = []
            for col in self.RES:
                order = np.argsort(b.V[:, col], kind="stable")
                per.append((b.V[order, col], np.minimum.accumulate(b.V[order], axis=0)))
            self.tables.append(per)

    def __call__(self, P: np.ndarray, start: int) -> tuple[np.ndarray, np.ndarray]:
        """(multiplier (N, K), fits (N,)) for rows `P` whose blocks before `start` are assigned."""
        n = len(self.case.blocks)
        N, K = P.shape
        if start >= n:
            return np.ones((1, K)), np.ones(N, bool)
        sc = self.sc
        allmin = self.suffix[start]
        fpb = P[:, FP:FP + 3] * allmin[FP:FP + 3] * sc.bits
        glb_all = (fpb * sc.glb_kept).sum(axis=1)
        caps = {ROWS: float(sc.rows), COLS: float(sc.cols)}
        for x in range(3):
            if sc.glb_kept[x]:
                caps[FP + x] = (sc.glb_cap_bits - (glb_all - fpb[:, x])) / sc.bits[x]
            else:
                caps[FP + x] = sc.acc_cap_bits / sc.bits[x]
        mult = np.ones((N, K))
        fits = np.ones(N, bool)
        for b in range(start, n):
            others = allmin / self.mins[b]
            best = np.broadcast_to(self.mins[b], (N, K))
            for col, (keys, pm) in zip(self.RES, self.tables[b]):
                if keys[-1] <= 1:
                    continue                        # the block does not use this resource
                budget = caps[col] / (P[:, col] * others[col])
                j = np.searchsorted(keys, budget * (1 + 1e-12), side="right") - 1
                fits &= j >= 0
                best = np.maximum(best, pm[np.maximum(j, 0)])
            mult *= best
        return mult, fits


def root_bound(case: Case, scorer: Scorer, objective: Objective) -> tuple[float, float]:
    """(objective, energy) bound of the case before any choice."""
    mult, _ = _Rest(case, scorer)(case.P0[None], 0)
    o, e, _ = _bound(scorer, objective, case.P0[None] * mult, bool(case.blocks))
    return float(o[0]), float(e[0])


def descend(case: Case, scorer: Scorer, objective: Objective, *,
            beaten: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None,
            beam: int | None = None, stats: dict | None = None, budget: int | None = None) -> Leaves:
    """Expand all blocks of `case`; keep rows that fit and are not `beaten`
    (a function of bound objective and energy), or the best `beam` rows per
    level. Counts scored rows in ``stats["bounded"]``; raises
    `BudgetExceeded` once that count passes `budget`."""
    rest = _Rest(case, scorer)
    nb = len(case.blocks)
    P = case.P0[None].copy()
    idx = np.zeros((1, 0), dtype=np.int32)
    mult, ok = rest(P, 0)
    obj, energy, fits = _bound(scorer, objective, P * mult, nb > 0)
    if not (fits[0] and ok[0]):
        return Leaves(case, np.zeros((0, nb), np.int32), np.zeros(0), np.zeros(0))
    for lvl, blk in enumerate(case.blocks):
        n = len(blk.V)
        step = max(1, _CHUNK // (n * P.shape[1]))
        keepP, keepI, keepO, keepE = [], [], [], []
        for s in range(0, len(P), step):
            Pn = (P[s:s + step, None, :] * blk.V[None, :, :]).reshape(-1, P.shape[1])
            partial = lvl + 1 < nb
            if stats is not None:
                stats["bounded"] = stats.get("bounded", 0) + len(Pn)
                if budget is not None and stats["bounded"] > budget:
                    raise BudgetExceeded(f"more than {budget:,} partial mappings bounded")
            # cheap plain bound first, then the budget bound on the survivors
            o, e, fits = _bound(scorer, objective, Pn * rest.suffix[lvl + 1], partial)
            m = fits if beaten is None else fits & ~beaten(o, e)
            rows = np.flatnonzero(m)
            if partial and len(rows):
                mult, ok = rest(Pn[rows], lvl + 1)
                o2, e2, fits2 = _bound(scorer, objective, Pn[rows] * mult, partial)
                m2 = fits2 & ok if beaten is None else fits2 & ok & ~beaten(o2, e2)
                o[rows], e[rows] = o2, e2
                rows = rows[m2]
            if not len(rows):
                continue
            keepP.append(Pn[rows])
            base = np.repeat(idx[s:s + step], n, axis=0)[rows]
            keepI.append(np.concatenate([base, (rows % n)[:, None].astype(np.int32)], axis=1))
            keepO.append(o[rows])
            keepE.append(e[rows])
        if not keepP:
            return Leaves(case, np.zeros((0, nb), np.int32), np.zeros(0), np.zeros(0))
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


#: leaves costed per call of `cost.evaluate`
_BATCH = 256


def cost_leaves(space: MappingSpace, leaves: Leaves, fin: Finalists, *, limit: int | None = None) -> None:
    """Cost leaves best bound first until the rest is beaten (or `limit` are costed)."""
    alive = np.ones(len(leaves.obj), bool)
    done = 0
    while True:
        alive &= ~fin.beaten(leaves.obj, leaves.energy)
        rows = np.flatnonzero(alive)[:_BATCH if limit is None else min(_BATCH, limit - done)]
        if not len(rows):
            return
        alive[rows] = False
        order = np.full(len(rows), leaves.case.dram_order)
        fin.add(choices_of(space, leaves, rows), order)
        done += len(rows)
        if limit is not None and done >= limit:
            return
