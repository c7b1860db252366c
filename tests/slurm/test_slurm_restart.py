"""Crash safety on Slurm: an engine killed with SIGKILL re-adopts its job on restart, never submits it again."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from coopy_core.errors import StateError
from coopy_core.state.store import Store
from tests.helpers.cli import coopy_argv
from tests.helpers.engine import write_config
from tests.helpers.slurm import active_jobs, calls, counting_wrapper, job_state

pytestmark = pytest.mark.usefixtures("slurm")


def stored_run(state_dir: Path, task: str, stage: str) -> tuple[str, dict[str, object] | None]:
    if not (state_dir / "state.sqlite").exists():
        return "", None
    try:
        store = Store(state_dir, readonly=True)
    except StateError:
        return "", None
    try:
        for row in store.runs():
            if (row.name, row.stage) == (task, stage):
                return row.state.value, row.handle
    except sqlite3.OperationalError:  # the engine is creating it just now: not there yet
        return "", None
    finally:
        store.close()
    return "", None


def wait_for(condition: object, what: str, timeout: float = 60.0) -> None:
    assert callable(condition)
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(0.1)


def test_sigkilled_engine_readopts_running_job(tmp_path: Path) -> None:
    marker = tmp_path / "marker.txt"
    write_config(
        tmp_path,
        f"""
        [pipeline]
        poll_interval = 0.3
        state_dir = "state"

        [tasks.named]
        t = {{ x = 1 }}

        [[stages]]
        name = "train"
        executor = "slurm"
        command = ["sh", "-c", 'echo started >> "$0"; sleep 5; echo finished >> "$0"', "{marker}"]

        [[stages]]
        name = "evaluate"
        command = ["sh", "-c", 'echo evaluated >> "$0"', "{marker}"]
        """,
    )
    bin_dir = tmp_path / "bin"
    sbatch_calls = counting_wrapper(bin_dir, "sbatch")
    env = dict(os.environ, PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    state_dir = tmp_path / "state"
    out = tmp_path / "engine.out"

    with open(out, "ab") as log:
        first = subprocess.Popen(
            [*coopy_argv(), "run", "coopy.toml"],
            cwd=tmp_path,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    try:
        wait_for(lambda: (stored_run(state_dir, "t", "train")[1] or {}).get("job_id"), "the job id in the store")
        wait_for(lambda: marker.exists() and "started" in marker.read_text(), "the job to start")
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
    state, handle = stored_run(state_dir, "t", "train")
    assert state == "running" and handle is not None
    job_id = str(handle["job_id"])
    assert "RUNNING" in active_jobs(job_id), "the job outlives the killed engine"

    second = subprocess.run(
        [*coopy_argv(), "run", "coopy.toml"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert second.returncode == 0, second.stdout + second.stderr + out.read_text()
    assert marker.read_text().splitlines() == ["started", "finished", "evaluated"]
    assert calls(sbatch_calls) == 1, "submitted exactly once"
    state, handle = stored_run(state_dir, "t", "train")
    assert state == "done" and handle is not None and str(handle["job_id"]) == job_id
    assert job_state(job_id) == "COMPLETED"


def test_restart_after_the_job_ended_takes_its_exit_code(tmp_path: Path) -> None:
    """The job ends (failing) while no engine watches: the restart finishes the run from Slurm's exit code."""
    write_config(
        tmp_path,
        """
        [pipeline]
        poll_interval = 0.3
        state_dir = "state"

        [tasks.named]
        t = { x = 1 }

        [[stages]]
        name = "train"
        executor = "slurm"
        command = ["sh", "-c", "sleep 2; exit 7"]
        """,
    )
    bin_dir = tmp_path / "bin"
    sbatch_calls = counting_wrapper(bin_dir, "sbatch")
    env = dict(os.environ, PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    state_dir = tmp_path / "state"
    first = subprocess.Popen(
        [*coopy_argv(), "run", "coopy.toml"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
    )
    try:
        wait_for(lambda: (stored_run(state_dir, "t", "train")[1] or {}).get("job_id"), "the job id in the store")
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
    job_id = str((stored_run(state_dir, "t", "train")[1] or {})["job_id"])
    wait_for(lambda: job_state(job_id) == "FAILED", f"job {job_id} to fail while no engine watches")

    second = subprocess.run(
        [*coopy_argv(), "run", "coopy.toml"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert second.returncode == 1, second.stdout + second.stderr
    status = subprocess.run(
        [*coopy_argv(), "status", "coopy.toml", "--json"], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert '"exit_code": 7' in status.stdout and "exit code 7" in status.stdout, status.stdout
    assert calls(sbatch_calls) == 1
