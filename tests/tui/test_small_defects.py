"""The small defects of the third TUI audit (issue 24), each as a person meets it."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from coopy_core.config import load_config
from coopy_core.engine import Engine
from coopy_core.model import EventKind, RunState
from coopy_tui.app import CoopyApp
from coopy_tui.widgets.help_screen import HelpScreen, help_table
from tests.helpers.metrics_tui import metrics_engine
from tests.helpers.tui import FakeEngine, demo_engine, fixed_clock, settle, wait_for


async def test_a_burst_of_j_in_help_scrolls_as_many_lines(demo: FakeEngine) -> None:
    app = CoopyApp(demo, clock=fixed_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app)(pilot)
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.pause()
        box = app.screen.query_one("#help-box")
        assert box.max_scroll_y >= 10
        help_screen = app.screen
        for _ in range(10):  # a burst: all ten before the next frame (Pilot's presses wait for each frame)
            help_screen.action_scroll_down()
        await wait_for(pilot, lambda: box.scroll_y == 10, what="10 lines down")
        for _ in range(4):
            help_screen.action_scroll_up()
        await wait_for(pilot, lambda: box.scroll_y == 6, what="4 lines up")


def test_help_lists_g_and_G() -> None:
    rows = [str(cell) for cell in help_table().columns[0]._cells]  # the pipeline view's keys
    assert any("g" in r.split() and "home" in r for r in rows), rows
    assert any("G" in r.split() and "end" in r for r in rows)


async def test_esc_on_the_main_screen_clears_a_kept_filter(demo: FakeEngine) -> None:
    app = CoopyApp(demo, clock=fixed_clock)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app)(pilot)
        every = app.panel.table.row_count
        await pilot.press("slash", "c", "n", "n", "enter")  # kept: the focus is back on the list
        await wait_for(pilot, lambda: app.panel.table.row_count < every, what="the filter to apply")
        assert app.focused is app.panel.table
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.panel.table.row_count == every, what="esc to clear the filter")
        assert app.filter_bar.value == ""
        assert not app.query_one("#filter-row").display


async def test_the_filter_counts_of_every_run_not_only_the_listed_ones(demo: FakeEngine) -> None:
    """`n of N`: N is the stage's runs (828 in the audit), not only those listed so far (502)."""
    app = CoopyApp(demo, clock=fixed_clock)
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(app)(pilot)
        views = app.views()
        totals = [v.total or app.state.task_count for v in views]
        listed = [p.table.run_count for p in app.panels]
        assert sum(listed) < sum(totals), "the demo has runs not listed yet (waiting)"
        await pilot.press("slash", *"model=", "enter")
        await wait_for(pilot, lambda: "of" in str(app.filter_count.render()), what="the count")
        text = str(app.filter_count.render())
        assert f"of {totals[0]} here" in text, text
        assert f"of {sum(totals)} in all stages" in text, text


QUEUE = """\
[pipeline]
name = "queue"
[tasks.matrix]
dataset = [
    "cifar10-augmented-large-with-crops-1",
    "cifar10-augmented-large-with-crops-2",
    "cifar10-augmented-large-with-crops-3",
]
[[stages]]
name = "nap"
command = ["sleep", "60"]
workers = 1
"""


@pytest.fixture
async def queue(tmp_path: Path) -> AsyncIterator[Engine]:
    """One run sleeping, two queued behind it."""
    (tmp_path / "coopy.toml").write_text(QUEUE)
    eng = Engine(load_config(tmp_path / "coopy.toml"))
    await eng.start()
    yield eng
    await eng.shutdown(stop_running=True)


async def test_plus_and_minus_answer_when_the_priority_column_is_hidden(queue: Engine) -> None:
    app = CoopyApp(queue)
    async with app.run_test(size=(60, 20), notifications=True) as pilot:
        table = app.panel.table
        await wait_for(pilot, lambda: table.row_count == 3 and app.selected() is not None, what="the runs")
        assert "priority" not in [c.key for c in table.columns], "at 60 columns the pri column is hidden"
        await pilot.press("j")  # a queued run
        run = app.selected()
        assert run is not None and run.state == RunState.QUEUED
        panel = app.panel
        await pilot.press("plus")
        await wait_for(pilot, lambda: "priority 1" in str(panel.border_subtitle), what="the new priority said")
        await pilot.press("minus", "minus")
        await wait_for(pilot, lambda: "priority -1" in str(panel.border_subtitle), what="the new one again")
        await pilot.press("k")  # another run: the note was about the one left behind
        await wait_for(pilot, lambda: "priority" not in str(panel.border_subtitle), what="the note to go")


async def test_the_cursor_stays_in_view_when_the_sparkline_row_appears(in_tmp: Path) -> None:
    """`G` puts the cursor on the last row, on the list's last line; the selected run then reports a metric,
    the sparkline row appears above the log pane and the list loses a line: the cursor is still shown."""
    engine = metrics_engine(in_tmp)
    for key in [k for k in engine.series if k[1] == "train"]:  # nothing reported yet: no sparkline
        del engine.series[key]
        engine.runs[key] = dataclasses.replace(engine.runs[key], metrics={})
    app = CoopyApp(engine, clock=fixed_clock)
    async with app.run_test(size=(120, 16)) as pilot:
        await settle(app)(pilot)
        await pilot.press("tab")  # train
        table = app.panel.table
        assert app.panel.stage == "train"
        await pilot.press("G")
        await settle(app)(pilot)
        top, bottom = table._visible()
        assert table.row_count > bottom - top, "the list scrolls at this height"
        assert table.cursor_row == table.row_count - 1 == bottom - 1, "on the list's last line"
        assert not app._spark.has_class("-shown")
        task = table.selected_task
        assert task is not None
        engine.report(task, "train", loss=0.5)
        await wait_for(pilot, lambda: app._spark.has_class("-shown"), what="the sparkline row")
        await settle(app)(pilot)
        await pilot.pause(0.2)
        top, bottom = table._visible()
        assert top <= table.cursor_row < bottom, f"cursor row {table.cursor_row} outside {top}..{bottom}"


async def test_a_retried_run_that_leaves_the_filter_is_said_queued_not_waiting(in_tmp: Path) -> None:
    """`r` under the filter `failed`: the engine moves the run to waiting and, in the same turn, to queued;
    a repaint that falls between the two events said "is waiting now" of a queued run."""
    engine = demo_engine(in_tmp, failed=True)
    failed = next(r for r in engine.runs.values() if r.state == RunState.FAILED)
    app = CoopyApp(engine, clock=fixed_clock)
    async with app.run_test(size=(120, 30), notifications=True) as pilot:
        await settle(app)(pilot)
        await pilot.press("slash", *"failed", "enter")
        await wait_for(pilot, lambda: app.panel.table.row_count == 0, what="the filter")
        app.commands.commanded[(failed.stage, failed.task)] = time.monotonic()  # as `r` on it does
        engine.emit(EventKind.RUN, run=dataclasses.replace(failed, state=RunState.WAITING))
        app.repaint()  # a repaint between the two events of the engine's turn
        engine.emit(EventKind.RUN, run=dataclasses.replace(failed, state=RunState.QUEUED))
        app.repaint()
        await wait_for(pilot, lambda: any("left the filter" in n.message for n in app._notifications), what="the note")
        note = next(n.message for n in app._notifications if "left the filter" in n.message)
        assert f"{failed.stage}/{failed.task} is queued now" in note, note
