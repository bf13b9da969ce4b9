"""The systolic array behind the `Family` interface."""
from __future__ import annotations

from typing import Any, Mapping

from ...errors import LIMITS, UserError
from ...objective import Objective
from ...workload import Network
from ..base import Family, HardwareParam, JointSpace, NetworkCost
from .arch import ARCH_DATAFLOWS, PORT_KEYS, TIMINGS, SystolicArch
from .mapper import NoMappingError
from .mapping import MappingError
from .network import evaluate_network, infeasible_cost, network_cost
from .flat import flattened
from .schedules import SCHEDULES
from .space import check_pin

__all__ = ["SystolicFamily", "FAMILY"]

_GEMMINI = "Gemmini's default configuration (Genc et al., DAC 2021)"
#: the documented input bounds (codesign.errors.LIMITS, each with its reason)
_SIDE, _BITS = LIMITS["array_side"].high, LIMITS["bits"].high
_KIB, _MHZ = LIMITS["buffer_bytes"].high / 1024, LIMITS["clock_hz"].high / 1e6

#: the ``hardware:`` keys, with the source of each default
PARAMS = (
    HardwareParam("family", "str", "systolic", choices=("systolic",)),
    HardwareParam("rows", "int", 16, "PEs", "array height", low=1, high=_SIDE, source=_GEMMINI),
    HardwareParam("cols", "int", 16, "PEs", "array width", low=1, high=_SIDE, source=_GEMMINI),
    HardwareParam("dataflow", "str", "os", "", "os | ws | is, or flexible (the mapper picks per layer)",
                  choices=ARCH_DATAFLOWS, source="SCALE-Sim's dataflows (Samajdar et al., ISPASS 2020)"),
    HardwareParam("op_bits", "int", 8, "bits", "weights and activations", low=1, high=_BITS, source=_GEMMINI),
    HardwareParam("acc_bits", "int", 32, "bits", "accumulator word", low=2, high=_BITS, source=_GEMMINI),
    HardwareParam("out_bits", "int", None, "bits", "output word after requantization (shift, clip) on the "
                  "accumulator's read-out path; default op_bits", low=1, high=_BITS,
                  source="Gemmini: the accumulator read-out scales and clips to the input type (ucb-bar/gemmini "
                  "AccumulatorScale.scala; Genc et al., DAC 2021)"),
    HardwareParam("pe_reg_words", "int", 1, "words", "stationary operand words per PE", low=1, high=1 << 20,
                  source="one stationary register per PE, as SCALE-Sim"),
    HardwareParam("glb_kib", "float", 256.0, "KiB", "scratchpad (inputs and weights)", low=0, high=_KIB,
                  low_open=True, source=_GEMMINI),
    HardwareParam("acc_kib", "float", 64.0, "KiB", "accumulator (outputs); 0: outputs share the glb", low=0,
                  high=_KIB, source=_GEMMINI),
    HardwareParam("dram_bw_bytes", "float", 16.0, "bytes/cycle", "DRAM bandwidth", low=0, high=1 << 20,
                  low_open=True, source="assumption: a 128-bit memory bus"),
    HardwareParam("clock_mhz", "float", 1000.0, "MHz", "clock", low=0, high=_MHZ, low_open=True,
                  source="assumption: 1 GHz"),
    HardwareParam("double_buffered", "bool", True, "", "glb and acc hold two tiles (half usable each)",
                  source=_GEMMINI),
    HardwareParam("halo_reuse", "bool", True, "", "conv input rows two consecutive dram-level tiles share "
                  "stay in the glb (sliding window)", source="Timeloop v3 (its convention 7, tests/test_timeloop.py)"),
    *(HardwareParam(k, "int", 0, "bits/cycle", f"{k[:3]} {k[4:-5]} port width (0: Gemmini's sizing, "
                    f"banks x one row of max(rows, cols) words)", low=0, high=1 << 24,
                    source="Gemmini defaultConfig: sp_banks = 4 and acc_banks = 2, a bank row = DIM words")
      for k in PORT_KEYS),
    HardwareParam("tech", "tech", "horowitz45", "", "energy/area table: horowitz45, eyeriss65 or a table",
                  source="codesign.tech"),
    HardwareParam("keep_activations", "bool", False, "", "keep an activation in the glb between consecutive "
                  "layers when it and both layers' tiles fit", source="assumption: off (layer by layer, as "
                  "SCALE-Sim and Timeloop cost a network)"),
    HardwareParam("timing", "str", "rtl", "", "rtl (our RTL) | scalesim (SCALE-Sim 3.0.0) | ideal | soc (our RTL "
                  "with its DMA: the SoC's stalls)",
                  choices=TIMINGS, source="codesign.families.systolic.timing"),
)


class SystolicFamily(Family):
    """Rows x cols PEs, os/ws/is dataflows, glb/acc/DRAM; the exact mapper per unique layer."""

    name = "systolic"
    Arch = SystolicArch

    def params(self) -> tuple[HardwareParam, ...]:
        return PARAMS

    def arch(self, values: Mapping[str, Any]) -> SystolicArch:
        return SystolicArch(**values)

    def arch_values(self, arch: SystolicArch) -> dict:
        return arch.to_params()

    def check_pins(self, network: Network, pins: Mapping[str, Any]) -> dict:
        workload = network.unique()
        if pins in SCHEDULES:               # every layer on a tool's schedule
            return {layer.name: pins for layer, _ in workload}
        if not isinstance(pins, dict):
            raise UserError(f"mapping: must map layer names to mappings, or be one of {', '.join(SCHEDULES)}")
        out = {}
        for lname, pin in pins.items():
            try:
                layer = workload.layer(lname)
            except KeyError:
                raise UserError(f"mapping.{lname}: no layer of that name in the workload") from None
            if pin not in SCHEDULES:
                check_pin(layer, pin)
            out[layer.name] = pin
        return out

    def pins_of(self, network: Network, plans: Mapping[str, dict]) -> dict:
        """Every level's factor of every dim (1 included) and the loop orders, per layer."""
        workload = network.unique()
        pins = {}
        for name, m in plans.items():
            layer = workload.layer(name)
            dims = (flattened(layer, m["flat"]) if m.get("flat") else layer).dim_names
            pin = {lvl: {x: int(m.get(lvl, {}).get(x, 1)) for x in dims} for lvl in ("dram", "glb", "rows", "cols", "pe")}
            pin["order"] = m["order"]
            if m.get("flat"):
                pin["flat"] = m["flat"]
            pins[name] = pin
        return pins

    def map_network(self, network: Network, arch: SystolicArch, objective, pins=None, **options) -> NetworkCost:
        """The exact mapper per unique layer (``strategy`` option: exhaustive | beam); a
        layer that fits nowhere gives ``fits`` = the number of such layers."""
        pins = pins or {}
        workload = network.unique()
        try:
            res = evaluate_network(network, arch, objective=objective, pins=pins, strategy=options.get("strategy"))
        except NoMappingError as e:
            return infeasible_cost(workload, arch, objective, pins, str(e))
        except MappingError as e:
            raise UserError(str(e)) from None
        return network_cost(res)

    def joint_space(self, network: Network, hardware_choices: Mapping[str, tuple]) -> JointSpace:
        from .tiling import WorkloadTiling
        flexible = "flexible" in hardware_choices.get("dataflow", ())
        tiling = WorkloadTiling.of(network.unique(), flexible)
        return JointSpace(tiling.params(), tiling)

    def cost(self, network: Network, archs: list, params: list[dict], space: JointSpace) -> list[NetworkCost]:
        from .joint import joint_costs
        return joint_costs(network.unique(), space.state, archs, params)

    def encode(self, space: JointSpace, cost: NetworkCost) -> dict:
        from .joint import encode
        return encode(space.state, cost)

    def layer_fronts(self, network: Network, arch: SystolicArch, pins=None):
        from .fronts import layer_fronts
        return layer_fronts(network.unique(), arch, pins or {})

    def combine(self, network: Network, arch: SystolicArch, layers) -> NetworkCost:
        from .fronts import combine
        return combine(arch, layers)

    def generate(self, arch: SystolicArch, cost: NetworkCost):
        from .rtl.design import SystolicDesign
        return SystolicDesign(arch, cost)

    def report(self, cost: NetworkCost, *, title: str, nests: bool = False) -> str:
        from .report import network_table
        return network_table(cost, title=title, nests=nests)

    def to_json(self, cost: NetworkCost) -> dict:
        from .report import network_json
        return network_json(cost)

    def explain(self, cost: NetworkCost, *, title: str, objective: Objective, as_json: bool = False):
        from .report import map_json, map_text
        return map_json(cost, objective) if as_json else map_text(cost, title=title)


FAMILY = SystolicFamily()
