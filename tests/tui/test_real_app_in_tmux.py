"""The real `coopy-tui coopy.toml` in tmux, on a copy of the repo's demo.

It starts (and starts the engine in the background) and shows every stage; `p` pauses a stage
(checked with `coopy status --json`); `q` then `d` detaches, leaving the engine and its commands
running; a second start attaches to the same engine and finds the same runs (same pid, same attempt,
one start in the log), then `q` `s` stops the pipeline: the engine and its commands.
"""

from __future__ import annotations

import os
import shutil
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.cli import coopy, status
from tests.helpers.tmux import Tmux, alive, tui_command
from tests.helpers.waiting import poll

REPO = Path(__file__).resolve().parents[2]
pytestmark = [
    pytest.mark.tmux,
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
]
STAGES = ("prepare", "train", "evaluate")


@pytest.fixture
def demo_dir(tmp_path: Path) -> Iterator[Path]:
    shutil.copy(REPO / "coopy.toml", tmp_path / "coopy.toml")
    shutil.copytree(REPO / "demo", tmp_path / "demo", ignore=shutil.ignore_patterns("out", "__pycache__"))
    yield tmp_path
    # never leave the engine or demo processes behind, whatever happened
    coopy("stop", "coopy.toml", "--stop-running", cwd=tmp_path, timeout=60)
    try:
        for r in status(tmp_path / "coopy.toml")["runs"]:
            if r["state"] == "running" and alive(r["pid"]):
                os.killpg(r["pid"], signal.SIGKILL)
    except Exception:  # noqa: BLE001
        pass


def test_real_tui_in_tmux_pause_quit_and_readopt(demo_dir: Path) -> None:
    cfg = demo_dir / "coopy.toml"
    first = Tmux(demo_dir)
    second = Tmux(demo_dir)
    try:
        first.start(tui_command() + " coopy.toml")
        screen = poll(lambda: first.screen_if(lambda s: all(n in s for n in STAGES)), 60, "every stage name")
        assert "demo" in screen

        first.keys("p")  # the first stage (prepare) has the focus
        poll(lambda: status(cfg)["stages"][0]["paused"], 30, "prepare to be paused")
        poll(lambda: "PAUSED" in first.screen(), 30, "the PAUSED badge")

        def running() -> list[dict[str, Any]]:
            return [r for r in status(cfg)["runs"] if r["state"] == "running" and alive(r["pid"])]

        poll(lambda: any(r["stage"] == "train" for r in running()), 60, "a training run")
        first.keys("q")
        poll(lambda: "Detach" in first.screen(), 30, "the quit question")
        engine_pid = status(cfg)["engine_pid"]
        before = {(r["stage"], r["task"]): r for r in running()}
        first.keys("d")
        poll(lambda: "EXITED 0" in first.screen(), 30, "coopy-tui to exit")
        after_quit = status(cfg)
        assert after_quit["engine_pid"] == engine_pid and alive(engine_pid), "detached: the engine goes on"
        still = {(r["stage"], r["task"]): r for r in after_quit["runs"] if r["state"] == "running"}
        assert still, "the runs left running are still marked running"
        assert any(alive(r["pid"]) for r in still.values()), "their commands still run"
        assert after_quit["stages"][0]["paused"]  # the pause outlives the session

        second.start(tui_command() + " coopy.toml")
        poll(lambda: all(n in second.screen() for n in STAGES), 60, "the second start")
        assert status(cfg)["engine_pid"] == engine_pid, "the second start attaches to the same engine"
        now = {(r["stage"], r["task"]): r for r in status(cfg)["runs"]}
        for key, old in still.items():
            new = now[key]
            assert new["attempt"] == old["attempt"], f"{key} was started again"
            if new["state"] == "running":
                assert new["pid"] == old["pid"], f"{key} has a new process"
            log = Path(new["log"]).read_text()
            stage, task = key
            for marker in (f"{stage} {task}: step 1/", f"{task} epoch 1/6", f"{task} epoch: step 1/"):
                assert log.count(marker) <= 1, f"{key} started twice in one attempt: {marker!r}"
        assert set(before) >= set(still)

        second.keys("q")
        screen = poll(lambda: second.screen_if(lambda s: "Stop the pipeline" in s or "EXITED" in s), 30, "quit")
        if "Stop the pipeline" in screen:
            second.keys("s")
        poll(lambda: "EXITED 0" in second.screen(), 60, "the second coopy-tui to exit")
        poll(lambda: not alive(engine_pid), 30, "the engine to stop")
        final = status(cfg)
        assert final["engine_pid"] is None
        assert not [r for r in final["runs"] if r["state"] == "running"], "stop leaves nothing running"
    finally:
        first.kill()
        second.kill()


def test_pager_round_trip_gives_the_terminal_back(demo_dir: Path) -> None:
    """`v` hands the terminal to $PAGER (less, on the selected run's log); quitting it brings the screen
    back, drawn again and answering keys (an engine command still goes through)."""
    cfg = demo_dir / "coopy.toml"
    tmux = Tmux(demo_dir)
    try:
        tmux.start(f"env PAGER=less LESS= {tui_command()} coopy.toml")
        poll(lambda: tmux.screen_if(lambda s: all(n in s for n in STAGES) and "? keys" in s), 60, "the screen")
        poll(lambda: tmux.screen_if(lambda s: "prepare model=" in s.split("log ·")[-1]), 60, "a log in the pane")
        tmux.keys("v")
        pager = poll(lambda: tmux.screen_if(lambda s: "? keys" not in s and "prepare model=" in s), 30, "less")
        assert "prepare ▶" not in pager, "the pager has the whole terminal"
        assert "step 1/5" in pager
        tmux.keys("q")
        back = poll(lambda: tmux.screen_if(lambda s: "? keys" in s and all(n in s for n in STAGES)), 30, "the TUI")
        assert "demo" in back
        tmux.keys("p")  # it still answers: the first stage pauses in the engine
        poll(lambda: status(cfg)["stages"][0]["paused"], 30, "prepare to be paused")
        poll(lambda: "PAUSED" in tmux.screen(), 30, "the PAUSED badge")
        tmux.keys("q")
        screen = poll(lambda: tmux.screen_if(lambda s: "Detach" in s or "EXITED" in s), 30, "quit")
        if "Detach" in screen:
            tmux.keys("s")
        poll(lambda: "EXITED 0" in tmux.screen(), 60, "coopy-tui to exit")
    finally:
        tmux.kill()
