"""Scale a network down for pysim: same topology, smaller images and fewer channels, refolded.

`scaled_design` rebuilds the design's network node by node with the input image shrunk
(height and width by one factor) and every MAC layer's output channels (and a 2-D
input's features) divided by a power of two, shapes recomputed from the new input; it
takes the candidate with the most MACs whose model latency for the run fits the cycle
budget. The scaled network is folded again by the family's solver on the same hardware
(pins name the full network's channel counts and are dropped); the note says all this.
"""
from __future__ import annotations

from ....errors import UserError
from ....workload import WorkloadError, conv2d, depthwise_conv2d, gemm
from ....workload.graph import GraphBuilder
from ..cost import engine_options
from ..engines import build_pipeline
from ..solver import solve
from .plan import StreamingRtlError

__all__ = ["scale_network", "scaled_choice"]

_IMAGE_FACTORS = (1.0, 0.75, 0.5, 0.375, 0.25, 0.125)


def _in_shape(g, node):
    return g.shape_of(node.inputs[0])


def _mac(g, node, div):
    layer, shape = node.layer, _in_shape(g, node)
    p = dict(layer.params)
    if layer.op == "conv2d":
        if p.get("groups", 1) != 1:
            raise StreamingRtlError(f"scale-down: node {node.name!r}: a grouped conv cannot be scaled")
        new = conv2d(shape[0], shape[1], shape[2], shape[3], max(1, p["K"] // div), p["R"], p["S"], p["stride"],
                     p["padding"], p["dilation"], name=layer.name)
    elif layer.op == "depthwise_conv2d":
        new = depthwise_conv2d(shape[0], shape[1], shape[2], shape[3], p["R"], p["S"], p["stride"], p["padding"],
                               p["dilation"], name=layer.name)
    elif layer.op == "gemm":
        b = layer.bounds
        k = shape[1] if len(shape) == 2 else 1
        for d in shape[1:] if len(shape) != 2 else ():
            k *= d
        m = b["M"] if len(shape) != 2 else shape[0]
        new = gemm(m, max(1, b["N"] // div), k, name=layer.name)
    else:
        raise StreamingRtlError(f"scale-down: node {node.name!r}: op {layer.op!r} cannot be scaled")
    g.mac(new, *node.inputs, count=node.count)


def scale_network(net, image: float, div: int):
    """`net` with its input image scaled by `image` (H and W) and channels divided by `div`."""
    (name, shape), = net.inputs
    if len(shape) == 4:
        shape = (shape[0], shape[1], max(1, round(shape[2] * image)), max(1, round(shape[3] * image)))
    elif len(shape) == 2:
        shape = (shape[0], max(1, shape[1] // div))
    g = GraphBuilder(net.name, [(name, shape)])
    for node in net.nodes:
        if node.op == "input":
            continue
        if node.is_mac:
            _mac(g, node, div)
        else:
            g.op(node.name, node.op, *node.inputs, **dict(node.attrs))
    return g.build()


def scaled_choice(network, arch, max_cycles: int, frames: int, latency):
    """(network, pipeline, options, folding, note) of the largest scaled-down `network` whose `frames`
    frames fit `max_cycles` model cycles; `latency(pipe, opts, choice)` gives a folding's model cycles."""
    (_, shape), = network.inputs
    best = None
    for div in (1, 2, 4, 8, 16, 32, 64, 128):
        for f in _IMAGE_FACTORS if len(shape) == 4 else (1.0,):
            try:
                small = scale_network(network, f, div)
                pipe = build_pipeline(small)
                opts = {e.name: engine_options(e, arch) for e in pipe.engines}
            except (WorkloadError, UserError):
                continue
            sol = solve(opts, arch)
            if sol.choice is None or latency(pipe, opts, sol.choice) > max_cycles:
                continue
            if best is None or small.macs > best[0].macs:
                best = (small, pipe, opts, sol.choice, f, div)
        if best is not None:
            break
    if best is None:
        raise StreamingRtlError(f"scale-down: no scaled version of {network.name!r} fits {max_cycles} cycles for "
                                f"{frames} frames; raise --max-cycles")
    small, pipe, opts, choice, f, div = best
    (_, s2), = small.inputs
    size = "" if len(shape) != 4 else (f"image {shape[2]}x{shape[3]} kept (the topology needs it), "
                                       if s2[2:] == shape[2:] else f"image {shape[2]}x{shape[3]} -> {s2[2]}x{s2[3]}, ")
    note = (f"{size}channels / {div}, {small.macs // max(1, s2[0])} MACs per frame of "
            f"{network.macs // max(1, shape[0])}, refolded by the solver (pins dropped)")
    return small, pipe, opts, choice, note
