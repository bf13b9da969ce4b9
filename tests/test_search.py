"""Co-design sweeps: end to end, constraints, reproducibility, joint tilings, config errors."""
import json
import math

import numpy as np
import pandas as pd
import pytest
import yaml

import codesign
from codesign.cli import main
from codesign.config import load_config, parse_config
from codesign.families.systolic.cost import evaluate_mapping
from codesign.families.systolic.mapping import Mapping
from codesign.search.pareto import hypervolume, pareto_mask
from codesign.search.results import design_of, load_design
from codesign.search.settings import parse_search
from codesign.search.sweep import run_sweep

LAYERS = [
    {"name": "fc", "op": "gemm", "M": 64, "N": 48, "K": 40},
    {"name": "c3", "op": "conv2d", "N": 1, "C": 16, "H": 14, "W": 14, "K": 24, "R": 3, "S": 3, "padding": 1},
]
HARDWARE = {"rows": [4, 8, 16], "cols": [4, 8, 16], "dataflow": ["os", "ws", "is"],
            "glb_kib": [1, 4, 16, 64], "acc_kib": 16, "dram_bw_bytes": [4, 16]}


def config(tmp_path, name="tiny", **search):
    raw = {"name": name, "workload": {"layers": LAYERS}, "hardware": HARDWARE,
           "search": {"n_trials": 40, "batch": 8, "seed": 0, **search}}
    p = tmp_path / f"{name}.yaml"
    p.write_text(yaml.safe_dump(raw))
    return str(p)


def sweep(path, out, **kw):
    cfg = load_config(path)
    rep = run_sweep(cfg, parse_search(cfg), out, progress=False, **kw)
    return rep, codesign.load_results(out)


def test_end_to_end_cli(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["sweep", config(tmp_path), "-q"]) == 0
    out = capsys.readouterr().out
    assert "results/tiny" in out and "codesign pareto results/tiny" in out and "--trial" in out
    res = tmp_path / "results" / "tiny"
    for f in ("trials.parquet", "pareto.csv", "pareto.png", "hypervolume.png", "study.journal"):
        assert (res / f).is_file() and (res / f).stat().st_size > 0, f
    df = codesign.load_results(res)
    assert len(df) == 40 and df["trial"].tolist() == list(range(40))
    assert not df.duplicated(subset=list(HARDWARE)).any()       # a trial is a distinct design
    for col in ("rows", "cols", "dataflow", "glb_kib", "acc_kib", "dram_bw_bytes", "latency_cycles", "energy_pj",
                "area_mm2", "edp", "power_mw", "feasible", "violation.fits", "mappings", "layer_costs", "eval_s"):
        assert col in df.columns, col
    assert set(json.loads(df["mappings"].iloc[0])) == {"fc", "c3"}
    # the reported figures are those of a fresh evaluation of the same design
    from codesign.families.systolic.network import evaluate_network
    cfg = load_config(config(tmp_path))
    d = load_design(res, 7)
    net = evaluate_network(cfg.workload, d.arch)
    assert d.row["latency_cycles"] == net.latency_cycles and d.row["energy_pj"] == pytest.approx(net.energy_pj)
    assert d.mappings == {r.layer.name: r.mapping.to_dict() for r in net.layers}
    front = codesign.pareto_front(df)
    assert 0 < len(front) <= int(df["feasible"].sum())
    assert list(pd.read_csv(res / "pareto.csv")["trial"]) == list(front["trial"])
    assert main(["pareto", str(res)]) == 0
    table = capsys.readouterr().out
    assert "Pareto-optimal" in table and str(front["trial"].iloc[0]) in table
    # a trial as a fixed-design config reproduces its figures with `codesign evaluate`
    n = int(front["trial"].iloc[-1])
    assert main(["pareto", str(res), "--trial", str(n)]) == 0
    fixed = parse_config(yaml.safe_load(capsys.readouterr().out))
    again = evaluate_network(fixed.workload, fixed.arch, objective=fixed.objective, pins=fixed.pins)
    row = df[df["trial"] == n].iloc[0]
    assert (again.latency_cycles, again.energy_pj) == (row["latency_cycles"], pytest.approx(row["energy_pj"]))


def test_rerun_continues_to_n_trials(tmp_path):
    path = config(tmp_path)
    rep1, df1 = sweep(path, tmp_path / "r", n_trials=24)
    rep2, df2 = sweep(path, tmp_path / "r")
    assert (rep1.n_new, rep2.n_new, len(df2)) == (24, 16, 40)
    pd.testing.assert_frame_equal(df2.iloc[:24].reset_index(drop=True), df1, check_like=True)
    rep3, df3 = sweep(path, tmp_path / "r")          # already done: nothing new, results rewritten
    assert rep3.n_new == 0 and len(df3) == 40


def test_same_seed_same_trials(tmp_path):
    path = config(tmp_path, sampler="nsga2")
    _, a = sweep(path, tmp_path / "a")
    _, b = sweep(path, tmp_path / "b")
    timing = ["eval_s", "worker", "datetime_complete"]
    pd.testing.assert_frame_equal(a.drop(columns=timing), b.drop(columns=timing))
    _, c = sweep(config(tmp_path, name="tiny", seed=1), tmp_path / "c")
    assert not a[["rows", "cols", "dataflow"]].equals(c[["rows", "cols", "dataflow"]])


def test_constraints_respected_on_front(tmp_path):
    limit, layer_limit = 0.45, 30_000
    path = config(tmp_path, n_trials=64, constraints={
        "area_mm2": {"max": limit}, "layers": [{"layer": "c3", "latency_cycles": {"max": layer_limit}}]})
    _, df = sweep(path, tmp_path / "r")
    assert (~df["feasible"]).any() and df["feasible"].any()     # the bounds bite, and can be met
    assert {"violation.area_mm2.max", "violation.c3/latency_cycles.max"} <= set(df.columns)
    front = codesign.pareto_front(df)
    assert (front["area_mm2"] <= limit).all()
    assert all(json.loads(s)["c3"]["latency_cycles"] <= layer_limit for s in front["layer_costs"])
    bad = df[df["area_mm2"] > limit]
    assert not bad["feasible"].any() and (bad["violation.area_mm2.max"] > 0).all()


def test_layer_that_fits_nowhere_is_an_infeasible_trial(tmp_path):
    raw = {"name": "nofit", "workload": {"layers": [
        {"name": "big", "op": "conv2d", "N": 1, "C": 512, "H": 7, "W": 7, "K": 512, "R": 7, "S": 7}]},
        "hardware": {"rows": [4, 8], "cols": 8, "glb_kib": [0.001, 64], "acc_kib": [0.001, 16]},
        "search": {"n_trials": 16, "batch": 8, "sampler": "random", "seed": 0}}
    p = tmp_path / "nofit.yaml"
    p.write_text(yaml.safe_dump(raw))
    _, df = sweep(str(p), tmp_path / "r")
    assert len(df) == 16
    bad = df[df["violation.fits"] > 0]
    assert len(bad) and bad["latency_cycles"].isna().all() and not bad["feasible"].any()
    assert bad["reason"].str.contains("big").all()


def test_joint_mode_gives_valid_tilings(tmp_path):
    path = config(tmp_path, name="joint", mapping="joint", n_trials=96, batch=32)
    _, df = sweep(path, tmp_path / "r")
    cfg = load_config(path)
    ok = df[df["feasible"]]
    assert len(ok) >= 5 and (~df["feasible"]).any()
    assert df["feasible"][:32].mean() > 0.5          # the first batch starts from the mapper's tilings
    for _, row in ok.iterrows():
        design = design_of(row)
        arch = design.arch
        costs = json.loads(row["layer_costs"])
        for name, d in design.mappings.items():
            layer = cfg.workload.layer(name)
            m = Mapping.build(layer, **d)            # validates the tiling
            c = evaluate_mapping(layer, arch, m)
            assert c["infeasible"] == "ok", (name, d)
            assert c["latency_cycles"] == costs[name]["latency_cycles"]
            assert math.prod(m.level("rows").values()) <= arch.rows
            assert math.prod(m.level("cols").values()) <= arch.cols


@pytest.mark.parametrize("search, message", [
    ({"sampler": "annealing"}, "error: search.sampler: must be one of nsga2, tpe, random, grid"),
    ({"objectives": ["latency_cycles", "speed"]}, "error: search.objectives[1]: unknown objective 'speed'"),
    ({"mapping": "both"}, "error: search.mapping: must be one of nested, pareto, joint"),
    ({"n_trials": 0}, "error: search.n_trials: must be an integer in [1, "),
    ({"batch": 1}, "error: search.batch: nsga2 needs a batch of at least 2"),
    ({"constraints": {"area_mm2": {"below": 3}}}, "error: search.constraints.area_mm2: a bound is"),
    ({"constraints": {"layers": [{"layer": "nope", "latency_cycles": {"max": 1}}]}},
     "error: search.constraints.layers[0].layer: no layer 'nope'"),
    ({"storage": "study.db"}, "error: search.storage: must be 'default' or an RDB URL"),
    ({"sampler": "grid", "mapping": "joint"}, "error: search.sampler: grid enumerates hardware only"),
    ({"sampler": "local", "mapping": "joint"}, "error: search.sampler: local walks hardware only"),
    ({"colour": "red"}, "error: search.colour: unknown key"),
])
def test_bad_sweep_configs_give_one_line_errors(tmp_path, capsys, search, message):
    code = main(["sweep", config(tmp_path, **search), "-o", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith(message) and err.count("\n") == 1, err


def test_nothing_to_search(tmp_path, capsys):
    raw = {"name": "fixed", "workload": {"layers": LAYERS}, "hardware": {"rows": 8}, "search": {}}
    p = tmp_path / "f.yaml"
    p.write_text(yaml.safe_dump(raw))
    assert main(["sweep", str(p)]) == 2
    assert capsys.readouterr().err.startswith("error: hardware: nothing to search")


def test_changed_space_is_refused(tmp_path, capsys):
    path = config(tmp_path)
    sweep(path, tmp_path / "r", n_trials=8)
    path2 = config(tmp_path, objectives=["latency_cycles", "energy_pj"])
    assert main(["sweep", path2, "-o", str(tmp_path / "r")]) == 2
    assert "different" in capsys.readouterr().err


def test_pareto_mask_and_hypervolume():
    rng = np.random.default_rng(0)
    v = rng.random((300, 3))
    naive = np.array([not any((w <= x).all() and (w < x).any() for w in v) for x in v])
    assert (pareto_mask(v) == naive).all()
    assert hypervolume(np.array([[0.5, 0.5]]), 1.0) == pytest.approx(0.25)
    assert hypervolume(np.array([[0.2, 0.6], [0.6, 0.2]]), 1.0) == pytest.approx(0.48)
    # 3-D against a grid count
    p = rng.random((12, 3))
    g = (np.indices((40, 40, 40)).reshape(3, -1).T + 0.5) / 40
    dominated = (g[:, None, :] >= p[None]).all(axis=2).any(axis=1).mean()
    assert hypervolume(p, 1.0) == pytest.approx(dominated, abs=0.01)


def test_parse_search_defaults():
    cfg = parse_config({"workload": {"layers": LAYERS}, "hardware": {"rows": [4, 8]}})
    s = parse_search(cfg)
    assert s.objectives == ("latency_cycles", "energy_pj", "area_mm2") and s.sampler == "nsga2"
    assert s.storage == "default" and s.mapping == "nested"


def test_results_of_an_empty_study(tmp_path):
    """Ctrl-C before the first batch is stored still writes (empty) results."""
    from codesign.search.results import Meta, trials_frame, write_results
    cfg = load_config(config(tmp_path))
    df = trials_frame([], cfg)
    write_results(df, Meta.of(cfg, parse_search(cfg), tmp_path / "r"), tmp_path / "r")
    back = codesign.load_results(tmp_path / "r")
    assert back.empty and {"rows", "latency_cycles", "feasible"} <= set(back.columns)
    assert codesign.pareto_front(back).empty
