"""Per-engine costs over all its foldings at once (numpy): cycles, energy, area, FPGA resources.

For each engine, `engine_options` returns every option (PE, SIMD, weights on chip or in
DRAM) with its figures as arrays; the solver and joint mode index into them.

- Cycles per frame: the `timing` mode's (``rtl``: the engine's saturated schedule,
  sum over jobs of max(job cycles, tokens it pops); ``finn``: FINN's ``get_exp_cycles``).
  Weights in DRAM: each job reads the whole weight matrix, so a job lasts at least
  ceil(weight bytes / dram_bw_bytes) cycles (our addition in both modes).
- Resources: FINN's estimators (`finn`): MVAU/VVAU LUT by FINN-R, DSP, weight BRAM18 with
  mem_mode internal_decoupled (external: 0), the window buffer as the RTL sliding-window
  unit's buffer (`window_ram_style`). FINN's stream nodes estimate 0 (hwcustomop.py:161-179).
- Energy per frame: MACs x E_mac; one weight read per MAC from the engine's weight memory
  (an SRAM of its size); DRAM bytes (weights streamed, graph input) x E_dram. Every per-access
  figure is the tech table's (codesign.tech: horowitz45 = Horowitz, ISSCC 2014, Fig. 1.1.9).
  First-order terms, their source and assumption:
  activation reads: MW x MH/PE per job, the count of FINN's MVAU loop (finn-hlslib mvau.hpp,
  Matrix_Vector_Activate_Batch: the input vector is read from the stream when nf == 0 and
  replayed from ``inputBuf[sf]`` for the other MH/PE - 1 neuron folds); assumption: each read
  is charged at the window buffer's SRAM energy (an upper bound: FINN's inputBuf holds only
  MW/SIMD words, in LUT RAM) or at a register's without a window; window-buffer writes: one
  per input element (the sliding-window unit stores each token once). FIFO traffic
  (`__init__.cost_choice`): one write and one read per token and FIFO (each token is popped
  once, `timing`), a register access for an SRL FIFO (depth <= pipeline.MAX_SRL_DEPTH),
  else an SRAM access of the FIFO's size; assumption: one register access per token write
  and read (a lower bound: in FINN's SRL FIFO every write shifts all stages and the read is
  addressed by an up-down counter, finn-rtllib/fifo/hdl/Q_srl.v:45-46; no per-stage shift
  energy is in the tech tables).
- Area: PE x SIMD multiply-accumulate lanes x the tech's PE area + SRAM area of weights and
  buffers (codesign.tech).

"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .arch import ZCU104, StreamingArch, tech_of
from .engines import Engine
from . import finn, fitted
from .folding import lattice

__all__ = ["Options", "engine_options", "res_type", "ENERGY_PARTS", "saturated_cycles", "ii_share"]

ENERGY_PARTS = ("mac", "weights", "window", "fifo", "dram")


def res_type(arch: StreamingArch) -> str:
    """Multipliers on DSP slices for op_bits >= 5, in LUTs below (assumption: FINN's MVAU_rtl
    needs at least 4-bit operands for its DSP packing, rtl/matrixvectoractivation_rtl.py)."""
    return "dsp" if arch.op_bits >= 5 else "lut"


@dataclass(frozen=True, eq=False)
class Options:
    """All options of one engine (arrays of equal length; one entry for a stream engine)."""

    engine: Engine
    pe: np.ndarray
    simd: np.ndarray
    dram: np.ndarray
    job_cycles: np.ndarray
    cycles: np.ndarray
    swu_cycles: np.ndarray | None
    lut: np.ndarray
    dsp: np.ndarray
    bram18: np.ndarray
    dram_bytes: np.ndarray
    energy_pj: dict
    sram_bytes: np.ndarray
    lanes: np.ndarray
    pad_cycles: int = 0          # ``finn`` timing: FINN's FMPadding node in front of a padded conv

    def __len__(self):
        return len(self.cycles)

    def resource_cost(self, arch: StreamingArch) -> np.ndarray:
        """The scalar the solver minimizes: sum of LUT, DSP, BRAM18 over the budget (ZCU104 where unbounded)."""
        b = arch.budget()
        cap = {k: b[k] if math.isfinite(b[k]) and b[k] > 0 else ZCU104[k] for k in ZCU104}
        return self.lut / cap["lut"] + self.dsp / cap["dsp"] + self.bram18 / cap["bram18"]


def ii_share(o: Options, timing: str) -> np.ndarray:
    """Each option's share of the II: its cycles; ``finn``, also its sliding-window unit's and padding node's."""
    if timing != "finn":
        return o.cycles
    c = o.cycles if o.swu_cycles is None else np.maximum(o.cycles, o.swu_cycles)
    return np.maximum(c, o.pad_cycles)


def window_ram_style(depth: int) -> str:
    """Window buffers up to 256 pixels deep in LUT RAM (FINN's SWU default ram_style distributed,
    convolutioninputgenerator.py:70-74), deeper ones in block RAM (the 256 of FINN's max_qsrl_depth,
    set_fifo_depths.py:161; our choice)."""
    return "distributed" if depth <= 256 else "block"


def saturated_cycles(pops: np.ndarray, job_cycles) -> np.ndarray:
    """sum_j max(c, pops_j): an engine's cycles per frame when its inputs are always there (`timing`)."""
    k = np.sort(pops)
    pre = np.concatenate([[0], np.cumsum(k)])
    c = np.asarray(job_cycles, dtype=np.int64)
    idx = np.searchsorted(k, c, side="right")
    return c * idx + (pre[-1] - pre[idx])


def _mac_figures(e: Engine, arch: StreamingArch, pe, simd, dram):
    """Cycles and resources of a MAC engine's options (vectorized)."""
    bits, rt = arch.op_bits, res_type(arch)
    c = (e.mh // pe) * (e.mw // simd)
    wbytes = math.ceil(e.weights * bits / 8)
    c = np.where(dram, np.maximum(c, math.ceil(wbytes / arch.dram_bw_bytes)), c)
    if e.kind == "mvau":
        lut = finn.mvau_lut(e.mh, e.mw, pe, simd, bits, bits, arch.acc_bits, rt)
        dsp = finn.mvau_dsp(pe, simd, bits, bits, rt)
        bram = finn.mvau_bram(e.mh, e.mw, pe, simd, bits, external=dram)
    else:
        r, s = e.window[2], e.window[3]
        lut = finn.vvau_lut(e.mh, r, s, pe, simd, bits, bits, arch.acc_bits, rt)
        dsp = finn.vvau_dsp(pe, simd, bits, bits, rt)
        bram = finn.vvau_bram(e.mh, r, s, pe, simd, bits, external=dram)
    return c, lut, dsp, bram, wbytes


def _finn_cycles(e: Engine, arch: StreamingArch, pe, simd, dram, wbytes):
    """FINN's get_exp_cycles of the engine and of its sliding-window unit (conv)."""
    if e.kind == "input":
        return np.zeros(1, np.int64), None
    if e.kind not in ("mvau", "vvau"):
        return np.array([_finn_stream_cycles(e)], np.int64), None
    ext = np.where(dram, e.jobs * math.ceil(wbytes / arch.dram_bw_bytes), 0)
    if e.window is None:
        return np.maximum(finn.mvau_cycles(e.mh, e.mw, pe, simd, e.jobs), ext), None
    h, w, r, s, st, pad, dil = e.window
    p_out = (h + 2 * pad - dil * (r - 1) - 1) // st + 1
    q_out = e.jobs // p_out
    dims = dict(k=(r, s), ifm_dim=(h + 2 * pad, w + 2 * pad), ofm_dim=(p_out, q_out), stride=(st, st),
                dilation=(dil, dil))
    if e.kind == "mvau":
        cyc = finn.mvau_cycles(e.mh, e.mw, pe, simd, e.jobs)
        sw_simd = np.gcd(simd, e.channels_in)
        swu = finn.swu_rtl_cycles(e.channels_in, simd=sw_simd, depthwise=False,
                                  parallel_window=(sw_simd == e.channels_in) & (simd > e.channels_in), **dims)
    else:
        cyc = finn.vvau_cycles(e.mh, r, s, pe, simd, p_out, q_out)
        swu = finn.swu_rtl_cycles(e.channels_in, simd=pe, depthwise=True, parallel_window=simd > 1, **dims)
    return np.maximum(cyc, ext), swu


def _finn_stream_cycles(e: Engine) -> int:
    """FINN's cycles of a stream node at full channel parallelism (PE = channels)."""
    if e.kind == "pool":
        h, w, k, _, st, pad, _ = e.window
        if st == k and pad == 0 and h % k == 0:
            return finn.maxpool_cycles(h, k) if e.op == "maxpool" else int(finn.pool_cycles(
                e.channels_in, k, e.channels_in, h // k, w // k))
        return int(finn.pool_cycles(e.channels_in, k, e.channels_in, e.jobs, 1))
    if e.kind == "gpool":
        return int(finn.globalaccpool_cycles(e.channels_in, e.channels_in, e.tokens_in))
    return int(finn.stream_cycles(e.channels_out, e.channels_out, e.jobs))


def engine_options(e: Engine, arch: StreamingArch) -> Options:
    """Every option of engine `e` on `arch` with its figures (module docstring)."""
    t = tech_of(arch)
    bits = arch.op_bits
    lb_bytes = e.line_buffer * e.channels_in * bits / 8
    if e.kind in ("mvau", "vvau"):
        pe0, simd0 = lattice(e.mh, e.mw)
        pe = np.concatenate([pe0, pe0])
        simd = np.concatenate([simd0, simd0])
        dram = np.repeat([False, True], len(pe0))
        c, lut, dsp, bram, wbytes = _mac_figures(e, arch, pe, simd, dram)
        lanes = pe * simd
    else:
        pe = simd = np.ones(1, np.int64)
        dram = np.zeros(1, bool)
        c = np.ones(1, np.int64)
        lut = dsp = bram = np.zeros(1, np.int64)
        wbytes, lanes = 0, np.zeros(1, np.int64)
    swu_rtl = None
    if e.window is not None:
        style = window_ram_style(e.line_buffer)
        lb_b = finn.swu_rtl_bram(e.channels_in * bits, e.line_buffer, style)
        lut = lut + finn.swu_rtl_lut(e.channels_in * bits, e.line_buffer, style)
        bram = bram + lb_b
        swu_rtl = saturated_cycles(e.pops, np.ones(len(c), np.int64))
    if arch.resources == "ecp5":   # our RTL's resources, fitted to its synthesis (`fitted`: ECP5 cells)
        lut, dsp, bram = fitted.engine_resources(e, arch, pe, simd, dram)
    if arch.timing == "rtl":
        cycles = (np.full(len(c), e.jobs, np.int64) if e.kind == "input" else saturated_cycles(e.pops, c))
        swu = swu_rtl if e.kind in ("mvau", "vvau") else None
    else:
        cycles, swu = _finn_cycles(e, arch, pe, simd, dram, wbytes)
        cycles = np.broadcast_to(cycles, c.shape).astype(np.int64)
    dram_bytes = np.where(dram, wbytes * e.jobs, 0) + (e.jobs * e.channels_out * bits / 8 if e.kind == "input" else 0)
    on_chip_w = np.where(dram, 0, wbytes)
    macs = e.macs
    act_reads = e.jobs * e.mw * (e.mh // pe) if e.kind in ("mvau", "vvau") else np.zeros(len(c))
    window_pj = (t.sram_pj(max(lb_bytes, 1), bits) if e.window is not None else t.reg_pj(bits))
    w_pj = np.where(dram, t.reg_pj(bits), t.sram_pj(np.maximum(wbytes, 1), bits))
    energy = {
        "mac": np.full(len(c), macs * t.mac_pj(bits, arch.acc_bits)),
        "weights": macs * w_pj,
        "window": act_reads * window_pj + (e.tokens_in * e.channels_in * window_pj if e.window is not None else 0),
        "dram": dram_bytes * t.dram_pj(8),
    }
    energy = {k: np.broadcast_to(np.asarray(v, dtype=float), c.shape) for k, v in energy.items()}
    pad = 0
    if arch.timing == "finn" and e.kind in ("mvau", "vvau") and e.window is not None and e.window[5] > 0:
        # FINN's stream nodes run at full channel parallelism here (SIMD = C), as our other stream engines
        pad = int(finn.fmpadding_cycles(e.channels_in, e.channels_in, e.window[0], e.window[1], e.window[5]))
    return Options(e, pe, simd, dram, c.astype(np.int64), cycles, swu, lut.astype(np.int64),
                   dsp.astype(np.int64), bram.astype(np.int64), np.asarray(dram_bytes, dtype=float) + np.zeros(len(c)),
                   energy, on_chip_w + lb_bytes, lanes, pad)
