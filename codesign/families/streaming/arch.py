"""The streaming (layer-pipelined, FINN-style) accelerator: its ``hardware:`` keys, validated.

One engine per layer instance, chained by FIFOs (see `timing` for the cycle-level
microarchitecture). The budgets ``lut``, ``dsp``, ``bram18`` bound the FPGA
resources of the whole pipeline; an omitted budget is unbounded.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, fields

from ...errors import LIMITS, UserError
from ...tech import Tech, TechError, cached_tech
from ..base import HardwareParam

__all__ = ["StreamingArch", "TIMINGS", "RESOURCE_MODELS", "PARAMS", "tech_of", "ZCU104"]

TIMINGS = ("rtl", "finn")
#: finn: FINN-R's estimates (Xilinx LUT6 / DSP48 / RAMB18, the units of Xilinx budgets such as
#: ZCU104's); ecp5: our RTL's own cells under Yosys synth_ecp5 (LUT4, MULT18, DP16KD), `fitted`.
RESOURCE_MODELS = ("finn", "ecp5")
#: Xilinx Zynq UltraScale+ XCZU7EV (the ZCU104 board, a common FINN target): 230,400 LUTs,
#: 1,728 DSP slices, 312 RAMB36 = 624 RAMB18 (Xilinx DS891, Zynq UltraScale+ MPSoC Data Sheet:
#: Overview, Table 2, column ZU7EV). Used as the issue's example budget and as the scale of
#: the resource cost when a budget is omitted.
ZCU104 = {"lut": 230400, "dsp": 1728, "bram18": 624}

_TECH_DOC = "energy and area table: horowitz45 | eyeriss65 | a user table (codesign.tech)"
PARAMS = (
    HardwareParam("family", "str", "streaming", "", "the family: streaming", choices=("streaming",)),
    HardwareParam("op_bits", "int", 8, "bits", "weights and activations", low=1, high=32,
                  source="FINN's 8-bit CNV/ResNet configurations, brevitas bnn_pynq cfg/cnv_8w8a.ini"),
    HardwareParam("acc_bits", "int", 32, "bits", "accumulator width", low=2, high=64,
                  source="FINN's accDataType default INT32, matrixvectoractivation.py:66"),
    HardwareParam("clock_mhz", "float", 200.0, "MHz", "clock", low=0, low_open=True, high=LIMITS["clock_hz"].high / 1e6,
                  source="assumption: 200 MHz; FINN's ZCU104 builds target 5 ns"),
    HardwareParam("lut", "int", None, "LUT", "LUT budget (omitted: unbounded; ZCU104 has 230400, DS891)", low=1),
    HardwareParam("dsp", "int", None, "DSP", "DSP budget (omitted: unbounded; ZCU104 has 1728, DS891)", low=0),
    HardwareParam("bram18", "int", None, "RAMB18", "block RAM budget in 18 Kb blocks (omitted: unbounded; "
                  "ZCU104 has 624, DS891)", low=0),
    HardwareParam("dram_bw_bytes", "float", 16.0, "B/cycle", "DRAM bandwidth for weights that do not fit on "
                  "chip", low=0, low_open=True, high=1 << 20, source="assumption: the systolic family's 128-bit bus"),
    HardwareParam("tech", "tech", "horowitz45", "", _TECH_DOC, source="codesign.tech"),
    HardwareParam("timing", "str", "rtl", "", "rtl (our RTL, cycle exact) | finn (FINN's estimates)",
                  choices=TIMINGS, source="codesign.families.streaming.timing"),
    HardwareParam("resources", "str", "finn", "", "resource model, in the budget's units: finn (FINN-R's "
                  "estimates, Xilinx cells) | ecp5 (our RTL fitted to synth_ecp5: LUT4, MULT18, DP16KD)",
                  choices=RESOURCE_MODELS, source="codesign.families.streaming.finn / .fitted"),
    HardwareParam("target_fps", "float", None, "frames/s", "fold for the fewest resources reaching this "
                  "throughput (omitted: the lowest II the budget allows)", low=0, low_open=True),
)


@dataclass(frozen=True)
class StreamingArch:
    """A streaming accelerator (module docstring), validated on construction."""

    family: str = "streaming"
    op_bits: int = 8
    acc_bits: int = 32
    clock_mhz: float = 200.0
    lut: int | None = None
    dsp: int | None = None
    bram18: int | None = None
    dram_bw_bytes: float = 16.0
    tech: str | tuple = "horowitz45"
    timing: str = "rtl"
    resources: str = "finn"
    target_fps: float | None = None

    def __post_init__(self):
        def bad(key, why):
            raise UserError(f"hardware.{key}: {why}")
        if self.family != "streaming":
            bad("family", f"must be 'streaming', got {self.family!r}")
        for p in PARAMS:
            v = getattr(self, p.name)
            if p.numeric and v is not None:
                if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                    bad(p.name, f"must be a number, got {v!r}")
                if p.is_int and not isinstance(v, int):
                    bad(p.name, f"must be an integer, got {v!r}")
                if p.low is not None and (v <= p.low if p.low_open else v < p.low):
                    bad(p.name, f"must be {'>' if p.low_open else '>='} {p.low:g}, got {v!r}")
                if p.high is not None and v > p.high:
                    bad(p.name, f"must be <= {p.high:g}, got {v!r}")
            elif p.numeric and p.default is not None:
                bad(p.name, "must be given")
        if self.timing not in TIMINGS:
            bad("timing", f"must be one of {', '.join(TIMINGS)}, got {self.timing!r}")
        if self.resources not in RESOURCE_MODELS:
            bad("resources", f"must be one of {', '.join(RESOURCE_MODELS)}, got {self.resources!r}")
        if self.acc_bits < 2 * self.op_bits:
            bad("acc_bits", f"must be at least 2 x op_bits = {2 * self.op_bits}, got {self.acc_bits}")
        if isinstance(self.tech, dict):
            object.__setattr__(self, "tech", tuple(sorted(self.tech.items())))
        try:
            tech_of(self).mac_pj(self.op_bits, self.acc_bits)
            tech_of(self).pe_area_mm2(self.op_bits, self.acc_bits)
        except TechError as e:
            raise UserError(str(e) if str(e).startswith("hardware.") else f"hardware.tech: {e}") from None

    @classmethod
    def keys(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))

    def budget(self) -> dict[str, float]:
        """lut/dsp/bram18 budgets (inf where omitted)."""
        return {k: math.inf if getattr(self, k) is None else float(getattr(self, k)) for k in ZCU104}

    @property
    def target_ii_cycles(self) -> int | None:
        """The largest II reaching `target_fps` (None without a target)."""
        if self.target_fps is None:
            return None
        return max(1, math.floor(self.clock_mhz * 1e6 / self.target_fps))

    def describe(self) -> str:
        b = ", ".join(f"{k} {getattr(self, k)}" for k in ZCU104 if getattr(self, k) is not None) or "unbounded"
        t = f", target {self.target_fps:g} fps" if self.target_fps else ""
        return (f"streaming pipeline, int{self.op_bits}/int{self.acc_bits}, {self.clock_mhz:g} MHz, budget {b}, "
                f"DRAM {self.dram_bw_bytes:g} B/cycle, {self.tech if isinstance(self.tech, str) else 'user tech'}, "
                f"timing {self.timing}, resources {self.resources}{t}")


def tech_of(arch: StreamingArch) -> Tech:
    """The architecture's technology table (cached)."""
    return cached_tech(arch.tech)
