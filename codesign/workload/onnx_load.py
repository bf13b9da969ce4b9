"""Reading an ONNX file for the importer: load, strip weights, fix symbolic
dims, infer shapes, and tell data tensors from parameters.

Uses the `onnx` package only (https://onnx.ai/onnx/api/): ``onnx.load`` with
``load_external_data=False`` (external weights are never read), large
initializers replaced by typed graph inputs (only their shapes matter, and
the in-memory model stays small), ``onnx.shape_inference.infer_shapes`` with
``data_prop=True`` (so Shape -> Gather -> Reshape chains resolve), and
``infer_shapes_path`` first for files over 2 GB (protobuf's limit for one
message; onnx/onnx ``onnx/shape_inference.py``, ``infer_shapes_path``).

Every failure is a `WorkloadError` of one line naming the key the caller
gave (``workload.onnx`` in a config, ``MODEL`` on the command line).
"""
from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import onnx
from onnx import helper, numpy_helper

from .ir import WorkloadError

__all__ = ["Keys", "CONFIG_KEYS", "OnnxGraph", "load_graph"]

#: protobuf cannot hold one message over 2 GiB (onnx/onnx onnx/checker.py, MAXIMUM_PROTOBUF)
_PROTOBUF_LIMIT_BYTES = 2**31 - 1
#: initializers with more elements than this become shape-only graph inputs
_STRIP_ELEMENTS = 64
#: ops whose output is shape metadata, not tensor data (their consumers are shape arithmetic)
_SHAPE_OPS = ("Shape", "Size")


@dataclass(frozen=True)
class Keys:
    """How errors name the user's inputs (config keys or command-line arguments)."""

    model: str = "workload.onnx"
    batch: str = "workload.batch"
    inputs: str = "workload.inputs"

    def input(self, name: str) -> str:
        return f"{self.inputs}.{name}" if self.inputs.startswith("workload") else f"{self.inputs} {name}"

    def give(self, name: str) -> str:
        """How the user gives input `name`'s full shape: ``workload.inputs.x: [dims]`` or ``--input x=D1,D2,..``."""
        return f"{self.inputs}.{name}: [dims]" if self.inputs.startswith("workload") else f"{self.inputs} {name}=D1,D2,.."


CONFIG_KEYS = Keys()


@dataclass(frozen=True)
class OnnxGraph:
    """A loaded, shape-inferred ONNX graph, ready for conversion.

    `shapes` maps tensor names to concrete shapes (tensors whose shape is
    unknown or symbolic are absent); `const` holds the names of parameter
    tensors (initializers, constants, and anything computed from them or
    from shape metadata only); `inputs` the data graph inputs with shapes;
    `values` the small constant arrays (for attributes given as inputs).
    """

    name: str
    nodes: tuple
    shapes: dict
    const: frozenset
    inputs: tuple
    values: dict
    opset: int
    batch_set: bool = False


def _fail(key: str, path: str, what: str) -> WorkloadError:
    return WorkloadError(f"{key}: {what}" if key == path else f"{key}: {path}: {what}")


def _read(path: Path, key: str) -> onnx.ModelProto:
    """The model without external data (shape inference first for files over 2 GB)."""
    if not path.exists():
        raise _fail(key, str(path), "no such file")
    if not path.is_file():
        raise _fail(key, str(path), "not a file")
    try:
        if path.stat().st_size > _PROTOBUF_LIMIT_BYTES:
            with tempfile.TemporaryDirectory() as tmp:
                out = os.path.join(tmp, "inferred.onnx")
                onnx.shape_inference.infer_shapes_path(str(path), out, data_prop=True)
                model = onnx.load(out, load_external_data=False)
        else:
            model = onnx.load(str(path), load_external_data=False)
    except Exception as e:  # protobuf raises DecodeError, RuntimeWarning-like errors, OSError...
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise _fail(key, str(path), f"not a readable ONNX model ({first})") from None
    if not model.graph.node or model.ir_version < 1:
        raise _fail(key, str(path), "not an ONNX model (no graph nodes)")
    return model


def _strip_weights(model: onnx.ModelProto) -> None:
    """Replace large initializers by graph inputs of the same type and shape."""
    listed = {i.name for i in model.graph.input}
    keep = []
    for init in model.graph.initializer:
        if int(_prod(init.dims)) <= _STRIP_ELEMENTS:
            keep.append(init)
            continue
        if init.name not in listed:
            model.graph.input.append(helper.make_tensor_value_info(init.name, init.data_type, list(init.dims)))
    del model.graph.initializer[:]
    model.graph.initializer.extend(keep)


def _prod(dims) -> int:
    out = 1
    for d in dims:
        out *= int(d)
    return out


def _dims(vi) -> list:
    """A value's dims: ints when known, the symbol (or None) when not; None for an unknown rank."""
    t = vi.type.tensor_type
    if not t.HasField("shape"):
        return None
    return [d.dim_value if d.HasField("dim_value") and d.dim_value > 0 else (d.dim_param or None)
            for d in t.shape.dim]


def _set_dims(vi, dims: list[int]) -> None:
    shape = vi.type.tensor_type.shape
    del shape.dim[:]
    for d in dims:
        shape.dim.add().dim_value = int(d)


def _check_pos_int(key: str, v) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or v < 1:
        raise WorkloadError(f"{key}: must be a positive integer, got {v!r}")
    return v


def _fix_inputs(model, data_inputs, batch, inputs, keys: Keys) -> None:
    """Apply ``inputs`` (name -> dims) and ``batch`` (first dim of every
    other data input); any dim still symbolic is an error naming the key."""
    by_name = {vi.name: vi for vi in data_inputs}
    if inputs is not None and not isinstance(inputs, dict):
        raise WorkloadError(f"{keys.inputs}: must be a mapping of graph input name -> list of dims")
    for name, dims in (inputs or {}).items():
        if name not in by_name:
            raise WorkloadError(f"{keys.input(name)}: no such graph input; the model's inputs are "
                                f"{', '.join(by_name) or '(none)'}")
        if not isinstance(dims, (list, tuple)) or not dims:
            raise WorkloadError(f"{keys.input(name)}: must be a list of dims, got {dims!r}")
        for i, d in enumerate(dims):
            _check_pos_int(f"{keys.input(name)}[{i}]", d)
        have = _dims(by_name[name])
        if have is not None and len(have) != len(dims):
            raise WorkloadError(f"{keys.input(name)}: {list(dims)} has rank {len(dims)}, the model's input "
                                f"has rank {len(have)} ({have})")
        _set_dims(by_name[name], list(dims))
    if batch is not None:
        _check_pos_int(keys.batch, batch)
    for vi in data_inputs:
        dims = _dims(vi)
        if dims is None:
            raise WorkloadError(f"{keys.input(vi.name)}: the model gives no shape for this input; "
                                f"give it as {keys.give(vi.name)}")
        if batch is not None and vi.name not in (inputs or {}) and dims:
            dims[0] = batch
        for i, d in enumerate(dims):
            if not isinstance(d, int):
                sym = f" ({d!r})" if d else ""
                raise WorkloadError(f"{keys.input(vi.name)}: dimension {i}{sym} is symbolic; give {keys.batch} "
                                    f"or {keys.give(vi.name)}")
        _set_dims(vi, dims)


def load_graph(path, *, batch=None, inputs=None, keys: Keys = CONFIG_KEYS) -> OnnxGraph:
    """Load `path`, fix symbolic dims, infer shapes (module docstring).

    Raises `WorkloadError` for a missing, unreadable or malformed file, an
    unknown input name, a symbolic dim left unresolved, or a shape the
    model's ops reject (ONNX shape inference fails).
    """
    path = Path(path)
    model = _read(path, keys.model)
    inits = {i.name for i in model.graph.initializer}
    big = {i.name for i in model.graph.initializer if _prod(i.dims) > _STRIP_ELEMENTS}
    params = _param_inputs(model)
    data_inputs = [vi for vi in model.graph.input if vi.name not in inits and vi.name not in params]
    _fix_inputs(model, data_inputs, batch, inputs, keys)
    _strip_weights(model)
    for vi in model.graph.value_info:   # stale intermediate shapes would contradict a new batch
        vi.type.tensor_type.ClearField("shape")
    try:
        inferred = onnx.shape_inference.infer_shapes(model, check_type=False, strict_mode=True, data_prop=True)
    except Exception as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        what = f"shape inference failed ({first[:300]})"
        key = keys.batch if batch is not None else keys.model
        raise _fail(key, str(path), what) from None
    g = inferred.graph
    shapes = {}
    for vi in list(g.input) + list(g.value_info) + list(g.output):
        dims = _dims(vi)
        if dims is not None and all(isinstance(d, int) for d in dims):
            shapes[vi.name] = tuple(dims)
    for init in g.initializer:
        shapes[init.name] = tuple(int(d) for d in init.dims)
    values = {i.name: numpy_helper.to_array(i) for i in g.initializer}
    const = set(inits) | big | params
    data_names = {vi.name for vi in data_inputs}
    for node in g.node:
        if node.op_type == "Constant":
            for a in node.attribute:
                if a.name == "value":
                    values[node.output[0]] = numpy_helper.to_array(a.t)
        if node.op_type in _SHAPE_OPS or not any(i and i not in const for i in node.input):
            const.update(o for o in node.output if o)
    opset = next((o.version for o in inferred.opset_import if o.domain in ("", "ai.onnx")), 0)
    name = g.name or path.stem
    return OnnxGraph(name, tuple(g.node), shapes, frozenset(const),
                     tuple((vi.name, shapes[vi.name]) for vi in g.input if vi.name in data_names),
                     values, opset, batch is not None)


#: (op type, input index) slots that hold parameters, never activations
_PARAM_SLOTS = {"Conv": 1, "ConvTranspose": 1, "BatchNormalization": 1, "Gemm": 1, "Reshape": 1,
                "Expand": 1, "Tile": 1, "Pad": 1, "Slice": 1, "Split": 1, "Squeeze": 1, "Unsqueeze": 1,
                "Clip": 1, "Resize": 1, "Upsample": 1, "LayerNormalization": 1, "InstanceNormalization": 1,
                "GroupNormalization": 1, "PRelu": 1, "QuantizeLinear": 1, "DequantizeLinear": 1,
                "ConstantOfShape": 0, "TopK": 1, "ReduceMean": 1, "ReduceSum": 1, "ReduceMax": 1,
                "ConvInteger": 1}


def _param_inputs(model) -> set[str]:
    """Graph inputs read only in parameter slots (weights stripped to graph inputs)."""
    uses: dict[str, list] = {}
    for n in model.graph.node:
        for i, x in enumerate(n.input):
            uses.setdefault(x, []).append((n.op_type, i))
    return {vi.name for vi in model.graph.input
            if uses.get(vi.name) and all(op in _PARAM_SLOTS and i >= _PARAM_SLOTS[op] for op, i in uses[vi.name])}
