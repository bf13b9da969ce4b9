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

Non-MAC nodes get their output shape from their inputs' shapes with
`op_output_shape` (element-wise ops keep the shape, pools follow
`conv_out_size`, ...); `GraphBuilder` adds nodes one by one that way (each
reads the previous node unless told otherwise) and is what the zoo
builders and the YAML ``layers:`` loader use. A reshape or a transpose
between two nodes (a conv's ``(N, C, H, W)`` output read as ``(N*H*W, C)``
rows, ``(tokens, hidden)`` read as ``(heads, tokens, head_dim)``) is an
edge, not a node: consumers see the producer's elements.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Iterable, Sequence

from .ir import Layer, Workload, WorkloadError, conv_out_size

__all__ = ["Node", "Network", "GraphBuilder", "NON_MAC_OPS", "ELEMENTWISE_OPS", "MAC_OPS", "layer_output_shape",
           "layer_input_shape", "op_output_shape", "op_attrs", "SHAPED_OPS"]

#: ops applied element by element: the output has the shape of the first input
ELEMENTWISE_OPS = ("add", "mul", "sub", "div", "relu", "clip", "sigmoid", "gelu", "tanh", "requant",
                   "batchnorm", "identity", "activation", "max", "min", "erf", "sqrt", "pow")
#: ops without MACs that the IR knows by name (others are kept with their element count)
NON_MAC_OPS = ELEMENTWISE_OPS + ("maxpool", "avgpool", "global_avgpool", "softmax", "layernorm", "concat",
                                 "input", "other")
#: ops of MAC nodes (a node with a `Layer`): its op is the layer's op
MAC_OPS = ("conv2d", "depthwise_conv2d", "gemm", "matmul")
#: element-wise ops over several inputs (equal element counts): at least two / exactly two inputs
_VARIADIC, _BINARY = ("add", "mul", "max", "min"), ("sub", "div", "pow")
#: ops whose output shape `op_output_shape` derives (the others need an explicit shape)
SHAPED_OPS = ELEMENTWISE_OPS + ("maxpool", "avgpool", "global_avgpool", "softmax", "layernorm", "concat")


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

def op_output_shape(op: str, inputs: Sequence[tuple[str, tuple[int, ...]]], attrs: dict | None = None
                    ) -> tuple[int, ...]:
    """The output shape of the non-MAC op `op` reading `inputs`, ``(name, shape)`` pairs.

    - element-wise ops (`ELEMENTWISE_OPS`): the first input's shape; ``add``,
      ``mul``, ``max``, ``min`` read two or more inputs, ``sub``, ``div``,
      ``pow`` two, the others one; several inputs must hold as many elements
      each (a reshape between them is an edge, a broadcast is not modelled);
    - ``softmax``, ``layernorm``: the input's shape;
    - ``maxpool``, ``avgpool``: ``(N, C, H, W)`` to ``(N, C, P, Q)`` with
      attrs ``kernel`` (square), ``stride`` (default: the kernel, as
      PyTorch's ``MaxPool2d``), ``padding`` (default 0, at most half the
      kernel, as PyTorch), sizes by `conv_out_size`;
    - ``global_avgpool``: ``(N, C, H, W)`` to ``(N, C)`` (the flattened
      ``(N, C, 1, 1)`` a classifier reads);
    - ``concat``: along attr ``axis`` (default 1: the channels of NCHW, the
      features of ``(rows, features)``), the other axes equal.

    Raises `WorkloadError` with ``<key>: <what is wrong>``, the key being
    ``op``, ``inputs`` or the attr; callers prefix where the node is.
    """
    attrs = dict(attrs or {})
    if op not in SHAPED_OPS:
        raise WorkloadError(f"op: no shape rule for {op!r}; choose from {', '.join(SHAPED_OPS)}")
    n, want = len(inputs), (2, None) if op in _VARIADIC + ("concat",) else (2, 2) if op in _BINARY else (1, 1)
    if n < want[0] or (want[1] is not None and n > want[1]):
        need = f"{want[0]} or more" if want[1] is None else str(want[0])
        raise WorkloadError(f"inputs: {op} reads {need} input{'s' if want[0] > 1 else ''}, got {n}")
    shapes = [tuple(s) for _, s in inputs]
    if op in ELEMENTWISE_OPS:
        counts = [math.prod(s) for s in shapes]
        if len(set(counts)) > 1:
            listed = ", ".join(f"{name}: {c}" for (name, _), c in zip(inputs, counts))
            raise WorkloadError(f"inputs: {op} of inputs with different element counts ({listed})")
        return shapes[0]
    if op in ("softmax", "layernorm"):
        return shapes[0]
    if op == "concat":
        return _concat_shape(inputs, attrs.get("axis", 1))
    (name, shape), = inputs
    if len(shape) != 4:
        raise WorkloadError(f"inputs: {op} reads an (N, C, H, W) tensor; {name!r} has shape {shape}")
    if op == "global_avgpool":
        return shape[:2]
    return _pool_shape(shape, attrs)


def op_attrs(op: str, attrs: dict) -> dict:
    """The attrs a node of `op` keeps: pools' ``stride`` and ``padding`` and concat's ``axis`` with
    their defaults (`op_output_shape`) filled in, so readers of a node need no defaults."""
    out = dict(attrs)
    if op in ("maxpool", "avgpool") and "kernel" in out:
        out.setdefault("stride", out["kernel"])
        out.setdefault("padding", 0)
    if op == "concat":
        out.setdefault("axis", 1)
    return out


def _check_attr(key: str, value, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        kind = "a positive integer" if minimum == 1 else "a non-negative integer"
        raise WorkloadError(f"{key}: must be {kind}, got {value!r}")
    return value


def _pool_shape(shape: tuple[int, ...], attrs: dict) -> tuple[int, ...]:
    """(N, C, P, Q) of a square pooling window over (N, C, H, W)."""
    if "kernel" not in attrs:
        raise WorkloadError("kernel: missing (the pooling window's size)")
    kernel = _check_attr("kernel", attrs["kernel"], 1)
    stride = _check_attr("stride", attrs.get("stride", kernel), 1)
    padding = _check_attr("padding", attrs.get("padding", 0), 0)
    if 2 * padding > kernel:
        raise WorkloadError(f"padding: {padding} is more than half the kernel {kernel}")
    n, c, h, w = shape
    p, q = (conv_out_size(x, kernel, stride, padding, 1) for x in (h, w))
    if p < 1 or q < 1:
        raise WorkloadError(f"kernel: window {kernel}x{kernel} does not fit input {h}x{w} with padding {padding}")
    return (n, c, p, q)


def _concat_shape(inputs: Sequence[tuple[str, tuple[int, ...]]], axis) -> tuple[int, ...]:
    """Shape of the inputs joined along `axis`; the other axes must agree."""
    (first, ref), rank = inputs[0], len(inputs[0][1])
    if isinstance(axis, bool) or not isinstance(axis, int) or not 0 <= axis < rank:
        raise WorkloadError(f"axis: must be an integer in 0..{rank - 1} for {first!r} of shape {tuple(ref)}, "
                            f"got {axis!r}")
    for name, shape in inputs[1:]:
        if len(shape) != rank or any(a != b for i, (a, b) in enumerate(zip(shape, ref)) if i != axis):
            raise WorkloadError(f"inputs: concat along axis {axis} needs the other axes equal: "
                                f"{first!r} has shape {tuple(ref)}, {name!r} {tuple(shape)}")
    return tuple(sum(s[axis] for _, s in inputs) if i == axis else d for i, d in enumerate(ref))


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
        if self.layer is not None and self.op != self.layer.op:
            raise WorkloadError(f"node {self.name!r}: op {self.op!r} differs from its layer's op {self.layer.op!r}")
        if self.layer is None and self.op in MAC_OPS:
            raise WorkloadError(f"node {self.name!r}: op {self.op} needs a layer (its loop nest)")
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
        known = self._check_inputs()
        later = {n.name for n in self.nodes}
        index = {}
        for i, node in enumerate(self.nodes):
            if node.name in known:
                raise WorkloadError(f"network {self.name!r}: duplicate node name {node.name!r}")
            for src in node.inputs:
                if src == node.name:
                    raise WorkloadError(f"network {self.name!r}: node {node.name!r} reads itself (a cycle)")
                if src in later and src not in known:
                    raise WorkloadError(f"network {self.name!r}: node {node.name!r} reads {src!r}, which comes "
                                        "later (nodes go in topological order; a graph has no cycles)")
                if src not in known:
                    raise WorkloadError(f"network {self.name!r}: node {node.name!r} reads {src!r}, which is "
                                        "neither an earlier node nor a graph input")
            known.add(node.name)
            index[node.name] = i
        object.__setattr__(self, "_index", index)

    def _check_inputs(self) -> set[str]:
        """The graph inputs' names, checked: distinct, non-empty, positive integer shapes."""
        names = set()
        for name, shape in self.inputs:
            if not isinstance(name, str) or not name or name in names:
                raise WorkloadError(f"network {self.name!r}: graph input name {name!r} is empty or used twice")
            if any(isinstance(d, bool) or not isinstance(d, int) or d < 1 for d in shape):
                raise WorkloadError(f"network {self.name!r}: graph input {name!r} shape {shape} must hold "
                                    "positive integers")
            names.add(name)
        return names

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


class GraphBuilder:
    """Builds a `Network` node by node, in topological order (the zoo builders use it).

    ``GraphBuilder(name, [("input", shape)])``; `mac` and `op` append a node
    reading the given inputs or, by default, the node appended last (at
    first, the first graph input), and return its name; `build` freezes the
    network (and validates it).
    """

    def __init__(self, name: str, inputs: Sequence[tuple[str, tuple[int, ...]]]):
        self.name = name
        self._inputs = tuple((n, tuple(s)) for n, s in inputs)
        self._shapes = dict(self._inputs)
        self._nodes: list[Node] = []
        self.last = self._inputs[0][0]

    def mac(self, layer: Layer, *inputs: str, count: int = 1) -> str:
        """Append the MAC node of `layer` (named after it) reading `inputs`."""
        return self._add(Node(layer.name, layer.op, inputs or (self.last,), layer=layer, count=count))

    def op(self, name: str, op: str, *inputs: str, shape: tuple[int, ...] | None = None, **attrs) -> str:
        """Append a non-MAC node; its shape is `shape` or, if None, `op_output_shape`'s."""
        srcs = inputs or (self.last,)
        if shape is None:
            try:
                shape = op_output_shape(op, [(s, self.shape_of(s)) for s in srcs], attrs)
            except WorkloadError as err:
                raise WorkloadError(f"network {self.name!r}, node {name!r}: {err}") from None
        return self._add(Node(name, op, srcs, tuple(shape), attrs=tuple(op_attrs(op, attrs).items())))

    def shape_of(self, name: str) -> tuple[int, ...]:
        """Output shape of a node appended so far or of a graph input."""
        if name not in self._shapes:
            raise WorkloadError(f"network {self.name!r}: no node or graph input named {name!r} yet")
        return self._shapes[name]

    def _add(self, node: Node) -> str:
        self._nodes.append(node)
        self._shapes[node.name] = node.shape
        self.last = node.name
        return node.name

    def build(self) -> Network:
        """The network of the nodes appended, in order."""
        return Network(self.name, tuple(self._nodes), self._inputs)
