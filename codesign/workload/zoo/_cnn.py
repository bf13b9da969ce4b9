"""Convolutional networks: ResNet-18/50 and MobileNetV2.

- ResNet: K. He, X. Zhang, S. Ren, J. Sun, "Deep Residual Learning for Image
  Recognition", CVPR 2016 (arXiv:1512.03385), Table 1. Layout of
  torchvision's ``resnet18``/``resnet50``: in a bottleneck the stride sits on
  the 3x3 conv ("ResNet v1.5"); the first block of a stage whose shape
  changes has a 1x1 ``downsample`` conv (stride of the stage).
- MobileNetV2: M. Sandler, A. Howard, M. Zhu, A. Zhmoginov, L.-C. Chen,
  "MobileNetV2: Inverted Residuals and Linear Bottlenecks", CVPR 2018
  (arXiv:1801.04381), Table 2; channel rounding as in torchvision.

Only layers with multiply-accumulates are listed (pooling, batch norm,
activations and residual additions are left out). Convs use bias-free NCHW
shapes; the classifier is ``gemm(M=batch, N=1000, K=features)``.
"""
from __future__ import annotations

from codesign.workload import Layer, Network, conv2d, conv_out_size, depthwise_conv2d, gemm
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


def _stem(batch: int, image: int) -> tuple[Layer, int]:
    """ResNet conv1 (7x7 s2, 3->64) and the size after the 3x3 s2 max pool."""
    conv1 = conv2d(batch, 3, image, image, 64, 7, 7, stride=2, padding=3, name="conv1")
    size = conv1.bounds["P"]
    return conv1, conv_out_size(size, 3, 2, 1, 1)


def _basic_block(name: str, batch: int, size: int, cin: int, width: int, stride: int) -> tuple[list[Layer], int]:
    """A ResNet basic block: two 3x3 convs (+ 1x1 downsample); returns its layers and output size."""
    conv1 = conv2d(batch, cin, size, size, width, 3, 3, stride=stride, padding=1, name=f"{name}.conv1")
    out = conv1.bounds["P"]
    layers = [conv1, conv2d(batch, width, out, out, width, 3, 3, padding=1, name=f"{name}.conv2")]
    if stride != 1 or cin != width:
        layers.append(conv2d(batch, cin, size, size, width, 1, 1, stride=stride, name=f"{name}.downsample"))
    return layers, out


def _bottleneck(name: str, batch: int, size: int, cin: int, width: int, stride: int) -> tuple[list[Layer], int]:
    """A ResNet v1.5 bottleneck: 1x1, 3x3 (strided), 1x1 to 4*width (+ 1x1 downsample)."""
    cout = 4 * width
    conv1 = conv2d(batch, cin, size, size, width, 1, 1, name=f"{name}.conv1")
    conv2 = conv2d(batch, width, size, size, width, 3, 3, stride=stride, padding=1, name=f"{name}.conv2")
    out = conv2.bounds["P"]
    layers = [conv1, conv2, conv2d(batch, width, out, out, cout, 1, 1, name=f"{name}.conv3")]
    if stride != 1 or cin != cout:
        layers.append(conv2d(batch, cin, size, size, cout, 1, 1, stride=stride, name=f"{name}.downsample"))
    return layers, out


def _resnet(model: str, blocks: tuple[int, ...], bottleneck: bool, batch: int, image: int) -> Workload:
    positive_int("batch", batch)
    positive_int("image", image)
    expansion = 4 if bottleneck else 1
    block = _bottleneck if bottleneck else _basic_block
    conv1, size = _stem(batch, image)
    layers = [conv1]
    cin = 64
    for stage, (n, width) in enumerate(zip(blocks, _RESNET_WIDTHS)):
        for j in range(n):
            stride = 2 if stage > 0 and j == 0 else 1
            new, size = block(f"layer{stage + 1}.{j}", batch, size, cin, width, stride)
            layers.extend(new)
            cin = width * expansion
    layers.append(gemm(batch, 1000, cin, name="fc"))
    return Network.chain(model, layers)


def resnet18(batch: int = 1, image: int = 224) -> Workload:
    """ResNet-18 on ``batch`` RGB images of ``image`` x ``image`` (about 1.82 GMAC at 224)."""
    return _resnet("resnet18", _RESNET18_BLOCKS, False, batch, image)


def resnet50(batch: int = 1, image: int = 224) -> Workload:
    """ResNet-50 v1.5 on ``batch`` RGB images of ``image`` x ``image`` (about 4.09 GMAC at 224)."""
    return _resnet("resnet50", _RESNET50_BLOCKS, True, batch, image)


def _make_divisible(v: float, divisor: int = 8) -> int:
    """torchvision's channel rounding: nearest multiple of 8, never 10% below ``v``."""
    new = max(divisor, int(v + divisor / 2) // divisor * divisor)
    if new < 0.9 * v:
        new += divisor
    return new


def mobilenet_v2(batch: int = 1, image: int = 224, width_mult: float = 1.0) -> Workload:
    """MobileNetV2 (about 0.30 GMAC at 224, width 1.0).

    Stem 3x3 s2 conv to 32 channels; 17 inverted residual blocks (1x1
    expansion by t, except when t = 1; 3x3 depthwise; 1x1 linear
    projection); a 1x1 conv to 1280 channels; the 1000-way classifier.
    Channels scale by ``width_mult`` (rounded to multiples of 8; the last
    conv never shrinks below 1280).
    """
    positive_int("batch", batch)
    positive_int("image", image)
    positive_number("width_mult", width_mult)
    cin = _make_divisible(32 * width_mult)
    stem = conv2d(batch, 3, image, image, cin, 3, 3, stride=2, padding=1, name="stem")
    size = stem.bounds["P"]
    layers = [stem]
    i = 1
    for t, c, n, s in _MBV2_STAGES:
        cout = _make_divisible(c * width_mult)
        for j in range(n):
            stride = s if j == 0 else 1
            hidden = int(round(cin * t))
            if t != 1:
                layers.append(conv2d(batch, cin, size, size, hidden, 1, 1, name=f"block{i}.expand"))
            dw = depthwise_conv2d(batch, hidden, size, size, 3, 3, stride=stride, padding=1, name=f"block{i}.dw")
            size = dw.bounds["P"]
            layers.append(dw)
            layers.append(conv2d(batch, hidden, size, size, cout, 1, 1, name=f"block{i}.project"))
            cin = cout
            i += 1
    last = _make_divisible(1280 * max(1.0, width_mult))
    layers.append(conv2d(batch, cin, size, size, last, 1, 1, name="conv_last"))
    layers.append(gemm(batch, 1000, last, name="fc"))
    return Network.chain("mobilenet_v2", layers)
