"""The systolic-array accelerator family: rows x cols PEs, os/ws/is dataflows.

Memory hierarchy (outermost first): DRAM -> on-chip scratchpad (``glb``,
inputs and weights) and accumulator SRAM (``acc``, outputs; when
``acc_kib == 0`` outputs share the glb) -> PE array -> PE registers holding
the stationary operand (os: outputs, ws: weights, is: inputs). The two
streamed operands move through the array from PE to PE (systolic
forwarding) and are read from the on-chip buffers once per array edge.
"""
from __future__ import annotations

from dataclasses import dataclass, fields, replace

from ...errors import UserError
from .dataflow import DATAFLOWS, STATIONARY
from .memory import Memory
from ...tech import Tech, TechError, cached_tech

__all__ = ["ARCH_DATAFLOWS", "FLEX_PE_AREA_FACTOR", "SystolicArch", "ArchError", "area_mm2", "tech_of", "DATAFLOWS",
           "TIMINGS", "STATIONARY"]

#: ``flexible`` in YAML: an array that can run every one of DATAFLOWS (``dataflows``), chosen per layer
ARCH_DATAFLOWS = DATAFLOWS + ("flexible",)
#: Area of a flexible PE relative to a fixed one: operand-routing multiplexers
#: in front of the three registers. Assumption (no published figure used);
#: the tech's PE area already counts two operand registers and one accumulator.
FLEX_PE_AREA_FACTOR = 1.10
#: compute timing modes (`timing.py`); ``soc``: ``rtl`` compute plus the SoC DMA's stalls (`soc_stalls.py`)
TIMINGS = ("rtl", "scalesim", "ideal", "soc")
#: the buffer port widths (bits per cycle), `SystolicArch.port_bits`
PORT_KEYS = ("glb_read_bits", "glb_write_bits", "acc_read_bits", "acc_write_bits")


class ArchError(UserError, ValueError):
    """An architecture parameter out of range (message names the key)."""


@dataclass(frozen=True)
class SystolicArch:
    """A systolic-array accelerator, validated on construction.

    Defaults: a 16x16 int8 array with a 256 KiB scratchpad and a 64 KiB
    int32 accumulator, the sizes of Gemmini's default configuration
    (Genc et al., DAC 2021, Table/Sec. 3); 16 bytes/cycle DRAM.
    """

    rows: int = 16
    cols: int = 16
    dataflow: str = "os"            # the dataflow it runs; ``flexible`` (YAML) sets `dataflows` to all three
    op_bits: int = 8
    acc_bits: int = 32
    pe_reg_words: int = 1
    glb_kib: float = 256.0
    acc_kib: float = 64.0
    dram_bw_bytes: float = 16.0
    clock_mhz: float = 1000.0
    double_buffered: bool = True
    #: sliding-window reuse of conv inputs between consecutive dram-level tiles (Timeloop's convention 7)
    halo_reuse: bool = True
    #: buffer port widths, bits per cycle (0: Gemmini's sizing, see `port_bits`)
    glb_read_bits: int = 0
    glb_write_bits: int = 0
    acc_read_bits: int = 0
    acc_write_bits: int = 0
    tech: str | tuple = "horowitz45"    # preset name, or a user table (dict -> sorted tuple)
    timing: str = "rtl"
    family: str = "systolic"
    #: the dataflows the array can run (more than one: a flexible array, the mapper picks per layer)
    dataflows: tuple[str, ...] = ()
    #: width of an output after requantization (shift, clip) on its way out of the accumulator;
    #: None: op_bits (the next layer's operand width)
    out_bits: int | None = None
    #: keep an activation in the glb between consecutive layers when it fits (`network.kept_edges`)
    keep_activations: bool = False

    def __post_init__(self):
        def bad(key, why):
            raise ArchError(f"hardware.{key}: {why}")
        if self.out_bits is None:
            object.__setattr__(self, "out_bits", self.op_bits)
        for k in ("rows", "cols", "op_bits", "acc_bits", "pe_reg_words", "out_bits"):
            v = getattr(self, k)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                bad(k, f"must be a positive integer, got {v!r}")
        for k in PORT_KEYS:
            v = getattr(self, k)
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                bad(k, f"must be an integer >= 0 (bits per cycle; 0: Gemmini's sizing), got {v!r}")
        for k in ("glb_kib", "dram_bw_bytes", "clock_mhz"):
            v = getattr(self, k)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not v > 0:
                bad(k, f"must be a number > 0, got {v!r}")
        if isinstance(self.acc_kib, bool) or not isinstance(self.acc_kib, (int, float)) or self.acc_kib < 0:
            bad("acc_kib", f"must be a number >= 0 (0 = outputs share the glb), got {self.acc_kib!r}")
        if self.dataflow not in ARCH_DATAFLOWS:
            bad("dataflow", f"must be one of {', '.join(ARCH_DATAFLOWS)}, got {self.dataflow!r}")
        if self.dataflow == "flexible":
            object.__setattr__(self, "dataflows", DATAFLOWS)
            object.__setattr__(self, "dataflow", DATAFLOWS[0])
        elif len(self.dataflows) <= 1:      # a fixed array runs what `dataflow` says
            object.__setattr__(self, "dataflows", (self.dataflow,))
        if (not isinstance(self.dataflows, tuple) or self.dataflow not in self.dataflows
                or any(d not in DATAFLOWS for d in self.dataflows)):
            bad("dataflow", f"dataflows {self.dataflows!r} must be among {', '.join(DATAFLOWS)} and hold "
                f"{self.dataflow!r}")
        if self.timing not in TIMINGS:
            bad("timing", f"must be one of {', '.join(TIMINGS)}, got {self.timing!r}")
        if self.family != "systolic":
            bad("family", f"must be 'systolic', got {self.family!r}")
        for k in ("double_buffered", "keep_activations", "halo_reuse"):
            if not isinstance(getattr(self, k), bool):
                bad(k, f"must be true or false, got {getattr(self, k)!r}")
        if isinstance(self.tech, dict):     # a user table: keep the arch hashable
            object.__setattr__(self, "tech", tuple(sorted(self.tech.items())))
        try:
            tech_of(self).mac_pj(self.op_bits, self.acc_bits)
        except TechError as e:
            raise ArchError(str(e) if str(e).startswith("hardware.") else f"hardware.tech: {e}") from None
        if self.acc_bits < 2 * self.op_bits:
            bad("acc_bits", f"must be at least 2 x op_bits = {2 * self.op_bits}, got {self.acc_bits}")
        if self.out_bits > self.acc_bits:
            bad("out_bits", f"must be at most acc_bits = {self.acc_bits} (outputs are requantized from the "
                f"accumulator), got {self.out_bits}")

    @classmethod
    def keys(cls) -> tuple[str, ...]:
        """The YAML hardware keys (every field but the derived `dataflows`)."""
        return tuple(f.name for f in fields(cls) if f.name != "dataflows")

    def to_params(self) -> dict:
        """The YAML ``hardware:`` form (``SystolicArch(**a.to_params()) == a``)."""
        d = {k: getattr(self, k) for k in self.keys()}
        if self.flexible:
            d["dataflow"] = "flexible"
        if isinstance(d["tech"], tuple):
            d["tech"] = dict(d["tech"])
        return d

    def running(self, dataflow: str) -> "SystolicArch":
        """The same array fixed to one of its `dataflows` (what one layer runs on)."""
        if dataflow not in self.dataflows:
            raise ArchError(f"hardware.dataflow: this array cannot run {dataflow!r} (it runs "
                            f"{', '.join(self.dataflows)})")
        return replace(self, dataflow=dataflow, dataflows=(dataflow,))

    @property
    def pes(self) -> int:
        return self.rows * self.cols

    @property
    def flexible(self) -> bool:
        """True when the array can run more than one dataflow."""
        return len(self.dataflows) > 1

    @property
    def stationary(self) -> str:
        if self.flexible:
            raise ArchError("hardware.dataflow: a flexible array has no fixed stationary operand; "
                            "the mapper picks a dataflow per layer")
        return STATIONARY[self.dataflow]

    def port_bits(self, mem: str, kind: str) -> int:
        """Width of the `kind` (read, write) port of `mem` (glb, acc) in bits
        per cycle. A 0 in the field means Gemmini's sizing: one row of
        ``max(rows, cols)`` words per bank and cycle, 4 scratchpad banks of
        op_bits words, 2 accumulator banks of acc_bits words (Gemmini's
        defaultConfig: sp_banks = 4, acc_banks = 2, a bank row is DIM words;
        512 and 1024 bits on the default 16x16 int8/int32 array)."""
        v = getattr(self, f"{mem}_{kind}_bits")
        if v:
            return v
        side = max(self.rows, self.cols)
        return 4 * side * self.op_bits if mem == "glb" else 2 * side * self.acc_bits

    @property
    def glb_bytes(self) -> float:
        return self.glb_kib * 1024

    @property
    def acc_bytes(self) -> float:
        return self.acc_kib * 1024

    @property
    def memories(self) -> tuple[Memory, ...]:
        """The physical memories, innermost first."""
        if self.flexible:   # the PE registers hold whichever operand the layer's dataflow keeps
            mems = [Memory("pe_reg", "pe", frozenset({"inputs", "weights", "outputs"}),
                           self.pe_reg_words * self.acc_bits / 8, self.acc_bits)]
        else:
            st = self.stationary
            word = self.acc_bits if st == "outputs" else self.op_bits
            mems = [Memory("pe_reg", "pe", frozenset({st}), self.pe_reg_words * word / 8, word)]
        if self.acc_kib > 0:
            mems.append(Memory("glb", "glb", frozenset({"inputs", "weights"}), self.glb_bytes,
                               self.op_bits, self.double_buffered))
            mems.append(Memory("acc", "glb", frozenset({"outputs"}), self.acc_bytes, self.acc_bits,
                               self.double_buffered))
        else:
            mems.append(Memory("glb", "glb", frozenset({"inputs", "weights", "outputs"}), self.glb_bytes,
                               self.op_bits, self.double_buffered))
        mems.append(Memory("dram", "dram", frozenset({"inputs", "weights", "outputs"}), None, self.op_bits,
                           False, self.dram_bw_bytes))
        return tuple(mems)

    def describe(self) -> str:
        acc = f"acc {self.acc_kib:g} KiB" if self.acc_kib else "acc in glb"
        df = "flexible" if self.flexible else self.dataflow
        out = "" if self.out_bits == self.acc_bits else f"->int{self.out_bits}"
        keep = ", activations kept on chip" if self.keep_activations else ""
        ports = ", ".join(f"{k[:-5].replace('_', ' ')} {getattr(self, k)}" for k in PORT_KEYS if getattr(self, k))
        return (f"{self.rows}x{self.cols} {df} systolic, int{self.op_bits}/int{self.acc_bits}{out}{keep}, "
                f"glb {self.glb_kib:g} KiB, {acc}, DRAM {self.dram_bw_bytes:g} B/cycle, "
                + (f"ports {ports} bits/cycle, " if ports else "") +
                f"{self.clock_mhz:g} MHz, {self.tech}, timing {self.timing}")


def tech_of(arch: SystolicArch) -> Tech:
    """The architecture's technology table (cached)."""
    return cached_tech(arch.tech)


def area_mm2(arch: SystolicArch) -> float:
    """First-order area: PEs x PE area + SRAM area of glb and acc + fixed
    (figures and their sources in `codesign.tech`)."""
    t = tech_of(arch)
    sram = t.sram_area_mm2(arch.glb_bytes) + (t.sram_area_mm2(arch.acc_bytes) if arch.acc_kib else 0.0)
    pe = t.pe_area_mm2(arch.op_bits, arch.acc_bits) * (FLEX_PE_AREA_FACTOR if arch.flexible else 1.0)
    return arch.pes * pe + sram + t.fixed_area_mm2
