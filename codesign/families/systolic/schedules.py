"""Fixed schedules of other tools as mappings (``mapping: scalesim`` in YAML).

SCALE-Sim 3.0.0 runs a layer as its im2col GEMM (M = N*P*Q output pixels,
N = output channels, K = C*R*S) with the array's two dims unrolled in full
and the third streamed whole: os puts M on rows, N on cols and streams K;
ws K on rows, N on cols, streams M; is K on rows, M on cols, streams N.
Folds run over the two spatial dims (``ceil(Sr/R) * ceil(Sc/C)``), with
no dram tiling (its SRAMs are sized to hold the layer or stream it).

`scalesim_mapping` builds that schedule: a conv's output pixels flattened
into M (`flat`), so a fold of rows may span output rows as SCALE-Sim's
does. A role with several live dims on one side of the array (a conv's
C, R, S on the rows under ws and is) is filled greedily in layer order:
``C`` up to the side, then ``R`` with what is left, and so on. That equals
SCALE-Sim's ``ceil(C*R*S / side)`` folds when the side divides C or
``C*R*S`` fits the side, but not in general (C = 3, 7x7 kernel on 32 rows:
7 folds here, 5 there); its RTL peers have the same limit.
"""
from __future__ import annotations

import math

from .arch import SystolicArch
from .dataflow import ROLES_ON
from .flat import flat_layer
from .mapping import Mapping
from ...workload import Layer

__all__ = ["scalesim_mapping", "SCHEDULES"]

#: the names ``mapping:`` accepts for a whole-network schedule
SCHEDULES = ("scalesim",)


def scalesim_mapping(layer: Layer, arch: SystolicArch) -> Mapping:
    """SCALE-Sim's schedule of `layer` on `arch` (module docstring)."""
    flat = flat_layer(layer)
    L = flat or layer
    rows_role, cols_role, t_role = ROLES_ON[arch.dataflow]
    lv = {"rows": {}, "cols": {}, "pe": {}, "glb": {}}
    for role, lvl, side in ((rows_role, "rows", arch.rows), (cols_role, "cols", arch.cols), (t_role, "pe", None)):
        left = side
        for d, b in L.dims:
            if L.role(d) != role or b == 1:
                continue
            tile = b if side is None else max(1, min(b, left))
            lv[lvl][d] = tile
            if side is not None:
                left = max(1, left // tile)
                lv["glb"][d] = math.ceil(b / tile)
    return Mapping.build(L, **lv)
