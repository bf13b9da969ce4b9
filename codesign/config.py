"""YAML configs, validated at the edge.

Shape (see README "Config format")::

    name: quickstart
    workload: {model: resnet18, batch: 1}        # or {layers: [...]} or {onnx: model.onnx}
    hardware: {family: systolic, rows: 16, cols: [8, 16, 32], glb_kib: {low: 64, high: 1024, log: true}}
    objective: edp                               # the mapper's per-layer objective (or {latency: w1, energy: w2})
    mapping: {layer_name: {...}}                 # optional pins, in the family's own terms
    search: {...}                                # sweeps only (codesign.search)

``hardware`` is one space or a list of spaces, one per family
(``[{family: systolic, ...}, {family: streaming, ...}]``); ``family``
defaults to ``systolic``. Each space's keys are its family's parameters
(`Family.params`, found through the registry `codesign.families.FAMILIES`).
A value is a scalar (fixed), a list (choices) or a mapping
``{low, high, log | step}`` (a range). `evaluate` and `map` need one space
with every value fixed. Every problem is a `ConfigError` with one line that
names the key.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .errors import UserError
from .families import DEFAULT_FAMILY, get_family
from .families.base import Family, HardwareParam
from .objective import Objective
from .workload import Network, Workload
from .workload.zoo import network_from_spec, zoo

__all__ = ["Config", "ConfigError", "Param", "HardwareSpace", "load_config", "parse_config"]

TOP_KEYS = ("name", "workload", "hardware", "objective", "mapping", "search")


class ConfigError(UserError):
    """A config that cannot be used (one line, naming the key)."""


@dataclass(frozen=True)
class Param:
    """One hardware parameter of a space: fixed, a list of choices, or a numeric range."""

    name: str
    kind: str                          # "fixed" | "choice" | "range"
    value: Any = None
    choices: tuple = ()
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = None
    is_int: bool = False


@dataclass(frozen=True)
class HardwareSpace:
    """One family's hardware space: its parameters in config order (``where`` is
    the key prefix of its messages, ``hardware`` or ``hardware[i]``)."""

    family: str
    params: dict[str, Param]
    where: str = "hardware"

    @property
    def impl(self) -> Family:
        return get_family(self.family)

    @property
    def free(self) -> tuple[str, ...]:
        return tuple(k for k, p in self.params.items() if p.kind != "fixed")

    def arch_from(self, values: dict[str, Any]):
        """The architecture with the fixed values plus `values` for the free ones."""
        kw = {k: p.value for k, p in self.params.items() if p.kind == "fixed"}
        kw.update(values)
        kw.setdefault("family", self.family)
        try:
            return self.impl.arch(kw)
        except UserError as e:
            raise ConfigError(_where(str(e), self.where)) from None


def _where(msg: str, where: str) -> str:
    return where + msg[len("hardware"):] if msg.startswith("hardware") and where != "hardware" else msg


@dataclass(frozen=True)
class Config:
    """A validated config: network, hardware space(s), pins, raw search section."""

    name: str
    path: str
    network: Network
    spaces: tuple[HardwareSpace, ...]
    objective: str | dict = "edp"
    pins: dict[str, dict] = field(default_factory=dict)
    search: dict = field(default_factory=dict)

    @property
    def workload(self) -> Workload:
        """The per-shape view of the network (unique layers with counts)."""
        return self.network.unique()

    @property
    def space(self) -> HardwareSpace:
        """The one hardware space (a config with several is a sweep across families)."""
        if len(self.spaces) != 1:
            raise ConfigError(f"hardware: this command needs one hardware space, got a list of {len(self.spaces)}")
        return self.spaces[0]

    @property
    def hardware(self) -> dict[str, Param]:
        return self.space.params

    @property
    def family(self) -> Family:
        return self.space.impl

    @property
    def arch(self):
        """The architecture when every hardware value is fixed."""
        for p in self.hardware.values():
            if p.kind != "fixed":
                raise ConfigError(f"hardware.{p.name}: this command needs a fixed value, got a "
                                  f"{'list of choices' if p.kind == 'choice' else 'range'} (ranges are for sweeps)")
        return self.arch_from({})

    def arch_from(self, values: dict[str, Any]):
        return self.space.arch_from(values)

    def with_hardware(self, **values) -> "Config":
        hw = dict(self.hardware)
        hw.update({k: Param(k, "fixed", v) for k, v in values.items()})
        return replace(self, spaces=(replace(self.space, params=hw),))


def load_config(path: str | Path) -> Config:
    """Read and validate a YAML config file."""
    from .yamlio import load_yaml
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"{path}: no such config file")
    return parse_config(load_yaml(p), str(p))


def parse_config(raw: Any, path: str = "<config>") -> Config:
    """Validate a config given as Python data (the YAML's isomorphic form)."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: a config is a mapping with keys {', '.join(TOP_KEYS)}")
    for k in raw:
        if k not in TOP_KEYS:
            raise ConfigError(f"{k}: unknown key; allowed: {', '.join(TOP_KEYS)}")
    name = raw.get("name", Path(path).stem)
    from .errors import safe_name
    safe_name("name", name)
    if "workload" not in raw:
        raise ConfigError("workload: missing (give a zoo model, a list of layers or an ONNX file)")
    network = _workload(raw["workload"], name, path)
    network.unique()                      # a network without MAC layers is refused here
    if raw.get("hardware") is None:     # said, not silent: a warning line (`codesign import` writes such configs)
        import sys
        print(f"warning: hardware: missing (give at least hardware.family; defaults: {_defaults()})",
              file=sys.stderr)
    _check_degenerate(network, raw["workload"])
    spaces = _spaces({} if raw.get("hardware") is None else raw["hardware"])
    objective = raw.get("objective", "edp")
    try:
        Objective.parse(objective)
    except ValueError as e:
        raise ConfigError(str(e)) from None
    pins = raw.get("mapping") or {}
    if pins:
        if len(spaces) > 1:
            raise ConfigError("mapping: pins are in one family's terms; give them in a single-family config")
        pins = spaces[0].impl.check_pins(network, pins)
    search = raw.get("search") or {}
    if not isinstance(search, dict):
        raise ConfigError("search: must be a mapping")
    return Config(name, path, network, spaces, objective, pins, search)


def _workload(w: Any, name: str, path: str) -> Network:
    if not isinstance(w, dict):
        raise ConfigError("workload: must be a mapping with 'model', 'layers' or 'onnx'")
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


def _defaults() -> str:
    """What ``hardware: {family: <default>}`` stands for, as ``key value`` pairs."""
    params = [p for p in get_family(DEFAULT_FAMILY).params() if p.default is not None and p.name != "family"]
    return f"family {DEFAULT_FAMILY}, " + ", ".join(f"{p.name} {p.default}" for p in params)


def _check_degenerate(network: Network, w: Any) -> None:
    """Refuse a network whose shapes collapsed: a strided layer that receives a
    1-pixel side downsamples nothing (the image is smaller than the network's
    total downsampling, e.g. ``image: 1``), naming the first such layer."""
    for lay in (n.layer for n in network.nodes if n.layer is not None):
        p = dict(lay.params)
        if "stride" not in p or p["stride"] <= 1:
            continue
        if p.get("H") == 1 or p.get("W") == 1:
            key = "workload.image" if isinstance(w, dict) and "image" in w else "workload"
            got = f": {w['image']!r}" if key == "workload.image" else ""
            raise ConfigError(f"{key}{got} is too small for this network: layer {lay.name!r} (stride "
                              f"{p['stride']}) gets a {p['H']}x{p['W']} input; give a larger image")


def _spaces(hw: Any) -> tuple[HardwareSpace, ...]:
    if isinstance(hw, list):
        if not hw:
            raise ConfigError("hardware: an empty list of spaces")
        spaces = tuple(_space(h, f"hardware[{i}]") for i, h in enumerate(hw))
        seen = [s.family for s in spaces]
        for i, f in enumerate(seen):
            if f in seen[:i]:
                raise ConfigError(f"hardware[{i}].family: {f!r} is listed twice; one space per family")
        return spaces
    return (_space(hw, "hardware"),)


def _space(hw: Any, where: str) -> HardwareSpace:
    if not isinstance(hw, dict):
        raise ConfigError(f"{where}: must be a mapping of parameter -> value, list or {{low, high}}")
    fam = hw.get("family", DEFAULT_FAMILY)
    try:
        family = get_family(fam)
    except UserError as e:
        raise ConfigError(_where(str(e), where)) from None
    schema = {p.name: p for p in family.params()}
    out = {}
    for k, v in hw.items():
        if k not in schema:
            raise ConfigError(f"{where}.{k}: unknown key for family {fam}; allowed: {', '.join(schema)}")
        out[k] = _param(family, schema[k], v, where)
    return HardwareSpace(fam, out, where)


def _param(family: Family, spec: HardwareParam, v: Any, where: str) -> Param:
    k = spec.name
    if isinstance(v, list):
        if not v:
            raise ConfigError(f"{where}.{k}: an empty list of choices")
        for i, c in enumerate(v):
            _check_value(family, spec, f"{k}[{i}]", c, where)
        return Param(k, "choice", choices=tuple(v), is_int=spec.is_int)
    if isinstance(v, dict) and spec.kind != "tech":
        return _range(family, spec, v, where)
    _check_value(family, spec, k, v, where)
    return Param(k, "fixed", value=v, is_int=spec.is_int)


def _range(family: Family, spec: HardwareParam, v: dict, where: str) -> Param:
    k = spec.name
    if not spec.numeric:
        raise ConfigError(f"{where}.{k}: a range needs a numeric parameter; give a value or a list")
    bad = [x for x in v if x not in ("low", "high", "log", "step")]
    if bad:
        raise ConfigError(f"{where}.{k}.{bad[0]}: unknown key; a range has low, high, log or step")
    if "low" not in v or "high" not in v:
        raise ConfigError(f"{where}.{k}: a range needs both low and high")
    lo = _num(f"{where}.{k}.low", v["low"], spec.is_int)
    hi = _num(f"{where}.{k}.high", v["high"], spec.is_int)
    if not lo <= hi:
        raise ConfigError(f"{where}.{k}: low {lo} is above high {hi}")
    log = v.get("log", False)
    if not isinstance(log, bool):
        raise ConfigError(f"{where}.{k}.log: must be true or false, got {log!r}")
    step = v.get("step")
    if step is not None and (_num(f"{where}.{k}.step", step, spec.is_int) <= 0 or log):
        raise ConfigError(f"{where}.{k}.step: must be > 0 and cannot be combined with log")
    if log and lo <= 0:
        raise ConfigError(f"{where}.{k}.low: must be > 0 for a log range")
    _check_value(family, spec, f"{k}.low", lo, where)
    _check_value(family, spec, f"{k}.high", hi, where)
    return Param(k, "range", low=lo, high=hi, log=log, step=step, is_int=spec.is_int)


def _num(key: str, v: Any, integer: bool) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or (
            integer and not float(v).is_integer()):
        from .errors import short
        raise ConfigError(f"{key}: must be {'an integer' if integer else 'a finite number'}, got {short(v)}")
    return int(v) if integer else v


def _check_value(family: Family, spec: HardwareParam, label: str, value: Any, where: str) -> None:
    """Validate one value: finite and within the documented range, then by
    building an architecture with it (other keys at their defaults)."""
    from .errors import short
    key = f"{where}.{label}"
    if spec.numeric and not isinstance(value, bool) and isinstance(value, (int, float)):
        if not math.isfinite(value):
            raise ConfigError(f"{key}: must be a finite number, got {short(value)}")
        too_low = spec.low is not None and (value <= spec.low if spec.low_open else value < spec.low)
        if too_low or (spec.high is not None and value > spec.high):
            lo = f"> {spec.low:g}" if spec.low_open else f">= {spec.low:g}"
            raise ConfigError(f"{key}: must be {lo} and <= {spec.high:g}"
                              f"{' ' + spec.unit if spec.unit else ''}, got {short(value)}")
    try:
        family.arch({spec.name: value})
    except UserError as e:
        msg = str(e)
        own = f"hardware.{spec.name}"
        if msg.startswith(own + ":") or msg.startswith(own + "."):
            raise ConfigError(key + msg[len(own):]) from None
        if not msg.startswith("hardware."):
            raise ConfigError(f"{key}: {msg}") from None
        # another key's constraint (e.g. acc_bits vs op_bits): checked on the whole arch
    except TypeError:
        raise ConfigError(f"{key}: bad value {short(value)}") from None
