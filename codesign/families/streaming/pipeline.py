"""A folded pipeline as a whole: II, first-frame and batch latency, FIFO depths, totals.

``rtl`` timing: from the engines' token schedules (`timing.schedule`). The II is the
slowest engine's saturated cycles per frame (or the DRAM streams'); the source issues
one frame per II. The batch latency is the cycle after the last output token of frame
F-1 is written; once a frame's schedule is the previous frame's shifted by II (checked,
`periodic`), every later frame is too, so latency(F) = latency(K) + (F-K) II exactly.
The FIFO depth of an edge is the smallest depth at which its producer never finds it
full, i.e. max over writes k of (k + 1 - pops before write(k)) (`timing`'s FIFO rule),
taken over the steady state (frames 0..K-1 of a run that goes on); one entry less and
the producer stalls at that write.

``finn`` timing: II = max of FINN's node cycles (MVAU/VVAU, sliding-window unit, and the FMPadding
node FINN inserts before a padded conv: convert_to_hw_layers.py:86-119), latency = FINN's critical path
(+ (F-1) II for a batch); FIFOs at FINN's pre-sizing depth 2 (insert_fifo.py:140).

FIFO resources (our choice, after FINN's set_fifo_depths.py:421-425 with max_qsrl_depth
256): depth <= 256 an SRL FIFO (StreamingFIFO.lut_estimation, impl rtl), deeper ones in
block RAM (StreamingFIFO.bram_estimation); FINN itself would count a vivado FIFO with
ram_style auto as 0 BRAM.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .arch import StreamingArch, tech_of
from .cost import Options, ii_share
from .engines import Pipeline
from . import finn
from .timing import schedule

__all__ = ["PipelineCost", "evaluate", "FifoCheck", "fifo_floor", "MAX_SRL_DEPTH", "FINN_FIFO_DEPTH"]

MAX_SRL_DEPTH = 256      # FINN set_fifo_depths.py:161 (max_qsrl_depth default)
FINN_FIFO_DEPTH = 2      # FINN insert_fifo.py:140 (FIFOs of depth <= 2 are not inserted)


@dataclass(frozen=True, eq=False)
class PipelineCost:
    """One folding of a pipeline, costed (module docstring). Per-engine dicts by engine name;
    `fifo_depth[(producer, consumer, port)]`."""

    ii_cycles: int
    latency_cycles: int
    fill_cycles: int
    frames: int
    cycles: dict
    choice: dict
    fifo_depth: dict
    fifo_lut: int
    fifo_bram18: int
    fifo_energy_pj: float
    fifo_bytes: float
    bottleneck: str
    periodic: bool
    dram_cycles: int


def _dram_cycles(pipe, opts, choice, arch) -> int:
    total = sum(float(opts[e.name].dram_bytes[choice[e.name]]) for e in pipe.engines
                if arch.timing == "rtl" or e.kind != "input")
    return math.ceil(total / arch.dram_bw_bytes) if total else 0


def _ii(pipe, opts, choice, arch):
    cyc = {}
    for e in pipe.engines:
        o, i = opts[e.name], choice[e.name]
        cyc[e.name] = int(ii_share(o, arch.timing)[i])
    dram = _dram_cycles(pipe, opts, choice, arch)
    name = max(cyc, key=cyc.get)
    ii = max(cyc[name], dram, 1)
    return ii, ("DRAM" if dram > cyc[name] else name), dram


def _periodic(pipe, sch, ii, k) -> bool:
    for e in pipe.engines:
        s = sch.start[e.name]
        a, b = s[(k - 2) * e.jobs:(k - 1) * e.jobs], s[(k - 1) * e.jobs:k * e.jobs]
        if not np.array_equal(b - a, np.full(e.jobs, ii)):
            return False
    return True


def _last_write(pipe, sch, f) -> int:
    return max(int(sch.write[o][(f + 1) * pipe.engine(o).jobs - 1]) for o in pipe.outputs)


def _rtl(pipe, opts, choice, ii, frames):
    jc = {e.name: int(opts[e.name].job_cycles[choice[e.name]]) for e in pipe.engines}
    k = 3
    while True:
        sch = schedule(pipe, jc, ii, k + 1)
        per = _periodic(pipe, sch, ii, k)
        if per or k >= 48:
            break
        k *= 2
    depth = {}
    for e in pipe.engines:
        for port, src in enumerate(e.inputs):
            w = sch.write[src][: k * pipe.engine(src).jobs]
            p = sch.pop[(e.name, port)]
            depth[(src, e.name, port)] = max(1, int(np.max(np.arange(1, len(w) + 1) - np.searchsorted(p, w))))
    fill = _last_write(pipe, sch, 0) + 1
    if frames <= k:
        lat = _last_write(pipe, sch, frames - 1) + 1
    elif per:
        lat = _last_write(pipe, sch, k - 1) + 1 + (frames - k) * ii
    else:
        lat = _last_write(pipe, schedule(pipe, jc, ii, frames), frames - 1) + 1
    return fill, lat, depth, per


def _finn(pipe, opts, choice, cyc, ii, frames):
    stages, inputs = {}, {}
    for e in pipe.engines:
        o, i = opts[e.name], choice[e.name]
        src = tuple(s + ".fork" if len(pipe.consumers(s)) > 1 else s for s in e.inputs)
        if o.pad_cycles:                       # FMPadding (fmpadding.py:75-81) before the window unit
            stages[e.name + ".pad"], inputs[e.name + ".pad"] = o.pad_cycles, src
            src = (e.name + ".pad",)
        if o.swu_cycles is not None:
            stages[e.name + ".swu"], inputs[e.name + ".swu"] = int(o.swu_cycles[i]), src
            src = (e.name + ".swu",)
        stages[e.name], inputs[e.name] = int(o.cycles[i]), src
        if len(pipe.consumers(e.name)) > 1:    # DuplicateStreams (duplicatestreams.py:142-144)
            stages[e.name + ".fork"], inputs[e.name + ".fork"] = e.jobs, (e.name,)
    fill = finn.critical_path_cycles(stages, inputs)
    depth = {(s, e.name, p): FINN_FIFO_DEPTH for e in pipe.engines for p, s in enumerate(e.inputs)}
    return fill, fill + (frames - 1) * ii, depth, True


def evaluate(pipe: Pipeline, opts: dict[str, Options], choice: dict[str, int], arch: StreamingArch,
             frames: int | None = None) -> PipelineCost:
    """Cost the folding `choice` (option index per engine) of `pipe` for a batch of `frames` (default: the pipeline's)."""
    frames = frames or pipe.frames
    ii, bottleneck, dram = _ii(pipe, opts, choice, arch)
    cyc = {e.name: int(opts[e.name].cycles[choice[e.name]]) for e in pipe.engines}
    run = _rtl if arch.timing == "rtl" else None
    fill, lat, depth, per = (run(pipe, opts, choice, ii, frames) if run
                             else _finn(pipe, opts, choice, cyc, ii, frames))
    t = tech_of(arch)
    lut = bram = 0
    energy = nbytes = 0.0
    for (src, dst, _), d in depth.items():
        width = pipe.engine(src).channels_out * arch.op_bits
        impl = "rtl" if d <= MAX_SRL_DEPTH else "vivado"
        lut += int(finn.fifo_lut(d, width, impl))
        bram += int(finn.fifo_bram(d, width, impl))
        elems = pipe.engine(src).jobs * pipe.engine(src).channels_out
        size = d * width / 8
        per_access = t.reg_pj(arch.op_bits) if impl == "rtl" else t.sram_pj(size, arch.op_bits)
        energy += 2 * elems * per_access
        nbytes += size
    return PipelineCost(ii, lat, fill, frames, cyc, dict(choice), depth, lut, bram, energy, nbytes, bottleneck,
                        per, dram)


def _edges(pipe):
    return [(s, e.name, p) for e in pipe.engines for p, s in enumerate(e.inputs)]


def fifo_floor(pipe: Pipeline, arch: StreamingArch) -> dict:
    """A lower bound on the FIFOs' LUT and BRAM18 valid for every folding (the solver takes it off the
    budgets first): ``finn`` timing, the FIFOs themselves (depth FINN_FIFO_DEPTH whatever the folding);
    ``rtl``, per edge the fewest LUTs of any depth >= 1 (an SRL FIFO of depth d >= 1 has at least
    ceil(W/2) LUTs, a block-RAM one 2 ceil(log2 d) >= 18 for d > 256: `finn.fifo_lut`) and 0 BRAM18."""
    lut = bram = 0
    for src, _, _ in _edges(pipe):
        w = pipe.engine(src).channels_out * arch.op_bits
        if arch.timing == "finn":
            lut += int(finn.fifo_lut(FINN_FIFO_DEPTH, w, "rtl"))
        else:
            lut += min(int(finn.fifo_lut(1, w, "rtl")), int(finn.fifo_lut(MAX_SRL_DEPTH + 1, w, "vivado")))
    return {"lut": lut, "bram18": bram}


class FifoCheck:
    """The solver's lazy constraint: whether the engines of a folding and their FIFOs (sized from its
    schedule) fit the budgets together. Counts the foldings it rejected; `last`: the FIFO share of the last one it checked."""

    def __init__(self, pipe: Pipeline, opts: dict[str, Options], arch: StreamingArch):
        self.pipe, self.opts, self.arch = pipe, opts, arch
        self.rejected = 0
        self.last: dict | None = None
        self._seen: dict = {}

    def __call__(self, choice: dict[str, int]) -> bool:
        key = tuple(choice.values())
        if key not in self._seen:
            self._seen[key] = (self._fits(choice), self.last)
        good, self.last = self._seen[key]
        return good

    def _fits(self, choice) -> bool:
        pc = evaluate(self.pipe, self.opts, choice, self.arch)
        b = self.arch.budget()
        tot = {"lut": pc.fifo_lut, "dsp": 0, "bram18": pc.fifo_bram18}
        for name, i in choice.items():
            for r in tot:
                tot[r] += int(getattr(self.opts[name], r)[i])
        good = all(tot[r] <= b[r] for r in tot)
        self.rejected += not good
        self.last = {"lut": pc.fifo_lut, "bram18": pc.fifo_bram18}
        return good
