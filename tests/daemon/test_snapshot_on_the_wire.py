"""What a screen's attach costs the engine: one snapshot, its runs as rows, the same views either way.

A real background engine (`coopy run --detach`) and its real socket, read line by line as a client does."""

from __future__ import annotations

import contextlib
import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from coopy_core import load_config
from coopy_core.config import Config
from coopy_core.model import RunState
from coopy_core.wire import framing as wire
from coopy_core.wire.daemon import connect
from coopy_core.wire.remote import EngineUnavailable
from coopy_core.wire.server import socket_path
from tests.helpers.cli import coopy
from tests.helpers.engine import write_config

CONFIGS = 200
DEADLINE = 40.0


class Line:
    """One connection to the control socket, a JSON object per line each way."""

    def __init__(self, config: Config) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(DEADLINE)
        self.sock.connect(str(socket_path(config.state_dir)))
        self.file = self.sock.makefile("rb")

    def ask(self, request: dict[str, Any]) -> bytes:
        self.sock.sendall(json.dumps(request).encode() + b"\n")
        return self.file.readline()

    def close(self) -> None:
        self.file.close()
        self.sock.close()


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Config]:
    """200 configurations: one runs (a long sleep), the others wait in its queue; a metric and a priority set."""
    cfg = write_config(
        tmp_path,
        f"""
        [tasks.matrix]
        i = {list(range(CONFIGS))}
        [[stages]]
        name = "s"
        workers = 1
        command = ["sh", "-c", "printf '\\\\173\\"loss\\": 0.5\\\\175\\\\n' >> \\"$COOPY_METRICS\\"; sleep 60"]
        """,
    )
    config = load_config(cfg)
    out = coopy("run", "--detach", str(cfg), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    try:
        yield config
    finally:
        with contextlib.suppress(EngineUnavailable):
            client = connect(config)
            client.stop(stop_running=True)
            client.close()


def _steady(line: Line) -> None:
    """Wait until the running run's metric is in (then nothing changes until its sleep ends)."""
    deadline = time.monotonic() + DEADLINE
    while True:
        snap = wire.snapshot(json.loads(line.ask({"id": 0, "op": "snapshot"}))["result"])
        if any(r.metrics for r in snap.runs):
            return
        assert time.monotonic() < deadline, "the running run's metric never came"
        time.sleep(0.05)


def test_rows_carry_the_same_views_in_a_third_of_the_bytes(engine: Config) -> None:
    line = Line(engine)
    try:
        client = connect(engine)
        client.bump("i=150", "s", 5)  # a run that differs from its neighbours
        client.close()
        _steady(line)
        as_objects = line.ask({"id": 1, "op": "snapshot"})
        as_rows = line.ask({"id": 2, "op": "snapshot", "rows": True})
    finally:
        line.close()
    objects = wire.snapshot(json.loads(as_objects)["result"])
    rows = wire.snapshot(json.loads(as_rows)["result"])
    assert objects.seq == rows.seq, "the engine moved between the two asks: compare two moments"
    assert rows == objects
    assert len(rows.runs) == CONFIGS and all(isinstance(r.state, RunState) for r in rows.runs)
    bumped = next(r for r in rows.runs if r.task == "i=150")
    assert bumped.priority == 5 and bumped.order > 0 and bumped.state == "queued"
    assert any(r.metrics == {"loss": 0.5} and r.pid for r in rows.runs), "the running run's metric and pid"
    assert len(as_rows) * 2 < len(as_objects), (len(as_rows), len(as_objects))


def test_a_subscriber_that_asks_for_no_snapshot_gets_its_seq_and_then_the_events(engine: Config) -> None:
    line = Line(engine)
    try:
        _steady(line)
        first = line.ask({"id": 1, "op": "subscribe", "snapshot": False})
        assert len(first) < 200, first[:300]  # not 200 runs built and sent to be thrown away
        seq = json.loads(first)["result"]["seq"]
        assert seq == wire.snapshot(json.loads(line.ask({"id": 2, "op": "snapshot"}))["result"]).seq
        client = connect(engine)
        client.pause("s")
        client.close()
        deadline = time.monotonic() + DEADLINE
        while True:
            data = json.loads(line.file.readline())
            if "event" in data:
                event = wire.event(data["event"])
                assert event.seq > seq
                if event.stage is not None and event.stage.paused:
                    break
            assert time.monotonic() < deadline, "the pause's event never came"
    finally:
        line.close()


def test_a_screen_attaches_after_a_groups_configurations_were_removed(tmp_path: Path) -> None:
    """A value that a stage's groups are over, removed from the matrix: its group is shown removed (the
    snapshot raised KeyError for it, so no screen could attach)."""
    body = """
        [tasks.matrix]
        model = {models}
        seed = [1, 2]
        [[stages]]
        name = "train"
        command = ["true"]
        [[stages]]
        name = "agg"
        over = ["model"]
        workers = 2
        command = ["sleep", "60"]
        """
    cfg = write_config(tmp_path, body.format(models='["a", "b"]'))
    assert coopy("run", "--detach", str(cfg), cwd=tmp_path).returncode == 0
    config = load_config(cfg)
    client = connect(config)
    try:
        deadline = time.monotonic() + DEADLINE
        while sum(r.state == "running" for r in client.snapshot().runs if r.stage == "agg") < 2:
            assert time.monotonic() < deadline, "both groups should start"
            time.sleep(0.05)
        client.stop(stop_running=True)
    finally:
        client.close()
    write_config(tmp_path, body.format(models='["a"]'))
    assert coopy("run", "--detach", str(cfg), cwd=tmp_path).returncode == 0
    try:
        client = connect(load_config(cfg))
        runs = {(r.stage, r.task): r for r in client.snapshot().runs}
        client.close()
        assert runs[("agg", "model=b")].state == RunState.REMOVED
        assert runs[("agg", "model=b")].member_count == 0
        assert runs[("agg", "model=a")].member_count == 2
    finally:
        assert coopy("stop", str(cfg), "--stop-running", cwd=tmp_path).returncode == 0
