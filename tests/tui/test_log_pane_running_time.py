"""The log pane's bottom border says how long the selected run has been running, and the number drawn on
screen moves on with the clock (the border line alone is repainted each second, not the whole pane)."""

from __future__ import annotations

from pathlib import Path

from coopy_core.model import RunState
from coopy_tui.app import CoopyApp
from coopy_tui.format import format_duration
from tests.helpers.tui import NOW, demo_engine, screen_text, settle, wait_for


async def test_the_running_time_on_screen_follows_the_clock(in_tmp: Path) -> None:
    engine = demo_engine(in_tmp)
    now = [NOW]
    app = CoopyApp(engine, clock=lambda: now[0])
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app)(pilot)
        running = next(r for r in engine.runs.values() if r.state == RunState.RUNNING and r.stage == "train")
        await pilot.press("tab")  # to the running run's stage, cursor on it
        await wait_for(pilot, lambda: app.panel.table.select_task(running.task), what="the running run selected")
        assert running.started_at is not None

        def shown(at: float) -> bool:
            want = f"({format_duration(at - running.started_at)})"  # type: ignore[operator]
            return any(want in line and "since" in line for line in screen_text(app).splitlines())

        await wait_for(pilot, lambda: shown(now[0]), what="the running time drawn in the pane's border")
        for step in (7.0, 63.0):
            now[0] += step
            await wait_for(pilot, lambda: shown(now[0]), what=f"the running time {step:g} s later drawn")
