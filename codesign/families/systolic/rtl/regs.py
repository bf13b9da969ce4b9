"""Control registers and the descriptor memory of the SoC, behind an AXI4-Lite slave.

Address map (byte addresses, 32-bit registers; `REGISTERS`):

- ``0x00`` CTRL (write): bit 0 = 1 starts the tile program (ignored while busy);
- ``0x04`` STATUS (read): bit 0 busy, bit 1 done;
- ``0x08`` NDESC (read/write): descriptors in the program (1 .. depth);
- ``0x0C`` CYCLES (read): cycles of the last run, start to done, stalls included;
- ``0x10`` COMPUTE_CYCLES (read): cycles the array was busy during that run;
- ``DESC_BASE + (d * 16 + f) * 4`` (write): word ``f`` of descriptor ``d`` (`FIELDS`).

Writes take one cycle (AW and W accepted together, B the next cycle);
reads return the next cycle. Descriptor words read back as 0.
"""
from __future__ import annotations

from amaranth.hdl import MemoryData, Module, Signal, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from .axi import axi_lite_signature

__all__ = ["Regs", "FIELDS", "FIELD_DOC", "flag_bits", "SHIFT_LSB", "REGISTERS", "DESC_WORDS", "desc_base", "lite_addr_bits"]

#: the 32-bit words of one descriptor, in order, and what each holds
FIELD_DOC = {
    "ext_row": "tile extent of the row role (Top's ext_row)", "ext_col": "tile extent of the col role",
    "ext_time": "tile extent of the time role",
    "fold_row": "fold size, row role", "fold_col": "fold size, col role", "fold_time": "fold size, time role",
    "nfold_row": "folds along the row role in the tile", "nfold_col": "folds along the col role",
    "nfold_time": "folds along the time role",
    "flags": "bits 1:0 / 3:2 / 5:4 glb loop order outer / middle / inner (0 row, 1 col, 2 time); bit 8 "
             "accumulate; bit 9 reload: before this tile, load acc_words accumulator rows from acc_addr; "
             "bit 10 store: after this tile, write acc_words accumulator rows to acc_addr; bit 11 keep_west / "
             "bit 12 keep_north: the tile's west / north words are the previous tile's, not loaded again (the "
             "array reads them from the ping-pong half that holds them; 0 on descriptor 0); bit 13 quant: the store "
             "writes the finished outputs requantized (clip(sum >> shift) to out_bits, out_bits per element) "
             "instead of raw accumulator rows; bits 21:16 shift",
    "west_src": "byte address of the tile's west words in DRAM (aligned to the data width)",
    "west_words": "west words to load", "north_src": "byte address of the tile's north words",
    "north_words": "north words to load", "acc_addr": "byte address of the output tile's accumulator rows",
    "acc_words": "accumulator rows of the output tile",
}
FIELDS = tuple(FIELD_DOC)
DESC_WORDS = 16
flag_bits = {"accumulate": 8, "reload": 9, "store": 10, "keep_west": 11, "keep_north": 12, "quant": 13}
#: the requantization shift: bits SHIFT_LSB .. SHIFT_LSB + 5 of flags
SHIFT_LSB = 16
REGISTERS = {"CTRL": 0x00, "STATUS": 0x04, "NDESC": 0x08, "CYCLES": 0x0C, "COMPUTE_CYCLES": 0x10}
assert len(FIELDS) == DESC_WORDS


def lite_addr_bits(depth: int) -> int:
    """AXI4-Lite address bits for `depth` descriptors (registers in the lower half)."""
    return max(13, (depth - 1).bit_length() + 7)


def desc_base(depth: int) -> int:
    """Byte address of descriptor 0, word 0."""
    return 1 << (lite_addr_bits(depth) - 1)


class Regs(wiring.Component):
    """The register file; the sequencer drives busy/done/cycles and reads `fields` at `fetch_addr`."""

    @staticmethod
    def lite_signature(depth: int) -> wiring.Signature:
        return axi_lite_signature(lite_addr_bits(depth))

    def __init__(self, depth: int):
        self.depth = depth
        self.field_data = [MemoryData(shape=32, depth=depth, init=[]) for _ in FIELDS]
        super().__init__({
            "bus": In(self.lite_signature(depth)),
            "go": Out(1), "ndesc": Out(32), "fetch_addr": In(range(depth + 1)),
            "fields": Out(data.ArrayLayout(unsigned(32), len(FIELDS))),
            "busy": In(1), "done": In(1), "cycles": In(32), "compute_cycles": In(32),
        })

    def elaborate(self, platform):
        m, b = Module(), self.bus
        top = lite_addr_bits(self.depth) - 1
        wfire = b.awvalid & b.wvalid & ~b.bvalid
        m.d.comb += [b.awready.eq(wfire), b.wready.eq(wfire), b.bresp.eq(0), b.rresp.eq(0)]
        with m.If(wfire):
            m.d.sync += b.bvalid.eq(1)
        with m.Elif(b.bready):
            m.d.sync += b.bvalid.eq(0)
        desc = b.awaddr[top]
        for i, md in enumerate(self.field_data):
            m.submodules[f"field{i}"] = mem = Memory(data=md)
            wp, rp = mem.write_port(), mem.read_port()
            m.d.comb += [wp.en.eq(wfire & desc & (b.awaddr[2:6] == i)), wp.addr.eq(b.awaddr[6:top]),
                         wp.data.eq(b.wdata), rp.addr.eq(self.fetch_addr), self.fields[i].eq(rp.data)]
        reg = b.awaddr[2:6]
        m.d.comb += self.go.eq(wfire & ~desc & (reg == REGISTERS["CTRL"] >> 2) & b.wdata[0] & ~self.busy)
        with m.If(wfire & ~desc & (reg == REGISTERS["NDESC"] >> 2)):
            m.d.sync += self.ndesc.eq(b.wdata)
        rfire = b.arvalid & ~b.rvalid
        m.d.comb += b.arready.eq(rfire)
        values = {REGISTERS["STATUS"]: self.busy | (self.done << 1), REGISTERS["NDESC"]: self.ndesc,
                  REGISTERS["CYCLES"]: self.cycles, REGISTERS["COMPUTE_CYCLES"]: self.compute_cycles}
        with m.If(rfire):
            m.d.sync += [b.rvalid.eq(1), b.rdata.eq(0)]
            with m.If(~b.araddr[top]):
                with m.Switch(b.araddr[:top]):
                    for addr, v in values.items():
                        with m.Case(addr):
                            m.d.sync += b.rdata.eq(v)
        with m.Elif(b.rready):
            m.d.sync += b.rvalid.eq(0)
        return m
