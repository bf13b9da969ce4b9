"""The RTL's measured cycles equal the cost model's ``rtl`` timing formula, tile by tile.

Grid: arrays 2x2, 3x4, 4x4 (and 8x8), dataflows os/ws/is, GEMM shapes that
are not multiples of the array, tilings with glb-level splits in several
loop orders, dram-level splits (several glb tiles), ragged folds in every
role, folds smaller than the array. Each case also checks bit exactness and
that the vectorized cost model (`cost.evaluate`) agrees with `model_cycles`.
"""
import itertools
import random

import numpy as np
import pytest
from rtl_helpers import operands, role_mapping

from codesign.families.systolic.arch import SystolicArch
from codesign.families.systolic.cost import evaluate
from codesign.families.systolic.mapping import MappingBatch
from codesign.families.systolic.timing import fold_timing
from codesign.families.systolic.rtl import Case, model_cycles, simulate_many
from codesign.families.systolic.dataflow import ROLE_DIMS
from codesign.families.systolic.rtl.plan import make_plan
from codesign.workload import gemm

SHAPES = [(7, 5, 9), (4, 4, 4), (1, 1, 1), (9, 3, 13), (2, 11, 6)]


def tilings(R, C, layer, dataflow):
    """(fold sizes, glb factors, glb order, dram order) per tiling; glb 0 = all folds of the dim."""
    t = layer.bounds[ROLE_DIMS[dataflow][2]]
    full = (R, C, t)
    return [
        (full, (0, 0, 0), "MNK", "MNK"),                         # one glb tile
        (full, (0, 0, 0), "KNM", "MNK"),                         # same, other glb loop order
        (full, (1, 1, 1), "MNK", "NKM"),                         # dram splits only: one fold per tile
        ((R, C, -(-t // 2)), (0, 2, 0), "NKM", "KMN"),           # ragged time folds, glb+dram split on cols
        ((max(1, R - 1), max(1, C // 2), -(-t // 3)), (2, 0, 1), "KMN", "MKN"),  # folds smaller than the array
    ]


def grid_cases(R, C, dataflow, seed=0):
    rng = np.random.default_rng(seed)
    cases = []
    for shape in SHAPES:
        layer = gemm(*shape)
        for fold, glb, go, do in tilings(R, C, layer, dataflow):
            fold = tuple(min(f, layer.bounds[d]) if r < 2 else f
                         for r, (f, d) in enumerate(zip(fold, ROLE_DIMS[dataflow])))
            m = role_mapping(layer, dataflow, fold, glb, glb_order=go, dram_order=do)
            cases.append(Case(layer, m, *operands(layer, rng)))
    return cases


def check(arch, cases):
    results = simulate_many(arch, cases)
    for case, res in zip(cases, results):
        where = f"{arch.rows}x{arch.cols} {arch.dataflow} {case.layer.describe()} {case.mapping.oneline()}"
        assert res.bit_exact, f"{where}: {res.summary()}"
        assert res.tile_cycles == res.model_tile_cycles, f"{where}: per tile {res.tile_cycles} vs model " \
                                                         f"{res.model_tile_cycles}"
        assert res.cycles == res.model_cycles, f"{where}: {res.summary()}"
        cost = evaluate(case.layer, arch, MappingBatch.from_mappings([case.mapping]))
        assert cost.infeasible[0] == 0, where
        assert cost.compute_cycles[0] == res.model_cycles, f"{where}: cost.evaluate {cost.compute_cycles[0]}"
    return results


@pytest.mark.parametrize("dataflow", ["os", "ws", "is"])
@pytest.mark.parametrize("R,C", [(2, 2), (3, 4), (4, 4)])
def test_cycle_exact_grid(R, C, dataflow):
    results = check(SystolicArch(rows=R, cols=C, dataflow=dataflow), grid_cases(R, C, dataflow))
    assert max(r.glb_tiles for r in results) > 1 and max(r.folds for r in results) > 4


@pytest.mark.parametrize("dataflow", ["os", "ws"])
def test_cycle_exact_8x8(dataflow):
    layer = gemm(13, 11, 20)
    rng = np.random.default_rng(8)
    t = layer.bounds[ROLE_DIMS[dataflow][2]]
    cases = [Case(layer, role_mapping(layer, dataflow, (8, 8, t), (0, 0, 0)), *operands(layer, rng)),
             Case(layer, role_mapping(layer, dataflow, (8, 8, 7), (1, 0, 0), "KMN", "NKM"), *operands(layer, rng))]
    check(SystolicArch(rows=8, cols=8, dataflow=dataflow), cases)


def test_rtl_fold_schedule_coefficients():
    """The schedule the RTL implements: max(t, R) per fold; 2 + R + C per glb tile (ws/is: + R fill)."""
    for df in ("os", "ws", "is"):
        ft = fold_timing("rtl", df)
        assert (ft.per_fold, ft.per_rows, ft.per_cols, ft.per_used_rows, ft.per_used_cols) == (0, 0, 0, 0, 0)
        assert (ft.per_t, ft.t_floor_rows, ft.per_layer) == (1, 1, 0)
        assert (ft.per_glb_tile, ft.per_tile_rows, ft.per_tile_cols) == (2, 1 if df == "os" else 2, 1)
        assert ft.fold_cycles(16, 16, 16, 16, 64) == 64 and ft.fold_cycles(16, 16, 3, 5, 7) == 16


def test_model_cycles_closed_form_equals_fold_enumeration():
    """model_cycles (closed form) = the formula summed over the folds the RTL controller runs."""
    rnd = random.Random(5)
    for _ in range(300):
        df = rnd.choice(["os", "ws", "is"])
        R, C = rnd.randint(1, 6), rnd.randint(1, 6)
        arch = SystolicArch(rows=R, cols=C, dataflow=df)
        layer = gemm(rnd.randint(1, 40), rnd.randint(1, 40), rnd.randint(1, 40))
        dims = ROLE_DIMS[df]
        fold = (rnd.randint(1, min(R, layer.bounds[dims[0]])), rnd.randint(1, min(C, layer.bounds[dims[1]])),
                rnd.randint(1, layer.bounds[dims[2]]))
        glb = tuple(rnd.choice([0, 1, 2, 3]) for _ in range(3))
        m = role_mapping(layer, df, fold, glb, "".join(rnd.sample("MNK", 3)), "".join(rnd.sample("MNK", 3)))
        plan = make_plan(arch, layer, m)
        tiles = list(plan.tiles())
        folds = [f for tile in tiles for f in plan.fold_extents(tile)]
        assert sum(r * c * t for r, c, t in folds) == layer.macs
        want = (2 + (1 if df == "os" else 2) * R + C) * len(tiles) + sum(max(t, R) for r, c, t in folds)
        assert model_cycles(arch, layer, m) == want
        cost = evaluate(layer, arch, MappingBatch.from_mappings([m]))
        assert cost.compute_cycles[0] == want and cost.folds[0] == len(folds)


def test_every_glb_loop_order_same_cycles_and_results():
    """The glb-level loop order changes the fold sequence, not the cycle count or the result."""
    arch = SystolicArch(rows=2, cols=3, dataflow="os")
    layer = gemm(5, 7, 8)
    rng = np.random.default_rng(3)
    a, b = operands(layer, rng)
    cases = [Case(layer, role_mapping(layer, "os", (2, 3, 3), (0, 0, 0), "".join(o)), a, b)
             for o in itertools.permutations("MNK")]
    results = check(arch, cases)
    assert len({r.cycles for r in results}) == 1


@pytest.mark.parametrize("dataflow", ["os", "ws", "is"])
def test_random_mappings(dataflow):
    """Seeded random arrays (1..4 x 1..4), shapes and tilings: exact outputs and cycles."""
    rnd = random.Random({"os": 1, "ws": 2, "is": 3}[dataflow])
    R, C = rnd.randint(1, 4), rnd.randint(1, 4)
    rng = np.random.default_rng(rnd.randint(0, 99))
    dims = ROLE_DIMS[dataflow]
    cases = []
    for _ in range(15):
        layer = gemm(rnd.randint(1, 10), rnd.randint(1, 10), rnd.randint(1, 12))
        fold = (rnd.randint(1, min(R, layer.bounds[dims[0]])), rnd.randint(1, min(C, layer.bounds[dims[1]])),
                rnd.randint(1, layer.bounds[dims[2]]))
        m = role_mapping(layer, dataflow, fold, tuple(rnd.choice([0, 1, 2, 3]) for _ in range(3)),
                         "".join(rnd.sample("MNK", 3)), "".join(rnd.sample("MNK", 3)))
        cases.append(Case(layer, m, *operands(layer, rng)))
    check(SystolicArch(rows=R, cols=C, dataflow=dataflow), cases)


@pytest.mark.parametrize("dataflow", ["os", "ws", "is"])
def test_thin_shapes_and_oversized_pe_factor(dataflow):
    """Extents far beyond a bank's depth along one role (config widths), and a pe factor beyond the bound."""
    rng = np.random.default_rng(4)
    cases = []
    for shape in ((1, 40, 1), (40, 1, 1), (1, 1, 40), (3, 2, 5)):
        layer = gemm(*shape)
        for fold in ((1, 4, 1), (4, 1, 2), (2, 3, 64)):
            fold = tuple(min(f, layer.bounds[d]) if r < 2 else f
                         for r, (f, d) in enumerate(zip(fold, ROLE_DIMS[dataflow])))
            cases.append(Case(layer, role_mapping(layer, dataflow, fold, (0, 0, 0)), *operands(layer, rng)))
    for case in cases:      # one design each: memories as small as the case allows
        check(SystolicArch(rows=4, cols=4, dataflow=dataflow), [case])
