"""`codesign evaluate`: tables, JSON, and one-line errors for bad input."""
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from codesign.cli import main

ROOT = Path(__file__).resolve().parent.parent
SMALL = {
    "name": "small",
    "workload": {"layers": [
        {"name": "fc", "op": "gemm", "M": 64, "N": 48, "K": 40},
        {"name": "c3", "op": "conv2d", "N": 1, "C": 16, "H": 14, "W": 14, "K": 24, "R": 3, "S": 3, "padding": 1},
        {"name": "dw", "op": "depthwise_conv2d", "N": 1, "C": 16, "H": 14, "W": 14, "R": 3, "S": 3, "padding": 1},
        {"name": "att", "op": "matmul", "B": 4, "M": 16, "N": 16, "K": 8},
    ]},
    "hardware": {"rows": 8, "cols": 4, "dataflow": "ws", "glb_kib": 64, "acc_kib": 16, "dram_bw_bytes": 8},
}


def write(tmp_path, cfg, name="c.yaml"):
    p = tmp_path / name
    p.write_text(cfg if isinstance(cfg, str) else yaml.safe_dump(cfg))
    return str(p)


def run(args, capsys):
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


def test_evaluate_table(tmp_path, capsys):
    code, out, err = run(["evaluate", write(tmp_path, SMALL), "--nests"], capsys)
    assert code == 0, err
    for name in ("fc", "c3", "dw", "att", "total:", "energy:", "area:", "[array]"):
        assert name in out


def test_evaluate_json_schema_and_totals(tmp_path, capsys):
    code, out, _ = run(["evaluate", write(tmp_path, SMALL), "--json"], capsys)
    assert code == 0
    d = json.loads(out)
    assert [l["name"] for l in d["layers"]] == ["fc", "c3", "dw", "att"]
    for l in d["layers"]:
        for k in ("name", "op", "macs", "compute_cycles", "latency_cycles", "energy_pj", "utilization", "mapping"):
            assert k in l
        assert 0 < l["utilization"] <= 1
    t = d["total"]
    assert t["macs"] == sum(l["macs"] * l["count"] for l in d["layers"])
    assert t["latency_cycles"] == sum(l["latency_cycles"] * l["count"] for l in d["layers"])
    assert t["energy_pj"] == pytest.approx(sum(l["energy_pj"] * l["count"] for l in d["layers"]))
    assert t["area_mm2"] > 0


@pytest.mark.parametrize("cfg", sorted(p.name for p in (ROOT / "configs").glob("*.yaml")))
def test_shipped_configs_load(cfg):
    from codesign.config import load_config
    c = load_config(ROOT / "configs" / cfg)
    assert len(c.workload) > 0


def test_zoo_model_arguments_include_layers(tmp_path, capsys):
    """bert_base's `layers` (encoder count) is a model argument, not a layer list."""
    cfg = {"workload": {"model": "bert_base", "seq_len": 64, "layers": 2}, "hardware": {"rows": 8, "cols": 8}}
    code, out, err = run(["evaluate", write(tmp_path, cfg), "--json"], capsys)
    assert code == 0, err
    d = json.loads(out)
    assert sum(l["count"] for l in d["layers"]) == 2 * 8


def test_zoo_model_evaluates(tmp_path, capsys):
    cfg = {"workload": {"model": "mobilenet_v2"}, "hardware": {"rows": 16, "cols": 16}}
    code, out, err = run(["evaluate", write(tmp_path, cfg), "--json"], capsys)
    assert code == 0, err
    assert json.loads(out)["total"]["macs"] == 300_774_272


def bad(**over):
    cfg = json.loads(json.dumps(SMALL))
    for k, v in over.items():
        sec, _, key = k.partition("__")
        if key:
            cfg[sec][key] = v
        else:
            cfg[sec] = v
    return cfg


@pytest.mark.parametrize("cfg,msg", [
    (bad(hardware__rowz=4), "hardware.rowz: unknown key"),
    (bad(hardware__rows="four"), "hardware.rows: must be a positive integer"),
    (bad(hardware__dataflow="xs"), "hardware.dataflow: must be one of os, ws, is"),
    (bad(hardware__rows=[4, 8]), "hardware.rows: this command needs a fixed value"),
    (bad(hardware__glb_kib={"low": 64}), "hardware.glb_kib: a range needs both low and high"),
    (bad(hardware__op_bits=16), "hardware.op_bits: horowitz45 has no 16-bit"),
    (bad(extra=1), "extra: unknown key"),
    (bad(workload={"model": "resnet34"}), "workload.model: unknown model 'resnet34'"),
    (bad(workload={"layers": [{"name": "x", "op": "gemm", "M": 4, "N": -3, "K": 4}]}),
     "workload.layers[0].N: must be a positive integer"),
    (bad(workload={"layers": [{"name": "x", "op": "conv2d", "N": 1, "C": 3, "H": 2, "W": 2, "K": 4,
                                "R": 5, "S": 5}]}), "does not fit input 2x2"),
    (bad(hardware__glb_kib=0.001), "layer 'fc': no mapping fits the glb"),
    ("name: [unclosed", "not valid YAML"),
])
def test_bad_config_one_line_error(tmp_path, capsys, cfg, msg):
    code, out, err = run(["evaluate", write(tmp_path, cfg)], capsys)
    assert code == 2
    assert msg in err, err
    assert err.count("\n") == 1 and err.startswith("error: ")
    assert "Traceback" not in err


def test_missing_file_and_no_traceback_in_subprocess(tmp_path):
    r = subprocess.run([sys.executable, "-m", "codesign.cli", "evaluate", str(tmp_path / "nope.yaml")],
                       capture_output=True, text=True)
    assert r.returncode == 2
    assert r.stderr.strip().endswith("no such config file") and "Traceback" not in r.stderr
