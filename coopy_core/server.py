"""The engine's control socket: snapshot, event stream and every command, for any number of clients.

A Unix socket in the state dir, mode 0600 (owner only), newline-delimited JSON:
  request  {"id": 1, "op": "hello" | "snapshot" | "subscribe" | "call" | "stop", ...}
  response {"id": 1, "ok": true, "result": ...} or {"id": 1, "ok": false, "error": "..."}
  after "subscribe": {"event": {...}} lines, in sequence order, until the client leaves.
Only the engine that holds the state-dir lock binds it, so a stale socket left by a killed engine is
simply replaced.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import stat
from pathlib import Path
from typing import Any

from coopy_core import wire
from coopy_core.commands import check_call
from coopy_core.engine import Engine
from coopy_core.errors import CoopyError, StateError
from coopy_core.model import Event

log = logging.getLogger("coopy.server")

SOCKET_NAME = "engine.sock"
MAX_SUN_PATH = 100  # Linux allows 108 bytes, minus a margin
MAX_CLIENT_BUFFER = 32 * 2**20  # a client this far behind is dropped; it can subscribe again


def socket_path(state_dir: Path) -> Path:
    """`state_dir/engine.sock`, or a short private path when that would be too long for a socket."""
    path = state_dir / SOCKET_NAME
    if len(os.fsencode(path)) <= MAX_SUN_PATH:
        return path
    digest = hashlib.sha256(os.fsencode(state_dir)).hexdigest()[:16]
    return Path(f"/tmp/coopy-{os.getuid()}") / f"{digest}.sock"


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
        self._unsubscribe = engine.subscribe(self._broadcast)

    async def start(self) -> None:
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        if self.path.parent != self.engine.config.state_dir:
            _make_private(self.path.parent)
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()  # stale: we hold the engine lock, so nobody else serves here
        old = os.umask(0o177)
        try:
            self._server = await asyncio.start_unix_server(self._serve, path=str(self.path), limit=2**24)
        finally:
            os.umask(old)
        os.chmod(self.path, 0o600)

    async def close(self) -> None:
        self._unsubscribe()
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
                self._subscribers.discard(writer)
            elif writer.transport.get_write_buffer_size() > MAX_CLIENT_BUFFER:
                log.warning("dropping a client that does not read its events")
                self._subscribers.discard(writer)
                writer.close()
            else:
                writer.write(line)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.clients += 1
        self._connections.add(writer)
        try:
            while not reader.at_eof():
                try:
                    line = await reader.readline()
                except (ConnectionError, asyncio.LimitOverrunError, ValueError):
                    break
                if not line:
                    break
                reply = self._handle(line, writer)
                if reply is not None:
                    writer.write(wire.dumps(reply))
                    await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass  # the client left, or the engine is stopping
        finally:
            self.clients -= 1
            self._subscribers.discard(writer)
            self._connections.discard(writer)
            writer.close()

    def _handle(self, line: bytes, writer: asyncio.StreamWriter) -> dict[str, Any] | None:
        """Every request gets an answer: a malformed one an error reply (and one line in the log)."""
        try:
            request = json.loads(line)
        except (ValueError, RecursionError):
            log.warning("bad request: not JSON (%d bytes)", len(line))
            return {"id": None, "ok": False, "error": "bad request: not JSON"}
        if not isinstance(request, dict) or not isinstance(request.get("op"), str):
            log.warning("bad request: not an object with an op")
            return {"id": None, "ok": False, "error": "bad request: an object with an op is expected"}
        rid = request.get("id")
        if not isinstance(rid, int | str | None) or isinstance(rid, bool):
            rid = None
        op = request["op"]
        try:
            return {"id": rid, "ok": True, "result": self._answer(op, request, writer)}
        except CoopyError as exc:
            return {"id": rid, "ok": False, "error": str(exc)}
        except Exception as exc:  # noqa: BLE001 - a request must never take the engine down
            log.warning("request %s failed: %s: %s", op[:40], type(exc).__name__, exc)
            return {"id": rid, "ok": False, "error": f"{op[:40]} failed: {type(exc).__name__}: {exc}"}

    def _answer(self, op: str, request: dict[str, Any], writer: asyncio.StreamWriter) -> Any:
        if op == "hello":
            cfg = self.engine.config
            return {"pid": os.getpid(), "pipeline": cfg.pipeline.name, "config": str(cfg.path)}
        if op == "snapshot":
            return self.engine.snapshot()
        if op == "subscribe":
            # the snapshot and the stream that follows it leave no gap: same loop, same tick
            self._subscribers.add(writer)
            return self.engine.snapshot()
        if op == "call":
            name = request.get("name")
            if name == "task_count":
                return self.engine.task_count
            bound = check_call(str(name), request.get("args") or [], request.get("kwargs") or {})
            return getattr(self.engine, str(name))(**bound)
        if op == "stop":
            self.stop_running = bool(request.get("stop_running"))
            self.stop_requested.set()
            return None
        raise CoopyError(f"unknown op {op[:40]!r}")
