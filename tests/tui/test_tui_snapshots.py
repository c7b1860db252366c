"""Screenshots of the UI over a scripted engine state (fixed clock, relative log paths, no blinking).

Regenerate with `pytest tests/tui --snapshot-update` and look at the SVGs before committing them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from coopy_core.model import EventKind
from coopy_tui.app import CoopyApp
from tests.helpers.tui import TASKS, FakeEngine, demo_engine, fixed_clock, settle, wait_for


def make_app(engine: FakeEngine) -> CoopyApp:
    return CoopyApp(engine, clock=fixed_clock)


class TestPipeline:
    def test_demo_mid_run_120x40(self, demo: FakeEngine, snap_compare: Any) -> None:
        app = make_app(demo)
        assert snap_compare(app, terminal_size=(120, 40), run_before=settle(app))

    def test_demo_mid_run_80x24(self, demo: FakeEngine, snap_compare: Any) -> None:
        app = make_app(demo)
        assert snap_compare(app, terminal_size=(80, 24), run_before=settle(app))

    def test_paused_stage(self, demo: FakeEngine, snap_compare: Any) -> None:
        """`tab` to train, `p` pauses it (through the engine), `]` raises its cap to 3."""
        app = make_app(demo)

        async def run_before(pilot: Any) -> None:
            await pilot.press("tab", "p", "right_square_bracket")
            await settle(app)(pilot)

        assert snap_compare(app, terminal_size=(120, 40), run_before=run_before)
        assert demo.stages["train"].paused and demo.stages["train"].workers == 3

    def test_failed_run_with_its_error(self, in_tmp: Path, snap_compare: Any) -> None:
        engine = demo_engine(in_tmp, failed=True)
        app = make_app(engine)
        failed = engine.runs[(TASKS[5], "train")]

        async def run_before(pilot: Any) -> None:
            await pilot.press("tab")
            await wait_for(pilot, lambda: app.panel.table.select_task(failed.task), what="the failed row")
            engine.emit(
                EventKind.MESSAGE,
                message=f"train/{failed.task} attempt 3 failed: exit code 1",
                level="error",
                run=failed,
            )
            await settle(app)(pilot)

        assert snap_compare(app, terminal_size=(120, 40), run_before=run_before)


class TestScreens:
    def test_help_screen(self, demo: FakeEngine, snap_compare: Any) -> None:
        app = make_app(demo)

        async def run_before(pilot: Any) -> None:
            await settle(app)(pilot)
            await pilot.press("question_mark")

        assert snap_compare(app, terminal_size=(120, 40), run_before=run_before)

    def test_log_view(self, demo: FakeEngine, snap_compare: Any) -> None:
        """`tab` to train, `down` to the second running run, `enter`: its log, full screen."""
        app = make_app(demo)

        async def run_before(pilot: Any) -> None:
            await pilot.press("tab")
            await wait_for(pilot, lambda: app.panel.table.select_task(TASKS[1]), what="the running row")
            await settle(app)(pilot)
            await pilot.press("enter")
            await settle(app)(pilot)

        assert snap_compare(app, terminal_size=(100, 30), run_before=run_before)
