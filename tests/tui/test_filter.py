"""The filter (`/`): its counts, no matches said, key=value exactly; a run that leaves it after a command is said
(issue 14, defect 8).
"""

from __future__ import annotations

from pathlib import Path

from coopy_core.engine import Engine
from coopy_core.model import RunState
from coopy_tui.app import CoopyApp
from tests.helpers.tui import FakeEngine, fixed_clock, screen_text, settle, wait_for
from tests.helpers.tui_pipelines import started, write


def stage_count(engine: Engine, stage: str, state: str) -> int:
    return engine.stage_view(stage).counts.get(state, 0)


# ====================================================================== 8. the filter
async def test_8_filter_counts_says_no_matches_and_matches_key_value_exactly(in_tmp: Path) -> None:
    from coopy_core.model import RunView

    tasks = [f"lr={n}" for n in (1, 2, 13, 14, 19)]
    runs = [RunView(t, "train", 0, RunState.QUEUED, 0, order=i) for i, t in enumerate(tasks)]
    engine = FakeEngine("f", [("train", 1, False, None)], runs, tasks)
    app = CoopyApp(engine, clock=fixed_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app)(pilot)
        footer_before = app.query_one("#keys").size.height
        await pilot.press("slash", *"lr=1")
        assert app.panel.table.shown_tasks() == ["lr=1"]
        assert "1 of 5" in screen_text(app)
        assert app.query_one("#keys").size.height == footer_before, "the footer keeps its size while typing"
        assert "esc" in "".join(screen_text(app).splitlines()[-2:])
        await pilot.press(*"*")
        assert app.panel.table.shown_tasks() == ["lr=1", "lr=13", "lr=14", "lr=19"]
        await pilot.press("backspace", "backspace", "backspace", *"zzz")
        assert app.panel.table.shown_tasks() == []
        assert "no matches" in screen_text(app)


async def test_8_a_run_that_leaves_the_filter_after_a_command_says_so(tmp_path: Path) -> None:
    engine = await started(
        write(
            tmp_path,
            """
        [tasks.matrix]
        x = [1, 2]
        [[stages]]
        name = "work"
        command = ["sh", "-c", "exit 3"]
        workers = 2
    """,
        )
    )
    try:
        app = CoopyApp(engine)
        async with app.run_test(size=(120, 40), notifications=True) as pilot:
            await wait_for(pilot, lambda: stage_count(engine, "work", "failed") == 2, what="both to fail")
            await pilot.press("slash", *"failed", "enter")
            await wait_for(pilot, lambda: len(app.panel.table.shown_tasks()) == 2, what="the filtered rows")
            task = app.panel.table.selected_task
            await pilot.press("r")
            await wait_for(
                pilot,
                lambda: any("left the filter" in n.message for n in app._notifications),
                what="the run to say it left the filter",
            )
            message = next(n.message for n in app._notifications if "left the filter" in n.message)
            assert f"work/{task}" in message
    finally:
        await engine.shutdown(stop_running=True)
