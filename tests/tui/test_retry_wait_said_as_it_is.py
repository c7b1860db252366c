"""A queued run's retry is said as it is now, not as the engine said it when the attempt failed: `exit code 1;
retry 1/2 in 2s` was still on screen 20 s later with the stage paused. The wait counts down, then says the
run is queued, or that it waits for its paused stage to resume (the log pane and the log view)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from coopy_core.model import EventKind, RunState, RunView
from coopy_tui.app import CoopyApp
from coopy_tui.format import reason_now
from coopy_tui.widgets.log_screen import LogScreen
from tests.helpers.tui import NOW, demo_engine, settle, wait_for

SAID = "exit code 1; retry 1/2 in 2s"


def queued(not_before: float | None, reason: str = SAID) -> RunView:
    return RunView("x=1", "train", 1, RunState.QUEUED, 0, reason=reason, not_before=not_before)


def test_the_wait_counts_down_then_says_queued_or_paused() -> None:
    assert reason_now(queued(NOW + 2), NOW) == SAID
    assert reason_now(queued(NOW + 2), NOW + 1) == "exit code 1; retry 1/2 in 1s"
    assert reason_now(queued(None), NOW + 20) == "exit code 1; retry 1/2: queued"  # the backoff is over
    assert reason_now(queued(NOW + 2), NOW + 20) == "exit code 1; retry 1/2: queued"
    assert reason_now(queued(None), NOW + 20, paused=True) == "exit code 1; retry 1/2 waits for the stage to resume"
    refused = "out of processes; trying again in 4s (not counted as a failure)"
    assert (
        reason_now(queued(NOW + 1, refused), NOW) == "out of processes; trying again in 1s (not counted as a failure)"
    )
    assert reason_now(queued(None, "runs again: its input changed"), NOW) == "runs again: its input changed"
    failed = dataclasses.replace(queued(None), state=RunState.FAILED)
    assert reason_now(failed, NOW + 20) == SAID  # what it said of an attempt that ended: not a wait


async def test_twenty_seconds_later_with_the_stage_paused(in_tmp: Path) -> None:
    engine = demo_engine(in_tmp)
    key, run = next((k, r) for k, r in engine.runs.items() if r.state == RunState.QUEUED and r.not_before)
    assert run.reason == "exit code 1; retry 1/2 in 2s" and run.not_before == NOW + 1
    now = [NOW]
    app = CoopyApp(engine, clock=lambda: now[0])
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app)(pilot)
        assert app.jump_to(run.stage, run.task)
        table = app.panel.table

        def row() -> str:
            keys = [c.key for c in table.columns]  # the focused panel widens: its columns follow
            return table.row_text(run.task)[keys.index("last")] if "last" in keys else ""

        def subtitle() -> str:
            return str(app.pane.border_subtitle)

        await wait_for(pilot, lambda: "retry 1/2 in 1s" in row(), what="the countdown in the last column")
        await pilot.press("p")  # pause train
        await wait_for(pilot, lambda: engine.stages["train"].paused, what="the pause")
        now[0] = NOW + 20  # the backoff ends; the engine puts the run in its (paused) queue
        engine.runs[key] = dataclasses.replace(run, not_before=None)
        engine.emit(EventKind.RUN, run=engine.runs[key])
        await wait_for(pilot, lambda: "retry 1/2: queued" in row(), what="the row said queued")
        assert "in 2s" not in row() and "in 1s" not in row()
        await wait_for(
            pilot, lambda: "retry 1/2 waits for the stage to resume" in subtitle(), what="the pane says the pause"
        )
        await pilot.press("enter")
        screen = app.screen
        assert isinstance(screen, LogScreen)
        details = screen.query_one("#log-details")
        await wait_for(pilot, lambda: "waits for the stage to resume" in str(details.render()), what="the log view")
        await pilot.press("escape")
        await pilot.press("p")  # resumed: now it only waits for a worker
        await wait_for(pilot, lambda: "retry 1/2: queued" in subtitle(), what="queued after the resume")
