"""codesign.errors: short(), finite_number(), safe_name(), LIMITS."""
import math
import time

import numpy as np
import pytest

from codesign.errors import LIMITS, UserError, bounded, finite_number, safe_name, short


def test_short_truncates_huge_and_shared_values():
    bomb = ["lol"] * 9
    for _ in range(9):                      # 9**10 leaves, shared like a YAML alias bomb
        bomb = [bomb] * 9
    t = time.perf_counter()
    text = short(bomb)
    assert time.perf_counter() - t < 0.1
    assert len(text) <= 60 and "\n" not in text
    assert len(short(list(range(10**6)))) <= 60
    assert len(short("x" * 10**7, limit=20)) <= 20
    assert short(10**5000).startswith("<integer of about 5001 digits")
    assert short("a\nb") == "'a\\nb'"
    assert short(16) == "16" and short(True) == "True"


def test_finite_number_refuses_nan_inf_bool_str_and_out_of_range():
    for bad in (math.nan, math.inf, -math.inf, True, "16", None, [1], 2**40, 1e30, 0):
        with pytest.raises(UserError) as e:
            finite_number("hardware.rows", bad, low=1, high=2**31, integer=True)
        msg = str(e.value)
        assert msg.startswith("hardware.rows: must be ") and "\n" not in msg
        assert "2**31" in msg
    with pytest.raises(UserError, match=r"must be a finite number in \(0, 1e\+11\], got nan"):
        finite_number("clock_mhz", math.nan, low=0, high=1e11, low_open=True)
    with pytest.raises(UserError, match=r"\(0, 1\]"):
        finite_number("x", 0.0, low=0, high=1, low_open=True)
    with pytest.raises(UserError, match="got 2.5"):
        finite_number("rows", 2.5, low=1, high=100, integer=True)
    with pytest.raises(UserError, match="got <integer of about"):
        finite_number("rows", 10**400, low=1, high=100, integer=True)


def test_finite_number_accepts_and_converts():
    assert finite_number("rows", 1e3, low=1, high=2**31, integer=True) == 1000
    assert type(finite_number("rows", 16.0, low=1, high=64, integer=True)) is int
    assert type(finite_number("rows", np.int64(16), low=1, high=64, integer=True)) is int
    assert finite_number("f", 5, low=0, high=10) == 5.0
    assert type(finite_number("f", np.float32(0.5), low=0, high=1)) is float
    assert finite_number("x", 1, low=0, high=1, low_open=True) == 1.0


@pytest.mark.parametrize("bad", ["", ".", "..", ".hidden", "a/b", "a\\b", "x\x00", "tab\there",
                                 "x" * 101, 5, None, "\x85"])
def test_safe_name_refuses(bad):
    with pytest.raises(UserError) as e:
        safe_name("name", bad)
    assert str(e.value).startswith("name: ") and "\n" not in str(e.value)


def test_safe_name_accepts_ordinary_names():
    for ok in ("quickstart", "resnet18-v2_run.3", "x" * 100, "Ωmega"):
        assert safe_name("name", ok) == ok


def test_limits_documented_and_bounded():
    for name, lim in LIMITS.items():
        assert lim.low < lim.high and len(lim.reason) > 30, name
    assert LIMITS["dim"].high == 2**31
    assert LIMITS["buffer_bytes"].high == 2**40
    assert LIMITS["clock_hz"].high == 1e11
    assert bounded("workload.m", 64, "dim") == 64
    with pytest.raises(UserError, match=r"^workload.m: must be an integer in \[1, 2\*\*31\], got 1000000000000$"):
        bounded("workload.m", 10**12, "dim")
    with pytest.raises(UserError, match="seed"):
        bounded("search.seed", 2**40, "seed")
