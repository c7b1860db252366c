"""The keys of the second round, each against a real engine (or a given screen state) it must change.

R retry all · f / F failed runs · o sort · ! notifications · d graph · y copy path · v / e pager and
editor (here: where the terminal cannot be handed over; tmux does the real round trip) · the log
view's [ ] attempts and / n N search · a keymap from [tui.keys] · the theme · the end notification.
"""

from __future__ import annotations

import textwrap
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from coopy_core.config import load_config
from coopy_core.engine import Engine
from coopy_core.model import RunState, RunView
from coopy_tui.app import CoopyApp
from coopy_tui.settings import load_settings
from coopy_tui.widgets.graph_screen import GraphScreen
from coopy_tui.widgets.log_screen import LogScreen
from coopy_tui.widgets.notices_screen import NoticesScreen
from coopy_tui.widgets.retry_screen import RetryScreen
from tests.helpers.tui import FakeEngine, fixed_clock, screen_text, settle, wait_for


def write(root: Path, body: str) -> Path:
    path = root / "coopy.toml"
    path.write_text(textwrap.dedent(body).lstrip())
    return path


FAILING = """
    [pipeline]
    name = "failing"
    poll_interval = 0.5
    [tasks.matrix]
    x = [1, 2, 3, 4]
    [[stages]]
    name = "first"
    command = ["sh", "-c", "echo attempt $1 of $0; [ $0 -gt 2 ] || [ $1 -gt 1 ] || exit 3", "{x}", "{attempt}"]
    workers = 4
    [[stages]]
    name = "second"
    command = ["sh", "-c", "echo second $0; exit 4", "{x}"]
    workers = 4
"""


@pytest.fixture
async def failing(tmp_path: Path) -> AsyncIterator[Engine]:
    """first: x=1 and x=2 fail their first attempt (a retry passes); second: every run fails."""
    eng = Engine(load_config(write(tmp_path, FAILING)))
    await eng.start()
    yield eng
    await eng.shutdown(stop_running=True)


def state(engine: Engine, stage: str, task: str) -> RunView:
    return next(r for r in engine.snapshot().runs if r.stage == stage and r.task == task)


def failed(engine: Engine, stage: str) -> int:
    return engine.stage_view(stage).counts.get("failed", 0)


async def settled_failures(pilot: object, engine: Engine) -> None:
    await wait_for(
        pilot,
        lambda: failed(engine, "first") == 2 and failed(engine, "second") == 2,
        what="x=1, x=2 failed in first; x=3, x=4 in second",
    )


async def test_R_retries_the_stage_or_everything_after_saying_how_many(failing: Engine) -> None:
    app = CoopyApp(failing)
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await settled_failures(pilot, failing)
        await pilot.press("R")
        assert isinstance(app.screen, RetryScreen)
        assert (app.screen.in_stage, app.screen.in_all) == (2, 4)
        assert "first): 2 runs" in str(app.screen.query_one("#question").render())
        await pilot.press("n")
        assert not isinstance(app.screen, RetryScreen)
        assert state(failing, "first", "x=1").attempt == 1  # no: nothing retried
        await pilot.press("R", "s")  # this stage: first's two runs, whose retry passes
        await wait_for(
            pilot,
            lambda: (
                state(failing, "first", "x=1").state == RunState.DONE
                and state(failing, "first", "x=2").state == RunState.DONE
            ),
            what="the retries to pass",
        )
        assert any("2 runs in first queued again" in n.message for n in app._notifications)
        await wait_for(pilot, lambda: failed(failing, "second") == 4, what="their second runs to fail")
        assert state(failing, "second", "x=3").attempt == 1
        await pilot.press("R", "a")  # every stage: the four second runs
        await wait_for(
            pilot,
            lambda: all(state(failing, "second", f"x={i}").attempt == 2 for i in range(1, 5)),
            what="every failed run to run again",
        )


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


async def test_bang_lists_the_failures_and_enter_jumps_to_the_run(failing: Engine) -> None:
    app = CoopyApp(failing)
    async with app.run_test(size=(120, 40)) as pilot:
        await settled_failures(pilot, failing)
        # failures from before the screen attached come from the snapshot (read), later ones as news
        await wait_for(pilot, lambda: sum(n.kind == "failed" for n in app.notices.items) == 4, what="the history")
        await wait_for(pilot, lambda: app.repaints > 2 and app.notices.unread > 0, what="the news counted")
        assert "! " in screen_text(app).splitlines()[0]  # the top bar counts them
        await pilot.press("exclamation_mark")
        screen = app.screen
        assert isinstance(screen, NoticesScreen)
        text = screen.text()
        for task in ("first/x=1", "first/x=2", "second/x=3", "second/x=4"):
            assert task in text
        await pilot.press("f")  # failures only (the newest notice is the pipeline's end)
        newest = screen.shown[0]
        assert newest.kind == "failed"
        await pilot.press("enter")
        assert not isinstance(app.screen, NoticesScreen)
        assert (app.selected().stage, app.selected().task) == (newest.stage, newest.task)
        assert app.notices.unread == 0


async def test_d_shows_the_graph(tmp_path: Path) -> None:
    eng = Engine(
        load_config(
            write(
                tmp_path,
                """
        [tasks.matrix]
        dataset = ["wine", "iris"]
        seed = [1, 2]
        [[stages]]
        name = "prepare"
        over = ["dataset"]
        command = ["true"]
        [[stages]]
        name = "train"
        command = ["true"]
        [[stages]]
        name = "baseline"
        needs = ["prepare"]
        command = ["true"]
        [[stages]]
        name = "compare"
        needs = ["train", "baseline"]
        over = []
        command = ["true"]
    """,
            )
        )
    )
    await eng.start()
    try:
        app = CoopyApp(eng)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press("d")
            assert isinstance(app.screen, GraphScreen)
            text = screen_text(app)
            assert "prepare ─▶ train, baseline ─▶ compare" in text
            assert "per dataset" in text and "one run for all" in text
            rows = [line.strip("┃ ") for line in text.splitlines()]
            compare = next(row for row in rows if row.startswith("compare "))
            assert "train, baseline" in compare and " 1 " in compare
            prepare = next(row for row in rows if row.startswith("prepare ") and "per dataset" in row)
            assert " 2 " in prepare  # one run per dataset
    finally:
        await eng.shutdown(stop_running=True)


async def test_y_copies_the_log_path_and_v_says_when_it_cannot_hand_over_the_terminal(failing: Engine) -> None:
    app = CoopyApp(failing)
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await settled_failures(pilot, failing)
        run = app.selected()
        assert run is not None and run.log
        await pilot.press("y")
        assert app.clipboard == run.log
        assert any(run.log in n.message for n in app._notifications)
        await pilot.press("v")  # the test terminal cannot be handed over: said, nothing breaks
        await wait_for(
            pilot, lambda: any("Cannot hand the terminal" in n.message for n in app._notifications), what="the refusal"
        )
        assert app.is_running


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


async def test_a_keymap_rebinds_keys(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        [tasks.matrix]
        x = [1, 2]
        [[stages]]
        name = "work"
        command = ["sleep", "600"]
        [tui.keys]
        more_workers = "w"
        toggle_pause = "P"
    """,
    )
    config = load_config(path)
    settings = load_settings(config, user=tmp_path / "nope.toml")
    eng = Engine(config)
    await eng.start()
    try:
        app = CoopyApp(eng, settings=settings)
        async with app.run_test(size=(160, 40)) as pilot:
            await pilot.press("w")
            assert eng.stage_view("work").workers == 2
            await pilot.press("right_square_bracket")  # the old key: gone
            assert eng.stage_view("work").workers == 2
            await pilot.press("p")
            assert not eng.stage_view("work").paused
            await pilot.press("P")
            assert eng.stage_view("work").paused
            footer = app.query_one("#keys").shown()
            assert "P pause" in footer and "w[ workers" in footer.replace("[w", "w[")
    finally:
        await eng.shutdown(stop_running=True)


async def test_theme_and_the_end_notification(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        [tasks.matrix]
        x = [1]
        [[stages]]
        name = "work"
        command = ["true"]
        [tui]
        theme = "catppuccin-latte"
        notify = "osc9"
    """,
    )
    config = load_config(path)
    settings = load_settings(config, user=tmp_path / "nope.toml")
    eng = Engine(config)
    app = CoopyApp.__new__(CoopyApp)
    await eng.start()
    try:
        app = CoopyApp(eng, settings=settings)
        async with app.run_test(size=(120, 40)) as pilot:
            assert app.theme == "catppuccin-latte"
            await wait_for(pilot, lambda: eng.finished, what="the pipeline to finish")
            await wait_for(pilot, lambda: bool(app.terminal_notes), what="the terminal notification")
            assert app.terminal_notes == ["\x1b]9;CooPy pipeline: finished\x07"]
    finally:
        await eng.shutdown(stop_running=True)


async def test_n_is_the_same_list_and_e_y_in_the_log_view(failing: Engine) -> None:
    app = CoopyApp(failing)
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await settled_failures(pilot, failing)
        await pilot.press("n")
        assert isinstance(app.screen, NoticesScreen)
        await pilot.press("escape")
        await pilot.press("f", "enter")
        screen = app.screen
        assert isinstance(screen, LogScreen)
        await pilot.press("y")
        assert app.clipboard == screen.path and screen.path.endswith(".1.log")
        await pilot.press("e")
        await wait_for(
            pilot, lambda: any("Cannot hand the terminal" in n.message for n in app._notifications), what="the refusal"
        )
        assert isinstance(app.screen, LogScreen)


def test_pager_and_editor_commands() -> None:
    from coopy_tui.external import command_for, osc

    assert command_for("pager", {}) == ["less"]
    assert command_for("pager", {"PAGER": "less -R +G"}) == ["less", "-R", "+G"]
    assert command_for("editor", {"EDITOR": "nano"}) == ["nano"]
    assert command_for("editor", {"VISUAL": "code --wait", "EDITOR": "nano"}) == ["code", "--wait"]
    assert command_for("editor", {}) == ["vi"]
    assert command_for("pager", {"PAGER": "'unbalanced"}) == ["less"]
    assert osc("osc777", "CooPy; x", "done\x1b[2J") == "\x1b]777;notify;CooPy, x;done [2J\x07"
    assert osc("bell", "t", "b") == "\x07" and osc("none", "t", "b") == ""
