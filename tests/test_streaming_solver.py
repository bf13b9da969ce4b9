"""The folding solver: optimal against brute force over every folding; invariants; pins and budgets;
the family interface (JSON shape, infeasible designs)."""
import itertools
import math

import numpy as np
import pytest

from codesign.errors import UserError
from codesign.families.streaming import FAMILY, StreamingArch, cost_choice, prepare
from codesign.families.streaming.solver import solve
from codesign.workload import conv2d, depthwise_conv2d, gemm
from codesign.workload.graph import GraphBuilder
from codesign.workload.zoo import _finn


def small_net():
    g = GraphBuilder("small", [("x", (1, 4, 6, 6))])
    g.mac(conv2d(1, 4, 6, 6, 8, 3, 3, padding=1, name="conv1"))
    g.op("r", "relu")
    g.mac(depthwise_conv2d(1, 8, 6, 6, 3, 3, stride=2, padding=1, name="dw"))
    g.mac(gemm(1, 6, 8 * 9, name="fc"))
    return g.build()


def _cyc(o, i, arch):
    """An engine's share of the II: its cycles (and, in finn timing, its sliding-window unit's)."""
    c = int(o.cycles[i])
    if arch.timing == "finn":
        c = max(c, int(o.swu_cycles[i]) if o.swu_cycles is not None else 0, o.pad_cycles)
    return c


def _pinned(o, i, pins):
    p = pins.get(o.engine.node, {})
    return all(int(getattr(o, k)[i]) == v for k, v in p.items())


def _brute(opts, arch, pins=None, fits=None):
    """Lexicographic (II, resource cost) over every combination; DRAM options only if nothing fits on chip;
    `fits(choice)`: an extra constraint (the FIFOs fit)."""
    b = arch.budget()
    names = list(opts)
    pins = pins or {}
    for allow in (False, True):
        sets = [[i for i in range(len(opts[n])) if (allow or not opts[n].dram[i]) and _pinned(opts[n], i, pins)]
                for n in names]
        best = None
        for combo in itertools.product(*sets):
            tot = {r: sum(int(getattr(opts[n], r)[i]) for n, i in zip(names, combo)) for r in ("lut", "dsp", "bram18")}
            if any(tot[r] > b[r] for r in tot):
                continue
            dram = sum(float(opts[n].dram_bytes[i]) for n, i in zip(names, combo))
            ii = max(max(_cyc(opts[n], i, arch) for n, i in zip(names, combo)), math.ceil(dram / arch.dram_bw_bytes))
            cost = sum(float(opts[n].resource_cost(arch)[i]) for n, i in zip(names, combo))
            if best is not None and (ii, cost) >= best[:2]:
                continue
            if fits is None or fits(dict(zip(names, combo))):
                best = (ii, cost, combo)
        if best is not None:
            return best
    return None


@pytest.mark.parametrize("budget", [{}, {"lut": 6000}, {"lut": 4000, "dsp": 20}, {"dsp": 8, "bram18": 1},
                                    {"lut": 1500}, {"lut": 100}])
@pytest.mark.parametrize("timing", ["rtl", "finn"])
def test_solver_equals_brute_force(budget, timing):
    net = small_net()
    arch = StreamingArch(timing=timing, **budget)
    pipe, opts = prepare(net, arch)
    want = _brute(opts, arch)
    sol = solve(opts, arch)
    if want is None:
        assert sol.choice is None and sol.fits > 0 and sol.reason
        return
    names = list(opts)
    got_cost = sum(float(opts[n].resource_cost(arch)[sol.choice[n]]) for n in names)
    dram = sum(float(opts[n].dram_bytes[sol.choice[n]]) for n in names)
    got_ii = max(max(_cyc(opts[n], sol.choice[n], arch) for n in names), math.ceil(dram / arch.dram_bw_bytes))
    assert (got_ii, round(got_cost, 12)) == (want[0], round(want[1], 12))
    assert sol.exact


def _ii_cost(opts, choice, arch):
    names = list(opts)
    dram = sum(float(opts[n].dram_bytes[choice[n]]) for n in names if arch.timing == "rtl" or opts[n].engine.kind != "input")
    ii = max(max(_cyc(opts[n], choice[n], arch) for n in names), math.ceil(dram / arch.dram_bw_bytes))
    return ii, round(sum(float(opts[n].resource_cost(arch)[choice[n]]) for n in names), 12)


@pytest.mark.parametrize("budget", [{}, {"lut": 6000}, {"lut": 4000, "dsp": 20}, {"dsp": 12, "bram18": 1}, {"lut": 1500}])
def test_pinned_solver_equals_brute_force(budget):
    """Pins shrink the lattice before the search (as conv1 in configs/streaming_cnv.yaml)."""
    net = small_net()
    arch = StreamingArch(**budget)
    pins = {"conv1": {"pe": 2, "simd": 4}, "fc": {"simd": 8}}
    pipe, opts = prepare(net, arch)
    want = _brute(opts, arch, pins)
    sol = solve(opts, arch, pins)
    assert sol.exact
    if want is None:
        assert sol.choice is None and sol.reason
        return
    assert _ii_cost(opts, sol.choice, arch) == (want[0], round(want[1], 12))
    assert (int(opts["conv1"].pe[sol.choice["conv1"]]), int(opts["fc"].simd[sol.choice["fc"]])) == (2, 8)


def tiny_net():
    g = GraphBuilder("tiny", [("x", (1, 2, 4, 4))])
    g.mac(conv2d(1, 2, 4, 4, 4, 3, 3, padding=1, name="conv1"))
    g.op("r", "relu")
    g.mac(gemm(1, 2, 4 * 16, name="fc"))
    return g.build()


@pytest.mark.parametrize("lut", [None, 1040, 1110, 1150, 1300, 1970, 600])
def test_fifo_aware_solution_equals_brute_force_with_the_fifos(lut):
    """map_network with its FIFOs: when it says exact, (II, engine resource cost) equals brute force over
    every folding whose engines and own FIFOs (sized from its schedule) fit the budgets together."""
    from codesign.families.streaming.fifos import FifoCheck
    net = tiny_net()
    arch = StreamingArch(lut=lut)
    pipe, opts = prepare(net, arch)
    want = _brute(opts, arch, fits=FifoCheck(pipe, opts, arch))
    # at 1040 .. 1970 LUT the engines-only optimum's own FIFOs do not fit: the lazy check decides
    got = FAMILY.map_network(net, arch)
    if want is None:
        assert not got.feasible
        return
    assert got.feasible and got.figures["exact"]
    choice = {lc.name: next(i for i in range(len(opts[lc.name]))
                            if lc.figures["pe"] is None or (int(opts[lc.name].pe[i]), int(opts[lc.name].simd[i]),
                                                            bool(opts[lc.name].dram[i])) ==
                            (lc.figures["pe"], lc.figures["simd"], lc.figures["weights"] == "dram"))
              for lc in got.layers}
    assert _ii_cost(opts, choice, arch) == (want[0], round(want[1], 12))


def test_target_fps_gives_the_fewest_resources_reaching_it():
    net = small_net()
    free = FAMILY.map_network(net, StreamingArch())
    slow = FAMILY.map_network(net, StreamingArch(target_fps=free.throughput_fps / 4))
    assert slow.feasible and slow.throughput_fps >= free.throughput_fps / 4
    assert slow.figures["lut_used"] + slow.figures["dsp_used"] <= free.figures["lut_used"] + free.figures["dsp_used"]


def test_invariants_ii_latency_and_monotone_resources():
    net = _finn.cnv()
    arch = StreamingArch(lut=230400, dsp=1728, bram18=624)
    c = FAMILY.map_network(net, arch)
    assert c.feasible
    ii = c.figures["ii_cycles"]
    assert all(ii >= lc.figures["cycles"] for lc in c.layers)
    assert c.throughput_fps == pytest.approx(arch.clock_mhz * 1e6 / ii)
    batch = FAMILY.map_network(_finn.cnv(batch=5), arch)
    assert batch.latency_cycles == batch.figures["fill_cycles"] + 4 * batch.figures["ii_cycles"]
    pipe, opts = prepare(net, StreamingArch(lut=230400, dsp=1728, bram18=624, timing="finn"))   # FINN-R is monotone
    for o in opts.values():
        if o.engine.kind not in ("mvau", "vvau"):
            continue
        on = ~o.dram
        lanes, lut, dsp = o.lanes[on], o.lut[on], o.dsp[on]
        for r in (lut, dsp):                      # FINN-R LUT and DSP grow with PE x SIMD at fixed PE or SIMD
            for fixed in (o.pe[on], o.simd[on]):
                for v in np.unique(fixed):
                    m = fixed == v
                    order = np.argsort(lanes[m])
                    assert np.all(np.diff(r[m][order]) >= 0)
        # cycles never grow with more lanes of the same PE
        for v in np.unique(o.pe[on]):
            m = o.pe[on] == v
            order = np.argsort(lanes[m])
            assert np.all(np.diff(o.cycles[on][m][order]) <= 0)


def test_pins_are_honoured_and_bad_pins_name_the_key():
    net = _finn.cnv()
    arch = StreamingArch()
    c = FAMILY.map_network(net, arch, pins={"conv1": {"pe": 4, "simd": 9}})
    row = next(lc for lc in c.layers if lc.name == "conv1")
    assert (row.figures["pe"], row.figures["simd"]) == (4, 9)
    with pytest.raises(UserError, match=r"^mapping\.conv1\.pe: 5 does not divide 64 output channels$"):
        FAMILY.map_network(net, arch, pins={"conv1": {"pe": 5}})
    with pytest.raises(UserError, match=r"^mapping\.nope:"):
        FAMILY.check_pins(net, {"nope": {"pe": 1}})


def test_a_budget_nothing_fits_is_an_infeasible_cost_naming_the_resource():
    c = FAMILY.map_network(_finn.cnv(), StreamingArch(lut=500))
    assert c.fits > 0 and "lut" in c.reason and not c.feasible
    assert "infeasible" in FAMILY.to_json(c)
    assert "infeasible" in FAMILY.report(c, title="cnv")


def test_json_shape_report_and_family_keys():
    c = FAMILY.map_network(_finn.cnv(), StreamingArch(lut=230400, dsp=1728, bram18=624))
    js = FAMILY.to_json(c)
    assert set(js["total"]) == {"ii_cycles", "latency_cycles", "throughput_fps", "energy_pj", "area_mm2", "lut",
                                "dsp", "bram18"}
    conv = next(l for l in js["layers"] if l["name"] == "conv0")
    assert set(conv) == {"name", "op", "pe", "simd", "cycles", "fifo_depth", "lut", "dsp", "bram18", "swu_cycles"}
    fc = next(l for l in js["layers"] if l["name"] == "fc0")
    assert "swu_cycles" not in fc
    assert "*" in FAMILY.report(c, title="cnv")
    assert {p.name for p in FAMILY.params()} >= {"family", "op_bits", "acc_bits", "clock_mhz", "lut", "dsp", "bram18",
                                                 "dram_bw_bytes", "tech", "timing", "target_fps"}
    a = FAMILY.arch({"lut": 1000, "timing": "finn"})
    assert FAMILY.arch(FAMILY.arch_values(a)) == a
    with pytest.raises(UserError, match=r"^hardware\.timing:"):
        FAMILY.arch({"timing": "fast"})
    with pytest.raises(UserError, match=r"^hardware\.lut:"):
        FAMILY.arch({"lut": -3})


def test_joint_mode_round_trips_the_solver_folding():
    net = small_net()
    arch = StreamingArch()
    space = FAMILY.joint_space(net, {})
    best = FAMILY.map_network(net, arch)
    params = FAMILY.encode(space, best)
    assert {p.name for p in space.params} == set(params)
    again, = FAMILY.cost(net, [arch], [params], space)
    assert again.figures["ii_cycles"] == best.figures["ii_cycles"]
    assert again.figures["lut_used"] == best.figures["lut_used"]


def test_a_throughput_constraint_folds_for_the_fewest_resources_reaching_it():
    """search.constraints: {throughput_fps: {min: X}} in a sweep = target_fps X for the folding solver."""
    net = small_net()
    free = FAMILY.map_network(net, StreamingArch())
    want = free.throughput_fps / 3
    got = FAMILY.map_network(net, StreamingArch(), constraints={"throughput_fps": {"min": want}})
    same = FAMILY.map_network(net, StreamingArch(target_fps=want))
    assert got.throughput_fps >= want and got.figures["lut_used"] == same.figures["lut_used"]
    assert got.figures["lut_used"] + got.figures["dsp_used"] < free.figures["lut_used"] + free.figures["dsp_used"]
    other = FAMILY.map_network(net, StreamingArch(), constraints={"area_mm2": {"max": 1}})
    assert (other.figures["ii_cycles"], other.figures["lut_used"]) == (free.figures["ii_cycles"], free.figures["lut_used"])


def test_a_sweep_throughput_constraint_reaches_the_folding_solver(tmp_path):
    """Nested sweeps: with throughput_fps >= 1e6 every TFC point folds for the fewest resources reaching it."""
    from codesign.config import parse_config
    from codesign.search.results import load_results
    from codesign.search.settings import parse_search
    from codesign.search.sweep import run_sweep
    raw = {"name": "c", "workload": {"model": "tfc"}, "hardware": {"family": "streaming", "lut": [60000, 230400]},
           "search": {"objectives": ["latency_cycles", "energy_pj"], "n_trials": 2, "batch": 2, "seed": 0}}
    used = {}
    for cons in (None, {"throughput_fps": {"min": 1e6}}):
        cfg = parse_config(dict(raw, search=dict(raw["search"], **({"constraints": cons} if cons else {}))), "c.yaml")
        out = tmp_path / str(bool(cons))
        run_sweep(cfg, parse_search(cfg), out, progress=False)
        df = load_results(out)
        assert df["feasible"].all()
        used[bool(cons)] = df
    assert (used[True]["throughput_fps"] >= 1e6).all()
    assert used[True]["lut_used"].max() < used[False]["lut_used"].min()
