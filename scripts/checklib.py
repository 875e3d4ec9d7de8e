"""What the check scripts share: counting checks and printing the "N passed, N failed" line,
and finding a free loopback port."""

import socket
import sys


class Checks:
    """Counts checks; `finish()` prints "N passed, N failed" and exits non-zero on a failure."""

    def __init__(self):
        self.passed = 0
        self.failed = 0

    def __call__(self, name, ok, detail=""):
        if ok:
            self.passed += 1
            print(f"ok   {name}")
        else:
            self.failed += 1
            print(f"FAIL {name} {detail}")
        return ok

    def finish(self):
        print(f"{self.passed} passed, {self.failed} failed")
        sys.exit(1 if self.failed else 0)


def free_port():
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# === bounded waits and a summary line whatever happens ===


class CheckTimeout(Exception):
    """Raised in the main thread when `run_checks`'s overall deadline passes."""


def run_checks(check, body, cleanup=None, deadline=None):
    """Runs `body()`, then `cleanup()`, then `check.finish()`: the "N passed, N failed" line is
    printed and the exit status set however `body` ends. An exception from `body` (or from
    `cleanup`) is printed with its traceback and counted as a failed check. With `deadline`
    (whole seconds), a SIGALRM raises `CheckTimeout` in `body` once that long has passed, so
    a wait that has no timeout of its own cannot hang the script either."""
    import signal
    import traceback

    def on_alarm(signum, frame):
        raise CheckTimeout(f"gave up: the checks took longer than {deadline} s")

    old = None
    if deadline:
        old = signal.signal(signal.SIGALRM, on_alarm)
        signal.alarm(int(deadline))
    try:
        body()
    except BaseException as e:  # noqa: B036 - SystemExit and Ctrl-C also get their summary
        traceback.print_exc()
        check("checks ran to the end", False, f"{type(e).__name__}: {e}")
    finally:
        if deadline:
            signal.alarm(0)
            signal.signal(signal.SIGALRM, old)
    if cleanup is not None:
        try:
            cleanup()
        except BaseException as e:  # noqa: B036
            traceback.print_exc()
            check("cleanup", False, f"{type(e).__name__}: {e}")
    check.finish()


def readline(stream, timeout):
    """The next line of `stream` (a pipe), or None if none came within `timeout` seconds (or
    the stream ended). Reads on a daemon thread, so a silent child cannot block the caller."""
    import queue
    import threading

    lines = queue.Queue(maxsize=1)

    def read():
        try:
            lines.put(stream.readline())
        except Exception:  # closed under us: no line
            lines.put("")

    threading.Thread(target=read, daemon=True).start()
    try:
        line = lines.get(timeout=timeout)
    except queue.Empty:
        return None
    return line or None


def run_bounded(args, timeout, env=None):
    """`subprocess.run(args, capture_output=True, text=True)` that never raises on a timeout:
    a child still running after `timeout` seconds is killed with its process group, and what
    it printed is kept. The result has `timed_out` (bool), and `returncode` None when it timed
    out."""
    import os
    import signal
    import subprocess

    # A session of its own, so a timeout kills the child's children too (and their ends of
    # the pipes close).
    proc = subprocess.Popen(
        args,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=timeout)
        timed_out = False
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            out, err = proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:  # pipes held open by a process that left the group
            out, err = "", ""
        timed_out = True
    result = subprocess.CompletedProcess(
        args, None if timed_out else proc.returncode, out or "", err or ""
    )
    result.timed_out = timed_out
    if timed_out:
        result.stderr += f"\n(killed: still running after {timeout} s)"
    return result


def stop(procs, timeout=10):
    """Terminates each process, waits up to `timeout` seconds for each, kills the ones still
    running, and waits for those a bounded time too."""
    import subprocess

    for p in procs:
        if p.poll() is None:
            p.terminate()
    for p in procs:
        try:
            p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            try:
                p.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                print(f"pid {p.pid} still running after SIGKILL")
