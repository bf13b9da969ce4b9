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
count `codesign.workload.Axis.extent` gives. Sliding-window (halo) reuse
(``halo_reuse``, on by default; Timeloop's convention 7): a dram-level
sweep of the innermost iterating loop fetches only the new rows of each
next glb tile (`traffic.axis_sum_halo`); the glb still holds whole tiles
(capacity unchanged), and the PE registers get no halo reuse (each PE
holds its own words).

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
  parent costs an update at the parent and no read at the child;
- widths: each access is charged at its tensor's width, and the ``|Z|``
  final DRAM writes at ``out_bits`` (requantized; `energy`); tensors kept on
  chip between layers move their DRAM traffic to the glb (`onchip`).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .arch import SystolicArch
from .dataflow import ARRAY_LEVELS, ROLES_ON
from .energy import ENERGY_PARTS, energy, keep, out_word
from ...workload import TENSORS, Layer
from .mapping import LEVELS, Mapping, MappingBatch
from .flat import flattened, is_flat
from .soc_stalls import compute_timing, soc_latency
from .pacing import arch_pacing, array_port_stalls
from .stalls import PORTS as _PORTS, port_cycles, stalled_latency
from .timing import floored_t_sum
from .traffic import LayerInfo, cdiv, footprint, level_sum, traffic
from .traffic import info as layer_info

__all__ = ["Costs", "evaluate", "evaluate_mapping", "flat_row", "out_word", "INFEASIBLE", "ENERGY_PARTS",
           "SCALARS"]

F_DRAM, F_GLB, F_ROWS, F_COLS, F_PE = range(len(LEVELS))
T_DRAM, T_GLB, T_PE = range(3)          # temporal levels in MappingBatch.rank

#: per-mapping figures besides energy parts and access counts, in the flat row's order
SCALARS = ("compute_cycles", "stall_cycles", "latency_cycles", "energy_pj", "utilization",
           "mapping_efficiency", "dram_bytes", "glb_bytes_used", "acc_bytes_used", "folds")

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

    _ARRAYS = ("compute_cycles", "stall_cycles", "latency_cycles", "energy_pj", "utilization",
               "mapping_efficiency", "dram_bytes", "infeasible", "glb_bytes_used", "acc_bytes_used", "folds")

    def take(self, idx: np.ndarray) -> "Costs":
        """The rows `idx` of this batch."""
        return Costs(macs=self.macs, **{k: getattr(self, k)[idx] for k in self._ARRAYS},
                     energy_parts_pj={k: v[idx] for k, v in self.energy_parts_pj.items()},
                     accesses={k: v[idx] for k, v in self.accesses.items()})

    @staticmethod
    def concat(parts: list["Costs"]) -> "Costs":
        """Batches of one layer, one after the other."""
        if len(parts) == 1:
            return parts[0]
        cat = np.concatenate
        return Costs(macs=parts[0].macs, **{k: cat([getattr(p, k) for p in parts]) for k in Costs._ARRAYS},
                     energy_parts_pj={k: cat([p.energy_parts_pj[k] for p in parts]) for k in parts[0].energy_parts_pj},
                     accesses={k: cat([p.accesses[k] for p in parts]) for k in parts[0].accesses})

    @property
    def feasible(self) -> np.ndarray:
        return self.infeasible == 0

    @property
    def edp(self) -> np.ndarray:
        return self.energy_pj * self.latency_cycles

    def scalars(self, i: int) -> dict:
        """The `SCALARS` of mapping `i` as Python scalars."""
        return {k: getattr(self, k)[i].item() for k in SCALARS}

    def parts_pj(self, i: int) -> dict[str, float]:
        """Energy of mapping `i` per part (`ENERGY_PARTS`)."""
        return {p: float(v[i]) for p, v in self.energy_parts_pj.items()}

    def access_counts(self, i: int) -> dict[str, int]:
        """Accesses of mapping `i` as ``<memory>_<tensor>_<kind>`` counts (the JSON names)."""
        return {f"{m}_{t}_{k}": int(v[i]) for (m, t, k), v in self.accesses.items()}

    def row(self, i: int) -> dict:
        """Mapping `i` as the flat JSON/DataFrame row (`flat_row`)."""
        return flat_row(self.macs, self.scalars(i), self.parts_pj(i), self.access_counts(i),
                        INFEASIBLE[int(self.infeasible[i])])


_SHARED = ("dataflow", "timing", "tech", "op_bits", "acc_bits", "out_bits", "double_buffered", "halo_reuse",
           "family")
_VARYING = ("rows", "cols", "pe_reg_words", "glb_bytes", "acc_bytes", "dram_bw_bytes")
_VARYING += tuple(_PORTS.values())


_PORT_OF = {k: mem_kind for mem_kind, k in _PORTS.items()}


def _get(arch: SystolicArch, key: str):
    return arch.port_bits(*_PORT_OF[key]) if key in _PORT_OF else getattr(arch, key)


def flat_row(macs: int, scalars, parts_pj, accesses, infeasible: str) -> dict:
    """The flat JSON/DataFrame form of one mapping's cost: ``macs``, the `SCALARS`,
    ``energy_<part>_pj`` and ``<memory>_<tensor>_<kind>`` counts, ``infeasible``
    (names built here, at the edge, and never parsed back)."""
    out = {"macs": macs, **{k: scalars[k] for k in SCALARS}}
    out.update({f"energy_{p}_pj": v for p, v in parts_pj.items()})
    out.update(accesses)
    out["infeasible"] = infeasible
    return out


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
    glb_read_port: np.ndarray | int
    glb_write_port: np.ndarray | int
    acc_read_port: np.ndarray | int
    acc_write_port: np.ndarray | int

    @classmethod
    def of(cls, arch, n: int) -> "_ArchView":
        if isinstance(arch, SystolicArch):
            return cls(arch, *(_get(arch, k) for k in _VARYING))
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
        return cls(a0, *(np.array([_get(a, k) for a in archs]) for k in _VARYING))

    @property
    def pes(self):
        return self.rows * self.cols


#: mappings per internal chunk: keeps the working set of a chunk in cache
CHUNK = 16384


def evaluate(layer: Layer, arch: SystolicArch | list[SystolicArch], batch: MappingBatch, *,
             check_dataflow: bool = True, kept: frozenset[str] = frozenset()) -> Costs:
    """Cost of every mapping in `batch` of `layer` on `arch` (see module docstring).

    `arch` is one architecture, or one per mapping (a list of length N that
    shares dataflow, timing, tech, bit widths and buffering: a sweep's
    batch of trials evaluated in one call).

    With `check_dataflow`, mappings whose unrolling or streamed dims do not
    match the systolic dataflow are marked infeasible (reason ``dataflow``);
    turn it off to evaluate arbitrary loop nests (e.g. Timeloop's).

    `kept` names the tensors held in the glb between layers (``inputs``: the
    layer's input is the previous layer's output, kept on chip; ``outputs``:
    its final outputs stay on chip for the next layer; see `onchip`): their
    DRAM traffic moves to the glb (accesses of kind ``kept``).
    """
    N = len(batch)
    av = _ArchView.of(arch, N)
    if N <= CHUNK:
        return _evaluate(layer, av, batch.factors, batch.rank, check_dataflow, kept)
    parts = []
    for s in range(0, N, CHUNK):
        sl = slice(s, s + CHUNK)
        sub = _ArchView(av.base, *(v[sl] if isinstance(v, np.ndarray) else v
                                   for v in (getattr(av, k) for k in _VARYING)))
        parts.append(_evaluate(layer, sub, batch.factors[sl], batch.rank[sl], check_dataflow, kept))
    return Costs.concat(parts)


def _evaluate(layer: Layer, av: _ArchView, F_in: np.ndarray, rank: np.ndarray, check_dataflow: bool,
              kept: frozenset[str] = frozenset()) -> Costs:
    info = layer_info(layer)
    arch = av.base
    N, _, D = F_in.shape
    F = np.ascontiguousarray(F_in.transpose(1, 2, 0))          # (5, D, N): batch contiguous
    Ft = F[[F_DRAM, F_GLB, F_PE]]                              # (3, D, N)
    pos = np.ascontiguousarray(rank.transpose(1, 2, 0)) + (np.arange(3) * D)[:, None, None]
    posm = np.where(Ft > 1, pos, -1)
    macs = layer.macs
    # tiles below each boundary (suffix products of the level factors)
    t_sp = F[F_ROWS] * F[F_COLS]
    t_arr = t_sp * F[F_PE]
    t_glb = t_arr * F[F_GLB]
    acc = _accesses(info, arch, N, macs,
                    (traffic(info, t, Ft, posm, pos, t_glb, T_DRAM, True, arch.halo_reuse) for t in TENSORS),
                    {t: (traffic(info, t, Ft, posm, pos, t_arr, T_GLB, True) if t == arch.stationary
                         else traffic(info, t, Ft, posm, pos, t_sp, T_PE, False, window=False)) for t in TENSORS})
    if kept:
        keep(acc, kept, info.size["outputs"])
    e, dram_read_bytes, dram_bytes = energy(info, av, acc, macs, N)
    compute, folds, sum_urc, n_arr, glb_tile, paced = _compute(info, av, F, t_arr, t_glb)
    if arch.timing == "scalesim" and arch.dataflow == "os":
        # SCALE-Sim's os ofmap write count adds R + C per fold (a double count in
        # its code, see shared/reference/README.md); reported, not charged energy
        key = ("acc" if arch.acc_kib > 0 else "glb", "outputs", "updates")
        acc[key] = acc[key] + folds * (av.rows + av.cols)
    fp = {t: footprint(info, t, glb_tile) for t in TENSORS}
    glb_used = sum(fp[t] * info.bits[t] for t in TENSORS if t in _kept(arch, "glb")) / 8
    acc_used = fp["outputs"] * info.bits["outputs"] / 8 if arch.acc_kib > 0 else np.zeros(N)
    if arch.timing == "soc" and arch.double_buffered:     # the SoC's DMA schedule (soc_stalls.py)
        latency = soc_latency(info, av, F, rank[:, T_DRAM, :].T, compute_timing(arch), compute)
    else:
        latency = stalled_latency(info, av, paced, fp, dram_read_bytes, dram_bytes, port_cycles(info, av, acc),
                                  kept)
    reason = _feasibility(info, av, F, n_arr, glb_used, acc_used, check_dataflow)
    return Costs(
        macs=macs, compute_cycles=compute.astype(np.int64), stall_cycles=latency - compute,
        latency_cycles=latency, energy_pj=sum(e.values()), energy_parts_pj=e,
        utilization=macs / (latency * av.pes), mapping_efficiency=sum_urc / (folds * av.pes),
        dram_bytes=dram_bytes, accesses=acc, infeasible=reason, glb_bytes_used=glb_used,
        acc_bytes_used=acc_used, folds=folds)


def _accesses(info: LayerInfo, arch: SystolicArch, N: int, macs: int, dram_traffic, glb_traffic: dict) -> dict:
    """Access counts per (memory, tensor, kind) from the traffic across the two boundaries."""
    T0, T1 = dict(zip(TENSORS, dram_traffic)), glb_traffic
    st = arch.stationary
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
    return acc


def _compute(info: LayerInfo, av: "_ArchView", F: np.ndarray, t_arr: np.ndarray, t_glb: np.ndarray):
    """Compute cycles (the fold cost summed in closed form), folds, the
    sum over folds of used PEs, array tiles per dim, the glb tile, and the
    array's cycles with port pacing (``rtl``: `pacing.array_port_stalls`; else compute)."""
    bounds = info.bounds
    B = bounds[:, None]
    x_arr = np.minimum(t_arr, B)
    n_arr = cdiv(B, x_arr)
    live = np.flatnonzero(bounds > 1)                          # bound-1 dims: one fold, extent 1
    Fl, xl, nl, Bl = F[:, live], x_arr[live], n_arr[live], bounds[live]
    folds = np.prod(nl, axis=0)
    lr, lc, lp = (level_sum(Fl, lvl, Bl, xl, nl) for lvl in (F_ROWS, F_COLS, F_PE))
    sum_urc = np.where(Fl[F_ROWS] > 1, lr, lc).prod(axis=0)    # a dim on rows and cols: not systolic
    glb_tile = np.minimum(t_glb, B)
    glb_tiles = np.prod(cdiv(Bl[:, None], glb_tile[live]), axis=0)
    ft = compute_timing(av.base)
    f_pe = Fl[F_PE]                                            # each dim's pe extent, full and last fold
    t_full = np.where(f_pe > 1, f_pe, 1)
    t_last = np.where(f_pe > 1, np.minimum(f_pe, Bl[:, None] - (nl - 1) * xl), 1)
    sum_t = floored_t_sum(t_full, t_last, nl, ft.t_floor(av.rows))
    compute = ft.total(av.rows, av.cols, folds, lr.prod(axis=0), lc.prod(axis=0), sum_t, glb_tiles)
    paced = compute
    if av.base.timing == "rtl":
        paced = compute + array_port_stalls(arch_pacing(av), av.rows, av.cols, av.base.dataflow != "os", sum_t,
                                            lp.prod(axis=0), folds, glb_tiles)
    return compute, folds, sum_urc, n_arr, glb_tile, paced


def _feasibility(info: LayerInfo, av: "_ArchView", F, n_arr, glb_used, acc_used, check_dataflow: bool):
    """Index into `INFEASIBLE` per mapping (0: feasible; the first failed check otherwise)."""
    arch = av.base
    N = F.shape[2]
    B = info.bounds[:, None]
    reason = np.zeros(N, dtype=np.int8)
    pe_fp = footprint(info, arch.stationary, np.minimum(F[F_PE], B))
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
    return reason


def _kept(arch: SystolicArch, mem: str) -> frozenset[str]:
    for m in arch.memories:
        if m.name == mem:
            return m.tensors
    return frozenset()


def _dataflow_violations(info: LayerInfo, arch: SystolicArch, F: np.ndarray) -> np.ndarray:
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
    """Cost of a single mapping as a flat dict of scalars (see `Costs.row`); a
    flattened mapping (`Mapping.flat`) is costed on ``flat_layer(layer)``."""
    if mapping.flat and not is_flat(layer):
        layer = flattened(layer, mapping.flat)
    return evaluate(layer, arch, MappingBatch.from_mappings([mapping]), **kw).row(0)
