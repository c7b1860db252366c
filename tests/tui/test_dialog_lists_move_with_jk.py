"""The lists on the `!` notices and the summary move with j / k and g / G, as every other list of the TUI does
(only the arrows moved them: j did nothing)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from textual.widgets import OptionList

from coopy_core.model import EventKind, RunState
from coopy_tui.app import CoopyApp
from coopy_tui.widgets.notices_screen import NoticesScreen
from coopy_tui.widgets.summary_screen import SummaryScreen
from tests.helpers.tui import TASKS, FakeEngine, demo_engine, fixed_clock, settle, wait_for


async def moves_with_jk(pilot: object, app: CoopyApp) -> None:
    options = app.screen.query_one(OptionList)
    assert options.option_count >= 3 and options.highlighted == 0
    await pilot.press("j", "j")  # type: ignore[attr-defined]
    assert options.highlighted == 2
    await pilot.press("k")  # type: ignore[attr-defined]
    assert options.highlighted == 1
    await pilot.press("G")  # type: ignore[attr-defined]
    assert options.highlighted == options.option_count - 1
    await pilot.press("g")  # type: ignore[attr-defined]
    assert options.highlighted == 0


async def test_notices_move_with_jk(demo: FakeEngine) -> None:
    app = CoopyApp(demo, clock=fixed_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app)(pilot)
        run = demo.runs[(TASKS[3], "train")]
        for i in range(4):
            again = dataclasses.replace(run, task=f"lr={i}", state=RunState.QUEUED)
            demo.emit(EventKind.MESSAGE, message=f"train/lr={i} attempt 1 failed", level="warning", run=again)
        await wait_for(pilot, lambda: len(app.notices.items) >= 4, what="the notices")
        await pilot.press("exclamation_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, NoticesScreen), what="the notices")
        await moves_with_jk(pilot, app)


async def test_summary_moves_with_jk(in_tmp: Path) -> None:
    engine = demo_engine(in_tmp, failed=True)
    for task in TASKS[:4]:  # four runs failed for good: four lines
        run = engine.runs[(task, "train")]
        engine.runs[(task, "train")] = dataclasses.replace(run, state=RunState.FAILED, reason="exit code 1")
    app = CoopyApp(engine, clock=fixed_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app)(pilot)
        await pilot.press("s")
        await wait_for(pilot, lambda: isinstance(app.screen, SummaryScreen), what="the summary")
        await pilot.pause()
        await moves_with_jk(pilot, app)
