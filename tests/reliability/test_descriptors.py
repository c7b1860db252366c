"""Out of file descriptors: the control server caps its connections and sheds new ones (an error reply, then
closed) before the engine runs out of descriptors for its runs (a start the machine refuses anyway waits and
tries again: tests/core/test_refused_starts.py)."""

from __future__ import annotations

import json
import selectors
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

from coopy_core.wire.server import socket_path
from tests.helpers.cli import coopy_argv, status
from tests.helpers.engine import write_config
from tests.helpers.processes import wait_no_processes
from tests.helpers.waiting import poll

LIMIT = 256  # `ulimit -n` for the engine (1024 is the usual default; smaller is quicker to reach)
CONNECTIONS = 400
TASKS = 30


def _gated(tmp: Path, tasks: int) -> Path:
    return write_config(
        tmp,
        f"""
        [pipeline]
        poll_interval = 0.2
        [tasks.matrix]
        i = {list(range(tasks))}
        [[stages]]
        name = "s"
        workers = 4
        command = ["sh", "-c", "until [ -e gate ]; do sleep 0.05; done; echo ran $0 >> ran.txt", "{{task}}"]
        """,
    )


def test_idle_connections_never_starve_the_runs_of_descriptors(tmp_path: Path, report: dict[str, Any]) -> None:
    """400 idle connections to an engine limited to 256 descriptors: the runs still start (before: they failed for
    good with "Too many open files"); connections past the cap get one error line and are closed."""
    cfg = _gated(tmp_path, TASKS)
    output = tmp_path / "output.txt"
    with open(output, "wb") as out:
        engine = subprocess.Popen(
            ["sh", "-c", f'ulimit -n {LIMIT} && exec "$@"', "sh", *coopy_argv(), "run", str(cfg)],
            cwd=tmp_path,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    path = socket_path(tmp_path / ".coopy")
    conns: list[socket.socket] = []
    try:
        poll(path.exists, 30, "the control socket", interval=0.02)
        for _ in range(CONNECTIONS):
            sock = _connect(path)
            if sock is None:
                break  # not even accepted within seconds: the engine stopped accepting
            conns.append(sock)
        shed, kept = _shed_and_kept(conns)
        (tmp_path / "gate").touch()
        assert engine.wait(timeout=120) == 0, output.read_text()[-3000:]
    finally:
        for sock in conns:
            sock.close()
        if engine.poll() is None:
            engine.kill()
    assert "Traceback" not in output.read_text(), output.read_text()[-3000:]
    log = tmp_path / ".coopy" / "engine.log"
    assert "Traceback" not in (log.read_text() if log.exists() else "")
    assert len(conns) == CONNECTIONS, "every connection was accepted (and answered, or kept)"
    assert shed and kept, (len(shed), len(kept))
    assert all("too many connections" in line for line in shed), shed[:3]
    runs = status(cfg)["runs"]
    assert {r["state"] for r in runs} == {"done"} and len(runs) == TASKS
    assert all(r["attempt"] == 1 for r in runs)
    ran = sorted((tmp_path / "ran.txt").read_text().split())
    assert ran == sorted(["ran"] * TASKS + [f"i={i}" for i in range(TASKS)])
    wait_no_processes(str(tmp_path), "no process left")
    report.update({"connections": CONNECTIONS, "kept": len(kept), "shed": len(shed), "runs": TASKS, "lost": 0})


def _connect(path: Path, timeout: float = 10.0) -> socket.socket | None:
    """Connect as a client would: a full backlog (EAGAIN) means wait a moment and try again."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(2.0)
        try:
            sock.connect(str(path))
            return sock
        except BlockingIOError:
            sock.close()
            time.sleep(0.01)
        except OSError:
            sock.close()
            return None
    return None


def _shed_and_kept(conns: list[socket.socket]) -> tuple[list[str], list[socket.socket]]:
    """Shed connections got a line and EOF; kept ones are silent. One idle kept one still answers a request."""
    sel = selectors.DefaultSelector()
    for sock in conns:
        sel.register(sock, selectors.EVENT_READ)
    readable = {key.fileobj for key, _ in sel.select(timeout=2.0)}
    sel.close()
    shed = []
    for sock in conns:
        if sock in readable:
            shed.append(sock.makefile("rb").readline().decode())
    kept = [s for s in conns if s not in readable]
    if kept:
        kept[0].sendall(b'{"id": 7, "op": "hello"}\n')
        reply = json.loads(kept[0].makefile("rb").readline())
        assert reply["id"] == 7 and reply["ok"], reply
    return shed, kept
