"""NoticesScreen (`!`, `n`): the failures and messages, enter jumps to the run."""

from __future__ import annotations

from coopy_core.engine import Engine
from coopy_tui.app import CoopyApp
from coopy_tui.widgets.log_screen import LogScreen
from coopy_tui.widgets.notices_screen import NoticesScreen
from tests.helpers.tui import screen_text, wait_for
from tests.helpers.tui_pipelines import settled_failures


async def test_bang_lists_the_failures_and_enter_jumps_to_the_run(failing: Engine) -> None:
    app = CoopyApp(failing)
    async with app.run_test(size=(120, 40)) as pilot:
        await settled_failures(pilot, failing)
        # failures from before the screen attached come from the snapshot (read), later ones as news
        await wait_for(pilot, lambda: sum(n.kind == "failed" for n in app.notices.items) == 4, what="the history")
        await wait_for(pilot, lambda: app.repaints > 2 and app.notices.unread > 0, what="the news counted")
        # the top bar counts them (at its next repaint: waited for, not assumed)
        await wait_for(pilot, lambda: "! " in screen_text(app).splitlines()[0], what="the top bar's count")
        await pilot.press("exclamation_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, NoticesScreen), what="the notices screen")
        screen = app.screen
        assert isinstance(screen, NoticesScreen)
        text = screen.text()
        for task in ("first/x=1", "first/x=2", "second/x=3", "second/x=4"):
            assert task in text
        await pilot.press("f")  # failures only (the newest notice is the pipeline's end)
        await wait_for(pilot, lambda: bool(screen.shown) and screen.shown[0].kind == "failed", what="failures only")
        newest = screen.shown[0]
        await pilot.press("enter")
        await wait_for(pilot, lambda: not isinstance(app.screen, NoticesScreen), what="the jump to the run")
        assert (app.selected().stage, app.selected().task) == (newest.stage, newest.task)
        assert app.notices.unread == 0


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
