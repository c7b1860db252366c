"""The `!` list's heading counts in words a person reads: `1 attempt failed and retried` (it said `1 attempts`)."""

from __future__ import annotations

import dataclasses

from coopy_core.model import EventKind, RunState
from coopy_tui.app import CoopyApp
from coopy_tui.widgets.notices_screen import NoticesScreen
from tests.helpers.tui import TASKS, FakeEngine, fixed_clock, screen_text, settle, wait_for


async def test_one_retried_attempt_is_said_in_the_singular(demo: FakeEngine) -> None:
    app = CoopyApp(demo, clock=fixed_clock)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app)(pilot)
        run = dataclasses.replace(demo.runs[(TASKS[3], "train")], task="lr=7", state=RunState.QUEUED)
        demo.emit(EventKind.MESSAGE, message="train/lr=7 attempt 1 failed; retry 1/2 in 2s", level="warning", run=run)
        await wait_for(pilot, lambda: any(n.task == "lr=7" for n in app.notices.items), what="the retry's notice")
        await pilot.press("exclamation_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, NoticesScreen), what="the notices")
        text = screen_text(app)
        assert "1 attempt failed and retried" in text, text
