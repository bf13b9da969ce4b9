"""One study, three processes through PostgreSQL: 1 main + 2 ``--worker``
sweeps, one worker killed with -9 mid-run. The study must end with exactly
n_trials complete trials, no duplicate design, none RUNNING (or in any other
state), and the results the main process writes hold every trial."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pandas as pd
import yaml

from codesign.procs import pid_alive

ROOT = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}
N_TRIALS = 80


def _config(tmp_path: Path, url: str, name: str, n_trials: int = N_TRIALS, batch: int = 4, seed: int = 5) -> Path:
    """A small sweep config on the database `url` (benchmarks/bench_pg_workers.py uses it too)."""
    raw = {"name": name,
           # ~20 ms per design to map: the run lasts seconds, so the kill lands mid-run
           "workload": {"layers": [{"name": "c", "op": "conv2d", "N": 1, "C": 32, "H": 28, "W": 28, "K": 32,
                                    "R": 3, "S": 3, "padding": 1},
                                   {"name": "fc", "op": "gemm", "M": 64, "N": 96, "K": 80}]},
           "hardware": {"rows": {"low": 2, "high": 64}, "cols": {"low": 2, "high": 64},
                        "dataflow": ["os", "ws", "is"], "glb_kib": {"low": 2, "high": 512, "log": True}},
           "search": {"n_trials": n_trials, "batch": batch, "seed": seed, "sampler": "random", "jobs": 1,
                      "storage": url}}
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def _complete(storage, name: str) -> int:
    try:
        return len([t for t in optuna.load_study(study_name=name, storage=storage).get_trials(deepcopy=False)
                    if t.state.name == "COMPLETE"])
    except KeyError:
        return 0


def test_main_and_two_workers_one_killed(postgres_url, tmp_path):
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    name = "pgworkers"
    cfg = _config(tmp_path, postgres_url, name)
    sweep = [sys.executable, "-m", "codesign.cli", "sweep", str(cfg), "-q"]
    kw = dict(cwd=tmp_path, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    main = subprocess.Popen(sweep, **kw)
    storage = optuna.storages.RDBStorage(postgres_url)
    try:
        deadline = time.monotonic() + 60
        while _complete(storage, name) == 0 and time.monotonic() < deadline and main.poll() is None:
            time.sleep(0.05)
        workers = [subprocess.Popen(sweep + ["--worker"], **kw) for _ in range(2)]
        while _complete(storage, name) < N_TRIALS // 3 and time.monotonic() < deadline and main.poll() is None:
            time.sleep(0.02)
        assert main.poll() is None and workers[0].poll() is None, "the sweep ended before the kill; make it longer"
        before = _complete(storage, name)
        workers[0].send_signal(signal.SIGKILL)
        workers[0].wait(timeout=10)
        out, err = main.communicate(timeout=120)
        assert main.returncode == 0, err
        w_out, w_err = workers[1].communicate(timeout=120)
        assert workers[1].returncode == 0, w_err
        assert "Traceback" not in err + w_err
        assert before < N_TRIALS
        trials = optuna.load_study(study_name=name, storage=storage).get_trials(deepcopy=False)
        states = {t.state.name for t in trials}
        assert states == {"COMPLETE"}, states                       # none RUNNING, none failed
        assert len(trials) == N_TRIALS                                # exactly n_trials
        designs = [tuple(sorted(t.params.items())) for t in trials]
        assert len(set(designs)) == N_TRIALS                          # no duplicate design
        writers = {t.user_attrs["codesign"]["worker"] for t in trials}
        assert len(writers) >= 2, "the workers stored nothing"
        df = pd.read_parquet(tmp_path / "results" / name / "trials.parquet")   # written by the main process
        assert sorted(df["trial"]) == sorted(t.number for t in trials)       # every trial, none lost
        import codesign
        assert len(codesign.load_results(tmp_path / "results" / name)) == N_TRIALS
    finally:
        for p in [main, *locals().get("workers", [])]:
            if p.poll() is None:
                p.kill()
                p.wait()
        storage.remove_session()
        storage.engine.dispose()
    assert not any(pid_alive(p.pid) for p in [main, *workers])
