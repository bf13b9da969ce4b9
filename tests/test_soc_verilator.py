"""The SoC on Verilator (rtl/soc_verilator.py, tb_soc_verilator.cpp) and ``codesign verify --soc``.

The Verilated SoC with the testbench's C++ DRAM equals pysim's SoC with `DramModel` (CYCLES,
COMPUTE_CYCLES, outputs read from DRAM) and the cost model in ``soc`` timing, on four tilings
with partial-sum stores and reloads and words of several beats; two real ResNet-18 layers run
at full size through ``codesign verify --soc`` on one 16x16 build. Without a Verilator (the
`verilator` extra) or a C++ compiler the Verilator tests skip, saying why.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import yaml
from rtl_helpers import verify_rows
from test_soc import cases_for

from codesign.cli import main
from codesign.families.systolic.arch import SystolicArch
from codesign.families.systolic.rtl.regs import flag_bits
from codesign.families.systolic.rtl.soc_sim import simulate_soc
from codesign.families.systolic.rtl.soc_verilator import simulate_soc_verilator
from codesign.families.systolic.rtl.verilator import unavailable

WHY = unavailable()
needs_verilator = pytest.mark.skipif(WHY is not None, reason=f"no Verilator simulation: {WHY}")
CONFIG = str(Path(__file__).resolve().parents[1] / "configs" / "fixed_16x16_os.yaml")
#: ResNet-18 layers on the 16x16 os array, as their GEMMs (M, N, K)
LAYERS = {"layer4.0.downsample": (49, 512, 256), "fc": (1, 1000, 512)}
ROW = re.compile(r"^(PASS|FAIL)\s+(\S+)\s+CYCLES\s+(\d+)\s+model\s+(\d+)\s+COMPUTE_CYCLES\s+(\d+)\s+model\s+(\d+)\s+"
                 r"(bit exact|OUTPUTS DIFFER)")


@needs_verilator
def test_soc_on_verilator_equals_pysim_and_the_model():
    """4x4 ws at 2 bytes/cycle (a west word takes 2 beats, an accumulator row 8): every tiling of
    `test_soc` (one tile; dram splits with stores and reloads; ragged tiles) on one build."""
    arch = SystolicArch(timing="soc", rows=4, cols=4, dataflow="ws", dram_bw_bytes=2)
    cases = cases_for(4, 4, "ws", seed=11)
    runs, build = simulate_soc_verilator(arch, cases)
    for case, run, ref in zip(cases, runs, simulate_soc(arch, cases)):
        got, where = run.result, f"{case.layer.describe()} {case.mapping.oneline()}"
        assert got.bit_exact and got.cycle_exact, f"{where}: {got.summary()}"
        assert (got.cycles, got.compute_cycles) == (ref.cycles, ref.compute_cycles), f"{where}: pysim {ref.summary()}"
        assert np.array_equal(got.outputs, ref.outputs) and got.stall_cycles > 0
        assert run.clocks > got.cycles          # the host's AXI4-Lite writes are clocked too
    reload = 1 << flag_bits["reload"]
    assert any(d["flags"] & reload for d in _descriptors(arch, cases[1])), "case 1 must reload partial sums"
    again, second = simulate_soc_verilator(arch, cases)
    assert second.cached and second.exe == build.exe
    assert [r.result.cycles for r in again] == [r.result.cycles for r in runs]


def _descriptors(arch, case):
    from codesign.families.systolic.rtl.descriptors import make_program
    from codesign.families.systolic.rtl.soc_sim import soc_params
    return make_program(arch, case.layer, case.mapping, case.a, case.b, soc_params(arch, [case]), 2).descriptors


@needs_verilator
def test_resnet18_layers_on_the_soc_at_full_size(capsys):
    """`verify --soc`: two real layers over the pysim budget run on the Verilated SoC, unscaled,
    CYCLES = the soc model's latency (the config is in rtl timing: the header says so)."""
    out, rows = verify_rows(capsys, ["verify", CONFIG, "--soc"], LAYERS, ROW)
    head = out.splitlines()[0]
    assert "2 on Verilator at full size" in head and "model: the same mappings in timing soc" in head, head
    for m in rows:
        M, N, K = LAYERS[m[2]]
        cycles, model, compute, model_compute = map(int, m.group(3, 4, 5, 6))
        assert m[1] == "PASS" and m[7] == "bit exact" and (cycles, compute) == (model, model_compute), m[0]
        assert cycles > compute >= M * N * K // 256, m[0]
        line = next(l for l in out.splitlines() if l.startswith(m[0]))
        assert "exceed the pysim budget" in line and "scaled down" not in line
        assert m[2] == "fc" or "= direct convolution" in line


def _tiny_config(tmp_path, **hardware) -> str:
    raw = {"name": "tiny", "workload": {"layers": [{"name": "g", "op": "gemm", "M": 6, "N": 5, "K": 7}]},
           "hardware": {"rows": 2, "cols": 2, "dataflow": "os", "glb_kib": 4, "acc_kib": 1, **hardware}}
    cfg = tmp_path / "tiny.yaml"
    cfg.write_text(yaml.safe_dump(raw))
    return str(cfg)


def test_verify_soc_in_pysim_and_its_errors(tmp_path, capsys):
    """A tiny GEMM on the SoC in pysim (config in soc timing: no note); a bandwidth the AXI4
    port cannot have is one line (exit 2)."""
    assert main(["verify", _tiny_config(tmp_path, dram_bw_bytes=4, timing="soc"), "--soc", "--sim", "pysim"]) == 0
    out = capsys.readouterr().out.splitlines()
    m = ROW.match(out[1])
    assert m and m[1] == "PASS" and m[3] == m[4] and m[5] == m[6], out
    assert "1 on Amaranth pysim" in out[0] and "model: the same mappings" not in out[0], out[0]
    assert main(["verify", _tiny_config(tmp_path, dram_bw_bytes=12), "--soc", "--sim", "pysim"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "dram_bw_bytes" in err[0], err
