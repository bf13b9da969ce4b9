"""What the RTL runs for a layer: its im2col GEMM, and a scaled-down copy for pysim.

The RTL executes GEMMs (M x K times K x N). A conv (or matmul) layer runs as
its im2col GEMM view (`Layer.gemm_view()`), with the host preparing the
im2col matrices; its mapping is collapsed onto the GEMM: per level, the
factors of the dims of one role multiply (so the array fold keeps its
size), loop orders follow each role's outermost dim, and the glb factor is
rounded down to a divisor of the GEMM's fold count (the Mapping rule).
Grouped layers run one group (the others are identical).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..arch import SystolicArch
from ..mapping import Mapping
from ....workload import Layer, gemm
from ..dataflow import GEMM_DIM, ROLE_DIMS
from ..flat import flattened
from .plan import RtlError, make_plan, model_cycles

__all__ = ["GemmRun", "as_gemm", "scale_down", "im2col", "direct_conv"]



@dataclass(frozen=True)
class GemmRun:
    """A GEMM layer and mapping the RTL can run, and how it relates to the original layer."""

    layer: Layer
    mapping: Mapping
    note: str = ""


def _divisor_at_most(n: int, g: int) -> int:
    return max(d for d in range(1, min(n, g) + 1) if n % d == 0)


def as_gemm(layer: Layer, mapping: Mapping) -> GemmRun:
    """The GEMM view of `layer` with its `mapping` collapsed onto M, N, K (see module docstring)."""
    conv = layer
    if mapping.flat:    # its dims are the flattened layer's (M = N*P*Q; with im2col, CRS too)
        layer = flattened(layer, mapping.flat)
    if set(layer.dim_names) == {"M", "N", "K"} and all(layer.role(d) == d.lower() for d in "MNK"):
        return GemmRun(layer, mapping)
    view = layer.gemm_view()
    g = gemm(view["M"], view["N"], view["K"], name=conv.name)
    roles = {d: GEMM_DIM.get(layer.role(d)) for d in layer.dim_names}
    fac = {lvl: {X: math.prod(mapping.factor(lvl, d) for d in layer.dim_names if roles[d] == X) for X in "MNK"}
           for lvl in ("rows", "cols", "pe", "glb")}
    glb = {}
    for X in "MNK":
        x = fac["rows"][X] * fac["cols"][X] * fac["pe"][X]
        n = -(-view[X] // x)
        glb[X] = _divisor_at_most(n, fac["glb"][X])
    order = {}
    for lvl in ("glb", "dram"):
        seq = mapping.order[("dram", "glb", "pe").index(lvl)]
        first = {X: min((i for i, d in enumerate(seq) if roles[d] == X), default=len(seq)) for X in "MNK"}
        order[lvl] = sorted("MNK", key=lambda X: (first[X], "MNK".index(X)))
    m = Mapping.build(g, rows=fac["rows"], cols=fac["cols"], pe=fac["pe"], glb=glb, order=order)
    kind = "im2col GEMM" if conv.op in ("conv2d", "depthwise_conv2d") else "GEMM view"
    note = f"{conv.op} as its {kind} M={view['M']} N={view['N']} K={view['K']}"
    if mapping.flat:
        note += f" (mapped with {'output pixels' if mapping.flat == 'pixels' else 'pixels and kernel taps'} flattened)"
    if view["G"] > 1:
        note += f", 1 of {view['G']} groups"
    return GemmRun(g, m, note)


def scale_down(arch: SystolicArch, run: GemmRun, max_cycles: int) -> GemmRun:
    """A smaller GEMM with the same array folds, loop orders and ragged edges, under `max_cycles`.

    Per role it keeps at most 2 glb and 2 dram iterations (so tiling, reuse
    of the accumulator across tiles and ragged last folds stay exercised),
    then halves the streamed fold length until the model cycles fit.
    Returns `run` unchanged when it already fits.
    """
    if model_cycles(arch, run.layer, run.mapping) <= max_cycles:
        return run
    plan = make_plan(arch, run.layer, run.mapping)
    dims = ROLE_DIMS[arch.dataflow]
    fold, glb = list(plan.fold), [min(g, 2) for g in plan.glb]
    dram = [min(d, 2) for d in plan.dram]
    for _ in range(64):
        bounds = []
        for r in range(3):
            last = plan.bounds[r] - (-(-plan.bounds[r] // plan.fold[r]) - 1) * plan.fold[r]
            bounds.append((dram[r] * glb[r] - 1) * fold[r] + min(last, fold[r]))
        layer = gemm(*(bounds[dims.index(X)] for X in "MNK"), name=run.layer.name)
        kw = {lvl: {dims[r]: fold[r]} for r, lvl in enumerate(("rows", "cols", "pe"))}
        m = Mapping.build(layer, glb={dims[r]: glb[r] for r in range(3)}, **kw,
                          order={"glb": [dims[r] for r in plan.glb_order],
                                 "dram": [dims[r] for r in plan.dram_order]})
        cycles = model_cycles(arch, layer, m)
        if cycles <= max_cycles:
            M, N, K = (layer.bounds[X] for X in "MNK")
            o = run.layer.bounds
            note = (run.note + "; " if run.note else "") + \
                f"scaled down from {o['M']}x{o['N']}x{o['K']} to {M}x{N}x{K} for pysim"
            return GemmRun(layer, m, note)
        if fold[2] > 1:
            fold[2] = -(-fold[2] // 2)
        elif max(dram) > 1:
            dram[dram.index(max(dram))] = 1
        elif max(glb) > 1:
            glb[glb.index(max(glb))] = 1
        else:
            break
    raise RtlError(f"layer {run.layer.name!r}: even one fold exceeds {max_cycles} cycles; raise the budget")


def _conv_params(layer: Layer) -> dict:
    if layer.op not in ("conv2d", "depthwise_conv2d"):
        raise RtlError(f"layer {layer.name!r} ({layer.op}) is not a convolution")
    p = dict(layer.params)
    p["P"], p["Q"] = layer.bounds["P"], layer.bounds["Q"]
    p["Cg"], p["Kg"] = p["C"] // p["groups"], p["K"] // p["groups"]
    return p


def im2col(layer: Layer, x: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The host's im2col of group 0: A [(n, p, q), (c, r, s)] and B [(c, r, s), k].

    `x` is the NCHW input, `w` the (K, C/groups, R, S) weights.
    """
    p = _conv_params(layer)
    st, dl, pad = p["stride"], p["dilation"], p["padding"]
    xp = np.pad(x[:, :p["Cg"]], ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    n, c, pp, q, r, s = np.meshgrid(np.arange(p["N"]), np.arange(p["Cg"]), np.arange(p["P"]), np.arange(p["Q"]),
                                    np.arange(p["R"]), np.arange(p["S"]), indexing="ij")
    cols = xp[n, c, pp * st + r * dl, q * st + s * dl]            # (N, Cg, P, Q, R, S)
    a = cols.transpose(0, 2, 3, 1, 4, 5).reshape(p["N"] * p["P"] * p["Q"], p["Cg"] * p["R"] * p["S"])
    b = w[:p["Kg"]].reshape(p["Kg"], -1).T
    return a, b


def direct_conv(layer: Layer, x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Group 0 of the convolution computed directly (int64), laid out like ``im2col``'s ``a @ b``."""
    p = _conv_params(layer)
    st, dl, pad = p["stride"], p["dilation"], p["padding"]
    xp = np.pad(x[:, :p["Cg"]].astype(np.int64), ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    out = np.zeros((p["N"], p["Kg"], p["P"], p["Q"]), dtype=np.int64)
    for r in range(p["R"]):
        for s in range(p["S"]):
            win = xp[:, :, r * dl:r * dl + st * (p["P"] - 1) + 1:st, s * dl:s * dl + st * (p["Q"] - 1) + 1:st]
            out += np.einsum("ncpq,kc->nkpq", win, w[:p["Kg"], :, r, s].astype(np.int64))
    return out.transpose(0, 2, 3, 1).reshape(-1, p["Kg"])
