"""`dataflow: flexible`: the mapper picks the dataflow per layer."""
import pytest

from codesign.config import ConfigError, parse_config
from codesign.families.systolic.arch import SystolicArch
from codesign.families.systolic.arch import ArchError, area_mm2
from codesign.families.systolic.network import evaluate_network
from codesign.objective import Objective
from codesign.workload.zoo import zoo


def test_flexible_is_per_layer_best_of_fixed():
    wl = zoo("mobilenet_v2")
    flex = SystolicArch(rows=8, cols=8, dataflow="flexible", glb_kib=128)
    rf = evaluate_network(wl, flex, objective="latency")
    fixed = {df: evaluate_network(wl, SystolicArch(rows=8, cols=8, dataflow=df, glb_kib=128), objective="latency")
             for df in ("os", "ws", "is")}
    for i, r in enumerate(rf.layers):
        best = min(fixed[df].layers[i].cost["latency_cycles"] for df in fixed)
        assert r.cost["latency_cycles"] == best
        assert r.cost == fixed[r.dataflow].layers[i].cost
    assert len({r.dataflow for r in rf.layers}) > 1, "MobileNetV2 should use more than one dataflow"
    assert rf.latency_cycles < min(f.latency_cycles for f in fixed.values())
    assert area_mm2(flex) > area_mm2(SystolicArch(rows=8, cols=8, dataflow="os", glb_kib=128))


def test_flexible_has_no_fixed_stationary_operand():
    with pytest.raises(ArchError, match="hardware.dataflow: a flexible array"):
        SystolicArch(dataflow="flexible").stationary


def test_weighted_objective_in_config_and_memo():
    cfg = parse_config({"workload": {"layers": [{"name": "fc", "op": "gemm", "M": 64, "N": 64, "K": 64}]},
                        "hardware": {"rows": 4, "cols": 4}, "objective": {"latency": 1, "energy": 0.5}})
    r = evaluate_network(cfg.workload, cfg.arch, objective=cfg.objective)
    assert r.layers[0].cost["latency_cycles"] > 0
    assert Objective.parse(cfg.objective) == Objective("weighted", 1.0, 0.5)
    with pytest.raises(ConfigError, match="objective.speed: unknown key"):
        parse_config({"workload": {"model": "resnet18"}, "objective": {"speed": 1}})
