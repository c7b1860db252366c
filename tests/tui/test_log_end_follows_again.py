"""G in the log view follows the log again even when the view is already at its end: a search in a log
shorter than the screen paused following, and G left the status saying `paused at line 1 … (G follows)`."""

from __future__ import annotations

from pathlib import Path

from coopy_core.model import RunState, RunView
from coopy_tui.app import CoopyApp
from coopy_tui.widgets.log_screen import LogScreen
from tests.helpers.tui import FakeEngine, fixed_clock, settle, wait_for, write_log


async def test_g_after_a_search_in_a_short_log_follows(in_tmp: Path) -> None:
    log = write_log(in_tmp, "s", "t", 1, ["train", "epoch 1", "CUDA out of memory"])
    runs = [RunView("t", "s", 1, RunState.RUNNING, 0, log=log, started_at=0)]
    app = CoopyApp(FakeEngine("p", [("s", 1, False, None)], runs, ["t"]), clock=fixed_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app)(pilot)
        await pilot.press("enter")
        screen = app.screen
        assert isinstance(screen, LogScreen)
        await wait_for(pilot, lambda: len(screen.log_view.lines) == 3, what="the log")
        status = screen.query_one("#log-status")
        await pilot.press("slash", *"cuda", "enter")
        assert "paused" in str(status.render())
        await pilot.press("G")
        await pilot.pause()
        shown = str(status.render())
        assert "following" in shown and "paused" not in shown, shown
        assert screen.log_view.following
