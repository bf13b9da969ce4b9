"""What the RTL runs for non-GEMM layers (im2col view) and for layers too big for pysim (scale-down)."""
import numpy as np
import pytest
from rtl_helpers import role_mapping

from codesign.families.systolic.arch import SystolicArch
from codesign.families.systolic.mapping import Mapping
from codesign.families.systolic.rtl import model_cycles, simulate
from codesign.families.systolic.rtl.gemm_view import as_gemm, direct_conv, im2col, scale_down
from codesign.families.systolic.rtl.plan import make_plan
from codesign.workload import conv2d, depthwise_conv2d, gemm, matmul

CONVS = [conv2d(2, 4, 7, 6, 6, 3, 2, stride=2, padding=1, dilation=2, groups=2),
         depthwise_conv2d(1, 3, 5, 5, 3, 3, padding=1), conv2d(1, 3, 5, 5, 4, 1, 1)]


@pytest.mark.parametrize("layer", CONVS, ids=lambda l: l.describe())
def test_im2col_matches_direct_convolution(layer):
    p = dict(layer.params)
    rng = np.random.default_rng(0)
    x = rng.integers(-128, 128, (p["N"], p["C"], p["H"], p["W"]))
    w = rng.integers(-128, 128, (p["K"], p["C"] // p["groups"], p["R"], p["S"]))
    a, b = im2col(layer, x, w)
    v = layer.gemm_view()
    assert a.shape == (v["M"], v["K"]) and b.shape == (v["K"], v["N"])
    assert np.array_equal(a.astype(np.int64) @ b, direct_conv(layer, x, w))


def test_conv_runs_on_the_rtl_through_im2col():
    layer = CONVS[0]
    arch = SystolicArch(rows=3, cols=2, dataflow="os")
    m = Mapping.build(layer, rows={"P": 3}, cols={"K": 2}, pe={"C": 2, "R": 3, "S": 2}, order={"glb": ["Q", "K"]})
    run = as_gemm(layer, m)
    assert run.layer.bounds == {"M": 18, "N": 3, "K": 12} and "1 of 2 groups" in run.note
    assert make_plan(arch, run.layer, run.mapping).fold == (3, 2, 12)
    p = dict(layer.params)
    rng = np.random.default_rng(1)
    x = rng.integers(-128, 128, (p["N"], p["C"], p["H"], p["W"]))
    w = rng.integers(-128, 128, (p["K"], p["C"] // 2, p["R"], p["S"]))
    res = simulate(arch, run.layer, run.mapping, *im2col(layer, x, w))
    assert np.array_equal(res.outputs, direct_conv(layer, x, w)) and res.cycle_exact


def test_matmul_runs_one_batch_and_gemm_passes_through():
    mm = matmul(4, 6, 5, 7)
    run = as_gemm(mm, Mapping.build(mm, rows={"M": 2}, cols={"N": 2}, pe={"K": 7}))
    assert run.layer.bounds == {"M": 6, "N": 5, "K": 7} and "1 of 4" in run.note
    g = gemm(6, 5, 7)
    m = Mapping.build(g, rows={"M": 2})
    assert as_gemm(g, m) == as_gemm(g, m) and as_gemm(g, m).mapping is m


@pytest.mark.parametrize("dataflow", ["os", "ws", "is"])
def test_scale_down_keeps_folds_orders_and_ragged_edges(dataflow):
    arch = SystolicArch(rows=4, cols=4, dataflow=dataflow)
    layer = gemm(203, 157, 301)
    m = role_mapping(layer, dataflow, (4, 3, 37), (3, 0, 2), glb_order="KMN", dram_order="NKM")
    big = as_gemm(layer, m)
    small = scale_down(arch, big, 3000)
    assert model_cycles(arch, small.layer, small.mapping) <= 3000 < model_cycles(arch, layer, m)
    p0, p1 = make_plan(arch, layer, m), make_plan(arch, small.layer, small.mapping)
    assert p1.fold[:2] == p0.fold[:2] and p1.glb_order == p0.glb_order and p1.dram_order == p0.dram_order
    assert "scaled down from 203x157x301" in small.note
    ragged = [b % f for b, f in zip(p0.bounds, p0.fold)]
    assert [b % f for b, f in zip(p1.bounds[:2], p1.fold[:2])] == ragged[:2]
    assert scale_down(arch, small, 3000) is small
