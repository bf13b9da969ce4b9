"""Small networks shared by the streaming timing and RTL tests (ragged rows, stride 2,
a residual join, depthwise, pooling, an MLP)."""
from codesign.workload import conv2d, depthwise_conv2d, gemm
from codesign.workload.graph import GraphBuilder


def residual_conv3():
    """3 convs and a residual add on ragged 7x5 frames; the last conv has stride 2."""
    g = GraphBuilder("res3", [("x", (1, 3, 7, 5))])
    g.mac(conv2d(1, 3, 7, 5, 4, 3, 3, padding=1, name="c1"))
    r = g.op("r1", "relu")
    g.mac(conv2d(1, 4, 7, 5, 4, 3, 3, padding=1, name="c2"))
    g.op("add", "add", "c2", r)
    g.mac(conv2d(1, 4, 7, 5, 6, 3, 3, stride=2, padding=1, name="c3"))
    return g.build()


def dw_separable():
    """Depthwise 3x3 (stride 2 on 7x7 rows), relu, pointwise 1x1, max pool, global pool, fc."""
    g = GraphBuilder("dwsep", [("x", (1, 4, 7, 7))])
    g.mac(depthwise_conv2d(1, 4, 7, 7, 3, 3, stride=2, padding=1, name="dw"))
    g.op("r", "relu")
    g.mac(conv2d(1, 4, 4, 4, 6, 1, 1, name="pw"))
    g.op("pool", "maxpool", kernel=2)
    g.op("gap", "global_avgpool")
    g.mac(gemm(1, 5, 6, name="fc"))
    return g.build()


def mlp():
    g = GraphBuilder("mlp", [("x", (1, 12))])
    g.mac(gemm(1, 8, 12, name="fc1"))
    g.op("a1", "requant")
    g.mac(gemm(1, 4, 8, name="fc2"))
    return g.build()
