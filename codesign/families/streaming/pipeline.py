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

`evaluate_batch` costs B foldings at once (joint mode's batches): every figure an array with one
entry per folding, the schedules of all B computed together (`timing.schedule_batch`, in chunks
of at most CHUNK_BYTES); `evaluate` is its one-folding view.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .arch import StreamingArch, tech_of
from .cost import Options, ii_share
from .engines import Pipeline
from . import finn
from .timing import schedule_batch

__all__ = ["PipelineCost", "BatchCost", "evaluate", "evaluate_batch", "edges", "fifo_resources", "fifo_access_pj",
           "MAX_SRL_DEPTH", "FINN_FIFO_DEPTH"]

MAX_SRL_DEPTH = 256      # FINN set_fifo_depths.py:161 (max_qsrl_depth default)
FINN_FIFO_DEPTH = 2      # FINN insert_fifo.py:140 (FIFOs of depth <= 2 are not inserted)
CHUNK_BYTES = 64 << 20   # the schedules of a batch are computed in chunks of about this many bytes
MAX_FRAMES = 48          # frames scheduled (at least) before giving up on a periodic regime


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


@dataclass(frozen=True, eq=False)
class BatchCost:
    """B foldings costed: the fields of `PipelineCost`, each an array of B entries
    (dicts of arrays per engine or edge; `bottleneck` a list of names)."""

    ii_cycles: np.ndarray
    latency_cycles: np.ndarray
    fill_cycles: np.ndarray
    frames: int
    cycles: dict
    choice: dict
    fifo_depth: dict
    fifo_lut: np.ndarray
    fifo_bram18: np.ndarray
    fifo_energy_pj: np.ndarray
    fifo_bytes: np.ndarray
    bottleneck: list
    periodic: np.ndarray
    dram_cycles: np.ndarray

    def row(self, b: int) -> PipelineCost:
        """The `PipelineCost` of folding `b`."""
        one = lambda d: {k: int(v[b]) for k, v in d.items()}  # noqa: E731
        return PipelineCost(int(self.ii_cycles[b]), int(self.latency_cycles[b]), int(self.fill_cycles[b]),
                            self.frames, one(self.cycles), one(self.choice), one(self.fifo_depth),
                            int(self.fifo_lut[b]), int(self.fifo_bram18[b]), float(self.fifo_energy_pj[b]),
                            float(self.fifo_bytes[b]), self.bottleneck[b], bool(self.periodic[b]),
                            int(self.dram_cycles[b]))


def edges(pipe: Pipeline) -> list[tuple[str, str, int]]:
    """Every FIFO: (producer, consumer, input port)."""
    return [(s, e.name, p) for e in pipe.engines for p, s in enumerate(e.inputs)]


def _ii(pipe, opts, idx, arch):
    names = [e.name for e in pipe.engines]
    cyc = np.stack([ii_share(opts[n], arch.timing)[idx[n]] for n in names])          # (engines, B)
    total = sum(opts[e.name].dram_bytes[idx[e.name]] for e in pipe.engines
                if arch.timing == "rtl" or e.kind != "input")
    dram = np.ceil(np.asarray(total, float) / arch.dram_bw_bytes).astype(np.int64) * np.ones(cyc.shape[1], np.int64)
    top = cyc.argmax(axis=0)
    slow = cyc[top, np.arange(cyc.shape[1])]
    ii = np.maximum(np.maximum(slow, dram), 1)
    return ii, ["DRAM" if d > c else names[t] for d, c, t in zip(dram, slow, top)], dram


def _periodic(pipe, sch, ii, k) -> np.ndarray:
    ok = np.ones(len(ii), bool)
    for e in pipe.engines:
        s = sch.start[e.name]
        a, b = s[:, (k - 2) * e.jobs:(k - 1) * e.jobs], s[:, (k - 1) * e.jobs:k * e.jobs]
        ok &= np.all(b - a == ii[:, None], axis=1)
    return ok


def _last_write(pipe, sch, f) -> np.ndarray:
    return np.max([sch.write[o][:, (f + 1) * pipe.engine(o).jobs - 1] for o in pipe.outputs], axis=0)


def _depth(w, p) -> np.ndarray:
    """Per row: max over writes k of (k + 1 - pops before write(k)), at least 1 (both rows ascending)."""
    rows = len(w)
    if rows == 1:
        return np.maximum(1, np.max(np.arange(1, w.shape[1] + 1) - np.searchsorted(p[0], w[0]), keepdims=True))
    span = max(int(w.max(initial=0)), int(p.max(initial=0))) + 2
    off = np.arange(rows, dtype=np.int64)[:, None] * span
    before = np.searchsorted((p + off).ravel(), (w + off).ravel()).reshape(w.shape) - np.arange(rows)[:, None] * p.shape[1]
    return np.maximum(1, np.max(np.arange(1, w.shape[1] + 1) - before, axis=1))


def _chunks(pipe, rows, frames):
    per_row = 8 * 3 * frames * sum(e.jobs + e.tokens_in * len(e.inputs) for e in pipe.engines)
    size = max(1, CHUNK_BYTES // max(per_row, 1))
    return [rows[i:i + size] for i in range(0, len(rows), size)]


def _rtl(pipe, jc, ii, frames):
    """Fill, batch latency, FIFO depths and periodicity of every row (module docstring)."""
    rows = len(ii)
    fill, lat, per = np.zeros(rows, np.int64), np.zeros(rows, np.int64), np.zeros(rows, bool)
    depth = {edge: np.zeros(rows, np.int64) for edge in edges(pipe)}
    todo, k = np.arange(rows), 2        # frame 1 = frame 0 shifted by II already proves the regime periodic
    while len(todo):
        later = []
        for part in _chunks(pipe, todo, k + 1):
            sch = schedule_batch(pipe, {n: c[part] for n, c in jc.items()}, ii[part], k + 1)
            p = _periodic(pipe, sch, ii[part], k)
            if k < MAX_FRAMES and not p.all():
                later.append(part[~p])
                keep = np.nonzero(p)[0]
                if not len(keep):
                    continue
                sch = type(sch)(sch.frames, *({n: v[keep] for n, v in d.items()} for d in (sch.start, sch.write, sch.pop)),
                                sch.job_cycles)
                part, p = part[keep], p[keep]
            for (src, dst, port) in depth:
                depth[(src, dst, port)][part] = _depth(sch.write[src][:, : k * pipe.engine(src).jobs],
                                                       sch.pop[(dst, port)])
            fill[part], per[part] = _last_write(pipe, sch, 0) + 1, p
            if frames <= k:
                lat[part] = _last_write(pipe, sch, frames - 1) + 1
            else:
                lat[part] = np.where(p, _last_write(pipe, sch, k - 1) + 1 + (frames - k) * ii[part], 0)
                for b in np.nonzero(~p)[0]:        # never periodic within MAX_FRAMES: schedule the whole batch
                    one = schedule_batch(pipe, {n: c[part[b:b + 1]] for n, c in jc.items()}, ii[part[b:b + 1]], frames)
                    lat[part[b]] = _last_write(pipe, one, frames - 1)[0] + 1
        todo, k = (np.concatenate(later) if later else np.zeros(0, np.int64)), k * 2
    return fill, lat, depth, per


def _finn(pipe, opts, idx, ii, frames):
    stages, inputs = {}, {}
    for e in pipe.engines:
        o, i = opts[e.name], idx[e.name]
        src = tuple(s + ".fork" if len(pipe.consumers(s)) > 1 else s for s in e.inputs)
        if o.pad_cycles:                       # FMPadding (fmpadding.py:75-81) before the window unit
            stages[e.name + ".pad"], inputs[e.name + ".pad"] = o.pad_cycles, src
            src = (e.name + ".pad",)
        if o.swu_cycles is not None:
            stages[e.name + ".swu"], inputs[e.name + ".swu"] = o.swu_cycles[i], src
            src = (e.name + ".swu",)
        stages[e.name], inputs[e.name] = o.cycles[i], src
        if len(pipe.consumers(e.name)) > 1:    # DuplicateStreams (duplicatestreams.py:142-144)
            stages[e.name + ".fork"], inputs[e.name + ".fork"] = e.jobs, (e.name,)
    fill = np.broadcast_to(finn.critical_path_cycles(stages, inputs), ii.shape).astype(np.int64)
    depth = {edge: np.full(len(ii), FINN_FIFO_DEPTH, np.int64) for edge in edges(pipe)}
    return fill, fill + (frames - 1) * ii, depth, np.ones(len(ii), bool)


def fifo_resources(depth, width):
    """(LUT, BRAM18) of FIFOs of `depth` entries of `width` bits (arrays): SRL up to MAX_SRL_DEPTH, else block RAM."""
    srl = np.asarray(depth) <= MAX_SRL_DEPTH
    if srl.all():
        return finn.fifo_lut(depth, width, "rtl").astype(np.int64), np.zeros(np.shape(depth), np.int64)
    lut = np.where(srl, finn.fifo_lut(depth, width, "rtl"), finn.fifo_lut(depth, width, "vivado"))
    return lut.astype(np.int64), np.where(srl, 0, finn.fifo_bram(depth, width, "vivado")).astype(np.int64)


def fifo_access_pj(t, depth, size_bytes, bits: int):
    """Energy of one FIFO access: a register's for an SRL FIFO, else an SRAM's of the FIFO's size."""
    srl = np.asarray(depth) <= MAX_SRL_DEPTH
    if srl.all():
        return np.full(np.shape(depth), t.reg_pj(bits))
    return np.where(srl, t.reg_pj(bits), t.sram_pj(size_bytes, bits))


def evaluate_batch(pipe: Pipeline, opts: dict[str, Options], idx: dict[str, np.ndarray], arch: StreamingArch,
                   frames: int | None = None) -> BatchCost:
    """Cost B foldings of `pipe` (`idx[engine]`: option indices, shape (B,)) for a batch of `frames`."""
    frames = frames or pipe.frames
    idx = {e.name: np.asarray(idx[e.name], np.int64).reshape(-1) for e in pipe.engines}
    ii, bottleneck, dram = _ii(pipe, opts, idx, arch)
    cyc = {e.name: opts[e.name].cycles[idx[e.name]] for e in pipe.engines}
    if arch.timing == "rtl":
        fill, lat, depth, per = _rtl(pipe, {n: opts[n].job_cycles[i] for n, i in idx.items()}, ii, frames)
    else:
        fill, lat, depth, per = _finn(pipe, opts, idx, ii, frames)
    t = tech_of(arch)
    lut = bram = energy = nbytes = 0
    for (src, dst, _), d in depth.items():
        e = pipe.engine(src)
        width = e.channels_out * arch.op_bits
        l, b = fifo_resources(d, width)
        lut, bram = lut + l, bram + b
        size = d * width / 8
        per_access = fifo_access_pj(t, d, size, arch.op_bits)
        energy = energy + 2 * e.jobs * e.channels_out * per_access
        nbytes = nbytes + size
    z = np.zeros(len(ii))
    return BatchCost(ii, lat, fill, frames, cyc, idx, depth, (lut + z).astype(np.int64), (bram + z).astype(np.int64),
                     energy + z, nbytes + z, bottleneck, per, dram)


def evaluate(pipe: Pipeline, opts: dict[str, Options], choice: dict[str, int], arch: StreamingArch,
             frames: int | None = None) -> PipelineCost:
    """Cost the folding `choice` (option index per engine) of `pipe` for a batch of `frames` (default: the pipeline's)."""
    return evaluate_batch(pipe, opts, {n: [i] for n, i in choice.items()}, arch, frames).row(0)
