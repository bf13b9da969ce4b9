"""Networks streaming (FINN-style) accelerators are built for, as graphs with their non-MAC nodes.

- CNV (CIFAR-10, 32x32x3): FINN's/brevitas' ``CNV`` (Xilinx/brevitas,
  src/brevitas_examples/bnn_pynq/models/CNV.py: ``CNV_OUT_CH_POOL = [(64, False), (64, True),
  (128, False), (128, True), (256, False), (256, False)]``, ``INTERMEDIATE_FC_FEATURES =
  [(256, 512), (512, 512)]``, ``LAST_FC_IN_FEATURES = 512``, ``KERNEL_SIZE = 3`` with no padding,
  ``MaxPool2d(kernel_size=2)``): six 3x3 convs (32 -> 30 -> 28, pool 14 -> 12 -> 10, pool 5 -> 3
  -> 1), three fully connected layers. Batch norm + quantized activation after every layer but
  the last are one ``requant`` node each (FINN folds them into thresholds).
- TFC (MNIST, 28x28): brevitas models/FC.py with cfg/tfc_1w1a.ini ``OUT_FEATURES = [64, 64, 64]``,
  10 classes: 784 -> 64 -> 64 -> 64 -> 10.
- MobileNet-v1 (ImageNet, 224x224): Howard et al., "MobileNets", arXiv:1704.04861, Table 1:
  3x3 s2 conv to 32, 13 depthwise-separable blocks (3x3 depthwise + relu, 1x1 pointwise +
  relu), 7x7 global average pool, 1000-way fully connected layer; ``width_mult`` (alpha,
  Sec. 3.3) scales the channels.

Bit widths are the op defaults of `codesign.workload` (the hardware's op_bits sets the engines').
"""
from __future__ import annotations

from codesign.workload import Network, conv2d, depthwise_conv2d, gemm
from codesign.workload.graph import GraphBuilder
from codesign.workload.zoo._args import positive_int, positive_number

__all__ = ["cnv", "tfc", "mobilenet_v1"]

_CNV_OUT_CH_POOL = ((64, False), (64, True), (128, False), (128, True), (256, False), (256, False))
_CNV_FC = ((256, 512), (512, 512))
# (stride, output channels) of MobileNet-v1's depthwise-separable blocks, Howard et al. 2017 Table 1
_MBV1 = ((1, 64), (2, 128), (1, 128), (2, 256), (1, 256), (2, 512), (1, 512), (1, 512), (1, 512), (1, 512),
         (1, 512), (2, 1024), (1, 1024))


def cnv(batch: int = 1, classes: int = 10) -> Network:
    """FINN's CNV on ``batch`` CIFAR-10 images (about 0.058 GMAC per image)."""
    positive_int("batch", batch)
    positive_int("classes", classes)
    g = GraphBuilder("cnv", [("input", (batch, 3, 32, 32))])
    cin, size = 3, 32
    for i, (cout, pool) in enumerate(_CNV_OUT_CH_POOL):
        layer = conv2d(batch, cin, size, size, cout, 3, 3, name=f"conv{i}")
        g.mac(layer)
        g.op(f"act{i}", "requant")
        size, cin = layer.bounds["P"], cout
        if pool:
            g.op(f"pool{i}", "maxpool", kernel=2)
            size //= 2
    feat = cin * size * size
    for i, (fin, fout) in enumerate(_CNV_FC):
        assert fin == feat
        g.mac(gemm(batch, fout, fin, name=f"fc{i}"))
        g.op(f"fc_act{i}", "requant")
        feat = fout
    g.mac(gemm(batch, classes, feat, name="fc_out"))
    return g.build()


def tfc(batch: int = 1, hidden: int = 64, classes: int = 10) -> Network:
    """FINN's TFC MLP on ``batch`` MNIST images: 784 -> 3 x ``hidden`` -> ``classes``."""
    positive_int("batch", batch)
    positive_int("hidden", hidden)
    positive_int("classes", classes)
    g = GraphBuilder("tfc", [("input", (batch, 28 * 28))])
    fin = 28 * 28
    for i in range(3):
        g.mac(gemm(batch, hidden, fin, name=f"fc{i}"))
        g.op(f"act{i}", "requant")
        fin = hidden
    g.mac(gemm(batch, classes, fin, name="fc_out"))
    return g.build()


def mobilenet_v1(batch: int = 1, image: int = 224, width_mult: float = 1.0) -> Network:
    """MobileNet-v1 (about 0.57 GMAC at 224, width 1.0), Howard et al. 2017 Table 1."""
    positive_int("batch", batch)
    positive_int("image", image)
    positive_number("width_mult", width_mult)
    ch = lambda c: max(1, int(c * width_mult))  # noqa: E731
    g = GraphBuilder("mobilenet_v1", [("input", (batch, 3, image, image))])
    stem = conv2d(batch, 3, image, image, ch(32), 3, 3, stride=2, padding=1, name="conv0")
    g.mac(stem)
    g.op("relu0", "relu")
    size, cin = stem.bounds["P"], ch(32)
    for i, (stride, cout) in enumerate(_MBV1, start=1):
        dw = depthwise_conv2d(batch, cin, size, size, 3, 3, stride=stride, padding=1, name=f"block{i}.dw")
        g.mac(dw)
        g.op(f"block{i}.relu_dw", "relu")
        size = dw.bounds["P"]
        g.mac(conv2d(batch, cin, size, size, ch(cout), 1, 1, name=f"block{i}.pw"))
        g.op(f"block{i}.relu_pw", "relu")
        cin = ch(cout)
    g.op("avgpool", "global_avgpool")
    g.mac(gemm(batch, 1000, cin, name="fc"))
    return g.build()
