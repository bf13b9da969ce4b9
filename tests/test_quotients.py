"""The mapping space's O(sqrt(B)) enumerations equal the naive O(B) loops, and
layers with dims up to the documented 2**31 are mapped in seconds or refused
in one line (never a hang).

The end-to-end checks run `codesign.cli.main` in a subprocess whose timeout is
a hang guard (the old enumeration took minutes to hours on these layers), not
a speed check.
"""
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from codesign.families.systolic import quotients
from codesign.families.systolic.arch import SystolicArch
from codesign.families.systolic.space import EXACT_COUNT, MappingSpace, check_counts
from codesign.families.systolic.mapping import MappingError
from codesign.workload.ir import gemm

ROOT = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}
HANG_GUARD_S = 60


def _naive_tiles(bound, side):
    out = {-(-bound // n) for n in range(1, bound + 1)}
    if side is not None:
        out = {a for a in out if a <= side} | {min(bound, side)}
    return sorted(out)


def _naive_divisors(n):
    return [d for d in range(1, n + 1) if n % d == 0]


def test_array_tiles_equal_the_naive_enumeration():
    for bound in range(1, 2001):
        for side in (None, 2, 16, 100):
            assert quotients.array_tiles(bound, side) == _naive_tiles(bound, side), (bound, side)


def test_divisor_pairs_equal_the_naive_divisors():
    values = np.arange(1, 3001)
    owner, div = quotients._divisor_pairs(values)
    assert list(zip(owner.tolist(), div.tolist())) == [
        (i, d) for i, v in enumerate(values.tolist()) for d in _naive_divisors(v)]


def _divisor_count(n):
    count, p = 1, 2
    while p * p <= n:
        e = 0
        while n % p == 0:
            n, e = n // p, e + 1
        count, p = count * (e + 1), p + 1
    return count * (2 if n > 1 else 1)


def test_divisors_of_large_values():
    rng = np.random.default_rng(7)
    special = [2**31, 2**31 - 1, 2**31 - 2, 223092870, 46337**2, 46337 * 46327, 65521 * 32749, 2 * 46349]
    values = np.array(list(rng.integers(1, 2**31, 200)) + special, dtype=np.int64)
    owner, div = quotients._divisor_pairs(values)
    for i, v in enumerate(values.tolist()):
        ds = div[owner == i].tolist()
        assert ds == sorted(set(ds)) and all(v % d == 0 for d in ds), v
        assert len(ds) == _divisor_count(v), v


@pytest.mark.parametrize("side", [None, 16])
def test_dim_candidates_equal_the_naive_pairs(side):
    for bound in list(range(1, 400)) + [1000, 3072, 12544, 50176]:
        a, g = quotients.dim_candidates(bound, side, None)
        ref = [(x, f) for x in _naive_tiles(bound, side) for f in _naive_divisors(-(-bound // min(x, bound)))]
        assert list(zip(a.tolist(), g.tolist())) == ref, bound


def test_a_dim_of_2_31_has_its_quotients_in_sqrt_time():
    bound = 2**31 - 2
    tiles = quotients.array_tiles(bound, None)
    assert len(tiles) == len(set(tiles)) and tiles[0] == 1 and tiles[-1] == bound
    # every tile is the smallest with its fold count
    t = np.array(tiles)
    folds = -(-bound // t)
    assert (-(-bound // folds) == t).all()
    assert len(tiles) <= 2 * math.isqrt(bound) + 1


def test_layers_past_the_exact_count_are_refused_naming_the_layer():
    arch = SystolicArch(rows=16, cols=16)
    check_counts(gemm(2**20, 2**15, 2**10, name="ok"), arch)
    with pytest.raises(MappingError, match=r"layer 'big': 9\.9e\+27 MACs .* 2\*\*53"):
        MappingSpace(gemm(2**31 - 2, 2**31 - 2, 2**31 - 2, name="big"), arch)
    # the limit depends on the design: a bigger array costs more cycles per fold
    layer = gemm(2**17, 2**17, 2**12, name="mid")
    check_counts(layer, arch)
    with pytest.raises(MappingError):
        check_counts(layer, SystolicArch(rows=2**16, cols=2**16, timing="scalesim"))
    assert EXACT_COUNT == 2**53


def _run(tmp_path, layer, *cmd, dataflow="os"):
    cfg = {"name": "huge", "workload": {"layers": [layer]},
           "hardware": {"family": "systolic", "rows": 16, "cols": 16, "dataflow": dataflow, "glb_kib": 256,
                        "acc_kib": 64, "dram_bw_bytes": 16, "clock_mhz": 1000}, "objective": "edp"}
    path = tmp_path / "huge.yaml"
    path.write_text(yaml.safe_dump(cfg))
    code = f"import sys; from codesign.cli import main; sys.exit(main({[*cmd, str(path)]!r}))"
    return subprocess.run([sys.executable, "-c", code], env=ENV, capture_output=True, text=True,
                          timeout=HANG_GUARD_S, cwd=tmp_path)


def test_gemm_of_2_31_cubed_is_refused_in_one_line(tmp_path):
    big = 2**31 - 2
    r = _run(tmp_path, {"name": "big", "op": "gemm", "M": big, "N": big, "K": big}, "evaluate")
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: layer 'big': ") and "MACs" in lines[0], r.stderr
    assert "Traceback" not in r.stderr


@pytest.mark.parametrize("cmd", ["evaluate", "map"])
def test_gemm_with_a_dim_of_2_31_is_mapped(tmp_path, cmd):
    r = _run(tmp_path, {"name": "big", "op": "gemm", "M": 2**31 - 2, "N": 64, "K": 64}, cmd)
    assert r.returncode == 0, r.stderr
    assert "big" in r.stdout and "Traceback" not in r.stderr


def test_conv_of_a_2_15_image_is_mapped(tmp_path):
    conv = {"name": "c", "op": "conv2d", "N": 1, "C": 64, "H": 2**15, "W": 2**15, "K": 64, "R": 3, "S": 3,
            "padding": 1}
    r = _run(tmp_path, conv, "evaluate")
    assert r.returncode == 0, r.stderr
    assert "proven optimum" in r.stdout


def test_gemm_streaming_a_dim_of_2_31_is_proven_optimal(tmp_path):
    # os streams K through the PEs: 1.1 million (tile, glb factor) candidates
    r = _run(tmp_path, {"name": "big", "op": "gemm", "M": 64, "N": 64, "K": 2**31 - 2}, "evaluate")
    assert r.returncode == 0, r.stderr
    assert "proven optimum" in r.stdout and "pe[K1024]" in r.stdout, r.stdout


def test_ws_conv_of_a_2_15_image_is_proven_optimal(tmp_path):
    # ws streams the output rows: before issue 13 this passed the search budget (beam, not proven)
    conv = {"name": "c", "op": "conv2d", "N": 1, "C": 64, "H": 2**15, "W": 2**15, "K": 64, "R": 3, "S": 3,
            "padding": 1}
    r = _run(tmp_path, conv, "evaluate", dataflow="ws")
    assert r.returncode == 0, r.stderr
    assert "proven optimum" in r.stdout, r.stdout
