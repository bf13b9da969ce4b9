"""Huge streamed dims (issue 13): a block with more than `_descend._GROUPED`
choices (a streamed dim of 10**6..2**31) is expanded by groups screened by
their columnwise minima, and its budget tables keep a thinned set of prefix
minima. Both must keep the search exact.

The small layers of tests/test_mapper.py never reach the threshold, so here
it is lowered to 2 (every block grouped, every budget table thinned to two
positions) and the exhaustive search and the Pareto front are checked
against the unpruned brute force again; the beam must pick the same
mappings as without groups (the groups keep the plain expansion's row order).
A streamed dim of 10**6 checks the real threshold against brute force over
its 16,137 candidates (the other dims pinned) and against the plain expansion.
"""
import numpy as np
import pytest

from codesign.families.systolic import dominance
from codesign.families.systolic.arch import SystolicArch
from codesign.families.systolic.mapper import best_mapping
from codesign.families.systolic.space import MappingSpace
from codesign.families.systolic.strategies import Beam, BruteForce, Exhaustive, _descend
from codesign.objective import Objective
from codesign.workload import gemm

import test_mapper as tm

ARCH = SystolicArch(rows=16, cols=16, dataflow="os", glb_kib=256, acc_kib=64, dram_bw_bytes=16, clock_mhz=1000)


@pytest.fixture
def grouped(monkeypatch):
    monkeypatch.setattr(_descend, "_GROUPED", 2)
    monkeypatch.setattr(_descend, "_GROUP_MIN", 2)
    monkeypatch.setattr(_descend, "_THIN", 2)


@pytest.mark.parametrize("layer_name,arch_i", tm.CASES[::5])
def test_grouped_search_equals_unpruned_bruteforce(grouped, layer_name, arch_i):
    tm.test_exhaustive_equals_unpruned_bruteforce(layer_name, arch_i)


def test_grouped_pareto_front_and_pins(grouped):
    tm.test_pareto_set_equals_bruteforce_front()
    tm.test_pins_are_respected_and_the_rest_is_optimal({"order": {"dram": ["N", "M", "K"], "glb": ["K", "M", "N"]}})
    tm.test_pins_are_respected_and_the_rest_is_optimal({"rows": {"M": 1}, "pe": {"K": 3}, "dram": {"N": 2}})


def _beams():
    out = []
    for layer in tm.LAYERS.values():
        for arch in tm.ARCHS[:4]:
            r = Beam(width=3).search(MappingSpace(layer, arch), Objective.parse("edp"))
            out.append(None if r.best < 0 else (r.batch.factors[r.best].tolist(), r.costs.energy_pj[r.best]))
    return out


def test_grouped_beam_picks_the_same_mappings(monkeypatch):
    plain = _beams()
    monkeypatch.setattr(_descend, "_GROUPED", 2)
    monkeypatch.setattr(_descend, "_GROUP_MIN", 2)
    assert _beams() == plain


PIN = {"rows": {"M": 16}, "cols": {"N": 16}, "glb": {"M": 4, "N": 4}}


def test_streamed_dim_of_10_6_equals_bruteforce_over_its_candidates():
    layer = gemm(64, 64, 10**6, name="k6")
    sp = MappingSpace(layer, ARCH, PIN)
    assert len(sp.dims[2]) == 16137 > _descend._GROUPED
    for objective in ("edp", "energy"):
        o = Objective.parse(objective)
        a, b = BruteForce().search(sp, o), Exhaustive().search(sp, o)
        assert b.exact
        va = o(a.costs.latency_cycles[a.best], a.costs.energy_pj[a.best])
        vb = o(b.costs.latency_cycles[b.best], b.costs.energy_pj[b.best])
        assert vb == pytest.approx(va, rel=1e-12)
        assert b.evaluated < 100 and b.bounded < len(sp.dims[2])    # the groups screen most choices


def test_streamed_dim_of_10_6_maps_as_with_the_plain_expansion(monkeypatch):
    layer = gemm(64, 64, 10**6 + 7, name="k6")
    plain = Exhaustive(seeds=False)                       # the second search unseeded too: compare the expansions
    new = best_mapping(layer, ARCH, strategy=plain)
    monkeypatch.setattr(_descend, "_GROUPED", 10**9)      # no groups, full budget tables
    monkeypatch.setattr(_descend, "_THIN", 10**9)
    old = best_mapping(layer, ARCH, strategy=plain)
    assert new.exact and old.exact
    assert new.mapping == old.mapping and new.cost == old.cost
    assert new.bounded < old.bounded / 3


def _naive_dominated(W):
    return np.array([any((W[j] <= W[i]).all() for j in range(i)) for i in range(len(W))])


def test_dominance_bitsets_equal_the_pairwise_definition():
    rng = np.random.default_rng(0)
    for n, k, top in [(40, 1, 5), (300, 3, 6), (2500, 4, 30), (2300, 2, 200)]:
        V = rng.integers(1, top, (n, k)).astype(float)
        if k > 1:
            V[: n // 2, 1] = top - V[: n // 2, 0]          # a trade-off half: many rows kept
        W = V[np.lexsort((np.arange(n), np.log(V).sum(axis=1)))]
        want = _naive_dominated(W) if n < 1000 else dominance._dominated_pairwise(W, np.zeros((n, 1)))
        assert (dominance._dominated_sorted(W) == want).all()
        assert (dominance._dominated_bitset(W) == want).all()
        assert 0 < want.sum() < n


def test_varying_columns_as_numpy_unique():
    rng = np.random.default_rng(1)
    for _ in range(30):
        V = rng.integers(1, 3, (20, 6)).astype(float)
        V[:, 2], V[:, 4] = V[:, 0], 2.0
        W = np.unique(V, axis=1)
        assert np.array_equal(dominance._varying_columns(V), W[:, W.min(axis=0) < W.max(axis=0)])
