"""Metrics over the control socket, as `coopy-tui` attached to a background engine sees them: RUN events carry
the latest values, and `metric_series` / `results` are commands like any other (checked, then answered)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from coopy_core import load_config
from coopy_core.model import Event, EventKind
from coopy_core.wire.daemon import connect, ensure_engine
from coopy_core.wire.remote import RemoteCommandError
from tests.helpers.cli import coopy
from tests.helpers.engine import write_config
from tests.helpers.waiting import wait_for

SCRIPT = """
import json, os, sys, time, pathlib
with open(os.environ["COOPY_METRICS"], "a") as f:
    f.write(json.dumps({"step": 1, "loss": 0.5 * int(sys.argv[1])}) + "\\n")
while not pathlib.Path("go").exists():
    time.sleep(0.02)
"""


@pytest.mark.slow
def test_a_background_engine_sends_metrics_and_answers_the_metric_commands(tmp_path: Path) -> None:
    (tmp_path / "w.py").write_text(SCRIPT)
    cfg = write_config(
        tmp_path,
        """
        [pipeline]
        name = "remote"
        poll_interval = 0.2
        [tasks.matrix]
        x = [1, 2]
        [[stages]]
        name = "train"
        command = ["python3", "w.py", "{x}"]
        workers = 2
        """,
    )
    config = load_config(cfg)
    client, _started = ensure_engine(config, events=True)
    events: list[Event] = []
    try:

        async def listen() -> None:
            client.snapshot()
            client.subscribe(events.append)
            deadline = asyncio.get_running_loop().time() + 30
            while asyncio.get_running_loop().time() < deadline:
                if sum(1 for e in events if e.kind == EventKind.RUN and e.run and e.run.metrics) >= 2:
                    return
                await asyncio.sleep(0.05)

        asyncio.run(listen())
        with_metrics = {e.run.task: e.run.metrics for e in events if e.run is not None and e.run.metrics}
        assert with_metrics == {"x=1": {"loss": 0.5}, "x=2": {"loss": 1.0}}
        assert client.metric_series("x=2", "train") == {"loss": [[1.0, 1.0]]}
        table = client.results(group_by=None, sort="-loss")
        assert [r["task"] for r in table["rows"]] == ["x=2", "x=1"]
        with pytest.raises(RemoteCommandError, match="no metric or parameter named 'speed'"):
            client.results(sort="speed")
        with pytest.raises(RemoteCommandError, match="group_by should be a list"):
            client._call("results", group_by="x")
        assert {r.task: r.metrics for r in client.snapshot().runs} == {"x=1": {"loss": 0.5}, "x=2": {"loss": 1.0}}
    finally:
        (tmp_path / "go").touch()
        client.close()
    wait_for(lambda: coopy("status", str(cfg), "--json", cwd=tmp_path).stdout.count('"done"') >= 2, "both done")
    stopper = connect(config)
    stopper.stop()
    stopper.close()
