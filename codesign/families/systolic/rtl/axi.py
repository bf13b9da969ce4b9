"""AXI4 and AXI4-Lite interfaces (`lib.wiring` signatures) and a simulated DRAM behind AXI4.

`axi4_signature(addr_bits, data_bytes)`: the master's view of an AXI4 port
(AW, W, B, AR, R channels; INCR bursts; no IDs, no user signals, no
``*lock``/``*cache``/``*prot``/``*qos``: a DMA master drives only what a
single-ID interconnect needs). `axi_lite_signature(addr_bits)`: a 32-bit AXI4-Lite master port (the
register file is its slave).

`DramModel` is the testbench-side memory (never exported): an AXI4 slave
whose data bus is ``dram_bw_bytes`` wide and that moves at most one beat
per cycle, reads having priority over writes, so it serves exactly
``dram_bw_bytes`` bytes per cycle. A burst accepted in cycle ``t`` returns
its first read beat in cycle ``t + 1`` (``LATENCY_CYCLES``); one burst
waits in a one-entry queue while another streams, so back-to-back bursts
stream without a gap. A write burst's B response comes the cycle after its
last beat.
"""
from __future__ import annotations

from amaranth.hdl import MemoryData, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

__all__ = ["axi4_signature", "axi_lite_signature", "burst_beats", "DramModel", "MAX_BURST_BEATS",
           "LATENCY_CYCLES", "BURST_INCR"]

#: beats per burst the DMA issues at most (AXI4 allows 256 for INCR; 16 keeps AXI3 interconnects happy)
MAX_BURST_BEATS = 16
#: cycles from an accepted read burst to its first beat in `DramModel`
LATENCY_CYCLES = 1
BURST_INCR = 0b01


def axi4_signature(addr_bits: int, data_bytes: int) -> wiring.Signature:
    """An AXI4 master port: ``data_bytes`` wide data, byte addresses of ``addr_bits``."""
    db = 8 * data_bytes
    return wiring.Signature({
        "awvalid": Out(1), "awready": In(1), "awaddr": Out(addr_bits), "awlen": Out(8), "awsize": Out(3),
        "awburst": Out(2),
        "wvalid": Out(1), "wready": In(1), "wdata": Out(db), "wstrb": Out(data_bytes), "wlast": Out(1),
        "bvalid": In(1), "bready": Out(1), "bresp": In(2),
        "arvalid": Out(1), "arready": In(1), "araddr": Out(addr_bits), "arlen": Out(8), "arsize": Out(3),
        "arburst": Out(2),
        "rvalid": In(1), "rready": Out(1), "rdata": In(db), "rresp": In(2), "rlast": In(1),
    })


def axi_lite_signature(addr_bits: int) -> wiring.Signature:
    """A 32-bit AXI4-Lite master port (a register file takes it flipped, ``In(...)``)."""
    return wiring.Signature({
        "awvalid": Out(1), "awready": In(1), "awaddr": Out(addr_bits),
        "wvalid": Out(1), "wready": In(1), "wdata": Out(32), "wstrb": Out(4),
        "bvalid": In(1), "bready": Out(1), "bresp": In(2),
        "arvalid": Out(1), "arready": In(1), "araddr": Out(addr_bits),
        "rvalid": In(1), "rready": Out(1), "rdata": In(32), "rresp": In(2),
    })


def burst_beats(beat_addr, left, data_bytes: int):
    """Beats of the next burst from beat address `beat_addr` with `left` beats to go:
    at most `MAX_BURST_BEATS` and never across a 4 KiB boundary (AXI4 rule).
    Ints give an int; Amaranth values give a value."""
    per_4k = 4096 // data_bytes
    if isinstance(beat_addr, int) and isinstance(left, int):
        return min(left, MAX_BURST_BEATS, per_4k - beat_addr % per_4k)
    edge = per_4k - beat_addr[:per_4k.bit_length() - 1] if per_4k > 1 else 1
    cap = Mux(left < MAX_BURST_BEATS, left, MAX_BURST_BEATS)
    return Mux(cap < edge, cap, edge)


class DramModel(wiring.Component):
    """`depth` beats of ``8 * data_bytes`` bits at byte address 0, behind an AXI4 slave port `axi`.

    `mem_data` lets a testbench fill and read the memory directly; `read_beats` counts the
    read beats served (a testbench's measure of the DRAM bytes read).
    """

    def __init__(self, data_bytes: int, depth: int, addr_bits: int = 32):
        self.data_bytes, self.depth = data_bytes, depth
        self.mem_data = MemoryData(shape=8 * data_bytes, depth=depth, init=[])
        super().__init__({"axi": In(axi4_signature(addr_bits, data_bytes))})
        self.read_beats = Signal(32)

    def _channel(self, m, fire_a, a_addr, a_len, fire_beat, prefix):
        """Active burst + one-entry queue of one direction; returns (active, beat address, beats left)."""
        aw = max(1, (self.depth - 1).bit_length())
        act, addr, left = Signal(name=f"{prefix}_act"), Signal(aw, name=f"{prefix}_addr"), Signal(8, name=f"{prefix}_left")
        q_v, q_addr, q_len = Signal(name=f"{prefix}_qv"), Signal(aw, name=f"{prefix}_qaddr"), Signal(8, name=f"{prefix}_qlen")
        beat_of = a_addr >> (self.data_bytes.bit_length() - 1)
        free = ~act | (fire_beat & (left == 0))
        with m.If(free):
            with m.If(q_v):
                m.d.sync += [act.eq(1), addr.eq(q_addr), left.eq(q_len), q_v.eq(0)]
            with m.Elif(fire_a):
                m.d.sync += [act.eq(1), addr.eq(beat_of), left.eq(a_len)]
            with m.Else():
                m.d.sync += act.eq(0)
        with m.Else():
            with m.If(fire_beat):
                m.d.sync += [addr.eq(addr + 1), left.eq(left - 1)]
            with m.If(fire_a):
                m.d.sync += [q_v.eq(1), q_addr.eq(beat_of), q_len.eq(a_len)]
        return act, addr, left, q_v

    def elaborate(self, platform):
        m, a = Module(), self.axi
        m.submodules.mem = mem = Memory(data=self.mem_data)
        rp = mem.read_port(domain="comb")
        wp = mem.write_port()
        r_fire = a.rvalid & a.rready
        w_fire = a.wvalid & a.wready
        ar_fire, aw_fire = a.arvalid & a.arready, a.awvalid & a.awready
        r_act, r_addr, r_left, r_q = self._channel(m, ar_fire, a.araddr, a.arlen, r_fire, "rd")
        w_act, w_addr, w_left, w_q = self._channel(m, aw_fire, a.awaddr, a.awlen, w_fire, "wr")
        m.d.comb += [a.arready.eq(~r_q), a.awready.eq(~w_q),
                     rp.addr.eq(r_addr), a.rdata.eq(rp.data), a.rvalid.eq(r_act), a.rlast.eq(r_left == 0),
                     a.rresp.eq(0),
                     # one beat per cycle in all: a write beat only when no read beat is offered
                     a.wready.eq(w_act & ~r_act),
                     wp.addr.eq(w_addr), wp.data.eq(a.wdata), wp.en.eq(w_fire)]
        m.d.sync += self.read_beats.eq(self.read_beats + r_fire)
        b_pending = Signal(8)
        b_fire = a.bvalid & a.bready
        m.d.sync += b_pending.eq(b_pending + (w_fire & (w_left == 0)) - b_fire)
        m.d.comb += [a.bvalid.eq(b_pending != 0), a.bresp.eq(0)]
        return m
