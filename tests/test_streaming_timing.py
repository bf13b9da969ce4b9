"""The streaming family's rtl timing against a cycle-stepped token simulation (tests/streaming_des.py):
the closed-form schedule, II, latency and minimal FIFO depths."""
import numpy as np
import pytest

from codesign.families.streaming import StreamingArch, prepare
from codesign.families.streaming.pipeline import evaluate
from codesign.families.streaming.timing import schedule
from codesign.workload import conv2d, gemm
from codesign.workload.graph import GraphBuilder

from streaming_des import simulate
from streaming_nets import dw_separable as ragged_dw_net
from streaming_nets import mlp as mlp_net


def residual_net():
    """conv, relu, fork into a 3x3 s2 conv and a 1x1 s2 conv, add, fc: a residual join, stride 2."""
    g = GraphBuilder("res", [("x", (1, 3, 8, 8))])
    g.mac(conv2d(1, 3, 8, 8, 8, 3, 3, padding=1, name="c1"))
    r = g.op("r1", "relu")
    a = g.mac(conv2d(1, 8, 8, 8, 8, 3, 3, stride=2, padding=1, name="c2"))
    b = g.mac(conv2d(1, 8, 8, 8, 8, 1, 1, stride=2, name="c3"), r)
    g.op("add", "add", a, b)
    g.mac(gemm(1, 10, 8 * 16, name="fc"))
    return g.build()


def _random_choices(opts, n, seed):
    rng = np.random.default_rng(seed)
    for _ in range(n):
        yield {k: int(rng.choice(np.nonzero(~o.dram)[0])) for k, o in opts.items()}


@pytest.mark.parametrize("build", [residual_net, ragged_dw_net, mlp_net])
def test_schedule_ii_latency_and_fifo_depths_equal_the_token_simulation(build):
    net, arch, frames = build(), StreamingArch(), 3
    pipe, opts = prepare(net, arch)
    for choice in _random_choices(opts, 3, 1):
        pc = evaluate(pipe, opts, choice, arch, frames=frames)
        jc = {k: int(opts[k].job_cycles[choice[k]]) for k in opts}
        writes, stalls, pops = simulate(pipe, jc, pc.ii_cycles, frames, pc.fifo_depth)
        sch = schedule(pipe, jc, pc.ii_cycles, frames + 1)
        for name, w in writes.items():
            assert w == sch.write[name][:len(w)].tolist(), name
        for key, p in pops.items():
            assert p == sch.pop[key][:len(p)].tolist(), key
        assert sum(stalls.values()) == 0                         # the model's depths suffice
        last = max(max(writes[o]) for o in pipe.outputs)
        assert pc.latency_cycles == last + 1
        assert pc.latency_cycles == pc.fill_cycles + (frames - 1) * pc.ii_cycles
        out = pipe.outputs[0]
        per = [writes[out][(f + 1) * pipe.engine(out).jobs - 1] for f in range(frames)]
        assert np.all(np.diff(per) == pc.ii_cycles)              # measured II = model II
        assert all(pc.ii_cycles >= c for c in pc.cycles.values())


@pytest.mark.parametrize("build", [residual_net, ragged_dw_net])
def test_one_entry_less_on_the_deepest_edge_stalls_its_producer(build):
    net, arch, frames = build(), StreamingArch(), 2
    pipe, opts = prepare(net, arch)
    for choice in _random_choices(opts, 2, 7):
        pc = evaluate(pipe, opts, choice, arch, frames=frames)
        jc = {k: int(opts[k].job_cycles[choice[k]]) for k in opts}
        edge = max(pc.fifo_depth, key=pc.fifo_depth.get)
        if pc.fifo_depth[edge] < 2:
            continue
        depth = dict(pc.fifo_depth)
        depth[edge] -= 1
        _, stalls, _ = simulate(pipe, jc, pc.ii_cycles, frames, depth)
        assert stalls[edge[0]] > 0


def test_batch_latency_extrapolates_from_the_periodic_schedule():
    net, arch = residual_net(), StreamingArch()
    pipe, opts = prepare(net, arch)
    choice = next(_random_choices(opts, 1, 3))
    long = evaluate(pipe, opts, choice, arch, frames=12)
    assert long.periodic
    assert long.latency_cycles == long.fill_cycles + 11 * long.ii_cycles
    jc = {k: int(opts[k].job_cycles[choice[k]]) for k in opts}
    sch = schedule(pipe, jc, long.ii_cycles, 12)
    assert long.latency_cycles == int(sch.write["fc"][11]) + 1
