"""A client for an engine running in another process: the same interface as `Engine`.

Commands are short blocking round trips on a local socket (well under a millisecond), so a front end
calls them as it would call the in-process engine. Events arrive on a second connection, opened at
`connect()` before any snapshot is taken, read by a thread and handed to the subscriber's asyncio loop
with `call_soon_threadsafe` (which never blocks the reader); a subscriber gets exactly the events after
the last snapshot it was given.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import socket
import threading
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from coopy_core import commands
from coopy_core.commands import Commands, Control
from coopy_core.config import Config
from coopy_core.errors import CoopyError, StateError
from coopy_core.model import Event, Snapshot
from coopy_core.wire import framing as wire
from coopy_core.wire.address import socket_path

Subscriber = Callable[[Event], None]
BACKLOG = 200_000  # events kept for subscribers not yet registered


class EngineUnavailable(CoopyError):
    """No engine answers on the socket (none running, or it just stopped)."""


class RemoteCommandError(CoopyError):
    """The engine refused a command; the message is the engine's own."""


class _Connection:
    def __init__(self, path: Path, timeout: float) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        try:
            self.sock.connect(str(path))
        except OSError as exc:
            self.sock.close()
            raise EngineUnavailable(f"no engine answers at {path} ({exc.strerror or exc})") from None
        self.file = self.sock.makefile("rb")
        self.ids = itertools.count(1)

    def request(self, name: str, /, **kwargs: Any) -> Any:
        """Send op `name` of the table (`coopy_core.commands.COMMANDS`) and wait for its result."""
        rid = next(self.ids)
        try:
            self.sock.sendall(wire.dumps({"id": rid, **commands.request(name, kwargs)}))
            line = self.file.readline()
        except OSError as exc:
            raise EngineUnavailable(f"the engine stopped answering ({exc})") from None
        if not line.endswith(b"\n"):  # nothing, or a reply cut off: the engine closed the connection
            raise EngineUnavailable("the engine closed the connection")
        try:
            reply = json.loads(line)
        except ValueError:
            raise EngineUnavailable("the engine sent a reply that is not JSON") from None
        if not reply.get("ok"):
            raise RemoteCommandError(reply.get("error") or "the engine refused the command")
        return reply.get("result")

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.file.close()
            self.sock.close()


class RemoteEngine(Commands, Control):
    """The engine's interface (snapshot, subscribe and every command) over the control socket.

    Every op is a row of `coopy_core.commands.COMMANDS`, sent by `_call`: the commands and the control
    ops come with their typed methods from `Commands` and `Control`; only `snapshot` and `subscribe`,
    which keep state here (the last snapshot's seq, the event stream), are written out below."""

    def __init__(self, path: Path, timeout: float = 30.0) -> None:
        self.path = path
        self.timeout = timeout
        self._calls: _Connection | None = None
        self._events: _Connection | None = None
        self._lock = threading.Lock()
        self._backlog: deque[Event] = deque(maxlen=BACKLOG)
        self._subscribers: list[tuple[Subscriber, asyncio.AbstractEventLoop, int]] = []
        self._last_seq = 0
        self._reader: threading.Thread | None = None
        self.info: dict[str, Any] = {}
        self.on_disconnect: Callable[[], None] | None = None
        self.connected = False

    # ------------------------------------------------------------ connection
    def connect(self, events: bool = True) -> RemoteEngine:
        self._calls = _Connection(self.path, self.timeout)
        self.info = self.hello()
        if events:
            self._events = _Connection(self.path, self.timeout)
            first = self._events.request("subscribe", snapshot=False)  # its seq is all this needs of it
            self._last_seq = first["seq"]
            self._events.sock.settimeout(None)
            self._reader = threading.Thread(target=self._read_events, name="coopy-events", daemon=True)
            self._reader.start()
        self.connected = True
        return self

    def close(self) -> None:
        self.connected = False
        for conn in (self._calls, self._events):
            if conn is not None:
                with contextlib.suppress(OSError):
                    conn.sock.shutdown(socket.SHUT_RDWR)
                conn.close()

    def _read_events(self) -> None:
        assert self._events is not None
        try:
            for line in self._events.file:
                data = json.loads(line)
                if "event" not in data:
                    continue
                event = wire.event(data["event"])
                with self._lock:
                    self._backlog.append(event)
                    targets = [(cb, loop) for cb, loop, after in self._subscribers if event.seq > after]
                for callback, loop in targets:
                    with contextlib.suppress(RuntimeError):  # loop closed
                        loop.call_soon_threadsafe(callback, event)
        except (OSError, ValueError):
            pass
        self.connected = False
        if self.on_disconnect is not None:
            self.on_disconnect()

    # ------------------------------------------------------------ EngineClient
    def _call(self, name: str, /, **kwargs: Any) -> Any:
        """Send op `name` (a row of the table) with these arguments; its result as JSON gives it."""
        calls = self.__dict__.get("_calls")
        if calls is None:
            raise EngineUnavailable("not connected")
        with self._lock:
            return calls.request(name, **kwargs)

    def snapshot(self) -> Snapshot:
        if self._calls is None:
            raise EngineUnavailable("not connected")
        with self._lock:
            snap = wire.snapshot(self._calls.request("snapshot", rows=True))
            self._last_seq = snap.seq
            # events up to this snapshot are in it; keep only newer ones for late subscribers
            while self._backlog and self._backlog[0].seq <= snap.seq:
                self._backlog.popleft()
        return snap

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        """Deliver, on the caller's running loop, every event after the last snapshot handed out."""
        loop = asyncio.get_running_loop()
        with self._lock:
            after = self._last_seq
            entry = (callback, loop, after)
            self._subscribers.append(entry)
            pending = [e for e in self._backlog if e.seq > after]
        for event in pending:
            loop.call_soon(callback, event)

        def unsubscribe() -> None:
            with self._lock:
                if entry in self._subscribers:
                    self._subscribers.remove(entry)

        return unsubscribe


def connect(config: Config, events: bool = False) -> RemoteEngine:
    """The live engine of `config`, or EngineUnavailable; an engine of another config on the same state
    dir is refused (StateError), never attached to."""
    client = RemoteEngine(socket_path(config.state_dir)).connect(events=events)
    serving = client.info.get("config")
    if serving and serving != str(config.path):
        client.close()
        raise StateError(
            f"{config.state_dir}: the engine running here (pid {client.info.get('pid')}) serves {serving}, "
            f"not {config.path}; give this config a state_dir of its own"
        )
    return client
