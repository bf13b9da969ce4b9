"""The numpy golden of a pipeline: every engine's output tokens for given input frames.

Independent of the RTL's window machinery: convolutions and pools by padding the
(H, W, C) frame and slicing it per kernel position. Integer semantics as the RTL's:
products and sums in int64 wrapped to acc_bits, the MAC engines' requantization
``clip(acc >> shift)`` (`plan.requant_shift`), saturating element-wise add/sub, floor
division for the average pools, padding zero (max pool: the most negative value).
The im2col order is (r, s, c) and a gemm reading several tokens per vector sees them
token-major (pixel, then channel), as the RTL streams them.
"""
from __future__ import annotations

import numpy as np

__all__ = ["golden", "wrap", "random_weights"]


def wrap(x, bits: int):
    """Two's-complement wrap of int64 `x` to `bits`."""
    half = 1 << (bits - 1)
    return ((np.asarray(x, np.int64) + half) % (1 << bits)) - half


def _clip(x, bits):
    return np.clip(x, -(1 << (bits - 1)), (1 << (bits - 1)) - 1)


def _patches(x, window, pad_value):
    """(F, P*Q, R*S, C) windows of tokens `x` (F, H*W, C) for window (H, W, R, S, stride, pad, dil)."""
    h, w, r, s, st, pad, dil = window
    f, _, c = x.shape
    img = np.full((f, h + 2 * pad, w + 2 * pad, c), pad_value, np.int64)
    img[:, pad:pad + h, pad:pad + w] = x.reshape(f, h, w, c)
    p = (h + 2 * pad - dil * (r - 1) - 1) // st + 1
    q = (w + 2 * pad - dil * (s - 1) - 1) // st + 1
    cols = [img[:, i * dil:i * dil + st * (p - 1) + 1:st, j * dil:j * dil + st * (q - 1) + 1:st]
            for i in range(r) for j in range(s)]
    return np.stack(cols, axis=3).reshape(f, p * q, r * s, c)


def _engine(e, ins, weights, bits, acc_bits):
    x = ins[0]
    f = x.shape[0]
    if e.kind == "mvau":
        if e.window is not None:
            vec = _patches(x, e.window, 0).reshape(f, e.jobs, -1)
        else:
            vec = x.reshape(f, e.jobs, -1)
        acc = wrap(np.einsum("fjk,nk->fjn", vec, np.asarray(weights, np.int64)), acc_bits)
        return _clip(acc >> e.shift, bits)
    if e.kind == "vvau":
        pt = _patches(x, e.window, 0)                                  # (F, PQ, RS, C)
        acc = wrap(np.einsum("fjrc,cr->fjc", pt, np.asarray(weights, np.int64)), acc_bits)
        return _clip(acc >> e.shift, bits)
    if e.kind == "act":
        return np.maximum(x, 0) if e.op == "relu" else x
    if e.kind == "add":
        a, b = ins
        return {"add": lambda: _clip(a + b, bits), "sub": lambda: _clip(a - b, bits),
                "max": lambda: np.maximum(a, b), "min": lambda: np.minimum(a, b)}[e.op]()
    if e.kind == "pool":
        if e.op == "maxpool":
            return _patches(x, e.window, -(1 << (bits - 1))).max(axis=2)
        pt = _patches(x, e.window, 0)
        return pt.sum(axis=2) // pt.shape[2]
    if e.kind == "gpool":
        return x.sum(axis=1, keepdims=True) // x.shape[1]
    raise ValueError(e.kind)


def golden(plan, frames: np.ndarray, weights: dict) -> dict:
    """Output tokens (F, jobs, c_out) of every engine of `plan` for input tokens `frames` (F, T, C)."""
    out = {}
    for e in plan.engines:
        if e.kind == "input":
            out[e.name] = np.asarray(frames, np.int64)
        else:
            out[e.name] = _engine(e, [out[s] for s in e.inputs], weights.get(e.name), plan.op_bits, plan.acc_bits)
    return out


def random_weights(plan, rng) -> dict:
    """Random int weights (MH, MW) per MAC engine, the most negative value at [0, 0]."""
    lo, hi = -(1 << (plan.op_bits - 1)), 1 << (plan.op_bits - 1)
    out = {}
    for e in plan.engines:
        if e.kind in ("mvau", "vvau"):
            w = rng.integers(lo, hi, (e.mh, e.mw))
            w[0, 0] = lo
            out[e.name] = w
    return out
