"""Layers from plain specs: the ``layers:`` list of a YAML workload.

A spec is a mapping with an ``op`` and the arguments of that op's
constructor in `codesign.workload` (same names, same defaults)::

    {name: fc, op: gemm, M: 256, N: 256, K: 256}
    {name: c3, op: conv2d, N: 1, C: 128, H: 28, W: 28, K: 128, R: 3, S: 3, stride: 1, padding: 1}
    {op: depthwise_conv2d, N: 1, C: 32, H: 56, W: 56, R: 3, S: 3, stride: 2, padding: 1}
    {op: matmul, B: 12, M: 128, N: 128, K: 64, count: 12}

Every op also takes ``name`` (default ``<op>_<index>``), ``count`` (a repeat
count) and ``in_bits``, ``w_bits``, ``out_bits`` (default 8, 8, 32).
"""
from __future__ import annotations

from codesign.workload.graph import Network
from codesign.workload.ir import Layer, WorkloadError, conv2d, depthwise_conv2d, gemm, matmul

__all__ = ["layers_from_spec", "network_from_spec", "OPS"]

# op -> (constructor, required keys, optional keys: the constructor's defaults apply)
OPS = {
    "gemm": (gemm, ("M", "N", "K"), ()),
    "conv2d": (conv2d, ("N", "C", "H", "W", "K", "R", "S"), ("stride", "padding", "dilation", "groups")),
    "depthwise_conv2d": (depthwise_conv2d, ("N", "C", "H", "W", "R", "S"),
                         ("stride", "padding", "dilation", "multiplier")),
    "matmul": (matmul, ("B", "M", "N", "K"), ()),
}
_BITS = ("in_bits", "w_bits", "out_bits")
_COMMON = ("name", "op", "count") + _BITS


def layers_from_spec(specs: list[dict], *, path: str = "workload.layers") -> list[Layer | tuple[Layer, int]]:
    """Build the layers a list of specs describes, in order.

    Returns one item per spec: the `Layer` itself when the spec has no
    ``count`` key, else the tuple ``(layer, count)``. Both forms are what
    `Workload.from_layers` accepts, so
    ``Workload.from_layers(name, layers_from_spec(specs))`` builds a workload.

    Raises `WorkloadError` with one line naming the key path (``path`` is
    its prefix), e.g. ``workload.layers[1].K: must be a positive integer,
    got -3``, for: a non-list or empty list, a spec that is not a mapping,
    a missing ``op`` or required key, an unknown op or key, a value that is
    not a positive integer (``padding``: non-negative), a name that is empty
    or used twice, and a shape the constructor rejects.
    """
    if not isinstance(specs, list) or not specs:
        raise WorkloadError(f"{path}: must be a non-empty list of layer specs, got {specs!r}")
    out: list[Layer | tuple[Layer, int]] = []
    seen: dict[str, int] = {}
    for i, spec in enumerate(specs):
        where = f"{path}[{i}]"
        item = _layer_from_spec(where, spec, i)
        layer = item[0] if isinstance(item, tuple) else item
        if layer.name in seen:
            raise WorkloadError(f"{where}.name: duplicate name {layer.name!r} (also {path}[{seen[layer.name]}])")
        seen[layer.name] = i
        out.append(item)
    return out


def _layer_from_spec(where: str, spec, index: int) -> Layer | tuple[Layer, int]:
    """Spec number ``index`` to a Layer (or (Layer, count)); ``where`` prefixes error messages."""
    if not isinstance(spec, dict):
        raise WorkloadError(f"{where}: must be a mapping of keys to values, got {type(spec).__name__}")
    choices = ", ".join(OPS)
    if "op" not in spec:
        raise WorkloadError(f"{where}: missing key 'op'; choose from {choices}")
    op = spec["op"]
    if not isinstance(op, str) or op not in OPS:
        raise WorkloadError(f"{where}.op: unknown op {op!r}; choose from {choices}")
    build, required, optional = OPS[op]
    allowed = _COMMON + required + optional
    for key in spec:
        if key not in allowed:
            raise WorkloadError(f"{where}: unknown key {key!r} for op {op}; choose from {', '.join(allowed)}")
    for key in required:
        if key not in spec:
            raise WorkloadError(f"{where}: missing key {key!r}; {op} needs {', '.join(required)}")
    for key in required + optional + _BITS + ("count",):
        if key in spec:
            _check_int(f"{where}.{key}", spec[key], 0 if key == "padding" else 1)
    name = spec.get("name", f"{op}_{index}")
    if not isinstance(name, str) or not name:
        raise WorkloadError(f"{where}.name: must be a non-empty string, got {name!r}")
    groups = spec.get("groups", 1)
    if op == "conv2d" and (spec["C"] % groups or spec["K"] % groups):
        raise WorkloadError(f"{where}.groups: {groups} must divide C={spec['C']} and K={spec['K']}")
    kwargs = {key: spec[key] for key in required + optional + _BITS if key in spec}
    try:
        layer = build(name=name, **kwargs)
    except WorkloadError as err:
        raise WorkloadError(f"{where}: {err}") from None
    return (layer, spec["count"]) if "count" in spec else layer


def _check_int(where: str, value, minimum: int) -> None:
    """Raise WorkloadError unless ``value`` is an int (not a bool) >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        kind = "a positive integer" if minimum == 1 else "a non-negative integer"
        raise WorkloadError(f"{where}: must be {kind}, got {value!r}")


def network_from_spec(specs: list[dict], name: str, *, path: str = "workload.layers") -> Network:
    """The network a ``layers:`` list describes (a chain of its layers)."""
    return Network.chain(name, layers_from_spec(specs, path=path))
