"""The engine's control socket: snapshot, event stream and every command, for any number of clients.

A Unix socket in the state dir, mode 0600 (owner only), newline-delimited JSON:
  request  {"id": 1, "op": "hello" | "snapshot" | "subscribe" | "call" | "stop", ...}: an op of
           `coopy_core.commands.COMMANDS`, checked against it, then answered by its one handler
  response {"id": 1, "ok": true, "result": ...} or {"id": 1, "ok": false, "error": "..."}
  after "subscribe": {"event": {...}} lines, in sequence order, until the client leaves.
Only the engine that holds the state-dir lock binds it, so a stale socket left by a killed engine is
simply replaced.

Every request gets exactly one answer, also a hostile one: not JSON, nested deeper than MAX_DEPTH, longer than
MAX_REQUEST (the rest of its line is skipped), an unknown command or arguments of the wrong type each get an error
reply and one line in the log; the connection and the engine go on. The server serves at most MAX_CONNECTIONS
clients, and fewer when descriptors run short: a connection past that gets one error line and is closed, so idle
clients can never take the descriptors the engine needs to start runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import os
import resource
import stat
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from coopy_core.commands import COMMANDS, CommandError, check_request
from coopy_core.engine import Engine
from coopy_core.errors import CoopyError, StateError
from coopy_core.model import Event, Snapshot
from coopy_core.wire import framing as wire
from coopy_core.wire.address import socket_path

log = logging.getLogger("coopy.server")

MAX_CLIENT_BUFFER = 32 * 2**20  # a client this far behind is dropped; it can subscribe again
MAX_CONNECTIONS = 256  # clients served at once (screens, scripts); more are refused with a line
MAX_REQUEST = 2**20  # bytes in one request line (the largest real one, add_task, is a few hundred)
MAX_DEPTH = 32  # nesting of a request (a real one has 3 levels)
FD_RESERVE = 64  # descriptors always left for the engine itself (store, logs, spawns), plus one per worker
REFUSED_LOG_EVERY = 10.0  # seconds between two log lines about refused connections
BACKLOG = 32  # connections waiting to be accepted; asyncio accepts up to this many at once before any is served


def _make_private(folder: Path) -> None:
    """The shared-/tmp fallback folder must be this user's alone: others could replace the socket."""
    st = os.lstat(folder)
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid():
        raise StateError(f"{folder} is not a folder of this user; remove it (it holds CooPy's control sockets)")
    if stat.S_IMODE(st.st_mode) != 0o700:
        os.chmod(folder, 0o700)


class ControlServer:
    def __init__(self, engine: Engine, stop: asyncio.Event) -> None:
        self.engine = engine
        self.path = socket_path(engine.config.state_dir)
        self.stop_requested = stop
        self.stop_running = False
        self.clients = 0
        self._server: asyncio.AbstractServer | None = None
        self._subscribers: set[asyncio.StreamWriter] = set()
        self._connections: set[asyncio.StreamWriter] = set()
        self._refused = 0
        self._refused_logged = -math.inf
        self._unsubscribe: Callable[[], None] | None = None  # subscribed to the engine while a client is
        self._handlers = self._make_handlers()

    async def start(self) -> None:
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        if self.path.parent != self.engine.config.state_dir:
            _make_private(self.path.parent)
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()  # stale: we hold the engine lock, so nobody else serves here
        old = os.umask(0o177)
        try:
            self._server = await asyncio.start_unix_server(
                self._serve, path=str(self.path), limit=MAX_REQUEST, backlog=BACKLOG
            )
        finally:
            os.umask(old)
        os.chmod(self.path, 0o600)

    def _follow(self, writer: asyncio.StreamWriter) -> None:
        """A client's event stream; the engine builds events for the socket only while one is followed."""
        if self._unsubscribe is None:
            self._unsubscribe = self.engine.subscribe(self._broadcast)
        self._subscribers.add(writer)

    def _unfollow(self, writer: asyncio.StreamWriter) -> None:
        self._subscribers.discard(writer)
        if not self._subscribers and self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    async def close(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        if self._server:
            self._server.close()
        for writer in list(self._connections):
            writer.close()
        deadline = asyncio.get_running_loop().time() + 1.0
        while self._connections and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.01)  # let each handler see its connection end
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    def _broadcast(self, event: Event) -> None:
        if not self._subscribers:
            return
        line = wire.dumps({"event": event})
        for writer in list(self._subscribers):
            if writer.is_closing():
                self._unfollow(writer)
            elif writer.transport.get_write_buffer_size() > MAX_CLIENT_BUFFER:
                log.warning("dropping a client that does not read its events")
                self._unfollow(writer)
                writer.close()
            else:
                writer.write(line)

    def _refusal(self) -> str | None:
        """Why a new connection cannot be served now, or None. Checked before a connection is served: the
        descriptors the engine needs for its runs (a pidfd each, a log and a pipe per start) come first."""
        if self.clients >= MAX_CONNECTIONS:
            return f"the engine is busy: too many connections ({self.clients}); try again later"
        soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft == resource.RLIM_INFINITY:
            return None
        workers = sum(s.workers for s in self.engine.config.stages)
        reserve = FD_RESERVE + min(workers, soft // 2) + 2 * BACKLOG  # a burst accepted before the first is refused
        try:
            used = len(os.listdir("/proc/self/fd"))
        except OSError:  # out of descriptors already (or no /proc): refuse to be safe
            used = soft
        if used + reserve >= soft:
            return f"the engine is busy: too many connections for its descriptors ({used} of {soft}); try again later"
        return None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        refusal = self._refusal()
        if refusal is not None:
            self._refused += 1
            now = time.monotonic()
            if now - self._refused_logged >= REFUSED_LOG_EVERY:  # a flood of connections is a few lines, not one each
                self._refused_logged = now
                log.warning("connection refused (%d since the last such line): %s", self._refused, refusal)
                self._refused = 0
            with contextlib.suppress(Exception):
                writer.write(wire.dumps({"id": None, "ok": False, "error": refusal}))
            writer.close()
            return
        self.clients += 1
        self._connections.add(writer)
        try:
            while True:
                line = await _read_request(reader)
                if line is None:
                    break
                reply = self._too_long() if isinstance(line, _TooLong) else self._handle(line, writer)
                if reply is not None:
                    result = reply.get("result")
                    if isinstance(result, _Rows):  # written as it is encoded, in this same turn of the loop
                        try:
                            for piece in wire.snapshot_rows_reply(reply["id"], result.head, result.rows):
                                writer.write(piece)
                        except Exception as exc:  # noqa: BLE001 - part of the line is out: end the connection
                            log.warning("snapshot could not be sent: %s: %s", type(exc).__name__, exc)
                            break
                    else:
                        writer.write(self._encode(reply))
                    await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass  # the client left, or the engine is stopping
        finally:
            self.clients -= 1
            self._unfollow(writer)
            self._connections.discard(writer)
            writer.close()

    @staticmethod
    def _too_long() -> dict[str, Any]:
        log.warning("bad request: longer than %d bytes (skipped)", MAX_REQUEST)
        return {"id": None, "ok": False, "error": f"bad request: longer than {MAX_REQUEST} bytes"}

    @staticmethod
    def _encode(reply: dict[str, Any]) -> bytes:
        try:
            return wire.dumps(reply)
        except (TypeError, ValueError, RecursionError) as exc:  # a result that cannot be sent: say so instead
            log.warning("reply could not be sent: %s: %s", type(exc).__name__, exc)
            return wire.dumps({"id": reply.get("id"), "ok": False, "error": "the reply could not be sent"})

    def _handle(self, line: bytes, writer: asyncio.StreamWriter) -> dict[str, Any] | None:
        """Every request gets an answer: a malformed one an error reply (and one line in the log)."""
        try:
            request = json.loads(line)
        except (ValueError, RecursionError):
            log.warning("bad request: not JSON (%d bytes)", len(line))
            return {"id": None, "ok": False, "error": "bad request: not JSON"}
        if _too_deep(request, MAX_DEPTH):
            log.warning("bad request: nested deeper than %d levels", MAX_DEPTH)
            return {"id": None, "ok": False, "error": f"bad request: nested deeper than {MAX_DEPTH} levels"}
        if not isinstance(request, dict) or not isinstance(request.get("op"), str):
            log.warning("bad request: not an object with an op")
            return {"id": None, "ok": False, "error": "bad request: an object with an op is expected"}
        rid = request.get("id")
        if not isinstance(rid, int | str | None) or isinstance(rid, bool) or len(str(rid)) > 100:
            rid = None
        op = request["op"]
        try:
            return {"id": rid, "ok": True, "result": self._answer(request, writer)}
        except CommandError as exc:
            log.warning("request %s refused: %s", op[:40], exc)
            return {"id": rid, "ok": False, "error": str(exc)}
        except CoopyError as exc:
            return {"id": rid, "ok": False, "error": str(exc)}
        except Exception as exc:  # noqa: BLE001 - a request must never take the engine down
            text = " ".join(str(exc).split())[:200]
            log.warning("request %s failed: %s: %s", op[:40], type(exc).__name__, text)
            return {"id": rid, "ok": False, "error": f"{op[:40]} failed: {type(exc).__name__}: {text}"}

    def _answer(self, request: dict[str, Any], writer: asyncio.StreamWriter) -> Any:
        """The request checked against the table of ops, then its one handler."""
        command, bound = check_request(request)
        return self._handlers[command.name](writer, bound)

    def _make_handlers(self) -> dict[str, Handler]:
        """One handler per op of the table: the server's own `_NAME`, or the engine's method of that name."""
        handlers: dict[str, Handler] = {}
        for command in COMMANDS.values():
            if command.answered_by == "server":
                handlers[command.name] = getattr(self, f"_{command.name}")
            else:
                handlers[command.name] = _engine_handler(self.engine, command.name)
        return handlers

    # ------------------------------------------------------------ the ops the server answers
    def _hello(self, writer: asyncio.StreamWriter, bound: dict[str, Any]) -> dict[str, Any]:
        cfg = self.engine.config
        return {"pid": os.getpid(), "pipeline": cfg.pipeline.name, "config": str(cfg.path)}

    def _snapshot(self, writer: asyncio.StreamWriter, bound: dict[str, Any]) -> Snapshot | _Rows:
        if bound["rows"]:
            return _Rows(*self.engine.snapshot_rows())
        return self.engine.snapshot()

    def _subscribe(self, writer: asyncio.StreamWriter, bound: dict[str, Any]) -> Snapshot | dict[str, int]:
        # the snapshot (or its seq) and the stream that follows it leave no gap: same loop, same tick
        self._follow(writer)
        return self.engine.snapshot() if bound["snapshot"] else {"seq": self.engine.event_seq}

    def _stop(self, writer: asyncio.StreamWriter, bound: dict[str, Any]) -> None:
        self.stop_running = bool(bound["stop_running"])
        self.stop_requested.set()

    def _task_count(self, writer: asyncio.StreamWriter, bound: dict[str, Any]) -> int:
        return self.engine.task_count


Handler = Callable[[asyncio.StreamWriter, dict[str, Any]], Any]


@dataclass(frozen=True)
class _Rows:
    """A snapshot whose runs are written as rows while they are made (`snapshot` with rows)."""

    head: Snapshot
    rows: Iterator[tuple[Any, ...]]


def _engine_handler(engine: Engine, name: str) -> Handler:
    def handler(writer: asyncio.StreamWriter, bound: dict[str, Any]) -> Any:
        return getattr(engine, name)(**bound)

    return handler


class _TooLong:
    """What `_read_request` returns for a line past MAX_REQUEST."""


TOO_LONG = _TooLong()


async def _read_request(reader: asyncio.StreamReader) -> bytes | _TooLong | None:
    """The next request line; TOO_LONG for one past MAX_REQUEST (its rest skipped up to the newline); None at the
    end of the connection."""
    try:
        line = await reader.readuntil(b"\n")
    except asyncio.IncompleteReadError as exc:
        return exc.partial or None  # the last line without a newline, or the end
    except asyncio.LimitOverrunError as exc:
        await reader.readexactly(exc.consumed)  # what is in the buffer: drop it, and so on to the newline
        while True:
            try:
                await reader.readuntil(b"\n")
                return TOO_LONG
            except asyncio.IncompleteReadError:
                return TOO_LONG
            except asyncio.LimitOverrunError as more:
                await reader.readexactly(more.consumed)
    return line


def _too_deep(value: Any, limit: int) -> bool:
    """Nested more than `limit` lists or objects (looked at without recursion)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            items = list(item.values())
        elif isinstance(item, list):
            items = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in items if isinstance(child, dict | list))
    return False
