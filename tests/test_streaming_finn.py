"""finn timing mode = FINN's formulas (Xilinx/finn @ 39f0c9a, src/finn/), on a grid of layers and
foldings. The expected values are scalar transcriptions written here in FINN's own form (with
its file and line), independent of the vectorized code in codesign/families/streaming/finn.py."""
import math

import numpy as np
import pytest

from codesign.families.streaming import StreamingArch, finn, prepare
from codesign.families.streaming.folding import divisors
from codesign.workload import conv2d, depthwise_conv2d, gemm
from codesign.workload.graph import GraphBuilder

LAYERS = [(64, 27), (128, 576), (10, 512), (256, 2304), (6, 9)]          # (MH, MW)


def exp_mvau(mh, mw, pe, simd, vecs):      # custom_op/fpgadataflow/matrixvectoractivation.py:445-454
    return int((mh / pe) * (mw / simd) * np.prod(vecs) / 1)


def bram_mvau(mh, mw, pe, simd, w):        # matrixvectoractivation.py:378-417 (internal_decoupled, auto)
    omega = (mw * mh) / (simd * pe)
    mem_width = simd * w * pe
    if mem_width == 1:
        return math.ceil(omega / 16384)
    elif mem_width == 2:
        return math.ceil(omega / 8192)
    elif mem_width <= 4:
        return (math.ceil(omega / 4096)) * (math.ceil(mem_width / 4))
    elif mem_width <= 9:
        return (math.ceil(omega / 2048)) * (math.ceil(mem_width / 9))
    elif mem_width <= 18 or omega > 512:
        return (math.ceil(omega / 1024)) * (math.ceil(mem_width / 18))
    return (math.ceil(omega / 512)) * (math.ceil(mem_width / 36))


def lut_mvau(mw, pe, simd, w, a, acc=32):  # hls/matrixvectoractivation_hls.py:58-119, resType lut, noActivation
    mult_luts = simd * (2 * math.ceil((w + a) / 6) - 1) * (w + a)
    addertree_luts = (w + a) * (2 * simd - 1)
    alpha = math.log(mw, 2) + w + a - 1 - 1
    acc_bits = min(acc, np.ceil(alpha + math.log(1 + pow(2, -alpha), 2) + 1))
    return int(300 + 1.1 * (pe * (mult_luts + addertree_luts + acc_bits)) + 0)


@pytest.mark.parametrize("mh,mw", LAYERS)
def test_mvau_cycles_bram_lut_dsp_equal_finn(mh, mw):
    for pe in divisors(mh):
        for simd in divisors(mw):
            assert finn.mvau_cycles(mh, mw, pe, simd, 49) == exp_mvau(mh, mw, pe, simd, [1, 7, 7])
            assert finn.mvau_bram(mh, mw, pe, simd, 8) == bram_mvau(mh, mw, pe, simd, 8)
            assert finn.mvau_lut(mh, mw, pe, simd, 8, 8, 32, "lut") == lut_mvau(mw, pe, simd, 8, 8)
            # hls/matrixvectoractivation_hls.py:121-134
            assert finn.mvau_dsp(pe, simd, 8, 8, "dsp") == int(pe * simd * np.ceil(16 / 48))


def test_vvau_cycles_and_bram_equal_finn():
    for ch, k, dim in [(32, 3, 112), (64, 3, 56), (512, 3, 7), (6, 5, 9)]:
        for pe in divisors(ch):
            for simd in divisors(k * k):
                # vectorvectoractivation.py:389-400
                assert finn.vvau_cycles(ch, k, k, pe, simd, dim, dim) == int(((ch * k * k) / pe / simd) * 1 * (dim * dim))
                wmem = (k * k * ch // pe) // simd          # vectorvectoractivation.py:291-298, 328-361
                mem_width = simd * 8 * pe
                if wmem <= 128:
                    want = 0
                elif mem_width <= 9:
                    want = math.ceil(wmem / 2048) * math.ceil(mem_width / 8)
                elif mem_width <= 18 or wmem > 512:
                    want = math.ceil(wmem / 1024) * math.ceil(mem_width / 16)
                else:
                    want = math.ceil(wmem / 512) * math.ceil(mem_width / 32)
                assert finn.vvau_bram(ch, k, k, pe, simd, 8) == want


def swu_expected(ch, k, ifm, ofm, s, simd, dw):   # rtl/convolutioninputgenerator_rtl.py:132-187 (2-D, default)
    cf = int(ch / simd)
    buffer_min_size = ((k - 1) * 1 * ifm + (k - 1) * 1 + 1) * cf
    wb = ofm * k * k * cf
    rb = s * ifm * cf
    mx = max(wb, rb)
    if dw:
        mx += ofm * (s - 1) * (cf - 1)
    out = buffer_min_size + ofm * mx
    if dw:
        out += (s - 1) * ifm * cf
    return int(out)


def test_swu_rtl_cycles_equal_finn():
    for ch, k, ifm, s in [(3, 3, 34, 1), (64, 3, 30, 1), (32, 3, 114, 2), (128, 1, 14, 2), (16, 5, 20, 1)]:
        ofm = (ifm - k) // s + 1
        for simd in divisors(ch):
            for dw in (False, True):
                got = finn.swu_rtl_cycles(ch, (k, k), (ifm, ifm), (ofm, ofm), (s, s), (1, 1), simd, dw)
                assert got == swu_expected(ch, k, ifm, ofm, s, simd, dw)
        assert finn.swu_rtl_cycles(ch, (k, k), (ifm, ifm), (ofm, ofm), (s, s), (1, 1), ch, False, True) == ifm * ifm + 2


def test_stream_nodes_and_critical_path_equal_finn():
    assert finn.stream_cycles(64, 4, 49) == 49 * 16            # addstreams.py:139-141
    assert finn.globalaccpool_cycles(512, 8, 49) == 49 * 64 + 64   # globalaccpool.py:147-152
    assert finn.maxpool_cycles(28, 2) == int(28 * 28 * (1 + 1 / 4))  # streamingmaxpool.py:151-153
    assert finn.pool_cycles(64, 3, 64, 56, 56) == 9 * 56 * 56   # pool.py:138-147
    # dataflow_performance.py:35-78: a fork and a join
    cyc = {"a": 10, "b": 5, "c": 7, "d": 1}
    assert finn.critical_path_cycles(cyc, {"b": ("a",), "c": ("a",), "d": ("b", "c")}) == 18


def test_finn_mode_network_ii_and_latency_are_finn_sums():
    g = GraphBuilder("t", [("x", (1, 3, 10, 10))])
    g.mac(conv2d(1, 3, 10, 10, 8, 3, 3, name="c"))
    g.op("p", "maxpool", kernel=2)
    g.mac(depthwise_conv2d(1, 8, 4, 4, 3, 3, padding=1, name="dw"))
    g.mac(gemm(1, 4, 8 * 16, name="fc"))
    net = g.build()
    from codesign.families.streaming import FAMILY, cost_choice
    arch = StreamingArch(timing="finn")
    pipe, opts = prepare(net, arch)
    choice = {k: 0 for k in opts}
    c = cost_choice(net, arch, choice)
    conv_c = exp_mvau(8, 27, 1, 1, [1, 8, 8])
    swu_c = swu_expected(3, 3, 10, 8, 1, 1, False)
    pool_c = int(8 * 8 * (1 + 1 / 4))
    dw_c = int((8 * 9) * 16)
    dw_swu = swu_expected(8, 3, 6, 4, 1, 1, True)
    dw_pad = (8 // 8) * 1 * 6 * 6     # FMPadding before the padded dw conv, SIMD = C (fmpadding.py:75-81)
    fc_c = exp_mvau(4, 128, 1, 1, [1])
    assert c.figures["ii_cycles"] == max(conv_c, swu_c, pool_c, dw_c, dw_pad, dw_swu, fc_c)
    assert c.latency_cycles == conv_c + swu_c + pool_c + dw_c + dw_pad + dw_swu + fc_c
    assert opts["c"].pad_cycles == 0 and opts["dw"].pad_cycles == dw_pad
    assert FAMILY.to_json(c)["layers"][1]["swu_cycles"] == swu_c
