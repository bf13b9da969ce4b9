"""The RTL computes exactly what numpy computes: int8 x int8 -> int32, wrapping like two's complement."""
import numpy as np
import pytest
from rtl_helpers import operands, role_mapping

from codesign.families.systolic.arch import SystolicArch
from codesign.families.systolic.mapping import Mapping
from codesign.families.systolic.rtl import Case, RtlError, simulate, simulate_many
from codesign.families.systolic.rtl.sim import golden, wrap
from codesign.workload import conv2d, gemm


@pytest.mark.parametrize("dataflow", ["os", "ws", "is"])
def test_random_int8_bit_exact(dataflow):
    arch = SystolicArch(rows=3, cols=4, dataflow=dataflow)
    rng = np.random.default_rng(1)
    cases = []
    for (M, N, K), glb, order in (((7, 5, 9), (0, 0, 0), "KNM"), ((11, 6, 13), (2, 0, 2), "NMK"),
                                  ((1, 1, 1), (0, 0, 0), "MNK")):
        layer = gemm(M, N, K)
        t = layer.bounds[{"os": "K", "ws": "M", "is": "N"}[dataflow]]
        m = role_mapping(layer, dataflow, (3, 4, -(-t // 2)), glb, glb_order=order, dram_order=order[::-1])
        cases.append(Case(layer, m, *operands(layer, rng)))
    for case, res in zip(cases, simulate_many(arch, cases)):
        want = case.a.astype(np.int64) @ case.b.astype(np.int64)
        assert res.outputs.dtype == np.int64 and res.outputs.shape == want.shape
        assert np.array_equal(res.outputs, want), res.summary()
        assert res.bit_exact


@pytest.mark.parametrize("dataflow", ["os", "ws", "is"])
def test_extreme_operands_long_reduction_exceeds_int16(dataflow):
    """K = 640 products of -128 x -128 (and of -128 x 127): sums far beyond int16."""
    arch = SystolicArch(rows=2, cols=2, dataflow=dataflow)
    layer = gemm(3, 2, 640)
    t = layer.bounds[{"os": "K", "ws": "M", "is": "N"}[dataflow]]
    m = role_mapping(layer, dataflow, (2, 2, t), (0, 0, 0))
    a = np.full((3, 640), -128)
    b = np.full((640, 2), -128)
    b[:, 1] = 127
    res = simulate(arch, layer, m, a, b)
    assert res.outputs[0, 0] == 640 * 128 * 128 and res.outputs[0, 1] == -640 * 128 * 127
    assert np.abs(res.outputs).max() > 2 ** 15
    assert res.bit_exact and res.cycle_exact, res.summary()


def test_accumulator_wraps_at_acc_bits():
    """With a 16-bit accumulator the same reduction wraps exactly like numpy's two's complement."""
    arch = SystolicArch(rows=2, cols=2, dataflow="os", acc_bits=16)
    layer = gemm(2, 2, 600)
    m = role_mapping(layer, "os", (2, 2, 300), (0, 0, 1))          # two K tiles: wraps across a reload
    a, b = np.full((2, 600), -128), np.full((600, 2), -128)
    res = simulate(arch, layer, m, a, b)
    exact = 600 * 128 * 128
    assert res.outputs[0, 0] == wrap(np.array(exact), 16) != exact
    assert np.array_equal(res.outputs, golden(a, b, 16))


def test_host_ports_equal_memory_backdoor():
    """The host protocol through the ports (incl. partial-sum reload) gives the same results and cycles."""
    arch = SystolicArch(rows=2, cols=3, dataflow="ws")
    layer = gemm(5, 7, 9)
    # K split at the dram level, outermost: output tiles leave the accumulator and come back
    m = role_mapping(layer, "ws", (2, 3, 3), (1, 1, 1), glb_order="KMN", dram_order="KNM")
    a, b = operands(layer, np.random.default_rng(2))
    via_ports = simulate(arch, layer, m, a, b, backdoor=False)
    backdoor = simulate(arch, layer, m, a, b, backdoor=True)
    assert via_ports.glb_tiles > 4
    assert via_ports.bit_exact and backdoor.bit_exact
    assert via_ports.tile_cycles == backdoor.tile_cycles


def test_rejects_what_it_cannot_run():
    arch = SystolicArch(rows=2, cols=2, dataflow="os")
    layer = gemm(4, 4, 4)
    ok = role_mapping(layer, "os", (2, 2, 4))
    with pytest.raises(RtlError, match="outside int8"):
        simulate(arch, layer, ok, np.full((4, 4), 128), np.zeros((4, 4), int))
    with pytest.raises(RtlError, match="must be a 4x4"):
        simulate(arch, layer, ok, np.zeros((4, 3), int), np.zeros((4, 4), int))
    with pytest.raises(RtlError, match="only M on the rows"):
        simulate(arch, layer, Mapping.build(layer, rows={"N": 2}), np.zeros((4, 4), int), np.zeros((4, 4), int))
    with pytest.raises(RtlError, match="needs 4x2 PEs"):
        simulate(arch, layer, Mapping.build(layer, rows={"M": 4}, cols={"N": 2}),
                 np.zeros((4, 4), int), np.zeros((4, 4), int))
    conv = conv2d(1, 2, 4, 4, 2, 3, 3)
    with pytest.raises(RtlError, match="im2col"):
        simulate(arch, conv, Mapping.build(conv), np.zeros((4, 18), int), np.zeros((18, 2), int))
