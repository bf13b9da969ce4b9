"""Process hygiene for the sweep's mapper pool: no worker outlives the sweep.

* :func:`die_with_parent` -- the initializer of every pool worker: the worker
  is killed when the process that started it dies, however it dies (kill -9
  included). On Linux the kernel does it (``prctl(PR_SET_PDEATHSIG, SIGKILL)``,
  prctl(2)); elsewhere a daemon thread polls ``os.getppid()``.
* :func:`sigterm_as_interrupt` -- SIGTERM (what ``timeout``, Slurm,
  ``docker stop`` and systemd send) raises :class:`Terminated`, a
  ``KeyboardInterrupt``, in the main thread, so the code that handles Ctrl-C
  (write the results, print a line) handles SIGTERM too; the CLI exits
  :data:`EXIT_SIGTERM` (143 = 128 + 15, the shell's convention).
* :func:`cancel_pool` -- a ``ProcessPoolExecutor`` stopped at once (Ctrl-C):
  its workers killed, and its manager thread never left waiting for a result
  a killed worker was sending (the interpreter joins that thread at exit: the
  process would hang there).
* :func:`children_alive` / :func:`pid_alive` -- live processes from /proc, so
  tests can check that nothing is left behind.
"""
from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["die_with_parent", "watch_parent", "sigterm_as_interrupt", "Terminated", "cancel_pool",
           "children_alive", "pid_alive", "EXIT_SIGTERM", "EXIT_SIGINT"]

EXIT_SIGTERM = 128 + signal.SIGTERM   # 143
EXIT_SIGINT = 128 + signal.SIGINT     # 130
_PR_SET_PDEATHSIG = 1                 # <linux/prctl.h>
_ORPHAN_EXIT = 128 + signal.SIGKILL   # how an orphaned worker exits: as if killed


def die_with_parent(parent_pid: int | None = None) -> None:
    """Make this process die (SIGKILL) when its parent process dies.

    Meant as a pool initializer: ``ProcessPoolExecutor(initializer=
    die_with_parent, initargs=(os.getpid(),))``. ``parent_pid`` is the pid
    the worker must be a child of; if the parent died between the fork and
    this call (so ``os.getppid()`` is already someone else), the process
    exits at once. Without it the current parent is taken, which leaves that
    short window open.

    Linux: ``prctl(PR_SET_PDEATHSIG, SIGKILL)``. Note prctl(2): the signal is
    sent when the *thread* that forked the worker exits, so create pools from
    a thread that lives as long as the pool (the main thread). Elsewhere, or
    if prctl fails: :func:`watch_parent`.
    """
    parent = os.getppid() if parent_pid is None else parent_pid
    if sys.platform.startswith("linux") and _prctl_pdeathsig(signal.SIGKILL):
        if os.getppid() != parent:
            os._exit(_ORPHAN_EXIT)
        return
    watch_parent(parent)


def _prctl_pdeathsig(sig: int) -> bool:
    """Ask the kernel to send ``sig`` on the parent's death; False if it cannot."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def watch_parent(parent_pid: int, interval_s: float = 0.5) -> threading.Thread:
    """Start a daemon thread that exits this process once its parent is not ``parent_pid``.

    The portable fallback of :func:`die_with_parent`: an orphan is re-parented
    (to init or a subreaper), which changes ``os.getppid()``. The process
    exits within ``interval_s`` of the parent's death (``os._exit``, no
    cleanup: the parent that would collect its work is gone).
    """
    if os.getppid() != parent_pid:
        os._exit(_ORPHAN_EXIT)

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(interval_s)
        os._exit(_ORPHAN_EXIT)

    thread = threading.Thread(target=watch, name="codesign-watch-parent", daemon=True)
    thread.start()
    return thread


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C: ``except KeyboardInterrupt`` catches it.

    Tell the two apart to choose the exit status:
    ``EXIT_SIGTERM if isinstance(e, Terminated) else EXIT_SIGINT``.
    """


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Within the block, SIGTERM raises :class:`Terminated` in the main thread.

    The previous handler is restored on exit. Outside the main thread (where
    Python cannot set handlers) the block runs unchanged. Processes forked
    inside the block (pool workers) keep the default behaviour: for them the
    inherited handler re-sends SIGTERM to itself with the default action, so a
    worker dies of SIGTERM instead of raising in the middle of a task.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    owner = os.getpid()

    def handler(signum: int, frame: object) -> None:
        if os.getpid() != owner:          # a forked child: die as by default
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGTERM)
            return
        raise Terminated("SIGTERM")

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def cancel_pool(pool, join_s: float = 1.0) -> None:
    """Stop a ``concurrent.futures.ProcessPoolExecutor`` now: queued work cancelled, every
    worker killed (SIGKILL) and joined (`join_s` each).

    A worker killed while it writes a result to the pool's result pipe leaves part of a
    message there; the pool's manager thread then waits in ``recv`` for the rest, forever,
    since this process holds the pipe's write end too, and the interpreter joins that
    thread at exit (``concurrent.futures.process._python_exit``): the process hangs after
    its work is done (CPython 3.11; reproduced by tests/test_procs.py). Once the workers
    are dead, this process's write end is closed, so the thread reads an end of file,
    marks the pool broken and exits."""
    procs = list((getattr(pool, "_processes", None) or {}).values())
    results = getattr(pool, "_result_queue", None)        # shutdown(wait=False) drops it
    for p in procs:
        p.kill()
    pool.shutdown(wait=False, cancel_futures=True)
    for p in procs:
        p.join(timeout=join_s)
    writer = getattr(results, "_writer", None)
    if writer is not None and not any(p.is_alive() for p in procs):
        writer.close()


def _stat_fields(pid: int | str) -> tuple[str, int] | None:
    """(state, ppid) of a process from /proc/<pid>/stat, None if it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return None
    # "pid (comm) state ppid ...": comm may hold spaces and parentheses.
    rest = raw[raw.rindex(b")") + 2:].split()
    return rest[0].decode(), int(rest[1])


def pid_alive(pid: int) -> bool:
    """True if process ``pid`` exists and is not a zombie (Linux /proc)."""
    fields = _stat_fields(pid)
    return fields is not None and fields[0] not in ("Z", "X")


def children_alive(pid: int | None = None, *, descendants: bool = False) -> list[int]:
    """Pids of the live (non-zombie) children of ``pid`` (default: this process).

    With ``descendants`` the whole subtree. Reads /proc, so Linux only
    (raises FileNotFoundError elsewhere). Meant for tests.
    """
    root = os.getpid() if pid is None else pid
    table: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        fields = _stat_fields(entry.name)
        if fields is not None and fields[0] not in ("Z", "X"):
            table.setdefault(fields[1], []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        kids = table.get(todo.pop(), [])
        found.extend(kids)
        if descendants:
            todo.extend(kids)
    return sorted(found)
