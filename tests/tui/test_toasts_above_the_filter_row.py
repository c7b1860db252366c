"""A toast never covers the filter row's count (`3 of 7`): with the filter row shown, toasts rise above it."""

from __future__ import annotations

from coopy_core.model import RunState, RunView
from coopy_tui.app import CoopyApp
from tests.helpers.tui import FakeEngine, fixed_clock, screen_text, settle, wait_for


async def test_a_toast_leaves_the_filter_count_in_view() -> None:
    tasks = [f"lr={n}" for n in range(7)]
    runs = [RunView(t, "train", 0, RunState.QUEUED, 0, order=i) for i, t in enumerate(tasks)]
    app = CoopyApp(FakeEngine("f", [("train", 1, False, None)], runs, tasks), clock=fixed_clock)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await settle(app)(pilot)
        await pilot.press("slash", *"lr=1", "enter")
        app.say("a short answer that is long enough to reach the right edge of the screen")
        await wait_for(pilot, lambda: bool(app.screen.query("Toast")), what="the toast")
        await pilot.pause()
        await pilot.pause()
        counts = str(app.query_one("#filter-count").render())
        assert "1 of 7" in counts
        assert counts in screen_text(app), "the whole count is on screen, not under the toast"
        assert "long enough" in screen_text(app), "the toast is on screen too"
