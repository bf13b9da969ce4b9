"""The journal snapshot (`codesign.search.journal`): a study opened from a snapshot plus
the lines after it equals Optuna's own full replay of the file; a snapshot that is
stale, corrupt, from another journal or another Python is ignored, never trusted; a
journal edited or damaged under a snapshot is read as it is now (or refused); the
snapshot is rewritten only after the journal has grown by a quarter."""
import json
import os

import optuna
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend

from codesign.errors import UserError
from codesign.search import journal as J

optuna.logging.set_verbosity(optuna.logging.WARNING)
DISTS = {"x": FloatDistribution(0.0, 1e6), "c": CategoricalDistribution(["ab", "cd", "ef"])}


@pytest.fixture(autouse=True)
def _no_minimum(monkeypatch):
    monkeypatch.setattr(J, "MIN_BYTES", 0)          # a snapshot for any journal, however small


def _add(path, n: int, start: int = 0) -> None:
    """`n` complete trials in study "s" of the journal `path`, the way a sweep writes them."""
    study = optuna.create_study(storage=JournalStorage(JournalFileBackend(str(path))), study_name="s",
                                directions=["minimize", "minimize"], load_if_exists=True)
    study.set_user_attr("space", {"n": start})
    study.add_trials([optuna.trial.create_trial(
        params={"x": float(i) * 1.5, "c": ["ab", "cd", "ef"][i % 3]}, distributions=DISTS, values=[i, -i / 3],
        user_attrs={"codesign": {"metrics": {"edp": i * 0.1, "none": None}, "layers": {"fc": {"n": i, "ok": True}}}},
        system_attrs={"constraints": [float(i % 2)]}) for i in range(start, start + n)])


def _state(storage):
    sid = storage.get_study_id_from_name("s")
    return (storage.get_study_user_attrs(sid), storage.get_study_directions(sid),
            storage.get_all_trials(sid, deepcopy=False))


def _replay(path):
    """Optuna's own full replay of the file."""
    return _state(JournalStorage(JournalFileBackend(str(path))))


@pytest.fixture()
def journal(tmp_path):
    path = tmp_path / "study.journal"
    _add(path, 40)
    storage, loaded = J.open_journal(path)                       # writes the snapshot (none yet)
    assert loaded.from_snapshot == 0 and (tmp_path / J.SNAPSHOT).is_file()
    return path


def test_snapshot_plus_tail_equals_a_full_replay(journal):
    covered = J.read_snapshot(journal, journal.read_bytes())[1]
    _add(journal, 5, start=40)                                   # lines after the snapshot
    storage, loaded = J.open_journal(journal, snapshot=False)
    assert loaded.from_snapshot == covered > 40 and loaded.lines > covered
    assert _state(storage) == _replay(journal) and len(_state(storage)[2]) == 45
    # the storage reads on from where the load stopped: new trials through it and from outside
    optuna.load_study(study_name="s", storage=storage).add_trials(
        [optuna.trial.create_trial(params={"x": 1.0, "c": "ab"}, distributions=DISTS, values=[0, 0])])
    _add(journal, 2, start=50)
    assert _state(storage) == _replay(journal) and len(_state(storage)[2]) == 48


@pytest.mark.parametrize("spoil", ["payload byte", "payload cut", "header", "garbage", "empty", "python",
                                   "other journal", "journal cut"])
def test_a_bad_snapshot_is_ignored(journal, tmp_path, spoil):
    snap = tmp_path / J.SNAPSHOT
    head, payload = snap.read_bytes().split(b"\n", 1)
    if spoil == "payload byte":
        payload = payload[:50] + bytes([payload[50] ^ 1]) + payload[51:]
    elif spoil == "payload cut":
        payload = payload[:-7]
    elif spoil == "header":
        head = head[:-3]
    elif spoil == "python":
        h = json.loads(head)
        h["python"] = [2, 7]
        head = json.dumps(h).encode()
    elif spoil == "other journal":                               # a snapshot of another study's journal
        other = tmp_path / "other" / "study.journal"
        other.parent.mkdir()
        _add(other, 40, start=1)
        J.open_journal(other)
        head, payload = (other.parent / J.SNAPSHOT).read_bytes().split(b"\n", 1)
    elif spoil == "journal cut":                                 # the journal now shorter than the snapshot
        journal.write_bytes(journal.read_bytes()[: journal.stat().st_size // 2].rsplit(b"\n", 1)[0] + b"\n")
    data = {"garbage": b"\x00\xff" * 100, "empty": b""}.get(spoil, head + b"\n" + payload)
    snap.write_bytes(data)
    assert J.read_snapshot(journal, journal.read_bytes()) is None
    storage, loaded = J.open_journal(journal, snapshot=False)
    assert loaded.from_snapshot == 0 and _state(storage) == _replay(journal)


def test_a_journal_edited_under_the_snapshot_is_read_as_it_is(journal):
    data = journal.read_bytes()
    edited = data.replace(b'"x":15.0', b'"x":16.0', 1)             # trial 10's x, a valid record still
    assert edited != data and len(edited) == len(data)
    journal.write_bytes(edited)
    storage, loaded = J.open_journal(journal, snapshot=False)
    assert loaded.from_snapshot == 0
    assert _state(storage) == _replay(journal) and _state(storage)[2][10].params["x"] == 16.0


@pytest.mark.parametrize("where", ["under the snapshot", "after it"])
def test_a_damaged_line_is_refused_with_or_without_a_snapshot(journal, where):
    if where == "after it":
        _add(journal, 3, start=40)
    lines = journal.read_bytes().splitlines(keepends=True)
    i = len(lines) // 2 if where == "under the snapshot" else len(lines) - 2
    lines[i] = b'{"op_code": 4, "tri\xff\n'
    journal.write_bytes(b"".join(lines))
    with pytest.raises(UserError, match=f"line {i + 1} of {len(lines)} is damaged"):
        J.open_journal(journal)


@pytest.mark.parametrize("enabled", [True, False])
def test_a_refused_journal_leaves_the_collector_as_it_was(journal, enabled):
    """open_journal(freeze=True) freezes the collector's objects only when the study is read:
    a refused journal leaves it enabled (or disabled) as it was, nothing frozen."""
    import gc
    lines = journal.read_bytes().splitlines(keepends=True)
    lines[3] = b'{"op_code": 4, "tri\n'
    journal.write_bytes(b"".join(lines))
    frozen = gc.get_freeze_count()
    (gc.enable if enabled else gc.disable)()
    try:
        with pytest.raises(UserError, match="line 4 of"):
            J.open_journal(journal, freeze=True)
        assert gc.isenabled() is enabled and gc.get_freeze_count() == frozen
    finally:
        gc.enable()
    _add(journal.with_name("sound.journal"), 3)
    J.open_journal(journal.with_name("sound.journal"), freeze=True)       # read: its objects frozen
    assert gc.isenabled() and gc.get_freeze_count() > frozen
    gc.unfreeze()


def test_a_torn_last_line_is_left_out(journal):
    before = _replay(journal)
    with open(journal, "ab") as f:
        f.write(b'{"op_code":4,"worker_id":"x","study_id":0,"dat')
    storage, loaded = J.open_journal(journal, snapshot=False)
    assert loaded.end < journal.stat().st_size and _state(storage) == before


def test_the_snapshot_is_rewritten_only_after_a_quarter_of_growth(journal, tmp_path):
    snap = tmp_path / J.SNAPSHOT
    first = snap.read_bytes()
    size = journal.stat().st_size
    _add(journal, 2, start=40)                                   # well under 25% more
    assert journal.stat().st_size < J.GROWTH * size
    J.open_journal(journal)
    assert not J.refresh_snapshot(journal) and snap.read_bytes() == first
    _add(journal, 20, start=42)
    assert journal.stat().st_size >= J.GROWTH * size
    assert J.refresh_snapshot(journal) and snap.read_bytes() != first
    storage, loaded = J.open_journal(journal, snapshot=False)
    assert loaded.from_snapshot == loaded.lines and _state(storage) == _replay(journal)


def test_no_snapshot_below_the_minimum_size(tmp_path, monkeypatch):
    monkeypatch.setattr(J, "MIN_BYTES", 1 << 30)
    path = tmp_path / "study.journal"
    _add(path, 5)
    J.open_journal(path)
    assert not J.refresh_snapshot(path) and not (tmp_path / J.SNAPSHOT).exists()


def test_a_sweep_resumed_from_its_snapshot_equals_the_full_replay(tmp_path):
    """End to end: a sweep writes the snapshot when it ends; the continued sweep opens the
    study from it, stores only new designs, and its table equals the one rebuilt from a
    full replay of the journal (the snapshot moved away)."""
    import yaml

    import codesign
    from codesign.config import load_config
    from codesign.search.settings import parse_search
    from codesign.search.sweep import run_sweep
    raw = {"name": "snap", "workload": {"layers": [{"name": "fc", "op": "gemm", "M": 64, "N": 48, "K": 40}]},
           "hardware": {"rows": {"low": 2, "high": 64}, "cols": {"low": 2, "high": 64}, "dataflow": ["os", "ws"]},
           "search": {"n_trials": 16, "batch": 8, "seed": 0, "sampler": "random", "jobs": 1}}
    path = tmp_path / "snap.yaml"
    path.write_text(yaml.safe_dump(raw))
    out = tmp_path / "res"
    cfg = load_config(str(path))
    run_sweep(cfg, parse_search(cfg), out, progress=False)
    covered = J.read_snapshot(out / "study.journal", (out / "study.journal").read_bytes())
    assert covered is not None and covered[2] == (out / "study.journal").stat().st_size
    run_sweep(cfg, parse_search(cfg), out, n_trials=24, progress=False)
    written = codesign.load_results(out)
    assert len(written) == 24 and not written.duplicated(subset=["rows", "cols", "dataflow"]).any()
    (out / J.SNAPSHOT).rename(tmp_path / "moved")
    os.utime(out / "study.journal")                              # newer than the table: rebuilt
    import pandas as pd
    pd.testing.assert_frame_equal(codesign.load_results(out), written)
