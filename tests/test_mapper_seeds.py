"""Neighbour seeds (`strategies._seeds`) and the block tables kept across designs
(`bounds._TABLES`): the seeded search returns the optimum of the unseeded one
and of brute force over hardware sequences; a seed that does not fit, or
beats the space, changes nothing."""
from dataclasses import replace

import numpy as np
import pytest

from codesign.families.systolic import bounds
from codesign.families.systolic.arch import SystolicArch
from codesign.families.systolic.cost import evaluate
from codesign.families.systolic.mapper import best_mapping, clear_caches
from codesign.families.systolic.space import MappingSpace
from codesign.families.systolic.strategies import BruteForce, Exhaustive, _seeds
from codesign.objective import Objective
from codesign.workload import conv2d, gemm, matmul

LAYERS = [gemm(12, 10, 9, name="g1"), conv2d(1, 2, 5, 1, 3, 2, 1, name="c1"),
          conv2d(1, 1, 9, 1, 3, 3, 1, stride=2, name="c2"), matmul(2, 3, 4, 3, name="mm")]
BASE = SystolicArch(rows=4, cols=4, dataflow="os", glb_kib=0.06, acc_kib=0.04, dram_bw_bytes=2, timing="rtl")
#: hardware sequences a sweep could propose: a parameter walking up and down, dataflows interleaved
SEQUENCES = [
    [replace(BASE, rows=r, cols=c) for r, c in ((4, 4), (2, 4), (4, 2), (2, 2), (4, 4), (3, 4))],
    [replace(BASE, glb_kib=g) for g in (0.06, 0.03, 0.1, 0.04, 0.2, 0.03)],
    [replace(BASE, dram_bw_bytes=b, dataflow=d) for b, d in ((1, "os"), (4, "ws"), (2, "os"), (8, "is"),
                                                              (1, "ws"), (16, "os"))],
    [replace(BASE, timing=t, double_buffered=db) for t, db in (("rtl", True), ("ideal", False),
                                                               ("scalesim", True), ("rtl", False))],
]
OBJECTIVES = ["edp", "latency", "energy"]


def _value(o: Objective, out) -> tuple:
    c = out.costs
    return float(o(c.latency_cycles[out.best], c.energy_pj[out.best])), float(c.energy_pj[out.best])


@pytest.mark.parametrize("seq", range(len(SEQUENCES)))
def test_seeded_equals_unseeded_and_brute_force(seq):
    clear_caches()
    for arch in SEQUENCES[seq]:
        for layer in LAYERS:
            for name in OBJECTIVES:
                o = Objective.parse(name)
                sp = MappingSpace(layer, arch)
                seeded, plain = Exhaustive().search(sp, o), Exhaustive(seeds=False).search(sp, o)
                brute = BruteForce().search(sp, o)
                assert (seeded.best < 0) == (plain.best < 0) == (brute.best < 0)
                if seeded.best < 0:
                    continue
                assert _value(o, seeded) == pytest.approx(_value(o, plain), rel=1e-12)
                assert _value(o, seeded)[0] == pytest.approx(_value(o, brute)[0], rel=1e-12)
                assert seeded.exact
    assert _seeds._STORE, "the sequence should have left seeds"


def test_seeds_prune_more():
    """A seed equal to the optimum (the same design again) bounds fewer rows than the beam."""
    clear_caches()
    layer, o = conv2d(1, 16, 14, 14, 16, 3, 3, padding=1, name="big"), Objective.parse("edp")
    sp = MappingSpace(layer, replace(BASE, rows=8, cols=8, glb_kib=16, acc_kib=8))
    first = Exhaustive().search(sp, o)
    again = Exhaustive().search(sp, o)
    assert _seeds.incumbent(sp, o) == pytest.approx(_value(o, first)[0], rel=1e-12)
    assert again.bounded < first.bounded
    assert _value(o, again) == _value(o, first)


def test_infeasible_seed_is_ignored():
    """A seed mapped on a large buffer does not fit a small one: no incumbent from it."""
    clear_caches()
    layer, o = LAYERS[0], Objective.parse("edp")
    big = replace(BASE, glb_kib=1.0, acc_kib=1.0)
    small = replace(BASE, glb_kib=0.03, acc_kib=0.02)
    sp_big, sp_small = MappingSpace(layer, big), MappingSpace(layer, small)
    out = Exhaustive().search(sp_big, o)
    seed = out.batch.factors[out.best:out.best + 1], out.batch.rank[out.best:out.best + 1]
    c = evaluate(layer, small, type(out.batch)(out.batch.dims, out.batch.bounds, *seed))
    assert not c.feasible[0]                       # the premise: the big design's optimum does not fit
    assert _seeds.incumbent(sp_small, o) is None
    got = Exhaustive().search(sp_small, o)
    want = BruteForce().search(sp_small, o)
    assert (got.best < 0) == (want.best < 0)
    if got.best >= 0:
        assert _value(o, got)[0] == pytest.approx(_value(o, want)[0], rel=1e-12)


def test_seed_beating_the_space_falls_back():
    """A seed better than every mapping of a pinned space (it breaks the pin) leaves no
    finalist; the search runs unseeded and returns the pinned optimum."""
    clear_caches()
    layer, o = LAYERS[0], Objective.parse("edp")
    free = MappingSpace(layer, BASE)
    best = Exhaustive().search(free, o)
    m = free.mapping(best.batch, best.best)
    dim = next(d for d, f in zip(m.dims, m.factors[3]) if f > 1)           # a dim the optimum puts on cols
    pinned = MappingSpace(layer, BASE, {"cols": {dim: 1}})
    want = Exhaustive(seeds=False).search(pinned, o)
    _seeds._STORE[_seeds._key(pinned, o)] = type(_seeds._STORE[_seeds._key(free, o)])(
        _seeds._STORE[_seeds._key(free, o)], maxlen=_seeds.KEEP)
    assert _seeds.incumbent(pinned, o) < _value(o, want)[0]      # the premise: the seed beats the pin
    got = Exhaustive().search(pinned, o)
    assert _value(o, got) == pytest.approx(_value(o, want), rel=1e-12)


def test_clear_caches_and_bounded_tables():
    clear_caches()
    sp = MappingSpace(LAYERS[1], BASE)
    Exhaustive().search(sp, Objective.parse("edp"))
    assert _seeds._STORE and bounds._TABLES
    assert len(bounds._TABLES) <= bounds._TABLES_MAX
    clear_caches()
    assert not _seeds._STORE and not bounds._TABLES


def test_same_table_across_designs():
    """Designs that differ only in bandwidth share every block table (the memo hits, same result)."""
    clear_caches()
    layer, o = LAYERS[1], Objective.parse("edp")
    a = best_mapping(layer, BASE, o)
    n = len(bounds._TABLES)
    b = best_mapping(layer, replace(BASE, dram_bw_bytes=3), o)
    assert len(bounds._TABLES) == n
    clear_caches()
    c = best_mapping(layer, replace(BASE, dram_bw_bytes=3), o, strategy=Exhaustive(seeds=False))
    assert b.cost["latency_cycles"] == c.cost["latency_cycles"] and b.cost["energy_pj"] == c.cost["energy_pj"]
    assert np.isfinite(a.cost["energy_pj"])
