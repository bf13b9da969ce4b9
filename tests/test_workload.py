"""The workload IR (codesign.workload) and the layer-spec loader (codesign.workload.zoo.layers_from_spec)."""
import re

import numpy as np
import pytest
import yaml
from hypothesis import example, given, settings
from hypothesis import strategies as st

from codesign.workload import (Workload, WorkloadError, conv2d, conv_out_size, depthwise_conv2d, gemm,
                               matmul)
from codesign.workload.zoo import layers_from_spec


# -- conv output size ---------------------------------------------------------

@pytest.mark.parametrize("size, kernel, stride, padding, dilation, expected", [
    (224, 7, 2, 3, 1, 112),   # ResNet conv1
    (112, 3, 2, 1, 1, 56),    # ResNet max pool
    (227, 11, 4, 0, 1, 55),   # AlexNet conv1
    (32, 5, 1, 0, 1, 28),     # LeNet-5 C1
    (8, 3, 2, 0, 1, 3),       # floor: the last input row is never used
    (10, 3, 1, 0, 2, 6),      # dilated: effective kernel 5
    (7, 3, 1, 2, 3, 5),       # dilated and padded
])
def test_conv_out_size_known_values(size, kernel, stride, padding, dilation, expected):
    assert conv_out_size(size, kernel, stride, padding, dilation) == expected


@given(size=st.integers(1, 40), kernel=st.integers(1, 7), stride=st.integers(1, 5),
       padding=st.integers(0, 4), dilation=st.integers(1, 4))
def test_conv_out_size_counts_window_positions(size, kernel, stride, padding, dilation):
    """PyTorch's formula = the number of window starts that fit in the padded input."""
    last_start = size + 2 * padding - dilation * (kernel - 1) - 1
    starts = [i for i in range(0, size + 2 * padding) if i % stride == 0 and i <= last_start]
    if starts:
        layer = conv2d(1, 1, size, size, 1, kernel, kernel, stride, padding, dilation)
        assert layer.bounds["P"] == layer.bounds["Q"] == len(starts)
    else:
        with pytest.raises(WorkloadError, match="does not fit"):
            conv2d(1, 1, size, size, 1, kernel, kernel, stride, padding, dilation)


# -- shapes, MACs, GEMM views -------------------------------------------------

def test_gemm_and_matmul_shapes():
    g = gemm(64, 32, 16)
    assert g.macs == 64 * 32 * 16
    assert g.gemm_view() == {"G": 1, "M": 64, "N": 32, "K": 16}
    assert [g.footprint(t) for t in ("inputs", "weights", "outputs")] == [64 * 16, 16 * 32, 64 * 32]
    m = matmul(12, 128, 64, 128)
    assert m.macs == 12 * 128 * 64 * 128
    assert m.gemm_view() == {"G": 12, "M": 128, "N": 64, "K": 128}
    assert m.footprint("weights") == 12 * 128 * 64


def test_conv_gemm_view_is_im2col():
    layer = conv2d(2, 64, 56, 56, 128, 3, 3, stride=2, padding=1)
    # P = Q = floor((56 + 2 - 2 - 1) / 2) + 1 = 28
    assert layer.gemm_view() == {"G": 1, "M": 2 * 28 * 28, "N": 128, "K": 64 * 3 * 3}
    assert layer.macs == 2 * 28 * 28 * 128 * 64 * 9


def test_grouped_conv_gemm_view_divides_channels_by_groups():
    layer = conv2d(1, 32, 14, 14, 64, 3, 3, padding=1, groups=4)
    assert layer.gemm_view() == {"G": 4, "M": 14 * 14, "N": 64 // 4, "K": 32 // 4 * 9}
    assert layer.macs == 14 * 14 * 64 * (32 // 4) * 9
    assert layer.footprint("weights") == 64 * 8 * 9


def test_depthwise_footprints_and_view():
    layer = depthwise_conv2d(1, 32, 14, 14, 3, 3, stride=1, padding=1, multiplier=2)
    assert layer.op == "depthwise_conv2d"
    assert layer.gemm_view() == {"G": 32, "M": 14 * 14, "N": 2, "K": 9}
    assert layer.footprint("inputs") == 32 * 16 * 16          # padded 14 + 2
    assert layer.footprint("weights") == 64 * 3 * 3            # one 3x3 filter per output channel
    assert layer.footprint("outputs") == 64 * 14 * 14
    assert layer.footprint_bytes("outputs") == 64 * 14 * 14 * 4  # 32-bit outputs
    assert layer.macs == 64 * 14 * 14 * 9


def test_strided_dilated_input_footprint_regression():
    """stride 2 with dilation 2 touches only even rows: 4 of 0..6 (was 6 before the Axis.extent fix)."""
    layer = conv2d(1, 1, 8, 8, 1, 2, 2, stride=2, dilation=2)
    assert layer.bounds["P"] == 3
    assert layer.footprint("inputs") == 4 * 4


def test_bad_layers_raise():
    with pytest.raises(WorkloadError, match="groups=3 must divide"):
        conv2d(1, 16, 8, 8, 16, 3, 3, groups=3)
    with pytest.raises(WorkloadError, match="K must be a positive integer, got 0"):
        gemm(4, 4, 0)
    with pytest.raises(WorkloadError, match="bits must be a positive integer, got 0"):
        gemm(4, 4, 4, w_bits=0)


# -- footprints against numpy indexing -----------------------------------------

@st.composite
def conv_and_tile(draw):
    """A small random conv (grouped, strided, padded, dilated) and a tile of its dims."""
    groups, cg, kg = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    r, s = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    stride, dilation, padding = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(0, 2))
    h = draw(st.integers(max(1, dilation * (r - 1) + 1 - 2 * padding), 10))
    w = draw(st.integers(max(1, dilation * (s - 1) + 1 - 2 * padding), 10))
    layer = conv2d(draw(st.integers(1, 2)), groups * cg, h, w, groups * kg, r, s, stride, padding, dilation,
                   groups)
    full = draw(st.booleans())
    tile = {d: b if full else draw(st.integers(1, b)) for d, b in layer.dims}
    return layer, tile


def touched_counts(layer, tile):
    """Elements of each real (padded) numpy array that the tile's loop nest indexes."""
    p = dict(layer.params)
    n, c, h, w, k, r, s = (p[x] for x in "NCHWKRS")
    stride, pad, dil, groups = p["stride"], p["padding"], p["dilation"], p["groups"]
    cg, kg = c // groups, k // groups
    names = layer.dim_names
    ix = {d: np.arange(tile[d]).reshape([-1 if j == i else 1 for j in range(len(names))])
          for i, d in enumerate(names)}
    arrays = {"inputs": np.zeros((n, c, h + 2 * pad, w + 2 * pad), bool),
              "weights": np.zeros((k, cg, r, s), bool),
              "outputs": np.zeros((n, k, layer.bounds["P"], layer.bounds["Q"]), bool)}
    g_, n_, k_, c_, p_, q_, r_, s_ = (ix[d] for d in ("G", "N", "K", "C", "P", "Q", "R", "S"))
    arrays["inputs"][n_, g_ * cg + c_, p_ * stride + r_ * dil, q_ * stride + s_ * dil] = True
    arrays["weights"][g_ * kg + k_, c_, r_, s_] = True
    arrays["outputs"][n_, g_ * kg + k_, p_, q_] = True
    return {t: int(a.sum()) for t, a in arrays.items()}


@settings(max_examples=300, deadline=None)
@given(conv_and_tile())
@example((conv2d(1, 1, 8, 8, 1, 2, 2, stride=2, dilation=2), {"G": 1, "N": 1, "K": 1, "C": 1, "P": 3,
                                                              "Q": 3, "R": 2, "S": 2}))
@example((conv2d(1, 1, 12, 12, 1, 4, 4, stride=3, dilation=2), {"G": 1, "N": 1, "K": 1, "C": 1, "P": 2,
                                                                "Q": 2, "R": 4, "S": 4}))
def test_footprint_equals_indexed_elements(case):
    layer, tile = case
    counts = touched_counts(layer, tile)
    for t in ("inputs", "weights", "outputs"):
        assert layer.tensor(t).footprint(tile) == counts[t], t
    if tile == layer.bounds:
        assert all(layer.footprint(t) == counts[t] for t in counts)


# -- Workload: deduplication ---------------------------------------------------

def test_from_layers_merges_identical_shapes_and_keeps_counts():
    a = conv2d(1, 64, 56, 56, 64, 3, 3, padding=1, name="b0.conv1")
    b = conv2d(1, 64, 56, 56, 64, 3, 3, padding=1, name="b0.conv2")
    c = conv2d(1, 64, 56, 56, 128, 3, 3, stride=2, padding=1, name="b1.conv1")
    w = Workload.from_layers("net", [a, c, b, (gemm(1, 10, 64, name="fc"), 3)])
    assert [l.name for l in w.layers] == ["b0.conv1", "b1.conv1", "fc"]
    assert w.counts == (2, 1, 3)
    assert w.aliases[0] == ("b0.conv1", "b0.conv2")
    assert w.layer("b0.conv2") is a
    assert w.macs == 2 * a.macs + c.macs + 3 * 640


def test_from_layers_keeps_different_bits_apart():
    w = Workload.from_layers("net", [gemm(8, 8, 8, name="a"), gemm(8, 8, 8, name="b", w_bits=4)])
    assert w.counts == (1, 1)


def test_workload_rejects_bad_counts_and_duplicate_names():
    with pytest.raises(WorkloadError, match="count of layer 'a' must be a positive integer, got 0"):
        Workload("net", (gemm(2, 2, 2, name="a"),), (0,))
    with pytest.raises(WorkloadError, match="duplicate layer names"):
        Workload.from_layers("net", [gemm(2, 2, 2, name="a"), gemm(2, 2, 4, name="a")])


# -- layers_from_spec ----------------------------------------------------------

YAML_LAYERS = """
- {name: fc, op: gemm, M: 256, N: 256, K: 256}
- {name: c3, op: conv2d, N: 1, C: 128, H: 28, W: 28, K: 128, R: 3, S: 3, stride: 1, padding: 1}
- {name: dw, op: depthwise_conv2d, N: 1, C: 32, H: 56, W: 56, R: 3, S: 3, stride: 2, padding: 1, multiplier: 2}
- {name: attn, op: matmul, B: 12, M: 128, N: 128, K: 64, count: 12, in_bits: 16, w_bits: 16, out_bits: 16}
- {op: conv2d, N: 1, C: 8, H: 9, W: 9, K: 16, R: 3, S: 3, dilation: 2, groups: 4}
"""


def test_spec_builds_what_the_constructors_build():
    items = layers_from_spec(yaml.safe_load(YAML_LAYERS))
    assert items == [
        gemm(256, 256, 256, name="fc"),
        conv2d(1, 128, 28, 28, 128, 3, 3, stride=1, padding=1, name="c3"),
        depthwise_conv2d(1, 32, 56, 56, 3, 3, stride=2, padding=1, multiplier=2, name="dw"),
        (matmul(12, 128, 128, 64, name="attn", in_bits=16, w_bits=16, out_bits=16), 12),
        conv2d(1, 8, 9, 9, 16, 3, 3, dilation=2, groups=4, name="conv2d_4"),
    ]
    w = Workload.from_layers("spec", items)
    assert w.counts == (1, 1, 1, 12, 1)
    assert w.layer("attn").tensor("outputs").bits == 16


BAD_SPECS = [
    ([{"name": "a", "op": "gemm", "M": 1, "N": 1, "K": 1}, {"op": "gemm", "M": 2, "N": 2, "K": -3}],
     "workload.layers[1].K: must be a positive integer, got -3"),
    ([{"op": "conv3d", "N": 1}],
     "workload.layers[0].op: unknown op 'conv3d'; choose from gemm, conv2d, depthwise_conv2d, matmul"),
    ([{"op": "gemm", "M": 1, "N": 1, "K": 1}] * 2 + [{"op": "gemm", "M": 1, "N": 1, "KK": 1}],
     "workload.layers[2]: unknown key 'KK' for op gemm"),
    ([{"op": "matmul", "B": 1, "M": 1, "N": 1}],
     "workload.layers[0]: missing key 'K'; matmul needs B, M, N, K"),
    ([{"M": 1, "N": 1, "K": 1}], "workload.layers[0]: missing key 'op'"),
    ([{"op": "gemm", "M": 1, "N": 1, "K": 2.0}], "workload.layers[0].K: must be a positive integer, got 2.0"),
    ([{"op": "gemm", "M": True, "N": 1, "K": 1}], "workload.layers[0].M: must be a positive integer, got True"),
    ([{"op": "conv2d", "N": 1, "C": 4, "H": 4, "W": 4, "K": 4, "R": 1, "S": 1, "padding": -1}],
     "workload.layers[0].padding: must be a non-negative integer, got -1"),
    ([{"op": "conv2d", "N": 1, "C": 4, "H": 4, "W": 4, "K": 6, "R": 1, "S": 1, "groups": 4}],
     "workload.layers[0].groups: 4 must divide C=4 and K=6"),
    ([{"op": "conv2d", "N": 1, "C": 4, "H": 2, "W": 2, "K": 4, "R": 3, "S": 3}],
     "workload.layers[0]: layer 'conv2d_0': kernel 3x3 (dilation 1) does not fit input 2x2 with padding 0"),
    ([{"op": "gemm", "M": 1, "N": 1, "K": 1, "count": 0}],
     "workload.layers[0].count: must be a positive integer, got 0"),
    ([{"op": "gemm", "M": 1, "N": 1, "K": 1, "w_bits": 0}],
     "workload.layers[0].w_bits: must be a positive integer, got 0"),
    ([{"name": "x", "op": "gemm", "M": 1, "N": 1, "K": 1}, {"name": "x", "op": "gemm", "M": 2, "N": 1, "K": 1}],
     "workload.layers[1].name: duplicate name 'x' (also workload.layers[0])"),
    ([{"name": "", "op": "gemm", "M": 1, "N": 1, "K": 1}],
     "workload.layers[0].name: must be a non-empty string, got ''"),
    ([["gemm", 1, 1, 1]], "workload.layers[0]: must be a mapping of keys to values, got list"),
    ([], "workload.layers: must be a non-empty list of layer specs, got []"),
]


@pytest.mark.parametrize("specs, message", BAD_SPECS)
def test_bad_specs_give_one_line_errors(specs, message):
    with pytest.raises(WorkloadError) as err:
        layers_from_spec(specs)
    text = str(err.value)
    assert "\n" not in text
    assert text.startswith(message), text


def test_spec_path_prefix_is_configurable():
    with pytest.raises(WorkloadError, match=re.escape("net.layers[0].op: unknown op 'fc'")):
        layers_from_spec([{"op": "fc"}], path="net.layers")
