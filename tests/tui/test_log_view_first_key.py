"""The first key in the log view acts even when it comes before the view's first frame or a resize.

`g` sent in the same read as the `enter` that opens the view scrolled to line 0, where the view
still was (its scroll to the end waits for the next frame): nothing changed, the view kept
following, and the scroll to the end came after. Found by tracing the real app in tmux.

A resize handled while the view follows scrolls to the end after the next frame (when the new
height is known); a `g` handled before that frame was undone by it: the view went back to
following, as if `g` had been lost (seen in tmux on a busy machine, issue 24).
"""

from __future__ import annotations

from pathlib import Path

from coopy_tui.widgets.log_screen import LogScreen
from tests.helpers.log_view import app_on, open_log, status
from tests.helpers.tui import burst, settle, wait_for


async def test_g_then_a_resize_in_the_same_turn_stays_at_the_first_line(in_tmp: Path) -> None:
    app, _log = app_on(in_tmp, [f"line {i}" for i in range(300)])
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_log(pilot, app, 300)
        await wait_for(pilot, lambda: status(screen).startswith("▼ following"), what="following")
        # What happened under load, in this order before the next frame: the view handles a resize (the
        # screen laid out as it opened) while it follows, then `g`.
        screen.log_view.on_resize()
        screen.action_top()
        await pilot.pause()
        await wait_for(pilot, lambda: "paused at line 1 of 300" in status(screen), what="the first line")
        await pilot.pause()
        await pilot.pause()
        assert "paused at line 1 of 300" in status(screen), status(screen)
        assert int(screen.log_view.scroll_y) == 0


async def test_g_sent_with_the_enter_that_opens_the_log_lands_on_the_first_line(in_tmp: Path) -> None:
    app, _log = app_on(in_tmp, [f"line {i}" for i in range(300)])
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app)(pilot)
        await wait_for(pilot, lambda: app.pane.line_count == 300, what="the log in the pane")
        burst(app, "enter", 1)  # one read from the terminal: the view opens, then `g`, before its first frame
        burst(app, "g", 1, "g")
        await wait_for(pilot, lambda: isinstance(app.screen, LogScreen), what="the log view")
        screen = app.screen
        assert isinstance(screen, LogScreen)
        await wait_for(pilot, lambda: "paused at line 1 of 300" in status(screen), what="the first line")
        await pilot.pause()
        await pilot.pause()
        assert "paused at line 1 of 300" in status(screen), status(screen)
