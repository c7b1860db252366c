"""The name column's header sits over the names, past their state glyph, in every style a list shows
names in (the audit of issue 24 found `task` two cells left of the names it heads)."""

from __future__ import annotations

from pathlib import Path

from coopy_tui.app import CoopyApp
from tests.helpers.tui import fixed_clock, screen_text, settle, wait_for
from tests.helpers.tui_pipelines import sweep_engine


async def test_task_header_starts_where_the_names_start(in_tmp: Path) -> None:
    app = CoopyApp(sweep_engine(in_tmp), clock=fixed_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app)(pilot)
        await pilot.press("tab", "tab")  # evaluate: its names shown as `model=...,lr=...,seed=...`
        await wait_for(pilot, lambda: app.panel.stage == "evaluate", what="the evaluate list")
        lines = screen_text(app).splitlines()
        header = next(line for line in lines if "task" in line and "state" in line)
        rows = [line for line in lines if "model=" in line and line.startswith("┃")]
        assert rows, screen_text(app)
        assert {line.index("model=") for line in rows} == {header.index("task")}, "\n".join([header, *rows])
