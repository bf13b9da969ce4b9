"""A sweep killed with SIGKILL resumes: no completed trial lost, the count continues."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import yaml

import codesign
from codesign.procs import children_alive, pid_alive

ROOT = Path(__file__).resolve().parent.parent
N_TRIALS = 150


def _stored(journal: Path) -> dict[int, tuple]:
    """Trials in the journal, read the way Optuna reads it."""
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.load_study(study_name="resume", storage=JournalStorage(JournalFileBackend(str(journal))))
    return {t.number: (t.state.name, t.params, t.values) for t in study.get_trials(deepcopy=False)}


def _lines(journal: Path) -> int:
    if not journal.exists():
        return 0
    return sum(1 for line in journal.read_bytes().splitlines() if b'"op_code":4' in line)


def test_sigkill_then_resume(tmp_path):
    raw = {"name": "resume",
           "workload": {"layers": [{"name": "fc", "op": "gemm", "M": 96, "N": 80, "K": 72},
                                   {"name": "c", "op": "conv2d", "N": 1, "C": 24, "H": 14, "W": 14, "K": 32,
                                    "R": 3, "S": 3, "padding": 1},
                                   # slow enough to map (> NestedEvaluator.POOL_AFTER_S) that the pool starts
                                   {"name": "big", "op": "conv2d", "N": 1, "C": 64, "H": 56, "W": 56, "K": 64,
                                    "R": 3, "S": 3, "padding": 1}]},
           "hardware": {"rows": {"low": 2, "high": 64}, "cols": {"low": 2, "high": 64},
                        "dataflow": ["os", "ws", "is"], "glb_kib": {"low": 2, "high": 512, "log": True},
                        "dram_bw_bytes": {"low": 2, "high": 64, "log": True}},
           "search": {"n_trials": N_TRIALS, "batch": 4, "seed": 3, "sampler": "random", "jobs": 2}}
    cfg = tmp_path / "resume.yaml"
    cfg.write_text(yaml.safe_dump(raw))
    cmd = [sys.executable, "-m", "codesign.cli", "sweep", str(cfg), "-q"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    journal = tmp_path / "results" / "resume" / "study.journal"

    proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while ((_lines(journal) < 30 or not children_alive(proc.pid)) and proc.poll() is None
           and time.monotonic() < deadline):              # killed with its mapper pool running
        time.sleep(0.02)
    assert proc.poll() is None, "the sweep finished before it could be killed; make it longer"
    workers = children_alive(proc.pid, descendants=True)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + 10          # the mapper pool dies with its parent
    while any(pid_alive(p) for p in workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert workers, "the sweep had no mapper processes to check; make its designs slower to map"
    assert not [p for p in workers if pid_alive(p)], "mapper processes outlived the killed sweep"
    before = _stored(journal)
    assert 30 <= len(before) < N_TRIALS
    assert {s for s, _, _ in before.values()} == {"COMPLETE"}      # no half-written trial
    assert sorted(before) == list(range(len(before)))

    done = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=300)          # a hang guard: over 120 s under load (-n 2, load 4)
    assert done.returncode == 0, done.stderr
    assert f"{N_TRIALS} trials in the study ({N_TRIALS - len(before)} new" in done.stdout
    after = _stored(journal)
    assert len(after) == N_TRIALS
    assert all(after[n] == v for n, v in before.items())          # nothing lost or rewritten
    df = codesign.load_results(tmp_path / "results" / "resume")
    assert df["trial"].tolist() == list(range(N_TRIALS))
    # the resumed sampler draws new points instead of replaying the first ones
    first = {json.dumps(p, sort_keys=True) for _, p, _ in before.values()}
    later = [json.dumps(after[n][1], sort_keys=True) for n in range(len(before), N_TRIALS)]
    assert sum(p in first for p in later) < 5
