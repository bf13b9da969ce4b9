"""The pipeline's top: its engines chained as the network graph says, with a FIFO per edge.

Every edge (producer, consumer, port) is a `lib.fifo.SyncFIFO` (first-word fall-through)
of the depth the model computed (`pipeline`: the smallest depth at which no engine
stalls at the II). A producer with several consumers (a fork) writes its token into all
their FIFOs in the same cycle, when every one has room (`timing`). The source engine
reads the top's input stream ``i``; the graph's output engine drives ``o``. ``wl`` (when
the pipeline has MAC engines) loads weights: word address ``addr`` of one address space
with the MAC engines' weight memories in pipeline order (`weight_bases`), word ``data``
(an engine takes its low PE x SIMD x op_bits bits).
"""
from __future__ import annotations

from amaranth.hdl import Cat, Module, Signal, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.fifo import SyncFIFO
from amaranth.lib.wiring import In, Out

from .engine import EngineUnit

__all__ = ["StreamingTop", "top_signature", "OneEntryFIFO", "weight_bases"]


class OneEntryFIFO(wiring.Component):
    """A depth-1 FIFO with `SyncFIFO`'s ports and behaviour (SyncFIFO's depth-1 memory has a
    0-bit address, which Verilator -Wall rejects): writable when empty, readable the next cycle."""

    def __init__(self, width: int):
        self.width, self.depth = width, 1
        super().__init__({"w_data": In(width), "w_en": In(1), "w_rdy": Out(1),
                          "r_data": Out(width), "r_en": In(1), "r_rdy": Out(1)})

    def elaborate(self, platform):
        m = Module()
        full = Signal()
        m.d.comb += [self.w_rdy.eq(~full), self.r_rdy.eq(full)]
        with m.If(self.w_en & ~full):
            m.d.sync += [self.r_data.eq(self.w_data), full.eq(1)]
        with m.If(self.r_en & full):
            m.d.sync += full.eq(0)
        return m


def weight_bases(plan) -> dict:
    """MAC engine name -> (first word address on ``wl``, words, word bits) (module docstring)."""
    out, base = {}, 0
    for e in plan.engines:
        if e.kind in ("mvau", "vvau"):
            n = (e.mh // e.pe) * (e.mw // e.simd)
            out[e.name] = (base, n, e.pe * e.simd * plan.op_bits)
            base += n
    return out


def top_signature(plan) -> wiring.Signature:
    """``i``: the input stream (one token per transfer), ``o``: the output stream, ``wl``: weight load."""
    src = next(e for e in plan.engines if e.kind == "input")
    out = plan.engine(plan.output)
    ports = {"i": In(stream.Signature(src.c_out * plan.op_bits)), "o": Out(stream.Signature(out.c_out * plan.op_bits))}
    bases = weight_bases(plan)
    if bases:
        total = sum(n for _, n, _ in bases.values())
        layout = data.StructLayout({"addr": unsigned(max(1, (total - 1).bit_length())),
                                    "data": unsigned(max(w for _, _, w in bases.values()))})
        ports["wl"] = In(stream.Signature(layout))
    return wiring.Signature(ports)


class StreamingTop(wiring.Component):
    """The pipeline of `plan` (`plan.RtlPlan`) with `weights` (engine name -> int matrix) in its memories.
    `depth` overrides FIFO depths by (producer, consumer, port) (tests)."""

    def __init__(self, plan, weights: dict, depth: dict | None = None):
        self.plan, self.weights = plan, weights
        self.depth = {**plan.fifo_depth, **(depth or {})}
        self.units = {e.name: EngineUnit(e, plan.op_bits, plan.acc_bits, plan.ii_cycles, weights.get(e.name))
                      for e in plan.engines}
        super().__init__(top_signature(plan))

    def elaborate(self, platform):
        m = Module()
        plan = self.plan
        for name, u in self.units.items():
            m.submodules[name.replace("#", "_")] = u
        if "wl" in self.signature.members:
            m.d.comb += self.wl.ready.eq(1)
        for name, (base, n, width) in weight_bases(plan).items():
            wl, a = self.units[name].wl, self.wl.payload.addr
            hit = [a >= base] if base else []                # no constant compares (Verilator -Wall)
            hit += [a < base + n] if base + n < 1 << len(a) else []
            m.d.comb += [wl.valid.eq(Cat(self.wl.valid, *hit).all()),
                         wl.payload.addr.eq(a - base), wl.payload.data.eq(self.wl.payload.data[:width])]
        for e in plan.engines:
            u = self.units[e.name]
            if e.kind == "input":
                wiring.connect(m, wiring.flipped(self.i), u.i0)
            cons = plan.consumers(e.name)
            if e.name == plan.output:
                wiring.connect(m, u.o, wiring.flipped(self.o))
                continue
            fifos = []
            for dst, port in cons:
                n = self.depth[(e.name, dst, port)]
                f = OneEntryFIFO(len(u.o.payload)) if n == 1 else SyncFIFO(width=len(u.o.payload), depth=n)
                m.submodules[f"fifo_{e.name}_{dst}_{port}".replace("#", "_")] = f
                d = getattr(self.units[dst], f"i{port}")
                m.d.comb += [d.valid.eq(f.r_rdy), d.payload.eq(f.r_data), f.r_en.eq(d.ready),
                             f.w_data.eq(u.o.payload)]
                fifos.append(f)
            room = Cat(*(f.w_rdy for f in fifos)).all()
            m.d.comb += u.o.ready.eq(room)
            for f in fifos:
                m.d.comb += f.w_en.eq(u.o.valid & room)
        return m
