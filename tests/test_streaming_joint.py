"""Joint mode of the streaming family: a batch of foldings costed at once equals each folding
costed alone; a joint sweep samples PE/SIMD per engine and records them."""
import json

import numpy as np
import pytest
import yaml

from codesign.config import load_config, parse_config
from codesign.families.streaming import FAMILY, StreamingArch, cost_batch, cost_choice, pipeline, prepare
from codesign.search.results import load_results, trial_config
from codesign.search.settings import parse_search
from codesign.search.sweep import run_sweep
from codesign.workload.zoo import _finn

from streaming_nets import dw_separable, residual_conv3


def _random_idx(opts, n, seed):
    rng = np.random.default_rng(seed)
    return {k: rng.choice(np.nonzero(~o.dram)[0], n) for k, o in opts.items()}


@pytest.mark.parametrize("build, timing", [(residual_conv3, "rtl"), (dw_separable, "rtl"), (residual_conv3, "finn")])
def test_a_batch_equals_each_folding_costed_alone(build, timing, monkeypatch):
    net, arch = build(), StreamingArch(timing=timing, lut=20000, dsp=40)
    pipe, opts = prepare(net, arch)
    idx = _random_idx(opts, 12, 3)
    monkeypatch.setattr(pipeline, "CHUNK_BYTES", 1)          # one folding per chunk: the rows must not mix
    chunked = pipeline.evaluate_batch(pipe, opts, idx, arch)
    monkeypatch.undo()
    batch = cost_batch(net, arch, idx)
    for r in range(12):
        one = cost_choice(net, arch, {k: int(v[r]) for k, v in idx.items()})
        got = batch[r]
        assert (got.latency_cycles, got.energy_pj, got.area_mm2, got.fits, got.reason) == \
               (one.latency_cycles, one.energy_pj, one.area_mm2, one.fits, one.reason)
        assert got.figures == one.figures
        assert [lc.figures for lc in got.layers] == [lc.figures for lc in one.layers]
        assert chunked.row(r).fifo_depth == pipeline.evaluate_batch(
            pipe, opts, {k: v[r:r + 1] for k, v in idx.items()}, arch).row(0).fifo_depth
    assert len({c.latency_cycles for c in batch}) > 1                # the foldings differ


def test_joint_cost_decodes_pe_and_simd_per_engine():
    net, arch = _finn.cnv(), StreamingArch()
    space = FAMILY.joint_space(net, {})
    rng = np.random.default_rng(0)
    params = [{p.name: p.choices[rng.integers(len(p.choices))] for p in space.params} for _ in range(6)]
    for p, c in zip(params, FAMILY.cost(net, [arch] * 6, params, space)):
        assert FAMILY.encode(space, c) == p
        assert all("/" in k for k in p)                 # joint params, apart from the hardware keys


def _joint_sweep(tmp_path, n_trials, seed, **hardware):
    """A joint-mode sweep of configs/streaming_cnv.yaml's hardware (no pins): its config path and table."""
    raw = yaml.safe_load(open("configs/streaming_cnv.yaml"))
    raw.pop("mapping")
    raw["hardware"].update(hardware)
    raw["search"] = {"objectives": ["latency_cycles", "energy_pj"], "mapping": "joint", "n_trials": n_trials,
                     "batch": 12, "seed": seed}
    path = tmp_path / "j.yaml"
    path.write_text(yaml.safe_dump(raw))
    cfg = load_config(str(path))
    run_sweep(cfg, parse_search(cfg), tmp_path / "r", progress=False)
    return path, load_results(tmp_path / "r")


def test_joint_sweep_samples_foldings_and_records_them(tmp_path):
    _, df = _joint_sweep(tmp_path, 24, 0, lut=[100000, 230400])
    assert len(df) == 24 and df["feasible"].any()
    assert not df["reason"].str.contains("unknown key").any()
    foldings = {json.dumps(json.loads(m), sort_keys=True) for m in df["mappings"]}
    assert len(foldings) > 12                           # Optuna moved PE/SIMD, not only the hardware
    for _, row in df[df["feasible"]].iterrows():
        maps = json.loads(row["mappings"])
        assert set(maps) >= {"conv0", "fc_out"} and maps["conv0"]["conv0"]["pe"] in (1, 2, 4, 8, 16, 32, 64)


def test_a_joint_trial_exports_as_pins_that_reproduce_it(tmp_path):
    path, df = _joint_sweep(tmp_path, 12, 1)
    row = df[df["feasible"]].iloc[0]
    fixed = trial_config(tmp_path / "r", int(row["trial"]))
    assert fixed["mapping"]["conv0"].keys() == {"pe", "simd", "weights"}
    again = parse_config(fixed, str(path))
    c = FAMILY.map_network(again.network, FAMILY.arch(fixed["hardware"] | {"family": "streaming"}), pins=again.pins)
    assert c.latency_cycles == row["latency_cycles"] and c.figures["bram18_used"] == row["bram18_used"]
