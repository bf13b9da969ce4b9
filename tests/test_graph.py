"""The network graph IR (codesign.workload.graph): zoo graphs, YAML graphs, validation."""
import hashlib
import json
from pathlib import Path

import pytest

from codesign.workload.zoo import zoo

SNAPSHOT = json.loads((Path(__file__).resolve().parent / "data" / "zoo_unique.json").read_text())


# -- the per-shape view is what the chain builders produced ----------------------

@pytest.mark.parametrize("case", SNAPSHOT["cases"], ids=lambda c: f"{c['model']}{c['kwargs'] or ''}")
def test_unique_view_equals_the_chain_builders_snapshot(case):
    """unique() of every zoo graph = the snapshot taken from the chain builders (tests/data/zoo_unique.json)."""
    w = zoo(case["model"], **case["kwargs"]).unique()
    assert w.name == case["name"]
    got = [{"name": l.name, "count": c, "aliases": list(al), "op": l.op, "dims": [list(d) for d in l.dims],
            "bits": [t.bits for t in l.tensors], "repr_sha256": hashlib.sha256(repr(l).encode()).hexdigest()}
           for l, c, al in zip(w.layers, w.counts, w.aliases)]
    assert got == case["layers"]
