"""The real TUI in tmux with a stage on the real Ray cluster: the row shows Ray's state and node, the log pane
follows the job's output live, and the job's id is in the pane's title."""

from __future__ import annotations

import dataclasses
import os
import shlex
import shutil
import time
from pathlib import Path

import pytest

from coopy_core.model import RunState, RunView
from coopy_tui.widgets.run_table import slurm_text
from tests.helpers.engine import write_config
from tests.helpers.ray import WORKER_IP
from tests.helpers.tmux import Tmux, tui_command


def test_ray_job_text_puts_the_state_first() -> None:
    run = RunView("t", "s", 1, RunState.RUNNING, 0, job_id="coopy-1f3a9c2b4d5e-0a1b2c3d", reason="RUNNING on h")
    assert slurm_text(run) == "RUNNING on h · job coopy-1f3a9c2b4d5e-0a1b2c3d"
    assert slurm_text(dataclasses.replace(run, reason="")) == "job coopy-1f3a9c2b4d5e-0a1b2c3d"
    assert slurm_text(dataclasses.replace(run, job_id="77", reason="PENDING (Resources)")) == (
        "job 77: PENDING (Resources)"
    )


@pytest.mark.tmux
@pytest.mark.usefixtures("ray")
def test_tui_shows_rays_state_node_and_live_log(tmp_path: Path) -> None:
    if shutil.which("tmux") is None:
        pytest.skip("tmux is not installed")
    write_config(
        tmp_path,
        """
        [pipeline]
        name = "ray-tui"
        poll_interval = 0.5

        [tasks.named]
        only = { x = 1 }

        [[stages]]
        name = "train"
        executor = "ray"
        ray = { resources = { special = 1 } }
        command = ["sh", "-c", 'for i in 1 2 3 4 5 6 7 8 9 10 11 12; do echo "epoch $i"; sleep 1; done']
        """,
    )
    tmux = Tmux(tmp_path)
    # the tmux server has its own environment: the cluster's address goes on the command line
    tmux.start(f"RAY_ADDRESS={shlex.quote(os.environ['RAY_ADDRESS'])} {tui_command()} --in-process coopy.toml")
    try:
        deadline = time.monotonic() + 60
        screen = ""
        while time.monotonic() < deadline:
            screen = tmux.screen()
            if f"RUNNING on {WORKER_IP}" in screen and "epoch 3" in screen:
                break
            time.sleep(0.2)
        assert f"RUNNING on {WORKER_IP} · job coopy-" in screen, screen
        assert "epoch 3" in screen, screen  # the log pane follows the job's output while it runs
        lines = screen.splitlines()
        title = next(i for i, line in enumerate(lines) if "log · train/only" in line)
        below = next(line for line in lines[title + 1 :] if "╰" in line)  # the log pane's bottom border
        assert "job coopy-" in below and "RUNNING on" in below, screen  # the job and its state, under the log
    finally:
        tmux.kill()
