"""Pareto fronts and hypervolume (every objective minimized), on numpy arrays.

Objectives span decades (cycles, picojoules, mm²), so hypervolume is taken
in normalized log space: ``z = log(v / lo) / log(hi / lo)`` per objective
with `lo`, `hi` the best and worst feasible values of a reference set, and
the reference point 1.1 in every coordinate (`normalize`).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["pareto_mask", "hypervolume", "normalize", "hypervolume_history", "REF"]

REF = 1.1


def pareto_mask(values: np.ndarray) -> np.ndarray:
    """Boolean mask of the rows of `values` (n, k) that no other row dominates
    (<= in every objective, < in one). Rows with equal vectors all stay."""
    v = np.asarray(values, dtype=float)
    n = len(v)
    if v.ndim == 2 and v.shape[1] == 2 and n:
        return _pareto_mask_2d(v)
    keep = np.zeros(n, dtype=bool)
    order = np.lexsort(v.T[::-1])          # sorted: a dominator always comes before what it dominates
    front = v[:0]
    for s in range(0, n, _BLOCK):          # a block of rows against the front so far, then within itself
        idx = order[s:s + _BLOCK]
        b = v[idx]
        ok = ~_dominated_by(front, b)
        ok[ok] = ~_dominated_by(b[ok], b[ok])
        keep[idx[ok]] = True
        front = np.vstack([front, b[ok]])
    return keep


#: rows compared at once by `pareto_mask` (memory: front x block x objectives booleans)
_BLOCK = 256


def _dominated_by(f: np.ndarray, b: np.ndarray) -> np.ndarray:
    """For each row of `b`: does some row of `f` dominate it?"""
    if not len(f) or not len(b):
        return np.zeros(len(b), dtype=bool)
    out = np.zeros(len(b), dtype=bool)
    step = max(1, 2**22 // (len(b) * b.shape[1]))
    for s in range(0, len(f), step):
        x = f[s:s + step, None, :]
        out |= ((x <= b[None]).all(axis=2) & (x < b[None]).any(axis=2)).any(axis=0)
    return out


def _pareto_mask_2d(v: np.ndarray) -> np.ndarray:
    """`pareto_mask` of (n, 2) values, vectorized: a row is dominated iff a row
    with a smaller x has y <= its y, or a row with the same x a smaller y."""
    order = np.lexsort((v[:, 1], v[:, 0]))
    x, y = v[order, 0], v[order, 1]
    first = np.r_[True, x[1:] != x[:-1]]                 # first row of each run of equal x (smallest y)
    start = np.flatnonzero(first)[np.cumsum(first) - 1]
    before = np.r_[np.inf, np.minimum.accumulate(y)[:-1]]   # min y of the rows before, in sort order
    dominated = (before[start] <= y) | (y[start] < y)
    keep = np.empty(len(v), dtype=bool)
    keep[order] = ~dominated
    return keep


def _hv(p: np.ndarray, ref: np.ndarray) -> float:
    if len(p) == 0:
        return 0.0
    if p.shape[1] == 1:
        return float(ref[0] - p[:, 0].min())
    if p.shape[1] == 2:
        p = p[np.argsort(p[:, 0], kind="stable")]
        best_y = np.minimum.accumulate(p[:, 1])
        xs = np.append(p[1:, 0], ref[0])
        return float(((xs - p[:, 0]) * (ref[1] - best_y)).sum())
    p = p[np.argsort(p[:, -1], kind="stable")]
    zs = np.append(p[1:, -1], ref[-1])
    if p.shape[1] == 3:
        return _hv3(p, zs - p[:, -1], ref)
    total = 0.0
    for i in range(len(p)):
        if zs[i] > p[i, -1]:
            q = p[: i + 1, :-1]
            total += (zs[i] - p[i, -1]) * _hv(q[pareto_mask(q)], ref[:-1])
    return total


def _hv3(p: np.ndarray, thick: np.ndarray, ref: np.ndarray) -> float:
    """3-D hypervolume of `p` sorted by z, as slices: slice i (thickness ``thick[i]``) has the
    area of the union of the first i + 1 points' rectangles in (x, y). All slices at once:
    in x order, each prefix's running min of y gives its staircase height over each gap
    between consecutive x (``ref`` after the last)."""
    ox = np.argsort(p[:, 0], kind="stable")
    x, y = p[ox, 0], p[ox, 1]
    gaps = np.append(x[1:], ref[0]) - x
    rank = np.argsort(ox, kind="stable")            # rank[j]: position in x order of the j-th point by z
    live = np.flatnonzero(thick > 0)
    total = 0.0
    for s in range(0, len(live), 512):              # rows x points booleans, 512 slices at a time
        rows = live[s:s + 512]
        inside = np.arange(len(p))[None, :] <= rows[:, None]           # by z order
        in_x = np.zeros_like(inside)
        in_x[:, rank] = inside                                          # the same, by x order
        low = np.minimum.accumulate(np.where(in_x, y[None, :], np.inf), axis=1)
        area = (np.where(np.isfinite(low), ref[1] - low, 0.0) * gaps[None, :]).sum(axis=1)
        total += float((thick[rows] * area).sum())
    return total


def hypervolume(points: np.ndarray, ref: np.ndarray | float = REF) -> float:
    """Volume dominated by `points` (n, k) and bounded by `ref` (exact; slicing
    over the last objective, fine for fronts of a few hundred points)."""
    p = np.asarray(points, dtype=float).reshape(-1, np.shape(points)[-1] if np.ndim(points) > 1 else 1)
    ref = np.broadcast_to(np.asarray(ref, dtype=float), (p.shape[1],))
    p = p[(p < ref).all(axis=1)]
    return _hv(p[pareto_mask(p)], ref) if len(p) else 0.0


def normalize(values: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Log-scale normalization of positive objective values to [0, 1] over [lo, hi]."""
    lo, hi = np.log(np.asarray(lo, float)), np.log(np.asarray(hi, float))
    span = np.where(hi > lo, hi - lo, 1.0)
    return (np.log(np.asarray(values, float)) - lo) / span


def hypervolume_history(df: pd.DataFrame, objectives: list[str], points: int = 200) -> pd.DataFrame:
    """Normalized hypervolume of the feasible front after each of up to
    `points` trial counts (bounds: best and worst feasible values of `df`)."""
    vals = df[objectives].to_numpy(float)
    ok = df["feasible"].to_numpy(bool) & np.isfinite(vals).all(axis=1) & (vals > 0).all(axis=1)
    if not ok.any():
        return pd.DataFrame({"trials": [], "hypervolume": []})
    lo, hi = vals[ok].min(axis=0), vals[ok].max(axis=0)
    z = normalize(np.where(ok[:, None], vals, 1.0), lo, hi)
    n = len(df)
    marks = np.unique(np.linspace(1, n, min(points, n)).astype(int))
    # the front after m trials is the front of the last one plus the new trials
    # (in trial order, as `hypervolume` builds it): same points, same value. A new trial
    # the front dominates is left out at once (what it dominates, the front does too):
    # late in a study most are, and the front and its volume stay as they were
    ref = np.full(z.shape[1], REF)
    front, value, last, hv = z[:0], 0.0, 0, []
    for m in marks:
        new = z[last:m][ok[last:m]]
        new = new[(new < ref).all(axis=1)]
        new = new[~_dominated_by(front, new)]
        if len(new):
            cand = np.vstack([front, new])
            front = cand[pareto_mask(cand)]
            value = _hv(front, ref)
        hv.append(value)
        last = m
    return pd.DataFrame({"trials": marks, "hypervolume": hv})
