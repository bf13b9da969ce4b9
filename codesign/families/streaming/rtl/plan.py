"""From a folded pipeline to what the RTL builds: one `EngineSpec` per engine, FIFO depths, II.

Every engine except the source is the same controller (`engine`) around a *window
buffer*: a circular memory of ``buf_depth`` tokens (a power of two; token k of the run
at address k mod buf_depth) that the job's datapath reads through ``view`` read ports.
A job's view is a window of ``R x S`` tokens of an ``H x W`` token grid with dilation
``dil``; job j's window origin is (``row0[j]``, ``col0[j]``) and positions outside the
grid are padding. Engines without a spatial window use H = 1, W = tokens per frame:
a 1:1 engine (activation, add, a gemm per token) views token j (S = 1, col0 = j); a
whole-frame job (a gemm of one vector per frame, the global pool) views all W tokens.
`buf_depth` is the smallest power of two >= max_j (need(j+1) - first(j)): the oldest
token job j reads is not overwritten by the pops for job j + 1 (`timing`: pops run at
most one job ahead).

The requantization of a MAC engine is ``clip(acc >> shift, -2^(b-1), 2^(b-1) - 1)``
with ``shift = op_bits - 1 + ceil(log2(MW)) // 2`` (our choice: random int8 operands
then use most of the int8 range); `golden` applies the same rule.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ....errors import UserError
from ..fitted import buffer_tokens

__all__ = ["StreamingRtlError", "EngineSpec", "RtlPlan", "make_plan", "requant_shift", "read_positions", "ACT_OPS",
           "BINARY_OPS", "POOL_OPS"]

ACT_OPS = ("relu", "requant", "identity")          # requant/identity: the MAC engine already requantized
BINARY_OPS = ("add", "sub", "max", "min")
POOL_OPS = ("maxpool", "avgpool", "global_avgpool")


class StreamingRtlError(UserError, ValueError):
    """A pipeline the streaming RTL generator cannot build or run (one line that says why)."""


def requant_shift(mw: int, op_bits: int) -> int:
    """The right shift of a MAC engine's requantization (module docstring)."""
    return op_bits - 1 + math.ceil(math.log2(max(mw, 1))) // 2


@dataclass(frozen=True, eq=False)
class EngineSpec:
    """One engine as the RTL builds it (module docstring). `grid` = (H, W, R, S, dil)."""

    name: str
    kind: str
    op: str
    inputs: tuple[str, ...]
    jobs: int
    tokens_in: int
    job_cycles: int
    c_in: int
    c_out: int
    need: np.ndarray = field(repr=False)
    row0: np.ndarray = field(repr=False)
    col0: np.ndarray = field(repr=False)
    grid: tuple = (1, 1, 1, 1, 1)
    buf_depth: int = 2
    pe: int = 1
    simd: int = 1
    mh: int = 1
    mw: int = 1
    shift: int = 0
    window: tuple | None = None

    @property
    def view(self) -> int:
        return self.grid[2] * self.grid[3]

    def to_dict(self) -> dict:
        d = {"name": self.name, "kind": self.kind, "op": self.op, "inputs": list(self.inputs), "jobs": self.jobs,
             "tokens_in": self.tokens_in, "job_cycles": self.job_cycles, "channels_in": self.c_in,
             "channels_out": self.c_out, "window_buffer_tokens": self.buf_depth if self.inputs else 0}
        if self.kind in ("mvau", "vvau"):
            d |= {"pe": self.pe, "simd": self.simd, "mh": self.mh, "mw": self.mw, "requant_shift": self.shift}
        return d


@dataclass(frozen=True, eq=False)
class RtlPlan:
    """The engines in pipeline order, FIFO depths per (producer, consumer, port), the source's II."""

    name: str
    engines: tuple[EngineSpec, ...]
    fifo_depth: dict
    ii_cycles: int
    op_bits: int
    acc_bits: int
    output: str

    def engine(self, name: str) -> EngineSpec:
        return next(e for e in self.engines if e.name == name)

    def consumers(self, name: str) -> list[tuple[str, int]]:
        return [(e.name, p) for e in self.engines for p, s in enumerate(e.inputs) if s == name]


def read_positions(spec) -> list[list[int]]:
    """The view position each read port of the window buffer reads, per synapse fold: ports x SF.

    An MVAU's fold sf uses elements [sf SIMD, (sf + 1) SIMD) of its im2col vector, i.e. the
    positions sf SIMD // C .. (sf SIMD + SIMD - 1) // C (C = c_in): port k reads the k-th of
    them (as many ports as the widest fold spans; one when SIMD divides C). A VVAU's fold sf
    uses positions sf SIMD + k (SIMD ports). Other engines, and one-fold jobs, read the whole view.
    """
    n_sf = spec.mw // spec.simd if spec.kind in ("mvau", "vvau") else 1
    if n_sf == 1:
        return [[k] for k in range(spec.view)]
    if spec.kind == "vvau":
        return [[sf * spec.simd + k for sf in range(n_sf)] for k in range(spec.simd)]
    lo = [sf * spec.simd // spec.c_in for sf in range(n_sf)]
    hi = [(sf * spec.simd + spec.simd - 1) // spec.c_in for sf in range(n_sf)]
    ports = max(b - a + 1 for a, b in zip(lo, hi))
    return [[min(a + k, spec.view - 1) for a in lo] for k in range(ports)]


def _view(e):
    """(grid, row0, col0, first token) of engine `e`'s jobs (module docstring)."""
    j = np.arange(e.jobs)
    if e.window is not None:
        h, w, r, s, st, pad, dil = e.window
        q_out = (w + 2 * pad - dil * (s - 1) - 1) // st + 1
        row0, col0 = (j // q_out) * st - pad, (j % q_out) * st - pad
        first = np.clip(row0, 0, h - 1) * w + np.clip(col0, 0, w - 1)
        return (h, w, r, s, dil), row0, col0, first
    if e.jobs == 1 and e.tokens_in > 1 or e.kind == "gpool":
        t = e.tokens_in
        return (1, t, 1, t, 1), np.zeros(e.jobs, np.int64), np.zeros(e.jobs, np.int64), np.zeros(e.jobs, np.int64)
    if e.jobs != e.tokens_in:
        raise StreamingRtlError(f"engine {e.name!r}: {e.jobs} jobs over {e.tokens_in} tokens per frame has no "
                                "RTL view (1:1 or one job per frame)")
    return (1, e.tokens_in, 1, 1, 1), np.zeros(e.jobs, np.int64), j.astype(np.int64), j.astype(np.int64)


def _buf_depth(e, first) -> int:
    nxt = np.append(e.need[1:], e.need[0] + e.tokens_in)
    return buffer_tokens(int(np.max(nxt - first)))


def _check(e):
    if e.kind == "act" and e.op not in ACT_OPS:
        raise StreamingRtlError(f"engine {e.name!r}: op {e.op!r} has no RTL engine (activations: "
                                f"{', '.join(ACT_OPS)})")
    if e.kind == "add" and e.op not in BINARY_OPS:
        raise StreamingRtlError(f"engine {e.name!r}: op {e.op!r} has no RTL engine (element-wise: "
                                f"{', '.join(BINARY_OPS)})")
    if e.kind in ("pool", "gpool") and e.op not in POOL_OPS:
        raise StreamingRtlError(f"engine {e.name!r}: op {e.op!r} has no RTL engine")
    if e.kind == "act" and e.channels_in != e.channels_out:
        raise StreamingRtlError(f"engine {e.name!r}: {e.channels_in} channels in, {e.channels_out} out")


def make_plan(pipe, opts, choice: dict, pc, arch) -> RtlPlan:
    """The RTL plan of folding `choice` of `pipe` costed as `pc` (`pipeline.evaluate`) on `arch`."""
    inputs = [e for e in pipe.engines if e.kind == "input"]
    if len(inputs) != 1 or len(pipe.outputs) != 1:
        raise StreamingRtlError(f"network {pipe.name!r}: the RTL has one stream in and one out, the graph has "
                                f"{len(inputs)} input(s) and {len(pipe.outputs)} output(s)")
    specs = []
    for e in pipe.engines:
        o, i = opts[e.name], choice[e.name]
        if bool(o.dram[i]):
            raise StreamingRtlError(f"engine {e.name!r}: weights streamed from DRAM have no RTL (on-chip only)")
        c = int(o.job_cycles[i])
        if e.kind == "input":
            z = np.zeros(e.jobs, np.int64)
            specs.append(EngineSpec(e.name, "input", "input", (), e.jobs, 0, c, e.channels_out, e.channels_out,
                                    e.need, z, z))
            continue
        _check(e)
        grid, row0, col0, first = _view(e)
        mac = e.kind in ("mvau", "vvau")
        c_in = pipe.engine(e.inputs[0]).channels_out
        if (e.kind == "mvau" and e.mw != grid[2] * grid[3] * c_in) or (e.kind == "vvau" and e.mh != c_in):
            raise StreamingRtlError(f"engine {e.name!r}: its matrix ({e.mh} x {e.mw}) does not match its view of "
                                    f"{grid[2] * grid[3]} tokens of {c_in} channels")
        specs.append(EngineSpec(
            e.name, e.kind, e.op, e.inputs, e.jobs, e.tokens_in, c, c_in,
            e.channels_out, e.need, row0, col0, grid, _buf_depth(e, first),
            int(o.pe[i]) if mac else 1, int(o.simd[i]) if mac else 1, e.mh, e.mw,
            requant_shift(e.mw, arch.op_bits) if mac else 0, e.window))
    return RtlPlan(pipe.name, tuple(specs), dict(pc.fifo_depth), int(pc.ii_cycles), arch.op_bits, arch.acc_bits,
                   pipe.outputs[0])
