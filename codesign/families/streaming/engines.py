"""The pipeline's engines, built from a network graph: one engine per node instance.

Every engine works on *tokens*: one token is one pixel (all channels of one spatial
position, raster order) or, for a fully connected layer, one input vector. Per frame
(one sample of the batch) an engine runs `jobs` jobs (one per output token) and pops
`tokens_in` tokens from each input; job ``j`` needs the first ``need[j]`` input tokens of
its frame (`timing` gives the cycle-level rules). Kinds:

- ``input``: the source (DMA) of a graph input; ``mvau``: gemm, and conv with its sliding
  window (line buffer) fused in front; ``vvau``: depthwise conv (and its window);
- ``pool`` (max/avg pool, windowed), ``gpool`` (global average pool: one job needing the
  whole frame), ``add`` (element-wise, two inputs; a producer with two consumers forks its
  stream into two FIFOs), ``act`` (activation / requantization: int32 -> op_bits by shift
  and clip, or any unary element-wise node).

A node with ``count`` > 1 becomes that many engines in sequence (``name#1`` .. ``name#n``).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ...errors import UserError
from ...workload import Network
from ...workload.graph import ELEMENTWISE_OPS

__all__ = ["Engine", "Pipeline", "build_pipeline", "MAC_KINDS"]

MAC_KINDS = ("mvau", "vvau")
_UNARY = tuple(op for op in ELEMENTWISE_OPS if op not in ("add", "mul", "sub", "div", "max", "min", "pow"))
_BINARY = ("add", "mul", "sub", "max", "min")


@dataclass(frozen=True, eq=False)
class Engine:
    """One engine (module docstring). `mh`/`mw`: the matrix (MVAU: output channels x reduction;
    VVAU: channels x kernel window); `window`: (H, W, R, S, stride, pad, dilation) of a windowed
    engine; `need`: int64 array, cumulative input tokens needed by each job of a frame."""

    name: str
    kind: str
    op: str
    node: str
    inputs: tuple[str, ...]
    jobs: int
    tokens_in: int
    need: np.ndarray = field(repr=False)
    channels_in: int = 0
    channels_out: int = 0
    mh: int = 1
    mw: int = 1
    window: tuple | None = None
    macs: int = 0
    weights: int = 0
    layer: object = None

    def __post_init__(self):
        # the last job of a frame also pops the frame's trailing tokens no window uses, so that
        # every engine consumes exactly its frame (a fork never waits on a next frame's job)
        if self.tokens_in and len(self.need):
            need = self.need.copy()
            need[-1] = self.tokens_in
            object.__setattr__(self, "need", need)

    @property
    def pops(self) -> np.ndarray:
        """Input tokens each job of a frame pops first."""
        return np.diff(self.need, prepend=0)

    @property
    def line_buffer(self) -> int:
        """Tokens the window buffer holds: from the oldest token job j uses to the last one
        job j+1 needs (job j+1's tokens are popped while job j runs)."""
        if self.window is None:
            return 0
        first = _window_first(self.window, self.jobs)
        nxt = np.append(self.need[1:], self.need[0] + self.tokens_in)
        return int(np.max(nxt - first))


@dataclass(frozen=True, eq=False)
class Pipeline:
    """The engines in topological order, the frames per batch and the graph's outputs."""

    name: str
    engines: tuple[Engine, ...]
    frames: int
    outputs: tuple[str, ...]

    def engine(self, name: str) -> Engine:
        return next(e for e in self.engines if e.name == name)

    def consumers(self, name: str) -> tuple[tuple[str, int], ...]:
        """(consumer, input port) pairs reading `name`."""
        return tuple((e.name, i) for e in self.engines for i, s in enumerate(e.inputs) if s == name)

    @property
    def mac_engines(self) -> tuple[Engine, ...]:
        return tuple(e for e in self.engines if e.kind in MAC_KINDS)


def _window_rows_cols(window, jobs):
    h, w, r, s, stride, pad, dil = window
    q_out = _out(w, s, stride, pad, dil)
    j = np.arange(jobs)
    return j // q_out, j % q_out, window


def _out(size, k, stride, pad, dil):
    return (size + 2 * pad - dil * (k - 1) - 1) // stride + 1


def _window_need(window, jobs) -> np.ndarray:
    p, q, (h, w, r, s, stride, pad, dil) = _window_rows_cols(window, jobs)
    row = np.clip(p * stride + (r - 1) * dil - pad, 0, h - 1)
    col = np.clip(q * stride + (s - 1) * dil - pad, 0, w - 1)
    return np.maximum.accumulate(row * w + col + 1).astype(np.int64)


def _window_first(window, jobs) -> np.ndarray:
    p, q, (h, w, r, s, stride, pad, dil) = _window_rows_cols(window, jobs)
    row = np.clip(p * stride - pad, 0, h - 1)
    col = np.clip(q * stride - pad, 0, w - 1)
    return (row * w + col).astype(np.int64)


def _bad(node, why):
    raise UserError(f"workload: streaming: node {node!r}: {why}")


def _per_frame(shape, frames):
    """(tokens per frame, channels) of a tensor shape: (N,C,H,W) -> H*W pixels of C; (M,K) -> M/F vectors."""
    if len(shape) == 4:
        return shape[2] * shape[3], shape[1]
    if len(shape) == 2:
        return max(1, shape[0] // frames), shape[1]
    return 1, int(np.prod(shape[1:])) if len(shape) > 1 else shape[0]


def _mac_engine(name, node, src, n_in, frames):
    layer = node.layer
    p = dict(layer.params)
    b = layer.bounds
    if layer.op in ("conv2d", "depthwise_conv2d"):
        window = (p["H"], p["W"], p["R"], p["S"], p["stride"], p["padding"], p["dilation"])
        if n_in != p["H"] * p["W"]:
            _bad(node.name, f"reads {n_in} tokens per frame, its input is {p['H']}x{p['W']} pixels")
        jobs = b["P"] * b["Q"]
        dw = layer.op == "depthwise_conv2d"
        if dw and p["K"] != p["C"]:
            _bad(node.name, "a depthwise conv with a channel multiplier has no VVAU engine")
        kind, mh, mw = ("vvau", p["C"], p["R"] * p["S"]) if dw else ("mvau", p["K"], b["C"] * p["R"] * p["S"])
        need = _window_need(window, jobs)
        macs = layer.macs // frames
        return Engine(name, kind, layer.op, node.name, (src,), jobs, n_in, need, p["C"], p["K"], mh, mw, window,
                      macs, mh * mw if dw else p["K"] * b["C"] * p["R"] * p["S"], layer)
    if layer.op == "gemm":
        m = max(1, b["M"] // frames)
        if m == 1:
            need = np.array([n_in], dtype=np.int64)
        elif m == n_in:
            need = np.arange(1, m + 1, dtype=np.int64)
        else:
            _bad(node.name, f"a gemm of {m} rows per frame reads {n_in} tokens per frame")
        return Engine(name, "mvau", "gemm", node.name, (src,), m, n_in, need, b["K"], b["N"], b["N"], b["K"], None,
                      layer.macs // frames, b["N"] * b["K"], layer)
    _bad(node.name, f"op {layer.op!r} has no streaming engine (MVAU: conv2d, gemm; VVAU: depthwise_conv2d)")


def _stream_engine(name, node, srcs, n_in, shape_in, frames):
    op = node.op
    n_out, c_out = _per_frame(node.shape, frames)
    if op in ("maxpool", "avgpool"):
        if len(shape_in) != 4 or len(node.shape) != 4:
            _bad(node.name, f"{op} needs NCHW tensors")
        h, w = shape_in[2], shape_in[3]
        k = int(node.attr("kernel", node.attr("kernel_size", max(1, h // node.shape[2]))))
        st = int(node.attr("stride", k))
        pad = int(node.attr("padding", node.attr("pads", 0)))
        window = (h, w, k, k, st, pad, 1)
        if _out(h, k, st, pad, 1) != node.shape[2] or _out(w, k, st, pad, 1) != node.shape[3]:
            _bad(node.name, f"kernel {k} stride {st} padding {pad} does not give its output shape {node.shape}")
        return Engine(name, "pool", op, node.name, srcs[:1], n_out, n_in, _window_need(window, n_out),
                      shape_in[1], c_out, window=window)
    if op == "global_avgpool":
        return Engine(name, "gpool", op, node.name, srcs[:1], 1, n_in, np.array([n_in], dtype=np.int64),
                      shape_in[1] if len(shape_in) > 1 else 1, c_out)
    if op in _BINARY and len(srcs) == 2:
        return Engine(name, "add", op, node.name, srcs, n_out, n_in, np.arange(1, n_out + 1, dtype=np.int64),
                      c_out, c_out)
    if op in _UNARY or (op in _BINARY and len(srcs) == 1):
        if n_in != n_out:
            _bad(node.name, f"element-wise op reads {n_in} tokens and writes {n_out} per frame")
        return Engine(name, "act", op, node.name, srcs[:1], n_out, n_in, np.arange(1, n_out + 1, dtype=np.int64),
                      c_out, c_out)
    _bad(node.name, f"op {op!r} has no streaming engine (pool, global_avgpool, add, activations)")


def build_pipeline(network: Network) -> Pipeline:
    """The engines of `network` (module docstring); raises `UserError` naming a node without an engine."""
    if not network.inputs:
        raise UserError(f"workload: streaming: network {network.name!r} has no graph input")
    frames = network.inputs[0][1][0]
    engines, last, tokens, shapes = [], {}, {}, {}
    for name, shape in network.inputs:
        n, c = _per_frame(shape, frames)
        engines.append(Engine(name, "input", "input", name, (), n, 0, np.zeros(n, dtype=np.int64), 0, c))
        last[name], tokens[name], shapes[name] = name, n, shape
    for node in network.nodes:
        if node.op == "input":
            continue
        srcs = tuple(last[s] for s in node.inputs)
        if not srcs:
            _bad(node.name, "has no inputs")
        n_in = tokens[node.inputs[0]]
        if any(tokens[s] != n_in for s in node.inputs):
            _bad(node.name, "its inputs have different token counts per frame")
        prev = srcs
        for i in range(node.count):
            name = node.name if node.count == 1 else f"{node.name}#{i + 1}"
            e = (_mac_engine(name, node, prev[0], n_in, frames) if node.is_mac
                 else _stream_engine(name, node, prev, n_in, shapes[node.inputs[0]], frames))
            engines.append(e)
            prev, n_in = (name,), e.jobs
        last[node.name], tokens[node.name], shapes[node.name] = prev[0], n_in, node.shape
    used = {s for e in engines for s in e.inputs}
    outputs = tuple(e.name for e in engines if e.name not in used and e.kind != "input")
    return Pipeline(network.name, tuple(engines), frames, outputs)
