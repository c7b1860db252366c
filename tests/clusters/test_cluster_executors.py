"""What every cluster executor must do, on its real test cluster: each test runs once for Slurm (the one-node
cluster of the `slurm` fixture) and once for Ray (the two-node cluster of the `ray` fixture).

A stage on the cluster between two local ones gets its argv and env exactly and hands off both ways; a failing
job is retried; cancel stops the running job and its process; an engine killed with SIGKILL re-adopts its job on
restart and never submits it again; a job that ended while no engine watched is finished from the cluster's
record. What only one executor does is tested in tests/slurm and tests/ray."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sqlite3
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from coopy_core import RunState
from coopy_core.errors import StateError
from coopy_core.model import Event, EventKind
from coopy_core.state.store import Store
from tests.helpers.cli import coopy_argv
from tests.helpers.clusters import CLUSTERS, ClusterUnderTest
from tests.helpers.engine import EngineFactory, run_of, wait_state, wait_until, write_config


@pytest.fixture(scope="module", params=list(CLUSTERS))
def cluster_name(request: pytest.FixtureRequest) -> str:
    """Module-scoped: pytest runs every test for one cluster, then every test for the next, so the Ray cluster
    runs once for all of its tests here."""
    return str(request.param)


@pytest.fixture
def cluster(cluster_name: str, request: pytest.FixtureRequest) -> ClusterUnderTest:
    """The executor under test, its real cluster running (and this test's jobs stopped after it)."""
    under_test = CLUSTERS[cluster_name]
    request.getfixturevalue(under_test.fixture)
    return under_test


# ------------------------------------------------------------------ the store of a `coopy run` in another process
def stored_run(state_dir: Path, task: str, stage: str) -> tuple[str, dict[str, Any] | None]:
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


def stored_log(state_dir: Path) -> Path:
    """The log file of the train run's attempt."""
    store = Store(state_dir, readonly=True)
    try:
        return Path(next(r.log for r in store.runs() if r.stage == "train"))
    finally:
        store.close()


def wait_for(condition: Callable[[], object], what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(0.1)


def coopy_run(cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*coopy_argv(), "run", "coopy.toml"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


def coopy_popen(cwd: Path, env: dict[str, str], output: Path | None) -> subprocess.Popen[bytes]:
    with open(output if output is not None else os.devnull, "ab") as out:
        return subprocess.Popen(
            [*coopy_argv(), "run", "coopy.toml"],
            cwd=cwd,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )


# ------------------------------------------------------------------ the engine in this process
# one value with everything a shell would mangle: it must reach the job as one exact argv item
AWKWARD = 'it\'s a "test" $HOME * `id` \\n ;|&'


async def test_three_stages_middle_on_the_cluster(
    tmp_path: Path, start_engine: EngineFactory, cluster: ClusterUnderTest
) -> None:
    path = write_config(
        tmp_path,
        """
        [pipeline]
        name = "EXECUTOR-chain"
        poll_interval = 0.3
        state_dir = "state"

        [tasks.named]
        a = { word = "WORD" }
        b = { word = "plain" }

        [[stages]]
        name = "prepare"
        command = ["sh", "-c", 'mkdir -p out && printf "%s" "$1" > out/$0.in', "{task}", "{word}"]

        [[stages]]
        name = "train"
        executor = "EXECUTOR"
        workers = 2
        env = { SEEN = "{word}" }
        OPTIONS
        command = ["sh", "-c",
                   'echo "job of $COOPY_TASK $SLURM_JOB_ID"; printf "%s|%s" "$1" "$SEEN" > out/$0.model; sleep 1',
                   "{task}", "{word}"]

        [[stages]]
        name = "evaluate"
        command = ["sh", "-c", 'cat out/$0.model > out/$0.score', "{task}"]
        """.replace("WORD", AWKWARD.replace("\\", "\\\\").replace('"', '\\"'))
        .replace("EXECUTOR", cluster.name)
        .replace("OPTIONS", cluster.options),
    )
    engine = await start_engine(path)
    reasons: list[str] = []
    running_train: set[str] = set()
    most_at_once = 0

    def on_event(event: Event) -> None:
        nonlocal most_at_once
        run = event.run
        if event.kind != EventKind.RUN or run is None or run.stage != "train":
            return
        reasons.append(run.reason)
        if run.state == RunState.RUNNING and run.job_id:
            running_train.add(run.task)
        else:
            running_train.discard(run.task)
        most_at_once = max(most_at_once, len(running_train))

    engine.subscribe(on_event)
    assert await asyncio.wait_for(engine.run_until_finished(), cluster.deadline)

    runs = {(r.task, r.stage): r for r in engine.snapshot().runs}
    assert all(r.state == RunState.DONE for r in runs.values()), runs
    train = [runs[("a", "train")], runs[("b", "train")]]
    assert all(r.job_id and r.pid is None for r in train)
    assert train[0].job_id != train[1].job_id
    assert runs[("a", "prepare")].job_id is None and runs[("a", "prepare")].pid
    # the argv and the env reached the job exactly, through the cluster, and the local stage after it saw it
    assert (tmp_path / "out" / "a.model").read_text() == f"{AWKWARD}|{AWKWARD}"
    assert (tmp_path / "out" / "a.score").read_text() == f"{AWKWARD}|{AWKWARD}"
    assert (tmp_path / "out" / "b.score").read_text() == "plain|plain"
    # one job per run, each ended well, its output in CooPy's per-attempt log file
    assert cluster.jobs(tmp_path) == {str(r.job_id): cluster.succeeded for r in train}
    for run in train:
        assert cluster.log_line(run) in Path(run.log).read_text()
    cluster.assert_options_applied(tmp_path, reasons)
    # the screen saw the job run (and where), and never more jobs than workers
    assert cluster.running_reason in reasons, reasons
    assert most_at_once <= 2


async def test_failing_job_is_retried(tmp_path: Path, start_engine: EngineFactory, cluster: ClusterUnderTest) -> None:
    path = write_config(
        tmp_path,
        """
        [pipeline]
        poll_interval = 0.3
        state_dir = "state"

        [tasks.named]
        t = { x = 1 }

        [[stages]]
        name = "flaky"
        executor = "EXECUTOR"
        retries = 2
        backoff = 0.2
        command = ["sh", "-c", 'if [ "$COOPY_ATTEMPT" = 1 ]; then echo boom; exit 3; fi; echo fine']
        """.replace("EXECUTOR", cluster.name),
    )
    engine = await start_engine(path)
    assert await asyncio.wait_for(engine.run_until_finished(), cluster.deadline)
    run = run_of(engine, "t", "flaky")
    assert run is not None and run.state == RunState.DONE and run.attempt == 2 and run.exit_code == 0
    attempts = engine.store.attempts()
    assert [(a[2], a[3], a[4]) for a in attempts] == [(1, "failed", 3), (2, "done", 0)]
    assert attempts[0][5] == "exit code 3"
    assert "boom" in Path(attempts[0][8]).read_text()
    assert "fine" in Path(run.log).read_text()
    jobs = cluster.ended_jobs(tmp_path)
    if jobs is not None:
        assert jobs == [(cluster.failed, 3), (cluster.succeeded, 0)]


async def test_cancel_stops_the_running_job(
    tmp_path: Path, start_engine: EngineFactory, cluster: ClusterUnderTest
) -> None:
    pid_file = tmp_path / "job.pid"
    path = write_config(
        tmp_path,
        """
        [pipeline]
        poll_interval = 0.3
        state_dir = "state"

        [tasks.named]
        t = { x = 1 }

        [[stages]]
        name = "long"
        executor = "EXECUTOR"
        command = ["sh", "-c", 'echo $$ > "$0"; echo started; sleep 300', "PID_FILE"]
        """.replace("EXECUTOR", cluster.name).replace("PID_FILE", str(pid_file)),
    )
    engine = await start_engine(path)
    await wait_until(
        lambda: (
            (r := run_of(engine, "t", "long")) is not None and r.reason == cluster.running_reason and pid_file.exists()
        ),
        "the job to run",
        timeout=cluster.deadline,
        interval=cluster.interval,
    )
    run = run_of(engine, "t", "long")
    assert run is not None and run.job_id
    job_id = str(run.job_id)
    assert cluster.running(job_id)
    pid = int(pid_file.read_text())
    assert os.path.exists(f"/proc/{pid}")
    # the run's log has the job's output while it runs
    await wait_until(lambda: "started" in Path(run.log).read_text(), "the job's output in the log", timeout=30)

    engine.cancel("t", "long")
    cancelled = await wait_state(engine, "t", "long", RunState.CANCELLED, timeout=60, interval=cluster.interval)
    assert cancelled.reason == "cancelled by user"
    await wait_until(
        lambda: cluster.stopped(job_id), f"job {job_id} stopped", timeout=cluster.deadline, interval=cluster.interval
    )
    assert cluster.job_state(job_id) == cluster.cancelled
    # the job's process is gone (the nodes are on this machine)
    await wait_until(lambda: not os.path.exists(f"/proc/{pid}"), f"the job's process {pid} to be gone", timeout=30)


# ------------------------------------------------------------------ crash safety, through the real `coopy run`
def test_sigkilled_engine_readopts_running_job(tmp_path: Path, cluster: ClusterUnderTest) -> None:
    marker = tmp_path / "marker.txt"
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
        executor = "EXECUTOR"
        command = ["sh", "-c", 'echo started >> "$0"; echo before; sleep 6; echo finished >> "$0"; echo after',
                   "MARKER"]

        [[stages]]
        name = "evaluate"
        command = ["sh", "-c", 'echo evaluated >> "$0"', "MARKER"]
        """.replace("EXECUTOR", cluster.name).replace("MARKER", str(marker)),
    )
    env = cluster.env(tmp_path)
    state_dir = tmp_path / "state"
    out = tmp_path / "engine.out"
    first = coopy_popen(tmp_path, env, out)
    try:
        wait_for(lambda: cluster.recorded(stored_run(state_dir, "t", "train")[1] or {}), "the job in the store", 90)
        wait_for(lambda: marker.exists() and "started" in marker.read_text(), "the job to start", 90)
        wait_for(lambda: stored_reason(state_dir) == cluster.running_reason, "the engine to see it run", 90)
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
    state, handle = stored_run(state_dir, "t", "train")
    assert state == "running" and handle is not None
    job_id = str(handle["job_id"])
    assert cluster.running(job_id), "the job outlives the killed engine"
    # `coopy status` (from the store: no engine runs) shows the job and its state
    shown = subprocess.run(
        [*coopy_argv(), "status", "coopy.toml"], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    # the running run named with how long it ran: `running: train/t attempt 1 (3s): job 86: RUNNING`
    named = re.search(rf"running: train/t attempt 1 \(\d+[smhd][\dsmh]*\): job {re.escape(job_id)}: (.*)", shown.stdout)
    assert named is not None and named.group(1).strip() == cluster.running_reason, shown.stdout

    second = coopy_run(tmp_path, env)
    assert second.returncode == 0, second.stdout + second.stderr + out.read_text()
    assert marker.read_text().splitlines() == ["started", "finished", "evaluated"]
    cluster.assert_submitted_once(tmp_path, job_id)
    state, handle = stored_run(state_dir, "t", "train")
    assert state == "done" and handle is not None and str(handle["job_id"]) == job_id
    assert cluster.job_state(job_id) == cluster.succeeded
    # the log has the job's whole output once, though two engines watched it
    lines = stored_log(state_dir).read_text().splitlines()
    assert lines.count("before") == 1 and lines.count("after") == 1, lines


def test_restart_after_the_job_ended_takes_its_exit_code(tmp_path: Path, cluster: ClusterUnderTest) -> None:
    """The job ends (failing) while no engine watches: the restart finishes the run from the cluster's exit code."""
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
        executor = "EXECUTOR"
        command = ["sh", "-c", "sleep 2; echo going; exit 7"]
        """.replace("EXECUTOR", cluster.name),
    )
    env = cluster.env(tmp_path)
    state_dir = tmp_path / "state"
    first = coopy_popen(tmp_path, env, None)
    try:
        wait_for(lambda: cluster.recorded(stored_run(state_dir, "t", "train")[1] or {}), "the job in the store", 90)
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
    job_id = str((stored_run(state_dir, "t", "train")[1] or {})["job_id"])
    wait_for(lambda: cluster.job_state(job_id) == cluster.failed, f"job {job_id} to fail while no engine watches", 90)

    second = coopy_run(tmp_path, env)
    assert second.returncode == 1, second.stdout + second.stderr
    status = subprocess.run(
        [*coopy_argv(), "status", "coopy.toml", "--json"], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert '"exit_code": 7' in status.stdout and "exit code 7" in status.stdout, status.stdout
    assert f'"job_id": "{job_id}"' in status.stdout, status.stdout
    cluster.assert_submitted_once(tmp_path, job_id)
    # what the job wrote while no engine watched is in the log all the same
    assert "going" in stored_log(state_dir).read_text()
