"""Helpers of the RTL tests: mappings built per role (row, col, time dims of a dataflow)."""
from __future__ import annotations

import numpy as np

from codesign.families.systolic.mapping import Mapping
from codesign.families.systolic.dataflow import ROLE_DIMS
from codesign.workload import Layer


def role_mapping(layer: Layer, dataflow: str, fold, glb=(1, 1, 1), glb_order="MNK", dram_order="MNK") -> Mapping:
    """A mapping with fold sizes (rows, cols, pe) and glb factors given per role.

    A glb factor of 0 means "every fold of the dim" (one glb tile along it);
    other values are rounded down to a divisor of the fold count (the Mapping rule).
    """
    dims = ROLE_DIMS[dataflow]
    g = {}
    for r, d in enumerate(dims):
        n = -(-layer.bounds[d] // fold[r])
        want = n if glb[r] == 0 else min(glb[r], n)
        g[d] = max(x for x in range(1, want + 1) if n % x == 0)
    return Mapping.build(layer, rows={dims[0]: fold[0]}, cols={dims[1]: fold[1]}, pe={dims[2]: fold[2]},
                         glb=g, order={"glb": list(glb_order), "dram": list(dram_order)})


def operands(layer: Layer, rng: np.random.Generator, lo: int = -128, hi: int = 127):
    """Random operands a (M x K) and b (K x N) in [lo, hi], with lo and hi present when room allows."""
    M, N, K = (layer.bounds[d] for d in "MNK")
    a = rng.integers(lo, hi + 1, (M, K))
    b = rng.integers(lo, hi + 1, (K, N))
    a.flat[0], b.flat[-1] = lo, hi
    if a.size > 1:
        a.flat[-1] = hi
    if b.size > 1:
        b.flat[0] = lo
    return a, b


def verify_rows(capsys, args: list[str], layers, row):
    """`codesign verify ARGS --layer L...` for each of `layers`: its output and the rows `row` matches
    (a regex), after checking it exited 0 with one row per layer."""
    from codesign.cli import main
    for name in layers:
        args = [*args, "--layer", name]
    code = main(args)
    out = capsys.readouterr().out
    rows = [m for m in map(row.match, out.splitlines()) if m]
    assert code == 0 and sorted(m[2] for m in rows) == sorted(layers), out
    return out, rows
