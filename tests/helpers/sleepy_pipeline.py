"""A small pipeline for the real TUI in tmux: one stage of `sleep` runs that write a log line first, so
there is a log to open and a run still running for a while (stop, detach and re-attach have work to see)."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from tests.helpers.cli import coopy, status
from tests.helpers.tmux import alive

TOML = """\
[pipeline]
name = "sleepy"
poll_interval = 1
state_dir = ".coopy"

[tasks.matrix]
n = [1, 2, 3, 4]

[[stages]]
name = "nap"
command = ["sh", "-c", "echo nap {task} begins; sleep {seconds}; echo nap {task} ends"]
workers = 2
"""


def write_sleepy(folder: Path, seconds: int = 120) -> Path:
    """`folder/coopy.toml`: stage `nap`, four runs `n=1`..`n=4`, each sleeping `seconds`."""
    path = folder / "coopy.toml"
    path.write_text(TOML.replace("{seconds}", str(seconds)))
    return path


def stop_everything(folder: Path) -> None:
    """Never leave an engine or a sleeping command behind, whatever happened."""
    coopy("stop", "coopy.toml", "--stop-running", cwd=folder, timeout=60)
    try:
        for r in status(folder / "coopy.toml")["runs"]:
            if r["state"] == "running" and alive(r["pid"]):
                os.killpg(r["pid"], signal.SIGKILL)
    except Exception:  # noqa: BLE001 - best effort clean-up
        pass
