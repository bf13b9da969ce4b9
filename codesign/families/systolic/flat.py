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
"""
from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

from ...workload import Layer
from ...workload.ir import Axis, Tensor

__all__ = ["flat_layer", "is_flat", "window_sum", "window_max", "FLAT_OP", "Geometry"]

FLAT_OP = "im2col"


def is_flat(layer: Layer) -> bool:
    return layer.op == FLAT_OP


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


class Geometry(tuple):
    """(N, P, Q, R, S, stride, dilation) of a flattened conv."""

    @classmethod
    def of(cls, layer: Layer) -> "Geometry":
        p = dict(layer.params)
        return cls((p["N"], p["P"], p["Q"], p["R"], p["S"], p["stride"], p["dilation"]))


def _ext(c1, c2, x, y):
    """Distinct values of c1*i + c2*j, i < x, j < y (0 when x == 0)."""
    g = math.gcd(c1, c2)
    return x * y - np.maximum(x - c2 // g, 0) * np.maximum(y - c1 // g, 0)


def _runs(geo: Geometry, m0: np.ndarray, m1: np.ndarray, yr: int, ys: int) -> np.ndarray:
    """Distinct input pixels (h, w) of the output-pixel runs [m0, m1) inside
    one image (0 <= m0 < m1 <= P*Q) for a yr x ys kernel tile."""
    _, P, Q, _, _, s, d = geo
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
