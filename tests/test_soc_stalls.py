"""`soc_stalls.soc_latency` (the cost model's rtl-timing latency) equals a tile-by-tile walk of the
SoC schedule on conv, depthwise and batched-matmul loop nests (which the RTL runs only as
their GEMM view), for random mappings with ragged folds and tiles, several bandwidths and
all dataflows. The walk is the schedule of `soc_stalls.py`'s docstring written as a loop, with
compute cycles summed fold by fold (not through `traffic.level_sum`)."""
import itertools
import math

import numpy as np
import pytest

from codesign.families.systolic import soc_stalls as S
from codesign.families.systolic.arch import SystolicArch
from codesign.families.systolic.cost import evaluate
from codesign.families.systolic.dataflow import ROLES_ON
from codesign.families.systolic.space import random_batch
from codesign.families.systolic.timing import fold_timing
from codesign.workload import conv2d, depthwise_conv2d, gemm, matmul

LAYERS = [conv2d(1, 3, 6, 1, 3, 2, 1, name="c"), conv2d(1, 2, 7, 1, 2, 3, 1, stride=2, name="s2"),
          depthwise_conv2d(1, 3, 5, 1, 2, 1, padding=0, name="dw"), matmul(2, 3, 5, 3, name="mm"),
          gemm(9, 7, 10, name="g")]
#: the walk's grid: with the max(t, R) fold floor the tiny layers' tiles rarely straddle the
#: load time (mixed), a larger GEMM's ragged tiles do
WALK_LAYERS = LAYERS + [gemm(23, 19, 30, name="g2")]


def walk(layer, arch, F, rank):
    """Total cycles of one mapping: factors F (5, D) [dram, glb, rows, cols, pe], dram loop ranks."""
    ft = fold_timing("rtl", arch.dataflow)
    B = np.array([b for _, b in layer.dims])
    roles = [layer.role(d) for d in layer.dim_names]
    row, col, time = ROLES_ON[arch.dataflow]
    x = np.minimum(F[2] * F[3] * F[4], B)
    e = np.minimum(x * F[1], B)
    n = -(-B // e)
    out = [d in layer.tensor("outputs").dims for d in layer.dim_names]

    def ext(d, i):
        return min(e[d], B[d] - i * e[d])

    def compute(E):
        cyc = ft.tile_const(arch.rows, arch.cols)
        per_dim = []
        for d, E_d in enumerate(E):
            per_dim.append([min(x[d], E_d - k * x[d]) for k in range(-(-E_d // x[d]))])
        for fold in itertools.product(*per_dim):
            on = lambda lvl: math.prod(f for d, f in enumerate(fold) if F[lvl][d] > 1)  # noqa: E731
            cyc += ft.fold_cycles(arch.rows, arch.cols, on(2), on(3), on(4))
        return cyc

    def words(E, blocked, level, run):
        return math.prod(-(-E[d] // F[level][d]) if roles[d] == blocked else E[d] if roles[d] in (run, "g") else 1
                         for d in range(len(E)))

    k = lambda bits: math.ceil(bits / (8 * arch.dram_bw_bytes))  # noqa: E731
    run_n, run_a = (time, row) if arch.dataflow == "os" else (row, time)
    free = {"west": col, "north": row if arch.dataflow == "os" else time}   # the role an operand does not use

    def load(E, moved=None):
        """The loader's cycles for a tile of extents E; `moved`: the dims that changed since the
        previous tile (None: load both banks, without the loader's own cycles)."""
        cyc = 0 if moved is None else S.RUN_AFTER_LOAD
        for bank, w in (("west", words(E, row, 2, time) * k(arch.rows * arch.op_bits)),
                        ("north", words(E, col, 3, run_n) * k(arch.cols * arch.op_bits))):
            if moved is None:
                cyc += w
            elif any(roles[d] != free[bank] for d in moved):
                cyc += S.LOAD_EXTRA + w
        return cyc
    acc = lambda E, bits=arch.acc_bits: words(E, col, 3, run_a) * k(arch.cols * bits)  # noqa: E731
    order = sorted(range(len(B)), key=lambda d: rank[d])
    tiles = [dict(zip(order, idx)) for idx in itertools.product(*(range(n[d]) for d in order))]
    ext_of = lambda t: [ext(d, t[d]) for d in range(len(B))]  # noqa: E731
    key = lambda t: tuple(t[d] for d in range(len(B)) if out[d])  # noqa: E731
    total = ft.per_layer + S.PROLOGUE_CYCLES + load(ext_of(tiles[0]))
    for i, t in enumerate(tiles):
        c = compute(ext_of(t))
        last = i + 1 == len(tiles)
        if not last:
            nxt = tiles[i + 1]
            ld = load(ext_of(nxt), [d for d in range(len(B)) if nxt[d] != t[d]])
        total += S.STEP_CYCLES + (c + S.RUN_AFTER_COMPUTE if last else max(c + S.RUN_AFTER_COMPUTE, ld))
        if last or key(tiles[i + 1]) != key(t):     # the output tile's last visit stores it requantized
            final = all(key(u) != key(t) for u in tiles[i + 1:])
            total += acc(ext_of(t), arch.out_bits if final else arch.acc_bits) + S.STORE_EXTRA
            if not last and any(tiles[i + 1][d] > 0 for d in range(len(B)) if not out[d]):
                total += acc(ext_of(tiles[i + 1])) + S.RELOAD_EXTRA
    return total


@pytest.mark.parametrize("dataflow,bw", [("os", 1), ("ws", 4), ("is", 2), ("os", 32)])
def test_closed_form_equals_the_tile_walk(dataflow, bw):
    arch = SystolicArch(timing="soc", rows=4, cols=3, dataflow=dataflow, dram_bw_bytes=bw)
    checked = 0
    for li, layer in enumerate(WALK_LAYERS):
        batch = random_batch(layer, arch, 60, seed=li)
        c = evaluate(layer, arch, batch)
        for i in range(len(batch)):
            F = batch.factors[i]           # (5, D)
            want = walk(layer, arch, F, batch.rank[i, 0])
            assert c.latency_cycles[i] == want, f"{layer.name} {dataflow} bw {bw} mapping {i}"
            checked += 1
    assert checked == 60 * len(WALK_LAYERS)


def test_latency_is_at_least_compute_and_grows_as_bandwidth_falls():
    layer = LAYERS[0]
    lat = []
    for bw in (64, 8, 1):
        arch = SystolicArch(timing="soc", rows=4, cols=3, dataflow="os", dram_bw_bytes=bw)
        c = evaluate(layer, arch, random_batch(layer, arch, 200, seed=5))
        assert (c.latency_cycles > c.compute_cycles).all()
        lat.append(c.latency_cycles)
    assert (lat[0] <= lat[1]).all() and (lat[1] <= lat[2]).all() and (lat[2] > lat[0]).any()


def test_walk_grid_reaches_every_regime(monkeypatch):
    """The grid above has mappings whose steps are all compute-bound, all load-bound, and
    mixed (the enumeration of transition classes in `soc_stalls._steps`), and mappings
    that keep an operand across tiles (a load skipped) in each."""
    seen = {"compute": 0, "load": 0, "mixed": 0}
    kept = dict.fromkeys(seen, 0)
    real_r, real_t = S._regimes, S._Transitions
    trs = []

    def spy(c_min, c_max, ld_min, ld_max, T):
        bound, mixed = real_r(c_min, c_max, ld_min, ld_max, T)
        tr = trs[-1]
        keeps = (tr.j_w > 0) | (tr.j_n > 0)
        for name, m in (("compute", bound & (T > 1)), ("load", ~bound & ~mixed & (T > 1)), ("mixed", mixed)):
            seen[name] += int(m.sum())
            kept[name] += int((m & keeps).sum())
        return bound, mixed

    def spy_tr(*a):
        trs.append(real_t(*a))
        return trs[-1]
    monkeypatch.setattr(S, "_regimes", spy)
    monkeypatch.setattr(S, "_Transitions", spy_tr)
    for dataflow, bw in [("os", 1), ("ws", 4), ("is", 2), ("os", 32)]:
        arch = SystolicArch(timing="soc", rows=4, cols=3, dataflow=dataflow, dram_bw_bytes=bw)
        for li, layer in enumerate(WALK_LAYERS):
            evaluate(layer, arch, random_batch(layer, arch, 60, seed=li))
    assert min(seen.values()) > 10 and min(kept.values()) > 5, (seen, kept)


def test_pruning_bound_is_below_the_soc_schedule():
    """The mapper's bound model (`bounds.Scorer`) stays a lower bound of ``soc`` latency on
    complete mappings of every case (the check test_mapper does for the other timings)."""
    from codesign.families.systolic.bounds import Scorer, cases
    from codesign.families.systolic.space import MappingSpace
    from test_mapper import sample_case
    rng = np.random.default_rng(4)
    checked = 0
    for layer in LAYERS[:3] + LAYERS[4:]:
        for df, bw in (("os", 2), ("ws", 1), ("is", 8)):
            arch = SystolicArch(timing="soc", rows=4, cols=3, dataflow=df, dram_bw_bytes=bw, glb_kib=0.2, acc_kib=0.1)
            sp, sc = MappingSpace(layer, arch), Scorer.of(layer, arch)
            for case in cases(sp):
                P, batch, exact = sample_case(layer, arch, sp, case, 100, rng)
                c = evaluate(layer, arch, batch)
                lat, _, _ = sc(P)
                assert (np.ceil(lat * (1 - 1e-12))[exact] <= c.latency_cycles[exact]).all()
                checked += exact.sum()
    assert checked > 500


def test_soc_final_outputs_leave_requantized():
    """The SoC's DMA stores final outputs requantized (the quant flag), so under ``soc`` timing
    as under ``rtl`` the final outputs' DRAM bytes are those of ``out_bits``; and narrower
    outputs store faster."""
    from codesign.families.systolic.energy import out_word
    bits = {"inputs": 8, "weights": 8, "outputs": 32}
    assert out_word(SystolicArch(timing="rtl", out_bits=8), bits) == 8
    assert out_word(SystolicArch(timing="soc", out_bits=8), bits) == 8
    layer = LAYERS[4]
    lat = [evaluate(layer, SystolicArch(timing="soc", rows=4, cols=3, out_bits=q, dram_bw_bytes=1),
                    random_batch(layer, SystolicArch(timing="soc", rows=4, cols=3), 50, seed=2)).latency_cycles
           for q in (8, 32)]
    assert (lat[0] < lat[1]).all()
