"""Crash safety on Ray: a submit whose handle was never saved is found by the record written before it (re-adoption
after a SIGKILL and a job that ended while no engine watched: tests/clusters)."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from coopy_core import load_config
from coopy_core.executors.base import LaunchSpec
from coopy_core.executors.ray import RayExecutor
from coopy_core.scripter import Launch
from tests.helpers.engine import write_config
from tests.helpers.ray import jobs_mentioning

pytestmark = pytest.mark.usefixtures("ray")


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
