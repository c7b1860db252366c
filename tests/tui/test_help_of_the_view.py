"""`?` lists the keys of the view you are in: the pipeline view's on the main screen, the log view's in the log
view, the graph's on the graph; not every key of every view."""

from __future__ import annotations

from pathlib import Path

from coopy_tui.app import CoopyApp
from coopy_tui.widgets.help_screen import HelpScreen
from coopy_tui.widgets.log_screen import LogScreen
from coopy_tui.widgets.results_screen import ResultsScreen
from tests.helpers.tui import FakeEngine, fixed_clock, screen_text, settle, wait_for
from tests.helpers.tui_pipelines import sweep_engine

MAIN_ONLY = ("Mark or unmark the selected run", "Cancel every run of the stage", "Next stage")
LOG_ONLY = ("Search the log", "The run's earlier attempt", "Back to the pipeline")


async def help_text(app: CoopyApp, pilot: object) -> str:
    await pilot.press("question_mark")  # type: ignore[attr-defined]
    assert isinstance(app.screen, HelpScreen)
    await pilot.pause()  # type: ignore[attr-defined]
    return " ".join(screen_text(app).split())  # one line: a long help text may wrap


async def test_help_on_the_main_screen_lists_the_pipeline_keys_only(demo: FakeEngine) -> None:
    app = CoopyApp(demo, clock=fixed_clock)
    async with app.run_test(size=(160, 60)) as pilot:
        await settle(app)(pilot)
        text = await help_text(app, pilot)
        assert "the pipeline view" in text
        for line in MAIN_ONLY:
            assert line in text, line
        for line in LOG_ONLY:
            assert line not in text, line
        await pilot.press("question_mark")  # ? again closes it
        assert not isinstance(app.screen, HelpScreen)


async def test_help_in_the_log_view_lists_the_log_keys_only(demo: FakeEngine) -> None:
    app = CoopyApp(demo, clock=fixed_clock)
    async with app.run_test(size=(160, 60)) as pilot:
        await settle(app)(pilot)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, LogScreen), what="the log view")
        text = await help_text(app, pilot)
        assert "the log view" in text
        for line in LOG_ONLY:
            assert line in text, line
        for line in MAIN_ONLY:
            assert line not in text, line
        await pilot.press("escape")
        assert isinstance(app.screen, LogScreen)  # back where it was asked


async def test_help_on_the_graph_lists_its_keys(demo: FakeEngine) -> None:
    app = CoopyApp(demo, clock=fixed_clock)
    async with app.run_test(size=(160, 60)) as pilot:
        await settle(app)(pilot)
        await pilot.press("d")
        text = await help_text(app, pilot)
        assert "the graph view" in text and "esc" in text and "close" in text
        for line in (*MAIN_ONLY, *LOG_ONLY):
            assert line not in text, line


async def test_help_on_the_results_says_the_columns_scroll_sideways(in_tmp: Path) -> None:
    app = CoopyApp(sweep_engine(in_tmp), clock=fixed_clock)
    async with app.run_test(size=(160, 60)) as pilot:
        await settle(app)(pilot)
        await pilot.press("m")
        await wait_for(pilot, lambda: isinstance(app.screen, ResultsScreen), what="the results")
        text = await help_text(app, pilot)
        assert "group by" in text and "Scroll the columns sideways" in text
