"""The bound model's scorer: latency, energy and feasibility from the term
products of `codesign.families.systolic.bounds` (the cost model's formulas
written for bounds)."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .arch import SystolicArch, tech_of
from ...workload import TENSORS, Layer
from .dataflow import UNUSED_BY
from .energy import out_word
from . import soc_stalls
from .soc_stalls import compute_timing
from .pacing import arch_pacing, stall_terms

__all__ = ["Scorer", "K_TERMS"]

K_TERMS = ("folds", "sum_ur", "sum_uc", "sum_t", "glb_tiles", "rows", "cols",
           "fp_inputs", "fp_weights", "fp_outputs", "T0_inputs", "T0_weights", "T0_outputs",
           "T1_inputs", "T1_weights", "T1_outputs")
(FOLDS, SUR, SUC, SUT, GTILES, ROWS, COLS, FP, T0, T1) = (0, 1, 2, 3, 4, 5, 6, 7, 10, 13)
X_OF = {t: i for i, t in enumerate(TENSORS)}


@dataclass(frozen=True)
class Scorer:
    """Latency, energy and feasibility from term products (the cost model's
    formulas, written for bounds: no ``ceil`` on latency, which only raises
    the true value)."""

    c_layer: float
    c_gtile: float
    c_fold: float
    c_ur: float
    c_uc: float
    c_t: float
    t_floor: float
    e0: float
    eT0: np.ndarray
    eT1: np.ndarray
    bits: np.ndarray
    zsize: int
    timing: str
    double_buffered: bool
    bw: float
    rows: int
    cols: int
    glb_kept: np.ndarray
    glb_cap_bits: float
    acc_cap_bits: float
    ports: tuple                  # per port: (constant, ((P column, coefficient), ...)), cycles = bits / width
    out_word_bits: int = 0        # a final output's DRAM width (`energy.out_word`); 0: the output word
    soc: tuple = ()               # `soc_stalls.soc_bound_params`
    pace: tuple = ()              # ``rtl`` port pacing: per glb tile, per stream, long, pad step (`_pace`)

    @classmethod
    def of(cls, layer: Layer, arch: SystolicArch) -> "Scorer":
        tech = tech_of(arch)
        ft = compute_timing(arch)
        st = arch.stationary
        bits = {t.name: t.bits for t in layer.tensors}
        word = {"inputs": arch.op_bits, "weights": arch.op_bits, "outputs": arch.acc_bits}
        macs = layer.macs
        z = layer.footprint("outputs")
        glb = lambda t: tech.sram_pj(arch.glb_bytes, bits[t], "glb")  # noqa: E731
        out_pj = tech.sram_pj(arch.acc_bytes, bits["outputs"], "acc") if arch.acc_kib > 0 else glb("outputs")
        dram = lambda t: tech.dram_pj(bits[t])  # noqa: E731
        reg = tech.reg_pj(word[st])
        eT0 = np.array([dram("inputs") + glb("inputs"), dram("weights") + glb("weights"),
                        2 * dram("outputs") + out_pj])
        eT1 = np.array([glb("inputs"), glb("weights"), 2 * out_pj])
        eT1[X_OF[st]] += reg
        e0 = macs * tech.mac_pj(arch.op_bits, arch.acc_bits)
        e0 += sum(macs * tech.forward_pj(word[t]) for t in TENSORS if t != st)
        qbits = out_word(arch, bits)
        e0 -= z * (dram("outputs") + out_pj + out_pj)
        e0 -= z * (dram("outputs") - tech.dram_pj(qbits))       # final writes requantized
        e0 += reg * ((2 * macs - z) if st == "outputs" else macs) - (reg * z if st == "outputs" else 0)
        kept = next(m.tensors for m in arch.memories if m.name == "glb")
        div = 2 if arch.double_buffered else 1
        ports = _port_rows(arch, bits, z)
        return cls(ft.per_layer, ft.tile_const(arch.rows, arch.cols), ft.fold_const(arch.rows, arch.cols),
                   ft.per_used_rows, ft.per_used_cols, ft.per_t, float(ft.t_floor(arch.rows)), e0, eT0, eT1,
                   np.array([bits[t] for t in TENSORS], dtype=float), z, arch.timing, arch.double_buffered,
                   arch.dram_bw_bytes, arch.rows, arch.cols, np.array([t in kept for t in TENSORS]),
                   8 * arch.glb_bytes / div, 8 * arch.acc_bytes / div if arch.acc_kib > 0 else math.inf, ports,
                   qbits, soc_stalls.soc_bound_params(arch, [bits[t] for t in TENSORS], [
                       math.prod(b for d, b in layer.dims if layer.role(d) != UNUSED_BY[t]) for t in TENSORS[:2]]), _pace(arch))

    def compute(self, P: np.ndarray, partial: bool = False) -> np.ndarray:
        """Compute cycles of term products; with `partial` (products are lower
        bounds) a lower bound that stays valid for a negative per-fold
        coefficient: since every fold uses >= 1 row, col and step, ``folds``
        is at most each of those sums, so the coefficient moves onto one of
        them (the best of the valid choices). A floor on the streamed length
        (``rtl``: a fold costs max(t, R)) is bounded by ``max(sum t, floor * folds)``,
        the exact sum when every fold is on the same side of the floor."""
        t = P[:, SUT] if self.t_floor <= 1 else np.maximum(P[:, SUT], self.t_floor * P[:, FOLDS])
        base = (self.c_layer + self.c_gtile * P[:, GTILES] + self.c_ur * P[:, SUR]
                + self.c_uc * P[:, SUC] + self.c_t * t)
        if self.c_fold >= 0 or not partial:
            return base + self.c_fold * P[:, FOLDS]
        out = None
        for col, c in ((SUR, self.c_ur), (SUC, self.c_uc), (SUT, self.c_t)):
            if c + self.c_fold >= 0:
                v = base + self.c_fold * P[:, col]
                out = v if out is None else np.maximum(out, v)
        if out is None:   # drop the per-fold terms if a fold never costs < 0, else no bound
            per_fold_min = self.c_fold + self.c_ur + self.c_uc + self.c_t
            out = self.c_layer + self.c_gtile * P[:, GTILES] + (0.0 if per_fold_min >= 0 else -np.inf)
        return out

    def paced(self, P: np.ndarray) -> np.ndarray:
        """Port pacing's stall (`pacing.array_port_stalls`) at the folds' mean ``t``: exact
        when all folds lie on one side of ``R``, else below (a fold's cost is convex in
        ``t``); non-decreasing in ``sum t``, folds and glb tiles, so partial products bound it."""
        rf, t = self.t_floor * P[:, FOLDS], P[:, SUT]
        tile, stream, long, pad = self.pace
        return (tile * P[:, GTILES] + stream * np.minimum(t, rf) + long * np.maximum(t - rf, 0)
                + pad * np.maximum(rf - t, 0))

    def __call__(self, P: np.ndarray, partial: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(latency, energy, fits) of term products `P` (N, K); lower bounds
        when `partial` says the products are."""
        compute = self.compute(P, partial)
        if self.pace:
            compute = compute + self.paced(P)
        t0, t1 = P[:, T0:T0 + 3], P[:, T1:T1 + 3]
        energy = self.e0 + t0 @ self.eT0 + t1 @ self.eT1
        fpb = P[:, FP:FP + 3] * self.bits
        if self.timing == "scalesim":
            latency = compute
        else:
            b = self.bits
            rd = (t0[:, 0] * b[0] + t0[:, 1] * b[1] + (t0[:, 2] - self.zsize) * b[2]) / 8
            qb = self.out_word_bits or b[2]
            wr = ((t0[:, 2] - self.zsize) * b[2] + self.zsize * qb) / 8
            if self.timing == "ideal":
                latency = np.maximum(compute, np.maximum(rd, wr) / self.bw)
            elif self.timing == "soc" and self.double_buffered:
                latency = self.c_layer + soc_stalls.soc_bound(
                    self.soc, compute - self.c_layer, P[:, GTILES], P[:, FP:FP + 3], P[:, ROWS], P[:, COLS],
                    t0[:, 2], self.zsize, self.bw, partial)
            elif self.double_buffered:
                first_last = (fpb[:, 0] + fpb[:, 1] + P[:, FP + 2] * qb) / 8 / self.bw
                latency = np.maximum(compute + first_last, (rd + wr) / self.bw)
            else:
                latency = compute + (rd + wr) / self.bw
            for const, terms in () if self.timing == "soc" and self.double_buffered else self.ports:
                port = const
                for col, c in terms:
                    port = port + c * P[:, col]
                latency = np.maximum(latency, port)
        return latency, energy, self.fits(P)

    def fits(self, P: np.ndarray) -> np.ndarray:
        """Rows of term products `P` (N, K) within the array side and the buffers
        (necessary for every mapping whose products are at least `P`)."""
        fpb = P[:, FP:FP + 3] * self.bits
        return ((P[:, ROWS] <= self.rows) & (P[:, COLS] <= self.cols)
                & (fpb[:, self.glb_kept].sum(axis=1) <= self.glb_cap_bits)
                & (fpb[:, 2] <= self.acc_cap_bits))


def _pace(arch: SystolicArch) -> tuple:
    """``rtl``'s port pacing (`pacing.stall_terms`): the stall per glb tile and per
    stream, long and pad step; () without stalls or in another timing."""
    if arch.timing != "rtl" or max(ks := arch_pacing(arch)) == 1:
        return ()
    return stall_terms(ks, arch.rows, arch.cols, arch.dataflow != "os")


def _port_rows(arch: SystolicArch, bits: dict, z: int) -> tuple:
    """The cost model's port cycles (`stalls.port_cycles`) as affine functions of
    the traffic terms: per port, a constant and coefficients of T0, T1 (one per tensor)."""
    b = np.array([bits[t] for t in TENSORS], dtype=float)
    out_mem = "acc" if arch.acc_kib > 0 else "glb"
    rows = {}
    for mem in ("glb", "acc"):
        for kind in ("read", "write"):
            rows[(mem, kind)] = np.zeros(7)
    i, w, o = (X_OF[t] for t in TENSORS)
    for t in (i, w):                                  # inputs, weights: glb fills (T0) and reads (T1)
        rows[("glb", "write")][1 + t] += b[t]
        rows[("glb", "read")][4 + t] += b[t]
    rd, wr = rows[(out_mem, "read")], rows[(out_mem, "write")]
    rd[4 + o] += b[o]                                 # reads T1 - |Z|
    rd[0] -= z * b[o]
    wr[1 + o] += b[o]                                 # fills T0 - |Z|, updates T1
    wr[4 + o] += b[o]
    wr[0] -= z * b[o]
    keys = [k for k in rows if k[0] == "glb" or arch.acc_kib > 0]
    cols = (T0, T0 + 1, T0 + 2, T1, T1 + 1, T1 + 2)
    out = []
    for k in keys:
        r = rows[k] / arch.port_bits(*k)
        out.append((float(r[0]), tuple((col, float(c)) for col, c in zip(cols, r[1:]) if c)))
    return tuple(out)
