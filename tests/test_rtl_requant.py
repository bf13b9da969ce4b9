"""Requantized outputs: the RTL's read-out path (arithmetic shift, saturate to out_bits) = numpy."""
import numpy as np
import pytest
from rtl_helpers import operands, role_mapping

from codesign.families.systolic.arch import SystolicArch
from codesign.families.systolic.rtl import Case, RtlError, simulate, simulate_many
from codesign.families.systolic.rtl.sim import requant_shift, requantize, wrap
from codesign.workload import gemm


def test_requantize_shifts_arithmetically_and_saturates():
    x = np.array([5, -5, 6, -6, 2, -2, 1000, -1000, 0])
    assert requantize(x, 2, 8).tolist() == [1, -2, 1, -2, 0, -1, 127, -128, 0]   # floor(x / 4), clipped
    assert requantize(x, 0, 8).tolist() == [5, -5, 6, -6, 2, -2, 127, -128, 0]
    assert requantize(x, 0, 16).tolist() == x.tolist()
    assert requantize(np.array([7, -8, 8, -9]), 0, 4).tolist() == [7, -8, 7, -8]


@pytest.mark.parametrize("k", [1, 2, 9, 64, 576, 4608])
def test_default_shift_is_the_streaming_rule(k):
    """One requantization rule in both families: at out_bits = op_bits it is the streaming engines'."""
    from codesign.families.streaming.rtl.plan import requant_shift as streaming_shift
    assert requant_shift(k, 8, 8) == streaming_shift(k, 8)
    assert requant_shift(k, 4, 4) == streaming_shift(k, 4)
    assert requant_shift(k, 8, 16) == max(0, requant_shift(k, 8, 8) - 8)    # 8 more output bits, 8 less shift


def _expected(a, b, acc_bits, shift, out_bits):
    """Independent numpy: the exact product wrapped to acc_bits, then requantized."""
    return requantize(wrap(a.astype(np.int64) @ b.astype(np.int64), acc_bits), shift, out_bits)


@pytest.mark.parametrize("dataflow", ["os", "ws"])
def test_rtl_requantized_outputs_bit_exact(dataflow):
    arch = SystolicArch(rows=3, cols=4, dataflow=dataflow)
    rng = np.random.default_rng(7)
    layer = gemm(7, 6, 13)
    # K split at dram, outermost: raw partial sums leave and come back, finals are requantized
    t = layer.bounds[{"os": "K", "ws": "M"}[dataflow]]
    m = role_mapping(layer, dataflow, (3, 4, -(-t // 2)), (0, 0, 1), glb_order="MNK", dram_order="KNM")
    a, b = operands(layer, rng)
    cases = [Case(layer, m, a, b, shift) for shift in (0, 6, None)]
    results = simulate_many(arch, cases)
    default = requant_shift(13, 8, 8)
    for case, res in zip(cases, results):
        shift = default if case.shift is None else case.shift
        assert res.shift == shift
        want = _expected(a, b, 32, shift, 8)
        assert np.array_equal(res.quantized, want), res.summary()
        assert res.bit_exact and res.cycle_exact, res.summary()
        assert np.array_equal(res.outputs, a @ b)                       # the accumulators stay exact
    q0, q6, qd = (r.quantized for r in results)
    assert q0.max() == 127 and q0.min() == -128                           # shift 0: saturates both ways
    assert np.abs(qd).max() >= 32                                         # default: most of the int8 range
    assert not np.array_equal(q6, qd) and not np.array_equal(q0, q6)


@pytest.mark.parametrize("out_bits, shift", [(4, 9), (16, 1)])
def test_rtl_other_output_widths_through_the_ports(out_bits, shift):
    arch = SystolicArch(rows=2, cols=3, dataflow="ws", out_bits=out_bits)
    layer = gemm(5, 7, 9)
    m = role_mapping(layer, "ws", (2, 3, 3), (1, 1, 1), glb_order="KMN", dram_order="KNM")
    a, b = operands(layer, np.random.default_rng(3))
    ports = simulate(arch, layer, m, a, b, backdoor=False, shift=shift)
    back = simulate(arch, layer, m, a, b, shift=shift)
    want = _expected(a, b, 32, shift, out_bits)
    assert np.array_equal(ports.quantized, want) and np.array_equal(back.quantized, want)
    assert ports.bit_exact and back.bit_exact


def test_bad_shift_rejected():
    arch = SystolicArch(rows=2, cols=2, dataflow="os")
    layer = gemm(2, 2, 2)
    m = role_mapping(layer, "os", (2, 2, 2))
    z = np.zeros((2, 2), int)
    for bad in (-1, 32, 1.5):
        with pytest.raises(RtlError, match=r"^requant_shift: must be an integer in 0..31"):
            simulate(arch, layer, m, z, z, shift=bad)
