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
- several processes (``codesign sweep --worker``, on any number of
  machines through PostgreSQL) share one study: each mirror pulls the
  others' new trials before every batch, and a batch is written under a
  commit lock (`SweepStudy.commit`) that drops designs another process
  stored meanwhile and trials past ``n_trials``: the study stops at exactly
  ``n_trials`` complete trials, without duplicate designs;
- a killed worker loses only its batch in flight, which was never stored;
  there is no RUNNING trial to fail and retry (so no heartbeat and
  `RetryFailedTrialCallback` are needed): the other processes simply keep
  asking until the study holds ``n_trials``. The main process writes the
  results once the study is complete, so they hold every trial.

Locks (`codesign.search.locks`): one main sweep per results folder and (on
PostgreSQL) per study; ``--worker`` processes join.

Default storage: ``<results>/study.journal``, an Optuna `JournalStorage` on a
`JournalFileBackend` (append-only JSON lines, fsync per write, file lock),
opened by `journal.open_journal` (one parse, every line checked, the records
of a validated ``study.snapshot`` for the part it covers).
An RDB URL (``sqlite:///...``, ``postgresql+psycopg2://...``) uses
`RDBStorage`. The study is named after the config; its search space is
recorded in a study attribute and a rerun with a different space is refused.
"""
from __future__ import annotations

import json
import uuid
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import optuna
from optuna.distributions import (CategoricalDistribution, FloatDistribution, IntDistribution,
                                  distribution_to_json)
from optuna.storages import BaseStorage, InMemoryStorage, RDBStorage
from optuna.trial import FrozenTrial, Trial, TrialState

from ..config import Config
from ..errors import UserError
from .journal import open_journal, refresh_snapshot
from .locks import check_results, claim_folder, lock_key, lock_study
from .results import ATTR, JOURNAL
from .settings import SearchSettings
from .space import SearchSpace

__all__ = ["SweepStudy", "open_storage", "make_sampler", "SPACE_ATTR"]
#: study user attribute holding the search-space fingerprint
SPACE_ATTR = "codesign:space"


def open_storage(settings: SearchSettings, out: Path) -> BaseStorage:
    """The durable storage: the journal file in `out` (`journal.open_journal`: one parse, a
    snapshot), or the RDB URL."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if not settings.is_rdb:
        out.mkdir(parents=True, exist_ok=True)
        return open_journal(out / JOURNAL, freeze=True)[0]
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
        if settings.sampler == "local":
            from .local import ParetoLocalSampler
            from .space import SearchSpace
            return ParetoLocalSampler(SearchSpace(cfg, False).flat(), seed=seed)
        return optuna.samplers.RandomSampler(seed=seed)


def _for_mirror(t: FrozenTrial) -> FrozenTrial:
    """`t` without its user attributes (the outcome, kilobytes per trial): the
    samplers read params, values, constraints and system attributes only, and
    adding a trial to the mirror deep-copies it."""
    return FrozenTrial(number=t.number, state=t.state, value=None, values=t.values,
                       datetime_start=t.datetime_start, datetime_complete=t.datetime_complete,
                       params=t.params, distributions=t.distributions, user_attrs={},
                       system_attrs=t.system_attrs, intermediate_values=t.intermediate_values,
                       trial_id=t._trial_id)


class SweepStudy:
    """The durable study plus its local mirror (module docstring)."""

    def __init__(self, cfg: Config, settings: SearchSettings, out: Path,
                 space: SearchSpace, *, worker: bool = False):
        self.cfg, self.settings, self.space = cfg, settings, space
        self.dists = space.flat()
        self.worker = uuid.uuid4().hex[:8]
        if not (settings.is_rdb and worker):      # a worker on another machine needs no results folder
            out.mkdir(parents=True, exist_ok=True)
            self._claim = claim_folder(out, main=not worker, journal=not settings.is_rdb)
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
            check_results(out, 0, self.where(out))          # results but no study: never start over
        self.storage = open_storage(settings, out)
        directions = ["minimize"] * len(settings.objectives)
        fp = fingerprint(cfg, settings, self.space)
        self.durable = self._study(cfg.name, directions, out, worker)
        if not worker and isinstance(self.storage, RDBStorage):
            self._db_lock = lock_study(self.storage, self.durable, self.where(out))
        old = self.durable.user_attrs.get(SPACE_ATTR)
        if old is None:
            self.durable.set_user_attr(SPACE_ATTR, fp)
        elif old != fp:
            raise UserError(f"study {cfg.name!r} in {self.where(out)} was run with a different "
                            f"{_first_difference(old, fp)}; give the config a new name or remove the old study")
        self._seen: set[int] = set()
        self._pending: list[FrozenTrial] = []    # pulled, not yet in the mirror (`_flush`)
        self.trials: list[FrozenTrial] = []     # the durable complete trials at the last sync
        self._designs: set[tuple] = set()       # designs stored or asked by this process
        self._stored: set[tuple] = set()        # designs in the durable study (at the last sync)
        self._repeats: set[int] = set()         # mirror trial numbers let through as repeats (ask)
        self._out, self._conn = out, None
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
                check_results(out, 0, self.where(out))
            return optuna.create_study(storage=self.storage, study_name=name, directions=directions,
                                       load_if_exists=True)
        have = [d.name.lower() for d in self.storage.get_study_directions(sid)]
        if have != directions:
            raise UserError(f"study {name!r} in {self.where(out)} was run with a different number of objectives "
                            f"({len(have)}; this config {len(directions)}); use a new name or remove it")
        if not worker:
            check_results(out, len(self.storage.get_all_trials(sid, deepcopy=False, states=(TrialState.COMPLETE,))),
                           self.where(out))
        return optuna.load_study(study_name=name, storage=self.storage)

    def where(self, out: Path) -> str:
        return self.settings.storage if self.settings.is_rdb else str(out / JOURNAL)

    def _complete(self) -> list[FrozenTrial]:
        self.trials = self.durable.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        return self.trials

    def _pull(self, trials: list[FrozenTrial]) -> None:
        new = [t for t in trials if t._trial_id not in self._seen]
        self._seen.update(t._trial_id for t in new)
        keys = [self._key(t.params) for t in new]
        self._designs.update(keys)
        self._stored.update(keys)
        self._pending += [t for t in new if t.user_attrs.get(ATTR, {}).get("worker") != self.worker]

    def _flush(self) -> None:
        """Add the pulled trials to the mirror, once its sampler is asked (a
        resumed study that is already complete never pays for it)."""
        if self._pending:
            self.local.add_trials([_for_mirror(t) for t in self._pending])
            self._pending = []

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
        self._flush()
        out: list[Trial] = []
        tries = 0
        while len(out) < n:
            t = self._sample()
            tries += 1
            key = self._key(t.params)
            if key in self._designs and tries <= 3 * n:
                self.local.tell(t, state=TrialState.FAIL)
                continue
            if key in self._designs:
                self._repeats.add(t.number)
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

    def commit(self, trials: list[FrozenTrial], target: int | None = None) -> int:
        """Write finished trials to the durable study (one write each); the
        durable count of complete trials after it.

        Under the study's commit lock (`_commit_lock`) the process first pulls
        what the others stored, then drops a trial whose design another process
        stored meanwhile (unless the space is nearly exhausted: `ask`) and every
        trial past `target`, so concurrent processes stop at exactly `target`
        complete trials with no duplicate design. A dropped trial was only
        evaluated, never stored: nothing is left RUNNING, nothing is lost."""
        with self._commit_lock():
            done = self.sync()
            keep = []
            for t in trials:
                if target is not None and done + len(keep) >= target:
                    break
                if self._key(t.params) in self._stored and t.number not in self._repeats:
                    continue
                keep.append(t)
            if keep:
                self.durable.add_trials(keep)
            self.committed += len(keep)
            return done + len(keep)

    @contextmanager
    def _commit_lock(self) -> Iterator[None]:
        """Serialize count-and-write among the study's processes: a PostgreSQL
        session advisory lock (freed by the server if the holder dies), an
        exclusive flock on ``out/.commit.lock`` for the journal (freed by the OS);
        none for other databases (SQLite serializes writes, but the count may then
        pass the target by up to a batch per extra process)."""
        if isinstance(self.storage, RDBStorage) and self.storage.engine.dialect.name == "postgresql":
            import sqlalchemy
            if self._conn is None:
                self._conn = self.storage.engine.connect()
            key = lock_key(f"codesign-commit:{self.cfg.name}")
            self._conn.execute(sqlalchemy.text("SELECT pg_advisory_lock(:k)"), {"k": key})
            self._conn.commit()
            try:
                yield
            finally:
                self._conn.execute(sqlalchemy.text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                self._conn.commit()
            return
        if isinstance(self.storage, RDBStorage):
            yield
            return
        import fcntl
        with open(self._out / ".commit.lock", "a+") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            yield

    def snapshot(self) -> bool:
        """Journal: rewrite the snapshot if the journal has grown enough (`journal.refresh_snapshot`)."""
        return not self.settings.is_rdb and refresh_snapshot(self._out / JOURNAL)

    def close(self) -> None:
        """Release the locks and the database connections."""
        for f in self._claim:
            f.close()
        self._claim = []
        for conn in (self._db_lock, getattr(self, "_conn", None)):
            if conn is not None:
                conn.close()
        self._db_lock = self._conn = None
        if isinstance(getattr(self, "storage", None), RDBStorage):
            self.storage.remove_session()
            self.storage.engine.dispose()
        elif getattr(self, "storage", None) is not None:
            import gc
            gc.unfreeze()            # the study's trials back in the collector's sight (`open_journal`)
