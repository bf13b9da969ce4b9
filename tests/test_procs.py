"""codesign.procs: pool workers die with their parent; SIGTERM acts like Ctrl-C."""
import os
import queue
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from codesign.procs import EXIT_SIGTERM, children_alive, pid_alive

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc (Linux)")

POOL_SCRIPT = textwrap.dedent("""
    import multiprocessing as mp, os, sys, time
    from concurrent.futures import ProcessPoolExecutor
    from codesign.procs import die_with_parent, watch_parent

    def block(i):
        os.write(1, f"worker {os.getpid()}\\n".encode())  # one write: atomic on a pipe
        time.sleep(20)
        return i

    if __name__ == "__main__":
        init = {"pdeathsig": dict(initializer=die_with_parent, initargs=(os.getpid(),)),
                "watch": dict(initializer=watch_parent, initargs=(os.getpid(), 0.1)),
                "none": {}}[sys.argv[1]]
        pool = ProcessPoolExecutor(2, mp_context=mp.get_context("fork"), **init)
        futures = [pool.submit(block, i) for i in range(2)]
        time.sleep(60)
""")


def _lines(proc):
    """A queue fed with the process's stdout lines by a reader thread."""
    q = queue.Queue()
    threading.Thread(target=lambda: [q.put(line) for line in proc.stdout], daemon=True).start()
    return q


def _kill_parent_and_watch(tmp_path, mode, wait_s):
    """Start the pool script, SIGKILL it once both workers run; the workers alive after ``wait_s``."""
    script = tmp_path / "pool.py"
    script.write_text(POOL_SCRIPT)
    proc = subprocess.Popen([sys.executable, str(script), mode], stdout=subprocess.PIPE, text=True)
    workers = []
    try:
        q = _lines(proc)
        while len(workers) < 2:
            workers.append(int(q.get(timeout=30).split()[1]))
        assert set(workers) <= set(children_alive(proc.pid))
        proc.kill()
        proc.wait(timeout=10)
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline and any(pid_alive(p) for p in workers):
            time.sleep(0.05)
        return [p for p in workers if pid_alive(p)]
    finally:
        proc.kill()
        proc.wait(timeout=10)
        for pid in workers:                  # the control run's survivors: ours to end
            if pid_alive(pid):
                os.kill(pid, signal.SIGKILL)


@pytest.mark.parametrize("mode", ["pdeathsig", "watch"])
def test_pool_workers_die_with_a_killed_parent(tmp_path, mode):
    assert _kill_parent_and_watch(tmp_path, mode, wait_s=5.0) == []


def test_control_workers_without_initializer_outlive_the_parent(tmp_path):
    # Shows the check above can fail: without die_with_parent the workers stay.
    assert len(_kill_parent_and_watch(tmp_path, "none", wait_s=0.5)) == 2


CANCEL_SCRIPT = textwrap.dedent("""
    import multiprocessing as mp, os, signal, sys
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import connection
    from codesign.procs import cancel_pool

    def big(i):
        # this worker dies half way through sending its result, as one killed mid-send
        send = connection.Connection._send
        def half(self, buf):
            if len(buf) > 1 << 20:
                os.write(self._handle, bytes(buf[:len(buf) // 2]))
                os.kill(os.getpid(), signal.SIGKILL)
            return send(self, buf)
        connection.Connection._send = half
        return b"x" * (4 << 20)

    if __name__ == "__main__":
        pool = ProcessPoolExecutor(1, mp_context=mp.get_context("fork"))
        pool.submit(big, 0)
        procs = list(pool._processes.values())
        procs[0].join(timeout=30)
        if sys.argv[1] == "cancel_pool":
            cancel_pool(pool)
        else:                                  # what the sweep did before: kill, shut down, join
            for p in procs:
                p.kill()
            pool.shutdown(wait=False, cancel_futures=True)
            for p in procs:
                p.join(timeout=1.0)
        print("done", flush=True)
""")


def _cancel(tmp_path, how: str) -> subprocess.CompletedProcess | None:
    """The cancel script run with `how`; None if it hung (killed after 10 s)."""
    script = tmp_path / "cancel.py"
    script.write_text(CANCEL_SCRIPT)
    proc = subprocess.Popen([sys.executable, str(script), how], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        out, err = proc.communicate(timeout=10)
        return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
    except subprocess.TimeoutExpired:
        return None
    finally:
        for pid in [proc.pid, *children_alive(proc.pid, descendants=True)]:
            if pid_alive(pid):
                os.kill(pid, signal.SIGKILL)
        proc.wait(timeout=10)


def test_a_pool_cancelled_mid_result_lets_the_process_exit(tmp_path):
    """A worker killed while it sends a result: with cancel_pool the process exits (the
    sweep's Ctrl-C path, `NestedEvaluator.close(cancel=True)`)."""
    done = _cancel(tmp_path, "cancel_pool")
    assert done is not None, "the process hung at exit"
    assert done.returncode == 0 and done.stdout == "done\n", done.stderr


def test_control_a_plain_kill_mid_result_hangs_at_exit(tmp_path):
    # Shows the check above can fail: the pool's manager thread waits for the rest of the
    # result forever and the interpreter joins it at exit.
    done = _cancel(tmp_path, "plain")
    assert done is None, "exited"


SIGTERM_SCRIPT = textwrap.dedent("""
    import os, signal, sys, time
    from codesign.procs import EXIT_SIGTERM, Terminated, sigterm_as_interrupt

    before = signal.getsignal(signal.SIGTERM)
    t = time.monotonic()
    try:
        with sigterm_as_interrupt():
            r, w = os.pipe()
            pid = os.fork()
            if pid == 0:                 # (a signal in the instant after fork is lost: wait)
                os.write(w, b"x")
                time.sleep(30)
                os._exit(0)
            os.read(r, 1)
            os.kill(pid, signal.SIGTERM)
            _, status = os.waitpid(pid, 0)
            print("child killed by SIGTERM:", os.WIFSIGNALED(status) and os.WTERMSIG(status) == 15)
            t = time.monotonic()
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(30)
        print("not interrupted")
    except KeyboardInterrupt as e:
        print("interrupted:", type(e).__name__, isinstance(e, Terminated))
        print("handler restored:", signal.getsignal(signal.SIGTERM) is before)
        print("within 1 s:", time.monotonic() - t < 1.0)
        sys.exit(EXIT_SIGTERM)
""")


def test_sigterm_raises_keyboard_interrupt_and_restores_handler(tmp_path):
    script = tmp_path / "term.py"
    script.write_text(SIGTERM_SCRIPT)
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60)
    assert out.returncode == EXIT_SIGTERM == 143, out.stderr
    assert out.stdout.splitlines() == ["child killed by SIGTERM: True", "interrupted: Terminated True",
                                       "handler restored: True", "within 1 s: True"]


def test_children_alive_lists_live_children_only():
    child = subprocess.Popen(["sleep", "30"])
    try:
        assert child.pid in children_alive() and pid_alive(child.pid)
        assert child.pid in children_alive(os.getppid(), descendants=True)
    finally:
        child.kill()
        child.wait()
    assert child.pid not in children_alive() and not pid_alive(child.pid)


def test_a_batch_write_holds_sigterm_and_raises_it_after():
    """SIGTERM during a batch's journal write is held until the write is done (a partial
    record would damage the journal), then raised as Terminated; Ctrl-C likewise."""
    import os
    import signal
    import pytest
    from codesign.procs import Terminated, sigterm_as_interrupt
    from codesign.search.sweep import _deferred_interrupt
    done = []
    with sigterm_as_interrupt(), pytest.raises(Terminated):
        with _deferred_interrupt():
            os.kill(os.getpid(), signal.SIGTERM)
            done.append("written")
    assert done == ["written"]
    with pytest.raises(KeyboardInterrupt) as e:
        with _deferred_interrupt():
            os.kill(os.getpid(), signal.SIGINT)
            done.append("again")
    assert done == ["written", "again"] and not isinstance(e.value, Terminated)
