"""The FIFO lower bounds the folding solver relies on (fifos.py): never above the true FIFO depth or
resources on grids of foldings of residual blocks; the solver's pair terms against brute force."""
import itertools
import math

import numpy as np
import pytest

from codesign.families.streaming import StreamingArch, fifos, prepare
from codesign.families.streaming.fifos import depth_bounds, fifo_bounds, resource_floor
from codesign.families.streaming.pipeline import MAX_SRL_DEPTH, evaluate_batch, fifo_resources
from codesign.families.streaming.solver import solve
from codesign.workload import conv2d, gemm
from codesign.workload.graph import GraphBuilder

from streaming_nets import dw_separable, residual_conv3


def fork_join():
    """conv, relu, fork into two 3x3 convs on one branch and the identity on the other, add, fc."""
    g = GraphBuilder("forkjoin", [("x", (1, 2, 6, 6))])
    g.mac(conv2d(1, 2, 6, 6, 4, 3, 3, padding=1, name="c1"))
    r = g.op("r1", "relu")
    g.mac(conv2d(1, 4, 6, 6, 4, 3, 3, padding=1, name="c2"))
    g.op("r2", "relu")
    g.mac(conv2d(1, 4, 6, 6, 4, 3, 3, padding=1, name="c3"))
    g.op("add", "add", "c3", r)
    g.mac(gemm(1, 3, 4 * 36, name="fc"))
    return g.build()


def _grid(opts, limit, seed):
    """Every folding (weights on chip and in DRAM) when there are at most `limit`, else `limit` random ones."""
    sets = [np.arange(len(o)) for o in opts.values()]
    n = math.prod(len(s) for s in sets)
    if n <= limit:
        rows = np.array(list(itertools.product(*sets)))
    else:
        rng = np.random.default_rng(seed)
        rows = np.stack([rng.choice(s, limit) for s in sets], axis=1)
    return {k: rows[:, i] for i, k in enumerate(opts)}


@pytest.mark.parametrize("build", [fork_join, residual_conv3, dw_separable])
def test_depth_bounds_never_exceed_the_true_depths(build):
    net, arch = build(), StreamingArch(dram_bw_bytes=4)
    pipe, opts = prepare(net, arch)
    idx = _grid(opts, 1500, 0)
    true = evaluate_batch(pipe, opts, idx, arch)
    tight = 0
    for focus in (None, int(np.median(true.ii_cycles)), int(true.ii_cycles.min())):
        for edge, (keys, bound) in depth_bounds(pipe, opts, arch, focus).items():
            got = bound[tuple(idx[k] for k in keys)] if keys else np.full(len(true.ii_cycles), bound)
            assert np.all(got <= true.fifo_depth[edge]), (edge, keys, focus)
            tight += int(np.any(got == true.fifo_depth[edge]) and np.max(got) > 1)
            w = pipe.engine(edge[0]).channels_out * arch.op_bits
            lut, bram = resource_floor(got, w)
            t_lut, t_bram = fifo_resources(true.fifo_depth[edge], w)
            assert np.all(lut <= t_lut) and np.all(bram <= t_bram)
    assert tight > 0                       # the bounds are reached somewhere: not all trivially 1


def test_the_join_bound_is_the_long_branch_lookahead_whatever_the_folding():
    """Two 3x3 convs on 6-wide rows behind the fork: the identity FIFO holds about 2 rows."""
    net, arch = fork_join(), StreamingArch()
    pipe, opts = prepare(net, arch)
    bound = fifos._join_depth(pipe, "r1", "add", 1)
    assert 2 * 6 <= bound <= 2 * 6 + 4
    assert fifos._join_depth(pipe, "c3", "add", 0) == 1          # the long branch's own edge: no lookahead
    keys, per = depth_bounds(pipe, opts, arch)[("r1", "add", 1)]
    assert np.all(per >= bound)
    true = evaluate_batch(pipe, opts, _grid(opts, 1500, 1), arch).fifo_depth[("r1", "add", 1)]
    assert true.min() >= bound and true.min() <= bound + 2   # tight for the fastest-paced foldings


def test_resource_floor_takes_the_cheaper_of_srl_and_block_ram():
    for w in (8, 24, 512):
        d = np.arange(1, 3000)
        lut, bram = resource_floor(d, w)
        for deeper in (d, np.minimum(d + 7, 2999), np.maximum(d, MAX_SRL_DEPTH + 1)):
            t_lut, t_bram = fifo_resources(deeper, w)
            assert np.all(lut <= t_lut) and np.all(bram <= t_bram)
    assert resource_floor(MAX_SRL_DEPTH + 1, 512)[1] > 0 and resource_floor(MAX_SRL_DEPTH, 512)[1] == 0


def _brute_pairs(opts, arch, pairs, per_option):
    """Lexicographic (II, resource cost) over every folding, vectorized, weights in DRAM only when no
    on-chip folding fits; the pair and per-option terms count against the budgets."""
    b = arch.budget()
    for allow in (False, True):
        sizes = {k: type("o", (), {"__len__": lambda s, n=(len(o) if allow else int((~o.dram).sum())): n})()
                 for k, o in opts.items()}
        grid = _grid(sizes, 10 ** 7, 0)
        tot = {r: sum(getattr(opts[k], r)[i] for k, i in grid.items()) for r in ("lut", "dsp", "bram18")}
        for a, bb, t in pairs:
            tot["lut"] = tot["lut"] + t[grid[a], grid[bb], 0]
            tot["bram18"] = tot["bram18"] + t[grid[a], grid[bb], 1]
        for n, t in per_option.items():
            tot["lut"], tot["bram18"] = tot["lut"] + t[grid[n], 0], tot["bram18"] + t[grid[n], 1]
        ok = np.all([tot[r] <= b[r] for r in tot], axis=0)
        if not ok.any():
            continue
        dram = np.ceil(sum(opts[k].dram_bytes[i] for k, i in grid.items()) / arch.dram_bw_bytes)
        ii = np.maximum(np.max([opts[k].cycles[i] for k, i in grid.items()], axis=0), dram)[ok]
        cost = np.sum([opts[k].resource_cost(arch)[i] for k, i in grid.items()], axis=0)[ok]
        best = ii.min()
        return int(best), round(float(cost[ii == best].min()), 12)
    return None


@pytest.mark.parametrize("seed", range(8))
def test_solver_with_pair_terms_equals_brute_force(seed):
    """Random pair and per-option FIFO terms that depend on the options' job cycles (as `fifo_bounds`
    gives them) on a residual block: the solver's optimum equals brute force."""
    net = residual_conv3()
    rng = np.random.default_rng(seed)
    arch = StreamingArch(lut=int(rng.integers(1500, 3500)), bram18=int(rng.integers(1, 6)))
    pipe, opts = prepare(net, arch)

    def by_cycles(*names, high):
        ranks = [np.unique(opts[n].job_cycles, return_inverse=True)[1] for n in names]
        t = rng.integers(0, high, size=tuple(r.max() + 1 for r in ranks) + (2,))
        return t[np.ix_(*ranks)] if len(names) == 2 else t[ranks[0]]
    pairs = [("c1", "c2", by_cycles("c1", "c2", high=[300, 3])), ("c2", "c3", by_cycles("c2", "c3", high=[200, 2]))]
    per = {"c1": by_cycles("c1", high=[200, 2])}
    want = _brute_pairs(opts, arch, pairs, per)
    sol = solve(opts, arch, pairs=pairs, fifo=per)
    if want is None:
        assert sol.choice is None
        return
    dram = math.ceil(sum(float(opts[k].dram_bytes[i]) for k, i in sol.choice.items()) / arch.dram_bw_bytes)
    got_ii = max(max(int(opts[k].cycles[i]) for k, i in sol.choice.items()), dram)
    got = round(sum(float(opts[k].resource_cost(arch)[i]) for k, i in sol.choice.items()), 12)
    assert sol.exact and (got_ii, got) == want


def test_fifo_bounds_split_into_reserve_per_option_and_pairs():
    net, arch = fork_join(), StreamingArch()
    pipe, opts = prepare(net, arch)
    reserve, per, pairs = fifo_bounds(pipe, opts, arch, focus=None)
    assert reserve["lut"] > 0 and "c1" in per and pairs == []
    _, _, pairs = fifo_bounds(pipe, opts, arch, focus=1)          # every option near the focus
    assert pairs and all(t.shape[:2] == (len(opts[a]), len(opts[b])) for a, b, t in pairs)
    assert fifo_bounds(pipe, opts, StreamingArch(timing="finn"))[1:] == ({}, [])
