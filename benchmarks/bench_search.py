"""Co-design search benchmarks: quality, pareto mode, large space, throughput, storage. Prints figures.

(a) quality: configs/quickstart.yaml (ResNet-18; rows 5 x cols 5 x 3
    dataflows x 6 glb sizes x 3 bandwidths = 1350 points, area <= 8 mm²).
    The true Pareto front comes from evaluating every point (one pass of
    every layer's exact front per design, `_fronts_cache`; ``--cache``
    keeps it); each sampler's front after 100, 300 and 1000 trials is
    scored by the fraction of the true front's hypervolume it reaches
    (normalized log objectives), mean and worst over seeds.
(c) pareto: pareto mode against nested mode at equal mapper time on the
    same space, as fractions of the same enumerated nested front (above
    100%: mappings nested mode never reaches); `_pareto_mode`.
(d) large: samplers at equal wall time on configs/resnet50_large.yaml
    (ResNet-50, 6 hardware parameters, not enumerable): random, Optuna's
    TPE, NSGA-II, NSGA-III, QMC and GP (when their dependencies are
    installed) and the project's default, nested and pareto; `_large`.
(b) throughput: 1000 nested trials on ResNet-18 over a continuous space (so
    nearly every trial is a new design, nothing memoized), storage included,
    with 1 and 2 evaluation processes.
(e) storage: trials/s written by the sweep's path (local mirror +
    ``add_trials``) against plain ``ask``/``tell`` on the storage, for the
    journal file and SQLite.

    python benchmarks/bench_search.py            # all (long)
    python benchmarks/bench_search.py quality pareto --cache /tmp/quickstart_fronts.pkl
    python benchmarks/bench_search.py quality --samplers local,nsga2,tpe --budgets 100,300 --seeds 3 --cache FILE
    python benchmarks/bench_search.py large --budget 150 --large-cache /tmp/large.pkl
    python benchmarks/bench_search.py throughput storage
"""
from __future__ import annotations

import argparse
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
from codesign.search.fronts import outcome_from_fronts  # noqa: E402
from codesign.search.pareto import normalize, pareto_mask  # noqa: E402
from codesign.search.results import load_results  # noqa: E402
from codesign.search.settings import parse_search  # noqa: E402
from codesign.search.space import SearchSpace, grid_space  # noqa: E402
from codesign.search.sweep import run_sweep  # noqa: E402
sys.path.insert(0, str(ROOT / "benchmarks"))
from _fronts_cache import all_fronts  # noqa: E402
from _hv import hv3  # noqa: E402
from _large import large  # noqa: E402

QUICKSTART = ROOT / "configs" / "quickstart.yaml"
BUDGETS = (100, 300, 1000)


def _with_search(cfg, **search):
    return replace(cfg, search={**cfg.search, **search})


def _feasible(o, s) -> bool:
    return o.fits == 0 and all(b.violation(o.metrics[b.metric]) <= 0 for b in s.constraints if not b.layer)


def enumerated(cfg, jobs: int, cache: str | None):
    """Every grid point's nested and pareto outcomes, from one pass of the layers' fronts
    (`_fronts_cache`), and the pass's (design count, seconds, fronts memo)."""
    s = parse_search(cfg)
    memo, npts, dt = all_fronts(cfg, jobs, cache)
    nested = {a: outcome_from_fronts(cfg, a, fr, s.metrics, per_layer=True) for a, (fr, _) in memo.items()}
    return nested, memo, npts, dt


def true_front(cfg, nested):
    """(objective rows of the feasible enumerated designs, lo, hi, hypervolume of their front)."""
    s = parse_search(cfg)
    vals = np.array([[o.metrics[m] for m in s.objectives] for o in nested.values() if _feasible(o, s)])
    lo, hi = vals.min(0), vals.max(0)
    return vals, lo, hi, hv3(normalize(vals, lo, hi))


def hv_fraction(df, objectives, n, lo, hi, hv_true) -> float:
    d = df[df["trial"] < n]
    d = d[d["feasible"]]
    if d.empty:
        return 0.0
    z = normalize(d[list(objectives)].to_numpy(float), lo, hi)
    return hv3(z) / hv_true


def _preload(cfg, nested) -> None:
    """Put the enumerated outcomes in the sweep's memo: a sweep then costs only its sampler and storage."""
    s = parse_search(cfg)
    NestedEvaluator(cfg, SearchSpace(cfg, False), s.metrics).memo.update(nested)


SAMPLER_ROWS = {"nsga2": {"sampler": "nsga2"}, "tpe": {"sampler": "tpe"}, "random": {"sampler": "random"},
                "local": {"sampler": "local"}}


def quickstart(model: str | None = None):
    """configs/quickstart.yaml, or its hardware grid with another zoo model (a proxy whose
    enumeration is cheaper: ``--model tfc`` maps the 1350 designs in minutes)."""
    if model is None:
        return load_config(QUICKSTART)
    import yaml

    from codesign.config import parse_config
    raw = yaml.safe_load(QUICKSTART.read_text())
    raw["workload"] = {**raw["workload"], "model": model}
    return parse_config(raw, str(QUICKSTART))


def quality(seeds: int, jobs: int, cache: str | None, samplers: list[str], budgets=BUDGETS,
            model: str | None = None) -> None:
    cfg = quickstart(model)
    s = parse_search(cfg)
    nested, _, npts, dt = enumerated(cfg, jobs, cache)
    vals, lo, hi, hv_true = true_front(cfg, nested)
    front = vals[pareto_mask(vals)]
    _preload(cfg, nested)
    on = f"{QUICKSTART.name}{f' with model {model}' if model else ''}"
    print(f"(a) quality on {on}: {npts} points enumerated in {dt:.1f} s ({jobs} process(es); 0 s: "
          f"from the cache); {len(vals)} feasible, true front {len(front)} points, objectives "
          f"{', '.join(s.objectives)}")
    print(f"    hypervolume fraction of the true front (normalized log objectives), mean [worst] over "
          f"{seeds} seed(s):")
    print(f"    {'sampler':<16}" + "".join(f"{f'{n} trials':>20}" for n in budgets) + f"{'run s':>9}")
    for name in samplers:
        fr = {n: [] for n in budgets}
        secs = []
        for seed in range(seeds):
            c = _with_search(cfg, **SAMPLER_ROWS[name], seed=seed, n_trials=max(budgets))
            with tempfile.TemporaryDirectory() as tmp:
                t0 = time.perf_counter()
                run_sweep(c, parse_search(c), Path(tmp), progress=False)
                secs.append(time.perf_counter() - t0)
                df = load_results(tmp)
            for n in budgets:
                fr[n].append(hv_fraction(df, s.objectives, n, lo, hi, hv_true))
        cells = "".join(f"{f'{100 * np.mean(v):.1f}% [{100 * min(v):.1f}%]':>20}" for v in fr.values())
        print(f"    {'nested ' + name:<16}{cells}{np.mean(secs):9.1f}", flush=True)


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
        from codesign.families.systolic.mapper import clear_caches
        from codesign.search import evaluate
        network._CACHE.clear()
        clear_caches()                  # neighbour seeds and block tables: each run starts cold
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


LARGE = ROOT / "configs" / "resnet50_large.yaml"
#: (label, a sampler Optuna ships or None for the config's own, mapping mode)
LARGE_RUNS = [("nested, random", "random", "nested"), ("nested, tpe (optuna default)", "tpe (optuna default)", "nested"),
              ("nested, nsga2 (optuna default)", "nsga2 (optuna default)", "nested"),
              ("nested, nsga3", "nsga3", "nested"), ("nested, qmc (sobol)", "qmc (sobol)", "nested"),
              ("nested, gp", "gp", "nested"),
              ("nested, project default", None, "nested"), ("pareto, project default", None, "pareto")]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("parts", nargs="*", default=["quality", "pareto", "large", "throughput", "storage"],
                    choices=["quality", "pareto", "large", "throughput", "storage"])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1))
    ap.add_argument("--trials", type=int, default=1000, help="trials for (b)")
    ap.add_argument("--samplers", default="nsga2,tpe,random", help="samplers of (a), comma-separated")
    ap.add_argument("--model", help="(a): a zoo model in place of quickstart's resnet18 (a cheaper proxy)")
    ap.add_argument("--cache", help="(a), (c): pickle of every quickstart design's layer fronts, reused when it exists")
    ap.add_argument("--budgets", default="100,300,1000", help="(a): trial counts scored, comma-separated")
    ap.add_argument("--budget", type=float, default=120.0, help="(d): wall seconds per run")
    ap.add_argument("--large-seeds", type=int, default=1, help="(d): seeds per run")
    ap.add_argument("--large-runs", help="(d): labels of the runs to make, separated by ';' (default: all)")
    ap.add_argument("--large-cache", help="(d): pickle of the runs made, reused when it exists")
    a = ap.parse_args()
    if "quality" in a.parts:
        quality(a.seeds, a.jobs, a.cache, a.samplers.split(","), tuple(int(x) for x in a.budgets.split(",")),
                a.model)
    if "pareto" in a.parts:
        from _pareto_mode import pareto_vs_nested
        pareto_vs_nested(a.seeds, a.jobs, a.cache)
    if "large" in a.parts:
        runs = [r for r in LARGE_RUNS if not a.large_runs or r[0] in a.large_runs.split(";")]
        large(LARGE, a.budget, a.large_seeds, a.jobs, runs, a.large_cache)
    if "throughput" in a.parts:
        throughput(a.trials, tuple(sorted({1, a.jobs})))
    if "storage" in a.parts:
        storage(1024)


if __name__ == "__main__":
    main()
