"""The SoC wrapper: `Top` with ping-pong scratchpad banks, the DMA and a tile-program sequencer.

Ports: ``ctrl`` (AXI4-Lite slave: control registers and the descriptor
memory, `regs.py`) and ``mem`` (AXI4 master: DRAM), plus ``irq`` (high
while the last program is done). The host writes one descriptor per glb
tile (`descriptors.py` derives them from the mapping), writes NDESC and
sets CTRL.start; the sequencer then runs the schedule below and raises
STATUS.done. CYCLES holds the run's total cycles, stalls included.

Schedule (double buffering of the operand banks; `soc_stalls.py` models it):

1. prologue: load tile 0's west and north words into the idle halves;
2. step ``i``: the halves swap, Top runs tile ``i`` while the DMA loads tile
   ``i+1``'s operands into the other halves; the step ends when both are
   done. A bank whose operand tile ``i+1`` keeps (flag keep_west /
   keep_north: the same block as tile ``i``'s) is not loaded and does not
   swap: each bank has its own half select;
3. after step ``i``: if tile ``i`` completes its output tile, the DMA stores
   its accumulator rows (Top idle; requantized at the descriptor's shift when
   the quant flag says the outputs are final); if tile ``i+1`` resumes a reduction whose
   partial sums were stored, the DMA reloads them into the accumulator.

The accumulator is single-buffered (Top's), so stores and reloads are not
overlapped with compute.
"""
from __future__ import annotations

from amaranth.hdl import MemoryData, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from .axi import axi4_signature
from .buffers import Scratchpad
from .dma import Dma
from .params import RtlParams
from .regs import FIELDS, SHIFT_LSB, Regs, flag_bits
from .top import ROLE_NAMES, Top

__all__ = ["Soc", "PingPong", "BufferedTop", "soc_signature"]


class PingPong(wiring.Component):
    """A `Scratchpad` of two halves: the array reads half `sel`, the DMA writes half ``~sel``.

    Same ports as `Scratchpad` (its host write port is unused) plus `sel`
    and the DMA write port ``dma_we`` / ``dma_addr`` / ``dma_wdata``.
    """

    def __init__(self, lanes: int, op_bits: int, depth: int):
        self.lanes, self.op_bits, self.depth = lanes, op_bits, depth
        plain = Scratchpad(lanes, op_bits, depth)
        plain._MustUse__silence = True      # only its signature is used
        base = plain.signature.members
        self.mem_data = MemoryData(shape=lanes * op_bits, depth=2 * depth, init=[])
        super().__init__({**dict(base), "sel": In(1), "dma_we": In(1), "dma_addr": In(base["w_addr"].shape),
                          "dma_wdata": In(base["w_data"].shape)})

    def elaborate(self, platform):
        m = Module()
        m.submodules.mem = mem = Memory(data=self.mem_data)
        wp, rp = mem.write_port(), mem.read_port()
        m.d.comb += [wp.en.eq(self.dma_we), wp.addr.eq(Mux(self.sel, self.dma_addr, self.dma_addr + self.depth)),
                     wp.data.eq(self.dma_wdata), rp.en.eq(self.r_en),
                     rp.addr.eq(Mux(self.sel, self.r_addr + self.depth, self.r_addr)), self.r_data.eq(rp.data)]
        return m


class BufferedTop(Top):
    """`Top` with `PingPong` west and north banks (its host write ports unused)."""

    def __init__(self, p: RtlParams):
        super().__init__(p)
        for bank in (self.west, self.north):
            bank._MustUse__silence = True   # replaced before elaboration
        self.west = PingPong(p.rows, p.op_bits, p.west_depth)
        self.north = PingPong(p.cols, p.op_bits, p.north_depth)


def soc_signature(p: RtlParams, data_bytes: int, desc_depth: int, addr_bits: int = 32) -> wiring.Signature:
    """The SoC's ports: ``ctrl`` (AXI4-Lite slave), ``mem`` (AXI4 master), ``irq``."""
    return wiring.Signature({"ctrl": In(Regs.lite_signature(desc_depth)), "mem": Out(axi4_signature(addr_bits, data_bytes)),
                             "irq": Out(1)})


class Soc(wiring.Component):
    """Top + DMA + sequencer + registers; `data_bytes` is the AXI4 data width (the DRAM's bytes per cycle)."""

    def __init__(self, p: RtlParams, data_bytes: int, desc_depth: int = 64, addr_bits: int = 32):
        self.p, self.data_bytes, self.desc_depth = p, data_bytes, desc_depth
        super().__init__(soc_signature(p, data_bytes, desc_depth, addr_bits))
        self.top = BufferedTop(p)
        self.dma = Dma(p, data_bytes, addr_bits)
        self.regs = Regs(desc_depth)

    def elaborate(self, platform):
        m = Module()
        p = self.p
        m.submodules.top = top = self.top
        m.submodules.dma = dma = self.dma
        m.submodules.regs = regs = self.regs
        wiring.connect(m, wiring.flipped(self.ctrl), regs.bus)
        wiring.connect(m, dma.axi, wiring.flipped(self.mem))
        F = {f: i for i, f in enumerate(FIELDS)}
        cur = [Signal(32, name=f"cur_{f}") for f in FIELDS]
        nxt = [Signal(32, name=f"nxt_{f}") for f in FIELDS]
        fl = lambda d, name: d[F["flags"]][flag_bits[name]]  # noqa: E731
        sel = {bank: Signal(name=f"sel_{bank}") for bank in ("west", "north")}
        idx, has_nxt = Signal(range(self.desc_depth + 1)), Signal()
        # Top: configuration from `cur`; operand banks written by the DMA; accumulator host port by the DMA
        for r, name in enumerate(ROLE_NAMES):
            for fld in ("ext", "fold", "nfold"):
                m.d.comb += getattr(top, f"{fld}_{name}").eq(cur[F[f"{fld}_{name}"]])
        for l, name in enumerate(("outer", "middle", "inner")):
            m.d.comb += getattr(top, f"order_{name}").eq(cur[F["flags"]][2 * l:2 * l + 2])
        m.d.comb += [top.accumulate.eq(fl(cur, "accumulate")),
                     top.requant_shift.eq(cur[F["flags"]][SHIFT_LSB:SHIFT_LSB + p.shift_bits])]
        for bank in ("west", "north"):
            pp = getattr(top, bank)
            m.d.comb += [pp.sel.eq(sel[bank]), pp.dma_we.eq(getattr(dma, f"{bank}_we")),
                         pp.dma_addr.eq(getattr(dma, f"{bank}_addr")), pp.dma_wdata.eq(getattr(dma, f"{bank}_wdata"))]
        m.d.comb += [top.acc_addr.eq(dma.acc_addr), top.acc_we.eq(dma.acc_we), top.acc_wdata.eq(dma.acc_wdata),
                     dma.acc_rdata.eq(top.acc_rdata), dma.out_rdata.eq(top.out_rdata), regs.fetch_addr.eq(Mux(regs.busy, idx + 1, 0))]
        # DMA commands: (store, target, address field, words field, descriptor)
        ld_go, ld_busy = Signal(), Signal()
        self._loader(m, dma, nxt, F, ld_go, ld_busy, fl)
        cmd = lambda st, tgt, d: [dma.cmd_valid.eq(1), dma.cmd_store.eq(st), dma.cmd_target.eq(tgt),  # noqa: E731
                                  dma.cmd_addr.eq(d[F["acc_addr"]]), dma.cmd_words.eq(d[F["acc_words"]])]
        with m.If(regs.busy):
            m.d.sync += [regs.cycles.eq(regs.cycles + 1), regs.compute_cycles.eq(regs.compute_cycles + top.busy)]
        with m.FSM():
            with m.State("IDLE"):
                with m.If(regs.go):
                    m.d.sync += [regs.busy.eq(1), regs.done.eq(0), regs.cycles.eq(0), regs.compute_cycles.eq(0),
                                 idx.eq(0), sel["west"].eq(0), sel["north"].eq(0)]
                    m.next = "FETCH0"
            with m.State("FETCH0"):
                m.d.sync += [nxt[i].eq(regs.fields[i]) for i in range(len(FIELDS))] + [ld_go.eq(1)]
                m.next = "PROLOGUE"
            with m.State("PROLOGUE"):
                m.d.sync += ld_go.eq(0)
                with m.If(~ld_go & ~ld_busy):
                    m.next = "SWAP"
            with m.State("SWAP"):
                m.d.sync += [cur[i].eq(nxt[i]) for i in range(len(FIELDS))]
                m.d.sync += [s.eq(s ^ ~fl(nxt, f"keep_{bank}")) for bank, s in sel.items()]   # a kept bank stays
                m.next = "START"
            with m.State("START"):     # Top starts; descriptor idx+1 is on the field memories' outputs
                m.d.comb += top.start.eq(1)
                more = idx + 1 < regs.ndesc
                m.d.sync += [has_nxt.eq(more), ld_go.eq(more)]
                m.d.sync += [nxt[i].eq(regs.fields[i]) for i in range(len(FIELDS))]
                m.next = "RUN"
            with m.State("RUN"):
                m.d.sync += ld_go.eq(0)
                with m.If(top.done & ~ld_go & ~ld_busy):
                    m.next = "STORE"
            # after the tile: store its output tile, then reload the next tile's partial sums
            for state, when, store, desc, after in (("STORE", fl(cur, "store"), 1, cur, "RELOAD"),
                                                    ("RELOAD", has_nxt & fl(nxt, "reload"), 0, nxt, "NEXT")):
                with m.State(state):
                    with m.If(when):     # a quant store writes requantized rows (DMA target 3)
                        m.d.comb += cmd(store, Mux(fl(cur, "quant") & store, 3, 2), desc)
                        m.next = f"{state}_WAIT"
                    with m.Else():
                        m.next = after
                with m.State(f"{state}_WAIT"):
                    with m.If(~dma.busy):
                        m.next = after
            with m.State("NEXT"):
                m.d.sync += idx.eq(idx + 1)
                with m.If(has_nxt):
                    m.next = "SWAP"
                with m.Else():
                    m.d.sync += [regs.busy.eq(0), regs.done.eq(1)]
                    m.next = "IDLE"
        m.d.comb += self.irq.eq(regs.done)
        return m

    def _loader(self, m, dma, nxt, F, go, busy, fl):
        """Load the `nxt` tile's west then north words (DMA targets 0 and 1), skipping a kept bank."""
        load_w, load_n = ~fl(nxt, "keep_west"), ~fl(nxt, "keep_north")
        with m.FSM(name="loader"):
            with m.State("IDLE"):
                with m.If(go):
                    m.d.comb += busy.eq(1)
                    with m.If(load_w):
                        m.next = "WEST"
                    with m.Elif(load_n):
                        m.next = "NORTH"
            for t, (state, bank) in enumerate((("WEST", "west"), ("NORTH", "north"))):
                with m.State(state):
                    m.d.comb += [busy.eq(1), dma.cmd_valid.eq(1), dma.cmd_store.eq(0), dma.cmd_target.eq(t),
                                 dma.cmd_addr.eq(nxt[F[f"{bank}_src"]]), dma.cmd_words.eq(nxt[F[f"{bank}_words"]])]
                    m.next = f"{state}_WAIT"
                with m.State(f"{state}_WAIT"):
                    m.d.comb += busy.eq(1)
                    with m.If(~dma.busy):
                        m.next = "NORTH" if bank == "west" else "IDLE"
                        if bank == "west":
                            with m.If(~load_n):
                                m.next = "IDLE"
