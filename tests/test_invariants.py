"""Physical invariants of the cost model over many random mappings of real layers."""
import numpy as np
import pytest

from codesign.families.systolic.arch import SystolicArch
from codesign.families.systolic.arch import tech_of
from codesign.families.systolic.cost import evaluate
from codesign.families.systolic.space import random_batch
from codesign.workload.zoo import zoo


@pytest.mark.parametrize("model,df", [("resnet18", "os"), ("mobilenet_v2", "ws"), ("bert_base", "is")])
def test_invariants(model, df):
    wl = zoo(model).unique()
    arch = SystolicArch(rows=8, cols=16, dataflow=df, glb_kib=128, acc_kib=32, dram_bw_bytes=8)
    e_mac = tech_of(arch).mac_pj(arch.op_bits, arch.acc_bits)
    checked = 0
    for i, (layer, _) in enumerate(list(wl)[:6]):
        c = evaluate(layer, arch, random_batch(layer, arch, 400, seed=i))
        ok = c.feasible
        checked += ok.sum()
        lat, comp = c.latency_cycles[ok], c.compute_cycles[ok]
        assert (lat >= comp).all()
        assert (lat >= np.floor(c.dram_bytes[ok] / arch.dram_bw_bytes)).all()
        assert (comp * arch.pes >= layer.macs).all(), "no array does more than one MAC per PE per cycle"
        assert (c.energy_pj[ok] >= layer.macs * e_mac - 1e-6).all()
        assert ((c.utilization[ok] > 0) & (c.utilization[ok] <= 1)).all()
        assert ((c.mapping_efficiency[ok] > 0) & (c.mapping_efficiency[ok] <= 1 + 1e-12)).all()
        for (mem, t, kind), v in c.accesses.items():
            assert (v[ok] >= 0).all(), (mem, t, kind)
        # every tensor crosses from DRAM at least once
        for t in ("inputs", "weights"):
            assert (c.accesses[("dram", t, "reads")][ok] >= layer.footprint(t)).all()
        assert (c.accesses[("dram", "outputs", "updates")][ok] >= layer.footprint("outputs")).all()
        assert (c.glb_bytes_used[ok] <= arch.glb_bytes / 2).all()
    assert checked > 100


def test_more_bandwidth_never_slower():
    layer = zoo("resnet18").unique().layers[1]
    slow = SystolicArch(dram_bw_bytes=2)
    fast = SystolicArch(dram_bw_bytes=64)
    b = random_batch(layer, slow, 300, seed=1)
    cs, cf = evaluate(layer, slow, b), evaluate(layer, fast, b)
    ok = cs.feasible & cf.feasible
    assert (cf.latency_cycles[ok] <= cs.latency_cycles[ok]).all()
    assert (cf.latency_cycles[ok] < cs.latency_cycles[ok]).any()
    np.testing.assert_allclose(cf.energy_pj[ok], cs.energy_pj[ok])
