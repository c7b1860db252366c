"""The Ray head goes away mid-run: the running job is lost with a reason that says so, the retry waits for the
head instead of failing at once, and runs once the cluster is back. Stops and restarts the test cluster."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from coopy_core import Engine, RunState, load_config
from coopy_core.executors.ray import RayExecutor
from coopy_core.model import EventKind
from tests.helpers.engine import run_of, wait_until, write_config
from tests.helpers.ray import RAY_DEADLINE, RAY_INTERVAL, jobs_mentioning, ray_sh

pytestmark = pytest.mark.usefixtures("ray")


async def test_head_stopped_mid_run_loses_the_job_and_retries_once_it_is_back(tmp_path: Path) -> None:
    marker = tmp_path / "marker.txt"
    path = write_config(
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
        retries = 1
        backoff = 0.5
        command = ["sh", "-c", 'echo "attempt $COOPY_ATTEMPT" >> "$0"; sleep 8', "{marker}"]
        """,
    )
    config = load_config(path)
    engine = Engine(config, executors={"ray": RayExecutor(config, lost_after=3.0, call_timeout=5.0)})
    await engine.start()
    seen: list[tuple[int, str]] = []  # (attempt, reason) of every news of the run
    engine.subscribe(
        lambda e: seen.append((e.run.attempt, e.run.reason)) if e.kind == EventKind.RUN and e.run else None
    )
    restarted = False
    try:
        await wait_until(
            lambda: (r := run_of(engine, "t", "train")) is not None and r.reason.startswith("RUNNING"),
            "the job to run",
            timeout=RAY_DEADLINE,
            interval=RAY_INTERVAL,
        )
        stopped = await asyncio.to_thread(ray_sh, "stop-head")
        assert stopped.returncode == 0, stopped.stderr
        # the screen says the head does not answer, then the attempt is lost and the retry waits for the head
        await wait_until(lambda: len(engine.store.attempts()) >= 1, "attempt 1 to end", timeout=30)
        first = engine.store.attempts()[0]
        assert first[3] == "failed", first
        assert "lost: the Ray head at" in first[5] and "has not answered" in first[5], first[5]
        await wait_until(
            lambda: (
                (r := run_of(engine, "t", "train")) is not None
                and r.attempt == 2
                and "waiting for the Ray head" in r.reason
            ),
            "the retry to wait for the head",
            timeout=30,
            interval=RAY_INTERVAL,
        )
        assert any(a == 1 and "not answering (connection refused" in r for a, r in seen), seen
        await asyncio.sleep(2)  # the head still away: the retry keeps waiting, it does not fail
        run = run_of(engine, "t", "train")
        assert run is not None and run.state == RunState.RUNNING and run.attempt == 2, run
        started = await asyncio.to_thread(ray_sh, "start")
        restarted = True
        assert started.returncode == 0, started.stdout + started.stderr
        assert await asyncio.wait_for(engine.run_until_finished(), RAY_DEADLINE)
    finally:
        await engine.shutdown(stop_running=True)
        if not restarted:
            ray_sh("start")  # the other tests need the cluster
    run = run_of(engine, "t", "train")
    assert run is not None and run.state == RunState.DONE and run.attempt == 2
    assert marker.read_text().splitlines() == ["attempt 1", "attempt 2"]
    # the new cluster knows only the retry's job: the lost one went with the old head
    assert [j.status.value for j in jobs_mentioning(str(tmp_path))] == ["SUCCEEDED"]


async def test_a_new_head_without_the_job_loses_it_at_once(tmp_path: Path) -> None:
    """The head is back (a new one) before `lost_after`: it does not know the job, so the job is lost then."""
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
        retries = 1
        backoff = 0.2
        command = ["sh", "-c", 'sleep 8']
        """,
    )
    config = load_config(path)
    engine = Engine(config, executors={"ray": RayExecutor(config, lost_after=600.0, call_timeout=5.0)})
    await engine.start()
    try:
        await wait_until(
            lambda: (r := run_of(engine, "t", "train")) is not None and r.reason.startswith("RUNNING"),
            "the job to run",
            timeout=RAY_DEADLINE,
            interval=RAY_INTERVAL,
        )
        old = str(run_of(engine, "t", "train").job_id)  # type: ignore[union-attr]
        await asyncio.to_thread(ray_sh, "stop-head")
        started = await asyncio.to_thread(ray_sh, "start")
        assert started.returncode == 0, started.stdout + started.stderr
        assert await asyncio.wait_for(engine.run_until_finished(), RAY_DEADLINE)
        first = engine.store.attempts()[0]
    finally:
        await engine.shutdown(stop_running=True)
        ray_sh("start")
    assert first[3] == "failed" and f"does not know job {old}" in first[5], first
    assert "Ray ends running jobs with its head" in first[5]
    run = run_of(engine, "t", "train")
    assert run is not None and run.state == RunState.DONE and run.attempt == 2
