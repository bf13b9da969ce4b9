"""Timeloop v3.0.3 fixed-mapping cases: access counts, energies and cycles.

Set-up as in shared/reference/timeloop/CONVENTIONS.md: one 8-bit-word GLB
holding all tensors (acc_kib 0), a 64-word RF keeping one tensor, per-access
energies MAC 0.2, RF 0.1, GLB 4, DRAM 128 pJ, no network energy, and the
`ideal` timing mode (Timeloop's throughput bound with separately limited
DRAM reads and writes). Timeloop conventions that differ from ours are
listed in the README ("Validation"); none shows up in these cases.
"""
import csv
import json

import pytest

from codesign.families.systolic.arch import SystolicArch
from codesign.families.systolic.cost import evaluate_mapping
from codesign.families.systolic.mapping import Mapping
from codesign.workload import conv2d, gemm

from conftest import REFERENCE

TL = REFERENCE / "timeloop"
ROWS = {r["case_id"]: r for r in csv.DictReader(open(TL / "timeloop_cases.csv"))}
CASES = sorted(p.parent.name for p in (TL / "cases").glob("*/case.json"))
TENSOR = {"A": "inputs", "B": "weights", "Z": "outputs",
          "Inputs": "inputs", "Weights": "weights", "Outputs": "outputs"}
TECH = dict(mac_pj=0.2, reg_pj=0.1, glb_pj=4.0, acc_pj=4.0, dram_pj=128.0, forward_pj=0.0)


def build(case):
    w, d = case["workload"], case["workload"]["dims"]
    if w["kind"] == "gemm":
        layer = gemm(d["M"], d["N"], d["K"], out_bits=8)
    else:  # Inputs[N, C, P+R, Q+S]: an unpadded input of (P+R-1) rows
        layer = conv2d(d["N"], d["C"], d["P"] + d["R"] - 1, d["Q"] + d["S"] - 1, d["K"], d["R"], d["S"],
                       stride=w.get("stride", 1), out_bits=8)
    mp = case["mapping_outermost_first"]
    lvl = lambda k: dict((a, b) for a, b in mp[k])  # noqa: E731
    keep = TENSOR[mp["keep_rf"][0]]
    arch = SystolicArch(rows=case["arch"]["rows"], cols=case["arch"]["cols"],
                        dataflow={"outputs": "os", "weights": "ws", "inputs": "is"}[keep],
                        pe_reg_words=case["arch"]["rf_words"], glb_kib=case["arch"]["glb_bytes"] / 1024,
                        acc_kib=0, dram_bw_bytes=case["arch"]["dram_bw"], double_buffered=False,
                        timing="ideal", tech=TECH)
    dram = lvl("dram") or {dim: 1 for dim in layer.dim_names}
    mapping = Mapping.build(layer, dram=dram, glb=lvl("glb"), cols=lvl("sx"), rows=lvl("sy"), pe=lvl("rf"),
                            order={k: [a for a, _ in mp[k]] for k in ("dram", "glb")} | {
                                "pe": [a for a, _ in mp["rf"]]})
    return layer, arch, mapping


def test_all_cases_present():
    assert len(CASES) == 12 and set(CASES) == set(ROWS)


@pytest.mark.parametrize("case_id", CASES)
def test_timeloop_case(case_id):
    case = json.load(open(TL / "cases" / case_id / "case.json"))
    row = ROWS[case_id]
    layer, arch, mapping = build(case)
    c = evaluate_mapping(layer, arch, mapping, check_dataflow=False)
    assert c["infeasible"] == "ok"
    assert c["macs"] == int(row["macs"])
    assert c["latency_cycles"] == int(row["cycles"])
    assert c["utilization"] == pytest.approx(float(row["utilization"]), abs=1e-9)
    for ours, theirs in (("energy_pj", "energy_total_pj"), ("energy_mac_pj", "energy_mac_pj"),
                         ("energy_pe_reg_pj", "energy_rf_pj"), ("energy_glb_pj", "energy_glb_pj"),
                         ("energy_dram_pj", "energy_dram_pj")):
        assert c[ours] == pytest.approx(float(row[theirs]), rel=1e-9), ours
    for lvl, mem in (("dram", "dram"), ("glb", "glb"), ("rf", "pe_reg")):
        for t in "ABZ":
            for kind in ("reads", "fills", "updates"):
                assert c.get(f"{mem}_{TENSOR[t]}_{kind}", 0) == int(row[f"{lvl}_{t}_{kind}"]), \
                    f"{lvl} {t} {kind}"


def test_rejects_tile_too_big_for_glb():
    """Timeloop rejects a mapping whose GLB tile exceeds the buffer; so do we."""
    case = json.load(open(TL / "cases" / "g256_os_16x16" / "case.json"))
    layer, arch, mapping = build(case)
    small = SystolicArch(**{**arch.__dict__, "glb_kib": 32, "tech": TECH})
    assert evaluate_mapping(layer, small, mapping, check_dataflow=False)["infeasible"] == "glb"
