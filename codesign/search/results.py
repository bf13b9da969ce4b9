"""The results of a sweep as a pandas table, and the files in ``results/<name>/``.

`trials_frame` turns the study's complete trials into one row per trial:

- ``trial``: the Optuna trial number (what ``codesign export --trial`` takes);
- one column per hardware key of the config, named exactly as the key
  (fixed values repeated, so a row describes a whole design);
- the metrics ``latency_cycles, energy_pj, area_mm2, edp, power_mw,
  utilization`` (NaN when a layer fits nowhere);
- ``feasible``, one ``violation.<constraint>`` column per constraint
  (<= 0: satisfied; ``violation.fits`` > 0: some layer does not fit) and
  ``reason`` (why not feasible, in words);
- ``mappings`` (JSON: layer -> ``Mapping.to_dict()``, rebuild with
  ``Mapping.build(layer, **d)``) and ``layer_costs`` (JSON: layer ->
  latency_cycles, energy_pj, count, the family's figures such as utilization
  and dataflow, and the mapper's certificate: considered, evaluated, seconds,
  exact);
- ``eval_s`` (evaluation seconds, the batch's time shared by its trials),
  ``worker`` and ``datetime_complete``.

`write_results` writes trials.parquet, pareto.csv, pareto.png, hypervolume.png, meta.json.
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from ..config import Config
from ..errors import UserError, short
from ..families import DEFAULT_FAMILY, get_family
from .columns import _free, _hardware_columns, _keys, _raw_workload, json_text
from .pareto import hypervolume_history, pareto_mask
from .settings import METRICS, SearchSettings

__all__ = ["trials_frame", "write_results", "load_results", "pareto_front", "hypervolume_history", "Meta",
           "Design", "load_design", "trial_config",
           "TRIALS", "PARETO_CSV", "JOURNAL", "ATTR"]

TRIALS = "trials.parquet"
JOURNAL = "study.journal"
#: user attribute of a trial holding its outcome (metrics, per-layer costs and mappings as JSON text, timing, worker)
ATTR = "codesign"
PARETO_CSV = "pareto.csv"
META = "meta.json"
#: the table's JSON text columns: most of its bytes (commands that only need numbers skip them)
JSON_COLUMNS = ("mappings", "layer_costs")


@dataclass(frozen=True)
class Meta:
    """What a results folder is about (meta.json): names needed to read the table."""

    name: str
    config: str
    objectives: tuple[str, ...]
    constraints: tuple[str, ...]
    free: tuple[str, ...]
    hardware: tuple[str, ...]
    mapping: str
    sampler: str
    storage: str
    workload: dict | None = None      # the config's workload section, as written
    mapper_objective: str | dict = "edp"
    metrics: tuple[str, ...] = METRICS
    families: tuple[str, ...] = (DEFAULT_FAMILY,)

    @classmethod
    def of(cls, cfg: Config, settings: SearchSettings, out: Path) -> "Meta":
        return cls(cfg.name, cfg.path, settings.objectives, tuple(b.name for b in settings.constraints),
                   _free(cfg), _keys(cfg), settings.mapping, settings.sampler,
                   settings.storage if settings.is_rdb else str(out / JOURNAL), _raw_workload(cfg),
                   cfg.objective, settings.metrics, tuple(s.family for s in cfg.spaces))


def trials_frame(trials, cfg: Config, metrics: tuple[str, ...] = METRICS) -> pd.DataFrame:
    """One row per complete trial (module docstring), ordered by trial number."""
    from .journal import no_gc
    with no_gc():
        return _frame(trials, cfg, metrics)


def _frame(trials, cfg: Config, metrics: tuple[str, ...]) -> pd.DataFrame:
    """Built column by column (a list per column, then one DataFrame): a row dict per trial
    and pandas' record parsing cost 2 s at 20,000 trials."""
    done = sorted((t for t in trials if t.state.name == "COMPLETE"), key=lambda t: t.number)
    if not done:
        return pd.DataFrame(columns=["trial", *_keys(cfg), *metrics, "feasible", "reason", "mappings",
                                     "layer_costs", "eval_s", "worker", "datetime_complete"])
    attrs = [t.user_attrs.get(ATTR, {}) for t in done]
    cols: dict[str, list] = {"trial": [t.number for t in done], **_hardware_columns(done, cfg)}
    values = [a.get("metrics", {}) for a in attrs]
    for m in metrics:
        cols[m] = [math.nan if v.get(m) is None else v[m] for v in values]
    cons = [t.constraints for t in done]
    cols["feasible"] = [all(v <= 0 for v in c.values()) for c in cons]
    for k in dict.fromkeys(k for c in cons for k in c):       # every constraint, in order of first use
        cols[f"violation.{k}"] = [c.get(k, math.nan) for c in cons]
    cols["reason"] = [a.get("reason", "") for a in attrs]
    cols["mappings"] = [json_text(a.get("mappings", {})) for a in attrs]
    cols["layer_costs"] = [json_text(a.get("layers", {})) for a in attrs]
    cols["eval_s"] = [a.get("eval_s", math.nan) for a in attrs]
    cols["worker"] = [a.get("worker", "") for a in attrs]
    cols["datetime_complete"] = [t.datetime_complete for t in done]
    return pd.DataFrame(cols)


def pareto_front(df: pd.DataFrame, objectives: list[str] | tuple[str, ...] | None = None) -> pd.DataFrame:
    """The feasible rows of `df` that no other feasible row dominates on
    `objectives` (default: the sweep's, from ``df.attrs``), one row per
    distinct objective vector, sorted by the first objective."""
    objectives = list(objectives or df.attrs.get("objectives") or [])
    if not objectives:
        raise UserError("pareto_front: give the objectives (this table does not name them)")
    missing = [o for o in objectives if o not in df.columns]
    if missing:
        raise UserError(f"pareto_front: no column {missing[0]!r}; columns: {', '.join(map(str, df.columns))}")
    ok = df[df["feasible"].astype(bool)] if "feasible" in df.columns else df
    ok = ok[np.isfinite(ok[objectives].to_numpy(float)).all(axis=1)]
    ok = ok.drop_duplicates(subset=objectives)
    front = ok[pareto_mask(ok[objectives].to_numpy(float))] if len(ok) else ok
    return front.sort_values(objectives)


def _atomic(path: Path, write) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    write(tmp)
    os.replace(tmp, path)


def write_results(df: pd.DataFrame, meta: Meta, out: Path) -> pd.DataFrame:
    """Write the results files of `df` into `out`; returns the Pareto front (without the
    JSON columns)."""
    out.mkdir(parents=True, exist_ok=True)
    df.attrs.update(objectives=list(meta.objectives), name=meta.name)
    _atomic(out / TRIALS, lambda p: df.to_parquet(p, index=False))
    df = df.drop(columns=[c for c in JSON_COLUMNS if c in df.columns])   # the front and plots copy rows
    front = pareto_front(df, meta.objectives) if len(df) else df
    cols = ["trial", *meta.free, *meta.objectives, *[m for m in meta.metrics if m not in meta.objectives]]
    _atomic(out / PARETO_CSV, lambda p: front[cols].to_csv(p, index=False))
    _atomic(out / META, lambda p: p.write_text(json.dumps(asdict(meta), indent=1)))
    from .plots import plot_current, plot_hypervolume, plot_pareto, plot_stamp
    stamp = plot_stamp(df, front, meta)           # figures of the same data are kept as they are
    for name, draw in (("pareto.png", lambda p: plot_pareto(df, front, meta, p, stamp)),
                       ("hypervolume.png", lambda p: plot_hypervolume(df, meta, p, stamp))):
        if not plot_current(out / name, stamp):
            _atomic(out / name, draw)
    return front


def _repair(name: str) -> str:
    return f"`codesign sweep CONFIG` rebuilds {name} from the study"


def stored_rows(out: Path) -> int | None:
    """Rows of ``out/trials.parquet`` (from its footer), None if missing or unreadable."""
    import pyarrow.parquet as pq
    try:
        return pq.ParquetFile(out / TRIALS).metadata.num_rows
    except Exception:   # noqa: BLE001 (missing, or damaged: the sweep rewrites it)
        return None


def _stale(p: Path, meta: Meta) -> bool:
    """trials.parquet is missing, or older than the journal (a sweep killed before
    writing the results, or a worker that stored trials since)."""
    if not (p / TRIALS).is_file():
        return True
    if "://" in meta.storage:
        return _rdb_count(meta) not in (None, stored_rows(p))
    journal = p / JOURNAL
    return journal.is_file() and journal.stat().st_mtime > (p / TRIALS).stat().st_mtime


def results_current(out: Path, meta: Meta, n_complete: int) -> bool:
    """`out`'s results files already hold the study's `n_complete` trials under `meta`."""
    try:
        same = json.loads((out / META).read_text()) == json.loads(json.dumps(asdict(meta)))
    except (OSError, ValueError):
        return False
    files = all((out / f).is_file() for f in (PARETO_CSV, "pareto.png", "hypervolume.png"))
    return same and files and stored_rows(out) == n_complete and not _stale(out, meta)


def _rdb_count(meta: Meta) -> int | None:
    """Complete trials of the study in its database; None if it cannot be reached
    (then the table written is read as it is)."""
    import optuna
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        storage = optuna.storages.RDBStorage(meta.storage, skip_table_creation=True)
        try:
            sid = storage.get_study_id_from_name(meta.name)
            return len(storage.get_all_trials(sid, deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)))
        finally:
            storage.remove_session()
            storage.engine.dispose()
    except Exception:   # noqa: BLE001 (driver missing, server down, no such study)
        return None


def _from_study(p: Path, meta: Meta) -> pd.DataFrame:
    """The trials table rebuilt from the study itself (needs the config meta.json names)."""
    import optuna
    from ..config import load_config
    where = meta.storage if "://" in meta.storage else str(p / JOURNAL)
    if "://" not in meta.storage and not (p / JOURNAL).is_file():
        raise UserError(f"{p}: no {TRIALS} and no {JOURNAL}: nothing to read the trials from")
    try:
        cfg = load_config(meta.config)
    except UserError as e:
        raise UserError(f"{p}: {TRIALS} is missing or older than the study, and rebuilding it needs the config "
                        f"meta.json names: {e}") from None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        if "://" in meta.storage:
            storage = optuna.storages.RDBStorage(meta.storage)
        else:
            from .journal import open_journal
            storage = open_journal(Path(where), snapshot=False)[0]      # a reader writes nothing
        try:
            trials = optuna.load_study(study_name=meta.name, storage=storage).get_trials(deepcopy=False)
        finally:
            if isinstance(storage, optuna.storages.RDBStorage):
                storage.remove_session()
                storage.engine.dispose()
    except UserError:
        raise
    except Exception as e:   # noqa: BLE001 (a damaged journal, an unreachable database)
        raise UserError(f"{where}: cannot read study {meta.name!r} ({short(str(e), 120)})") from None
    return trials_frame(trials, cfg, meta.metrics)


def load_results(path: str | os.PathLike, columns: list[str] | None = None, *, text: bool = True) -> pd.DataFrame:
    """The trials table of a results folder (``df.attrs["objectives"]`` names the objectives);
    with `columns`, only those of them that the table has; without `text`, every column but
    the JSON ones (`JSON_COLUMNS`: most of its bytes).

    When trials.parquet is missing or older than the journal (a sweep killed
    with -9, workers that stored trials since) the table is rebuilt from the
    study itself. A damaged file is refused in one line naming it."""
    p = Path(path)
    if not (p / META).is_file() and not (p / TRIALS).is_file():
        if (p / JOURNAL).is_file():
            raise UserError(f"{path}: {META} and {TRIALS} are missing (a sweep killed before writing them?); "
                            f"{_repair('them')}")
        raise UserError(f"{path}: not a results folder (no {TRIALS})")
    meta = load_meta(p)
    if _stale(p, meta):
        from .journal import no_gc
        with no_gc():          # the study's trials are freed (by refcount) before the collector runs again
            df = _from_study(p, meta)
        if columns is None and not text:
            columns = [c for c in df.columns if c not in JSON_COLUMNS]
        df = df if columns is None else df[[c for c in columns if c in df.columns]]
    else:
        try:
            import pyarrow.parquet as pq
            have = pq.ParquetFile(p / TRIALS).schema_arrow.names
            if columns is None and not text:
                columns = [c for c in have if c not in JSON_COLUMNS]
            df = pd.read_parquet(p / TRIALS, columns=None if columns is None else
                                 [c for c in dict.fromkeys(["trial", *columns]) if c in have])
        except Exception as e:   # noqa: BLE001 (pyarrow raises several kinds on a damaged file)
            raise UserError(f"{p / TRIALS}: damaged ({short(str(e), 80)}); {_repair('it')}") from None
        if "trial" not in df.columns:
            raise UserError(f"{p / TRIALS}: not a trials table (no 'trial' column); {_repair('it')}")
        if columns is not None and "trial" not in columns:
            df = df.drop(columns="trial")
    df.attrs.update(objectives=list(meta.objectives), name=meta.name, free=list(meta.free))
    return df


def load_meta(path: str | os.PathLike) -> Meta:
    """The `Meta` of a results folder (one line naming meta.json if it is missing or damaged)."""
    p = Path(path) / META
    if not p.is_file():
        if (Path(path) / TRIALS).is_file() or (Path(path) / JOURNAL).is_file():
            raise UserError(f"{p}: missing; {_repair('it')}")
        raise UserError(f"{path}: not a results folder (no {META})")
    try:
        raw = json.loads(p.read_text(encoding="utf-8"))
        meta = Meta(**{k: tuple(v) if isinstance(v, list) else v for k, v in raw.items()
                       if k in Meta.__dataclass_fields__})
        if not all(isinstance(getattr(meta, k), str) for k in ("name", "config", "storage")):
            raise TypeError("name, config and storage must be strings")
    except (ValueError, TypeError, AttributeError) as e:
        raise UserError(f"{p}: damaged ({short(str(e), 80)}); {_repair('it')}") from None
    return meta


@dataclass(frozen=True)
class Design:
    """One trial of a results folder as a design: its architecture, each
    layer's mapping (``Mapping.to_dict()`` form; ``Mapping.build(layer, **d)``
    rebuilds it) and its table row."""

    trial: int
    arch: object
    mappings: dict
    row: dict


def _py(v):
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, str) and v.startswith("{"):
        v = json.loads(v)
    return v


def design_of(row: pd.Series | dict) -> Design:
    """The `Design` of one row of a trials table."""
    row = {k: _py(v) for k, v in dict(row).items()}
    family = get_family(row.get("family") or DEFAULT_FAMILY)
    hw = {p.name: _typed(p, row[p.name]) for p in family.params() if _present(row.get(p.name))}
    return Design(int(row["trial"]), family.arch(hw), json.loads(row["mappings"]) if isinstance(
        row["mappings"], str) else row["mappings"], row)


def _typed(p, v):
    """A table value as its parameter's type (a column with NaN holds integers as floats)."""
    return int(v) if p.is_int and isinstance(v, float) and v.is_integer() else v


def _present(v) -> bool:
    return v is not None and not (isinstance(v, float) and math.isnan(v))


def knee(front: pd.DataFrame, objectives) -> int:
    """The front trial closest to the ideal point in normalized log space."""
    v = np.log(front[list(objectives)].to_numpy(float))
    span = np.where(v.max(0) > v.min(0), v.max(0) - v.min(0), 1.0)
    return int(front["trial"].iloc[int((((v - v.min(0)) / span) ** 2).sum(1).argmin())])


def pick_trial(path: str | os.PathLike, spec: str | int) -> int:
    """A trial of a results folder: a number, ``best`` (the Pareto-optimal
    trial with the lowest energy-delay product, ties to the lowest number)
    or ``knee`` (the front's trial nearest the ideal point)."""
    if isinstance(spec, int) or (isinstance(spec, str) and spec.isdigit()):
        return int(spec)
    if spec not in ("best", "knee"):
        raise UserError(f"--trial: a trial number, 'best' or 'knee', got {spec!r}")
    meta = load_meta(path)
    front = pareto_front(load_results(path), meta.objectives)
    if front.empty:
        raise UserError(f"--trial {spec}: {path} has no feasible trial")
    if spec == "knee":
        return knee(front, meta.objectives)
    return int(front.sort_values(["edp", "trial"]).iloc[0]["trial"])


def load_design(path: str | os.PathLike, trial: int) -> Design:
    """Trial `trial` of a results folder (what ``codesign export --trial`` builds)."""
    df = load_results(path)
    hit = df[df["trial"] == trial]
    if hit.empty:
        raise UserError(f"--trial: no trial {trial} in {path} (trials 0..{len(df) - 1})")
    return design_of(hit.iloc[0])


def trial_config(path: str | os.PathLike, trial: int) -> dict:
    """Trial `trial` of a results folder as a fixed-design config (plain data,
    the YAML's form): its hardware, the sweep's workload and every layer's
    mapping pinned in full, so ``codesign evaluate``, ``verify`` and
    ``export`` reproduce exactly that design. Build it with
    `codesign.config.parse_config`."""
    meta = load_meta(path)
    if meta.workload is None:
        raise UserError(f"{path}: meta.json does not record the workload; rerun the sweep to rewrite it")
    d = load_design(path, trial)
    family = get_family(d.row.get("family") or DEFAULT_FAMILY)
    vals = family.arch_values(d.arch)
    hw = {k: vals[k] for k in meta.hardware if k in vals and _present(d.row.get(k))}
    from ..config import parse_config
    base = parse_config({"workload": meta.workload, "hardware": {"family": family.name}}, meta.config)
    pins = family.pins_of(base.network, d.mappings)
    return {"name": f"{meta.name}_trial{trial}", "workload": meta.workload, "hardware": hw,
            "objective": meta.mapper_objective, "mapping": pins}
