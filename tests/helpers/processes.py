"""What is still running: processes by session id, by command line (or environment); never leave one behind."""

from __future__ import annotations

import contextlib
import os
import select
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from tests.helpers.engine import wait_until


def _stat_fields(pid: str) -> list[bytes] | None:
    """/proc/<pid>/stat after the command name: [state, ppid, pgrp, session, ...]; None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return None
    return data[data.rfind(b")") + 2 :].split()


def _live(fields: list[bytes] | None) -> bool:
    """Not gone, not a zombie nobody reaped yet."""
    return fields is not None and len(fields) > 3 and fields[0] not in (b"Z", b"X")


def session_members(sid: int) -> list[int]:
    """Live (non-zombie) processes whose session id is `sid`."""
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        fields = _stat_fields(entry.name)
        if fields is not None and _live(fields) and int(fields[3]) == sid:
            found.append(int(entry.name))
    return found


def _is_tmux(pid: str) -> bool:
    try:
        return os.path.basename(os.readlink(f"/proc/{pid}/exe")) == "tmux"
    except OSError:
        return False


def processes_mentioning(text: str, environ: bool = False) -> list[int]:
    """Live processes (other than this one) whose command line contains `text`.

    With `environ`, a mention in its environment counts too (how the reliability suite finds a test's
    orphans); a process whose environment cannot be read is then left out.
    The tmux server is never counted: it keeps the command line of the client that started it, not ours.
    """
    needle = text.encode()
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        if not _live(_stat_fields(entry.name)):
            continue
        try:
            with open(f"/proc/{entry.name}/cmdline", "rb") as f:
                mentions = needle in f.read()
            if environ:
                with open(f"/proc/{entry.name}/environ", "rb") as f:
                    mentions = needle in f.read() or mentions
        except OSError:
            continue
        if mentions and not _is_tmux(entry.name):
            found.append(int(entry.name))
    return found


def describe(pids: list[int]) -> str:
    """`pid: cmdline` of each, for a failure message that says what was left behind."""
    out = []
    for pid in pids:
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            cmd = "(gone)"
        out.append(f"{pid}: {cmd}")
    return "; ".join(out)


async def wait_gone(find: Callable[[], list[int]], what: str, timeout: float = 10.0) -> None:
    """Async (the engine's event loop keeps running): until `find()` finds nothing."""
    await wait_until(lambda: not find(), f"no process left of {what} (still: {find()})", timeout)


def wait_no_processes(text: str, what: str, timeout: float = 30) -> None:
    """Blocking: until no process mentions `text` in its command line or environment."""
    deadline = time.monotonic() + timeout
    while found := processes_mentioning(text, environ=True):
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: still running after {timeout:g}s: {describe(found)}")
        time.sleep(0.1)


def kill_all(pids: list[int]) -> None:
    """Test clean-up only: never leave a stray process behind a failed assertion."""
    for pid in pids:
        with contextlib.suppress(OSError):
            os.kill(pid, 9)


def interpreter_start(module: str) -> float:
    """How long this Python takes to start and import `module` (the slowest of three): a console script's
    entry module, before which no signal handler of ours can exist (a Ctrl-C then is Python's own)."""
    times = []
    for _ in range(3):
        began = time.monotonic()
        subprocess.run([sys.executable, "-c", f"import {module}"], check=True)
        times.append(time.monotonic() - began)
    return max(times)


def start_once_imported(argv: list[str], module: str, cwd: Path, timeout: float = 60.0) -> subprocess.Popen[bytes]:
    """Start `argv` (a Python console script) and return once it has imported `module` and then completed one
    more import: Python says so on stderr (PYTHONPROFILEIMPORTTIME) the moment an import completes. The next
    import is the first one the script's `main()` makes (a console script runs a little code of its own between
    importing the entry module and calling it). Waiting for that state, not for a time measured beforehand,
    holds on a busy machine. Its further stderr is read with `rest_of_stderr`."""
    env = {**os.environ, "PYTHONPROFILEIMPORTTIME": "1"}
    proc = subprocess.Popen(
        argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    assert proc.stderr is not None
    fd, seen, deadline = proc.stderr.fileno(), b"", time.monotonic() + timeout
    done = f"| {module}".encode()  # `import time: self | cumulative | <indent>module`
    while not _one_more_after(seen.split(b"\n")[:-1], done):
        left = deadline - time.monotonic()
        ready, _, _ = select.select([fd], [], [], max(0.0, left))
        chunk = os.read(fd, 65536) if ready else b""
        if not chunk:
            proc.kill()
            raise AssertionError(f"{argv[0]} did not import {module} within {timeout:g}s: {seen[-500:]!r}")
        seen += chunk
    _EARLY[proc.pid] = seen
    return proc


_EARLY: dict[int, bytes] = {}


def _one_more_after(lines: list[bytes], done: bytes) -> bool:
    imports = [line for line in lines if line.startswith(b"import time:")]
    marks = [i for i, line in enumerate(imports) if line.rstrip().endswith(done)]
    return bool(marks) and len(imports) > marks[0] + 1


def rest_of_stderr(proc: subprocess.Popen[bytes], timeout: float = 30.0) -> str:
    """Everything the process wrote on stderr (what `start_once_imported` read too), once it exited, without
    Python's import-time lines."""
    assert proc.stderr is not None
    fd, rest, deadline = proc.stderr.fileno(), b"", time.monotonic() + timeout
    while True:
        ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            proc.kill()
            raise AssertionError(f"{proc.args!r} did not end within {timeout:g}s: {rest[-500:]!r}")
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        rest += chunk
    proc.wait(timeout=timeout)
    text = (_EARLY.pop(proc.pid, b"") + rest).decode(errors="replace")
    return "".join(line for line in text.splitlines(keepends=True) if not line.startswith("import time:"))
