"""Workload IR: a layer is a named perfect loop nest over dims, with three
operand tensors (inputs, weights, outputs), each a projection of the dims.

A tensor axis is an affine sum of dims, e.g. a conv input row is
``p*stride + r*dilation``. Every layer has exactly three tensors named
``inputs``, ``weights`` and ``outputs`` (for a batched matmul, ``weights`` is
the second operand). Each dim gets a role derived from which tensors use it:

- ``m``: inputs and outputs (output pixels / GEMM rows)
- ``n``: weights and outputs (output channels / GEMM columns)
- ``k``: inputs and weights (the reduction)
- ``g``: all three (groups, attention heads, batch of a batched matmul)
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Iterable

from ..errors import LIMITS, UserError, short

__all__ = [
    "Axis", "Tensor", "Layer", "Workload", "WorkloadError",
    "gemm", "conv2d", "depthwise_conv2d", "matmul", "TENSORS",
]

TENSORS = ("inputs", "weights", "outputs")


class WorkloadError(UserError, ValueError):
    """A layer or workload that cannot exist (bad shape, bad parameter)."""


@dataclass(frozen=True)
class Axis:
    """One tensor axis: ``sum(coef * dim)`` over ``terms``."""

    terms: tuple[tuple[str, int], ...]

    def extent(self, tile: dict[str, int]) -> int:
        """Number of distinct indices this axis spans for a tile of the dims.

        Exact for one or two terms (all the constructors' axes). The values
        ``a*x + b*y`` (``x < X``, ``y < Y``) coincide exactly along chains
        ``(x + b/g, y - a/g)`` with ``g = gcd(a, b)``; counting one point
        per chain gives ``X*Y - max(X - b/g, 0) * max(Y - a/g, 0)``. (The
        bound ``min(span, X*Y)`` is wrong when ``g > 1``: stride 2 with
        dilation 2.) With three or more terms this returns that upper bound.
        """
        terms = [(abs(c), tile.get(d, 1)) for d, c in self.terms if c != 0]
        if not terms:
            return 1
        if len(terms) == 1:
            return terms[0][1]
        if len(terms) == 2:
            (a, x), (b, y) = terms
            g = math.gcd(a, b)
            return x * y - max(x - b // g, 0) * max(y - a // g, 0)
        span = sum(c * (n - 1) for c, n in terms) + 1
        return min(span, math.prod(n for _, n in terms))


@dataclass(frozen=True)
class Tensor:
    """An operand: its axes as projections of the loop dims, and its bits."""

    name: str
    axes: tuple[Axis, ...]
    bits: int

    @property
    def dims(self) -> frozenset[str]:
        return frozenset(d for a in self.axes for d, _ in a.terms)

    def footprint(self, tile: dict[str, int]) -> int:
        """Elements of this tensor touched by a tile (dim -> extent)."""
        return math.prod(a.extent(tile) for a in self.axes)


@dataclass(frozen=True)
class Layer:
    """A named perfect loop nest with its three operand tensors.

    Built by the constructors `gemm`, `conv2d`, `depthwise_conv2d`, `matmul`;
    validated on construction.
    """

    name: str
    op: str
    dims: tuple[tuple[str, int], ...]
    tensors: tuple[Tensor, Tensor, Tensor]
    params: tuple[tuple[str, int], ...] = ()

    def __post_init__(self):
        if not self.name:
            raise WorkloadError("layer name: must not be empty")
        names = [d for d, _ in self.dims]
        if len(set(names)) != len(names):
            raise WorkloadError(f"layer {self.name!r}: duplicate dims {names}")
        for d, b in self.dims:
            if not isinstance(b, int) or b < 1:
                raise WorkloadError(f"layer {self.name!r}: dim {d} must be a positive integer, got {b!r}")
        if tuple(t.name for t in self.tensors) != TENSORS:
            raise WorkloadError(f"layer {self.name!r}: tensors must be {TENSORS}")
        for t in self.tensors:
            unknown = t.dims - set(names)
            if unknown:
                raise WorkloadError(f"layer {self.name!r}: tensor {t.name} uses unknown dims {sorted(unknown)}")
            if any(len(a.terms) > 2 for a in t.axes):    # the cost model's closed forms cover two
                raise WorkloadError(f"layer {self.name!r}: tensor {t.name} has an axis over more than two dims")
            if isinstance(t.bits, bool) or not isinstance(t.bits, int) or t.bits < 1:
                raise WorkloadError(f"layer {self.name!r}: tensor {t.name} bits must be a positive integer, "
                                    f"got {t.bits!r}")

    # -- shape facts -------------------------------------------------------
    @property
    def dim_names(self) -> tuple[str, ...]:
        return tuple(d for d, _ in self.dims)

    @property
    def bounds(self) -> dict[str, int]:
        return dict(self.dims)

    def tensor(self, name: str) -> Tensor:
        for t in self.tensors:
            if t.name == name:
                return t
        raise KeyError(name)

    def role(self, dim: str) -> str:
        """The dim's role: m, n, k or g (see module docstring)."""
        i, w, o = (dim in t.dims for t in self.tensors)
        if i and w and o:
            return "g"
        if i and o:
            return "m"
        if w and o:
            return "n"
        if i and w:
            return "k"
        # a dim only one tensor uses (or none) cannot come from our constructors
        raise WorkloadError(f"layer {self.name!r}: dim {dim} has no systolic role")

    @property
    def macs(self) -> int:
        return math.prod(b for _, b in self.dims)

    def footprint(self, tensor: str) -> int:
        """Elements of a whole tensor (conv inputs include the padded halo)."""
        return self.tensor(tensor).footprint(self.bounds)

    def footprint_bytes(self, tensor: str) -> int:
        t = self.tensor(tensor)
        return math.ceil(t.footprint(self.bounds) * t.bits / 8)

    def gemm_view(self) -> dict[str, int]:
        """The im2col GEMM view: groups G, rows M, columns N, reduction K."""
        b = self.bounds
        prod = lambda role: math.prod(v for d, v in b.items() if self.role(d) == role)  # noqa: E731
        return {"G": prod("g"), "M": prod("m"), "N": prod("n"), "K": prod("k")}

    def shape_key(self) -> tuple:
        """Identity of the computation, ignoring the name (for dedup/memo)."""
        return (self.op, self.dims, self.tensors)

    def describe(self) -> str:
        p = " ".join(f"{k}={v}" for k, v in self.params) or " ".join(f"{d}={b}" for d, b in self.dims)
        return f"{self.op} {p}"


def _t(name: str, axes: Iterable[Iterable[tuple[str, int]]], bits: int) -> Tensor:
    return Tensor(name, tuple(Axis(tuple(a)) for a in axes), bits)


def _check_pos(layer: str, **kw):
    for k, v in kw.items():
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise WorkloadError(f"layer {layer!r}: {k} must be a positive integer, got {short(v)}")
        if v > LIMITS["dim"].high:      # errors.LIMITS: products stay exact in int64
            raise WorkloadError(f"layer {layer!r}: {k} must be at most 2**31, got {short(v)}")


def gemm(M: int, N: int, K: int, *, name: str = "gemm", in_bits: int = 8, w_bits: int = 8,
         out_bits: int = 32) -> Layer:
    """``outputs[M,N] += inputs[M,K] * weights[K,N]``."""
    _check_pos(name, M=M, N=N, K=K)
    return Layer(name, "gemm", (("M", M), ("N", N), ("K", K)), (
        _t("inputs", [[("M", 1)], [("K", 1)]], in_bits),
        _t("weights", [[("K", 1)], [("N", 1)]], w_bits),
        _t("outputs", [[("M", 1)], [("N", 1)]], out_bits),
    ), (("M", M), ("N", N), ("K", K)))


def matmul(B: int, M: int, N: int, K: int, *, name: str = "matmul", in_bits: int = 8,
           w_bits: int = 8, out_bits: int = 32) -> Layer:
    """Batched matmul (attention): ``outputs[B,M,N] += inputs[B,M,K] * weights[B,K,N]``."""
    _check_pos(name, B=B, M=M, N=N, K=K)
    return Layer(name, "matmul", (("B", B), ("M", M), ("N", N), ("K", K)), (
        _t("inputs", [[("B", 1)], [("M", 1)], [("K", 1)]], in_bits),
        _t("weights", [[("B", 1)], [("K", 1)], [("N", 1)]], w_bits),
        _t("outputs", [[("B", 1)], [("M", 1)], [("N", 1)]], out_bits),
    ), (("B", B), ("M", M), ("N", N), ("K", K)))


def conv_out_size(size: int, kernel: int, stride: int, padding: int, dilation: int) -> int:
    """PyTorch's output size: floor((H + 2p - d(R-1) - 1) / s) + 1."""
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def conv2d(N: int, C: int, H: int, W: int, K: int, R: int, S: int, stride: int = 1,
           padding: int = 0, dilation: int = 1, groups: int = 1, *, name: str = "conv",
           in_bits: int = 8, w_bits: int = 8, out_bits: int = 32) -> Layer:
    """2-D convolution, NCHW, C input and K output channels in ``groups`` groups.

    Dims: G (groups), N, K (out channels per group), C (in channels per
    group), P, Q (output rows/cols), R, S (kernel). Input rows are
    ``p*stride + r*dilation`` over the padded input.
    """
    _check_pos(name, N=N, C=C, H=H, W=W, K=K, R=R, S=S, stride=stride, dilation=dilation, groups=groups)
    if isinstance(padding, bool) or not isinstance(padding, int) or not 0 <= padding <= LIMITS["dim"].high:
        raise WorkloadError(f"layer {name!r}: padding must be an integer in [0, 2**31], got {short(padding)}")
    if C % groups or K % groups:
        raise WorkloadError(f"layer {name!r}: groups={groups} must divide C={C} and K={K}")
    P = conv_out_size(H, R, stride, padding, dilation)
    Q = conv_out_size(W, S, stride, padding, dilation)
    if P < 1 or Q < 1:
        raise WorkloadError(f"layer {name!r}: kernel {R}x{S} (dilation {dilation}) does not fit input "
                            f"{H}x{W} with padding {padding}")
    Cg, Kg = C // groups, K // groups
    dims = (("G", groups), ("N", N), ("K", Kg), ("C", Cg), ("P", P), ("Q", Q), ("R", R), ("S", S))
    tensors = (
        _t("inputs", [[("N", 1)], [("G", Cg), ("C", 1)], [("P", stride), ("R", dilation)],
                      [("Q", stride), ("S", dilation)]], in_bits),
        _t("weights", [[("G", Kg), ("K", 1)], [("C", 1)], [("R", 1)], [("S", 1)]], w_bits),
        _t("outputs", [[("N", 1)], [("G", Kg), ("K", 1)], [("P", 1)], [("Q", 1)]], out_bits),
    )
    op = "depthwise_conv2d" if groups == C and Cg == 1 and groups > 1 else "conv2d"
    params = (("N", N), ("C", C), ("H", H), ("W", W), ("K", K), ("R", R), ("S", S), ("stride", stride),
              ("padding", padding), ("dilation", dilation), ("groups", groups))
    return Layer(name, op, dims, tensors, params)


def depthwise_conv2d(N: int, C: int, H: int, W: int, R: int, S: int, stride: int = 1,
                     padding: int = 0, dilation: int = 1, multiplier: int = 1, *,
                     name: str = "dwconv", **bits) -> Layer:
    """Depthwise conv: one group per input channel, ``multiplier`` outputs each."""
    _check_pos(name, C=C, multiplier=multiplier)
    return conv2d(N, C, H, W, C * multiplier, R, S, stride, padding, dilation, groups=C,
                  name=name, **bits)


@dataclass(frozen=True)
class Workload:
    """An ordered list of unique layers with repeat counts.

    `Workload.from_layers` merges layers of identical shape (keeping the first
    name) so a network's repeated blocks are evaluated once.
    """

    name: str
    layers: tuple[Layer, ...]
    counts: tuple[int, ...]
    aliases: tuple[tuple[str, ...], ...] = field(default=())

    def __post_init__(self):
        if len(self.layers) != len(self.counts):
            raise WorkloadError("workload: layers and counts differ in length")
        if not self.layers:
            raise WorkloadError(f"workload {self.name!r}: has no layers")
        for l, c in zip(self.layers, self.counts):
            if isinstance(c, bool) or not isinstance(c, int) or c < 1:
                raise WorkloadError(f"workload {self.name!r}: count of layer {l.name!r} must be a positive "
                                    f"integer, got {c!r}")
        names = [l.name for l in self.layers]
        if len(set(names)) != len(names):
            raise WorkloadError(f"workload {self.name!r}: duplicate layer names")

    @classmethod
    def from_layers(cls, name: str, layers: Iterable[Layer | tuple[Layer, int]]) -> "Workload":
        order: list[Layer] = []
        counts: dict[tuple, int] = {}
        alias: dict[tuple, list[str]] = {}
        for item in layers:
            layer, n = item if isinstance(item, tuple) else (item, 1)
            key = layer.shape_key()
            if key not in counts:
                order.append(layer)
                counts[key] = 0
                alias[key] = []
            counts[key] += n
            alias[key].append(layer.name)
        keys = [l.shape_key() for l in order]
        return cls(name, tuple(order), tuple(counts[k] for k in keys), tuple(tuple(alias[k]) for k in keys))

    def __iter__(self):
        return iter(zip(self.layers, self.counts))

    def __len__(self):
        return len(self.layers)

    @property
    def macs(self) -> int:
        return sum(l.macs * c for l, c in self)

    def layer(self, name: str) -> Layer:
        for l, al in zip(self.layers, self.aliases or [()] * len(self.layers)):
            if l.name == name or name in al:
                return l
        raise KeyError(name)
