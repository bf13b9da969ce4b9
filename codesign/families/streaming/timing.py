"""Timing of the streaming pipeline: the ``rtl`` microarchitecture (cycle exact) and ``finn``.

``rtl`` -- the contract the Amaranth RTL (issue 10) implements, cycle for cycle
==============================================================================

Cycles are numbered from 0; the source starts frame 0 in cycle 0. Every stream between
two engines is a FIFO with first-word fall-through (Amaranth ``SyncFIFO(fwft=True)``): a
token written in cycle t can be read from cycle t + 1; a write in cycle t needs
``level < depth`` at the start of cycle t (a read in the same cycle does not make room).
A producer with several consumers (a fork) writes the token into every consumer's FIFO
in the same cycle. Every engine is the same state machine:

- it runs *jobs* in order, one per output token (`engines`); job ``j`` of the whole run
  (frames back to back) needs the first ``need_g(j)`` input tokens of every input;
- **pops**: at most one token per input per cycle; token k may be popped in cycle t when
  it is readable (t >= write(k) + 1) and the job that first needs it is the next job to
  start or an earlier one, i.e. job J(k) - 1 has started (t >= start(J(k) - 1)); the
  window buffer prefetches one job ahead and pops as early as these rules allow;
- **start**: job j starts in cycle t when the previous job has finished
  (t >= start(j-1) + c) and all its tokens were popped in cycles before t;
  a source's first job of frame f starts no earlier than f * II (the DMA is throttled
  to one frame per II);
- **compute**: a job lasts c cycles (MVAU: (MH/PE)(MW/SIMD), one PE x SIMD block per
  cycle; VVAU: (C/PE)(k_h k_w/SIMD); pool, add, activation, source: 1); weights in DRAM:
  c >= ceil(weight bytes / dram_bw_bytes); the requantization (shift, clip) is in the
  job's last cycle;
- **write**: the output token of job j is written into the output FIFO(s) in cycle
  start(j) + c; the next job may start in that same cycle.

Closed forms (no loop per token). With n_j the tokens job j pops and
d_j = max(c, n_j): start(j) = max(start(j-1) + d_j, A_j) where
A_j = max over inputs and over the tokens k of job j of (write(k) + 1 + need_g(j) - k)
(the last of them popped one per cycle). This max-plus scan is
``D_j + cummax(A_j - D_j)`` with D the prefix sums of d. Pops: pop(k) - k =
cummax over k of max(write(k) + 1 - k, start(J(k) - 1) - k). An engine whose inputs are
always there runs a frame in sum_j d_j cycles (`cost.saturated_cycles`): the II is the
largest of these (and of the DRAM streams, sum of bytes / bandwidth). The frame latency
and FIFO depths come from the schedule (`pipeline`).

``finn`` -- FINN's estimates
============================
Cycles per node by `finn` (get_exp_cycles), II = the slowest node, latency = FINN's
critical path (sum of the stages along the longest path, dataflow_performance.py:35-78);
FIFO depths are not estimated by FINN (it simulates).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .engines import Pipeline

__all__ = ["Schedule", "schedule", "NEG"]

NEG = np.iinfo(np.int64).min // 4


@dataclass(frozen=True, eq=False)
class Schedule:
    """Cycle of every job start, output write and input pop over `frames` frames
    (jobs of all frames back to back), per engine; pops per input port. From
    `schedule_batch`, every array has a leading axis: one row per candidate folding."""

    frames: int
    start: dict
    write: dict
    pop: dict           # (engine, port) -> pop cycles of its input tokens (all frames)
    job_cycles: dict


def _global_need(e, frames: int) -> np.ndarray:
    return (e.need[None, :] + e.tokens_in * np.arange(frames)[:, None]).ravel()


def schedule(pipe: Pipeline, job_cycles: dict, ii: int, frames: int) -> Schedule:
    """The ``rtl`` schedule (module docstring) of `frames` frames with the source throttled to `ii`."""
    b = schedule_batch(pipe, {k: np.array([v]) for k, v in job_cycles.items()}, np.array([ii]), frames)
    return Schedule(frames, {k: v[0] for k, v in b.start.items()}, {k: v[0] for k, v in b.write.items()},
                    {k: v[0] for k, v in b.pop.items()}, dict(job_cycles))


def schedule_batch(pipe: Pipeline, job_cycles: dict, ii, frames: int, engines=None, given=None) -> Schedule:
    """`schedule` of B foldings at once: `job_cycles[name]` and `ii` are int arrays of shape (B,);
    every array of the result is (B, tokens). `engines`: the names to schedule (default all); their
    inputs are scheduled too or in `given` (engine -> its writes, (B or 1, tokens), taken as they are).
    An engine whose job cycles and inputs are the same in every row is scheduled once (one row, broadcast)."""
    ii = np.asarray(ii, np.int64).reshape(-1)
    rows = len(ii)
    start, write, pops = {}, dict(given or {}), {}
    for e in pipe.engines:
        if (engines is not None and e.name not in engines) or e.name in write:
            continue
        c = np.broadcast_to(np.asarray(job_cycles[e.name], np.int64).reshape(-1), (rows,))
        same = np.all(c == c[0]) and (np.all(ii == ii[0]) if e.kind == "input" else
                                      all(len(write[s]) == 1 for s in e.inputs))
        r = 1 if same else rows
        c = c[:r, None]
        n = e.jobs * frames
        a = np.full((r, n), NEG, np.int64)
        if e.kind == "input":
            a[:, ::e.jobs] = ii[:r, None] * np.arange(frames)[None, :]
            d = np.broadcast_to(c, (r, n))
            need = None
        else:
            need = _global_need(e, frames)
            begin = np.concatenate([[0], need[:-1]])
            size = need - begin
            d = np.maximum(c, size[None, :])
            nz = size > 0
            kk = np.arange(need[-1])
            for port, src in enumerate(e.inputs):
                v = write[src][:, : need[-1]] + 1 - kk                  # write(k) + 1 - k
                if nz.any():
                    seg = np.maximum.reduceat(v, begin[nz], axis=1)
                    a[:, nz] = np.maximum(a[:, nz], seg + need[nz])
        dsum = np.cumsum(d, axis=1)
        s = dsum + np.maximum.accumulate(a - dsum, axis=1)
        start[e.name] = s
        write[e.name] = s + c
        if need is not None:
            # token k is first needed by job J(k); it may be popped once job J(k) - 1 started
            owner = np.repeat(np.arange(n), need - np.concatenate([[0], need[:-1]]))
            prev = np.where(owner > 0, s[:, np.maximum(owner - 1, 0)], NEG)
            k = np.arange(len(owner))
            for port, src in enumerate(e.inputs):
                w = write[src][:, : len(owner)]
                pops[(e.name, port)] = k + np.maximum.accumulate(np.maximum(w + 1 - k, prev - k), axis=1)
    full = lambda d: {k: np.broadcast_to(v, (rows, v.shape[1])) for k, v in d.items()}  # noqa: E731
    return Schedule(frames, full(start), full(write), full(pops), dict(job_cycles))
