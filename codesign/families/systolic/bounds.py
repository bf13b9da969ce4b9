"""Lower bounds on latency and energy for partial mappings (the pruning model).

`codesign.families.systolic.cost` is the truth; this module rewrites its formulas for
the canonical loop orders of `MappingSpace` as *products over independent
blocks of dims*, so that the search can bound a partial assignment without
building mappings:

- every count the cost model needs is a product over dims of a per-dim
  factor (folds, used rows/cols/streamed sums, glb tiles, footprints, and
  traffic: refetch counts times per-axis tile sums), except conv axes
  ``p*stride + r*dilation`` which couple two dims: those dims form one
  *block* (with the product of their candidates as its choices);
- latency and energy are monotone non-decreasing in every such product
  (non-negative coefficients; ``max``/``+`` for the DRAM stalls).

So a partial assignment's products times the per-term minimum over each
unassigned block's choices give a lower bound, and for a complete one the
value itself. A *case* fixes what is not per-dim: the dram loop order
(class ``r``: the tensor not using role-``r`` dims gets all dram loops
exempt) and whether the stationary operand is never re-fetched (``phi``:
no glb loop over a dim it uses, and its unused dims' dram loops innermost
or none of its dims split at dram; restricts the choices) or re-fetched
once per dram tile of its unused dims (the general case; an upper
estimate of the cases covered by ``phi``, which are searched separately).
With a pinned dram or glb order the refetch factors that depend on the
order are bounded below by 1 (the search then costs more candidates).

tests/test_mapper.py checks bound == cost.evaluate on complete canonical
mappings (latency: for every timing but double-buffered ``soc``, whose
per-step DMA schedule, `soc_stalls.py`, is bounded from below, `stalls.soc_bound`;
tests/test_stalls.py checks that bound), and bound <= cost.evaluate under pins.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .arch import SystolicArch, tech_of
from ...workload import TENSORS, Layer
from .dataflow import UNUSED_BY
from .traffic import axis_sum, ext2
from .space import MappingSpace
from . import soc_stalls as stalls
from .soc_stalls import compute_timing

__all__ = ["Case", "Block", "Scorer", "cases", "K_TERMS"]

K_TERMS = ("folds", "sum_ur", "sum_uc", "sum_t", "glb_tiles", "rows", "cols",
           "fp_inputs", "fp_weights", "fp_outputs", "T0_inputs", "T0_weights", "T0_outputs",
           "T1_inputs", "T1_weights", "T1_outputs")
(FOLDS, SUR, SUC, SUT, GTILES, ROWS, COLS, FP, T0, T1) = (0, 1, 2, 3, 4, 5, 6, 7, 10, 13)
_X = {t: i for i, t in enumerate(TENSORS)}


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

    ft = compute_timing(arch)
    c_fold = ft.fold_const(arch.rows, arch.cols)
    coef = {SUR: ft.per_used_rows, SUC: ft.per_used_cols, SUT: ft.per_t}
    # with a negative per-fold coefficient fewer folds alone is not better: a
    # choice dominates only if also (sum - folds) is no larger for one sum whose
    # coefficient covers the per-fold one (folds <= sums: a fold uses >= 1 row,
    # col and step, so that sum's growth pays for the folds' saving)
    guard = [c for c, v in coef.items() if v + c_fold >= 0] if c_fold < 0 else []
    ctx = _Ctx(space, rel, st, pinned_dram, pinned_glb, axes, guard, c_fold < 0, {})
    out = []
    dram_roles = [_innermost_role(space, o) for o in space.dram_orders]
    has_unused = bool(((~rel[st]) & live).any())
    for o, r0 in enumerate(dram_roles):
        phis = [False] if (pinned_glb or pinned_dram or not has_unused) else [True, False]
        for phi in phis:
            blocks = []
            for dims in _blocks_of(layer):
                blk = _block(ctx, dims, r0, phi)
                if blk is None:
                    break
                blocks.append(blk)
            else:
                # blocks on rows/cols first (their shared side is what the budget
                # bounds exploit), then bigger blocks first
                blocks.sort(key=lambda b: (b.V[:, ROWS].max() <= 1 and b.V[:, COLS].max() <= 1, -len(b.V), b.dims))
                exact = not (pinned_dram or pinned_glb)
                out.append(Case(o, phi, exact, P0, tuple(blocks)))
    return out


def _innermost_role(space: MappingSpace, order: tuple[str, ...]) -> str:
    live = [d for d, b in space.layer.dims if b > 1]
    inner = [d for d in order if d in live]
    return space.layer.role(inner[-1]) if inner else "g"


def _block(ctx: _Ctx, dims: list[int], r0: str, phi: bool) -> Block | None:
    """The non-dominated choices of one block of dims in one case (None: nothing fits)."""
    ds = [ctx.space.dims[i] for i in dims]
    grids = np.meshgrid(*[np.arange(len(d)) for d in ds], indexing="ij")
    choice = np.stack([g.ravel() for g in grids], axis=1)
    V = np.ones((len(choice), len(K_TERMS)))
    tiles, gflag, dflag = _dim_terms(ctx, V, dims, ds, choice, r0, phi)
    _axis_terms(ctx, V, tiles)
    keep = np.ones(len(choice), bool)
    if phi:
        keep &= ~gflag
        if r0 != UNUSED_BY[ctx.stationary]:
            keep &= ~dflag
    keep &= (V[:, ROWS] <= ctx.space.arch.rows) & (V[:, COLS] <= ctx.space.arch.cols)
    if not keep.any():
        return None
    key = (tuple(dims), keep.tobytes(), V.tobytes())
    if key not in ctx.memo:
        Vk = V[keep]
        if ctx.neg_fold and not ctx.guard:         # no sum covers the folds: compare nothing
            ctx.memo[key] = (Vk, choice[keep])
        else:
            extra = np.stack([Vk[:, c] - Vk[:, FOLDS] + 1 for c in ctx.guard], axis=1) if ctx.neg_fold else None
            ctx.memo[key] = _pareto(Vk, choice[keep], extra)
    V, choice = ctx.memo[key]
    return Block(tuple(dims), choice, V)


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
        tiles[i] = (a, t, s)
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


def _axis_terms(ctx: _Ctx, V: np.ndarray, tiles: dict) -> None:
    """Multiply the footprint and traffic of every tensor axis over the block's dims into `V`."""
    layer = ctx.space.layer
    for tn in TENSORS:
        x_ = _X[tn]
        for ax in ctx.axes[tn]:
            if not ax or ax[0][0] not in tiles:
                continue
            if len(ax) == 1:
                V[:, FP + x_] *= tiles[ax[0][0]][1]
                continue
            (i1, c1), (i2, c2) = ax
            b1, b2 = layer.dims[i1][1], layer.dims[i2][1]
            (a1, t1, s1), (a2, t2, s2) = tiles[i1], tiles[i2]
            V[:, FP + x_] *= ext2(c1, c2, t1, t2)
            V[:, T0 + x_] *= axis_sum(c1, c2, b1, b2, t1, t2)
            inner = (a1, a2) if tn == ctx.stationary else (s1, s2)
            V[:, T1 + x_] *= axis_sum(c1, c2, b1, b2, *inner)


def _pareto(V: np.ndarray, choice: np.ndarray, extra: np.ndarray | None = None,
            limit: int = 8192) -> tuple[np.ndarray, np.ndarray]:
    """Drop rows weakly dominated by another row: no larger in every column of
    `V` and, if `extra` is given, in at least one of its columns (compared,
    not kept); of equal rows keep the first in candidate order. Skipped
    above `limit` rows (quadratic)."""
    n = len(V)
    if n < 2 or n > limit:
        return V, choice
    W = np.unique(V, axis=1) if V.shape[1] > 1 else V           # distinct columns only
    W = W[:, W.min(axis=0) < W.max(axis=0)]                     # and only those that vary
    X = None
    if extra is not None and extra.shape[1] and not (extra.min(axis=0) == extra.max(axis=0)).any():
        X = extra                                               # (a constant column satisfies "any")
    if W.shape[1] == 0 and X is None:
        return V[:1], choice[:1]
    # a row can only be weakly dominated by a row with a smaller or equal log-sum
    key = np.log(W).sum(axis=1) if W.shape[1] else np.zeros(n)
    order = np.lexsort((np.arange(n), key))
    W = W[order]
    X = None if X is None else X[order]
    dominated = np.zeros(n, bool)
    step = max(1, (1 << 22) // (n * max(W.shape[1], 1)))
    for s in range(0, n, step):
        e = min(n, s + step)
        le = (W[None, :e, :] <= W[s:e, None, :]).all(axis=2)    # le[i, j]: row j <= row s+i everywhere
        if X is not None:
            le &= (X[None, :e, :] <= X[s:e, None, :]).any(axis=2)
        le &= np.arange(e)[None, :] < np.arange(s, e)[:, None]  # only earlier rows can dominate
        dominated[s:e] = le.any(axis=1)
    keep = np.sort(order[~dominated])
    return V[keep], choice[keep]


@dataclass(frozen=True)
class Scorer:
    """Latency, energy and feasibility from term products (the cost model's
    formulas, written for bounds: no ``ceil`` on latency, which only raises
    the true value)."""

    c_layer: float
    c_gtile: float
    c_fold: float
    c_ur: float
    c_uc: float
    c_t: float
    e0: float
    eT0: np.ndarray
    eT1: np.ndarray
    bits: np.ndarray
    zsize: int
    timing: str
    double_buffered: bool
    bw: float
    rows: int
    cols: int
    glb_kept: np.ndarray
    glb_cap_bits: float
    acc_cap_bits: float
    soc: tuple = ()     # `stalls.soc_bound_params`

    @classmethod
    def of(cls, layer: Layer, arch: SystolicArch) -> "Scorer":
        tech = tech_of(arch)
        ft = compute_timing(arch)
        st = arch.stationary
        bits = {t.name: t.bits for t in layer.tensors}
        word = {"inputs": arch.op_bits, "weights": arch.op_bits, "outputs": arch.acc_bits}
        macs = layer.macs
        z = layer.footprint("outputs")
        glb = lambda t: tech.sram_pj(arch.glb_bytes, bits[t], "glb")  # noqa: E731
        out_pj = tech.sram_pj(arch.acc_bytes, bits["outputs"], "acc") if arch.acc_kib > 0 else glb("outputs")
        dram = lambda t: tech.dram_pj(bits[t])  # noqa: E731
        reg = tech.reg_pj(word[st])
        eT0 = np.array([dram("inputs") + glb("inputs"), dram("weights") + glb("weights"),
                        2 * dram("outputs") + out_pj])
        eT1 = np.array([glb("inputs"), glb("weights"), 2 * out_pj])
        eT1[_X[st]] += reg
        e0 = macs * tech.mac_pj(arch.op_bits, arch.acc_bits)
        e0 += sum(macs * tech.forward_pj(word[t]) for t in TENSORS if t != st)
        e0 -= z * (dram("outputs") + out_pj + out_pj)
        e0 += reg * ((2 * macs - z) if st == "outputs" else macs) - (reg * z if st == "outputs" else 0)
        kept = next(m.tensors for m in arch.memories if m.name == "glb")
        div = 2 if arch.double_buffered else 1
        return cls(ft.per_layer, ft.per_glb_tile, ft.fold_const(arch.rows, arch.cols),
                   ft.per_used_rows, ft.per_used_cols, ft.per_t, e0, eT0, eT1,
                   np.array([bits[t] for t in TENSORS], dtype=float), z, arch.timing, arch.double_buffered,
                   arch.dram_bw_bytes, arch.rows, arch.cols, np.array([t in kept for t in TENSORS]),
                   8 * arch.glb_bytes / div, 8 * arch.acc_bytes / div if arch.acc_kib > 0 else math.inf,
                   stalls.soc_bound_params(arch, [bits[t] for t in TENSORS]))

    def compute(self, P: np.ndarray, partial: bool = False) -> np.ndarray:
        """Compute cycles of term products; with `partial` (products are lower
        bounds) a lower bound that stays valid for a negative per-fold
        coefficient: since every fold uses >= 1 row, col and step, ``folds``
        is at most each of those sums, so the coefficient moves onto one of
        them (the best of the valid choices)."""
        base = (self.c_layer + self.c_gtile * P[:, GTILES] + self.c_ur * P[:, SUR]
                + self.c_uc * P[:, SUC] + self.c_t * P[:, SUT])
        if self.c_fold >= 0 or not partial:
            return base + self.c_fold * P[:, FOLDS]
        out = None
        for col, c in ((SUR, self.c_ur), (SUC, self.c_uc), (SUT, self.c_t)):
            if c + self.c_fold >= 0:
                v = base + self.c_fold * P[:, col]
                out = v if out is None else np.maximum(out, v)
        if out is None:   # drop the per-fold terms if a fold never costs < 0, else no bound
            per_fold_min = self.c_fold + self.c_ur + self.c_uc + self.c_t
            out = self.c_layer + self.c_gtile * P[:, GTILES] + (0.0 if per_fold_min >= 0 else -np.inf)
        return out

    def __call__(self, P: np.ndarray, partial: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(latency, energy, fits) of term products `P` (N, K); lower bounds
        when `partial` says the products are."""
        compute = self.compute(P, partial)
        t0, t1 = P[:, T0:T0 + 3], P[:, T1:T1 + 3]
        energy = self.e0 + t0 @ self.eT0 + t1 @ self.eT1
        fpb = P[:, FP:FP + 3] * self.bits
        if self.timing == "scalesim":
            latency = compute
        else:
            b = self.bits
            rd = (t0[:, 0] * b[0] + t0[:, 1] * b[1] + (t0[:, 2] - self.zsize) * b[2]) / 8
            wr = t0[:, 2] * b[2] / 8
            if self.timing == "ideal":
                latency = np.maximum(compute, np.maximum(rd, wr) / self.bw)
            elif self.timing == "soc" and self.double_buffered:
                latency = self.c_layer + stalls.soc_bound(
                    self.soc, compute - self.c_layer, P[:, GTILES], P[:, FP:FP + 3], P[:, ROWS], P[:, COLS],
                    t0[:, 2], self.zsize, self.bw, partial)
            elif self.double_buffered:
                first_last = (fpb[:, 0] + fpb[:, 1] + fpb[:, 2]) / 8 / self.bw
                latency = np.maximum(compute + first_last, (rd + wr) / self.bw)
            else:
                latency = compute + (rd + wr) / self.bw
        fits = ((P[:, ROWS] <= self.rows) & (P[:, COLS] <= self.cols)
                & (fpb[:, self.glb_kept].sum(axis=1) <= self.glb_cap_bits)
                & (fpb[:, 2] <= self.acc_cap_bits))
        return latency, energy, fits
