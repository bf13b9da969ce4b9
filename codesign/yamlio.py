"""Strict, bounded YAML reading for config files: every refusal is one line.

``load_yaml(path)`` / ``parse_yaml(text, source)`` return plain Python data
(dict, list, str, int, float, bool, None) or raise :class:`UserError` with
``<source>: line N: <what is wrong>``. The policy, and why:

* **Size**: files over :data:`MAX_BYTES` (8 MiB) are refused from ``stat``
  before reading (and reading stops at the limit for pipes). Real configs are
  a few KiB; the limit bounds time and memory. With libyaml: ~0.2 s per MB
  for config-like text, 0.75 s per MB at worst (8 MiB of 1-digit numbers in
  a flow list: 6 s); the pure-Python fallback is ~9x slower.
* **Encoding**: UTF-8 with or without BOM; UTF-16 and UTF-32 with a BOM.
  Anything else that does not decode is refused naming the byte offset and
  line. Control characters YAML does not allow are refused with their line
  (a NUL usually means UTF-16 without a BOM).
* **Parser**: libyaml's event parser (``yaml.cyaml.CParser``) when PyYAML was
  built with it, else PyYAML's pure-Python one; events are turned into data
  here, in one iterative pass, instead of by PyYAML's composer/constructor:
  that pass is where the checks below live, and it is ~6x faster than
  ``yaml.load(Loader=CSafeLoader)``, whose composer calls the Python
  resolver per scalar (5 MB: 0.9 s against 5.9 s, benchmarks/bench_yamlio.py).
* **Duplicate keys** are refused (PyYAML keeps the last one silently).
* **Anchors and aliases** (``&a``, ``*a``, ``<<: *a``) are refused: configs
  do not need them, and they are what makes an alias bomb (a few lines that
  expand to 10**9 values). Merge keys (``<<``) are refused with them.
* **Nesting** deeper than :data:`MAX_DEPTH` is refused (no RecursionError).
* **Scalars**: the rule is "refuse what YAML 1.1 reads differently from what
  its author evidently meant". Numbers are read as Python reads its literals
  (``16``, ``1_000``, ``0x10``, ``0o17``, ``0b101``, ``1.5``, ``1e3`` -- the
  last a float, as in YAML 1.2, where PyYAML gives the string ``'1e3'``) plus
  ``.inf``/``.nan`` (refused later by the number checks, with the key).
  Refused: sexagesimal ``1:20`` (YAML 1.1 reads 80), leading-zero ``016``
  (YAML 1.1 reads octal 14; write ``16`` or ``0o16``), other YAML 1.1 numbers
  Python would not accept (``1__0``), and the YAML 1.1 booleans
  ``yes/no/on/off`` (write ``true``/``false``, or quote the string). Dates
  stay strings (YAML 1.2 core schema). ``true/false/null/~`` as usual.
* **Tags**: only ``!!str``, ``!!map``, ``!!seq`` and ``!`` are accepted.
"""
from __future__ import annotations

import codecs
import os
import re
import stat
from pathlib import Path
from typing import Any

import yaml
from yaml import events as ev

from codesign.errors import UserError, short

__all__ = ["MAX_BYTES", "MAX_DEPTH", "MAX_NUMBER_CHARS", "C_PARSER", "load_yaml", "parse_yaml"]

MAX_BYTES = 8 * 1024 * 1024
MAX_DEPTH = 64
MAX_NUMBER_CHARS = 100   # int("9" * 5000) raises ValueError in Python >= 3.11

class _PyParser(yaml.reader.Reader, yaml.scanner.Scanner, yaml.parser.Parser):
    """PyYAML's pure-Python reader + scanner + parser (events only): the fallback."""

    def __init__(self, stream: str) -> None:
        yaml.reader.Reader.__init__(self, stream)
        yaml.scanner.Scanner.__init__(self)
        yaml.parser.Parser.__init__(self)


try:
    from yaml.cyaml import CParser as _Parser
    C_PARSER = True
except ImportError:  # PyYAML built without libyaml
    _Parser = _PyParser
    C_PARSER = False


# BOMs, longest first: the UTF-32-LE BOM starts with the UTF-16-LE one.
_BOMS = ((codecs.BOM_UTF32_LE, "utf-32-le"), (codecs.BOM_UTF32_BE, "utf-32-be"),
         (codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"),
         (codecs.BOM_UTF16_BE, "utf-16-be"))
# Characters YAML 1.1/1.2 allow in a stream ("c-printable"), BOM aside.
_NOT_PRINTABLE = re.compile("[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufefe\uff00-\ufffd"
                            "\U00010000-\U0010ffff]")

# YAML 1.1 plain scalars (PyYAML's Resolver, yaml/resolver.py: the int, float
# and bool implicit resolvers) and the YAML 1.2 core float (1e3).
_YAML11_INT = re.compile(r"[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)"
                         r"|[-+]?0x[0-9a-fA-F_]+|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+")
_YAML11_FLOAT = re.compile(r"[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?"
                           r"|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?"
                           r"|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*")
_YAML12_FLOAT = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?")
_PY_PREFIXED = re.compile(r"[-+]?0[xXoObB][0-9a-fA-F_]+")
_LEADING_ZERO = re.compile(r"[-+]?0[0-9_]+")
_SPECIAL = {
    "~": None, "null": None, "Null": None, "NULL": None, "": None,
    "true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False,
    ".inf": float("inf"), ".Inf": float("inf"), ".INF": float("inf"),
    "+.inf": float("inf"), "+.Inf": float("inf"), "+.INF": float("inf"),
    "-.inf": float("-inf"), "-.Inf": float("-inf"), "-.INF": float("-inf"),
    ".nan": float("nan"), ".NaN": float("nan"), ".NAN": float("nan"),
}
_YAML11_BOOLS = {w: w.lower() in ("yes", "on")
                 for w in ("yes", "Yes", "YES", "no", "No", "NO", "on", "On", "ON", "off", "Off", "OFF")}
_NUMBER_START = frozenset("0123456789+-.")
_STR_TAGS = {"tag:yaml.org,2002:str", "!"}
_MAP_TAGS = {None, "tag:yaml.org,2002:map", "!"}
_SEQ_TAGS = {None, "tag:yaml.org,2002:seq", "!"}


def load_yaml(path: str | os.PathLike[str]) -> Any:
    """The data of the YAML file at ``path``, read under the policy above.

    Raises UserError ``<path>: ...`` for a missing, unreadable, non-regular
    or too large file (size checked before reading) and for every refusal of
    :func:`parse_yaml`. An empty file gives None.
    """
    p = Path(path)
    try:
        st = p.stat()
    except FileNotFoundError:
        raise UserError(f"{p}: no such file") from None
    except OSError as e:
        raise UserError(f"{p}: cannot read it ({e.strerror})") from None
    if stat.S_ISDIR(st.st_mode):
        raise UserError(f"{p}: is a folder, not a YAML file")
    if st.st_size > MAX_BYTES:
        raise UserError(f"{p}: {st.st_size} bytes, over the {MAX_BYTES // 2**20} MiB limit on YAML files")
    try:
        with open(p, "rb") as f:
            data = f.read(MAX_BYTES + 1)
    except OSError as e:
        raise UserError(f"{p}: cannot read it ({e.strerror})") from None
    return parse_yaml(data, str(p))


def parse_yaml(text: str | bytes, source: str) -> Any:
    """The data of one YAML document ``text`` (str, or bytes to decode).

    ``source`` names the text in messages (a path, ``<stdin>``). Raises
    UserError ``<source>: line N: ...`` on anything the policy refuses and on
    YAML syntax errors; more than one document is refused; no document gives
    None.
    """
    if isinstance(text, (bytes, bytearray)):
        if len(text) > MAX_BYTES:
            raise UserError(f"{source}: over the {MAX_BYTES // 2**20} MiB limit on YAML files")
        text = _decode(bytes(text), source)
    elif len(text) > MAX_BYTES:
        raise UserError(f"{source}: over the {MAX_BYTES // 2**20} MiB limit on YAML files")
    text = text.removeprefix("\ufeff")
    bad = _NOT_PRINTABLE.search(text)
    if bad:
        line = text.count("\n", 0, bad.start()) + 1
        hint = " (a UTF-16 file without a byte-order mark?)" if bad.group() == "\x00" else ""
        raise UserError(f"{source}: line {line}: character U+{ord(bad.group()):04X} "
                        f"is not allowed in YAML{hint}")
    try:
        return _build(_Parser(text), source)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        where = f"line {mark.line + 1}: " if mark is not None else ""
        what = " ".join(x for x in (e.context, e.problem) if x)
        raise UserError(f"{source}: {where}not valid YAML ({' '.join(what.split())})") from None
    except yaml.YAMLError as e:
        raise UserError(f"{source}: not valid YAML ({' '.join(str(e).split())})") from None


def _decode(data: bytes, source: str) -> str:
    """``data`` decoded by its BOM (UTF-8/16/32), else as strict UTF-8."""
    enc, skip = "utf-8", 0
    for bom, name in _BOMS:
        if data.startswith(bom):
            enc, skip = name, len(bom)
            break
    try:
        return data[skip:].decode(enc)
    except UnicodeDecodeError as e:
        offset = skip + e.start
        line = data[:offset].count(b"\n") + 1 if enc == "utf-8" else None
        where = f"line {line}, byte {offset}" if line else f"byte {offset}"
        raise UserError(f"{source}: {where}: not valid {enc.upper()} ({e.reason}); "
                        f"save the file as UTF-8") from None


def _line(event: ev.Event) -> int:
    return event.start_mark.line + 1 if event.start_mark is not None else 0


def _scalar(event: ev.ScalarEvent, source: str) -> Any:
    """The value of a scalar event: a string unless plain and untagged."""
    value = event.value
    if event.tag is not None:
        if event.tag not in _STR_TAGS:
            raise UserError(f"{source}: line {_line(event)}: tag {event.tag.replace('tag:yaml.org,2002:', '!!')} "
                            "is not supported (only !!str)")
        return value
    if not event.implicit[0]:           # quoted, literal or folded
        return value
    if value in _SPECIAL:
        return _SPECIAL[value]
    if value in _YAML11_BOOLS:
        raise UserError(f"{source}: line {_line(event)}: '{value}' is a YAML 1.1 boolean "
                        f"({str(_YAML11_BOOLS[value]).lower()}); write true or false, "
                        f"or quote it for the string")
    if not value or value[0] not in _NUMBER_START:
        return value
    return _number(value, event, source)


def _number(value: str, event: ev.ScalarEvent, source: str) -> Any:
    """A plain scalar that may be a number: int, float, refused, or the string."""
    is_int = _YAML11_INT.fullmatch(value) or _PY_PREFIXED.fullmatch(value)
    is_float = not is_int and (_YAML11_FLOAT.fullmatch(value) or _YAML12_FLOAT.fullmatch(value))
    if not (is_int or is_float):
        return value
    where = f"{source}: line {_line(event)}"
    if len(value) > MAX_NUMBER_CHARS:
        raise UserError(f"{where}: a number of {len(value)} characters; quote it if it is a string")
    if ":" in value:
        raise UserError(f"{where}: {value} is a base-60 number in YAML 1.1 "
                        f"(read as {_sexagesimal(value)}); quote it, or write the number")
    digits = value.lstrip("+-")
    if _LEADING_ZERO.fullmatch(value) and set(digits) - {"0", "_"}:
        sign = "-" if value.startswith("-") else ""
        plain = int(digits.replace("_", ""), 10)
        if set(digits) <= set("01234567_"):
            octal = int(digits.replace("_", ""), 8)
            raise UserError(f"{where}: {value} has a leading zero: YAML 1.1 reads it as octal "
                            f"{sign}{octal}; write {sign}{plain}, or {sign}0o{plain} for octal "
                            f"{sign}{octal}, or quote it")
        raise UserError(f"{where}: {value} has a leading zero (YAML 1.1 reads it as a string); "
                        f"write {sign}{plain}, or quote it")
    try:
        return int(value, 0) if is_int else float(value)
    except ValueError:
        raise UserError(f"{where}: {short(value)} is not a valid number (a misplaced '_' or "
                        "digit?); write the number plainly, or quote it for a string") from None


def _sexagesimal(value: str) -> str:
    """What YAML 1.1 (PyYAML's construct_yaml_int/float) reads a base-60 scalar as."""
    sign = -1 if value.startswith("-") else 1
    parts = value.lstrip("+-").replace("_", "").split(":")
    total = 0.0 if "." in parts[-1] else 0
    for part in parts:
        total = total * 60 + (float(part) if "." in part else int(part))
    return str(sign * total)


def _build(parser: Any, source: str) -> Any:
    """Data from the parser's events, checking keys, depth, anchors and tags.

    A frame is ``[container, pending_key, key_lines]``: for a mapping,
    ``pending_key`` is ``_NO_KEY`` while a key is expected; for a sequence,
    ``key_lines`` is None.
    """
    stack: list[list[Any]] = []
    root: Any = None
    documents = 0
    scalar_t, map_t, seq_t = ev.ScalarEvent, ev.MappingStartEvent, ev.SequenceStartEvent
    end_t = (ev.MappingEndEvent, ev.SequenceEndEvent)
    while parser.check_event():
        e = parser.get_event()
        t = type(e)
        if t is scalar_t:
            if e.anchor is not None:
                _no_anchor(e, source)
            value: Any = _scalar(e, source)
        elif t is map_t or t is seq_t:
            if e.anchor is not None:
                _no_anchor(e, source)
            if e.tag not in (_MAP_TAGS if t is map_t else _SEQ_TAGS):
                raise UserError(f"{source}: line {_line(e)}: tag {e.tag} is not supported")
            if len(stack) >= MAX_DEPTH:
                raise UserError(f"{source}: line {_line(e)}: nested deeper than {MAX_DEPTH} levels")
            if stack and stack[-1][2] is not None and stack[-1][1] is _NO_KEY:
                raise UserError(f"{source}: line {_line(e)}: a mapping or list as a key is not supported")
            stack.append([{}, _NO_KEY, {}] if t is map_t else [[], None, None])
            continue
        elif t in end_t:
            value = stack.pop()[0]
        elif t is ev.AliasEvent:
            raise UserError(f"{source}: line {_line(e)}: alias *{e.anchor}: anchors and aliases are "
                            "not supported; write the value out")
        elif t is ev.DocumentStartEvent:
            documents += 1
            if documents > 1:
                raise UserError(f"{source}: line {_line(e)}: a second YAML document ('---'); "
                                "a config is one document")
            continue
        else:
            continue
        if not stack:
            root = value
            continue
        frame = stack[-1]
        lines = frame[2]
        if lines is None:
            frame[0].append(value)
        elif frame[1] is _NO_KEY:
            _check_key(value, e, lines, source)
            frame[1] = value
        else:
            frame[0][frame[1]] = value
            frame[1] = _NO_KEY
    return root


_NO_KEY = object()


def _check_key(key: Any, event: ev.Event, lines: dict[Any, int], source: str) -> None:
    """Refuse a merge key or a key already in the mapping; remember its line."""
    line = _line(event)
    if key == "<<" and event.implicit[0]:
        raise UserError(f"{source}: line {line}: merge keys (<<) are not supported; write the keys out")
    if key in lines:
        raise UserError(f"{source}: line {line}: duplicate key {short(key)} "
                        f"(first at line {lines[key]})")
    lines[key] = line


def _no_anchor(event: ev.Event, source: str) -> None:
    raise UserError(f"{source}: line {_line(event)}: anchor &{event.anchor}: anchors and aliases "
                    "are not supported; write the value out")
