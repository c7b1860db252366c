"""A real HTTP endpoint on 127.0.0.1 (an ephemeral port, a thread) that apprise's `json://` URLs post to: every
post is kept, so a test counts the notifications a person would have received. And the notes' hooks as the
state store has them, to wait until every sender has ended."""

from __future__ import annotations

import json
import sqlite3
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from coopy_core.executors.wrapper import read_status


class NoteServer:
    def __init__(self) -> None:
        self.posts: list[dict[str, Any]] = []  # each post's JSON, with "path" added
        self._lock = threading.Lock()
        posts, lock = self.posts, self._lock

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                data = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with lock:
                    posts.append({**json.loads(data), "path": self.path})
                self.send_response(200)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass  # quiet: pytest shows what the test asserts

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def url(self, path: str = "notes") -> str:
        return f"json://127.0.0.1:{self.port}/{path}"

    def received(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self.posts)

    def titles(self) -> list[str]:
        return [post["title"] for post in self.received()]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def note_hooks(state_dir: Path) -> dict[str, str]:
    """The notes owed in the store: hook id -> state (pending, fired, failed)."""
    conn = sqlite3.connect(f"file:{state_dir / 'state.sqlite'}?mode=ro", uri=True)
    try:
        rows = conn.execute("SELECT id, state FROM hooks WHERE id LIKE 'notify.%'").fetchall()
    finally:
        conn.close()
    return dict(rows)


def senders_ended(state_dir: Path) -> bool:
    """Every note owed was started and its sender has exited (its exit status written): no post can come later."""
    hooks = note_hooks(state_dir)
    return all(state != "pending" and exit_status(state_dir, hook) is not None for hook, state in hooks.items())


def exit_status(state_dir: Path, hook_id: str) -> int | None:
    return read_status(state_dir / "hooks" / f"{hook_id}.status")
