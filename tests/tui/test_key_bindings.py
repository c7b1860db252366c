"""Every key against a real engine on a tmp pipeline: the engine's state must change, not only the screen.

Commands are `sleep 600` (runs that stay running) and `exit 3` (runs that fail);
each test stops what it started.
"""

from __future__ import annotations

import os
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from coopy_core.config import load_config
from coopy_core.engine import Engine
from coopy_core.model import RunState
from coopy_tui.app import CoopyApp
from coopy_tui.client import EngineClient
from coopy_tui.keys import KEYS
from coopy_tui.widgets.confirm_screen import ConfirmScreen
from coopy_tui.widgets.help_screen import HelpScreen
from coopy_tui.widgets.log_screen import LogScreen
from coopy_tui.widgets.quit_screen import QuitChoice, QuitScreen
from tests.helpers.tui import wait_for

TASKS = ["x=1", "x=2", "x=3", "x=4"]


def write_config(root: Path, first: str, workers: int = 1) -> Path:
    path = root / "coopy.toml"
    path.write_text(
        textwrap.dedent(
            f"""
            [pipeline]
            name = "keys"
            poll_interval = 0.5

            [tasks.matrix]
            x = [1, 2, 3, 4]

            [[stages]]
            name = "first"
            command = {first}
            workers = {workers}

            [[stages]]
            name = "second"
            command = ["sleep", "600"]
            workers = 1
            """
        )
    )
    return path


SLEEPER = '["sh", "-c", "echo hello {task}; echo second line; exec sleep 600"]'
FAILER = '["sh", "-c", "echo boom {task}; exit 3"]'


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[Engine]:
    eng = Engine(load_config(write_config(tmp_path, SLEEPER)))
    await eng.start()
    yield eng
    await eng.shutdown(stop_running=True)


@pytest.fixture
async def failing(tmp_path: Path) -> AsyncIterator[Engine]:
    eng = Engine(load_config(write_config(tmp_path, FAILER, workers=4)))
    await eng.start()
    yield eng
    await eng.shutdown(stop_running=True)


def run(eng: Engine, task: str, stage: str = "first"):  # noqa: ANN201
    return next(r for r in eng.snapshot().runs if r.task == task and r.stage == stage)


def stage(eng: Engine, name: str = "first"):  # noqa: ANN201
    return next(s for s in eng.snapshot().stages if s.name == name)


def test_engine_is_an_engine_client(tmp_path: Path) -> None:
    assert isinstance(Engine(load_config(write_config(tmp_path, SLEEPER))), EngineClient)


async def select(pilot, app: CoopyApp, task: str) -> None:  # noqa: ANN001
    """Move the cursor with j/k until `task` is selected (the keys, not the API)."""
    table = app.panel.table
    await wait_for(pilot, lambda: task in table.shown_tasks(), what=f"{task} shown")
    for _ in range(20):
        if table.selected_task == task:
            return
        key = "j" if table.shown_tasks().index(task) > table.cursor_row else "k"
        await pilot.press(key)
    raise AssertionError(f"could not select {task}: {table.shown_tasks()}")


async def test_up_down_j_k_move_between_tasks_and_the_log_follows(engine: Engine) -> None:
    app = CoopyApp(engine)
    async with app.run_test(size=(120, 40)) as pilot:
        table = app.panel.table
        assert table.shown_tasks()[0] == "x=1"  # the running one first, then the queue in start order
        assert table.shown_tasks()[1:] == engine.queue_order("first")
        assert app.selected().task == "x=1"
        await pilot.press("down")
        assert app.selected().task == "x=2"
        await pilot.press("j")
        assert app.selected().task == "x=3"
        await pilot.press("k")
        await pilot.press("up")
        assert app.selected().task == "x=1"
        pane = app.query_one("#log-tail")
        await wait_for(pilot, lambda: "hello x=1" in pane.lines, what="the log pane to show x=1's output")


async def test_stage_keys_move_between_stages(engine: Engine) -> None:
    app = CoopyApp(engine)
    async with app.run_test(size=(120, 40)) as pilot:
        assert app.panel.stage == "first"
        for key, expected in [
            ("tab", "second"),
            ("tab", "first"),
            ("shift+tab", "second"),
            ("right", "first"),
            ("left", "second"),
            ("l", "first"),
            ("h", "second"),
        ]:
            await pilot.press(key)
            assert app.panel.stage == expected, key
            assert app.focused is app.panel.table
        await pilot.click("#runs-0")  # the mouse works too, but nothing needs it
        assert app.panel.stage == "first"


async def test_plus_minus_change_priority_and_queue_order(engine: Engine) -> None:
    app = CoopyApp(engine)
    async with app.run_test(size=(120, 40)) as pilot:
        assert engine.queue_order("first") == ["x=2", "x=3", "x=4"]
        await select(pilot, app, "x=4")
        await pilot.press("plus")
        assert run(engine, "x=4").priority == 1
        assert engine.queue_order("first") == ["x=4", "x=2", "x=3"]
        assert app.selected().task == "x=4"  # the cursor followed its run up the list
        assert app.panel.table.shown_tasks()[1] == "x=4"
        await pilot.press("minus", "minus")
        assert run(engine, "x=4").priority == -1
        assert engine.queue_order("first") == ["x=2", "x=3", "x=4"]


async def test_t_moves_a_queued_run_to_the_top(engine: Engine) -> None:
    app = CoopyApp(engine)
    async with app.run_test(size=(120, 40)) as pilot:
        await select(pilot, app, "x=3")
        await pilot.press("t")
        assert engine.queue_order("first")[0] == "x=3"
        assert app.panel.table.shown_tasks()[:2] == ["x=1", "x=3"]


async def test_priority_on_a_running_run_is_refused_with_a_notification(engine: Engine) -> None:
    app = CoopyApp(engine)
    async with app.run_test(size=(120, 40)) as pilot:
        await select(pilot, app, "x=1")
        await pilot.press("plus")
        assert run(engine, "x=1").priority == 0
        assert any("only queued runs" in n.message for n in app._notifications)


async def test_p_pauses_and_resumes_the_stage(engine: Engine) -> None:
    app = CoopyApp(engine)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("p")
        assert stage(engine).paused
        assert "PAUSED" in str(app.panel.border_title)
        await pilot.press("tab", "p")
        assert stage(engine, "second").paused
        await pilot.press("shift+tab", "p")
        assert not stage(engine).paused
        assert "PAUSED" not in str(app.panel.border_title)


async def test_brackets_change_the_worker_cap(engine: Engine) -> None:
    app = CoopyApp(engine)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("right_square_bracket")
        assert stage(engine).workers == 2
        await wait_for(pilot, lambda: stage(engine).running == 2, what="a second run to start")
        await pilot.press("right_square_bracket")
        assert stage(engine).workers == 3
        await pilot.press("left_square_bracket", "left_square_bracket")
        assert stage(engine).workers == 1
        await pilot.press("left_square_bracket")  # there is no cap below 1: said, not sent as 0
        assert stage(engine).workers == 1
        assert any("as far as it goes down" in n.message for n in app._notifications)


async def test_c_asks_then_cancels_a_running_run(engine: Engine) -> None:
    app = CoopyApp(engine)
    async with app.run_test(size=(120, 40)) as pilot:
        await select(pilot, app, "x=1")
        await pilot.press("c")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")
        assert run(engine, "x=1").state == RunState.RUNNING
        await pilot.press("c")
        await pilot.press("enter")  # enter answers the focused, safe button: keep it
        assert run(engine, "x=1").state == RunState.RUNNING
        pid = run(engine, "x=1").pid
        await pilot.press("c", "y")
        await wait_for(pilot, lambda: run(engine, "x=1").state == RunState.CANCELLED, what="the cancel")
        assert pid is not None
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


async def test_c_cancels_a_queued_run(engine: Engine) -> None:
    app = CoopyApp(engine)
    async with app.run_test(size=(120, 40)) as pilot:
        await select(pilot, app, "x=3")
        await pilot.press("c", "y")
        assert run(engine, "x=3").state == RunState.CANCELLED
        assert "x=3" not in engine.queue_order("first")


async def test_r_retries_a_failed_run(failing: Engine) -> None:
    app = CoopyApp(failing)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: stage(failing).counts["failed"] == 4, what="the runs to fail")
        await select(pilot, app, "x=2")
        await pilot.press("r")
        await wait_for(pilot, lambda: run(failing, "x=2").attempt == 2, what="the retry to start")
        await wait_for(pilot, lambda: stage(failing).counts["failed"] == 4, what="the retry to fail again")
        assert run(failing, "x=1").attempt == 1  # only the selected run was retried
        await wait_for(
            pilot,
            lambda: any("x=2 attempt 2 failed: exit code 3" in n.message for n in app._notifications),
            what="the failure as a notification",
        )


async def test_r_on_a_running_run_is_refused(engine: Engine) -> None:
    app = CoopyApp(engine)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("r")
        assert run(engine, "x=1").attempt == 1
        assert any("only failed or cancelled" in n.message for n in app._notifications)


async def test_slash_filters_the_lists_and_esc_clears(engine: Engine) -> None:
    app = CoopyApp(engine)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("slash", "3")
        assert app.panel.table.shown_tasks() == ["x=3"]
        await pilot.press("escape")
        assert app.panel.table.shown_tasks() == ["x=1", "x=2", "x=3", "x=4"]
        await pilot.press("slash", *"running", "enter")
        assert app.panel.table.shown_tasks() == ["x=1"]
        assert app.focused is app.panel.table
        await pilot.press("c", "y")  # filtered rows still are engine commands on the selected run
        await wait_for(pilot, lambda: run(engine, "x=1").state == RunState.CANCELLED, what="the cancel")
        await wait_for(pilot, lambda: "x=1" not in app.panel.table.shown_tasks(), what="x=1 to leave the filter")


async def test_enter_opens_the_log_full_screen_and_follows_it(engine: Engine) -> None:
    app = CoopyApp(engine)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("enter")
        assert isinstance(app.screen, LogScreen)
        view = app.screen.log_view
        await wait_for(pilot, lambda: "second line" in view.lines, what="the log in the full view")
        with open(run(engine, "x=1").log, "a") as f:
            f.write("appended later\n")
        await wait_for(pilot, lambda: "appended later" in view.lines, what="the appended line")
        await pilot.press("escape")
        assert not isinstance(app.screen, LogScreen)


async def test_question_mark_shows_help_with_every_key(engine: Engine) -> None:
    app = CoopyApp(engine)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)


async def test_every_key_is_in_the_footer_and_the_palette(engine: Engine) -> None:
    app = CoopyApp(engine)
    async with app.run_test(size=(160, 40)):
        shown = {b.action for (_n, b, _e, _t) in app.screen.active_bindings.values() if b.show}
        assert {k.action for k in KEYS if k.show} <= shown
        titles = [c.title for c in app.get_system_commands(app.screen)]
        for key in KEYS:
            if key.palette and key.action != "quit":
                assert any(key.help in t for t in titles), key.action
        assert any("Quit" in t for t in titles)


async def test_palette_command_is_an_engine_command(engine: Engine) -> None:
    app = CoopyApp(engine)
    async with app.run_test(size=(120, 40)) as pilot:
        command = next(c for c in app.get_system_commands(app.screen) if "Pause or resume" in c.title)
        await command.callback()
        await pilot.pause()
        assert stage(engine).paused


async def test_q_leave_running_keeps_the_commands_alive(engine: Engine) -> None:
    app = CoopyApp(engine)
    async with app.run_test(size=(120, 40)) as pilot:
        pid = run(engine, "x=1").pid
        await pilot.press("q")
        assert isinstance(app.screen, QuitScreen)
        await pilot.press("escape")  # stay
        assert not isinstance(app.screen, QuitScreen)
        await pilot.press("q", "l")
    assert app.return_value == QuitChoice.LEAVE
    await engine.shutdown(stop_running=False)
    assert pid is not None
    os.kill(pid, 0)  # still running after the engine let go
    # the fixture's cleanup cannot stop it any more (the engine is closed): do it here
    import signal

    os.killpg(pid, signal.SIGKILL)


async def test_q_stop_returns_stop(engine: Engine) -> None:
    app = CoopyApp(engine)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("q", "s")
    assert app.return_value == QuitChoice.STOP


async def test_no_color_is_honoured(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    app = CoopyApp(engine)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("p")
        assert app.no_color
        assert stage(engine).paused
        assert "PAUSED" in str(app.panel.border_title)  # meaning does not ride on colour


async def test_narrow_terminal_shows_one_stage_at_a_time(engine: Engine) -> None:
    """Two stages need 2 x 40 columns side by side; at 60 they take turns (tabs)."""
    app = CoopyApp(engine)
    async with app.run_test(size=(60, 24)) as pilot:
        body = app.query_one("#body")
        assert body.has_class("-tabs")
        assert app.panels[0].display and not app.panels[1].region.width
        await pilot.press("tab")
        assert app.panels[1].region.width and not app.panels[0].region.width
        await pilot.resize_terminal(160, 40)
        await pilot.pause()
        assert body.has_class("-columns")
        assert all(p.region.width for p in app.panels)
