"""LogView: follows the end until scrolled up, and stays bounded."""

from __future__ import annotations

from textual.app import App, ComposeResult

from coopy_tui.widgets.log_view import LogView


class LogApp(App[None]):
    CSS = "LogView { height: 1fr; }"

    def compose(self) -> ComposeResult:
        yield LogView(max_lines=50)


async def test_log_view_follows_the_end_until_scrolled_up_and_stays_bounded() -> None:
    app = LogApp()
    async with app.run_test(size=(40, 20)) as pilot:
        view = app.query_one(LogView)
        view.replace([f"l{i}" for i in range(30)])
        await pilot.pause()
        assert view.scroll_y == view.max_scroll_y > 0
        await pilot.resize_terminal(40, 10)
        await pilot.pause()
        await pilot.pause()
        assert view.scroll_y == view.max_scroll_y  # still at the end after a resize
        view.scroll_up(animate=False)
        await pilot.pause()
        view.append(["new"])
        await pilot.pause()
        assert view.scroll_y < view.max_scroll_y  # the reader scrolled up: do not yank them down
        view.scroll_end(animate=False, immediate=True)
        await pilot.pause()
        view.append([f"m{i}" for i in range(100)], partial="half a li")
        await pilot.pause()
        assert view.scroll_y == view.max_scroll_y
        assert len(view.complete_lines) == 50 and view.lines[-1] == "half a li"
        view.append([], partial="\x1b[31mred")
        assert view.lines[-1] == "\ufffd[31mred"  # escape codes are shown, never interpreted
