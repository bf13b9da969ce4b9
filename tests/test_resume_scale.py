"""Resuming a study with many trials (300 here; benchmarks/bench_resume.py times 20,000):
the results a resumed sweep writes equal the table rebuilt afresh from the study, the
front and hypervolume history equal their definitions, and the sampler still sees every
stored trial when the study is continued."""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

import codesign
from codesign.search.pareto import hypervolume, normalize, hypervolume_history, pareto_mask
from codesign.search.results import pareto_front

sys.path.insert(0, str(Path(__file__).resolve().parent))
from synthetic_study import grow_journal  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}
OBJ = ["latency_cycles", "energy_pj", "area_mm2"]


def _config(tmp_path: Path, n_trials: int) -> Path:
    raw = {"name": "many", "workload": {"layers": [{"name": "fc", "op": "gemm", "M": 96, "N": 80, "K": 72}]},
           "hardware": {"rows": {"low": 2, "high": 64}, "cols": {"low": 2, "high": 64},
                        "dataflow": ["os", "ws", "is"], "glb_kib": {"low": 2, "high": 512, "log": True}},
           "search": {"objectives": OBJ, "constraints": {"area_mm2": {"max": 1.0}}, "n_trials": n_trials,
                      "batch": 8, "seed": 1, "sampler": "nsga2", "jobs": 1}}
    path = tmp_path / "many.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def _sweep(cfg: Path, tmp_path: Path) -> None:
    subprocess.run([sys.executable, "-m", "codesign.cli", "sweep", str(cfg), "-q"], cwd=tmp_path, env=ENV,
                   check=True, capture_output=True, timeout=300)


@pytest.fixture(scope="module")
def many(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("many")
    _sweep(_config(tmp, 8), tmp)
    out = tmp / "results" / "many"
    grow_journal(out / "study.journal", 300, seed=3)
    cfg = _config(tmp, 300)
    _sweep(cfg, tmp)                     # resumed: nothing left to evaluate, the results written
    return tmp, cfg, out


def test_resumed_results_equal_a_fresh_rebuild(many):
    tmp, cfg, out = many
    written = pd.read_parquet(out / "trials.parquet")
    assert len(written) == 300 and written["trial"].tolist() == list(range(300))
    os.utime(out / "study.journal")                 # newer than the table: rebuilt from the study
    rebuilt = codesign.load_results(out)
    pd.testing.assert_frame_equal(written, rebuilt, check_like=False)
    front = pareto_front(rebuilt, OBJ)
    csv = pd.read_csv(out / "pareto.csv")
    assert csv["trial"].tolist() == front["trial"].tolist()
    assert 1 < len(front) < 300


def test_front_and_hypervolume_history_equal_their_definitions(many):
    _, _, out = many
    df = pd.read_parquet(out / "trials.parquet")
    v = df[df["feasible"]][OBJ].to_numpy(float)
    naive = np.array([not any((w <= x).all() and (w < x).any() for w in v) for x in v])
    assert (pareto_mask(v) == naive).all()
    vals = df[OBJ].to_numpy(float)
    ok = df["feasible"].to_numpy(bool)
    z = normalize(np.where(ok[:, None], vals, 1.0), vals[ok].min(axis=0), vals[ok].max(axis=0))
    h = hypervolume_history(df, OBJ)
    assert h["hypervolume"].tolist() == [hypervolume(z[:m][ok[:m]]) for m in h["trials"]]


def test_pareto_masks_equal_the_pairwise_definition():
    rng = np.random.default_rng(11)
    for i in range(300):
        n, k = int(rng.integers(0, 60)), int(rng.integers(1, 5))
        v = rng.integers(0, 4, (n, k)).astype(float) if i % 2 else rng.random((n, k))   # ties and equal rows
        naive = np.array([not any((w <= x).all() and (w < x).any() for w in v) for x in v], dtype=bool)
        assert (pareto_mask(v) == naive.reshape(n)).all(), (n, k)


def test_continued_study_keeps_every_trial_and_adds_new_designs(many, tmp_path):
    tmp, _, out = many
    import shutil
    copy = tmp_path / "results" / "many"
    shutil.copytree(out, copy)
    for lock in copy.glob(".*.lock"):
        lock.unlink()
    _sweep(_config(tmp_path, 310), tmp_path)
    df = pd.read_parquet(copy / "trials.parquet")
    assert len(df) == 310
    old = pd.read_parquet(out / "trials.parquet")
    pd.testing.assert_frame_equal(df.iloc[:300].reset_index(drop=True), old)
    hw = ["rows", "cols", "dataflow", "glb_kib"]
    assert not df.duplicated(subset=hw).any()


def test_resume_with_nothing_to_run_keeps_current_results(many, tmp_path):
    """A second resume finds the results current and leaves them as they are; a missing
    results file, or a journal newer than the table, makes it write them again."""
    tmp, _, out = many
    import shutil
    copy = tmp_path / "results" / "many"
    shutil.copytree(out, copy)
    for lock in copy.glob(".*.lock"):
        lock.unlink()
    cfg = _config(tmp_path, 300)
    _sweep(cfg, tmp_path)                           # the copy's table may be older than its journal
    stamp = (copy / "trials.parquet").stat().st_mtime_ns
    _sweep(cfg, tmp_path)
    assert (copy / "trials.parquet").stat().st_mtime_ns == stamp
    (copy / "hypervolume.png").unlink()
    _sweep(cfg, tmp_path)
    assert (copy / "hypervolume.png").is_file() and (copy / "trials.parquet").stat().st_mtime_ns > stamp


def test_3d_hypervolume_equals_its_slices():
    """The vectorized 3-D hypervolume equals the sum over z slices of each prefix's 2-D area."""
    from codesign.search.pareto import _hv
    rng = np.random.default_rng(5)
    for i in range(60):
        n = int(rng.integers(1, 40))
        p = rng.integers(0, 5, (n, 3)) / 5 if i % 2 else rng.random((n, 3))      # ties in every coordinate
        p = p[pareto_mask(p)]
        p = p[np.argsort(p[:, 2], kind="stable")]
        zs = np.append(p[1:, 2], 1.1)
        slices = sum((zs[j] - p[j, 2]) * hypervolume(p[:j + 1, :2]) for j in range(len(p)))
        assert _hv(p, np.full(3, 1.1)) == pytest.approx(slices, rel=1e-12, abs=1e-15)


def test_a_study_stored_with_parsed_json_gives_the_same_table(many):
    """Trials store their mappings and layer costs as the table's JSON text; a study written
    before (the same attributes as parsed JSON) is read to the very same table."""
    import json

    import optuna
    from codesign.config import load_config
    from codesign.search.journal import open_journal
    from codesign.search.results import ATTR, trials_frame
    _, cfg, out = many
    trials = optuna.load_study(study_name="many", storage=open_journal(out / "study.journal", snapshot=False)[0]
                               ).get_trials(deepcopy=False)
    assert all(isinstance(t.user_attrs[ATTR]["mappings"], str) for t in trials)
    parsed = []
    for t in trials:
        a = t.user_attrs[ATTR]
        t = optuna.trial.FrozenTrial(**{**{k: getattr(t, k) for k in (
            "number", "state", "values", "datetime_start", "datetime_complete", "params", "distributions",
            "system_attrs", "intermediate_values")}, "value": None, "trial_id": t._trial_id,
            "user_attrs": {ATTR: {**a, "mappings": json.loads(a["mappings"]), "layers": json.loads(a["layers"])}}})
        parsed.append(t)
    metrics = tuple(json.loads((out / "meta.json").read_text())["metrics"])
    table = trials_frame(parsed, load_config(str(cfg)), metrics)
    pd.testing.assert_frame_equal(table, pd.read_parquet(out / "trials.parquet"))


def test_figures_of_the_same_trials_are_kept_and_redrawn_when_they_change(many, tmp_path):
    """A results folder rewritten with the same trials (a resume after a kill -9) keeps its
    figures (their PNG stamp matches); a changed trial or a damaged PNG draws them again."""
    from codesign.search.plots import STAMP
    from codesign.search.results import load_meta, write_results
    from PIL import Image
    _, _, out = many
    df, meta, dest = codesign.load_results(out), load_meta(out), tmp_path / "r"
    write_results(df.copy(), meta, dest)
    pngs = [dest / "pareto.png", dest / "hypervolume.png"]
    first = [p.stat().st_mtime_ns for p in pngs]
    stamp = Image.open(pngs[0]).info[STAMP]
    assert len(stamp) == 64 and Image.open(pngs[1]).info[STAMP] == stamp
    write_results(df.copy(), meta, dest)
    assert [p.stat().st_mtime_ns for p in pngs] == first
    changed = df.copy()
    changed.loc[changed.index[5], "energy_pj"] *= 0.5
    write_results(changed, meta, dest)
    assert all(p.stat().st_mtime_ns != t for p, t in zip(pngs, first))
    assert Image.open(pngs[0]).info[STAMP] != stamp
    pngs[1].write_bytes(b"not a png")
    write_results(changed, meta, dest)
    assert Image.open(pngs[1]).info[STAMP] == Image.open(pngs[0]).info[STAMP]
