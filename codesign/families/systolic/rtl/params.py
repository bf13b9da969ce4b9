"""Elaboration parameters of the generated accelerator (`RtlParams`)."""
from __future__ import annotations

from dataclasses import asdict, dataclass

from ..arch import SystolicArch
from ..pacing import pacing, rtl_pacing
from .plan import ROW, COL, TIME, Plan, RtlError

__all__ = ["RtlParams", "depths", "port_widths", "PORT_FIELDS"]

#: the port widths the RTL honours (the glb's write port is the host's, used while idle)
PORT_FIELDS = ("glb_read_bits", "acc_read_bits", "acc_write_bits")


def _bits(n: int) -> int:
    """Bits to hold the values 0..n."""
    return max(1, int(n).bit_length())


@dataclass(frozen=True)
class RtlParams:
    """Everything the generator needs: array shape, word widths, memory depths.

    `west_depth` / `north_depth`: words of the two scratchpad banks (one word =
    one vector of `rows` / `cols` operands); `acc_depth`: words of each of the
    `cols` accumulator banks (one `acc_bits` partial sum each). Dataflow ``is``
    elaborates the same hardware as ``ws`` (only the host's layout differs).

    `glb_read_bits`, `acc_read_bits`, `acc_write_bits`: the buffer ports' widths
    (bits per cycle; 0: never stalls). The controller paces the array to them
    (`pacing`, `codesign.families.systolic.pacing`); the scratchpad banks' write
    ports are the host's (idle only) and stall nothing.
    """

    rows: int
    cols: int
    dataflow: str
    op_bits: int = 8
    acc_bits: int = 32
    west_depth: int = 64
    north_depth: int = 64
    acc_depth: int = 64
    cycle_bits: int = 32
    out_bits: int | None = None         # requantized output word (host read port ``out_rdata``); None: op_bits
    glb_read_bits: int = 0
    acc_read_bits: int = 0
    acc_write_bits: int = 0

    def __post_init__(self):
        if self.out_bits is None:
            object.__setattr__(self, "out_bits", self.op_bits)
        for k in ("rows", "cols", "op_bits", "acc_bits", "west_depth", "north_depth", "acc_depth", "cycle_bits",
                  "out_bits"):
            v = getattr(self, k)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise RtlError(f"rtl.{k}: must be a positive integer, got {v!r}")
        for k in PORT_FIELDS:
            v = getattr(self, k)
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise RtlError(f"rtl.{k}: must be an integer >= 0 (bits per cycle; 0: never stalls), got {v!r}")
        if self.dataflow not in ("os", "ws", "is"):
            raise RtlError(f"rtl.dataflow: must be os, ws or is, got {self.dataflow!r}")
        if self.acc_bits < 2 * self.op_bits:
            raise RtlError(f"rtl.acc_bits: must be at least 2 x op_bits = {2 * self.op_bits}")
        if self.out_bits > self.acc_bits:
            raise RtlError(f"rtl.out_bits: must be at most acc_bits = {self.acc_bits}")
        if self.rows * self.op_bits > 65536 or self.cols * self.acc_bits > 65536:
            raise RtlError("rtl: a scratchpad or accumulator row would exceed Amaranth's 65,536-bit signal limit")

    # -- derived widths ------------------------------------------------------
    @property
    def os(self) -> bool:
        """True for the output-stationary mesh (else the weight-stationary one, also used by is)."""
        return self.dataflow == "os"

    @property
    def west_addr_bits(self) -> int:
        return _bits(self.west_depth - 1)

    @property
    def north_addr_bits(self) -> int:
        return _bits(self.north_depth - 1)

    @property
    def acc_addr_bits(self) -> int:
        return _bits(self.acc_depth - 1)

    @property
    def shift_bits(self) -> int:
        """Width of ``requant_shift`` (0 .. acc_bits - 1)."""
        return _bits(self.acc_bits - 1)

    @property
    def dim_bits(self) -> int:
        """Width of the per-tile configuration fields (extents, fold sizes, fold counts).

        A tile extent is at most (folds along it) x (fold size), and the folds
        along a role are at most a bank's depth, so depth x array side bounds it.
        """
        return _bits(max(self.west_depth, self.north_depth, self.acc_depth) * max(self.rows, self.cols))

    @property
    def pacing(self) -> tuple[int, ...]:
        """Cycles per step of each step class (`pacing.PACE_CLASSES`: stream, long, pad, fill, drain)."""
        return pacing(self.rows, self.cols, not self.os, self.op_bits, self.acc_bits,
                      *(getattr(self, k) for k in PORT_FIELDS))

    @property
    def paced(self) -> bool:
        """True when some port is narrow enough to stall the array (the controller then paces it)."""
        return max(self.pacing) > 1

    def to_dict(self) -> dict:
        return asdict(self)

    # -- construction --------------------------------------------------------
    @classmethod
    def for_arch(cls, arch: SystolicArch, ports: bool = True) -> "RtlParams":
        """Memories sized from the architecture's capacities; with `ports`, paced to its
        port widths (`port_widths`; the SoC, whose model has no port stalls, is not).

        The scratchpad (`glb_kib`) is split evenly between the west and north
        banks; the accumulator takes `acc_kib` (or a third of the glb when
        ``acc_kib == 0``, which then leaves the banks a third each).
        """
        glb, acc = arch.glb_bytes, arch.acc_bytes
        if acc == 0:
            glb, acc = glb * 2 / 3, glb / 3
        return cls(arch.rows, arch.cols, arch.dataflow, arch.op_bits, arch.acc_bits,
                   max(1, int(glb / 2 // (arch.rows * arch.op_bits / 8))),
                   max(1, int(glb / 2 // (arch.cols * arch.op_bits / 8))),
                   max(1, int(acc // (arch.cols * arch.acc_bits / 8))), out_bits=arch.out_bits,
                   **port_widths(arch, ports))

    @classmethod
    def for_plans(cls, arch: SystolicArch, plans: "list[Plan]", ports: bool = True) -> "RtlParams":
        """Memories just large enough for every glb tile of the given plans; `ports` as `for_arch`."""
        w = n = a = 1
        for p in plans:
            for tile in p.tiles():
                w, n, a = (max(x, y) for x, y in zip((w, n, a), depths(p, tile.extent)))
        return cls(arch.rows, arch.cols, arch.dataflow, arch.op_bits, arch.acc_bits, w, n, a, out_bits=arch.out_bits,
                   **port_widths(arch, ports))


def port_widths(arch: SystolicArch, ports: bool = True) -> dict[str, int]:
    """The `RtlParams` port fields of an architecture: its widths (`SystolicArch.port_bits`), 0
    for a port that never stalls this array; all 0 without `ports` or when `pacing.rtl_pacing`
    has no stall."""
    out = dict.fromkeys(PORT_FIELDS, 0)
    if not ports or max(rtl_pacing(arch)) == 1:
        return out
    for k in PORT_FIELDS:
        mem, kind, _ = k.split("_")
        w = arch.port_bits(mem, kind)
        one = {f: (w if f == k else 0) for f in PORT_FIELDS}
        stalls = max(pacing(arch.rows, arch.cols, arch.dataflow != "os", arch.op_bits, arch.acc_bits,
                            *one.values())) > 1
        out[k] = w if stalls else 0
    return out


def depths(plan: Plan, extent: tuple[int, int, int]) -> tuple[int, int, int]:
    """Words a glb tile of this extent uses in the west, north and accumulator banks.

    West: a vector per (row block, time index). North: os a vector per
    (col block, time index); ws/is a vector per (col block, row index).
    Accumulator: os a row per (col block, row index); ws/is per (col block, time index).
    """
    n = plan.folds_in(extent)
    west = n[ROW] * extent[TIME]
    if plan.dataflow == "os":
        return west, n[COL] * extent[TIME], n[COL] * extent[ROW]
    return west, n[COL] * extent[ROW], n[COL] * extent[TIME]
