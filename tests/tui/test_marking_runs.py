"""Marking runs (space, ctrl+a; esc clears) and the commands on the marked ones, against a real engine: the engine
changes exactly the marked runs, after one question naming the count; `C` cancels a whole stage; `J` goes from a
blocked run to the run that failed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from coopy_core.engine import Engine
from coopy_core.model import RunState
from coopy_tui.app import CoopyApp
from coopy_tui.marks import MARK
from coopy_tui.widgets.confirm_screen import ConfirmScreen
from tests.helpers.engine import EngineFactory, state_of
from tests.helpers.tui import screen_text, wait_for
from tests.helpers.tui_pipelines import write

TASKS = [f"x={i}" for i in range(1, 9)]


def pipeline(workers: int) -> str:
    return f"""
        [pipeline]
        name = "marks"
        poll_interval = 0.5
        [tasks.matrix]
        x = [1, 2, 3, 4, 5, 6, 7, 8]
        [[stages]]
        name = "first"
        command = ["sh", "-c", "[ {{x}} = 8 ] && exit 3; exec sleep 600"]
        workers = {workers}
        [[stages]]
        name = "second"
        needs = ["first"]
        command = ["sleep", "600"]
    """


def states(engine: Engine, stage: str = "first") -> dict[str, RunState | None]:
    return {t: state_of(engine, t, stage) for t in TASKS}


def question(app: CoopyApp) -> str:
    assert isinstance(app.screen, ConfirmScreen), type(app.screen).__name__
    return app.screen.question


async def test_three_marked_runs_are_cancelled_after_one_question(
    tmp_path: Path, start_engine: EngineFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NO_COLOR", "1")  # the mark is a symbol: it reads without colour
    engine = await start_engine(write(tmp_path, pipeline(workers=7)))
    app = CoopyApp(engine)
    async with app.run_test(size=(120, 40)) as pilot:
        assert app.no_color
        table = app.panel.table
        await wait_for(pilot, lambda: engine.stage_view("first").running == 7, what="seven runs running")
        await pilot.press("j")  # the second row: mark three rows from there
        await pilot.press("space", "space", "space")
        marked = table.shown_tasks()[1:4]
        assert table.selected_task == table.shown_tasks()[4]  # space moved down each time
        for task in table.shown_tasks():
            assert (table.row_text(task)[0][1] == MARK) == (task in marked), task
        rows = [  # the stage panel's rows (its border is heavy; the log pane's below it is not)
            line for line in screen_text(app).splitlines() if line.startswith("┃") and any(t in line for t in TASKS)
        ]
        assert sum(MARK in line for line in rows) == 3
        columns = {line.index(t) for line in rows for t in TASKS if t in line}
        assert len(columns) == 1, "marked or not, every name starts in the same column"
        assert f"{MARK} 3 marked" in screen_text(app)  # on the panel's bottom border
        await pilot.press("c")
        assert question(app).startswith("Cancel 3 runs?")
        await pilot.press("y")
        assert not isinstance(app.screen, ConfirmScreen)  # asked once, not once per run
        await wait_for(
            pilot,
            lambda: all(states(engine)[t] == RunState.CANCELLED for t in marked),
            what="the three marked runs cancelled",
        )
        after = states(engine)
        assert all(after[t] == RunState.RUNNING for t in TASKS[:7] if t not in marked)  # the others go on
        await wait_for(pilot, lambda: not table.marked, what="the marks to go once done")
        assert "marked" not in str(app.panel.border_subtitle)


async def test_marks_all_listed_retry_once_and_esc_clears_marks_before_the_filter(
    tmp_path: Path, start_engine: EngineFactory
) -> None:
    engine = await start_engine(write(tmp_path, pipeline(workers=8)))
    app = CoopyApp(engine)
    async with app.run_test(size=(120, 40)) as pilot:
        table = app.panel.table
        await wait_for(pilot, lambda: engine.stage_view("first").running == 7, what="seven runs running")
        engine.cancel_runs([["first", "x=2"], ["first", "x=3"]])
        await wait_for(pilot, lambda: engine.stage_view("first").counts["cancelled"] == 2, what="two cancelled")
        await pilot.press("slash", *"cancel", "enter")
        await wait_for(pilot, lambda: len(table.shown_tasks()) == 2, what="the two cancelled runs listed")
        await pilot.press("ctrl+a")
        assert table.marked == {"x=2", "x=3"}  # only the runs listed
        await pilot.press("escape")  # the marks go first, the filter stays
        assert not table.marked and table.filter_text
        await pilot.press("ctrl+a", "slash", "escape", "slash", "2", "enter")  # x=3 stays marked, out of the list
        await wait_for(pilot, lambda: table.shown_tasks() == ["x=2"], what="only x=2 listed")
        await pilot.press("r")
        assert question(app).startswith("Retry 2 runs")
        assert "1 of them not listed now (the filter hides them)" in question(app)
        await pilot.press("y")
        await wait_for(
            pilot,
            lambda: all(state_of(engine, t, "first") == RunState.RUNNING for t in ("x=2", "x=3")),
            what="the retried runs running again",
        )
        assert states(engine)["x=1"] == RunState.RUNNING
        await pilot.press("escape")  # no marks left: the filter goes
        assert not table.filter_text and len(table.shown_tasks()) == 8
        assert state_of(engine, "x=4", "first") == RunState.RUNNING


async def test_plus_raises_the_priority_of_the_marked_queued_runs(tmp_path: Path, start_engine: EngineFactory) -> None:
    engine = await start_engine(write(tmp_path, pipeline(workers=1)))
    app = CoopyApp(engine)
    async with app.run_test(size=(120, 40)) as pilot:
        table = app.panel.table
        await wait_for(pilot, lambda: table.shown_tasks()[-2:] == ["x=7", "x=8"], what="the queue listed")
        await pilot.press("end", "k", "space", "space")  # x=7, x=8
        assert table.marked == {"x=7", "x=8"}
        await pilot.press("plus")
        assert question(app).startswith("Raise the priority of 2 runs by 1?")
        await pilot.press("y")
        assert engine.queue_order("first")[:2] == ["x=7", "x=8"]
        assert table.marked == {"x=7", "x=8"}  # kept: a second press moves them again


async def test_C_cancels_every_run_of_the_stage_those_not_reached_too(
    tmp_path: Path, start_engine: EngineFactory
) -> None:
    engine = await start_engine(write(tmp_path, pipeline(workers=2)))
    app = CoopyApp(engine)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: engine.stage_view("first").running == 2, what="two runs running")
        await pilot.press("C")
        assert question(app).startswith("Cancel every run of first that has not ended: 8 runs (2 running, 6 queued)")
        await pilot.press("y")
        await wait_for(
            pilot,
            lambda: set(states(engine).values()) == {RunState.CANCELLED},
            what="every run of first cancelled",
        )
        assert engine.stage_view("second").counts["blocked"] == 8


async def test_J_goes_from_a_blocked_run_to_the_run_that_failed(tmp_path: Path, start_engine: EngineFactory) -> None:
    engine = await start_engine(write(tmp_path, pipeline(workers=8)))
    app = CoopyApp(engine)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: state_of(engine, "x=8", "second") == RunState.BLOCKED, what="second/x=8 blocked")
        await pilot.press("tab")
        assert app.panel.stage == "second"
        await wait_for(pilot, lambda: app.panel.table.select_task("x=8"), what="x=8 listed in second")
        await pilot.press("J")
        assert app.panel.stage == "first"
        assert app.selected() is not None and app.selected().task == "x=8"
        assert app.selected().state == RunState.FAILED


async def test_J_on_a_run_that_waits_on_nothing_says_so(tmp_path: Path, start_engine: EngineFactory) -> None:
    engine = await start_engine(write(tmp_path, pipeline(workers=8)))
    app = CoopyApp(engine)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: engine.stage_view("first").running == 7, what="seven runs running")
        await pilot.press("J")
        assert app.panel.stage == "first"
        assert any("is running: it waits on no run" in n.message for n in app._notifications)


async def test_marked_runs_are_cancelled_in_a_background_engine_over_the_socket(background: Any) -> None:
    app = CoopyApp(background, background=True)
    async with app.run_test(size=(120, 40)) as pilot:
        table = app.panel.table
        await wait_for(pilot, lambda: table.shown_tasks()[-2:] == ["x=3", "x=4"], what="the queue listed")
        await pilot.press("end", "k", "space", "space")
        assert table.marked == {"x=3", "x=4"}
        await pilot.press("c")
        assert question(app).startswith("Cancel 2 runs?")
        await pilot.press("y")

        def engine_states() -> dict[str, str]:
            return {r.task: r.state.value for r in background.snapshot().runs}

        await wait_for(
            pilot,
            lambda: engine_states() == {"x=1": "running", "x=2": "queued", "x=3": "cancelled", "x=4": "cancelled"},
            what="x=3 and x=4 cancelled in the background engine",
        )
