"""Physical invariants of the cost model over many random mappings of real layers."""
import numpy as np
import pytest

from codesign.hw_models import SystolicArch
from codesign.hw_models.systolic import ROLES_ON, tech_of
from codesign.mapper.cost import evaluate
from codesign.mapper.mapping import MappingBatch
from codesign.workloads import zoo

RNG = np.random.default_rng(0)


def random_batch(layer, arch, n, rng):
    """n random dataflow-valid mappings (array tiles ragged, glb dividing the tile count)."""
    bounds = np.array([b for _, b in layer.dims])
    D = len(bounds)
    inner = np.ones((n, 4, D), dtype=np.int64)           # glb, rows, cols, pe
    roles = [layer.role(d) for d in layer.dim_names]
    where = dict(zip(ROLES_ON[arch.dataflow], (1, 2, 3)))
    for j, (role, b) in enumerate(zip(roles, bounds)):
        if role in where and b > 1:
            cap = {1: arch.rows, 2: arch.cols, 3: b}[where[role]]
            inner[:, where[role], j] = rng.integers(1, min(b, cap) + 1, n)
    x = inner[:, 1:, :].prod(axis=1)
    tiles = -(-bounds // x)
    for i in range(n):                                   # test set-up only, not the model
        for j in range(D):
            divs = [f for f in range(1, tiles[i, j] + 1) if tiles[i, j] % f == 0]
            inner[i, 0, j] = rng.choice(divs)
    rank = np.argsort(rng.random((n, 3, D)), axis=2)
    return MappingBatch.from_arrays(layer, inner, rank)


@pytest.mark.parametrize("model,df", [("resnet18", "os"), ("mobilenet_v2", "ws"), ("bert_base", "is")])
def test_invariants(model, df):
    wl = zoo(model)
    arch = SystolicArch(rows=8, cols=16, dataflow=df, glb_kib=128, acc_kib=32, dram_bw_bytes=8)
    e_mac = tech_of(arch).mac_pj(arch.op_bits, arch.acc_bits)
    checked = 0
    for layer, _ in list(wl)[:6]:
        c = evaluate(layer, arch, random_batch(layer, arch, 400, RNG))
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
    layer = zoo("resnet18").layers[1]
    slow = SystolicArch(dram_bw_bytes=2)
    fast = SystolicArch(dram_bw_bytes=64)
    b = random_batch(layer, slow, 300, np.random.default_rng(1))
    cs, cf = evaluate(layer, slow, b), evaluate(layer, fast, b)
    ok = cs.feasible & cf.feasible
    assert (cf.latency_cycles[ok] <= cs.latency_cycles[ok]).all()
    assert (cf.latency_cycles[ok] < cs.latency_cycles[ok]).any()
    np.testing.assert_allclose(cf.energy_pj[ok], cs.energy_pj[ok])
