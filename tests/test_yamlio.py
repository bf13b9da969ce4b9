"""codesign.yamlio: strict, bounded YAML reading with one-line errors."""
import codecs
import time
from pathlib import Path

import pytest
import yaml

import codesign.yamlio as yamlio
from codesign.errors import UserError
from codesign.yamlio import MAX_BYTES, MAX_DEPTH, load_yaml, parse_yaml

CONFIGS = sorted((Path(__file__).resolve().parent.parent / "configs").glob("*.yaml"))


@pytest.fixture(params=["c", "python"])
def parser(request, monkeypatch):
    """Run a test with libyaml's parser and with the pure-Python fallback."""
    if request.param == "c":
        if not yamlio.C_PARSER:
            pytest.skip("PyYAML has no libyaml here")
    else:
        monkeypatch.setattr(yamlio, "_Parser", yamlio._PyParser)
    return request.param


def refused(text, source="cfg.yaml"):
    """The one-line message parse_yaml gives for ``text``."""
    with pytest.raises(UserError) as e:
        parse_yaml(text, source)
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith(f"{source}: "), msg
    return msg


def test_project_configs_read_as_safe_load_reads_them(parser):
    assert CONFIGS
    for path in CONFIGS:
        assert load_yaml(path) == yaml.safe_load(path.read_text()), path


def test_plain_values(parser):
    text = ("a: 16\nb: 1_000\nc: 0x10\nd: 0o17\ne: 0b101\nf: 1.5\ng: 1e3\nh: -2.5e-3\ni: true\n"
            "j: False\nk: ~\nl: null\nm:\nn: text\no: '016'\np: \"yes\"\nq: 2024-01-01\nr: 00\n"
            "s: |\n  block\nt: !!str 12\nu: [1, {v: 2}]\nw: 08.5\n")
    assert parse_yaml(text, "cfg.yaml") == {
        "a": 16, "b": 1000, "c": 16, "d": 15, "e": 5, "f": 1.5, "g": 1000.0, "h": -0.0025,
        "i": True, "j": False, "k": None, "l": None, "m": None, "n": "text", "o": "016",
        "p": "yes", "q": "2024-01-01", "r": 0, "s": "block\n", "t": "12", "u": [1, {"v": 2}],
        "w": 8.5}
    assert type(parse_yaml("a: 1e3", "x")["a"]) is float
    inf = parse_yaml("a: .inf\nb: -.Inf\nc: .nan", "x")  # finite_number refuses these, with the key
    assert inf["a"] == float("inf") and inf["b"] == float("-inf") and inf["c"] != inf["c"]
    assert parse_yaml("", "x") is None and parse_yaml("# only a comment\n", "x") is None


@pytest.mark.parametrize("text, words", [
    ("rows: 1:20", ["line 1", "base-60", "read as 80"]),
    ("a: 1\nrows: -1:20:30.5", ["line 2", "base-60"]),
    ("rows: 016", ["line 1", "octal 14", "write 16"]),
    ("rows: -016", ["octal -14"]),
    ("rows: 08", ["leading zero", "write 8"]),
    ("flag: yes", ["line 1", "YAML 1.1 boolean", "true or false"]),
    ("flag: Off", ["YAML 1.1 boolean (false)"]),
    ("x: [on]", ["YAML 1.1 boolean"]),
    ("n: 1__0", ["not a valid number"]),
    ("n: 0b102", ["not a valid number"]),
    ("n: " + "9" * 200, ["a number of 200 characters"]),
])
def test_yaml11_quirks_refused(parser, text, words):
    msg = refused(text)
    for w in words:
        assert w in msg, msg


def test_duplicate_keys_refused_with_both_lines(parser):
    msg = refused("hardware:\n  rows: 4\n  cols: 4\n  rows: 8\n")
    assert msg == "cfg.yaml: line 4: duplicate key 'rows' (first at line 2)"
    assert "line 2: duplicate key 'a'" in refused("{a: 1,\n a: 2}")
    parse_yaml("a: {x: 1}\nb: {x: 1}\n", "x")       # same key in two mappings is fine


def test_anchors_aliases_merge_keys_and_tags_refused(parser):
    assert "line 2: anchor &base" in refused("a: 1\nb: &base {x: 1}\nc: *base\n")
    assert "merge keys" in refused("a:\n  <<: {x: 1}\n")
    assert "tag !!python/object" in refused("a: !!python/object:os.system x\n")
    assert "tag !!int" in refused("a: !!int '3'\n")
    assert "mapping or list as a key" in refused("? [1, 2]\n: x\n")


def test_alias_bomb_refused_at_once(parser):
    bomb = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i, name in enumerate("bcdefghi"):
        prev = "abcdefghi"[i]
        bomb.append(f"{name}: &{name} [{', '.join([f'*{prev}'] * 9)}]")
    t = time.perf_counter()
    msg = refused("\n".join(bomb))
    assert time.perf_counter() - t < 1.0
    assert "anchor &a" in msg


def test_nesting_depth_bounded(parser):
    ok = "".join(" " * i + "k:\n" for i in range(MAX_DEPTH - 1)) + " " * (MAX_DEPTH - 1) + "k: 1\n"
    assert parse_yaml(ok, "x") is not None
    deep = "".join(" " * i + "k:\n" for i in range(MAX_DEPTH)) + " " * MAX_DEPTH + "k: 1\n"
    assert f"nested deeper than {MAX_DEPTH} levels" in refused(deep)
    for text in ("[" * 100_000 + "]" * 100_000, "- " * 100_000 + "x", "{a: " * 5000 + "1" + "}" * 5000):
        refused(text)   # one line, no RecursionError, no crash


def test_syntax_errors_and_documents(parser):
    assert refused("a: [1, 2\nb: 3\n").startswith("cfg.yaml: line ")
    assert "a second YAML document" in refused("a: 1\n---\nb: 2\n")
    assert "line 2" in refused("a: 1\n\tb: 2\n")


@pytest.mark.parametrize("codec, bom", [
    ("utf-8", b""), ("utf-8", codecs.BOM_UTF8), ("utf-16-le", codecs.BOM_UTF16_LE),
    ("utf-16-be", codecs.BOM_UTF16_BE), ("utf-32-le", codecs.BOM_UTF32_LE),
    ("utf-32-be", codecs.BOM_UTF32_BE)])
def test_encodings_with_bom(tmp_path, codec, bom):
    text = "name: café\nhardware:\n  rows: 16  # Ω\n"
    path = tmp_path / "cfg.yaml"
    path.write_bytes(bom + text.encode(codec))
    assert load_yaml(path) == {"name": "café", "hardware": {"rows": 16}}


def test_undecodable_bytes_refused_with_offset(tmp_path):
    path = tmp_path / "latin1.yaml"
    path.write_bytes("a: 1\nname: caf\xe9\n".encode("latin-1"))
    with pytest.raises(UserError) as e:
        load_yaml(path)
    assert str(e.value) == (f"{path}: line 2, byte 14: not valid UTF-8 (invalid continuation byte); "
                            "save the file as UTF-8")
    path.write_bytes(codecs.BOM_UTF16_LE + b"a\x00:\x00 \x00\x00\xdc")   # lone low surrogate
    with pytest.raises(UserError, match=r"byte 8: not valid UTF-16-LE"):
        load_yaml(path)
    path.write_bytes("a: 1\n".encode("utf-16-le"))                      # no BOM
    with pytest.raises(UserError, match=r"line 1: character U\+0000 .*UTF-16 file without a byte-order mark"):
        load_yaml(path)
    assert "line 2: character U+0007" in refused("a: 1\nb: \x07\n")


def test_size_limit_checked_before_reading(tmp_path):
    huge = tmp_path / "huge.yaml"
    with open(huge, "wb") as f:               # sparse: 50 MB on paper, nothing on disk
        f.truncate(50 * 10**6)
    t = time.perf_counter()
    with pytest.raises(UserError) as e:
        load_yaml(huge)
    assert time.perf_counter() - t < 0.1
    assert str(e.value) == f"{huge}: 50000000 bytes, over the 8 MiB limit on YAML files"
    with pytest.raises(UserError, match="over the 8 MiB limit"):
        parse_yaml("a" * (MAX_BYTES + 1), "<stdin>")


def test_file_errors_one_line(tmp_path):
    with pytest.raises(UserError, match=r"missing.yaml: no such file$"):
        load_yaml(tmp_path / "missing.yaml")
    with pytest.raises(UserError, match="is a folder"):
        load_yaml(tmp_path)
    with pytest.raises(UserError, match="over the 8 MiB limit"):
        load_yaml("/dev/zero")                 # not a regular file: reading stops at the limit


from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_YAMLISH = st.lists(st.sampled_from(list("ab01:-_ .,[]{}&*!|>'\"#?~\n\t\x00\xe9") +
                                     ["  ", "- ", ": ", "yes", "016", "1:2", "<<", "!!str ", "---\n"]),
                    max_size=40).map("".join)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.one_of(_YAMLISH, st.binary(max_size=60)))
def test_any_input_gives_data_or_one_line_user_error(parser, text):
    try:
        parse_yaml(text, "f.yaml")
    except UserError as e:
        assert "\n" not in str(e) and str(e).startswith("f.yaml: ")
