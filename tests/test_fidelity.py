"""Model fidelity: energy per bit, requantized outputs (out_bits), activations kept on chip.

Every expected figure is rebuilt here from access counts and the tech
table's own per-access / per-bit figures, never copied from a run.
"""
import json

import pytest
import yaml

from codesign.cli import main
from codesign.families.systolic.arch import ArchError, SystolicArch, tech_of
from codesign.families.systolic.cost import evaluate_mapping
from codesign.families.systolic.mapping import Mapping
from codesign.families.systolic.network import evaluate_network, network_cost
from codesign.workload import Network, conv2d, gemm
from codesign.workload.graph import GraphBuilder

#: a per-bit table and the same numbers per access (Timeloop style)
PER_BIT = dict(mac_pj=0.0, reg_pj_per_bit=0.0, glb_pj_per_bit=1.0, acc_pj_per_bit=1.0, dram_pj_per_bit=10.0,
               forward_pj_per_bit=0.0)
PER_ACCESS = dict(mac_pj=0.0, reg_pj=0.0, glb_pj=1.0, acc_pj=1.0, dram_pj=10.0, forward_pj=0.0)


def spill_case():
    """A 32x24x40 gemm whose reduction is split at DRAM, outermost: partial sums go to DRAM and back."""
    layer = gemm(32, 24, 40, name="g")
    mapping = Mapping.build(layer, dram={"K": 2, "M": 2}, glb={}, rows={"M": 16}, cols={"N": 16}, pe={"K": 20},
                            order={"dram": ["K", "M", "N"]})
    return layer, mapping


def dram_bytes_from_counts(c, layer, out_word):
    """DRAM bytes from the access counts: reads at their widths, output updates = spills at the
    output word + one final write per output at `out_word` bits."""
    bits = {t.name: t.bits for t in layer.tensors}
    z = layer.footprint("outputs")
    reads = sum(c[f"dram_{t}_reads"] * bits[t] for t in ("inputs", "weights", "outputs"))
    writes = (c["dram_outputs_updates"] - z) * bits["outputs"] + z * out_word
    return (reads + writes) / 8


def test_partial_sums_charged_at_their_width_per_bit_not_per_access():
    layer, mapping = spill_case()
    bit = evaluate_mapping(layer, SystolicArch(tech=PER_BIT, out_bits=32), mapping)
    acc = evaluate_mapping(layer, SystolicArch(tech=PER_ACCESS, out_bits=32), mapping)
    assert bit["infeasible"] == acc["infeasible"] == "ok"
    acc_accesses = sum(bit[f"acc_outputs_{k}"] for k in ("reads", "fills", "updates"))
    glb_accesses = sum(bit[f"glb_{t}_{k}"] for t in ("inputs", "weights") for k in ("reads", "fills"))
    assert acc_accesses > 0 and glb_accesses > 0
    assert bit["energy_acc_pj"] == pytest.approx(32 * acc_accesses)      # 32-bit partial sums, 1 pJ/bit
    assert bit["energy_glb_pj"] == pytest.approx(8 * glb_accesses)       # 8-bit operands
    assert acc["energy_acc_pj"] == pytest.approx(acc_accesses)           # one word, any width
    assert acc["energy_glb_pj"] == pytest.approx(glb_accesses)
    dram = sum(bit[f"dram_{t}_{k}"] * (32 if t == "outputs" else 8)
               for t in ("inputs", "weights", "outputs") for k in ("reads", "updates") if f"dram_{t}_{k}" in bit)
    assert bit["energy_dram_pj"] == pytest.approx(10 * dram)


def test_out_bits_requantizes_final_writes_only():
    layer, mapping = spill_case()
    z = layer.footprint("outputs")
    wide = evaluate_mapping(layer, SystolicArch(out_bits=32), mapping)
    q = evaluate_mapping(layer, SystolicArch(), mapping)          # out_bits defaults to op_bits = 8
    assert SystolicArch().out_bits == 8
    assert wide["dram_outputs_reads"] > 0                          # partial sums do spill
    for k in ("dram_outputs_reads", "dram_outputs_updates", "acc_outputs_updates"):
        assert q[k] == wide[k]                                     # same accesses, narrower finals
    assert wide["dram_bytes"] == dram_bytes_from_counts(wide, layer, 32)
    assert q["dram_bytes"] == dram_bytes_from_counts(q, layer, 8)
    assert wide["dram_bytes"] - q["dram_bytes"] == z * (32 - 8) / 8
    tech = tech_of(SystolicArch())
    assert wide["energy_dram_pj"] - q["energy_dram_pj"] == pytest.approx(z * (tech.dram_pj(32) - tech.dram_pj(8)))
    assert wide["energy_acc_pj"] == q["energy_acc_pj"]             # the accumulator still holds 32 bits


def test_out_bits_validated():
    assert SystolicArch(out_bits=16).out_bits == 16
    assert SystolicArch(op_bits=4, acc_bits=16, tech=PER_ACCESS).out_bits == 4
    with pytest.raises(ArchError, match=r"^hardware\.out_bits: must be at most acc_bits = 32"):
        SystolicArch(out_bits=40)
    with pytest.raises(ArchError, match=r"^hardware\.out_bits: must be a positive integer"):
        SystolicArch(out_bits=0)
    with pytest.raises(ArchError, match=r"^hardware\.keep_activations: must be true or false"):
        SystolicArch(keep_activations="yes")
    a = SystolicArch(out_bits=16, keep_activations=True)
    assert SystolicArch(**a.to_params()) == a


def two_layers(M, K1, N1, N2):
    """gemm a (M x K1 -> M x N1) feeding gemm b (M x N1 -> M x N2)."""
    return Network.chain("two", [gemm(M, N1, K1, name="a"), gemm(M, N2, N1, name="b")])


def test_kept_activation_saves_exactly_the_edge_traffic():
    net = two_layers(64, 48, 64, 96)
    off = evaluate_network(net, SystolicArch(), objective="edp")
    on = evaluate_network(net, SystolicArch(keep_activations=True), objective="edp")
    assert off.onchip.edges == ()
    (edge,) = on.onchip.edges
    a, b = (r.cost for r in on.layers)
    assert (edge.producer, edge.consumer, edge.activation_bytes) == ("a", "b", 64 * 64 * 8 / 8)
    z_a = 64 * 64
    saved = z_a * 8 / 8 + b["dram_inputs_reads"] * 8 / 8          # a's final writes + b's input reads
    assert b["dram_inputs_reads"] >= 64 * 64
    assert edge.dram_bytes_saved == saved
    assert off.dram_bytes - on.dram_bytes == saved
    assert off.dram_bytes == a["dram_bytes"] + b["dram_bytes"]
    t, glb = tech_of(SystolicArch()), SystolicArch().glb_bytes
    per = t.dram_pj(8) - t.sram_pj(glb, 8, "glb")                   # a DRAM access becomes a glb access
    assert edge.energy_pj_saved == pytest.approx((z_a + b["dram_inputs_reads"]) * per)
    assert off.energy_pj - on.energy_pj == pytest.approx(edge.energy_pj_saved)
    assert 0 < off.latency_cycles - on.latency_cycles == on.onchip.latency_cycles_saved
    fig = network_cost(on).figures
    assert fig["dram_bytes_layer_by_layer"] == off.dram_bytes and fig["dram_bytes"] == on.dram_bytes
    assert fig["latency_cycles_layer_by_layer"] == off.latency_cycles


def test_activation_that_does_not_fit_is_not_kept():
    # a 128 x 256 int8 activation (32 KiB) in a 32 KiB glb: no room for any tile beside it
    net = two_layers(128, 64, 256, 64)
    arch = SystolicArch(glb_kib=32, keep_activations=True)
    on = evaluate_network(net, arch, objective="edp")
    assert on.onchip.edges == ()
    off = evaluate_network(net, SystolicArch(glb_kib=32), objective="edp")
    assert (on.dram_bytes, on.energy_pj, on.latency_cycles) == (off.dram_bytes, off.energy_pj, off.latency_cycles)
    # the same chain in a glb with room for activation and tiles keeps it
    roomy = evaluate_network(net, SystolicArch(glb_kib=256, keep_activations=True), objective="edp")
    assert len(roomy.onchip.edges) == 1
    for r in roomy.layers:
        assert 128 * 256 + 2 * r.cost["glb_bytes_used"] <= 256 * 1024


def test_fit_rule_holds_around_the_boundary():
    """Kept iff activation + 2 x (tile bytes) <= glb for both layers (double-buffered), as mapped."""
    net = two_layers(64, 48, 64, 96)
    base = evaluate_network(net, SystolicArch(keep_activations=True), objective="edp")
    need = 64 * 64 + 2 * max(r.cost["glb_bytes_used"] for r in base.layers)
    seen = set()
    for nbytes in (need - 1024, need - 1, need, need + 1, need + 4096):
        arch = SystolicArch(glb_kib=nbytes / 1024, keep_activations=True)
        res = evaluate_network(net, arch, objective="edp")
        fits = all(64 * 64 + 2 * r.cost["glb_bytes_used"] <= arch.glb_bytes for r in res.layers)
        assert len(res.onchip.edges) == int(fits), nbytes
        seen.add(fits)
    assert seen == {True, False}


def test_kept_through_relu_not_across_a_branch():
    g = GraphBuilder("g", [("input", (1, 8, 16, 16))])
    c0 = g.mac(conv2d(1, 8, 16, 16, 8, 3, 3, padding=1, name="c0"), "input")
    r0 = g.op("r0", "relu", c0)
    c1 = g.mac(conv2d(1, 8, 16, 16, 16, 3, 3, padding=1, name="c1"), r0)
    g.mac(conv2d(1, 16, 16, 16, 16, 1, 1, name="c2"), c1)
    g.mac(conv2d(1, 16, 16, 16, 16, 1, 1, name="c3"), c1)        # c1 feeds two layers: stays off chip
    res = evaluate_network(g.build(), SystolicArch(keep_activations=True), objective="edp")
    assert [(e.producer, e.consumer) for e in res.onchip.edges] == [("c0", "c1")]


def test_evaluate_json_reports_both_ways(tmp_path, capsys):
    cfg = {"name": "chain", "workload": {"layers": [
        {"name": "a", "op": "gemm", "M": 64, "N": 64, "K": 48},
        {"name": "b", "op": "gemm", "M": 64, "N": 96, "K": 64}]},
        "hardware": {"keep_activations": True, "out_bits": 8}}
    p = tmp_path / "c.yaml"
    p.write_text(yaml.safe_dump(cfg))
    assert main(["evaluate", str(p), "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    both = d["activations_on_chip"]
    assert [(e["producer"], e["consumer"]) for e in both["edges"]] == [("a", "b")]
    lbl, kept = both["layer_by_layer"], both["kept"]
    assert lbl["dram_bytes"] - kept["dram_bytes"] == both["edges"][0]["dram_bytes_saved"] > 0
    assert kept["latency_cycles"] == d["total"]["latency_cycles"] < lbl["latency_cycles"]
    assert lbl["latency_cycles"] == sum(l["latency_cycles"] for l in d["layers"])
    assert main(["evaluate", str(p)]) == 0
    assert "activations kept on chip: 1 edge(s)" in capsys.readouterr().out


def test_bound_model_exact_with_per_bit_table_and_out_bits(monkeypatch):
    """The mapper's bounds stay equal to cost.evaluate with a per-bit table and 16-bit outputs
    (test_mapper's canary, run on these architectures)."""
    import test_mapper
    archs = [SystolicArch(rows=2, cols=2, dataflow="os", glb_kib=0.05, acc_kib=0.0625, dram_bw_bytes=2,
                          tech=PER_BIT, out_bits=16),
             SystolicArch(rows=4, cols=2, dataflow="is", glb_kib=0.1, acc_kib=0.03, dram_bw_bytes=4,
                          timing="ideal", tech=PER_BIT, out_bits=16),
             SystolicArch(rows=4, cols=4, dataflow="ws", glb_kib=0.04, acc_kib=0, double_buffered=False,
                          dram_bw_bytes=1, out_bits=8)]
    monkeypatch.setattr(test_mapper, "ARCHS", archs)
    test_mapper.test_bound_model_is_exact_on_canonical_mappings()
