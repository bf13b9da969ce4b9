"""Total cycles incl. DRAM stalls = RTL: the SoC (DMA over AXI4 from a simulated DRAM serving
``dram_bw_bytes`` per cycle, ping-pong operand banks, tile program in the descriptor memory)
runs GEMM layers bit exact, and its cycle counter equals the cost model's ``latency_cycles``
(``rtl`` timing, `stalls.soc_latency`).

Grid: os / ws / is on 4x4 and 3x4 arrays, bandwidths 1, 4 and 64 bytes/cycle (bandwidth-bound,
mixed and compute-bound steps), GEMM shapes not multiples of the array, dram splits in several
loop orders (partial-sum stores and reloads; consecutive tiles sharing the west or the north
block, which is not loaded again), ragged folds and ragged glb tiles (loaded at their size).
"""
import numpy as np
import pytest
from rtl_helpers import operands, role_mapping

from codesign.families.systolic.arch import SystolicArch
from codesign.families.systolic.cost import evaluate
from codesign.families.systolic.mapping import MappingBatch
from codesign.families.systolic.rtl import RtlError
from codesign.families.systolic.rtl.sim import Case
from codesign.families.systolic.rtl.soc_sim import simulate_soc
from codesign.families.systolic import soc_stalls as stalls
from codesign.workload import gemm

#: (shape M, N, K; fold sizes per role; glb factors per role (0: all folds); glb order; dram order)
TILINGS = [
    ((7, 5, 9), (4, 4, 9), (0, 0, 0), "MNK", "MNK"),          # one glb tile
    ((9, 6, 13), (4, 3, 5), (1, 1, 1), "MNK", "NKM"),         # one fold per tile, K outside M: reloads
    ((9, 6, 13), (3, 2, 4), (2, 0, 1), "KMN", "MKN"),         # several folds per tile, ragged tiles
    ((16, 8, 20), (4, 4, 8), (2, 2, 1), "NKM", "KMN"),        # K outermost: every output tile revisited
    ((9, 10, 13), (4, 3, 5), (1, 2, 1), "MNK", "KMN"),        # ragged tiles everywhere, N innermost: os keeps west
]


def cases_for(R, C, dataflow, seed):
    rng = np.random.default_rng(seed)
    out = []
    for shape, fold, glb, go, do in TILINGS:
        layer = gemm(*shape)
        from codesign.families.systolic.dataflow import ROLE_DIMS
        fold = tuple(min(f, layer.bounds[d], (R, C)[r]) if r < 2 else f
                     for r, (f, d) in enumerate(zip(fold, ROLE_DIMS[dataflow])))
        m = role_mapping(layer, dataflow, fold, glb, glb_order=go, dram_order=do)
        out.append(Case(layer, m, *operands(layer, rng)))
    return out


@pytest.mark.parametrize("R,C,dataflow,bw", [
    (4, 4, "os", 1), (4, 4, "os", 64), (4, 4, "ws", 4), (3, 4, "is", 1), (4, 4, "is", 64), (3, 4, "ws", 16),
])
def test_total_cycles_incl_dram_stalls_equal_the_model(R, C, dataflow, bw):
    arch = SystolicArch(timing="soc", rows=R, cols=C, dataflow=dataflow, dram_bw_bytes=bw)
    cases = cases_for(R, C, dataflow, seed=R * 100 + bw)
    for case, res in zip(cases, simulate_soc(arch, cases)):
        where = f"{R}x{C} {dataflow} bw {bw} {case.layer.describe()} {case.mapping.oneline()}"
        assert res.bit_exact, f"{where}: {res.summary()}"
        assert res.cycles == res.model_cycles, f"{where}: {res.summary()}"
        assert res.compute_cycles == res.model_compute_cycles, f"{where}: {res.summary()}"
        assert res.stall_cycles > 0


def test_grid_covers_compute_bound_load_bound_and_mixed_steps():
    """The grid above has mappings where every step is compute-bound, every step
    load-bound, and mixed ones (the enumeration path of `stalls._mixed`)."""
    seen = set()
    for R, C, df, bw in [(4, 4, "os", 1), (4, 4, "os", 64), (4, 4, "ws", 4), (3, 4, "is", 1), (4, 4, "is", 64)]:
        arch = SystolicArch(timing="soc", rows=R, cols=C, dataflow=df, dram_bw_bytes=bw)
        for case in cases_for(R, C, df, 0):
            c = evaluate(case.layer, arch, MappingBatch.from_mappings([case.mapping]))
            slow = c.latency_cycles[0]
            fast = evaluate(case.layer, SystolicArch(timing="soc", rows=R, cols=C, dataflow=df, dram_bw_bytes=1e9),
                            MappingBatch.from_mappings([case.mapping])).latency_cycles[0]
            seen.add("load" if slow > c.compute_cycles[0] * 2 else "compute" if slow < fast * 1.5 else "mixed")
    assert {"load", "compute"} <= seen, seen


def test_host_writes_descriptors_over_axi_lite():
    """The same program written word by word over AXI4-Lite (not the backdoor): same result."""
    arch = SystolicArch(timing="soc", rows=4, cols=4, dataflow="ws", dram_bw_bytes=8)
    cases = cases_for(4, 4, "ws", 7)[1:2]
    res = simulate_soc(arch, cases, backdoor=False)[0]
    assert res.bit_exact and res.cycles == res.model_cycles, res.summary()


def test_stall_model_constants_and_bandwidth_checks():
    """The schedule's constants are the RTL's (kept in one place) and odd bandwidths are refused."""
    assert stalls.RUN_AFTER_LOAD > stalls.RUN_AFTER_COMPUTE > 0
    with pytest.raises(RtlError, match="dram_bw_bytes"):
        simulate_soc(SystolicArch(timing="soc", rows=2, cols=2, dram_bw_bytes=12), cases_for(2, 2, "os", 0)[:1])


def test_a_kept_operand_is_not_loaded_again():
    """Consecutive glb tiles that share an operand block (keep_west / keep_north) read fewer
    DRAM beats: exactly the words of the loads left, and the same outputs as a program that
    reloads every block (keep flags off). Both kinds of keep and ragged tiles occur."""
    from codesign.families.systolic.rtl.regs import flag_bits
    arch = SystolicArch(timing="soc", rows=4, cols=4, dataflow="os", dram_bw_bytes=2)
    cases = cases_for(4, 4, "os", 3)[1:]
    kept = {"west": 0, "north": 0}
    with_reuse = simulate_soc(arch, cases)
    without = simulate_soc(arch, cases, reuse=False)
    from codesign.families.systolic.rtl.descriptors import make_program
    from codesign.families.systolic.rtl.dma import beats_per_word
    from codesign.families.systolic.rtl.soc_sim import soc_params
    params = soc_params(arch, cases)
    k = beats_per_word(params, 2)
    for case, res, ref in zip(cases, with_reuse, without):
        assert res.bit_exact and ref.bit_exact and res.cycles == res.model_cycles, res.summary()
        want, before = 0, sum(kept.values())
        for d in make_program(arch, case.layer, case.mapping, case.a, case.b, params, 2).descriptors:
            for bank in kept:
                skip = d["flags"] >> flag_bits[f"keep_{bank}"] & 1
                kept[bank] += skip
                want += 0 if skip else d[f"{bank}_words"] * k[bank]
            want += (d["flags"] >> flag_bits["reload"] & 1) * d["acc_words"] * k["acc"]
        assert res.dram_read_beats == want, (res.dram_read_beats, want)
        if sum(kept.values()) > before:
            assert res.dram_read_beats < ref.dram_read_beats and res.cycles < ref.cycles
    assert min(kept.values()) > 0, kept
