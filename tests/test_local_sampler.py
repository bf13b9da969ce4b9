"""The Pareto local search sampler (codesign.search.local) on small synthetic grids."""
from __future__ import annotations

import itertools

import numpy as np
import optuna
import pytest
from optuna.distributions import CategoricalDistribution, IntDistribution

from codesign.search.local import ParetoLocalSampler
from codesign.search.pareto import pareto_mask

optuna.logging.set_verbosity(optuna.logging.ERROR)

DISTS = {"x": IntDistribution(0, 11), "kind": CategoricalDistribution(("a", "b", "c", "d")),
         "z": CategoricalDistribution((1, 2, 4, 8, 16, 32))}
COST = {"a": (3.0, 0.5), "b": (0.0, 0.0), "c": (0.5, 3.0), "d": (1.0, 1.0)}


def objectives(p: dict) -> tuple[float, float]:
    """Two conflicting objectives: x trades one against the other; kind and z add penalties
    (the front is kind b, z 4 or 8 for every x, and nothing else)."""
    lz = np.log2(p["z"])
    c1, c2 = COST[p["kind"]]
    return p["x"] + c1 + abs(lz - 2) + 0.01 * lz, (11 - p["x"]) + c2 + abs(lz - 3) - 0.01 * lz


def run(seed: int, n: int, batch: int = 8, n_startup: int = 8,
        infeasible=lambda p: False) -> list[optuna.trial.FrozenTrial]:
    """`n` trials asked in batches (all asked, then all told: the sweep's loop)."""
    study = optuna.create_study(directions=["minimize"] * 2,
                                sampler=ParetoLocalSampler(DISTS, n_startup=n_startup, seed=seed))
    while len(study.trials) < n:
        trials = [study.ask(DISTS) for _ in range(min(batch, n - len(study.trials)))]
        for t in trials:
            t.set_constraint("bad", 1.0 if infeasible(t.params) else -1.0)
            study.tell(t, list(objectives(t.params)))
    return study.trials


def _design(p: dict) -> tuple:
    return p["x"], p["kind"], p["z"]


def true_front() -> set:
    allp = [dict(zip(DISTS, v)) for v in itertools.product(range(12), "abcd", (1, 2, 4, 8, 16, 32))]
    vals = np.array([objectives(p) for p in allp])
    return {_design(allp[i]) for i in np.flatnonzero(pareto_mask(vals))}


def test_proposes_in_space_values_and_never_repeats_until_the_grid_is_exhausted():
    n = 12 * 4 * 6
    trials = run(0, n + 5, batch=16)
    for t in trials:
        assert set(t.params) == set(DISTS)
        assert all(DISTS[k]._contains(DISTS[k].to_internal_repr(v)) for k, v in t.params.items())
    designs = [_design(t.params) for t in trials]
    assert len(set(designs[:n])) == n          # every design once before any repeat


def test_deterministic_for_a_seed():
    a = [t.params for t in run(3, 60)]
    assert a == [t.params for t in run(3, 60)]
    assert a != [t.params for t in run(4, 60)]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_finds_the_whole_front_within_budget(seed):
    front = true_front()
    assert len(front) == 24
    found = {_design(t.params) for t in run(seed, 150)}       # about half the 288 designs
    assert front <= found


def test_infeasible_designs_do_not_lead_the_walk():
    """With x >= 6 infeasible, the feasible front is x < 6 only, and it is found."""
    bad = lambda p: p["x"] >= 6  # noqa: E731
    trials = run(0, 150, infeasible=bad)
    front = {d for d in true_front() if d[0] < 6}
    assert front <= {_design(t.params) for t in trials}


def test_rejects_a_continuous_distribution():
    with pytest.raises(ValueError, match="y: not a finite grid"):
        ParetoLocalSampler({"y": optuna.distributions.FloatDistribution(0.0, 1.0)})


def test_a_sweep_with_the_local_sampler_maps_distinct_designs(tmp_path):
    from test_search import config, sweep
    path = config(tmp_path, sampler="local", n_trials=24, batch=8)
    _, df = sweep(path, tmp_path / "r")
    cols = ["rows", "cols", "dataflow", "glb_kib", "dram_bw_bytes"]
    assert len(df) == 24 and not df.duplicated(subset=cols).any()


def test_a_resumed_local_sweep_adds_new_designs(tmp_path):
    from test_search import config, sweep
    path = config(tmp_path, sampler="local", n_trials=24, batch=8)
    sweep(path, tmp_path / "r", n_trials=16)
    _, df = sweep(path, tmp_path / "r")
    cols = ["rows", "cols", "dataflow", "glb_kib", "dram_bw_bytes"]
    assert len(df) == 24 and not df.duplicated(subset=cols).any()
