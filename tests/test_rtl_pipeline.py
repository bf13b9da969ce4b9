"""Pipelined folds: back-to-back folds on the same accumulator rows, the utilization
target measured on a 16x16 RTL, and the bound model's compute bound under the
``max(t, R)`` fold floor.

The schedule (rtl/controller.py): a fold lasts max(t, R) cycles and the next
one starts right after it; os reads a fold's sums out while the next fold
streams, ws/is preload the next fold's weights into shadow registers.
"""
import numpy as np
import pytest
from rtl_helpers import operands, role_mapping
from test_rtl_cycles import check

from codesign.families.systolic.arch import SystolicArch
from codesign.families.systolic.bounds import FOLDS, GTILES, K_TERMS, SUT, Scorer
from codesign.families.systolic.cost import evaluate
from codesign.families.systolic.dataflow import ROLE_DIMS
from codesign.families.systolic.mapping import Mapping, MappingBatch
from codesign.families.systolic.rtl import Case, model_cycles, simulate
from codesign.workload import gemm


@pytest.mark.parametrize("dataflow", ["os", "ws", "is"])
@pytest.mark.parametrize("R,C", [(1, 1), (1, 3), (3, 1), (2, 2)])
def test_reduction_folds_back_to_back_on_the_same_rows(R, C, dataflow):
    """The reduction innermost with t = 1 (and ragged t): consecutive folds
    read-modify-write the same accumulator rows max(1, R) cycles apart; on a
    one-row array one cycle apart (the read in the cycle of the write)."""
    rng = np.random.default_rng(R * 10 + C)
    dims = ROLE_DIMS[dataflow]
    k_role = dims.index("K")
    cases = []
    for shape in ((3, 4, 5), (5, 2, 7)):
        layer = gemm(*shape)
        for t in (1, 2):
            fold = [min(R, layer.bounds[dims[0]]), min(C, layer.bounds[dims[1]]), t]
            if k_role == 0:
                fold[0] = min(R, 2, layer.bounds["K"])     # ws/is: K on the rows, ragged
            order = "".join(d for d in "MNK" if d != "K") + "K"   # K innermost: same rows back to back
            m = role_mapping(layer, dataflow, tuple(fold), (0, 0, 0), glb_order=order)
            cases.append(Case(layer, m, *operands(layer, rng)))
    check(SystolicArch(rows=R, cols=C, dataflow=dataflow), cases)


@pytest.mark.parametrize("dataflow", ["os", "ws"])
def test_utilization_at_16x16_streamed_64(dataflow):
    """The target, on the RTL: 8 folds of 16x16 PEs streaming 64 vectors each
    (one glb tile, so fill and drain are amortized over 8 folds only) run at
    >= 90% utilization (before pipelining: 67%; benchmarks/bench_rtl.py --utilization)."""
    arch = SystolicArch(rows=16, cols=16, dataflow=dataflow)
    row, col, time_dim = ROLE_DIMS[dataflow]
    layer = gemm(**{row: 64, col: 32, time_dim: 64})
    m = Mapping.build(layer, rows={row: 16}, cols={col: 16}, pe={time_dim: 64}, glb={row: 4, col: 2})
    a, b = operands(layer, np.random.default_rng(16))
    res = simulate(arch, layer, m, a, b, backdoor=True)
    assert res.bit_exact and res.cycles == res.model_cycles == model_cycles(arch, layer, m)
    assert layer.macs / (res.cycles * 256) >= 0.9


def _P(**terms):
    P = np.ones((1, len(K_TERMS)))
    for k, v in terms.items():
        P[0, {"folds": FOLDS, "sum_t": SUT, "glb_tiles": GTILES}[k]] = v
    return P


def test_bound_compute_is_exact_when_folds_share_a_side_of_the_floor():
    """Compute bound = max(sum t, R * folds) (+ tiles): equal to cost.evaluate when
    every fold streams >= R or every fold <= R vectors, below it otherwise."""
    arch = SystolicArch(rows=4, cols=4, dataflow="os")
    sc = Scorer.of(gemm(4, 4, 10), arch)
    tile = 2 + 4 + 4
    for K, pe, want in ((10, 5, 10), (10, 6, 6 + 4), (10, 2, 5 * 4), (12, 3, 4 * 4)):
        layer = gemm(4, 4, K)
        m = Mapping.build(layer, rows={"M": 4}, cols={"N": 4}, pe={"K": pe}, glb={"K": -(-K // pe)})
        cost = int(evaluate(layer, arch, MappingBatch.from_mappings([m])).compute_cycles[0])
        assert cost == tile + want == model_cycles(arch, layer, m)
        folds = -(-K // pe)
        bound = sc.compute(_P(folds=folds, sum_t=K, glb_tiles=1))[0]
        if min(pe, K - (folds - 1) * pe) >= 4 or pe <= 4:
            assert bound == cost
        else:                           # t = 6 and 4 vs R = 4: one-sided too
            assert bound <= cost
    layer = gemm(4, 4, 7)               # t = 5 and 2 around R = 4: strictly below
    m = Mapping.build(layer, rows={"M": 4}, cols={"N": 4}, pe={"K": 5}, glb={"K": 2})
    cost = int(evaluate(layer, arch, MappingBatch.from_mappings([m])).compute_cycles[0])
    assert cost == tile + 5 + 4
    assert sc.compute(_P(folds=2, sum_t=7, glb_tiles=1))[0] == tile + 8 < cost
