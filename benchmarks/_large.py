"""Samplers at equal wall time on a space too large to enumerate (bench_search.py large).

Each run is the sweep's own loop (`SweepStudy` + `sweep._batch`: ask a
batch, map it, tell) stopped once `budget_s` seconds have passed, from
fresh mapper caches; a sampler Optuna ships replaces the study's own
(`study.local.sampler`). The reference front is the union of every run's
feasible points (pareto mode's network fronts included); each run's
hypervolume is a fraction of that union's, at half and at the whole
budget.
"""
from __future__ import annotations

import tempfile
import time
import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np


def _sampler(name: str, seed: int, batch: int):
    import optuna
    warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
    s = optuna.samplers
    return {"random": lambda: s.RandomSampler(seed=seed),
            "tpe (optuna default)": lambda: s.TPESampler(seed=seed),
            "nsga2 (optuna default)": lambda: s.NSGAIISampler(seed=seed),
            "nsga3": lambda: s.NSGAIIISampler(population_size=batch, seed=seed),
            "qmc (sobol)": lambda: s.QMCSampler(seed=seed),
            "gp": lambda: s.GPSampler(seed=seed)}[name]()


def clear_caches() -> None:
    from codesign.families.systolic import fronts, network
    from codesign.search import evaluate
    network._CACHE.clear()
    fronts._CACHE.clear()
    evaluate._MEMO.clear()


def timed_run(cfg, mode: str, sampler: str | None, seed: int, budget_s: float, jobs: int):
    """[(seconds, objective rows of the batch's feasible points, trials)] per batch of one run."""
    from codesign.search.settings import parse_search
    from codesign.search.storage import SweepStudy
    from codesign.search.sweep import _batch, _evaluator
    cfg = replace(cfg, search={**cfg.search, "mapping": mode, "seed": seed, "jobs": jobs})
    st = parse_search(cfg)
    clear_caches()
    space, ev = _evaluator(cfg, st)
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        study = SweepStudy(cfg, st, Path(tmp), space)
        if sampler is not None:
            study.local.sampler = _sampler(sampler, seed, st.batch)
        t0 = time.perf_counter()
        try:
            while time.perf_counter() - t0 < budget_s:
                told, _, _ = _batch(study, space, ev, st, st.batch)
                study.commit(told)
                pts = []
                for t in told:
                    a = t.user_attrs.get("codesign", {})
                    if not all(v <= 0 for v in t.constraints.values()):
                        continue
                    pts.append(t.values)
                    f = a.get("front")
                    if f:
                        pts += [[l, e, t.values[2]] for l, e in zip(f["latency_cycles"], f["energy_pj"])]
                out.append((time.perf_counter() - t0, np.array(pts).reshape(-1, 3), len(told)))
        finally:
            ev.close()
            study.close()
    return out


def large(cfg_path, budget_s: float, seeds: int, jobs: int, runs: list[tuple[str, str | None, str]],
          keep: str | None = None) -> None:
    """Print the table; `keep`: a pickle of the runs, reused (a run already in it is not repeated)."""
    from codesign.config import load_config
    from codesign.search.pareto import normalize
    from _hv import hv3
    cfg = load_config(cfg_path)
    print(f"(d) large space {Path(cfg_path).name} (ResNet-50, 6 hardware parameters, area <= 8 mm²): "
          f"{budget_s:.0f} s wall per run, {jobs} mapper process(es), {seeds} seed(s); hypervolume as a "
          f"fraction of the union of all runs' fronts", flush=True)
    import os
    import pickle
    res = {}
    if keep and os.path.exists(keep):
        with open(keep, "rb") as f:
            res = pickle.load(f)
    for label, sampler, mode in runs:
        if len(res.get(label, ())) >= seeds:
            continue
        res[label] = []
        for seed in range(seeds):
            try:
                res[label].append(timed_run(cfg, mode, sampler, seed, budget_s, jobs))
            except (ImportError, ModuleNotFoundError) as e:
                print(f"    {label}: not available ({e})", flush=True)
                break
        if keep:
            with open(keep, "wb") as f:
                pickle.dump(res, f)
    res = {label: res.get(label, []) for label, _, _ in runs}
    allpts = np.vstack([p for runs_ in res.values() for r in runs_ for _, p, _ in r] or [np.zeros((0, 3))])
    allpts = allpts[np.isfinite(allpts).all(1) & (allpts > 0).all(1) & (allpts < 1e29).all(1)]
    lo, hi = allpts.min(0), allpts.max(0)
    ref = hv3(normalize(allpts, lo, hi))
    print(f"    {'run':<28}{'trials':>8}{'half budget':>14}{'full budget':>14}")
    for label, runs_ in res.items():
        if not runs_:
            continue
        cells = []
        for frac in (0.5, 1.0):
            v = []
            for r in runs_:
                pts = [p for t, p, _ in r if t <= frac * budget_s] or [np.zeros((0, 3))]
                p = np.vstack(pts)
                v.append(hv3(normalize(p, lo, hi)) / ref if len(p) else 0.0)
            cells.append(f"{100 * np.mean(v):.1f}% [{100 * min(v):.1f}%]")
        ntr = np.mean([sum(n for _, _, n in r) for r in runs_])
        print(f"    {label:<28}{ntr:>8.0f}{cells[0]:>14}{cells[1]:>14}", flush=True)
