"""StageTabs: the tabs show failures and a click switches the stage (issue 14, defect 9)."""

from __future__ import annotations

from pathlib import Path

from coopy_tui.app import CoopyApp
from tests.helpers.tui import demo_engine, fixed_clock, screen_text, settle


# ====================================================================== 9. finding failures
async def test_9_tabs_show_failures_and_a_click_switches_stage(in_tmp: Path) -> None:
    app = CoopyApp(demo_engine(in_tmp, failed=True), clock=fixed_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app)(pilot)
        tabs = screen_text(app).splitlines()[1]
        assert "train" in tabs and "✗1" in tabs, tabs
        x = tabs.index("evaluate")
        await pilot.click("#tabs", offset=(x + 1, 0))
        assert app.panel.stage == "evaluate"
        x = screen_text(app).splitlines()[1].index("train")
        await pilot.click("#tabs", offset=(x + 1, 0))
        assert app.panel.stage == "train"
