"""benchmarks/peers/ without the peers: codesign's mappings written in ZigZag's and AccelForge's
terms (pinned.py) cover each layer's loop bounds and read back (through compare.py's readers of
the peers' nests) into the mapping they came from; port_stalls.py's copy of ZigZag's stall
formula on hand-worked cases."""
import math
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks" / "peers"))
import cases  # noqa: E402
import compare  # noqa: E402
import pinned  # noqa: E402
import port_stalls  # noqa: E402
import run_ours  # noqa: E402

from codesign.families.systolic.mapper import best_mapping  # noqa: E402
from codesign.families.systolic.mapping import Mapping  # noqa: E402

CONV2 = cases.CASES["resnet50.layer2.1.conv2"][0]
#: codesign's energy-optimal mapping of layer2.1.conv2 (run_ours.py), by hand
CONV2_OURS = {"dram": {"Q": 7}, "glb": {"K": 8, "P": 7}, "rows": {"P": 4, "Q": 4}, "cols": {"K": 16},
              "pe": {"C": 128, "R": 3, "S": 3},
              "order": {"dram": ["G", "N", "K", "C", "R", "S", "P", "Q"], "glb": ["G", "N", "P", "Q", "K", "C", "R", "S"],
                        "pe": ["G", "N", "K", "C", "P", "Q", "R", "S"]}}


def our_mappings(case):
    """[(layer, spec, codesign's best mapping)] of a case (the mapper, as run_ours.py runs it)."""
    return [(layer, spec, best_mapping(layer, run_ours.arch("ideal"), objective=cases.OBJECTIVE).mapping)
            for layer, spec in run_ours.layers(case)]


def test_zigzag_form_of_a_conv_by_hand():
    zz = pinned.zigzag_pinned(CONV2, CONV2_OURS)
    assert zz["spatial_mapping"] == {"D1": ["OY, 4", "OX, 4"], "D2": ["K, 16"]}
    pe, glb, dram = [["FX", 3], ["FY", 3], ["C", 128]], [["K", 8], ["OY", 7]], [["OX", 7]]
    assert zz["temporal"] == {"O": [pe, glb, dram], "I": [pe + glb, dram], "W": [pe + glb, dram]}


def test_accelforge_form_keeps_weights_above_the_loop_that_does_not_index_them():
    """The dram loop runs over q, which the weights do not index: codesign fetches them once, so their
    GlobalBuffer node sits above that loop, the input's and output's below it."""
    nest = pinned.accelforge_pinned(CONV2, CONV2_OURS)
    assert nest[:4] == [["storage", "MainMemory", ["I", "O", "Wt"]], ["storage", "GlobalBuffer", ["Wt"]],
                        ["temporal", "q", 4, None], ["storage", "GlobalBuffer", ["I", "O"]]]
    assert nest[4:] == [["temporal", "p", 4, None], ["temporal", "k", 16, None],
                        ["spatial", "p", 1, "reuse_weight"], ["spatial", "q", 1, "reuse_weight"],
                        ["spatial", "k", 1, "reuse_input"], ["storage", "Register", ["O"]],
                        ["temporal", "c", 1, None], ["temporal", "r", 1, None], ["temporal", "s", 1, None]]


def af_factors(spec, nest):
    """rank -> product of the nest's loop factors (parent tile over tile_shape, rounded up)."""
    tile = {pinned.AF_RANKS[spec["op"]][d]: b for d, b in pinned.layer_bounds(spec).items()}
    prod = dict.fromkeys(tile, 1)
    for node in nest:
        if node[0] in ("temporal", "spatial"):
            _, r, shape, _ = node
            prod[r] *= -(-tile[r] // shape)
            tile[r] = shape
    assert all(t == 1 for t in tile.values()), tile           # the nest ends on one point per rank
    return prod


@pytest.mark.parametrize("case", sorted(cases.CASES))
def test_translations_cover_every_loop_bound(case):
    """ZigZag's and AccelForge's forms loop over each dim exactly as often as codesign's mapping:
    the layer's bound where codesign's tiles divide it, its padded extent where a temporal tile is
    ragged (then ZigZag charges the padded MACs), ZigZag's spatial ceil where a spatial one is."""
    for layer, spec, m in our_mappings(case):
        d = m.to_dict()
        bounds = pinned.layer_bounds(spec)
        zz = pinned.zigzag_pinned(spec, d)
        extents = pinned.loop_extents(spec, zz)
        af = af_factors(spec, pinned.accelforge_pinned(spec, d))
        padded = False
        for dim, bound in bounds.items():
            spatial = m.factor("rows", dim) * m.factor("cols", dim)
            tiles = math.prod(m.factor(lvl, dim) for lvl in ("dram", "glb", "pe"))
            assert extents[dim] == (spatial, tiles)
            assert af[pinned.AF_RANKS[spec["op"]][dim]] == spatial * tiles >= bound
            if spatial * tiles > bound and -(-bound // spatial) < tiles:
                padded = True
            elif m.factor("pe", dim) == 1:
                assert tiles == -(-bound // spatial)          # spatial raggedness only: ZigZag's ceil
        macs = pinned.padded_macs(spec, zz)
        assert (macs > layer.macs) == padded and macs >= layer.macs and math.isclose(
            macs, layer.macs, rel_tol=0.01)
        assert [len(zz["temporal"][op]) for op in "OIW"] == [3, 2, 2]
        assert zz["temporal"]["I"][0] == zz["temporal"]["O"][0] + zz["temporal"]["O"][1] == zz["temporal"]["W"][0]
        assert all(v for v in zz["spatial_mapping"].values())   # no array dim left to ZigZag's generator


def test_the_divisible_cases_loop_exactly_over_the_layer():
    for case in ("gemm256", "resnet50.layer2.1.conv2"):
        (layer, spec, m), = our_mappings(case)
        zz = pinned.zigzag_pinned(spec, m.to_dict())
        assert pinned.padded_macs(spec, zz) == layer.macs == cases.macs(spec)
        assert {d: s * t for d, (s, t) in pinned.loop_extents(spec, zz).items()} == pinned.layer_bounds(spec)


def same(a: Mapping, b: Mapping):
    return all(a.level(lvl) == b.level(lvl) for lvl in ("dram", "glb", "rows", "cols", "pe"))


@pytest.mark.parametrize("case", ["gemm256", "resnet50.layer2.1.conv2", "bert_base.layer"])
def test_translations_read_back_into_our_mapping(case):
    """compare.py's readers of the peers' nests (written for the peers' own optima) give back the
    mapping pinned.py wrote: the translation loses no factor."""
    for layer, spec, m in our_mappings(case):
        d = m.to_dict()
        zz = pinned.zigzag_pinned(spec, d)
        loops = [s.split(", ") for oa in ("D1", "D2") for s in zz["spatial_mapping"][oa]]
        spatial = "SpatialMapping({O: [[], [" + ", ".join(f"({n}, {float(f)})" for n, f in loops) + "]]})"
        back = compare.zigzag_mappings(layer, spec, {"spatial": spatial, "temporal": zz["temporal"]})
        assert any(same(b, m) for b in back), (spec["name"], [b.oneline() for b in back], m.oneline())
        back = compare.accelforge_mapping(layer, pinned.accelforge_pinned(spec, d))
        assert any(same(b, m) for b in back), (spec["name"], [b.oneline() for b in back], m.oneline())


def test_a_flattened_mapping_is_not_expressible():
    with pytest.raises(pinned.NotExpressible, match="flattened"):
        pinned.zigzag_pinned(CONV2, dict(CONV2_OURS, flat=True))


def link(real, allowed, period, count):
    return {"real": real, "allowed": allowed, "period": period, "period_count": count}


def test_zigzag_stall_of_one_link():
    """3 cycles of transfer in a window of 2, 5 periods: the first is loaded up front, 4 stall 1 each."""
    assert port_stalls.port_stall([link(3, 2, 4, 5)]) == 4
    assert port_stalls.port_stall([link(1, 2, 4, 5)]) == -4            # slack
    assert port_stalls.layer_stall([{"p": [link(1, 2, 4, 5)]}]) == 0    # never below 0


def test_zigzag_serializes_links_sharing_a_port_whatever_its_width():
    """Two links, each fitting its window (real 2 = allowed 2, period 4, 3 periods), on one port:
    their windows (2 x 2 x 2 = 8 cycles) overlap in a union of 2 cycles per period (6): 2 cycles stall.
    This is ZigZag's stall on a wide buffer read port feeding inputs and weights in the same cycles."""
    a, b = link(2, 2, 4, 3), link(2, 2, 4, 3)
    assert port_stalls.window_union([a, b]) == 6
    assert port_stalls.port_stall([a, b]) == 2
    # windows that do not overlap (periods 4 and 2, windows of 2 and 1 cycles: cycles 0-1 and 0, 2)
    assert port_stalls.window_union([link(1, 2, 4, 3), link(1, 1, 2, 6)]) == 9
    # one window as long as its period: the union is the whole layer
    assert port_stalls.window_union([link(1, 4, 4, 3), link(1, 1, 2, 6)]) == 12


def test_zigzag_stall_adds_positive_terms_and_takes_the_busiest_port():
    over, under = link(3, 2, 4, 3), link(1, 2, 4, 3)          # +2 and -2, windows 4 + 4 in a union of 6
    assert port_stalls.port_stall([over, under]) == 2 + max(0, -2 + 8 - 6)
    assert port_stalls.layer_stall([{"r": [over, under]}, {"w": [link(5, 1, 8, 2)]}]) == 4
