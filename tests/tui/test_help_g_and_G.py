"""In the `?` help, G goes to its last line and g back to its first, as in the views it describes (the help
listed `g home` / `G end` for the list, but in the help itself G did nothing: only End moved)."""

from __future__ import annotations

from coopy_tui.app import CoopyApp
from coopy_tui.widgets.help_screen import HelpScreen
from tests.helpers.tui import FakeEngine, fixed_clock, settle, wait_for


async def test_g_and_G_in_help(demo: FakeEngine) -> None:
    app = CoopyApp(demo, clock=fixed_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app)(pilot)
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.pause()
        box = app.screen.query_one("#help-box")
        assert box.max_scroll_y > 10
        await pilot.press("G")
        await wait_for(pilot, lambda: box.scroll_y == box.max_scroll_y, what="the help's last line")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("g")
        await wait_for(pilot, lambda: box.scroll_y == 0, what="the help's first line")
