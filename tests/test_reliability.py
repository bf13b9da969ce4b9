"""Reliability of sweeps: Ctrl-C is quick and keeps every completed trial; one
study has one main sweep (a lock); corrupt results files and journals are
refused in one line; after a kill -9 the study is read directly.

The sweeps run as subprocesses (signals, locks and exit codes are process-level).
"""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

import codesign
from codesign.procs import children_alive, pid_alive

ROOT = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}
#: Ctrl-C to exit, the promise of the README's "Reliability" section
CTRL_C_BUDGET_S = 2.0


SMALL = {"layers": [{"name": "fc", "op": "gemm", "M": 96, "N": 80, "K": 72}]}
#: ResNet-18: about a second per design to map, so a pool chunk in flight takes seconds
SLOW = {"model": "resnet18", "batch": 1}


def _config(tmp_path: Path, name: str, n_trials: int, workload: dict = SMALL, **search) -> Path:
    raw = {"name": name, "workload": workload,
           "hardware": {"rows": {"low": 2, "high": 64}, "cols": {"low": 2, "high": 64},
                        "dataflow": ["os", "ws", "is"], "glb_kib": {"low": 2, "high": 512, "log": True}},
           "search": {"n_trials": n_trials, "batch": 16, "seed": 1, "sampler": "random", "jobs": 2, **search}}
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def _sweep(cfg: Path, *extra: str, **kw) -> list[str]:
    return [sys.executable, "-m", "codesign.cli", "sweep", str(cfg), "-q", *extra]


def _complete(journal: Path) -> int:
    if not journal.exists():
        return 0
    return sum(1 for line in journal.read_bytes().splitlines() if b'"op_code":4' in line)


def _wait(pred, timeout_s: float, proc=None) -> None:
    deadline = time.monotonic() + timeout_s
    while not pred() and time.monotonic() < deadline and (proc is None or proc.poll() is None):
        time.sleep(0.02)


def test_ctrl_c_exits_within_two_seconds_keeping_completed_trials(tmp_path):
    cfg = _config(tmp_path, "ctrlc", 2000, SLOW, batch=32)
    out = tmp_path / "results" / "ctrlc"
    first = subprocess.run(_sweep(cfg, "--n-trials", "6"), cwd=tmp_path, env=ENV, capture_output=True,
                           text=True, timeout=120)
    assert first.returncode == 0, first.stderr
    proc = subprocess.Popen(_sweep(cfg), cwd=tmp_path, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    _wait(lambda: children_alive(proc.pid), 60, proc)
    assert proc.poll() is None, "the sweep finished before it could be interrupted"
    time.sleep(1.0)                     # mid-batch: every mapper process busy with a chunk of designs
    workers = children_alive(proc.pid, descendants=True)
    assert workers, "no mapper pool to cancel; make the designs slower to map"
    t0 = time.monotonic()
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    took = time.monotonic() - t0
    assert proc.returncode == 130, stderr
    print(f"Ctrl-C to exit: {took:.2f} s")
    assert took < CTRL_C_BUDGET_S, f"Ctrl-C took {took:.1f} s to exit"
    assert "interrupted: sweep ctrlc" in stdout and "Traceback" not in stderr
    assert not [p for p in workers if pid_alive(p)], "mapper processes outlived the interrupted sweep"
    df = codesign.load_results(out)
    assert len(df) == _complete(out / "study.journal") >= 6       # every completed trial kept
    assert df["trial"].tolist() == list(range(len(df)))
