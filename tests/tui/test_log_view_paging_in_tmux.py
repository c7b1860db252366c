"""The log view in a real terminal: five PgDn keys sent in one write move exactly five pages (an animated page
left the next keys landing short), space / b page as in less, the status line says where the reader is and
`w` wraps."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.sleepy_pipeline import stop_everything
from tests.helpers.tmux import Tmux, tui_command
from tests.helpers.waiting import poll

pytestmark = [
    pytest.mark.tmux,
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
]

TOML = """\
[pipeline]
name = "long"
poll_interval = 1
state_dir = ".coopy"

[tasks.matrix]
n = [1]

[[stages]]
name = "talk"
command = ["sh", "-c", "seq 1 600; echo the long line $(seq -s ' ' 1000 1060) THE-END; sleep 120"]
"""


@pytest.fixture
def long_log(tmp_path: Path) -> Iterator[Path]:
    (tmp_path / "coopy.toml").write_text(TOML)
    yield tmp_path
    stop_everything(tmp_path)


def place(tmux: Tmux) -> int | None:
    """The first line shown, from the status line's `paused at line N of 601`."""
    found = re.search(r"paused at line (\d+) of 601", tmux.screen())
    return int(found.group(1)) if found else None


def test_page_keys_in_a_real_terminal(long_log: Path) -> None:
    tmux = Tmux(long_log)
    try:
        tmux.start(f"{tui_command()} coopy.toml")
        poll(lambda: tmux.screen_if(lambda s: "the long line 1000" in s), 60, "the log in the pane")
        tmux.keys("Enter")
        poll(lambda: tmux.screen_if(lambda s: "▼ following" in s), 30, "the log view, following")
        tmux.keys("g")  # the first key after the screen opens (a resize handled just before it undid it)
        poll(lambda: place(tmux) == 1, 30, "the first line")
        tmux.keys("Space")
        second = poll(lambda: place(tmux) if (place(tmux) or 1) > 1 else None, 30, "a page down")
        height = second - 1
        assert height >= 10, tmux.screen()  # the app's rows, whatever size tmux gave it
        tmux.keys("g")
        poll(lambda: place(tmux) == 1, 30, "the first line again (the place said as the reader moves up)")
        tmux.keys("NPage", "NPage", "NPage", "NPage", "NPage")  # one write: all five before the first is handled
        poll(lambda: place(tmux) == 5 * height + 1, 30, f"five pages down: line {5 * height + 1}")
        tmux.keys("b", "b")
        poll(lambda: place(tmux) == 3 * height + 1, 30, "two pages up")
        assert "THE-END" not in tmux.screen()
        tmux.keys("G", "w")
        screen = poll(lambda: tmux.screen_if(lambda s: "lines wrapped" in s and "THE-END" in s), 30, "wrapped")
        assert "▼ following" in screen
    finally:
        tmux.kill()
