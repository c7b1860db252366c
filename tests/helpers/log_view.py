"""A running run's log opened in the log view (`enter`) of an app over a FakeEngine, and its status line."""

from __future__ import annotations

from pathlib import Path

from coopy_core.model import RunState, RunView
from coopy_tui.app import CoopyApp
from coopy_tui.widgets.log_screen import LogScreen
from tests.helpers.tui import FakeEngine, fixed_clock, settle, wait_for, write_log


def status(screen: LogScreen) -> str:
    return str(screen.query_one("#log-status").render())


async def open_log(pilot: object, app: CoopyApp, lines: int) -> LogScreen:
    await settle(app)(pilot)
    await pilot.press("enter")  # type: ignore[attr-defined]
    screen = app.screen
    assert isinstance(screen, LogScreen)
    await wait_for(pilot, lambda: screen.log_view.line_count == lines, what="the log")
    return screen


def app_on(root: Path, lines: list[str], log_lines: int = 2000) -> tuple[CoopyApp, Path]:
    log = write_log(root, "s", "t", 1, lines)
    runs = [RunView("t", "s", 1, RunState.RUNNING, 0, log=log, started_at=0)]
    engine = FakeEngine("p", [("s", 1, False, None)], runs, ["t"])
    return CoopyApp(engine, clock=fixed_clock, log_lines=log_lines), root / log
