"""Reading a log in the log view (`enter`) as in less: the status line says whether the view follows the
log or where the reader stopped, and how many lines came in below since; `w` wraps long lines or cuts
them; space / b page down / up; a burst of page keys moves exactly that many pages (no animation that a
key lands in the middle of)."""

from __future__ import annotations

from pathlib import Path

from tests.helpers.log_view import app_on, open_log, status
from tests.helpers.tui import burst, screen_text, wait_for

LONG = "the long line: " + " ".join(f"w{i:03d}" for i in range(40)) + " THE-END"


async def test_the_status_says_following_or_where_the_reader_stopped_and_what_came_below(in_tmp: Path) -> None:
    app, log = app_on(in_tmp, [f"line {i}" for i in range(200)])
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_log(pilot, app, 200)
        view = screen.log_view
        assert status(screen).startswith("▼ following"), status(screen)
        await pilot.press("b")  # a page up, as in less
        height = view.scrollable_content_region.height
        top = int(view.scroll_y)
        assert top == view.max_scroll_y - height
        assert f"paused at line {top + 1} of 200" in status(screen), status(screen)
        with log.open("a") as f:
            f.write("".join(f"more {i}\n" for i in range(7)))
        await wait_for(pilot, lambda: view.line_count == 207, what="the new lines")
        await wait_for(pilot, lambda: "7 new lines below" in status(screen), what="the new lines counted")
        assert int(view.scroll_y) == top, "the reader is not pulled down"
        await pilot.press("G")
        await wait_for(pilot, lambda: status(screen).startswith("▼ following"), what="following again")
        assert "more 6" in screen_text(app)


async def test_space_and_b_page_and_a_burst_of_pages_lands_exactly(in_tmp: Path) -> None:
    app, _log = app_on(in_tmp, [f"line {i}" for i in range(400)])
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_log(pilot, app, 400)
        view = screen.log_view
        await pilot.press("g")
        height = view.scrollable_content_region.height
        await pilot.press("space")
        assert view.scroll_y == height
        assert f"paused at line {height + 1} of 400" in status(screen)
        await pilot.press("b")
        assert view.scroll_y == 0
        assert "paused at line 1 of 400" in status(screen), "the place follows the reader up too"
        burst(app, "pagedown", 5)  # five keys in one read, before the app handles the first
        await wait_for(pilot, lambda: view.scroll_y == 5 * height, timeout=5, what=f"5 pages ({5 * height})")
        burst(app, "space", 3)
        burst(app, "pageup", 2)
        await wait_for(pilot, lambda: view.scroll_y == 6 * height, timeout=5, what="6 pages")
        await pilot.pause(0.3)  # nothing moves on after the keys (an animation would)
        assert view.scroll_y == 6 * height
        assert f"paused at line {6 * height + 1} of 400" in status(screen)


async def test_w_wraps_long_lines_and_cuts_them_again(in_tmp: Path) -> None:
    app, _log = app_on(in_tmp, ["first", LONG, *[f"line {i}" for i in range(3)]])
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_log(pilot, app, 5)
        assert "THE-END" not in screen_text(app), "cut at the screen's edge"
        assert "long lines cut" in status(screen)
        await pilot.press("w")
        await pilot.pause()
        text = screen_text(app)
        assert "THE-END" in text and "w000" in text, text
        assert "lines wrapped" in status(screen)
        rows = [line for line in text.splitlines() if "w0" in line]
        assert len(rows) >= 3, rows  # one log line on several rows
        assert screen.log_view.virtual_size.width <= screen.log_view.size.width, "no sideways scroll"
        await pilot.press("w")
        await pilot.pause()
        assert "THE-END" not in screen_text(app)
        assert "long lines cut" in status(screen)


async def test_search_finds_a_match_below_wrapped_lines(in_tmp: Path) -> None:
    """40 long lines take 120 rows when wrapped: the match on line 41 is on row 121, not row 41."""
    lines = [LONG.replace("THE-END", f"#{i}") for i in range(40)] + ["the TARGET line"]
    lines += [f"line {i}" for i in range(60)]
    app, _log = app_on(in_tmp, lines)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_log(pilot, app, 101)
        await pilot.press("w", "g", "slash", *"target", "enter")
        assert "match 1 of 1" in status(screen)
        assert "the TARGET line" in screen_text(app), "the view moved to the match's row"


async def test_a_log_longer_than_what_is_kept_numbers_its_lines_of_the_last_n(in_tmp: Path) -> None:
    """Only the last 50 lines of a 120-line log are kept: the top one is not the file's line 1."""
    app, log = app_on(in_tmp, [f"line {i}" for i in range(120)], log_lines=50)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_log(pilot, app, 50)
        await pilot.press("g")
        assert "paused at line 1 of the last 50" in status(screen), status(screen)
        assert "line 70" in screen_text(app)


async def test_w_is_said_once_by_the_status_line(in_tmp: Path) -> None:
    app, _log = app_on(in_tmp, [LONG] * 30)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_log(pilot, app, 30)
        await pilot.press("w")
        await wait_for(pilot, lambda: screen.log_view.wrap, what="wrapped")
        assert status(screen).count("wrap") == 1, status(screen)
        await pilot.press("w")
        await wait_for(pilot, lambda: not screen.log_view.wrap, what="cut again")
        assert "long lines cut" in status(screen) and status(screen).count("cut") == 1, status(screen)
