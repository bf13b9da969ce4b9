"""Closed-form traffic and extents of the systolic cost model (see `cost`).

Arrays are dim-major: factors (levels, D, N), tiles (D, N). Ragged tiles are
counted exactly: along a dim the tiles are full except the last one. A conv
input axis ``p*stride + r*dilation`` touches exactly ``X*Y - max(X - d/g, 0)
* max(Y - s/g, 0)`` rows for a tile of X output rows and Y kernel rows
(g = gcd(s, d)), the count `codesign.workload.Axis.extent` gives.

Halo reuse (`traffic` with ``halo``; Timeloop's convention 7): between
consecutive iterations of the innermost loop above a boundary that
iterates (factor > 1), the child keeps the elements the two tiles share and
fetches only the others; whenever an outer loop moves, the tile is fetched
whole. If that loop runs over a dim of a two-dim axis, a sweep of ``f``
tiles of extent ``x`` fetches ``ext(x) + (f - 1) * (ext(2x) - ext(x))``
along the axis (two adjacent tiles span a tile of ``2x``; the ragged last
one ``ext(x + r) - ext(x)``): `axis_sum_halo`. Every other term is
unchanged (no loop is inside it, so no loop is exempt). Only the previous
tile is resident: with a dilation wider than the tile, tiles two steps
apart may share rows that are fetched again.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ...workload import TENSORS, Layer
from .flat import Window, window_of

__all__ = ["LayerInfo", "info", "cdiv", "traffic", "axis_sum_halo", "innermost_sweep", "footprint", "level_sum", "ext2", "axis_sum"]

F_DRAM, F_GLB, F_ROWS, F_COLS, F_PE = range(5)


@dataclass(frozen=True)
class LayerInfo:
    bounds: np.ndarray                            # (D,)
    rel: dict[str, np.ndarray]                    # tensor -> (D,) bool
    axes2: dict[str, tuple]                       # tensor -> two-dim axes ((d1, c1), (d2, c2))
    const: dict[str, int]                         # tensor -> product of its one-dim axes' bounds
    size: dict[str, int]
    bits: dict[str, int]
    roles: tuple[str, ...]
    window: Window | None = None                  # a flattened conv's kept input tiles (see `flat`)


@lru_cache(maxsize=4096)
def info(layer: Layer) -> LayerInfo:
    idx = {d: i for i, d in enumerate(layer.dim_names)}
    bounds = np.array([b for _, b in layer.dims], dtype=np.int64)
    rel, axes2, const = {}, {}, {}
    for t in layer.tensors:
        rel[t.name] = np.array([d in t.dims for d in layer.dim_names])
        # an axis over one live dim (e.g. G*Cg + C with one group) sums to that dim's bound
        live = [tuple((idx[d], c) for d, c in a.terms if bounds[idx[d]] > 1) for a in t.axes]
        axes2[t.name] = tuple(a for a in live if len(a) == 2)
        const[t.name] = math.prod(int(bounds[a[0][0]]) for a in live if len(a) == 1)
    window = window_of(layer)
    size = {t: layer.footprint(t) for t in TENSORS}
    if window is not None:
        size["inputs"] = size["inputs"] // window.volume * int(window.sum(*bounds[list(window.dims)]))
    return LayerInfo(bounds, rel, axes2, const, size, {t.name: t.bits for t in layer.tensors},
                     tuple(layer.role(d) for d in layer.dim_names), window)


def cdiv(a, b):
    return -(-a // b)


def ext2(c1, c2, x, y):
    """Distinct values of c1*i + c2*j for i < x, j < y (x, y >= 1; arrays)."""
    g = math.gcd(c1, c2)
    return x * y - np.maximum(x - c2 // g, 0) * np.maximum(y - c1 // g, 0)


def axis_sum(c1, c2, b1, b2, x1, x2):
    """Sum over all tiles (full and the ragged last) of the extent of the axis
    ``c1*i + c2*j`` (bounds b1, b2) for tiles x1 x x2 (arrays welcome)."""
    combos = []
    for b, x in ((b1, x1), (b2, x2)):
        x = np.minimum(x, b)
        r = b % x
        combos.append(((x, b // x), (np.maximum(r, 1), r > 0)))
    total = 0
    for a, na in combos[0]:
        for b, nb in combos[1]:
            total = total + na * nb * ext2(c1, c2, a, b)
    return total


def footprint(info, tensor, tile):
    """Elements of one full tile of `tensor`; tile (D, N) already capped."""
    out = np.ones(tile.shape[1], dtype=np.int64)
    paired = {d for (d1, _), (d2, _) in info.axes2[tensor] for d in (d1, d2)}
    for j in np.flatnonzero(info.rel[tensor] & (info.bounds > 1)):
        if j not in paired:
            out = out * tile[j]
    for (d1, c1), (d2, c2) in info.axes2[tensor]:
        out = out * ext2(c1, c2, tile[d1], tile[d2])
    w = info.window
    if w is not None and tensor == "inputs":                  # distinct pixels, not im2col entries
        t = tile[list(w.dims)]
        out = out // np.prod(t, axis=0) * w.max(*t)
    return out


def traffic(info, tensor, Ft, posm, pos, tile, cut, exempt, halo=False, window=True):
    """Elements of `tensor` moved across the boundary below temporal level `cut`.

    Arrays are dim-major: Ft (3, D, N) temporal factors, posm/pos (3, D, N)
    flattened loop positions (posm: -1 where the factor is 1), tile (D, N)
    the child's tile. With `exempt`, loops after the innermost loop over a
    dim the tensor uses (above the boundary) reuse the tile; with `halo`,
    sweeps of the innermost loop keep the rows of a two-dim axis that
    consecutive tiles share (module docstring); with `window`, a flattened
    conv's kept input tiles count distinct pixels (`flat.Window`), else
    im2col entries (what a streamed operand moves).
    """
    bounds = info.bounds
    live = bounds > 1
    rel = info.rel[tensor] & live
    irr = np.flatnonzero(~info.rel[tensor] & live)
    total = np.full(tile.shape[1], info.const[tensor], dtype=np.int64)
    if len(irr):
        reach = tile[irr]
        if exempt:
            ri = np.flatnonzero(rel)
            p_star = posm[: cut + 1][:, ri].max(axis=(0, 1)) if len(ri) else np.full(tile.shape[1], -1)
            for l in range(cut + 1):
                reach = reach * np.where(pos[l, irr] > p_star, Ft[l, irr], 1)
        reach = np.minimum(reach, bounds[irr, None])
        total = total * np.prod(cdiv(bounds[irr, None], reach), axis=0)
    sweep = innermost_sweep(Ft, posm, cut) if halo and info.axes2[tensor] else None
    for axis in info.axes2[tensor]:
        (d1, c1), (d2, c2) = axis
        if sweep is None:
            total = total * axis_sum(c1, c2, bounds[d1], bounds[d2], tile[d1], tile[d2])
        else:
            dim, f = sweep
            total = total * axis_sum_halo(c1, c2, bounds[d1], bounds[d2], tile[d1], tile[d2],
                                          np.where(dim == d1, f, 1), np.where(dim == d2, f, 1))
    w = info.window
    if window and w is not None and tensor == "inputs":
        total = total // w.volume * w.sum(*np.minimum(tile[list(w.dims)], bounds[list(w.dims), None]))
    return total


def innermost_sweep(Ft, posm, cut):
    """Per mapping, the dim of the innermost loop with factor > 1 above the
    boundary below level `cut` and that factor ((N,), (N,); factor 1 where
    no loop above iterates)."""
    L, D, N = posm[: cut + 1].shape
    pm = posm[: cut + 1].reshape(-1, N)                        # flattened positions, -1: factor 1
    k = pm.argmax(axis=0)
    cols = np.arange(N)
    f = np.where(pm[k, cols] >= 0, Ft[k // D, k % D, cols], 1)
    return k % D, f


def _sweep_terms(b, x, f):
    """Along one dim of bound `b` cut in tiles of `x`, swept `f` tiles at a
    time with halo reuse: [(extent, weight)] with the axis count
    ``sum weight * ext(extent)`` (f = 1: the full tiles and the ragged last)."""
    x = np.minimum(x, b)
    n, r = cdiv(b, x), b % x
    ragged = r > 0
    first_ragged = ragged & (f == 1)                           # a sweep of one ragged tile
    step_ragged = ragged & (f > 1)                             # the ragged tile ends a sweep
    steps = n - n // f - step_ragged                           # full tiles after a sweep's first
    return [(x, n // f - first_ragged - steps - step_ragged), (np.maximum(r, 1), first_ragged),
            (2 * x, steps), (x + r, step_ragged)]


def axis_sum_halo(c1, c2, b1, b2, x1, x2, f1, f2):
    """`axis_sum` with halo reuse along sweeps of `f1` tiles of dim 1 or `f2`
    of dim 2 (at most one > 1 per mapping; module docstring)."""
    total = 0
    for a, wa in _sweep_terms(b1, x1, f1):
        for b, wb in _sweep_terms(b2, x2, f2):
            total = total + wa * wb * ext2(c1, c2, a, b)
    return total


def level_sum(F, lvl, bounds, x, n):
    """Per dim, the sum over array folds of the fold's extent at level `lvl`
    (rows, cols or pe); (D, N). Within a fold, rows/cols are outside pe, so
    the ragged last fold of a dim split over both keeps the full pe length
    on its longest PE and fewer rows. `bounds` (D,) or per mapping (D, N),
    e.g. a glb tile's extents."""
    f = F[lvl]
    last = (bounds if np.ndim(bounds) == 2 else bounds[:, None]) - (n - 1) * x
    last_lvl = np.minimum(f, last) if lvl == F_PE else cdiv(last, F[F_PE])
    return np.where(f > 1, (n - 1) * f + np.minimum(last_lvl, f), n)
