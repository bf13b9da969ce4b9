"""Input limits of the search section and the config: search.jobs capped at the
cores (one warning line), integer settings bounded by errors.LIMITS, bounds
finite, hardware: required, degenerate shapes refused with the layer named."""
import pytest

from codesign.config import ConfigError, parse_config
from codesign.errors import LIMITS
from codesign.search.settings import cores, parse_search

BASE = {"name": "t", "workload": {"layers": [{"name": "fc", "op": "gemm", "M": 8, "N": 8, "K": 8}]},
        "hardware": {"rows": [2, 4], "cols": 4}}


def _search(**search):
    return parse_search(parse_config({**BASE, "search": search}))


def test_jobs_above_the_cores_are_capped_with_one_warning(capsys):
    assert _search(jobs=10_000).jobs == cores()
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"warning: search.jobs: 10000 capped at the {cores()} cores of this machine"]
    assert _search(jobs=1).jobs == 1 and not capsys.readouterr().err
    assert _search(jobs="auto").jobs == cores()


@pytest.mark.parametrize("key, value", [
    ("jobs", 0), ("jobs", 2**40), ("jobs", "many"), ("jobs", 1.5), ("jobs", True),
    ("n_trials", 0), ("n_trials", LIMITS["n_trials"].high + 1), ("n_trials", float("nan")), ("n_trials", "10"),
    ("batch", 0), ("batch", LIMITS["batch"].high + 1), ("batch", float("inf")),
    ("seed", -1), ("seed", 2**40), ("seed", 10**400), ("seed", 0.5)])
def test_integer_settings_out_of_bounds_are_one_line_naming_the_key(key, value):
    with pytest.raises(ConfigError, match=rf"^search\.{key}: must be") as e:
        _search(**{key: value})
    assert "\n" not in str(e.value) and len(str(e.value)) < 200


@pytest.mark.parametrize("limit", [float("inf"), float("nan"), 10**400, "1", None])
def test_constraint_bounds_are_finite_numbers(limit):
    with pytest.raises(ConfigError, match=r"^search\.constraints\.area_mm2\.max: must be"):
        _search(constraints={"area_mm2": {"max": limit}})


def test_integral_floats_are_accepted_as_integers():
    s = _search(n_trials=1e3, batch=16.0, seed=7)
    assert (s.n_trials, s.batch, s.seed) == (1000, 16, 7) and isinstance(s.n_trials, int)
