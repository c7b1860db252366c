"""The engine with a stage on the real two-node Ray cluster: placement by resources, impossible resources, one
`list_jobs` per poll, the stage's address (what every cluster executor does: tests/clusters). The Jobs API is the
ground truth for what Ray was asked to run and where."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from coopy_core import Engine, RunState, load_config
from coopy_core.executors.ray import RayExecutor
from coopy_core.executors.ray_client import make_clients
from coopy_core.model import Event, EventKind
from tests.helpers.engine import EngineFactory, run_of, wait_until, write_config
from tests.helpers.ray import HEAD_IP, RAY_DEADLINE, WORKER_IP, client, jobs_mentioning, node_ip

pytestmark = pytest.mark.usefixtures("ray")


def reasons_of(engine: Engine, stage: str) -> list[str]:
    seen: list[str] = []

    def on_event(event: Event) -> None:
        if event.kind == EventKind.RUN and event.run is not None and event.run.stage == stage:
            seen.append(event.run.reason)

    engine.subscribe(on_event)
    return seen


async def test_placement_on_the_node_with_a_custom_resource(tmp_path: Path, start_engine: EngineFactory) -> None:
    path = write_config(
        tmp_path,
        """
        [pipeline]
        poll_interval = 0.3
        state_dir = "state"

        [tasks.named]
        t = { x = 1 }

        [[stages]]
        name = "anywhere"
        executor = "ray"
        command = ["sh", "-c", "sleep 1.5"]

        [[stages]]
        name = "special"
        executor = "ray"
        ray = { resources = { special = 1 }, num_cpus = 1 }
        command = ["sh", "-c", "sleep 1.5"]
        """,
    )
    engine = await start_engine(path)
    reasons = reasons_of(engine, "special")
    assert await asyncio.wait_for(engine.run_until_finished(), RAY_DEADLINE)
    by_stage = {j.metadata["coopy_stage"]: j for j in jobs_mentioning(str(tmp_path))}
    # Ray's own record of where each job's driver ran
    assert node_ip(by_stage["special"].driver_node_id) == WORKER_IP
    assert node_ip(by_stage["anywhere"].driver_node_id) == HEAD_IP
    assert f"RUNNING on {WORKER_IP}" in reasons, reasons


async def test_impossible_resources_fail_with_rays_message(tmp_path: Path, start_engine: EngineFactory) -> None:
    marker = tmp_path / "ran.txt"
    path = write_config(
        tmp_path,
        f"""
        [pipeline]
        poll_interval = 0.3
        state_dir = "state"

        [tasks.named]
        t = {{ x = 1 }}

        [[stages]]
        name = "huge"
        executor = "ray"
        retries = 0
        ray = {{ resources = {{ special = 100 }} }}
        command = ["sh", "-c", 'echo ran >> "$0"', "{marker}"]
        """,
    )
    config = load_config(path)
    engine = await start_engine(path, executors={"ray": RayExecutor(config, infeasible_after=2.0)})
    reasons = reasons_of(engine, "huge")
    assert not await asyncio.wait_for(engine.run_until_finished(), RAY_DEADLINE)
    run = run_of(engine, "t", "huge")
    assert run is not None and run.state == RunState.FAILED and run.attempt == 1
    assert "no node of the Ray cluster has special 100" in run.reason, run.reason
    assert "Ray: Job has not started yet" in run.reason, run.reason  # Ray's own words
    assert "\n" not in run.reason
    assert any(r.startswith("PENDING (") for r in reasons), reasons
    [job] = jobs_mentioning(str(tmp_path))
    # Ray cannot stop a job it never placed: it stays PENDING there, and would start once a node has room.
    # A node that has room joins: the job starts and runs nothing (CooPy's stop file), the command never runs.
    assert client().get_job_status(job.submission_id).value == "PENDING"
    with extra_node('{"special": 100}'):
        await wait_until(
            lambda: client().get_job_status(job.submission_id).is_terminal(), "Ray to start and end the job", 90, 0.5
        )
        assert "stopped before Ray started it" in client().get_job_logs(job.submission_id)  # the log is on that node
    assert not marker.exists(), "the command of a stopped attempt ran"


@contextlib.contextmanager
def extra_node(resources: str) -> Iterator[None]:
    """A third node (127.0.0.4) joins the test cluster for a while."""
    out = open(os.devnull, "wb")  # noqa: SIM115 - closed below
    node = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("ray")),
            "start",
            "--block",
            "--disable-usage-stats",
            f"--address={HEAD_IP}:6390",
            "--node-ip-address=127.0.0.4",
            "--num-cpus=1",
            f"--resources={resources}",
            "--object-store-memory=78643200",
            "--dashboard-agent-listen-port=8290",
            "--include-log-monitor=false",
        ],
        stdin=subprocess.DEVNULL,
        stdout=out,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        env=dict(os.environ, RAY_USAGE_STATS_ENABLED="0"),
    )
    try:
        yield
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(node.pid, signal.SIGTERM)
        try:
            node.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(node.pid, signal.SIGKILL)
            node.wait()
        time.sleep(1)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(node.pid, signal.SIGKILL)  # what is left of its group (raylet, agents)
        out.close()


class CountingClients:
    """Real clients, with every call to the Jobs API counted by name."""

    def __init__(self) -> None:
        self.calls: dict[str, int] = {}

    def __call__(self, address: str) -> tuple[Any, Any]:
        jobs, state = make_clients(address)
        counts = self.calls

        class Counting:
            def __getattr__(self, name: str) -> Any:
                attr = getattr(jobs, name)
                if not callable(attr):
                    return attr

                def counted(*args: Any, **kwargs: Any) -> Any:
                    counts[name] = counts.get(name, 0) + 1
                    return attr(*args, **kwargs)

                return counted

        return Counting(), state


async def test_one_list_jobs_per_poll_for_all_jobs(tmp_path: Path, start_engine: EngineFactory) -> None:
    path = write_config(
        tmp_path,
        """
        [pipeline]
        poll_interval = 0.5
        state_dir = "state"

        [tasks.matrix]
        n = [1, 2, 3, 4, 5]

        [[stages]]
        name = "many"
        executor = "ray"
        workers = 5
        command = ["sh", "-c", "while [ ! -e GATE ]; do sleep 0.1; done"]
        """.replace("GATE", str(tmp_path / "all-running")),
    )
    counting = CountingClients()
    config = load_config(path)
    engine = await start_engine(path, executors={"ray": RayExecutor(config, clients=counting)})
    all_running = False

    def on_event(event: Event) -> None:
        nonlocal all_running
        snap = engine.snapshot()
        if sum(1 for r in snap.runs if r.reason.startswith("RUNNING")) == 5:
            all_running = True
            (tmp_path / "all-running").touch()  # the jobs end once all five were seen running at once

    engine.subscribe(on_event)
    loop = asyncio.get_running_loop()
    began = loop.time()
    assert await asyncio.wait_for(engine.run_until_finished(), RAY_DEADLINE)
    took = loop.time() - began
    assert all_running, "the five jobs ran at once"
    calls = counting.calls
    assert calls.get("submit_job") == 5
    # one list_jobs per poll for the five jobs (never one call per job): at most one per interval, plus the
    # wake-ups after each submit; and no per-job status calls
    assert calls.get("list_jobs", 0) <= took / 0.5 + 5 + 2, (calls, took)
    assert calls.get("get_job_info", 0) == 0 and calls.get("get_job_status", 0) == 0, calls
    assert calls.get("get_job_logs") == 5, calls  # once per job, at its end: the log file complete


async def test_the_stages_address_wins_over_ray_address(
    tmp_path: Path, start_engine: EngineFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ray's client lets $RAY_ADDRESS override the address it is given; the stage's `ray.address` must win."""
    real = os.environ["RAY_ADDRESS"]
    monkeypatch.setenv("RAY_ADDRESS", "http://127.0.0.1:9")  # nothing listens there
    path = write_config(
        tmp_path,
        f"""
        [pipeline]
        poll_interval = 0.3
        state_dir = "state"

        [tasks.named]
        t = {{ x = 1 }}

        [[stages]]
        name = "here"
        executor = "ray"
        ray = {{ address = "{real}" }}
        command = ["true"]
        """,
    )
    engine = await start_engine(path)
    assert await asyncio.wait_for(engine.run_until_finished(), RAY_DEADLINE)
    assert os.environ["RAY_ADDRESS"] == "http://127.0.0.1:9"  # given back as it was
    monkeypatch.setenv("RAY_ADDRESS", real)  # (the helpers' own Ray client obeys it too)
    [job] = jobs_mentioning(str(tmp_path))
    assert job.status.value == "SUCCEEDED"
