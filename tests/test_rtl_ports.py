"""Buffer port widths on the RTL: the controller paces the array so that no port moves
more bits per step than its width allows in the step's cycles, and the measured cycles
equal the model's (`plan.tile_model_cycles`, `cost.evaluate`'s latency) with the stalls.

Grid: arrays 2x2, 3x4, 4x4; os, ws, is; the RTL cycle tests' GEMM shapes and tilings
(ragged folds, several glb tiles, folds smaller than the array); widths narrower than
a vector (a lane or a word per cycle), between one vector and a step's words, and
widths that divide nothing. A monitor counts each step's words on every port.
"""
import math

import pytest
from test_rtl_cycles import grid_cases

from codesign.families.systolic.arch import SystolicArch
from codesign.families.systolic.cost import evaluate
from codesign.families.systolic.mapping import MappingBatch
from codesign.families.systolic.rtl import simulate_many
from codesign.families.systolic.rtl.params import RtlParams
from codesign.families.systolic.rtl.plan import make_plan, model_cycles

WIDTHS = {
    "narrow": lambda R, C: {"glb_read_bits": 8, "acc_write_bits": 32},
    "between": lambda R, C: {"glb_read_bits": max(R, C) * 8 + 8, "acc_read_bits": C * 32 - 16},
    "odd": lambda R, C: {"glb_read_bits": 24, "acc_read_bits": 48, "acc_write_bits": 40},
}


def port_monitor(p: RtlParams, steps: list):
    """A process per Top: per step (``adv``) of a busy array, its cycles and the bits it moved
    per port (whole bank words: a west / north vector, an accumulator word per valid column)."""
    def make(top):
        C = p.cols
        sigs = [top.ctrl.busy, top.ctrl.adv, top.west.r_en, top.north.r_en, *top.acc.read_valid,
                *top.acc.write_valid]

        async def proc(ctx):
            n = 0
            async for _, _, busy, adv, west, north, *v in ctx.tick().sample(*sigs):
                n = n + 1 if busy else 0
                if busy and adv:
                    steps.append((n, {"glb_read_bits": (west * p.rows + north * C) * p.op_bits,
                                      "acc_read_bits": sum(v[:C]) * p.acc_bits,
                                      "acc_write_bits": sum(v[C:]) * p.acc_bits}))
                    n = 0
        return proc
    return make


@pytest.mark.parametrize("dataflow", ["os", "ws", "is"])
@pytest.mark.parametrize("R,C", [(2, 2), (3, 4), (4, 4)])
def test_paced_rtl_is_cycle_exact_and_honours_the_widths(R, C, dataflow):
    cases = grid_cases(R, C, dataflow, seed=R * C)[::3]     # every tiling of the grid, 9 of its 25 cases
    tight = set()
    for name, widths in WIDTHS.items():
        arch = SystolicArch(rows=R, cols=C, dataflow=dataflow, dram_bw_bytes=1e6, **widths(R, C))
        params = RtlParams.for_plans(arch, [make_plan(arch, c.layer, c.mapping) for c in cases])
        assert params.paced, name
        steps = []
        results = simulate_many(arch, cases, params=params, monitors=[port_monitor(params, steps)])
        stalled = 0
        for case, res in zip(cases, results):
            where = f"{R}x{C} {dataflow} {name} {case.layer.describe()} {case.mapping.oneline()}"
            assert res.bit_exact, f"{where}: {res.summary()}"
            assert res.tile_cycles == res.model_tile_cycles, f"{where}: {res.tile_cycles} vs {res.model_tile_cycles}"
            assert res.cycles == res.model_cycles == model_cycles(arch, case.layer, case.mapping)
            bare = model_cycles(arch, case.layer, case.mapping, ports=False)
            stalled += res.cycles - bare
            batch = MappingBatch.from_mappings([case.mapping])
            wide = evaluate(case.layer, SystolicArch(rows=R, cols=C, dataflow=dataflow, dram_bw_bytes=1e6), batch)
            got = evaluate(case.layer, arch, batch)
            assert got.compute_cycles[0] == wide.compute_cycles[0] == bare, where
            assert got.latency_cycles[0] - wide.latency_cycles[0] == res.cycles - bare, where
        assert stalled > 0, name
        # every step's words fit its ports' widths times its cycles
        for n, bits in steps:
            for port, b in bits.items():
                w = getattr(params, port)
                if w:
                    assert b <= n * w, f"{name}: a {n}-cycle step moved {b} bits on {port} ({w} per cycle)"
                    if b > (n - 1) * w:
                        tight.add(name)
    # and some steps need all their cycles (pacing is static per step class, so not in every width set)
    assert len(tight) >= 2, tight


def test_default_widths_do_not_pace():
    """Gemmini's sizing (the default 0) never stalls: no pacing logic, same cycles."""
    for df in ("os", "ws", "is"):
        for R, C in ((1, 1), (2, 5), (16, 16), (32, 4)):
            arch = SystolicArch(rows=R, cols=C, dataflow=df)
            p = RtlParams.for_arch(arch)
            assert not p.paced and (p.glb_read_bits, p.acc_read_bits, p.acc_write_bits) == (0, 0, 0)


def test_port_width_of_a_port_that_cannot_stall_is_dropped():
    """Only the ports that stall this array reach the RTL; soc timing paces nothing (its model has no port stalls)."""
    p = RtlParams.for_arch(SystolicArch(rows=4, cols=4, dataflow="os", glb_read_bits=40, acc_read_bits=4096))
    assert (p.glb_read_bits, p.acc_read_bits, p.acc_write_bits) == (40, 0, 0) and p.pacing == (2, 2, 1, 1, 1)
    assert p.pacing[0] == math.ceil(8 * 8 / 40)
    soc = RtlParams.for_arch(SystolicArch(rows=4, cols=4, dataflow="os", glb_read_bits=8, timing="soc"))
    assert not soc.paced


def test_bad_rtl_port_width_names_the_key():
    from codesign.families.systolic.rtl.plan import RtlError
    with pytest.raises(RtlError, match="rtl.acc_write_bits: must be an integer >= 0"):
        RtlParams(rows=2, cols=2, dataflow="os", acc_write_bits=-1)


def test_pacing_is_per_step_class():
    """ws at 4x4 int8/int32 with a 24-bit glb read port: a fold's first R steps need a west
    and a preload vector (64 bits: 3 cycles), later ones a west vector (32: 2), pad and fill
    steps a preload vector (2); os needs both vectors in every streamed step."""
    assert RtlParams(rows=4, cols=4, dataflow="ws", glb_read_bits=24).pacing == (3, 2, 2, 2, 1)
    q = RtlParams(rows=4, cols=4, dataflow="os", glb_read_bits=8, acc_write_bits=64)
    assert q.pacing == (8, 8, 2, 1, 2)
