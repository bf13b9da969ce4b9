"""Trials/s of one sweep study on PostgreSQL with 1, 2 and 4 processes
(1 main ``codesign sweep`` + 0, 1 or 3 ``--worker`` processes).

Starts a throw-away server with tests/pg.py (Debian's PostgreSQL, ``make pg``),
runs the same random-sampler study (a fresh study name per run) to
``--n-trials`` complete trials, and prints wall seconds, trials/s and the
count check (exactly n_trials complete, no duplicate design). The workload
maps in ~20 ms per design, so evaluation, not storage, dominates; with more
processes than cores the rate stops growing.

    .venv/bin/python benchmarks/bench_pg_workers.py [--n-trials 200]

Measured 2026-12-02 on the 2-core test machine while other sessions kept its
load average at ~5 (so the figures are pessimistic): 1 process 9.0 trials/s,
2 processes 7.7, 4 processes 6.6; every run exactly 200 complete trials, 200
distinct designs. More processes do not help here: the cores were busy, and
each batch's sync reads every complete trial of the study back from
PostgreSQL (SweepStudy.sync), a cost that grows with the study.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))


def _config(folder: Path, url: str, name: str, n_trials: int) -> Path:
    from test_pg_workers import _config as config      # the test's sweep, with this benchmark's batch and seed
    return config(folder, url, name, n_trials, batch=8, seed=1)


def _run(folder: Path, url: str, processes: int, n_trials: int) -> tuple[float, int, int]:
    import optuna
    name = f"bench{processes}_{int(time.time() * 1000)}"
    cfg = _config(folder, url, name, n_trials)
    cmd = [sys.executable, "-m", "codesign.cli", "sweep", str(cfg), "-q"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    t0 = time.perf_counter()
    procs = [subprocess.Popen(cmd, cwd=folder, env=env, stdout=subprocess.DEVNULL)]
    time.sleep(0.5)                     # the main process creates the study
    procs += [subprocess.Popen(cmd + ["--worker"], cwd=folder, env=env, stdout=subprocess.DEVNULL)
              for _ in range(processes - 1)]
    for p in procs:
        if p.wait() != 0:
            raise SystemExit(f"a sweep process exited {p.returncode}")
    dt = time.perf_counter() - t0
    storage = optuna.storages.RDBStorage(url)
    trials = optuna.load_study(study_name=name, storage=storage).get_trials(deepcopy=False)
    storage.engine.dispose()
    done = [t for t in trials if t.state.name == "COMPLETE"]
    return dt, len(done), len({tuple(sorted(t.params.items())) for t in done})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-trials", type=int, default=200)
    args = ap.parse_args()
    import pg
    reason = pg._unavailable()
    if reason:
        raise SystemExit(f"no PostgreSQL server: {reason}")
    folder = Path(tempfile.mkdtemp(prefix="codesign-bench-sweeps-"))
    data = Path(tempfile.mkdtemp(prefix="codesign-bench-pg-"))     # its own folder: chowned to postgres
    url, server = pg.start_server(data)
    try:
        print(f"{os.cpu_count()} cores; {args.n_trials} trials per study; PostgreSQL {pg.pg_bin()}")
        print("processes   seconds   trials/s   complete   distinct designs")
        for n in (1, 2, 4):
            dt, done, distinct = _run(folder, url, n, args.n_trials)
            print(f"{n:9d}   {dt:7.1f}   {args.n_trials / dt:8.1f}   {done:8d}   {distinct:16d}")
    finally:
        pg._stop(server)
        shutil.rmtree(folder, ignore_errors=True)
        shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    main()
