"""The locks of a study, and the checks before a sweep writes to it.

* The results folder: every process of a sweep holds a shared flock on
  ``.sweep.lock`` (the first one repairs a torn journal line, refuses any other
  damage); a main sweep (not ``--worker``) holds an exclusive flock on
  ``.main.lock`` with its pid, host and start time, so a second main sweep of
  the folder refuses at once naming the holder.
* PostgreSQL: a main sweep holds a session advisory lock on the study
  (freed by the server when its connection closes, kill -9 included); the
  holder is recorded in the study attribute `MAIN_ATTR`.
* `check_results`: a study with fewer complete trials than the results
  written from it (an emptied, truncated or lost journal) is refused instead
  of re-run and overwritten.

Locks held by flock or by a database session vanish with their process, so
a killed sweep never leaves a stale lock.
"""
from __future__ import annotations

import hashlib
import json
import os
import socket
import time
from pathlib import Path

from ..errors import UserError
from .results import JOURNAL, TRIALS

__all__ = ["MAIN_ATTR", "claim_folder", "lock_study", "lock_key", "check_results"]

#: study user attribute naming the main sweep that holds the study's lock (pid, host, start)
MAIN_ATTR = "codesign:main"


def _holder() -> dict:
    return {"pid": os.getpid(), "host": socket.gethostname(),
            "start": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}


def _says(h: dict) -> str:
    return f"pid {h.get('pid', '?')} on {h.get('host', '?')}, started {h.get('start', '?')}"


def claim_folder(out: Path, *, main: bool, journal: bool = True):
    """Register this process as a user of the study in `out`; the open lock
    files (locks dropped by the OS even on kill -9).

    * Every process takes a shared flock on ``out/.sweep.lock``; the first
      user repairs what a killed predecessor may have left: a stale journal
      lock (else the next write waits Optuna's 30 s grace period) and a torn
      last line (`_check_journal`; any other damage is refused).
    * A main sweep (not ``--worker``) also takes an exclusive flock on
      ``out/.main.lock`` and writes its pid, host and start time there; a
      second main sweep of the folder refuses at once, naming the holder.
    """
    try:
        import fcntl
    except ImportError:          # not POSIX: no lock, no repair
        return []
    held = []
    if main:
        fm = open(out / ".main.lock", "a+")
        try:
            fcntl.flock(fm, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            fm.seek(0)
            try:
                h = json.loads(fm.read() or "{}")
            except ValueError:
                h = {}
            fm.close()
            raise UserError(f"{out}: another sweep of this study is running ({_says(h)}); wait for it to "
                            f"finish or stop it, or add trials with `codesign sweep --worker`") from None
        fm.truncate(0)
        fm.write(json.dumps(_holder()))
        fm.flush()
        held.append(fm)
    if not journal:
        return held
    fh = open(out / ".sweep.lock", "a+")
    held.append(fh)
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        fcntl.flock(fh, fcntl.LOCK_SH)     # others are running: they keep the journal sound
        return held
    try:
        lock = out / (JOURNAL + ".lock")
        if lock.is_symlink() or lock.exists():
            lock.unlink()
        _check_journal(out / JOURNAL)
    except BaseException:
        for f in held:
            f.close()
        raise
    fcntl.flock(fh, fcntl.LOCK_SH)
    return held


def _check_journal(journal: Path) -> None:
    """Repair a torn last line (a write cut by kill -9: no newline at the end) when every
    other line is sound (`journal.load`: a damaged line is refused in one line); never
    truncates anything else. The lines of a sound journal are checked as the storage
    parses them (`journal.open_journal`), so a journal that ends with its newline is
    not read here."""
    if not journal.is_file() or not journal.stat().st_size:
        return
    with open(journal, "rb") as f:
        f.seek(-1, os.SEEK_END)
        if f.read(1) == b"\n":
            return
    from .journal import load
    end = load(journal).end                  # raises on a damaged line
    with open(journal, "rb+") as f:          # torn last write: drop it (that trial was never complete)
        f.truncate(end)


def lock_study(storage, study, where: str):
    """PostgreSQL: a session advisory lock on the study (pg_try_advisory_lock on a
    connection of its own, held while the sweep runs, freed by the server when the
    connection closes, kill -9 included); the holder is recorded in `MAIN_ATTR`.
    Returns the connection, or None for other databases (SQLite is a local file:
    the results folder's lock covers it)."""
    if storage.engine.dialect.name != "postgresql":
        return None
    import sqlalchemy
    key = lock_key(f"codesign:{study.study_name}")
    conn = storage.engine.connect()
    got = conn.execute(sqlalchemy.text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar()
    conn.commit()
    if not got:
        conn.close()
        h = study.user_attrs.get(MAIN_ATTR) or {}
        raise UserError(f"study {study.study_name!r} in {where}: another main sweep is running ({_says(h)}); "
                        f"wait for it or stop it, or add trials with `codesign sweep --worker`")
    study.set_user_attr(MAIN_ATTR, _holder())
    return conn


def lock_key(text: str) -> int:
    """A PostgreSQL advisory lock key (signed 64-bit) for `text`."""
    return int.from_bytes(hashlib.sha1(text.encode()).digest()[:8], "big", signed=True)


def check_results(out: Path, n_study: int, where: str) -> None:
    """Refuse a study that holds fewer trials than the results written from it
    (an emptied, truncated or lost journal), instead of re-running and overwriting."""
    from .results import stored_rows
    rows = stored_rows(out)
    if rows is not None and rows > n_study:
        raise UserError(f"{where} holds {n_study} complete trials but {out / TRIALS} holds {rows}: the study "
                        f"lost trials; restore it from a copy, or remove {out} to start over")
