"""Local processes, detached so they outlive the engine, watched without polling.

Each run is started (posix_spawn) as `/bin/sh -c WRAPPER` in its own session and process group, which changes
to the run's folder and runs the command; stdin from /dev/null,
stdout and stderr to its log file, with COOPY_RUN_ID (`<state_dir>:<stage>/<run>/<attempt>`) in its
environment, which every process it starts inherits. The wrapper (`wrapper.py`) runs the command and then writes
its exit status into a file made at the start (a reserve: the status is written over it in place, so a disk that
filled up meanwhile still takes it). The engine learns of the end through a pidfd (Linux >= 5.3), which works
for its own children and for processes it re-adopts after a restart; elsewhere it falls back to a short poll.

A process is identified by pid plus its start time (from /proc) so a reused pid is never mistaken for the run.

What belongs to an attempt, for cancel, timeout and the clean-up at its end (`stop_leftovers`): every live
process of its process group (while the group is provably the wrapper's), and every live process whose
environment carries its COOPY_RUN_ID, wherever it went (`setsid`, double fork). Not found: a process that
both left the group and replaced its environment (`env -i`, `setsid env -i ...`).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from coopy_core.executors.base import Adopted, Handle, LaunchSpec, OnEnd, OnInfo, StartError
from coopy_core.executors.wrapper import RUN_ID_VAR, STATUS_VAR, WRAPPER, read_status, reserve

FALLBACK_POLL = 0.05
DEFAULT_SIGNALS = (signal.SIGPIPE, signal.SIGXFSZ)  # what Python ignores at its start; a run gets them back
SWEEP_EVERY = (0.02, 0.05, 0.1, 0.2)  # seconds between looks while leftovers are being stopped
DIRECT_RANGE = 512  # pids given out since the attempts started: up to this many, each is asked for directly


def _read_proc(pid: int | str, name: str) -> bytes | None:
    """/proc/<pid>/<name> in full, or None if it cannot be read (gone, not ours). Plain os calls: a look at every
    process is a few hundred of these, and the buffered `open()` costs twice as much."""
    try:
        fd = os.open(f"/proc/{pid}/{name}", os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        chunks = []
        while chunk := os.read(fd, 16384):  # 64 KiB per read costs twice as much for a 300-byte stat
            chunks.append(chunk)
        return b"".join(chunks)
    except OSError:
        return None
    finally:
        os.close(fd)


def _stat(pid: int | str) -> list[bytes] | None:
    """/proc/<pid>/stat after the command name: [state, ppid, pgrp, session, ...]; None if it is gone."""
    data = _read_proc(pid, "stat")
    if data is None:
        return None
    return data[data.rfind(b")") + 2 :].split()


def _last_pid() -> int | None:
    """The pid most recently given out in this pid namespace."""
    data = _read_proc("sys", "kernel/ns_last_pid")
    try:
        return int(data) if data else None
    except ValueError:
        return None


def _fresh_window() -> float:
    """How long after a start the pids given out since are surely all above its pid: the time it takes the
    machine to go round every pid (at most 20,000 new processes a second), at most a minute."""
    data = _read_proc("sys", "kernel/pid_max")
    try:
        return min(60.0, int(data or b"32768") / 20000)
    except ValueError:
        return 1.0


def process_start_time(pid: int, zombie_too: bool = False) -> int | None:
    """Start time of `pid` in clock ticks since boot, or None if it is gone (or a zombie, unless `zombie_too`)."""
    fields = _stat(pid)
    if fields is None or (fields[0] in (b"Z", b"X") and not zombie_too):
        return None
    return int(fields[19])


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass
class _Sweep:
    """One attempt being stopped: what identifies its processes, and where the stopping is."""

    pgid: int
    start: int | None  # the wrapper's start time (None: unknown)
    needle: bytes  # b"COOPY_RUN_ID=<run id or its prefix>"
    grace: float
    on_clear: list[Callable[[], None]] = field(default_factory=list)
    on_info: OnInfo | None = None
    kill_at: float | None = None  # loop time of the SIGKILL; None: not asked to stop yet
    looks: int = 0
    told: bool = False
    group_termed: bool = False  # the wrapper's group had its SIGTERM in one killpg: the first look spares it


class LocalExecutor:
    name = "local"

    def __init__(self) -> None:
        self._base_env = dict(os.environ)  # copied once: building it per start costs more than the spawn
        self._made_dirs: set[Path] = set()
        self._children: set[int] = set()  # wrappers this executor started and has not reaped yet
        self._watched: dict[int, int] = {}  # pid -> pidfd
        self._sweeps: dict[tuple[int, int | None], _Sweep] = {}  # (pgid, start) -> the attempt being stopped
        self._sweep_timer: asyncio.TimerHandle | None = None
        self._spawned: dict[int, float] = {}  # pid -> when this engine started it (monotonic), while it matters
        self._fresh = _fresh_window()
        self._closed = False

    # -- start -------------------------------------------------------------------------
    def start(self, spec: LaunchSpec) -> Handle:
        launch = spec.launch
        try:
            self._ensure_dir(spec.status.parent)
        except OSError as exc:
            raise StartError.from_os(f"cannot create status directory {spec.status.parent}", exc) from None
        try:
            reserve(spec.status)
        except OSError as exc:
            raise StartError.from_os(f"cannot write the exit-status file {spec.status}", exc) from None
        try:
            log = self._open_log(spec.log)
        except OSError as exc:
            raise StartError.from_os(f"cannot open log file {spec.log}", exc) from None
        env = dict(self._base_env)
        env.update(launch.env)
        env[RUN_ID_VAR] = spec.run_id
        env[STATUS_VAR] = str(spec.status)
        if not os.path.isdir(launch.cwd):
            os.close(log)
            raise StartError(f"working directory {launch.cwd} does not exist")
        try:  # posix_spawn (vfork + exec): a fraction of what Popen costs the engine; the wrapper does the cd
            pid = os.posix_spawn(
                "/bin/sh",
                ["/bin/sh", "-c", WRAPPER, "coopy-run", str(launch.cwd), *launch.argv],
                env,
                file_actions=[
                    (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                    (os.POSIX_SPAWN_DUP2, log, 1),
                    (os.POSIX_SPAWN_DUP2, log, 2),
                ],
                setsid=True,
                setsigmask=(),  # no signal blocked in the run, whatever the engine's thread holds back
                setsigdef=DEFAULT_SIGNALS,  # Python ignores these; an ignored signal stays ignored across exec
            )
        except OSError as exc:
            raise StartError.from_os(f"cannot start {launch.argv[0]!r} in {launch.cwd}", exc) from None
        finally:
            os.close(log)
        self._children.add(pid)
        self._note_spawned(pid)
        start = process_start_time(pid, zombie_too=True)  # our child: a zombie until we reap it
        return {"pid": pid, "start": start, "status": str(spec.status), "run_id": spec.run_id}

    def _note_spawned(self, pid: int) -> None:
        """A run's process started just now: a look for what it left reads only the pids given out since."""
        now = time.monotonic()
        if len(self._spawned) > 4096:  # only recent starts matter (see _pid_range)
            self._spawned = {p: t for p, t in self._spawned.items() if now - t <= self._fresh}
        self._spawned[pid] = now

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
        alive = self._reap(pid) is None if pid in self._children else self._same_process(handle)
        if alive and not self._closed:
            loop.call_later(FALLBACK_POLL, self._poll, loop, handle, on_end)
        elif not self._closed:
            self._ended(pid, Path(handle["status"]), on_end)

    def _reap(self, pid: int, block: bool = False) -> int | None:
        """Our child's exit code once it ended (reaped then: no zombie is left), None while it runs."""
        try:
            done, wait_status = os.waitpid(pid, 0 if block else os.WNOHANG)
        except ChildProcessError:
            self._children.discard(pid)
            return -1  # reaped elsewhere: its code is unknown here
        if not done:
            return None
        self._children.discard(pid)
        return os.waitstatus_to_exitcode(wait_status)

    def _ended(self, pid: int, status: Path, on_end: OnEnd) -> None:
        ours = pid in self._children
        code = read_status(status)
        if ours:
            rc = self._reap(pid, block=True)
            if code is None and rc is not None and rc >= 0:
                # the wrapper ended on its own with the command's status but could not write it (a full disk);
                # a negative rc is the wrapper killed by a signal: the command's status is unknown
                code = rc
        on_end(code)

    # -- what belongs to an attempt ------------------------------------------------------
    def _scan(self, sweeps: list[_Sweep]) -> list[list[tuple[int, int, int]]]:
        """For each sweep, the live processes of its attempt as (pid, start time, process group): one look at
        /proc for all.

        A process belongs to it when its environment carries the sweep's run id (or prefix), or when it is in
        the wrapper's process group and session and that group is still the wrapper's: its leader is the
        wrapper itself or gone (a live leader with another start time is a reused id) and the process carries
        no other run's id.
        """
        found: list[list[tuple[int, int, int]]] = [[] for _ in sweeps]
        by_group: dict[int, list[int]] = {}
        for i, sweep in enumerate(sweeps):
            if sweep.pgid > 1:
                by_group.setdefault(sweep.pgid, []).append(i)
        starts = [s.start for s in sweeps]
        earliest = 0 if any(s is None or s < 0 for s in starts) else min(s for s in starts if s is not None)
        leaders = {pgid: process_start_time(pgid) for pgid in by_group}
        low, high = self._pid_range(sweeps)
        me = os.getpid()
        var = RUN_ID_VAR.encode() + b"="
        if high - low <= DIRECT_RANGE:  # a few pids given out since: ask for each, no listing of /proc
            entries: list[str] = [str(pid) for pid in range(low, int(high) + 1)]
        else:
            entries = os.listdir("/proc")
        for entry in entries:
            if not entry.isdigit():
                continue
            pid = int(entry)
            if not low <= pid <= high:
                continue  # given out before every attempt looked for started: none of theirs
            if pid in self._children and pid not in by_group:
                continue  # another attempt's wrapper, not reaped (its pid is not reused): its environment is ours
            fields = _stat(entry)
            if pid == me or fields is None or len(fields) < 20 or fields[0] in (b"Z", b"X"):
                continue
            begun = int(fields[19])
            if begun < earliest:
                continue  # older than every attempt looked for: none of theirs
            data = _read_proc(entry, "environ")
            environ = b"\0" + data + b"\0" if data is not None else b""
            mine = [i for i, s in enumerate(sweeps) if b"\0" + s.needle in environ]
            pgrp, sid = int(fields[2]), int(fields[3])
            if not mine and pgrp == sid and pgrp in by_group and b"\0" + var not in environ:
                for i in by_group[pgrp]:
                    leader = leaders[pgrp]
                    if leader is None or leader == sweeps[i].start:
                        mine.append(i)
            for i in mine:
                found[i].append((pid, begun, pgrp))
        return found

    def _pid_range(self, sweeps: list[_Sweep]) -> tuple[int, float]:
        """The pids a look needs to read: when every attempt looked for was started by this engine moments ago,
        and no pid went round since, everything they started has a pid between the lowest wrapper's and the
        last one given out; otherwise every pid (then the start times still rule out the older processes)."""
        now = time.monotonic()
        began = [self._spawned.get(s.pgid) for s in sweeps]
        if not sweeps or any(b is None or now - b > self._fresh for b in began):
            return 0, math.inf
        low = min(s.pgid for s in sweeps)
        last = _last_pid()
        if last is None or last < low:
            return 0, math.inf  # unknown, or the pids went round
        return low, last

    @staticmethod
    def _signal(pid: int, begun: int, sig: int) -> None:
        """Signal `pid` only if it is still the process seen (a pidfd pins it; the start time proves it)."""
        try:
            pidfd = os.pidfd_open(pid)
        except ProcessLookupError:
            return
        except OSError:  # no pidfds here (or out of descriptors): the plain way
            if process_start_time(pid) == begun:
                with contextlib.suppress(OSError):
                    os.kill(pid, sig)
            return
        try:
            if process_start_time(pid) == begun:
                with contextlib.suppress(OSError):
                    signal.pidfd_send_signal(pidfd, sig)
        finally:
            os.close(pidfd)

    def _sweep(self, handle: Handle, needle: str, grace: float, signal_now: bool, group_termed: bool = False) -> _Sweep:
        start = handle.get("start")
        key = (int(handle.get("pid") or 0), start)
        sweep = self._sweeps.get(key)
        if sweep is None:
            sweep = self._sweeps[key] = _Sweep(key[0], start, f"{RUN_ID_VAR}={needle}".encode(), grace)
        elif len(needle.encode()) < len(sweep.needle) - len(RUN_ID_VAR) - 1:
            sweep.needle = f"{RUN_ID_VAR}={needle}".encode()  # the wider one: every attempt of the run
        if signal_now and sweep.kill_at is None:
            sweep.kill_at = -1.0  # asked to stop: TERM at the next look, which is now
            sweep.group_termed = group_termed
        self._schedule_sweep(0.0)
        return sweep

    def _schedule_sweep(self, delay: float) -> None:
        if self._sweep_timer is not None and delay > 0:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self._look()  # no loop (a plain call): one look, signals sent; nobody insists after the grace
            return
        if self._sweep_timer is not None:
            self._sweep_timer.cancel()
        self._sweep_timer = loop.call_later(delay, self._look)

    def _look(self) -> None:
        """One look at /proc for every attempt being stopped: TERM what is found, KILL after the grace, and tell
        those with nothing left."""
        self._sweep_timer = None
        if not self._sweeps:
            return
        try:
            now = asyncio.get_running_loop().time()
        except RuntimeError:
            now = 0.0
        items = list(self._sweeps.items())
        found = self._scan([s for _k, s in items])
        cleared: list[Callable[[], None]] = []
        for (key, sweep), pids in zip(items, found, strict=True):
            sweep.looks += 1
            if not pids:
                if sweep.on_clear or sweep.kill_at is not None:
                    del self._sweeps[key]
                    cleared += sweep.on_clear
                    if sweep.on_clear:
                        self._spawned.pop(sweep.pgid, None)
                continue
            if sweep.kill_at is None:
                if not sweep.on_clear:
                    continue  # neither asked to stop nor ended: nothing to do (yet)
                sweep.kill_at = -1.0
            sig: int
            if sweep.kill_at < 0:
                sweep.kill_at = now + sweep.grace
                sig = signal.SIGTERM
                if sweep.on_info is not None and not sweep.told:
                    sweep.told = True
                    sweep.on_info(f"stopping {len(pids)} process(es) it left running")
            else:
                sig = signal.SIGKILL if now >= sweep.kill_at else 0
            if sig:
                spared = sweep.pgid if sig == signal.SIGTERM and sweep.group_termed else None
                for pid, begun, pgrp in pids:
                    if pgrp != spared:  # a second SIGTERM would run a process's TERM handler twice
                        self._signal(pid, begun, sig)
        if self._sweeps:
            slowest = max(s.looks for s in self._sweeps.values())
            self._schedule_sweep(SWEEP_EVERY[min(slowest, len(SWEEP_EVERY) - 1)])
        for callback in cleared:
            callback()

    # -- cancel ------------------------------------------------------------------------
    def cancel(self, handle: Handle, grace: float = 3.0) -> None:
        """SIGTERM to every process of the attempt (its group, and what escaped it carrying its run id) at once,
        SIGKILL to what is left after `grace`."""
        run_id = handle.get("run_id")
        pgid = int(handle.get("pid") or 0)
        if run_id is None:  # a handle from before run ids: the group alone, if it is still the wrapper's
            if pgid > 1 and self._same_process(handle):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(pgid, signal.SIGTERM)
            return
        group_termed = False
        if pgid > 1 and self._same_process(handle):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pgid, signal.SIGTERM)  # the whole group in one call, children forked this instant too
                group_termed = True
        self._sweep(handle, f"{run_id}\0", grace, signal_now=True, group_termed=group_termed)  # this attempt's id

    def stop_leftovers(
        self, handle: Handle, run_prefix: str, grace: float, on_clear: Callable[[], None], on_info: OnInfo | None = None
    ) -> None:
        sweep = self._sweep(handle, run_prefix, grace, signal_now=False)
        sweep.on_clear.append(on_clear)
        sweep.on_info = on_info

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
        """Any live process carrying `run_id` proves the start happened. The handle names its wrapper (the session
        leader); when the wrapper is gone, its session id with a start time that never matches: adopting it finds
        it lost, and its end stops what is left."""
        if read_status(status) is not None:
            return {"pid": 0, "start": None, "status": str(status), "run_id": run_id}
        needle = f"\0{RUN_ID_VAR}={run_id}\0".encode()
        orphan: int | None = None
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            data = _read_proc(entry, "environ")
            if data is None or needle not in b"\0" + data + b"\0":
                continue
            pid = int(entry)
            try:
                sid = os.getsid(pid)
            except OSError:
                continue
            if sid == pid:
                return {"pid": pid, "start": process_start_time(pid), "status": str(status), "run_id": run_id}
            orphan = orphan or sid
        if orphan is None:
            return None
        return {"pid": orphan, "start": -1, "status": str(status), "run_id": run_id}

    def close(self) -> None:
        """Stop watching. What the engine asked to stop and is not gone yet gets SIGKILL now: no engine will be
        there to insist after the grace. Leftovers of an ended attempt not yet asked are found by the next start."""
        self._closed = True
        if self._sweep_timer is not None:
            self._sweep_timer.cancel()
            self._sweep_timer = None
        asked = [s for s in self._sweeps.values() if s.kill_at is not None]
        if asked:
            for sweep, pids in zip(asked, self._scan(asked), strict=True):
                for pid, begun, _pgrp in pids:
                    self._signal(pid, begun, signal.SIGKILL)
                if sweep.pgid > 1 and sweep.start is not None and process_start_time(sweep.pgid) == sweep.start:
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.killpg(sweep.pgid, signal.SIGKILL)
        self._sweeps.clear()
        with contextlib.suppress(RuntimeError):
            loop = asyncio.get_running_loop()
            for fd in self._watched.values():
                loop.remove_reader(fd)
                os.close(fd)
        self._watched.clear()
