"""The footer cut at 80x24 ends with a `… ? more` mark, so a person knows keys were left out and where they
are; a footer wide enough for every key has no mark."""

from __future__ import annotations

from coopy_tui.app import CoopyApp
from coopy_tui.widgets.help_screen import HelpScreen
from coopy_tui.widgets.key_bar import KeyBar
from tests.helpers.tui import FakeEngine, fixed_clock, screen_text, settle


async def test_the_footer_cut_at_80x24_ends_with_a_more_mark(demo: FakeEngine) -> None:
    app = CoopyApp(demo, clock=fixed_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app)(pilot)
        footer = screen_text(app).splitlines()[-2:]
        assert footer[-1].rstrip().endswith("… ? more"), footer
        assert footer[0].startswith("? keys")  # still first
        assert "pager" not in " ".join(footer)  # cut: v pager is among what was left out
        bar = app.query_one("#keys", KeyBar)
        _line, start, _end, _action = bar._spans[-1]
        await pilot.click("#keys", offset=(start + 2, 1))  # the mark's `?` opens the help
        assert isinstance(app.screen, HelpScreen)


async def test_a_footer_with_every_key_has_no_mark(demo: FakeEngine) -> None:
    app = CoopyApp(demo, clock=fixed_clock)
    async with app.run_test(size=(240, 40)) as pilot:
        await settle(app)(pilot)
        footer = " ".join(screen_text(app).splitlines()[-2:])
        assert "more" not in footer and "results" in footer, footer
