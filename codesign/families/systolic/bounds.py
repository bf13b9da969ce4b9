"""Lower bounds on latency and energy for partial mappings (the pruning model).

`cost` is the truth; this module rewrites its formulas for the canonical loop
orders of `MappingSpace` as *products over independent blocks of dims*, so the
search can bound a partial assignment without building mappings:

- every count the cost model needs is a product over dims of a per-dim
  factor (folds, used rows/cols/streamed sums, glb tiles, footprints, and
  traffic: refetch counts times per-axis tile sums), except conv axes
  ``p*stride + r*dilation`` which couple two dims: those dims form one
  *block* (with the product of their candidates as its choices);
- latency and energy are monotone non-decreasing in every such product
  (non-negative coefficients; ``max``/``+`` for the DRAM stalls). The one
  term that is not a product, ``rtl``'s sum over folds of ``max(t, R)``,
  is bounded by ``max(sum t, R * folds)`` (exact when all folds lie on one
  side of ``R``; `Scorer.compute`).

So a partial assignment's products times the per-term minimum over each
unassigned block's choices give a lower bound, and for a complete one the
value itself. A *case* fixes what is not per-dim: the dram loop order (class
``r``: the tensor not using role-``r`` dims gets all dram loops exempt) and
whether the stationary operand is never re-fetched (``phi``: no glb loop over a
dim it uses, and its unused dims' dram loops innermost or none of its dims split
at dram; restricts the choices) or re-fetched once per dram tile of its unused
dims (the general case; an upper estimate of the ``phi`` cases, searched apart).
With a pinned dram or glb order, order-dependent refetch factors are bounded by 1.

Halo reuse (``hardware.halo_reuse``): a case whose dram order puts a
sliding dim ``h`` innermost (`MappingSpace.halo_dim`) restricts ``h`` to
a dram split (> 1) and counts the dram traffic of its axis with the halo
sweep (`traffic.axis_sum_halo`): exact. The canonical orders' cases count
no halo: exact unless their innermost iterating loop slides, an upper
estimate then (such mappings are searched exactly in the case of that
dim). Under a pinned dram order each axis takes the least of no halo and
a halo sweep along either dim (a lower bound).

tests/test_mapper.py: bound == cost.evaluate on complete canonical mappings, <= under pins
(latency of double-buffered ``soc``: <= only, `soc_stalls.soc_bound`; tests/test_soc_stalls.py).
"""
from __future__ import annotations

import hashlib
import itertools
import math
from dataclasses import dataclass, field

import numpy as np

from ...workload import TENSORS, Layer
from .dataflow import UNUSED_BY
from .dominance import drop_dominated
from .flat import Window, window_of
from .traffic import axis_sum, axis_sum_halo, ext2
from .space import MappingSpace
from .soc_stalls import compute_timing

__all__ = ["Case", "Block", "Scorer", "cases", "K_TERMS", "clear_caches"]

from .scorer import COLS, FOLDS, FP, GTILES, K_TERMS, ROWS, SUC, SUR, SUT, T0, T1, X_OF as _X, Scorer


@dataclass(frozen=True)
class Block:
    """Dims coupled by a two-dim axis: `choice` (n, len(dims)) candidate
    indices into each dim's `DimSpace`, `V` (n, K) the factor of every term."""

    dims: tuple[int, ...]
    choice: np.ndarray
    V: np.ndarray


@dataclass(frozen=True)
class Case:
    """One dram-order class (`dram_order` indexes `MappingSpace.dram_orders`)
    with its blocks; `P0` (K,) holds the constant factors; `exact` says the
    products are the cost model's values (not only bounds)."""

    dram_order: int
    phi: bool
    exact: bool
    P0: np.ndarray
    blocks: tuple[Block, ...]
    halo: int | None = None       # the sliding dim swept innermost at dram (a dram split), or None
    memo: dict = field(default_factory=dict, compare=False, repr=False)   # the search's tables of it


def _blocks_of(layer: Layer) -> list[list[int]]:
    """Connected components of live dims under the two-dim axes."""
    names = layer.dim_names
    live = [i for i, (_, b) in enumerate(layer.dims) if b > 1]
    parent = {i: i for i in live}

    def find(i):
        while parent[i] != i:
            i = parent[i]
        return i
    for t in layer.tensors:
        for ax in t.axes:
            ids = [names.index(d) for d, _ in ax.terms if names.index(d) in parent]
            for j in ids[1:]:
                parent[find(j)] = find(ids[0])
    w = window_of(layer)
    if w is not None:                   # a run of pixels and the kernel taps decide the input pixels
        ids = [i for i in w.dims if i in parent]
        for j in ids[1:]:
            parent[find(j)] = find(ids[0])
    groups: dict[int, list[int]] = {}
    for i in live:
        groups.setdefault(find(i), []).append(i)
    return sorted(groups.values())


@dataclass(frozen=True)
class _Ctx:
    """What every block of a layer's cases shares (built once per `cases` call)."""

    space: MappingSpace
    rel: dict                     # tensor -> (D,) bool: the dims it uses
    stationary: str
    pinned_dram: bool
    pinned_glb: bool
    axes: dict                    # tensor -> its axes as lists of (live dim, coefficient)
    guard: list                   # sums that cover the folds when the per-fold term is negative
    neg_fold: bool
    memo: dict                    # equal tables across cases: filter once
    halo_min: bool = False        # pinned dram order with halo reuse: least of the halo sweeps
    window: Window | None = None  # a flattened conv's kept input tiles (see `flat`)
    scorer: Scorer | None = None  # feasibility of a block's choices alone
    P0: np.ndarray | None = None  # the constant factors


def cases(space: MappingSpace) -> list[Case]:
    """The cases to search (module docstring), blocks with dominated and
    infeasible-alone choices removed."""
    layer, arch = space.layer, space.arch
    st = arch.stationary
    names = layer.dim_names
    rel = {t.name: np.array([d in t.dims for d in names]) for t in layer.tensors}
    live = np.array([b > 1 for _, b in layer.dims])
    pinned_dram = space._pinned_order("dram") is not None
    pinned_glb = space._pinned_order("glb") is not None

    # per tensor, its axes as lists of (live dim, coefficient); an axis with
    # one live dim contributes the constant bound to traffic, its tile to the footprint
    P0 = np.ones(len(K_TERMS))
    axes = {}
    for t in layer.tensors:
        axes[t.name] = [[(names.index(d), c) for d, c in ax.terms if live[names.index(d)]] for ax in t.axes]
        const = math.prod(layer.dims[ax[0][0]][1] for ax in axes[t.name] if len(ax) == 1)
        for col in (T0, T1):
            P0[col + _X[t.name]] = const
    window = window_of(layer)
    if window is not None:  # kept input tiles: distinct pixels of the window dims' tiles
        P0[T0 + _X["inputs"]] /= window.volume
        if st == "inputs":
            P0[T1 + _X["inputs"]] /= window.volume

    ft = compute_timing(arch)
    c_fold = ft.fold_const(arch.rows, arch.cols)
    coef = {SUR: ft.per_used_rows, SUC: ft.per_used_cols, SUT: ft.per_t}
    # with a negative per-fold coefficient fewer folds alone is not better: a
    # choice dominates only if also (sum - folds) is no larger for one sum whose
    # coefficient covers the per-fold one (folds <= sums: a fold uses >= 1 row,
    # col and step, so that sum's growth pays for the folds' saving)
    guard = [c for c, v in coef.items() if v + c_fold >= 0] if c_fold < 0 else []
    ctx = _Ctx(space, rel, st, pinned_dram, pinned_glb, axes, guard, c_fold < 0, {},
               pinned_dram and bool(space.sliding_dims), window, Scorer.of(layer, arch), P0)
    out = []
    dram_roles = [_innermost_role(space, o) for o in space.dram_orders]
    has_unused = bool(((~rel[st]) & live).any())
    for o, r0 in enumerate(dram_roles):
        h = space.halo_dim(o)
        halos = ([names.index(h)] if h is not None and not pinned_dram else []) + \
            ([None] if o < space.canonical_orders else [])
        phis = [False] if (pinned_glb or pinned_dram or not has_unused) else [True, False]
        for halo, phi in itertools.product(halos, phis):
            blocks = []
            for dims in _blocks_of(layer):
                blk = _block(ctx, dims, r0, phi, halo)
                if blk is None:
                    break
                blocks.append(blk)
            else:
                # blocks on rows/cols first (their shared side is what the budget
                # bounds exploit), then bigger blocks first
                blocks.sort(key=lambda b: (b.V[:, ROWS].max() <= 1 and b.V[:, COLS].max() <= 1, -len(b.V), b.dims))
                exact = not (pinned_dram or pinned_glb)
                out.append(Case(o, phi, exact, P0, tuple(blocks), halo))
    return out


def _innermost_role(space: MappingSpace, order: tuple[str, ...]) -> str:
    live = [d for d, b in space.layer.dims if b > 1]
    inner = [d for d in order if d in live]
    return space.layer.role(inner[-1]) if inner else "g"


#: choices per chunk while a block's table is built (a streamed dim of 2**31 has 1.1M)
_BUILD = 1 << 16


def _block(ctx: _Ctx, dims: list[int], r0: str, phi: bool, halo: int | None = None) -> Block | None:
    """The non-dominated choices of one block of dims in one case (None: nothing fits).
    Built in chunks; a choice is dropped as soon as it cannot fit alone (its
    footprints with every other block at factor 1 already pass a buffer)."""
    ds = [ctx.space.dims[i] for i in dims]
    sizes = [len(d) for d in ds]
    n = math.prod(sizes)
    known = ctx.memo.get(("fits", tuple(dims)))       # footprints do not depend on the case
    todo = np.arange(n) if known is None else known
    parts: list[tuple[np.ndarray, np.ndarray]] = []
    fit = []
    for s in range(0, len(todo), _BUILD):
        choice = np.stack(np.unravel_index(todo[s:s + _BUILD], sizes), axis=1)
        V = np.ones((len(choice), len(K_TERMS)))
        tiles, gflag, dflag = _dim_terms(ctx, V, dims, ds, choice, r0, phi)
        _axis_terms(ctx, V, tiles, halo)
        keep = ctx.scorer.fits(V * ctx.P0)
        fit.append(todo[s:s + _BUILD][keep])
        if halo in tiles:
            keep &= tiles[halo][3] > 1
        if phi:
            keep &= ~gflag
            if r0 != UNUSED_BY[ctx.stationary]:
                keep &= ~dflag
        if keep.any():
            parts.append((V[keep], choice[keep]))
    ctx.memo[("fits", tuple(dims))] = np.concatenate(fit) if fit else todo
    if not parts:
        return None
    Vk, ck = (np.concatenate(x) for x in zip(*parts))
    # the non-dominated choices depend on the table alone: kept across cases and designs (`_TABLES`)
    key = (tuple(dims), ctx.neg_fold, tuple(ctx.guard),
           hashlib.blake2b(Vk.tobytes() + ck.tobytes(), digest_size=16).digest())
    hit = _TABLES.get(key)
    if hit is None or not (np.array_equal(hit[0], Vk) and np.array_equal(hit[1], ck)):
        if ctx.neg_fold and not ctx.guard:         # no sum covers the folds: compare nothing
            hit = (Vk, ck, (Vk, ck))
        else:
            extra = np.stack([Vk[:, c] - Vk[:, FOLDS] + 1 for c in ctx.guard], axis=1) if ctx.neg_fold else None
            hit = (Vk, ck, drop_dominated(Vk, ck, extra))
        if len(_TABLES) >= _TABLES_MAX:
            _TABLES.pop(next(iter(_TABLES)))       # least recently used first
    else:
        del _TABLES[key]
    _TABLES[key] = hit
    V, choice = hit[2]
    return Block(tuple(dims), choice, V)


#: a block's non-dominated choices by (dims, fold guard, hash of its table): the same table recurs
#: across cases and across designs whose changes do not reach it (a streamed dim's block on another
#: glb size); checked equal before use. Bounded (least recently used dropped); `clear_caches` empties it.
_TABLES: dict[tuple, tuple] = {}
_TABLES_MAX = 2048         # about 30 KB each on ResNet-18: some 60 MB at most


def clear_caches() -> None:
    """Forget the block tables kept across designs (memory)."""
    _TABLES.clear()


def _dim_terms(ctx: _Ctx, V: np.ndarray, dims, ds, choice, r0: str, phi: bool):
    """Multiply each dim's factors into the term table `V` (in place); returns the
    per-dim (array tile, glb tile, spatial tile) and the stationary operand's glb/dram flags."""
    st = ctx.stationary
    n = len(choice)
    gflag, dflag = np.zeros(n, bool), np.zeros(n, bool)
    tiles = {}
    for k, (i, d) in enumerate(zip(dims, ds)):
        c = choice[:, k]
        a, g = d.a[c], d.g[c]
        F = -(-d.bound // np.minimum(a, d.bound))
        D = F // g
        t = np.minimum(a * g, d.bound)
        s = a if d.level in ("rows", "cols") else np.ones_like(a)
        tiles[i] = (a, t, s, D)
        V[:, FOLDS] *= F
        V[:, SUR] *= d.bound if d.level == "rows" else F
        V[:, SUC] *= d.bound if d.level == "cols" else F
        V[:, SUT] *= d.bound if d.level == "pe" else F
        V[:, GTILES] *= D
        if d.level == "rows":
            V[:, ROWS] *= a
        if d.level == "cols":
            V[:, COLS] *= a
        for tn in TENSORS:
            x_ = _X[tn]
            if ctx.rel[tn][i]:
                continue
            # a dim the tensor does not use: refetch per dram tile unless the order exempts it
            if not (ctx.pinned_dram or r0 == d.role):
                V[:, T0 + x_] *= D
            if tn != st:
                V[:, T1 + x_] *= -(-d.bound // np.minimum(s, d.bound))
            elif not (phi or ctx.pinned_dram or ctx.pinned_glb):
                V[:, T1 + x_] *= D
        if ctx.rel[st][i]:
            gflag |= g > 1
            dflag |= D > 1
    return tiles, gflag, dflag


def _axis_terms(ctx: _Ctx, V: np.ndarray, tiles: dict, halo: int | None) -> None:
    """Multiply the footprint and traffic of every tensor axis over the block's dims into `V`
    (the dram traffic of an axis over dim `halo` with its halo sweep)."""
    layer = ctx.space.layer
    w = ctx.window
    if w is not None and w.dims[0] in tiles:
        one = (np.ones_like(tiles[w.dims[0]][0]),) * 4
        parts = [tiles.get(i, one) for i in w.dims]
        x_ = _X["inputs"]
        V[:, FP + x_] *= w.max(*(p[1] for p in parts))
        V[:, T0 + x_] *= w.sum(*(p[1] for p in parts))
        if ctx.stationary == "inputs":
            V[:, T1 + x_] *= w.sum(*(p[0] for p in parts))
    for tn in TENSORS:
        x_ = _X[tn]
        for ax in ctx.axes[tn]:
            if not ax or ax[0][0] not in tiles:
                continue
            if len(ax) == 1:
                if w is not None and tn == "inputs" and ax[0][0] in w.dims:
                    continue
                V[:, FP + x_] *= tiles[ax[0][0]][1]
                continue
            (i1, c1), (i2, c2) = ax
            b1, b2 = layer.dims[i1][1], layer.dims[i2][1]
            (a1, t1, s1, D1), (a2, t2, s2, D2) = tiles[i1], tiles[i2]
            V[:, FP + x_] *= ext2(c1, c2, t1, t2)
            t0 = axis_sum(c1, c2, b1, b2, t1, t2)
            if halo in (i1, i2):
                t0 = axis_sum_halo(c1, c2, b1, b2, t1, t2, D1 if halo == i1 else 1, D2 if halo == i2 else 1)
            elif ctx.halo_min:
                t0 = np.minimum(t0, np.minimum(axis_sum_halo(c1, c2, b1, b2, t1, t2, D1, 1),
                                               axis_sum_halo(c1, c2, b1, b2, t1, t2, 1, D2)))
            V[:, T0 + x_] *= t0
            inner = (a1, a2) if tn == ctx.stationary else (s1, s2)
            V[:, T1 + x_] *= axis_sum(c1, c2, b1, b2, *inner)
