"""Where a sweep's study lives, and how trials get there.

Write path. Optuna's samplers run against a local in-memory study (the
*mirror*); only finished trials are written to the durable study, a batch at
a time, with `Study.add_trials` (one journal line or one RDB transaction per
trial, params, values, constraints and attributes together). So:

- a trial is in storage exactly when it is complete: a kill -9 loses at most
  the batch being evaluated, never a completed trial, and never leaves
  RUNNING orphans behind;
- storage cost per trial is one write, not one per parameter and constraint
  (measured in benchmarks/bench_search.py: journal ~2000 trials/s written;
  plain ask/tell on the journal ~200 trials/s; on SQLite ~18 trials/s);
- several processes (``codesign sweep --worker``) share one study: each
  mirror pulls the others' new trials before every batch.

Default storage: ``<results>/study.journal``, an Optuna `JournalStorage` on a
`JournalFileBackend` (append-only JSON lines, fsync per write, file lock).
An RDB URL (``sqlite:///...``, ``postgresql+psycopg2://...``) uses
`RDBStorage`. The study is named after the config; its search space is
recorded in a study attribute and a rerun with a different space is refused.
"""
from __future__ import annotations

import json
import os
import socket
import time
import uuid
import warnings
from pathlib import Path

import optuna
from optuna.distributions import (CategoricalDistribution, FloatDistribution, IntDistribution,
                                  distribution_to_json)
from optuna.storages import BaseStorage, InMemoryStorage, JournalStorage, RDBStorage
from optuna.storages.journal import JournalFileBackend
from optuna.trial import FrozenTrial, Trial, TrialState

from ..config import Config
from ..errors import UserError
from .results import ATTR, JOURNAL, TRIALS
from .settings import SearchSettings
from .space import SearchSpace

__all__ = ["SweepStudy", "open_storage", "make_sampler", "SPACE_ATTR"]
#: study user attribute holding the search-space fingerprint
SPACE_ATTR = "codesign:space"


#: study user attribute naming the main sweep that holds the study's lock (pid, host, start)
MAIN_ATTR = "codesign:main"


def _holder() -> dict:
    return {"pid": os.getpid(), "host": socket.gethostname(),
            "start": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}


def _says(h: dict) -> str:
    return f"pid {h.get('pid', '?')} on {h.get('host', '?')}, started {h.get('start', '?')}"


def _claim_journal(out: Path, *, main: bool, journal: bool = True):
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
    """Refuse a damaged journal in one line; repair only a torn last line (a write
    cut by kill -9) when every other line parses. Never truncates anything else."""
    if not journal.is_file() or not journal.stat().st_size:
        return
    data = journal.read_bytes()
    lines = data.split(b"\n")
    tail = lines.pop()                       # b"" when the file ends with a newline
    for i, line in enumerate(lines):
        try:
            json.loads(line)
        except ValueError:
            raise UserError(f"{journal}: line {i + 1} of {len(lines) + bool(tail)} is damaged (not a JSON record); "
                            f"the study cannot be read safely: restore the file from a copy, or move it away "
                            f"to start the study over") from None
    if tail:                                 # torn last write: drop it (that trial was never complete)
        with open(journal, "rb+") as f:
            f.truncate(len(data) - len(tail))


def open_storage(settings: SearchSettings, out: Path) -> BaseStorage:
    """The durable storage: the journal file in `out`, or the RDB URL."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if not settings.is_rdb:
        out.mkdir(parents=True, exist_ok=True)
        return JournalStorage(JournalFileBackend(str(out / JOURNAL)))
    kw = {"connect_args": {"timeout": 60}} if settings.storage.startswith("sqlite") else {}
    try:
        return RDBStorage(settings.storage, engine_kwargs=kw)
    except ImportError as e:
        raise UserError(f"search.storage: {settings.storage}: the database driver is not installed ({e})") from None
    except Exception as e:   # noqa: BLE001 (sqlalchemy raises many kinds)
        raise UserError(f"search.storage: cannot open {settings.storage}: {str(e).splitlines()[0]}") from None


def _fixed(cfg: Config) -> dict:
    if len(cfg.spaces) == 1:
        return {k: repr(p.value) for k, p in cfg.hardware.items() if p.kind == "fixed"}
    return {f"{s.family}.{k}": repr(p.value) for s in cfg.spaces for k, p in s.params.items() if p.kind == "fixed"}


def fingerprint(cfg: Config, settings: SearchSettings, space: SearchSpace) -> str:
    """What must not change between runs of one study, as JSON."""
    return json.dumps({
        "space": {k: distribution_to_json(d) for k, d in space.flat().items()},
        "fixed": _fixed(cfg),
        "edges": repr(cfg.network.edges),
        "workload": [[l.name, repr(l.shape_key()), c] for l, c in cfg.workload],
        "objectives": list(settings.objectives),
        "constraints": [[b.name, b.limit] for b in settings.constraints],
        "mapping": settings.mapping, "mapper_objective": cfg.objective, "pins": repr(cfg.pins),
    }, sort_keys=True)


def _first_difference(old: str, new: str) -> str:
    a, b = json.loads(old), json.loads(new)
    return next((k for k in b if a.get(k) != b[k]), "search space")


def make_sampler(settings: SearchSettings, cfg: Config, offset: int) -> optuna.samplers.BaseSampler:
    """The configured sampler, seeded with ``seed + offset`` (the offset makes
    a resumed run, or a second worker, draw new points instead of replaying)."""
    seed = None if settings.seed is None else settings.seed + offset
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        if settings.sampler == "nsga2":
            return optuna.samplers.NSGAIISampler(population_size=settings.batch, seed=seed)
        if settings.sampler == "tpe":
            return optuna.samplers.TPESampler(seed=seed, multivariate=True, constant_liar=True)
        if settings.sampler == "grid":
            from .space import grid_space
            return optuna.samplers.GridSampler(grid_space(cfg), seed=seed)
        return optuna.samplers.RandomSampler(seed=seed)


def _lock_study(storage: RDBStorage, study: optuna.Study, where: str):
    """PostgreSQL: a session advisory lock on the study (pg_try_advisory_lock on a
    connection of its own, held while the sweep runs, freed by the server when the
    connection closes, kill -9 included); the holder is recorded in `MAIN_ATTR`.
    Returns the connection, or None for other databases (SQLite is a local file:
    the results folder's lock covers it)."""
    if storage.engine.dialect.name != "postgresql":
        return None
    import hashlib

    import sqlalchemy
    key = int.from_bytes(hashlib.sha1(f"codesign:{study.study_name}".encode()).digest()[:8], "big", signed=True)
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


def _check_results(out: Path, n_study: int, where: str) -> None:
    """Refuse a study that holds fewer trials than the results written from it
    (an emptied, truncated or lost journal), instead of re-running and overwriting."""
    from .results import stored_rows
    rows = stored_rows(out)
    if rows is not None and rows > n_study:
        raise UserError(f"{where} holds {n_study} complete trials but {out / TRIALS} holds {rows}: the study "
                        f"lost trials; restore it from a copy, or remove {out} to start over")


class SweepStudy:
    """The durable study plus its local mirror (module docstring)."""

    def __init__(self, cfg: Config, settings: SearchSettings, out: Path,
                 space: SearchSpace, *, worker: bool = False):
        self.cfg, self.settings, self.space = cfg, settings, space
        self.dists = space.flat()
        self.worker = uuid.uuid4().hex[:8]
        if not (settings.is_rdb and worker):      # a worker on another machine needs no results folder
            out.mkdir(parents=True, exist_ok=True)
            self._claim = _claim_journal(out, main=not worker, journal=not settings.is_rdb)
        else:
            self._claim = []
        self._db_lock = None
        try:
            self._open(cfg, settings, out, worker)
        except BaseException:
            self.close()
            raise

    def _open(self, cfg: Config, settings: SearchSettings, out: Path, worker: bool) -> None:
        journal = out / JOURNAL
        if not worker and not settings.is_rdb and not (journal.is_file() and journal.stat().st_size):
            _check_results(out, 0, self.where(out))          # results but no study: never start over
        self.storage = open_storage(settings, out)
        directions = ["minimize"] * len(settings.objectives)
        fp = fingerprint(cfg, settings, self.space)
        self.durable = self._study(cfg.name, directions, out, worker)
        if not worker and isinstance(self.storage, RDBStorage):
            self._db_lock = _lock_study(self.storage, self.durable, self.where(out))
        old = self.durable.user_attrs.get(SPACE_ATTR)
        if old is None:
            self.durable.set_user_attr(SPACE_ATTR, fp)
        elif old != fp:
            raise UserError(f"study {cfg.name!r} in {self.where(out)} was run with a different "
                            f"{_first_difference(old, fp)}; give the config a new name or remove the old study")
        self._seen: set[int] = set()
        self._designs: set[tuple] = set()
        self.committed = 0
        done = self._complete()
        self.local = optuna.create_study(storage=InMemoryStorage(), directions=directions,
                                         sampler=make_sampler(settings, cfg, len(done) + (
                                             1 + int(self.worker, 16) % 1_000_003 if worker else 0)))
        self._pull(done)

    def _study(self, name: str, directions: list[str], out: Path, worker: bool) -> optuna.Study:
        """The durable study, created if new. An existing one is loaded without a write
        (a journal's create_study appends a record even when the study exists), its
        directions compared and, for a main sweep, its trials counted against the results."""
        try:
            sid = self.storage.get_study_id_from_name(name)
        except KeyError:
            if not worker:
                _check_results(out, 0, self.where(out))
            return optuna.create_study(storage=self.storage, study_name=name, directions=directions,
                                       load_if_exists=True)
        have = [d.name.lower() for d in self.storage.get_study_directions(sid)]
        if have != directions:
            raise UserError(f"study {name!r} in {self.where(out)} was run with a different number of objectives "
                            f"({len(have)}; this config {len(directions)}); use a new name or remove it")
        if not worker:
            _check_results(out, len(self.storage.get_all_trials(sid, deepcopy=False, states=(TrialState.COMPLETE,))),
                           self.where(out))
        return optuna.load_study(study_name=name, storage=self.storage)

    def where(self, out: Path) -> str:
        return self.settings.storage if self.settings.is_rdb else str(out / JOURNAL)

    def _complete(self) -> list[FrozenTrial]:
        return self.durable.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))

    def _pull(self, trials: list[FrozenTrial]) -> None:
        new = [t for t in trials if t._trial_id not in self._seen]
        self._seen.update(t._trial_id for t in new)
        self._designs.update(self._key(t.params) for t in new)
        theirs = [t for t in new if t.user_attrs.get(ATTR, {}).get("worker") != self.worker]
        if theirs:
            self.local.add_trials(theirs)

    def sync(self) -> int:
        """Pull other workers' new trials into the mirror; the durable count of complete trials."""
        done = self._complete()
        self._pull(done)
        return len(done)

    def ask(self, n: int) -> list[Trial]:
        """`n` new trials, each a design not yet in the study: a repeat the
        sampler proposes is dropped (told FAIL in the mirror, never stored)
        and the sampler asked again; after ``3 n`` proposals repeats are let
        through (a nearly exhausted space)."""
        out: list[Trial] = []
        tries = 0
        while len(out) < n:
            t = self._sample()
            tries += 1
            key = self._key(t.params)
            if key in self._designs and tries <= 3 * n:
                self.local.tell(t, state=TrialState.FAIL)
                continue
            self._designs.add(key)
            out.append(t)
        return out

    def _sample(self) -> Trial:
        """One new trial: the static space, or (several families) the family first,
        then that family's parameters (define-by-run, conditional)."""
        if not self.space.multi:
            return self.local.ask(self.dists)
        t = self.local.ask({"family": self.space.family_distribution})
        chosen = next(s for s in self.space.spaces if s.family == t.params["family"])
        for name, d in self.space.of(chosen).items():
            if isinstance(d, CategoricalDistribution):
                t.suggest_categorical(name, d.choices)
            elif isinstance(d, IntDistribution):
                t.suggest_int(name, d.low, d.high, step=d.step, log=d.log)
            elif isinstance(d, FloatDistribution):
                t.suggest_float(name, d.low, d.high, step=d.step, log=d.log)
        return t

    @staticmethod
    def _key(params: dict) -> tuple:
        return tuple(sorted((k, repr(v)) for k, v in params.items()))

    def tell(self, trial: Trial, values: list[float], constraints: dict[str, float], attrs: dict) -> FrozenTrial:
        """Finish `trial` in the mirror (constraints through `Trial.set_constraint`)."""
        for k, v in constraints.items():
            trial.set_constraint(k, v)
        trial.set_user_attr(ATTR, {**attrs, "worker": self.worker})
        return self.local.tell(trial, values)

    def commit(self, trials: list[FrozenTrial]) -> None:
        """Write finished trials to the durable study (one write each)."""
        self.durable.add_trials(trials)
        self.committed += len(trials)

    def close(self) -> None:
        """Release the locks and the database connections."""
        for f in self._claim:
            f.close()
        self._claim = []
        if self._db_lock is not None:
            self._db_lock.close()
            self._db_lock = None
        if isinstance(getattr(self, "storage", None), RDBStorage):
            self.storage.remove_session()
            self.storage.engine.dispose()
