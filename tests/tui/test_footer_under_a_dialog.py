"""With a dialog up, the footer lists the dialog's keys: the pipeline view's keys (filter, retry, ...) do
nothing under it, and the bar showed them anyway. The bar keeps its height, so the screen under the dialog
does not move, and the pipeline view's keys come back when the dialog goes."""

from __future__ import annotations

import pytest

from coopy_tui.app import CoopyApp
from coopy_tui.widgets.help_screen import HelpScreen
from coopy_tui.widgets.quit_screen import QuitScreen
from coopy_tui.widgets.summary_screen import SummaryScreen
from tests.helpers.tui import FakeEngine, fixed_clock, screen_text, settle, wait_for


def footer(app: CoopyApp) -> str:
    return " ".join(line.strip() for line in screen_text(app).splitlines()[-2:])


@pytest.mark.parametrize(("background", "leave"), [(True, "d detach"), (False, "l leave running")])
async def test_the_quit_dialog_footer_lists_its_keys(demo: FakeEngine, background: bool, leave: str) -> None:
    app = CoopyApp(demo, clock=fixed_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app)(pilot)
        assert "/ filter" in footer(app)
        lines_before = app.key_bar.size.height
        app.push_screen(QuitScreen(3, background=background))
        await wait_for(pilot, lambda: leave in footer(app), what=f"{leave!r} in the footer")
        shown = footer(app)
        assert "s stop" in shown and "esc stay" in shown, shown
        assert "filter" not in shown and "retry" not in shown, shown
        other = "l leave running" if background else "d detach"  # one word for leaving: the button's
        assert other not in shown, shown
        assert app.key_bar.size.height == lines_before
        await pilot.press("escape")
        await wait_for(pilot, lambda: "/ filter" in footer(app), what="the pipeline view's keys back")
        assert not isinstance(app.screen, QuitScreen)


async def test_a_dialog_over_a_dialog_shows_the_top_ones_keys(demo: FakeEngine) -> None:
    app = CoopyApp(demo, clock=fixed_clock)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app)(pilot)
        await pilot.press("s")
        await wait_for(pilot, lambda: isinstance(app.screen, SummaryScreen), what="the summary")
        await wait_for(pilot, lambda: "open log" in footer(app), what="the summary's keys")
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen), what="its help")
        await wait_for(pilot, lambda: "open log" not in footer(app), what="the help's keys")
        assert "esc close" in footer(app)
        await pilot.press("escape")
        await wait_for(pilot, lambda: "open log" in footer(app), what="the summary's keys again")


async def test_the_held_footer_still_shrinks_when_the_terminal_does(demo: FakeEngine) -> None:
    app = CoopyApp(demo, clock=fixed_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app)(pilot)
        assert app.key_bar.size.height == 2
        app.push_screen(QuitScreen(3, background=True))
        await wait_for(pilot, lambda: "d detach" in footer(app), what="the dialog's keys")
        await pilot.resize_terminal(80, 12)
        await wait_for(pilot, lambda: app.key_bar.size.height == 1, what="a one-line footer at 12 rows")
