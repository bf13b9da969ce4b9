"""Exact 3-D hypervolume for many points (bench_search.py): slices over the last objective.

`codesign.search.pareto.hypervolume` slices at every point and recomputes a
front per slice (fine for a few hundred points); pareto mode gives ~10^5
network points. Here the points are sorted by the last objective, the 2-D
staircase of the first two is kept incrementally, and each slab between
consecutive distinct values of the last objective adds staircase area x
thickness. Agrees with `hypervolume` (checked in tests/test_fronts.py).
"""
from __future__ import annotations

import numpy as np

REF = 1.1


def _stair(p: np.ndarray) -> np.ndarray:
    p = p[np.lexsort((p[:, 1], p[:, 0]))]
    prev = np.concatenate([[np.inf], np.minimum.accumulate(p[:, 1])[:-1]])
    return p[p[:, 1] < prev]


def _area(s: np.ndarray, ref: float) -> float:
    xs = np.append(s[1:, 0], ref)
    return float(((xs - s[:, 0]) * (ref - s[:, 1])).sum())


def hv3(points: np.ndarray, ref: float = REF) -> float:
    """Volume dominated by `points` (n, 3), bounded by `ref` in every coordinate."""
    p = np.asarray(points, float)
    p = p[(p < ref).all(axis=1)]
    if not len(p):
        return 0.0
    zs = np.unique(p[:, 2])
    p = p[np.argsort(p[:, 2], kind="stable")]
    bounds = np.searchsorted(p[:, 2], zs, side="left").tolist() + [len(p)]
    stair = np.zeros((0, 2))
    total = 0.0
    for k, z in enumerate(zs):
        stair = _stair(np.vstack([stair, p[bounds[k]:bounds[k + 1], :2]]))
        top = zs[k + 1] if k + 1 < len(zs) else ref
        total += _area(stair, ref) * (top - z)
    return total
