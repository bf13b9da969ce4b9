"""A throw-away PostgreSQL server for the tests: the ``postgres_url`` fixture.

The server is Debian's (``make pg`` installs the ``postgresql`` package when
it is missing): ``initdb`` in a fresh temporary folder, ``postgres`` listening
on 127.0.0.1 on a free port (its socket in that folder too), one database,
and a ``postgresql+psycopg2://`` URL for SQLAlchemy / Optuna's RDBStorage.
As root the server runs as the ``postgres`` user (it refuses root). The
server is a direct child of the test process with ``die_with_parent``, so
even a kill -9 of pytest leaves no server behind; at session end it gets a
fast shutdown (SIGINT), also after failures, and the folder is removed.

Where no server can be had (binaries or psycopg2 missing, no ``postgres``
user, start failure) every test that asks for it is skipped with the reason.
"""
from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from codesign.procs import die_with_parent

DATABASE = "codesign_test"
START_TIMEOUT_S = 30.0


def pg_bin() -> Path | None:
    """The newest ``/usr/lib/postgresql/<v>/bin`` with initdb and postgres, else one on PATH."""
    found = [Path(p).parent for p in glob.glob("/usr/lib/postgresql/*/bin/initdb")]
    found = [b for b in found if (b / "postgres").is_file()]
    if found:
        return max(found, key=lambda b: int(b.parent.name) if b.parent.name.isdigit() else 0)
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb and shutil.which("postgres") else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_user(user: pwd.struct_passwd | None, parent: int):
    """A preexec_fn: drop to ``user`` (when root), then die with ``parent``.

    The order matters: a change of uid clears PR_SET_PDEATHSIG (prctl(2)).
    """
    def preexec() -> None:
        if user is not None:
            os.setgroups([])
            os.setgid(user.pw_gid)
            os.setuid(user.pw_uid)
        die_with_parent(parent)
    return preexec


def _run(cmd: list[str], user: pwd.struct_passwd | None, log: Path) -> None:
    """Run a setup command as ``user``; RuntimeError with the log's last line on failure."""
    with open(log, "ab") as out:
        rc = subprocess.call(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                             preexec_fn=_as_user(user, os.getpid()), timeout=120)
    if rc != 0:
        raise RuntimeError(f"{Path(cmd[0]).name} exited {rc}: {_last_line(log)}")


def _last_line(log: Path) -> str:
    lines = [ln for ln in log.read_text(errors="replace").splitlines() if ln.strip()]
    return lines[-1] if lines else "(no output)"


def _wait_ready(proc: subprocess.Popen, port: int, log: Path) -> None:
    """Block until the server accepts connections; RuntimeError if it dies or times out."""
    import psycopg2

    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"postgres exited {proc.returncode}: {_last_line(log)}")
        try:
            psycopg2.connect(host="127.0.0.1", port=port, user="postgres", dbname="postgres",
                             connect_timeout=2).close()
            return
        except psycopg2.OperationalError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"postgres not ready after {START_TIMEOUT_S:.0f} s: {_last_line(log)}")
            time.sleep(0.05)


def _create_database(port: int) -> None:
    import psycopg2

    conn = psycopg2.connect(host="127.0.0.1", port=port, user="postgres", dbname="postgres")
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(f"CREATE DATABASE {DATABASE}")
    finally:
        conn.close()


def _stop(proc: subprocess.Popen) -> None:
    """Fast shutdown (SIGINT: roll back, disconnect, exit), SIGKILL after 15 s."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)


def _unavailable() -> str | None:
    """Why no server can be started here, or None."""
    try:
        import psycopg2  # noqa: F401
    except ImportError:
        return "psycopg2 is not installed (pip install -e '.[dev]')"
    if pg_bin() is None:
        return "PostgreSQL is not installed: no initdb/postgres under /usr/lib/postgresql/*/bin (run `make pg`)"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root and there is no 'postgres' user to run the server as"
    return None


def start_server(folder: Path) -> tuple[str, subprocess.Popen]:
    """initdb + postgres in ``folder`` (which must be empty); (URL, server process).

    Raises RuntimeError naming the step and the server log's last line.
    """
    user = pwd.getpwnam("postgres") if os.geteuid() == 0 else None
    if user is not None:
        os.chown(folder, user.pw_uid, user.pw_gid)
    bindir, data, log = pg_bin(), folder / "data", folder / "server.log"
    log.touch()
    if user is not None:
        os.chown(log, user.pw_uid, user.pw_gid)
    _run([str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust", "-E", "UTF8",
          "--locale=C", "--no-sync"], user, log)
    for attempt in range(3):    # the free port may be taken by the time the server binds it
        port = _free_port()
        out = open(log, "ab")
        proc = subprocess.Popen(
            [str(bindir / "postgres"), "-D", str(data), "-h", "127.0.0.1", "-p", str(port),
             "-k", str(folder), "-c", "fsync=off", "-c", "synchronous_commit=off",
             "-c", "full_page_writes=off", "-c", "max_connections=100"],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            preexec_fn=_as_user(user, os.getpid()))
        out.close()
        try:
            _wait_ready(proc, port, log)
            break
        except RuntimeError:
            _stop(proc)
            if attempt == 2:
                raise
    try:
        _create_database(port)
    except Exception as e:
        _stop(proc)
        raise RuntimeError(f"CREATE DATABASE failed: {e}") from e
    return f"postgresql+psycopg2://postgres@127.0.0.1:{port}/{DATABASE}", proc


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """URL of a fresh database on a server of this session's own (skips with the reason if none)."""
    reason = _unavailable()
    if reason:
        pytest.skip(f"no PostgreSQL server: {reason}")
    folder = Path(tempfile.mkdtemp(prefix="codesign-pg-"))
    proc = None
    try:
        try:
            url, proc = start_server(folder)
        except (RuntimeError, OSError, subprocess.SubprocessError) as e:
            pytest.skip(f"no PostgreSQL server: {e}")
        yield url
    finally:
        if proc is not None:
            _stop(proc)
        shutil.rmtree(folder, ignore_errors=True)
