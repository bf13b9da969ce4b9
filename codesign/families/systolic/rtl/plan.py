"""From (architecture, GEMM layer, mapping) to what the RTL runs: roles, glb tiles, folds.

The array sees a GEMM through three *roles*: the dim unrolled on the rows,
the dim unrolled on the cols, and the dim streamed in time (the ``pe``
level). Per dataflow (as in SCALE-Sim):

========  =====  =====  ======
dataflow  row    col    time
========  =====  =====  ======
os        M      N      K
ws        K      N      M
is        K      M      N
========  =====  =====  ======

Per role dim with bound ``B``: the fold size ``F`` is its rows/cols/pe
factor, ``g`` its glb factor, ``D`` its dram factor. Tile and fold indices
follow the flat loop-nest semantics of imperfect factorization: the element
index is ``i_dram*g*F + i_glb*F + i_inner`` and indices ``>= B`` are
skipped, so the last tile and the last fold of a dim are ragged and loop
iterations that would be empty are not run (neither by the host nor by the
RTL controller). A *glb tile* is one dram-level iteration (the host loads
the scratchpad, pulses start, waits for done); a *fold* is one iteration of
the dram+glb loops (the array works on ``used_rows x used_cols`` PEs while
``t`` vectors stream).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import product
from typing import Iterator

from ....errors import UserError
from ..arch import SystolicArch
from ..dataflow import ROLE_DIMS
from ..mapping import Mapping
from ..pacing import array_port_stalls, rtl_pacing
from ..timing import fold_timing
from ....workload import Layer

__all__ = ["RtlError", "ROLE_DIMS", "Plan", "Tile", "make_plan", "model_cycles", "tile_model_cycles",
           "fold_sizes"]

ROW, COL, TIME = 0, 1, 2


class RtlError(UserError, ValueError):
    """A design or mapping the RTL generator cannot build or run (one line that says why)."""


@dataclass(frozen=True)
class Tile:
    """One glb tile: dram-level index, element base and extent per role (row, col, time)."""

    index: tuple[int, int, int]
    base: tuple[int, int, int]
    extent: tuple[int, int, int]


@dataclass(frozen=True)
class Plan:
    """A mapping of a GEMM layer, seen per role (row, col, time).

    `bounds`, `fold`, `glb`, `dram` hold one value per role;
    `glb_order` / `dram_order` list role indices, outermost first.
    """

    dataflow: str
    bounds: tuple[int, int, int]
    fold: tuple[int, int, int]
    glb: tuple[int, int, int]
    dram: tuple[int, int, int]
    glb_order: tuple[int, int, int]
    dram_order: tuple[int, int, int]

    @property
    def dims(self) -> tuple[str, str, str]:
        """GEMM dim names of the roles (row, col, time)."""
        return ROLE_DIMS[self.dataflow]

    @property
    def k_role(self) -> int:
        """Role index of the reduction dim K."""
        return self.dims.index("K")

    def tiles_along(self, role: int) -> list[tuple[int, int]]:
        """Non-empty glb tiles along a role: (element base, extent)."""
        span = self.glb[role] * self.fold[role]
        out = []
        for i in range(self.dram[role]):
            base = i * span
            if base < self.bounds[role]:
                out.append((base, min(span, self.bounds[role] - base)))
        return out

    def tiles(self) -> Iterator[Tile]:
        """Non-empty glb tiles in the dram-level loop order."""
        along = [self.tiles_along(r) for r in range(3)]
        for idx in product(*(range(len(along[r])) for r in self.dram_order)):
            ix = [0, 0, 0]
            for r, i in zip(self.dram_order, idx):
                ix[r] = i
            yield Tile(tuple(ix), tuple(along[r][ix[r]][0] for r in range(3)),
                       tuple(along[r][ix[r]][1] for r in range(3)))

    def fold_in(self, extent: tuple[int, int, int]) -> tuple[int, int, int]:
        """Fold sizes as the controller is configured for a tile: capped at the tile extent
        (a pe factor beyond the extent is the same single fold)."""
        return tuple(min(f, e) for f, e in zip(self.fold, extent))

    def folds_in(self, extent: tuple[int, int, int]) -> tuple[int, int, int]:
        """Folds per role inside a glb tile of this extent."""
        return tuple(-(-e // f) for e, f in zip(extent, self.fold))

    def fold_extents(self, tile: Tile) -> Iterator[tuple[int, int, int]]:
        """(used_rows, used_cols, t) of each fold of a tile, in the glb-level loop order."""
        n = self.folds_in(tile.extent)
        for idx in product(*(range(n[r]) for r in self.glb_order)):
            ix = [0, 0, 0]
            for r, i in zip(self.glb_order, idx):
                ix[r] = i
            yield tuple(min(self.fold[r], tile.extent[r] - ix[r] * self.fold[r]) for r in range(3))


def fold_sizes(arch: SystolicArch, mapping: Mapping) -> tuple[int, int, int]:
    """Fold size per role (rows factor, cols factor, pe factor), validated for the RTL."""
    dims = ROLE_DIMS[arch.dataflow]
    out = []
    for role, level in enumerate(("rows", "cols", "pe")):
        for d in ("M", "N", "K"):
            if d != dims[role] and mapping.factor(level, d) > 1:
                raise RtlError(f"mapping {mapping.oneline()}: the {arch.dataflow} RTL puts only {dims[role]} "
                               f"on the {level} level, not {d}")
        out.append(mapping.factor(level, dims[role]))
    if out[ROW] > arch.rows or out[COL] > arch.cols:
        raise RtlError(f"mapping {mapping.oneline()}: needs {out[ROW]}x{out[COL]} PEs, "
                       f"the array has {arch.rows}x{arch.cols}")
    return tuple(out)


def make_plan(arch: SystolicArch, layer: Layer, mapping: Mapping) -> Plan:
    """The role view of a GEMM layer's mapping; raises RtlError if the RTL cannot run it."""
    if set(layer.dim_names) != {"M", "N", "K"} or any(layer.role(d) != d.lower() for d in ("M", "N", "K")):
        raise RtlError(f"layer {layer.name!r} ({layer.op}) is not a GEMM over M, N, K; "
                       "run its im2col GEMM view (Layer.gemm_view()) instead")
    if tuple(mapping.dims) != layer.dim_names or tuple(mapping.bounds) != tuple(b for _, b in layer.dims):
        raise RtlError(f"mapping of {mapping.layer!r} does not match layer {layer.name!r} {layer.describe()}")
    dims = ROLE_DIMS[arch.dataflow]
    fold = fold_sizes(arch, mapping)
    order = lambda lvl: tuple(dims.index(d) for d in mapping.order[("dram", "glb", "pe").index(lvl)])  # noqa: E731
    return Plan(arch.dataflow, tuple(layer.bounds[d] for d in dims), fold,
                tuple(mapping.factor("glb", d) for d in dims), tuple(mapping.factor("dram", d) for d in dims),
                order("glb"), order("dram"))


def model_cycles(arch: SystolicArch, layer: Layer, mapping: Mapping, ports: bool = True) -> int:
    """Cycles of the ``rtl`` timing mode, straight from the mapping (closed form): compute
    plus, with `ports`, the port pacing's stalls (`pacing.array_port_stalls`; none at the
    default widths), what the RTL's cycle counter shows.

    ``per_layer + tile_const*glb_tiles + sum over folds (fold_const + per_used_rows*used_rows
    + per_used_cols*used_cols + per_t*max(t, t_floor))`` with the coefficients of
    `codesign.families.systolic.timing.fold_timing("rtl", dataflow)`. The sums over
    folds are closed forms: the folds are every combination of a row, a col and a
    time fold, so e.g. ``sum used_rows = B_row * folds_col * folds_time`` and the
    floored ``t`` sums over the time folds only, times the row and col fold counts.
    """
    plan = make_plan(arch, layer, mapping)
    ft = fold_timing("rtl", arch.dataflow)
    tiles = [len(plan.tiles_along(r)) for r in range(3)]
    folds = [sum(-(-e // plan.fold[r]) for _, e in plan.tiles_along(r)) for r in range(3)]
    n_folds = math.prod(folds)
    used = [plan.bounds[r] * n_folds // folds[r] for r in range(3)]
    floor = ft.t_floor(arch.rows)
    t_sum = sum(max(min(plan.fold[TIME], e - k * plan.fold[TIME]), floor)
                for _, e in plan.tiles_along(TIME) for k in range(-(-e // plan.fold[TIME])))
    stall = array_port_stalls(rtl_pacing(arch), arch.rows, arch.cols, arch.dataflow != "os",
                              folds[ROW] * folds[COL] * t_sum, used[TIME], n_folds, math.prod(tiles)) if ports else 0
    return int(ft.total(arch.rows, arch.cols, n_folds, used[ROW], used[COL], folds[ROW] * folds[COL] * t_sum,
                        math.prod(tiles)) + stall)


def tile_model_cycles(arch: SystolicArch, plan: Plan) -> list[int]:
    """The ``rtl`` timing per glb tile, fold by fold, with the port pacing's stalls
    (what the RTL's counter shows per tile)."""
    ft = fold_timing("rtl", arch.dataflow)
    R, C, ks = arch.rows, arch.cols, rtl_pacing(arch)
    out = []
    for tile in plan.tiles():
        folds = list(plan.fold_extents(tile))
        stall = array_port_stalls(ks, R, C, arch.dataflow != "os", sum(max(t, R) for _, _, t in folds),
                                  sum(t for _, _, t in folds), len(folds), 1)
        out.append(int(ft.tile_const(R, C) + sum(ft.fold_cycles(R, C, r, c, t) for r, c, t in folds) + stall))
    out[0] += ft.per_layer
    return out
