"""scripts/export_onnx.py run for real (PyTorch optional: those tests skip without it), then `codesign import`."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from codesign.cli import main
from codesign.workload.onnx_import import import_model
from codesign.workload.zoo import zoo

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "export_onnx.py"
# torchvision's ResNet18_Weights.IMAGENET1K_V1 meta "_ops": 1.814 (GMACs at 224x224, torchvision/models/resnet.py)
RESNET18_GMACS = 1.814


def _script(*args, cwd, env_path=None):
    env = None if env_path is None else {**os.environ, "PYTHONPATH": str(env_path)}
    return subprocess.run([sys.executable, str(SCRIPT), *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, env=env)


def test_without_torch_the_script_says_how_to_install_it(tmp_path):
    code = ("import runpy, sys; sys.modules['torch'] = None; sys.argv = ['export_onnx.py', 'resnet18', '-o', 'a.onnx'];"
            f" runpy.run_path({str(SCRIPT)!r}, run_name='__main__')")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 1 and "PyTorch is not installed" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "a.onnx").exists()


@pytest.fixture(scope="module")
def r18(tmp_path_factory):
    """scripts/export_onnx.py resnet18, run once: (its output, the .onnx path)."""
    pytest.importorskip("torch")
    d = tmp_path_factory.mktemp("r18")
    r = _script("resnet18", "-o", "r18.onnx", cwd=d)
    assert r.returncode == 0, r.stderr
    return r.stdout, d / "r18.onnx"


def test_exported_resnet18_imports_as_the_zoo_resnet18(r18, tmp_path, capsys):
    stdout, path = r18
    assert "wrote r18.onnx (input [1, 3, 224, 224])" in stdout
    res = import_model(path)
    assert round(res.macs / 1e9, 3) == RESNET18_GMACS and not res.not_modelled
    ours, theirs = res.network.unique(), zoo("resnet18").unique()
    assert len(ours) == len(theirs)
    for (a, ca), (b, cb) in zip(ours, theirs):
        assert a.shape_key() == b.shape_key() and ca == cb, (a.name, b.name)
    assert main(["import", str(path), "-o", str(tmp_path / "r18.yaml")]) == 0
    assert f"total: {res.macs:,} MACs in 21 layers" in capsys.readouterr().out


def test_dynamic_batch_and_a_module_attribute(tmp_path, capsys):
    pytest.importorskip("torch")
    (tmp_path / "mynets.py").write_text(
        "import torch.nn as nn\n"
        "def tiny():\n"
        "    return nn.Sequential(nn.Conv2d(3, 16, 3, stride=2, padding=1), nn.BatchNorm2d(16), nn.ReLU6(),\n"
        "                         nn.Conv2d(16, 16, 3, padding=1, groups=16), nn.ReLU(), nn.AdaptiveAvgPool2d(1),\n"
        "                         nn.Flatten(), nn.Linear(16, 10), nn.Softmax(dim=1))\n")
    r = _script("mynets:tiny", "-o", "tiny.onnx", "--shape", "1,3,32,32", "--dynamic-batch", cwd=tmp_path,
                env_path=tmp_path)
    assert r.returncode == 0 and "next: codesign import tiny.onnx --batch N" in r.stdout, r.stderr
    assert main(["import", str(tmp_path / "tiny.onnx")]) == 2
    assert "dimension 0 ('batch') is symbolic; give --batch or --input input=D1,D2,.." in capsys.readouterr().err
    res = import_model(tmp_path / "tiny.onnx", batch=4)
    assert [(n.op, n.macs) for n in res.layers] == [("conv2d", 4 * 16 * 16 * 16 * 3 * 9),
                                                   ("depthwise_conv2d", 4 * 16 * 16 * 16 * 9),
                                                   ("gemm", 4 * 10 * 16)]
    assert {c.op for c in res.non_mac} == {"clip", "relu", "global_avgpool", "softmax"} and not res.not_modelled


@pytest.mark.parametrize("family", [
    {"family": "systolic", "rows": 16, "cols": 16, "dataflow": "ws", "glb_kib": 128, "acc_kib": 64,
     "dram_bw_bytes": 16, "clock_mhz": 1000, "tech": "horowitz45", "timing": "rtl"},
    {"family": "streaming", "op_bits": 8, "acc_bits": 32, "clock_mhz": 200, "lut": 230400, "dsp": 1728,
     "bram18": 624, "dram_bw_bytes": 16, "tech": "horowitz45", "timing": "rtl"}], ids=["systolic", "streaming"])
def test_exported_resnet18_evaluates_as_the_zoo_one_on_both_families(r18, tmp_path, capsys, family):
    import yaml
    totals = []
    for name, workload in [("onnx", {"onnx": str(r18[1])}), ("zoo", {"model": "resnet18"})]:
        (tmp_path / f"{name}.yaml").write_text(yaml.safe_dump({"name": name, "workload": workload,
                                                               "hardware": family}))
        assert main(["evaluate", str(tmp_path / f"{name}.yaml"), "--json"]) == 0
        totals.append(json.loads(capsys.readouterr().out)["total"])
    assert totals[0] == totals[1] and totals[0]["latency_cycles"] > 0
