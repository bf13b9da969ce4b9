"""Pareto mode: every layer's exact front per hardware point, combined at network level."""
import itertools
import math
from types import SimpleNamespace

import numpy as np
import pytest
import yaml

import codesign
from codesign.cli import main
from codesign.config import load_config, parse_config
from codesign.families.systolic.network import evaluate_network
from codesign.search.evaluate import _map
from codesign.search.fronts import front_rows, layer_fronts, minkowski, outcome_from_fronts, thin
from codesign.search.settings import parse_search
from codesign.search.sweep import run_sweep

LAYERS = [
    {"name": "fc", "op": "gemm", "M": 64, "N": 48, "K": 40},
    {"name": "c3", "op": "conv2d", "N": 1, "C": 16, "H": 14, "W": 14, "K": 24, "R": 3, "S": 3, "padding": 1,
     "count": 2},
]


def _cfg(tmp_path, hardware, **search):
    raw = {"name": "fr", "workload": {"layers": LAYERS}, "hardware": hardware,
           "search": {"n_trials": 8, "batch": 4, "seed": 0, "mapping": "pareto", "jobs": 1, **search}}
    p = tmp_path / "fr.yaml"
    p.write_text(yaml.safe_dump(raw))
    return load_config(str(p)), str(p)


def test_minkowski_is_the_nondominated_set_of_all_combinations():
    rng = np.random.default_rng(3)
    fronts = [[SimpleNamespace(latency_cycles=int(l), energy_pj=float(e), count=c)
               for l, e in zip(rng.integers(1, 50, n), rng.integers(1, 50, n))]
              for n, c in ((4, 1), (3, 2), (5, 1))]
    L, E, C = minkowski(fronts)
    combos = {}
    for idx in itertools.product(*(range(len(f)) for f in fronts)):
        pt = (sum(f[i].latency_cycles * f[i].count for f, i in zip(fronts, idx)),
              sum(f[i].energy_pj * f[i].count for f, i in zip(fronts, idx)))
        combos.setdefault(pt, idx)
    want = sorted(p for p in combos if not any(q[0] <= p[0] and q[1] <= p[1] and q != p for q in combos))
    assert list(zip(L.tolist(), E.tolist())) == want
    for (l, e), c in zip(zip(L, E), C):           # each point's choice adds up to it
        assert sum(f[i].latency_cycles * f[i].count for f, i in zip(fronts, c)) == l
        assert sum(f[i].energy_pj * f[i].count for f, i in zip(fronts, c)) == pytest.approx(e)
    k = thin(np.arange(1.0, 1001.0), 500, 10)
    assert len(k) <= 13 and {0, 500, 999} <= set(k.tolist())


@pytest.mark.parametrize("dataflow", ["os", "flexible"])
def test_fronts_hold_the_nested_optimum_and_beat_it_at_network_level(tmp_path, dataflow):
    hw = {"rows": [8, 16], "cols": 8, "dataflow": dataflow, "glb_kib": 16, "acc_kib": 16, "dram_bw_bytes": 4}
    cfg, _ = _cfg(tmp_path, hw)
    metrics = parse_search(cfg).metrics
    arch = cfg.spaces[0].arch_from({"rows": 8})
    fronts = layer_fronts(cfg, arch)
    assert all(len(f) >= 1 for f in fronts)
    nested = _map(cfg, arch, metrics)
    derived = outcome_from_fronts(cfg, arch, fronts, metrics, per_layer=True)
    assert derived.metrics["latency_cycles"] == nested.metrics["latency_cycles"]
    assert derived.metrics["energy_pj"] == pytest.approx(nested.metrics["energy_pj"])
    best = outcome_from_fronts(cfg, arch, fronts, metrics)
    assert best.metrics["edp"] <= nested.metrics["edp"] * (1 + 1e-12)
    f = best.front
    L, E = np.array(f["latency_cycles"]), np.array(f["energy_pj"])
    assert (np.diff(L) > 0).all() and (np.diff(E) < 0).all()      # a staircase
    nl, ne = nested.metrics["latency_cycles"], nested.metrics["energy_pj"]
    assert ((L <= nl) & (E <= ne * (1 + 1e-12))).any()             # nested's design is no better than the front
    for lat, e, choice in zip(L, E, f["choice"]):                  # every point is a real network mapping
        lays = [f["layers"][n][i] for n, i in zip(("fc", "c3"), choice)]
        counts = (1, 2)
        assert sum(x["latency_cycles"] * c for x, c in zip(lays, counts)) == lat
        assert sum(x["energy_pj"] * c for x, c in zip(lays, counts)) == pytest.approx(e)


def test_pareto_sweep_records_fronts_and_its_trials_reproduce(tmp_path, capsys):
    hw = {"rows": [4, 8, 16], "cols": [4, 8], "dataflow": ["os", "ws"], "glb_kib": [4, 16], "acc_kib": 16,
          "dram_bw_bytes": 4}
    cfg, path = _cfg(tmp_path, hw)
    out = tmp_path / "res"
    run_sweep(cfg, parse_search(cfg), out, progress=False)
    df = codesign.load_results(out)
    assert len(df) == 8 and df["feasible"].any()
    import optuna
    from codesign.search.storage import open_storage
    trials = optuna.load_study(study_name="fr", storage=open_storage(parse_search(cfg), out)).get_trials()
    rows = front_rows(trials)
    assert len(rows) > int(df["feasible"].sum())                  # more than one network point per trial
    for _, r in df[df["feasible"]].iterrows():                     # the told point is on its trial's front
        pts = rows[rows["trial"] == r["trial"]]
        assert ((pts["latency_cycles"] == r["latency_cycles"]) & np.isclose(pts["energy_pj"], r["energy_pj"])).any()
    n = int(df[df["feasible"]]["trial"].iloc[0])
    assert main(["pareto", str(out), "--trial", str(n)]) == 0
    fixed = parse_config(yaml.safe_load(capsys.readouterr().out))
    again = evaluate_network(fixed.workload, fixed.arch, objective=fixed.objective, pins=fixed.pins)
    row = df[df["trial"] == n].iloc[0]
    assert (again.latency_cycles, again.energy_pj) == (row["latency_cycles"], pytest.approx(row["energy_pj"]))
    assert math.isfinite(row["edp"])


def test_bench_hypervolume_agrees_with_the_exact_one():
    import sys
    from pathlib import Path
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from _hv import hv3
    from codesign.search.pareto import hypervolume
    rng = np.random.default_rng(0)
    p = rng.random((60, 3))
    p[:, 2] = np.round(p[:, 2], 1)                                  # shared values of the last objective
    assert hv3(p) == pytest.approx(hypervolume(p))
