"""Local runs with the spawn helper (`[pipeline] local_start = "helper"`): the engine asks one long-lived helper
process (`spawn_helper.py`) to start each run and hears of each end over its socket; see ARCHITECTURE.md.

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
from pathlib import Path
from typing import Any

from coopy_core.executors.base import MACHINE_ERRNOS, Adopted, Handle, LaunchSpec, OnEnd, OnInfo, StartError
from coopy_core.executors.exits import find_exit
from coopy_core.executors.local import DEFAULT_SIGNALS, LocalExecutor, process_start_time
from coopy_core.executors.wrapper import RUN_ID_VAR

HELPER = Path(__file__).with_name("spawn_helper.py")
ANSWER_WITHIN = 30.0  # seconds a start waits for the helper's answer before the helper is taken as hung
SETTLE_EVERY = 0.01  # seconds between looks for the record of a run that ended under another helper
SETTLE_WITHIN = 30.0  # ... for at most this long while that helper lives


class _Link:
    """The helper this engine started, and its socket."""

    def __init__(self, status_dir: Path, env: dict[str, str]) -> None:
        status_dir.mkdir(parents=True, exist_ok=True)
        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        log = os.open(status_dir / "helper.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o666)
        try:
            self.pid = os.posix_spawn(
                sys.executable,
                [sys.executable, "-I", "-S", str(HELPER), str(status_dir)],
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

    @property
    def ident(self) -> list[Any]:
        return [self.pid, self.start]

    def messages(self) -> list[dict[str, Any]]:
        """Every whole message that has arrived; marks the link closed when the helper has gone."""
        while self.open:
            try:
                data = self.sock.recv(1 << 16)
            except BlockingIOError:
                break
            except OSError:
                data = b""
            if not data:
                self.open = False
                break
            self.buffer += data
        *lines, self.buffer = self.buffer.split(b"\n")
        return [json.loads(line) for line in lines if line]

    def close(self) -> None:
        self.open = False
        self.sock.close()
        with contextlib.suppress(ChildProcessError):  # our child: reaped if done (it lives on while its runs do)
            os.waitpid(self.pid, os.WNOHANG)


class HelpedLocalExecutor(LocalExecutor):
    """`LocalExecutor` whose starts go through the spawn helper when `use_helper`."""

    def __init__(self, status_dir: Path, use_helper: bool) -> None:
        super().__init__()
        self.status_dir = status_dir
        self.use_helper = use_helper
        self._link: _Link | None = None
        self._spent: list[_Link] = []  # helpers whose socket closed: reaped when they end
        self._reading = False
        self._on_end: dict[int, tuple[Handle, OnEnd]] = {}  # pid -> its handle, and who waits for its end
        self._early: dict[int, int] = {}  # pid -> raw code, an end heard before its watch
        self._asked: set[int] = set()  # pids this engine asked to stop: killed by that signal means "stopped"

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
        answer = self._ask(link, json.dumps(request).encode() + b"\n")
        if "error" in answer:
            raise StartError(str(answer["error"]), transient=answer.get("errno") in MACHINE_ERRNOS)
        pid = int(answer["pid"])
        self._note_spawned(pid)
        exits = str(self.status_dir)
        return {"pid": pid, "start": answer.get("start"), "exits": exits, "helper": link.ident, "run_id": spec.run_id}

    def _helper(self) -> _Link:
        if self._link is not None and self._link.open:
            return self._link
        if self._link is not None:
            self._lost_link()
        self._reap_spent()
        try:
            self._link = _Link(self.status_dir, self._base_env)
        except OSError as exc:
            raise StartError.from_os("cannot start the spawn helper", exc) from None
        return self._link

    def _ask(self, link: _Link, request: bytes) -> dict[str, Any]:
        """Send a start and wait for its answer; ends heard meanwhile are passed on from the loop."""
        try:
            link.sock.sendall(request)  # a few hundred bytes: the socket's buffer takes them at once
        except BlockingIOError:
            select.select([], [link.sock], [], ANSWER_WITHIN)
            link.sock.sendall(request)
        except OSError as exc:
            self._lost_link()
            raise StartError.from_os("the spawn helper has gone", exc) from None
        while True:
            answer: dict[str, Any] | None = None
            for message in link.messages():  # the answer, and any ends read with it
                if "end" in message:
                    self._heard_end(message, soon=True)
                else:
                    answer = message
            if answer is not None:
                return answer
            if not link.open:
                self._lost_link()
                raise StartError("the spawn helper has gone (its log: status/helper.log)")
            ready, _w, _x = select.select([link.sock], [], [], ANSWER_WITHIN)
            if not ready:
                self._lost_link()
                raise StartError(f"the spawn helper did not answer within {ANSWER_WITHIN:g}s")

    # -- ends --------------------------------------------------------------------------
    def _read_link(self) -> None:
        link = self._link
        if link is None:
            return
        for message in link.messages():
            if "end" in message:
                self._heard_end(message, soon=False)
        if not link.open:
            self._lost_link()

    def _heard_end(self, message: dict[str, Any], soon: bool) -> None:
        pid, raw = int(message["end"]), int(message["code"])
        waiting = self._on_end.pop(pid, None)
        if waiting is None:
            self._early[pid] = raw
            return
        on_end = waiting[1]
        code = self._code(pid, raw)
        if soon:
            asyncio.get_running_loop().call_soon(on_end, code)
        else:
            on_end(code)

    def _code(self, pid: int, raw: int) -> int | None:
        """A run killed by a signal this engine sent was stopped (no status, as when the wrapper died with it);
        killed by anyone else it is 128 + the signal, what the wrapper's shell would have written."""
        if raw < 0 and pid in self._asked:
            self._asked.discard(pid)
            return None
        self._asked.discard(pid)
        return raw if raw >= 0 else 128 - raw

    def _lost_link(self) -> None:
        """The helper's socket closed (it was killed): the runs it started are watched by pidfd from now on; their
        exit statuses went with it."""
        link = self._link
        if link is None:
            return
        self._link = None
        with_loop = self._reading
        if with_loop:
            asyncio.get_running_loop().remove_reader(link.sock.fileno())
            self._reading = False
        link.close()
        self._spent.append(link)
        waiting, self._on_end = self._on_end, {}
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
        pid = int(handle["pid"])
        link = self._link
        if link is not None and link.open and handle.get("helper") == link.ident:
            if not self._reading:
                asyncio.get_running_loop().add_reader(link.sock.fileno(), self._read_link)
                self._reading = True
            raw = self._early.pop(pid, None)
            if raw is not None:
                asyncio.get_running_loop().call_soon(on_end, self._code(pid, raw))
            else:
                self._on_end[pid] = (handle, on_end)
            return
        self._watch_by_pidfd(handle, on_end)

    def _watch_by_pidfd(self, handle: Handle, on_end: OnEnd) -> None:
        """A run of another helper (a restart, or ours was killed): its end from a pidfd, its status from the
        record its helper writes right after reaping it."""
        loop = asyncio.get_running_loop()
        pid = int(handle["pid"])
        try:
            pidfd = os.pidfd_open(pid)
        except OSError:
            loop.call_soon(self._settle, handle, on_end, loop.time() + SETTLE_WITHIN)
            return

        def ready() -> None:
            loop.remove_reader(pidfd)
            os.close(pidfd)
            self._settle(handle, on_end, loop.time() + SETTLE_WITHIN)

        loop.add_reader(pidfd, ready)

    def _settle(self, handle: Handle, on_end: OnEnd, until: float) -> None:
        if self._closed:
            return
        found = find_exit(Path(handle["exits"]), str(handle.get("run_id", "")))
        if found is not None:
            on_end(self._code(int(handle["pid"]), found.code))
            return
        loop = asyncio.get_running_loop()
        if self._helper_alive(handle) and loop.time() < until:
            loop.call_later(SETTLE_EVERY, self._settle, handle, on_end, until)
            return
        on_end(None)

    @staticmethod
    def _helper_alive(handle: Handle) -> bool:
        ident = handle.get("helper")
        if not ident:
            return False
        pid, start = ident
        return process_start_time(int(pid)) == start

    # -- cancel, adopt, find -----------------------------------------------------------
    def cancel(self, handle: Handle, grace: float = 3.0) -> None:
        if "exits" in handle and handle.get("pid"):
            self._asked.add(int(handle["pid"]))
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
        found = find_exit(self.status_dir, run_id)
        if found is not None:
            return {"pid": 0, "start": None, "exits": str(self.status_dir), "run_id": run_id}
        handle = super().find_started(run_id, status)
        if handle is None or not self.use_helper:
            return handle
        pid = int(handle["pid"])
        parent = self._parent(pid)
        helper = [parent, process_start_time(parent)] if parent else None
        return {**handle, "exits": str(self.status_dir), "helper": helper}

    @staticmethod
    def _parent(pid: int) -> int | None:
        try:
            with open(f"/proc/{pid}/stat", "rb") as f:
                data = f.read()
            return int(data[data.rfind(b")") + 2 :].split()[1])
        except (OSError, ValueError, IndexError):
            return None

    def close(self) -> None:
        super().close()
        if self._link is not None:
            if self._reading:
                with contextlib.suppress(RuntimeError):
                    asyncio.get_running_loop().remove_reader(self._link.sock.fileno())
                self._reading = False
            self._link.close()  # the helper goes on with the runs it started, and ends after the last
            self._link = None
        self._reap_spent()


def make_local(state_dir: Path, local_start: str) -> HelpedLocalExecutor:
    return HelpedLocalExecutor(state_dir / "status", use_helper=local_start == "helper")
