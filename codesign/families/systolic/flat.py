"""Flattened output-pixel tiles: a conv's im2col M dimension (``N*P*Q``) as one dim.

`flat_layer` restates a conv as the loop nest over ``G, M, K, C, R, S``
with ``M = N*P*Q`` (n outermost, then p, then q, as im2col rows): an array
tile of M is a run of consecutive output pixels and may span output rows
(SCALE-Sim's schedule: its os rows / is cols hold ``ceil(M / side)`` folds).
The layer is marked by its op ``im2col`` and keeps the conv's params.

Its inputs are listed as the im2col matrix (axes M, C, R, S), which is what
the streamed operand really moves (for a fixed kernel tap the output pixels
of a run read distinct input pixels, and the reverse), but a *kept* input
tile holds distinct pixels only: `window_sum` and `window_max` count, for a
run of X pixels and a kernel tile of ``yR x yS`` taps, the distinct input
pixels exactly (a run spans a partial first row, full rows and a partial
last row, per image; module `traffic` uses them). Halo reuse does not apply
to flattened tiles (no two-dim axis is left).

`im2col_layer` flattens the kernel taps too: ``G, M, K, CRS`` with
``CRS = C*R*S`` (c outermost, then r, then s, PyTorch's unfold order), the
whole im2col GEMM as SCALE-Sim runs it (its ws and is rows hold
``ceil(C*R*S / side)`` folds). Its kept input tiles are counted by
enumerating the im2col matrix once per tile size (exact, O(M*CRS)): for
fixed schedules (``mapping: scalesim``), not for the mapper's search.
Both layers carry a `Window` (`window_of`): which dims decide a kept
input tile's pixels and how to count them.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ...workload import Layer
from ...workload.ir import Axis, Tensor

__all__ = ["flat_layer", "im2col_layer", "flattened", "is_flat", "flat_kind", "window_of", "Window", "window_sum",
           "window_max", "FLAT_OP", "IM2COL_OP", "Geometry"]

FLAT_OP = "im2col"              # output pixels flattened (M)
IM2COL_OP = "im2col_gemm"       # output pixels and kernel taps flattened (M, CRS)
#: the flattening a mapping's dims come from, by its layer's op
KINDS = {FLAT_OP: "pixels", IM2COL_OP: "im2col"}


def is_flat(layer: Layer) -> bool:
    return layer.op in KINDS


def flat_kind(layer: Layer) -> str:
    """``"pixels"``, ``"im2col"`` or ``""`` (not flattened)."""
    return KINDS.get(layer.op, "")


def flat_layer(layer: Layer) -> Layer | None:
    """`layer` (a conv) with N, P, Q flattened into M; None when it is not a
    conv or has at most one live output-pixel dim (nothing to flatten)."""
    if layer.op not in ("conv2d", "depthwise_conv2d"):
        return None
    b = layer.bounds
    if sum(b[d] > 1 for d in "NPQ") < 2:
        return None
    p = dict(layer.params)
    Cg, Kg, G = b["C"], b["K"], b["G"]
    dims = (("G", G), ("M", b["N"] * b["P"] * b["Q"]), ("K", Kg), ("C", Cg), ("R", b["R"]), ("S", b["S"]))
    bits = {t.name: t.bits for t in layer.tensors}
    ax = lambda *terms: Axis(tuple(terms))  # noqa: E731
    tensors = (Tensor("inputs", (ax(("M", 1)), ax(("G", Cg), ("C", 1)), ax(("R", 1)), ax(("S", 1))), bits["inputs"]),
               Tensor("weights", (ax(("G", Kg), ("K", 1)), ax(("C", 1)), ax(("R", 1)), ax(("S", 1))),
                      bits["weights"]),
               Tensor("outputs", (ax(("M", 1)), ax(("G", Kg), ("K", 1))), bits["outputs"]))
    params = layer.params + (("P", b["P"]), ("Q", b["Q"]), ("of", layer.op))
    return Layer(layer.name, FLAT_OP, dims, tensors, params)


def im2col_layer(layer: Layer) -> Layer | None:
    """`layer` (a conv) as its im2col GEMM ``G, M, K, CRS``; None when it is not a conv."""
    if layer.op not in ("conv2d", "depthwise_conv2d"):
        return None
    b = layer.bounds
    crs = b["C"] * b["R"] * b["S"]
    dims = (("G", b["G"]), ("M", b["N"] * b["P"] * b["Q"]), ("K", b["K"]), ("CRS", crs))
    bits = {t.name: t.bits for t in layer.tensors}
    ax = lambda *terms: Axis(tuple(terms))  # noqa: E731
    tensors = (Tensor("inputs", (ax(("M", 1)), ax(("G", crs), ("CRS", 1))), bits["inputs"]),
               Tensor("weights", (ax(("G", b["K"]), ("K", 1)), ax(("CRS", 1))), bits["weights"]),
               Tensor("outputs", (ax(("M", 1)), ax(("G", b["K"]), ("K", 1))), bits["outputs"]))
    params = layer.params + (("P", b["P"]), ("Q", b["Q"]), ("Cg", b["C"]), ("of", layer.op))
    return Layer(layer.name, IM2COL_OP, dims, tensors, params)


def flattened(layer: Layer, kind: str) -> Layer | None:
    """`flat_layer` (kind ``pixels``) or `im2col_layer` (``im2col``) of `layer`."""
    return flat_layer(layer) if kind == "pixels" else im2col_layer(layer)


class Geometry(tuple):
    """(N, P, Q, R, S, stride, dilation, Cg) of a flattened conv."""

    @classmethod
    def of(cls, layer: Layer) -> "Geometry":
        p = dict(layer.params)
        return cls((p["N"], p["P"], p["Q"], p["R"], p["S"], p["stride"], p["dilation"], p.get("Cg", 1)))


def _ext(c1, c2, x, y):
    """Distinct values of c1*i + c2*j, i < x, j < y (0 when x == 0)."""
    g = math.gcd(c1, c2)
    return x * y - np.maximum(x - c2 // g, 0) * np.maximum(y - c1 // g, 0)


def _runs(geo: Geometry, m0: np.ndarray, m1: np.ndarray, yr: int, ys: int) -> np.ndarray:
    """Distinct input pixels (h, w) of the output-pixel runs [m0, m1) inside
    one image (0 <= m0 < m1 <= P*Q) for a yr x ys kernel tile."""
    _, P, Q, _, _, s, d, _ = geo
    p0, q0 = m0 // Q, m0 % Q
    p1, q1 = (m1 - 1) // Q, (m1 - 1) % Q
    # input columns of each output column, and of its prefixes and suffixes
    width = (Q - 1) * s + (ys - 1) * d + 1
    cover = np.zeros((Q, width), bool)
    for j in range(ys):
        cover[np.arange(Q), np.arange(Q) * s + j * d] = True
    pre = np.logical_or.accumulate(cover, axis=0)                  # pre[q]: columns of q' <= q
    suf = np.logical_or.accumulate(cover[::-1], axis=0)[::-1]       # suf[q]: columns of q' >= q
    A, B, F = suf[q0].sum(axis=1), pre[q1].sum(axis=1), int(pre[-1].sum())
    single = p0 == p1
    out_single = _ext(s, d, 1, yr) * _ext(s, d, q1 - q0 + 1, ys)
    mid = np.where(single, 0, p1 - p0 - 1)
    e0, e1, e2 = _ext(s, d, mid, yr), _ext(s, d, mid + 1, yr), _ext(s, d, mid + 2, yr)
    a = e1 - e0                     # input rows of the first (or last) output row not under a full one
    both = 2 * a - (e2 - e0)        # ... under both the first and the last
    AB = np.where(q1 + 1 >= q0, F, (pre[q1] | suf[q0]).sum(axis=1))
    out_multi = e0 * F + both * AB + (a - both) * (A + B)
    return np.where(single, out_single, out_multi)


@lru_cache(maxsize=1 << 16)
def _tile_counts(geo: Geometry, x: int, yr: int, ys: int) -> tuple[int, int]:
    """(sum, max) over the runs of x pixels tiling N*P*Q of the distinct input pixels."""
    N, P, Q = geo[:3]
    PQ, M = P * Q, N * P * Q
    x = min(x, M)
    m0 = np.arange(0, M, x, dtype=np.int64)
    m1 = np.minimum(m0 + x, M)
    n0, n1 = m0 // PQ, (m1 - 1) // PQ
    one = n0 == n1
    whole = int(_runs(geo, np.array([0]), np.array([PQ]), yr, ys)[0])
    first = _runs(geo, m0 - n0 * PQ, np.where(one, m1 - n0 * PQ, PQ), yr, ys)
    last = _runs(geo, np.zeros_like(m0), np.maximum(m1 - n1 * PQ, 1), yr, ys)
    total = first + np.where(one, 0, last + (n1 - n0 - 1) * whole)
    return int(total.sum()), int(total.max())


def _kernel_tiles(bound: int, y: int) -> list[tuple[int, int]]:
    y = min(y, bound)
    out = [(y, bound // y)]
    if bound % y:
        out.append((bound % y, 1))
    return out


def window_sum(geo: Geometry, x, yr, ys) -> np.ndarray:
    """Per entry, the distinct input pixels summed over all tiles of x output
    pixels (M), yr kernel rows and ys kernel cols (ragged last tiles)."""
    R, S = geo[3], geo[4]
    return _each(lambda a, b, c: sum(wr * ws * _tile_counts(geo, a, r, s)[0]
                                     for r, wr in _kernel_tiles(R, b) for s, ws in _kernel_tiles(S, c)),
                 x, yr, ys)


def window_max(geo: Geometry, x, yr, ys) -> np.ndarray:
    """Per entry, the distinct input pixels of the largest tile (x output
    pixels, yr x ys kernel taps, all capped at the bounds)."""
    R, S = geo[3], geo[4]
    return _each(lambda a, b, c: _tile_counts(geo, a, min(b, R), min(c, S))[1], x, yr, ys)


def _each(f, x, yr, ys) -> np.ndarray:
    """f over the distinct (x, yr, ys) triples of the arrays (broadcast), mapped back."""
    x, yr, ys = np.broadcast_arrays(*(np.asarray(v, dtype=np.int64) for v in (x, yr, ys)))
    trip = np.stack([x.ravel(), yr.ravel(), ys.ravel()], axis=1)
    uniq, inv = np.unique(trip, axis=0, return_inverse=True)
    vals = np.array([f(int(a), int(b), int(c)) for a, b, c in uniq], dtype=np.int64)
    return vals[inv.ravel()].reshape(x.shape)


@lru_cache(maxsize=4)
def _im2col_ids(geo: Geometry) -> np.ndarray:
    """(M, CRS) input-pixel ids of the im2col matrix of one group."""
    N, P, Q, R, S, st, d, Cg = geo
    H, W = (P - 1) * st + (R - 1) * d + 1, (Q - 1) * st + (S - 1) * d + 1
    n, p, q = np.unravel_index(np.arange(N * P * Q), (N, P, Q))
    c, r, s = np.unravel_index(np.arange(Cg * R * S), (Cg, R, S))
    h = p[:, None] * st + r[None, :] * d
    w = q[:, None] * st + s[None, :] * d
    return ((n[:, None] * Cg + c[None, :]) * H + h) * W + w


@lru_cache(maxsize=1 << 12)
def _im2col_counts(geo: Geometry, xm: int, xk: int) -> tuple[int, int]:
    """(sum, max) over the xm x xk tiles of the im2col matrix of its distinct pixels."""
    ids = _im2col_ids(geo)
    M, K = ids.shape
    xm, xk = min(xm, M), min(xk, K)
    nk = -(-K // xk)
    tile = (np.arange(M)[:, None] // xm) * nk + np.arange(K)[None, :] // xk
    keys = np.unique(tile.ravel() * int(ids.max() + 1) + ids.ravel())
    per = np.bincount(keys // int(ids.max() + 1))
    return int(per.sum()), int(per.max())


@dataclass(frozen=True)
class Window:
    """How a flattened conv's kept input tiles count distinct pixels: the
    tiles of `dims` (indices into the layer's dims: M, R, S or M, CRS)
    decide them; `volume` is what the im2col count of those dims gives."""

    kind: str
    geo: Geometry
    dims: tuple[int, ...]
    volume: int

    def sum(self, *tiles) -> np.ndarray:
        """Distinct pixels summed over all tiles of these extents (ragged last ones)."""
        if self.kind == "pixels":
            return window_sum(self.geo, *tiles)
        return _each(lambda a, b, _: _im2col_counts(self.geo, a, b)[0], tiles[0], tiles[1], 1)

    def max(self, *tiles) -> np.ndarray:
        """Distinct pixels of the largest tile of these extents."""
        if self.kind == "pixels":
            return window_max(self.geo, *tiles)
        return _each(lambda a, b, _: _im2col_counts(self.geo, a, b)[1], tiles[0], tiles[1], 1)


def window_of(layer: Layer) -> Window | None:
    """The `Window` of a flattened layer (None for any other)."""
    kind = flat_kind(layer)
    if not kind:
        return None
    names = layer.dim_names
    dims = ("M", "R", "S") if kind == "pixels" else ("M", "CRS")
    return Window(kind, Geometry.of(layer), tuple(names.index(d) for d in dims),
                  math.prod(layer.bounds[d] for d in dims))
