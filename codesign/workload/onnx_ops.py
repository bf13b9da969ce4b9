"""ONNX operators -> loop nests (`Layer`s) of the workload IR, and the
tables that sort every other operator into a non-MAC node, an edge or
"not modelled".

Attribute semantics follow the ONNX operator spec (onnx/onnx docs/Operators.md):
Conv ``pads`` are ``[x1_begin, x2_begin, x1_end, x2_end]``, ``auto_pad``
SAME_UPPER puts the odd pad at the end, SAME_LOWER at the beginning, the
output size is ``floor((H + pad_begin + pad_end - d(R-1) - 1) / s) + 1``;
Gemm is ``alpha * A' B' + beta * C`` with ``A'`` = transpose(A) if
``transA``; MatMul follows numpy.matmul (batch dims broadcast, 1-D operands
promoted). Each converter returns ``(layer, attrs)`` or raises `NotModelled`
with the reason, which the importer reports beside the op type.

**Asymmetric pads** (and a 1-D conv's pads, or pads that differ between H
and W) are modelled by their effect on H and W: the layer is built with
``padding=0`` on the input as padded (``H + pad_top + pad_bottom``,
``W + pad_left + pad_right``), which gives the exact output size, loop
bounds and tensor projections (the IR's ``inputs`` axes already index the
padded input); the node's attrs keep ``pads`` (top, left, bottom, right)
and ``input_hw``, the unpadded size. Symmetric pads use ``padding``.
"""
from __future__ import annotations

import math

from .ir import Layer, Tensor, Axis, WorkloadError, conv2d, gemm, matmul

__all__ = ["NotModelled", "MAC_OPS", "NON_MAC", "EDGE_OPS", "conv_layer", "conv_transpose_layer",
           "gemm_layer", "matmul_layer", "attributes", "pool_keys"]


class NotModelled(Exception):
    """The node is a known MAC op in a form the loop-nest IR does not express (message: why)."""


#: data input index and weight input index of each MAC op
MAC_OPS = {"Conv": (0, 1), "ConvInteger": (0, 1), "QLinearConv": (0, 3), "ConvTranspose": (0, 1),
           "Gemm": (0, 1), "MatMul": (0, 1), "MatMulInteger": (0, 1), "QLinearMatMul": (0, 3)}

_ACTIVATIONS = ("LeakyRelu", "Elu", "Selu", "Celu", "PRelu", "HardSigmoid", "HardSwish", "Softplus",
                "Softsign", "Mish", "Exp", "Log", "Neg", "Abs", "Reciprocal", "ThresholdedRelu")
#: ONNX op type -> our non-MAC op (codesign.workload.graph.NON_MAC_OPS)
NON_MAC = {"Relu": "relu", "Clip": "clip", "Add": "add", "Sum": "add", "Mul": "mul", "Sub": "sub",
           "Div": "div", "Sigmoid": "sigmoid", "Gelu": "gelu", "Tanh": "tanh", "Erf": "erf", "Sqrt": "sqrt",
           "Pow": "pow", "Max": "max", "Min": "min", "BatchNormalization": "batchnorm",
           "MaxPool": "maxpool", "GlobalMaxPool": "maxpool", "AveragePool": "avgpool",
           "GlobalAveragePool": "global_avgpool", "Softmax": "softmax", "LogSoftmax": "softmax",
           "LayerNormalization": "layernorm", "Concat": "concat",
           **{a: "activation" for a in _ACTIVATIONS}}
#: ops that only move or relabel data: their outputs are their data input (edges of the graph);
#: Dropout and Identity are no-ops at inference
EDGE_OPS = ("Reshape", "Transpose", "Flatten", "Split", "Squeeze", "Unsqueeze", "Identity", "Dropout")

#: attributes copied onto non-MAC nodes (pool windows, softmax axis, ...)
KEPT_ATTRS = ("kernel_shape", "strides", "pads", "dilations", "axis", "ceil_mode", "count_include_pad",
              "alpha", "beta", "min", "max")


def pool_keys(attrs: dict) -> dict | None:
    """A MaxPool/AveragePool's ONNX attributes as the IR's pool keys ``kernel``, ``stride``, ``padding``
    (`codesign.workload.graph.op_output_shape`), or None when the window is not square, the pads not
    symmetric, ``ceil_mode`` set or the pool dilated: those the IR's keys cannot say."""
    k, s = attrs.get("kernel_shape"), tuple(attrs.get("strides", (1, 1)))
    p = tuple(attrs.get("pads", (0, 0, 0, 0)))
    if k is None or len(k) != 2 or len(set(k)) != 1 or len(set(s)) != 1 or len(set(p)) != 1 \
            or attrs.get("ceil_mode", 0) or set(attrs.get("dilations", (1,))) != {1} \
            or attrs.get("auto_pad", "NOTSET") not in ("NOTSET", "VALID", ""):
        return None
    return {"kernel": k[0], "stride": s[0], "padding": p[0]}


def attributes(node) -> dict:
    """The node's attributes as Python values (tuples for lists, str for bytes)."""
    from onnx import helper
    out = {}
    for a in node.attribute:
        v = helper.get_attribute_value(a)
        if isinstance(v, bytes):
            v = v.decode(errors="replace")
        elif isinstance(v, list):
            v = tuple(x.decode(errors="replace") if isinstance(x, bytes) else x for x in v)
        out[a.name] = v
    return out


def _pads(attrs: dict, x_hw: tuple, k_hw: tuple, strides: tuple, dil: tuple) -> tuple[int, ...]:
    """Begin/end pads per spatial axis, ``[b0, b1, .., e0, e1, ..]`` (ONNX order), resolving auto_pad."""
    n = len(x_hw)
    auto = attrs.get("auto_pad", "NOTSET")
    if auto in ("NOTSET", ""):
        pads = tuple(attrs.get("pads", (0,) * 2 * n))
        if len(pads) != 2 * n:
            raise NotModelled(f"pads {list(pads)} do not have {2 * n} entries")
        return pads
    if auto == "VALID":
        return (0,) * 2 * n
    if auto not in ("SAME_UPPER", "SAME_LOWER"):
        raise NotModelled(f"auto_pad {auto!r} is not an ONNX value")
    begin, end = [], []
    for h, k, s, d in zip(x_hw, k_hw, strides, dil):
        out = -(-h // s)
        total = max((out - 1) * s + (k - 1) * d + 1 - h, 0)
        small, big = total // 2, total - total // 2
        begin.append(small if auto == "SAME_UPPER" else big)
        end.append(big if auto == "SAME_UPPER" else small)
    return tuple(begin + end)


def _same(values, what: str) -> int:
    if len(set(values)) != 1:
        raise NotModelled(f"{what} {list(values)} differ between H and W (the conv2d loop nest takes one)")
    return values[0]


def conv_layer(name: str, attrs: dict, x: tuple, w: tuple, y: tuple | None) -> tuple[Layer, dict]:
    """Conv (1-D or 2-D, grouped, depthwise, dilated, any pads) as a `conv2d` layer.

    `x` is the input shape (N, C, [H,] W), `w` the weight shape (K, C/g, [R,] S),
    `y` the inferred output shape (checked against ours when given). A 1-D
    conv is a 2-D conv with H = R = 1.
    """
    if len(x) not in (3, 4) or len(w) != len(x):
        raise NotModelled(f"{len(x) - 2}-D convolution (the loop-nest IR has 1-D and 2-D)")
    one_d = len(x) == 3
    if one_d:
        x, w = (x[0], x[1], 1, x[2]), (w[0], w[1], 1, w[2])
    n, c, h, wd = x
    k, cg, r, s = w
    groups = int(attrs.get("group", 1))
    if cg * groups != c:
        raise NotModelled(f"weights {list(w)} with group={groups} do not match {c} input channels")
    nsp = 1 if one_d else 2
    strides = tuple(attrs.get("strides", (1,) * nsp))
    dil = tuple(attrs.get("dilations", (1,) * nsp))
    hw, khw = ((wd,), (s,)) if one_d else ((h, wd), (r, s))
    pads = _pads(attrs, hw, khw, strides, dil)
    if one_d:
        strides, dil, pads = (1,) + strides, (1,) + dil, (0, pads[0], 0, pads[1])
    stride, dilation = _same(strides, "strides"), _same(dil, "dilations")
    top, left, bottom, right = pads
    extra = {}
    if len(set(pads)) == 1:
        padding, H, W = top, h, wd
    else:
        padding, H, W = 0, h + top + bottom, wd + left + right
        extra = {"pads": (top, left, bottom, right), "input_hw": (h, wd)}
    try:
        layer = conv2d(n, c, H, W, k, r, s, stride, padding, dilation, groups, name=name)
    except WorkloadError as e:
        raise NotModelled(str(e)) from None
    ours = (n, k, layer.bounds["P"], layer.bounds["Q"])
    if y is not None and tuple(y) != (ours[:2] + ours[3:] if one_d else ours):
        raise NotModelled(f"output {list(y)} differs from the loop nest's {list(ours)}")
    return layer, extra


def conv_transpose_layer(name: str, attrs: dict, x: tuple, w: tuple, y: tuple | None) -> tuple[Layer, dict]:
    """ConvTranspose 2-D as its scatter loop nest (the col2im form).

    Every input pixel ``(h, w)`` of every input channel meets every weight
    ``(k, r, s)`` once: ``outputs[n, k, h*s_h + r*d_h, w*s_w + s*d_w] +=
    inputs[n, c, h, w] * weights[c, k, r, s]``, N*C*H*W*(K/g)*R*S MACs, the
    count fvcore and ptflops use for transposed convolutions. The output
    axes are affine sums like a conv's input axes (exact footprints); the
    im2col GEMM view is M = N*H*W, N = (K/g)*R*S, K = C/g (GEMM then col2im).
    The full scattered output is counted; ``pads`` crop it afterwards and
    ``output_padding`` adds rows no input reaches, neither changes MACs.
    """
    if len(x) != 4 or len(w) != 4:
        raise NotModelled(f"{len(x) - 2}-D transposed convolution (modelled: 2-D)")
    n, c, h, wd = x
    cw, kg, r, s = w
    groups = int(attrs.get("group", 1))
    if cw != c or c % groups:
        raise NotModelled(f"weights {list(w)} with group={groups} do not match {c} input channels")
    sh, sw = attrs.get("strides", (1, 1))
    dh, dw = attrs.get("dilations", (1, 1))
    cg = c // groups
    dims = (("G", groups), ("N", n), ("K", kg), ("C", cg), ("H", h), ("W", wd), ("R", r), ("S", s))
    ax = lambda *terms: Axis(tuple(terms))  # noqa: E731
    tensors = (
        Tensor("inputs", (ax(("N", 1)), ax(("G", cg), ("C", 1)), ax(("H", 1)), ax(("W", 1))), 8),
        Tensor("weights", (ax(("G", cg), ("C", 1)), ax(("K", 1)), ax(("R", 1)), ax(("S", 1))), 8),
        Tensor("outputs", (ax(("N", 1)), ax(("G", kg), ("K", 1)), ax(("H", sh), ("R", dh)),
                           ax(("W", sw), ("S", dw))), 32),
    )
    params = (("N", n), ("C", c), ("H", h), ("W", wd), ("K", kg * groups), ("R", r), ("S", s),
              ("stride_h", sh), ("stride_w", sw), ("dilation_h", dh), ("dilation_w", dw), ("groups", groups))
    return Layer(name, "conv_transpose2d", dims, tensors, params), {}


def gemm_layer(name: str, attrs: dict, a: tuple, b: tuple) -> tuple[Layer, dict]:
    """Gemm ``alpha * A' B' + beta * C`` as ``gemm(M, N, K)``: M*N*K MACs
    (alpha and beta scale the M x N result, kept in attrs when not 1)."""
    if len(a) != 2 or len(b) != 2:
        raise NotModelled(f"operands {list(a)} and {list(b)} are not matrices")
    m, k = a[::-1] if attrs.get("transA", 0) else a
    kb, nn = b[::-1] if attrs.get("transB", 0) else b
    if k != kb:
        raise NotModelled(f"A' is {m}x{k} but B' is {kb}x{nn}")
    extra = {key: attrs[key] for key in ("alpha", "beta") if attrs.get(key, 1.0) != 1.0}
    return gemm(m, nn, k, name=name), extra


def matmul_layer(name: str, a: tuple, b: tuple) -> tuple[Layer, dict]:
    """MatMul (numpy.matmul semantics) as a loop nest.

    With a 2-D (or 1-D) second operand, the first operand's batch dims are
    rows of one GEMM (a linear layer on a sequence): ``gemm(prod(batch)*M, N, K)``.
    With batch dims on the second operand (attention's Q*K^T and A*V), a
    batched ``matmul(B, M, N, K)`` with B the product of the broadcast batch
    dims (a first operand broadcast over B is counted once per batch).
    """
    if not a or not b:
        raise NotModelled("a scalar operand")
    a2 = (1,) + tuple(a) if len(a) == 1 else tuple(a)
    b2 = tuple(b) + (1,) if len(b) == 1 else tuple(b)
    m, k = a2[-2:]
    kb, nn = b2[-2:]
    if k != kb:
        raise NotModelled(f"inner dims differ: {list(a)} x {list(b)}")
    ba, bb = a2[:-2], b2[:-2]
    if not bb:
        return gemm(math.prod(ba) * m, nn, k, name=name), {}
    width = max(len(ba), len(bb))
    ba, bb = (1,) * (width - len(ba)) + ba, (1,) * (width - len(bb)) + bb
    batch = []
    for x, y in zip(ba, bb):
        if x != y and 1 not in (x, y):
            raise NotModelled(f"batch dims {list(a[:-2])} and {list(b[:-2])} do not broadcast")
        batch.append(max(x, y))
    return matmul(math.prod(batch), m, nn, k, name=name), {}
