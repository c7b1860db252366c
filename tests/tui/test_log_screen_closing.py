"""News of the run while the log view's widgets are going (the app closes with the view open: its widgets are
removed before the screen) is dropped quietly: it raised `NoMatches: '#log-title'` into the app."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from coopy_core.model import RunState, RunView
from coopy_tui.app import CoopyApp
from coopy_tui.widgets.log_screen import LogScreen, attempts_of
from tests.helpers.tui import FakeEngine, fixed_clock, settle, wait_for, write_log


async def test_news_while_the_log_view_closes(in_tmp: Path) -> None:
    log = write_log(in_tmp, "s", "t", 1, ["working"])
    run = RunView("t", "s", 1, RunState.RUNNING, 0, log=log, started_at=0)
    app = CoopyApp(FakeEngine("p", [("s", 1, False, None)], [run], ["t"]), clock=fixed_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app)(pilot)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, LogScreen), what="the log view")
        screen = app.screen
        assert isinstance(screen, LogScreen)
        await screen.query_one("#log-title").remove()
        ended = dataclasses.replace(run, state=RunState.DONE, ended_at=1, exit_code=0)
        screen.update_run(ended, attempts_of(ended, []))
        assert "done" in str(screen.query_one("#log-details").render())  # what is still there is updated
        await pilot.pause()
