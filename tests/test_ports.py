"""Buffer port widths: stalls when the array's accesses need more bits per
cycle than a glb or acc port carries (cost model; the bound model and the
mapper are checked against brute force in tests/test_mapper.py)."""
import math

import pytest

from codesign.cli import main
from codesign.families.systolic.arch import ArchError, SystolicArch
from codesign.families.systolic.cost import evaluate_mapping
from codesign.families.systolic.mapping import Mapping
from codesign.workload import conv2d, gemm

LAYER = gemm(64, 48, 40)
MAPPING = Mapping.build(LAYER, rows={"K": 8}, cols={"N": 8}, pe={"M": 64}, glb={"K": 5, "N": 6})


def cost(**ports):
    arch = SystolicArch(rows=8, cols=8, dataflow="ws", acc_kib=16, dram_bw_bytes=64, **ports)
    return evaluate_mapping(LAYER, arch, MAPPING)


def port_cycles(c, widths):
    """Per port, the bits of its accesses over its width (from the access counts)."""
    bits = {"inputs": 8, "weights": 8, "outputs": 32}
    need = {}
    for key, v in c.items():
        parts = key.split("_")
        if len(parts) == 3 and parts[0] in ("glb", "acc") and parts[2] in ("reads", "fills", "updates"):
            port = f"{parts[0]}_{'read' if parts[2] == 'reads' else 'write'}_bits"
            need[port] = need.get(port, 0) + v * bits[parts[1]]
    return {k: v / widths[k] for k, v in need.items()}


def test_defaults_are_gemminis_sizing():
    a = SystolicArch()
    assert [a.port_bits(m, k) for m in ("glb", "acc") for k in ("read", "write")] == [512, 512, 1024, 1024]
    b = SystolicArch(rows=32, cols=8, glb_write_bits=100)
    assert b.port_bits("glb", "read") == 4 * 32 * 8 and b.port_bits("glb", "write") == 100


@pytest.mark.parametrize("key", ["glb_read_bits", "acc_write_bits"])
def test_bad_port_width_names_the_key(key):
    with pytest.raises(ArchError, match=f"hardware.{key}: must be an integer >= 0"):
        SystolicArch(**{key: -8})


def pacing_stall(widths, t=64, folds=30, tiles=1, R=8, C=8):
    """The ``rtl`` port pacing of MAPPING (ws, one glb tile, 30 folds of t = 64) by hand:
    a step costs the most cycles any port needs for it (its first R steps: a west and a
    preload vector and an accumulator row; the others: a west vector and the row; fill:
    a preload vector; drain: the row)."""
    w = {"glb_read_bits": 512, "acc_read_bits": 1024, "acc_write_bits": 1024, **widths}
    row = max(math.ceil(C * 32 / w["acc_read_bits"]), math.ceil(C * 32 / w["acc_write_bits"]))
    first = max(math.ceil((R + C) * 8 / w["glb_read_bits"]), row)
    rest = max(math.ceil(R * 8 / w["glb_read_bits"]), row)
    fill = math.ceil(C * 8 / w["glb_read_bits"])
    assert t >= R               # no pad steps: each fold streams t steps
    return tiles * ((fill - 1) * R + (row - 1) * (R + C + 1)) + folds * ((first - 1) * R + (rest - 1) * (t - R))


def test_wide_ports_do_not_stall_and_narrow_ones_do():
    """rtl: narrow ports pace the array (latency grows by the pacing, compute and energy
    do not change); the default widths never stall."""
    wide = cost()
    assert pacing_stall({}) == 0
    for widths in ({"glb_read_bits": 24}, {"glb_read_bits": 100, "acc_read_bits": 50}, {"glb_read_bits": 64}):
        narrow = cost(**widths)
        assert narrow["compute_cycles"] == wide["compute_cycles"] and narrow["energy_pj"] == wide["energy_pj"]
        assert narrow["latency_cycles"] - wide["latency_cycles"] == pacing_stall(widths) > 0, widths
        assert narrow["stall_cycles"] == narrow["latency_cycles"] - narrow["compute_cycles"]


def test_acc_write_port_binds_on_partial_sums():
    """ws streams 32-bit partial sums out of the array each cycle: an acc write
    port narrower than cols x 32 bits per cycle paces every step that moves a row."""
    c = cost(acc_write_bits=64)
    assert c["latency_cycles"] - cost()["latency_cycles"] == pacing_stall({"acc_write_bits": 64}) == 3 * 17 + 30 * 3 * 64


def test_ideal_timing_keeps_the_throughput_floor():
    """ideal (no schedule): latency is never below the bits of the busiest port over its width."""
    widths = {"glb_read_bits": 24, "glb_write_bits": 512, "acc_read_bits": 1024, "acc_write_bits": 1024}
    arch = SystolicArch(rows=8, cols=8, dataflow="ws", acc_kib=16, dram_bw_bytes=64, timing="ideal", **widths)
    narrow = evaluate_mapping(LAYER, arch, MAPPING)
    need = port_cycles(narrow, widths)
    assert narrow["latency_cycles"] == math.ceil(max(need.values())) > narrow["compute_cycles"]


def test_scalesim_timing_ignores_ports():
    arch = SystolicArch(rows=8, cols=8, dataflow="ws", timing="scalesim", glb_read_bits=1)
    c = evaluate_mapping(LAYER, arch, MAPPING)
    assert c["stall_cycles"] == 0


def test_mapper_avoids_a_narrow_port(tmp_path, capsys):
    """From YAML: a narrow glb read port raises the latency of the mapper's
    best mapping, never below what the port needs."""
    import json

    import yaml
    layer = {"name": "c", "op": "conv2d", "N": 1, "C": 16, "H": 10, "W": 10, "K": 16, "R": 3, "S": 3}
    out = {}
    for w in (0, 16):
        cfg = {"name": "p", "workload": {"layers": [layer]}, "objective": "latency",
               "hardware": {"family": "systolic", "rows": 8, "cols": 8, "glb_read_bits": w}}
        path = tmp_path / f"c{w}.yaml"
        path.write_text(yaml.safe_dump(cfg))
        assert main(["evaluate", str(path), "--json"]) == 0
        out[w] = json.loads(capsys.readouterr().out)["layers"][0]
    assert out[16]["latency_cycles"] > out[0]["latency_cycles"]
    assert out[16]["stall_cycles"] > 0
    conv = conv2d(1, 16, 10, 10, 16, 3, 3)
    assert conv.macs == out[16]["macs"]


def test_a_batch_of_architectures_paces_each_by_its_own_ports():
    """One `evaluate` call over architectures with different widths and rows (a sweep's
    batch) costs each as alone."""
    from codesign.families.systolic.cost import evaluate
    from codesign.families.systolic.mapping import MappingBatch
    archs = [SystolicArch(rows=r, cols=8, dataflow="ws", acc_kib=16, glb_read_bits=w, acc_write_bits=a)
             for r, w, a in ((8, 24, 0), (8, 0, 64), (16, 100, 300), (8, 0, 0))]
    many = evaluate(LAYER, archs, MappingBatch.from_mappings([MAPPING] * len(archs))).latency_cycles
    one = [evaluate_mapping(LAYER, a, MAPPING)["latency_cycles"] for a in archs]
    assert list(many) == one and len(set(one)) == len(one)
