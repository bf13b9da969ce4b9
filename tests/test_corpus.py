"""A corpus of generated malformed and hostile configs, through every command.

Each case mutates one key of a small valid config (every section, every key)
with one kind of wrongness: NaN, infinities, negative, absurdly large,
beyond float64 (10**40), strings for numbers, booleans, empty lists and
ranges, inverted ranges, NaN inside a list or a range, fractional integers;
plus file-level hostility (duplicate keys, YAML 1.1 sexagesimal and octal,
non-UTF-8, UTF-16, aliases, deep nesting, unsafe names, a missing hardware
section is a warning line naming the defaults, tested apart; a 1-pixel image). Each goes through ``evaluate``, ``map``, ``sweep``,
``export`` and ``verify`` (search mutations through ``sweep``) in-process via
``codesign.cli.main``, a few by subprocess. Every run must end with exit
status 2 and one ``error:`` line naming the key: no traceback (an exception
would fail the test), no silent acceptance (status 0), no hang (each run is
timed; SIGALRM aborts one after 20 s).
"""
import copy
import math
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from codesign.cli import main

ROOT = Path(__file__).resolve().parent.parent
RUN_LIMIT_S = 20
BASE = {
    "name": "corpus",
    "workload": {"layers": [{"name": "fc", "op": "gemm", "M": 32, "N": 16, "K": 24},
                            {"name": "cv", "op": "conv2d", "N": 1, "C": 8, "H": 8, "W": 8, "K": 8, "R": 3, "S": 3,
                             "padding": 1, "stride": 1}]},
    "hardware": {"family": "systolic", "rows": 4, "cols": 4, "dataflow": "os", "op_bits": 8, "acc_bits": 32,
                 "glb_kib": 64, "acc_kib": 16, "dram_bw_bytes": 16, "clock_mhz": 1000},
    "search": {"n_trials": 4, "batch": 2, "seed": 0, "sampler": "random", "jobs": 1},
}
FIXED_COMMANDS = ("evaluate", "map", "export", "verify", "sweep")

#: values wrong for every numeric key
BAD_NUMBERS = [math.nan, math.inf, -math.inf, -1, 1e30, 10**40, "16", True, [], {}, {"low": 8, "high": 2},
               [math.nan], {"low": math.nan, "high": 4}, {"low": 1, "high": math.inf}]
INT_KEYS = ("rows", "cols", "op_bits", "acc_bits")
FLOAT_KEYS = ("glb_kib", "acc_kib", "dram_bw_bytes", "clock_mhz")
LAYER_KEYS = {"fc": ("M", "N", "K"), "cv": ("N", "C", "H", "W", "K", "R", "S", "padding", "stride")}
SEARCH_BAD = {"n_trials": [0, -5, 1e30, math.nan, "many", 2**63], "batch": [0, 10**9, math.inf, "x"],
              "seed": [-1, 2**40, 0.5, math.nan], "jobs": [0, -2, "all", 1.5, math.inf],
              "sampler": ["annealing", 3, None], "mapping": ["both", 1], "objectives": [[], ["speed"], 7],
              "constraints": [{"area_mm2": {"max": math.inf}}, {"area_mm2": {"max": math.nan}},
                              {"area_mm2": {"below": 1}}, {"speed": {"max": 1}}, 5],
              "storage": ["study.db", "", 5], "colour": ["red"]}


def _cases():
    """(id, config dict or raw bytes, substring the error must hold, commands)."""
    out = []
    for k in INT_KEYS + FLOAT_KEYS:
        for i, v in enumerate(BAD_NUMBERS + ([1.5] if k in INT_KEYS else [])):
            c = copy.deepcopy(BASE)
            c["hardware"][k] = v
            out.append((f"hardware.{k}-{i}", c, k, FIXED_COMMANDS))
    for k, v in [("dataflow", "diagonal"), ("dataflow", 3), ("dataflow", []), ("family", "quantum"),
                 ("family", 3), ("tech", "unobtainium"), ("timing", "sometimes"), ("voltage", 1)]:
        c = copy.deepcopy(BASE)
        c["hardware"][k] = v
        out.append((f"hardware.{k}={v!r}", c, k, FIXED_COMMANDS))
    for idx, (layer, keys) in enumerate(LAYER_KEYS.items()):
        for k in keys:
            for i, v in enumerate([math.nan, math.inf, -3, 0 if k != "padding" else -1, 10**40, 2**40,
                                   "8", True, 2.5]):
                c = copy.deepcopy(BASE)
                c["workload"]["layers"][idx][k] = v
                out.append((f"workload.{layer}.{k}-{i}", c, k, FIXED_COMMANDS))
    for k, v, needle in [("op", "fft", "op"), ("op", None, "op"), ("name", 5, "name"), ("colour", "red", "colour")]:
        c = copy.deepcopy(BASE)
        c["workload"]["layers"][0][k] = v
        out.append((f"workload.fc.{k}={v!r}", c, needle, FIXED_COMMANDS))
    for k, values in SEARCH_BAD.items():
        for i, v in enumerate(values):
            c = copy.deepcopy(BASE)
            c["hardware"]["rows"] = [4, 8]
            c["search"][k] = v
            out.append((f"search.{k}-{i}", c, f"search.{k}", ("sweep",)))
    top = [("name", v, "name") for v in ["..", ".", "", "a/b", "x" * 200, 5, "bad\x01name"]]
    top += [("workload", v, "workload") for v in [5, [], {}, {"model": "alexnet9000"},
                                                  {"model": "resnet18", "image": 1},
                                                  {"model": "resnet18", "image": 1e9},
                                                  {"model": "resnet18", "image": math.nan},
                                                  {"layers": []}, {"layers": 5}]]
    top += [("hardware", v, "hardware") for v in [5, [], "systolic", [5]]]
    top += [("objective", v, "objective") for v in ["speed", 5, {"latency": math.nan}, {"latency": -1}]]
    top += [("mapping", v, "mapping") for v in [5, {"nolayer": {}}, {"fc": 5}, {"fc": {"pe": {"Z": 2}}}]]
    top += [("extra", 1, "extra")]
    for k, v, needle in top:
        c = copy.deepcopy(BASE)
        c[k] = v
        out.append((f"top.{k}={str(v)[:20]!r}", c, needle, FIXED_COMMANDS))
    c = copy.deepcopy(BASE)
    del c["workload"]
    out.append(("no-workload", c, "workload", FIXED_COMMANDS))
    text = yaml.safe_dump(BASE)
    files = [
        ("dup-key", (text + "name: again\n").encode(), "name"),
        ("sexagesimal", text.replace("rows: 4", "rows: 1:20").encode(), "line"),
        ("octal", text.replace("rows: 4", "rows: 016").encode(), "line"),
        ("latin-1", text.replace("corpus", "corp\xe9s").encode("latin-1"), "UTF-8"),
        ("alias-bomb", ("a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
            f"{c2}: &{c2} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"
            for p, c2 in zip("abcdefgh", "bcdefghi")) + text.replace("rows: 4", "rows: *i")).encode(), ""),
        ("deep", (text + "objective: " + "[" * 5000 + "]" * 5000 + "\n").encode(), ""),
        ("not-a-mapping", b"- 1\n- 2\n", ""),
        ("empty", b"", ""),
        ("binary", bytes(range(256)) * 4, ""),
    ]
    out += [(f"file.{n}", raw, needle, FIXED_COMMANDS) for n, raw, needle in files]
    return out


CASES = _cases()


def test_corpus_is_large():
    assert len(CASES) >= 300, len(CASES)


def _argv(cmd: str, path: Path, tmp: Path) -> list[str]:
    if cmd == "sweep":
        return ["sweep", str(path), "-q", "-o", str(tmp / "res")]
    if cmd == "export":
        return ["export", str(path), "-o", str(tmp / "rtl")]
    return [cmd, str(path)]


def _alarm(signum, frame):
    raise TimeoutError(f"a run took over {RUN_LIMIT_S} s")


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_hostile_config_is_one_line_error(case, tmp_path, capsys):
    name, cfg, needle, commands = case
    path = tmp_path / "c.yaml"
    path.write_bytes(cfg if isinstance(cfg, bytes) else yaml.safe_dump(cfg, allow_unicode=True).encode())
    old = signal.signal(signal.SIGALRM, _alarm)
    try:
        for cmd in commands:
            signal.alarm(RUN_LIMIT_S)
            t0 = time.monotonic()
            code = main(_argv(cmd, path, tmp_path))
            signal.alarm(0)
            err = capsys.readouterr().err
            lines = err.strip().splitlines()
            assert code == 2, f"{cmd}: accepted (status {code}): {err[-300:]}"
            assert len(lines) == 1 and lines[0].startswith("error: "), f"{cmd}: {err[-500:]}"
            assert needle in lines[0], f"{cmd}: {lines[0]!r} does not name {needle!r}"
            assert len(lines[0]) < 400, f"{cmd}: a {len(lines[0])}-character line"
            assert time.monotonic() - t0 < RUN_LIMIT_S
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


@pytest.mark.parametrize("name", ["hardware.rows-0", "top.name='..'", "file.alias-bomb", "file.latin-1",
                                  "search.jobs-3"])
def test_hostile_config_by_subprocess(name, tmp_path):
    _, cfg, needle, commands = next(c for c in CASES if c[0] == name)
    path = tmp_path / "c.yaml"
    path.write_bytes(cfg if isinstance(cfg, bytes) else yaml.safe_dump(cfg, allow_unicode=True).encode())
    out = subprocess.run([sys.executable, "-m", "codesign.cli", *_argv(commands[-1], path, tmp_path)],
                         capture_output=True, text=True, timeout=60, cwd=tmp_path,
                         env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    lines = out.stderr.strip().splitlines()
    assert out.returncode == 2 and len(lines) == 1 and needle in lines[0], out.stderr[-500:]


def test_missing_hardware_is_said_in_one_warning_line(tmp_path, capsys):
    c = copy.deepcopy(BASE)
    del c["hardware"]
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(c))
    assert main(["evaluate", str(path)]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [l for l in err if l.startswith("warning: hardware: missing (give at least hardware.family; "
                                                  "defaults: family systolic, rows ")]
    assert len(err) == 1


# --- property-based: any data in the config's shape parses or is one UserError line ---------------------

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from codesign.config import parse_config  # noqa: E402
from codesign.errors import UserError  # noqa: E402

_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(min_value=-2**70, max_value=2**70),
                     st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12),
                     st.sampled_from(["os", "ws", "systolic", "gemm", "conv2d", "resnet18", "..", "edp"]))
_VALUES = st.recursive(_SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.sampled_from(["low", "high", "step", "log", "max", "min"]),
                                                 inner, max_size=3)), max_leaves=8)
_HW = st.dictionaries(st.sampled_from(list(BASE["hardware"]) + ["tech", "timing", "bogus"]), _VALUES, max_size=5)
_LAYER = st.dictionaries(st.sampled_from(["name", "op", "M", "N", "K", "C", "H", "W", "R", "S", "padding",
                                          "stride"]), _VALUES, max_size=8)


@st.composite
def _configs(draw):
    c = copy.deepcopy(BASE)
    del c["search"]
    if draw(st.booleans()):
        c["hardware"].update(draw(_HW))
    if draw(st.booleans()):
        c["workload"]["layers"][draw(st.integers(0, 1))].update(draw(_LAYER))
    if draw(st.booleans()):
        c[draw(st.sampled_from(["name", "objective", "mapping", "workload", "hardware"]))] = draw(_VALUES)
    return c


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_configs())
def test_config_parser_property(raw):
    try:
        cfg = parse_config(raw)
    except UserError as e:
        msg = str(e)
        assert msg and "\n" not in msg and len(msg) < 500, msg
        return
    assert cfg.spaces and cfg.network is not None
