"""The shared cases of the peer comparison (issue 15), in plain data.

This module imports nothing but the standard library, so every peer's
environment can read it (each runner is started with this folder on
sys.path). Shapes are the ones codesign's zoo builds (checked by
run_ours.py, which rebuilds them from the zoo and fails on a mismatch).

Architecture: a 16x16 int8 array, one 256 KiB global buffer holding all
three tensors, a one-word register per PE (the stationary operand), DRAM.
Energy: one table, per access of one word, whatever the tensor (Timeloop's
reference table of tests/test_timeloop.py, shared/reference/timeloop/
CONVENTIONS.md): MAC 0.2, register 0.1, buffer 4, DRAM 128 pJ; no network
or leakage energy. Every tool gets these numbers in its own format.
"""
ROWS, COLS = 16, 16
GLB_KIB = 256
DRAM_BW_BYTES = 16          # bytes/cycle, codesign's SystolicArch default
OP_BITS = 8
ENERGY_PJ = {"mac": 0.2, "reg": 0.1, "glb": 4.0, "dram": 128.0}
OBJECTIVE = "energy"        # every mapper minimizes energy (ZigZag's and Timeloop's usual criterion)


def conv(name, K, C, P, Q, R, S, stride=1, padding=None, count=1):
    """A conv layer: K outputs, C inputs, P x Q outputs, R x S filter.
    ``padding`` defaults to 'same' for odd filters (R // 2)."""
    padding = R // 2 if padding is None else padding
    H, W = (P - 1) * stride + R - 2 * padding, (Q - 1) * stride + S - 2 * padding
    return dict(name=name, op="conv", N=1, K=K, C=C, P=P, Q=Q, R=R, S=S, H=H, W=W,
                stride=stride, padding=padding, count=count)


def gemm(name, M, N, K, count=1, B=1):
    """out[B, M, N] = A[B, M, K] @ W[B, K, N]."""
    return dict(name=name, op="gemm", B=B, M=M, N=N, K=K, count=count)


#: ResNet-18's 12 unique layers (torchvision, 224x224, batch 1) with their counts
RESNET18 = [
    conv("conv1", 64, 3, 112, 112, 7, 7, stride=2, padding=3),
    conv("layer1.0.conv1", 64, 64, 56, 56, 3, 3, count=4),
    conv("layer2.0.conv1", 128, 64, 28, 28, 3, 3, stride=2),
    conv("layer2.0.conv2", 128, 128, 28, 28, 3, 3, count=3),
    conv("layer2.0.downsample", 128, 64, 28, 28, 1, 1, stride=2, padding=0),
    conv("layer3.0.conv1", 256, 128, 14, 14, 3, 3, stride=2),
    conv("layer3.0.conv2", 256, 256, 14, 14, 3, 3, count=3),
    conv("layer3.0.downsample", 256, 128, 14, 14, 1, 1, stride=2, padding=0),
    conv("layer4.0.conv1", 512, 256, 7, 7, 3, 3, stride=2),
    conv("layer4.0.conv2", 512, 512, 7, 7, 3, 3, count=3),
    conv("layer4.0.downsample", 512, 256, 7, 7, 1, 1, stride=2, padding=0),
    gemm("fc", 1, 1000, 512),
]

#: One BERT-base encoder layer, 128 tokens: its 5 unique matmul shapes
BERT_LAYER = [
    gemm("enc.0.q_proj", 128, 768, 768, count=4),   # q, k, v and the output projection
    gemm("enc.0.scores", 128, 128, 64, B=12),       # Q K^T per head
    gemm("enc.0.context", 128, 64, 128, B=12),      # softmax(..) V per head
    gemm("enc.0.ffn_up", 128, 3072, 768),
    gemm("enc.0.ffn_down", 128, 768, 3072),
]

#: case name -> its layers (a network's cycles and energy are count-weighted sums)
CASES = {
    "gemm256": [gemm("gemm256", 256, 256, 256)],
    "resnet50.layer2.1.conv2": [conv("layer2.1.conv2", 128, 128, 28, 28, 3, 3)],
    "resnet18": RESNET18,
    "bert_base.layer": BERT_LAYER,
}


def gemm_view(layer):
    """(M, N, K) of the im2col GEMM a layer runs as (times B for batched matmul)."""
    if layer["op"] == "conv":
        return layer["N"] * layer["P"] * layer["Q"], layer["K"], layer["C"] * layer["R"] * layer["S"]
    return layer["B"] * layer["M"], layer["N"], layer["K"]


def macs(layer):
    m, n, k = gemm_view(layer)
    return m * n * k
