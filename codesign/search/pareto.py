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
    keep = np.ones(n, dtype=bool)
    order = np.lexsort(v.T[::-1])          # sorted: a dominator always comes before what it dominates
    front: list[int] = []
    for i in order:
        if front:
            f = v[front]
            if ((f <= v[i]).all(axis=1) & (f < v[i]).any(axis=1)).any():
                keep[i] = False
                continue
        front.append(i)
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
    total = 0.0
    for i in range(len(p)):
        if zs[i] > p[i, -1]:
            q = p[: i + 1, :-1]
            total += (zs[i] - p[i, -1]) * _hv(q[pareto_mask(q)], ref[:-1])
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
    hv = [hypervolume(z[:m][ok[:m]]) for m in marks]
    return pd.DataFrame({"trials": marks, "hypervolume": hv})
