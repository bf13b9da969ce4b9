"""Closed-form traffic and extents of the systolic cost model (see `cost`).

Arrays are dim-major: factors (levels, D, N), tiles (D, N). Ragged tiles are
counted exactly: along a dim the tiles are full except the last one. A conv
input axis ``p*stride + r*dilation`` touches exactly ``X*Y - max(X - d/g, 0)
* max(Y - s/g, 0)`` rows for a tile of X output rows and Y kernel rows
(g = gcd(s, d)), the count `codesign.workload.Axis.extent` gives.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ...workload import TENSORS, Layer

__all__ = ["LayerInfo", "info", "cdiv", "traffic", "footprint", "level_sum", "ext2", "axis_sum"]

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
    return LayerInfo(bounds, rel, axes2, const, {t: layer.footprint(t) for t in TENSORS},
                      {t.name: t.bits for t in layer.tensors}, tuple(layer.role(d) for d in layer.dim_names))


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
    return out


def traffic(info, tensor, Ft, posm, pos, tile, cut, exempt):
    """Elements of `tensor` moved across the boundary below temporal level `cut`.

    Arrays are dim-major: Ft (3, D, N) temporal factors, posm/pos (3, D, N)
    flattened loop positions (posm: -1 where the factor is 1), tile (D, N)
    the child's tile. With `exempt`, loops after the innermost loop over a
    dim the tensor uses (above the boundary) reuse the tile.
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
    for axis in info.axes2[tensor]:
        (d1, c1), (d2, c2) = axis
        total = total * axis_sum(c1, c2, bounds[d1], bounds[d2], tile[d1], tile[d2])
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
