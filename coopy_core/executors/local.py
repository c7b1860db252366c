"""Local processes, detached so they outlive the engine, watched without polling.

Each run is started as `/bin/sh -c WRAPPER` in its own session and process
group, stdin from /dev/null, stdout and stderr to its log file. The wrapper
runs the command and then writes its exit status to a file (atomically, by
rename). The engine learns of the end through a pidfd (Linux >= 5.3), which
works for its own children and for processes it re-adopts after a restart;
elsewhere it falls back to a short poll.

A process is identified by pid plus its start time (from /proc) so a reused
pid is never mistaken for the run.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
from pathlib import Path

from coopy_core.executors.base import Adopted, Handle, LaunchSpec, OnEnd, OnInfo, StartError

RUN_ID_VAR = "COOPY_RUN_ID"
STATUS_VAR = "COOPY_STATUS_FILE"
# "$@" keeps every argument exactly as given: no word splitting, no globbing.
# The status is written with a shell builtin (no extra process); a reader that finds it empty or
# partial treats it as "not written yet" and looks again once the process is gone.
WRAPPER = '"$@"; c=$?; printf "%s\\n" "$c" > "$COOPY_STATUS_FILE"; exit $c'
FALLBACK_POLL = 0.05


def process_start_time(pid: int) -> int | None:
    """Start time of `pid` in clock ticks since boot, or None if it is gone or a zombie."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return None
    fields = data[data.rfind(b")") + 2 :].split()
    if fields[0] in (b"Z", b"X"):
        return None
    return int(fields[19])


def read_status(path: Path) -> int | None:
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    try:
        return int(text)
    except ValueError:
        return None


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class LocalExecutor:
    name = "local"

    def __init__(self) -> None:
        self._base_env = dict(os.environ)  # copied once: building it per start costs more than the spawn
        self._made_dirs: set[Path] = set()
        self._children: dict[int, subprocess.Popen[bytes]] = {}
        self._watched: dict[int, int] = {}  # pid -> pidfd
        self._forcing: dict[int, asyncio.TimerHandle] = {}  # pgid -> its SIGKILL, due after the grace
        self._closed = False

    # -- start -------------------------------------------------------------------------
    def start(self, spec: LaunchSpec) -> Handle:
        launch = spec.launch
        with contextlib.suppress(FileNotFoundError):
            spec.status.unlink()
        try:
            self._ensure_dir(spec.status.parent)
        except OSError as exc:
            raise StartError(f"cannot create status directory {spec.status.parent}: {exc.strerror}") from None
        try:
            log = self._open_log(spec.log)
        except OSError as exc:
            raise StartError(f"cannot open log file {spec.log}: {exc.strerror}") from None
        env = dict(self._base_env)
        env.update(launch.env)
        env[RUN_ID_VAR] = spec.run_id
        env[STATUS_VAR] = str(spec.status)
        try:
            proc = subprocess.Popen(
                ["/bin/sh", "-c", WRAPPER, "coopy-run", *launch.argv],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=launch.cwd,
                env=env,
                start_new_session=True,
                close_fds=True,
            )
        except FileNotFoundError:
            raise StartError(f"working directory {launch.cwd} does not exist") from None
        except OSError as exc:
            raise StartError(f"cannot start {launch.argv[0]!r} in {launch.cwd}: {exc.strerror}") from None
        finally:
            os.close(log)
        self._children[proc.pid] = proc
        start = process_start_time(proc.pid)
        return {"pid": proc.pid, "start": start, "status": str(spec.status), "run_id": spec.run_id}

    def _open_log(self, path: Path) -> int:
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC
        self._ensure_dir(path.parent)
        try:
            return os.open(path, flags, 0o666)
        except FileNotFoundError:  # the folder was removed since we made it
            self._made_dirs.discard(path.parent)
            self._ensure_dir(path.parent)
            return os.open(path, flags, 0o666)

    def _ensure_dir(self, path: Path) -> None:
        if path not in self._made_dirs:
            path.mkdir(parents=True, exist_ok=True)
            self._made_dirs.add(path)

    # -- watch -------------------------------------------------------------------------
    def watch(self, handle: Handle, on_end: OnEnd, on_info: OnInfo | None = None) -> None:
        """`on_info` is unused: a local process has no outside state to report."""
        loop = asyncio.get_running_loop()
        pid = int(handle["pid"])
        status = Path(handle["status"])
        try:
            pidfd = os.pidfd_open(pid)
        except ProcessLookupError:
            loop.call_soon(self._ended, pid, status, on_end)
            return
        except (AttributeError, OSError):
            self._poll(loop, handle, on_end)
            return
        self._watched[pid] = pidfd

        def ready() -> None:
            loop.remove_reader(pidfd)
            self._watched.pop(pid, None)
            os.close(pidfd)
            self._ended(pid, status, on_end)

        loop.add_reader(pidfd, ready)

    def _poll(self, loop: asyncio.AbstractEventLoop, handle: Handle, on_end: OnEnd) -> None:
        pid = int(handle["pid"])
        proc = self._children.get(pid)
        alive = proc.poll() is None if proc else self._same_process(handle)
        if alive and not self._closed:
            loop.call_later(FALLBACK_POLL, self._poll, loop, handle, on_end)
        elif not self._closed:
            self._ended(pid, Path(handle["status"]), on_end)

    def _ended(self, pid: int, status: Path, on_end: OnEnd) -> None:
        proc = self._children.pop(pid, None)
        wait_code: int | None = None
        if proc is not None:
            rc = proc.wait()
            wait_code = rc if rc >= 0 else 128 + (-rc)
        code = read_status(status)
        if code is None and proc is not None and wait_code is not None and wait_code <= 128:
            # the wrapper itself ended normally but wrote nothing (e.g. disk full)
            code = wait_code
        on_end(code)

    # -- cancel ------------------------------------------------------------------------
    def cancel(self, handle: Handle, grace: float = 3.0) -> None:
        pgid = int(handle["pid"])
        if pgid <= 1:
            return  # never a real group of ours: killpg(0) would hit the engine itself
        if not self._same_process(handle) and not self._group_is_ours(handle):
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGTERM)
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        if pgid in self._forcing:
            self._forcing.pop(pgid).cancel()
        self._forcing[pgid] = loop.call_later(grace, self._forced, pgid)

    def _forced(self, pgid: int) -> None:
        self._forcing.pop(pgid, None)
        self._force(pgid)

    @staticmethod
    def _force(pgid: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGKILL)

    @staticmethod
    def _group_is_ours(handle: Handle) -> bool:
        """The wrapper is gone: is its process group still alive, with this run in it?

        Once a group is empty its id (the wrapper's pid) may be given to someone else;
        a member that carries the run's id in its environment proves the group is ours.
        """
        pgid = int(handle["pid"])
        if not group_alive(pgid):
            return False
        run_id = handle.get("run_id")
        if run_id is None:
            return True
        needle = f"{RUN_ID_VAR}={run_id}\0".encode()
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                if os.getpgid(int(entry.name)) != pgid:
                    continue
                with open(f"/proc/{entry.name}/environ", "rb") as f:
                    if needle in f.read():
                        return True
            except OSError:
                continue
        return False

    # -- adopt -------------------------------------------------------------------------
    def _same_process(self, handle: Handle) -> bool:
        pid = int(handle["pid"])
        if pid <= 1:
            return False
        start = process_start_time(pid)
        return start is not None and (handle.get("start") is None or start == handle["start"])

    def adopt(self, handle: Handle) -> Adopted:
        code = read_status(Path(handle["status"]))
        if code is not None:
            return Adopted(alive=False, exit_code=code)
        if self._same_process(handle):
            return Adopted(alive=True)
        # the wrapper may have written its status between the two looks
        code = read_status(Path(handle["status"]))
        if code is not None:
            return Adopted(alive=False, exit_code=code)
        return Adopted(alive=False, lost=True)

    def find_started(self, run_id: str, status: Path) -> Handle | None:
        if read_status(status) is not None:
            return {"pid": 0, "start": None, "status": str(status), "run_id": run_id}
        needle = f"{RUN_ID_VAR}={run_id}\0".encode()
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                with open(f"/proc/{entry.name}/environ", "rb") as f:
                    environ = f.read()
            except OSError:
                continue
            if needle in environ:
                pid = int(entry.name)
                # the wrapper is the session leader; children carry the same variable
                with contextlib.suppress(OSError):
                    if os.getsid(pid) != pid:
                        continue
                return {"pid": pid, "start": process_start_time(pid), "status": str(status), "run_id": run_id}
        return None

    def close(self) -> None:
        self._closed = True
        for pgid, timer in self._forcing.items():
            # asked to stop and not gone yet: no engine will be there to insist after the grace
            timer.cancel()
            self._force(pgid)
        self._forcing.clear()
        with contextlib.suppress(RuntimeError):
            loop = asyncio.get_running_loop()
            for fd in self._watched.values():
                loop.remove_reader(fd)
                os.close(fd)
        self._watched.clear()
