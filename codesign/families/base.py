"""The one interface every hardware family implements, and the results it returns.

A family (the systolic array, the streaming pipeline, ...) is a folder
``codesign/families/<name>/`` with the same file names, and one object that
implements `Family` (in the manner of Optuna's ``BaseSampler``: few methods,
each documented). Everything outside the folder talks to the family through
this interface and the registry `codesign.families.FAMILIES`:

- the YAML ``hardware:`` section is checked against `Family.params` and
  built with `Family.arch`;
- ``evaluate``, ``map`` and nested sweeps call `Family.map_network`;
- joint sweeps take `Family.joint_space` and cost a batch of trials with
  `Family.cost`;
- ``export`` and ``verify`` go through `Family.generate`.

Results are typed and frozen (`LayerCost`, `NetworkCost`); they become JSON
or DataFrame columns only at the edge (`NetworkCost.metrics`).
"""
from __future__ import annotations

import abc
import math
from dataclasses import dataclass, field
from typing import Any, ClassVar, Mapping

from ..errors import UserError

__all__ = ["Family", "HardwareParam", "SearchStats", "LayerCost", "NetworkCost", "JointParam", "JointSpace",
           "Design", "VerifyRow", "VerifyReport", "NETWORK_METRICS", "LINT_WAIVERS"]

#: network-level figures every family reports (search objectives and constraint targets)
NETWORK_METRICS = ("latency_cycles", "energy_pj", "area_mm2", "edp", "power_mw", "utilization",
                   "throughput_fps")


#: Verilator -Wall warnings waived for the Yosys-generated Verilog of every family's export, with the reason
LINT_WAIVERS = {
    "DECLFILENAME": "submodules share the top's file (one file per design)",
    "PROCASSINIT": "registers carry their reset value as an initial value (Amaranth's reset semantics)",
    "UNUSEDSIGNAL": "Amaranth keeps named alias wires of every port and field for debugging/waveforms",
    "WIDTHEXPAND": "Yosys compares against minimal-width constants (e.g. 2-bit == 1'h1), zero-extended",
    "WIDTHTRUNC": "Yosys writes `x == 0` as `!x` on multi-bit vectors",
    "CASEINCOMPLETE": "FSM and mux cases rely on a preceding default assignment",
}


@dataclass(frozen=True)
class HardwareParam:
    """One key of a family's ``hardware:`` section.

    `kind`: ``int``, ``float``, ``bool``, ``str`` (one of `choices`) or
    ``tech`` (a preset name or a table); `low`/`high` bound the valid
    values of numbers (None: unbounded; `low` is exclusive when
    `low_open`); `default` is what an omitted key takes (None: optional,
    e.g. an unbounded resource budget), `source` where that default comes
    from; `unit` and `doc` are for humans.
    """

    name: str
    kind: str
    default: Any
    unit: str = ""
    doc: str = ""
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    choices: tuple = ()
    source: str = ""

    @property
    def is_int(self) -> bool:
        return self.kind == "int"

    @property
    def numeric(self) -> bool:
        return self.kind in ("int", "float")


@dataclass(frozen=True)
class SearchStats:
    """What the family's mapper did for one layer: mappings in the space
    (`considered`), costed by the cost model (`evaluated`), scored by bounds
    (`bounded`), wall time, the strategy and whether the answer is the
    proven optimum of the space (`exact`)."""

    considered: int = 0
    evaluated: int = 0
    bounded: int = 0
    seconds: float = 0.0
    strategy: str = ""
    exact: bool = True


@dataclass(frozen=True)
class LayerCost:
    """The cost of one layer (or engine) as the family planned it, per instance.

    `plan` is the family's own mapping object (a systolic `Mapping`, a
    streaming folding); it has ``to_dict()`` and ``oneline()``.
    `figures` holds the family's other per-layer figures by name
    (``compute_cycles``, ``utilization``, ``ii_cycles``, ...).
    """

    name: str
    op: str
    count: int
    macs: int
    latency_cycles: int
    energy_pj: float
    energy_parts_pj: Mapping[str, float]
    plan: Any = None
    layer: Any = None
    figures: Mapping[str, Any] = field(default_factory=dict)
    search: SearchStats | None = None


@dataclass(frozen=True)
class NetworkCost:
    """A whole network on one architecture, as its family computes it
    (a sum over layers for the systolic array; the slowest stage and the
    fill for a pipeline). `fits` is 0 when every layer runs, else how badly
    the design does not (a graded violation for the search); `reason` says
    why in words. `figures` holds family-specific network figures
    (``ii_cycles``, ``lut``, ...)."""

    family: str
    arch: Any
    layers: tuple[LayerCost, ...]
    latency_cycles: float
    energy_pj: float
    area_mm2: float
    macs: int
    throughput_fps: float
    utilization: float
    figures: Mapping[str, Any] = field(default_factory=dict)
    fits: float = 0.0
    reason: str = ""

    @property
    def feasible(self) -> bool:
        return self.fits == 0

    def energy_parts_pj(self) -> dict[str, float]:
        """Energy per part, summed over layers times their counts."""
        out: dict[str, float] = {}
        for lc in self.layers:
            for k, v in lc.energy_parts_pj.items():
                out[k] = out.get(k, 0.0) + v * lc.count
        return out

    def metrics(self, clock_mhz: float) -> dict[str, float]:
        """The `NETWORK_METRICS` plus the family's `figures` (NaN where unknown)."""
        lat, e = float(self.latency_cycles), float(self.energy_pj)
        ok = lat > 0 and math.isfinite(lat)
        out = {"latency_cycles": lat, "energy_pj": e, "area_mm2": float(self.area_mm2), "edp": lat * e,
               "power_mw": e * clock_mhz / lat * 1e-3 if ok else math.nan,
               "utilization": float(self.utilization) if ok else math.nan,
               "throughput_fps": float(self.throughput_fps)}
        out.update({k: float(v) for k, v in self.figures.items() if isinstance(v, (int, float))})
        return out


@dataclass(frozen=True)
class JointParam:
    """One joint-mode parameter, family-neutral (search/ turns it into an
    Optuna distribution): ``int`` over ``low..high`` or ``choice`` over `choices`."""

    name: str
    kind: str
    low: int = 0
    high: int = 0
    choices: tuple = ()


@dataclass(frozen=True)
class JointSpace:
    """Joint mode's per-network parameters and what decodes them: the
    family's `Family.cost` takes trials' params (hardware and these)."""

    params: tuple[JointParam, ...]
    state: Any = None


@dataclass(frozen=True)
class VerifyRow:
    """One simulated layer (or pipeline figure) of `Design.verify`: PASS/FAIL, RTL and model cycles, and notes."""

    name: str
    passed: bool
    rtl_cycles: int
    model_cycles: int
    bit_exact: bool
    mapping: str
    notes: tuple[str, ...] = ()

    def line(self) -> str:
        notes = f"  ({'; '.join(self.notes)})" if self.notes else ""
        return (f"{'PASS' if self.passed else 'FAIL'}  {self.name:<24} RTL {self.rtl_cycles:>7} cycles  model "
                f"{self.model_cycles:>7}  {'bit exact' if self.bit_exact else 'OUTPUTS DIFFER'}  {self.mapping}"
                + notes)


@dataclass(frozen=True)
class VerifyReport:
    """Every simulated layer, with a header line and the simulated seconds."""

    header: str
    rows: tuple[VerifyRow, ...]
    seconds: float

    @property
    def failed(self) -> int:
        return sum(not r.passed for r in self.rows)

    def lines(self) -> list[str]:
        return [self.header, *(r.line() for r in self.rows),
                f"{len(self.rows) - self.failed} passed, {self.failed} failed, {self.seconds:.1f} s simulated"]


class Design(abc.ABC):
    """What ``export`` and ``verify`` need of a chosen design (`Family.generate`)."""

    @abc.abstractmethod
    def export(self, out_dir, layer: str | None = None) -> tuple[str, list]:
        """Write Verilog and its companion files into `out_dir`; returns a
        one-line description and the paths written."""

    @abc.abstractmethod
    def verify(self, **options) -> "Any":
        """Simulate the design against the numpy golden; returns the
        family's report (rows with PASS/FAIL and cycles side by side)."""


class Family(abc.ABC):
    """A hardware family (module docstring). Subclasses set `name` and
    `Arch` and implement the methods; they never import Optuna."""

    #: the key of ``hardware.family`` and of the registry
    name: ClassVar[str]
    #: the frozen, validated architecture type
    Arch: ClassVar[type]
    #: network figures beyond `NETWORK_METRICS` that a sweep reports for this family (in `figures`)
    extra_metrics: ClassVar[tuple[str, ...]] = ()

    @abc.abstractmethod
    def params(self) -> tuple[HardwareParam, ...]:
        """The family's ``hardware:`` keys: name, kind, valid range, default, unit."""

    @abc.abstractmethod
    def arch(self, values: Mapping[str, Any]):
        """The architecture for these hardware values (defaults for the
        others). Raises `UserError` naming ``hardware.<key>``."""

    @abc.abstractmethod
    def check_pins(self, network, pins: Mapping[str, Any]) -> dict:
        """Validate the ``mapping:`` section against the network; returns the
        pins by layer name. Raises `UserError` naming ``mapping.<layer>...``."""

    @abc.abstractmethod
    def map_network(self, network, arch, objective, pins: Mapping[str, Any] | None = None,
                    **options) -> NetworkCost:
        """Plan every layer of `network` on `arch` (the family's mapper) and
        cost the whole. A design that cannot run is a `NetworkCost` with
        ``fits > 0`` and a `reason` (never an exception); a pin that cannot be
        honoured raises `UserError`. `options` are the mapper's own (e.g. the
        systolic ``strategy``)."""

    def joint_space(self, network, hardware_choices: Mapping[str, tuple]) -> JointSpace | None:
        """Joint mode's parameters for `network` (None: the family has no joint mode).
        `hardware_choices` lists the values each hardware key may take."""
        return None

    def cost(self, network, archs: list, params: list[dict], space: JointSpace) -> list[NetworkCost]:
        """Joint mode: cost each architecture with the plan its trial's
        `params` decode to, vectorized over the batch."""
        raise UserError(f"search.mapping: family {self.name} has no joint mode; use nested")

    def encode(self, space: JointSpace, cost: NetworkCost) -> dict:
        """Joint params that decode to (at most) the plans of `cost` (joint mode's warm start)."""
        raise UserError(f"search.mapping: family {self.name} has no joint mode; use nested")

    def layer_fronts(self, network, arch, pins: Mapping[str, Any] | None = None) -> list[tuple[LayerCost, ...]] | None:
        """Pareto mode: per unique layer of `network` (in order), its exact
        latency/energy Pareto set on `arch`, one `LayerCost` per point by
        increasing latency (an empty tuple: the layer fits nowhere). Only for
        families whose network latency and energy are sums over layers
        (None: the family has none; a sweep then maps the network as nested)."""
        return None

    def combine(self, network, arch, layers: tuple[LayerCost, ...]) -> NetworkCost:
        """Pareto mode: the `NetworkCost` of `arch` running one point of each
        layer's front (`layer_fronts`; same order)."""
        raise UserError(f"search.mapping: family {self.name} has no pareto mode; use nested")

    @abc.abstractmethod
    def generate(self, arch, cost: NetworkCost) -> Design:
        """The RTL of `arch` running the plans of `cost` (export and verify)."""

    @abc.abstractmethod
    def report(self, cost: NetworkCost, *, title: str, nests: bool = False) -> str:
        """The ``codesign evaluate`` text: per-layer table and totals."""

    @abc.abstractmethod
    def to_json(self, cost: NetworkCost) -> dict:
        """The ``layers`` and ``total`` of ``codesign evaluate --json``."""

    def explain(self, cost: NetworkCost, *, title: str, objective, as_json: bool = False):
        """The ``codesign map`` view: each layer's plan in full (text, or JSON ``layers``)."""
        return self.to_json(cost)["layers"] if as_json else self.report(cost, title=title)

    def pins_of(self, network, plans: Mapping[str, dict]) -> dict:
        """Pins (the ``mapping:`` section) that fix these plans (``plan.to_dict()`` by layer)
        completely, so a trial's config reproduces its design."""
        return {k: dict(v) for k, v in plans.items()}

    def arch_values(self, arch) -> dict:
        """The architecture in its YAML ``hardware:`` form (``arch(arch_values(a)) == a``)."""
        from dataclasses import fields
        return {f.name: getattr(arch, f.name) for f in fields(arch)}
