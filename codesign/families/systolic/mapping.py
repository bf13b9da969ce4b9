"""The Mapping type: how a layer's loop nest is tiled, ordered and unrolled.

Levels, outermost first: ``dram`` (temporal loops over glb tiles), ``glb``
(temporal loops over array folds), ``rows`` and ``cols`` (spatial unrolling
onto the PE array), ``pe`` (temporal loops streamed through the array).
Each level has a factor per dim; the product over levels covers the dim's
bound. The array-level tile of a dim (its rows, cols and pe factors) need
not divide the bound: the last tile is ragged (as in Timeloop v3's
imperfect factorization). The temporal levels above then count whole
array tiles: the ``glb`` factor divides the number of array tiles
``ceil(bound / tile)`` and the ``dram`` factor is the quotient (derived).
So no loop iteration is ever empty, and the cost model's closed forms are
exact (tests/test_cost_bruteforce.py).

`Mapping` is one validated, immutable mapping; `MappingBatch` is N mappings
as numpy arrays, the form the cost model works on.

A *flattened* mapping tiles a conv's output pixels as one dim ``M =
N*P*Q`` (``flat: pixels``, or ``true``), or the whole im2col GEMM with the
kernel taps as one dim ``CRS`` too (``flat: im2col``); its dims are those of
`flat.flat_layer` / `flat.im2col_layer` (`codesign.families.systolic.flat`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping as TMapping, Sequence

import numpy as np

from ...errors import UserError
from ...workload import Layer

__all__ = ["Mapping", "MappingBatch", "MappingError", "LEVELS", "TEMPORAL"]

LEVELS = ("dram", "glb", "rows", "cols", "pe")
TEMPORAL = ("dram", "glb", "pe")
_LVL = {l: i for i, l in enumerate(LEVELS)}


class MappingError(UserError, ValueError):
    """A mapping that is not a valid tiling of its layer."""


@dataclass(frozen=True)
class Mapping:
    """One mapping of one layer (see module docstring).

    `factors[level]` holds one factor per dim (in `dims` order);
    `order[level]` lists the dims of a temporal level, outermost first.
    """

    layer: str
    dims: tuple[str, ...]
    bounds: tuple[int, ...]
    factors: tuple[tuple[int, ...], ...]
    order: tuple[tuple[str, ...], ...]
    flat: str = ""                  # "pixels" / "im2col": dims of the flattened layer (`flat`)

    def __post_init__(self):
        D = len(self.dims)
        if len(self.factors) != len(LEVELS) or any(len(f) != D for f in self.factors):
            raise MappingError(f"mapping of {self.layer!r}: factors must be {len(LEVELS)} levels x {D} dims")
        for lvl, fs in zip(LEVELS, self.factors):
            for d, f in zip(self.dims, fs):
                if isinstance(f, bool) or not isinstance(f, (int, np.integer)) or f < 1:
                    raise MappingError(f"mapping of {self.layer!r}: {lvl}.{d} must be a positive integer, got {f!r}")
        for i, d in enumerate(self.dims):
            x = math.prod(self.factors[_LVL[l]][i] for l in ("rows", "cols", "pe"))
            n = -(-self.bounds[i] // x)
            f_glb, f_dram = self.factors[_LVL["glb"]][i], self.factors[_LVL["dram"]][i]
            if n % f_glb or f_dram != n // f_glb:
                raise MappingError(
                    f"mapping of {self.layer!r}: dim {d} has {n} array tiles of {x}; the glb factor must "
                    f"divide {n} (got {f_glb}) and dram must be the quotient (got {f_dram})")
        if self.flat not in ("", "pixels", "im2col"):
            raise MappingError(f"mapping of {self.layer!r}: flat must be pixels or im2col, got {self.flat!r}")
        if len(self.order) != len(TEMPORAL) or any(sorted(o) != sorted(self.dims) for o in self.order):
            raise MappingError(f"mapping of {self.layer!r}: order must list every dim once per temporal level")

    # -- construction --------------------------------------------------------
    @classmethod
    def build(cls, layer: Layer, *, glb: TMapping[str, int] | None = None,
              rows: TMapping[str, int] | None = None, cols: TMapping[str, int] | None = None,
              pe: TMapping[str, int] | None = None, dram: TMapping[str, int] | None = None,
              order: TMapping[str, Sequence[str]] | None = None, flat: bool | str = False) -> "Mapping":
        """A mapping from per-level ``{dim: factor}`` dicts.

        Missing factors are 1; ``dram`` factors default to what the inner
        levels leave (ceil(bound / inner)). ``order[level]`` may list only
        some dims (outermost first); the others follow in layer order.
        With `flat` (``True``/``"pixels"`` or ``"im2col"``) the dims are those
        of the flattened layer (module docstring).
        """
        from .flat import flat_kind, flattened
        if flat and not flat_kind(layer):
            kind = "pixels" if flat is True else flat
            fl = flattened(layer, kind) if kind in ("pixels", "im2col") else None
            if fl is None:
                raise MappingError(f"mapping.flat: layer {layer.name!r} cannot be flattened as {flat!r} "
                                   f"(pixels: a conv with two or more of N, P, Q > 1; im2col: a conv)")
            layer = fl
        dims = layer.dim_names
        given = {"dram": dram or {}, "glb": glb or {}, "rows": rows or {}, "cols": cols or {}, "pe": pe or {}}
        for lvl, fs in given.items():
            for d in fs:
                if d not in dims:
                    raise MappingError(f"mapping.{lvl}.{d}: layer {layer.name!r} has no dim {d} "
                                       f"(dims: {', '.join(dims)})")
        inner = {l: tuple(int(given[l].get(d, 1)) for d in dims) for l in LEVELS[1:]}
        derived = tuple(math.ceil(b / math.prod(inner[l][i] for l in LEVELS[1:]))
                        for i, (_, b) in enumerate(layer.dims))
        dram_f = tuple(int(given["dram"].get(d, derived[i])) for i, d in enumerate(dims))
        orders = []
        for lvl in TEMPORAL:
            o = list((order or {}).get(lvl, ()))
            for d in o:
                if d not in dims:
                    raise MappingError(f"mapping.order.{lvl}: layer {layer.name!r} has no dim {d}")
            if len(set(o)) != len(o):
                raise MappingError(f"mapping.order.{lvl}: a dim is listed twice in {o}")
            orders.append(tuple(o + [d for d in dims if d not in o]))
        return cls(layer.name, dims, tuple(b for _, b in layer.dims),
                   (dram_f,) + tuple(inner[l] for l in LEVELS[1:]), tuple(orders), flat_kind(layer))

    # -- views ---------------------------------------------------------------
    def factor(self, level: str, dim: str) -> int:
        return self.factors[_LVL[level]][self.dims.index(dim)]

    def level(self, level: str) -> dict[str, int]:
        """``{dim: factor}`` of a level, factors > 1 only."""
        return {d: f for d, f in zip(self.dims, self.factors[_LVL[level]]) if f > 1}

    def tile(self, level: str) -> dict[str, int]:
        """Extent per dim of one tile held at `level`: the product of the factors
        at `level` and every level inside it (capped at the bound). ``glb`` gives
        the scratchpad tile, ``rows`` the array fold, ``pe`` one PE's tile."""
        inner = LEVELS[_LVL[level]:]
        return {d: min(b, math.prod(self.factors[_LVL[l]][i] for l in inner))
                for i, (d, b) in enumerate(zip(self.dims, self.bounds))}

    def to_dict(self) -> dict:
        """Plain-data form (the YAML/JSON ``mapping:`` shape); `build` reads it back."""
        out = {l: self.level(l) for l in LEVELS}
        out["order"] = {l: list(o) for l, o in zip(TEMPORAL, self.order)}
        if self.flat:
            out["flat"] = True
        return out

    def __str__(self) -> str:
        lines, ind = [], 0
        for lvl in ("dram", "glb"):
            fs = self.level(lvl)
            loops = [d for d in self.order[TEMPORAL.index(lvl)] if d in fs]
            for j, d in enumerate(loops):
                tag = f"[{lvl}]" if j == 0 else ""
                lines.append(f"{tag:<8}{'  ' * ind}for {d.lower()}_{lvl} in 0..{fs[d]}")
                ind += 1
            if not loops:
                lines.append(f"[{lvl}]{'  ' * ind}  (one tile)")
        r, c = self.level("rows"), self.level("cols")
        sp = lambda f: " ".join(f"{d}{v}" for d, v in f.items()) or "-"  # noqa: E731
        lines.append(f"{'[array]':<8}{'  ' * ind}parallel rows: {sp(r)} | cols: {sp(c)}")
        ind += 1
        fs = self.level("pe")
        loops = [d for d in self.order[2] if d in fs]
        for j, d in enumerate(loops):
            tag = "[pe]" if j == 0 else ""
            lines.append(f"{tag:<8}{'  ' * ind}for {d.lower()}_pe in 0..{fs[d]}")
            ind += 1
        lines.append(f"{'':<8}{'  ' * ind}MAC")
        return "\n".join(lines)

    def oneline(self) -> str:
        """Compact single-line form, e.g. ``dram[K2 N4] glb[M4] rows[M16] cols[N16] pe[K64]``."""
        parts = []
        for lvl in LEVELS:
            fs = self.level(lvl)
            if lvl in TEMPORAL:
                keys = [d for d in self.order[TEMPORAL.index(lvl)] if d in fs]
            else:
                keys = list(fs)
            parts.append(f"{lvl}[{' '.join(f'{d}{fs[d]}' for d in keys)}]")
        return (f"flat:{self.flat} " if self.flat else "") + " ".join(parts)


@dataclass(frozen=True)
class MappingBatch:
    """N mappings of one layer as arrays (the cost model's input).

    `factors`: int64 (N, 5, D), levels in `LEVELS` order.
    `rank`: int64 (N, 3, D), position of each dim in each temporal level's
    loop order (0 = outermost).
    """

    dims: tuple[str, ...]
    bounds: np.ndarray
    factors: np.ndarray
    rank: np.ndarray

    def __len__(self) -> int:
        return self.factors.shape[0]

    @classmethod
    def from_mappings(cls, mappings: Sequence[Mapping]) -> "MappingBatch":
        if not mappings:
            raise MappingError("empty batch of mappings")
        m0 = mappings[0]
        pos = {d: i for i, d in enumerate(m0.dims)}
        factors = np.array([m.factors for m in mappings], dtype=np.int64)
        rank = np.empty((len(mappings), len(TEMPORAL), len(m0.dims)), dtype=np.int64)
        for i, m in enumerate(mappings):
            for l, o in enumerate(m.order):
                rank[i, l, [pos[d] for d in o]] = np.arange(len(o))
        return cls(m0.dims, np.array(m0.bounds, dtype=np.int64), factors, rank)

    @classmethod
    def from_arrays(cls, layer: Layer, inner: np.ndarray, rank: np.ndarray) -> "MappingBatch":
        """Batch from inner factors (N, 4, D) for glb, rows, cols, pe; dram derived."""
        bounds = np.array([b for _, b in layer.dims], dtype=np.int64)
        inner = np.asarray(inner, dtype=np.int64)
        dram = -(-bounds // inner.prod(axis=1))
        return cls(layer.dim_names, bounds, np.concatenate([dram[:, None, :], inner], axis=1),
                   np.asarray(rank, dtype=np.int64))

    def __getitem__(self, i: int) -> Mapping:
        order = tuple(tuple(self.dims[j] for j in np.argsort(self.rank[i, l], kind="stable"))
                      for l in range(len(TEMPORAL)))
        return Mapping("?", self.dims, tuple(int(b) for b in self.bounds),
                       tuple(tuple(int(f) for f in lvl) for lvl in self.factors[i]), order)
