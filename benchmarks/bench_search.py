"""Co-design search benchmarks: quality, throughput, storage. Prints figures.

(a) quality: configs/quickstart.yaml (ResNet-18; rows 5 x cols 5 x 3
    dataflows x 6 glb sizes x 3 bandwidths = 1350 points, area <= 8 mm²).
    The true Pareto front comes from evaluating every point; each sampler's
    front after 100, 300 and 1000 trials is scored by the fraction of the
    true front's hypervolume it reaches (normalized log objectives), mean
    and worst over seeds. Joint mode (tilings searched by Optuna too) is
    scored against the same nested-exhaustive front: above 100% means it
    found tilings better than the mapper's.
(b) throughput: 1000 nested trials on ResNet-18 over a continuous space (so
    nearly every trial is a new design, nothing memoized), storage included,
    with 1 and 2 evaluation processes.
(c) storage: trials/s written by the sweep's path (local mirror +
    ``add_trials``) against plain ``ask``/``tell`` on the storage, for the
    journal file and SQLite.

    python benchmarks/bench_search.py            # all (several minutes)
    python benchmarks/bench_search.py quality --seeds 1
    python benchmarks/bench_search.py throughput storage
"""
from __future__ import annotations

import argparse
import itertools
import os
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from codesign.config import load_config  # noqa: E402
from codesign.search.evaluate import NestedEvaluator  # noqa: E402
from codesign.search.pareto import hypervolume, normalize, pareto_mask  # noqa: E402
from codesign.search.results import load_results  # noqa: E402
from codesign.search.settings import parse_search  # noqa: E402
from codesign.search.space import grid_space  # noqa: E402
from codesign.search.sweep import run_sweep  # noqa: E402

QUICKSTART = ROOT / "configs" / "quickstart.yaml"
BUDGETS = (100, 300, 1000)


def _with_search(cfg, **search):
    return replace(cfg, search={**cfg.search, **search})


def true_front(cfg, jobs: int, cache: str | None = None):
    """Every point of the grid: (objective matrix of feasible points, points, seconds).
    `cache`: a pickle of the evaluations, written once and reused by later runs."""
    import pickle
    s = parse_search(cfg)
    space = grid_space(cfg)
    points = [dict(zip(space, v)) for v in itertools.product(*space.values())]
    ev = NestedEvaluator(cfg, jobs)
    if cache and os.path.exists(cache):
        with open(cache, "rb") as f:
            ev.memo.update(pickle.load(f))
    t0 = time.perf_counter()
    outs = ev(points)
    ev.close()
    dt = time.perf_counter() - t0
    if cache and not os.path.exists(cache):
        with open(cache, "wb") as f:
            pickle.dump(dict(ev.memo), f)
    vals = []
    for o in outs:
        ok = o.fits == 0 and all(b.violation(o.metrics[b.metric]) <= 0 for b in s.constraints if not b.layer)
        if ok:
            vals.append([o.metrics[m] for m in s.objectives])
    return np.array(vals), len(points), dt


def hv_fraction(df, objectives, n, lo, hi, hv_true) -> float:
    d = df[df["trial"] < n]
    d = d[d["feasible"]]
    if d.empty:
        return 0.0
    z = normalize(d[list(objectives)].to_numpy(float), lo, hi)
    return hypervolume(z) / hv_true


def quality(seeds: int, jobs: int, joint: bool, cache: str | None, samplers: list[str]) -> None:
    cfg = load_config(QUICKSTART)
    s = parse_search(cfg)
    vals, npts, dt = true_front(cfg, jobs, cache)
    lo, hi = vals.min(0), vals.max(0)
    front = vals[pareto_mask(vals)]
    hv_true = hypervolume(normalize(front, lo, hi))
    print(f"(a) quality on {QUICKSTART.name}: {npts} points enumerated in {dt:.1f} s ({jobs} process(es)); "
          f"{len(vals)} feasible, true front {len(front)} points, objectives {', '.join(s.objectives)}")
    print(f"    hypervolume fraction of the true front (normalized log objectives), mean [worst] over "
          f"{seeds} seed(s):")
    print(f"    {'sampler':<16}" + "".join(f"{f'{n} trials':>20}" for n in BUDGETS) + f"{'run s':>9}")
    runs = [("nested", x) for x in samplers if x] + ([("joint", "nsga2")] if joint else [])
    for mode, sampler in runs:
        fr = {n: [] for n in BUDGETS}
        secs = []
        for seed in range(seeds):
            c = _with_search(cfg, sampler=sampler, seed=seed, n_trials=max(BUDGETS), mapping=mode,
                             **({"batch": 64} if mode == "joint" else {}))
            with tempfile.TemporaryDirectory() as tmp:
                t0 = time.perf_counter()
                run_sweep(c, parse_search(c), Path(tmp), progress=False)
                secs.append(time.perf_counter() - t0)
                df = load_results(tmp)
            for n in BUDGETS:
                fr[n].append(hv_fraction(df, s.objectives, n, lo, hi, hv_true))
        cells = "".join(f"{f'{100 * np.mean(v):.1f}% [{100 * min(v):.1f}%]':>20}" for v in fr.values())
        print(f"    {mode + ' ' + sampler:<16}{cells}{np.mean(secs):9.1f}", flush=True)


THROUGHPUT_HW = {"rows": {"low": 4, "high": 128}, "cols": {"low": 4, "high": 128}, "dataflow": ["os", "ws", "is"],
                 "glb_kib": {"low": 32, "high": 1024, "log": True},
                 "dram_bw_bytes": {"low": 4, "high": 64, "log": True}}


def throughput(n: int, jobs_list: tuple[int, ...]) -> None:
    import yaml

    from codesign.config import parse_config
    print(f"(b) throughput: {n} nested trials on ResNet-18 (continuous rows/cols/glb/bandwidth: nearly all new "
          f"designs), nsga2, batch 64, journal storage, fresh mapper caches; {os.cpu_count()} cores")
    for jobs in jobs_list:
        from codesign.families.systolic import network
        from codesign.search import evaluate
        network._CACHE.clear()
        evaluate._MEMO.clear()
        raw = yaml.safe_load(QUICKSTART.read_text())
        raw["hardware"].update(THROUGHPUT_HW)
        raw["search"].update(constraints={}, batch=64, jobs=jobs, n_trials=n)
        cfg = parse_config(raw, str(QUICKSTART))
        with tempfile.TemporaryDirectory() as tmp:
            rep = run_sweep(cfg, parse_search(cfg), Path(tmp), progress=False)
            df = load_results(tmp)
        uniq = len(df.drop_duplicates(subset=list(THROUGHPUT_HW)))
        print(f"    jobs={jobs}: {rep.seconds:.1f} s = {n / rep.seconds:.1f} trials/s ({uniq} distinct designs); "
              f"evaluation {rep.eval_seconds:.1f} s, storage {rep.store_seconds:.1f} s, "
              f"sampler + rest {rep.seconds - rep.eval_seconds - rep.store_seconds:.1f} s", flush=True)


def _storage_case(kind: str, path: str, n: int, mirror: bool) -> float:
    import optuna
    from optuna.distributions import CategoricalDistribution
    from optuna.storages import InMemoryStorage, JournalStorage
    from optuna.storages.journal import JournalFileBackend
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = JournalStorage(JournalFileBackend(path)) if kind == "journal" else f"sqlite:///{path}"
    dists = {k: CategoricalDistribution(v) for k, v in grid_space(load_config(QUICKSTART)).items()}
    durable = optuna.create_study(storage=storage, directions=["minimize"] * 3)
    work = optuna.create_study(storage=InMemoryStorage(), directions=["minimize"] * 3,
                               sampler=optuna.samplers.RandomSampler(seed=0)) if mirror else durable
    attrs = {"metrics": {"latency_cycles": 1.0}, "mappings": {f"layer{i}": {"glb": {"K": 4}} for i in range(12)}}
    t0 = time.perf_counter()
    done = 0
    while done < n:
        trials = [work.ask(dists) for _ in range(64)]
        told = []
        for t in trials:
            t.set_constraint("fits", 0.0)
            t.set_constraint("area_mm2.max", -0.5)
            t.set_user_attr("codesign", attrs)
            told.append(work.tell(t, [1.0, 2.0, 3.0]))
        if mirror:
            durable.add_trials(told)
        done += len(trials)
    return done / (time.perf_counter() - t0)


def storage(n: int) -> None:
    print(f"(c) storage: {n} trials (5 params, 3 objectives, 2 constraints, 1 JSON attribute), random sampler, "
          f"batches of 64; trials/s end to end")
    for kind in ("journal", "sqlite"):
        for mirror in (True, False):
            with tempfile.TemporaryDirectory() as tmp:
                rate = _storage_case(kind, os.path.join(tmp, "s.db" if kind == "sqlite" else "s.journal"),
                                     n if mirror or kind == "journal" else n // 4, mirror)
            how = "sweep path: mirror + add_trials" if mirror else "plain ask/tell on the storage"
            print(f"    {kind:<8} {how:<34} {rate:8.0f} trials/s", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("parts", nargs="*", default=["quality", "throughput", "storage"],
                    choices=["quality", "throughput", "storage"])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1))
    ap.add_argument("--no-joint", action="store_true", help="skip the joint-mode row of (a)")
    ap.add_argument("--trials", type=int, default=1000, help="trials for (b)")
    ap.add_argument("--samplers", default="nsga2,tpe,random", help="samplers of (a), comma-separated")
    ap.add_argument("--cache", help="(a): pickle of the 1350 evaluations, reused when it exists")
    a = ap.parse_args()
    if "quality" in a.parts:
        quality(a.seeds, a.jobs, not a.no_joint, a.cache, a.samplers.split(","))
    if "throughput" in a.parts:
        throughput(a.trials, tuple(sorted({1, a.jobs})))
    if "storage" in a.parts:
        storage(1024)


if __name__ == "__main__":
    main()
