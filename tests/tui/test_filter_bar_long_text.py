"""The filter bar keeps the typed end in view when the text is longer than the bar.

The bar sets its scroll range without laying out the screen at every keystroke (the TUI bench's
slowest key): its scrolling must still follow the cursor, and deleting back must scroll back.
"""

from __future__ import annotations

from coopy_core.model import RunState, RunView
from coopy_tui.app import CoopyApp
from tests.helpers.tui import FakeEngine, fixed_clock, screen_text, settle


async def test_a_filter_longer_than_the_bar_shows_its_end_and_then_its_start() -> None:
    runs = [RunView("lr=1", "train", 0, RunState.QUEUED, 0, order=0)]
    app = CoopyApp(FakeEngine("f", [("train", 1, False, None)], runs, ["lr=1"]), clock=fixed_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app)(pilot)
        head, tail = "qqqq" + "a" * 60, "b" * 30 + "END"
        await pilot.press("slash", *head, *tail)
        await pilot.pause()
        bar = app.query_one("#filter")
        assert bar.value == head + tail
        shown = screen_text(app)
        assert "bbbEND" in shown, "the typed end is in view"
        assert "qqqq" not in shown, "the bar scrolled: its start is out of view"
        await pilot.press(*["backspace"] * len(tail), "home")
        await pilot.pause()
        shown = screen_text(app)
        assert "qqqq" in shown and "END" not in shown


async def test_esc_in_the_bar_clears_it_hides_it_and_gives_the_list_its_keys_back() -> None:
    runs = [RunView(t, "train", 0, RunState.QUEUED, 0, order=i) for i, t in enumerate(["lr=1", "lr=2"])]
    app = CoopyApp(FakeEngine("f", [("train", 1, False, None)], runs, ["lr=1", "lr=2"]), clock=fixed_clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app)(pilot)
        list_keys = str(app.query_one("#keys").render())
        await pilot.press("slash", *"lr=2")
        assert app.panel.table.shown_tasks() == ["lr=2"]
        assert "clear it" in str(app.query_one("#keys").render())
        await pilot.press("escape")
        assert app.focused is app.panel.table
        assert not app.query_one("#filter-row").display
        assert app.panel.table.shown_tasks() == ["lr=1", "lr=2"]
        assert str(app.query_one("#keys").render()) == list_keys
        await pilot.press("j")  # the list has the keys: j moves its cursor
        assert app.panel.table.selected_task == "lr=2"
