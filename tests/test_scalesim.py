"""The 45 SCALE-Sim 3.0.0 results reproduced exactly in `scalesim` timing mode."""
import csv
import math

import pytest

from codesign.families.systolic.arch import SystolicArch
from codesign.families.systolic.cost import evaluate_mapping
from codesign.families.systolic.mapping import Mapping
from codesign.workload import gemm

from conftest import REFERENCE

ROWS = list(csv.DictReader(open(REFERENCE / "scalesim_grid.csv")))


def scalesim_mapping(layer, df, R, C):
    """SCALE-Sim's schedule: the array's dims unrolled in full, the third dim
    streamed whole, folds over the two spatial dims."""
    M, N, K = (layer.bounds[d] for d in "MNK")
    if df == "os":
        return Mapping.build(layer, rows={"M": R}, cols={"N": C}, pe={"K": K},
                             glb={"M": math.ceil(M / R), "N": math.ceil(N / C)})
    if df == "ws":
        return Mapping.build(layer, rows={"K": R}, cols={"N": C}, pe={"M": M},
                             glb={"K": math.ceil(K / R), "N": math.ceil(N / C)})
    return Mapping.build(layer, rows={"K": R}, cols={"M": C}, pe={"N": N},
                         glb={"K": math.ceil(K / R), "M": math.ceil(M / C)})


def test_grid_is_complete():
    assert len(ROWS) == 45


@pytest.mark.parametrize("row", ROWS, ids=lambda r: f"{r['layer']}-{r['array']}-{r['dataflow']}")
def test_scalesim_result(row):
    M, N, K = int(row["M"]), int(row["N"]), int(row["K"])
    R, C = (int(x) for x in row["array"].split("x"))
    df = row["dataflow"]
    layer = gemm(M, N, K)
    arch = SystolicArch(rows=R, cols=C, dataflow=df, timing="scalesim", glb_kib=1e6, acc_kib=1e6)
    c = evaluate_mapping(layer, arch, scalesim_mapping(layer, df, R, C))
    assert c["infeasible"] == "ok"
    assert c["latency_cycles"] == int(row["total_cycles"])
    assert c["compute_cycles"] == int(row["compute_cycles"])
    assert c["mapping_efficiency"] * 100 == pytest.approx(float(row["mapping_eff_pct"]), rel=1e-12)
    assert c["utilization"] * 100 == pytest.approx(float(row["overall_util_pct"]), rel=1e-12)
    assert c["glb_inputs_reads"] == int(row["sram_ifmap_reads"])
    assert c["glb_weights_reads"] == int(row["sram_filter_reads"])
    assert c["acc_outputs_updates"] == int(row["sram_ofmap_writes"])
