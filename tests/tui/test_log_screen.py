"""LogScreen (`enter`): a run's attempts and their logs, search with / n N, and y / e in the log view."""

from __future__ import annotations

from pathlib import Path

from coopy_core.engine import Engine
from coopy_core.model import RunState, RunView
from coopy_tui.app import CoopyApp
from coopy_tui.widgets.log_screen import LogScreen, attempt_log, attempts_of
from tests.helpers.tui import FakeEngine, fixed_clock, settle, wait_for
from tests.helpers.tui_pipelines import settled_failures, state


def test_attempts_from_history_and_paths() -> None:
    assert attempt_log("/x/logs/train/lr=1.3.log", 1) == "/x/logs/train/lr=1.1.log"
    run = RunView("lr=1", "train", 3, RunState.RUNNING, 0, log="/x/logs/train/lr=1.3.log", started_at=5.0)
    history = [
        {
            "attempt": 1,
            "state": "failed",
            "exit_code": 2,
            "reason": "exit code 2",
            "started_at": 1.0,
            "ended_at": 2.0,
            "log": "/x/logs/train/lr=1.1.log",
        }
    ]
    infos = attempts_of(run, history)
    assert [(i.number, i.state, i.log) for i in infos] == [
        (1, "failed", "/x/logs/train/lr=1.1.log"),
        (2, "", "/x/logs/train/lr=1.2.log"),  # not in the history given: its log is still found
        (3, "running", "/x/logs/train/lr=1.3.log"),
    ]


async def test_log_view_earlier_attempts_and_search(failing: Engine) -> None:
    app = CoopyApp(failing)
    async with app.run_test(size=(120, 40)) as pilot:
        await settled_failures(pilot, failing)
        await pilot.press("R", "s")
        await wait_for(pilot, lambda: state(failing, "first", "x=1").state == RunState.DONE, what="the retry")
        await settle(app)(pilot)
        assert app.jump_to("first", "x=1")
        await pilot.press("enter")
        screen = app.screen
        assert isinstance(screen, LogScreen)
        view = screen.log_view
        await wait_for(pilot, lambda: "attempt 2 of 1" in view.lines, what="attempt 2's log")
        assert "attempt 2 of 2" in str(screen.query_one("#log-title").render())
        await pilot.press("left_square_bracket")
        await wait_for(pilot, lambda: "attempt 1 of 1" in view.lines, what="attempt 1's log")
        title = str(screen.query_one("#log-title").render())
        details = str(screen.query_one("#log-details").render())
        assert "attempt 1 of 2" in title and "failed · exit 3" in details
        await pilot.press("left_square_bracket")
        assert "no earlier attempt" in str(screen.query_one("#log-status").render())
        await pilot.press("right_square_bracket")
        await wait_for(pilot, lambda: "attempt 2 of 1" in view.lines, what="back to attempt 2")
        # search: / then the words, enter; n / N move between the matches
        await pilot.press("slash", *"ATTEMPT", "enter")
        assert view.search_term == "attempt"
        assert "match 1 of 1" in str(screen.query_one("#log-status").render())
        await pilot.press("n")
        assert "match 1 of 1" in str(screen.query_one("#log-status").render())
        await pilot.press("slash", *"nothing like it", "enter")
        assert "no match" in str(screen.query_one("#log-status").render())
        await pilot.press("escape")
        assert not isinstance(app.screen, LogScreen)


async def test_search_moves_between_matches(in_tmp: Path) -> None:
    from tests.helpers.tui import write_log

    log = write_log(in_tmp, "s", "t", 1, [f"line {i} {'hit' if i % 10 == 0 else ''}" for i in range(100)])
    runs = [RunView("t", "s", 1, RunState.DONE, 0, log=log, started_at=0, ended_at=1)]
    app = CoopyApp(FakeEngine("p", [("s", 1, False, None)], runs, ["t"]), clock=fixed_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app)(pilot)
        await pilot.press("enter")
        screen = app.screen
        assert isinstance(screen, LogScreen)
        await wait_for(pilot, lambda: len(screen.log_view.lines) == 100, what="the log")
        await pilot.press("g", "slash", *"hit", "enter")
        status = screen.query_one("#log-status")
        assert "match 1 of 10" in str(status.render())
        assert screen.log_view.current_match == 0
        await pilot.press("n", "n")
        assert "match 3 of 10" in str(status.render()) and screen.log_view.current_match == 20
        await pilot.press("N")
        assert "match 2 of 10" in str(status.render()) and screen.log_view.current_match == 10
        assert screen.log_view.scroll_y <= 10 <= screen.log_view.scroll_y + screen.log_view.size.height
