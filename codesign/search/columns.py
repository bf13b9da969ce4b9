"""The hardware columns of a sweep's trials table (`results.trials_frame`): which keys,
and each trial's values of them; the JSON columns' text (`json_text`)."""
from __future__ import annotations

import json
from pathlib import Path

from ..config import Config
from ..errors import UserError

__all__ = ["_keys", "_free", "_hardware_row", "_hardware_columns", "_raw_workload", "_plain", "json_text"]

#: json.dumps(sort_keys=True), without the cycle check (plain data): 15% faster
_JSON = json.JSONEncoder(sort_keys=True, check_circular=False)


def json_text(v) -> str:
    """`v` as the text of a JSON column (``mappings``, ``layer_costs``): a trial stores its
    mappings and layer costs as this text already (`sweep._attrs`), so a resumed study's
    table takes them as they are; a trial stored as parsed JSON (a study written before)
    is encoded here, to the same text."""
    return v if isinstance(v, str) else _JSON.encode(v)


def _keys(cfg: Config) -> tuple[str, ...]:
    """The hardware columns: every space's keys (``family`` first with several spaces)."""
    keys = ["family"] if len(cfg.spaces) > 1 else []
    for s in cfg.spaces:
        keys += [k for k in s.params if k not in keys]
    return tuple(keys)


def _free(cfg: Config) -> tuple[str, ...]:
    keys = ["family"] if len(cfg.spaces) > 1 else []
    for s in cfg.spaces:
        keys += [k for k in s.free if k not in keys]
    return tuple(keys)


def _hardware_row(t, cfg: Config) -> dict:
    """A trial's value of every hardware column in a study of several families (None where
    its family has no such key); one family: `_hardware_columns`."""
    fam = t.params.get("family")
    space = next((s for s in cfg.spaces if s.family == fam), None)
    row = {k: None for k in _keys(cfg)}
    row["family"] = fam
    if space is not None:
        for k, p in space.params.items():
            row[k] = _plain(p.value) if p.kind == "fixed" else t.params.get(f"{fam}.{k}")
    return row


def _hardware_columns(trials, cfg: Config) -> dict[str, list]:
    """`_hardware_row` of every trial, as one list per column."""
    if len(cfg.spaces) == 1:
        fixed = {k: _plain(p.value) for k, p in cfg.hardware.items() if p.kind == "fixed"}
        params = [t.params for t in trials]
        return {k: [p.get(k, fixed.get(k)) for p in params] for k in cfg.hardware}
    rows = [_hardware_row(t, cfg) for t in trials]
    return {k: [r[k] for r in rows] for k in _keys(cfg)}


def _raw_workload(cfg: Config) -> dict | None:
    """The config's workload section as written, an ONNX path made absolute (a
    trial's config then finds the model wherever it is saved)."""
    from ..yamlio import load_yaml
    try:
        w = load_yaml(cfg.path).get("workload")
    except (OSError, AttributeError, UserError):
        return None
    if isinstance(w, dict) and isinstance(w.get("onnx"), str):
        w = {**w, "onnx": str((Path(cfg.path).parent / w["onnx"]).resolve())}
    return w


def _plain(v):
    return json.dumps(v, sort_keys=True) if isinstance(v, (dict, list, tuple)) else v
