"""A viewer whose engine stops (here by `coopy stop`) shows that the engine is gone: the top bar says so,
elapsed times stop ticking, keys say the engine is gone (they answered `[Errno 32] Broken pipe`), and
quitting does not claim the engine goes on. When a new engine starts it re-attaches by itself, keeping
the sort and the filter, and its keys reach the new engine."""

from __future__ import annotations

import re
import shutil
import time
from pathlib import Path

import pytest

from tests.helpers.cli import coopy, status
from tests.helpers.tmux import Tmux, tui_command
from tests.helpers.waiting import poll

pytestmark = [
    pytest.mark.tmux,
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
]


def elapsed_of(screen: str, task: str) -> str:
    """The elapsed cell of `task`'s row (`▶ n=1      running      0   1      3s ...`)."""
    row = next(line for line in screen.splitlines() if f" {task} " in line and "running" in line)
    found = re.search(r"running\s+\d+\s+\d+\s+(\S+)", row)
    assert found, row
    return found.group(1)


def test_engine_gone_then_back(sleepy: Path) -> None:
    cfg = sleepy / "coopy.toml"
    tmux = Tmux(sleepy)
    try:
        tmux.start(f"{tui_command()} coopy.toml")
        poll(lambda: tmux.screen_if(lambda s: "n=2 begins" in s), 60, "two runs running")
        tmux.keys("o")  # sort: by name
        poll(lambda: "sort: name" in tmux.screen(), 30, "the sort")
        tmux.keys("/")
        poll(lambda: "filter: words" in tmux.screen(), 30, "the filter bar")
        tmux.keys("n=", "Enter")  # a kept filter matching every run (any value of n)
        poll(lambda: "4 of 4" in tmux.screen(), 30, "the filter count")

        assert coopy("stop", "coopy.toml", cwd=sleepy).returncode == 0  # leaves the sleeps running
        gone = poll(lambda: tmux.screen_if(lambda s: "engine gone" in s), 30, "the engine gone")
        frozen = elapsed_of(gone, "n=1")
        time.sleep(2.5)  # a span of time in which a ticking clock would move
        assert elapsed_of(tmux.screen(), "n=1") == frozen, "elapsed times stop with the engine"
        tmux.keys("p")
        said = poll(lambda: tmux.screen_if(lambda s: "engine is gone" in s), 30, "the key's answer")
        assert "Broken pipe" not in said

        assert coopy("run", "coopy.toml", "--detach", cwd=sleepy).returncode == 0
        back = poll(lambda: tmux.screen_if(lambda s: "Re-attached" in s), 60, "the re-attach")
        assert "engine gone" not in back
        # the sort (panel's bottom border) and the filter's count show once the toasts over them are gone
        poll(lambda: tmux.screen_if(lambda s: "sort: name" in s and "4 of 4" in s), 40, "sort and filter kept")
        tmux.keys("p")  # the new engine takes the keys
        poll(lambda: status(cfg)["stages"][0]["paused"], 30, "nap to be paused by the new engine")

        assert coopy("stop", "coopy.toml", cwd=sleepy).returncode == 0
        poll(lambda: "engine gone" in tmux.screen(), 30, "the engine gone again")
        tmux.keys("q")  # nothing to ask: there is no engine to leave running or to stop
        bye = poll(lambda: tmux.screen_if(lambda s: "EXITED 0" in s), 30, "coopy-tui to exit")
        assert "goes on" not in bye
        assert "engine had stopped" in bye
    finally:
        tmux.kill()
