"""The mapper against brute force over the unpruned mapping space.

The unpruned space of a small layer: per dim every (array tile, glb
factor) pair of the space's definition (array tile ``ceil(B/n)`` for every
n, plus ``min(B, side)`` on rows/cols; glb factor any divisor of the fold
count), and EVERY permutation of the dims at the dram and at the glb
level. Built here with itertools/numpy independently of
`codesign.families.systolic.space`, costed with `cost.evaluate`.
"""
import functools
import itertools
import json
import math

import numpy as np
import pytest

from codesign.families.systolic.arch import SystolicArch
from codesign.families.systolic.dataflow import ROLES_ON
from codesign.families.systolic.bounds import Scorer, cases
from codesign.families.systolic.cost import evaluate
from codesign.families.systolic.flat import flat_layer
from codesign.families.systolic.mapping import LEVELS, MappingBatch
from codesign.objective import Objective
from codesign.families.systolic.mapper import NoMappingError, best_dataflow, best_mapping, pareto_mappings
from codesign.families.systolic.space import MappingSpace, reuse_class
from codesign.families.systolic.strategies import Beam, BruteForce, Exhaustive
from codesign.workload import conv2d, depthwise_conv2d, gemm, matmul

OBJECTIVES = ["edp", "latency", "energy", {"latency": 1.0, "energy": 0.01}]

LAYERS = {
    "gemm": gemm(12, 10, 9, name="g1"),
    "gemm8": gemm(7, 12, 5, out_bits=8, name="g2"),
    "conv": conv2d(1, 2, 5, 1, 3, 2, 1, name="c1"),                       # K3 C2 P4 R2
    "conv_s2": conv2d(1, 1, 9, 1, 3, 3, 1, stride=2, name="c2"),           # K3 P4 R3, stride 2
    "conv_d2": conv2d(1, 2, 7, 1, 2, 2, 1, dilation=2, name="c3"),         # K2 C2 P5 R2, dilation 2
    "dwconv": depthwise_conv2d(1, 3, 5, 1, 2, 1, padding=0, name="dw"),    # G3 P4 R2
    "matmul": matmul(2, 3, 4, 3, name="mm"),                                # B2 M3 N4 K3
    "flat": flat_layer(conv2d(1, 1, 4, 4, 2, 2, 2, name="cf")),             # M9 (P3 Q3) K2 R2 S2, flattened
}

ARCHS = [
    SystolicArch(rows=2, cols=2, dataflow="os", glb_kib=0.05, acc_kib=0.0625, dram_bw_bytes=2),
    SystolicArch(rows=4, cols=4, dataflow="ws", glb_kib=0.04, acc_kib=0, double_buffered=False,
                 dram_bw_bytes=1, timing="rtl"),
    SystolicArch(rows=4, cols=2, dataflow="is", glb_kib=0.1, acc_kib=0.03, dram_bw_bytes=4, timing="ideal"),
    SystolicArch(rows=2, cols=4, dataflow="os", glb_kib=0.03, acc_kib=0, double_buffered=False,
                 timing="scalesim", pe_reg_words=4),
    SystolicArch(rows=4, cols=4, dataflow="os", glb_kib=0.06, acc_kib=0.04, dram_bw_bytes=1, timing="rtl"),
    SystolicArch(rows=4, cols=2, dataflow="ws", glb_kib=0.08, acc_kib=0, dram_bw_bytes=8, timing="ideal",
                 glb_read_bits=12, glb_write_bits=40),           # narrow glb ports: stalls
    SystolicArch(rows=4, cols=2, dataflow="ws", glb_kib=0.06, acc_kib=0.04, dram_bw_bytes=4, timing="rtl",
                 glb_read_bits=20, acc_write_bits=48),           # narrow ports: the RTL's pacing
    SystolicArch(rows=2, cols=4, dataflow="os", glb_kib=0.05, acc_kib=0, dram_bw_bytes=8, timing="rtl",
                 glb_read_bits=40, acc_read_bits=100),
]


def _divisors(n):
    return [d for d in range(1, n + 1) if n % d == 0]


def unpruned(layer, arch):
    """(factors (N,5,D), rank (N,3,D)) of every mapping of the unpruned space."""
    on = dict(zip(ROLES_ON[arch.dataflow], ("rows", "cols", "pe")))
    per_dim = []
    for d, b in layer.dims:
        lvl = on.get(layer.role(d))
        side = {"rows": arch.rows, "cols": arch.cols}.get(lvl)
        if lvl is None:
            tiles = [1]
        else:
            tiles = {math.ceil(b / n) for n in range(1, b + 1)}
            if side is not None:
                tiles = {a for a in tiles if a <= side} | {min(b, side)}
        opts = []
        for a in sorted(tiles):
            n = math.ceil(b / a)
            for g in _divisors(n):
                f = [n // g, g, 1, 1, 1]
                if lvl is not None:
                    f[LEVELS.index(lvl)] = a
                opts.append(f)
        per_dim.append(opts)
    combos = np.array(list(itertools.product(*per_dim)), dtype=np.int64)      # (C, D, 5)
    factors = combos.transpose(0, 2, 1)
    D = len(layer.dims)
    live = [i for i, (_, b) in enumerate(layer.dims) if b > 1]
    dead = [i for i in range(D) if i not in live]
    perms = []
    for p in itertools.permutations(live):
        r = np.empty(D, dtype=np.int64)
        r[dead + list(p)] = np.arange(D)
        perms.append(r)
    perms = np.array(perms)
    P = len(perms)
    ranks = np.stack([np.repeat(perms, P, axis=0), np.tile(perms, (P, 1)),
                      np.tile(np.arange(D), (P * P, 1))], axis=1)                # (P*P, 3, D)
    C, O = len(factors), len(ranks)
    return np.repeat(factors, O, axis=0), np.tile(ranks, (C, 1, 1))


@functools.lru_cache(maxsize=None)
def brute(layer, arch):
    F, R = unpruned(layer, arch)
    c = evaluate(layer, arch, MappingBatch(layer.dim_names, np.array([b for _, b in layer.dims]), F, R))
    return F, R, c


def brute_best(layer, arch, objective, keep=None):
    F, R, c = brute(layer, arch)
    ok = c.feasible if keep is None else c.feasible & keep
    obj = Objective.parse(objective)(c.latency_cycles, c.energy_pj)
    return obj[ok].min() if ok.any() else None


CASES = [(ln, ai) for ln in LAYERS for ai in range(len(ARCHS))]


@pytest.mark.parametrize("layer_name,arch_i", CASES)
def test_exhaustive_equals_unpruned_bruteforce(layer_name, arch_i):
    layer, arch = LAYERS[layer_name], ARCHS[arch_i]
    for objective in OBJECTIVES:
        want = brute_best(layer, arch, objective)
        if want is None:
            with pytest.raises(NoMappingError):
                best_mapping(layer, arch, objective)
            continue
        res = best_mapping(layer, arch, objective)
        got = Objective.parse(objective)(res.cost["latency_cycles"], res.cost["energy_pj"])
        assert got == pytest.approx(want, rel=1e-12), (objective, res.mapping.oneline())
        assert res.cost["infeasible"] == "ok"
        assert res.evaluated <= res.considered


def test_space_bruteforce_strategy_agrees():
    """BruteForce (all of MappingSpace through cost.evaluate) finds the same optimum."""
    for layer in (LAYERS["gemm"], LAYERS["conv_s2"], LAYERS["matmul"]):
        for arch in ARCHS[:3]:
            sp = MappingSpace(layer, arch)
            for objective in OBJECTIVES:
                o = Objective.parse(objective)
                a, b = BruteForce().search(sp, o), Exhaustive().search(sp, o)
                if a.best < 0:
                    assert b.best < 0
                    continue
                va = o(a.costs.latency_cycles[a.best], a.costs.energy_pj[a.best])
                vb = o(b.costs.latency_cycles[b.best], b.costs.energy_pj[b.best])
                assert va == pytest.approx(vb, rel=1e-12)


def sample_case(layer, arch, sp, case, n, rng):
    """`n` random complete mappings of a bound-model case: their term products, the batch, and
    which of them the case describes exactly (the choices of a ``phi`` case, and of the
    dram-order class of role r when some role-r dim is split at dram)."""
    idx = np.stack([rng.integers(0, len(b.V), n) for b in case.blocks], axis=1)
    P = case.P0 * np.prod([b.V[idx[:, k]] for k, b in enumerate(case.blocks)], axis=0)
    choice = np.zeros((n, len(sp.dims)), dtype=np.int64)
    for k, b in enumerate(case.blocks):
        choice[:, list(b.dims)] = b.choice[idx[:, k]]
    batch = sp.batch(choice, case.dram_order)
    roles = np.array([layer.role(d) for d in layer.dim_names])
    r0 = layer.role([d for d in sp.dram_orders[case.dram_order] if layer.bounds[d] > 1][-1])
    dram = batch.factors[:, 0, :]
    real = (dram[:, roles == r0] > 1).any(axis=1) | ~(dram > 1).any(axis=1)
    st_dims = np.array([d in layer.tensor(arch.stationary).dims for d in layer.dim_names])
    phi = ~(batch.factors[:, 1, st_dims] > 1).any(1) & (
        (r0 == {"outputs": "k", "weights": "m", "inputs": "n"}[arch.stationary])
        | ~(dram[:, st_dims] > 1).any(1))
    exact = real & (phi if case.phi else ~phi)
    if case.halo is None:      # a no-halo case: exact unless the innermost dram loop slides
        order = sp.dram_orders[case.dram_order]
        pos = np.array([order.index(d) for d in layer.dim_names])
        inner = np.where(dram > 1, pos, -1).argmax(axis=1)
        slides = np.array([layer.dim_names[j] in sp.sliding_dims for j in inner])
        exact &= ~(slides & (dram > 1).any(axis=1))
    else:
        assert (dram[:, case.halo] > 1).all()
    return P, batch, exact


def test_bound_model_is_exact_on_canonical_mappings():
    """The pruning model reproduces cost.evaluate on complete mappings its case
    describes exactly: the choices of a ``phi`` case, and of the dram-order
    class of role r when some role-r dim is split at dram (otherwise another
    class describes the order); the canary that fails if cost.py changes."""
    rng = np.random.default_rng(3)
    checked = 0
    for layer in LAYERS.values():
        for arch in ARCHS:
            sp = MappingSpace(layer, arch)
            sc = Scorer.of(layer, arch)
            for case in cases(sp):
                P, batch, exact = sample_case(layer, arch, sp, case, 300, rng)
                lat, energy, fits = sc(P)
                c = evaluate(layer, arch, batch)
                assert np.array_equal(fits, c.feasible)
                lb = np.ceil(lat * (1 - 1e-12))
                assert np.array_equal(lb[exact], c.latency_cycles[exact])
                assert np.allclose(energy[exact], c.energy_pj[exact], rtol=1e-12, atol=0)
                assert (lb >= c.latency_cycles).all() and (energy >= c.energy_pj * (1 - 1e-12)).all()
                checked += exact.sum()
    assert checked > 10000


def test_partial_bounds_never_exceed_a_completion():
    """A partial assignment's bound (products times the rest's minima) is at most
    the value of each of its completions (what makes pruning sound)."""
    rng = np.random.default_rng(5)
    for layer in LAYERS.values():
        for arch in ARCHS:
            sp = MappingSpace(layer, arch)
            sc = Scorer.of(layer, arch)
            for case in cases(sp):
                nb = len(case.blocks)
                if nb < 2:
                    continue
                n = 400
                idx = np.stack([rng.integers(0, len(b.V), n) for b in case.blocks], axis=1)
                Vs = [b.V[idx[:, k]] for k, b in enumerate(case.blocks)]
                full = case.P0 * np.prod(Vs, axis=0)
                lat, en, _ = sc(full)
                for k in range(1, nb):
                    rest = np.prod([b.V.min(axis=0) for b in case.blocks[k:]], axis=0)
                    part = case.P0 * np.prod(Vs[:k], axis=0) * rest
                    plat, pen, _ = sc(part, partial=True)
                    assert (plat <= lat * (1 + 1e-12)).all() and (pen <= en * (1 + 1e-12)).all()


def test_orders_in_one_reuse_class_cost_the_same():
    """The order pruning rule: permutations with the same reuse class (innermost
    role, its trailing run) give identical costs; the canonical order of a role
    is never worse than any order with that innermost role."""
    layer, arch = LAYERS["matmul"], ARCHS[0]
    F, R, c = brute(layer, arch)
    live = [i for i, (_, b) in enumerate(layer.dims) if b > 1]
    P = math.factorial(len(live))
    nperm = P * P
    energy = c.energy_pj.reshape(-1, nperm)
    lat = c.latency_cycles.reshape(-1, nperm)
    rng = np.random.default_rng(0)
    for ci in rng.choice(energy.shape[0], 40, replace=False):
        f = F[ci * nperm]
        groups = {}
        for j in range(nperm):
            r = R[ci * nperm + j]
            cls = []
            for lvl in (0, 1):
                order = tuple(layer.dim_names[k] for k in np.argsort(r[lvl]))
                cls.append(reuse_class(order, dict(zip(layer.dim_names, f[lvl])), layer))
            groups.setdefault(tuple(cls), []).append(j)
        for js in groups.values():
            assert len(set(energy[ci, js])) == 1 and len(set(lat[ci, js])) == 1


@pytest.mark.parametrize("pin", [
    {"glb": {"M": 2}},
    {"cols": {"N": 2}, "order": {"dram": ["K", "N", "M"]}},
    {"order": {"dram": ["N", "M", "K"], "glb": ["K", "M", "N"]}},
    {"rows": {"M": 1}, "pe": {"K": 3}, "dram": {"N": 2}},
])
def test_pins_are_respected_and_the_rest_is_optimal(pin):
    layer, arch = LAYERS["gemm"], ARCHS[0]
    F, R, c = brute(layer, arch)
    keep = np.ones(len(F), bool)
    names = layer.dim_names
    for lvl, fs in pin.items():
        if lvl == "order":
            for ol, dims in fs.items():
                t = ("dram", "glb", "pe").index(ol)
                full = list(dims) + [d for d in names if d not in dims]
                want = np.array([full.index(d) for d in names])
                keep &= (np.argsort(np.argsort(R[:, t], axis=1), axis=1) == np.argsort(np.argsort(want))).all(1)
            continue
        for d, f in fs.items():
            keep &= F[:, LEVELS.index(lvl), names.index(d)] == f
    for objective in OBJECTIVES:
        res = best_mapping(layer, arch, objective, pin=pin)
        m = res.mapping
        for lvl, fs in pin.items():
            if lvl == "order":
                for ol, dims in fs.items():
                    got = m.order[("dram", "glb", "pe").index(ol)]
                    assert list(got[:len(dims)]) == list(dims)
                continue
            for d, f in fs.items():
                assert m.factor(lvl, d) == f
        want = brute_best(layer, arch, objective, keep)
        got = Objective.parse(objective)(res.cost["latency_cycles"], res.cost["energy_pj"])
        assert got == pytest.approx(want, rel=1e-12)


def test_bad_pins_raise_clear_errors():
    from codesign.families.systolic.mapping import MappingError
    layer, arch = LAYERS["gemm"], ARCHS[0]
    with pytest.raises(MappingError, match=r"mapping\.g1\.rows\.N: the os dataflow puts N"):
        best_mapping(layer, arch, pin={"rows": {"N": 2}})
    with pytest.raises(MappingError, match=r"mapping\.g1\.glb\.Z"):
        best_mapping(layer, arch, pin={"glb": {"Z": 2}})
    with pytest.raises(MappingError, match=r"mapping\.g1\.order\.pe"):
        best_mapping(layer, arch, pin={"order": {"pe": ["M", "M"]}})


@pytest.mark.parametrize("name", ["layer1.0.conv2", "layer2.0.downsample", "layer4.1.conv1", "fc"])
def test_capacity_never_exceeded(name):
    from codesign.workload.zoo import zoo
    layer = zoo("resnet50").layer(name)
    for arch in (SystolicArch(glb_kib=64, acc_kib=16), SystolicArch(rows=8, cols=32, dataflow="ws", glb_kib=32,
                                                                   acc_kib=0, double_buffered=False)):
        res = best_mapping(layer, arch, "energy")
        m = res.mapping
        tile = m.tile("glb")
        used = {t.name: t.footprint(tile) * t.bits / 8 for t in layer.tensors}
        div = 2 if arch.double_buffered else 1
        kept_glb = ("inputs", "weights") if arch.acc_kib else ("inputs", "weights", "outputs")
        assert sum(used[t] for t in kept_glb) <= arch.glb_bytes / div
        if arch.acc_kib:
            assert used["outputs"] <= arch.acc_bytes / div
        assert math.prod(m.level("rows").values()) <= arch.rows
        assert math.prod(m.level("cols").values()) <= arch.cols
        assert res.cost["infeasible"] == "ok"


def test_same_input_same_answer():
    from codesign.workload.zoo import zoo
    layer = zoo("resnet50").layer("layer3.0.conv2")
    arch = SystolicArch()
    a, b = best_mapping(layer, arch), best_mapping(layer, arch)
    assert a.mapping == b.mapping and a.cost == b.cost
    small = LAYERS["conv_s2"]
    for arch in ARCHS:
        for objective in OBJECTIVES:
            try:
                x = best_mapping(small, arch, objective)
            except NoMappingError:
                continue
            y = best_mapping(small, arch, objective)
            assert x.mapping == y.mapping and x.cost == y.cost


def test_infeasible_layer_names_layer_and_buffer():
    layer = gemm(64, 64, 64, name="big")
    with pytest.raises(NoMappingError, match=r"layer 'big'.*glb \(0.001 KiB"):
        best_mapping(layer, SystolicArch(glb_kib=0.001))
    with pytest.raises(NoMappingError, match=r"layer 'big'.*accumulator \(0.001 KiB"):
        best_mapping(layer, SystolicArch(glb_kib=64, acc_kib=0.001))


def test_beam_is_feasible_and_never_better_than_exhaustive():
    for layer in LAYERS.values():
        for arch in ARCHS:
            for objective in OBJECTIVES:
                o = Objective.parse(objective)
                sp = MappingSpace(layer, arch)
                ex, bm = Exhaustive().search(sp, o), Beam(width=4).search(sp, o)
                if ex.best < 0:
                    continue
                assert bm.best >= 0 and bm.costs.feasible[bm.best]
                v = lambda r: o(r.costs.latency_cycles[r.best], r.costs.energy_pj[r.best])  # noqa: E731
                assert v(bm) >= v(ex) * (1 - 1e-12)


def test_pareto_set_equals_bruteforce_front():
    for layer, arch in ((LAYERS["gemm"], ARCHS[0]), (LAYERS["conv"], ARCHS[4]), (LAYERS["gemm8"], ARCHS[2])):
        F, R, c = brute(layer, arch)
        ok = c.feasible
        pts = set(zip(c.latency_cycles[ok].tolist(), c.energy_pj[ok].tolist()))
        front = {(l, e) for l, e in pts if not any(l2 <= l and e2 <= e and (l2, e2) != (l, e) for l2, e2 in pts)}
        got = pareto_mappings(layer, arch)
        assert {(r.cost["latency_cycles"], r.cost["energy_pj"]) for r in got} == front
        assert [r.cost["latency_cycles"] for r in got] == sorted(r.cost["latency_cycles"] for r in got)


def test_best_dataflow_is_the_best_of_the_three():
    from dataclasses import replace
    layer = LAYERS["conv_s2"]
    for arch in ARCHS[:3]:
        for objective in OBJECTIVES:
            o = Objective.parse(objective)
            vals = {}
            for df in ("os", "ws", "is"):
                want = brute_best(layer, replace(arch, dataflow=df), objective)
                if want is not None:
                    vals[df] = want
            df, res = best_dataflow(layer, arch, objective)
            assert o(res.cost["latency_cycles"], res.cost["energy_pj"]) == pytest.approx(min(vals.values()), rel=1e-12)
            assert vals[df] == pytest.approx(min(vals.values()), rel=1e-12)


def test_objective_parsing():
    assert Objective.parse({"latency": 2, "energy": 0.5})(10, 4) == 22
    with pytest.raises(ValueError, match="objective"):
        Objective.parse("speed")
    with pytest.raises(ValueError, match=r"objective\.power"):
        Objective.parse({"power": 1})
    with pytest.raises(ValueError, match="both be 0"):
        Objective.parse({"latency": 0})


def test_map_command(tmp_path, capsys):
    pytest.importorskip("yaml")
    from codesign.cli import main
    cfg = tmp_path / "c.yaml"
    cfg.write_text("name: t\nworkload: {layers: [{op: gemm, name: g, M: 64, N: 64, K: 64}]}\n"
                   "hardware: {rows: 8, cols: 8, glb_kib: 16, acc_kib: 4}\nobjective: energy\n"
                   "mapping: {g: {cols: {N: 4}}}\n")
    assert main(["map", str(cfg)]) == 0
    out = capsys.readouterr().out
    assert "for " in out and "MAC" in out and "considered" in out and "cols: N4" in out
    assert main(["map", str(cfg), "--json", "--objective", "latency"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["layers"][0]["mapping"]["cols"] == {"N": 4} and data["layers"][0]["objective"] == "latency"
    assert main(["map", str(cfg), "--layer", "nope"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1


def test_exhaustive_budget_falls_back_to_beam():
    from codesign.workload.zoo import zoo
    layer, arch = zoo("resnet50").layer("layer2.1.conv2"), SystolicArch()
    o = Objective.parse("edp")
    sp = MappingSpace(layer, arch)
    full, capped = Exhaustive().search(sp, o), Exhaustive(budget=100).search(sp, o)
    assert full.exact and not capped.exact and capped.best >= 0
    v = lambda r: o(r.costs.latency_cycles[r.best], r.costs.energy_pj[r.best])  # noqa: E731
    assert v(capped) >= v(full) * (1 - 1e-12)
    assert not best_mapping(LAYERS["gemm"], ARCHS[0], strategy="beam").exact


def test_flattening_is_an_option_the_mapper_takes_when_it_is_better():
    """best_mapping(flatten=True) searches both spaces: its optimum is the
    better of the unflattened optimum and the unpruned brute force over the
    flattened layer, so never worse than without flattening."""
    base, flat = conv2d(1, 1, 4, 4, 2, 2, 2, name="cf"), LAYERS["flat"]
    wins = 0
    for arch in ARCHS:
        for objective in OBJECTIVES:
            o = Objective.parse(objective)
            plain = best_mapping(base, arch, objective)
            both = best_mapping(base, arch, objective, flatten=True)
            v = lambda r: o(r.cost["latency_cycles"], r.cost["energy_pj"])  # noqa: E731
            want = min(v(plain), brute_best(flat, arch, objective) or np.inf)
            assert v(both) == pytest.approx(want, rel=1e-12) and v(both) <= v(plain)
            wins += bool(both.mapping.flat)
    assert wins > 0
