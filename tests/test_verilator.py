"""The systolic RTL on Verilator (rtl/verilator.py, rtl/verilator_sim.py, tb_verilator.cpp).

Full-size ResNet-18 layers bit exact and cycle exact through ``codesign
verify``; the C++ testbench's host protocol against pysim's (tile by tile,
with partial sums leaving and re-entering the accumulator); the build cache.
Without a Verilator (the `verilator` extra) these skip, saying why.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from codesign.cli import main
from codesign.families.systolic.arch import SystolicArch
from codesign.families.systolic.rtl.plan import make_plan
from codesign.families.systolic.rtl.params import RtlParams
from codesign.families.systolic.rtl.sim import Case, simulate_many
from codesign.families.systolic.rtl.verilator import build, unavailable
from codesign.families.systolic.rtl.verilator_sim import (RELOAD, host_program, pack_lanes, simulate_verilator,
                                                          unpack_lanes)
from codesign.workload import gemm
from rtl_helpers import operands, role_mapping, verify_rows

WHY = unavailable()
needs_verilator = pytest.mark.skipif(WHY is not None, reason=f"no Verilator simulation: {WHY}")
CONFIG = str(Path(__file__).resolve().parents[1] / "configs" / "fixed_16x16_os.yaml")
#: ResNet-18's layer4.0 convs on the 16x16 os array, as their im2col GEMMs (M, N, K)
LAYERS = {"layer4.0.downsample": (49, 512, 256), "layer4.0.conv1": (49, 512, 2304)}
ROW = re.compile(r"^(PASS|FAIL)\s+(\S+)\s+RTL\s+(\d+) cycles\s+model\s+(\d+)\s+(bit exact|OUTPUTS DIFFER)")


@pytest.mark.parametrize("bits,lanes", [(8, 16), (5, 3), (12, 7), (32, 4), (16, 1)])
def test_lanes_pack_and_unpack_like_the_port_layout(bits, lanes):
    rng = np.random.default_rng(bits)
    vals = rng.integers(-(1 << (bits - 1)), 1 << (bits - 1), (9, lanes))
    limbs = pack_lanes(vals, bits)
    assert limbs.shape == (9, -(-lanes * bits // 32)) and limbs.dtype == np.dtype("<u4")
    as_int = [sum(int(x) << (32 * i) for i, x in enumerate(row)) for row in limbs]
    lane_mask = (1 << bits) - 1
    assert as_int == [sum((int(v) & lane_mask) << (i * bits) for i, v in enumerate(row)) for row in vals]
    assert np.array_equal(unpack_lanes(limbs, lanes, bits), vals)


@needs_verilator
def test_resnet18_layers_at_full_size_cycle_exact(capsys):
    """Two real layers over the pysim budget: `auto` runs them on Verilator, unscaled, and both match."""
    out, rows = verify_rows(capsys, ["verify", CONFIG], LAYERS, ROW)
    assert "2 on Verilator at full size" in out and "scaled down" not in out
    for m in rows:
        M, N, K = LAYERS[m[2]]
        rtl, model = int(m[3]), int(m[4])
        assert m[1] == "PASS" and m[5] == "bit exact" and rtl == model, m[0]
        assert rtl >= M * N * K // 256, f"{m[2]}: {rtl} cycles cannot do {M * N * K} MACs on 256 PEs"
        line = next(l for l in out.splitlines() if l.startswith(m[0]))
        assert f"M={M} N={N} K={K}" in line and "exceed the pysim budget" in line and "= direct convolution" in line


@needs_verilator
@pytest.mark.parametrize("ports", [{}, {"glb_read_bits": 24, "acc_write_bits": 80}])
def test_same_host_protocol_as_pysim_tile_by_tile(ports):
    """ws 4x4, K split across dram tiles with the output tile changing in between: partial sums are read
    out and written back. Outputs and per-tile cycles equal pysim's (through the ports, no backdoor);
    with narrow ports both are paced (`pacing`) and equal the model too."""
    arch = SystolicArch(rows=4, cols=4, dataflow="ws", **ports)
    rng = np.random.default_rng(7)
    cases = []
    for (M, N, K), fold, glb, dram_order in (((10, 9, 13), (4, 4, 5), (1, 2, 2), "KNM"),
                                            ((7, 6, 11), (3, 4, 4), (2, 1, 1), "KMN")):
        layer = gemm(M, N, K)
        m = role_mapping(layer, "ws", fold, glb, "NMK", dram_order)
        cases.append(Case(layer, m, *operands(layer, rng)))
    plans = [make_plan(arch, c.layer, c.mapping) for c in cases]
    params = RtlParams.for_plans(arch, plans)
    assert params.paced == bool(ports)
    runs, _ = simulate_verilator(arch, cases, params=params)
    ref = simulate_many(arch, cases, params=params, backdoor=False)
    for run, want, plan in zip(runs, ref, plans):
        got = run.result
        assert got.bit_exact and got.cycle_exact, got.summary()
        assert np.array_equal(got.outputs, want.outputs) and got.tile_cycles == want.tile_cycles
        assert np.array_equal(got.quantized, want.quantized) and got.shift == want.shift
        assert run.clocks > got.cycles      # loads and reads are clocked too
    prog, _, _ = host_program(params, arch, cases[0], plans[0])
    assert any(c.size == 2 and c[0] == RELOAD for c in prog.chunks), "the first case must reload partial sums"
    again = build(params)
    assert again.cached and again.exe.is_file()


def test_sim_option_errors(capsys):
    code = main(["verify", CONFIG, "--layer", "fc", "--sim", "verilator", "--scale-down"])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: ") and err.count("\n") == 1 and "--scale-down" in err
    with pytest.raises(SystemExit) as exit_:
        main(["verify", CONFIG, "--sim", "spice"])
    assert exit_.value.code == 2 and "--sim" in capsys.readouterr().err
