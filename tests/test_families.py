"""The Family interface: a minimal family defined here, searched in one study with the systolic array.

`ToyFamily` is the smallest complete family (the README's example): one
parameter, a cost that is a sum over layers, no joint mode, no RTL.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import pytest

from codesign.config import ConfigError, parse_config
from codesign.errors import UserError
from codesign.families import FAMILIES, register
from codesign.families.base import Family, HardwareParam, LayerCost, NetworkCost


@dataclass(frozen=True)
class ToyArch:
    """A MAC engine doing `macs_per_cycle` MACs a cycle."""

    family: str = "toy"
    macs_per_cycle: int = 64
    clock_mhz: float = 100.0

    def __post_init__(self):
        if isinstance(self.macs_per_cycle, bool) or not isinstance(self.macs_per_cycle, int) or self.macs_per_cycle < 1:
            raise UserError(f"hardware.macs_per_cycle: must be a positive integer, got {self.macs_per_cycle!r}")

    def describe(self) -> str:
        return f"toy engine, {self.macs_per_cycle} MACs/cycle"


class ToyFamily(Family):
    name = "toy"
    Arch = ToyArch

    def params(self):
        return (HardwareParam("family", "str", "toy", choices=("toy",)),
                HardwareParam("macs_per_cycle", "int", 64, "MACs/cycle", low=1, high=1 << 20, source="test"),
                HardwareParam("clock_mhz", "float", 100.0, "MHz", low=0, high=1e5, low_open=True, source="test"))

    def arch(self, values):
        return ToyArch(**values)

    def check_pins(self, network, pins):
        if pins:
            raise UserError("mapping: the toy family takes no pins")
        return {}

    def map_network(self, network, arch, objective, pins=None, **options):
        layers = tuple(LayerCost(l.name, l.op, c, l.macs, -(-l.macs // arch.macs_per_cycle), 1.0 * l.macs,
                                 {"mac": 1.0 * l.macs}) for l, c in network.unique())
        lat = sum(lc.latency_cycles * lc.count for lc in layers)
        return NetworkCost(self.name, arch, layers, lat, sum(lc.energy_pj * lc.count for lc in layers),
                           0.01 * arch.macs_per_cycle, network.macs, arch.clock_mhz * 1e6 / lat,
                           network.macs / (lat * arch.macs_per_cycle))

    def generate(self, arch, cost):
        raise UserError("hardware.family: toy has no RTL")

    def report(self, cost, *, title, nests=False):
        return f"{title}: {cost.latency_cycles} cycles"

    def to_json(self, cost):
        return {"layers": [{"name": lc.name} for lc in cost.layers], "total": {"latency_cycles": cost.latency_cycles}}


@pytest.fixture
def toy():
    fam = register(ToyFamily())
    yield fam
    FAMILIES.pop("toy")


LAYERS = {"layers": [{"name": "a", "op": "gemm", "M": 64, "N": 64, "K": 64},
                     {"name": "b", "op": "gemm", "M": 64, "N": 32, "K": 64}]}


def _mixed(tmp_path, n=24):
    return {"name": "mixed", "workload": LAYERS,
            "hardware": [{"family": "systolic", "rows": [4, 8], "cols": [4, 8], "glb_kib": 64},
                         {"family": "toy", "macs_per_cycle": [16, 64, 256]}],
            "search": {"n_trials": n, "batch": 8, "seed": 1, "storage": "default", "jobs": 1}}


def test_one_study_two_families(tmp_path, toy):
    from codesign.search import run_sweep
    from codesign.search.results import load_results, pareto_front
    from codesign.search.settings import parse_search
    cfg = parse_config(_mixed(tmp_path), str(tmp_path / "mixed.yaml"))
    rep = run_sweep(cfg, parse_search(cfg), tmp_path / "out", progress=False)
    df = load_results(rep.out)
    assert len(df) == 24
    assert set(df["family"]) == {"systolic", "toy"}
    toy_rows = df[df["family"] == "toy"]
    assert toy_rows["rows"].isna().all() and toy_rows["macs_per_cycle"].notna().all()
    sys_rows = df[df["family"] == "systolic"]
    assert sys_rows["macs_per_cycle"].isna().all() and sys_rows["rows"].notna().all()
    for _, r in toy_rows.iterrows():           # the toy cost model, recomputed
        lat = math.ceil(64 * 64 * 64 / r["macs_per_cycle"]) + math.ceil(64 * 32 * 64 / r["macs_per_cycle"])
        assert r["latency_cycles"] == lat
    front = pareto_front(df)
    assert len(front) >= 1 and set(front["family"]) <= {"systolic", "toy"}
    import json
    for _, r in sys_rows[sys_rows["feasible"]].iterrows():     # the mapper's certificate per layer
        for rec in json.loads(r["layer_costs"]).values():
            assert rec["exact"] is True and rec["considered"] >= rec["evaluated"] > 0 and rec["seconds"] >= 0
    assert all("exact" not in rec for r in toy_rows["layer_costs"] for rec in json.loads(r).values())


def test_designs_of_a_mixed_study_rebuild(tmp_path, toy):
    from codesign.search import run_sweep
    from codesign.search.results import load_design
    from codesign.search.settings import parse_search
    cfg = parse_config(_mixed(tmp_path, 16), str(tmp_path / "mixed.yaml"))
    rep = run_sweep(cfg, parse_search(cfg), tmp_path / "out", progress=False)
    import pandas as pd
    df = pd.read_parquet(rep.out / "trials.parquet")
    for n in df["trial"]:
        d = load_design(rep.out, int(n))
        assert d.arch.family == df.loc[df["trial"] == n, "family"].item()


@pytest.mark.parametrize("hw, msg", [
    ([{"family": "systolic"}, {"family": "systolic"}], "hardware[1].family: 'systolic' is listed twice"),
    ([{"family": "nope"}], "hardware[0].family: unknown family 'nope'"),
    ([{"family": "systolic"}, {"family": "streaming", "rows": 4}], "hardware[1].rows: unknown key for family streaming"),
    ([{"family": "systolic", "rows": 0}], "hardware[0].rows: must be >= 1"),
    ([], "hardware: an empty list of spaces"),
])
def test_space_list_errors_name_the_key(hw, msg):
    with pytest.raises(ConfigError) as e:
        parse_config({"workload": LAYERS, "hardware": hw})
    assert msg in str(e.value)


def test_pins_need_one_family():
    with pytest.raises(ConfigError, match="mapping: pins are in one family's terms"):
        parse_config({"workload": LAYERS, "hardware": [{"family": "systolic"}, {"family": "streaming"}],
                      "mapping": {"a": {"glb": {"M": 1}}}})


def test_commands_that_need_one_design_refuse_a_list():
    cfg = parse_config({"workload": LAYERS, "hardware": [{"family": "systolic"}, {"family": "streaming"}]})
    with pytest.raises(ConfigError, match="needs one hardware space"):
        cfg.arch


@pytest.mark.parametrize("name", ["systolic", "streaming"])
def test_builtin_families_document_their_keys(name):
    fam = FAMILIES[name]
    params = fam.params()
    assert params[0].name == "family"
    arch = fam.arch({})                                   # every default builds an architecture
    for p in params:
        assert p.kind in ("int", "float", "bool", "str", "tech"), p
        if p.default is not None and p.name != "family":
            assert p.source, f"{name}.{p.name}: a default without a source"
    assert fam.arch(fam.arch_values(arch)) == arch        # YAML and Python objects isomorphic


def test_systolic_vs_streaming_config_sweeps(tmp_path):
    from codesign.config import load_config
    from codesign.search import run_sweep
    from codesign.search.results import load_results
    from codesign.search.settings import parse_search
    cfg = load_config("configs/systolic_vs_streaming.yaml")
    rep = run_sweep(cfg, parse_search(cfg), tmp_path / "out", n_trials=24, progress=False)
    df = load_results(rep.out)
    assert set(df["family"]) == {"systolic", "streaming"}
    stream = df[df["family"] == "streaming"]
    fits = stream["ii_cycles"].notna()          # timing rtl: the fitted ECP5 resources leave small budgets infeasible
    assert fits.any() and (stream.loc[fits, "ii_cycles"] > 0).all()
    assert (stream.loc[fits, "lut_used"] <= stream.loc[fits, "lut"]).all()
    assert df[df["family"] == "systolic"]["ii_cycles"].isna().all()
