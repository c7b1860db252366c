"""Toasts: a flood of failures is one updating toast that never covers a dialog (issue 14, defect 1)."""

from __future__ import annotations

import dataclasses

from coopy_core.model import EventKind, RunState
from coopy_tui.app import CoopyApp
from coopy_tui.widgets.summary_screen import SummaryScreen
from tests.helpers.tui import TASKS, FakeEngine, fixed_clock, settle, wait_for


# ====================================================================== 1. failure toasts bury the screen
def failure_toasts(app: CoopyApp) -> int:
    """Failure toasts on screen now (everything but the start-up's), by the widgets mounted and by
    Textual's own list of live notifications."""
    live = [n for n in app._notifications if "fail" in (n.title + n.message).lower()]
    mounted = [t for t in app.screen.query("Toast") if "fail" in str(t.render()).lower()]
    return max(len(live), len(mounted))


async def test_1_a_flood_of_failures_is_one_updating_toast_that_never_covers_a_dialog(demo: FakeEngine) -> None:
    """200 failures in 2 s: at most one failure toast on screen at any moment, none over the summary,
    its count is the flood's own, and every failure is kept in the `!` history."""
    app = CoopyApp(demo, clock=fixed_clock)
    failed = demo.runs[(TASKS[3], "train")]
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await settle(app)(pilot)
        most = 0
        for burst in range(20):  # 200 failures in 2 s
            for i in range(10):
                n = burst * 10 + i
                run = dataclasses.replace(failed, task=f"lr={n}", state=RunState.FAILED)
                demo.emit(
                    EventKind.MESSAGE, message=f"train/lr={n} attempt 3 failed: exit code 1", level="error", run=run
                )
            await pilot.pause(0.1)
            most = max(most, failure_toasts(app))
            if burst == 10:
                await pilot.press("s")  # the summary opens in the middle of the flood
                assert isinstance(app.screen, SummaryScreen)
                await pilot.pause(0.2)
                assert failure_toasts(app) == 0, "a failure toast covers the summary"
                assert not list(app.screen.query("Toast")), "no toast covers a dialog"
                await pilot.press("escape")
        assert most <= 1
        await wait_for(
            pilot,
            lambda: any("200 attempts failed" in n.title for n in app._notifications),
            what="the toast to count the whole flood",
        )
        assert failure_toasts(app) == 1
        assert sum(1 for n in app.notices.items if n.kind == "failed") == 200
