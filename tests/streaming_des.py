"""A cycle-stepped, token-level simulation of the streaming ``rtl`` microarchitecture
(codesign/families/streaming/timing.py docstring) with finite FIFOs and back-pressure:
the reference the closed-form schedule, II, latency and FIFO depths are checked against.

It steps one cycle at a time and keeps explicit state per engine (jobs started, the
output register, pops per input) and per FIFO (write and read cycles); it shares no
code with the model beyond the pipeline's description (engines, need arrays).
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class _Fifo:
    depth: int
    writes: list = field(default_factory=list)
    reads: list = field(default_factory=list)

    def level_before(self, t):          # tokens in the FIFO at the start of cycle t
        return sum(1 for w in self.writes if w < t) - len([r for r in self.reads if r < t])

    def readable(self, t):
        return sum(1 for w in self.writes if w < t) > len(self.reads)


def simulate(pipe, job_cycles: dict, ii: int, frames: int, depth: dict, max_cycles: int = 10**6):
    """Run `frames` frames; returns (writes per engine, stalls per engine, pops per (engine, port)).
    `depth[(producer, consumer, port)]` sizes each FIFO."""
    fifos = {key: _Fifo(d) for key, d in depth.items()}
    outs = {e.name: [k for k in fifos if k[0] == e.name] for e in pipe.engines}
    ins = {e.name: [(src, e.name, p) for p, src in enumerate(e.inputs)] for e in pipe.engines}
    st = {e.name: {"started": 0, "busy": 0, "pending": None, "popped": [0] * len(e.inputs), "popc": [[] for _ in e.inputs]}
          for e in pipe.engines}
    writes = {e.name: [] for e in pipe.engines}
    stalls = {e.name: 0 for e in pipe.engines}
    total = {e.name: e.jobs * frames for e in pipe.engines}

    def need(e, j):
        f, r = divmod(j, e.jobs)
        return int(e.need[r]) + f * e.tokens_in

    t = 0
    while any(len(writes[o]) < total[o] for o in pipe.outputs):
        for e in pipe.engines:
            s = st[e.name]
            if s["pending"] is not None and s["pending"] <= t:
                if all(fifos[k].level_before(t) < fifos[k].depth for k in outs[e.name]):
                    for k in outs[e.name]:
                        fifos[k].writes.append(t)
                    writes[e.name].append(t)
                    s["pending"] = None
                else:
                    stalls[e.name] += 1
            j = s["started"]
            if s["pending"] is None and j < total[e.name] and t >= s["busy"]:
                ok = all(sum(1 for c in s["popc"][p] if c < t) >= need(e, j) for p in range(len(e.inputs)))
                if e.kind == "input" and j % e.jobs == 0:
                    ok = ok and t >= (j // e.jobs) * ii
                if ok:
                    c = int(job_cycles[e.name])
                    s["busy"], s["pending"], s["started"] = t + c, t + c, j + 1
            allowed = need(e, min(s["started"], total[e.name] - 1)) if e.inputs else 0
            for p, key in enumerate(ins[e.name]):
                if s["popped"][p] < allowed and fifos[key].readable(t):
                    fifos[key].reads.append(t)
                    s["popped"][p] += 1
                    s["popc"][p].append(t)
        t += 1
        if t > max_cycles:
            raise RuntimeError("simulation did not finish")
    return writes, stalls, {(e.name, p): st[e.name]["popc"][p] for e in pipe.engines for p in range(len(e.inputs))}
