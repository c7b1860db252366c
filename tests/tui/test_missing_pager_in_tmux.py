"""`v` / `e` with a $PAGER / $EDITOR that does not exist: one notice says so and the screen keeps working
(it hung for good: a blank screen, keys echoed raw, SIGTERM ignored)."""

from __future__ import annotations

import os
import shutil
import signal
from pathlib import Path

import pytest

from tests.helpers.cli import status
from tests.helpers.tmux import Tmux, alive, tui_command
from tests.helpers.waiting import poll

pytestmark = [
    pytest.mark.tmux,
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
]


@pytest.mark.parametrize(("key", "env"), [("v", "PAGER=/nonexistent"), ("e", "EDITOR=/nonexistent VISUAL=")])
def test_missing_program_is_said_and_the_screen_keeps_working(sleepy: Path, key: str, env: str) -> None:
    tmux = Tmux(sleepy)
    app = None
    try:
        tmux.start(f"env {env} {tui_command()} coopy.toml")
        app = poll(tmux.app_pid, 30, "coopy-tui to start")
        poll(lambda: tmux.screen_if(lambda s: "nap begins" in s or "n=1 begins" in s), 60, "a log in the pane")
        tmux.keys(key)
        said = poll(lambda: tmux.screen_if(lambda s: "No such file" in s), 30, "the notice")
        assert said.count("(/nonexistent)") == 1, said
        assert "? keys" in said, "the screen is still drawn"
        tmux.keys("p")  # it still answers: the stage pauses in the engine
        poll(lambda: status(sleepy / "coopy.toml")["stages"][0]["paused"], 30, "nap to be paused")
        poll(lambda: "PAUSED" in tmux.screen(), 30, "the PAUSED badge")
        tmux.keys("q")
        screen = poll(lambda: tmux.screen_if(lambda s: "Detach" in s or "EXITED" in s), 30, "quit")
        if "Detach" in screen:
            tmux.keys("s")
        poll(lambda: "EXITED 0" in tmux.screen(), 60, "coopy-tui to exit")
    finally:
        tmux.kill()
        if alive(app):  # a hung app ignores the hang-up
            assert app is not None
            os.kill(app, signal.SIGKILL)
