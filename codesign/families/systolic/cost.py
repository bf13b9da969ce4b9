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

from .arch import SystolicArch, tech_of
from .dataflow import ARRAY_LEVELS, ROLES_ON
from ...workload import TENSORS, Layer
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

    def scalars(self, i: int) -> dict:
        """The figures of mapping `i` (no energy parts, no access counts), as Python scalars."""
        out = {"macs": self.macs}
        for k in ("compute_cycles", "stall_cycles", "latency_cycles", "energy_pj", "utilization",
                  "mapping_efficiency", "dram_bytes", "glb_bytes_used", "acc_bytes_used", "folds"):
            v = getattr(self, k)[i]
            out[k] = v.item() if hasattr(v, "item") else v
        return out

    def parts_pj(self, i: int) -> dict[str, float]:
        """Energy of mapping `i` per part (`ENERGY_PARTS`)."""
        return {p: float(v[i]) for p, v in self.energy_parts_pj.items()}

    def access_counts(self, i: int) -> dict[str, int]:
        """Accesses of mapping `i` as ``<memory>_<tensor>_<kind>`` counts (the JSON names)."""
        return {f"{m}_{t}_{k}": int(v[i]) for (m, t, k), v in self.accesses.items()}

    def row(self, i: int) -> dict:
        """Scalars of mapping `i` as a flat dict (the JSON/DataFrame edge: ``energy_<part>_pj``
        and ``<memory>_<tensor>_<kind>`` keys are built here and never parsed back)."""
        out = self.scalars(i)
        out.update({f"energy_{p}_pj": v for p, v in self.parts_pj(i).items()})
        out.update(self.access_counts(i))
        out["infeasible"] = INFEASIBLE[int(self.infeasible[i])]
        return out


@dataclass(frozen=True)
class _LayerInfo:
    bounds: np.ndarray                            # (D,)
    rel: dict[str, np.ndarray]                    # tensor -> (D,) bool
    axes2: dict[str, tuple]                       # tensor -> two-dim axes ((d1, c1), (d2, c2))
    const: dict[str, int]                         # tensor -> product of its one-dim axes' bounds
    size: dict[str, int]
    bits: dict[str, int]
    roles: tuple[str, ...]


@lru_cache(maxsize=4096)
def _info(layer: Layer) -> _LayerInfo:
    idx = {d: i for i, d in enumerate(layer.dim_names)}
    bounds = np.array([b for _, b in layer.dims], dtype=np.int64)
    rel, axes2, const = {}, {}, {}
    for t in layer.tensors:
        rel[t.name] = np.array([d in t.dims for d in layer.dim_names])
        # an axis over one live dim (e.g. G*Cg + C with one group) sums to that dim's bound
        live = [tuple((idx[d], c) for d, c in a.terms if bounds[idx[d]] > 1) for a in t.axes]
        axes2[t.name] = tuple(a for a in live if len(a) == 2)
        const[t.name] = math.prod(int(bounds[a[0][0]]) for a in live if len(a) == 1)
    return _LayerInfo(bounds, rel, axes2, const, {t: layer.footprint(t) for t in TENSORS},
                      {t.name: t.bits for t in layer.tensors}, tuple(layer.role(d) for d in layer.dim_names))


def _cdiv(a, b):
    return -(-a // b)


def _ext2(c1, c2, x, y):
    """Distinct values of c1*i + c2*j for i < x, j < y (x, y >= 1; arrays)."""
    g = math.gcd(c1, c2)
    return x * y - np.maximum(x - c2 // g, 0) * np.maximum(y - c1 // g, 0)


def _axis_sum(axis, bounds, tile):
    """Sum over all tiles (full and the ragged last) of a two-dim axis's extent; (N,)."""
    (d1, c1), (d2, c2) = axis
    combos = []
    for d in (d1, d2):
        x = np.minimum(tile[d], bounds[d])
        r = bounds[d] % x
        combos.append(((x, bounds[d] // x), (np.maximum(r, 1), r > 0)))
    total = 0
    for a, na in combos[0]:
        for b, nb in combos[1]:
            total = total + na * nb * _ext2(c1, c2, a, b)
    return total


def _footprint(info, tensor, tile):
    """Elements of one full tile of `tensor`; tile (D, N) already capped."""
    out = np.ones(tile.shape[1], dtype=np.int64)
    paired = {d for (d1, _), (d2, _) in info.axes2[tensor] for d in (d1, d2)}
    for j in np.flatnonzero(info.rel[tensor] & (info.bounds > 1)):
        if j not in paired:
            out = out * tile[j]
    for (d1, c1), (d2, c2) in info.axes2[tensor]:
        out = out * _ext2(c1, c2, tile[d1], tile[d2])
    return out


def _traffic(info, tensor, Ft, posm, pos, tile, cut, exempt):
    """Elements of `tensor` moved across the boundary below temporal level `cut`.

    Arrays are dim-major: Ft (3, D, N) temporal factors, posm/pos (3, D, N)
    flattened loop positions (posm: -1 where the factor is 1), tile (D, N)
    the child's tile. With `exempt`, loops after the innermost loop over a
    dim the tensor uses (above the boundary) reuse the tile.
    """
    bounds = info.bounds
    live = bounds > 1
    rel = info.rel[tensor] & live
    irr = np.flatnonzero(~info.rel[tensor] & live)
    total = np.full(tile.shape[1], info.const[tensor], dtype=np.int64)
    if len(irr):
        reach = tile[irr]
        if exempt:
            ri = np.flatnonzero(rel)
            p_star = posm[: cut + 1][:, ri].max(axis=(0, 1)) if len(ri) else np.full(tile.shape[1], -1)
            for l in range(cut + 1):
                reach = reach * np.where(pos[l, irr] > p_star, Ft[l, irr], 1)
        reach = np.minimum(reach, bounds[irr, None])
        total = total * np.prod(_cdiv(bounds[irr, None], reach), axis=0)
    for axis in info.axes2[tensor]:
        total = total * _axis_sum(axis, bounds, tile)
    return total


def _level_sum(F, lvl, bounds, x, n):
    """Per dim, the sum over array folds of the fold's extent at level `lvl`
    (rows, cols or pe); (D, N). Within a fold, rows/cols are outside pe, so
    the ragged last fold of a dim split over both keeps the full pe length
    on its longest PE and fewer rows."""
    f = F[lvl]
    last = bounds[:, None] - (n - 1) * x
    last_lvl = np.minimum(f, last) if lvl == F_PE else _cdiv(last, F[F_PE])
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


#: mappings per internal chunk: keeps the working set of a chunk in cache
CHUNK = 16384


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
    N = len(batch)
    av = _ArchView.of(arch, N)
    if N <= CHUNK:
        return _evaluate(layer, av, batch.factors, batch.rank, check_dataflow)
    parts = []
    for s in range(0, N, CHUNK):
        sl = slice(s, s + CHUNK)
        sub = _ArchView(av.base, *(v[sl] if isinstance(v, np.ndarray) else v
                                   for v in (getattr(av, k) for k in _VARYING)))
        parts.append(_evaluate(layer, sub, batch.factors[sl], batch.rank[sl], check_dataflow))
    return _concat(parts)


def _concat(parts: list[Costs]) -> Costs:
    cat = np.concatenate
    return Costs(
        macs=parts[0].macs,
        **{k: cat([getattr(p, k) for p in parts]) for k in (
            "compute_cycles", "stall_cycles", "latency_cycles", "energy_pj", "utilization",
            "mapping_efficiency", "dram_bytes", "infeasible", "glb_bytes_used", "acc_bytes_used", "folds")},
        energy_parts_pj={k: cat([p.energy_parts_pj[k] for p in parts]) for k in parts[0].energy_parts_pj},
        accesses={k: cat([p.accesses[k] for p in parts]) for k in parts[0].accesses})


def _evaluate(layer: Layer, av: _ArchView, F_in: np.ndarray, rank: np.ndarray, check_dataflow: bool) -> Costs:
    info = _info(layer)
    arch = av.base
    tech = tech_of(arch)
    N, _, D = F_in.shape
    F = np.ascontiguousarray(F_in.transpose(1, 2, 0))          # (5, D, N): batch contiguous
    Ft = F[[F_DRAM, F_GLB, F_PE]]                              # (3, D, N)
    pos = np.ascontiguousarray(rank.transpose(1, 2, 0)) + (np.arange(3) * D)[:, None, None]
    posm = np.where(Ft > 1, pos, -1)
    bounds = info.bounds
    B = bounds[:, None]
    macs = layer.macs
    st = arch.stationary

    # tiles below each boundary (suffix products of the level factors)
    t_sp = F[F_ROWS] * F[F_COLS]
    t_arr = t_sp * F[F_PE]
    t_glb = t_arr * F[F_GLB]

    # ---- traffic ---------------------------------------------------------
    T0 = {t: _traffic(info, t, Ft, posm, pos, t_glb, T_DRAM, True) for t in TENSORS}
    T1 = {t: (_traffic(info, t, Ft, posm, pos, t_arr, T_GLB, True) if t == st
              else _traffic(info, t, Ft, posm, pos, t_sp, T_PE, False)) for t in TENSORS}
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
    dram_read_bytes = sum(v * bits[t] for (m, t, k), v in acc.items() if m == "dram" and k == "reads") / 8
    dram_bytes = dram_read_bytes + acc[("dram", "outputs", "updates")] * bits["outputs"] / 8

    # ---- compute timing (affine fold cost summed in closed form) ------------
    x_arr = np.minimum(t_arr, B)
    n_arr = _cdiv(B, x_arr)
    live = np.flatnonzero(bounds > 1)                          # bound-1 dims: one fold, extent 1
    Fl, xl, nl, Bl = F[:, live], x_arr[live], n_arr[live], bounds[live]
    folds = np.prod(nl, axis=0)
    lr, lc, lp = (_level_sum(Fl, lvl, Bl, xl, nl) for lvl in (F_ROWS, F_COLS, F_PE))
    sum_ur, sum_uc, sum_t = lr.prod(axis=0), lc.prod(axis=0), lp.prod(axis=0)
    sum_urc = np.where(Fl[F_ROWS] > 1, lr, lc).prod(axis=0)    # a dim on rows and cols: not systolic
    glb_tile = np.minimum(t_glb, B)
    glb_tiles = np.prod(_cdiv(Bl[:, None], glb_tile[live]), axis=0)
    ft = fold_timing(arch.timing, arch.dataflow)
    compute = ft.total(av.rows, av.cols, folds, sum_ur, sum_uc, sum_t, glb_tiles)
    if arch.timing == "scalesim" and arch.dataflow == "os":
        # SCALE-Sim's os ofmap write count adds R + C per fold (a double count in
        # its code, see shared/reference/README.md); reported, not charged energy
        acc[(out_mem, "outputs", "updates")] = acc[(out_mem, "outputs", "updates")] + folds * (av.rows + av.cols)

    # ---- latency with DRAM bandwidth --------------------------------------
    fp = {t: _footprint(info, t, glb_tile) for t in TENSORS}
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
    pe_fp = _footprint(info, st, np.minimum(F[F_PE], B))
    glb_cap = av.glb_bytes / (2 if arch.double_buffered else 1)
    acc_cap = av.acc_bytes / (2 if arch.double_buffered else 1)
    # the glb factor must divide the number of array tiles (see mapping.py):
    # otherwise some iterations are empty and the closed forms do not hold
    checks = [
        ("tiling", ((n_arr % F[F_GLB]) != 0).any(axis=0) | (F[F_DRAM] * F[F_GLB] != n_arr).any(axis=0)),
        ("rows", np.prod(F[F_ROWS], axis=0) > av.rows),
        ("cols", np.prod(F[F_COLS], axis=0) > av.cols),
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
    """Unrolled or streamed dims that the dataflow does not allow; F is (5, D, N)."""
    allowed = dict(zip(ARRAY_LEVELS, ROLES_ON[arch.dataflow]))
    roles = np.array(info.roles)
    bad = np.zeros(F.shape[2], bool)
    for lvl, name in ((F_ROWS, "rows"), (F_COLS, "cols"), (F_PE, "pe")):
        wrong = np.flatnonzero(roles != allowed[name])
        if len(wrong):
            bad |= (F[lvl, wrong] > 1).any(axis=0)
    # a dim lives in one place in the array: on rows, on cols or streamed
    bad |= ((F[[F_ROWS, F_COLS, F_PE]] > 1).sum(axis=0) > 1).any(axis=0)
    return bad


def evaluate_mapping(layer: Layer, arch: SystolicArch, mapping: Mapping, **kw) -> dict:
    """Cost of a single mapping as a flat dict of scalars (see `Costs.row`)."""
    return evaluate(layer, arch, MappingBatch.from_mappings([mapping]), **kw).row(0)
