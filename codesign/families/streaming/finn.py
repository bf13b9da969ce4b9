"""FINN's estimates, formula for formula, vectorized over foldings (numpy arrays of PE, SIMD).

Transcribed from Xilinx/finn at commit 39f0c9a6b7675f62d47390fbf9a591707bcbac9b
(2026-04-14); paths are under ``src/finn/``, line numbers at that commit. Each
function names the FINN method it reproduces. Node attributes FINN would read are
arguments here; where FINN has a choice (``mem_mode``, ``ram_style``, ``resType``)
the default this model uses is stated at the argument.
"""
from __future__ import annotations

import functools
import math

import numpy as np

__all__ = ["mvau_cycles", "vvau_cycles", "swu_rtl_cycles", "swu_buffer_depth", "pool_cycles",
           "maxpool_cycles", "stream_cycles", "globalaccpool_cycles", "mvau_bram", "vvau_bram",
           "mvau_lut", "vvau_lut", "mvau_dsp", "vvau_dsp", "swu_rtl_bram", "swu_rtl_lut", "fifo_bram",
           "fifo_lut", "ram18_count", "critical_path_cycles", "fmpadding_cycles", "FINN_COMMIT"]

FINN_COMMIT = "39f0c9a6b7675f62d47390fbf9a591707bcbac9b"
_MVAU = "custom_op/fpgadataflow/matrixvectoractivation.py"
_VVAU = "custom_op/fpgadataflow/vectorvectoractivation.py"


def _a(x):
    return np.asarray(x, dtype=np.int64)


# -- cycles ---------------------------------------------------------------------------------------

def mvau_cycles(mh: int, mw: int, pe, simd, num_input_vectors: int):
    """MVAU.get_exp_cycles (matrixvectoractivation.py:445-454): (MH/PE)(MW/SIMD) prod(numInputVectors)."""
    return (mh // _a(pe)) * (mw // _a(simd)) * int(num_input_vectors)


def vvau_cycles(channels: int, k_h: int, k_w: int, pe, simd, dim_h: int, dim_w: int):
    """VVAU.get_exp_cycles (vectorvectoractivation.py:389-400): (C k_h k_w)/PE/SIMD * 1 * H_out W_out
    (``Dim`` is the output feature map; batch and mmv are 1 in FINN)."""
    return (channels * k_h * k_w // _a(pe) // _a(simd)) * dim_h * dim_w


def fmpadding_cycles(channels: int, simd, h: int, w: int, pad: int):
    """FMPadding.get_exp_cycles (custom_op/fpgadataflow/fmpadding.py:65-81): (C/SIMD) N (H + 2 pad)(W + 2 pad).
    FINN pads a conv's input in this separate node (InferConvInpGen inserts it when pad > 0,
    transformation/fpgadataflow/convert_to_hw_layers.py:86-119)."""
    return (channels // _a(simd)) * (h + 2 * pad) * (w + 2 * pad)


def swu_buffer_depth(ifm_ch: int, k: tuple, ifm_dim: tuple, stride: tuple, dilation: tuple, simd):
    """ConvolutionInputGenerator_rtl.get_buffer_depth, default style (rtl/convolutioninputgenerator_rtl.py:90-124)."""
    (k_h, k_w), (h, w), (s_h, s_w), (d_h, d_w) = k, ifm_dim, stride, dilation
    cf = ifm_ch // _a(simd)
    buffer_min_size = ((k_h - 1) * d_h * w + (k_w - 1) * d_w + 1) * cf
    return (buffer_min_size + np.maximum(0, ((s_w - 1) - k_h * k_w) * cf)
            + np.maximum(0, ((s_h - 1) * w - k_h * k_w) * cf))


def swu_rtl_cycles(ifm_ch: int, k: tuple, ifm_dim: tuple, ofm_dim: tuple, stride: tuple, dilation: tuple,
                   simd, depthwise: bool, parallel_window=False):
    """ConvolutionInputGenerator_rtl.get_exp_cycles (rtl/convolutioninputgenerator_rtl.py:132-187), 2-D case:
    ``buffer_min_size + OFM_h * max(write_block, read_block)`` (+ the depthwise terms); parallel window:
    input values + 2 (line 136). ``IFMDim`` is the padded input (FINN pads in a separate FMPadding node)."""
    (k_h, k_w), (h, w), (oh, ow), (s_h, s_w), (d_h, d_w) = k, ifm_dim, ofm_dim, stride, dilation
    simd = _a(simd)
    cf = ifm_ch // simd
    if h == 1 or w == 1:
        raise ValueError("swu_rtl_cycles: the 1-D case is not transcribed (the zoo has no 1-D convs)")
    buffer_min_size = ((k_h - 1) * d_h * w + (k_w - 1) * d_w + 1) * cf
    write_block = ow * k_w * k_h * cf
    read_block = s_w * w * cf
    mx = np.maximum(write_block, read_block)
    if depthwise:
        mx = mx + ow * (s_w - 1) * (cf - 1)
    out = buffer_min_size + oh * mx
    if depthwise:
        out = out + (s_h - 1) * w * cf
    parallel = h * w * cf + 2                     # get_number_input_values() + 2
    return np.where(np.asarray(parallel_window, dtype=bool), parallel, out)


def pool_cycles(channels: int, k: int, pe, out_h: int, out_w: int):
    """Pool.get_exp_cycles (custom_op/fpgadataflow/pool.py:138-147): (C k_h k_w)/PE * H_out W_out."""
    return (channels * k * k) // _a(pe) * out_h * out_w


def maxpool_cycles(ifm_dim: int, k: int):
    """StreamingMaxPool.get_exp_cycles, 2-D (custom_op/fpgadataflow/streamingmaxpool.py:151-153):
    ``int(ifm_dim * ifm_dim * (1 + 1/(k*k)))``."""
    return int(ifm_dim * ifm_dim * (1 + 1 / (k * k)))


def stream_cycles(channels: int, pe, pixels: int):
    """AddStreams / DuplicateStreams / Thresholding / StreamingEltwise get_exp_cycles
    (addstreams.py:139-141, duplicatestreams.py:142-144, thresholding.py:193-195,
    streamingeltwise.py:188-190): prod(folded output shape[:-1]) = pixels * C/PE."""
    return pixels * (channels // _a(pe))


def globalaccpool_cycles(channels: int, pe, pixels: int):
    """GlobalAccPool.get_exp_cycles (globalaccpool.py:147-152): pixels * C/PE + C/PE."""
    folds = channels // _a(pe)
    return pixels * folds + folds


def critical_path_cycles(cycles: dict, inputs: dict):
    """analysis/fpgadataflow/dataflow_performance.py:35-78: latency at a node's output = its cycles +
    the max over its predecessors ("very pessimistic": no overlap). `cycles` in topological order;
    a node's cycles may be an array (one entry per folding): the result is then an array."""
    at = {}
    for name, cyc in cycles.items():
        at[name] = np.asarray(cyc, np.int64) + functools.reduce(
            np.maximum, (at[p] for p in inputs.get(name, ()) if p in at), np.int64(0))
    out = functools.reduce(np.maximum, at.values(), np.int64(0))
    return int(out) if np.ndim(out) == 0 else out


# -- memories -------------------------------------------------------------------------------------

def ram18_count(depth, width, width9: int = 9, width18: int = 18, width36: int = 36):
    """The RAMB18 packing table shared by MVAU.bram_estimation (matrixvectoractivation.py:406-417) and
    StreamingFIFO.bram_estimation (streamingfifo.py:158-169); VVAU uses widths 8/16/32 (line 356-361)."""
    d, w = np.asarray(depth, dtype=np.float64), _a(width)
    c = np.ceil
    return np.select(
        [w == 1, w == 2, w <= 4, w <= 9, (w <= 18) | (d > 512)],
        [c(d / 16384), c(d / 8192), c(d / 4096) * c(w / 4), c(d / 2048) * c(w / width9),
         c(d / 1024) * c(w / width18)],
        c(d / 512) * c(w / width36)).astype(np.int64)


def mvau_bram(mh: int, mw: int, pe, simd, w_bits: int, ram_style: str = "auto", external=False):
    """MVAU.bram_estimation (matrixvectoractivation.py:378-417), mem_mode internal_decoupled
    (FINN's default, line 88) or external (0 BRAM)."""
    pe, simd = _a(pe), _a(simd)
    omega = (mw * mh) / (simd * pe)
    width = simd * w_bits * pe
    n = ram18_count(omega, width)
    if ram_style in ("distributed", "ultra"):
        n = np.zeros_like(n)
    return np.where(np.asarray(external, dtype=bool), 0, n)


def vvau_bram(channels: int, k_h: int, k_w: int, pe, simd, w_bits: int, ram_style: str = "auto",
              external=False):
    """VVAU.bram_estimation (vectorvectoractivation.py:328-361): 0 when ram_style is auto and
    WMEM = k_h k_w C / PE / SIMD <= 128 (line 344); widths 8/16/32 in the table."""
    pe, simd = _a(pe), _a(simd)
    wmem = (k_h * k_w * channels // pe) // simd
    width = simd * w_bits * pe
    n = ram18_count(wmem, width, 8, 16, 32)
    zero = np.asarray(external, dtype=bool) | (ram_style in ("distributed", "ultra")) | (
        (ram_style == "auto") & (wmem <= 128))
    return np.where(zero, 0, n)


def _acc_bits(reduction: int, w_bits: int, a_bits: int, acc_bits: int, signed: bool = True) -> int:
    """The accumulator bound of MVAU_hls.lut_estimation (hls/matrixvectoractivation_hls.py:100-104)."""
    alpha = math.log(reduction, 2) + w_bits + a_bits - 1 - int(signed)
    return int(min(acc_bits, np.ceil(alpha + math.log(1 + pow(2, -alpha), 2) + 1)))


def _lut(pe, simd, w_bits, a_bits, acc, res_type, wmem, distributed):
    """c0 + c1 P (mult + adder tree + acc) + c2 of FINN-R (hls/matrixvectoractivation_hls.py:58-119)."""
    pe, simd = _a(pe), _a(simd)
    c0, c1 = 300, 1.1                             # FINN-R constants (line 76-77)
    c2 = np.where(distributed, pe * simd * w_bits * np.ceil(wmem / 64), 0)
    mult = 0 if res_type == "dsp" else simd * (2 * math.ceil((w_bits + a_bits) / 6) - 1) * (w_bits + a_bits)
    adder = (w_bits + a_bits) * (2 * simd - 1)
    return (c0 + c1 * (pe * (mult + adder + acc)) + c2).astype(np.int64)


def mvau_lut(mh: int, mw: int, pe, simd, w_bits: int, a_bits: int, acc_bits: int, res_type: str,
             ram_style: str = "auto"):
    """MVAU_hls.lut_estimation (hls/matrixvectoractivation_hls.py:58-119), FINN-R (Blott et al.,
    TRETS 2018), noActivation=1 (our engines requantize by shift and clip, not thresholds)."""
    wmem = mw * mh // (_a(pe) * _a(simd))
    return _lut(pe, simd, w_bits, a_bits, _acc_bits(mw, w_bits, a_bits, acc_bits), res_type, wmem,
                ram_style == "distributed")


def vvau_lut(channels: int, k_h: int, k_w: int, pe, simd, w_bits: int, a_bits: int, acc_bits: int,
             res_type: str, ram_style: str = "auto"):
    """VVAU_hls.lut_estimation (hls/vectorvectoractivation_hls.py:51-113), noActivation=1."""
    wmem = (k_h * k_w * channels // _a(pe)) // _a(simd)
    return _lut(pe, simd, w_bits, a_bits, _acc_bits(k_h * k_w, w_bits, a_bits, acc_bits), res_type, wmem,
                ram_style == "distributed")


def mvau_dsp(pe, simd, w_bits: int, a_bits: int, res_type: str):
    """MVAU_hls.dsp_estimation (hls/matrixvectoractivation_hls.py:121-134): P Q ceil((W+A)/48) with resType dsp."""
    if res_type != "dsp":
        return np.zeros(np.broadcast(_a(pe), _a(simd)).shape, dtype=np.int64)
    return (_a(pe) * _a(simd) * math.ceil((w_bits + a_bits) / 48)).astype(np.int64)


def vvau_dsp(pe, simd, w_bits: int, a_bits: int, res_type: str):
    """VVAU_hls.dsp_estimation (hls/vectorvectoractivation_hls.py:115-127): P ceil((W+A)/48) with resType
    dsp (FINN's HLS VVAU estimate ignores SIMD)."""
    if res_type != "dsp":
        return np.zeros(np.broadcast(_a(pe), _a(simd)).shape, dtype=np.int64)
    return (_a(pe) * math.ceil((w_bits + a_bits) / 48) + 0 * _a(simd)).astype(np.int64)


def swu_rtl_bram(buffer_width, buffer_depth, ram_style: str = "auto"):
    """ConvolutionInputGenerator_rtl.bram_estimation, default style (rtl/convolutioninputgenerator_rtl.py:189-247)."""
    if ram_style not in ("block", "auto"):
        return 0 * _a(buffer_depth)
    d, bw = _a(buffer_depth), _a(buffer_width)

    def width_of(x):
        return np.select([x <= 512, x <= 1024, x <= 2048, x <= 4096, x <= 8192], [36, 18, 9, 4, 2], 1)
    casc_depth = np.ceil(d / 16384)
    casc_width = np.ceil(bw / width_of(d))
    savings = np.where(d > 16384, casc_width - np.ceil(bw / width_of(d % 16384)), 0)
    return (casc_depth * casc_width - savings).astype(np.int64)


def swu_rtl_lut(buffer_width, buffer_depth, ram_style: str = "auto"):
    """ConvolutionInputGenerator_rtl.lut_estimation (rtl/convolutioninputgenerator_rtl.py:249-258)."""
    ram = _a(buffer_width) * np.ceil(_a(buffer_depth) / 38) if ram_style == "distributed" else 0
    return (300 + ram + 0 * _a(buffer_depth)).astype(np.int64)


def fifo_bram(depth, width, impl: str):
    """StreamingFIFO.bram_estimation (streamingfifo.py:147-169): 0 for impl rtl; the RAMB18 table for a
    block-RAM FIFO."""
    return np.where(impl == "rtl", 0, ram18_count(depth, width))


def fifo_lut(depth, width, impl: str):
    """StreamingFIFO.lut_estimation (streamingfifo.py:195-209): 2 ceil(log2 depth) address LUTs, plus
    ceil(depth/32) ceil(W/2) for an rtl (SRL) FIFO."""
    d, w = _a(depth), _a(width)
    addr = 2 * np.ceil(np.log2(np.maximum(d, 1)))
    ram = np.ceil(d / 32) * np.ceil(w / 2) if impl == "rtl" else 0
    return (addr + ram).astype(np.int64)
