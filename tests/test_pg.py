"""The postgres_url fixture: a real server that psycopg2 and Optuna's RDBStorage use."""
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import optuna
import pytest
import sqlalchemy

import pg

from codesign.procs import children_alive, pid_alive


def test_select_one(postgres_url):
    engine = sqlalchemy.create_engine(postgres_url)
    try:
        with engine.connect() as conn:
            assert conn.execute(sqlalchemy.text("select 1")).scalar() == 1
            assert conn.execute(sqlalchemy.text("select current_database()")).scalar() == "codesign_test"
    finally:
        engine.dispose()


def test_optuna_study_shared_by_two_processes(postgres_url):
    storage = optuna.storages.RDBStorage(postgres_url)
    study = optuna.create_study(study_name="pg-fixture", storage=storage, direction="minimize")
    study.optimize(lambda t: (t.suggest_int("x", -10, 10) - 3) ** 2, n_trials=5)
    other = textwrap.dedent(f"""
        import optuna
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        study = optuna.load_study(study_name="pg-fixture", storage={postgres_url!r})
        study.optimize(lambda t: (t.suggest_int("x", -10, 10) - 3) ** 2, n_trials=3)
        print(len(study.trials))
    """)
    out = subprocess.run([sys.executable, "-c", other], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["8"]
    trials = optuna.load_study(study_name="pg-fixture", storage=storage).trials
    assert len(trials) == 8 and all(t.state == optuna.trial.TrialState.COMPLETE for t in trials)
    storage.remove_session()
    storage.engine.dispose()


def test_server_is_a_child_of_this_process(postgres_url):
    # Ours (dies with us, stopped at session end), not a system-wide server.
    port = sqlalchemy.engine.make_url(postgres_url).port
    cmdlines = []
    for pid in children_alive():
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmdlines.append(f.read().split(b"\0"))
        except OSError:
            continue
    assert any(c[0].endswith(b"/postgres") and str(port).encode() in c for c in cmdlines), cmdlines


def test_unavailable_says_why(monkeypatch):
    monkeypatch.setattr(pg, "pg_bin", lambda: None)
    assert "make pg" in pg._unavailable()


def test_start_failure_names_the_step():
    if pg._unavailable():
        pytest.skip(f"no PostgreSQL server: {pg._unavailable()}")
    folder = Path(tempfile.mkdtemp(prefix="codesign-pg-test-"))   # reachable by the postgres user
    try:
        (folder / "data").mkdir()
        (folder / "data" / "junk").write_text("not a cluster")
        with pytest.raises(RuntimeError, match=r"^initdb exited 1: .*remove or empty the directory"):
            pg.start_server(folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


KILLED_SCRIPT = """
import os, sys, tempfile, time
from pathlib import Path
sys.path.insert(0, {tests!r})
import pg
folder = Path(tempfile.mkdtemp(prefix="codesign-pg-test-"))
print(folder, flush=True)
url, proc = pg.start_server(folder)
print(proc.pid, flush=True)
time.sleep(60)
"""


def test_server_dies_with_a_killed_test_process():
    if pg._unavailable():
        pytest.skip(f"no PostgreSQL server: {pg._unavailable()}")
    script = KILLED_SCRIPT.format(tests=str(Path(__file__).resolve().parent))
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    folder = Path(proc.stdout.readline().strip())
    try:
        server = int(proc.stdout.readline())
        proc.kill()                                   # kill -9 of "pytest"
        proc.wait(timeout=10)
        deadline = time.monotonic() + 10
        while pid_alive(server) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not pid_alive(server)
    finally:
        proc.kill()
        proc.wait(timeout=10)
        shutil.rmtree(folder, ignore_errors=True)
