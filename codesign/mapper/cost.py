"""The vectorized cost model: N mappings of one layer on one architecture.

Everything is computed on numpy arrays over the batch; there is no Python
loop per mapping (the loops below run over tensors, dims and levels).

Traffic (the reuse rule of DESIGN.md, as Timeloop and ZigZag use it). For a
tensor and a boundary between a level and its child, the tile held below
the boundary is re-fetched once per iteration of the loops above it, except
the loops over dims the tensor does not use that sit (in the flattened
loop order, outermost first) inside the innermost loop over a dim it does
use: those reuse it. Ragged tiles are counted exactly: along a dim the
tiles are full except the last one. A conv input axis ``p*stride +
r*dilation`` touches exactly ``X*Y - max(X - d/g, 0) * max(Y - s/g, 0)``
rows for a tile of X output rows and Y kernel rows (g = gcd(s, d)), the
count `codesign.workload.Axis.extent` gives; sliding-window (halo) reuse between consecutive tiles
is not modelled (each tile is fetched whole, halo included).

Counting conventions (chosen to agree with Timeloop v3, see
tests/test_timeloop.py and README "Validation"):
- the stationary operand is kept in the PE registers: filled from the
  glb/acc per the reuse rule, read once per MAC (outputs: updated once per
  MAC, read once per MAC except the first visit of each output);
- the two streamed operands bypass the PE registers: they are read from the
  on-chip buffer once per element entering the array edge per cycle, i.e.
  spatial multicast counts once and there is no temporal reuse (no storage);
  streamed outputs (ws, is) leave the array already reduced over the rows;
- outputs re-read as partial sums: the parent pays ``updates - |Z|`` reads
  (the first visit of each output starts from zero); draining a tile to the
  parent costs an update at the parent and no read at the child.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from ..hw_models.systolic import ROLES_ON, SystolicArch, tech_of
from ..workload import TENSORS, Layer
from .mapping import LEVELS, Mapping, MappingBatch
from .timing import fold_timing

__all__ = ["Costs", "evaluate", "evaluate_mapping", "INFEASIBLE", "ENERGY_PARTS"]

F_DRAM, F_GLB, F_ROWS, F_COLS, F_PE = range(len(LEVELS))
T_DRAM, T_GLB, T_PE = range(3)          # temporal levels in MappingBatch.rank
ENERGY_PARTS = ("mac", "pe_reg", "array", "glb", "acc", "dram")

#: reasons a mapping is infeasible, in the order they are checked
INFEASIBLE = ("ok", "tiling", "rows", "cols", "dataflow", "pe_reg", "glb", "acc")


@dataclass(frozen=True)
class Costs:
    """Per-mapping results (arrays of length N) of one layer.

    `accesses[(memory, tensor, kind)]` with kind in reads/fills/updates.
    `infeasible` holds an index into `INFEASIBLE` (0 = feasible).
    """

    macs: int
    compute_cycles: np.ndarray
    stall_cycles: np.ndarray
    latency_cycles: np.ndarray
    energy_pj: np.ndarray
    energy_parts_pj: dict[str, np.ndarray]
    utilization: np.ndarray
    mapping_efficiency: np.ndarray
    dram_bytes: np.ndarray
    accesses: dict[tuple[str, str, str], np.ndarray]
    infeasible: np.ndarray
    glb_bytes_used: np.ndarray
    acc_bytes_used: np.ndarray
    folds: np.ndarray = field(repr=False)

    @property
    def feasible(self) -> np.ndarray:
        return self.infeasible == 0

    @property
    def edp(self) -> np.ndarray:
        return self.energy_pj * self.latency_cycles

    def row(self, i: int) -> dict:
        """Scalars of mapping `i` as a flat dict (the JSON/DataFrame shape)."""
        out = {"macs": self.macs}
        for k in ("compute_cycles", "stall_cycles", "latency_cycles", "energy_pj", "utilization",
                  "mapping_efficiency", "dram_bytes", "glb_bytes_used", "acc_bytes_used", "folds"):
            v = getattr(self, k)[i]
            out[k] = v.item() if hasattr(v, "item") else v
        out.update({f"energy_{p}_pj": float(v[i]) for p, v in self.energy_parts_pj.items()})
        out.update({f"{m}_{t}_{k}": int(v[i]) for (m, t, k), v in self.accesses.items()})
        out["infeasible"] = INFEASIBLE[int(self.infeasible[i])]
        return out


@dataclass(frozen=True)
class _LayerInfo:
    bounds: np.ndarray
    rel: dict[str, np.ndarray]                    # tensor -> (D,) bool
    axes: dict[str, tuple[tuple[tuple[int, int], ...], ...]]
    size: dict[str, int]
    bits: dict[str, int]
    roles: tuple[str, ...]


@lru_cache(maxsize=4096)
def _info(layer: Layer) -> _LayerInfo:
    idx = {d: i for i, d in enumerate(layer.dim_names)}
    rel = {t.name: np.array([d in t.dims for d in layer.dim_names]) for t in layer.tensors}
    axes = {t.name: tuple(tuple((idx[d], c) for d, c in a.terms) for a in t.axes) for t in layer.tensors}
    return _LayerInfo(np.array([b for _, b in layer.dims], dtype=np.int64), rel, axes,
                      {t: layer.footprint(t) for t in TENSORS}, {t.name: t.bits for t in layer.tensors},
                      tuple(layer.role(d) for d in layer.dim_names))


def _cdiv(a, b):
    return -(-a // b)


def _ext2(c1, c2, x, y):
    """Distinct values of c1*i + c2*j for i < x, j < y (x, y >= 1; arrays)."""
    g = math.gcd(c1, c2)
    return x * y - np.maximum(x - c2 // g, 0) * np.maximum(y - c1 // g, 0)


def _axis_sum(axis, bounds, tile):
    """Sum over all tiles (full and ragged) of this axis's extent; (N,)."""
    if len(axis) == 1:
        return np.full(tile.shape[0], bounds[axis[0][0]], dtype=np.int64)
    if len(axis) != 2:
        raise NotImplementedError("tensor axes of more than two dims")
    (d1, c1), (d2, c2) = axis
    total = 0
    combos = []
    for d in (d1, d2):
        x = np.minimum(tile[:, d], bounds[d])
        r = bounds[d] % x
        combos.append(((x, bounds[d] // x), (np.maximum(r, 1), (r > 0).astype(np.int64))))
    for a, na in combos[0]:
        for b, nb in combos[1]:
            total = total + na * nb * _ext2(c1, c2, a, b)
    return total


def _footprint(axes, tile):
    """Elements of a full (unragged) tile; tile (N, D) already capped."""
    out = 1
    for axis in axes:
        if len(axis) == 1:
            out = out * tile[:, axis[0][0]]
        else:
            (d1, c1), (d2, c2) = axis
            out = out * _ext2(c1, c2, tile[:, d1], tile[:, d2])
    return out


def _traffic(info, tensor, F, pos, cut, exempt, inner):
    """Elements of `tensor` moved across the boundary below temporal level `cut`.

    `inner`: F-level indices making up the child's tile. With `exempt`, loops
    after the innermost relevant loop (above the boundary) reuse the tile.
    """
    rel = info.rel[tensor]
    bounds = info.bounds
    tile = np.prod(F[:, inner, :], axis=1)
    flevels = [F_DRAM, F_GLB, F_PE][: cut + 1]
    f_above = F[:, flevels, :]                                   # (N, L, D)
    if exempt:
        active = (f_above > 1) & rel[None, None, :]
        p_star = np.where(active, pos[:, : cut + 1, :], -1).max(axis=(1, 2))
        after = pos[:, : cut + 1, :] > p_star[:, None, None]
        ex = np.prod(np.where(after, f_above, 1), axis=1)       # (N, D)
    else:
        ex = 1
    reach = np.minimum(tile * ex, bounds)
    n_irr = np.prod(np.where(rel[None, :], 1, _cdiv(bounds, reach)), axis=1)
    total = n_irr
    for axis in info.axes[tensor]:
        total = total * _axis_sum(axis, bounds, tile)
    return total


def _level_sum(F, lvl, bounds, x, n):
    """Per dim, the sum over array folds of the fold's extent at level `lvl`
    (rows, cols or pe); (N, D). Within a fold, rows/cols are outside pe, so
    the ragged last fold of a dim split over both keeps the full pe length
    on its longest PE and fewer rows."""
    f = F[:, lvl, :]
    last = bounds[None, :] - (n - 1) * x
    last_lvl = np.minimum(f, last) if lvl == F_PE else _cdiv(last, F[:, F_PE, :])
    return np.where(f > 1, (n - 1) * f + np.minimum(last_lvl, f), n)


_SHARED = ("dataflow", "timing", "tech", "op_bits", "acc_bits", "double_buffered", "family")
_VARYING = ("rows", "cols", "pe_reg_words", "glb_bytes", "acc_bytes", "dram_bw_bytes")


@dataclass(frozen=True)
class _ArchView:
    """Architecture parameters as scalars, or as (N,) arrays for one arch per mapping."""

    base: SystolicArch
    rows: np.ndarray | int
    cols: np.ndarray | int
    pe_reg_words: np.ndarray | int
    glb_bytes: np.ndarray | float
    acc_bytes: np.ndarray | float
    dram_bw_bytes: np.ndarray | float

    @classmethod
    def of(cls, arch, n: int) -> "_ArchView":
        if isinstance(arch, SystolicArch):
            return cls(arch, *(getattr(arch, k) for k in _VARYING))
        archs = list(arch)
        if len(archs) != n:
            raise ValueError(f"{len(archs)} architectures for {n} mappings")
        a0 = archs[0]
        for a in archs:
            for k in _SHARED:
                if getattr(a, k) != getattr(a0, k):
                    raise ValueError(f"architectures in one batch must share {k}")
            if (a.acc_kib > 0) != (a0.acc_kib > 0):
                raise ValueError("architectures in one batch must all have, or all lack, an accumulator")
        return cls(a0, *(np.array([getattr(a, k) for a in archs]) for k in _VARYING))

    @property
    def pes(self):
        return self.rows * self.cols


def evaluate(layer: Layer, arch: SystolicArch | list[SystolicArch], batch: MappingBatch, *,
             check_dataflow: bool = True) -> Costs:
    """Cost of every mapping in `batch` of `layer` on `arch` (see module docstring).

    `arch` is one architecture, or one per mapping (a list of length N that
    shares dataflow, timing, tech, bit widths and buffering: a sweep's
    batch of trials evaluated in one call).

    With `check_dataflow`, mappings whose unrolling or streamed dims do not
    match the systolic dataflow are marked infeasible (reason ``dataflow``);
    turn it off to evaluate arbitrary loop nests (e.g. Timeloop's).
    """
    info = _info(layer)
    F = batch.factors
    N, _, D = F.shape
    av = _ArchView.of(arch, N)
    arch = av.base
    tech = tech_of(arch)
    bounds = info.bounds
    pos = batch.rank + (np.arange(3) * D)[None, :, None]
    macs = layer.macs
    st = arch.stationary

    # ---- traffic ---------------------------------------------------------
    T0 = {t: _traffic(info, t, F, pos, T_DRAM, True, [F_GLB, F_ROWS, F_COLS, F_PE]) for t in TENSORS}
    T1 = {t: (_traffic(info, t, F, pos, T_GLB, True, [F_ROWS, F_COLS, F_PE]) if t == st
              else _traffic(info, t, F, pos, T_PE, False, [F_ROWS, F_COLS])) for t in TENSORS}
    zsize = info.size["outputs"]
    out_mem = "acc" if arch.acc_kib > 0 else "glb"
    acc: dict[tuple[str, str, str], np.ndarray] = {}
    for t in ("inputs", "weights"):
        acc[("dram", t, "reads")] = T0[t]
        acc[("glb", t, "fills")] = T0[t]
        acc[("glb", t, "reads")] = T1[t]
    acc[("dram", "outputs", "reads")] = T0["outputs"] - zsize
    acc[("dram", "outputs", "updates")] = T0["outputs"]
    acc[(out_mem, "outputs", "fills")] = T0["outputs"] - zsize
    acc[(out_mem, "outputs", "updates")] = T1["outputs"]
    acc[(out_mem, "outputs", "reads")] = T1["outputs"] - zsize
    acc[("pe_reg", st, "fills")] = T1[st] - (zsize if st == "outputs" else 0)
    if st == "outputs":
        acc[("pe_reg", st, "updates")] = np.full(N, macs, dtype=np.int64)
        acc[("pe_reg", st, "reads")] = np.full(N, macs - zsize, dtype=np.int64)
    else:
        acc[("pe_reg", st, "reads")] = np.full(N, macs, dtype=np.int64)

    # ---- energy ----------------------------------------------------------
    bits = info.bits
    word = {"inputs": arch.op_bits, "weights": arch.op_bits, "outputs": arch.acc_bits}
    e = {p: np.zeros(N) for p in ENERGY_PARTS}
    e["mac"] += macs * tech.mac_pj(arch.op_bits, arch.acc_bits)
    for (mem, t, _), v in acc.items():
        if mem == "dram":
            e["dram"] += v * tech.dram_pj(bits[t])
        elif mem == "glb":
            e["glb"] += v * tech.sram_pj(av.glb_bytes, bits[t], "glb")
        elif mem == "acc":
            e["acc"] += v * tech.sram_pj(av.acc_bytes, bits[t], "acc")
        else:
            e["pe_reg"] += v * tech.reg_pj(word[t])
    for t in TENSORS:   # each streamed operand hops one PE per MAC
        if t != st:
            e["array"] += macs * tech.forward_pj(word[t])
    energy = sum(e.values())
    dram_bytes = sum(v * bits[t] for (m, t, _), v in acc.items() if m == "dram") / 8
    dram_read_bytes = sum(v * bits[t] for (m, t, k), v in acc.items() if m == "dram" and k == "reads") / 8

    # ---- compute timing ---------------------------------------------------
    x_arr = np.prod(F[:, [F_ROWS, F_COLS, F_PE], :], axis=1)
    n_arr = _cdiv(bounds[None, :], np.minimum(x_arr, bounds[None, :]))
    folds = np.prod(n_arr, axis=1)
    lr, lc, lp = (_level_sum(F, lvl, bounds, np.minimum(x_arr, bounds[None, :]), n_arr)
                  for lvl in (F_ROWS, F_COLS, F_PE))
    sum_ur, sum_uc, sum_t = lr.prod(axis=1), lc.prod(axis=1), lp.prod(axis=1)
    sum_urc = np.where(F[:, F_ROWS, :] > 1, lr, lc).prod(axis=1)   # a dim on rows and cols: not systolic
    glb_tile = np.minimum(np.prod(F[:, F_GLB:, :], axis=1), bounds[None, :])
    glb_tiles = np.prod(_cdiv(bounds[None, :], glb_tile), axis=1)
    ft = fold_timing(arch.timing, arch.dataflow)
    compute = (ft.per_layer + ft.per_glb_tile * glb_tiles
               + folds * (ft.per_fold + ft.per_rows * av.rows + ft.per_cols * av.cols)
               + ft.per_used_rows * sum_ur + ft.per_used_cols * sum_uc + ft.per_t * sum_t)
    if arch.timing == "scalesim" and arch.dataflow == "os":
        # SCALE-Sim's os ofmap write count adds R + C per fold (a double count in
        # its code, see shared/reference/README.md); reported, not charged energy
        acc[(out_mem, "outputs", "updates")] = acc[(out_mem, "outputs", "updates")] + folds * (av.rows + av.cols)

    # ---- latency with DRAM bandwidth --------------------------------------
    fp = {t: _footprint(info.axes[t], glb_tile) for t in TENSORS}
    glb_used = sum(fp[t] * bits[t] for t in TENSORS if t in _kept(arch, "glb")) / 8
    acc_used = fp["outputs"] * bits["outputs"] / 8 if arch.acc_kib > 0 else np.zeros(N)
    bw = av.dram_bw_bytes
    if arch.timing == "scalesim":           # SCALE-Sim's CALC mode: no stalls
        latency = compute.astype(np.float64)
    elif arch.timing == "ideal":            # Timeloop: reads and writes limited separately
        latency = np.maximum(compute, np.maximum(dram_read_bytes, dram_bytes - dram_read_bytes) / bw)
    else:
        transfer = dram_bytes / bw
        if arch.double_buffered:
            first = (fp["inputs"] * bits["inputs"] + fp["weights"] * bits["weights"]) / 8 / bw
            last = fp["outputs"] * bits["outputs"] / 8 / bw
            latency = first + np.maximum(compute, np.maximum(transfer - first - last, 0)) + last
        else:
            latency = compute + transfer
    latency = np.ceil(latency).astype(np.int64)

    # ---- feasibility ------------------------------------------------------
    reason = np.zeros(N, dtype=np.int8)
    pe_fp = _footprint(info.axes[st], np.minimum(F[:, F_PE, :], bounds[None, :]))
    glb_cap = av.glb_bytes / (2 if arch.double_buffered else 1)
    acc_cap = av.acc_bytes / (2 if arch.double_buffered else 1)
    # the glb factor must divide the number of array tiles (see mapping.py):
    # otherwise some iterations are empty and the closed forms do not hold
    checks = [
        ("tiling", ((n_arr % F[:, F_GLB, :]) != 0).any(axis=1)
         | (F[:, F_DRAM, :] * F[:, F_GLB, :] != n_arr).any(axis=1)),
        ("rows", np.prod(F[:, F_ROWS, :], axis=1) > av.rows),
        ("cols", np.prod(F[:, F_COLS, :], axis=1) > av.cols),
        ("dataflow", _dataflow_violations(info, arch, F) if check_dataflow else np.zeros(N, bool)),
        ("pe_reg", pe_fp > av.pe_reg_words),
        ("glb", glb_used > glb_cap),
        ("acc", (acc_used > acc_cap) if arch.acc_kib > 0 else np.zeros(N, bool)),
    ]
    for name, bad in reversed(checks):
        reason[bad] = INFEASIBLE.index(name)

    return Costs(
        macs=macs, compute_cycles=compute.astype(np.int64), stall_cycles=latency - compute,
        latency_cycles=latency, energy_pj=energy, energy_parts_pj=e,
        utilization=macs / (latency * av.pes), mapping_efficiency=sum_urc / (folds * av.pes),
        dram_bytes=dram_bytes, accesses=acc, infeasible=reason, glb_bytes_used=glb_used,
        acc_bytes_used=acc_used, folds=folds)


def _kept(arch: SystolicArch, mem: str) -> frozenset[str]:
    for m in arch.memories:
        if m.name == mem:
            return m.tensors
    return frozenset()


def _dataflow_violations(info: _LayerInfo, arch: SystolicArch, F: np.ndarray) -> np.ndarray:
    on_r, on_c, on_t = ROLES_ON[arch.dataflow]
    roles = np.array(info.roles)
    bad = np.zeros(F.shape[0], bool)
    for lvl, role in ((F_ROWS, on_r), (F_COLS, on_c), (F_PE, on_t)):
        bad |= ((F[:, lvl, :] > 1) & (roles != role)[None, :]).any(axis=1)
    # a dim lives in one place in the array: on rows, on cols or streamed
    bad |= ((F[:, [F_ROWS, F_COLS, F_PE], :] > 1).sum(axis=1) > 1).any(axis=1)
    return bad


def evaluate_mapping(layer: Layer, arch: SystolicArch, mapping: Mapping, **kw) -> dict:
    """Cost of a single mapping as a flat dict of scalars (see `Costs.row`)."""
    return evaluate(layer, arch, MappingBatch.from_mappings([mapping]), **kw).row(0)
