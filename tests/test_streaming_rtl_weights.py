"""Weights loaded through the streaming RTL's ``wl`` stream (PORTS.md): after the load and a reset,
every engine's tokens equal the golden of the *loaded* weights (not the built-in ones), written in the
model's cycles; and the memory mapping the fitted model counts is the one the RTL asks Yosys for."""
import numpy as np
import pytest

from codesign.families.streaming import FAMILY, StreamingArch, fitted
from codesign.families.streaming.rtl.golden import golden, random_weights
from codesign.families.streaming.rtl.plan import read_positions
from codesign.families.streaming.rtl.sim import load_words, run_frames
from codesign.families.streaming.rtl.top import weight_bases
from codesign.families.streaming.timing import schedule

from streaming_nets import dw_separable, residual_conv3

PINS = {"dw": {"pe": 2, "simd": 3}, "pw": {"pe": 3, "simd": 2}, "fc": {"pe": 5, "simd": 6}}   # fc: one word


def _design(build, pins):
    arch = StreamingArch()
    return FAMILY.generate(arch, FAMILY.map_network(build(), arch, pins=pins))


@pytest.mark.parametrize("build,pins", [(dw_separable, PINS)])
def test_loaded_weights_replace_the_built_in_ones(build, pins):
    d = _design(build, pins)
    plan, pc = d.plan(2)
    rng = np.random.default_rng(7)
    built, loaded = random_weights(plan, rng), random_weights(plan, rng)
    x = rng.integers(-128, 128, (2, plan.engines[0].jobs, plan.engines[0].c_out))
    run = run_frames(plan, built, x, 4 * pc.latency_cycles, load=loaded)
    want, old = golden(plan, x, loaded), golden(plan, x, built)
    sch = schedule(d.pipe, {e.name: e.job_cycles for e in plan.engines}, pc.ii_cycles, 2)
    assert run.finished
    for e in plan.engines:
        assert np.array_equal(run.tokens[e.name], want[e.name].reshape(-1, e.c_out)), e.name
        assert run.writes[e.name] == sch.write[e.name].tolist(), e.name
    assert not np.array_equal(want[plan.output], old[plan.output])     # the load changed the result
    assert weight_bases(plan)["fc"][1] == 1 and weight_bases(plan)["dw"][1] > 1


def test_load_words_cover_each_memory_once():
    d = _design(residual_conv3, {"c1": {"pe": 2, "simd": 9}, "c2": {"pe": 2, "simd": 4}})
    plan, _ = d.plan(2)
    w = random_weights(plan, np.random.default_rng(0))
    words = load_words(plan, w)
    bases = weight_bases(plan)
    assert sorted(a for a, _ in words) == list(range(sum(n for _, n, _ in bases.values())))
    for name, (base, n, width) in bases.items():
        assert all(v < 1 << width for a, v in words if base <= a < base + n)


def test_fitted_structure_is_the_rtls():
    """`fitted.engine_params` (what the cost model sees) agrees with the RTL plan: buffer depth, read ports, words."""
    for build, pins in [(residual_conv3, {"c3": {"pe": 3, "simd": 6}}), (dw_separable, PINS)]:
        d = _design(build, pins)
        plan, _ = d.plan(2)
        for e in plan.engines[1:]:
            p = fitted.engine_params(d.pipe.engine(e.name), plan.op_bits, plan.acc_bits, e.pe, e.simd)
            assert p["buf_depth"][0] == e.buf_depth, e.name
            assert p["ports"][0] == len(read_positions(e)), e.name
            if e.kind in ("mvau", "vvau"):
                assert p["words"][0] == (e.mh // e.pe) * (e.mw // e.simd)
