"""The engine with stages on a real one-node Slurm cluster: hand-off, retry, cancel, bad partition."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from coopy_core import Engine, RunState, load_config
from coopy_core.model import Event, EventKind
from tests.helpers.engine import run_of, wait_state, wait_until, write_config
from tests.helpers.slurm import SLURM_DEADLINE, SLURM_INTERVAL, active_jobs, job_state, squeue

pytestmark = pytest.mark.usefixtures("slurm")

StartEngine = Callable[[Path], Awaitable[Engine]]

# one value with everything a shell would mangle: it must reach the job as one exact argv item
AWKWARD = 'it\'s a "test" $HOME * `id` \\n ;|&'


@pytest.fixture
async def start_engine() -> AsyncIterator[StartEngine]:
    engines: list[Engine] = []

    async def start(path: Path) -> Engine:
        engine = Engine(load_config(path))
        await engine.start()
        engines.append(engine)
        return engine

    yield start
    for engine in reversed(engines):
        await engine.shutdown(stop_running=True)


async def test_three_stages_middle_on_slurm(tmp_path: Path, start_engine: StartEngine) -> None:
    path = write_config(
        tmp_path,
        """
        [pipeline]
        name = "slurm-chain"
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
        executor = "slurm"
        workers = 2
        # --exclusive: one job at a time on the one node, so the second shows PENDING with a reason
        slurm = { partition = "debug", time = "5", cpus_per_task = 1, extra_args = ["--exclusive"] }
        command = ["sh", "-c", 'echo "job $SLURM_JOB_ID"; printf "%s" "$1" > out/$0.model; sleep 1', "{task}", "{word}"]

        [[stages]]
        name = "evaluate"
        command = ["sh", "-c", 'cat out/$0.model > out/$0.score', "{task}"]
        """.replace("WORD", AWKWARD.replace("\\", "\\\\").replace('"', '\\"')),
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
    assert await asyncio.wait_for(engine.run_until_finished(), 90)

    runs = {(r.task, r.stage): r for r in engine.snapshot().runs}
    assert all(r.state == RunState.DONE for r in runs.values()), runs
    train = [runs[("a", "train")], runs[("b", "train")]]
    assert all(r.job_id and r.pid is None for r in train)
    assert train[0].job_id != train[1].job_id
    assert runs[("a", "prepare")].job_id is None and runs[("a", "prepare")].pid
    # the argv reached the job exactly, through Slurm, and went on to the local stage after it
    assert (tmp_path / "out" / "a.model").read_text() == AWKWARD
    assert (tmp_path / "out" / "a.score").read_text() == AWKWARD
    assert (tmp_path / "out" / "b.score").read_text() == "plain"
    for run in train:
        assert f"job {run.job_id}" in Path(run.log).read_text()
        assert job_state(str(run.job_id)) == "COMPLETED"
    # the screen saw each job's Slurm state with its reason, and never more jobs than workers
    assert any(r.startswith("PENDING (") for r in reasons), reasons
    assert "RUNNING" in reasons
    assert most_at_once <= 2


async def test_failing_job_is_retried(tmp_path: Path, start_engine: StartEngine) -> None:
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
        executor = "slurm"
        retries = 2
        backoff = 0.2
        command = ["sh", "-c", 'if [ "$COOPY_ATTEMPT" = 1 ]; then echo boom; exit 3; fi; echo fine']
        """,
    )
    engine = await start_engine(path)
    assert await asyncio.wait_for(engine.run_until_finished(), 60)
    run = run_of(engine, "t", "flaky")
    assert run is not None and run.state == RunState.DONE and run.attempt == 2 and run.exit_code == 0
    attempts = engine.store.attempts()
    assert [(a[2], a[3], a[4]) for a in attempts] == [(1, "failed", 3), (2, "done", 0)]
    assert attempts[0][5] == "exit code 3"
    assert "boom" in Path(attempts[0][8]).read_text()
    assert "fine" in Path(run.log).read_text()


async def test_cancel_running_job(tmp_path: Path, start_engine: StartEngine) -> None:
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
        executor = "slurm"
        command = ["sh", "-c", "echo started; sleep 300"]
        """,
    )
    engine = await start_engine(path)
    await wait_until(
        lambda: (r := run_of(engine, "t", "long")) is not None and r.reason == "RUNNING",
        "the job to run",
        timeout=SLURM_DEADLINE,
        interval=SLURM_INTERVAL,
    )
    run = run_of(engine, "t", "long")
    assert run is not None and run.job_id
    job_id = str(run.job_id)
    assert "RUNNING" in active_jobs(job_id)

    engine.cancel("t", "long")
    cancelled = await wait_state(engine, "t", "long", RunState.CANCELLED, timeout=60, interval=SLURM_INTERVAL)
    assert cancelled.reason == "cancelled by user"
    await wait_until(
        lambda: active_jobs(job_id) == "",
        f"job {job_id} gone from squeue",
        timeout=SLURM_DEADLINE,
        interval=SLURM_INTERVAL,
    )
    assert job_state(job_id) == "CANCELLED"


async def test_bad_partition_fails_with_slurms_message(tmp_path: Path, start_engine: StartEngine) -> None:
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
        executor = "slurm"
        slurm = { partition = "no-such-partition" }
        command = ["true"]
        """,
    )
    engine = await start_engine(path)
    assert not await asyncio.wait_for(engine.run_until_finished(), 60)
    run = run_of(engine, "t", "train")
    assert run is not None and run.state == RunState.FAILED and run.attempt == 1 and run.job_id is None
    assert run.reason.startswith("sbatch rejected the job: ")
    assert "invalid partition" in run.reason.lower(), run.reason
    assert squeue("--states=all", "--format=%k").count(str(tmp_path)) == 0  # nothing was submitted
