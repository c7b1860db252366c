"""Local runs with the spawn helper (`[pipeline] local_start = "helper"`): the engine asks one long-lived helper
process (`spawn_helper.py`) to start each run and hears of each start and end over its socket; see ARCHITECTURE.md.

A start does not wait for the spawn: its handle has pid 0 until the helper answers (`LaunchSpec.on_started`, or
`on_refused` with the reason). A cancel asked meanwhile is carried out when the pid arrives. A handle stored with
pid 0 is a start not yet known: after a crash it is looked for by its run id, as a start that was never recorded.

The executor reads both kinds of handles, whichever start is configured now: a wrapper's (`status`: its exit-status
file) through `LocalExecutor`, a helper's (`exits`: the helpers' records, `helper`: which helper) here, so a
restart after the key changed still adopts what runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import select
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from coopy_core.executors.base import MACHINE_ERRNOS, Adopted, Handle, LaunchSpec, OnEnd, OnInfo, StartError
from coopy_core.executors.exits import EXITS_GLOB, find_exit
from coopy_core.executors.local import DEFAULT_SIGNALS, LocalExecutor, _stat, process_start_time
from coopy_core.executors.wrapper import RUN_ID_VAR

HELPER = Path(__file__).with_name("spawn_helper.py")
ANSWER_WITHIN = 30.0  # seconds a start without an event loop waits for the helper's answer
SETTLE_EVERY = 0.01  # seconds between looks for the record of a run that ended under another helper
SETTLE_WITHIN = 30.0  # ... for at most this long while that helper lives
FIND_WITHIN = 1.0  # seconds a restart looks again for a start it did not find, while a helper lives
KEEP_RECORDS = 86400.0  # seconds an ended helper's records are kept


class _Link:
    """The helper this engine started, and its socket."""

    def __init__(self, status_dir: Path, env: dict[str, str]) -> None:
        status_dir.mkdir(parents=True, exist_ok=True)
        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        log = os.open(status_dir / "helper.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o666)
        try:
            self.pid = os.posix_spawn(
                sys.executable,
                [sys.executable, "-I", "-S", str(HELPER), str(status_dir), str(os.getpid())],
                env,
                file_actions=[
                    (os.POSIX_SPAWN_DUP2, theirs.fileno(), 0),
                    (os.POSIX_SPAWN_DUP2, log, 1),
                    (os.POSIX_SPAWN_DUP2, log, 2),
                ],
                setsid=True,  # not in the engine's terminal session: a hang-up or Ctrl-C there leaves it alone
                setsigmask=(),
                setsigdef=DEFAULT_SIGNALS,
            )
        finally:
            theirs.close()
            os.close(log)
        mine.setblocking(False)
        self.sock = mine
        self.start = process_start_time(self.pid, zombie_too=True)
        self.buffer = b""
        self.open = True
        self.reading = False  # its socket is watched by the event loop

    @property
    def ident(self) -> list[Any]:
        return [self.pid, self.start]

    def send(self, data: bytes) -> None:
        """Send all of `data`; while the socket is full, take in what the helper says (it blocks on a full socket
        too: a turn that starts thousands of runs would otherwise wait on it for ever)."""
        view = memoryview(data)
        while view:
            try:
                view = view[self.sock.send(view) :]
            except BlockingIOError:
                readable, _w, _x = select.select([self.sock], [self.sock], [], ANSWER_WITHIN)
                if readable:
                    self.pull()

    def pull(self) -> None:
        """Whatever has arrived, into the buffer (read as messages later); marks the link closed at its end."""
        while self.open:
            try:
                data = self.sock.recv(1 << 16)
            except BlockingIOError:
                return
            except OSError:
                data = b""
            if not data:
                self.open = False
                return
            self.buffer += data

    def messages(self) -> list[dict[str, Any]]:
        """Every whole message that has arrived; marks the link closed when the helper has gone."""
        self.pull()
        *lines, self.buffer = self.buffer.split(b"\n")
        return [json.loads(line) for line in lines if line]

    def close(self) -> None:
        self.open = False
        if self.reading:
            with contextlib.suppress(RuntimeError):
                asyncio.get_running_loop().remove_reader(self.sock.fileno())
            self.reading = False
        self.sock.close()
        with contextlib.suppress(ChildProcessError):  # our child: reaped if done (it lives on while its runs do)
            os.waitpid(self.pid, os.WNOHANG)


@dataclass
class _Pending:
    """A start sent to the helper and not answered yet."""

    handle: Handle
    spec: LaunchSpec
    cancel: float | None = None  # asked to stop meanwhile, with this grace


class HelpedLocalExecutor(LocalExecutor):
    """`LocalExecutor` whose starts go through the spawn helper when `use_helper`."""

    def __init__(self, status_dir: Path, use_helper: bool) -> None:
        super().__init__()
        self.status_dir = status_dir
        self.use_helper = use_helper
        self._link: _Link | None = None
        self._spent: list[_Link] = []  # helpers whose socket closed: reaped when they end
        self._pending: dict[str, _Pending] = {}  # run id -> a start not answered yet
        self._on_end: dict[str, tuple[Handle, OnEnd]] = {}  # run id -> its handle, and who waits for its end
        self._early: dict[str, int | None] = {}  # run id -> raw code, an end heard before its watch
        self._asked: set[str] = set()  # run ids this engine asked to stop: killed by a signal means "stopped"
        self._by_pidfd = 0  # runs of other helpers being watched (their records are still to be read)
        self._defer = False  # inside a start that waits for its answer: news is passed on from the loop

    # -- start -------------------------------------------------------------------------
    def start(self, spec: LaunchSpec) -> Handle:
        if not self.use_helper:
            return super().start(spec)
        launch = spec.launch
        if not os.path.isdir(launch.cwd):
            raise StartError(f"working directory {launch.cwd} does not exist")
        env = dict(launch.env)
        env[RUN_ID_VAR] = spec.run_id
        request = {"run": spec.run_id, "argv": list(launch.argv), "cwd": str(launch.cwd), "env": env}
        request["log"] = str(spec.log)
        link = self._helper()
        handle: Handle = {"pid": 0, "start": None, "exits": str(self.status_dir), "helper": link.ident}
        handle["run_id"] = spec.run_id
        try:
            link.send(json.dumps(request).encode() + b"\n")
        except OSError as exc:
            self._lost_link()
            raise StartError.from_os("the spawn helper has gone", exc) from None
        self._pending[spec.run_id] = _Pending(handle, spec)
        try:
            loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        if loop is not None and not link.reading:
            loop.add_reader(link.sock.fileno(), self._read_link)
            link.reading = True
        if loop is None or spec.on_started is None:
            # a caller that takes no late answer (a hook marks itself started when this returns; a plain call has
            # no loop): the start is made before it returns, or it raises
            self._wait_answer(link, spec.run_id, handle)
        elif link.buffer or not link.open:  # taken in while sending: the socket may not wake the loop for it
            loop.call_soon(self._read_link)
        return handle

    def _helper(self) -> _Link:
        if self._link is not None and self._link.open:
            return self._link
        self._lost_link()
        self._reap_spent()
        if not self._by_pidfd:
            self._forget_spent_records()
        try:
            self._link = _Link(self.status_dir, self._base_env)
        except OSError as exc:
            raise StartError.from_os("cannot start the spawn helper", exc) from None
        return self._link

    def _forget_spent_records(self) -> None:
        """Remove the record files of helpers that ended more than KEEP_RECORDS ago: what a restart needed of them
        was read and committed long since (called only while no run of another helper is watched)."""
        old = time.time() - KEEP_RECORDS
        for path in self.status_dir.glob(EXITS_GLOB):
            pid = _helper_pid(path)
            try:
                if pid is None or path.stat().st_mtime > old:
                    continue
            except OSError:
                continue
            if process_start_time(pid) is None or not _is_helper(pid):  # gone (or a zombie): it writes no more
                with contextlib.suppress(OSError):
                    path.unlink()

    def _wait_answer(self, link: _Link, run_id: str, handle: Handle) -> None:
        """Wait for this start's answer; what else arrives meanwhile is passed on from the loop, not from here
        (this runs inside the caller's turn)."""
        self._defer = True
        try:
            while run_id in self._pending and link.open:
                if not link.buffer:
                    ready, _w, _x = select.select([link.sock], [], [], ANSWER_WITHIN)
                    if not ready:
                        break
                self._read_link()
            if run_id in self._pending and not link.open:
                self._read_link()  # the helper has gone: what became of the start is looked for by its run id
        finally:
            self._defer = False
        pending = self._pending.pop(run_id, None)
        if pending is not None or not handle.get("pid"):
            raise StartError("the spawn helper did not start the run", transient=True)

    # -- news from the helper ------------------------------------------------------------
    def _read_link(self) -> None:
        link = self._link
        if link is None:
            return
        for message in link.messages():
            run_id = str(message.get("run", ""))
            if "end" in message:
                self._heard_end(run_id, int(message["code"]))
            else:
                self._answered(run_id, message)
        if not link.open:
            self._lost_link()

    def _answered(self, run_id: str, answer: dict[str, Any]) -> None:
        pending = self._pending.pop(run_id, None)
        if pending is None:
            return
        if "error" in answer:
            self._asked.discard(run_id)
            refused = StartError(str(answer["error"]), transient=answer.get("errno") in MACHINE_ERRNOS)
            if pending.spec.on_refused is not None:  # else the caller waits for the answer, and its start raises
                self._on_end.pop(run_id, None)
                self._call(pending.spec.on_refused, refused)
            return
        handle = pending.handle
        handle["pid"], handle["start"] = int(answer["pid"]), answer.get("start")
        self._note_spawned(handle["pid"])
        if pending.cancel is not None:
            super().cancel(handle, pending.cancel)
        if pending.spec.on_started is not None:
            pending.spec.on_started()

    def _heard_end(self, run_id: str, raw: int | None) -> None:
        waiting = self._on_end.pop(run_id, None)
        if waiting is None:
            self._early[run_id] = raw
            return
        self._call(waiting[1], self._code(run_id, raw))

    def _call(self, callback: Callable[[Any], None], value: Any) -> None:
        """Now, or from the loop when inside a start that waits for its answer."""
        if self._defer:
            with contextlib.suppress(RuntimeError):
                asyncio.get_running_loop().call_soon(callback, value)
                return
        callback(value)

    def _code(self, run_id: str, raw: int | None) -> int | None:
        """A run killed by a signal this engine sent was stopped (no status, as when the wrapper died with it);
        killed by anyone else it is 128 + the signal, what the wrapper's shell would have written."""
        asked = run_id in self._asked
        self._asked.discard(run_id)
        if raw is None or (raw < 0 and asked):
            return None
        return raw if raw >= 0 else 128 - raw

    def _lost_link(self) -> None:
        """The helper's socket closed (it was killed): starts not answered are looked for by run id (started: watched;
        not: refused for now); the runs it started are watched by pidfd from now on, their exit statuses lost."""
        link, self._link = self._link, None
        if link is None:
            return
        link.close()
        self._spent.append(link)
        pending, self._pending = self._pending, {}
        gone = StartError("the spawn helper has gone before it answered", transient=True)
        for run_id, start in pending.items():
            found = LocalExecutor.find_started(self, run_id, self.status_dir / "none")
            if found is not None and int(found.get("start") or -1) >= 0:  # it did start: watched, status lost
                start.handle["pid"], start.handle["start"] = found["pid"], found["start"]
                start.handle["helper"] = None
                self._note_spawned(int(found["pid"]))
                if start.cancel is not None:
                    LocalExecutor.cancel(self, start.handle, start.cancel)
                if start.spec.on_started is not None:
                    start.spec.on_started()
                continue
            self._on_end.pop(run_id, None)
            self._asked.discard(run_id)
            if start.spec.on_refused is not None:  # from the loop: this may be inside another start
                _soon(start.spec.on_refused, gone)
        waiting, self._on_end = self._on_end, {}
        with contextlib.suppress(RuntimeError):  # no loop (a plain call): nobody watches
            for handle, on_end in waiting.values():
                self._watch_by_pidfd(handle, on_end)

    def _reap_spent(self) -> None:
        for link in list(self._spent):
            try:
                done, _status = os.waitpid(link.pid, os.WNOHANG)
            except ChildProcessError:
                done = link.pid
            if done:
                self._spent.remove(link)

    # -- watch -------------------------------------------------------------------------
    def watch(self, handle: Handle, on_end: OnEnd, on_info: OnInfo | None = None) -> None:
        if "exits" not in handle:
            super().watch(handle, on_end, on_info)
            return
        run_id = str(handle.get("run_id", ""))
        link = self._link
        if link is not None and link.open and handle.get("helper") == link.ident:
            if run_id in self._early:
                asyncio.get_running_loop().call_soon(on_end, self._code(run_id, self._early.pop(run_id)))
            else:
                self._on_end[run_id] = (handle, on_end)
            return
        self._watch_by_pidfd(handle, on_end)

    def _watch_by_pidfd(self, handle: Handle, on_end: OnEnd) -> None:
        """A run of another helper (a restart, or ours was killed): its end from a pidfd, its status from the
        record its helper writes right after reaping it."""
        loop = asyncio.get_running_loop()
        pid = int(handle.get("pid") or 0)
        self._by_pidfd += 1
        try:
            if pid <= 1 or process_start_time(pid, zombie_too=True) != handle.get("start"):
                raise ProcessLookupError(pid)
            pidfd = os.pidfd_open(pid)
        except OSError:
            loop.call_soon(self._settle, handle, on_end, loop.time() + SETTLE_WITHIN)
            return

        def ready() -> None:
            loop.remove_reader(pidfd)
            self._watched.pop(-pidfd, None)
            os.close(pidfd)
            self._settle(handle, on_end, loop.time() + SETTLE_WITHIN)

        self._watched[-pidfd] = pidfd  # close() stops watching it (keyed apart from LocalExecutor's pids)
        loop.add_reader(pidfd, ready)

    def _settle(self, handle: Handle, on_end: OnEnd, until: float) -> None:
        if self._closed:
            return
        run_id = str(handle.get("run_id", ""))
        found = find_exit(Path(handle["exits"]), run_id)
        loop = asyncio.get_running_loop()
        if found is None and self._helper_alive(handle) and loop.time() < until:
            loop.call_later(SETTLE_EVERY, self._settle, handle, on_end, until)
            return
        self._by_pidfd -= 1
        on_end(self._code(run_id, found.code) if found is not None else None)

    @staticmethod
    def _helper_alive(handle: Handle) -> bool:
        ident = handle.get("helper")
        if not ident:
            return False
        pid, start = ident
        return process_start_time(int(pid)) == start

    # -- cancel, adopt, find -----------------------------------------------------------
    def cancel(self, handle: Handle, grace: float = 3.0) -> None:
        if "exits" in handle:
            run_id = str(handle.get("run_id", ""))
            self._asked.add(run_id)
            pending = self._pending.get(run_id)
            if pending is not None:
                pending.cancel = grace  # carried out when the pid arrives
                return
        super().cancel(handle, grace)

    def adopt(self, handle: Handle) -> Adopted:
        if "exits" not in handle:
            return super().adopt(handle)
        run_id, status_dir = str(handle.get("run_id", "")), Path(handle["exits"])
        found = find_exit(status_dir, run_id)
        if found is not None:
            return Adopted(alive=False, exit_code=found.status)
        pid = int(handle.get("pid") or 0)
        if pid > 1 and process_start_time(pid, zombie_too=True) == handle.get("start"):
            return Adopted(alive=True)  # a zombie too: its helper has yet to reap and record it
        found = find_exit(status_dir, run_id)
        if found is not None:
            return Adopted(alive=False, exit_code=found.status)
        return Adopted(alive=False, lost=True)

    def find_started(self, run_id: str, status: Path) -> Handle | None:
        """A record of its end, or a live process carrying its run id. A run that ends between the two looks (a
        zombie whose helper has yet to record it) is missed by both: while a helper of this state dir lives, the
        looks are made again for up to FIND_WITHIN seconds before the start is taken as never made."""
        deadline = time.monotonic() + FIND_WITHIN
        recorded: Handle = {"pid": 0, "start": None, "exits": str(self.status_dir), "run_id": run_id}
        while True:
            if find_exit(self.status_dir, run_id) is not None:
                return recorded
            handle = super().find_started(run_id, status)
            if handle is not None:
                if not self.use_helper:
                    return handle
                return {**handle, "exits": str(self.status_dir), "helper": _helper_of(int(handle["pid"]))}
            if find_exit(self.status_dir, run_id) is not None:
                return recorded
            if time.monotonic() >= deadline or not self._live_helpers():
                return None
            time.sleep(0.02)

    def _live_helpers(self) -> list[int]:
        """The helpers of this state dir still alive (not zombies), from their record files' names."""
        alive = []
        for path in self.status_dir.glob(EXITS_GLOB):
            pid = _helper_pid(path)
            if pid is not None and process_start_time(pid) is not None and _is_helper(pid):
                alive.append(pid)
        return alive

    def close(self) -> None:
        super().close()
        self._pending.clear()  # never answered: their handles keep pid 0, and a restart looks for them by run id
        if self._link is not None:
            self._link.close()  # the helper goes on with the runs it started, and ends after the last
            self._spent.append(self._link)
            self._link = None
        self._reap_spent()


def _soon(callback: Callable[[StartError], None], error: StartError) -> None:
    try:
        asyncio.get_running_loop().call_soon(callback, error)
    except RuntimeError:
        callback(error)


def _helper_pid(path: Path) -> int | None:
    """The helper's pid from its record file's name, `helper-<pid>-<ns>.exits`."""
    try:
        return int(path.name.split("-")[1])
    except (IndexError, ValueError):
        return None


def _is_helper(pid: int) -> bool:
    try:
        return b"spawn_helper.py" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def _helper_of(pid: int) -> list[Any] | None:
    """[pid, start] of the spawn helper that started `pid` (its parent), or None when its parent is not one (the
    helper died: the run was re-parented)."""
    fields = _stat(pid)
    if fields is None:
        return None
    parent = int(fields[1])
    return [parent, process_start_time(parent)] if _is_helper(parent) else None


def make_local(state_dir: Path, local_start: str) -> HelpedLocalExecutor:
    return HelpedLocalExecutor(state_dir / "status", use_helper=local_start == "helper")
