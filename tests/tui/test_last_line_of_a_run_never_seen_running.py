"""A run that ended between two looks (queued, then done: never seen running, as a fast `echo` is) shows its
log's last line like the others (the audit of issue 24 found evaluate's list with blanks among `evaluated`)."""

from __future__ import annotations

from pathlib import Path

from coopy_tui.app import CoopyApp
from tests.helpers.tui import end_with_log, fixed_clock, one_queued_stage, settle, wait_for


async def test_a_run_seen_queued_then_done_shows_its_last_line(in_tmp: Path) -> None:
    engine = one_queued_stage("evaluate", ["x=1", "x=2"])
    app = CoopyApp(engine, clock=fixed_clock)
    async with app.run_test(size=(100, 24)) as pilot:
        await settle(app)(pilot)
        end_with_log(engine, in_tmp, "evaluate", "x=2", ["evaluating", "evaluated"])
        table = app.panels[0].table
        await wait_for(pilot, lambda: table.last_line("x=2") == "evaluated", what="its last line")
