"""Pareto mode against nested mode on the quickstart space (bench_search.py pareto).

Both modes' outcomes come from the enumeration's layer fronts
(`_fronts_cache`): a sweep then costs only its sampler and storage, and its
wall time is charged from mapper times measured on a sample of designs
(fresh caches, the two modes alternating on the same designs): pareto
mode's per-design time is `ratio` times nested mode's. Pareto mode's
hypervolume counts every point of every feasible trial's network front
(the exact Minkowski sum, not the ~48 points a trial stores); both are
fractions of the enumerated nested front's (so pareto mode may pass 100%).
"""
from __future__ import annotations

import random
import tempfile
import time
from pathlib import Path

import numpy as np


def _time_ratio(cfg, archs, k: int, seed: int = 0) -> tuple[float, float, float]:
    """(nested s per design, pareto s per design, ratio) on `k` random designs, caches cleared."""
    from codesign.search.evaluate import _map
    from codesign.search.fronts import pareto_outcome
    from codesign.search.settings import parse_search
    from _large import clear_caches
    metrics = parse_search(cfg).metrics
    tn = tp = 0.0
    for a in random.Random(seed).sample(archs, k):
        clear_caches()
        t0 = time.perf_counter()
        _map(cfg, a, metrics)
        tn += time.perf_counter() - t0
        clear_caches()
        t0 = time.perf_counter()
        pareto_outcome(cfg, a, metrics)
        tp += time.perf_counter() - t0
    return tn / k, tp / k, tp / tn


def _points(df, memo, cfg, n: int) -> np.ndarray:
    """Every network-front point (latency, energy, area) of the first `n` trials' feasible designs."""
    from codesign.search.fronts import minkowski
    hs = cfg.spaces[0]
    free = [k for k in hs.params if hs.params[k].kind != "fixed"]
    out = []
    for _, r in df[(df["trial"] < n) & df["feasible"]].iterrows():
        a = hs.arch_from({k: r[k] for k in free})
        L, E, _ = minkowski(memo[a][0])
        out.append(np.column_stack([L, E, np.full(len(L), r["area_mm2"])]))
    return np.vstack(out) if out else np.zeros((0, 3))


def pareto_vs_nested(seeds: int, jobs: int, cache: str | None, nested_trials=(100, 300), sample: int = 6) -> None:
    from bench_search import QUICKSTART, _preload, _with_search, enumerated, hv_fraction, true_front
    from _hv import hv3
    from codesign.config import load_config
    from codesign.search.fronts import ParetoEvaluator, outcome_from_fronts, minkowski
    from codesign.search.pareto import normalize
    from codesign.search.results import load_results
    from codesign.search.settings import parse_search
    from codesign.search.space import SearchSpace
    from codesign.search.sweep import run_sweep
    cfg = load_config(QUICKSTART)
    s = parse_search(cfg)
    nested, memo, npts, _ = enumerated(cfg, jobs, cache)
    vals, lo, hi, hv_true = true_front(cfg, nested)
    tn, tp, ratio = _time_ratio(cfg, list(nested), sample)     # first: it clears the memos
    _preload(cfg, nested)
    pc = _with_search(cfg, mapping="pareto")
    ParetoEvaluator(pc, SearchSpace(pc, False), s.metrics).memo.update(
        {a: outcome_from_fronts(pc, a, fr, s.metrics) for a, (fr, _) in memo.items()})
    feas = [a for a, o in nested.items() if o.fits == 0 and o.metrics["area_mm2"] <= 8.0]
    every = []
    for a in feas:
        L, E, _ = minkowski(memo[a][0])
        every.append(np.column_stack([L, E, np.full(len(L), nested[a].metrics["area_mm2"])]))
    every = np.vstack(every)
    hv_all = hv3(normalize(every, lo, hi)) / hv_true
    print(f"(c) pareto mode vs nested on {QUICKSTART.name}: mapper time per design {tn:.2f} s nested, {tp:.2f} s "
          f"pareto (ratio {ratio:.2f}, {sample} designs, fresh caches); every design's network fronts "
          f"together: {len(every)} points, {100 * hv_all:.1f}% of the nested front's hypervolume")
    print(f"    {'run':<34}{'trials':>8}{'mapper s':>10}{'hypervolume':>22}")
    for n in nested_trials:
        m = max(1, int(n / ratio))
        rows = {}
        for mode, trials in (("nested", n), ("pareto", m)):
            fr = []
            for seed in range(seeds):
                c = _with_search(cfg, mapping=mode, seed=seed, n_trials=trials)
                with tempfile.TemporaryDirectory() as tmp:
                    run_sweep(c, parse_search(c), Path(tmp), progress=False)
                    df = load_results(tmp)
                if mode == "nested":
                    fr.append(hv_fraction(df, s.objectives, trials, lo, hi, hv_true))
                else:
                    fr.append(hv3(normalize(_points(df, memo, cfg, trials), lo, hi)) / hv_true)
            rows[mode] = (trials, (tn if mode == "nested" else tp) * trials, fr)
        for mode, (trials, secs, fr) in rows.items():
            cell = f"{100 * np.mean(fr):.1f}% [{100 * min(fr):.1f}%]"
            print(f"    {mode + ' (default sampler)':<34}{trials:>8}{secs:>10.0f}{cell:>22}", flush=True)
        pn, pp = np.mean(rows["nested"][2]), np.mean(rows["pareto"][2])
        print(f"    -> equal wall time: pareto reaches {100 * pp / pn:.1f}% of nested mode's hypervolume", flush=True)
