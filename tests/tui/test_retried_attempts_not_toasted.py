"""Only failures for good raise a toast; an attempt that will be retried goes to the `!` history only; the
same notice said again in a row is one line with its count; a long failure's toast stays small."""

from __future__ import annotations

import dataclasses

from coopy_core.model import EventKind, RunState
from coopy_tui.app import CoopyApp
from coopy_tui.widgets.notices_screen import NoticesScreen
from tests.helpers.tui import TASKS, FakeEngine, fixed_clock, settle, wait_for


def toasts(app: CoopyApp) -> list[str]:
    return [f"{n.title} {n.message}" for n in app._notifications]


async def test_retried_attempts_are_history_only(demo: FakeEngine) -> None:
    app = CoopyApp(demo, clock=fixed_clock)
    run = demo.runs[(TASKS[3], "train")]
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await settle(app)(pilot)
        before = len(app.notices.items)
        for i in range(6):
            again = dataclasses.replace(run, task=f"lr={i}", state=RunState.QUEUED)
            demo.emit(
                EventKind.MESSAGE, message=f"train/lr={i} attempt 1 failed; retry 1/2 in 2s", level="warning", run=again
            )
        await wait_for(pilot, lambda: len(app.notices.items) == before + 6, what="the six retries in the history")
        await pilot.pause(1.2)  # past the toast throttle: a toast held back would be up now
        await settle(app)(pilot)
        assert not [t for t in toasts(app) if "fail" in t.lower()], toasts(app)

        failed = dataclasses.replace(run, task="lr=9", state=RunState.FAILED)
        reason = "train/lr=9 attempt 3 failed: " + "Traceback line that goes on and on " * 10
        demo.emit(EventKind.MESSAGE, message=reason, level="error", run=failed)
        await wait_for(pilot, lambda: any("failed" in t for t in toasts(app)), what="the failure toast")
        toast = next(n for n in app._notifications if "failed" in n.title)
        assert len(toast.message) < 120, "a long failure keeps its toast small (the whole text is in !)"
        await settle(app)(pilot)
        shown = [t for t in app.screen.query("Toast") if "failed" in str(t.render())]
        assert shown and all(t.outer_size.height <= 6 for t in shown), [t.outer_size for t in shown]


async def test_the_same_notice_again_is_merged(demo: FakeEngine) -> None:
    app = CoopyApp(demo, clock=fixed_clock)
    run = dataclasses.replace(demo.runs[(TASKS[3], "train")], state=RunState.FAILED)
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await settle(app)(pilot)
        before = len(app.notices.items)
        for _ in range(3):
            demo.emit(EventKind.MESSAGE, message="the disk is slow", level="warning")
        demo.emit(EventKind.MESSAGE, message="train/x attempt 3 failed: exit code 1", level="error", run=run)
        await wait_for(pilot, lambda: len(app.notices.items) >= before + 2, what="the notices")
        await settle(app)(pilot)
        assert len(app.notices.items) == before + 2
        await pilot.press("!")
        screen = app.screen
        assert isinstance(screen, NoticesScreen)
        text = screen.text()
        assert text.count("the disk is slow") == 1
        assert "the disk is slow (×3)" in text
