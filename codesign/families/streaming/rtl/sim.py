"""Run frames through `StreamingTop` in Amaranth's simulator and record every engine's writes.

The testbench keeps the input stream valid with the next token (all frames back to back)
and the output stream ready; at every clock edge it samples each engine's output
handshake, so the result holds, per engine, the cycle of every output token written and
its lanes, plus the cycles an engine held a finished token its FIFOs had no room for.
Cycle t is the interval ending at the (t+1)-th clock edge; the source may start in cycle 0.
With `load`, the testbench first writes those weights through the ``wl`` stream (one word
per cycle, input stream idle), then resets the pipeline for one cycle (memories keep their
contents) and counts cycles from there: the run is the same as with the weights built in.
"""
from __future__ import annotations

import sys
import time
from dataclasses import dataclass

import numpy as np
from amaranth.hdl import ClockDomain, Elaboratable, Module
from amaranth.sim import Simulator

from .datapath import weight_words
from .top import StreamingTop, weight_bases

__all__ = ["SimRun", "run_frames", "pack", "unpack"]


@dataclass(frozen=True)
class SimRun:
    """Per engine: write cycles, output tokens (F*jobs, c_out) and stall cycles; cycles and seconds simulated."""

    writes: dict
    tokens: dict
    stalls: dict
    cycles: int
    seconds: float
    finished: bool


def pack(lanes, bits: int) -> int:
    mask = (1 << bits) - 1
    return sum((int(v) & mask) << (k * bits) for k, v in enumerate(lanes))


def unpack(word: int, n: int, bits: int) -> list[int]:
    half, mask = 1 << (bits - 1), (1 << bits) - 1
    return [(((word >> (k * bits)) & mask) ^ half) - half for k in range(n)]


class _Bench(Elaboratable):
    """The top in an explicit sync domain whose reset the testbench drives."""

    def __init__(self, top):
        self.top, self.cd = top, ClockDomain("sync")

    def elaborate(self, platform):
        m = Module()
        m.domains.sync = self.cd
        m.submodules.top = self.top
        return m


def load_words(plan, load: dict) -> list[tuple[int, int]]:
    """(``wl`` address, word) of every weight word of `load` (engine name -> MH x MW matrix)."""
    bases = weight_bases(plan)
    return [(bases[n][0] + k, w) for n, mat in load.items()
            for k, w in enumerate(weight_words(plan.engine(n), mat, plan.op_bits))]


def run_frames(plan, weights: dict, frames: np.ndarray, max_cycles: int, depth: dict | None = None,
               vcd: str | None = None, load: dict | None = None) -> SimRun:
    """Simulate `frames` (F, T, C) input tokens; stop when the output engine wrote every frame or at `max_cycles`.
    `weights`: built into the memories; `load`: weights written through ``wl`` first (module docstring)."""
    top = StreamingTop(plan, weights, depth)
    wrap = _Bench(top)
    loads = load_words(plan, load) if load else []
    bits = plan.op_bits
    words = [pack(tok, bits) for fr in frames for tok in fr]
    names = [e.name for e in plan.engines]
    units = [top.units[n] for n in names]
    out_engine = plan.engine(plan.output)
    total = len(frames) * out_engine.jobs
    rec = {"writes": {n: [] for n in names}, "words": {n: [] for n in names}, "stalls": dict.fromkeys(names, 0),
           "cycles": 0, "done": False}
    probes = []
    for u in units:
        probes += [u.o.valid & u.o.ready, u.o.payload, u.stall]
    probes += [top.i.ready]

    async def bench(ctx):
        k = 0
        for addr, word in loads:
            ctx.set(top.wl.valid, 1)
            ctx.set(top.wl.payload.addr, addr)
            ctx.set(top.wl.payload.data, word)
            await ctx.tick()
        if loads:
            ctx.set(top.wl.valid, 0)
            ctx.set(wrap.cd.rst, 1)
            await ctx.tick()
            ctx.set(wrap.cd.rst, 0)
        ctx.set(top.o.ready, 1)
        if words:
            ctx.set(top.i.valid, 1)
            ctx.set(top.i.payload, words[0])
        t = 0
        async for _, _, *vals in ctx.tick().sample(*probes):
            for i, n in enumerate(names):
                if vals[3 * i]:
                    rec["writes"][n].append(t)
                    rec["words"][n].append(vals[3 * i + 1])
                rec["stalls"][n] += vals[3 * i + 2]
            if vals[-1]:
                k += 1
                ctx.set(top.i.valid, int(k < len(words)))
                if k < len(words):
                    ctx.set(top.i.payload, words[k])
            t += 1
            if len(rec["writes"][plan.output]) >= total or t >= max_cycles:
                rec["cycles"], rec["done"] = t, len(rec["writes"][plan.output]) >= total
                return

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 20000))   # pysim compiles a token of hundreds of lanes into one deep
    try:                                        # expression (TFC's 784-lane input overflows the default 1000)
        sim = Simulator(wrap)
    finally:
        sys.setrecursionlimit(limit)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    t0 = time.perf_counter()
    if vcd:
        with sim.write_vcd(vcd):
            sim.run()
    else:
        sim.run()
    tokens = {n: np.array([unpack(w, plan.engine(n).c_out, bits) for w in rec["words"][n]], np.int64)
              for n in names}
    return SimRun(rec["writes"], tokens, rec["stalls"], rec["cycles"], time.perf_counter() - t0, rec["done"])
