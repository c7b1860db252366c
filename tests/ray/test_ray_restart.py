"""Crash safety on Ray: an engine killed with SIGKILL re-adopts its job on restart and never submits it again;
a job that ended while no engine watched is finished from Ray's record; a submit whose handle was never saved
is found by its record."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from coopy_core import load_config
from coopy_core.executors.base import LaunchSpec
from coopy_core.executors.ray import RayExecutor
from coopy_core.scripter import Launch
from coopy_core.state.store import Store
from tests.helpers.cli import coopy, coopy_argv
from tests.helpers.engine import write_config
from tests.helpers.ray import client, jobs_mentioning

pytestmark = pytest.mark.usefixtures("ray")


def stored_run(state_dir: Path, task: str, stage: str) -> tuple[str, dict[str, object] | None]:
    if not (state_dir / "state.sqlite").exists():
        return "", None
    store = Store(state_dir, readonly=True)
    try:
        for row in store.runs():
            if (row.name, row.stage) == (task, stage):
                return row.state.value, row.handle
    except sqlite3.OperationalError:  # the engine is still making its tables
        return "", None
    finally:
        store.close()
    return "", None


def stored_reason(state_dir: Path) -> str:
    store = Store(state_dir, readonly=True)
    try:
        return next((r.reason for r in store.runs() if r.stage == "train"), "")
    finally:
        store.close()


def wait_for(condition: object, what: str, timeout: float = 90.0) -> None:
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
        executor = "ray"
        command = ["sh", "-c", 'echo started >> "$0"; echo before; sleep 6; echo finished >> "$0"; echo after',
                   "{marker}"]

        [[stages]]
        name = "evaluate"
        command = ["sh", "-c", 'echo evaluated >> "$0"', "{marker}"]
        """,
    )
    state_dir = tmp_path / "state"
    with open(tmp_path / "engine.out", "ab") as out:
        first = subprocess.Popen(
            [*coopy_argv(), "run", "coopy.toml"],
            cwd=tmp_path,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    try:
        wait_for(lambda: (stored_run(state_dir, "t", "train")[1] or {}).get("submitted"), "the job in the store")
        wait_for(lambda: marker.exists() and "started" in marker.read_text(), "the job to start")
        wait_for(lambda: stored_reason(state_dir).startswith("RUNNING"), "the engine to see it run")
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
    state, handle = stored_run(state_dir, "t", "train")
    assert state == "running" and handle is not None
    job_id = str(handle["job_id"])
    assert client().get_job_status(job_id).value == "RUNNING", "the job outlives the killed engine"
    # `coopy status` (from the store: no engine runs) shows the job, its state and its node
    shown = coopy("status", "coopy.toml", cwd=tmp_path)
    assert f"running: train/t attempt 1: job {job_id}: RUNNING on 127.0.0.2" in shown.stdout, shown.stdout

    second = coopy("run", "coopy.toml", cwd=tmp_path, timeout=120)
    assert second.returncode == 0, second.stdout + second.stderr + (tmp_path / "engine.out").read_text()
    assert marker.read_text().splitlines() == ["started", "finished", "evaluated"]
    jobs = jobs_mentioning(str(tmp_path))
    assert [j.submission_id for j in jobs] == [job_id], "submitted exactly once"
    state, handle = stored_run(state_dir, "t", "train")
    assert state == "done" and handle is not None and str(handle["job_id"]) == job_id
    assert client().get_job_status(job_id).value == "SUCCEEDED"
    # the log has the job's whole output once, though two engines followed it
    lines = Path(str(handle["log"])).read_text().splitlines()
    assert lines.count("before") == 1 and lines.count("after") == 1, lines


def test_restart_after_the_job_ended_takes_its_exit_code(tmp_path: Path) -> None:
    """The job ends (failing) while no engine watches: the restart finishes the run from Ray's exit code."""
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
        executor = "ray"
        command = ["sh", "-c", "sleep 2; echo going; exit 7"]
        """,
    )
    state_dir = tmp_path / "state"
    first = subprocess.Popen(
        [*coopy_argv(), "run", "coopy.toml"],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
    )
    try:
        wait_for(lambda: (stored_run(state_dir, "t", "train")[1] or {}).get("submitted"), "the job in the store")
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
    job_id = str((stored_run(state_dir, "t", "train")[1] or {})["job_id"])
    wait_for(lambda: client().get_job_status(job_id).value == "FAILED", f"job {job_id} to fail while no one watches")

    second = coopy("run", "coopy.toml", cwd=tmp_path, timeout=120)
    assert second.returncode == 1, second.stdout + second.stderr
    status = coopy("status", "coopy.toml", "--json", cwd=tmp_path)
    assert '"exit_code": 7' in status.stdout and "exit code 7" in status.stdout, status.stdout
    assert f'"job_id": "{job_id}"' in status.stdout, status.stdout
    assert len(jobs_mentioning(str(tmp_path))) == 1
    # what the job wrote while no engine watched is in the log all the same
    _, handle = stored_run(state_dir, "t", "train")
    assert "going" in Path(str((handle or {})["log"])).read_text()


async def test_a_submit_whose_handle_was_lost_is_found_by_its_record(tmp_path: Path) -> None:
    """Crash between the submit and saving its handle: a new executor finds the job from the record alone."""
    path = write_config(
        tmp_path,
        """
        [pipeline]
        poll_interval = 0.3
        state_dir = "state"

        [tasks.named]
        t = { x = 1 }

        [[stages]]
        name = "train"
        executor = "ray"
        command = ["sh", "-c", "sleep 1"]
        """,
    )
    config = load_config(path)
    status = config.state_dir / "status" / "train" / "t.1.status"
    run_id = f"{config.state_dir}:train/t/1"
    spec = LaunchSpec(
        run_id=run_id,
        launch=Launch(argv=["sh", "-c", "sleep 1"], cwd=tmp_path),
        log=tmp_path / "t.1.log",
        status=status,
        stage="train",
    )
    first = RayExecutor(config)
    handle = first.start(spec)  # then the engine "dies": the handle is never saved
    first.close()
    again = RayExecutor(config)
    found = again.find_started(run_id, status)
    assert found is not None and found["job_id"] == handle["job_id"] and found["submitted"]
    # an attempt that was never submitted (no record) is not found: it is started afresh
    assert again.find_started(run_id.replace("/1", "/2"), status.with_name("t.2.status")) is None
    ended: list[int | None] = []
    again.watch(found, ended.append)
    for _ in range(300):
        if ended:
            break
        await asyncio.sleep(0.1)
    again.close()
    assert ended == [0]
    assert [j.submission_id for j in jobs_mentioning(str(tmp_path))] == [handle["job_id"]]
    assert os.path.getsize(tmp_path / "t.1.log") > 0
