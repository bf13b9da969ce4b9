"""The built-in model zoo: MAC totals against published figures, shapes, dedup counts, errors."""
import re

import pytest

from codesign.workload import WorkloadError
from codesign.workload.zoo import ZOO, bert_base, mobilenet_v2, resnet18, resnet50, vit_b16, zoo


def count_of(workload, name):
    """Repeat count of the merged layer that holds ``name`` (its own or an alias)."""
    for layer, count, aliases in zip(workload.layers, workload.counts, workload.aliases):
        if name in aliases:
            return count
    raise KeyError(name)


# -- MAC totals (batch 1, 224x224 / seq 128) -----------------------------------

@pytest.mark.parametrize("name, published_gmac, rel_tol", [
    # torchvision model docs, resnet18 "GFLOPS 1.81" (torchvision counts MACs)
    ("resnet18", 1.81, 0.01),
    # torchvision model docs, resnet50 (v1.5) "GFLOPS 4.09"
    ("resnet50", 4.09, 0.01),
    # Sandler et al. 2018, Table 4: MobileNetV2 (1.0, 224) 300M multiply-adds
    ("mobilenet_v2", 0.300, 0.01),
    # Dosovitskiy et al. 2021 / torchvision vit_b_16 "GFLOPS 17.56" (MACs); about 17.6
    ("vit_b16", 17.56, 0.01),
    # BERT-base encoder, closed form below: 12 * 931.1M = 11.17 GMAC
    ("bert_base", 11.2, 0.01),
])
def test_mac_totals_match_published(name, published_gmac, rel_tol):
    assert zoo(name).macs / 1e9 == pytest.approx(published_gmac, rel=rel_tol)


def test_bert_base_macs_closed_form():
    """Per layer (seq s, hidden h, ffn f): 4 s h^2 (Q, K, V, out) + 2 s^2 h (scores, context) + 2 s h f."""
    s, h, f = 128, 768, 3072
    per_layer = 4 * s * h * h + 2 * s * s * h + 2 * s * h * f
    assert per_layer == 931_135_488
    assert bert_base().macs == 12 * per_layer        # 11,173,625,856
    assert bert_base(seq_len=384, layers=24, batch=2).macs == 2 * 24 * (
        4 * 384 * h * h + 2 * 384 * 384 * h + 2 * 384 * h * f)


def test_vit_b16_macs_closed_form():
    """Patch embed (196 x 768 x 3*16*16) + 12 layers over 197 tokens + head 768 x 1000."""
    t, h, f = 197, 768, 3072
    per_layer = 4 * t * h * h + 2 * t * t * h + 2 * t * h * f
    assert vit_b16().macs == 196 * 768 * 768 + 12 * per_layer + 768 * 1000


# tensorflow/models research/slim/nets/mobilenet/README.md, "Mobilenet V2 Imagenet
# Checkpoints": MACs (M), truncated to an integer (so ours lie in [table, table + 1)).
MOBILENET_V2_TABLE = [
    (1.4, 224, 582), (1.3, 224, 509), (1.0, 224, 300), (1.0, 192, 221), (1.0, 160, 154),
    (1.0, 128, 99), (1.0, 96, 56), (0.75, 224, 209), (0.75, 160, 107), (0.5, 224, 97),
    (0.5, 128, 32), (0.35, 224, 59), (0.35, 96, 11),
]


@pytest.mark.parametrize("width_mult, image, mmac", MOBILENET_V2_TABLE)
def test_mobilenet_v2_width_and_resolution_match_tf_slim_table(width_mult, image, mmac):
    macs = mobilenet_v2(image=image, width_mult=width_mult).macs / 1e6
    assert mmac <= macs < mmac + 1


def test_macs_scale_with_batch():
    for name in ZOO:
        one = zoo(name).macs
        assert zoo(name, batch=3).macs == 3 * one, name


def test_resnet50_image_size():
    # every conv scales with the pixel count (448/224)^2 = 4; the fc does not
    w224, w448 = resnet50(), resnet50(image=448)
    fc = 2048 * 1000
    assert w448.macs - fc == 4 * (w224.macs - fc)
    assert w448.layer("layer4.2.conv3").bounds["P"] == 14


# -- shapes ---------------------------------------------------------------------

def test_resnet50_shapes_v15():
    w = resnet50().unique()
    conv1 = w.layer("conv1")
    assert (conv1.bounds["P"], conv1.bounds["K"], conv1.bounds["R"]) == (112, 64, 7)
    # v1.5: the stride is on the 3x3 conv, the first 1x1 keeps the 56x56 input
    assert dict(w.layer("layer2.0.conv1").params)["stride"] == 1
    assert dict(w.layer("layer2.0.conv2").params)["stride"] == 2
    assert w.layer("layer2.0.conv2").bounds["P"] == 28
    down = w.layer("layer4.0.downsample")
    assert down.gemm_view() == {"G": 1, "M": 7 * 7, "N": 2048, "K": 1024}
    assert w.layer("fc").gemm_view() == {"G": 1, "M": 1, "N": 1000, "K": 2048}


def test_resnet18_shapes():
    w = resnet18(batch=2).unique()
    assert w.layer("layer3.0.conv1").gemm_view() == {"G": 1, "M": 2 * 14 * 14, "N": 256, "K": 128 * 9}
    assert w.layer("layer4.1.conv2").bounds["P"] == 7
    assert w.layer("fc").gemm_view() == {"G": 1, "M": 2, "N": 1000, "K": 512}


def test_mobilenet_v2_shapes():
    w = mobilenet_v2().unique()
    assert w.layer("stem").gemm_view() == {"G": 1, "M": 112 * 112, "N": 32, "K": 27}
    dw = w.layer("block2.dw")          # first block of the 24-channel stage: 16 * 6 = 96, stride 2
    assert dw.op == "depthwise_conv2d"
    assert dw.gemm_view() == {"G": 96, "M": 56 * 56, "N": 1, "K": 9}
    assert w.layer("block1.project").gemm_view()["N"] == 16
    assert w.layer("block17.project").gemm_view() == {"G": 1, "M": 49, "N": 320, "K": 960}
    assert w.layer("conv_last").gemm_view() == {"G": 1, "M": 49, "N": 1280, "K": 320}
    assert w.layer("fc").gemm_view() == {"G": 1, "M": 1, "N": 1000, "K": 1280}
    assert "block1.expand" not in {n for al in w.aliases for n in al}   # t = 1: no expansion


def test_bert_base_shapes():
    w = bert_base(seq_len=128, batch=2).unique()
    assert w.layer("enc.0.q_proj").gemm_view() == {"G": 1, "M": 256, "N": 768, "K": 768}
    assert w.layer("enc.5.scores").gemm_view() == {"G": 24, "M": 128, "N": 128, "K": 64}
    assert w.layer("enc.5.context").gemm_view() == {"G": 24, "M": 128, "N": 64, "K": 128}
    assert w.layer("enc.11.ffn_up").gemm_view() == {"G": 1, "M": 256, "N": 3072, "K": 768}
    assert w.layer("enc.11.ffn_down").gemm_view() == {"G": 1, "M": 256, "N": 768, "K": 3072}


def test_vit_b16_shapes():
    w = vit_b16().unique()
    patch = w.layer("patch_embed")
    assert (patch.bounds["P"], patch.bounds["Q"]) == (14, 14)
    assert patch.gemm_view() == {"G": 1, "M": 196, "N": 768, "K": 3 * 16 * 16}
    assert w.layer("enc.0.q_proj").gemm_view() == {"G": 1, "M": 197, "N": 768, "K": 768}
    assert w.layer("enc.3.scores").gemm_view() == {"G": 12, "M": 197, "N": 197, "K": 64}
    assert w.layer("head").gemm_view() == {"G": 1, "M": 1, "N": 1000, "K": 768}
    assert vit_b16(image=384).layer("enc.0.q_proj").gemm_view()["M"] == 24 * 24 + 1


# -- deduplication counts ---------------------------------------------------------

def test_resnet50_dedup_counts():
    w = resnet50().unique()
    # 16 bottleneck blocks (3 + 4 + 6 + 3), each one strided-or-not 3x3 conv
    assert sum(c for l, c in w if l.bounds.get("R") == 3) == 16
    assert sum(w.counts) == 1 + 16 * 3 + 4 + 1            # stem, 3 convs per block, 4 downsamples, fc
    assert len(w) == 24
    assert w.counts[w.layers.index(w.layer("layer3.1.conv1"))] == 5   # blocks 1-5 of stage 3
    assert count_of(w, "layer3.0.conv3") == 6
    # layer1's downsample (1x1, 64->256, stride 1, 56x56) is the same loop nest as conv3
    assert count_of(w, "layer1.0.downsample") == 4
    assert w.layer("layer1.0.downsample").name == "layer1.0.conv3"
    assert count_of(w, "layer2.0.downsample") == 1      # strided: its own shape


def test_resnet18_dedup_counts():
    w = resnet18().unique()
    assert sum(w.counts) == 21       # stem + 16 block convs + 3 downsamples + fc
    assert len(w) == 12
    assert count_of(w, "layer1.1.conv2") == 4
    assert count_of(w, "layer4.1.conv1") == 3        # layer4.0.conv2, layer4.1.conv1, layer4.1.conv2


def test_transformer_dedup_counts():
    w = bert_base().unique()
    # Q, K, V and output projections share one shape: 4 per layer
    assert count_of(w, "enc.7.v_proj") == 48
    assert count_of(w, "enc.0.scores") == 12
    assert len(w) == 5 and sum(w.counts) == 8 * 12
    # at seq_len 64 = head dim, the two attention matmuls coincide
    assert count_of(bert_base(seq_len=64, layers=2).unique(), "enc.1.context") == 4
    assert sum(vit_b16().unique().counts) == 1 + 8 * 12 + 1


_SYSTOLIC_ZOO = ("resnet18", "resnet50", "mobilenet_v2", "bert_base", "vit_b16")


def test_layer_names_are_unique_and_meaningful():
    pattern = re.compile(r"^(conv1|fc|stem|conv_last|patch_embed|head|"
                         r"layer[1-4]\.\d+\.(conv[123]|downsample)|"
                         r"block\d+\.(expand|dw|project)|"
                         r"enc\.\d+\.(q_proj|k_proj|v_proj|scores|context|out_proj|ffn_up|ffn_down))$")
    for name in ZOO:
        w = zoo(name).unique()
        every = [n for al in w.aliases for n in al]
        assert len(every) == len(set(every)) == sum(w.counts), name
        if name in _SYSTOLIC_ZOO:        # the FINN networks name their layers after FINN's (zoo/_finn.py)
            assert all(pattern.match(n) for n in every), name


# -- errors -------------------------------------------------------------------

@pytest.mark.parametrize("args, kw, message", [
    (("resnet34",), {}, "workload.model: unknown model 'resnet34'; choose from resnet18, resnet50, "
                        "mobilenet_v2, bert_base, vit_b16, cnv, tfc, mobilenet_v1"),
    (("resnet18",), {"seq_len": 128}, "workload.seq_len: unknown argument for model 'resnet18'; "
                                      "choose from batch, image"),
    (("resnet50",), {"batch": 0}, "workload.batch: must be a positive integer, got 0"),
    (("bert_base",), {"seq_len": "128"}, "workload.seq_len: must be a positive integer, got '128'"),
    (("bert_base",), {"layers": True}, "workload.layers: must be a positive integer, got True"),
    (("mobilenet_v2",), {"width_mult": -0.5}, "workload.width_mult: must be a positive number, got -0.5"),
    (("vit_b16",), {"image": 200}, "workload.image: must be a multiple of the patch size 16, got 200"),
])
def test_zoo_errors(args, kw, message):
    with pytest.raises(WorkloadError) as err:
        zoo(*args, **kw)
    assert str(err.value) == message


def test_zoo_is_the_registry():
    assert set(ZOO) == {"resnet18", "resnet50", "mobilenet_v2", "bert_base", "vit_b16", "cnv", "tfc",
                        "mobilenet_v1"}
    assert zoo("mobilenet_v2", width_mult=0.5) == mobilenet_v2(width_mult=0.5)
    assert zoo("vit_b16").name == "vit_b16"
