"""Convolutional networks: ResNet-18/50 and MobileNetV2.

- ResNet: K. He, X. Zhang, S. Ren, J. Sun, "Deep Residual Learning for Image
  Recognition", CVPR 2016 (arXiv:1512.03385), Table 1. Layout of
  torchvision's ``resnet18``/``resnet50``: in a bottleneck the stride sits on
  the 3x3 conv ("ResNet v1.5"); the first block of a stage whose shape
  changes has a 1x1 ``downsample`` conv (stride of the stage).
- MobileNetV2: M. Sandler, A. Howard, M. Zhu, A. Zhmoginov, L.-C. Chen,
  "MobileNetV2: Inverted Residuals and Linear Bottlenecks", CVPR 2018
  (arXiv:1801.04381), Table 2; channel rounding as in torchvision.

Each builder returns the network graph: the MAC layers (bias-free NCHW
convs; the classifier ``gemm(M=batch, N=1000, K=features)``) and the nodes
without MACs between them, with their edges: activations (``relu``,
``clip`` for ReLU6), pools, residual ``add`` nodes (a block's last conv and
its skip: the block input, or the ``downsample`` conv, which reads the
block input too, a fork). Batch norm is folded into the conv before it (as
inference compilers do), so it has no node; dropout is the identity at
inference. The graph input ``input`` is the ``(batch, 3, image, image)``
image. The MAC layers come in the order of torchvision's ``forward``, so
`Network.unique` is the per-shape view the chain of layers gave.
"""
from __future__ import annotations

from codesign.workload import Network, conv2d, depthwise_conv2d, gemm
from codesign.workload.graph import GraphBuilder
from codesign.workload.zoo._args import positive_int, positive_number

__all__ = ["resnet18", "resnet50", "mobilenet_v2"]

# (blocks per stage) for each ResNet depth, He et al. 2016 Table 1.
_RESNET18_BLOCKS = (2, 2, 2, 2)
_RESNET50_BLOCKS = (3, 4, 6, 3)
_RESNET_WIDTHS = (64, 128, 256, 512)

# MobileNetV2 inverted residual stages (t expansion, c channels, n blocks,
# s stride of the first block), Sandler et al. 2018 Table 2.
_MBV2_STAGES = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2),
                (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1))


def _stem(g: GraphBuilder, batch: int, image: int) -> int:
    """ResNet conv1 (7x7 s2, 3->64), relu, 3x3 s2 max pool; returns the size after the pool."""
    g.mac(conv2d(batch, 3, image, image, 64, 7, 7, stride=2, padding=3, name="conv1"))
    g.op("relu", "relu")
    g.op("maxpool", "maxpool", kernel=3, stride=2, padding=1)      # torchvision resnet.py: MaxPool2d(3, 2, 1)
    return g.shape_of("maxpool")[2]


def _residual(g: GraphBuilder, name: str, block_input: str, last: str, down) -> None:
    """The residual add of the block's last conv and its skip (the downsample conv, if any), then relu."""
    skip = g.mac(down, block_input) if down is not None else block_input
    g.op(f"{name}.add", "add", last, skip)
    g.op(f"{name}.relu_out", "relu")


def _basic_block(g: GraphBuilder, name: str, batch: int, size: int, cin: int, width: int, stride: int) -> int:
    """A ResNet basic block: 3x3 conv, relu, 3x3 conv, add the skip (1x1 downsample if the shape changes), relu."""
    x = g.last
    conv1 = conv2d(batch, cin, size, size, width, 3, 3, stride=stride, padding=1, name=f"{name}.conv1")
    out = conv1.bounds["P"]
    g.mac(conv1)
    g.op(f"{name}.relu1", "relu")
    last = g.mac(conv2d(batch, width, out, out, width, 3, 3, padding=1, name=f"{name}.conv2"))
    down = None
    if stride != 1 or cin != width:
        down = conv2d(batch, cin, size, size, width, 1, 1, stride=stride, name=f"{name}.downsample")
    _residual(g, name, x, last, down)
    return out


def _bottleneck(g: GraphBuilder, name: str, batch: int, size: int, cin: int, width: int, stride: int) -> int:
    """A ResNet v1.5 bottleneck: 1x1, 3x3 (strided), 1x1 to 4*width, relus between, the skip add, relu."""
    x, cout = g.last, 4 * width
    g.mac(conv2d(batch, cin, size, size, width, 1, 1, name=f"{name}.conv1"))
    g.op(f"{name}.relu1", "relu")
    conv2 = conv2d(batch, width, size, size, width, 3, 3, stride=stride, padding=1, name=f"{name}.conv2")
    out = conv2.bounds["P"]
    g.mac(conv2)
    g.op(f"{name}.relu2", "relu")
    last = g.mac(conv2d(batch, width, out, out, cout, 1, 1, name=f"{name}.conv3"))
    down = None
    if stride != 1 or cin != cout:
        down = conv2d(batch, cin, size, size, cout, 1, 1, stride=stride, name=f"{name}.downsample")
    _residual(g, name, x, last, down)
    return out


def _resnet(model: str, blocks: tuple[int, ...], bottleneck: bool, batch: int, image: int) -> Network:
    positive_int("batch", batch)
    positive_int("image", image)
    expansion = 4 if bottleneck else 1
    block = _bottleneck if bottleneck else _basic_block
    g = GraphBuilder(model, [("input", (batch, 3, image, image))])
    size = _stem(g, batch, image)
    cin = 64
    for stage, (n, width) in enumerate(zip(blocks, _RESNET_WIDTHS)):
        for j in range(n):
            stride = 2 if stage > 0 and j == 0 else 1
            size = block(g, f"layer{stage + 1}.{j}", batch, size, cin, width, stride)
            cin = width * expansion
    g.op("avgpool", "global_avgpool")
    g.mac(gemm(batch, 1000, cin, name="fc"))
    return g.build()


def resnet18(batch: int = 1, image: int = 224) -> Network:
    """ResNet-18 on ``batch`` RGB images of ``image`` x ``image`` (about 1.82 GMAC at 224)."""
    return _resnet("resnet18", _RESNET18_BLOCKS, False, batch, image)


def resnet50(batch: int = 1, image: int = 224) -> Network:
    """ResNet-50 v1.5 on ``batch`` RGB images of ``image`` x ``image`` (about 4.09 GMAC at 224)."""
    return _resnet("resnet50", _RESNET50_BLOCKS, True, batch, image)


def _make_divisible(v: float, divisor: int = 8) -> int:
    """torchvision's channel rounding: nearest multiple of 8, never 10% below ``v``."""
    new = max(divisor, int(v + divisor / 2) // divisor * divisor)
    if new < 0.9 * v:
        new += divisor
    return new


def _inverted_residual(g: GraphBuilder, i: int, batch: int, size: int, cin: int, cout: int, t: int,
                       stride: int) -> int:
    """Block ``i``: 1x1 expansion by t (none if t = 1), ReLU6, 3x3 depthwise, ReLU6, 1x1 linear
    projection, and the residual add when stride is 1 and cin == cout (torchvision
    mobilenetv2.py, InvertedResidual.use_res_connect); returns the output size."""
    x, hidden = g.last, int(round(cin * t))
    if t != 1:
        g.mac(conv2d(batch, cin, size, size, hidden, 1, 1, name=f"block{i}.expand"))
        g.op(f"block{i}.expand.clip", "clip", min=0, max=6)
    dw = depthwise_conv2d(batch, hidden, size, size, 3, 3, stride=stride, padding=1, name=f"block{i}.dw")
    g.mac(dw)
    g.op(f"block{i}.dw.clip", "clip", min=0, max=6)
    out = dw.bounds["P"]
    last = g.mac(conv2d(batch, hidden, out, out, cout, 1, 1, name=f"block{i}.project"))
    if stride == 1 and cin == cout:
        g.op(f"block{i}.add", "add", last, x)
    return out


def mobilenet_v2(batch: int = 1, image: int = 224, width_mult: float = 1.0) -> Network:
    """MobileNetV2 (about 0.30 GMAC at 224, width 1.0).

    Stem 3x3 s2 conv to 32 channels and ReLU6; 17 inverted residual blocks
    (`_inverted_residual`); a 1x1 conv to 1280 channels, ReLU6, the global
    average pool and the 1000-way classifier. Channels scale by
    ``width_mult`` (rounded to multiples of 8; the last conv never shrinks
    below 1280).
    """
    positive_int("batch", batch)
    positive_int("image", image)
    positive_number("width_mult", width_mult)
    g = GraphBuilder("mobilenet_v2", [("input", (batch, 3, image, image))])
    cin = _make_divisible(32 * width_mult)
    stem = conv2d(batch, 3, image, image, cin, 3, 3, stride=2, padding=1, name="stem")
    g.mac(stem)
    g.op("stem.clip", "clip", min=0, max=6)
    size, i = stem.bounds["P"], 1
    for t, c, n, s in _MBV2_STAGES:
        cout = _make_divisible(c * width_mult)
        for j in range(n):
            size = _inverted_residual(g, i, batch, size, cin, cout, t, s if j == 0 else 1)
            cin, i = cout, i + 1
    last = _make_divisible(1280 * max(1.0, width_mult))
    g.mac(conv2d(batch, cin, size, size, last, 1, 1, name="conv_last"))
    g.op("conv_last.clip", "clip", min=0, max=6)
    g.op("avgpool", "global_avgpool")
    g.mac(gemm(batch, 1000, last, name="fc"))
    return g.build()
