"""ONNX import: any ONNX model becomes a `Network` of the graph IR, with
every MAC accounted for and every other op reported.

``import_model("resnet50.onnx", batch=4)`` returns an `ImportResult`: the
network, and what was and was not modelled. How each ONNX op is treated:

- **MAC layers** (`onnx_ops`): Conv (1-D/2-D, strides, asymmetric pads,
  dilation, groups, depthwise), ConvInteger, QLinearConv, ConvTranspose
  (its scatter loop nest), Gemm (transA/transB, alpha/beta), MatMul
  (batched, attention's Q*K^T and A*V), MatMulInteger, QLinearMatMul.
- **Folded**: BatchNormalization directly after a conv whose output nothing
  else reads becomes part of that conv (attrs ``folded``).
- **Nodes without MACs**, with their output shape and element count:
  activations, element-wise arithmetic, unfolded batchnorm, pooling,
  softmax, layernorm, concat (`onnx_ops.NON_MAC`).
- **Edges**: Reshape, Transpose, Flatten, Split, Squeeze, Unsqueeze,
  Identity, Dropout: their outputs are their data input.
- **Parameters**: weights, constants and shape arithmetic (anything not
  computed from a data input, Shape/Size outputs) are not nodes.
- **Not modelled**: any other op, or a MAC op in a form the IR cannot
  express (3-D conv, unequal H/W strides), becomes a node of op ``other``
  with attrs ``onnx_op`` (and ``reason``), listed with count and elements.

Nothing is fatal except what the user must fix: a missing, non-ONNX or
malformed file, an unknown input, an unresolved symbolic dimension
(`WorkloadError`, one line naming the key).
"""
from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path

from .graph import Network, Node
from .ir import WorkloadError
from .onnx_load import CONFIG_KEYS, Keys, OnnxGraph, load_graph
from .onnx_yaml import layers_yaml
from .onnx_ops import (EDGE_OPS, KEPT_ATTRS, MAC_OPS, NON_MAC, NotModelled, attributes, conv_layer, pool_keys,
                       conv_transpose_layer, gemm_layer, matmul_layer)

__all__ = ["ImportResult", "OpCount", "import_model", "network_from_config", "summary", "to_json",
           "layers_yaml", "Keys"]


@dataclass(frozen=True)
class OpCount:
    """How many nodes of one op type, and the elements they produce (one instance each)."""

    op: str
    count: int
    elements: int
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True)
class ImportResult:
    """What an ONNX import produced (module docstring).

    `network` is the graph; `non_mac` counts its nodes without MACs per op;
    `not_modelled` counts per ONNX op type the nodes kept as op ``other``;
    `edges` and `folded` count per ONNX op type the nodes that became edges
    or were folded into a conv; `parameter_nodes` the ONNX nodes computing
    weights, constants or shapes; `onnx_nodes` all nodes of the ONNX graph.
    """

    path: str
    network: Network
    opset: int
    non_mac: tuple[OpCount, ...]
    not_modelled: tuple[OpCount, ...]
    edges: tuple[tuple[str, int], ...]
    folded: tuple[tuple[str, int], ...]
    parameter_nodes: int
    onnx_nodes: int

    @property
    def layers(self) -> tuple[Node, ...]:
        """The modelled MAC layers, in topological order."""
        return self.network.layers

    @property
    def macs(self) -> int:
        return self.network.macs

    def totals(self) -> dict:
        """``{"macs", "layers", "nodes"}``: MACs, MAC layers, ONNX graph nodes (+ network nodes)."""
        return {"macs": self.macs, "layers": len(self.layers), "nodes": self.onnx_nodes,
                "network_nodes": len(self.network.nodes)}


class _Builder:
    """Walks the ONNX nodes in order, building network nodes (one pass)."""

    def __init__(self, g: OnnxGraph, keys: Keys):
        self.g, self.keys = g, keys
        self.nodes: list[Node] = []
        self.src = {name: name for name, _ in g.inputs}    # tensor -> network node (or graph input)
        self.names: set[str] = set(self.src)
        self.readers = Counter(i for n in g.nodes for i in n.input if i and i not in g.const)
        self.edges, self.folded, self.parameter_nodes = Counter(), Counter(), 0
        self.fold_into: dict[str, list[str]] = {}

    def unique(self, node) -> str:
        base = node.name or next((o for o in node.output if o), node.op_type)
        name, i = base, 1
        while name in self.names:
            i += 1
            name = f"{base}_{i}"
        self.names.add(name)
        return name

    def data_inputs(self, node) -> list[str]:
        return [i for i in node.input if i and i not in self.g.const]

    def shape(self, tensor: str):
        return self.g.shapes.get(tensor)

    def add(self, node, net: Node) -> None:
        self.nodes.append(net)
        for o in node.output:
            if o:
                self.src[o] = net.name

    def run(self) -> None:
        for node in self.g.nodes:
            data = self.data_inputs(node)
            if not data or all(o in self.g.const for o in node.output if o):
                self.parameter_nodes += 1
                continue
            if node.op_type in EDGE_OPS and node.domain in ("", "ai.onnx"):
                self.check_elements(node, data[0])
                self.edges[node.op_type] += 1
                for o in node.output:
                    if o:
                        self.src[o] = self.src[data[0]]
                continue
            if node.domain in ("", "ai.onnx") and self.try_fold(node, data):
                continue
            self.add(node, self.convert(node, data))

    def check_elements(self, node, src: str) -> None:
        """An edge that changes the element count means a shape the model hard-codes
        (a Reshape to batch 1 after the batch was changed): an error, not a guess."""
        if node.op_type == "Split" or not node.output or not node.output[0]:
            return
        a, b = self.shape(src), self.shape(node.output[0])
        if a is not None and b is not None and math.prod(a) != math.prod(b):
            raise WorkloadError(f"{self.keys.batch if self.g.batch_set else self.keys.inputs}: node {node.name or node.output[0]!r} ({node.op_type}) turns "
                                f"{list(a)} into {list(b)}: the model fixes that shape, so the batch or input "
                                "size cannot change")

    def try_fold(self, node, data) -> bool:
        """BatchNormalization right after a conv read by nothing else: fold it in."""
        if node.op_type != "BatchNormalization" or len(data) != 1:
            return False
        producer = self.src.get(data[0])
        prod = next((n for n in reversed(self.nodes) if n.name == producer), None)
        is_conv = prod is not None and prod.layer is not None and \
            prod.layer.op in ("conv2d", "depthwise_conv2d", "conv_transpose2d")
        if not is_conv or self.readers[data[0]] != 1:
            return False
        self.folded[node.op_type] += 1
        self.fold_into.setdefault(prod.name, []).append(node.name or node.output[0])
        for o in node.output:
            if o:
                self.src[o] = prod.name
        return True

    def convert(self, node, data) -> Node:
        name = self.unique(node)
        missing = [i for i in data if i not in self.src]
        if missing:
            raise WorkloadError(f"{self.keys.model}: node {name!r} ({node.op_type}) reads {missing[0]!r}, which "
                                "no earlier node or graph input produces (a malformed graph)")
        ins = tuple(dict.fromkeys(self.src[i] for i in data))
        out_shape = self.shape(node.output[0]) if node.output and node.output[0] else None
        std = node.domain in ("", "ai.onnx")
        try:
            if std and node.op_type in MAC_OPS:
                layer, extra = self.mac_layer(node, name)
                attrs = {k: v for k, v in extra.items()}
                shape = out_shape or ()
                return Node(name, layer.op, ins, shape=tuple(shape), layer=layer, attrs=tuple(attrs.items()))
            if std and node.op_type in NON_MAC and out_shape is not None:
                a = attributes(node)
                attrs = {k: a[k] for k in KEPT_ATTRS if k in a}
                if node.op_type in ("MaxPool", "AveragePool"):
                    attrs.update(pool_keys(a) or {})      # the IR's keys, as a zoo model's pools have
                if NON_MAC[node.op_type] == "activation" or node.op_type in ("GlobalMaxPool", "Sum", "LogSoftmax"):
                    attrs["onnx_op"] = node.op_type
                return Node(name, NON_MAC[node.op_type], ins, shape=tuple(out_shape), attrs=tuple(attrs.items()))
            reason = "" if out_shape is not None or not node.output else "output shape unknown"
            if std and node.op_type in NON_MAC:
                reason = "output shape unknown"
            raise NotModelled(reason)
        except NotModelled as why:
            attrs = {"onnx_op": node.op_type if std else f"{node.domain}.{node.op_type}"}
            if str(why):
                attrs["reason"] = str(why)
            return Node(name, "other", ins, shape=tuple(out_shape or ()), attrs=tuple(attrs.items()))

    def mac_layer(self, node, name: str):
        xi, wi = MAC_OPS[node.op_type]
        x = self.shape(node.input[xi]) if len(node.input) > xi else None
        w = self.shape(node.input[wi]) if len(node.input) > wi else None
        if x is None or w is None:
            raise NotModelled("operand shape unknown")
        a = attributes(node)
        y = self.shape(node.output[0])
        if node.op_type in ("Conv", "ConvInteger", "QLinearConv"):
            return conv_layer(name, a, x, w, y)
        if node.op_type == "ConvTranspose":
            return conv_transpose_layer(name, a, x, w, y)
        if node.op_type == "Gemm":
            return gemm_layer(name, a, x, w)
        return matmul_layer(name, x, w)

    def network(self, name: str) -> Network:
        nodes = [replace(n, attrs=n.attrs + (("folded", tuple(self.fold_into[n.name])),))
                 if n.name in self.fold_into else n for n in self.nodes]
        return Network(name, tuple(nodes), self.g.inputs)


def _counts(nodes, key) -> tuple[OpCount, ...]:
    acc: dict[str, list] = {}
    for n in nodes:
        e = acc.setdefault(key(n), [0, 0, []])
        e[0] += n.count
        e[1] += n.elements * n.count
        r = n.attr("reason")
        if r and r not in e[2]:
            e[2].append(r)
    return tuple(OpCount(op, c, el, tuple(rs)) for op, (c, el, rs) in acc.items())


def import_model(path, *, batch: int | None = None, inputs: dict | None = None, name: str | None = None,
                 keys: Keys = CONFIG_KEYS) -> ImportResult:
    """Import the ONNX model at `path` (module docstring).

    `batch` sets the first dim of every data input, `inputs` maps input
    names to full shapes (both resolve symbolic dims); `name` names the
    network (default: the file's stem); `keys` names the inputs in errors.
    Raises `WorkloadError` (one line) for the cases in the module docstring.
    """
    g = load_graph(path, batch=batch, inputs=inputs, keys=keys)
    b = _Builder(g, keys)
    b.run()
    if not b.nodes:
        raise WorkloadError(f"{keys.model}: {path}: no node computes on the model's inputs")
    net = b.network(name or Path(path).stem)
    return ImportResult(str(path), net, g.opset,
                        _counts([n for n in net.nodes if not n.is_mac and n.op != "other"], lambda n: n.op),
                        _counts([n for n in net.nodes if n.op == "other"], lambda n: n.attr("onnx_op")),
                        tuple(b.edges.items()), tuple(b.folded.items()), b.parameter_nodes, len(g.nodes))


_CONFIG_KEYS = ("onnx", "batch", "inputs", "name")


def network_from_config(w: dict, name: str, base_dir) -> Network:
    """The network of a YAML ``workload: {onnx: path, batch:, inputs:, name:}``
    section (path relative to `base_dir`, the config's folder)."""
    for k in w:
        if k not in _CONFIG_KEYS:
            raise WorkloadError(f"workload.{k}: unknown key; allowed with onnx: {', '.join(_CONFIG_KEYS[1:])}")
    path = w["onnx"]
    if not isinstance(path, str) or not path:
        raise WorkloadError(f"workload.onnx: must be the path of an .onnx file, got {path!r}")
    net_name = w.get("name", name)
    if not isinstance(net_name, str) or not net_name:
        raise WorkloadError(f"workload.name: must be a non-empty string, got {net_name!r}")
    full = Path(base_dir) / path
    return import_model(full, batch=w.get("batch"), inputs=w.get("inputs"), name=net_name).network


def _layer_dict(n: Node) -> dict:
    d = {"name": n.name, "op": n.op, "macs": n.macs, "shape": list(n.shape), "inputs": list(n.inputs),
         "params": dict(n.layer.params)}
    d.update({k: list(v) if isinstance(v, tuple) else v for k, v in n.attrs})
    return d


def to_json(res: ImportResult) -> str:
    """``{"layers", "non_mac", "not_modelled", "edges", "folded", "total"}`` as JSON text."""
    return json.dumps({
        "model": res.path, "opset": res.opset,
        "layers": [_layer_dict(n) for n in res.layers],
        "non_mac": [{"op": c.op, "count": c.count, "elements": c.elements} for c in res.non_mac],
        "not_modelled": [{"op_type": c.op, "count": c.count, "elements": c.elements,
                          **({"reasons": list(c.reasons)} if c.reasons else {})} for c in res.not_modelled],
        "edges": dict(res.edges), "folded": dict(res.folded), "parameter_nodes": res.parameter_nodes,
        "total": res.totals()}, indent=1)


def summary(res: ImportResult) -> str:
    """The text report of ``codesign import``: layers, other nodes, not modelled, totals."""
    lines = [f"{res.path}: opset {res.opset}, {res.onnx_nodes} ONNX nodes"]
    w = max((len(n.name) for n in res.layers), default=4)
    lines.append(f"  {'layer':<{w}}  {'op':<16} {'output shape':<22} {'MACs':>15}")
    for n in res.layers:
        lines.append(f"  {n.name:<{w}}  {n.op:<16} {'x'.join(map(str, n.shape)):<22} {n.macs:>15,}")
    if res.non_mac:
        lines.append("nodes without MACs (op: count, elements):")
        lines.append("  " + ", ".join(f"{c.op}: {c.count} ({c.elements:,})" for c in res.non_mac))
    lines.append("not modelled (ONNX op: count, elements):" + ("" if res.not_modelled else " none"))
    for c in res.not_modelled:
        why = f"  [{'; '.join(c.reasons)}]" if c.reasons else ""
        lines.append(f"  {c.op}: {c.count} ({c.elements:,}){why}")
    if res.edges:
        lines.append("edges: " + ", ".join(f"{op} {n}" for op, n in res.edges))
    if res.folded:
        lines.append("folded into the preceding conv: " + ", ".join(f"{op} {n}" for op, n in res.folded))
    t = res.totals()
    lines.append(f"total: {t['macs']:,} MACs in {t['layers']} layers; {t['network_nodes']} network nodes; "
                 f"{res.parameter_nodes} parameter/shape nodes")
    return "\n".join(lines)
