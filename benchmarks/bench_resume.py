"""Seconds (wall and CPU) to resume a 20,000-trial study, median of 3; the README's "Reliability"
promise is 10 s.

A journal study of ResNet-18 designs (the attributes a real sweep writes: 8 trials are
evaluated by a real sweep, the rest are copies of their journal records with new
hardware parameters and objective values, appended in one write) is then

- resumed: ``codesign sweep CONFIG -q`` with ``n_trials`` equal to the trials stored
  (nothing left to evaluate: it loads the study), a subprocess: first without the journal's
  snapshot (``study.snapshot``: the whole journal parsed, the snapshot written), then from it,
  once with the results older than the journal (rewritten, as after a kill -9) and once with
  them current (kept);
- read: ``codesign pareto RESULTS`` (a subprocess) and `codesign.load_results`, once with
  trials.parquet up to date and once rebuilt from the study (a journal newer than the table,
  as after a kill -9).

    .venv/bin/python benchmarks/bench_resume.py [--trials 20000] [--repeat 3] [--profile] [--keep DIR]

``--keep DIR`` builds the study in DIR once and reuses it on later runs (building takes a minute).
"""
from __future__ import annotations

import argparse
import resource
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

sys.path[:0] = [str(Path(__file__).resolve().parent.parent), str(Path(__file__).resolve().parent.parent / "tests")]
from synthetic_study import grow_journal  # noqa: E402

from codesign.search.journal import SNAPSHOT  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}
TEMPLATES = 8


def raw_config(n_trials: int) -> dict:
    """A ResNet-18 sweep over a space with (practically) no repeated design."""
    return {"name": "resume", "workload": {"model": "resnet18"},
            "hardware": {"rows": {"low": 2, "high": 64}, "cols": {"low": 2, "high": 64},
                         "dataflow": ["os", "ws", "is"], "glb_kib": {"low": 2, "high": 512, "log": True}},
            "search": {"objectives": ["latency_cycles", "energy_pj", "area_mm2"],
                       "constraints": {"area_mm2": {"max": 8.0}},
                       "n_trials": n_trials, "batch": TEMPLATES, "seed": 1, "sampler": "random", "jobs": 2}}


def _cli(*args: str, cwd: Path) -> tuple[float, float]:
    """Wall and CPU seconds (user + system, the child's) of one CLI run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "codesign.cli", *args], cwd=cwd, env=ENV, check=True,
                   stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def build(tmp: Path, n: int) -> Path:
    """A results folder holding a study of `n` complete trials; returns the config."""
    cfg = tmp / "resume.yaml"
    cfg.write_text(yaml.safe_dump(raw_config(TEMPLATES)))
    _cli("sweep", str(cfg), "-q", cwd=tmp)
    journal = tmp / "results" / "resume" / "study.journal"
    grow_journal(journal, n)
    print(f"{n} trials: {journal.stat().st_size / 2**20:.0f} MiB journal")
    cfg.write_text(yaml.safe_dump(raw_config(n)))
    return cfg


def _load_results(out: Path, stale: bool) -> tuple[float, float]:
    """Wall and CPU seconds of `codesign.load_results` (after the imports)."""
    if stale:
        os.utime(out / "study.journal")      # newer than trials.parquet: rebuilt from the study
    code = ("import sys, time; import codesign; t, c = time.perf_counter(), time.process_time(); "
            "df = codesign.load_results(sys.argv[1]); print(time.perf_counter() - t, time.process_time() - c)")
    r = subprocess.run([sys.executable, "-c", code, str(out)], env=ENV, check=True, capture_output=True, text=True)
    wall, cpu = r.stdout.split()
    return float(wall), float(cpu)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--trials", type=int, default=20_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--profile", action="store_true", help="profile one resume (cProfile, top 25)")
    ap.add_argument("--keep", type=Path, help="build the study in this folder once, reuse it after")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d) if a.keep is None else a.keep / str(a.trials)
        tmp.mkdir(parents=True, exist_ok=True)
        cfg = tmp / "resume.yaml"
        if a.keep is None or not (tmp / "built").is_file():
            cfg = build(tmp, a.trials)
            (tmp / "built").touch()
        out = tmp / "results" / "resume"
        if a.profile:
            prof = tmp / "resume.prof"
            subprocess.run([sys.executable, "-m", "cProfile", "-o", str(prof), "-m", "codesign.cli", "sweep",
                            str(cfg), "-q"], cwd=tmp, env=ENV, check=True, stdout=subprocess.DEVNULL)
            import pstats
            pstats.Stats(str(prof)).sort_stats("cumulative").print_stats(25)
        runs = {"sweep (resume, no snapshot yet: writes it, results rewritten)": [],
                "sweep (resume, results rewritten)": [], "sweep (resume, results current)": [], "pareto": [],
                "load_results": [], "load_results (rebuilt from the study)": []}
        for _ in range(a.repeat):
            (out / SNAPSHOT).unlink(missing_ok=True)
            os.utime(out / "study.journal")      # as after a kill -9: the table is older than the study
            runs["sweep (resume, no snapshot yet: writes it, results rewritten)"].append(
                _cli("sweep", str(cfg), "-q", cwd=tmp))
            assert (out / SNAPSHOT).is_file()
            os.utime(out / "study.journal")
            runs["sweep (resume, results rewritten)"].append(_cli("sweep", str(cfg), "-q", cwd=tmp))
            runs["sweep (resume, results current)"].append(_cli("sweep", str(cfg), "-q", cwd=tmp))
            runs["pareto"].append(_cli("pareto", str(out), cwd=tmp))
            runs["load_results"].append(_load_results(out, stale=False))
            runs["load_results (rebuilt from the study)"].append(_load_results(out, stale=True))
        print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        for k, v in runs.items():
            wall, cpu = zip(*v)
            print(f"{a.trials} trials, {k}: median {statistics.median(wall):.2f} s wall, "
                  f"{statistics.median(cpu):.2f} s CPU (wall runs {', '.join(f'{x:.2f}' for x in wall)})")


if __name__ == "__main__":
    main()
