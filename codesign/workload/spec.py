"""Networks from plain specs: the ``layers:`` list of a YAML workload.

A MAC layer spec is a mapping with an ``op`` and the arguments of that op's
constructor in `codesign.workload` (same names, same defaults)::

    {name: fc, op: gemm, M: 256, N: 256, K: 256}
    {name: c3, op: conv2d, N: 1, C: 128, H: 28, W: 28, K: 128, R: 3, S: 3, stride: 1, padding: 1}
    {op: depthwise_conv2d, N: 1, C: 32, H: 56, W: 56, R: 3, S: 3, stride: 2, padding: 1}
    {op: matmul, B: 12, M: 128, N: 128, K: 64, count: 12}

Every MAC op also takes ``name`` (default ``<op>_<index>``), ``count`` (it
stands for that many identical instances in sequence), ``inputs`` and
``in_bits``, ``w_bits``, ``out_bits`` (default 8, 8, 32).

**The list is a graph.** A spec without ``inputs`` reads the node before
it (the first reads the graph input ``input``, shaped as the first layer's
input), so a plain list is a chain. ``inputs: [conv1, skip]`` names what a
node reads: earlier nodes or ``input`` (a graph has no cycles: list the
nodes in topological order). gemm and conv layers read one input, matmul one
or two (its two operands). The MAC layers' shapes need not match what they
read (a list of independent layers is a legitimate workload). Nodes without
MACs may be listed too, with ``name``, ``op`` and ``inputs``; their output
shape comes from their inputs (`codesign.workload.graph.op_output_shape`):

- element-wise ops (``relu``, ``gelu``, ``sigmoid``, ... one input;
  ``add``, ``mul``, ``max``, ``min`` two or more; ``sub``, ``div``, ``pow``
  two): inputs of equal element counts (a reshape between them is fine);
  ``clip`` takes ``min`` and ``max`` (numbers);
- ``maxpool``, ``avgpool`` over ``(N, C, H, W)``: ``kernel``, ``stride``
  (default: the kernel), ``padding`` (default 0); ``global_avgpool``;
- ``softmax``, ``layernorm``; ``concat`` along ``axis`` (default 1, the
  channels);
- ``other``: an op the IR does not model (``onnx_op``, ``reason``: strings,
  what `codesign import -o` writes for it), with ``shape`` required (``[]``
  when the model leaves it unknown).

A node without MACs may give its output ``shape: [dims]`` (what ``codesign
import -o`` writes where the rule's shape differs from the model's); then
that shape is used and the shape rule is not applied.

A residual block::

    - {name: conv0, op: conv2d, N: 1, C: 64, H: 56, W: 56, K: 64, R: 3, S: 3, padding: 1}
    - {name: relu0, op: relu}
    - {name: conv1, op: conv2d, N: 1, C: 64, H: 56, W: 56, K: 64, R: 3, S: 3, padding: 1}
    - {name: add1, op: add, inputs: [conv1, conv0]}
    - {name: pool, op: maxpool, kernel: 3, stride: 2, padding: 1}
"""
from __future__ import annotations

from dataclasses import dataclass

from codesign.workload.graph import (SHAPED_OPS, Network, Node, layer_input_shape, op_attrs,
                                     op_output_shape)
from codesign.workload.ir import Layer, WorkloadError, conv2d, depthwise_conv2d, gemm, matmul
from codesign.errors import short

__all__ = ["layers_from_spec", "network_from_spec", "OPS", "NODE_OPS"]

# op -> (constructor, required keys, optional keys: the constructor's defaults apply)
OPS = {
    "gemm": (gemm, ("M", "N", "K"), ()),
    "conv2d": (conv2d, ("N", "C", "H", "W", "K", "R", "S"), ("stride", "padding", "dilation", "groups")),
    "depthwise_conv2d": (depthwise_conv2d, ("N", "C", "H", "W", "R", "S"),
                         ("stride", "padding", "dilation", "multiplier")),
    "matmul": (matmul, ("B", "M", "N", "K"), ()),
}
#: ops without MACs a spec may list -> their optional keys
NODE_OPS = {op: () for op in SHAPED_OPS} | {
    "maxpool": ("kernel", "stride", "padding"), "avgpool": ("kernel", "stride", "padding"),
    "concat": ("axis",), "clip": ("min", "max"), "other": ("onnx_op", "reason")}
_BITS = ("in_bits", "w_bits", "out_bits")
_COMMON = ("name", "op", "count", "inputs") + _BITS
_NODE_COMMON = ("name", "op", "inputs", "shape")
_GRAPH_INPUT = "input"


@dataclass(frozen=True)
class _Spec:
    """One parsed spec: its key path, name, op, the inputs it names (None: the previous node)."""

    where: str
    name: str
    op: str
    inputs: tuple[str, ...] | None
    layer: Layer | None = None
    count: int | None = None
    attrs: tuple[tuple[str, object], ...] = ()
    shape: tuple[int, ...] | None = None


def network_from_spec(specs: list[dict], name: str, *, path: str = "workload.layers") -> Network:
    """The network (a graph; a chain by default) a ``layers:`` list describes (module docstring).

    Raises `WorkloadError` with one line naming the key path (``path`` is
    its prefix), e.g. ``workload.layers[3].inputs[1]: no node named 'conv9'
    before this one``, for: a non-list or empty list, a spec that is not a
    mapping, a missing ``op`` or required key, an unknown op or key, a value
    that is not a positive integer (``padding``: non-negative), a name that
    is empty, used twice or ``input``, a shape the constructor rejects, an
    input that names no earlier node (unknown, later, or the node itself),
    a wrong number of inputs, and inputs whose shapes the op cannot take
    (an ``add`` of different element counts, a pool window larger than its
    input, ...).
    """
    return _build(_parse(specs, path), name, path)


def layers_from_spec(specs: list[dict], *, path: str = "workload.layers") -> list[Layer | tuple[Layer, int]]:
    """The MAC layers of a ``layers:`` list, in order (the whole list is checked as `network_from_spec` does).

    Returns one item per MAC layer spec: the `Layer` itself when the spec has
    no ``count`` key, else the tuple ``(layer, count)``; both forms are what
    `Workload.from_layers` accepts.
    """
    parsed = _parse(specs, path)
    _build(parsed, "spec", path)
    return [s.layer if s.count is None else (s.layer, s.count) for s in parsed if s.layer is not None]


def _parse(specs, path: str) -> list[_Spec]:
    """Every spec checked on its own, names checked unique."""
    if not isinstance(specs, list) or not specs:
        raise WorkloadError(f"{path}: must be a non-empty list of layer specs, got {specs!r}")
    out: list[_Spec] = []
    seen: dict[str, int] = {}
    for i, spec in enumerate(specs):
        item = _spec(f"{path}[{i}]", spec, i)
        if item.name in seen:
            raise WorkloadError(f"{item.where}.name: duplicate name {item.name!r} (also {path}[{seen[item.name]}])")
        seen[item.name] = i
        out.append(item)
    return out


def _build(parsed: list[_Spec], name: str, path: str) -> Network:
    """Resolve inputs and shapes in order; the graph input is shaped as the first layer's input."""
    first = parsed[0]
    if first.layer is None:
        raise WorkloadError(f"{first.where}.op: the first node must be a MAC layer (the graph input "
                            f"{_GRAPH_INPUT!r} is shaped as its input), got {first.op}")
    shapes = {_GRAPH_INPUT: layer_input_shape(first.layer)}
    later = {s.name: s.where for s in parsed}
    nodes, prev = [], _GRAPH_INPUT
    for s in parsed:
        srcs = s.inputs if s.inputs is not None else (prev,)
        for j, src in enumerate(srcs):
            if src not in shapes:
                raise WorkloadError(f"{s.where}.inputs[{j}]: {_unknown(s, src, later)}")
        if s.layer is not None:
            most = 2 if s.op == "matmul" else 1
            if len(srcs) > most:
                raise WorkloadError(f"{s.where}.inputs: {s.op} reads {'1 or 2 inputs' if most == 2 else '1 input'}, "
                                    f"got {len(srcs)}")
            node = Node(s.name, s.layer.op, srcs, layer=s.layer, count=s.count or 1)
        else:
            try:
                shape = s.shape if s.shape is not None else \
                    op_output_shape(s.op, [(x, shapes[x]) for x in srcs], dict(s.attrs))
            except WorkloadError as err:
                raise WorkloadError(f"{s.where}.{err}") from None
            node = Node(s.name, s.op, srcs, shape, attrs=tuple(op_attrs(s.op, dict(s.attrs)).items()))
        nodes.append(node)
        shapes[s.name], prev = node.shape, s.name
    return Network(name, tuple(nodes), ((_GRAPH_INPUT, shapes[_GRAPH_INPUT]),))


def _unknown(s: _Spec, src: str, later: dict[str, str]) -> str:
    """Why `src` is not something node `s` can read."""
    if src == s.name:
        return f"{src!r} is this node itself (a cycle)"
    if src in later:
        return (f"{src!r} comes later ({later[src]}); a node reads only earlier nodes "
                "(list them in topological order; a graph has no cycles)")
    return f"no node named {src!r} before this one"


def _spec(where: str, spec, index: int) -> _Spec:
    """Spec number ``index`` checked and parsed; ``where`` prefixes error messages."""
    if not isinstance(spec, dict):
        raise WorkloadError(f"{where}: must be a mapping of keys to values, got {type(spec).__name__}")
    choices = ", ".join(list(OPS) + list(NODE_OPS))
    if "op" not in spec:
        raise WorkloadError(f"{where}: missing key 'op'; choose from {choices}")
    op = spec["op"]
    if not isinstance(op, str) or (op not in OPS and op not in NODE_OPS):
        raise WorkloadError(f"{where}.op: unknown op {short(op)}; choose from {choices}")
    allowed = _COMMON + OPS[op][1] + OPS[op][2] if op in OPS else _NODE_COMMON + NODE_OPS[op]
    for key in spec:
        if key not in allowed:
            raise WorkloadError(f"{where}: unknown key {key!r} for op {op}; choose from {', '.join(allowed)}")
    name = spec.get("name", f"{op}_{index}")
    if not isinstance(name, str) or not name:
        raise WorkloadError(f"{where}.name: must be a non-empty string, got {name!r}")
    if name == _GRAPH_INPUT:
        raise WorkloadError(f"{where}.name: {name!r} is the graph input's name; choose another")
    inputs = _inputs(where, spec["inputs"]) if "inputs" in spec else None
    if op not in OPS:
        shape = _shape(where, spec.get("shape"), op)
        return _Spec(where, name, op, inputs, attrs=tuple(sorted(_attrs(where, op, spec).items())), shape=shape)
    layer, count = _layer(where, spec, op, name)
    return _Spec(where, name, op, inputs, layer, count)


def _inputs(where: str, value) -> tuple[str, ...]:
    if not isinstance(value, list) or not value:
        raise WorkloadError(f"{where}.inputs: must be a non-empty list of node names, got {value!r}")
    for j, src in enumerate(value):
        if not isinstance(src, str) or not src:
            raise WorkloadError(f"{where}.inputs[{j}]: must be a node name (a non-empty string), got {src!r}")
    return tuple(value)


def _shape(where: str, value, op: str) -> tuple[int, ...] | None:
    """A non-MAC node's ``shape`` (None when absent; required for ``other``)."""
    if value is None and op == "other":
        raise WorkloadError(f"{where}: missing key 'shape'; op other (not modelled) needs its output shape")
    if value is not None and (not isinstance(value, list) or (not value and op != "other") or any(
            isinstance(d, bool) or not isinstance(d, int) or d < 1 for d in value)):
        raise WorkloadError(f"{where}.shape: must be a non-empty list of positive integers, got {value!r}")
    return tuple(value) if value is not None else None


def _attrs(where: str, op: str, spec: dict) -> dict:
    """The op's own keys of a non-MAC spec (pool sizes are checked with the shapes)."""
    attrs = {k: spec[k] for k in NODE_OPS[op] if k in spec}
    for key in ("min", "max"):
        v = attrs.get(key)
        if key in attrs and (isinstance(v, bool) or not isinstance(v, (int, float))):
            raise WorkloadError(f"{where}.{key}: must be a number, got {v!r}")
    for key in ("onnx_op", "reason"):
        if key in attrs and (not isinstance(attrs[key], str) or not attrs[key]):
            raise WorkloadError(f"{where}.{key}: must be a non-empty string, got {attrs[key]!r}")
    if "min" in attrs and "max" in attrs and attrs["min"] > attrs["max"]:
        raise WorkloadError(f"{where}.max: {attrs['max']} is below min {attrs['min']}")
    return attrs


def _layer(where: str, spec: dict, op: str, name: str) -> tuple[Layer, int | None]:
    """The Layer of a MAC spec and its ``count`` (None when the key is absent)."""
    build, required, optional = OPS[op]
    for key in required:
        if key not in spec:
            raise WorkloadError(f"{where}: missing key {key!r}; {op} needs {', '.join(required)}")
    for key in required + optional + _BITS + ("count",):
        if key in spec:
            _check_int(f"{where}.{key}", spec[key], 0 if key == "padding" else 1)
    groups = spec.get("groups", 1)
    if op == "conv2d" and (spec["C"] % groups or spec["K"] % groups):
        raise WorkloadError(f"{where}.groups: {groups} must divide C={spec['C']} and K={spec['K']}")
    kwargs = {key: spec[key] for key in required + optional + _BITS if key in spec}
    try:
        layer = build(name=name, **kwargs)
    except WorkloadError as err:
        raise WorkloadError(f"{where}: {err}") from None
    return layer, spec.get("count")


def _check_int(where: str, value, minimum: int) -> None:
    """Raise WorkloadError unless ``value`` is an int (not a bool) >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        kind = "a positive integer" if minimum == 1 else "a non-negative integer"
        raise WorkloadError(f"{where}: must be {kind}, got {value!r}")
