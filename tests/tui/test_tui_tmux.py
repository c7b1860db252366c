"""The real `coopy-tui coopy.toml` in tmux, on a copy of the repo's demo.

It starts (and starts the engine in the background) and shows every stage; `p` pauses a stage
(checked with `coopy status --json`); `q` then `d` detaches, leaving the engine and its commands
running; a second start attaches to the same engine and finds the same runs (same pid, same attempt,
one start in the log), then `q` `s` stops the pipeline: the engine and its commands.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
pytestmark = [
    pytest.mark.tmux,
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
]
STAGES = ("prepare", "train", "evaluate")


def tui_command() -> str:
    script = Path(sys.executable).parent / "coopy-tui"
    return str(script) if script.exists() else f"{sys.executable} -m coopy_tui"


class Tmux:
    def __init__(self, cwd: Path) -> None:
        self.cwd = cwd
        self.name = f"coopy-test-{uuid.uuid4().hex[:8]}"

    def run(self, *args: str) -> str:
        return subprocess.run(["tmux", *args], capture_output=True, text=True, check=True, timeout=30).stdout

    def start(self, command: str) -> None:
        self.run(
            "new-session",
            "-d",
            "-x",
            "120",
            "-y",
            "40",
            "-s",
            self.name,
            "-c",
            str(self.cwd),
            command + "; echo EXITED $?; sleep 600",
        )

    def keys(self, *keys: str) -> None:
        self.run("send-keys", "-t", self.name, *keys)

    def screen(self) -> str:
        return self.run("capture-pane", "-p", "-t", self.name)

    def screen_if(self, condition: Callable[[str], bool]) -> str:
        """The screen if `condition` holds for it, else ""."""
        text = self.screen()
        return text if condition(text) else ""

    def kill(self) -> None:
        subprocess.run(["tmux", "kill-session", "-t", self.name], capture_output=True, timeout=30)


def poll(condition: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(0.2)


def status(cwd: Path) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-m", "coopy_core.cli", "status", "coopy.toml", "--json"],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    return json.loads(out)


def alive(pid: int | None) -> bool:
    if pid is None:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie nobody reaped yet is gone for our purposes
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


@pytest.fixture
def demo_dir(tmp_path: Path) -> Iterator[Path]:
    shutil.copy(REPO / "coopy.toml", tmp_path / "coopy.toml")
    shutil.copytree(REPO / "demo", tmp_path / "demo", ignore=shutil.ignore_patterns("out", "__pycache__"))
    yield tmp_path
    # never leave the engine or demo processes behind, whatever happened
    subprocess.run([sys.executable, "-m", "coopy_core.cli", "stop", "coopy.toml", "--stop-running"],
                   cwd=tmp_path, capture_output=True, timeout=60)
    try:
        for r in status(tmp_path)["runs"]:
            if r["state"] == "running" and alive(r["pid"]):
                os.killpg(r["pid"], signal.SIGKILL)
    except Exception:  # noqa: BLE001
        pass


def test_real_tui_in_tmux_pause_quit_and_readopt(demo_dir: Path) -> None:
    first = Tmux(demo_dir)
    second = Tmux(demo_dir)
    try:
        first.start(tui_command() + " coopy.toml")
        screen = poll(lambda: first.screen_if(lambda s: all(n in s for n in STAGES)), 60, "every stage name")
        assert "demo" in screen

        first.keys("p")  # the first stage (prepare) has the focus
        poll(lambda: status(demo_dir)["stages"][0]["paused"], 30, "prepare to be paused")
        poll(lambda: "PAUSED" in first.screen(), 30, "the PAUSED badge")

        def running() -> list[dict[str, Any]]:
            return [r for r in status(demo_dir)["runs"] if r["state"] == "running" and alive(r["pid"])]

        poll(lambda: any(r["stage"] == "train" for r in running()), 60, "a training run")
        first.keys("q")
        poll(lambda: "Detach" in first.screen(), 30, "the quit question")
        engine_pid = status(demo_dir)["engine_pid"]
        before = {(r["stage"], r["task"]): r for r in running()}
        first.keys("d")
        poll(lambda: "EXITED 0" in first.screen(), 30, "coopy-tui to exit")
        after_quit = status(demo_dir)
        assert after_quit["engine_pid"] == engine_pid and alive(engine_pid), "detached: the engine goes on"
        still = {(r["stage"], r["task"]): r for r in after_quit["runs"] if r["state"] == "running"}
        assert still, "the runs left running are still marked running"
        assert any(alive(r["pid"]) for r in still.values()), "their commands still run"
        assert after_quit["stages"][0]["paused"]  # the pause outlives the session

        second.start(tui_command() + " coopy.toml")
        poll(lambda: all(n in second.screen() for n in STAGES), 60, "the second start")
        assert status(demo_dir)["engine_pid"] == engine_pid, "the second start attaches to the same engine"
        now = {(r["stage"], r["task"]): r for r in status(demo_dir)["runs"]}
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
        final = status(demo_dir)
        assert final["engine_pid"] is None
        assert not [r for r in final["runs"] if r["state"] == "running"], "stop leaves nothing running"
    finally:
        first.kill()
        second.kill()
