"""At 60 columns (the smallest size the TUI is made for) a dialog's buttons are all in view: `q` while runs
ran showed `Detach (d)   Stop the pipeline (s)   Stay (esc` with the last button cut at the dialog's edge."""

from __future__ import annotations

import pytest
from textual.widgets import Button

from coopy_tui.app import CoopyApp
from coopy_tui.widgets.quit_screen import QuitScreen
from tests.helpers.tui import FakeEngine, fixed_clock, screen_text, settle


@pytest.mark.parametrize("background", [True, False])
async def test_quit_buttons_fit_at_60_columns(demo: FakeEngine, background: bool) -> None:
    app = CoopyApp(demo, clock=fixed_clock)
    async with app.run_test(size=(60, 20)) as pilot:
        await settle(app)(pilot)
        app.push_screen(QuitScreen(5, background=background))
        await pilot.pause()
        await pilot.pause()
        inside = app.screen.query_one("#dialog").content_region
        for button in app.screen.query(Button):
            assert inside.contains_region(button.region), (button.id, button.region, inside)
        assert "Stay (esc)" in screen_text(app)
