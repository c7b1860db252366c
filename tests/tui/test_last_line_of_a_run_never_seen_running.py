"""A run that ended between two looks (queued, then done: never seen running, as a fast `echo` is) shows its
log's last line like the others (the audit of issue 24 found evaluate's list with blanks among `evaluated`)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from coopy_core.model import EventKind, RunState, RunView
from coopy_tui.app import CoopyApp
from tests.helpers.tui import FakeEngine, fixed_clock, settle, wait_for, write_log


async def test_a_run_seen_queued_then_done_shows_its_last_line(in_tmp: Path) -> None:
    runs = [RunView(t, "evaluate", 0, RunState.QUEUED, 0, order=i) for i, t in enumerate(["x=1", "x=2"])]
    engine = FakeEngine("p", [("evaluate", 2, False, None)], runs, ["x=1", "x=2"])
    app = CoopyApp(engine, clock=fixed_clock)
    async with app.run_test(size=(100, 24)) as pilot:
        await settle(app)(pilot)
        log = write_log(in_tmp, "evaluate", "x=2", 1, ["evaluating", "evaluated"])
        done = dataclasses.replace(
            engine.runs[("x=2", "evaluate")], state=RunState.DONE, attempt=1, log=log, exit_code=0, started_at=1.0
        )
        engine.runs[("x=2", "evaluate")] = done
        engine.emit(EventKind.RUN, run=done)
        table = app.panels[0].table
        await wait_for(pilot, lambda: table.last_line("x=2") == "evaluated", what="its last line")
