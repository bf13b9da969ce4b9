"""On-chip memories: the scratchpad banks and the accumulator.

`Scratchpad`: one bank of operand vectors (a word = `lanes` operands, lane
``i`` in bits ``[i*op_bits, (i+1)*op_bits)``), written by the host, read by
the controller (synchronous, one cycle latency).

`Accumulator`: one bank of ``acc_bits`` partial sums per mesh column, so a
word address across all banks is one *row* of `cols` results. Column ``j``
is driven by a control chain: stage 0 comes from the controller, stage
``j`` is stage ``j-1`` one cycle later (matching the mesh's column skew)
and only while ``j`` is below the fold's used columns. A valid stage
read-modify-writes its bank: read at cycle ``e``, write
``(overwrite ? 0 : old) + bus[j]`` at cycle ``e+1`` (wrapping at ``acc_bits``).
The read port is transparent to the write port, so a stage that reads a
row in the cycle it is written (back-to-back folds on the same rows, one
cycle apart) gets the new value: the read-modify-write never loses a sum.
While the array is idle the host owns the banks: it reads a row (one cycle
latency) and may write one (to reload partial sums). A row leaves two ways:
``host_rdata``, the raw ``acc_bits`` partial sums (to spill and reload), and
``host_qdata``, the same row requantized on the read-out path to
``out_bits`` (`requantize`: arithmetic shift right by ``shift``, saturate), what
a finished output tile sends to DRAM.
"""
from __future__ import annotations

from amaranth.hdl import Cat, MemoryData, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from .params import RtlParams

__all__ = ["Scratchpad", "Accumulator", "requantize"]


def requantize(m: Module, x, shift, out_bits: int, name: str) -> Signal:
    """``clip(x >> shift)`` to signed `out_bits` (arithmetic shift, saturate), the streaming
    engines' requantization; `x` signed, `shift` a signal. The numpy twin is `sim.requantize`."""
    t = Signal(x.shape(), name=f"{name}_shifted")
    y = Signal(signed(out_bits), name=name)
    lo, hi = -(1 << (out_bits - 1)), (1 << (out_bits - 1)) - 1
    m.d.comb += [t.eq(x >> shift), y.eq(Mux(t > hi, hi, Mux(t < lo, lo, t)))]
    return y


class Scratchpad(wiring.Component):
    """A bank of `depth` words of `lanes` signed operands.

    `mem_data` (a MemoryData) lets a simulation testbench read or write rows directly.
    """

    def __init__(self, lanes: int, op_bits: int, depth: int):
        self.lanes, self.op_bits, self.depth = lanes, op_bits, depth
        self.mem_data = MemoryData(shape=unsigned(lanes * op_bits), depth=depth, init=[])
        aw = max(1, (depth - 1).bit_length())
        super().__init__({
            "w_en": In(1), "w_addr": In(aw), "w_data": In(unsigned(lanes * op_bits)),
            "r_en": In(1), "r_addr": In(aw), "r_data": Out(data.ArrayLayout(signed(op_bits), lanes)),
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.mem = mem = Memory(data=self.mem_data)
        wp, rp = mem.write_port(), mem.read_port()
        m.d.comb += [wp.en.eq(self.w_en), wp.addr.eq(self.w_addr), wp.data.eq(self.w_data),
                     rp.en.eq(self.r_en), rp.addr.eq(self.r_addr), self.r_data.eq(rp.data)]
        return m


class Accumulator(wiring.Component):
    """`cols` accumulator banks with the column control chain and the host port."""

    def __init__(self, p: RtlParams):
        self.p = p
        aw = p.acc_addr_bits
        self.banks = [MemoryData(shape=signed(p.acc_bits), depth=p.acc_depth, init=[])
                      for j in range(p.cols)]
        super().__init__({
            # stage 0 of the column chain (from the controller's output generator)
            "valid": In(1), "addr": In(aw), "overwrite": In(1),
            "used_cols": In(unsigned(p.cols.bit_length())),
            "bus": In(data.ArrayLayout(signed(p.acc_bits), p.cols)),
            # host port, used while `busy` is low
            "busy": In(1), "host_addr": In(aw), "host_we": In(1),
            "host_wdata": In(unsigned(p.cols * p.acc_bits)),
            "host_rdata": Out(unsigned(p.cols * p.acc_bits)),
            "shift": In(unsigned(p.shift_bits)), "host_qdata": Out(unsigned(p.cols * p.out_bits)),
        })

    def elaborate(self, platform):
        p, m = self.p, Module()
        C = p.cols
        stage = [(self.valid, self.addr, self.overwrite, self.used_cols)]
        for j in range(1, C):
            v, a, o, n = stage[-1]
            nxt = (Signal(name=f"valid_c{j}"), Signal.like(a, name=f"addr_c{j}"),
                   Signal(name=f"ovw_c{j}"), Signal.like(n, name=f"cols_c{j}"))
            m.d.sync += [nxt[0].eq(v & (n > j)), nxt[1].eq(a), nxt[2].eq(o), nxt[3].eq(n)]
            stage.append(nxt)
        rdata = []
        #: per column, the chain stage's valid (its read) and the write stage's (its write): for monitors
        self.read_valid, self.write_valid = [st[0] for st in stage], []
        for j in range(C):
            v, a, o, _ = stage[j]
            m.submodules[f"bank{j}"] = mem = Memory(data=self.banks[j])
            wp = mem.write_port()
            rp = mem.read_port(transparent_for=(wp,))
            wv, wa = Signal(name=f"wv_c{j}"), Signal.like(a, name=f"wa_c{j}")
            wo, wd = Signal(name=f"wo_c{j}"), Signal(signed(p.acc_bits), name=f"wd_c{j}")
            m.d.sync += [wv.eq(v), wa.eq(a), wo.eq(o), wd.eq(self.bus[j])]
            self.write_valid.append(wv)
            host_word = self.host_wdata[j * p.acc_bits:(j + 1) * p.acc_bits]
            m.d.comb += [
                rp.en.eq(1), rp.addr.eq(Mux(self.busy, a, self.host_addr)),
                wp.en.eq(wv | (~self.busy & self.host_we)),
                wp.addr.eq(Mux(wv, wa, self.host_addr)),
                wp.data.eq(Mux(wv, Mux(wo, 0, rp.data) + wd, host_word)),
            ]
            rdata.append(rp.data)
        qdata = [requantize(m, d, self.shift, p.out_bits, f"q_c{j}") for j, d in enumerate(rdata)]
        m.d.comb += [self.host_rdata.eq(Cat(*rdata)), self.host_qdata.eq(Cat(*qdata))]
        return m
