"""Run frames through `StreamingTop` in Amaranth's simulator and record every engine's writes.

The testbench keeps the input stream valid with the next token (all frames back to back)
and the output stream ready; at every clock edge it samples each engine's output
handshake, so the result holds, per engine, the cycle of every output token written and
its lanes, plus the cycles an engine held a finished token its FIFOs had no room for.
Cycle t is the interval ending at the (t+1)-th clock edge; the source may start in cycle 0.
"""
from __future__ import annotations

import sys
import time
from dataclasses import dataclass

import numpy as np
from amaranth.sim import Simulator

from .top import StreamingTop

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


def run_frames(plan, weights: dict, frames: np.ndarray, max_cycles: int, depth: dict | None = None,
               vcd: str | None = None) -> SimRun:
    """Simulate `frames` (F, T, C) input tokens; stop when the output engine wrote every frame or at `max_cycles`."""
    top = StreamingTop(plan, weights, depth)
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
        sim = Simulator(top)
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
