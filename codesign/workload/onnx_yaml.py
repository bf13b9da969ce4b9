"""An imported ONNX network written as a YAML ``workload: {layers: [...]}``
in the graph form of `codesign.workload.spec` (``codesign import -o``).

Every node of the imported `Network` becomes one spec, one line each, in
topological order, so that `network_from_spec` of the result has the same
MAC layers (same loop nests, same MACs) and the same edges:

- MAC layers: ``conv2d`` (grouped and depthwise too, as ``groups``; an
  asymmetric pad is already in the layer's padded H and W), ``gemm``,
  ``matmul`` with their loop bounds;
- nodes without MACs: ``{name, op, inputs}`` and the keys the spec knows
  (pools' ``kernel``, ``stride``, ``padding`` when the window is square
  and the pads symmetric, concat's ``axis``, clip's ``min``/``max``), plus
  ``shape`` where the spec's shape rule would not give the model's shape
  (asymmetric or ceil-mode pools, a global pool's ``(N, C, 1, 1)``, a
  ``mul`` by a constant, which has one data input);
- a conv or gemm reading a second data tensor (a bias computed at run
  time) reads its first one; the comment names the other;
- what is not modelled (ONNX ops kept as op ``other``, and MAC layers the
  spec has no key for, a ``conv_transpose2d``): an ``other`` node with
  ``onnx_op``, ``reason`` and ``shape``, so its edges stay;
- what the spec has no key for (folded batchnorms, the unpadded input of
  an asymmetric pad, Gemm's alpha/beta, a pool's ONNX attributes) goes in
  a comment at the end of the node's line.

``inputs`` is written only where a node does not read the node listed
before it. The graph input is ``input`` (the spec's name for it); a node of
that name is renamed. The spec form has one graph input, read first by a
MAC layer: a model with several graph inputs, or whose first MAC layer
does not read the graph input, is refused (one line; the model still works
as ``workload: {onnx: ...}``).
"""
from __future__ import annotations

import yaml

from .graph import Node, layer_input_shape, layer_output_shape, op_output_shape
from .ir import WorkloadError

__all__ = ["layers_yaml", "GRAPH_INPUT"]

#: the spec's name for the graph input (codesign/workload/spec.py, _GRAPH_INPUT)
GRAPH_INPUT = "input"
_CONV_KEYS = ("N", "C", "H", "W", "K", "R", "S", "stride", "padding", "dilation", "groups")
_POOL_OPS = ("maxpool", "avgpool")
#: layer ops the spec has a key for (codesign/workload/spec.py, OPS)
_SPEC_MAC_OPS = ("conv2d", "depthwise_conv2d", "gemm", "matmul")


def _flow(d: dict) -> str:
    return yaml.safe_dump(d, default_flow_style=True, sort_keys=False, width=10**6).strip()


def _renames(net) -> dict[str, str]:
    """Graph input -> ``input``; a node named ``input`` -> a free name."""
    if len(net.inputs) != 1:
        names = ", ".join(n for n, _ in net.inputs)
        raise WorkloadError(f"-o: the layers: form has one graph input; {net.name} has {len(net.inputs)} "
                            f"({names}); use workload: {{onnx: ...}} for it")
    taken = {n.name for n in net.nodes}
    out = {net.inputs[0][0]: GRAPH_INPUT}
    if GRAPH_INPUT in taken:
        i = 1
        while f"{GRAPH_INPUT}_{i}" in taken:
            i += 1
        out[GRAPH_INPUT] = f"{GRAPH_INPUT}_{i}"
    return out


def _ordered(net) -> list[Node]:
    """The nodes with the first MAC layer reading only the graph input moved first (still topological)."""
    src = net.inputs[0][0]
    first = next((n for n in net.nodes if n.is_mac and n.layer.op in _SPEC_MAC_OPS and n.inputs == (src,)), None)
    if first is None:
        raise WorkloadError(f"-o: no MAC layer of {net.name} the layers: form can hold reads the graph input "
                            f"{src!r} alone; the form starts with one (use workload: {{onnx: ...}} for this model)")
    return [first] + [n for n in net.nodes if n is not first]


def _mac_spec(n: Node) -> tuple[dict, list[str]]:
    """The spec of a MAC node, and the comment parts for what it has no key for."""
    p = dict(n.layer.params)
    if n.layer.op == "depthwise_conv2d":
        spec = {"op": "depthwise_conv2d", **{k: p[k] for k in _CONV_KEYS[:-4] if k != "K"},
                **{k: p[k] for k in ("stride", "padding", "dilation")}, "multiplier": p["K"] // p["C"]}
    elif n.layer.op == "conv2d":
        spec = {"op": "conv2d", **{k: p[k] for k in _CONV_KEYS}}
    else:
        spec = {"op": n.layer.op, **p}
    if n.count != 1:
        spec["count"] = n.count
    notes = []
    if n.attr("folded"):
        notes.append("folded: " + ", ".join(n.attr("folded")))
    if n.attr("pads"):
        h, w = n.attr("input_hw")
        notes.append(f"pads {list(n.attr('pads'))} (top, left, bottom, right) on a {h}x{w} input: H, W above are "
                     "the padded input")
    notes += [f"{k} {n.attr(k)}" for k in ("alpha", "beta") if n.attr(k) is not None]
    return spec, notes


def _node_spec(n: Node, shapes: dict, ins: tuple[str, ...]) -> tuple[dict, list[str]]:
    """The spec of a node without MACs (its ``shape`` when the rule differs), and comment parts."""
    spec, notes, kept = {"op": n.op}, [], dict(n.attrs)
    if n.op in _POOL_OPS:
        keys = {k: kept.pop(k) for k in ("kernel", "stride", "padding") if k in kept}    # onnx_ops.pool_keys
        spec.update(keys)
        if keys:
            kept = {k: v for k, v in kept.items() if k not in ("kernel_shape", "strides", "pads", "ceil_mode",
                                                                  "dilations")}
    elif n.op == "concat" and isinstance(n.attr("axis"), int):
        spec["axis"] = n.attr("axis") % len(n.shape)
        kept.pop("axis")
    elif n.op == "clip":
        spec.update({k: kept.pop(k) for k in ("min", "max") if k in kept})
    elif n.op == "other":
        spec.update({k: kept.pop(k) for k in ("onnx_op", "reason") if k in kept})
    notes += [f"{k} {list(v) if isinstance(v, tuple) else v}" for k, v in kept.items()]
    try:
        rule = op_output_shape(n.op, [(x, shapes[x]) for x in ins], {k: v for k, v in spec.items() if k != "op"})
    except WorkloadError:
        rule = None
    if rule != n.shape or n.op == "other":
        spec["shape"] = list(n.shape)
    return spec, notes


def _other_layer_spec(n: Node) -> tuple[dict, list[str]]:
    """A MAC layer the spec has no key for, as an ``other`` node (its MACs are reported, not modelled)."""
    reason = f"{n.layer.op}: {n.macs:,} MACs; the layers: form has no key for this op"
    return {"op": "other", "onnx_op": n.attr("onnx_op", n.layer.op), "reason": reason,
            "shape": list(n.shape)}, [f"{k} {v}" for k, v in dict(n.layer.params).items()]


def layers_yaml(res) -> tuple[str, int]:
    """The YAML text of a config ``{name, workload: {layers: [...]}}`` for an `ImportResult`
    (module docstring), and how many MAC layers it writes as ``other`` nodes (no spec key)."""
    net = res.network
    rename = _renames(net)
    name = lambda x: rename.get(x, x)  # noqa: E731
    nodes = _ordered(net)
    shapes = {GRAPH_INPUT: layer_input_shape(nodes[0].layer)}     # as the spec shapes it
    lines, skipped, prev, macs = [], 0, GRAPH_INPUT, 0
    for n in nodes:
        ins = tuple(name(x) for x in n.inputs)
        if n.is_mac and n.layer.op in _SPEC_MAC_OPS:
            spec, notes = _mac_spec(n)
            most = 2 if n.layer.op == "matmul" else 1
            if len(ins) > most:
                notes.append("also reads " + ", ".join(ins[most:]) + " (the layers: form reads " + str(most) + ")")
                ins = ins[:most]
            shape, macs = layer_output_shape(n.layer), macs + n.macs
        elif n.is_mac:
            (spec, notes), shape, skipped = _other_layer_spec(n), n.shape, skipped + 1
        else:
            spec, notes = _node_spec(n, shapes, ins)
            shape = tuple(spec.get("shape", n.shape))
        head = {"name": name(n.name), "op": spec.pop("op")}
        if ins != (prev,):
            head["inputs"] = list(ins)
        lines.append("  - " + _flow({**head, **spec}) + (f"   # {'; '.join(notes)}" if notes else ""))
        shapes[head["name"]], prev = shape, head["name"]
    text = (f"# codesign import {res.path}: {len(net.layers) - skipped} MAC layers, {macs:,} MACs, "
            f"{len(net.nodes)} nodes; graph input {list(net.inputs[0][1])}"
            + (f" ({net.inputs[0][0]!r} in the model)" if net.inputs[0][0] != GRAPH_INPUT else "")
            + (f"; {skipped} layers without a layers: key written as op other" if skipped else "") + "\n"
            + yaml.safe_dump({"name": net.name}, width=10**6) + "workload:\n  layers:\n" + "\n".join(lines) + "\n")
    return text, skipped
