"""Finding runs on the main screen: f / F jump to failed runs across stages, o cycles the sort."""

from __future__ import annotations

from pathlib import Path

from coopy_core.engine import Engine
from coopy_core.model import RunState, RunView
from coopy_tui.app import CoopyApp
from tests.helpers.tui import FakeEngine, fixed_clock, settle
from tests.helpers.tui_pipelines import settled_failures


async def test_f_and_F_jump_to_failed_runs_across_stages(failing: Engine) -> None:
    app = CoopyApp(failing)
    async with app.run_test(size=(120, 40)) as pilot:
        await settled_failures(pilot, failing)
        await settle(app)(pilot)
        seen = []
        for _ in range(4):
            await pilot.press("f")
            run = app.selected()
            assert run is not None and run.state == RunState.FAILED
            seen.append((run.stage, run.task))
        assert sorted(seen) == [("first", "x=1"), ("first", "x=2"), ("second", "x=3"), ("second", "x=4")]
        await pilot.press("f")  # round again
        assert (app.selected().stage, app.selected().task) == seen[0]
        await pilot.press("F")  # backwards: the last one
        assert (app.selected().stage, app.selected().task) == seen[-1]


async def test_f_with_nothing_failed_says_so(in_tmp: Path) -> None:
    runs = [RunView("a", "s", 1, RunState.DONE, 0)]
    app = CoopyApp(FakeEngine("p", [("s", 1, False, None)], runs, ["a"]), clock=fixed_clock)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await pilot.press("f")
        assert any(n.message == "No failed runs." for n in app._notifications)


async def test_o_cycles_the_sort_name_is_natural(in_tmp: Path) -> None:
    tasks = ["lr=10", "lr=2", "lr=1", "lr=11"]
    runs = [
        RunView("lr=10", "train", 1, RunState.DONE, 0, started_at=0, ended_at=5, order=0),
        RunView("lr=2", "train", 1, RunState.FAILED, 0, started_at=0, ended_at=9, order=1),
        RunView("lr=1", "train", 0, RunState.QUEUED, 0, order=2),
        RunView("lr=11", "train", 1, RunState.RUNNING, 0, started_at=1, order=3),
    ]
    app = CoopyApp(FakeEngine("p", [("train", 1, False, None)], runs, tasks), clock=fixed_clock)
    async with app.run_test(size=(100, 30)) as pilot:
        table = app.panel.table
        assert table.shown_tasks() == ["lr=11", "lr=1", "lr=2", "lr=10"]  # queue order: running, queued, ...
        await pilot.press("o")
        assert table.sort.name == "name" and table.shown_tasks() == ["lr=1", "lr=2", "lr=10", "lr=11"]
        assert "sort: name" in str(app.panel.border_subtitle)
        await pilot.press("o")
        assert table.sort.name == "state" and table.shown_tasks()[0] == "lr=2"  # failed first
        await pilot.press("o")
        assert table.sort.name == "elapsed" and table.shown_tasks() == ["lr=11", "lr=2", "lr=10", "lr=1"]
        await pilot.press("o")
        assert table.sort.name == "queue" and not str(app.panel.border_subtitle)
