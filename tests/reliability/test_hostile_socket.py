"""Hostile requests on the control socket: each gets exactly one error reply and one line in engine.log, on the
same connection, which goes on answering; the engine changes nothing and goes on (before: deep nesting or wrong
argument types closed the connection with no reply and a traceback in engine.log)."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

from coopy_core import load_config
from coopy_core.wire.daemon import connect
from coopy_core.wire.server import MAX_DEPTH, MAX_REQUEST, socket_path
from tests.helpers.cli import coopy
from tests.helpers.waiting import wait_for

CONFIG = """
[pipeline]
poll_interval = 0.5
[resources]
mem = 4
[tasks.matrix]
x = [1, 2]
[[stages]]
name = "s"
command = ["sh", "-c", "while [ ! -e go ]; do sleep 0.05; done; echo $0", "{x}"]
workers = 1
resources = { mem = 1 }
"""


def _call(name: Any, **fields: Any) -> bytes:
    return json.dumps({"id": 1, "op": "call", "name": name, **fields}).encode()


def _nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


# (the request line without its newline, words the error reply must say)
HOSTILE: list[tuple[bytes, str]] = [
    (b"not json at all", "not JSON"),
    (b"", "not JSON"),
    (b"\xff\xfe{\x00", "not JSON"),
    (b"[" * 200_000 + b"]" * 200_000, "not JSON"),  # past the parser's recursion limit
    (_call("add_task", args=[{"x": _nested(MAX_DEPTH + 5)}]), f"nested deeper than {MAX_DEPTH}"),
    (b'{"op": "hello", "pad": "' + b"x" * (3 * MAX_REQUEST) + b'"}', "longer than"),
    (b"y" * (2 * MAX_REQUEST), "longer than"),
    (b'{"op": "call", "name": "set_workers", "kwargs": {"stage": "s", "workers": 1' + b"0" * 5000 + b"}}", "not JSON"),
    (b"[]", "an object with an op"),
    (b'{"op": 5}', "an object with an op"),
    (b'{"op": "bogus"}', "unknown op"),
    (_call(5), "name should be a string"),
    (_call(["set_workers"]), "name should be a string"),
    (_call("nope"), "unknown command"),
    (_call("__init__"), "unknown command"),
    (_call("set_workers", args="s"), "args must be a list"),
    (_call("set_workers", kwargs=[1]), "kwargs"),
    (_call("set_workers", args=["s", 3, 4, 5]), "takes 2 arguments"),
    (_call("pause", kwargs={"stage": "s", "zz": 1}), "unknown argument"),
    (_call("pause", kwargs={}), "missing stage"),
    (_call("set_workers", kwargs={"stage": "s", "workers": "3"}), "workers should be a whole number"),
    (_call("set_workers", kwargs={"stage": ["s"], "workers": 3}), "stage should be a string"),
    (_call("set_workers", kwargs={"stage": {"a": 1}, "workers": 3}), "stage should be a string"),
    (_call("set_workers", kwargs={"stage": "s", "workers": True}), "workers should be a whole number"),
    (_call("set_workers", kwargs={"stage": "s", "workers": 10**30}), "from 1 to"),
    (b'{"op": "call", "name": "set_workers", "kwargs": {"stage": "s", "workers": 1e999}}', "a whole number"),
    (_call("set_workers", kwargs={"stage": "nope", "workers": 2}), "no stage"),
    (_call("bump", kwargs={"stage": "s", "task": "x=2", "delta": 1e308}), "delta should be a whole number"),
    (_call("bump", kwargs={"stage": "s", "task": "x=2", "delta": 10**30}), "out of range"),
    (_call("bump", kwargs={"stage": "s", "task": ["x=2"]}), "task should be a string"),
    (_call("add_task", kwargs={"params": {"x": [1, 2]}}), "a string, a number"),
    (_call("add_task", kwargs={"params": {"x": {"y": 1}}}), "a string, a number"),
    (_call("add_task", kwargs={"params": "x=3"}), "params should be an object"),
    (_call("add_task", kwargs={"params": {"x": 3}, "name": "a" * 500}), "not a valid task name"),
    (_call("add_task", kwargs={"params": {"x": 3}, "name": 7}), "name should be a string or null"),
    (_call("set_pool", kwargs={"name": "mem", "size": _nested(20)}), "pool"),
    (b'{"op": "call", "name": "set_pool", "kwargs": {"name": "mem", "size": NaN}}', "an amount"),
    (_call("set_pool", kwargs={"name": "mem", "size": [None, {"a": []}]}), "pool"),
    (_call("retry_failed", kwargs={"stage": 3}), "stage should be a string or null"),
]


def _reply(sock: socket.socket, reader: Any, line: bytes) -> dict[str, Any]:
    sock.sendall(line + b"\n")
    answer = reader.readline()
    assert answer, f"no reply to {line[:80]!r}: the connection was closed"
    return json.loads(answer)


def _live(cfg: Path) -> Any:
    client = connect(load_config(cfg))
    try:
        snap = client.snapshot().as_json()
    finally:
        client.close()
    return (
        [(s["name"], s["workers"], s["paused"]) for s in snap["stages"]],
        snap["pools"],
        sorted((r["task"], r["state"], r["priority"], r["attempt"]) for r in snap["runs"]),
        len(snap["tasks"]),
    )


def test_every_hostile_request_gets_one_error_reply_and_one_log_line(tmp_path: Path, report: dict[str, Any]) -> None:
    cfg = tmp_path / "coopy.toml"
    cfg.write_text(CONFIG)
    log = tmp_path / ".coopy" / "engine.log"
    assert coopy("run", "--detach", str(cfg), cwd=tmp_path, timeout=60).returncode == 0
    try:
        wait_for(lambda: _live(cfg)[2] == [("x=1", "running", 0, 1), ("x=2", "queued", 0, 0)], "x=1 running", 30)
        before = _live(cfg)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(30)
        sock.connect(str(socket_path(tmp_path / ".coopy")))
        reader = sock.makefile("rb")
        warned = log.read_text().count("coopy.server WARNING")
        for line, words in HOSTILE:
            reply = _reply(sock, reader, line)
            assert reply["ok"] is False and words in reply["error"], (line[:100], reply)
            assert "\n" not in reply["error"]
            now = log.read_text().count("coopy.server WARNING")
            assert now == warned + 1, f"{line[:80]!r}: {now - warned} lines in engine.log, not one"
            warned = now
        hello = _reply(sock, reader, b'{"id": "after", "op": "hello"}')
        assert hello["ok"] and hello["id"] == "after", "the same connection still answers"
        sock.close()
        assert _live(cfg) == before, "a refused request changed something"
        (tmp_path / "go").touch()
        wait_for(lambda: [r[1] for r in _live(cfg)[2]] == ["done", "done"], "the pipeline to go on", 30)
    finally:
        coopy("stop", str(cfg), "--stop-running", cwd=tmp_path, timeout=60)
    text = log.read_text()
    assert "Traceback" not in text, text[-3000:]
    report.update({"bad inputs tried": len(HOSTILE), "replies": len(HOSTILE), "engine tracebacks": 0})
