"""`q` `s` in a viewer that did not start the engine stops it promptly (it waited the full 15 s on the
engine, a zombie that only its parent could reap), and the viewer that started it reaps it."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from tests.helpers.cli import status
from tests.helpers.tmux import Tmux, tui_command
from tests.helpers.waiting import poll

pytestmark = [
    pytest.mark.tmux,
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
]


def test_stop_from_a_second_viewer_is_prompt_and_the_engine_is_reaped(sleepy: Path) -> None:
    cfg = sleepy / "coopy.toml"
    first, second = Tmux(sleepy), Tmux(sleepy)
    try:
        first.start(f"{tui_command()} coopy.toml")  # starts the engine: its child
        poll(lambda: first.screen_if(lambda s: "n=1 begins" in s), 60, "a run in the first viewer")
        engine = status(cfg)["engine_pid"]
        second.start(f"{tui_command()} coopy.toml")
        poll(lambda: second.screen_if(lambda s: "n=1 begins" in s), 60, "the second viewer")
        second.keys("q")
        poll(lambda: "Stop the pipeline" in second.screen(), 30, "the quit question")
        asked = time.monotonic()
        second.keys("s")
        said = poll(lambda: second.screen_if(lambda s: "EXITED 0" in s), 60, "the second viewer to exit")
        took = time.monotonic() - asked
        assert "pipeline stopped" in said
        assert took < 8, f"stopping took {took:.1f}s"
        poll(lambda: not Path(f"/proc/{engine}").exists(), 10, "the first viewer to reap its engine")
        assert first.app_pid() is not None, "the first viewer is still up"
    finally:
        first.kill()
        second.kill()
