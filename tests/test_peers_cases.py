"""benchmarks/peers/ without the peers: the shared cases match the zoo, and the peers'
loop nests translate into the codesign mappings they describe (hand-written nests in
ZigZag's and AccelForge's JSON shapes, as run_zigzag.py / run_accelforge.py print them)."""
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks" / "peers"))
import cases  # noqa: E402
import compare  # noqa: E402
import run_ours  # noqa: E402

from codesign.families.systolic.cost import evaluate_mapping  # noqa: E402


@pytest.mark.parametrize("case", sorted(cases.CASES))
def test_cases_match_the_zoo(case):
    """run_ours.layers raises when a shape in cases.py differs from codesign's zoo."""
    got = run_ours.layers(case)
    assert len(got) == len(cases.CASES[case])
    for layer, spec in got:
        assert layer.macs == cases.macs(spec) and layer.tensor("outputs").bits == cases.OP_BITS


def test_zigzag_nest_translates():
    """ZigZag's gemm256 optimum (C streamed in the output register, K and D looped on chip)."""
    (layer, spec), = run_ours.layers("gemm256")
    zz = {"spatial": "SpatialMapping({O: [[], [(D, 16.0), (K, 16.0)], [], []], W: [[(D, 16.0), (K, 16.0)]]})",
          "temporal": {"O": [[["C", 16], ["C", 16]], [["K", 4], ["K", 4], ["D", 4], ["D", 4]], []],
                       "W": [[["C", 16], ["C", 16], ["K", 4], ["K", 4], ["D", 4], ["D", 4]], []],
                       "I": [[["C", 16], ["C", 16], ["K", 4], ["K", 4], ["D", 4], ["D", 4]], []]}}
    m, = compare.zigzag_mappings(layer, spec, zz)
    assert m.level("rows") == {"M": 16} and m.level("cols") == {"N": 16}
    assert m.level("pe") == {"K": 256} and m.level("glb") == {"M": 16, "N": 16} and m.level("dram") == {}
    assert m.order[1][:2] == ("M", "N")            # D outermost in ZigZag's list (innermost first)


def test_zigzag_nest_with_operand_boundaries():
    """A loop at DRAM for one operand only gives one candidate per boundary, all complete mappings."""
    (layer, spec), = run_ours.layers("resnet50.layer2.1.conv2")
    zz = {"spatial": "SpatialMapping({O: [[], [(OX, 14.0), (K, 16.0)], [], []]})",
          "temporal": {"O": [[["C", 128], ["FY", 3], ["FX", 3]], [["OY", 28], ["OX", 2], ["K", 8]], []],
                       "W": [[["C", 128], ["FY", 3], ["FX", 3], ["OY", 28], ["OX", 2]], [["K", 8]]],
                       "I": [[["C", 128], ["FY", 3], ["FX", 3], ["OY", 28], ["OX", 2], ["K", 8]], []]}}
    ms = compare.zigzag_mappings(layer, spec, zz)
    assert [m.level("dram") for m in ms] == [{"K": 8}, {}]
    for m in ms:
        assert m.level("rows") == {"Q": 14} and m.level("pe") == {"C": 128, "R": 3, "S": 3}
        assert evaluate_mapping(layer, run_ours.arch(), m)["macs"] == layer.macs


def test_accelforge_nest_translates():
    """AccelForge's gemm256 nest: tile shapes become factors, one candidate per buffer storage node."""
    (layer, _), = run_ours.layers("gemm256")
    nest = [["storage", "MainMemory", ["A", "B", "Z"]], ["storage", "GlobalBuffer", ["A"]],
            ["temporal", "n", 16, None], ["storage", "GlobalBuffer", ["B"]], ["temporal", "m", 16, None],
            ["spatial", "m", 1, "reuse_weight"], ["spatial", "n", 1, "reuse_input"],
            ["storage", "Register", ["Z"]], ["temporal", "k", 1, None]]
    m, inner = compare.accelforge_mapping(layer, nest)
    assert m.level("glb") == {"M": 16, "N": 16} and m.level("rows") == {"M": 16} and m.level("cols") == {"N": 16}
    assert m.level("pe") == {"K": 256} and m.order[1][:2] == ("N", "M")
    assert inner.level("dram") == {"N": 16} and inner.level("glb") == {"M": 16}
    assert compare.accelforge_mapping(layer, [["temporal", "x", 1, None]]) == []
