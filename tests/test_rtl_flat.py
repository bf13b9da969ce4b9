"""Flattened conv mappings (`Mapping.flat`, e.g. `mapping: scalesim`) run on the RTL.

The RTL runs a conv as its im2col GEMM (`rtl.gemm_view.as_gemm`); a flattened
mapping's dims are the flattened layer's (M = N*P*Q; with ``im2col``, CRS too),
collapsed onto the GEMM the same way. With ``im2col`` the flattened layer *is*
that GEMM, so the RTL's cycles equal the model's compute cycles of the layer
itself; with ``pixels`` the reduction's C, R, S factors multiply as for an
unflattened conv, and the RTL equals the model of the GEMM it runs.
"""
import numpy as np
import pytest

from codesign.families.systolic.arch import SystolicArch
from codesign.families.systolic.cost import evaluate_mapping
from codesign.families.systolic.flat import flattened
from codesign.families.systolic.mapping import Mapping
from codesign.families.systolic.rtl import model_cycles, simulate_many
from codesign.families.systolic.rtl.gemm_view import as_gemm, direct_conv, im2col
from codesign.families.systolic.rtl.sim import Case
from codesign.families.systolic.space import random_batch
from codesign.workload import conv2d

LAYER = conv2d(2, 3, 7, 6, 5, 3, 2, stride=2, padding=1)


def _feasible_flat_mappings(arch, kind, n, seed):
    flat = flattened(LAYER, kind)
    batch = random_batch(flat, arch, 60, seed=seed)
    out = []
    for i in range(len(batch.factors)):
        b = batch[i]
        m = Mapping(LAYER.name, b.dims, b.bounds, b.factors, b.order, kind)
        if evaluate_mapping(LAYER, arch, m)["infeasible"] == "ok":
            out.append(m)
        if len(out) == n:
            return out
    raise AssertionError(f"fewer than {n} feasible {kind} mappings")


@pytest.mark.parametrize("dataflow", ["os", "ws", "is"])
def test_flattened_mappings_are_bit_and_cycle_exact(dataflow):
    arch = SystolicArch(rows=3, cols=4, dataflow=dataflow)
    p = dict(LAYER.params)
    rng = np.random.default_rng(3)
    x = rng.integers(-128, 128, (p["N"], p["C"], p["H"], p["W"]))
    w = rng.integers(-128, 128, (p["K"], p["C"], p["R"], p["S"]))
    a, b = im2col(LAYER, x, w)
    cases, expect = [], []
    for kind in ("pixels", "im2col"):
        for m in _feasible_flat_mappings(arch, kind, 2, seed=7):
            run = as_gemm(LAYER, m)
            assert "flattened" in run.note
            cycles = model_cycles(arch, run.layer, run.mapping)
            if kind == "im2col":        # the flattened layer is the GEMM: the layer's own model
                assert cycles == evaluate_mapping(LAYER, arch, m)["compute_cycles"]
            cases.append(Case(run.layer, run.mapping, a, b))
            expect.append(cycles)
    golden = direct_conv(LAYER, x, w)
    for res, cycles in zip(simulate_many(arch, cases), expect):
        assert np.array_equal(res.outputs, golden)
        assert res.cycles == cycles and res.cycle_exact
