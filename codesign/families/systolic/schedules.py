"""Fixed schedules of other tools as mappings (``mapping: scalesim`` in YAML).

SCALE-Sim 3.0.0 runs a layer as its im2col GEMM (M = N*P*Q output pixels,
N = output channels, K = C*R*S) with the array's two dims unrolled in full
and the third streamed whole: os puts M on rows, N on cols and streams K;
ws K on rows, N on cols, streams M; is K on rows, M on cols, streams N.
Folds run over the two spatial dims (``ceil(Sr/R) * ceil(Sc/C)``), with
no dram tiling (its SRAMs are sized to hold the layer or stream it).

`scalesim_mapping` builds that schedule: a conv's output pixels flattened
into M (`flat.flat_layer`), so a fold of rows may span output rows as
SCALE-Sim's does, and C, R, S (ws and is rows) filled greedily in layer
order, C up to the side, then R with what is left. When that does not give
SCALE-Sim's ``ceil(C*R*S / side)`` folds (C = 3 and a 7x7 kernel on 32
rows: 7 folds, not 5) the layer runs as its whole im2col GEMM
(`flat.im2col_layer`, kernel taps flattened too), whose kept input tiles
are counted by enumeration (slower, exact).
"""
from __future__ import annotations

import math

from .arch import SystolicArch
from .dataflow import ROLES_ON
from .flat import flat_layer, im2col_layer
from .mapping import Mapping
from ...workload import Layer

__all__ = ["scalesim_mapping", "SCHEDULES"]

#: the names ``mapping:`` accepts for a whole-network schedule
SCHEDULES = ("scalesim",)


def scalesim_mapping(layer: Layer, arch: SystolicArch) -> Mapping:
    """SCALE-Sim's schedule of `layer` on `arch` (module docstring)."""
    L = flat_layer(layer) or layer
    lv, exact = _greedy(L, arch)
    if not exact:                     # C, R, S on one side: only the whole im2col GEMM folds as SCALE-Sim
        L = im2col_layer(layer)
        lv, _ = _greedy(L, arch)
    return Mapping.build(L, **lv)


def _greedy(L: Layer, arch: SystolicArch) -> tuple[dict, bool]:
    """Per-level factors of the schedule on `L`, and whether its folds per
    side are SCALE-Sim's ``ceil(product of the role's bounds / side)``."""
    rows_role, cols_role, t_role = ROLES_ON[arch.dataflow]
    lv = {"rows": {}, "cols": {}, "pe": {}, "glb": {}}
    exact = True
    for role, lvl, side in ((rows_role, "rows", arch.rows), (cols_role, "cols", arch.cols), (t_role, "pe", None)):
        left, folds, size = side, 1, 1
        for d, b in L.dims:
            if L.role(d) != role or b == 1:
                continue
            tile = b if side is None else max(1, min(b, left))
            lv[lvl][d] = tile
            if side is not None:
                left = max(1, left // tile)
                lv["glb"][d] = math.ceil(b / tile)
                folds, size = folds * lv["glb"][d], size * b
        exact &= side is None or folds == math.ceil(size / side)
    return lv, exact
