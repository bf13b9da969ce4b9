"""The network graph IR: layer instances and the tensors between them.

A `Network` is a list of `Node`s in topological order. A node is either a
*MAC node* (it carries a `Layer`, the loop nest of a conv, gemm or matmul)
or a node without MACs (element-wise add, activation, pooling,
normalization, softmax, concat, ...) with the shape of what it produces,
so nothing in a network is silently absent. A node's `inputs` name the
nodes (or graph inputs) it reads; the edges of the graph are those names.

Families that map per unique layer shape use `Network.unique()` (one
`Workload` entry per distinct loop nest, with its instance count and the
names it stands for); families that build one engine per layer instance
(a layer pipeline) walk `Network.nodes` and the edges.

A node's `count` (default 1) says that it stands for `count` identical
instances in sequence (the ``count:`` key of a YAML layer spec); the
per-shape view adds them up.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Iterable

from .ir import Layer, Workload, WorkloadError

__all__ = ["Node", "Network", "NON_MAC_OPS", "ELEMENTWISE_OPS", "layer_output_shape", "layer_input_shape"]

#: ops applied element by element: the output has the shape of the first input
ELEMENTWISE_OPS = ("add", "mul", "sub", "div", "relu", "clip", "sigmoid", "gelu", "tanh", "requant",
                   "batchnorm", "identity", "activation", "max", "min", "erf", "sqrt", "pow")
#: ops without MACs that the IR knows by name (others are kept with their element count)
NON_MAC_OPS = ELEMENTWISE_OPS + ("maxpool", "avgpool", "global_avgpool", "softmax", "layernorm", "concat",
                                 "input", "other")


def layer_output_shape(layer: Layer) -> tuple[int, ...]:
    """The output tensor's shape: conv (N, K, P, Q), gemm (M, N), matmul (B, M, N)."""
    b, p = layer.bounds, dict(layer.params)
    if layer.op in ("conv2d", "depthwise_conv2d"):
        return (b["N"], p["K"], b["P"], b["Q"])
    if layer.op == "matmul":
        return (b["B"], b["M"], b["N"])
    if layer.op == "gemm":
        return (b["M"], b["N"])
    return (layer.footprint("outputs"),)


def layer_input_shape(layer: Layer) -> tuple[int, ...]:
    """The input tensor's shape (unpadded): conv (N, C, H, W), gemm (M, K), matmul (B, M, K)."""
    b, p = layer.bounds, dict(layer.params)
    if layer.op in ("conv2d", "depthwise_conv2d"):
        return (b["N"], p["C"], p["H"], p["W"])
    if layer.op == "matmul":
        return (b["B"], b["M"], b["K"])
    if layer.op == "gemm":
        return (b["M"], b["K"])
    return (layer.footprint("inputs"),)


@dataclass(frozen=True)
class Node:
    """One node of a network graph (module docstring).

    `shape` is the shape of the node's output tensor; for a MAC node it
    defaults to the layer's output shape. `attrs` holds op parameters
    (pool kernel and stride, the ONNX op type of an unmodelled op, ...) as
    sorted ``(key, value)`` pairs so that nodes stay hashable.
    """

    name: str
    op: str
    inputs: tuple[str, ...] = ()
    shape: tuple[int, ...] = ()
    layer: Layer | None = None
    count: int = 1
    attrs: tuple[tuple[str, object], ...] = ()

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name:
            raise WorkloadError("node name: must be a non-empty string")
        if isinstance(self.count, bool) or not isinstance(self.count, int) or self.count < 1:
            raise WorkloadError(f"node {self.name!r}: count must be a positive integer, got {self.count!r}")
        if self.layer is not None and not self.shape:
            object.__setattr__(self, "shape", layer_output_shape(self.layer))
        for d in self.shape:
            if isinstance(d, bool) or not isinstance(d, int) or d < 1:
                raise WorkloadError(f"node {self.name!r}: shape {self.shape} must hold positive integers")
        object.__setattr__(self, "inputs", tuple(self.inputs))
        object.__setattr__(self, "attrs", tuple(sorted(dict(self.attrs).items())))

    @property
    def is_mac(self) -> bool:
        return self.layer is not None

    @property
    def elements(self) -> int:
        """Elements of the output tensor (one instance)."""
        return math.prod(self.shape) if self.shape else 0

    @property
    def macs(self) -> int:
        """Multiply-accumulates of all `count` instances."""
        return self.layer.macs * self.count if self.layer is not None else 0

    def attr(self, key: str, default=None):
        return dict(self.attrs).get(key, default)


@dataclass(frozen=True)
class Network:
    """A network: `nodes` in topological order (every input names an earlier
    node or one of `inputs`, the graph inputs as ``(name, shape)`` pairs)."""

    name: str
    nodes: tuple[Node, ...]
    inputs: tuple[tuple[str, tuple[int, ...]], ...] = ()
    _index: dict = field(default=None, init=False, repr=False, compare=False, hash=False)

    def __post_init__(self):
        object.__setattr__(self, "nodes", tuple(self.nodes))
        object.__setattr__(self, "inputs", tuple((n, tuple(s)) for n, s in self.inputs))
        known = {n for n, _ in self.inputs}
        index = {}
        for i, node in enumerate(self.nodes):
            if node.name in known:
                raise WorkloadError(f"network {self.name!r}: duplicate node name {node.name!r}")
            for src in node.inputs:
                if src not in known:
                    raise WorkloadError(f"network {self.name!r}: node {node.name!r} reads {src!r}, which is "
                                        "neither an earlier node nor a graph input")
            known.add(node.name)
            index[node.name] = i
        object.__setattr__(self, "_index", index)

    # -- construction ---------------------------------------------------------
    @classmethod
    def chain(cls, name: str, layers: Iterable[Layer | tuple[Layer, int]]) -> "Network":
        """Layers in sequence, each reading the previous one's output (the
        first reads the graph input ``input``); ``(layer, count)`` items
        stand for `count` instances."""
        nodes, prev = [], None
        first_shape = None
        for item in layers:
            layer, n = item if isinstance(item, tuple) else (item, 1)
            if prev is None:
                first_shape = layer_input_shape(layer)
            nodes.append(Node(layer.name, layer.op, (prev or "input",), layer=layer, count=n))
            prev = layer.name
        if not nodes:
            raise WorkloadError(f"workload {name!r}: has no layers")
        return cls(name, tuple(nodes), (("input", first_shape),))

    # -- views ----------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.nodes)

    def node(self, name: str) -> Node:
        """The node of that name (KeyError if none)."""
        return self.nodes[self._index[name]]

    @property
    def layers(self) -> tuple[Node, ...]:
        """The MAC nodes, in topological order."""
        return tuple(n for n in self.nodes if n.is_mac)

    @property
    def edges(self) -> tuple[tuple[str, str], ...]:
        """(producer, consumer) pairs; producers may be graph inputs."""
        return tuple((src, n.name) for n in self.nodes for src in n.inputs)

    def consumers(self, name: str) -> tuple[str, ...]:
        """Names of the nodes that read `name`'s output."""
        return tuple(n.name for n in self.nodes if name in n.inputs)

    def shape_of(self, name: str) -> tuple[int, ...]:
        """Output shape of a node or graph input."""
        if name in self._index:
            return self.node(name).shape
        return dict(self.inputs)[name]

    @property
    def macs(self) -> int:
        return sum(n.macs for n in self.nodes)

    def layer(self, name: str) -> Layer:
        """The loop nest of the MAC node `name` (KeyError if there is none)."""
        node = self.nodes[self._index[name]] if name in self._index else None
        if node is None or node.layer is None:
            raise KeyError(name)
        return node.layer

    def unique(self) -> Workload:
        """The per-shape view: one entry per distinct loop nest with the
        number of instances, named after its first instance (the others are
        its aliases), in order of first appearance."""
        macs = [(n.layer, n.count) for n in self.nodes if n.layer is not None]
        if not macs:
            raise WorkloadError(f"workload {self.name!r}: has no layers with MACs")
        return Workload.from_layers(self.name, macs)
