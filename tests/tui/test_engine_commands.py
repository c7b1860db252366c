"""Keys that are engine commands (coopy_tui.engine_commands): R retries the stage or everything, a burst of
presses is that many steps, t on the first in line says so.
"""

from __future__ import annotations

from pathlib import Path

from coopy_core.engine import Engine
from coopy_core.model import RunState
from coopy_tui.app import CoopyApp
from coopy_tui.widgets.retry_screen import RetryScreen
from tests.helpers.tui import burst, wait_for
from tests.helpers.tui_pipelines import failed, settled_failures, started, state, write

# ====================================================================== 2. fast ] / [ presses are lost


def engine_workers(client: object) -> int:
    return next(s for s in client.snapshot().stages if s.name == "work").workers  # type: ignore[attr-defined]


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


async def test_2_ten_presses_in_one_burst_are_ten_steps(background: object) -> None:
    """The engine in another process: its events come back after each reply, so a command built from
    the screen's view of the cap (cap + 1) would send the same number again and again."""
    app = CoopyApp(background, background=True)  # type: ignore[arg-type]
    async with app.run_test(size=(120, 40)) as pilot:
        burst(app, "right_square_bracket", 10, "]")
        await wait_for(
            pilot,
            lambda: app.state.stages["work"].workers == engine_workers(background) and not app.state.pending,
            what="the screen to catch up",
            timeout=10,
        )
        await pilot.pause(0.5)
        assert engine_workers(background) == 11
        burst(app, "left_square_bracket", 10, "[")
        await wait_for(
            pilot,
            lambda: app.state.stages["work"].workers == engine_workers(background) and not app.state.pending,
            what="the screen to catch up",
            timeout=10,
        )
        await pilot.pause(0.5)
        assert engine_workers(background) == 1
    assert background.attempt_history("work") == []  # type: ignore[attr-defined]  # over the socket too


async def test_2_ten_presses_in_one_burst_in_process(tmp_path: Path) -> None:
    engine = await started(
        write(
            tmp_path,
            """
        [tasks.matrix]
        x = [1, 2, 3]
        [[stages]]
        name = "work"
        command = ["sleep", "600"]
        workers = 2
    """,
        )
    )
    try:
        app = CoopyApp(engine)
        async with app.run_test(size=(120, 40)) as pilot:
            burst(app, "right_square_bracket", 10, "]")
            await pilot.pause(0.3)
            assert engine.stage_view("work").workers == 12
            burst(app, "left_square_bracket", 4, "[")
            await pilot.pause(0.3)
            assert engine.stage_view("work").workers == 8
    finally:
        await engine.shutdown(stop_running=True)


async def test_9_t_on_the_first_in_line_says_so(tmp_path: Path) -> None:
    engine = await started(
        write(
            tmp_path,
            """
        [tasks.matrix]
        x = [1, 2, 3]
        [[stages]]
        name = "work"
        command = ["sleep", "600"]
    """,
        )
    )
    try:
        app = CoopyApp(engine)
        async with app.run_test(size=(120, 40), notifications=True) as pilot:
            table = app.panel.table
            await wait_for(pilot, lambda: table.shown_tasks()[:2] == ["x=1", "x=2"], what="the rows")
            await pilot.press("j")  # x=2: queued, first in line
            assert engine.queue_order("work")[0] == "x=2"
            await pilot.press("t")
            await wait_for(
                pilot, lambda: any("already first in line" in n.message for n in app._notifications), what="the answer"
            )
            assert engine.queue_order("work") == ["x=2", "x=3"]
    finally:
        await engine.shutdown(stop_running=True)
