"""YAML configs, validated at the edge.

Shape (see README "Config format")::

    name: quickstart
    workload: {model: resnet18, batch: 1}        # or {layers: [...]}
    hardware: {rows: 16, cols: [8, 16, 32], glb_kib: {low: 64, high: 1024, log: true}, ...}
    objective: edp                               # the mapper's per-layer objective (or {latency: w1, energy: w2})
    mapping: {layer_name: {glb: {...}, rows: {...}, order: {...}}}   # optional pins
    search: {...}                                # sweeps only (codesign.search)

A hardware value is a scalar (fixed), a list (choices) or a mapping
``{low, high, log | step}`` (a range). `evaluate` and `map` need every
hardware value fixed. Every problem is a `ConfigError` with one line that
names the key.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from .errors import UserError
from .families.systolic.arch import ArchError, SystolicArch
from .families.systolic.mapping import MappingError
from .families.systolic.space import check_pin
from .objective import Objective
from .workload import Network, Workload, WorkloadError
from .workload.zoo import network_from_spec, zoo

__all__ = ["Config", "ConfigError", "Param", "load_config", "parse_config", "HW_KEYS"]

TOP_KEYS = ("name", "workload", "hardware", "objective", "mapping", "search")
HW_KEYS = SystolicArch.keys()
_INT_KEYS = {"rows", "cols", "op_bits", "acc_bits", "pe_reg_words"}


class ConfigError(UserError):
    """A config that cannot be used (one line, naming the key)."""


@dataclass(frozen=True)
class Param:
    """One hardware parameter: fixed, a list of choices, or a numeric range."""

    name: str
    kind: str                          # "fixed" | "choice" | "range"
    value: Any = None
    choices: tuple = ()
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = None

    @property
    def is_int(self) -> bool:
        return self.name in _INT_KEYS


@dataclass(frozen=True)
class Config:
    """A validated config: workload, hardware space, pins, raw search section."""

    name: str
    path: str
    network: Network
    hardware: dict[str, Param]
    objective: str | dict = "edp"
    pins: dict[str, dict] = field(default_factory=dict)
    search: dict = field(default_factory=dict)

    @property
    def workload(self) -> Workload:
        """The per-shape view of the network (unique layers with counts)."""
        return self.network.unique()

    @property
    def fixed(self) -> bool:
        return all(p.kind == "fixed" for p in self.hardware.values())

    @property
    def arch(self) -> SystolicArch:
        """The architecture when every hardware value is fixed."""
        for p in self.hardware.values():
            if p.kind != "fixed":
                raise ConfigError(f"hardware.{p.name}: this command needs a fixed value, got a "
                                  f"{'list of choices' if p.kind == 'choice' else 'range'} (ranges are for sweeps)")
        return self.arch_from({})

    def arch_from(self, values: dict[str, Any]) -> SystolicArch:
        """The architecture with the fixed values plus `values` for the free ones."""
        kw = {k: p.value for k, p in self.hardware.items() if p.kind == "fixed"}
        kw.update(values)
        try:
            return SystolicArch(**kw)
        except ArchError as e:
            raise ConfigError(str(e)) from None

    def with_hardware(self, **values) -> "Config":
        hw = dict(self.hardware)
        hw.update({k: Param(k, "fixed", v) for k, v in values.items()})
        return replace(self, hardware=hw)


def load_config(path: str | Path) -> Config:
    """Read and validate a YAML config file."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"{path}: no such config file")
    try:
        raw = yaml.safe_load(p.read_text())
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise ConfigError(f"{path}:{where} not valid YAML ({getattr(e, 'problem', e)})") from None
    return parse_config(raw, str(p))


def parse_config(raw: Any, path: str = "<config>") -> Config:
    """Validate a config given as Python data (the YAML's isomorphic form)."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: a config is a mapping with keys {', '.join(TOP_KEYS)}")
    for k in raw:
        if k not in TOP_KEYS:
            raise ConfigError(f"{k}: unknown key; allowed: {', '.join(TOP_KEYS)}")
    name = raw.get("name", Path(path).stem)
    if not isinstance(name, str) or not name or "/" in name:
        raise ConfigError(f"name: must be a non-empty string without '/', got {name!r}")
    if "workload" not in raw:
        raise ConfigError("workload: missing (give a zoo model or a list of layers)")
    network = _workload(raw["workload"], name, path)
    workload = network.unique()
    hardware = _hardware(raw.get("hardware") or {})
    objective = raw.get("objective", "edp")
    try:
        Objective.parse(objective)
    except ValueError as e:
        raise ConfigError(str(e)) from None
    pins = _pins(raw.get("mapping") or {}, workload)
    search = raw.get("search") or {}
    if not isinstance(search, dict):
        raise ConfigError("search: must be a mapping")
    return Config(name, path, network, hardware, objective, pins, search)


def _workload(w: Any, name: str, path: str) -> Network:
    if not isinstance(w, dict):
        raise ConfigError("workload: must be a mapping with 'model', 'layers' or 'onnx'")
    try:
        if "onnx" in w:
            from .workload.onnx_import import network_from_config
            return network_from_config(w, name, Path(path).parent)
        if "model" in w:    # every other key is the model's argument (bert_base takes `layers`)
            return zoo(w["model"], **{k: v for k, v in w.items() if k != "model"})
        if "layers" in w:
            extra = [k for k in w if k not in ("layers", "name")]
            if extra:
                raise ConfigError(f"workload.{extra[0]}: unknown key; allowed with layers: name")
            if not isinstance(w["layers"], list) or not w["layers"]:
                raise ConfigError("workload.layers: must be a non-empty list of layers")
            return network_from_spec(w["layers"], w.get("name", name))
        raise ConfigError("workload: give 'model' (a zoo name), 'layers' (a list) or 'onnx' (a file)")
    except WorkloadError as e:
        raise ConfigError(str(e)) from None


def _num(key: str, v: Any, integer: bool) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or (integer and not float(v).is_integer()):
        raise ConfigError(f"hardware.{key}: must be {'an integer' if integer else 'a number'}, got {v!r}")
    return int(v) if integer else v


def _hardware(hw: Any) -> dict[str, Param]:
    if not isinstance(hw, dict):
        raise ConfigError("hardware: must be a mapping of parameter -> value, list or {low, high}")
    out = {}
    for k, v in hw.items():
        if k not in HW_KEYS:
            raise ConfigError(f"hardware.{k}: unknown key; allowed: {', '.join(HW_KEYS)}")
        if isinstance(v, list):
            if not v:
                raise ConfigError(f"hardware.{k}: an empty list of choices")
            for i, c in enumerate(v):
                _check_value(f"{k}[{i}]", k, c)
            out[k] = Param(k, "choice", choices=tuple(v))
        elif isinstance(v, dict) and k != "tech":
            bad = [x for x in v if x not in ("low", "high", "log", "step")]
            if bad:
                raise ConfigError(f"hardware.{k}.{bad[0]}: unknown key; a range has low, high, log or step")
            if "low" not in v or "high" not in v:
                raise ConfigError(f"hardware.{k}: a range needs both low and high")
            integer = k in _INT_KEYS
            lo, hi = _num(f"{k}.low", v["low"], integer), _num(f"{k}.high", v["high"], integer)
            if not lo <= hi:
                raise ConfigError(f"hardware.{k}: low {lo} is above high {hi}")
            log = v.get("log", False)
            if not isinstance(log, bool):
                raise ConfigError(f"hardware.{k}.log: must be true or false, got {log!r}")
            step = v.get("step")
            if step is not None and (_num(f"{k}.step", step, integer) <= 0 or log):
                raise ConfigError(f"hardware.{k}.step: must be > 0 and cannot be combined with log")
            if log and lo <= 0:
                raise ConfigError(f"hardware.{k}.low: must be > 0 for a log range")
            _check_value(f"{k}.low", k, lo)
            _check_value(f"{k}.high", k, hi)
            out[k] = Param(k, "range", low=lo, high=hi, log=log, step=step)
        else:
            _check_value(k, k, v)
            out[k] = Param(k, "fixed", value=v)
    return out


def _check_value(where: str, key: str, value: Any) -> None:
    """Validate one value by building an architecture with it."""
    try:
        SystolicArch(**{key: value})
    except ArchError as e:
        msg = str(e)
        if msg.startswith(f"hardware.{key}:"):
            msg = f"hardware.{where}:" + msg[len(f"hardware.{key}:"):]
        if f"hardware.{key}" in msg or f"hardware.{where}" in msg or not msg.startswith("hardware."):
            raise ConfigError(msg) from None
        # another key's constraint (e.g. acc_bits vs op_bits): checked on the whole arch
    except TypeError:
        raise ConfigError(f"hardware.{where}: bad value {value!r}") from None


def _pins(m: Any, workload: Workload) -> dict[str, dict]:
    if not isinstance(m, dict):
        raise ConfigError("mapping: must map layer names to mappings")
    out = {}
    for lname, pin in m.items():
        try:
            layer = workload.layer(lname)
        except KeyError:
            raise ConfigError(f"mapping.{lname}: no layer of that name in the workload") from None
        try:
            check_pin(layer, pin)
        except MappingError as e:
            raise ConfigError(str(e)) from None
        out[layer.name] = pin
    return out
