"""The tiling half of the search space (``mapping: joint``): per-layer tile
sizes and loop orders as static `JointParam`s (search/ makes them Optuna
distributions), decoded in batches.

Per layer and per dim of bound > 1 (names use '/', which layer names lack):

- ``array/<layer>/<dim>``: index into `candidates(bound)` of the dim's
  array-level factor. The dataflow decides where it goes: rows, cols or
  streamed through the PEs (``pe``), as `ROLES_ON` says for the dim's role;
  ``g`` dims (groups, heads) never go on the array and have no such param.
- ``tile/<layer>/<dim>``: index into `candidates(bound)` of the dim's glb
  tile extent. It is rounded down to a whole number of array tiles that
  divides the array-tile count (the Mapping rule), at least one tile.
- ``order/<layer>/dram`` and ``order/<layer>/glb``: the loop order of that
  level as a role permutation (``"mnk"``: m dims outermost, k innermost;
  ``g`` dims always outermost). Within a role, dims keep layer order.
- ``dataflow/<layer>`` (only when the hardware may be ``flexible``): the
  dataflow a flexible array runs the layer in (ignored by fixed arrays).

Indices are integer parameters (tile sizes are ordered, so samplers can use
neighbourhoods); orders are categorical. The lists never depend on the
hardware, so every trial has the same search space. What decoding cannot
guarantee (the rows/cols products fit the array, tiles fit the buffers) is
checked by the cost model and reported as a graded constraint, not repaired.
"""
from __future__ import annotations

import math
from bisect import bisect_right
from dataclasses import dataclass
from functools import lru_cache
from itertools import permutations

import numpy as np

from ..base import JointParam
from .dataflow import DATAFLOWS, ROLES_ON
from .mapping import TEMPORAL, Mapping
from ...workload import Layer, Workload

__all__ = ["candidates", "LayerTiling", "WorkloadTiling", "ORDERS"]

ORDERS = tuple("".join(p) for p in permutations("mnk"))
_ROLE_CODE = {"m": 0, "n": 1, "k": 2, "g": 3}
# inner level index (MappingBatch.from_arrays: 0 glb, 1 rows, 2 cols, 3 pe) per (dataflow, role)
_LEVEL = np.array([[1 + ROLES_ON[df].index(r) if r in ROLES_ON[df] else 0 for r in "mnkg"]
                   for df in DATAFLOWS])


def candidates(bound: int, limit: int = 16) -> tuple[int, ...]:
    """Tile-size choices for a dim: its divisors and powers of two up to the
    bound (at most `limit`, spread evenly in log scale, 1 and bound kept)."""
    vals = {d for d in range(1, math.isqrt(bound) + 1) if bound % d == 0}
    vals |= {bound // d for d in vals} | {1 << i for i in range(bound.bit_length()) if 1 << i <= bound}
    vals = sorted(vals)
    if len(vals) <= limit:
        return tuple(vals)
    logs = np.log(vals)
    picks = {int(np.abs(logs - t).argmin()) for t in np.linspace(0, logs[-1], limit)}
    return tuple(vals[i] for i in sorted(picks))


def _floor_index(values: tuple[int, ...], x: int) -> int:
    """Index of the largest value <= x (0 if none)."""
    return max(0, bisect_right(values, x) - 1)


def _largest_divisor_at_most(n: int, k: int) -> int:
    return max(d for d in _divisors(n) if d <= max(k, 1))


@lru_cache(maxsize=1024)
def _divisors(n: int) -> tuple[int, ...]:
    """Divisors of n in O(sqrt(n)) (a dim may be 2**31)."""
    small = [d for d in range(1, math.isqrt(n) + 1) if n % d == 0]
    return tuple(small + [n // d for d in small])


@dataclass(frozen=True)
class _Dim:
    index: int
    name: str
    role: str
    arrays: tuple[int, ...]       # array-factor choices ((1,) for g dims)
    tiles: tuple[int, ...]        # glb tile-extent choices
    glb: np.ndarray               # (len(arrays), len(tiles)) glb factor


@dataclass(frozen=True)
class LayerTiling:
    """The joint-mode choices of one layer and their decoding."""

    layer: Layer
    dims: tuple[_Dim, ...]
    order_ranks: np.ndarray       # (len(ORDERS), D) position of each dim per order
    flexible: bool = False

    @classmethod
    def of(cls, layer: Layer, flexible: bool = False) -> "LayerTiling":
        dims = []
        for i, (d, b) in enumerate(layer.dims):
            if b == 1:
                continue
            role = layer.role(d)
            arrays = (1,) if role == "g" else candidates(b)
            tiles = candidates(b)
            glb = np.array([[_largest_divisor_at_most(-(-b // a), max(1, t // a)) for t in tiles]
                            for a in arrays], dtype=np.int64)
            dims.append(_Dim(i, d, role, arrays, tiles, glb))
        roles = [layer.role(d) for d in layer.dim_names]
        ranks = []
        for o in ORDERS:
            key = {r: j + 1 for j, r in enumerate(o)} | {"g": 0}
            seq = sorted(range(len(roles)), key=lambda j: (key[roles[j]], j))
            r = np.empty(len(roles), dtype=np.int64)
            r[seq] = np.arange(len(roles))
            ranks.append(r)
        return cls(layer, tuple(dims), np.array(ranks), flexible)

    def params(self) -> list[JointParam]:
        """This layer's joint-mode parameters (module docstring)."""
        n = self.layer.name
        out: list[JointParam] = []
        for d in self.dims:
            if len(d.arrays) > 1:
                out.append(JointParam(f"array/{n}/{d.name}", "int", 0, len(d.arrays) - 1))
            out.append(JointParam(f"tile/{n}/{d.name}", "int", 0, len(d.tiles) - 1))
        out.append(JointParam(f"order/{n}/dram", "choice", choices=ORDERS))
        out.append(JointParam(f"order/{n}/glb", "choice", choices=ORDERS))
        if self.flexible:
            out.append(JointParam(f"dataflow/{n}", "choice", choices=DATAFLOWS))
        return out

    def encode(self, mapping: Mapping, dataflow: str) -> dict:
        """The params closest to `mapping` (e.g. the mapper's) that decode to a
        mapping at most as large: array factors and glb tiles rounded down to
        candidates, each temporal level's roles ordered by their innermost loop."""
        n, out = self.layer.name, {}
        for d in self.dims:
            a = math.prod(mapping.factor(lvl, d.name) for lvl in ("rows", "cols", "pe"))
            ai = _floor_index(d.arrays, a)
            if len(d.arrays) > 1:
                out[f"array/{n}/{d.name}"] = ai
            out[f"tile/{n}/{d.name}"] = _floor_index(d.tiles, mapping.factor("glb", d.name) * a)
        roles = {x: self.layer.role(x) for x in self.layer.dim_names}
        for lvl in ("dram", "glb"):
            order = mapping.order[TEMPORAL.index(lvl)]
            inner = {r: max((i for i, x in enumerate(order) if roles[x] == r and mapping.factor(lvl, x) > 1),
                            default=-1) for r in "mnk"}
            out[f"order/{n}/{lvl}"] = "".join(sorted("mnk", key=lambda r: (inner[r], "mnk".index(r))))
        if self.flexible:
            out[f"dataflow/{n}"] = dataflow
        return out

    def decode(self, params: list[dict], dataflows: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Inner factors (B, 4, D) for glb, rows, cols, pe and loop ranks (B, 3, D)
        of a batch of trials (the `MappingBatch.from_arrays` inputs)."""
        n, B, D = self.layer.name, len(params), len(self.layer.dims)
        inner = np.ones((B, 4, D), dtype=np.int64)
        df = np.array([DATAFLOWS.index(x) for x in dataflows])
        rows = np.arange(B)
        for d in self.dims:
            ai = np.array([p.get(f"array/{n}/{d.name}", 0) for p in params])
            ti = np.array([p[f"tile/{n}/{d.name}"] for p in params])
            a = np.asarray(d.arrays)[ai]
            inner[rows, _LEVEL[df, _ROLE_CODE[d.role]], d.index] = a
            inner[:, 0, d.index] = d.glb[ai, ti]
        rank = np.empty((B, 3, D), dtype=np.int64)
        rank[:, 0] = self.order_ranks[[ORDERS.index(p[f"order/{n}/dram"]) for p in params]]
        rank[:, 1] = self.order_ranks[[ORDERS.index(p[f"order/{n}/glb"]) for p in params]]
        rank[:, 2] = np.arange(D)
        return inner, rank


@dataclass(frozen=True)
class WorkloadTiling:
    """The joint-mode choices of every unique layer of a workload."""

    layers: tuple[LayerTiling, ...]

    @classmethod
    def of(cls, workload: Workload, flexible: bool = False) -> "WorkloadTiling":
        """`flexible`: the hardware space holds ``dataflow: flexible`` arrays."""
        return cls(tuple(LayerTiling.of(l, flexible) for l, _ in workload))

    def params(self) -> tuple[JointParam, ...]:
        """Every layer's joint-mode parameters, in layer order."""
        return tuple(p for lt in self.layers for p in lt.params())
