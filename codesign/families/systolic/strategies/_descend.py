"""Level-by-level expansion of block choices with bounds (shared by the
exhaustive and the beam strategies).

A frontier row is a partial assignment: one choice per block assigned so
far, and the product of their term factors. Expanding a block multiplies
every row by every choice (numpy broadcasting, in chunks); each new row is
bounded by its products times a lower bound on the factors of the blocks
still unassigned (`_Rest`), and rows that do not fit or whose bound is
beaten are dropped (or, for a beam, only the best rows are kept).

A large block (a streamed dim of 10**6 choices and more) or a large level
is expanded by groups of choices, each screened first by its columnwise
minima (`_grouped_pairs`): the same rows survive, in the same order, but
most are never bounded one by one.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..bounds import COLS, FOLDS, FP, ROWS, Case, Scorer
from ....objective import Objective
from ..space import MappingSpace
from ._base import Finalists

__all__ = ["Leaves", "BudgetExceeded", "descend", "choices_of", "root_bound", "cost_leaves"]

#: rows x terms per chunk of broadcasting (keeps the working set small)
_CHUNK = 1 << 19
#: a block with more choices, or a level of more rows, is expanded by groups
#: (`_grouped_pairs`; the same rows kept, in the same order; on ResNet-18 the
#: groups cost more than they save below these sizes)
_GROUPED = 1024
_GROUPED_ROWS = 1 << 18
#: choices per group at least (about sqrt of the block's choices)
_GROUP_MIN = 4
#: a block with more choices has its budget tables thinned to this many
#: positions (`_table`: looser bounds); the model zoo's blocks are smaller
_THIN = 8192


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
        self.tables = [[_table(b.V, col) for col in self.RES] for b in case.blocks]

    @classmethod
    def of(cls, case: Case, scorer: Scorer) -> "_Rest":
        """The bounds of `case` under `scorer`, built once per case (beam, root bound, descent)."""
        hit = case.memo.get("rest")
        if hit is None or hit.sc is not scorer:
            hit = case.memo["rest"] = cls(case, scorer)
        return hit

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
            for col, table in zip(self.RES, self.tables[b]):
                if table is None:
                    continue                        # the block does not use this resource
                keys, pm, at = table
                budget = caps[col] / (P[:, col] * others[col])
                j = np.searchsorted(keys, budget * (1 + 1e-12), side="right") - 1
                fits &= j >= 0
                j = np.maximum(j, 0)
                best = np.maximum(best, pm[j if at is None else np.searchsorted(at, j)])
            mult *= best
        return mult, fits


@dataclass(frozen=True)
class _Screen:
    """The filter of `descend` at one level: the cheap plain bound, then the
    budget bound on the survivors; a row is kept if it fits and (with
    `beaten`) is not beaten. Monotone: rows with larger products never pass
    when smaller ones fail, so it may screen a group of choices by their minima."""

    scorer: Scorer
    objective: Objective
    rest: _Rest
    start: int
    partial: bool
    beaten: Callable[[np.ndarray, np.ndarray], np.ndarray] | None

    def __call__(self, Pn: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(kept row indices, their objective and energy bounds)."""
        o, e, fits = _bound(self.scorer, self.objective, Pn * self.rest.suffix[self.start], self.partial)
        m = fits if self.beaten is None else fits & ~self.beaten(o, e)
        rows = np.flatnonzero(m)
        if self.partial and len(rows):
            mult, ok = self.rest(Pn[rows], self.start)
            o2, e2, fits2 = _bound(self.scorer, self.objective, Pn[rows] * mult, self.partial)
            m2 = fits2 & ok if self.beaten is None else fits2 & ok & ~self.beaten(o2, e2)
            o[rows], e[rows] = o2, e2
            rows = rows[m2]
        return rows, o[rows], e[rows]


def _count(stats: dict | None, n: int, budget: int | None) -> None:
    if stats is not None:
        stats["bounded"] = stats.get("bounded", 0) + n
        if budget is not None and stats["bounded"] > budget:
            raise BudgetExceeded(f"more than {budget:,} partial mappings bounded")


def _expand(P: np.ndarray, V: np.ndarray | None, p: np.ndarray, j: np.ndarray, idx: np.ndarray,
            screen: _Screen, stats: dict | None, budget: int | None):
    """Screen rows ``P[i] * V[i]`` (`V` None: `P` holds the products), row i
    extending frontier row ``p[i]`` by choice ``j[i]``; returns the kept
    (products, index rows, objective, energy)."""
    _count(stats, len(P), budget)
    Pn = P if V is None else P * V
    rows, o, e = screen(Pn)
    return Pn[rows], np.concatenate([idx[p[rows]], j[rows, None].astype(np.int32)], axis=1), o, e


class _Top:
    """A beam's best `beam` rows of a level so far, kept while the level is
    expanded (memory: not every row that fits). Rows arrive in the plain
    expansion's order, so a stable sort of the best so far and the new rows
    by (objective, energy) is the order of the whole level: the same rows as
    one sort at the end. Once `beam` rows are kept, a row or group whose
    bound is worse than the last of them cannot enter (`worse`)."""

    def __init__(self, beam: int):
        self.beam, self.last = beam, None

    def reduce(self, kept: list) -> list:
        if sum(len(k[0]) for k in kept) <= max(2 * self.beam, _CHUNK // 16):
            return kept
        P, idx, o, e = (np.concatenate(x) for x in zip(*kept))
        top = np.lexsort((e, o))[:self.beam]
        self.last = (o[top[-1]], e[top[-1]])
        return [(P[top], idx[top], o[top], e[top])]

    def worse(self, o: np.ndarray, e: np.ndarray) -> np.ndarray:
        """Bounds strictly after the last kept row in (objective, energy) order."""
        if self.last is None:
            return np.zeros(len(o), bool)
        lo, le = self.last
        return (o > lo) | ((o == lo) & (e > le))


def _grouped_pairs(groups, P: np.ndarray, screen: _Screen, stats: dict | None, budget: int | None,
                   top: _Top | None = None):
    """(frontier rows, choices) of a large block (its `_groups`) to screen, in the order of the
    plain expansion, in batches of about `_CHUNK` / K pairs: the choices sorted
    by footprint and cut into groups, each (row, group) first screened by the
    group's columnwise minima (a lower bound on all its members; for a beam,
    also against its best rows so far, batch by batch), only the members of
    the groups that pass are expanded."""
    perm, starts, mins = groups
    G, K = len(mins), P.shape[1]
    size = np.diff(starts)
    step = max(1, _CHUNK // (G * K))
    for s in range(0, len(P), step):
        Pg = (P[s:s + step, None, :] * mins[None]).reshape(-1, K)
        _count(stats, len(Pg), budget)
        rows, og, eg = screen(Pg)
        pr, gc = np.divmod(rows, G)
        cnt = size[gc]
        off = np.arange(int(cnt.sum())) - np.repeat(np.cumsum(cnt) - cnt, cnt)
        p = np.repeat(pr + s, cnt)
        j = perm[np.repeat(starts[gc], cnt) + off]
        order = np.lexsort((j, p))
        p, j = p[order], j[order]
        og, eg = np.repeat(og, cnt)[order], np.repeat(eg, cnt)[order]      # each member's group bound
        for t in range(0, len(p), max(1, _CHUNK // K)):
            b = slice(t, t + _CHUNK // K)
            if top is None:
                yield p[b], j[b]
            else:
                live = ~top.worse(og[b], eg[b])
                yield p[b][live], j[b][live]


def _groups(blk) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A large block's choices sorted by footprint (product of the footprint
    columns, then folds) and cut into about sqrt(n) groups: (order, group
    starts, (groups, K) columnwise minima)."""
    V = blk.V
    n = len(V)
    perm = np.lexsort((V[:, FOLDS], np.log(V[:, FP:FP + 3]).sum(axis=1)))
    width = max(_GROUP_MIN, math.isqrt(n))
    starts = np.append(np.arange(0, n, width), n)
    mins = np.minimum.reduceat(V[perm], starts[:-1], axis=0)
    return perm, starts, mins


def _table(V: np.ndarray, col: int):
    """`_Rest`'s budget table of a block for resource `col`: the choices' values of
    it, sorted, and the columnwise prefix minima of their rows (None: every
    choice takes 1 of it). A large block keeps the minima only at `_THIN`
    of the positions (``at``; a query reads the first kept position at or
    after its own: a minimum over more rows, still a lower bound)."""
    order = np.argsort(V[:, col], kind="stable")
    keys = V[order, col]
    if keys[-1] <= 1:
        return None
    if len(V) <= _THIN:
        return keys, np.minimum.accumulate(V[order], axis=0), None
    at = np.flatnonzero(np.append(keys[1:] != keys[:-1], True))     # ends of runs of equal keys
    if len(at) > _THIN:
        at = at[np.unique(np.linspace(0, len(at) - 1, max(_THIN, 2)).astype(np.int64))]
    pm = np.minimum.accumulate(V[order], axis=0)[at]
    return keys, pm, at


def root_bound(case: Case, scorer: Scorer, objective: Objective) -> tuple[float, float]:
    """(objective, energy) bound of the case before any choice."""
    mult, _ = _Rest.of(case, scorer)(case.P0[None], 0)
    o, e, _ = _bound(scorer, objective, case.P0[None] * mult, bool(case.blocks))
    return float(o[0]), float(e[0])


def descend(case: Case, scorer: Scorer, objective: Objective, *,
            beaten: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None,
            beam: int | None = None, stats: dict | None = None, budget: int | None = None) -> Leaves:
    """Expand all blocks of `case`; keep rows that fit and are not `beaten`
    (a function of bound objective and energy), or the best `beam` rows per
    level. Counts scored rows in ``stats["bounded"]``; raises
    `BudgetExceeded` once that count passes `budget`."""
    rest = _Rest.of(case, scorer)
    nb = len(case.blocks)
    P = case.P0[None].copy()
    idx = np.zeros((1, 0), dtype=np.int32)
    mult, ok = rest(P, 0)
    obj, energy, fits = _bound(scorer, objective, P * mult, nb > 0)
    if not (fits[0] and ok[0]):
        return Leaves(case, np.zeros((0, nb), np.int32), np.zeros(0), np.zeros(0))
    for lvl, blk in enumerate(case.blocks):
        partial = lvl + 1 < nb
        screen = _Screen(scorer, objective, rest, lvl + 1, partial, beaten)
        n = len(blk.V)
        kept = []
        top = None if beam is None else _Top(beam)
        if n > _GROUPED or len(P) * n > _GROUPED_ROWS:
            groups = case.memo.get(("groups", lvl))
            if groups is None:
                groups = case.memo[("groups", lvl)] = _groups(blk)
            for p, j in _grouped_pairs(groups, P, screen, stats, budget, top):
                kept.append(_expand(P[p], blk.V[j], p, j, idx, screen, stats, budget))
                kept = kept if top is None else top.reduce(kept)
        else:
            step = max(1, _CHUNK // (n * P.shape[1]))
            for s in range(0, len(P), step):
                Pn = (P[s:s + step, None, :] * blk.V[None, :, :]).reshape(-1, P.shape[1])
                p = np.repeat(np.arange(s, min(s + step, len(P))), n)
                kept.append(_expand(Pn, None, p, np.tile(np.arange(n), len(p) // n), idx, screen, stats,
                                    budget))
                kept = kept if top is None else top.reduce(kept)
        kept = [k for k in kept if len(k[0])]
        if not kept:
            return Leaves(case, np.zeros((0, nb), np.int32), np.zeros(0), np.zeros(0))
        P, idx, obj, energy = (np.concatenate(x) for x in zip(*kept))
        if beam is not None and len(P) > beam:
            best = np.lexsort((energy, obj))[:beam]
            P, idx, obj, energy = P[best], idx[best], obj[best], energy[best]
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
