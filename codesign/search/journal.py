"""Opening a journal study fast: one read, one parse, and a snapshot of the records.

Optuna's `JournalStorage` replays its file at start-up one line at a time
(20,000 ResNet-18 trials: a 128 MiB file, most of a resume's time), and the
damage check before it (`locks._check_journal`) parsed the same file again.
`open_journal` reads the file once, checks every line it parses (a damaged
line is refused in one line, as before), and hands the records to the
storage's own replay (`JournalStorageReplayResult.apply_logs`, the code a
plain `JournalStorage` runs), so the state is the one a full replay builds;
later reads are Optuna's, from the first byte not yet read.

The snapshot (``study.snapshot`` next to the journal) holds the records of the
journal's first `lines` lines in `marshal` form (2.7 times faster to load
than the JSON, no code run on load), with a header naming the journal bytes
they were parsed from: their length and CRC-32 (`zlib.crc32`, 0.03 s for
128 MiB), the payload's own length and CRC, and the Python and marshal
versions. On load every field is checked against the journal just read; a
snapshot that fails any check is ignored (the whole journal is parsed), never
trusted. A valid one stands for bytes that parsed as sound records when it was
written, so only the lines after it are parsed and checked. The journal stays
the source of truth: the snapshot is rewritten (atomically) only when the
journal has grown by `GROWTH` since it (and is over `MIN_BYTES`), so a sweep
pays for it once per 25% of growth.
"""
from __future__ import annotations

import functools
import gc
import json
import marshal
import os
import sys
import zlib
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend

from ..errors import UserError

__all__ = ["open_journal", "refresh_snapshot", "load", "Loaded", "read_snapshot", "write_snapshot", "SNAPSHOT",
           "GROWTH", "MIN_BYTES", "parse_lines", "no_gc"]

SNAPSHOT = "study.snapshot"
#: the snapshot is rewritten when the journal has grown by this factor since it
GROWTH = 1.25
#: no snapshot for a journal smaller than this (parsed in well under 0.1 s)
MIN_BYTES = 4 << 20
_FORMAT = "codesign-journal-snapshot/1"


@contextmanager
def no_gc(freeze: bool = False):
    """The cyclic garbage collector held while many containers are built at once (it
    would rescan them over and over: half of a 20,000-trial journal parse); restored
    after. With `freeze`, what is alive then is moved out of its sight first
    (`gc.freeze`: a study's trials live as long as the sweep; refcounting still frees them),
    only when the block succeeds: after an exception the collector is left as it was."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    except BaseException:          # a refused journal, an interrupt: nothing frozen, collector as it was
        if was:
            gc.enable()
        raise
    if was:
        if freeze:
            gc.freeze()
        gc.enable()


@contextmanager
def _shared_distributions():
    """While the records are replayed, equal distribution JSON (four per trial, the same in
    every trial) is parsed once and the object shared (distributions are never modified):
    a third of the replay's time otherwise."""
    from optuna.storages.journal import _storage
    parse = getattr(_storage, "json_to_distribution", None)
    if parse is None:            # another Optuna layout: replay as it is
        yield
        return
    _storage.json_to_distribution = functools.lru_cache(maxsize=4096)(parse)
    try:
        yield
    finally:
        _storage.json_to_distribution = parse


@dataclass(frozen=True)
class Loaded:
    """What `open_journal` read: the records of the journal's first `lines` lines
    (`end` bytes, CRC-32 `crc`), and whether a snapshot supplied the first `from_snapshot`."""

    records: list
    lines: int
    end: int
    crc: int
    from_snapshot: int = 0
    snapshot_end: int = 0


def _damaged(journal: Path, i: int, n: int) -> UserError:
    return UserError(f"{journal}: line {i + 1} of {n} is damaged (not a JSON record); the study cannot be "
                     f"read safely: restore the file from a copy, or move it away to start the study over")


def parse_lines(journal: Path, lines: list[bytes], first: int = 0, total: int | None = None) -> list:
    """The records of complete journal `lines` (line `first` of the file first), in one
    parse; a line that is not exactly one JSON object is refused naming its number."""
    if not lines:
        return []
    try:
        with no_gc():
            whole = json.loads(b"[" + b",".join(lines) + b"]")
        # one record per line: the join hides a line holding two records or one split over two
        sound = len(whole) == len(lines) and all(isinstance(r, dict) for r in whole) and all(
            line[:1] == b"{" and line.rstrip(b"\r")[-1:] == b"}" for line in lines)
    except ValueError:
        sound = False
    if sound:
        return whole
    for i, line in enumerate(lines):
        try:
            if not isinstance(json.loads(line), dict):
                raise ValueError
        except ValueError:
            raise _damaged(journal, first + i, total or first + len(lines)) from None
    raise _damaged(journal, first, total or first + len(lines))   # not reached: some line fails above


def _header(snapshot_lines: int, end: int, crc: int, payload: bytes) -> bytes:
    return json.dumps({"format": _FORMAT, "python": list(sys.version_info[:2]), "marshal": marshal.version,
                       "lines": snapshot_lines, "journal_bytes": end, "journal_crc32": crc,
                       "payload_bytes": len(payload), "payload_crc32": zlib.crc32(payload)}).encode() + b"\n"


def read_snapshot(journal: Path, data: bytes) -> tuple[list, int, int, int] | None:
    """The snapshot next to `journal` if it matches `data` (the journal's bytes):
    (records, lines, end, crc); None if it is missing or fails any check."""
    try:
        with open(journal.with_name(SNAPSHOT), "rb") as f:
            head = json.loads(f.readline(4096))
            payload = f.read()
        ok = (isinstance(head, dict) and head.get("format") == _FORMAT
              and head.get("python") == list(sys.version_info[:2]) and head.get("marshal") == marshal.version)
        end, lines = int(head["journal_bytes"]), int(head["lines"])
        ok = ok and 0 < end <= len(data) and data[end - 1:end] == b"\n"
        ok = ok and head["payload_bytes"] == len(payload) and head["payload_crc32"] == zlib.crc32(payload)
        crc = zlib.crc32(memoryview(data)[:end]) if ok else None
        if not ok or crc != head["journal_crc32"]:
            return None
        with no_gc():
            records = marshal.loads(payload)
        if not isinstance(records, list) or len(records) != lines or data.count(b"\n", 0, end) != lines:
            return None
        return records, lines, end, crc
    except (OSError, ValueError, TypeError, KeyError, EOFError):
        return None


def write_snapshot(journal: Path, loaded: Loaded) -> None:
    """Write `loaded` as the snapshot of `journal` (atomically: a reader sees the old one or the new)."""
    payload = marshal.dumps(loaded.records)
    path = journal.with_name(SNAPSHOT)
    tmp = path.with_name(f".{SNAPSHOT}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(_header(loaded.lines, loaded.end, loaded.crc, payload))
            f.write(payload)
        os.replace(tmp, path)
    except OSError:            # a read-only folder, a full disk: the journal alone still works
        tmp.unlink(missing_ok=True)


def due(loaded: Loaded) -> bool:
    """The journal has grown enough since the snapshot (or has none) to write one."""
    return loaded.end >= MIN_BYTES and loaded.end >= GROWTH * loaded.snapshot_end


def load(journal: Path, *, use_snapshot: bool = True) -> Loaded:
    """Every complete line of `journal` as records (a valid snapshot for its first part,
    the rest parsed and checked); a torn last line (no newline) is left out."""
    data = journal.read_bytes() if journal.is_file() else b""
    end = data.rfind(b"\n") + 1
    snap = read_snapshot(journal, data) if use_snapshot and end else None
    records, lines, start, crc = snap if snap else ([], 0, 0, 0)
    tail = data[start:end].split(b"\n")[:-1]
    total = lines + len(tail) + (end < len(data))
    new = parse_lines(journal, tail, lines, total)
    return Loaded(records + new if records else new, lines + len(tail), end,
                  zlib.crc32(memoryview(data)[start:end], crc), lines if snap else 0, start if snap else 0)


def open_journal(journal: Path, *, snapshot: bool = True, freeze: bool = False):
    """A `JournalStorage` on `journal` holding its replayed state (module docstring), and
    what was read (`Loaded`). With `snapshot`, a snapshot is written if one is due; with
    `freeze`, the state is kept out of the garbage collector's scans (`no_gc`)."""
    with no_gc(freeze):
        return _open(journal, snapshot)


class _Held(JournalFileBackend):
    """Reads nothing while the storage starts (`_open` fills its state from `Loaded`)."""
    held = True

    def read_logs(self, log_number_from):
        return iter(()) if self.held else super().read_logs(log_number_from)


def _open(journal: Path, snapshot: bool):
    if not journal.exists():
        journal.touch()
    loaded = load(journal)
    if snapshot and due(loaded):      # before the replay: the records are exactly as parsed
        write_snapshot(journal, loaded)
        loaded = replace(loaded, snapshot_end=loaded.end)
    backend = _Held(str(journal))
    storage = JournalStorage(backend)
    try:
        with _shared_distributions():
            storage._replay_result.apply_logs(loaded.records)
    except Exception as e:   # noqa: BLE001 (a record Optuna cannot apply: KeyError, AssertionError, ...)
        raise UserError(f"{journal}: a record cannot be replayed ({type(e).__name__}: {str(e)[:80]}); restore "
                        f"the file from a copy, or move it away to start the study over") from None
    backend._log_number_offset[loaded.lines] = loaded.end      # Optuna reads on from the first byte not read
    backend.held = False
    return storage, replace(loaded, records=[])


def _snapshot_end(journal: Path) -> int:
    """The journal bytes the snapshot says it covers (its header only; 0 if none)."""
    try:
        with open(journal.with_name(SNAPSHOT), "rb") as f:
            return int(json.loads(f.readline(4096))["journal_bytes"])
    except (OSError, ValueError, TypeError, KeyError):
        return 0


def refresh_snapshot(journal: Path) -> bool:
    """Rewrite the snapshot of `journal` if it has grown by `GROWTH` since (the records
    parsed afresh: the valid snapshot's plus the lines after it); whether it did."""
    size = journal.stat().st_size if journal.is_file() else 0
    if size < MIN_BYTES or size < GROWTH * _snapshot_end(journal):
        return False
    loaded = load(journal)
    if not due(loaded):
        return False
    write_snapshot(journal, loaded)
    return True
